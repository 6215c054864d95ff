"""Block Gibbs kernels (``from ppl.infer.gibbs import Gibbs``), provided by ppl-mcmc."""

from ppl.infer._facade import submodule

__getattr__, __dir__ = submodule(__name__, ("Gibbs", "GibbsState", "CustomGibbs", "DiscreteGibbs"))
