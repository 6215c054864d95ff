"""HMC within Gibbs (``from ppl.infer.hmc_gibbs import HMCECS``), provided by ppl-mcmc."""

from ppl.infer._facade import submodule

__getattr__, __dir__ = submodule(
    __name__,
    (
        "HMCGibbs",
        "HMCGibbsState",
        "DiscreteHMCGibbs",
        "HMCECS",
        "estimate_likelihood",
        "taylor_proxy",
    ),
)
