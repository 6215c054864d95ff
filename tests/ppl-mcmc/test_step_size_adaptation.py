"""Step-size adaptation reaches ``target_accept_prob``, checked against an exact
acceptance curve.

On a standard normal with an identity mass matrix, one leapfrog step is the
linear map ``p' = p - e q / 2, q' = q + e p', p'' = p' - e q' / 2`` per
coordinate, so the expected Metropolis acceptance
``E[min(1, exp(-dH))]`` under ``q, p ~ N(0, I)`` at step size ``e`` can be
computed independently with numpy. With one step the curve decreases
monotonically in ``e`` (longer fixed-length trajectories on a Gaussian
resonate and make it non-monotone), so the step size that reaches a target is
unique.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ppl.mcmc import HMC, MCMC

DIM = 10


def _expected_accept_prob(step_size: float, num_draws: int = 50_000) -> float:
    rng = np.random.default_rng(123)
    q = rng.standard_normal((num_draws, DIM))
    p = rng.standard_normal((num_draws, DIM))
    p_half = p - 0.5 * step_size * q
    q_new = q + step_size * p_half
    p_new = p_half - 0.5 * step_size * q_new
    delta = 0.5 * (q_new**2 + p_new**2 - q**2 - p**2).sum(axis=1)
    return float(np.minimum(1.0, np.exp(-delta)).mean())


def _batch_means_se(x: np.ndarray, num_batches: int = 20) -> float:
    batches = np.stack([b.mean(axis=-1) for b in np.array_split(x, num_batches, axis=-1)], -1)
    return float(batches.std(ddof=1) / np.sqrt(batches.size))


@pytest.mark.parametrize("target", [0.6, 0.9])
def test_hmc_step_size_adaptation_reaches_the_target_accept_prob(target):
    # As many samples as warmup iterations: one compiled loop serves both phases.
    num_chains, num_warmup, num_samples = 2, 500, 500
    mcmc = MCMC(
        HMC(
            potential_fn=lambda z: 0.5 * jnp.sum(z**2),
            num_steps=1,
            adapt_mass_matrix=False,
            target_accept_prob=target,
        ),
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method="vectorized",
        progress_bar=False,
    )
    # Starting in the stationary distribution keeps the sampling phase unbiased.
    init = jax.random.normal(jax.random.PRNGKey(1), (num_chains, DIM))
    mcmc.run(
        jax.random.PRNGKey(0),
        init_params=init,
        extra_fields=("accept_prob", "adapt_state.step_size"),
    )
    extra = mcmc.get_extra_fields(group_by_chain=True)
    accept_prob = np.asarray(extra["accept_prob"])
    step_size = np.asarray(extra["adapt_state.step_size"])
    # The step size is frozen after warmup: the averaged dual-averaging iterate.
    np.testing.assert_array_equal(step_size, step_size[:, :1].repeat(num_samples, axis=1))
    expected = np.array([_expected_accept_prob(s) for s in step_size[:, 0]])

    # The statistic reported (and fed to dual averaging) is the Metropolis
    # acceptance of the proposal at the step size used for sampling.
    se = _batch_means_se(accept_prob)
    assert abs(accept_prob.mean() - expected.mean()) < 4 * se + 0.01

    # The adapted step size reaches the target from the safe side. Dual
    # averaging drives the mean acceptance of its noisy iterates to the target;
    # the acceptance is concave in log(step size) there, so the averaged
    # iterate kept for sampling accepts more often (Jensen). On this target
    # NumPyro's identical scheme lands at 0.3-1.15 times the targeted
    # rejection rate per chain (mostly 0.4-0.8); a wrong statistic, sign or
    # final iterate lands far outside.
    rejection_ratio = (1.0 - expected) / (1.0 - target)
    assert np.all((rejection_ratio > 0.2) & (rejection_ratio < 1.25)), (expected, step_size)
