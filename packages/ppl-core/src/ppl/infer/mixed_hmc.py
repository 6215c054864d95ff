"""Mixed HMC (``from ppl.infer.mixed_hmc import MixedHMC``), provided by ppl-mcmc."""

from ppl.infer._facade import submodule

__getattr__, __dir__ = submodule(__name__, ("MixedHMC",))
