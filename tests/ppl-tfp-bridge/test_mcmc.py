"""TFP transition kernels driven by ppl's MCMC, on a model mixing ppl and TFP distributions."""

import pytest

pytest.importorskip("tensorflow_probability")
pytest.importorskip("ppl.mcmc")

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats
from tensorflow_probability.substrates import jax as tfp

import ppl
import ppl.distributions as dist
import ppl.infer
import ppl.tfp.distributions as td
import ppl.tfp.mcmc as tm
from ppl.mcmc import MCMC, NUTS
from ppl.mcmc.diagnostics import effective_sample_size
from ppl.tfp.mcmc import TFPKernel, TFPKernelState

tfm = tfp.mcmc
tfd = tfp.distributions

Y = jnp.array([1.2, 0.8, 2.1, 1.5, 0.3, 1.9, 1.1, 0.7])
COUNTS = jnp.array([3.0, 1.0, 4.0, 2.0, 5.0, 2.0])
PRIOR_SD, GAMMA_SHAPE, GAMMA_RATE = 2.0, 2.0, 1.0


def model(y, counts):
    mu = ppl.sample("mu", tfd.Normal(0.0, PRIOR_SD))  # a raw TFP distribution
    lam = ppl.sample("lam", td.Gamma(GAMMA_SHAPE, GAMMA_RATE))  # a wrapped one
    with ppl.plate("obs", y.shape[0]):
        ppl.sample("y", dist.Normal(mu, 1.0), obs=y)  # ppl's own
    with ppl.plate("counts", counts.shape[0]):
        ppl.sample("k", dist.Poisson(lam), obs=counts)
    ppl.deterministic("twice_mu", 2.0 * mu)


def exact_posterior():
    """Normal-Normal for mu and Gamma-Poisson for lam: (mean, sd) of each."""
    variance = 1.0 / (1.0 / PRIOR_SD**2 + len(Y))
    shape, rate = GAMMA_SHAPE + float(COUNTS.sum()), GAMMA_RATE + len(COUNTS)
    return {
        "mu": (variance * float(Y.sum()), variance**0.5),
        "lam": (shape / rate, shape**0.5 / rate),
    }


def check_posterior(samples, min_ess):
    """Posterior means within 4.5 Monte Carlo standard errors of the exact ones."""
    for name, (mean, sd) in exact_posterior().items():
        draws = np.asarray(samples[name])  # (chains, draws)
        ess = float(effective_sample_size(draws))
        assert ess > min_ess, (name, ess)
        error = abs(draws.mean() - mean)
        assert error < 4.5 * sd / np.sqrt(ess), (name, draws.mean(), mean, ess)
        assert abs(draws.std() / sd - 1.0) < 5.0 / np.sqrt(2 * ess), (name, draws.std(), sd)
    np.testing.assert_allclose(samples["twice_mu"], 2.0 * samples["mu"], rtol=1e-6)


def run(kernel, num_warmup, num_samples, **kwargs):
    mcmc = MCMC(
        kernel, num_warmup=num_warmup, num_samples=num_samples, progress_bar=False, **kwargs
    )
    mcmc.run(jax.random.PRNGKey(1), Y, COUNTS)
    return mcmc.get_samples(group_by_chain=True)


@pytest.mark.slow
def test_ppl_nuts_on_the_mixed_model():
    check_posterior(run(NUTS(model), 300, 800), min_ess=200)


def test_tfp_no_u_turn_sampler_on_the_mixed_model():
    kernel = TFPKernel[tfm.NoUTurnSampler](model, step_size=0.3)
    check_posterior(run(kernel, 200, 800), min_ess=200)


def test_tfp_random_walk_metropolis_vectorized_chains():
    kernel = tm.RandomWalkMetropolis(model, new_state_fn=tfm.random_walk_normal_fn(scale=0.4))
    samples = run(kernel, 300, 2500, num_chains=2, chain_method="vectorized")
    assert samples["mu"].shape == (2, 2500)
    assert not np.allclose(samples["mu"][0], samples["mu"][1])
    check_posterior(samples, min_ess=250)


