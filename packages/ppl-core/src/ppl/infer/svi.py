"""Stochastic variational inference (``from ppl.infer.svi import SVI``), provided by ppl-vi."""

from ppl.infer._facade import submodule

__getattr__, __dir__ = submodule(__name__, ("SVI", "SVIState", "SVIRunResult"))
