"""Ensemble samplers (AIES, ESS): the moves' distributions, recovery of known
posteriors, and the driver's rules for ensemble kernels."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import ppl
import ppl.distributions as dist
from ppl.infer.util import DiscreteLatentError
from ppl.mcmc import MCMC
from ppl.mcmc.diagnostics import effective_sample_size
from ppl.mcmc.ensemble import (
    AIES,
    ESS,
    AIESState,
    EnsembleSamplerState,
    ESSState,
)

COV = np.array([[1.0, 0.8, 0.3], [0.8, 2.0, -0.5], [0.3, -0.5, 0.7]])
MEAN = np.array([1.0, -2.0, 0.5])
NUM_WALKERS = 12
INIT = jax.random.normal(jax.random.PRNGKey(5), (NUM_WALKERS, 3))


def gaussian_potential(z):
    d = z - jnp.asarray(MEAN, jnp.float32)
    return 0.5 * d @ jnp.asarray(np.linalg.inv(COV), jnp.float32) @ d


def run_gaussian(kernel, num_warmup=500, num_samples=1000, **kwargs):
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=NUM_WALKERS,
        chain_method="vectorized",
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(0), init_params=INIT, **kwargs)
    return mcmc


def check_gaussian(draws, check_moments):
    draws = np.asarray(draws, np.float64)
    for k in range(3):
        check_moments(draws[..., k], MEAN[k], COV[k, k])
    weights = np.array([1.0, -1.0, 1.0])
    check_moments(draws @ weights, weights @ MEAN, weights @ COV @ weights)


# -- moves ---------------------------------------------------------------------


def test_stretch_move_draws_stretch_factors_from_inverse_sqrt_density():
    # With every complementary walker at c, the proposal is c + s (x - c): s is
    # recovered exactly; its density on [1/a, a] is proportional to 1/sqrt(s).
    a = 3.0
    active = jnp.full((2000, 2), 2.0)
    inactive = jnp.zeros((5, 2))
    proposal, log_factor = jax.jit(AIES.StretchMove(a=a))(jax.random.PRNGKey(0), active, inactive)
    stretch = np.asarray(proposal[:, 0] / 2.0)
    np.testing.assert_allclose(proposal[:, 1], proposal[:, 0], rtol=1e-6)
    np.testing.assert_allclose(log_factor, (2 - 1) * np.log(stretch), rtol=1e-5, atol=1e-6)

    def cdf(s):
        s = np.clip(s, 1 / a, a)
        return (np.sqrt(s) - 1 / np.sqrt(a)) / (np.sqrt(a) - 1 / np.sqrt(a))

    assert scipy.stats.kstest(stretch, cdf).pvalue > 0.01


def test_differential_moves_use_distinct_complementary_walkers():
    # Two complementary walkers, at 0 and 1: every difference is +-1, never 0.
    inactive = jnp.array([[0.0], [1.0]])
    active = jnp.zeros((2, 1))
    keys = jax.random.split(jax.random.PRNGKey(1), 500)
    move = jax.jit(jax.vmap(AIES.DEMove(sigma=0.1, g0=0.5), in_axes=(0, None, None)))
    proposals, log_factors = move(keys, active, inactive)
    steps = np.abs(np.asarray(proposals).ravel())
    np.testing.assert_allclose(log_factors, 0.0)
    # gamma ~ N(g0, (g0 sigma)^2) = N(0.5, 0.05^2).
    assert abs(steps.mean() - 0.5) < 4 * 0.05 / np.sqrt(steps.size)
    assert abs(steps.std() - 0.05) < 0.01
    directions = jax.jit(jax.vmap(ESS.DifferentialMove(), in_axes=(0, None, None)))(
        keys, inactive, 0.75
    )
    np.testing.assert_allclose(np.abs(np.asarray(directions)), 1.5)
    signs = np.sign(np.asarray(directions)).ravel()
    assert abs(signs.mean()) < 4 / np.sqrt(signs.size)


def test_gaussian_and_random_move_directions():
    rng = np.random.default_rng(2)
    inactive = jnp.asarray(rng.normal(size=(6, 3)) @ np.linalg.cholesky(COV).T, jnp.float32)
    mu = 0.6
    keys = jax.random.split(jax.random.PRNGKey(3), 3000)
    gaussian = jax.jit(jax.vmap(ESS.GaussianMove(), in_axes=(0, None, None)))(keys, inactive, mu)
    gaussian = gaussian.reshape(-1, 3)
    # Directions are N(0, (2 mu)^2 * the sample covariance of the complementary walkers).
    expected = (2 * mu) ** 2 * np.cov(np.asarray(inactive), rowvar=False)
    np.testing.assert_allclose(np.cov(np.asarray(gaussian), rowvar=False), expected, atol=0.1)
    np.testing.assert_allclose(np.mean(np.asarray(gaussian), 0), 0.0, atol=0.05)
    random = jax.jit(jax.vmap(ESS.RandomMove(), in_axes=(0, None, None)))(keys, inactive, mu)
    random = random.reshape(-1, 3)
    np.testing.assert_allclose(np.linalg.norm(random, axis=-1), 2 * mu, rtol=1e-5)
    np.testing.assert_allclose(np.mean(np.asarray(random), 0), 0.0, atol=0.05)


# -- sampling ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "moves",
    [None, {AIES.StretchMove(): 0.5, AIES.DEMove(): 0.5}],
    ids=["de", "stretch+de"],
)
def test_aies_recovers_correlated_gaussian(moves, gaussian_moments):
    kernel = AIES(potential_fn=gaussian_potential, moves=moves)
    mcmc = run_gaussian(kernel, extra_fields=("inner_state.mean_accept_prob",))
    check_gaussian(mcmc.get_samples(group_by_chain=True), gaussian_moments)
    state = mcmc.last_state
    assert isinstance(state, EnsembleSamplerState) and isinstance(state.inner_state, AIESState)
    assert float(state.inner_state.i) == 1500.0
    # Ensemble-wide fields are reported for every walker.
    mean_accept = mcmc.get_extra_fields(group_by_chain=True)["inner_state.mean_accept_prob"]
    assert mean_accept.shape == (NUM_WALKERS, 1000)
    assert 0.1 < float(mean_accept[0, -1]) < 0.9
    assert kernel.get_diagnostics_str(state).startswith("acc. prob=")


@pytest.mark.slow
@pytest.mark.parametrize(
    "moves",
    [None, {ESS.GaussianMove(): 0.5, ESS.RandomMove(): 0.2, ESS.KDEMove(): 0.3}],
    ids=["differential", "gaussian+random+kde"],
)
def test_ess_recovers_correlated_gaussian(moves, gaussian_moments):
    kernel = ESS(potential_fn=gaussian_potential, moves=moves)
    mcmc = run_gaussian(kernel, num_warmup=200, num_samples=600, extra_fields=("inner_state.mu",))
    check_gaussian(mcmc.get_samples(group_by_chain=True), gaussian_moments)
    assert isinstance(mcmc.last_state.inner_state, ESSState)
    # mu is tuned during warmup only.
    mu = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["inner_state.mu"])
    assert np.all(mu == mu[0, 0]) and mu[0, 0] != 1.0


@pytest.mark.slow
def test_ess_tunes_mu_to_the_target_scale_on_a_model(gaussian_moments):
    # Random unit directions on a wide target: mu must grow with the scale. The model's
    # posterior is Normal(5, 10^2) in an unconstrained site and Exponential(0.5) in a
    # positive one.
    def model():
        ppl.sample("x", dist.Normal(5.0, 10.0))
        ppl.sample("rate", dist.Exponential(0.5))

    kernel = ESS(model, moves={ESS.RandomMove(): 1.0}, tune_mu=True)
    mcmc = MCMC(
        kernel,
        num_warmup=300,
        num_samples=500,
        num_chains=8,
        chain_method="vectorized",
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(4))
    samples = mcmc.get_samples(group_by_chain=True)
    assert np.all(samples["rate"] > 0)
    gaussian_moments(samples["x"], 5.0, 100.0)
    gaussian_moments(samples["rate"], 2.0, 4.0)
    assert float(mcmc.last_state.inner_state.mu) > 3.0
    assert kernel.get_diagnostics_str(mcmc.last_state).startswith("mu=")


def test_ess_walkers_keep_their_chain_index_under_randomized_splits():
    # With zero directions every slice update returns its walker unchanged, so any
    # reordering of the ensemble would show. Walkers must stay in their chain slot
    # (NumPyro 0.22 leaves them in the shuffled order): each chain of the output is
    # then one walker's Markov chain, and per-chain ESS and R-hat are honest.
    kernel = ESS(
        potential_fn=gaussian_potential,
        moves={(lambda key, inactive, mu: jnp.zeros_like(inactive)): 1.0},
        randomize_split=True,
        max_steps=1,
    )
    mcmc = run_gaussian(kernel, num_warmup=3, num_samples=5)
    draws = np.asarray(mcmc.get_samples(group_by_chain=True))
    np.testing.assert_array_equal(draws, np.broadcast_to(np.asarray(INIT)[:, None], draws.shape))


@pytest.mark.slow
def test_ess_effective_sample_size_per_draw_on_a_standard_normal():
    # Per-walker mixing of the default (differential) moves with tuned mu, 10 walkers
    # on a 5-d standard normal: about 0.1 effective draws per draw (NumPyro 0.22's
    # ESS with walkers tracked by chain gives 0.04-0.09 for the worst coordinate over
    # seeds). A broken stepping-out/shrinking or direction scale shows up here.
    def potential(z):
        return 0.5 * jnp.sum(z**2)

    mcmc = MCMC(
        ESS(potential_fn=potential),
        num_warmup=200,
        num_samples=500,
        num_chains=10,
        chain_method="vectorized",
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(0), init_params=jax.random.normal(jax.random.PRNGKey(100), (10, 5)))
    draws = np.asarray(mcmc.get_samples(group_by_chain=True), np.float64)
    ess_per_draw = effective_sample_size(draws) / (10 * 500)
    assert np.all(ess_per_draw > 0.05), ess_per_draw
    # The draws are from N(0, I): moments within ~4 standard errors of the ESS.
    se = 1.0 / np.sqrt(ess_per_draw * draws[..., 0].size)
    assert np.all(np.abs(draws.mean(axis=(0, 1))) < 4 * se)


def test_warmup_then_run_continues_the_ensemble():
    kernel = AIES(potential_fn=gaussian_potential, moves={AIES.StretchMove(): 1.0})
    mcmc = MCMC(
        kernel,
        num_warmup=50,
        num_samples=30,
        num_chains=6,
        chain_method="vectorized",
        progress_bar=False,
    )
    mcmc.warmup(jax.random.PRNGKey(0), init_params=INIT[:6])
    warm = mcmc.post_warmup_state
    assert float(warm.inner_state.i) == 50.0
    mcmc.run(jax.random.PRNGKey(1))
    assert float(mcmc.last_state.inner_state.i) == 80.0
    # One key for the ensemble, as the kernel made it.
    assert mcmc.last_state.rng_key.shape == warm.rng_key.shape
    assert mcmc.get_samples(group_by_chain=True).shape == (6, 30, 3)


# -- errors --------------------------------------------------------------------


def test_ensemble_kernels_need_vectorized_chains():
    kernel = AIES(potential_fn=gaussian_potential)
    with pytest.raises(ValueError, match="chain_method='vectorized' and num_chains >= 2"):
        MCMC(kernel, num_warmup=1, num_samples=1, num_chains=4, chain_method="sequential")
    with pytest.raises(ValueError, match="num_chains=1"):
        MCMC(kernel, num_warmup=1, num_samples=1, chain_method="vectorized")
    with pytest.raises(ValueError, match="batch of keys, one per walker"):
        kernel.init(jax.random.PRNGKey(0), 10, INIT[0])
    with pytest.raises(ValueError, match="even number of walkers"):
        kernel.init(jax.random.split(jax.random.PRNGKey(0), 3), 10, INIT[:3])
    with pytest.raises(ValueError, match=r"DifferentialEvolutionMove needs .* num_chains >= 4"):
        kernel.init(jax.random.split(jax.random.PRNGKey(0), 2), 10, INIT[:2])
    with pytest.raises(ValueError, match=r"KDEMove needs .* num_chains/2 > 3"):
        ESS(potential_fn=gaussian_potential, moves={ESS.KDEMove(): 1.0}).init(
            jax.random.split(jax.random.PRNGKey(0), 6), 10, INIT[:6]
        )
    with pytest.raises(ValueError, match="leading dimension of num_chains=4"):
        kernel.init(jax.random.split(jax.random.PRNGKey(0), 4), 10, INIT[:2])
    with pytest.raises(ValueError, match=r"walker\(s\) \[1\]"):
        kernel.init(jax.random.split(jax.random.PRNGKey(0), 6), 10, INIT[:6].at[1, 0].set(jnp.nan))
    keys = jax.random.split(jax.random.PRNGKey(0), 6)
    with pytest.raises(ValueError, match=r"same value in latent coordinate\(s\) \[0, 1, 2\]"):
        kernel.init(keys, 10, jnp.zeros((6, 3)))
    collinear = INIT[:6, :1] * jnp.array([[1.0, 2.0, -1.0]])
    with pytest.raises(ValueError, match="lower-dimensional subspace"):
        kernel.init(keys, 10, collinear)
    with pytest.warns(UserWarning, match="at least 2 \\* 3 = 6 walkers"):
        kernel.init(jax.random.split(jax.random.PRNGKey(0), 4), 10, INIT[:4])


def test_ensemble_argument_errors():
    with pytest.raises(ValueError, match="Only one of `model` or `potential_fn`"):
        ESS()
    with pytest.raises(TypeError, match="AIES moves must be AIES moves"):
        AIES(potential_fn=gaussian_potential, moves={ESS.RandomMove(): 1.0})
    with pytest.raises(TypeError, match="ESS moves must be ESS moves"):
        ESS(potential_fn=gaussian_potential, moves={AIES.StretchMove(): 1.0})
    with pytest.raises(TypeError, match="moves must be a dict"):
        ESS(potential_fn=gaussian_potential, moves=[ESS.RandomMove()])
    with pytest.raises(ValueError, match="non-negative with a positive sum"):
        AIES(potential_fn=gaussian_potential, moves={AIES.StretchMove(): -1.0})
    with pytest.raises(ValueError, match="a must be a number greater than 1"):
        AIES.StretchMove(a=0.5)
    with pytest.raises(ValueError, match="max_steps must be a positive integer"):
        ESS(potential_fn=gaussian_potential, max_steps=0)
    with pytest.raises(ValueError, match="init_mu must be a positive number"):
        ESS(potential_fn=gaussian_potential, init_mu=-1.0)
    with pytest.raises(ValueError, match="init_params"):
        ESS(potential_fn=gaussian_potential).init(jax.random.split(jax.random.PRNGKey(0), 4), 1)

    def discrete_model():
        ppl.sample("c", dist.Categorical(jnp.ones(3) / 3))
        ppl.sample("x", dist.Normal())

    with pytest.raises(DiscreteLatentError, match=r"ESS samples continuous.*\['c'\]"):
        ESS(discrete_model).init(jax.random.split(jax.random.PRNGKey(0), 4), 10)
