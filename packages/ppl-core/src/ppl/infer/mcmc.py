"""MCMC and the kernel interface (``from ppl.infer.mcmc import MCMC``), provided by ppl-mcmc."""

from ppl.infer._facade import submodule

__getattr__, __dir__ = submodule(__name__, ("MCMC", "MCMCKernel"))
