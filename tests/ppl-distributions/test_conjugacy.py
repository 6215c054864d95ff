"""collapse with ppl.distributions' conjugacy rules, against scipy's marginals."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import ppl
import ppl.distributions as dist
from ppl import handlers
from ppl.infer.util import log_density


def collapsed_log_density(model, *args):
    lp, tr = log_density(model, args, {}, {})
    return lp, tr


def test_beta_binomial():
    counts = jnp.array([3.0, 7.0, 5.0])

    def model():
        with handlers.collapse():
            probs = ppl.sample("probs", dist.Beta(2.0, 3.0))
            with ppl.plate("n", 3):
                ppl.sample("obs", dist.Binomial(10, probs), obs=counts)

    lp, tr = collapsed_log_density(model)
    assert tr["probs"]["is_observed"] and "obs" not in tr
    # The three counts share one probability: the marginal is not a product of
    # betabinomials; build it from the posterior update, sequentially, with scipy.
    expected, a, b = 0.0, 2.0, 3.0
    for k in np.asarray(counts):
        expected += stats.betabinom.logpmf(k, 10, a, b)
        a, b = a + k, b + 10 - k
    np.testing.assert_allclose(lp, expected, rtol=1e-5)


def test_beta_bernoulli_per_group():
    # 2 trials (dim -2) for each of 3 groups (dim -1), one probability per group
    y = jnp.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])

    def model():
        with handlers.collapse():
            with ppl.plate("groups", 3):
                probs = ppl.sample("probs", dist.Beta(1.5, 1.0))
                with ppl.plate("trials", 2, dim=-2):
                    ppl.sample("obs", dist.Bernoulli(probs), obs=y)

    lp, _ = collapsed_log_density(model)
    expected = 0.0
    for group in range(3):
        a, b = 1.5, 1.0
        for k in np.asarray(y[:, group]):
            expected += stats.betabinom.logpmf(k, 1, a, b)
            a, b = a + k, b + 1 - k
    np.testing.assert_allclose(lp, expected, rtol=1e-5)


def test_gamma_poisson():
    y = jnp.array([2.0, 0.0, 4.0])

    def model():
        with handlers.collapse():
            rate = ppl.sample("rate", dist.Gamma(3.0, 2.0))
            with ppl.plate("n", 3):
                ppl.sample("obs", dist.Poisson(rate), obs=y)

    lp, _ = collapsed_log_density(model)
    expected, alpha, beta = 0.0, 3.0, 2.0
    for k in np.asarray(y):
        # Poisson-Gamma marginal: NegativeBinomial(alpha, beta / (beta + 1))
        expected += stats.nbinom.logpmf(k, alpha, beta / (beta + 1))
        alpha, beta = alpha + k, beta + 1
    np.testing.assert_allclose(lp, expected, rtol=1e-5)


def test_gamma_exponential():
    y = jnp.array([0.5, 1.5])

    def model():
        with handlers.collapse():
            rate = ppl.sample("rate", dist.Gamma(2.0, 3.0))
            with ppl.plate("n", 2):
                ppl.sample("obs", dist.Exponential(rate), obs=y)

    lp, _ = collapsed_log_density(model)
    expected, alpha, beta = 0.0, 2.0, 3.0
    for x in np.asarray(y):
        expected += stats.lomax.logpdf(x, alpha, scale=beta)
        alpha, beta = alpha + 1, beta + x
    np.testing.assert_allclose(lp, expected, rtol=1e-5)


def test_normal_normal_is_a_joint_gaussian():
    y = jnp.array([0.3, -1.0, 2.0])
    sigma = jnp.array([0.5, 1.0, 2.0])

    def model():
        with handlers.collapse():
            mu = ppl.sample("mu", dist.Normal(1.0, 2.0))
            with ppl.plate("n", 3):
                ppl.sample("obs", dist.Normal(mu, sigma), obs=y)

    lp, _ = collapsed_log_density(model)
    cov = 4.0 * np.ones((3, 3)) + np.diag(np.asarray(sigma) ** 2)
    expected = stats.multivariate_normal.logpdf(np.asarray(y), np.ones(3), cov)
    np.testing.assert_allclose(lp, expected, rtol=1e-5)


def test_dirichlet_categorical_and_multinomial():
    y = jnp.array([0, 2, 2, 1])

    def categorical_model():
        with handlers.collapse():
            probs = ppl.sample("probs", dist.Dirichlet(jnp.array([1.0, 2.0, 0.5])))
            with ppl.plate("n", 4):
                ppl.sample("obs", dist.Categorical(probs), obs=y)

    lp, _ = collapsed_log_density(categorical_model)
    alpha, expected = np.array([1.0, 2.0, 0.5]), 0.0
    for k in np.asarray(y):
        expected += np.log(alpha[k] / alpha.sum())
        alpha[k] += 1
    np.testing.assert_allclose(lp, expected, rtol=1e-5)

    counts = jnp.array([1.0, 1.0, 2.0])

    def multinomial_model():
        with handlers.collapse():
            probs = ppl.sample("probs", dist.Dirichlet(jnp.array([1.0, 2.0, 0.5])))
            ppl.sample("obs", dist.Multinomial(4, probs), obs=counts)

    lp, _ = collapsed_log_density(multinomial_model)
    expected = stats.dirichlet_multinomial.logpmf(np.asarray(counts), [1.0, 2.0, 0.5], 4)
    np.testing.assert_allclose(lp, expected, rtol=1e-5)


def test_logits_parameter_is_not_conjugate():
    def model():
        with handlers.collapse():
            z = ppl.sample("z", dist.Normal(0.0, 1.0))
            ppl.sample("obs", dist.Bernoulli(logits=z), obs=1.0)

    with pytest.raises(NotImplementedError, match="no conjugacy rule"):
        handlers.trace(model).get_trace()
