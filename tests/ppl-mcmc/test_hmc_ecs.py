"""HMCECS (energy conserving subsampling) against closed forms and exact targets.

- The perturbed Taylor-proxy estimator, checked through the inner kernel's
  potential energy against the formula evaluated in numpy with hand-derived
  derivatives, after index block updates (so the spliced proxy statistics must
  match the new indices).
- The naive estimator: the chain's stationary theta-marginal is the mixture
  sum_u p(theta) exp(l_hat(theta, u)) over all subsamples u, computed exactly.
- A logistic regression with N = 50,000 against its posterior, counting the data
  rows each log density evaluation touches.
"""

import itertools
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import ppl
import ppl.distributions as dist
from ppl.mcmc import HMC, MCMC, NUTS
from ppl.mcmc.ecs_proxies import TaylorProxyState
from ppl.mcmc.hmc_ecs import HMCECS, HMCECSState, taylor_proxy

# -- the perturbed estimator -----------------------------------------------------------

NORMAL_Y = np.random.default_rng(1).normal(1.0, 2.0, size=300).astype(np.float32)
SUBSAMPLE = 40
REFERENCE = {"mu": 0.8, "sigma": 1.7}


def normal_model(y):
    mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(2.0))
    with ppl.plate("N", y.shape[0], subsample_size=SUBSAMPLE):
        batch = ppl.subsample(y, event_dim=0)
        ppl.sample("obs", dist.Normal(mu, sigma), obs=batch)


def normal_log_lik_terms(y, mu, log_sigma):
    """Per-datum log-likelihood, gradient and Hessian in (mu, log sigma), by hand."""
    r = y - mu
    inv_var = np.exp(-2.0 * log_sigma)
    value = -0.5 * r**2 * inv_var - log_sigma - 0.5 * np.log(2 * np.pi)
    grad = np.stack([r * inv_var, r**2 * inv_var - 1.0], axis=-1)
    hess = np.empty((*r.shape, 2, 2))
    hess[:, 0, 0] = -inv_var
    hess[:, 0, 1] = hess[:, 1, 0] = -2.0 * r * inv_var
    hess[:, 1, 1] = -2.0 * r**2 * inv_var
    return value, grad, hess


def expected_potential(mu, log_sigma, indices, degree):
    y = NORMAL_Y.astype(np.float64)
    ref = np.array([REFERENCE["mu"], np.log(REFERENCE["sigma"])])
    delta = np.array([mu, log_sigma]) - ref

    def proxy(values, grads, hessians):
        q = values + grads @ delta
        if degree == 2:
            q = q + 0.5 * np.einsum("...ij,i,j->...", hessians, delta, delta)
        return q

    all_terms = normal_log_lik_terms(y, *ref)
    sub_terms = [t[indices] for t in all_terms]
    exact_sub = normal_log_lik_terms(y[indices], mu, log_sigma)[0]
    diff = exact_sub - proxy(*sub_terms)
    n, m = y.size, indices.size
    estimate = proxy(*all_terms).sum() + n * diff.mean() - 0.5 * n**2 / m * diff.var()
    sigma = np.exp(log_sigma)
    log_prior = stats.norm.logpdf(mu, 0, 10) + stats.halfnorm.logpdf(sigma, scale=2.0)
    return -(log_prior + log_sigma + estimate)


def init_normal_kernel(degree):
    proxy = taylor_proxy(REFERENCE, degree)
    kernel = HMCECS(HMC(normal_model, num_steps=3), num_blocks=3, proxy=proxy)
    init = {"mu": jnp.float32(1.3), "sigma": jnp.log(jnp.float32(2.2))}
    state = kernel.init(jax.random.PRNGKey(0), 0, init, (NORMAL_Y,), {})
    assert isinstance(state, HMCECSState) and isinstance(state.gibbs_state, TaylorProxyState)
    assert state.z["N"].shape == (SUBSAMPLE,)
    return kernel, state


