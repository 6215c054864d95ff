"""Shared fixtures for the ppl-mcmc tests.

Statistical checks compare Monte Carlo estimates with exact values, allowing
a few Monte Carlo standard errors computed from the chains' own effective
sample size.
"""

import jax
import numpy as np
import pytest

from ppl.mcmc.diagnostics import effective_sample_size

_COMPILES = []


def _on_event(name, duration, **kwargs):
    if name == "/jax/core/compile/backend_compile_duration":
        _COMPILES.append(name)


jax.monitoring.register_event_duration_secs_listener(_on_event)


class CompileCounter:
    """How many XLA compilations happened since the counter was created or reset."""

    def __init__(self):
        self.reset()

    def reset(self):
        self._start = len(_COMPILES)

    @property
    def count(self):
        return len(_COMPILES) - self._start


@pytest.fixture
def compile_counter():
    return CompileCounter()


def check_moments(draws, mean, var, num_se=4.0):
    """Assert that draws (num_chains, num_samples) have the given mean and variance.

    The standard error of the mean is sqrt(var / ESS); that of the variance is
    sqrt(Var[(x - mean)^2] / ESS_sq), with Var[(x - mean)^2] estimated from the
    draws and ESS_sq the effective sample size of (x - mean)^2.
    """
    draws = np.asarray(draws, dtype=np.float64)
    ess = float(effective_sample_size(draws))
    squares = (draws - mean) ** 2
    ess_sq = float(effective_sample_size(squares))
    assert ess > 50, f"too few effective samples ({ess:.0f}) for a statistical check"
    mean_hat = draws.mean()
    var_hat = squares.mean()
    assert abs(mean_hat - mean) < num_se * np.sqrt(var / ess), (mean_hat, mean, ess)
    se_var = np.sqrt(squares.var() / ess_sq)
    assert abs(var_hat - var) < num_se * se_var, (var_hat, var, ess_sq)
    return ess


@pytest.fixture
def gaussian_moments():
    return check_moments


@pytest.fixture(scope="session")
def normal_normal():
    """Data and the exact posterior of mu in mu ~ N(0, 1), y_i ~ N(mu, 2^2), i = 1..20."""
    y = np.random.default_rng(0).normal(1.5, 2.0, size=20).astype(np.float32)
    precision = 1.0 + y.size / 4.0
    return {
        "y": y,
        "mean": float(y.sum() / 4.0 / precision),
        "var": float(1.0 / precision),
    }
