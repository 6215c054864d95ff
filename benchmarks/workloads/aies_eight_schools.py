"""Eight schools, non-centered, sampled by AIES (affine-invariant ensemble, 20 walkers
vectorized): 2000 warmup + 2000 samples per walker."""

from benchmarks.workloads.eight_schools import make_data, model

__all__ = ["make_data", "model"]

KIND = "kernel"
KERNEL = "AIES"
SETTINGS = {"num_warmup": 2000, "num_samples": 2000, "num_chains": 20}
QUICK_SETTINGS = {"num_warmup": 300, "num_samples": 300, "num_chains": 20}