@pytest.mark.slow
@pytest.mark.parametrize("degree", [1, 2])
def test_perturbed_estimator_and_its_gradient_match_closed_form(degree):
    _, state = init_normal_kernel(degree)
    mu, log_sigma, indices = float(state.z["mu"]), float(state.z["sigma"]), np.asarray(state.z["N"])
    expected = expected_potential(mu, log_sigma, indices, degree)
    np.testing.assert_allclose(float(state.hmc_state.potential_energy), expected, rtol=2e-5)
    # HMC moves along the gradient of the estimate: central differences of the formula.
    eps = 1e-4
    grad_mu = (
        expected_potential(mu + eps, log_sigma, indices, degree)
        - expected_potential(mu - eps, log_sigma, indices, degree)
    ) / (2 * eps)
    grad_log_sigma = (
        expected_potential(mu, log_sigma + eps, indices, degree)
        - expected_potential(mu, log_sigma - eps, indices, degree)
    ) / (2 * eps)
    z_grad = state.hmc_state.z_grad
    np.testing.assert_allclose(float(z_grad["mu"]), grad_mu, rtol=1e-3)
    np.testing.assert_allclose(float(z_grad["sigma"]), grad_log_sigma, rtol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("degree", [1, 2])
def test_perturbed_estimator_matches_closed_form_after_block_updates(degree):
    kernel, state = init_normal_kernel(degree)
    step = jax.jit(lambda s: kernel.sample(s, (NORMAL_Y,), {}))
    seen = [np.asarray(state.z["N"])]
    for _ in range(6):
        z = state.z
        expected = expected_potential(float(z["mu"]), float(z["sigma"]), np.asarray(z["N"]), degree)
        np.testing.assert_allclose(float(state.hmc_state.potential_energy), expected, rtol=2e-5)
        state = step(state)
        seen.append(np.asarray(state.z["N"]))
    changed = [np.sum(a != b) for a, b in itertools.pairwise(seen)]
    # One block of 14 indices (ceil(40 / 3)) is redrawn per accepted step.
    assert max(changed) > 0 and all(c <= 14 for c in changed)
    samples = kernel.postprocess_fn((NORMAL_Y,), {})(state.z)
    assert set(samples) == {"mu", "sigma"}
    np.testing.assert_allclose(samples["sigma"], np.exp(state.z["sigma"]), rtol=1e-6)


# -- the naive estimator ------------------------------------------------------------------

TINY_Y = np.array([-1.0, 0.0, 1.0, 2.5], np.float32)
PRIOR_SD = 2.0


def tiny_model(y):
    theta = ppl.sample("theta", dist.Normal(0.0, PRIOR_SD))
    with ppl.plate("N", y.shape[0], subsample_size=2):
        ppl.sample("obs", dist.Normal(theta, 1.0), obs=ppl.subsample(y, event_dim=0))


def naive_target_moments():
    """Mean and variance of theta under sum_u N(theta; 0, 4) exp(l_hat(theta, u)),
    l_hat = (n / m) sum_j log N(y_{u_j}; theta, 1), u over all n^m index tuples."""
    n, m = TINY_Y.size, 2
    precision = 1.0 / PRIOR_SD**2 + n  # (n / m) * m unit-precision terms
    log_weights, means = [], []
    for u in itertools.product(range(n), repeat=m):
        ys = TINY_Y[list(u)].astype(np.float64)
        b = n / m * ys.sum()
        log_weights.append(-0.5 * n / m * np.sum(ys**2) + 0.5 * b**2 / precision)
        means.append(b / precision)
    w = np.exp(np.array(log_weights) - max(log_weights))
    w /= w.sum()
    means = np.array(means)
    mean = w @ means
    return mean, 1.0 / precision + w @ means**2 - mean**2


@pytest.mark.slow
def test_naive_estimator_targets_the_subsample_mixture(gaussian_moments):
    mean, var = naive_target_moments()
    full_posterior_var = 1.0 / (1.0 / PRIOR_SD**2 + TINY_Y.size)
    assert var > 1.5 * full_posterior_var  # the naive target is not the posterior
    kernel = HMCECS(HMC(tiny_model, trajectory_length=1.5), num_blocks=2)
    mcmc = MCMC(
        kernel,
        num_warmup=300,
        num_samples=3000,
        num_chains=2,
        chain_method="vectorized",
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(2), TINY_Y, extra_fields=("accept_prob", "hmc_state.accept_prob"))
    theta = mcmc.get_samples(group_by_chain=True)["theta"]
    gaussian_moments(theta, mean, var)
    extra = mcmc.get_extra_fields()
    assert 0.05 < float(extra["accept_prob"].mean()) < 1.0
    assert extra["hmc_state.accept_prob"].shape == (6000,)


# -- logistic regression, N = 50,000 --------------------------------------------------------

N, D, M, BLOCKS = 50_000, 3, 500, 5


def logistic_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D))
    y = (rng.uniform(size=N) < 1 / (1 + np.exp(-X @ np.array([1.0, -0.5, 0.25])))).astype(float)
    return X, y


