"""Block Gibbs (Gibbs, CustomGibbs) and HMCGibbs against exact posteriors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

import ppl
import ppl.distributions as dist
from ppl.mcmc import HMC, MCMC, NUTS, CustomGibbs, Gibbs, HMCGibbs

# x, y ~ N(0, 2^2) a priori, one observation of x + y ~ N(., 1) equal to 1:
# the posterior precision is I/4 + [[1, 1], [1, 1]].
PRECISION = np.array([[1.25, 1.0], [1.0, 1.25]])
COVARIANCE = np.linalg.inv(PRECISION)
MEAN = COVARIANCE @ np.array([1.0, 1.0])


def sum_model():
    x = ppl.sample("x", dist.Normal(0.0, 2.0))
    y = ppl.sample("y", dist.Normal(0.0, 2.0))
    ppl.deterministic("total", x + y)
    ppl.sample("obs", dist.Normal(x + y, 1.0), obs=jnp.array([1.0]))


def exact_x_given_y(rng_key, gibbs_sites, hmc_sites):
    # x | y, obs ~ N((1 - y) / 1.25, 1 / 1.25)
    y = hmc_sites["y"]
    return {"x": (1.0 - y) / 1.25 + jax.random.normal(rng_key) / jnp.sqrt(1.25)}


@pytest.mark.slow
def test_hmc_gibbs_recovers_correlated_gaussian(gaussian_moments):
    kernel = HMCGibbs(NUTS(sum_model), gibbs_fn=exact_x_given_y, gibbs_sites=["x"])
    mcmc = MCMC(
        kernel,
        num_warmup=300,
        num_samples=2000,
        num_chains=2,
        chain_method="vectorized",
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(0), extra_fields=("hmc_state.accept_prob",))
    samples = mcmc.get_samples(group_by_chain=True)
    for i, name in enumerate(["x", "y"]):
        gaussian_moments(samples[name], MEAN[i], COVARIANCE[i, i])
    np.testing.assert_allclose(samples["total"], samples["x"] + samples["y"], rtol=1e-5)
    accept = mcmc.get_extra_fields()["hmc_state.accept_prob"]
    assert accept.shape == (4000,) and 0.5 < float(accept.mean()) <= 1.0
    assert mcmc.get_extra_fields()["diverging"].shape == (4000,)


# y_i ~ N(mu, sigma), mu ~ N(0, 10), sigma ~ HalfNormal(2): mu | sigma, y is
# Normal (an exact Gibbs step); sigma's marginal posterior is one-dimensional,
# so its moments follow by quadrature.
DATA = np.array([1.2, 2.3, 0.4, 1.9, 3.1, 2.2, 1.4, 0.8])
PRIOR_SD = 10.0


def normal_model(y):
    mu = ppl.sample("mu", dist.Normal(0.0, PRIOR_SD))
    sigma = ppl.sample("sigma", dist.HalfNormal(2.0))
    with ppl.plate("data", y.shape[0]):
        ppl.sample("y", dist.Normal(mu, sigma), obs=y)


def mu_given_sigma(rng_key, gibbs_sites, hmc_sites):
    sigma = hmc_sites["sigma"]
    precision = 1.0 / PRIOR_SD**2 + DATA.size / sigma**2
    mean = (DATA.sum() / sigma**2) / precision
    return {"mu": mean + jax.random.normal(rng_key) / jnp.sqrt(precision)}


def sigma_marginal_moments():
    n, total, squares = DATA.size, DATA.sum(), (DATA**2).sum()

    def log_density(sigma):
        # Integrate mu out of N(mu; 0, s0^2) prod N(y_i; mu, sigma^2).
        precision = 1.0 / PRIOR_SD**2 + n / sigma**2
        mean = (total / sigma**2) / precision
        log_marginal = (
            -n * np.log(sigma)
            - 0.5 * np.log(precision * PRIOR_SD**2)
            - 0.5 * (squares / sigma**2 - precision * mean**2)
        )
        return log_marginal + stats.halfnorm.logpdf(sigma, scale=2.0)

    grid_max = log_density(np.linspace(0.3, 5, 200)).max()

    def density(sigma):
        return np.exp(log_density(sigma) - grid_max)

    z = integrate.quad(density, 1e-3, 20)[0]
    mean = integrate.quad(lambda s: s * density(s), 1e-3, 20)[0] / z
    second = integrate.quad(lambda s: s**2 * density(s), 1e-3, 20)[0] / z
    return mean, second - mean**2


@pytest.mark.slow
def test_hmc_gibbs_exact_conditional_matches_quadrature(gaussian_moments):
    kernel = HMCGibbs(HMC(normal_model, trajectory_length=1.5), mu_given_sigma, gibbs_sites="mu")
    mcmc = MCMC(kernel, num_warmup=400, num_samples=3000, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(1), jnp.asarray(DATA))
    sigma = mcmc.get_samples(group_by_chain=True)["sigma"]
    assert float(sigma.min()) > 0.0
    gaussian_moments(sigma, *sigma_marginal_moments())


@pytest.mark.slow
def test_gibbs_with_two_nuts_blocks_recovers_correlated_gaussian(gaussian_moments):
    kernel = Gibbs([(NUTS(sum_model), ["x"]), (NUTS(sum_model), None)])
    mcmc = MCMC(kernel, num_warmup=200, num_samples=2000, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(2))
    samples = mcmc.get_samples(group_by_chain=True)
    for i, name in enumerate(["x", "y"]):
        gaussian_moments(samples[name], MEAN[i], COVARIANCE[i, i])
    assert [sites for _, sites in kernel.blocks] == [("x",), ("y",)]


def test_custom_gibbs_block_composes_with_hmc_and_init_params():
    kernel = Gibbs([(CustomGibbs(exact_x_given_y), ["x"]), (NUTS(sum_model), None)])
    mcmc = MCMC(kernel, num_warmup=50, num_samples=20, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(3), init_params={"x": jnp.array(0.3)})
    assert mcmc.get_samples()["x"].shape == (20,)
    assert "steps of size" in kernel.get_diagnostics_str(mcmc.last_state)


# -- errors -------------------------------------------------------------------------


def test_gibbs_fn_returning_wrong_sites_is_named():
    def wrong(rng_key, gibbs_sites, hmc_sites):
        return {"y": hmc_sites["y"]}

    mcmc = MCMC(HMCGibbs(NUTS(sum_model), wrong, ["x"]), num_warmup=2, num_samples=2)
    with pytest.raises(ValueError, match=r"exactly the Gibbs sites \['x'\], got \['y'\]"):
        mcmc.run(jax.random.PRNGKey(0))


def test_gibbs_fn_returning_wrong_shape_is_named():
    def wrong(rng_key, gibbs_sites, hmc_sites):
        return {"x": jnp.zeros(3)}

    mcmc = MCMC(HMCGibbs(NUTS(sum_model), wrong, ["x"]), num_warmup=2, num_samples=2)
    with pytest.raises(ValueError, match=r"shape \(3,\) for site 'x', expected \(\)"):
        mcmc.run(jax.random.PRNGKey(0))


def test_unknown_gibbs_site_is_named():
    mcmc = MCMC(HMCGibbs(NUTS(sum_model), exact_x_given_y, ["z"]), num_warmup=2, num_samples=2)
    with pytest.raises(ValueError, match=r"gibbs_sites=\['z'\].*\['z'\] are not latent"):
        mcmc.run(jax.random.PRNGKey(0))


def test_discrete_site_left_to_hmc_says_what_to_do():
    def mixture():
        c = ppl.sample("c", dist.Bernoulli(0.3))
        x = ppl.sample("x", dist.Normal(c * 2.0, 1.0))
        ppl.sample("obs", dist.Normal(x, 1.0), obs=1.0)

    mcmc = MCMC(Gibbs([(NUTS(mixture), None)]), num_warmup=2, num_samples=2)
    with pytest.raises(ValueError, match=r"discrete latent sites \['c'\].*DiscreteHMCGibbs"):
        mcmc.run(jax.random.PRNGKey(0))


def test_subsampled_model_points_to_hmcecs():
    def subsampled(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("data", y.shape[0], subsample_size=2):
            ppl.sample("y", dist.Normal(mu, 1.0), obs=ppl.subsample(y, event_dim=0))

    def gibbs_fn(rng_key, gibbs_sites, hmc_sites):
        return gibbs_sites

    kernel = HMCGibbs(NUTS(subsampled), gibbs_fn, ["mu"])
    mcmc = MCMC(kernel, num_warmup=2, num_samples=2)
    with pytest.raises(ValueError, match="use HMCECS"):
        mcmc.run(jax.random.PRNGKey(0), jnp.arange(5.0))


def test_constructor_errors():
    with pytest.raises(TypeError, match="inner_kernel must be an HMC or NUTS"):
        HMCGibbs(CustomGibbs(exact_x_given_y), exact_x_given_y, ["x"])
    with pytest.raises(ValueError, match="built on a model"):
        HMCGibbs(NUTS(potential_fn=lambda z: z**2), exact_x_given_y, ["x"])
    with pytest.raises(TypeError, match="gibbs_fn must be callable"):
        HMCGibbs(NUTS(sum_model), None, ["x"])
    with pytest.raises(ValueError, match="at most one block"):
        Gibbs([(NUTS(sum_model), None), (NUTS(sum_model), None)])
    with pytest.raises(ValueError, match="same model"):
        Gibbs([(NUTS(sum_model), ["x"]), (NUTS(normal_model), None)])
    with pytest.raises(ValueError, match="owned by more than one"):
        MCMC(
            Gibbs([(NUTS(sum_model), ["x"]), (NUTS(sum_model), ["x", "y"])]),
            num_warmup=1,
            num_samples=1,
        ).run(jax.random.PRNGKey(0))
