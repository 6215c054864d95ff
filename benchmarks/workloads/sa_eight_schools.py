"""Eight schools, non-centered, sampled by SA (gradient-free sample-adaptive MCMC):
4 chains sequential, 5000 warmup + 5000 samples."""

from benchmarks.workloads.eight_schools import make_data, model

__all__ = ["make_data", "model"]

KIND = "kernel"
KERNEL = "SA"
CHAIN_METHOD = "sequential"  # NumPyro runs this kernel only sequential or parallel
SETTINGS = {"num_warmup": 5000, "num_samples": 5000, "num_chains": 4}
QUICK_SETTINGS = {"num_warmup": 500, "num_samples": 500, "num_chains": 4}
