"""Closed forms without a scipy one-liner: entropies, Cholesky-factor densities,
relaxed Bernoulli, state-space initial values, and NumPyro's constructor signatures."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st
from scipy.special import expit

import ppl.distributions as dist

COV = np.array([[2.0, 0.5], [0.5, 1.0]])
TRIL = np.linalg.cholesky(COV)
TRANSITION = np.array([[0.5, 0.1], [0.0, 0.7]])


def _state_space_joint_covariance(a, cov, steps):
    """Covariance of the stacked path x_1..x_T with x_t = A x_{t-1} + e_t, x_0 = 0."""
    n = a.shape[0]
    m = np.zeros((steps * n, steps * n))
    for t in range(steps):
        for k in range(t + 1):
            m[t * n : (t + 1) * n, k * n : (k + 1) * n] = np.linalg.matrix_power(a, t - k)
    return m @ np.kron(np.eye(steps), cov) @ m.T


def _inverse_wishart_mc_entropy(df, scale, n=60_000):
    ref = st.invwishart(df, scale)
    x = ref.rvs(n, random_state=np.random.default_rng(0))
    log_p = ref.logpdf(np.moveaxis(x, 0, -1))
    return -log_p.mean(), log_p.std() / np.sqrt(n)


def _ordered_logistic_entropy(eta, cutpoints):
    cdf = np.concatenate([[0.0], expit(cutpoints - eta), [1.0]])
    p = np.diff(cdf)
    return -np.sum(p * np.log(p))


def _truncnorm(loc, scale, low, high):
    return st.truncnorm((low - loc) / scale, (high - loc) / scale, loc, scale)


# (distribution, expected entropy, absolute tolerance)
ENTROPY_CASES = {
    "MultivariateStudentT": lambda: (
        dist.MultivariateStudentT(4.5, jnp.zeros(2), TRIL),
        st.multivariate_t(np.zeros(2), COV, df=4.5).entropy(),
        1e-5,
    ),
    "MatrixNormal": lambda: (
        dist.MatrixNormal(jnp.zeros((2, 3)), TRIL, 0.5 * np.eye(3) + np.tri(3, k=-1) * 0.2),
        st.multivariate_normal(
            cov=np.kron(
                (0.5 * np.eye(3) + np.tri(3, k=-1) * 0.2)
                @ (0.5 * np.eye(3) + np.tri(3, k=-1) * 0.2).T,
                COV,
            )
        ).entropy(),
        1e-4,
    ),
    "GaussianRandomWalk": lambda: (
        dist.GaussianRandomWalk(np.float32([1.0, 0.5]), 3),
        3 * st.norm(0, [1.0, 0.5]).entropy(),
        1e-5,
    ),
    "GaussianStateSpace": lambda: (
        dist.GaussianStateSpace(4, TRANSITION, covariance_matrix=COV),
        st.multivariate_normal(cov=_state_space_joint_covariance(TRANSITION, COV, 4)).entropy(),
        1e-4,
    ),
    "InverseWishart": lambda: (
        dist.InverseWishart(5.0, scale_matrix=COV),
        *_inverse_wishart_mc_entropy(5.0, COV) * np.array([1.0, 5.0]),
    ),
    "TruncatedNormal-two-sided": lambda: (
        dist.TruncatedNormal(0.5, 1.5, low=-1.0, high=2.0),
        _truncnorm(0.5, 1.5, -1.0, 2.0).entropy(),
        1e-5,
    ),
    "TruncatedNormal-far-tail": lambda: (
        dist.TruncatedNormal(0.5, 1.5, low=5.0, high=6.0),
        _truncnorm(0.5, 1.5, 5.0, 6.0).entropy(),
        1e-4,
    ),
    # an infinite bound: scipy's entropy is NaN there, a bound 40 sds away is not
    "TruncatedNormal-left": lambda: (
        dist.TruncatedNormal(0.5, 1.5, low=4.0),
        _truncnorm(0.5, 1.5, 4.0, 60.0).entropy(),
        1e-4,
    ),
    "TruncatedNormal-right": lambda: (
        dist.TruncatedNormal(0.5, 1.5, high=0.3),
        _truncnorm(0.5, 1.5, -60.0, 0.3).entropy(),
        1e-5,
    ),
    "OrderedLogistic": lambda: (
        dist.OrderedLogistic(0.3, np.float32([-1.0, 0.5, 2.0])),
        _ordered_logistic_entropy(0.3, np.array([-1.0, 0.5, 2.0])),
        1e-5,
    ),
    "Delta": lambda: (dist.Delta(np.float32([1.0, 2.0]), 0.7), np.array([-0.7, -0.7]), 1e-7),
}


@pytest.mark.parametrize("name", sorted(ENTROPY_CASES))
def test_entropy_matches_an_independent_computation(name):
    d, expected, atol = ENTROPY_CASES[name]()
    entropy = d.entropy()
    assert entropy.shape == d.batch_shape
    np.testing.assert_allclose(entropy, expected, atol=atol, rtol=0)


def test_truncated_entropy_needs_a_normal_base():
    with pytest.raises(NotImplementedError, match="Normal base"):
        dist.TruncatedCauchy(0.0, 1.0, low=0.0).entropy()


def test_inverse_wishart_cholesky_density_is_the_inverse_wishart_one_plus_jacobian():
    df = np.float32([5.0, 7.5])
    d = dist.InverseWishartCholesky(df, scale_tril=TRIL)
    assert (d.batch_shape, d.event_shape) == ((2,), (2, 2))
    x = st.invwishart(5.0, COV).rvs(4, random_state=np.random.default_rng(1))
    chol = np.linalg.cholesky(x)[:, None]  # (4, 1, 2, 2) against the batch of 2
    # X = L L^T: dX = 2^n prod_i L_ii^{n - i + 1} dL over the lower triangle
    log_jacobian = 2 * np.log(2.0) + 2 * np.log(chol[..., 0, 0]) + np.log(chol[..., 1, 1])
    expected = np.stack([st.invwishart(v, COV).logpdf(np.moveaxis(x, 0, -1)) for v in df], -1)
    np.testing.assert_allclose(
        d.log_prob(np.float32(chol)), expected + log_jacobian, rtol=1e-4, atol=1e-4
    )
    # the same parametrizations as InverseWishart
    other = dist.InverseWishartCholesky(df, rate_matrix=np.linalg.inv(COV))
    np.testing.assert_allclose(other.log_prob(np.float32(chol)), d.log_prob(np.float32(chol)))
    with pytest.raises(ValueError, match="concentration"):
        dist.InverseWishartCholesky(0.5, scale_matrix=COV)


def test_wishart_cholesky_mean_and_variance_against_scipy_draws():
    # L = chol(X) for X ~ Wishart(df, S): moments of scipy's draws' Cholesky factors
    df = np.float32([5.0, 8.0])
    d = dist.WishartCholesky(df, scale_matrix=COV)
    n = 40_000
    rng = np.random.default_rng(2)
    for i, nu in enumerate(df):
        chol = np.linalg.cholesky(st.wishart(nu, COV).rvs(n, random_state=rng))
        m, v = chol.mean(0), chol.var(0)
        m4 = ((chol - m) ** 4).mean(0)
        assert np.all(np.abs(m - d.mean[i]) <= 5 * np.sqrt(v / n) + 1e-6)
        assert np.all(np.abs(v - d.variance[i]) <= 5 * np.sqrt((m4 - v**2) / n) + 1e-6)


def test_relaxed_bernoulli_density_and_parametrizations():
    temperature, logits = 0.7, np.float32([0.3, -1.2])
    d = dist.RelaxedBernoulliLogits(temperature, logits)
    x = np.float32([[0.1], [0.5], [0.93]])
    # Y = logit(X) is Logistic(logits / t, 1 / t); dY/dX = 1 / (x (1 - x))
    y = np.log(x) - np.log1p(-x)
    expected = st.logistic(logits / temperature, 1 / temperature).logpdf(y) - np.log(x * (1 - x))
    np.testing.assert_allclose(d.log_prob(x), expected, rtol=1e-5)
    np.testing.assert_allclose(d.cdf(x), st.logistic(logits / temperature, 1 / temperature).cdf(y))
    from_probs = dist.RelaxedBernoulli(temperature, probs=expit(logits))
    np.testing.assert_allclose(from_probs.log_prob(x), expected, rtol=1e-4)
    assert isinstance(
        dist.RelaxedBernoulli(temperature, logits=logits), dist.RelaxedBernoulliLogits
    )
    with pytest.raises(ValueError, match="exactly one of probs or logits"):
        dist.RelaxedBernoulli(temperature)
    with pytest.raises(ValueError, match=r"probs parameter.*unit_interval"):
        dist.RelaxedBernoulli(temperature, probs=1.5)
    with pytest.raises(ValueError, match=r"temperature parameter.*positive"):
        dist.RelaxedBernoulliLogits(-1.0, 0.0)
    # samples: P(X > 1/2) = sigmoid(logits) at any temperature; at a low one the mass
    # piles up at 0 and 1 as the cdf says
    cold = dist.RelaxedBernoulliLogits(0.05, 0.4)
    draws = np.asarray(cold.sample(jax.random.key(0), (4000,)))
    se = 4 * np.sqrt(0.25 / 4000)
    assert abs(np.mean(draws > 0.5) - expit(0.4)) < se
    middle = float(cold.cdf(0.99) - cold.cdf(0.01))
    assert middle < 0.15
    assert abs(np.mean((draws > 0.01) & (draws < 0.99)) - middle) < se


def test_gaussian_state_space_initial_value_shifts_the_path():
    z0 = np.float32([[1.0, -2.0], [0.5, 0.5], [0.0, 0.0]])
    d = dist.GaussianStateSpace(3, TRANSITION, scale_tril=TRIL, initial_value=z0)
    assert (d.batch_shape, d.event_shape) == ((3,), (3, 2))
    means = np.stack([np.linalg.matrix_power(TRANSITION, t) @ z0.T for t in (1, 2, 3)], 0)
    means = np.moveaxis(means, -1, 0)  # (3 batches, 3 steps, 2)
    np.testing.assert_allclose(d.mean, means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d.initial_value, z0)
    joint = st.multivariate_normal(cov=_state_space_joint_covariance(TRANSITION, COV, 3))
    x = np.random.default_rng(0).normal(size=(4, 3, 3, 2))
    expected = joint.logpdf((x - means).reshape(4, 3, 6))
    np.testing.assert_allclose(d.log_prob(np.float32(x)), expected, rtol=1e-4)
    # without an initial value the path starts at zero
    zero = dist.GaussianStateSpace(3, TRANSITION, scale_tril=TRIL)
    np.testing.assert_allclose(zero.initial_value, [0.0, 0.0])
    np.testing.assert_allclose(
        zero.log_prob(np.float32(x)), joint.logpdf(x.reshape(4, 3, 6)), rtol=1e-5
    )
    # a batch of transition matrices against one initial value
    batched = dist.GaussianStateSpace(
        2, np.stack([TRANSITION, 0.5 * np.eye(2)]), scale_tril=TRIL, initial_value=z0[0]
    )
    assert batched.batch_shape == (2,)
    np.testing.assert_allclose(batched.mean[1], [[0.5, -1.0], [0.25, -0.5]])
    with pytest.raises(ValueError, match="initial_value must be a vector"):
        dist.GaussianStateSpace(3, TRANSITION, scale_tril=TRIL, initial_value=1.0)


def test_truncated_gamma_classes_take_a_gamma_base_dist():
    base = dist.Gamma(2.0, 1.5)
    for d in (
        dist.LeftTruncatedGamma(base, low=0.5),
        dist.RightTruncatedGamma(base, high=2.0),
        dist.TwoSidedTruncatedGamma(base, low=0.5, high=2.0),
    ):
        assert d.base_dist is base
        assert (float(d.concentration), float(d.rate)) == (2.0, 1.5)
    ref = st.gamma(2.0, scale=1 / 1.5)
    right = dist.RightTruncatedGamma(base, high=2.0)
    np.testing.assert_allclose(right.log_prob(1.0), ref.logpdf(1.0) - ref.logcdf(2.0), rtol=1e-5)
    with pytest.raises(TypeError, match=r"base_dist to be a ppl\.distributions\.Gamma"):
        dist.RightTruncatedGamma(dist.Exponential(1.0), high=2.0)
    with pytest.raises(ValueError, match=r"high parameter.*positive"):
        dist.RightTruncatedGamma(base, high=-1.0)


# NumPyro 0.22's constructor signatures for the names changed in this pass.
SIGNATURES = {
    "Dagum": "(concentration, sharpness, scale, *, validate_args=None)",
    "GaussianStateSpace": (
        "(num_steps, transition_matrix, covariance_matrix=None, precision_matrix=None, "
        "scale_tril=None, initial_value=None, *, validate_args=None)"
    ),
    "LeftTruncatedGamma": "(base_dist, low=0.0, *, validate_args=None)",
    "RightTruncatedGamma": "(base_dist, high=1.0, *, validate_args=None)",
    "TwoSidedTruncatedGamma": "(base_dist, low=0.0, high=1.0, *, validate_args=None)",
    "TruncatedGamma": "(concentration=1.0, rate=1.0, *, low=None, high=None, validate_args=None)",
    "InverseWishartCholesky": (
        "(concentration, scale_matrix=None, rate_matrix=None, scale_tril=None, *, "
        "validate_args=None)"
    ),
    "RelaxedBernoulliLogits": "(temperature, logits, *, validate_args=None)",
    "RelaxedBernoulli": "(temperature, probs=None, logits=None, *, validate_args=None)",
    "Normal": "(loc=0.0, scale=1.0, *, validate_args=None)",
}


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_constructor_signatures_follow_numpyro(name):
    signature = inspect.signature(getattr(dist, name))
    plain = signature.replace(
        parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
        return_annotation=signature.empty,
    )
    assert str(plain) == SIGNATURES[name]


def test_dagum_parameter_names():
    d = dist.Dagum(concentration=0.7, sharpness=5.0, scale=1.3)
    ref = st.burr(5.0, 0.7, scale=1.3)
    np.testing.assert_allclose(d.log_prob(1.1), ref.logpdf(1.1), rtol=1e-5)
    assert (float(d.concentration), float(d.sharpness), float(d.scale)) == (
        pytest.approx(0.7),
        5.0,
        pytest.approx(1.3),
    )
    with pytest.raises(ValueError, match=r"sharpness parameter.*positive"):
        dist.Dagum(0.7, -5.0, 1.3)
    assert dist.biject_to is dist.transforms.biject_to