def laplace(X, y):
    """The posterior mode and the inverse Hessian there (Newton's method, float64).

    With N = 50,000 observations and 3 parameters the posterior is Gaussian up to
    O(N^-1/2) of a standard deviation (skewness), far below the Monte Carlo error of
    a few hundred effective draws; a 20,000-draw full-data NUTS run agreed with it to
    within its own Monte Carlo error when this test was written.
    """
    w = np.zeros(X.shape[1])
    for _ in range(25):
        p = 1 / (1 + np.exp(-X @ w))
        hessian = -(X.T * (p * (1 - p))) @ X - np.eye(X.shape[1])
        w = w - np.linalg.solve(hessian, X.T @ (y - p) - w)
    return w, np.linalg.inv(-hessian)


@pytest.mark.slow
def test_hmcecs_logistic_regression_matches_posterior_and_touches_only_subsamples(
    gaussian_moments,
):
    X, y = logistic_data()
    w_map, covariance = laplace(X, y)
    rows = []

    def model(X, y):
        w = ppl.sample("w", dist.Normal(jnp.zeros(D), 1.0).to_event(1))
        with ppl.plate("N", X.shape[0], subsample_size=M):
            X_batch = ppl.subsample(X, event_dim=1)
            y_batch = ppl.subsample(y, event_dim=0)
            jax.debug.callback(rows.append, X_batch.shape[0])
            ppl.sample("y", dist.Bernoulli(logits=X_batch @ w), obs=y_batch)

    proxy = HMCECS.taylor_proxy({"w": jnp.asarray(w_map, jnp.float32)})
    kernel = HMCECS(NUTS(model), num_blocks=BLOCKS, proxy=proxy)
    mcmc = MCMC(kernel, num_warmup=300, num_samples=600, progress_bar=False)
    data = (jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32))
    mcmc.run(
        jax.random.PRNGKey(0),
        *data,
        extra_fields=("hmc_state.num_steps", "accept_prob", "diverging"),
    )
    w = np.asarray(mcmc.get_samples()["w"])
    for i in range(D):
        gaussian_moments(w[None, :, i], w_map[i], covariance[i, i])
    extra = mcmc.get_extra_fields()
    assert float(extra["accept_prob"].mean()) > 0.9  # a good proxy: low estimator variance
    assert int(extra["diverging"].sum()) == 0

    # Every evaluation of the model sees the subsample, a redrawn block, or (once, for
    # the proxy's sums at initialization) the full data.
    block = -(-M // BLOCKS)
    rows = np.asarray(rows)
    assert set(np.unique(rows)) <= {M, block, N}
    assert np.sum(rows == N) == 1
    # Per iteration: one gradient per leapfrog step, one to score the proposed indices,
    # and the proxy terms of the new block.
    iterations = 300 + 600
    assert np.sum(rows == M) <= iterations * (extra["hmc_state.num_steps"].mean() + 2) + 10
    # So an iteration reads a small fraction of the data (~6% here, with 4 steps).
    assert (rows.sum() - N) / iterations < N / 10


# -- errors ------------------------------------------------------------------------------


def full_data_model(y):
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    with ppl.plate("N", y.shape[0]):
        ppl.sample("obs", dist.Normal(mu, 1.0), obs=y)


def local_latent_model(y):
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    with ppl.plate("N", y.shape[0], subsample_size=2):
        z = ppl.sample("z", dist.Normal(mu, 1.0))
        ppl.sample("obs", dist.Normal(z, 1.0), obs=ppl.subsample(y, event_dim=0))


def test_errors_say_what_to_do():
    key, y = jax.random.PRNGKey(0), TINY_Y
    with pytest.raises(ValueError, match="no subsample plate"):
        HMCECS(NUTS(full_data_model)).init(key, 10, None, (y,), {})
    with pytest.raises(ValueError, match=r"not latent sites of the model: \['tau'\]"):
        proxy = taylor_proxy({"theta": 0.0, "tau": 1.0})
        HMCECS(NUTS(tiny_model), proxy=proxy).init(key, 10, None, (y,), {})
    with pytest.raises(ValueError, match=r"missing: \['sigma'\]"):
        HMCECS(NUTS(normal_model), proxy=taylor_proxy({"mu": 0.0})).init(
            key, 10, None, (NORMAL_Y,), {}
        )
    with pytest.raises(ValueError, match="has shape"):
        proxy = taylor_proxy({"theta": jnp.zeros(2)})
        HMCECS(NUTS(tiny_model), proxy=proxy).init(key, 10, None, (y,), {})
    with pytest.raises(ValueError, match="latent site 'z' lies in subsample plate"):
        HMCECS(NUTS(local_latent_model)).init(key, 10, None, (y,), {})
    with pytest.raises(ValueError, match="num_blocks=3 exceeds the subsample size 2"):
        HMCECS(NUTS(tiny_model), num_blocks=3).init(key, 10, None, (y,), {})
    with pytest.raises(ValueError, match="must be 2 integer subsample indices"):
        HMCECS(NUTS(tiny_model)).init(key, 10, {"N": jnp.arange(3)}, (y,), {})
    with pytest.raises(TypeError, match="inner_kernel must be an HMC or NUTS kernel"):
        HMCECS(tiny_model)
    with pytest.raises(ValueError, match="built on a model"):
        HMCECS(NUTS(potential_fn=lambda z: jnp.sum(z**2)))
    with pytest.raises(ValueError, match="num_blocks must be a positive integer"):
        HMCECS(NUTS(tiny_model), num_blocks=0)
    with pytest.raises(TypeError, match="proxy must be None or made by taylor_proxy"):
        HMCECS(NUTS(tiny_model), proxy=lambda *args: None)
    for make in (taylor_proxy, HMCECS.taylor_proxy):
        with pytest.raises(ValueError, match="degree must be 1 or 2"):
            make({"theta": 0.0}, 3)
        with pytest.raises(ValueError, match="non-empty dict"):
            make({}, 2)
    with pytest.raises(RuntimeError, match="needs init"):
        HMCECS(NUTS(tiny_model)).sample(None, (y,), {})


def test_initial_indices_and_state_fields():
    kernel = HMCECS(NUTS(tiny_model))
    state = kernel.init(jax.random.PRNGKey(0), 10, {"N": jnp.array([3, 3])}, (TINY_Y,), {})
    np.testing.assert_array_equal(state.z["N"], [3, 3])
    assert state.gibbs_state == ()
    assert state.diverging is state.hmc_state.diverging
    assert kernel.default_fields == ("z",)
    # The initial potential energy uses exactly the given subsample: y_3 twice, scaled by 2.
    theta = float(state.z["theta"])
    expected = -(
        stats.norm.logpdf(theta, 0, PRIOR_SD) + 4 * stats.norm.logpdf(TINY_Y[3], theta, 1.0)
    )
    np.testing.assert_allclose(float(state.hmc_state.potential_energy), expected, rtol=1e-5)


def test_pickled_kernel_initializes_again():
    kernel = HMCECS(NUTS(tiny_model), proxy=taylor_proxy({"theta": 0.5}, 1))
    kernel.init(jax.random.PRNGKey(0), 10, None, (TINY_Y,), {})
    restored = pickle.loads(pickle.dumps(kernel))
    a = kernel.init(jax.random.PRNGKey(1), 10, None, (TINY_Y,), {})
    b = restored.init(jax.random.PRNGKey(1), 10, None, (TINY_Y,), {})
    np.testing.assert_array_equal(a.z["N"], b.z["N"])
    np.testing.assert_allclose(a.hmc_state.potential_energy, b.hmc_state.potential_energy)
