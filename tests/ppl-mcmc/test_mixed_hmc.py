"""MixedHMC against the exact posterior of a Gaussian mixture with discrete assignments."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ppl
import ppl.distributions as dist
from ppl.mcmc import HMC, MCMC, NUTS, CustomGibbs, Gibbs
from ppl.mcmc.discrete_gibbs import DiscreteGibbs
from ppl.mcmc.mixed_hmc import MixedHMC, MixedHMCState


@pytest.mark.slow
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"modified": True, "num_discrete_updates": 6},
        {"modified": True, "random_walk": True},
    ],
    ids=["gibbs", "modified-gibbs", "modified-random-walk"],
)
def test_mixed_hmc_matches_the_exact_posterior(discrete_mixture, options):
    kernel = MixedHMC(HMC(discrete_mixture.model, trajectory_length=1.0), **options)
    mcmc = MCMC(kernel, num_warmup=300, num_samples=2000, progress_bar=False)
    mcmc.run(
        jax.random.PRNGKey(4),
        jnp.asarray(discrete_mixture.Y),
        extra_fields=("accept_prob", "hmc_state.num_steps"),
    )
    discrete_mixture.check(mcmc.get_samples(group_by_chain=True))
    extra = mcmc.get_extra_fields()
    assert 0.6 < float(extra["accept_prob"].mean()) <= 1.0
    assert extra["diverging"].shape == (2000,) and not extra["diverging"].any()
    # Each discrete update follows a sub-trajectory of at least one leapfrog step.
    num_updates = options.get("num_discrete_updates", 4)
    assert int(extra["hmc_state.num_steps"].min()) >= num_updates
    assert isinstance(mcmc.last_state, MixedHMCState)
    assert "steps of size" in kernel.get_diagnostics_str(mcmc.last_state)


@pytest.mark.slow
def test_fixed_num_steps_and_chain_methods_agree(discrete_mixture):
    draws = {}
    for method in ("sequential", "vectorized"):
        kernel = MixedHMC(HMC(discrete_mixture.model, num_steps=4), random_walk=True)
        mcmc = MCMC(
            kernel,
            num_warmup=50,
            num_samples=100,
            num_chains=2,
            chain_method=method,
            progress_bar=False,
        )
        mcmc.run(jax.random.PRNGKey(5), jnp.asarray(discrete_mixture.Y))
        draws[method] = mcmc.get_samples(group_by_chain=True)
    sequential, vectorized = draws["sequential"], draws["vectorized"]
    assert sequential["c"].shape == (2, 100, 4)
    assert not np.array_equal(sequential["mu"][0], sequential["mu"][1])
    np.testing.assert_array_equal(sequential["c"], vectorized["c"])
    for name in ("mu", "nu"):
        np.testing.assert_allclose(sequential[name], vectorized[name], rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_mixed_hmc_as_a_gibbs_block(discrete_mixture):
    offsets, y = jnp.asarray(discrete_mixture.OFFSETS), jnp.asarray(discrete_mixture.Y)

    def mu_given_the_rest(rng_key, gibbs_sites, hmc_sites):
        # mu | c, nu, data is Normal with precision 1 + 4 + 1.
        residuals = y - offsets[hmc_sites["c"]]
        mean = (residuals.sum() + discrete_mixture.V - hmc_sites["nu"]) / 6.0
        return {"mu": mean + jax.random.normal(rng_key) / jnp.sqrt(6.0)}

    model = discrete_mixture.model
    mixed = MixedHMC(HMC(model, trajectory_length=1.0), modified=True)
    kernel = Gibbs([(CustomGibbs(mu_given_the_rest), ["mu"]), (mixed, None)])
    mcmc = MCMC(kernel, num_warmup=300, num_samples=2000, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(6), y)
    discrete_mixture.check(mcmc.get_samples(group_by_chain=True))
    assert [set(sites) for _, sites in kernel.blocks] == [{"mu"}, {"c", "nu"}]


def test_refresh_recomputes_the_continuous_potential(discrete_mixture):
    from ppl.mcmc.gibbs import with_conditioning

    y = jnp.asarray(discrete_mixture.Y)
    kernel = MixedHMC(HMC(discrete_mixture.model, trajectory_length=1.0)).wrap_model(lambda m: m)
    kwargs = with_conditioning({}, {"mu": jnp.array(0.2)})
    state = kernel.init(jax.random.PRNGKey(0), 0, {"nu": jnp.array(0.4)}, (y,), kwargs)
    np.testing.assert_allclose(state.z["nu"], 0.4)
    moved = kernel.refresh(state, (y,), with_conditioning({}, {"mu": jnp.array(-1.0)}))
    # Only the terms with mu change: log N(mu; 0, 1), the data given c and v given mu + nu.
    c = np.asarray(state.z["c"])

    def terms(mu):
        means = mu + discrete_mixture.OFFSETS[c]
        return (
            -0.5 * mu**2
            - 0.5 * ((discrete_mixture.Y - means) ** 2).sum()
            - 0.5 * (discrete_mixture.V - mu - 0.4) ** 2
        )

    np.testing.assert_allclose(
        moved.hmc_state.potential_energy - state.hmc_state.potential_energy,
        terms(0.2) - terms(-1.0),
        rtol=1e-5,
    )
    # d/dnu of -log p: nu + (mu + nu - v).
    np.testing.assert_allclose(
        moved.hmc_state.z_grad["nu"], 0.4 + (-1.0 + 0.4 - discrete_mixture.V), rtol=1e-5
    )


# -- errors ----------------------------------------------------------------------------


def continuous_model():
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    ppl.sample("obs", dist.Normal(mu, 1.0), obs=0.5)


def discrete_model():
    c = ppl.sample("c", dist.Bernoulli(0.4))
    ppl.sample("obs", dist.Normal(c, 1.0), obs=0.5)


def test_nuts_is_refused_with_the_alternative():
    with pytest.raises(ValueError, match=r"not NUTS.*DiscreteHMCGibbs\(NUTS\(model\)\)"):
        MixedHMC(NUTS(continuous_model))


def test_constructor_errors():
    with pytest.raises(TypeError, match="inner_kernel must be an HMC kernel"):
        MixedHMC(DiscreteGibbs(discrete_model))
    with pytest.raises(ValueError, match="built on a model"):
        MixedHMC(HMC(potential_fn=lambda z: z**2))
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="num_discrete_updates must be a positive integer"):
            MixedHMC(HMC(continuous_model), num_discrete_updates=bad)
    with pytest.raises(TypeError, match="modified must be a bool"):
        MixedHMC(HMC(continuous_model), modified=None)
    with pytest.raises(RuntimeError, match="needs init"):
        MixedHMC(HMC(continuous_model)).sample(None, (), {})


def test_models_it_cannot_sample_are_named():
    mcmc = MCMC(MixedHMC(HMC(continuous_model)), num_warmup=2, num_samples=2)
    with pytest.raises(ValueError, match="MixedHMC: the model has no discrete latent sites"):
        mcmc.run(jax.random.PRNGKey(0))
    mcmc = MCMC(MixedHMC(HMC(discrete_model)), num_warmup=2, num_samples=2)
    with pytest.raises(ValueError, match=r"every latent site .* is discrete.*DiscreteGibbs"):
        mcmc.run(jax.random.PRNGKey(0))


def test_gibbs_starts_a_mixed_hmc_block_from_unconstrained_continuous_values():
    # s's prior draws are near 400: taken as unconstrained values they would start
    # the block at exp(400), outside float32.
    def model():
        s = ppl.sample("s", dist.Gamma(400.0, 1.0))
        c = ppl.sample("c", dist.Bernoulli(0.5))
        m = ppl.sample("m", dist.Normal(0.0, 1.0))
        ppl.sample("y", dist.Normal(s + c + m, 20.0), obs=jnp.array(410.0))

    kernel = Gibbs([(MixedHMC(HMC(model, num_steps=4)), ["s", "c"]), (NUTS(model), ["m"])])
    state = kernel.init(jax.random.PRNGKey(0), 10, None, (), {})
    mixed_state = state.block_states[0]
    assert np.isfinite(mixed_state.hmc_state.potential_energy)
    # The inner HMC starts from its init strategy: uniform in (-2, 2), unconstrained.
    assert -2.0 < float(mixed_state.z["s"]) < 2.0
