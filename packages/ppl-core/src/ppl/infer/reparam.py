"""Reparameterizers (``from ppl.infer.reparam import LocScaleReparam``).

Provided by plugins through the ``register_reparams`` hook: ppl-distributions
gives LocScaleReparam, TransformReparam, CircularReparam,
ProjectedNormalReparam and ExplicitReparam; ppl-vi gives NeuTraReparam.
"""

from typing import Any

from ppl.infer import _facade

_KINDS = ("reparams",)


def __getattr__(name: str) -> Any:
    return _facade.resolve(__name__, name, _KINDS)


def __dir__() -> list[str]:
    return _facade.available(_KINDS)
