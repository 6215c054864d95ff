"""Eight schools, non-centered, sampled by ESS (ensemble slice sampling, 20 walkers
vectorized): 1000 warmup + 1000 samples per walker.

``randomize_split=False``: with random splits NumPyro 0.22 returns the walkers
permuted across chain slots at every step, so its per-chain ESS would measure
shuffled walkers, not Markov chains (ppl keeps each walker in its slot).
"""

from benchmarks.workloads.eight_schools import make_data, model

__all__ = ["make_data", "model"]

KIND = "kernel"
KERNEL = "ESS"
KERNEL_KWARGS = {"randomize_split": False}
SETTINGS = {"num_warmup": 1000, "num_samples": 1000, "num_chains": 20}
QUICK_SETTINGS = {"num_warmup": 200, "num_samples": 200, "num_chains": 20}
