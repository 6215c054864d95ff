"""An example third-party ppl plugin: see :mod:`ppl_example_plugin.plugin`."""

from ppl_example_plugin.constraint import TriangularSupport, triangular_support_bijection
from ppl_example_plugin.rwm import ExampleRWM, RWMState
from ppl_example_plugin.triangular import Triangular

__all__ = [
    "ExampleRWM",
    "RWMState",
    "Triangular",
    "TriangularSupport",
    "triangular_support_bijection",
]
