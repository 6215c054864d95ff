"""Optimizers for SVI (``ppl.optim``, the counterpart of ``numpyro.optim``).

Shipped with ppl-vi. ``SVI`` also takes any optax gradient transformation
directly; :func:`optax_to_ppl` makes the same wrapper by hand.

Each name is imported from its module on first access.
"""

from ppl.plugins.lazy import lazy_exports

#: public name -> the module that defines it, relative to this package.
EXPORTS = {
    "Minimize": "minimize",
    "SGD": "optimizers",
    "SM3": "optimizers",
    "Adagrad": "optimizers",
    "Adam": "optimizers",
    "ClippedAdam": "optimizers",
    "Momentum": "optimizers",
    "RMSProp": "optimizers",
    "RMSPropMomentum": "optimizers",
    "_PPLOptim": "optimizers",
    "optax_to_ppl": "optimizers",
}

__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)

__all__ = sorted(EXPORTS)
