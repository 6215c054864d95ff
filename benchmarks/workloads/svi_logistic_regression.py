"""SVI on the logistic regression of ``logistic_regression`` (N = 10,000, D = 25):
AutoNormal guide, Adam, 5,000 steps."""

from benchmarks.workloads.logistic_regression import make_data, model

__all__ = ["make_data", "model"]

KIND = "svi"
GUIDE = "AutoNormal"
OPTIMIZER = ("Adam", {"step_size": 0.01})
SETTINGS = {"num_steps": 5000}
QUICK_SETTINGS = {"num_steps": 500}
