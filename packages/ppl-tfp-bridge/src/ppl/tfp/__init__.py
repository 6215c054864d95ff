"""TensorFlow Probability's JAX substrate inside ppl.

* :mod:`ppl.tfp.distributions`: every TFP distribution class as a ppl
  distribution (``ppl.tfp.distributions.Normal(0.0, 1.0)``); raw TFP
  distribution objects also work at ``ppl.sample`` sites directly.
* :class:`BijectorTransform` / :func:`to_tfp_bijector`: TFP bijectors as ppl
  transforms and back.
* :mod:`ppl.tfp.mcmc`: TFP transition kernels driven by ppl's ``MCMC`` on ppl
  models (``TFPKernel[tfp.mcmc.NoUTurnSampler](model, step_size=0.1)`` or
  ``ppl.tfp.mcmc.NoUTurnSampler(model, step_size=0.1)``).

Everything is loaded on first access: importing TFP takes seconds, and the
plugin entry point (``ppl.tfp.plugin``) must stay cheap to discover.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "BijectorTransform",
    "TFPDistribution",
    "TFPKernel",
    "distributions",
    "mcmc",
    "support",
    "to_tfp_bijector",
]

_SUBMODULES = {"distributions", "mcmc", "support", "bijectors", "plugin"}
_ATTRIBUTES = {
    "BijectorTransform": "ppl.tfp.bijectors",
    "to_tfp_bijector": "ppl.tfp.bijectors",
    "TFPDistribution": "ppl.tfp.distributions",
    "TFPKernel": "ppl.tfp.mcmc",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"ppl.tfp.{name}")
    if name in _ATTRIBUTES:
        return getattr(importlib.import_module(_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'ppl.tfp' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
