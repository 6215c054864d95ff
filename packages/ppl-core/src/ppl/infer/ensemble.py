"""Ensemble samplers (``from ppl.infer.ensemble import AIES``), provided by ppl-mcmc."""

from ppl.infer._facade import submodule

__getattr__, __dir__ = submodule(__name__, ("AIES", "ESS", "EnsembleSampler"))
