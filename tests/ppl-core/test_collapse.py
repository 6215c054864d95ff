import types

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import ppl
from ppl import handlers
from ppl.infer.util import log_density
from ppl.plugins import hookimpl, registry


@pytest.fixture
def normal_normal_rule(dist):
    """A Normal prior on the loc of one Normal observation: y ~ N(m, sqrt(s^2 + sigma^2))."""

    def rule(prior, likelihood_cls, params, latent_param, value):
        if latent_param != "loc":
            return None
        scale = jnp.sqrt(prior.scale**2 + params["scale"] ** 2)
        return jnp.sum(dist.Normal(prior.loc, scale).log_prob(value))

    plugin = types.ModuleType("conjugacy_plugin")
    plugin.PPL_PLUGIN_API = 1

    @hookimpl
    def register_conjugacy(register):
        register(dist.Normal, dist.Normal, rule)

    plugin.register_conjugacy = register_conjugacy
    assert registry.register_plugin(plugin, "test-conjugacy")
    yield rule
    registry.unregister_plugin("test-conjugacy")


def test_collapse_replaces_latent_and_observation_by_marginal(dist, normal_normal_rule):
    def model():
        with handlers.collapse():
            mu = ppl.sample("mu", dist.Normal(1.0, 2.0))
            ppl.sample("y", dist.Normal(mu, 0.5), obs=jnp.array(0.3))

    lp, tr = log_density(model, (), {}, {})
    assert list(tr) == ["mu"] and tr["mu"]["is_observed"]
    np.testing.assert_allclose(lp, stats.norm.logpdf(0.3, 1.0, np.sqrt(4.25)), rtol=1e-6)


def test_collapse_refuses_arithmetic_on_the_latent(dist, normal_normal_rule):
    def model():
        with handlers.collapse():
            mu = ppl.sample("mu", dist.Normal(1.0, 2.0))
            ppl.sample("y", dist.Normal(2 * mu, 0.5), obs=0.3)

    with pytest.raises(TypeError, match="'mu' is being collapsed"):
        handlers.trace(model).get_trace()


def test_collapse_without_rule_says_so(dist):
    def model():
        with handlers.collapse():
            rate = ppl.sample("rate", dist.Exponential(1.0))
            ppl.sample("y", dist.Normal(rate, 0.5), obs=0.3)

    with pytest.raises(NotImplementedError, match=r"no conjugacy rule.*register_conjugacy"):
        handlers.trace(model).get_trace()


def test_collapse_needs_observations(dist, normal_normal_rule):
    def model():
        with handlers.collapse():
            mu = ppl.sample("mu", dist.Normal(1.0, 2.0))
            ppl.sample("y", dist.Normal(mu, 0.5))

    with pytest.raises(ValueError, match="not observed"):
        handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
