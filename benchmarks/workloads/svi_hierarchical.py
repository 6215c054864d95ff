"""SVI on the hierarchical logistic regression of ``hierarchical_logistic`` (100 groups,
N = 5,000, D = 5; 107 latent dimensions): AutoMultivariateNormal guide, Adam, 5,000 steps."""

from benchmarks.workloads.hierarchical_logistic import make_data, model

__all__ = ["make_data", "model"]

KIND = "svi"
GUIDE = "AutoMultivariateNormal"
OPTIMIZER = ("Adam", {"step_size": 0.01})
SETTINGS = {"num_steps": 5000}
QUICK_SETTINGS = {"num_steps": 500}
