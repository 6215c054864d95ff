"""Barker's proposal (``from ppl.infer.barker import BarkerMH``), provided by ppl-mcmc."""

from ppl.infer._facade import submodule

__getattr__, __dir__ = submodule(__name__, ("BarkerMH",))
