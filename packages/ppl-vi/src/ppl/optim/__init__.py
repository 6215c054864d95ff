"""Optimizers for SVI (``ppl.optim``, the counterpart of ``numpyro.optim``).

Shipped with ppl-vi. ``SVI`` also takes any optax gradient transformation
directly; :func:`optax_to_ppl` makes the same wrapper by hand.
"""

from ppl.optim.minimize import Minimize
from ppl.optim.optimizers import (
    SGD,
    SM3,
    Adagrad,
    Adam,
    ClippedAdam,
    Momentum,
    RMSProp,
    RMSPropMomentum,
    _PPLOptim,
    optax_to_ppl,
)

__all__ = [
    "SGD",
    "SM3",
    "Adagrad",
    "Adam",
    "ClippedAdam",
    "Minimize",
    "Momentum",
    "RMSProp",
    "RMSPropMomentum",
    "_PPLOptim",
    "optax_to_ppl",
]
