"""The benchmark harness lives at the repository root (``benchmarks/``), which is not
an installed package: put the root on ``sys.path`` so that ``import benchmarks`` works
however pytest was started."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.append(ROOT)
