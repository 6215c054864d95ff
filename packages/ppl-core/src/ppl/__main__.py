import sys

from ppl.plugins.cli import main

sys.exit(main())
