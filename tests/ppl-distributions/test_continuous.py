"""The univariate continuous catalogue against scipy.stats and closed forms."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate as integrate
import scipy.stats as st

import ppl.distributions as dist


class Case(NamedTuple):
    name: str
    make: object  # (*params) -> ppl distribution
    ranges: tuple  # per parameter: (low, high) of uniform random values
    scipy: object  # (*params) -> frozen scipy distribution
    finite_moments: bool = True  # mean/variance/4th moment finite for all ranges


def _alq(loc, scale, q):
    k = np.sqrt(q / (1 - q))
    return st.laplace_asymmetric(k, loc, scale * k / q)


CASES = [
    Case("Normal", dist.Normal, ((-2, 2), (0.5, 2.5)), st.norm),
    Case("Cauchy", dist.Cauchy, ((-2, 2), (0.5, 2.5)), st.cauchy, False),
    Case("Laplace", dist.Laplace, ((-2, 2), (0.5, 2.5)), st.laplace),
    Case(
        "AsymmetricLaplace",
        dist.AsymmetricLaplace,
        ((-2, 2), (0.5, 2.5), (0.5, 2.0)),
        lambda loc, scale, k: st.laplace_asymmetric(k, loc, scale),
    ),
    Case(
        "AsymmetricLaplaceQuantile",
        dist.AsymmetricLaplaceQuantile,
        ((-2, 2), (0.5, 2.5), (0.2, 0.8)),
        _alq,
    ),
    Case("Logistic", dist.Logistic, ((-2, 2), (0.5, 2.5)), st.logistic),
    Case("Gumbel", dist.Gumbel, ((-2, 2), (0.5, 2.5)), st.gumbel_r),
    Case("StudentT", dist.StudentT, ((5, 10), (-2, 2), (0.5, 2.5)), st.t),
    Case("Exponential", dist.Exponential, ((0.5, 2.5),), lambda r: st.expon(scale=1 / r)),
    Case("Gamma", dist.Gamma, ((0.5, 4), (0.5, 2.5)), lambda a, b: st.gamma(a, scale=1 / b)),
    Case("Chi2", dist.Chi2, ((1, 6),), st.chi2),
    Case(
        "InverseGamma",
        dist.InverseGamma,
        ((5, 9), (0.5, 2.5)),
        lambda a, b: st.invgamma(a, scale=b),
    ),
    Case("HalfNormal", dist.HalfNormal, ((0.5, 2.5),), lambda s: st.halfnorm(scale=s)),
    Case("HalfCauchy", dist.HalfCauchy, ((0.5, 2.5),), lambda s: st.halfcauchy(scale=s), False),
    Case(
        "LogNormal",
        dist.LogNormal,
        ((-1, 1), (0.2, 0.6)),
        lambda m, s: st.lognorm(s, scale=np.exp(m)),
    ),
    Case("Weibull", dist.Weibull, ((0.5, 2.5), (1, 3)), lambda s, k: st.weibull_min(k, scale=s)),
    Case(
        "Gompertz", dist.Gompertz, ((0.5, 2), (0.5, 2.5)), lambda c, r: st.gompertz(c, scale=1 / r)
    ),
    Case("Levy", dist.Levy, ((-2, 2), (0.5, 2.5)), st.levy, False),
    Case("Pareto", dist.Pareto, ((0.5, 2.5), (5, 9)), lambda s, a: st.pareto(a, scale=s)),
    Case(
        "Dagum", dist.Dagum, ((0.5, 2), (5, 8), (0.5, 2.5)), lambda p, a, b: st.burr(a, p, scale=b)
    ),
    Case(
        "LowerTruncatedPowerLaw",
        dist.LowerTruncatedPowerLaw,
        ((-9, -6), (0.5, 2.5)),
        lambda a, low: st.pareto(-(a + 1), scale=low),
    ),
    Case(
        "DoublyTruncatedPowerLaw",
        dist.DoublyTruncatedPowerLaw,
        ((-3, -1.5), (0.5, 1), (2, 3)),
        lambda a, low, high: st.truncpareto(-(a + 1), high / low, scale=low),
    ),
    Case(
        "DoublyTruncatedPowerLaw-positive",
        dist.DoublyTruncatedPowerLaw,
        ((0.5, 2), (0, 0), (2, 3)),
        lambda a, low, high: st.powerlaw(a + 1, scale=high),
    ),
    Case(
        "Uniform",
        lambda low, width: dist.Uniform(low, low + width),
        ((-2, 2), (0.5, 3)),
        lambda low, width: st.uniform(low, width),
    ),
    Case(
        "LogUniform",
        lambda low, ratio: dist.LogUniform(low, low * ratio),
        ((0.5, 1), (2, 4)),
        lambda low, ratio: st.loguniform(low, low * ratio),
    ),
    Case("Beta", dist.Beta, ((0.5, 3), (0.5, 3)), st.beta),
    Case(
        "BetaProportion",
        dist.BetaProportion,
        ((0.2, 0.8), (2, 8)),
        lambda m, c: st.beta(m * c, (1 - m) * c),
    ),
]
IDS = [c.name for c in CASES]


def _params(case, rng, shapes):
    return [
        rng.uniform(lo, hi, size=shape).astype(np.float32)
        for (lo, hi), shape in zip(case.ranges, shapes, strict=True)
    ]


def _scipy(case, params, batch_shape):
    return case.scipy(*[np.broadcast_to(np.float64(p), batch_shape) for p in params])


def _implements(d, method):
    try:
        getattr(d, method)
    except NotImplementedError:
        return False
    return True


# Every generic test uses the same layout, first parameter (3, 1) and the others
# (4,) (batch shape (3, 4)), so that eagerly compiled kernels are shared.


def _layout(case):
    n = len(case.ranges)
    return [(3, 1)] + [(4,)] * (n - 1), ((3, 4) if n > 1 else (3, 1))


def _batch_params(case, seed):
    shapes, batch_shape = _layout(case)
    return _params(case, np.random.default_rng(seed), shapes), batch_shape


def _reduce_to(values, shape):
    """Sum ``values`` over the dimensions that ``shape`` broadcasts along."""
    values = np.asarray(values)
    lead = values.ndim - len(shape)
    values = values.sum(tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and values.shape[i] != 1)
    return values.sum(axes, keepdims=True).reshape(shape)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_log_prob_matches_scipy_with_broadcasting(case):
    params, batch_shape = _batch_params(case, 0)
    d = case.make(*params)
    assert d.batch_shape == batch_shape
    assert d.event_shape == ()
    ref = _scipy(case, params, batch_shape)
    x = np.float32(ref.rvs(size=(5, *batch_shape), random_state=np.random.default_rng(0)))
    log_prob = d.log_prob(x)
    assert log_prob.shape == (5, *batch_shape)
    np.testing.assert_allclose(log_prob, ref.logpdf(np.float64(x)), rtol=1e-4, atol=1e-4)
    # a scalar value broadcasts against the batch
    assert d.log_prob(x[0, 0, 0]).shape == batch_shape


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cdf_icdf_and_moments_match_scipy(case):
    params, batch_shape = _batch_params(case, 1)
    d = case.make(*params)
    ref = _scipy(case, params, batch_shape)
    x = np.float32(ref.rvs(size=(5, *batch_shape), random_state=np.random.default_rng(1)))
    np.testing.assert_allclose(d.cdf(x), ref.cdf(np.float64(x)), atol=2e-5)
    q = np.float32([0.02, 0.3, 0.5, 0.77, 0.98]).reshape(5, 1, 1)
    x_q = d.icdf(q)
    np.testing.assert_allclose(x_q, ref.ppf(np.float64(q)), rtol=2e-4, atol=1e-4)
    # icdf inverts cdf, and its derivative in q is 1 / density
    np.testing.assert_allclose(d.cdf(x_q), np.broadcast_to(q, x_q.shape), atol=2e-5)
    grad_q = jax.grad(lambda q: jnp.sum(d.icdf(q)))(q)
    inverse_density = 1 / ref.pdf(np.asarray(x_q, np.float64))
    np.testing.assert_allclose(grad_q, inverse_density.sum((1, 2), keepdims=True), rtol=2e-3)

    np.testing.assert_allclose(d.mean, ref.mean(), rtol=1e-4)
    if _implements(d, "variance"):
        np.testing.assert_allclose(d.variance, ref.var(), rtol=1e-3)
    try:
        entropy = d.entropy()
    except NotImplementedError:
        return
    np.testing.assert_allclose(entropy, ref.entropy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_samples_follow_the_distribution(case):
    params, batch_shape = _batch_params(case, 1)
    d = case.make(*params)
    n = 20_000
    samples = d.sample(jax.random.key(0), (n,))
    assert samples.shape == (n, *batch_shape)
    assert np.all(d.support(samples))
    samples = np.asarray(samples, np.float64)
    full = [np.broadcast_to(np.float64(p), batch_shape) for p in params]
    for index in [(0, 0), (2, batch_shape[1] - 1)]:
        ref = case.scipy(*[p[index] for p in full])
        column = samples[(slice(None), *index)]
        assert st.kstest(column, ref.cdf).pvalue > 1e-3
        if not case.finite_moments:
            continue
        mean, var, kurt = (float(m) for m in ref.stats(moments="mvk"))
        assert abs(column.mean() - mean) < 6 * math.sqrt(var / n)
        var_se = var * math.sqrt((kurt + 2) / n)
        assert abs(column.var() - var) < 6 * var_se


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_log_prob_gradient_matches_finite_differences_of_scipy(case):
    params, batch_shape = _batch_params(case, 1)
    ref = _scipy(case, params, batch_shape)
    x = np.float32(ref.ppf(0.37))
    grads = jax.grad(lambda p: jnp.sum(case.make(*p).log_prob(x)))(params)
    params64 = [np.float64(p) for p in params]
    x64 = np.float64(x)
    for i, g in enumerate(grads):
        if case.ranges[i][0] == case.ranges[i][1]:
            continue  # a parameter pinned at a boundary (e.g. low = 0)
        eps = 1e-6 * np.maximum(1.0, np.abs(params64[i]))
        up = [*params64[:i], params64[i] + eps, *params64[i + 1 :]]
        down = [*params64[:i], params64[i] - eps, *params64[i + 1 :]]
        difference = case.scipy(*up).logpdf(x64) - case.scipy(*down).logpdf(x64)
        fd = _reduce_to(difference, params[i].shape) / (2 * eps)
        np.testing.assert_allclose(g, fd, rtol=2e-3, atol=1e-4)


# Families whose cdf depends on a shape parameter through an incomplete beta or gamma
# function: its derivatives there (ppl.distributions.special.betainc, jax's gammainc),
# and those of icdf, against central differences of scipy.
SHAPE_CDF_CASES = [c for c in CASES if c.name in ("StudentT", "Beta", "Gamma")]


@pytest.mark.parametrize("case", SHAPE_CDF_CASES, ids=[c.name for c in SHAPE_CDF_CASES])
def test_cdf_and_icdf_gradients_match_finite_differences_of_scipy(case):
    params, batch_shape = _batch_params(case, 2)
    ref = _scipy(case, params, batch_shape)
    x = np.float32(ref.ppf(0.37))
    q = np.float32(0.37)
    # One compilation for both gradients rather than op-by-op dispatch.
    cdf_grads, icdf_grads = jax.jit(
        lambda p: (
            jax.grad(lambda p: jnp.sum(case.make(*p).cdf(x)))(p),
            jax.grad(lambda p: jnp.sum(case.make(*p).icdf(q)))(p),
        )
    )(params)
    params64 = [np.float64(p) for p in params]
    for i in range(len(params)):
        eps = 1e-5 * np.maximum(1.0, np.abs(params64[i]))
        up = [*params64[:i], params64[i] + eps, *params64[i + 1 :]]
        down = [*params64[:i], params64[i] - eps, *params64[i + 1 :]]
        d_cdf = case.scipy(*up).cdf(np.float64(x)) - case.scipy(*down).cdf(np.float64(x))
        d_icdf = case.scipy(*up).ppf(0.37) - case.scipy(*down).ppf(0.37)
        for grad, difference in ((cdf_grads[i], d_cdf), (icdf_grads[i], d_icdf)):
            fd = _reduce_to(difference, params[i].shape) / (2 * eps)
            np.testing.assert_allclose(grad, fd, rtol=2e-3, atol=2e-5)


# Samplers whose pathwise derivative we can check sample by sample against the implicit
# one, dx/dθ = -(∂F/∂θ)(x) / p(x): those that are inverse cdfs in effect (JAX's gamma
# sampler is implicitly differentiated too). StudentT (normal over root-gamma) and Beta
# (a ratio of gammas) couple the noise differently: their derivatives agree only in
# expectation, which test_catalogue checks. Chi2 and AsymmetricLaplaceQuantile reuse
# the Gamma and AsymmetricLaplace samplers.
RSAMPLE_CASES = [
    c
    for c in CASES
    if c.name not in ("StudentT", "Beta", "BetaProportion", "Chi2", "AsymmetricLaplaceQuantile")
]


@pytest.mark.slow
@pytest.mark.parametrize("case", RSAMPLE_CASES, ids=[c.name for c in RSAMPLE_CASES])
def test_rsample_gradient_matches_implicit_derivative(case):
    params, batch_shape = _batch_params(case, 1)
    assert case.make(*params).has_rsample
    key = jax.random.key(7)
    pathwise = jax.grad(lambda p: jnp.sum(case.make(*p).rsample(key)))(params)
    x = case.make(*params).rsample(key)
    density = np.float32(_scipy(case, params, batch_shape).pdf(np.float64(x)))
    # the gradient of sum_i F(x_i; θ) / p(x_i) with x and p held fixed
    implicit = jax.grad(lambda p: -jnp.sum(case.make(*p).cdf(x) / density))(params)
    for i, (g_path, g_implicit) in enumerate(zip(pathwise, implicit, strict=True)):
        if case.ranges[i][0] == case.ranges[i][1]:
            continue
        np.testing.assert_allclose(g_path, g_implicit, rtol=2e-3, atol=1e-5)


# -- families without a scipy counterpart, or with a different convention ------------------


def _compiled_pdf(d):
    density = jax.jit(lambda t: jnp.exp(d.log_prob(t)))
    return lambda t: float(density(t))


def test_kumaraswamy_against_beta_transform():
    # X ~ Kumaraswamy(a, b)  <=>  X^a ~ Beta(1, b)
    a, b = 2.5, 1.7
    d = dist.Kumaraswamy(a, b)
    x = np.linspace(0.05, 0.95, 7)
    ref = st.beta(1, b).logpdf(x**a) + np.log(a) + (a - 1) * np.log(x)
    np.testing.assert_allclose(d.log_prob(np.float32(x)), ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(d.cdf(np.float32(x)), st.beta(1, b).cdf(x**a), atol=1e-5)
    q = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(d.icdf(np.float32(q)), st.beta(1, b).ppf(q) ** (1 / a), rtol=1e-4)
    pdf = _compiled_pdf(d)
    mean = integrate.quad(lambda t: t * pdf(t), 0, 1)[0]
    second = integrate.quad(lambda t: t * t * pdf(t), 0, 1)[0]
    entropy = integrate.quad(lambda t: -pdf(t) * math.log(pdf(t)), 0, 1)[0]
    np.testing.assert_allclose(d.mean, mean, rtol=1e-4)
    np.testing.assert_allclose(d.variance, second - mean**2, rtol=1e-3)
    np.testing.assert_allclose(d.entropy(), entropy, rtol=1e-4, atol=1e-5)
    samples = np.asarray(d.sample(jax.random.key(0), (20_000,)), np.float64)
    assert st.kstest(samples**a, st.beta(1, b).cdf).pvalue > 1e-3


def test_soft_laplace_normalizes_and_matches_its_cdf():
    d = dist.SoftLaplace(0.5, 1.5)
    pdf = _compiled_pdf(d)
    assert integrate.quad(pdf, -np.inf, np.inf)[0] == pytest.approx(1.0, rel=1e-5)
    for x in (-3.0, 0.2, 2.5):
        assert float(d.cdf(x)) == pytest.approx(integrate.quad(pdf, -np.inf, x)[0], abs=1e-5)
        assert float(d.icdf(d.cdf(x))) == pytest.approx(x, abs=1e-4)
    variance = integrate.quad(lambda t: (t - 0.5) ** 2 * pdf(t), -60.0, 60.0, limit=200)[0]
    np.testing.assert_allclose(d.variance, variance, rtol=1e-4)
    entropy = integrate.quad(lambda t: -pdf(t) * math.log(pdf(t)), -60.0, 60.0, limit=200)[0]
    np.testing.assert_allclose(d.entropy(), entropy, rtol=1e-5)
    samples = np.asarray(d.sample(jax.random.key(0), (20_000,)), np.float64)
    assert st.kstest(samples, lambda t: np.asarray(d.cdf(np.float32(t)), np.float64)).pvalue > 1e-3


def test_von_mises_against_scipy():
    loc, kappa = 0.5, 2.0
    d = dist.VonMises(loc, kappa)
    x = np.linspace(-np.pi, np.pi, 9)
    np.testing.assert_allclose(
        d.log_prob(np.float32(x)), st.vonmises(kappa, loc).logpdf(x), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(d.entropy(), st.vonmises(kappa).entropy(), rtol=1e-5)
    # the cdf on the support [-pi, pi): scipy's, which starts at loc - pi, re-based at -pi
    ref = st.vonmises(kappa, loc)
    np.testing.assert_allclose(d.cdf(np.float32(x)), ref.cdf(x) - ref.cdf(-np.pi), atol=2e-6)
    far = dist.VonMises(np.float32([-3.0, 9.0]), np.float32([0.3, 60.0]))
    ref = st.vonmises(np.float64([0.3, 60.0]), np.float64([-3.0, 9.0]))
    np.testing.assert_allclose(
        far.cdf(np.float32(x[:, None])), ref.cdf(x[:, None]) - ref.cdf(-np.pi), atol=2e-6
    )
    samples = np.asarray(d.sample(jax.random.key(0), (20_000,)), np.float64)
    assert np.all((samples >= -np.pi) & (samples < np.pi))
    # scipy's cdf lives on [loc - pi, loc + pi): compare the centred, wrapped draws.
    centred = np.remainder(samples - loc + np.pi, 2 * np.pi) - np.pi
    assert st.kstest(centred, st.vonmises(kappa).cdf).pvalue > 1e-3
    # circular variance 1 - |E[e^{iX}]| = 1 - I1(k)/I0(k)
    resultant = np.abs(np.mean(np.exp(1j * samples)))
    np.testing.assert_allclose(d.variance, 1 - resultant, atol=0.01)
    np.testing.assert_allclose(d.mean, loc)


def test_doubly_truncated_power_law_at_alpha_minus_one_is_log_uniform():
    d = dist.DoublyTruncatedPowerLaw(-1.0, 1.5, 4.0)
    ref = st.loguniform(1.5, 4.0)
    x = np.linspace(1.6, 3.9, 5)
    np.testing.assert_allclose(d.log_prob(np.float32(x)), ref.logpdf(x), rtol=1e-5)
    np.testing.assert_allclose(d.cdf(np.float32(x)), ref.cdf(x), atol=1e-6)
    np.testing.assert_allclose(d.icdf(np.float32([0.2, 0.7])), ref.ppf([0.2, 0.7]), rtol=1e-5)
    np.testing.assert_allclose([d.mean, d.variance], [ref.mean(), ref.var()], rtol=1e-4)


def test_gaussian_random_walk():
    scale = np.array([0.5, 2.0], np.float32)
    d = dist.GaussianRandomWalk(scale, num_steps=5)
    assert (d.batch_shape, d.event_shape) == ((2,), (5,))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 2, 5)).astype(np.float32)
    increments = np.diff(x, axis=-1, prepend=0.0)
    ref = st.norm(0, scale[:, None]).logpdf(increments).sum(-1)
    np.testing.assert_allclose(d.log_prob(x), ref, rtol=1e-5)
    samples = np.asarray(d.sample(jax.random.key(0), (20_000,)))
    np.testing.assert_allclose(samples.var(0) / d.variance, 1.0, atol=0.05)
    np.testing.assert_allclose(d.variance[1], 4.0 * np.arange(1, 6))
    assert dist.GaussianRandomWalk.infer_shapes((2,), num_steps=5) == ((2,), (5,))


def test_euler_maruyama_ornstein_uhlenbeck():
    theta, sigma = 0.7, 0.5
    t = jnp.linspace(0.0, 2.0, 11)
    dt = float(t[1] - t[0])

    def sde(x, _t):
        return -theta * x, sigma * jnp.ones_like(x)

    init = dist.Normal(jnp.zeros(2), 1.0).to_event(1)
    d = dist.EulerMaruyama(t, sde, init)
    assert (d.batch_shape, d.event_shape) == ((), (11, 2))
    samples = d.sample(jax.random.key(0), (20_000,))
    assert samples.shape == (20_000, 11, 2)
    # x_{k+1} = (1 - theta dt) x_k + sigma sqrt(dt) eps: Var_{k+1} = a^2 Var_k + sigma^2 dt
    var = 1.0
    for _ in range(10):
        var = (1 - theta * dt) ** 2 * var + sigma**2 * dt
    np.testing.assert_allclose(np.var(samples[:, -1], axis=0), var, rtol=0.05)
    # log_prob = initial density + Gaussian transitions
    path = np.asarray(samples[:3], np.float64)
    ref = st.norm(0, 1).logpdf(path[:, 0]).sum(-1)
    loc = path[:, :-1] * (1 - theta * dt)
    ref += st.norm(loc, sigma * np.sqrt(dt)).logpdf(path[:, 1:]).sum((-2, -1))
    np.testing.assert_allclose(d.log_prob(samples[:3]), ref, rtol=1e-4)


def test_euler_maruyama_rejects_scalar_init():
    with pytest.raises(ValueError, match="event_dim"):
        dist.EulerMaruyama(jnp.arange(3.0), lambda x, t: (x, x), dist.Normal())


def test_dirichlet_against_scipy():
    alpha = np.array([[0.7, 2.0, 3.5], [1.5, 1.5, 4.0]])
    d = dist.Dirichlet(np.float32(alpha))
    assert (d.batch_shape, d.event_shape) == ((2,), (3,))
    rng = np.random.default_rng(0)
    x = np.stack([st.dirichlet(a).rvs(4, random_state=rng) for a in alpha], 1)  # (4, 2, 3)
    ref = np.array([[st.dirichlet(alpha[j]).logpdf(x[i, j]) for j in range(2)] for i in range(4)])
    np.testing.assert_allclose(d.log_prob(np.float32(x)), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(d.mean, [st.dirichlet(a).mean() for a in alpha], rtol=1e-5)
    np.testing.assert_allclose(d.variance, [st.dirichlet(a).var() for a in alpha], rtol=1e-4)
    np.testing.assert_allclose(d.entropy(), [st.dirichlet(a).entropy() for a in alpha], rtol=1e-4)
    samples = d.sample(jax.random.key(0), (5_000,))
    assert np.all(d.support(samples))
    np.testing.assert_allclose(samples.mean(0), d.mean, atol=0.02)
    assert dist.Dirichlet.infer_shapes((5, 3)) == ((5,), (3,))


def test_sampling_is_reproducible_and_keyed():
    d = dist.Normal(2.0, 3.0)
    a = d.sample(jax.random.key(0), (5,))
    np.testing.assert_array_equal(a, d.sample(jax.random.key(0), (5,)))
    assert not np.allclose(a, d.sample(jax.random.key(1), (5,)))
    with pytest.raises(TypeError, match="PRNG key"):
        d.sample(0)


def test_student_t_undefined_moments():
    d = dist.StudentT(jnp.array([0.5, 1.5, 3.0]))
    np.testing.assert_array_equal(np.isnan(d.mean), [True, False, False])
    np.testing.assert_array_equal(d.variance[:2], [np.nan, np.inf])
    np.testing.assert_allclose(d.variance[2], 3.0)
