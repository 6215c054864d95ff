"""The plugin module named by this package's ``ppl`` entry point.

ppl imports it at the first registry look-up, checks ``PPL_PLUGIN_API`` and
calls the hooks below with a ``register`` callable. The kernel is registered
lazily: its module is imported only when ``ExampleRWM`` is first looked up.
"""

from ppl.plugins import hookimpl, lazy
from ppl_example_plugin.constraint import TriangularSupport, triangular_support_bijection
from ppl_example_plugin.triangular import Triangular

PPL_PLUGIN_API = 1


@hookimpl
def register_distributions(register):
    register("Triangular", Triangular)


@hookimpl
def register_bijections(register):
    register(TriangularSupport, triangular_support_bijection)


@hookimpl
def register_kernels(register):
    register("ExampleRWM", lazy("ppl_example_plugin.rwm:ExampleRWM"))
