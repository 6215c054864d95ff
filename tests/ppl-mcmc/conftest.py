"""Shared fixtures for the ppl-mcmc tests.

Statistical checks compare Monte Carlo estimates with exact values, allowing
a few Monte Carlo standard errors computed from the chains' own effective
sample size.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import ppl
import ppl.distributions as dist
from ppl.mcmc.diagnostics import effective_sample_size

_COMPILES = []


def _on_event(name, duration, **kwargs):
    if name == "/jax/core/compile/backend_compile_duration":
        _COMPILES.append(kwargs.get("fun_name"))


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

    @property
    def names(self):
        """The names of the functions compiled since the start, in order."""
        return _COMPILES[self._start :]


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


def _discrete_mixture_model(y):
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    nu = ppl.sample("nu", dist.Normal(0.0, 1.0))
    with ppl.plate("data", y.shape[0]):
        c = ppl.sample("c", dist.Categorical(jnp.asarray(DiscreteMixture.WEIGHTS)))
        ppl.sample("y", dist.Normal(mu + jnp.asarray(DiscreteMixture.OFFSETS)[c], 1.0), obs=y)
    ppl.sample("v", dist.Normal(mu + nu, 1.0), obs=DiscreteMixture.V)


class DiscreteMixture:
    """A Gaussian mixture with discrete assignments and its exact posterior.

    mu, nu ~ N(0, 1); c_i ~ Categorical(WEIGHTS); y_i ~ N(mu + OFFSETS[c_i], 1)
    for four data points; v ~ N(mu + nu, 1) observed. Given the assignments the
    model is linear-Gaussian in (mu, nu), so the exact posterior follows by
    summing the closed-form marginal likelihood over all 3^4 assignments.
    """

    OFFSETS = np.array([-2.0, 0.0, 2.0])
    WEIGHTS = np.array([0.25, 0.45, 0.3])
    Y = np.array([-1.7, 0.4, 2.6, 0.9])
    V = 0.5

    def __init__(self):
        n = self.Y.size
        design = np.vstack([np.tile([1.0, 0.0], (n, 1)), [1.0, 1.0]])
        marginal = stats.multivariate_normal(np.zeros(n + 1), design @ design.T + np.eye(n + 1))
        post_cov = np.linalg.inv(np.eye(2) + design.T @ design)
        probs, first, second, total = np.zeros((n, 3)), np.zeros(2), np.zeros((2, 2)), 0.0
        for c in itertools.product(range(3), repeat=n):
            c = np.array(c)
            d = np.append(self.Y - self.OFFSETS[c], self.V)
            weight = np.prod(self.WEIGHTS[c]) * marginal.pdf(d)
            mean = post_cov @ design.T @ d
            total += weight
            first += weight * mean
            second += weight * (post_cov + np.outer(mean, mean))
            probs[np.arange(n), c] += weight
        #: P(c_i = k | data), shape (4, 3).
        self.assignment_probs = probs / total
        mean = first / total
        var = np.diag(second / total - np.outer(mean, mean))
        #: Posterior means and variances of mu and nu.
        self.moments = {"mu": (mean[0], var[0]), "nu": (mean[1], var[1])}
        #: The model (one function object, as Gibbs blocks must share it).
        self.model = _discrete_mixture_model

    def check(self, samples, num_se=4.0):
        """Assert that draws grouped by chain match the exact posterior: each
        P(c_i = k) and the means and variances of mu and nu, within num_se
        Monte Carlo standard errors."""
        for name, (mean, var) in self.moments.items():
            check_moments(samples[name], mean, var, num_se)
        assignments = np.asarray(samples["c"])
        for i in range(self.Y.size):
            for k in range(3):
                indicator = (assignments[..., i] == k).astype(np.float64)
                p = self.assignment_probs[i, k]
                if p < 0.02:
                    # Too rare for an effective sample size of the indicator.
                    assert indicator.mean() < 0.02, (i, k, p)
                    continue
                ess = float(effective_sample_size(indicator))
                assert abs(indicator.mean() - p) < num_se * np.sqrt(p * (1 - p) / ess), (i, k, p)


@pytest.fixture(scope="session")
def discrete_mixture():
    return DiscreteMixture()
