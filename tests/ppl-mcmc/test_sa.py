"""Sample Adaptive MCMC: the leave-one-out proposals against direct computation, and
recovery of known posteriors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import ppl
import ppl.distributions as dist
from ppl.infer.util import DiscreteLatentError
from ppl.mcmc import MCMC
from ppl.mcmc.sa import SA, SAState, _gaussian_log_density, _leave_one_out, _removal_log_weights

COV = np.array([[1.0, 0.8, 0.3], [0.8, 2.0, -0.5], [0.3, -0.5, 0.7]])
MEAN = np.array([1.0, -2.0, 0.5])


def gaussian_potential(z):
    d = z - jnp.asarray(MEAN, jnp.float32)
    return 0.5 * d @ jnp.asarray(np.linalg.inv(COV), jnp.float32) @ d


def check_gaussian(draws, check_moments):
    """Each coordinate's mean and variance, and one linear combination (its variance
    depends on the correlations)."""
    draws = np.asarray(draws, np.float64)
    for k in range(3):
        check_moments(draws[..., k], MEAN[k], COV[k, k])
    weights = np.array([1.0, -1.0, 1.0])
    check_moments(draws @ weights, weights @ MEAN, weights @ COV @ weights)


@pytest.mark.parametrize("dense", [True, False], ids=["dense", "diagonal"])
def test_leave_one_out_matches_refitting(dense):
    rng = np.random.default_rng(0)
    zs = rng.normal(size=(7, 3)) @ np.linalg.cholesky(COV).T
    new = rng.normal(size=3)
    loc = zs.mean(0)
    cov = np.cov(zs, rowvar=False, bias=True)
    scale = np.linalg.cholesky(cov) if dense else np.sqrt(np.diag(cov))
    locs, scales = jax.jit(_leave_one_out)(
        jnp.asarray(zs, jnp.float32),
        jnp.asarray(loc, jnp.float32),
        jnp.asarray(scale, jnp.float32),
        jnp.asarray(new, jnp.float32),
    )
    for j in range(7):
        replaced = zs.copy()
        replaced[j] = new
        expected_cov = np.cov(replaced, rowvar=False, bias=True)
        np.testing.assert_allclose(locs[j], replaced.mean(0), rtol=1e-5, atol=1e-5)
        if dense:
            np.testing.assert_allclose(scales[j] @ scales[j].T, expected_cov, atol=1e-4)
        else:
            np.testing.assert_allclose(scales[j] ** 2, np.diag(expected_cov), atol=1e-4)
    # Log densities differ from scipy's by one constant shared by all points.
    points = jnp.asarray(rng.normal(size=(7, 3)), jnp.float32)
    ours = jax.jit(_gaussian_log_density)(points, locs, scales)
    expected = [
        scipy.stats.multivariate_normal(
            np.asarray(locs[j]),
            np.asarray(scales[j] @ scales[j].T) if dense else np.diag(np.asarray(scales[j]) ** 2),
        ).logpdf(np.asarray(points[j]))
        for j in range(7)
    ]
    np.testing.assert_allclose(ours - ours[0], expected - expected[0], atol=1e-3)


def test_removal_weights_drop_invalid_points_first():
    removal_log_weights = jax.jit(_removal_log_weights)
    log_q = jnp.array([0.0, -1.0, -2.0, 0.5])
    # The proposal (last) has an infinite potential: it is the only removable point.
    weights = removal_log_weights(log_q, jnp.array([1.0, 2.0, 3.0, jnp.inf]))
    assert np.all(np.isneginf(weights[:3])) and weights[3] == 0.0
    # NaN potentials count as infinite; a degenerate leave-one-out fit keeps its point.
    weights = removal_log_weights(jnp.array([jnp.nan, 0.0, 0.0]), jnp.array([1.0, jnp.nan, 2.0]))
    assert np.isneginf(weights[0]) and weights[1] == 0.0 and np.isneginf(weights[2])
    weights = removal_log_weights(jnp.array([jnp.nan, 0.0, 0.0]), jnp.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(weights, [-np.inf, 2.0, 3.0])


@pytest.mark.slow
@pytest.mark.parametrize("dense", [True, False], ids=["dense", "diagonal"])
def test_sa_recovers_correlated_gaussian(dense, gaussian_moments):
    mcmc = MCMC(
        SA(potential_fn=gaussian_potential, dense_mass=dense),
        num_warmup=2000,
        num_samples=5000,
        num_chains=2,
        chain_method="vectorized",
        progress_bar=False,
    )
    mcmc.run(
        jax.random.PRNGKey(0),
        init_params=jnp.zeros((2, 3)),
        extra_fields=("accept_prob", "mean_accept_prob"),
    )
    check_gaussian(mcmc.get_samples(group_by_chain=True), gaussian_moments)
    extra = mcmc.get_extra_fields(group_by_chain=True)
    assert not np.any(extra["diverging"])
    accept_prob = np.asarray(extra["accept_prob"])
    assert np.all((accept_prob >= 0) & (accept_prob <= 1))
    # The running mean restarts after warmup: at the end it is the sampling phase's mean.
    np.testing.assert_allclose(extra["mean_accept_prob"][:, -1], accept_prob.mean(1), rtol=1e-3)
    state = mcmc.last_state
    assert isinstance(state, SAState)
    assert state.adapt_state.zs.shape == (2, 6, 3)  # adapt_state_size defaults to 2 * D
    assert state.adapt_state.inv_mass_matrix_sqrt.shape == ((2, 3, 3) if dense else (2, 3))


@pytest.mark.slow
def test_sa_on_model_with_positive_site(gaussian_moments):
    # Gamma(2, 0.5) prior, Poisson likelihood: the posterior is Gamma(2 + sum y, 0.5 + n).
    y = np.array([3, 5, 2, 4, 6, 1, 3])
    shape, rate = 2.0 + y.sum(), 0.5 + y.size

    def model(y):
        lam = ppl.sample("lam", dist.Gamma(2.0, 0.5))
        ppl.deterministic("log_lam", jnp.log(lam))
        ppl.sample("y", dist.Poisson(lam), obs=y)

    kernel = SA(model, adapt_state_size=5)
    mcmc = MCMC(kernel, num_warmup=1000, num_samples=4000, num_chains=1, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(1), jnp.asarray(y))
    samples = mcmc.get_samples(group_by_chain=True)
    assert np.all(samples["lam"] > 0)
    np.testing.assert_allclose(samples["log_lam"], np.log(samples["lam"]), rtol=1e-5)
    gaussian_moments(samples["lam"], shape / rate, shape / rate**2)
    assert mcmc.last_state.adapt_state.zs.shape == (5, 1)
    assert kernel.get_diagnostics_str(mcmc.last_state).startswith("acc. prob=")


def test_sa_errors():
    with pytest.raises(ValueError, match="Only one of `model` or `potential_fn`"):
        SA()
    with pytest.raises(ValueError, match="adapt_state_size must be an integer greater than 1"):
        SA(potential_fn=gaussian_potential, adapt_state_size=1)
    with pytest.raises(ValueError, match="init_params"):
        SA(potential_fn=gaussian_potential).init(jax.random.PRNGKey(0), 10)
    with pytest.raises(RuntimeError, match="initialized"):
        SA(potential_fn=gaussian_potential).sample(None, (), {})
    with pytest.warns(UserWarning, match="adapt_state_size > 3"):
        SA(potential_fn=gaussian_potential, adapt_state_size=3).init(
            jax.random.PRNGKey(0), 10, jnp.zeros(3)
        )

    def discrete_model():
        ppl.sample("switch", dist.Bernoulli(0.3))
        ppl.sample("x", dist.Normal())

    with pytest.raises(DiscreteLatentError, match=r"SA samples continuous.*\['switch'\]"):
        SA(discrete_model).init(jax.random.PRNGKey(0), 10)
