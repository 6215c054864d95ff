"""The ppl plugin entry point of this package (entry-point group ``ppl``)."""

from ppl.plugins import hookimpl  # noqa: F401 - hooks are added as the package grows

PPL_PLUGIN_API = 1
