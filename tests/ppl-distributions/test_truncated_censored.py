"""Truncated and censored distributions against scipy.stats (truncnorm, cdf/sf formulas)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

import ppl.distributions as dist
import ppl.util

# (low, high) in standard units of Normal(loc=1, scale=2); None is unbounded. Includes
# bounds deep in the right tail, where the mirrored (left-tail) computations matter.
NORMAL_BOUNDS = [(-0.5, None), (4.0, None), (None, 0.3), (None, -3.0), (-1.0, 2.0), (5.0, 6.0)]
LOC, SCALE = 1.0, 2.0


def _truncnorm(low, high):
    a = -np.inf if low is None else low
    b = np.inf if high is None else high
    return stats.truncnorm(a, b, loc=LOC, scale=SCALE)


def _bounds(low, high):
    return (
        None if low is None else LOC + SCALE * low,
        None if high is None else LOC + SCALE * high,
    )


@pytest.mark.parametrize("low, high", NORMAL_BOUNDS, ids=str)
def test_truncated_normal_matches_truncnorm(low, high):
    ref = _truncnorm(low, high)
    lo, hi = _bounds(low, high)
    d = dist.TruncatedNormal(LOC, SCALE, low=lo, high=hi)
    expected_type = {
        (True, False): dist.LeftTruncatedDistribution,
        (False, True): dist.RightTruncatedDistribution,
        (True, True): dist.TwoSidedTruncatedDistribution,
    }[(lo is not None, hi is not None)]
    assert isinstance(d, expected_type)
    q = np.array([0.01, 0.2, 0.5, 0.8, 0.99])
    x = ref.ppf(q)
    np.testing.assert_allclose(d.log_prob(x.astype(np.float32)), ref.logpdf(x), rtol=2e-4)
    np.testing.assert_allclose(d.cdf(x.astype(np.float32)), q, rtol=2e-3, atol=1e-5)
    np.testing.assert_allclose(d.icdf(q.astype(np.float32)), x, rtol=1e-3, atol=2e-3)
    np.testing.assert_allclose(d.mean, ref.mean(), rtol=1e-4)
    np.testing.assert_allclose(d.variance, ref.var(), rtol=2e-3)
    np.testing.assert_allclose(d.var, d.variance)
    # Outside the bounds the cdf saturates.
    if lo is not None:
        assert float(d.cdf(jnp.float32(lo - 1.0))) == 0.0
    if hi is not None:
        assert float(d.cdf(jnp.float32(hi + 1.0))) == 1.0


def test_truncated_normal_samples():
    ref = _truncnorm(-0.5, 1.0)
    d = dist.TruncatedNormal(LOC, SCALE, low=LOC - 0.5 * SCALE, high=LOC + SCALE)
    x = np.asarray(d.sample(jax.random.PRNGKey(0), (20000,)))
    assert x.min() >= LOC - 0.5 * SCALE and x.max() <= LOC + SCALE
    assert abs(x.mean() - ref.mean()) < 5 * np.sqrt(ref.var() / x.size)
    assert stats.kstest(x[:4000], ref.cdf).pvalue > 1e-3


@pytest.mark.parametrize(
    "make, ref",
    [
        (lambda: dist.Cauchy(0.5, 1.5), stats.cauchy(0.5, 1.5)),
        (lambda: dist.Laplace(-1.0, 0.7), stats.laplace(-1.0, 0.7)),
        (lambda: dist.Logistic(0.0, 2.0), stats.logistic(0.0, 2.0)),
        (lambda: dist.StudentT(4.0, 1.0, 0.5), stats.t(4.0, 1.0, 0.5)),
    ],
    ids=["cauchy", "laplace", "logistic", "student_t"],
)
@pytest.mark.parametrize("low, high", [(-1.0, None), (None, 1.5), (-2.0, 0.5), (2.0, 4.0)])
def test_truncated_symmetric_bases(make, ref, low, high):
    d = dist.TruncatedDistribution(make(), low=low, high=high)
    fa = 0.0 if low is None else ref.cdf(low)
    fb = 1.0 if high is None else ref.cdf(high)
    q = np.array([0.05, 0.3, 0.6, 0.95])
    x = ref.ppf(fa + q * (fb - fa))
    np.testing.assert_allclose(
        d.log_prob(x.astype(np.float32)), ref.logpdf(x) - np.log(fb - fa), rtol=2e-4, atol=1e-5
    )
    np.testing.assert_allclose(d.cdf(x.astype(np.float32)), q, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(d.icdf(q.astype(np.float32)), x, rtol=1e-3, atol=1e-3)


def test_truncated_cauchy_and_factory():
    d = dist.TruncatedCauchy(0.0, 1.0, low=-1.0, high=2.0)
    ref = stats.cauchy()
    x = np.array([-0.5, 0.0, 1.9], np.float32)
    expected = ref.logpdf(x) - np.log(ref.cdf(2.0) - ref.cdf(-1.0))
    np.testing.assert_allclose(d.log_prob(x), expected, rtol=1e-5)
    assert np.all(np.isnan(d.mean))
    base = dist.Normal(0.0, 1.0)
    assert dist.TruncatedDistribution(base) is base
    with pytest.raises(TypeError, match="base_dist"):
        dist.TruncatedDistribution(dist.Gamma(2.0, 1.0), low=1.0)
    with pytest.raises(NotImplementedError, match="Normal and Cauchy"):
        _ = dist.TruncatedDistribution(dist.Laplace(0.0, 1.0), low=1.0).mean


def test_truncated_batching_and_gradients():
    loc = jnp.array([[0.0], [1.0]])  # batch (2, 1)
    low = jnp.array([-1.0, 0.5, 2.0])  # batch (3,)
    d = dist.TruncatedNormal(loc, 1.0, low=low, high=low + 2.0)
    assert d.batch_shape == (2, 3)
    x = low + 1.0
    a, b = np.asarray(low) - np.asarray(loc), np.asarray(low) + 2.0 - np.asarray(loc)
    expected = stats.truncnorm.logpdf(np.asarray(x), a, b, loc=np.asarray(loc))
    np.testing.assert_allclose(d.log_prob(x), expected, rtol=1e-5)

    def loss(params):
        loc, scale, low, high = params
        d = dist.TruncatedNormal(loc, scale, low=low, high=high)
        samples = d.rsample(jax.random.PRNGKey(0), (8,))
        return d.log_prob(jnp.array([0.1, 0.4])).sum() + samples.sum()

    grads = jax.jit(jax.grad(loss))((0.2, 1.3, -0.5, 1.0))
    assert all(np.isfinite(g) for g in grads)
    # d/dloc of log p(x) for a two-sided truncated normal, by finite differences.
    f = jax.jit(lambda m: dist.TruncatedNormal(m, 1.3, low=-0.5, high=1.0).log_prob(0.1))
    fd = (f(0.2 + 1e-2) - f(0.2 - 1e-2)) / 2e-2
    g = jax.jit(jax.grad(f))(0.2)
    np.testing.assert_allclose(g, fd, rtol=1e-2)


@pytest.mark.parametrize(
    "low, high",
    [(0.5, None), (6.0, None), (None, 1.0), (0.3, 2.0), (20.0, 30.0)],
    ids=["left", "left_far_tail", "right", "two_sided", "two_sided_far_tail"],
)
@pytest.mark.slow
def test_truncated_gamma_matches_scipy(low, high):
    ref = stats.gamma(2.0, scale=1 / 1.5)
    d = dist.TruncatedGamma(2.0, 1.5, low=low, high=high)
    a = 0.0 if low is None else low
    b = np.inf if high is None else high
    mass = ref.sf(a) - ref.sf(b)
    # As many points as the sampling test draws, so that the compiled quantile search is shared.
    q = np.linspace(0.001, 0.999, 4000)
    x = ref.isf(ref.sf(a) - q * mass)  # quantiles through the survival function: no cancellation
    np.testing.assert_allclose(
        d.log_prob(x.astype(np.float32)), ref.logpdf(x) - np.log(mass), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(d.cdf(x.astype(np.float32)), q, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(d.icdf(q.astype(np.float32)), x, rtol=1e-5)
    mean = integrate.quad(lambda t: t * ref.pdf(t) / mass, a, b)[0]
    second = integrate.quad(lambda t: t * t * ref.pdf(t) / mass, a, b)[0]
    np.testing.assert_allclose(d.mean, mean, rtol=1e-5)
    np.testing.assert_allclose(d.variance, second - mean**2, rtol=5e-3)


@pytest.mark.slow
def test_truncated_gamma_samples_and_gradients():
    d = dist.TwoSidedTruncatedGamma(dist.Gamma(2.0, 1.5), low=0.3, high=2.0)
    assert isinstance(dist.TruncatedGamma(2.0, 1.5), dist.Gamma)
    x = np.asarray(d.sample(jax.random.PRNGKey(0), (4000,)))
    assert x.min() >= 0.3 and x.max() <= 2.0
    assert abs(x.mean() - float(d.mean)) < 5 * np.sqrt(float(d.variance) / x.size)
    # The sampler is the quantile function at uniforms: check those against scipy too.
    u = jax.random.uniform(jax.random.PRNGKey(1), (4000,))
    ref = stats.gamma(2.0, scale=1 / 1.5)
    expected = ref.ppf(ref.cdf(0.3) + np.asarray(u, np.float64) * (ref.cdf(2.0) - ref.cdf(0.3)))
    np.testing.assert_allclose(d.icdf(u), expected, rtol=1e-4)

    # Reparameterized samples: d icdf(u) / d rate at fixed u, by finite differences.

    def total(rate):
        return dist.TwoSidedTruncatedGamma(dist.Gamma(2.0, rate), low=0.3, high=2.0).icdf(u).sum()

    fd = (total(1.5 + 1e-2) - total(1.5 - 1e-2)) / 2e-2
    np.testing.assert_allclose(jax.grad(total)(1.5), fd, rtol=1e-2)
    with pytest.raises(ValueError, match=r"low.*nonnegative"):
        dist.LeftTruncatedGamma(dist.Gamma(2.0, 1.0), low=-1.0)
    with pytest.raises(TypeError, match=r"base_dist.*Gamma"):
        dist.LeftTruncatedGamma(dist.Normal(), low=1.0)


def _polya_gamma_density(x, terms=200):
    n = np.arange(terms)[:, None]
    series = (-1.0) ** n * (2 * n + 1) * np.exp(-((2 * n + 1) ** 2) / (8 * x))
    return series.sum(0) / np.sqrt(2 * np.pi * x**3)


@pytest.mark.slow
def test_truncated_polya_gamma():
    d = dist.TruncatedPolyaGamma(batch_shape=(2,))
    grid = np.linspace(1e-3, 2.5, 5001)
    log_prob = np.asarray(d.log_prob(grid[:, None].astype(np.float32)), np.float64)
    assert log_prob.shape == (5001, 2)
    # Against 200 terms of the series, away from 0 where the density underflows.
    far = grid > 0.04
    np.testing.assert_allclose(
        log_prob[far, 1], np.log(_polya_gamma_density(grid[far])), rtol=2e-5, atol=1e-5
    )
    density = np.exp(log_prob[:, 0])
    mass = integrate.trapezoid(density, grid)
    assert abs(mass - 1.0) < 1e-3  # PG(1, 0) has negligible mass beyond 2.5
    samples = np.asarray(d.sample(jax.random.PRNGKey(0), (20000,)))
    assert samples.shape == (20000, 2)
    assert samples.min() >= 0.0 and samples.max() <= 2.5
    # The sampler sums 8 terms of the series: E = sum_k 1 / (k - 1/2)^2 / (2 pi^2).
    mean = (1.0 / np.arange(0.5, 8) ** 2).sum() / (2 * np.pi**2)
    var = (2.0 / np.arange(0.5, 8) ** 4).sum() / (2 * np.pi**2) ** 2
    assert np.all(np.abs(samples.mean(0) - mean) < 5 * np.sqrt(var / 20000))


# -- censoring ----------------------------------------------------------------------------


def test_left_and_right_censored_normal():
    base, ref = dist.Normal(0.5, 1.5), stats.norm(0.5, 1.5)
    x = np.array([-2.0, 0.0, 1.0, 3.0, 6.0], np.float32)
    censored = np.array([0, 1, 0, 1, 1])
    left = dist.LeftCensoredDistribution(base, censored=censored)
    right = dist.RightCensoredDistribution(base, censored=censored)
    np.testing.assert_allclose(
        left.log_prob(x), np.where(censored, ref.logcdf(x), ref.logpdf(x)), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        right.log_prob(x), np.where(censored, ref.logsf(x), ref.logpdf(x)), rtol=1e-4
    )
    assert left.batch_shape == right.batch_shape == (5,)
    samples = right.sample(jax.random.PRNGKey(0), (3,))
    assert samples.shape == (3, 5)


def test_censored_exponential_survival():
    rate = np.array([0.1, 0.5], np.float32)
    d = dist.RightCensoredDistribution(dist.Exponential(rate), censored=jnp.array([[0], [1]]))
    x = np.array([[2.0, 3.0], [2.0, 3.0]], np.float32)
    expected = np.where(
        np.array([[0], [1]]),
        stats.expon.logsf(x, scale=1 / rate),
        stats.expon.logpdf(x, scale=1 / rate),
    )
    np.testing.assert_allclose(d.log_prob(x), expected, rtol=1e-5)


def test_interval_censored_cases():
    base, ref = dist.Normal(0.0, 1.0), stats.norm()
    value = np.array(
        [
            [-0.5, 1.0],  # interval (l, u]
            [np.nan, 0.3],  # left-censored at u (lower unused)
            [1.2, np.inf],  # right-censored at l
            [-1.0, 0.5],  # outside (l, u]
            [0.7, 0.7],  # exact observation
        ],
        np.float32,
    )
    left = np.array([0, 1, 0, 1, 0])
    right = np.array([0, 0, 1, 1, 0])
    d = dist.IntervalCensoredDistribution(base, left, right)
    assert d.batch_shape == (5,) and d.event_shape == (2,)
    expected = [
        np.log(ref.cdf(1.0) - ref.cdf(-0.5)),
        ref.logcdf(0.3),
        ref.logsf(1.2),
        np.log(1 - (ref.cdf(0.5) - ref.cdf(-1.0))),
        ref.logpdf(0.7),
    ]
    lp = d.log_prob(value)
    np.testing.assert_allclose(lp, expected, rtol=1e-5)

    def loss(m):
        return dist.IntervalCensoredDistribution(dist.Normal(m, 1.0), left, right).log_prob(value)

    grad = jax.jit(jax.grad(lambda m: loss(m).sum()))(0.2)
    assert np.isfinite(grad)
    assert d.sample(jax.random.PRNGKey(0), (2,)).shape == (2, 5, 2)


def test_censored_validation_and_gradients():
    with pytest.raises(ValueError, match="censored"):
        dist.LeftCensoredDistribution(dist.Normal(0.0, 1.0), censored=jnp.array([0, 2]))
    with pytest.raises(TypeError, match="cdf"):
        dist.RightCensoredDistribution(dist.TruncatedPolyaGamma())
    with pytest.raises(ValueError, match="univariate"):
        dist.RightCensoredDistribution(dist.MultivariateNormal(jnp.zeros(2), jnp.eye(2)))
    x = jnp.array([0.5, 1.0, 2.0])
    censored = jnp.array([False, True, True])

    def loss(loc, scale):
        d = dist.RightCensoredDistribution(dist.LogNormal(loc, scale), censored)
        return d.log_prob(x).sum()

    grads = jax.jit(jax.grad(loss, argnums=(0, 1)))(0.1, 0.8)
    assert all(np.isfinite(g) for g in grads)
    loss = jax.jit(loss)
    fd = (loss(0.1 + 1e-2, 0.8) - loss(0.1 - 1e-2, 0.8)) / 2e-2
    np.testing.assert_allclose(grads[0], fd, rtol=1e-2)


CENSORED = [
    dist.LeftCensoredDistribution,
    dist.RightCensoredDistribution,
    lambda base, **kw: dist.IntervalCensoredDistribution(base, False, False, **kw),
]


@pytest.mark.parametrize("make", CENSORED, ids=["left", "right", "interval"])
def test_censored_validate_args_default_off_and_cdf_probe(make):
    # As in NumPyro: validate_args defaults to False, and validate_args=True evaluates the
    # base's cdf once, which catches a wrapper around a distribution without one.
    base = dist.TruncatedPolyaGamma().expand((2,))
    assert make(base).batch_shape == (2,)
    with pytest.raises(TypeError, match=r"cdf of `base_dist`"):
        make(base, validate_args=True)
    with ppl.util.validation_enabled():
        d = make(dist.Normal(0.0, 1.0))
        assert make(dist.Normal(0.0, 1.0), validate_args=True)._validate_args
    assert not d._validate_args


def test_unit_and_gaussian_copula_beta_validate_args_default_off():
    corr = np.float32([[1.0, 0.3], [0.3, 1.0]])
    with ppl.util.validation_enabled():
        # a -inf factor rejects a sample: it must not trip the global validation
        assert dist.Unit(-jnp.inf).log_prob(jnp.zeros((0,))) == -jnp.inf
        assert not dist.GaussianCopulaBeta(2.0, 3.0, corr)._validate_args
    # the Beta marginals still check their concrete concentrations, as a Beta does
    with pytest.raises(ValueError, match=r"Beta.*concentration1.*positive"):
        dist.GaussianCopulaBeta(jnp.float32([2.0, -1.0]), 3.0, corr)
