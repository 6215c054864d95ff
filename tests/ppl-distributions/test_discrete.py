"""Discrete, compound, zero-inflated and hurdle distributions vs scipy.stats and closed forms."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special as sp
from scipy import stats

import ppl.distributions as dist
from ppl.distributions.kl import kl_divergence

BATCH_SHAPES = [(), (2, 3)]


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _simplex(rng, shape, k):
    p = rng.dirichlet(np.ones(k), size=shape)
    return p.reshape((*shape, k)).astype(np.float32)


def _unif(rng, shape, lo, hi):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def _ints(rng, shape, lo, hi):
    return rng.integers(lo, hi, size=shape)


# Each case: name -> make(rng, shape) -> (ppl distribution, scipy logpmf(value), test values).
# Values come from numpy (4 draws) so that the test exercises log_prob, not the sampler.
N = 4


def _case_bernoulli_probs(rng, shape):
    p = _unif(rng, shape, 0.05, 0.95)
    x = rng.integers(0, 2, (N, *shape))
    return dist.BernoulliProbs(p), stats.bernoulli.logpmf(x, p), x


def _case_bernoulli_logits(rng, shape):
    logits = _unif(rng, shape, -3, 3)
    x = rng.integers(0, 2, (N, *shape))
    return dist.BernoulliLogits(logits), stats.bernoulli.logpmf(x, sp.expit(logits)), x


def _case_binomial_probs(rng, shape):
    p, n = _unif(rng, shape, 0.05, 0.95), _ints(rng, shape, 1, 20)
    x = rng.binomial(n, p, (N, *shape))
    return dist.BinomialProbs(p, n), stats.binom.logpmf(x, n, p), x


def _case_binomial_logits(rng, shape):
    logits, n = _unif(rng, shape, -3, 3), _ints(rng, shape, 1, 20)
    x = rng.binomial(n, sp.expit(logits), (N, *shape))
    return dist.BinomialLogits(logits, n), stats.binom.logpmf(x, n, sp.expit(logits)), x


def _categorical_draws(rng, p):
    u = rng.uniform(size=(N, *p.shape[:-1], 1))
    return np.minimum((np.cumsum(p, -1) < u).sum(-1), p.shape[-1] - 1)


def _case_categorical_probs(rng, shape):
    p = _simplex(rng, shape, 4)
    x = _categorical_draws(rng, p)
    logpmf = np.log(np.take_along_axis(np.broadcast_to(p, (*x.shape, 4)), x[..., None], -1))
    return dist.CategoricalProbs(p), logpmf[..., 0], x


def _case_categorical_logits(rng, shape):
    logits = _unif(rng, (*shape, 5), -2, 2)
    log_p = logits - sp.logsumexp(logits, axis=-1, keepdims=True)
    x = _categorical_draws(rng, np.exp(log_p))
    logpmf = np.take_along_axis(np.broadcast_to(log_p, (*x.shape, 5)), x[..., None], -1)
    return dist.CategoricalLogits(logits), logpmf[..., 0], x


def _case_discrete_uniform(rng, shape):
    low = _ints(rng, shape, -5, 0)
    high = low + _ints(rng, shape, 0, 6)
    x = rng.integers(low, high + 1, (N, *shape))
    return dist.DiscreteUniform(low, high), stats.randint.logpmf(x, low, high + 1), x


def _case_geometric_probs(rng, shape):
    p = _unif(rng, shape, 0.1, 0.9)
    x = rng.geometric(p, (N, *shape)) - 1
    return dist.GeometricProbs(p), stats.geom.logpmf(x + 1, p), x


def _case_geometric_logits(rng, shape):
    logits = _unif(rng, shape, -2, 2)
    x = rng.geometric(sp.expit(logits), (N, *shape)) - 1
    return dist.GeometricLogits(logits), stats.geom.logpmf(x + 1, sp.expit(logits)), x


def _case_poisson(rng, shape):
    rate = _unif(rng, shape, 0.5, 8.0)
    x = rng.poisson(rate, (N, *shape))
    return dist.Poisson(rate), stats.poisson.logpmf(x, rate), x


def _case_poisson_sparse(rng, shape):
    rate = _unif(rng, shape, 0.05, 0.5)
    x = rng.poisson(rate, (N, *shape))
    return dist.Poisson(rate, is_sparse=True), stats.poisson.logpmf(x, rate), x


def _multinomial_draws(rng, n, p):
    n = np.broadcast_to(n, p.shape[:-1])
    flat_n, flat_p = n.reshape(-1), p.reshape(-1, p.shape[-1])
    draws = [
        [rng.multinomial(ni, pi / pi.sum()) for ni, pi in zip(flat_n, flat_p, strict=False)]
        for _ in range(N)
    ]
    return np.asarray(draws).reshape((N, *p.shape))


def _case_multinomial_probs(rng, shape):
    p, n = _simplex(rng, shape, 3), _ints(rng, shape, 1, 10)
    x = _multinomial_draws(rng, n, p.astype(np.float64))
    return dist.MultinomialProbs(p, n), stats.multinomial.logpmf(x, n, p), x


def _case_multinomial_logits(rng, shape):
    logits, n = _unif(rng, (*shape, 3), -2, 2), _ints(rng, shape, 1, 10)
    p = sp.softmax(logits.astype(np.float64), axis=-1)
    x = _multinomial_draws(rng, n, p)
    return dist.MultinomialLogits(logits, n), stats.multinomial.logpmf(x, n, p), x


def _case_ordered_logistic(rng, shape):
    predictor = _unif(rng, shape, -2, 2)
    cutpoints = np.sort(_unif(rng, (*shape, 3), -3, 3), axis=-1)
    cum = stats.logistic.cdf(cutpoints - predictor[..., None])
    probs = np.diff(np.concatenate([np.zeros((*shape, 1)), cum, np.ones((*shape, 1))], -1), axis=-1)
    x = _categorical_draws(rng, probs)
    logpmf = np.log(np.take_along_axis(np.broadcast_to(probs, (*x.shape, 4)), x[..., None], -1))
    return dist.OrderedLogistic(predictor, cutpoints), logpmf[..., 0], x


def _case_beta_binomial(rng, shape):
    a, b, n = _unif(rng, shape, 0.5, 4), _unif(rng, shape, 0.5, 4), _ints(rng, shape, 1, 15)
    x = stats.betabinom.rvs(n, a, b, size=(N, *shape), random_state=rng)
    return dist.BetaBinomial(a, b, n), stats.betabinom.logpmf(x, n, a, b), x


def _case_beta_negative_binomial(rng, shape):
    a, b, n = _unif(rng, shape, 0.5, 4), _unif(rng, shape, 3, 6), _ints(rng, shape, 1, 6)
    # scipy draws the probability of the n "successes"; ppl that of the counted events.
    x = stats.betanbinom.rvs(n, b, a, size=(N, *shape), random_state=rng)
    return dist.BetaNegativeBinomial(a, b, n), stats.betanbinom.logpmf(x, n, b, a), x


def _case_dirichlet_multinomial(rng, shape):
    alpha, n = _unif(rng, (*shape, 3), 0.5, 3), _ints(rng, shape, 1, 10)
    p = rng.dirichlet(np.ones(3), size=(N, *shape))
    x = np.stack([_multinomial_draws(rng, n, p[i])[0] for i in range(N)])
    logpmf = stats.dirichlet_multinomial.logpmf(x, alpha, n)
    return dist.DirichletMultinomial(alpha, n), logpmf, x


def _case_gamma_poisson(rng, shape):
    c, r = _unif(rng, shape, 0.5, 4), _unif(rng, shape, 0.3, 3)
    x = rng.negative_binomial(c, r / (1 + r), (N, *shape))
    return dist.GammaPoisson(c, r), stats.nbinom.logpmf(x, c, r / (1 + r)), x


def _case_negative_binomial_probs(rng, shape):
    n, p = _unif(rng, shape, 0.5, 5), _unif(rng, shape, 0.1, 0.8)
    x = rng.negative_binomial(n, 1 - p, (N, *shape))
    return dist.NegativeBinomialProbs(n, p), stats.nbinom.logpmf(x, n, 1 - p), x


def _case_negative_binomial_logits(rng, shape):
    n, logits = _unif(rng, shape, 0.5, 5), _unif(rng, shape, -2, 1.5)
    x = rng.negative_binomial(n, 1 - sp.expit(logits), (N, *shape))
    logpmf = stats.nbinom.logpmf(x, n, 1 - sp.expit(logits))
    return dist.NegativeBinomialLogits(n, logits), logpmf, x


def _case_negative_binomial2(rng, shape):
    mu, c = _unif(rng, shape, 0.5, 6), _unif(rng, shape, 0.5, 5)
    x = rng.negative_binomial(c, c / (c + mu), (N, *shape))
    return dist.NegativeBinomial2(mu, c), stats.nbinom.logpmf(x, c, c / (c + mu)), x


CASES = {
    name[len("_case_") :]: fn for name, fn in sorted(globals().items()) if name.startswith("_case_")
}


@pytest.mark.parametrize("shape", BATCH_SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(CASES))
def test_log_prob_matches_scipy(name, shape):
    d, expected, x = CASES[name](_rng(sorted(CASES).index(name)), shape)
    assert d.batch_shape == shape
    assert x.shape == (N, *shape, *d.event_shape)
    assert bool(jnp.all(d.support(x)))
    np.testing.assert_allclose(d.log_prob(x), expected, rtol=2e-5, atol=2e-5)


# -- moments from closed forms and from samples --------------------------------------------

MOMENT_CASES = {
    "bernoulli": (dist.Bernoulli(probs=0.3), stats.bernoulli(0.3)),
    "binomial_logits": (dist.Binomial(12, logits=-0.5), stats.binom(12, sp.expit(-0.5))),
    "discrete_uniform": (dist.DiscreteUniform(-2, 5), stats.randint(-2, 6)),
    "geometric": (dist.Geometric(probs=0.35), stats.geom(0.35, loc=-1)),
    "geometric_logits": (dist.Geometric(logits=0.4), stats.geom(sp.expit(0.4), loc=-1)),
    "poisson": (dist.Poisson(4.5), stats.poisson(4.5)),
    "beta_binomial": (dist.BetaBinomial(2.0, 3.0, 9), stats.betabinom(9, 2.0, 3.0)),
    "beta_negative_binomial": (
        dist.BetaNegativeBinomial(1.5, 6.0, 3.0),
        stats.betanbinom(3.0, 6.0, 1.5),
    ),
    "gamma_poisson": (dist.GammaPoisson(2.0, 0.5), stats.nbinom(2.0, 0.5 / 1.5)),
    "negative_binomial": (dist.NegativeBinomial(3.0, probs=0.4), stats.nbinom(3.0, 0.6)),
    "negative_binomial_logits": (
        dist.NegativeBinomial(3.0, logits=0.2),
        stats.nbinom(3.0, 1 - sp.expit(0.2)),
    ),
    "negative_binomial2": (dist.NegativeBinomial2(5.0, 2.0), stats.nbinom(2.0, 2.0 / 7.0)),
}


def _check_sample_moments(samples, mean, var, n_se=5.0):
    """Sample mean and variance agree with ``mean``/``var`` within ``n_se`` standard errors."""
    x = np.asarray(samples, dtype=np.float64)
    n = x.shape[0]
    m = x.mean(0)
    s2 = x.var(0)
    m4 = ((x - m) ** 4).mean(0)
    assert np.all(np.abs(m - mean) <= n_se * np.sqrt(var / n) + 1e-9), (m, mean)
    assert np.all(np.abs(s2 - var) <= n_se * np.sqrt(np.maximum(m4 - s2**2, 0) / n) + 1e-9), (
        s2,
        var,
    )


@pytest.mark.parametrize("name", sorted(MOMENT_CASES))
def test_mean_variance_closed_form_and_samples(name):
    d, ref = MOMENT_CASES[name]
    np.testing.assert_allclose(d.mean, ref.mean(), rtol=1e-5)
    np.testing.assert_allclose(d.variance, ref.var(), rtol=1e-5)
    samples = d.sample(jax.random.PRNGKey(7), (20000,))
    assert bool(jnp.all(d.support(samples)))
    _check_sample_moments(samples, ref.mean(), ref.var())


@pytest.mark.slow
def test_multivariate_moments_and_samples():
    p = np.array([0.2, 0.3, 0.5], np.float32)
    alpha = np.array([1.0, 2.0, 3.0], np.float32)
    multinomial = stats.multinomial(7, p)
    logits_dist = dist.Multinomial(7, logits=np.log(p))
    np.testing.assert_allclose(logits_dist.mean, multinomial.mean(), rtol=1e-5)
    np.testing.assert_allclose(logits_dist.variance, np.diag(multinomial.cov()), rtol=1e-5)
    for d, ref in [
        (dist.Multinomial(7, probs=p), multinomial),
        (dist.DirichletMultinomial(alpha, 7), stats.dirichlet_multinomial(alpha, 7)),
    ]:
        np.testing.assert_allclose(d.mean, ref.mean(), rtol=1e-5)
        var = np.diag(ref.cov())
        np.testing.assert_allclose(d.variance, var, rtol=1e-5)
        samples = d.sample(jax.random.PRNGKey(3), (20000,))
        assert samples.shape == (20000, 3)
        np.testing.assert_array_equal(samples.sum(-1), 7)
        _check_sample_moments(samples, ref.mean(), var)


def test_categorical_sample_frequencies():
    p = np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]], np.float32)
    for d in (dist.Categorical(probs=p), dist.Categorical(logits=np.log(p))):
        x = np.asarray(d.sample(jax.random.PRNGKey(0), (20000,)))
        freq = (x[..., None] == np.arange(3)).mean(0)
        assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / 20000))
        assert np.all(np.isnan(d.mean)) and np.all(np.isnan(d.variance))


def test_ordered_logistic_frequencies():
    d = dist.OrderedLogistic(0.3, jnp.array([-1.0, 0.5, 1.5]))
    x = np.asarray(d.sample(jax.random.PRNGKey(0), (20000,)))
    p = np.asarray(d.probs)
    freq = (x[..., None] == np.arange(4)).mean(0)
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / 20000))
    assert dist.OrderedLogistic.infer_shapes((5,), (2, 1, 3)) == ((2, 5), ())


# -- cdf, icdf, entropy -------------------------------------------------------------------

CDF_CASES = {
    "bernoulli": (dist.Bernoulli(probs=0.3), stats.bernoulli(0.3)),
    "binomial": (dist.Binomial(9, probs=0.35), stats.binom(9, 0.35)),
    "discrete_uniform": (dist.DiscreteUniform(-2, 5), stats.randint(-2, 6)),
    "geometric": (dist.Geometric(probs=0.35), stats.geom(0.35, loc=-1)),
    "geometric_logits": (dist.Geometric(logits=-0.4), stats.geom(sp.expit(-0.4), loc=-1)),
    "poisson": (dist.Poisson(3.5), stats.poisson(3.5)),
    "gamma_poisson": (dist.GammaPoisson(2.0, 0.5), stats.nbinom(2.0, 0.5 / 1.5)),
    "negative_binomial2": (dist.NegativeBinomial2(5.0, 2.0), stats.nbinom(2.0, 2.0 / 7.0)),
}


@pytest.mark.parametrize("name", sorted(CDF_CASES))
def test_cdf_matches_scipy(name):
    d, ref = CDF_CASES[name]
    x = np.array([-3.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.7, 6.0, 9.0, 15.0], np.float32)
    np.testing.assert_allclose(d.cdf(x), ref.cdf(x), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["bernoulli", "discrete_uniform", "geometric", "geometric_logits"])
def test_icdf_matches_scipy(name):
    d, ref = CDF_CASES[name]
    q = np.array([0.01, 0.1, 0.3, 0.5, 0.69, 0.7, 0.71, 0.9, 0.99], np.float32)
    np.testing.assert_allclose(d.icdf(q), ref.ppf(q))


@pytest.mark.parametrize(
    "d, expected",
    [
        (dist.Bernoulli(probs=0.3), stats.bernoulli(0.3).entropy()),
        (dist.Bernoulli(logits=1.2), stats.bernoulli(sp.expit(1.2)).entropy()),
        (dist.Categorical(probs=jnp.array([0.2, 0.0, 0.8])), stats.entropy([0.2, 0.0, 0.8])),
        (
            dist.Categorical(logits=jnp.array([0.0, 1.0, -1.0])),
            stats.entropy(sp.softmax([0, 1, -1])),
        ),
        (dist.Geometric(probs=0.3), stats.geom(0.3).entropy()),
        (dist.Geometric(logits=-0.7), stats.geom(sp.expit(-0.7)).entropy()),
        (dist.DiscreteUniform(-1, 6), np.log(8.0)),
    ],
)
def test_entropy(d, expected):
    np.testing.assert_allclose(d.entropy(), expected, rtol=1e-5)


# -- enumerate_support ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "d, values",
    [
        (dist.Bernoulli(probs=jnp.full((2, 3), 0.4)), [0, 1]),
        (dist.Binomial(4, probs=jnp.full((2, 3), 0.4)), [0, 1, 2, 3, 4]),
        (dist.Categorical(logits=jnp.zeros((2, 3, 5))), [0, 1, 2, 3, 4]),
        (dist.DiscreteUniform(jnp.full((2, 3), -1), 2), [-1, 0, 1, 2]),
        (dist.BetaBinomial(jnp.ones((2, 3)), 2.0, 3), [0, 1, 2, 3]),
        (
            dist.ZeroInflatedDistribution(dist.Binomial(2, probs=jnp.full((2, 3), 0.5)), gate=0.3),
            [0, 1, 2],
        ),
    ],
)
def test_enumerate_support(d, values):
    n = len(values)
    full = d.enumerate_support()
    assert full.shape == (n, 2, 3)
    np.testing.assert_array_equal(full[:, 1, 2], values)
    assert d.enumerate_support(expand=False).shape == (n, 1, 1)
    # The enumerated values carry all the mass.
    np.testing.assert_allclose(jnp.exp(d.log_prob(full)).sum(0), 1.0, rtol=1e-5)


def test_enumerate_support_rejects_inhomogeneous_counts():
    with pytest.raises(NotImplementedError, match="total_count"):
        dist.Binomial(jnp.array([2, 3]), probs=0.5).enumerate_support()


# -- zero-inflated and hurdle ---------------------------------------------------------------


def test_zero_inflated_pmfs_match_manual_formulas():
    k = np.arange(0, 15)
    gate, rate = 0.3, 2.5
    pois = stats.poisson.pmf(k, rate)
    zip_pmf = np.where(k == 0, gate + (1 - gate) * pois, (1 - gate) * pois)
    np.testing.assert_allclose(
        np.exp(dist.ZeroInflatedPoisson(gate, rate).log_prob(k)), zip_pmf, rtol=1e-5
    )
    zi = dist.ZeroInflatedDistribution(dist.Poisson(rate), gate_logits=sp.logit(gate))
    assert isinstance(zi, dist.ZeroInflatedLogits)
    np.testing.assert_allclose(np.exp(zi.log_prob(k)), zip_pmf, rtol=1e-5)

    mu, c, g = 4.0, 1.5, 0.2
    nb = stats.nbinom.pmf(k, c, c / (c + mu))
    zinb = np.where(k == 0, g + (1 - g) * nb, (1 - g) * nb)
    for d in (
        dist.ZeroInflatedNegativeBinomial2(mu, c, gate=g),
        dist.ZeroInflatedNegativeBinomial2(mu, c, gate_logits=sp.logit(g)),
    ):
        np.testing.assert_allclose(np.exp(d.log_prob(k)), zinb, rtol=1e-5)


def test_hurdle_pmfs_match_manual_formulas():
    k = np.arange(0, 200)
    gate, rate = 0.4, 1.7
    pois = stats.poisson(rate)
    expected = np.where(k == 0, gate, (1 - gate) * pois.pmf(k) / pois.sf(0))
    for d in (
        dist.HurdlePoisson(gate, rate),
        dist.HurdleDistribution(dist.Poisson(rate), gate=gate),
        dist.HurdleDistribution(dist.Poisson(rate), gate_logits=sp.logit(gate)),
    ):
        np.testing.assert_allclose(np.exp(d.log_prob(k)), expected, rtol=1e-5, atol=1e-9)
    mu, c = 3.0, 2.0
    nb = stats.nbinom(c, c / (c + mu))
    expected = np.where(k == 0, gate, (1 - gate) * nb.pmf(k) / nb.sf(0))
    d = dist.HurdleNegativeBinomial2(gate, mu, c)
    pmf = np.exp(np.asarray(d.log_prob(k), np.float64))
    np.testing.assert_allclose(pmf, expected, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(pmf.sum(), 1.0, rtol=1e-5)
    mean = (k * pmf).sum()
    np.testing.assert_allclose(d.mean, mean, rtol=1e-4)
    np.testing.assert_allclose(d.variance, (k**2 * pmf).sum() - mean**2, rtol=1e-4)


def test_continuous_hurdles():
    x = np.array([0.0, 0.3, 1.0, 2.5, 7.0], np.float32)
    gate = 0.25
    d = dist.HurdleGamma(gate, 2.0, 1.5)
    expected = np.where(
        x == 0, np.log(gate), np.log1p(-gate) + stats.gamma.logpdf(x, 2.0, scale=1 / 1.5)
    )
    np.testing.assert_allclose(d.log_prob(x), expected, rtol=1e-5)
    d = dist.HurdleLogNormal(gate, 0.3, 0.8)
    expected = np.where(
        x == 0, np.log(gate), np.log1p(-gate) + stats.lognorm.logpdf(x, 0.8, scale=np.exp(0.3))
    )
    np.testing.assert_allclose(d.log_prob(x), expected, rtol=1e-5)
    assert bool(d.support(0.0)) and not bool(d.support(-1.0))


@pytest.mark.parametrize(
    "d, mean, var",
    [
        (dist.ZeroInflatedPoisson(0.3, 2.5), 0.7 * 2.5, 0.7 * 2.5 * (1 + 0.3 * 2.5)),
        (
            dist.ZeroInflatedNegativeBinomial2(4.0, 1.5, gate=0.2),
            0.8 * 4.0,
            0.8 * 4.0 * (1 + 4.0 / 1.5 + 0.2 * 4.0),
        ),
        (dist.HurdlePoisson(0.4, 1.7), None, None),
        (dist.HurdleGamma(0.25, 2.0, 1.5), 0.75 * 2.0 / 1.5, None),
    ],
)
def test_zero_inflated_hurdle_moments_and_samples(d, mean, var):
    if isinstance(d, dist.HurdleProbs) and d._is_discrete:
        # Truth by summing the pmf.
        k = np.arange(0, 300)
        pmf = np.exp(np.asarray(d.log_prob(k), np.float64))
        mean = (k * pmf).sum()
        var = (k**2 * pmf).sum() - mean**2
    if var is None:  # HurdleGamma: E X^2 = (1 - g)(a(a + 1) / b^2)
        var = 0.75 * 2.0 * 3.0 / 1.5**2 - mean**2
    np.testing.assert_allclose(d.mean, mean, rtol=1e-4)
    np.testing.assert_allclose(d.variance, var, rtol=1e-4)
    samples = d.sample(jax.random.PRNGKey(11), (20000,))
    assert bool(jnp.all(d.support(samples)))
    _check_sample_moments(samples, mean, var)
    if isinstance(d, dist.HurdleProbs):
        # Every zero of a hurdle model is structural: P(X = 0) = gate.
        zero_fraction = float(jnp.mean(samples == 0))
        assert abs(zero_fraction - d.gate) < 5 * np.sqrt(d.gate * (1 - d.gate) / 20000)


# -- KL divergences -----------------------------------------------------------------------


def test_kl_bernoulli():
    p, q = np.array([0.1, 0.5, 0.9]), np.array([0.3, 0.2, 0.6])
    expected = p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
    for dp in (dist.Bernoulli(probs=p), dist.Bernoulli(logits=sp.logit(p))):
        for dq in (dist.Bernoulli(probs=q), dist.Bernoulli(logits=sp.logit(q))):
            np.testing.assert_allclose(kl_divergence(dp, dq), expected, rtol=1e-4, atol=1e-6)


def test_kl_categorical():
    p = np.array([[0.2, 0.0, 0.8], [0.3, 0.3, 0.4]])
    q = np.array([[0.1, 0.5, 0.4], [0.6, 0.2, 0.2]])
    expected = [stats.entropy(p[i], q[i]) for i in range(2)]
    for dp in (dist.Categorical(probs=p), dist.Categorical(logits=np.log(p + 1e-30))):
        for dq in (dist.Categorical(probs=q), dist.Categorical(logits=np.log(q))):
            np.testing.assert_allclose(kl_divergence(dp, dq), expected, rtol=1e-4, atol=1e-6)


def test_kl_poisson():
    rp, rq = np.array([0.5, 3.0, 0.0]), np.array([2.0, 1.0, 1.5])
    k = np.arange(200)
    expected = []
    for a, b in zip(rp, rq, strict=True):
        pmf = stats.poisson.pmf(k, a)
        with np.errstate(invalid="ignore"):
            terms = pmf * (stats.poisson.logpmf(k, a) - stats.poisson.logpmf(k, b))
        expected.append(np.sum(np.where(pmf > 0, terms, 0.0)))
    np.testing.assert_allclose(
        kl_divergence(dist.Poisson(rp), dist.Poisson(rq)), expected, rtol=1e-4, atol=1e-6
    )


# -- validation, factories, gradients, pytrees ------------------------------------------------


@pytest.mark.parametrize(
    "make, param, constraint",
    [
        (lambda: dist.BernoulliProbs(1.5), "probs", "unit_interval"),
        (lambda: dist.Binomial(2.5, probs=0.3), "total_count", "nonnegative_integer"),
        (lambda: dist.Categorical(probs=jnp.array([0.5, 0.7])), "probs", "simplex"),
        (lambda: dist.Poisson(-1.0), "rate", "nonnegative"),
        (lambda: dist.GammaPoisson(2.0, -1.0), "rate", "positive"),
        (lambda: dist.NegativeBinomial2(-1.0, 2.0), "mean", "nonnegative"),
        (lambda: dist.ZeroInflatedPoisson(1.2, 2.0), "gate", "unit_interval"),
        (lambda: dist.HurdleGamma(0.2, -2.0), "concentration", "positive"),
        (lambda: dist.OrderedLogistic(0.0, jnp.array([1.0, 0.0])), "cutpoints", "ordered_vector"),
    ],
)
def test_invalid_parameters_name_parameter_and_constraint(make, param, constraint):
    with pytest.raises(ValueError, match=rf"{param}.*{constraint}"):
        make()


def test_infinite_logits_are_allowed_without_validation():
    lp = dist.Bernoulli(logits=jnp.array([jnp.inf, -jnp.inf, jnp.inf])).log_prob(
        jnp.array([1.0, 0.0, 0.0])
    )
    np.testing.assert_array_equal(lp, [0.0, 0.0, -np.inf])
    np.testing.assert_allclose(dist.Binomial(3, logits=jnp.inf).log_prob(3.0), 0.0, atol=1e-6)
    d = dist.Categorical(logits=jnp.array([0.0, -jnp.inf, 1.0]))
    np.testing.assert_allclose(
        d.log_prob(jnp.array([0, 1, 2])), [-np.log1p(np.e), -np.inf, 1 - np.log1p(np.e)], rtol=1e-6
    )
    np.testing.assert_allclose(d.entropy(), stats.entropy(sp.softmax([0.0, 1.0])), rtol=1e-6)
    with pytest.raises(ValueError, match=r"logits.*real_vector"):
        dist.Categorical(logits=jnp.array([0.0, -jnp.inf]), validate_args=True)


def test_factories_need_exactly_one_parametrization():
    for factory in (dist.Bernoulli, dist.Categorical, dist.Geometric):
        with pytest.raises(ValueError, match=r"probs.*logits"):
            factory()
        with pytest.raises(ValueError, match=r"probs.*logits"):
            factory(probs=jnp.array([0.5, 0.5]), logits=jnp.zeros(2))
    with pytest.raises(ValueError, match="gate"):
        dist.ZeroInflatedDistribution(dist.Poisson(1.0))
    with pytest.raises(ValueError, match=r"probs.*logits"):
        dist.NegativeBinomial(2.0)
    assert isinstance(dist.Binomial(3, logits=0.0), dist.BinomialLogits)
    assert isinstance(dist.Multinomial(3, probs=jnp.ones(2) / 2), dist.MultinomialProbs)


def test_out_of_support_values_get_minus_inf_under_validation():
    d = dist.Poisson(2.0, validate_args=True)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        lp = d.log_prob(jnp.array([1.0, 1.5, -1.0]))
    assert np.isfinite(lp[0]) and np.all(np.isneginf(lp[1:]))
    with pytest.raises(ValueError, match="discrete"):
        dist.ZeroInflatedProbs(dist.HurdleGamma(0.1, 1.0).base_dist, 0.2)


def test_gradients_are_finite():
    x = jnp.array([0.0, 1.0, 3.0, 7.0])

    def total(params):
        a, b, g = params
        return sum(
            jnp.sum(d.log_prob(x))
            for d in (
                dist.Binomial(10, logits=a),
                dist.NegativeBinomial2(jnp.exp(a), jnp.exp(b)),
                dist.NegativeBinomial(jnp.exp(b), logits=a),
                dist.BetaBinomial(jnp.exp(a), jnp.exp(b), 10),
                dist.ZeroInflatedPoisson(jax.nn.sigmoid(g), jnp.exp(a)),
                dist.HurdleDistribution(dist.Poisson(jnp.exp(b)), gate_logits=g),
                dist.HurdleGamma(jax.nn.sigmoid(g), jnp.exp(a), jnp.exp(b)),
                dist.Geometric(logits=a),
            )
        )

    grads = jax.jit(jax.grad(total))((0.3, -0.2, 0.1))
    assert all(np.isfinite(g) for g in grads)
    # Spot-check one gradient against a central finite difference.
    f = jax.jit(lambda a: total((a, -0.2, 0.1)))
    fd = (f(0.3 + 1e-3) - f(0.3 - 1e-3)) / 2e-3
    np.testing.assert_allclose(grads[0], fd, rtol=2e-2)


def test_distributions_are_pytrees_under_jit_and_vmap():
    x = jnp.array([0, 2, 5])
    for d in (
        dist.NegativeBinomial2(jnp.array([1.0, 2.0, 3.0]), 2.0),
        dist.HurdlePoisson(0.2, jnp.array([1.0, 2.0, 3.0])),
        dist.Multinomial(5, probs=jnp.ones((3, 2)) / 2),
    ):
        value = x if d.event_shape == () else jnp.array([[5, 0], [2, 3], [0, 5]])
        np.testing.assert_allclose(
            jax.jit(lambda d, v: d.log_prob(v))(d, value), d.log_prob(value), rtol=1e-6
        )
    rates = jnp.array([1.0, 2.0])
    out = jax.vmap(lambda r: dist.Poisson(r).log_prob(3.0))(rates)
    np.testing.assert_allclose(out, stats.poisson.logpmf(3, [1.0, 2.0]), rtol=1e-5)


def test_bernoulli_logits_gradient_at_zero():
    # d/dx log sigmoid(x) = 1 - sigmoid(x) = 0.5 at x = 0 (a max(x, 0) kink got this wrong)
    grad = jax.grad(lambda x: dist.Bernoulli(logits=x).log_prob(1.0))(0.0)
    np.testing.assert_allclose(grad, 0.5, rtol=1e-6)
    grad = jax.grad(lambda x: dist.Bernoulli(logits=x).log_prob(0.0))(0.0)
    np.testing.assert_allclose(grad, -0.5, rtol=1e-6)


@pytest.mark.parametrize("cls", ["ZeroInflatedLogits", "HurdleLogits"])
def test_gate_logits_distributions_pass_through_jit(cls):
    d = getattr(dist, cls)(dist.Poisson(2.0), jnp.array([0.3, -1.0]))
    value = jnp.array([0.0, 3.0])
    jitted = jax.jit(lambda d, v: d.log_prob(v))(d, value)
    np.testing.assert_allclose(jitted, d.log_prob(value), rtol=1e-6)
    # a structural zero has probability sigmoid(gate_logits) at least
    assert float(jnp.exp(d.log_prob(0.0))[0]) >= float(jax.nn.sigmoid(0.3))


def test_binomial_logits_log_prob_at_extreme_logits_float32():
    logits = np.float32([-80.0, -30.0, -5.0, 0.0, 5.0, 30.0, 80.0])
    n = 20
    k = np.arange(n + 1, dtype=np.float32)[:, None]
    log_prob = jax.jit(lambda l, k: dist.BinomialLogits(l, n).log_prob(k))
    lp = log_prob(jnp.asarray(logits), k)
    assert lp.dtype == jnp.float32
    # float64 truth that never forms 1 - p near 1: P(k; n, p) = P(n - k; n, 1 - p), and
    # 1 - sigmoid(l) = sigmoid(-l) is accurate.
    l64 = logits.astype(np.float64)
    ref = np.where(
        l64 <= 0,
        stats.binom.logpmf(k, n, sp.expit(l64)),
        stats.binom.logpmf(n - k, n, sp.expit(-l64)),
    )
    np.testing.assert_allclose(lp, ref, rtol=2e-6, atol=2e-5)
    # d/dl log P(k) = k - n sigmoid(l), exact in the tails too
    grad = jax.jit(jax.vmap(jax.vmap(jax.grad(log_prob), (None, 0)), (0, None)))
    g = grad(jnp.asarray(logits), jnp.float32([0.0, 7.0, 20.0]))
    np.testing.assert_allclose(g, np.float32([0, 7, 20]) - n * sp.expit(l64)[:, None], atol=1e-4)
