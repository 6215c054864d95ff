"""ppl.vi: stochastic variational inference.

:class:`SVI` fits a guide to a model by stochastic optimization of an ELBO
objective (:class:`Trace_ELBO`, :class:`TraceMeanField_ELBO`,
:class:`TraceGraph_ELBO`, :class:`RenyiELBO`); :mod:`ppl.vi.autoguide` builds
guides automatically; :mod:`ppl.optim` holds the optimizers (any optax
transformation works too). Through the plugin registry these are also
``ppl.infer.SVI``, ``ppl.infer.autoguide.AutoNormal`` and so on.
"""

from ppl.vi import autoguide
from ppl.vi.autoguide import (
    AutoBatchedLowRankMultivariateNormal,
    AutoBatchedMultivariateNormal,
    AutoBNAFNormal,
    AutoContinuous,
    AutoDAIS,
    AutoDelta,
    AutoDiagonalNormal,
    AutoGuide,
    AutoGuideList,
    AutoIAFNormal,
    AutoLaplaceApproximation,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
)
from ppl.vi.elbo import ELBO, Trace_ELBO, TraceMeanField_ELBO
from ppl.vi.renyi import RenyiELBO
from ppl.vi.reparam import NeuTraReparam
from ppl.vi.svi import SVI, NonFiniteLossError, SVIRunResult, SVIState
from ppl.vi.tracegraph import TraceGraph_ELBO

__all__ = [
    "ELBO",
    "SVI",
    "AutoBNAFNormal",
    "AutoBatchedLowRankMultivariateNormal",
    "AutoBatchedMultivariateNormal",
    "AutoContinuous",
    "AutoDAIS",
    "AutoDelta",
    "AutoDiagonalNormal",
    "AutoGuide",
    "AutoGuideList",
    "AutoIAFNormal",
    "AutoLaplaceApproximation",
    "AutoLowRankMultivariateNormal",
    "AutoMultivariateNormal",
    "AutoNormal",
    "NeuTraReparam",
    "NonFiniteLossError",
    "RenyiELBO",
    "SVIRunResult",
    "SVIState",
    "TraceGraph_ELBO",
    "TraceMeanField_ELBO",
    "Trace_ELBO",
    "autoguide",
]
