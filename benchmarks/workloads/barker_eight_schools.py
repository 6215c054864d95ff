"""Eight schools, non-centered, sampled by BarkerMH (gradient-based, with step-size and
diagonal mass adaptation): 4 chains sequential, 2000 warmup + 2000 samples."""

from benchmarks.workloads.eight_schools import make_data, model

__all__ = ["make_data", "model"]

KIND = "kernel"
KERNEL = "BarkerMH"
CHAIN_METHOD = "sequential"  # NumPyro runs this kernel only sequential or parallel
EXTRA_FIELDS = ("accept_prob",)
SETTINGS = {"num_warmup": 2000, "num_samples": 2000, "num_chains": 4}
QUICK_SETTINGS = {"num_warmup": 300, "num_samples": 300, "num_chains": 4}
