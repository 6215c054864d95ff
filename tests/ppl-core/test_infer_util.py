import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import ppl
from ppl.infer import (
    Predictive,
    constrain_fn,
    init_to_feasible,
    init_to_mean,
    init_to_median,
    init_to_sample,
    init_to_uniform,
    init_to_value,
    initialize_model,
    log_density,
    log_likelihood,
    potential_energy,
    transform_fn,
    unconstrain_fn,
)
from ppl.transforms import ExpTransform


def positive_model(dist):
    def model(y=None):
        rate = ppl.sample("rate", dist.Exponential(2.0))
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        ppl.deterministic("twice_mu", 2 * mu)
        with ppl.plate("n", 4):
            ppl.sample("y", dist.Normal(mu, 1.0 / rate), obs=y)

    return model


Y = jnp.array([0.3, -0.2, 1.1, 0.4])


def test_potential_energy_includes_jacobian(dist):
    model = positive_model(dist)
    z = {"rate": jnp.array(0.2), "mu": jnp.array(0.1)}
    rate = np.exp(0.2)
    expected = (
        stats.expon.logpdf(rate, scale=0.5)
        + 0.2  # log |d exp(z)/dz|
        + stats.norm.logpdf(0.1)
        + stats.norm.logpdf(np.asarray(Y), 0.1, 1.0 / rate).sum()
    )
    np.testing.assert_allclose(potential_energy(model, (Y,), {}, z), -expected, rtol=1e-5)
    # gradient against finite differences
    grad = jax.grad(lambda r: potential_energy(model, (Y,), {}, {**z, "rate": r}))(z["rate"])
    eps = 1e-3
    fd = (
        potential_energy(model, (Y,), {}, {**z, "rate": z["rate"] + eps})
        - potential_energy(model, (Y,), {}, {**z, "rate": z["rate"] - eps})
    ) / (2 * eps)
    np.testing.assert_allclose(grad, fd, rtol=1e-2)


def test_log_density_matches_scipy(dist):
    model = positive_model(dist)
    lp, tr = log_density(model, (Y,), {}, {"rate": 1.5, "mu": 0.2})
    expected = (
        stats.expon.logpdf(1.5, scale=0.5)
        + stats.norm.logpdf(0.2)
        + stats.norm.logpdf(np.asarray(Y), 0.2, 1 / 1.5).sum()
    )
    np.testing.assert_allclose(lp, expected, rtol=1e-5)
    assert tr["twice_mu"]["value"] == pytest.approx(0.4)


def test_transform_constrain_unconstrain_round_trip(dist):
    model = positive_model(dist)
    constrained = {"rate": jnp.array(2.5), "mu": jnp.array(-0.3)}
    z = unconstrain_fn(model, (Y,), {}, constrained)
    np.testing.assert_allclose(z["rate"], np.log(2.5), rtol=1e-6)
    back = constrain_fn(model, (Y,), {}, z, return_deterministic=True)
    np.testing.assert_allclose(back["rate"], 2.5, rtol=1e-6)
    np.testing.assert_allclose(back["twice_mu"], -0.6, rtol=1e-6)
    out = transform_fn({"rate": ExpTransform()}, {"rate": jnp.array(0.0), "mu": 1.0})
    assert out == {"rate": 1.0, "mu": 1.0}
    out = transform_fn({"rate": ExpTransform()}, {"rate": jnp.array(1.0)}, invert=True)
    np.testing.assert_allclose(out["rate"], 0.0, atol=1e-7)


@pytest.mark.parametrize(
    "strategy",
    [
        init_to_uniform,
        init_to_median,
        init_to_mean,
        init_to_sample,
        init_to_feasible,
        init_to_uniform(radius=0.5),
        init_to_median(num_samples=5),
    ],
)
def test_initialize_model_strategies(dist, strategy):
    model = positive_model(dist)
    info = initialize_model(jax.random.PRNGKey(0), model, model_args=(Y,), init_strategy=strategy)
    z = info.param_info.z
    assert set(z) == {"rate", "mu"}
    np.testing.assert_allclose(info.param_info.potential_energy, info.potential_fn(z), rtol=1e-5)
    grad = jax.grad(info.potential_fn)(z)
    np.testing.assert_allclose(info.param_info.z_grad["mu"], grad["mu"], rtol=1e-5)
    samples = info.postprocess_fn(z)
    assert float(samples["rate"]) > 0
    np.testing.assert_allclose(samples["twice_mu"], 2 * samples["mu"], rtol=1e-6)


