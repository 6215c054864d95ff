"""kl_divergence: closed forms against Monte Carlo estimates, and the dispatch machinery."""

from __future__ import annotations

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ppl.distributions as dist
from ppl import transforms
from ppl.distributions import kl
from ppl.plugins import hookimpl, registry

N = 20_000


def _tril(a, b, c):
    return jnp.array([[[a[i], 0.0], [b[i], c[i]]] for i in range(len(a))])


PAIRS = {
    "Normal": (dist.Normal(jnp.array([0.0, 1.0]), jnp.array([1.0, 0.5])), dist.Normal(0.5, 2.0)),
    "Laplace": (dist.Laplace(jnp.array([0.0, 1.0]), jnp.array([1.0, 0.5])), dist.Laplace(0.5, 2.0)),
    "Exponential": (dist.Exponential(jnp.array([0.5, 3.0])), dist.Exponential(1.5)),
    "Gamma": (dist.Gamma(jnp.array([2.0, 5.0]), jnp.array([1.0, 3.0])), dist.Gamma(3.0, 2.0)),
    "Beta": (dist.Beta(jnp.array([2.0, 0.7]), jnp.array([3.0, 1.5])), dist.Beta(1.5, 1.5)),
    "Dirichlet": (
        dist.Dirichlet(jnp.array([[1.0, 2.0, 3.0], [0.8, 0.8, 4.0]])),
        dist.Dirichlet(jnp.array([2.0, 2.0, 2.0])),
    ),
    "MultivariateNormal": (
        dist.MultivariateNormal(
            jnp.array([[0.0, 1.0], [1.0, -1.0]]),
            scale_tril=_tril([1.0, 0.5], [0.3, -0.2], [0.8, 1.2]),
        ),
        dist.MultivariateNormal(
            jnp.zeros(2), covariance_matrix=jnp.array([[2.0, 0.5], [0.5, 1.0]])
        ),
    ),
    "LowRank-MVN": (
        dist.LowRankMultivariateNormal(
            jnp.array([0.5, 0.0]), jnp.array([[1.0], [0.5]]), jnp.ones(2)
        ),
        dist.MultivariateNormal(
            jnp.zeros(2), covariance_matrix=jnp.array([[2.0, 0.5], [0.5, 1.0]])
        ),
    ),
    "MVN-LowRank": (
        dist.MultivariateNormal(
            jnp.zeros(2), covariance_matrix=jnp.array([[2.0, 0.5], [0.5, 1.0]])
        ),
        dist.LowRankMultivariateNormal(
            jnp.array([0.5, 0.0]), jnp.array([[1.0], [0.5]]), jnp.ones(2)
        ),
    ),
    "Independent": (
        dist.Normal(jnp.zeros((2, 3)), 1.0).to_event(1),
        dist.Normal(jnp.ones((2, 3)), 2.0).to_event(1),
    ),
    "Expanded": (dist.Normal(0.0, 1.0).expand((2,)), dist.Normal(1.0, 2.0).expand((2,))),
    "Expanded-Normal": (
        dist.Normal(0.0, 1.0).expand((2,)),
        dist.Normal(jnp.array([1.0, 0.0]), 2.0),
    ),
    "Normal-Expanded": (
        dist.Normal(jnp.array([1.0, 0.0]), 2.0),
        dist.Normal(0.0, 1.0).expand((2,)),
    ),
    "LogNormal": (dist.LogNormal(jnp.array([0.0, 1.0]), 0.5), dist.LogNormal(0.3, 1.0)),
    "LowRank-LowRank": (
        dist.LowRankMultivariateNormal(jnp.zeros(2), jnp.array([[1.0], [0.5]]), jnp.ones(2)),
        dist.LowRankMultivariateNormal(
            jnp.array([0.5, -1.0]), jnp.array([[0.3], [-0.5]]), jnp.array([2.0, 0.7])
        ),
    ),
    "Weibull-Gamma": (
        dist.Weibull(jnp.array([1.0, 2.0]), jnp.array([0.7, 2.5])),
        dist.Gamma(2.0, 1.5),
    ),
    # b = 0.4: the E[log(1 - X)] term has its hardest endpoint singularity there
    "Kumaraswamy-Beta": (
        dist.Kumaraswamy(jnp.array([2.0, 0.5]), jnp.array([3.0, 0.4])),
        dist.Beta(1.5, 0.7),
    ),
    "Diagonal-Circulant-even": (
        dist.Normal(
            jnp.array([[0.0, 1.0, 0.5, -1.0], [0.3, 0.3, 0.3, 0.3]]),
            jnp.array([1.0, 0.5, 2.0, 1.0]),
        ).to_event(1),
        dist.CirculantNormal(jnp.array([0.2, 0.0, -0.3, 1.0]), jnp.array([1.5, 0.4, 0.1, 0.4])),
    ),
    "Diagonal-Circulant-odd": (
        dist.Normal(jnp.zeros(5), jnp.array([1.0, 0.5, 2.0, 1.0, 0.7])).to_event(1),
        dist.CirculantNormal(jnp.zeros(5), jnp.array([1.5, 0.4, 0.1, 0.1, 0.4])),
    ),
    "Transformed": (
        dist.TransformedDistribution(
            dist.Normal(jnp.zeros(3), 1.0), transforms.StickBreakingTransform()
        ),
        dist.TransformedDistribution(
            dist.Normal(jnp.ones(3), 0.5), transforms.StickBreakingTransform()
        ),
    ),
}


