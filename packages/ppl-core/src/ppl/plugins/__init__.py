"""ppl's plugin system: hook specs, lazy entry-point discovery and the registry.

A plugin is a module named by an entry point in the ``ppl`` group::

    [project.entry-points.ppl]
    my_kernels = "my_package.ppl_plugin"

The module declares ``PPL_PLUGIN_API = 1`` and implements any of the hooks in
:mod:`ppl.plugins.hookspecs` with :data:`hookimpl`::

    from ppl.plugins import hookimpl

    PPL_PLUGIN_API = 1

    @hookimpl
    def register_kernels(register):
        register("MyKernel", MyKernel)

ppl's own packages register exactly this way. A name registered as
``lazy("my_package.kernel:MyKernel")`` is imported on its first look-up, so
that a plugin costs nothing at start-up until it is used.
"""

from ppl.plugins.hookspecs import hookimpl, hookspec
from ppl.plugins.lazy import LazyEntry, lazy, lazy_exports
from ppl.plugins.registry import (
    PLUGIN_API_VERSION,
    PluginInfo,
    PluginWarning,
    Registry,
    registry,
)

__all__ = [
    "PLUGIN_API_VERSION",
    "LazyEntry",
    "PluginInfo",
    "PluginWarning",
    "Registry",
    "hookimpl",
    "hookspec",
    "lazy",
    "lazy_exports",
    "registry",
]
