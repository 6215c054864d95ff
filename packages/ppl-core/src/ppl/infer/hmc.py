"""HMC and NUTS (``from ppl.infer.hmc import NUTS``), provided by ppl-mcmc."""

from ppl.infer._facade import submodule

__getattr__, __dir__ = submodule(__name__, ("HMC", "NUTS", "HMCState", "hmc"))
