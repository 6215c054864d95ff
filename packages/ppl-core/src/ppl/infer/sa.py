"""Sample adaptive MCMC (``from ppl.infer.sa import SA``), provided by ppl-mcmc."""

from ppl.infer._facade import submodule

__getattr__, __dir__ = submodule(__name__, ("SA",))
