"""Make the examples' shared helpers importable when a test loads a script by its path.

``python examples/<name>.py`` puts examples/ on ``sys.path`` and the scripts
``import _common`` from there; a script loaded with importlib needs the same.
"""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLES = str(Path(__file__).resolve().parents[2] / "examples")
if EXAMPLES not in sys.path:
    sys.path.insert(0, EXAMPLES)
