"""Imports deferred until a name is used: lazy registry entries and lazy package exports.

Start-up time is part of what a user waits for: ``from ppl.infer import MCMC``
should not import the variational-inference stack and optax, nor every MCMC
kernel. Two tools keep imports on the path that uses them:

* :func:`lazy` names a registered object by ``"module:attribute"``; the
  registry imports it on the first look-up of its name::

      @hookimpl
      def register_kernels(register):
          register("MyKernel", lazy("my_package.kernel:MyKernel"))

* :func:`lazy_exports` gives a package ``__getattr__``/``__dir__`` functions
  (PEP 562) that import each public name's submodule on first access, so
  ``from ppl.mcmc import NUTS`` imports the NUTS modules alone.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["LazyEntry", "lazy", "lazy_exports"]


@dataclasses.dataclass(frozen=True)
class LazyEntry:
    """A registered object known by its import path until it is first looked up."""

    target: str

    def load(self) -> Any:
        """Import the target: the module, or the (dotted) attribute after ``:``."""
        module_name, _, attribute = self.target.partition(":")
        obj: Any = importlib.import_module(module_name)
        for part in filter(None, attribute.split(".")):
            obj = getattr(obj, part)
        return obj


def lazy(target: str) -> LazyEntry:
    """A registry entry imported on first use.

    Args:
        target: ``"package.module:attribute"`` (the attribute may be dotted), or
            ``"package.module"`` for a module itself.

    Returns:
        A :class:`LazyEntry` to pass to a hook's ``register`` in place of the object.
    """
    if not isinstance(target, str):
        raise TypeError(f"lazy() takes an import path string, got {target!r}")
    module_name, colon, attribute = target.partition(":")
    parts = module_name.split(".") + (attribute.split(".") if colon else [])
    if not all(part.isidentifier() for part in parts):
        raise ValueError(
            f"lazy() takes 'package.module:attribute' or 'package.module', got {target!r}"
        )
    return LazyEntry(target)


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a package whose public names load on first access.

    Args:
        package: the package's ``__name__``.
        exports: public name -> the submodule (relative to ``package``) that
            defines it; a name that maps to itself is the submodule.

    The loaded object is stored in the package's namespace, so each name is
    imported once and later accesses cost nothing.
    """
    exports = dict(exports)

    def getattr_(name: str) -> Any:
        submodule = exports.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}.{submodule}")
        value = module if submodule == name else getattr(module, name)
        setattr(importlib.import_module(package), name, value)
        return value

    def dir_() -> list[str]:
        return sorted(set(exports) | set(vars(importlib.import_module(package))))

    return getattr_, dir_
