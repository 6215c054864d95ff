"""The ppl plugin entry point of this package (entry-point group ``ppl``).

Registers SVI, the ELBO objectives and the autoguides as inference utilities
(``ppl.infer.SVI``, ``ppl.infer.autoguide.AutoNormal``), the optimizers of
:mod:`ppl.optim`, and :class:`~ppl.vi.NeuTraReparam` as a reparameterizer.
"""

from __future__ import annotations

from collections.abc import Callable

from ppl.plugins import hookimpl

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
    import ppl.vi as vi

    for name in _INFERENCE:
        register(name, getattr(vi, name))
    register("autoguide", vi.autoguide)


@hookimpl
def register_optimizers(register: Callable) -> None:
    import ppl.optim as optim

    for name in optim.__all__:
        register(name, getattr(optim, name))


@hookimpl
def register_reparams(register: Callable) -> None:
    from ppl.vi.reparam import NeuTraReparam

    register("NeuTraReparam", NeuTraReparam)
