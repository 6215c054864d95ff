"""HMC and NUTS on models written with ppl primitives and ppl.distributions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ppl
import ppl.distributions as dist
from ppl.infer import HMC, MCMC, NUTS
from ppl.infer.initialization import init_to_value


def location_scale_model(y):
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    sigma = ppl.sample("sigma", dist.Exponential(1.0))
    ppl.deterministic("mu_plus_sigma", mu + sigma)
    with ppl.plate("N", y.shape[0]):
        ppl.sample("obs", dist.Normal(mu, sigma), obs=y)


@pytest.fixture(scope="module")
def data():
    return jnp.asarray(np.random.default_rng(0).normal(1.0, 1.5, size=15), jnp.float32)


@pytest.fixture(scope="module")
def grid_posterior(data):
    """Posterior moments of (mu, sigma) by quadrature on a fine grid."""
    y = np.asarray(data, np.float64)
    mu = np.linspace(-3.0, 5.0, 801)
    sigma = np.linspace(1e-3, 8.0, 1601)
    m, s = np.meshgrid(mu, sigma, indexing="ij")
    log_post = -0.5 * m**2 - s
    log_post += -y.size * np.log(s) - 0.5 * ((y[None, None] - m[..., None]) ** 2).sum(-1) / s**2
    weights = np.exp(log_post - log_post.max())
    weights /= weights.sum()

    def moments(x):
        mean = float((weights * x).sum())
        return mean, float((weights * (x - mean) ** 2).sum())

    return {"mu": moments(m), "sigma": moments(s), "mu_plus_sigma": moments(m + s)}


@pytest.mark.slow
def test_nuts_on_a_model(data, grid_posterior, gaussian_moments, capsys):
    mcmc = MCMC(
        NUTS(location_scale_model),
        num_warmup=400,
        num_samples=1000,
        num_chains=2,
        chain_method="vectorized",
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(0), data)
    samples = mcmc.get_samples(group_by_chain=True)
    assert set(samples) == {"mu", "sigma", "mu_plus_sigma"}
    for site in ("mu", "sigma", "mu_plus_sigma"):
        assert samples[site].shape == (2, 1000)
        gaussian_moments(samples[site], *grid_posterior[site])

    # Samples are constrained; the kernel works in unconstrained space, so the state
    # holds log(sigma), and the last draw is the constrained image of the last state.
    assert float(samples["sigma"].min()) > 0
    assert set(mcmc.last_state.z) == {"mu", "sigma"}
    np.testing.assert_allclose(
        samples["sigma"][:, -1], np.exp(mcmc.last_state.z["sigma"]), rtol=1e-5
    )
    np.testing.assert_allclose(
        samples["mu_plus_sigma"][:, -1], samples["mu"][:, -1] + samples["sigma"][:, -1], rtol=1e-5
    )
    imm = mcmc.last_state.adapt_state.inverse_mass_matrix
    assert list(imm) == [("mu", "sigma")]
    assert imm[("mu", "sigma")].shape == (2, 2)  # a batch of two diagonals

    # print_summary leaves deterministic sites out unless asked.
    mcmc.print_summary()
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert "mu" in rows and "sigma" in rows and "mu_plus_sigma" not in rows
    mcmc.print_summary(exclude_deterministic=False)
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert "mu_plus_sigma" in rows


def test_hmc_with_dense_mass_on_a_model(data, grid_posterior, gaussian_moments):
    mcmc = MCMC(
        HMC(location_scale_model, dense_mass=True, trajectory_length=1.5),
        num_warmup=400,
        num_samples=1000,
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(1), data)
    gaussian_moments(mcmc.get_samples(group_by_chain=True)["mu"], *grid_posterior["mu"])
    imm = mcmc.last_state.adapt_state.inverse_mass_matrix
    assert list(imm) == [("mu", "sigma")] and imm[("mu", "sigma")].shape == (2, 2)


def test_init_strategy_and_init_params(data):
    kernel = NUTS(location_scale_model, init_strategy=init_to_value(values={"mu": 0.7}))
    state = kernel.init(jax.random.PRNGKey(0), 10, None, (data,), {})
    np.testing.assert_allclose(state.z["mu"], 0.7)
    state = kernel.init(
        jax.random.PRNGKey(0), 10, {"mu": jnp.array(-0.5), "sigma": jnp.array(0.2)}, (data,), {}
    )
    np.testing.assert_allclose(state.z["sigma"], 0.2)


def test_init_params_of_the_wrong_shape_name_the_site(data):
    kernel = NUTS(location_scale_model)
    with pytest.raises(ValueError, match=r"init_params\['mu'\] has shape \(3,\).*shape \(\)"):
        kernel.init(
            jax.random.PRNGKey(0), 10, {"mu": jnp.zeros(3), "sigma": jnp.zeros(())}, (data,), {}
        )
    with pytest.raises(ValueError, match=r"missing \['sigma'\]"):
        kernel.init(jax.random.PRNGKey(0), 10, {"mu": jnp.zeros(())}, (data,), {})
    with pytest.raises(ValueError, match=r"not latent sites of the model \['tau'\]"):
        kernel.init(
            jax.random.PRNGKey(0),
            10,
            {"mu": jnp.zeros(()), "sigma": jnp.zeros(()), "tau": jnp.zeros(())},
            (data,),
            {},
        )


def test_discrete_latent_sites_are_refused_with_the_kernels_that_handle_them():
    def model():
        c = ppl.sample("c", dist.Bernoulli(probs=0.3))
        ppl.sample("x", dist.Normal(c, 1.0), obs=0.5)

    mcmc = MCMC(NUTS(model), num_warmup=10, num_samples=10, progress_bar=False)
    with pytest.raises(ValueError, match=r"'c'.*DiscreteHMCGibbs.*MixedHMC.*HMCGibbs"):
        mcmc.run(jax.random.PRNGKey(0))


@pytest.mark.slow
def test_jit_model_args_reuses_the_compiled_loop_for_new_data(compile_counter):
    rng = np.random.default_rng(1)
    kernel = NUTS(location_scale_model)
    mcmc = MCMC(kernel, num_warmup=50, num_samples=50, progress_bar=False, jit_model_args=True)
    mcmc.run(jax.random.PRNGKey(0), jnp.asarray(rng.normal(size=15), jnp.float32))
    compile_counter.reset()
    new_data = jnp.asarray(rng.normal(5.0, 1.0, size=15), jnp.float32)
    mcmc.run(jax.random.PRNGKey(1), new_data)
    assert compile_counter.count == 0
    # The new data were used, not the old ones baked in: the posterior moved.
    assert float(mcmc.get_samples()["mu"].mean()) > 2.5
    # Without jit_model_args the data are constants of the loop: new data recompile.
    constants = MCMC(kernel, num_warmup=50, num_samples=50, progress_bar=False)
    constants.run(jax.random.PRNGKey(0), new_data)
    compile_counter.reset()
    constants.run(jax.random.PRNGKey(0), new_data)
    assert compile_counter.count == 0
    constants.run(jax.random.PRNGKey(0), new_data + 1.0)
    assert compile_counter.count > 0


def test_custom_postprocess_fn(data):
    mcmc = MCMC(
        NUTS(location_scale_model),
        num_warmup=50,
        num_samples=50,
        progress_bar=False,
        postprocess_fn=lambda z: {"log_sigma": z["sigma"]},
    )
    mcmc.run(jax.random.PRNGKey(0), data)
    samples = mcmc.get_samples()
    assert set(samples) == {"log_sigma"}
    np.testing.assert_allclose(samples["log_sigma"][-1], mcmc.last_state.z["sigma"], rtol=1e-6)
