"""The ppl plugin entry point of this package (entry-point group ``ppl``).

Registers SVI, the ELBO objectives and the autoguides as inference utilities
(``ppl.infer.SVI``, ``ppl.infer.autoguide.AutoNormal``), the optimizers of
:mod:`ppl.optim`, and :class:`~ppl.vi.NeuTraReparam` as a reparameterizer.
Entries are lazy: their modules (and optax) are imported when a name is first
looked up.
"""

from __future__ import annotations

from collections.abc import Callable

from ppl.plugins import hookimpl
from ppl.plugins.lazy import lazy

PPL_PLUGIN_API = 1

_INFERENCE = [
    "SVI",
    "SVIState",
    "SVIRunResult",
    "ELBO",
    "Trace_ELBO",
    "TraceMeanField_ELBO",
    "TraceGraph_ELBO",
    "RenyiELBO",
    "AutoGuide",
    "AutoGuideList",
    "AutoNormal",
    "AutoDelta",
    "AutoContinuous",
    "AutoDiagonalNormal",
    "AutoMultivariateNormal",
    "AutoLowRankMultivariateNormal",
    "AutoBatchedMultivariateNormal",
    "AutoBatchedLowRankMultivariateNormal",
    "AutoLaplaceApproximation",
    "AutoIAFNormal",
    "AutoBNAFNormal",
    "AutoDAIS",
]


@hookimpl
def register_inference(register: Callable) -> None:
    for name in _INFERENCE:
        register(name, lazy(f"ppl.vi:{name}"))
    register("autoguide", lazy("ppl.vi.autoguide"))


@hookimpl
def register_optimizers(register: Callable) -> None:
    import ppl.optim as optim

    for name in optim.__all__:
        register(name, lazy(f"ppl.optim:{name}"))


@hookimpl
def register_reparams(register: Callable) -> None:
    register("NeuTraReparam", lazy("ppl.vi.reparam:NeuTraReparam"))
