"""Finite mixtures against explicit log-sum-exps of scipy.stats component densities."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special as sp
from scipy import stats

import ppl.distributions as dist
from ppl import constraints

WEIGHTS = np.array([0.2, 0.5, 0.3], np.float32)
LOCS = np.array([-2.0, 0.5, 3.0], np.float32)
SCALES = np.array([0.7, 1.0, 1.5], np.float32)


def _normal_mixture_logpdf(x, weights, locs, scales):
    x = np.asarray(x)[..., None]
    return sp.logsumexp(np.log(weights) + stats.norm.logpdf(x, locs, scales), axis=-1)


@pytest.mark.parametrize("use_logits", [False, True])
def test_same_family_log_prob_cdf_and_moments(use_logits):
    mixing = (
        dist.Categorical(logits=np.log(WEIGHTS) + 1.3)
        if use_logits
        else dist.Categorical(probs=WEIGHTS)
    )
    mix = dist.Mixture(mixing, dist.Normal(LOCS, SCALES))
    assert isinstance(mix, dist.MixtureSameFamily)
    assert mix.batch_shape == () and mix.event_shape == () and mix.mixture_size == 3
    x = np.linspace(-5, 6, 23).astype(np.float32)
    np.testing.assert_allclose(
        mix.log_prob(x), _normal_mixture_logpdf(x, WEIGHTS, LOCS, SCALES), rtol=1e-5, atol=1e-6
    )
    cdf = (WEIGHTS * stats.norm.cdf(x[:, None], LOCS, SCALES)).sum(-1)
    np.testing.assert_allclose(mix.cdf(x), cdf, rtol=1e-5, atol=1e-6)
    mean = (WEIGHTS * LOCS).sum()
    var = (WEIGHTS * (SCALES**2 + LOCS**2)).sum() - mean**2
    np.testing.assert_allclose(mix.mean, mean, rtol=1e-5)
    np.testing.assert_allclose(mix.variance, var, rtol=1e-5)


def test_same_family_batched_mixing_and_components():
    rng = np.random.default_rng(0)
    weights = rng.dirichlet(np.ones(3), size=(2,)).astype(np.float32)  # batch (2,)
    locs = rng.normal(size=(4, 1, 3)).astype(np.float32)  # batch (4, 1, 3)
    mix = dist.MixtureSameFamily(dist.Categorical(probs=weights), dist.Normal(locs, SCALES))
    assert mix.batch_shape == (4, 2)
    x = rng.normal(size=(5, 4, 2)).astype(np.float32)
    expected = _normal_mixture_logpdf(x, weights, locs, SCALES)
    np.testing.assert_allclose(mix.log_prob(x), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mix.mean, (weights * locs).sum(-1), rtol=1e-5)


def test_same_family_samples_match_moments_and_indices():
    mix = dist.MixtureSameFamily(dist.Categorical(probs=WEIGHTS), dist.Normal(LOCS, SCALES))
    samples, (indices,) = mix.sample_with_intermediates(jax.random.PRNGKey(1), (20000,))
    samples, indices = np.asarray(samples), np.asarray(indices)
    assert samples.shape == indices.shape == (20000,)
    freq = (indices[:, None] == np.arange(3)).mean(0)
    assert np.all(np.abs(freq - WEIGHTS) < 5 * np.sqrt(WEIGHTS * (1 - WEIGHTS) / 20000))
    # Each draw comes from the component its index names.
    for k in range(3):
        chosen = samples[indices == k]
        se = SCALES[k] / np.sqrt(chosen.size)
        assert abs(chosen.mean() - LOCS[k]) < 5 * se
    mean, var = float(mix.mean), float(mix.variance)
    assert abs(samples.mean() - mean) < 5 * np.sqrt(var / samples.size)
    # Kolmogorov-Smirnov against the mixture cdf.
    ks = stats.kstest(samples[:4000], lambda t: np.asarray(mix.cdf(jnp.asarray(t, jnp.float32))))
    assert ks.pvalue > 1e-3


def test_same_family_multivariate_components():
    locs = np.array([[0.0, 1.0], [2.0, -1.0]], np.float32)
    components = dist.Normal(locs, 0.5).to_event(1)  # batch (2,), event (2,)
    mix = dist.MixtureSameFamily(dist.Categorical(probs=jnp.array([0.4, 0.6])), components)
    assert mix.batch_shape == () and mix.event_shape == (2,)
    x = np.array([[0.1, 0.8], [1.5, -0.5], [3.0, 3.0]], np.float32)
    comp = stats.norm.logpdf(x[:, None, :], locs, 0.5).sum(-1)
    expected = sp.logsumexp(np.log([0.4, 0.6]) + comp, axis=-1)
    np.testing.assert_allclose(mix.log_prob(x), expected, rtol=1e-5)
    np.testing.assert_allclose(mix.mean, 0.4 * locs[0] + 0.6 * locs[1], rtol=1e-5)
    assert mix.sample(jax.random.PRNGKey(0), (3,)).shape == (3, 2)


@pytest.mark.slow
def test_general_mixture_of_different_families():
    weights = np.array([0.3, 0.7], np.float32)
    mix = dist.Mixture(
        dist.Categorical(probs=weights), [dist.Normal(1.0, 2.0), dist.Logistic(-1.0, 0.5)]
    )
    assert isinstance(mix, dist.MixtureGeneral)
    x = np.linspace(-4, 5, 19).astype(np.float32)
    comps = np.stack([stats.norm.logpdf(x, 1.0, 2.0), stats.logistic.logpdf(x, -1.0, 0.5)], -1)
    np.testing.assert_allclose(
        mix.log_prob(x), sp.logsumexp(np.log(weights) + comps, axis=-1), rtol=1e-5
    )
    cdf = 0.3 * stats.norm.cdf(x, 1.0, 2.0) + 0.7 * stats.logistic.cdf(x, -1.0, 0.5)
    np.testing.assert_allclose(mix.cdf(x), cdf, rtol=1e-5, atol=1e-6)
    comp_means = np.array([1.0, -1.0])
    comp_vars = np.array([4.0, np.pi**2 * 0.25 / 3])
    mean = (weights * comp_means).sum()
    var = (weights * (comp_vars + comp_means**2)).sum() - mean**2
    np.testing.assert_allclose(mix.mean, mean, rtol=1e-5)
    np.testing.assert_allclose(mix.variance, var, rtol=1e-5)
    samples = np.asarray(mix.sample(jax.random.PRNGKey(2), (20000,)))
    assert abs(samples.mean() - mean) < 5 * np.sqrt(var / samples.size)


def test_general_discrete_mixture_with_explicit_support():
    weights = np.array([0.6, 0.4], np.float32)
    components = [dist.Poisson(3.0), dist.Binomial(4, probs=0.5)]
    with pytest.raises(ValueError, match="support"):
        dist.MixtureGeneral(dist.Categorical(probs=weights), components)
    mix = dist.MixtureGeneral(
        dist.Categorical(probs=weights), components, support=constraints.nonnegative_integer
    )
    assert mix.is_discrete
    k = np.arange(0, 12)
    pmf = 0.6 * stats.poisson.pmf(k, 3.0) + 0.4 * stats.binom.pmf(k, 4, 0.5)
    # Values beyond the binomial's support get mass from the Poisson only.
    np.testing.assert_allclose(np.exp(mix.log_prob(k)), pmf, rtol=1e-5)
    np.testing.assert_allclose(mix.mean, 0.6 * 3.0 + 0.4 * 2.0, rtol=1e-6)


def test_mixture_errors_name_the_argument():
    normal = dist.Normal(LOCS, SCALES)
    with pytest.raises(ValueError, match="mixing_distribution"):
        dist.MixtureSameFamily(dist.Normal(0.0, 1.0), normal)
    with pytest.raises(ValueError, match="mixture size"):
        dist.MixtureSameFamily(dist.Categorical(probs=jnp.ones(2) / 2), normal)
    with pytest.raises(ValueError, match="expected 3"):
        dist.MixtureGeneral(dist.Categorical(probs=WEIGHTS), [dist.Normal(0.0, 1.0)])
    with pytest.raises(ValueError, match="event shape"):
        dist.MixtureGeneral(
            dist.Categorical(probs=jnp.ones(2) / 2),
            [dist.Normal(0.0, 1.0), dist.Normal(jnp.zeros(2), 1.0).to_event(1)],
            support=constraints.real,
        )


def test_mixture_gradients_are_finite_and_jittable():
    x = jnp.array([-1.0, 0.0, 2.5])

    def loss(logits, locs):
        mix = dist.MixtureSameFamily(dist.Categorical(logits=logits), dist.Normal(locs, SCALES))
        return mix.log_prob(x).sum()

    logits, locs = jnp.log(jnp.asarray(WEIGHTS)), jnp.asarray(LOCS)
    g_logits, g_locs = jax.jit(jax.grad(loss, argnums=(0, 1)))(logits, locs)
    assert np.all(np.isfinite(g_logits)) and np.all(np.isfinite(g_locs))
    # d/d loc_k of sum_x log p(x) = sum_x r_k(x) (x - loc_k) / scale_k^2 (responsibilities r).
    log_r = np.log(WEIGHTS) + stats.norm.logpdf(np.asarray(x)[:, None], LOCS, SCALES)
    r = np.exp(log_r - sp.logsumexp(log_r, axis=-1, keepdims=True))
    expected = (r * (np.asarray(x)[:, None] - LOCS) / SCALES**2).sum(0)
    np.testing.assert_allclose(g_locs, expected, rtol=1e-4, atol=1e-6)
    mix = dist.MixtureSameFamily(dist.Categorical(logits=logits), dist.Normal(locs, SCALES))
    np.testing.assert_allclose(jax.jit(lambda d: d.log_prob(x))(mix), mix.log_prob(x), rtol=1e-6)