def _draw(name, p):
    """Draws from p; scipy's samplers where they exist (cheaper than compiling JAX's)."""
    rng = np.random.default_rng(0)
    if name == "Gamma":
        return np.float32(rng.gamma(p.concentration, 1 / p.rate, size=(N, 2)))
    if name == "Beta":
        return np.float32(rng.beta(p.concentration1, p.concentration0, size=(N, 2)))
    if name == "Weibull-Gamma":
        return np.float32(rng.weibull(p.concentration, size=(N, 2)) * p.scale)
    if name == "Kumaraswamy-Beta":
        u = rng.uniform(size=(N, 2))
        a, b = np.asarray(p.concentration1), np.asarray(p.concentration0)
        x = np.float32((1 - (1 - u) ** (1 / b)) ** (1 / a))
        # as the sampler does: keep float32 draws off the end points
        return np.clip(x, np.finfo(np.float32).tiny, 1 - np.finfo(np.float32).eps)
    if name == "Dirichlet":
        alpha = np.asarray(p.concentration, np.float64)
        return np.float32(np.stack([rng.dirichlet(a, size=N) for a in alpha], 1))
    return p.sample(jax.random.key(0), (N,))


@pytest.mark.parametrize("name", list(PAIRS))
def test_kl_matches_monte_carlo(name):
    p, q = PAIRS[name]
    value = kl.kl_divergence(p, q)
    x = _draw(name, p)
    log_ratio = np.asarray(p.log_prob(x) - q.log_prob(x), np.float64)
    estimate = log_ratio.mean(0)
    stderr = log_ratio.std(0) / np.sqrt(N)
    assert value.shape == estimate.shape == jnp.broadcast_shapes(p.batch_shape, q.batch_shape)
    assert np.all(np.abs(value - estimate) < 6 * stderr + 1e-4)
    # KL(p || p) = 0 (for the pairs within one family)
    if name not in ("Weibull-Gamma", "Kumaraswamy-Beta"):
        np.testing.assert_allclose(kl.kl_divergence(p, p), 0.0, atol=2e-5)


def test_masked_and_delta_rules():
    mask = jnp.array([True, False])
    p = dist.Normal(jnp.zeros(2), 1.0).mask(mask)
    q = dist.Normal(jnp.ones(2), 2.0).mask(mask)
    full = dist.kl_divergence(p.base_dist, q.base_dist)
    np.testing.assert_allclose(dist.kl_divergence(p, q), jnp.where(mask, full, 0.0))
    np.testing.assert_array_equal(
        dist.kl_divergence(dist.Normal(jnp.zeros(2)).mask(False), q), [0.0, 0.0]
    )
    delta = dist.Delta(jnp.array([0.5, 1.0]))
    np.testing.assert_allclose(
        dist.kl_divergence(delta, dist.Normal(0.0, 1.0)), -dist.Normal().log_prob(delta.v)
    )


def test_kl_is_jittable_and_differentiable():
    def f(loc):
        return dist.kl_divergence(dist.Normal(loc, 1.0), dist.Normal(0.0, 1.0))

    np.testing.assert_allclose(jax.jit(f)(2.0), 2.0)
    np.testing.assert_allclose(jax.grad(f)(2.0), 2.0)


def test_missing_rules_raise_clear_errors():
    with pytest.raises(NotImplementedError, match="Normal and Gamma"):
        dist.kl_divergence(dist.Normal(), dist.Gamma(1.0))
    base = dist.Normal(jnp.zeros((2, 3)))
    with pytest.raises(NotImplementedError, match="reinterpreted_batch_ndims"):
        dist.kl_divergence(
            dist.Independent(base, 2), dist.Independent(dist.Independent(base, 1), 1)
        )
    with pytest.raises(NotImplementedError, match="equal transforms"):
        dist.kl_divergence(
            dist.LogNormal(0.0, 1.0),
            dist.TransformedDistribution(dist.Normal(), transforms.AffineTransform(0.0, 2.0)),
        )


class _MyNormal(dist.Normal):
    pass


class _Other(dist.Distribution):
    pass


def test_most_specific_rule_wins_and_registration_is_scoped():
    p, q = _MyNormal(0.0, 1.0), dist.Normal(1.0, 1.0)
    # a subclass inherits its base's rule ...
    np.testing.assert_allclose(dist.kl_divergence(p, q), 0.5)
    try:

        @dist.register_kl(_MyNormal, dist.Normal)
        def _special(p, q):
            return jnp.asarray(-1.0)

        # ... until a more specific one is registered
        assert dist.kl_divergence(p, q) == -1.0
        np.testing.assert_allclose(dist.kl_divergence(q, p), 0.5)
    finally:
        kl._RULES.pop((_MyNormal, dist.Normal))
        kl._CACHE.clear()
    np.testing.assert_allclose(dist.kl_divergence(p, q), 0.5)
    with pytest.raises(TypeError, match="two classes"):
        dist.register_kl("Normal", dist.Normal)


def test_plugin_rules_are_picked_up_and_dropped():
    plugin = types.ModuleType("kl_test_plugin")
    plugin.PPL_PLUGIN_API = 1

    @hookimpl
    def register_kl(register):
        register(_Other, _Other, lambda p, q: jnp.asarray(7.0))

    plugin.register_kl = register_kl
    other = _Other()
    with pytest.raises(NotImplementedError):
        dist.kl_divergence(other, other)
    assert registry.register_plugin(plugin, "kl-test-plugin")
    try:
        assert dist.kl_divergence(other, other) == 7.0
    finally:
        registry.unregister_plugin("kl-test-plugin")
    with pytest.raises(NotImplementedError):
        dist.kl_divergence(other, other)
