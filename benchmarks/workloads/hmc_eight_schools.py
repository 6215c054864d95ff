"""Eight schools, non-centered, sampled by HMC with a fixed 16 leapfrog steps
(4 chains vectorized, 1000 + 1000): the ``kernel`` kind's reference workload."""

from benchmarks.workloads.eight_schools import make_data, model

__all__ = ["make_data", "model"]

KIND = "kernel"
KERNEL = "HMC"
# trajectory_length=None: NumPyro adapts no step size when both are given (ppl ignores
# trajectory_length when num_steps is set), so both libraries adapt it here.
KERNEL_KWARGS = {"num_steps": 16, "trajectory_length": None}
EXTRA_FIELDS = ("accept_prob",)
SETTINGS = {"num_warmup": 1000, "num_samples": 1000, "num_chains": 4}
QUICK_SETTINGS = {"num_warmup": 200, "num_samples": 200, "num_chains": 4}
