"""Multivariate distributions against scipy.stats, dense-covariance equivalents and Monte Carlo."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg as sla
import scipy.stats as st

import ppl.distributions as dist
from ppl.transforms import RecursiveLinearTransform

KEY = jax.random.key(0)
RNG = np.random.default_rng(0)


def _spd(n, batch=()):
    a = RNG.normal(size=(*batch, n, n))
    return np.float32(a @ np.swapaxes(a, -1, -2) + n * np.eye(n))


S = _spd(3)
L = np.linalg.cholesky(S)
MU = np.float32(RNG.normal(size=3))
X = np.float32(RNG.normal(size=(5, 3)))


@pytest.mark.parametrize("param", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_multivariate_normal_parametrizations(param):
    value = {"covariance_matrix": S, "precision_matrix": np.linalg.inv(S), "scale_tril": L}[param]
    d = dist.MultivariateNormal(MU, **{param: value})
    ref = st.multivariate_normal(MU, S)
    np.testing.assert_allclose(d.log_prob(X), ref.logpdf(X), rtol=1e-5)
    np.testing.assert_allclose(d.entropy(), ref.entropy(), rtol=1e-5)
    np.testing.assert_allclose(d.covariance_matrix, S, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d.precision_matrix, np.linalg.inv(S), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(d.variance, np.diag(S), rtol=1e-5)


@pytest.mark.slow
def test_multivariate_normal_batching_and_sampling():
    sb = _spd(3, (4,))
    loc = np.float32(RNG.normal(size=(2, 1, 3)))
    d = dist.MultivariateNormal(loc, sb)
    assert (d.batch_shape, d.event_shape) == ((2, 4), (3,))
    x = np.float32(RNG.normal(size=(7, 2, 4, 3)))
    ref = np.array(
        [
            [
                [st.multivariate_normal(loc[i, 0], sb[j]).logpdf(x[s, i, j]) for j in range(4)]
                for i in range(2)
            ]
            for s in range(7)
        ]
    )
    np.testing.assert_allclose(d.log_prob(x), ref, rtol=1e-4)
    samples = np.asarray(d.sample(KEY, (20_000,)), np.float64)
    assert samples.shape == (20_000, 2, 4, 3)
    np.testing.assert_allclose(np.cov(samples[:, 1, 2].T), sb[2], rtol=0.05, atol=0.1)
    np.testing.assert_allclose(samples.mean(0), np.broadcast_to(loc, (2, 4, 3)), atol=0.1)
    # a scalar loc broadcasts to the event
    assert dist.MultivariateNormal(0.0, scale_tril=L).loc.shape == (3,)
    with pytest.raises(ValueError, match="exactly one"):
        dist.MultivariateNormal(MU)
    with pytest.raises(
        ValueError, match=r"MultivariateNormal.*covariance_matrix.*positive_definite"
    ):
        dist.MultivariateNormal(MU, -S)


def test_low_rank_multivariate_normal_equals_dense():
    w = np.float32(RNG.normal(size=(3, 2)))
    diag = np.float32(RNG.uniform(0.5, 1.5, size=3))
    cov = w @ w.T + np.diag(diag)
    d = dist.LowRankMultivariateNormal(MU, w, diag)
    ref = st.multivariate_normal(MU, cov)
    np.testing.assert_allclose(d.log_prob(X), ref.logpdf(X), rtol=1e-5)
    np.testing.assert_allclose(d.entropy(), ref.entropy(), rtol=1e-5)
    np.testing.assert_allclose(d.covariance_matrix, cov, rtol=1e-5)
    np.testing.assert_allclose(d.precision_matrix, np.linalg.inv(cov), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(d.scale_tril @ d.scale_tril.T, cov, rtol=1e-5)
    np.testing.assert_allclose(d.variance, np.diag(cov), rtol=1e-5)
    samples = np.asarray(d.sample(KEY, (20_000,)), np.float64)
    np.testing.assert_allclose(np.cov(samples.T), cov, rtol=0.05, atol=0.05)
    with pytest.raises(ValueError, match="cov_factor"):
        dist.LowRankMultivariateNormal(MU, w[:2], diag)


def test_multivariate_student_t():
    d = dist.MultivariateStudentT(5.5, MU, L)
    np.testing.assert_allclose(d.log_prob(X), st.multivariate_t(MU, S, df=5.5).logpdf(X), rtol=1e-5)
    np.testing.assert_allclose(d.covariance_matrix, S * 5.5 / 3.5, rtol=1e-5)
    samples = np.asarray(d.sample(KEY, (20_000,)), np.float64)
    np.testing.assert_allclose(samples.mean(0), MU, atol=0.1)
    np.testing.assert_allclose(samples.var(0), d.variance, rtol=0.1)
    assert np.isnan(dist.MultivariateStudentT(0.5, MU, L).mean).all()


def test_matrix_normal():
    u, v = _spd(2), _spd(3)
    m = np.float32(RNG.normal(size=(2, 3)))
    d = dist.MatrixNormal(m, np.linalg.cholesky(u), np.linalg.cholesky(v))
    x = np.float32(RNG.normal(size=(4, 2, 3)))
    np.testing.assert_allclose(d.log_prob(x), st.matrix_normal(m, u, v).logpdf(x), rtol=1e-5)
    samples = np.asarray(d.sample(KEY, (20_000,)), np.float64)
    np.testing.assert_allclose(samples.var(0), d.variance, rtol=0.06)
    np.testing.assert_allclose(d.variance, np.outer(np.diag(u), np.diag(v)), rtol=1e-5)


@pytest.mark.parametrize("n", [5, 6])
def test_circulant_normal(n):
    row = np.float32([2.0, 0.5, 0.1, 0.05, 0.1, 0.5][:n])
    row[n - 1] = row[1]  # symmetric: c_k = c_{n-k}
    if n == 5:
        row[3] = row[2]
    cov = sla.circulant(row)
    d = dist.CirculantNormal(np.zeros(n, np.float32), covariance_row=row)
    ref = st.multivariate_normal(np.zeros(n), cov)
    x = np.float32(RNG.normal(size=(4, n)))
    np.testing.assert_allclose(d.log_prob(x), ref.logpdf(x), rtol=1e-5)
    np.testing.assert_allclose(d.entropy(), ref.entropy(), rtol=1e-5)
    np.testing.assert_allclose(d.covariance_matrix, cov, atol=1e-6)
    samples = np.asarray(d.sample(KEY, (20_000,)), np.float64)
    np.testing.assert_allclose(np.cov(samples.T), cov, atol=0.08)
    same = dist.CirculantNormal(np.zeros(n), covariance_rfft=d.covariance_rfft)
    np.testing.assert_allclose(same.log_prob(x), d.log_prob(x), rtol=1e-6)


def test_car_equals_gaussian_with_its_precision():
    adj = np.array([[0, 1, 1, 0], [1, 0, 1, 0], [1, 1, 0, 1], [0, 0, 1, 0]], np.float32)
    d = dist.CAR(np.ones(4, np.float32), 0.7, 2.0, adj)
    q = 2.0 * (np.diag(adj.sum(1)) - 0.7 * adj)
    ref = st.multivariate_normal(np.ones(4), np.linalg.inv(q))
    x = np.float32(RNG.normal(size=(3, 4)))
    np.testing.assert_allclose(d.log_prob(x), ref.logpdf(x), rtol=1e-5)
    np.testing.assert_allclose(d.precision_matrix, q, rtol=1e-6)
    samples = np.asarray(d.sample(KEY, (20_000,)), np.float64)
    np.testing.assert_allclose(np.cov(samples.T), np.linalg.inv(q), atol=0.03)
    with pytest.raises(ValueError, match=r"CAR.*adj_matrix.*symmetric"):
        dist.CAR(0.0, 0.5, 1.0, np.triu(adj))
    with pytest.raises(ValueError, match=r"CAR.*correlation"):
        dist.CAR(0.0, 1.5, 1.0, adj)


@pytest.mark.parametrize("param", ["scale_matrix", "rate_matrix", "scale_tril"])
def test_wishart_against_scipy(param):
    value = {"scale_matrix": S, "rate_matrix": np.linalg.inv(S), "scale_tril": L}[param]
    d = dist.Wishart(5.5, **{param: value})
    ref = st.wishart(5.5, S)
    x = np.float32(ref.rvs(4, random_state=1))
    np.testing.assert_allclose(d.log_prob(x), ref.logpdf(np.moveaxis(x, 0, -1)), rtol=1e-5)
    np.testing.assert_allclose(d.entropy(), ref.entropy(), rtol=1e-5)
    np.testing.assert_allclose(d.mean, ref.mean(), rtol=1e-5)
    np.testing.assert_allclose(d.variance, ref.var(), rtol=1e-5)


@pytest.mark.slow
def test_wishart_family_sampling_and_cholesky_density():
    d = dist.Wishart(5.5, scale_matrix=S)
    samples = np.asarray(d.sample(KEY, (20_000,)), np.float64)
    assert np.all(d.support(np.float32(samples[:100])))
    np.testing.assert_allclose(samples.mean(0), d.mean, rtol=0.05, atol=0.3)
    np.testing.assert_allclose(samples.var(0), d.variance, rtol=0.1, atol=1.0)
    # The Cholesky version is the same law with the Jacobian of X = L L^T.
    c = dist.WishartCholesky(5.5, scale_matrix=S)
    x = np.float32(st.wishart(5.5, S).rvs(3, random_state=2))
    lx = np.linalg.cholesky(x)
    log_jac = 3 * np.log(2) + np.sum(np.arange(3, 0, -1) * np.log(np.diagonal(lx, 0, -2, -1)), -1)
    np.testing.assert_allclose(c.log_prob(lx), d.log_prob(x) + log_jac, rtol=1e-5)
    tril_samples = np.asarray(c.sample(KEY, (20_000,))[:4], np.float64)
    np.testing.assert_allclose(
        tril_samples @ np.swapaxes(tril_samples, -1, -2), samples[:4], rtol=1e-4
    )
    with pytest.raises(ValueError, match=r"Wishart.*concentration.*dimension - 1"):
        dist.Wishart(1.5, scale_matrix=S)


@pytest.mark.slow
def test_inverse_wishart_against_scipy():
    d = dist.InverseWishart(9.0, scale_matrix=S)
    ref = st.invwishart(9.0, S)
    x = np.float32(ref.rvs(4, random_state=1))
    np.testing.assert_allclose(d.log_prob(x), ref.logpdf(np.moveaxis(x, 0, -1)), rtol=1e-5)
    np.testing.assert_allclose(d.mean, ref.mean(), rtol=1e-5)
    samples = np.asarray(d.sample(KEY, (20_000,)), np.float64)
    np.testing.assert_allclose(samples.mean(0), d.mean, rtol=0.05, atol=0.02)
    np.testing.assert_allclose(samples.var(0), d.variance, rtol=0.15, atol=0.01)


def test_lkj_cholesky_density_normalizes_and_matches_beta_in_2d():
    # D = 2: the correlation r has (r + 1) / 2 ~ Beta(eta, eta)
    r = np.float32([-0.5, 0.1, 0.8])
    l2 = np.stack([[[1.0, 0.0], [ri, np.sqrt(1 - ri**2)]] for ri in r])
    ref = st.beta(1.7, 1.7).logpdf((r + 1) / 2) - np.log(2)
    np.testing.assert_allclose(dist.LKJCholesky(2, 1.7).log_prob(l2), ref, rtol=1e-5)
    np.testing.assert_allclose(
        dist.LKJ(2, 1.7).log_prob(l2 @ np.swapaxes(l2, -1, -2)), ref, rtol=1e-5
    )
    # D = 3: integrate the density over the free entries (a, b, c) of L, a in (-1, 1)
    # and (b, c) in the unit disk, by Monte Carlo (volume 2 * pi).
    n = 200_000
    a = RNG.uniform(-1, 1, n)
    theta, rad = RNG.uniform(0, 2 * np.pi, n), np.sqrt(RNG.uniform(0, 1, n))
    b, c = rad * np.cos(theta), rad * np.sin(theta)
    ls = np.zeros((n, 3, 3))
    ls[:, 0, 0], ls[:, 1, 0], ls[:, 1, 1] = 1.0, a, np.sqrt(1 - a**2)
    ls[:, 2, 0], ls[:, 2, 1], ls[:, 2, 2] = b, c, np.sqrt(np.clip(1 - b**2 - c**2, 1e-12, None))
    density = np.exp(np.asarray(dist.LKJCholesky(3, 1.5).log_prob(np.float32(ls)), np.float64))
    total = 2 * np.pi * density.mean()
    assert abs(total - 1.0) < 5 * 2 * np.pi * density.std() / np.sqrt(n)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["onion", "cvine"])
def test_lkj_samples_have_beta_marginals(method):
    eta, d = 2.0, 4
    lkj = dist.LKJCholesky(d, eta, sample_method=method)
    samples = lkj.sample(KEY, (10_000,))
    assert samples.shape == (10_000, 4, 4)
    assert np.all(lkj.support(samples))
    corr = np.asarray(samples @ jnp.swapaxes(samples, -1, -2), np.float64)
    marginal = st.beta(eta - 1 + d / 2, eta - 1 + d / 2)
    for i, j in [(1, 0), (3, 1), (3, 2)]:
        assert st.kstest((corr[:, i, j] + 1) / 2, marginal.cdf).pvalue > 1e-3
    if method == "onion":
        corr_samples = dist.LKJ(d, eta).sample(KEY, (10_000,))
        np.testing.assert_allclose(corr_samples, corr, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="dimension"):
        dist.LKJCholesky(1)
    with pytest.raises(ValueError, match="sample_method"):
        dist.LKJCholesky(3, sample_method="vine")


@pytest.mark.slow
def test_zero_sum_normal():
    d = dist.ZeroSumNormal(jnp.array([1.0, 2.0]), (3, 4))
    assert (d.batch_shape, d.event_shape) == ((2,), (3, 4))
    samples = np.asarray(d.sample(KEY, (20_000,)))
    np.testing.assert_allclose(samples.sum(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(samples.sum(-2), 0.0, atol=1e-5)
    np.testing.assert_allclose(samples.var(0), d.variance, rtol=0.05)
    np.testing.assert_allclose(d.variance[1, 0, 0], 4.0 * (2 / 3) * (3 / 4), rtol=1e-6)
    assert np.all(d.support(samples[:10]))
    # one axis: the density is the isotropic normal on the hyperplane
    z = dist.ZeroSumNormal(1.5, (4,))
    x = np.asarray(z.sample(KEY, (3,)))
    expected = st.norm(0, 1.5).logpdf(x).sum(-1) + 0.5 * np.log(2 * np.pi * 1.5**2)
    np.testing.assert_allclose(z.log_prob(x), expected, rtol=1e-5)


def test_gaussian_state_space_equals_the_joint_gaussian():
    a = np.float32([[0.9, 0.1], [0.0, 0.5]])
    sigma = S[:2, :2]
    t = 4
    d = dist.GaussianStateSpace(t, a, covariance_matrix=sigma)
    assert (d.batch_shape, d.event_shape) == ((), (t, 2))
    powers = [np.linalg.matrix_power(a, k) for k in range(t)]
    cov = np.zeros((2 * t, 2 * t))
    for i in range(t):
        for j in range(t):
            cov[2 * i : 2 * i + 2, 2 * j : 2 * j + 2] = sum(
                powers[i - k] @ sigma @ powers[j - k].T for k in range(min(i, j) + 1)
            )
    x = np.float32(RNG.normal(size=(3, t, 2)))
    ref = st.multivariate_normal(np.zeros(2 * t), cov).logpdf(x.reshape(3, -1))
    np.testing.assert_allclose(d.log_prob(x), ref, rtol=1e-5)
    np.testing.assert_allclose(d.variance.reshape(-1), np.diag(cov), rtol=1e-5)
    samples = np.asarray(d.sample(KEY, (20_000,)), np.float64).reshape(20_000, -1)
    np.testing.assert_allclose(np.cov(samples.T), cov, atol=0.25)


@pytest.mark.slow
def test_gaussian_copula_beta():
    corr = np.float32([[1, 0.5, 0.2], [0.5, 1, 0.3], [0.2, 0.3, 1.0]])
    a, b = np.float32([2.0, 3.0, 1.5]), np.float32([1.0, 2.0, 2.5])
    d = dist.GaussianCopulaBeta(a, b, correlation_matrix=corr)
    assert (d.batch_shape, d.event_shape) == ((), (3,))
    u = np.float32(RNG.uniform(0.05, 0.95, size=(4, 3)))
    marginal = st.beta(a, b)
    z = st.norm.ppf(marginal.cdf(u))
    ref = (
        marginal.logpdf(u).sum(-1)
        + st.multivariate_normal(np.zeros(3), corr).logpdf(z)
        - st.norm.logpdf(z).sum(-1)
    )
    np.testing.assert_allclose(d.log_prob(u), ref, rtol=1e-4)
    samples = np.asarray(d.sample(KEY, (10_000,)), np.float64)
    assert st.kstest(samples[:, 1], st.beta(3, 2).cdf).pvalue > 1e-3
    normal_scores = st.norm.ppf(marginal.cdf(samples))
    np.testing.assert_allclose(np.corrcoef(normal_scores.T), corr, atol=0.03)
    np.testing.assert_allclose(d.mean, a / (a + b), rtol=1e-6)


def test_recursive_linear_transform_initial_value():
    a = np.float32([[0.9, 0.1], [-0.2, 0.5]])
    init = np.float32([[1.0, -2.0], [0.5, 3.0], [0.0, 0.0]])  # one start per batch member
    x = np.float32(RNG.normal(size=(4, 2)))  # a single series of 4 steps
    t = RecursiveLinearTransform(a, init)
    ref = np.empty((3, 4, 2))
    for b in range(3):
        state = init[b].astype(np.float64)
        for step in range(4):
            state = a @ state + x[step]
            ref[b, step] = state
    y = jax.jit(lambda t, x: t(x))(t, x)
    assert t.forward_shape(x.shape) == (3, 4, 2)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t.inv(y), np.broadcast_to(x, (3, 4, 2)), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(t.log_abs_det_jacobian(x, y), np.zeros(3))
    # the default start is zero: the last batch member
    np.testing.assert_allclose(RecursiveLinearTransform(a)(x), ref[2], rtol=1e-5, atol=1e-6)
    assert t == RecursiveLinearTransform(a, init) and t != RecursiveLinearTransform(a)
    with pytest.raises(ValueError, match="initial_value"):
        RecursiveLinearTransform(a, np.zeros(3))
