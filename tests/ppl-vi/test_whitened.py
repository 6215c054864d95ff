"""The AutoMultivariateNormal posterior scores its own draws from their white noise: same
draws, same density (scipy) and same gradients as the triangular-solve density."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import ppl
import ppl.distributions as dist
from ppl.handlers import seed, trace
from ppl.infer.util import site_log_prob
from ppl.transforms import biject_to
from ppl.vi import AutoMultivariateNormal, Trace_ELBO
from ppl.vi.autoguide._whitened import WhitenedMultivariateNormal

LOC = jnp.array([0.3, -1.0, 2.0])
SCALE_TRIL = jnp.array([[0.7, 0.0, 0.0], [0.4, 1.3, 0.0], [-0.2, 0.5, 0.6]])
KEY = jax.random.PRNGKey(3)


def test_draws_and_density_match_multivariate_normal():
    q = WhitenedMultivariateNormal(LOC, scale_tril=SCALE_TRIL)
    value, intermediates = q.sample_with_intermediates(KEY, (4,))
    reference = dist.MultivariateNormal(LOC, scale_tril=SCALE_TRIL)
    np.testing.assert_allclose(value, reference.sample(KEY, (4,)), rtol=1e-6)
    np.testing.assert_allclose(q.sample(KEY, (4,)), value)
    truth = stats.multivariate_normal(np.asarray(LOC), np.asarray(SCALE_TRIL @ SCALE_TRIL.T))
    expected = truth.logpdf(np.asarray(value))
    np.testing.assert_allclose(q.log_prob(value, intermediates), expected, rtol=1e-5)
    # A value from outside (no intermediates) is scored by the solve.
    np.testing.assert_allclose(q.log_prob(value), expected, rtol=1e-5)


def test_gradient_of_own_draw_density_matches_solve():
    transform = biject_to(ppl.constraints.scaled_unit_lower_cholesky)
    raw = transform.inv(SCALE_TRIL)

    def log_q(params, with_intermediates):
        q = WhitenedMultivariateNormal(params["loc"], scale_tril=transform(params["raw"]))
        value, intermediates = q.sample_with_intermediates(KEY, (2,))
        log_prob = q.log_prob(value, intermediates) if with_intermediates else q.log_prob(value)
        # A downstream use of the draw, so that the path derivative matters too.
        return jnp.sum(log_prob) + jnp.sum(jnp.sin(value))

    params = {"loc": LOC, "raw": raw}
    fast = jax.jit(jax.grad(log_q), static_argnums=1)(params, True)
    slow = jax.jit(jax.grad(log_q), static_argnums=1)(params, False)
    for name in params:
        np.testing.assert_allclose(fast[name], slow[name], rtol=1e-4, atol=1e-5)


def _model():
    x = ppl.sample("x", dist.Normal(jnp.zeros(2), 1.0).to_event(1))
    ppl.sample("s", dist.HalfNormal(1.0))
    ppl.sample("obs", dist.Normal(x.sum(), 0.5), obs=1.0)


@pytest.mark.slow
def test_guide_latent_site_carries_noise_and_same_elbo_gradient():
    guide = AutoMultivariateNormal(_model)
    seed(guide, rng_seed=0)()
    site = trace(seed(guide, rng_seed=1)).get_trace()["_auto_latent"]
    assert len(site["intermediates"]) == 1
    plain = dist.MultivariateNormal(site["fn"].loc, scale_tril=site["fn"].scale_tril)
    np.testing.assert_allclose(site_log_prob(site), plain.log_prob(site["value"]), rtol=1e-5)

    transform = biject_to(ppl.constraints.scaled_unit_lower_cholesky)
    unconstrained = {
        "loc": jnp.array([0.2, -0.4, 0.1]),
        "raw": transform.inv(jnp.array([[0.5, 0.0, 0.0], [0.3, 0.8, 0.0], [0.1, -0.2, 0.4]])),
    }
    elbo = Trace_ELBO()
    key = jax.random.PRNGKey(5)

    def loss(u):
        # SVI differentiates through the constraining transform, as here.
        params = {"auto_loc": u["loc"], "auto_scale_tril": transform(u["raw"])}
        return elbo.loss(key, params, _model, guide)

    fast = jax.jit(jax.grad(loss))(unconstrained)
    original = guide._get_posterior

    def plain_posterior():
        # The same params, scored by the plain multivariate Normal (the solve).
        q = original()
        return dist.MultivariateNormal(q.loc, scale_tril=q.scale_tril)

    guide._get_posterior = plain_posterior
    try:
        slow = jax.jit(jax.grad(loss))(unconstrained)
    finally:
        guide._get_posterior = original
    for name in unconstrained:
        np.testing.assert_allclose(fast[name], slow[name], rtol=1e-4, atol=1e-5)
