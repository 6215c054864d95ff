"""AutoDAIS against closed-form evidences and posteriors of conjugate models."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import special, stats

import ppl
import ppl.distributions as dist
from ppl.handlers import seed
from ppl.vi import SVI, AutoDAIS, AutoDiagonalNormal, Trace_ELBO

# Linear regression with known noise and an offset design: a strongly correlated
# (rho = -0.8) Gaussian posterior, which a diagonal Normal cannot represent.
X = jnp.array([1.0, 2.0, 3.0, 4.0])
Y = jnp.array([1.5, 2.1, 3.9, 4.2])


def regression(x, y):
    a = ppl.sample("a", dist.Normal(0.0, 1.0))
    b = ppl.sample("b", dist.Normal(0.0, 1.0))
    with ppl.plate("N", x.shape[0]):
        ppl.sample("y", dist.Normal(a + b * x, 1.0), obs=y)


def regression_truth():
    """Posterior mean and precision, and the log evidence."""
    design = np.stack([np.ones(len(X)), np.asarray(X)], axis=1)
    precision = np.eye(2) + design.T @ design
    mean = np.linalg.solve(precision, design.T @ np.asarray(Y))
    marginal = stats.multivariate_normal(np.zeros(len(X)), design @ design.T + np.eye(len(X)))
    return mean, precision, marginal.logpdf(np.asarray(Y))


def log_weights(guide, params, model, *args, num=4000, seed_=1):
    """Single-particle ELBO terms log p(x, z) - log q(z) of many independent guide draws."""
    keys = jax.random.split(jax.random.PRNGKey(seed_), num)

    def one(key):
        return -Trace_ELBO().loss(key, params, model, guide, *args)

    return np.asarray(jax.jit(jax.vmap(one))(keys), dtype=np.float64)


def train(guide, model, *args, steps, particles=4, lr=0.05):
    schedule = optax.exponential_decay(lr, transition_steps=steps, decay_rate=0.05)
    svi = SVI(model, guide, optax.adam(schedule), Trace_ELBO(num_particles=particles))
    return svi.run(jax.random.PRNGKey(0), steps, *args, progress_bar=False).params


@pytest.mark.slow
def test_weights_estimate_the_evidence_without_bias():
    """exp(log w) is an unbiased estimate of p(x) for any setting of the chain, which checks
    the momentum factor and the Jacobians (a positive latent) exactly."""
    y1 = np.array([0.5, 1.2, -0.3, 2.0])
    y2 = np.array([3, 1, 4, 2])
    shape, rate = 2.0, 1.0

    def model():
        mu = ppl.sample("mu", dist.Normal(0.0, 2.0))
        lam = ppl.sample("lam", dist.Gamma(shape, rate))
        with ppl.plate("N", 4):
            ppl.sample("y1", dist.Normal(mu, 1.0), obs=jnp.asarray(y1))
            ppl.sample("y2", dist.Poisson(lam), obs=jnp.asarray(y2))

    log_z = stats.multivariate_normal(np.zeros(4), 4.0 * np.ones((4, 4)) + np.eye(4)).logpdf(y1)
    log_z += (
        shape * np.log(rate)
        - special.gammaln(shape)
        + special.gammaln(shape + y2.sum())
        - (shape + y2.sum()) * np.log(rate + 4)
        - special.gammaln(y2 + 1).sum()
    )

    guide = AutoDAIS(model, K=5, base_dist="cholesky", eta_init=0.1, eta_max=0.5)
    seed(guide, 0)()
    # Near the posterior but not at it, with steps large enough that the momentum weights
    # matter: leaving them out makes the estimate dozens of times too large.
    params = {
        "auto_z_0_loc": jnp.array([1.0, 0.85]),
        "auto_z_0_scale_tril": jnp.array([[0.53, 0.0], [0.05, 0.32]]),
        "auto_eta0": jnp.array(0.1),
        "auto_eta_coeff": jnp.array(0.1),
        "auto_gamma": jnp.array(0.3),
        "auto_beta_increments": jnp.array([1.0, 2.0, 1.0, 0.5, 1.0]),
        "auto_mass_matrix": jnp.array([1.0, 1.0]),
    }
    log_w = log_weights(guide, params, model, num=6000)
    ratio = np.exp(log_w - log_z)
    standard_error = ratio.std() / np.sqrt(ratio.size)
    assert abs(ratio.mean() - 1.0) < 4 * standard_error
    assert standard_error < 0.01
    assert log_w.mean() < log_z


@pytest.mark.slow
def test_beats_the_best_mean_field_guide_on_a_correlated_posterior():
    mean, precision, log_z = regression_truth()
    # The best diagonal Normal has variances 1 / precision_ii; its gap to log p(x) is
    # KL = (sum_i log precision_ii - log det precision) / 2 (no diagonal guide does better).
    best_mean_field = log_z - 0.5 * (
        np.sum(np.log(np.diag(precision))) - np.linalg.slogdet(precision)[1]
    )
    diagonal = AutoDiagonalNormal(regression)
    seed(diagonal, 0)(X, Y)
    optimum = {"auto_loc": jnp.asarray(mean), "auto_scale": jnp.asarray(np.diag(precision) ** -0.5)}
    log_w = log_weights(diagonal, optimum, regression, X, Y)
    assert log_w.mean() == pytest.approx(best_mean_field, abs=4 * log_w.std() / np.sqrt(log_w.size))

    guide = AutoDAIS(regression, K=4)
    params = train(guide, regression, X, Y, steps=600)
    log_w = log_weights(guide, params, regression, X, Y)
    elbo, standard_error = log_w.mean(), log_w.std() / np.sqrt(log_w.size)
    # Training reaches about -6.78 (best mean field -6.96, log p(x) -6.44).
    assert elbo - 4 * standard_error > best_mean_field + 0.1
    assert elbo - 4 * standard_error < log_z


@pytest.mark.slow
def test_posterior_draws_match_the_exact_posterior(normal):
    guide = AutoDAIS(normal.model)
    params = train(guide, normal.model, normal.data, steps=400)
    log_w = log_weights(guide, params, normal.model, normal.data, num=2000)
    prior_sd = 2.0
    log_z = stats.multivariate_normal(
        np.zeros(normal.data.size), prior_sd**2 + np.eye(normal.data.size)
    ).logpdf(np.asarray(normal.data))
    # AutoDiagonalNormal's optimum is the exact posterior here, with ELBO log p(x).
    assert log_w.mean() == pytest.approx(log_z, abs=0.02 + 4 * log_w.std() / np.sqrt(log_w.size))

    draws = guide.sample_posterior(jax.random.PRNGKey(2), params, sample_shape=(2000,))["mu"]
    mean, sd = normal.posterior
    assert draws.shape == (2000,)
    assert float(jnp.mean(draws)) == pytest.approx(mean, abs=4 * sd / np.sqrt(2000) + 0.01)
    assert float(jnp.std(draws)) == pytest.approx(sd, rel=0.1)


def test_sample_posterior_shapes_and_unavailable_summaries():
    guide = AutoDAIS(regression, K=2, base_dist="cholesky")
    svi = SVI(regression, guide, optax.adam(0.01), Trace_ELBO())
    params = svi.get_params(svi.init(jax.random.PRNGKey(0), X, Y))
    assert set(params) == {
        "auto_z_0_loc",
        "auto_z_0_scale_tril",
        "auto_eta0",
        "auto_eta_coeff",
        "auto_gamma",
        "auto_beta_increments",
        "auto_mass_matrix",
    }
    assert params["auto_beta_increments"].shape == (2,)
    assert params["auto_z_0_scale_tril"].shape == (2, 2)
    draws = guide.sample_posterior(jax.random.PRNGKey(1), params, sample_shape=(2, 3))
    assert draws["a"].shape == draws["b"].shape == (2, 3)
    # Each draw runs its own chain.
    assert len(np.unique(np.asarray(draws["a"]))) == 6
    assert guide.sample_posterior(jax.random.PRNGKey(1), params)["b"].shape == ()
    with pytest.raises(NotImplementedError, match="does not provide median"):
        guide.median(params)
    with pytest.raises(NotImplementedError, match="sample_posterior"):
        guide.get_posterior(params)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"K": 0}, r"K \(the number of annealing steps\) must be an integer >= 1, got 0"),
        ({"K": 2.5}, r"K \(the number of annealing steps\) must be an integer"),
        ({"base_dist": "full"}, r"base_dist must be one of \['diagonal', 'cholesky'\], got 'full'"),
        ({"eta_max": 0.0}, "eta_max must be positive, got 0.0"),
        ({"eta_max": -1.0, "eta_init": -2.0}, "eta_max must be positive"),
        ({"eta_init": 0.2}, r"eta_init must satisfy 0 < eta_init < eta_max \(= 0.1\), got 0.2"),
        ({"gamma_init": 1.0}, r"gamma_init must be in the open interval \(0, 1\), got 1.0"),
        ({"init_scale": 0.0}, "init_scale must be positive"),
    ],
)
def test_argument_errors_name_the_argument(normal, kwargs, message):
    with pytest.raises(ValueError, match=message):
        AutoDAIS(normal.model, **kwargs)


def test_data_subsampling_is_refused():
    def model(data):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("N", 10, subsample_size=5):
            ppl.sample("obs", dist.Normal(mu, 1.0), obs=ppl.subsample(data, event_dim=0))

    with pytest.raises(NotImplementedError, match=r"subsampling .*plate 'N'"):
        seed(AutoDAIS(model), 0)(jnp.zeros(10))
