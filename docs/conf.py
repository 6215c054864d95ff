"""Sphinx configuration of the ppl documentation site.

Build it with ``python3 -m nox -s docs`` (warnings are errors). The API pages
import the installed packages, so every ``ppl`` package must be installed in
the environment that runs Sphinx; the nox session takes care of that.
"""

from __future__ import annotations

import importlib.util

project = "ppl"
author = "the ppl developers"
copyright = "the ppl developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
]
# No intersphinx: the documentation builds without network access.

exclude_patterns = ["_build"]
root_doc = "index"

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = True
# "Attributes:" sections as field lists: as directives they would describe the
# fields of NamedTuple states a second time, next to autodoc's own entries.
napoleon_use_ivar = True

html_title = "ppl"
html_theme = "furo" if importlib.util.find_spec("furo") is not None else "alabaster"