def test_target_log_prob_is_minus_the_potential():
    # TFP's target at the initial point is log p(T(z), data) + log|T'(z)|,
    # with T = identity for mu and exp for lam, written out by hand.
    kernel = tm.RandomWalkMetropolis(model)
    state = kernel.init(jax.random.PRNGKey(0), 0, None, (Y, COUNTS), {})
    assert isinstance(state, TFPKernelState) and set(state.z) == {"mu", "lam"}
    mu, log_lam = float(state.z["mu"]), float(state.z["lam"])
    lam = np.exp(log_lam)
    expected = (
        stats.norm.logpdf(mu, 0.0, PRIOR_SD)
        + stats.gamma.logpdf(lam, GAMMA_SHAPE, scale=1.0 / GAMMA_RATE)
        + log_lam
        + stats.norm.logpdf(np.asarray(Y), mu, 1.0).sum()
        + stats.poisson.logpmf(np.asarray(COUNTS), lam).sum()
    )
    results = state.kernel_results.accepted_results
    np.testing.assert_allclose(results.target_log_prob, expected, rtol=1e-5)
    constrained = kernel.postprocess_fn((Y, COUNTS), {})(state.z)
    np.testing.assert_allclose(constrained["lam"], lam, rtol=1e-6)
    np.testing.assert_allclose(constrained["twice_mu"], 2 * mu, rtol=1e-6)


def test_target_log_prob_fn_and_replica_exchange():
    # A plain log density on a dict of values; ReplicaExchangeMC evaluates it on
    # a stack of replicas at once.
    def target_log_prob(z):
        return jnp.sum(stats_norm_logpdf(z["a"], jnp.array([1.0, -1.0]), 0.5))

    def make_kernel_fn(target_log_prob_fn):
        return tfm.HamiltonianMonteCarlo(target_log_prob_fn, step_size=0.4, num_leapfrog_steps=3)

    kernel = tm.ReplicaExchangeMC(
        target_log_prob_fn=target_log_prob,
        inverse_temperatures=jnp.array([1.0, 0.5]),
        make_kernel_fn=make_kernel_fn,
    )
    mcmc = MCMC(kernel, num_warmup=100, num_samples=600, progress_bar=False)
    with pytest.raises(ValueError, match="init_params"):
        mcmc.run(jax.random.PRNGKey(0))
    mcmc.run(jax.random.PRNGKey(0), init_params={"a": jnp.zeros(2)})
    draws = mcmc.get_samples()["a"]
    assert draws.shape == (600, 2)
    ess = effective_sample_size(np.asarray(draws)[None])
    assert np.all(ess > 50)
    np.testing.assert_array_less(
        np.abs(draws.mean(0) - np.array([1.0, -1.0])), 4.5 * 0.5 / ess**0.5
    )
    assert "acc. prob=" in kernel.get_diagnostics_str(mcmc.last_state)


def stats_norm_logpdf(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - jnp.log(scale) - 0.5 * jnp.log(2 * jnp.pi)


def test_named_kernels_subscription_and_registry():
    assert TFPKernel[tfm.NoUTurnSampler] is tm.NoUTurnSampler
    assert tm.NoUTurnSampler.tfp_kernel_class() is tfm.NoUTurnSampler
    assert ppl.infer.TFPKernel is TFPKernel
    assert ppl.infer.RandomWalkMetropolis is tm.RandomWalkMetropolis
    # The plugin registers the kernels of the pinned TFP without importing it.
    assert set(tm.KNOWN_KERNELS) == set(tm.kernel_names())
    kernel = tm.HamiltonianMonteCarlo(model, step_size=0.1, num_leapfrog_steps=3)
    assert kernel.sample_field == "z" and kernel.default_fields == ("z",)
    assert kernel.model is model and not kernel.is_ensemble_kernel


def test_bad_kernel_arguments_are_explained():
    with pytest.raises(TypeError, match=r"needs the keyword argument\(s\) \['step_size'\]"):
        tm.NoUTurnSampler(model)
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['stepsize'\]"):
        tm.NoUTurnSampler(model, stepsize=0.1)
    with pytest.raises(TypeError, match="must take a target_log_prob_fn"):
        TFPKernel[tfm.DualAveragingStepSizeAdaptation]
    with pytest.raises(TypeError, match="transition kernel class"):
        TFPKernel[dist.Normal]
    with pytest.raises(TypeError, match=r"TFPKernel\[tfp.mcmc.NoUTurnSampler\]"):
        TFPKernel(model)
    with pytest.raises(ValueError, match="Only one of"):
        tm.RandomWalkMetropolis(model, target_log_prob_fn=lambda z: 0.0)
    with pytest.raises(RuntimeError, match="initialized"):
        tm.RandomWalkMetropolis(model).sample(None, (), {})