def test_init_to_feasible_is_the_image_of_zero(dist):
    info = initialize_model(
        jax.random.PRNGKey(0), positive_model(dist), model_args=(Y,), init_strategy=init_to_feasible
    )
    np.testing.assert_allclose(info.param_info.z["rate"], 0.0)
    np.testing.assert_allclose(info.param_info.z["mu"], 0.0)


def test_init_to_value_and_batched_keys(dist):
    model = positive_model(dist)
    strategy = init_to_value(values={"rate": 3.0})
    info = initialize_model(jax.random.PRNGKey(0), model, model_args=(Y,), init_strategy=strategy)
    np.testing.assert_allclose(info.param_info.z["rate"], np.log(3.0), rtol=1e-6)
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    info = initialize_model(keys, model, model_args=(Y,))
    assert info.param_info.z["mu"].shape == (3,)
    assert len(set(np.asarray(info.param_info.z["mu"]).tolist())) == 3


def test_initialize_model_dynamic_args(dist):
    model = positive_model(dist)
    info = initialize_model(jax.random.PRNGKey(0), model, model_args=(Y,), dynamic_args=True)
    z = info.param_info.z
    potential = info.potential_fn(Y)
    np.testing.assert_allclose(potential(z), potential_energy(model, (Y,), {}, z), rtol=1e-6)
    constrained = info.postprocess_fn(Y)(z)
    np.testing.assert_allclose(constrained["twice_mu"], 2 * constrained["mu"], rtol=1e-6)
    np.testing.assert_allclose(constrained["rate"], jnp.exp(z["rate"]), rtol=1e-6)


def test_initialize_model_names_bad_sites(dist):
    def model():
        ppl.sample("ok", dist.Normal(0.0, 1.0))
        bad = ppl.sample("bad", dist.Normal(0.0, 1.0))
        ppl.sample("obs", dist.Exponential(1.0), obs=-1.0 + 0 * bad)

    with pytest.raises(RuntimeError, match=r"non-finite log density: obs"):
        initialize_model(jax.random.PRNGKey(0), model)


