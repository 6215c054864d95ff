"""Variational objectives (``from ppl.infer.elbo import Trace_ELBO``), provided by ppl-vi."""

from ppl.infer._facade import submodule

__getattr__, __dir__ = submodule(
    __name__,
    ("ELBO", "Trace_ELBO", "TraceMeanField_ELBO", "TraceGraph_ELBO", "TraceEnum_ELBO", "RenyiELBO"),
)
