"""DiscreteHMCGibbs (NUTS inner kernel) on a two-component Gaussian mixture with 50
discrete assignments: 4 chains sequential, 1000 warmup + 1000 samples."""

from benchmarks.workloads._mixture import ESS_SITES, make_data, model

__all__ = ["ESS_SITES", "make_data", "model"]

KIND = "kernel"
KERNEL = "DiscreteHMCGibbs"
CHAIN_METHOD = "sequential"  # NumPyro runs this kernel only sequential or parallel
SETTINGS = {"num_warmup": 1000, "num_samples": 1000, "num_chains": 4}
QUICK_SETTINGS = {"num_warmup": 200, "num_samples": 200, "num_chains": 4}


def make_kernel(infer, model, data: dict):
    return infer.DiscreteHMCGibbs(infer.NUTS(model), modified=True)