def test_initialize_model_reports_nan_data(dist):
    def model(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        ppl.sample("y", dist.Normal(mu, 1.0), obs=y)

    with pytest.raises(ValueError, match=r"observed site 'y'.*1 NaN"):
        initialize_model(jax.random.PRNGKey(0), model, model_args=(jnp.array([1.0, jnp.nan]),))


def test_initialize_model_rejects_discrete_latents(dist):
    def model():
        ppl.sample("z", dist.Bernoulli(0.5))

    with pytest.raises(ValueError, match=r"discrete latent site\(s\) \['z'\].*DiscreteHMCGibbs"):
        initialize_model(jax.random.PRNGKey(0), model)


def test_log_likelihood_matches_scipy(dist):
    model = positive_model(dist)
    samples = {"rate": jnp.array([1.0, 2.0]), "mu": jnp.array([0.0, 0.5])}
    ll = log_likelihood(model, samples, Y)
    expected = np.stack(
        [stats.norm.logpdf(np.asarray(Y), m, 1 / r) for r, m in [(1.0, 0.0), (2.0, 0.5)]]
    )
    np.testing.assert_allclose(ll["y"], expected, rtol=1e-5)
    ll_parallel = log_likelihood(model, samples, Y, parallel=True)
    np.testing.assert_allclose(ll_parallel["y"], expected, rtol=1e-5)


def test_prior_predictive_moments(dist):
    def model():
        mu = ppl.sample("mu", dist.Normal(1.0, 2.0))
        return ppl.sample("y", dist.Normal(mu, 1.0))

    draws = Predictive(model, num_samples=4000)(jax.random.PRNGKey(0))
    assert draws["y"].shape == (4000,)
    # y ~ Normal(1, sqrt(5)): mean within 4 standard errors
    assert abs(float(draws["y"].mean()) - 1.0) < 4 * np.sqrt(5 / 4000)
    assert abs(float(draws["y"].var()) - 5.0) < 0.5


@pytest.mark.slow
def test_posterior_predictive_uses_samples_and_return_sites(dist):
    model = positive_model(dist)
    samples = {"rate": jnp.full(50, 1e4), "mu": jnp.linspace(-1, 1, 50)}
    preds = Predictive(model, samples)(jax.random.PRNGKey(0))
    assert set(preds) == {"y", "twice_mu"}
    np.testing.assert_allclose(
        preds["y"], jnp.broadcast_to(samples["mu"][:, None], (50, 4)), atol=1e-2
    )
    batched = Predictive(model, samples, batch_size=7, return_sites=["y"])(jax.random.PRNGKey(0))
    assert set(batched) == {"y"} and batched["y"].shape == (50, 4)
    parallel = Predictive(model, samples, parallel=True)(jax.random.PRNGKey(0))
    np.testing.assert_allclose(parallel["twice_mu"], 2 * samples["mu"], rtol=1e-6)


def test_predictive_batch_ndims_two(dist):
    model = positive_model(dist)
    samples = {"rate": jnp.ones((2, 5)), "mu": jnp.zeros((2, 5))}
    preds = Predictive(model, samples, batch_ndims=2)(jax.random.PRNGKey(0))
    assert preds["y"].shape == (2, 5, 4)


def test_predictive_with_guide(dist):
    def guide(y=None):
        ppl.sample("rate", dist.Exponential(1.0))
        loc = ppl.param("loc", 0.0)
        ppl.sample("mu", dist.Normal(loc, 0.001))

    preds = Predictive(positive_model(dist), guide=guide, params={"loc": 3.0}, num_samples=20)(
        jax.random.PRNGKey(0)
    )
    np.testing.assert_allclose(preds["twice_mu"], 6.0, atol=0.05)


def test_predictive_argument_errors(dist):
    model = positive_model(dist)
    with pytest.raises(ValueError, match="num_samples"):
        Predictive(model)
    with pytest.raises(ValueError, match="batch shape"):
        Predictive(model, {"rate": jnp.ones(3), "mu": jnp.ones(4)})
    with pytest.raises(KeyError, match="nope"):
        Predictive(model, num_samples=2, return_sites=["nope"])(jax.random.PRNGKey(0))


def test_initialize_model_fixes_subsample_indices(dist):
    data = jnp.arange(20.0)

    def model():
        mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
        with ppl.plate("n", 20, subsample_size=5):
            batch = ppl.subsample(data, event_dim=0)
            ppl.sample("y", dist.Normal(mu, 1.0), obs=batch)

    info = initialize_model(jax.random.PRNGKey(0), model)
    idx = info.model_trace["n"]["value"]
    expected = -(
        stats.norm.logpdf(float(info.param_info.z["mu"]), 0.0, 10.0)
        + 4.0 * stats.norm.logpdf(np.asarray(data[idx]), float(info.param_info.z["mu"])).sum()
    )
    np.testing.assert_allclose(info.potential_fn(info.param_info.z), expected, rtol=1e-5)


def test_apply_mask_and_scale_zeroes_masked_entries_then_scales():
    from ppl.infer.util import apply_mask_and_scale

    log_prob = jnp.array([-1.0, jnp.nan, -3.0, -jnp.inf])
    mask = jnp.array([True, False, True, False])
    site = {"mask": mask, "scale": 2.5}
    # Masked-out entries are exactly 0 even when the term is NaN or -inf there.
    np.testing.assert_array_equal(apply_mask_and_scale(log_prob, site), [-2.5, 0.0, -7.5, 0.0])
    # No mask and no scale (missing or None) leave the term unchanged.
    finite = jnp.array([-1.0, -2.0])
    np.testing.assert_array_equal(apply_mask_and_scale(finite, {}), finite)
    np.testing.assert_array_equal(
        apply_mask_and_scale(finite, {"mask": None, "scale": None}), finite
    )
