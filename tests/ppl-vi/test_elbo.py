"""The ELBO estimators against closed forms and hand computations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import logsumexp
from scipy import stats

import ppl
import ppl.distributions as dist
from ppl.handlers import seed, trace
from ppl.vi import ELBO, RenyiELBO, Trace_ELBO, TraceMeanField_ELBO

PARAMS = {"loc": jnp.array(0.3), "scale": jnp.array(0.7)}


def exact_elbo(data, loc, scale, prior_scale):
    """E_q[log p(x | mu)] - KL(q || prior) for the conjugate normal model."""
    n = len(data)
    expected_loglik = -0.5 * n * np.log(2 * np.pi) - 0.5 * np.sum((data - loc) ** 2 + scale**2)
    kl = np.log(prior_scale / scale) + (scale**2 + loc**2) / (2 * prior_scale**2) - 0.5
    return expected_loglik - kl


def test_trace_elbo_estimates_the_exact_elbo(conjugate):
    model, guide, data = conjugate
    loss = Trace_ELBO(num_particles=20000).loss(jax.random.PRNGKey(0), PARAMS, model, guide, data)
    expected = -exact_elbo(np.asarray(data), 0.3, 0.7, 2.0)
    # The per-particle ELBO has sd ~ sqrt(n) * 0.7 * |data - loc|, so the mean is within 0.05.
    assert float(loss) == pytest.approx(expected, abs=0.05)


def test_single_particle_is_log_p_minus_log_q(conjugate):
    model, guide, data = conjugate
    key = jax.random.PRNGKey(3)
    loss = Trace_ELBO().loss(key, PARAMS, model, guide, data)
    # The guide's draw, recovered from its trace with the key the estimator gives it.
    _, guide_key = jax.random.split(key)
    mu = trace(seed(guide, guide_key)).get_trace(data)["mu"]["value"]
    log_p = stats.norm.logpdf(mu, 0, 2.0) + stats.norm.logpdf(np.asarray(data), mu, 1.0).sum()
    log_q = stats.norm.logpdf(mu, 0.3, 0.7)
    assert float(loss) == pytest.approx(-(log_p - log_q), rel=1e-5)


def test_vectorized_particles_equal_looped(conjugate):
    model, guide, data = conjugate
    key = jax.random.PRNGKey(1)

    def value_and_grad(elbo):
        return jax.jit(jax.value_and_grad(lambda p: elbo.loss(key, p, model, guide, data)))(PARAMS)

    v1, g1 = value_and_grad(Trace_ELBO(num_particles=7))
    v2, g2 = value_and_grad(Trace_ELBO(num_particles=7, vectorize_particles=False))
    v3, g3 = value_and_grad(
        Trace_ELBO(num_particles=7, vectorize_particles=lambda fn, keys: jax.vmap(fn)(keys))
    )
    np.testing.assert_allclose(v1, v2, rtol=1e-6)
    np.testing.assert_allclose(v1, v3, rtol=1e-6)
    for name in PARAMS:
        np.testing.assert_allclose(g1[name], g2[name], rtol=1e-5)
        np.testing.assert_allclose(g1[name], g3[name], rtol=1e-5)


def test_sum_sites_false_gives_per_site_terms(conjugate):
    model, guide, data = conjugate
    key = jax.random.PRNGKey(2)
    terms = Trace_ELBO(sum_sites=False).loss(key, PARAMS, model, guide, data)
    assert set(terms) == {"mu", "obs"}
    total = Trace_ELBO().loss(key, PARAMS, model, guide, data)
    assert float(terms["mu"] + terms["obs"]) == pytest.approx(float(total), rel=1e-6)


def test_mean_field_analytic_kl_equals_mc_in_expectation(conjugate):
    model, guide, data = conjugate
    key = jax.random.PRNGKey(4)
    analytic = TraceMeanField_ELBO(num_particles=4000).loss(key, PARAMS, model, guide, data)
    mc = Trace_ELBO(num_particles=4000).loss(key, PARAMS, model, guide, data)
    expected = -exact_elbo(np.asarray(data), 0.3, 0.7, 2.0)
    assert float(analytic) == pytest.approx(expected, abs=0.1)
    assert float(mc) == pytest.approx(expected, abs=0.1)
    # The KL term itself is exact: per site, -KL equals the mean of log p - log q.
    terms = TraceMeanField_ELBO(sum_sites=False).loss(key, PARAMS, model, guide, data)
    kl = np.log(2.0 / 0.7) + (0.7**2 + 0.3**2) / 8.0 - 0.5
    assert float(terms["mu"]) == pytest.approx(kl, rel=1e-5)
    mc_terms = Trace_ELBO(num_particles=20000, sum_sites=False).loss(
        key, PARAMS, model, guide, data
    )
    assert float(mc_terms["mu"]) == pytest.approx(kl, abs=0.02)


def test_mean_field_falls_back_to_monte_carlo():
    def model():
        ppl.sample("x", dist.Gamma(2.0, 1.0))

    def guide():
        ppl.sample("x", dist.LogNormal(ppl.param("m", 0.1), 0.5))

    key = jax.random.PRNGKey(0)
    params = {"m": jnp.array(0.1)}
    mean_field = TraceMeanField_ELBO().loss(key, params, model, guide)
    assert float(mean_field) == pytest.approx(float(Trace_ELBO().loss(key, params, model, guide)))


def test_mean_field_respects_plate_scale():
    data = jnp.arange(4.0)

    def model():
        with ppl.plate("N", 8, subsample_size=4) as idx:
            z = ppl.sample("z", dist.Normal(0.0, 1.0))
            ppl.sample("x", dist.Normal(z, 1.0), obs=data[idx - idx])

    def guide():
        with ppl.plate("N", 8, subsample_size=4):
            ppl.sample("z", dist.Normal(0.5, 2.0))

    terms = TraceMeanField_ELBO(sum_sites=False).loss(jax.random.PRNGKey(0), {}, model, guide)
    kl = np.log(1 / 2.0) + (4.0 + 0.25) / 2 - 0.5
    # four subsampled entries, each scaled by 8 / 4
    assert float(terms["z"]) == pytest.approx(8 * kl, rel=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 0.5, -1.0])
def test_renyi_elbo_equals_the_bound_by_hand(conjugate, alpha):
    model, guide, data = conjugate
    key = jax.random.PRNGKey(5)
    num_particles = 6
    loss = RenyiELBO(alpha=alpha, num_particles=num_particles).loss(key, PARAMS, model, guide, data)
    # The particles' guide keys, as the estimator derives them.
    _, particle_key = jax.random.split(key)
    keys = jax.random.split(particle_key, num_particles)
    mus = np.array(
        [
            float(trace(seed(guide, jax.random.split(k)[1])).get_trace(data)["mu"]["value"])
            for k in keys
        ]
    )
    log_w = (
        stats.norm.logpdf(mus, 0, 2.0)
        + stats.norm.logpdf(np.asarray(data)[None, :], mus[:, None], 1.0).sum(-1)
        - stats.norm.logpdf(mus, 0.3, 0.7)
    )
    bound = (logsumexp((1 - alpha) * log_w) - np.log(num_particles)) / (1 - alpha)
    assert float(loss) == pytest.approx(-float(bound), rel=1e-5)


def test_renyi_gradient_is_the_gradient_of_the_bound(conjugate):
    model, guide, data = conjugate
    key = jax.random.PRNGKey(6)
    alpha, num_particles = 0.3, 5
    _, particle_key = jax.random.split(key)
    keys = jax.random.split(particle_key, num_particles)
    # Standard normal noise of each particle's reparameterized draw.
    eps = jnp.array(
        [
            (trace(seed(guide, jax.random.split(k)[1])).get_trace(data)["mu"]["value"] - 0.3) / 0.7
            for k in keys
        ]
    )

    def bound(p):
        mu = p["loc"] + p["scale"] * eps
        log_w = (
            dist.Normal(0, 2.0).log_prob(mu)
            + dist.Normal(mu[:, None], 1.0).log_prob(data).sum(-1)
            - dist.Normal(p["loc"], p["scale"]).log_prob(mu)
        )
        return (logsumexp((1 - alpha) * log_w) - jnp.log(num_particles)) / (1 - alpha)

    grad = jax.jit(
        jax.grad(
            lambda p: RenyiELBO(alpha=alpha, num_particles=num_particles).loss(
                key, p, model, guide, data
            )
        )
    )(PARAMS)
    expected = jax.jit(jax.grad(lambda p: -bound(p)))(PARAMS)
    for name in PARAMS:
        np.testing.assert_allclose(grad[name], expected[name], rtol=1e-4)


def test_bad_arguments(conjugate):
    with pytest.raises(ValueError, match="alpha must not be 1"):
        RenyiELBO(alpha=1)
    with pytest.raises(ValueError, match="num_particles"):
        Trace_ELBO(num_particles=0)
    with pytest.raises(TypeError, match="vectorize_particles"):
        Trace_ELBO(vectorize_particles="yes")
    with pytest.raises(NotImplementedError, match="loss_with_mutable_state"):
        ELBO().loss(jax.random.PRNGKey(0), {}, *conjugate)


def test_guide_site_missing_from_model_is_an_error(conjugate):
    model, _, data = conjugate

    def guide(data):
        ppl.sample("mu", dist.Normal(0.0, 1.0))
        ppl.sample("sigma", dist.Normal(0.0, 1.0))

    with pytest.raises(ValueError, match=r"guide samples site\(s\) \['sigma'\].*model does not"):
        Trace_ELBO().loss(jax.random.PRNGKey(0), {}, model, guide, data)

    def aux_guide(data):
        ppl.sample("mu", dist.Normal(0.0, 1.0))
        ppl.sample("sigma", dist.Normal(0.0, 1.0), infer={"is_auxiliary": True})

    Trace_ELBO().loss(jax.random.PRNGKey(0), {}, model, aux_guide, data)


def test_guide_shape_mismatch_is_an_error():
    def model():
        mu = ppl.sample("mu", dist.Normal(0.0, 2.0))
        ppl.sample("obs", dist.Normal(jnp.sum(mu), 1.0), obs=1.0)

    def guide():
        ppl.sample("mu", dist.Normal(jnp.zeros(3), 1.0))

    with pytest.raises(ValueError, match=r"Site 'mu': the guide draws values of shape \(3,\)"):
        Trace_ELBO().loss(jax.random.PRNGKey(0), {}, model, guide)


def test_unguided_model_site_warns(conjugate):
    _, guide, data = conjugate

    def model(data):
        mu = ppl.sample("mu", dist.Normal(0.0, 2.0))
        tau = ppl.sample("tau", dist.Normal(0.0, 1.0))
        ppl.sample("obs", dist.Normal(mu + tau, 1.0), obs=data)

    with pytest.warns(UserWarning, match=r"\['tau'\] of the model are not in the guide"):
        Trace_ELBO().loss(jax.random.PRNGKey(0), PARAMS, model, guide, data)
