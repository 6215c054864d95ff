"""Automatic guides (``from ppl.infer.autoguide import AutoNormal``)."""

from ppl.vi.autoguide.base import AutoGuide, AutoGuideList
from ppl.vi.autoguide.continuous import (
    AutoBatchedLowRankMultivariateNormal,
    AutoBatchedMultivariateNormal,
    AutoContinuous,
    AutoDiagonalNormal,
    AutoLaplaceApproximation,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
)
from ppl.vi.autoguide.dais import AutoDAIS
from ppl.vi.autoguide.flows import AutoBNAFNormal, AutoIAFNormal
from ppl.vi.autoguide.sitewise import AutoDelta, AutoNormal

__all__ = [
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
]
