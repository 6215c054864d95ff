"""Directional distributions against quadrature, closed forms and independent samplers."""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate as integrate
import scipy.special as sp
import scipy.stats as st

from ppl.distributions.continuous import Normal, Uniform, VonMises
from ppl.distributions.directional import (
    ProjectedNormal,
    SineBivariateVonMises,
    SineSkewed,
    _log_bessel_i,
)

N_DRAWS = 20_000
# Sample means are compared with their truth within this many standard errors.
Z_TOL = 5.0


def _torus_grid(n: int) -> tuple[np.ndarray, float]:
    """Midpoints of an n x n grid on [-pi, pi)^2 (shape (n, n, 2)) and the cell area."""
    g = -math.pi + (np.arange(n) + 0.5) * (2 * math.pi / n)
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1)
    return grid, (2 * math.pi / n) ** 2


def _circle_grid(n: int) -> tuple[np.ndarray, float]:
    return -math.pi + (np.arange(n) + 0.5) * (2 * math.pi / n), 2 * math.pi / n


def _sphere_quadrature(n_z: int = 160, n_a: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Points on S^2 and weights: Gauss-Legendre in z times the trapezoid rule in azimuth."""
    z, wz = np.polynomial.legendre.leggauss(n_z)
    a = np.arange(n_a) * (2 * math.pi / n_a)
    zz, aa = np.meshgrid(z, a, indexing="ij")
    rho = np.sqrt(1 - zz**2)
    points = np.stack([rho * np.cos(aa), rho * np.sin(aa), zz], axis=-1).reshape(-1, 3)
    weights = (wz[:, None] * np.full(n_a, 2 * math.pi / n_a)).reshape(-1)
    return points, weights


def _assert_mean_close(samples: np.ndarray, truth: np.ndarray, what: str) -> None:
    """Sample means over axis 0 within Z_TOL standard errors of ``truth``."""
    mean = samples.mean(0)
    se = samples.std(0) / math.sqrt(samples.shape[0])
    z = np.abs(mean - truth) / np.maximum(se, 1e-12)
    assert np.all(z < Z_TOL), f"{what}: mean {mean}, truth {truth}, z {z}"


# -- ProjectedNormal ---------------------------------------------------------------------------


def _radial_log_density(c: np.ndarray, u: np.ndarray) -> float:
    """log of int_0^inf r^(d-1) N(r u; c, I) dr by adaptive quadrature (the definition)."""
    d = c.shape[-1]
    t = float(c @ u)
    # N(ru; c, I) = (2 pi)^(-d/2) exp(-|c|^2/2) exp(r t - r^2/2); the last factor is
    # integrated after pulling out its maximum, which keeps quad in range.
    r_max = max(t, 0.0)
    shift = r_max * t - 0.5 * r_max**2

    def integrand(r):
        return r ** (d - 1) * math.exp(r * t - 0.5 * r * r - shift)

    # The integrand is negligible more than 40 away from its peak near r_max.
    low, high = max(r_max - 40.0, 0.0), r_max + 40.0
    val, _ = integrate.quad(integrand, low, high, points=[r_max], epsabs=0, epsrel=1e-12, limit=400)
    return math.log(val) + shift - 0.5 * float(c @ c) - 0.5 * d * math.log(2 * math.pi)


@pytest.mark.parametrize("dim", [2, 3])
def test_projected_normal_log_prob_matches_radial_integral(dim):
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        directions = rng.normal(size=(6, dim))
        directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
        # t = c.u spans all branches: positive, moderately and very negative (tail).
        c = directions[0] * np.array([[0.0], [0.7], [3.0], [9.9], [10.1], [25.0], [60.0]])
        u = np.concatenate([directions, -directions[:1]])
        d = ProjectedNormal(jnp.asarray(c[:, None, :]))
        got = np.asarray(d.log_prob(jnp.asarray(u)))
        want = np.array([[_radial_log_density(ci, uj) for uj in u] for ci in c])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_projected_normal_2d_matches_angular_gaussian_formula():
    # Mardia & Jupp (2000), eq. 3.5.50: the projected normal on the circle.
    c = np.array([1.3, -0.4])
    theta, _ = _circle_grid(64)
    u = np.stack([np.cos(theta), np.sin(theta)], -1)
    t = u @ c
    want = np.exp(-0.5 * c @ c) * (1 + t * st.norm.cdf(t) / st.norm.pdf(t)) / (2 * math.pi)
    got = np.exp(np.asarray(ProjectedNormal(jnp.asarray(c)).log_prob(jnp.asarray(u))))
    np.testing.assert_allclose(got, want, rtol=2e-5)


def test_projected_normal_integrates_to_one():
    with jax.enable_x64(True):
        conc2 = jnp.array([[0.0, 0.0], [0.5, -1.0], [4.0, 3.0], [-20.0, 5.0]])
        theta, dtheta = _circle_grid(2048)
        u2 = jnp.stack([jnp.cos(theta), jnp.sin(theta)], -1)[:, None, :]
        mass2 = jnp.exp(ProjectedNormal(conc2).log_prob(u2)).sum(0) * dtheta
        np.testing.assert_allclose(mass2, 1.0, rtol=1e-10)

        conc3 = jnp.array([[0.0, 0.0, 0.0], [0.3, -0.5, 1.0], [2.0, 1.0, -3.0]])
        points, weights = _sphere_quadrature()
        log_p3 = ProjectedNormal(conc3).log_prob(jnp.asarray(points)[:, None, :])
        mass3 = jnp.einsum("n,nb->b", jnp.asarray(weights), jnp.exp(log_p3))
        np.testing.assert_allclose(mass3, 1.0, rtol=1e-8)


PN_CONCENTRATIONS = {
    2: np.array([[0.0, 0.0], [0.8, 0.0], [1.5, -2.0]]),
    3: np.array([[0.0, 0.0, 0.0], [0.8, 0.0, 0.0], [1.5, -2.0, 0.5]]),
    4: np.array([[3.0, 0.0, 4.0, 0.0], [0.0, 0.0, 0.0, 0.0]]),
}


@pytest.fixture(scope="module")
def sphere_draws():
    """Draws of ProjectedNormal in dimensions 2, 3 and 4 from one jitted call."""
    dists = {
        dim: ProjectedNormal(jnp.asarray(c, jnp.float32)) for dim, c in PN_CONCENTRATIONS.items()
    }

    @jax.jit
    def draw(key):
        keys = jax.random.split(key, len(dists))
        return {
            dim: d.sample(k, (N_DRAWS,)) for k, (dim, d) in zip(keys, dists.items(), strict=True)
        }

    draws = draw(jax.random.PRNGKey(1))
    return {dim: (dists[dim], np.asarray(draws[dim], np.float64)) for dim in dists}


@pytest.mark.parametrize("dim", [2, 3])
def test_projected_normal_sample_mean_direction(sphere_draws, dim):
    d, draws = sphere_draws[dim]
    conc = PN_CONCENTRATIONS[dim]
    assert draws.shape == (N_DRAWS, 3, dim)
    assert np.all(np.asarray(d.support(jnp.asarray(draws, jnp.float32))))
    # Independent sampler: numpy Gaussians, normalized.
    x = np.random.default_rng(2).normal(size=(N_DRAWS, 3, dim)) + conc
    reference = x / np.linalg.norm(x, axis=-1, keepdims=True)
    diff = draws.mean(0) - reference.mean(0)
    se = np.sqrt((draws.var(0) + reference.var(0)) / N_DRAWS)
    assert np.all(np.abs(diff) < Z_TOL * se), (diff, se)
    # ... and the mean resultant vector of the density, by quadrature.
    if dim == 2:
        theta, dtheta = _circle_grid(1024)
        u = np.stack([np.cos(theta), np.sin(theta)], -1)
        p = np.exp(np.asarray(d.log_prob(jnp.asarray(u[:, None, :], jnp.float32)), np.float64))
        truth = np.einsum("nb,nd->bd", p, u) * dtheta
    else:
        points, weights = _sphere_quadrature(80, 128)
        p = np.exp(np.asarray(d.log_prob(jnp.asarray(points[:, None, :], jnp.float32)), np.float64))
        truth = np.einsum("n,nb,nd->bd", weights, p, points)
    _assert_mean_close(draws, truth, "ProjectedNormal E[u]")


def test_projected_normal_mean_mode_shapes_and_higher_dims(sphere_draws):
    d, draws = sphere_draws[4]
    assert d.batch_shape == (2,) and d.event_shape == (4,)
    assert ProjectedNormal.infer_shapes((5, 2, 3)) == ((5, 2), (3,))
    np.testing.assert_allclose(d.mean[0], [0.6, 0.0, 0.8, 0.0], rtol=1e-6)
    np.testing.assert_allclose(d.mode[0], [0.6, 0.0, 0.8, 0.0], rtol=1e-6)
    # Zero concentration has no direction; safe_normalize picks e_0.
    np.testing.assert_allclose(d.mean[1], [1.0, 0.0, 0.0, 0.0])
    assert draws.shape == (N_DRAWS, 2, 4)
    np.testing.assert_allclose(np.linalg.norm(draws, axis=-1), 1.0, rtol=1e-5)
    # Zero concentration: uniform on S^3, so each coordinate has mean 0 and variance 1/4.
    _assert_mean_close(draws[:, 1], np.zeros(4), "uniform directions")
    _assert_mean_close(draws[:, 1] ** 2, np.full(4, 0.25), "uniform directions, squares")
    with pytest.raises(NotImplementedError, match=r"dimension 2 or 3.*ProjectedNormalReparam"):
        d.log_prob(jnp.asarray(draws[:3], jnp.float32))
    assert d.has_rsample


def test_projected_normal_gradients():
    @jax.jit
    def log_p(c, u):
        return ProjectedNormal(c).log_prob(u)

    grad_log_p = jax.jit(jax.grad(log_p))
    with jax.enable_x64(True):
        u3 = jnp.array([0.0, 0.6, 0.8])
        for dim, scale in [(2, 0.5), (2, -4.0), (2, -30.0), (3, 1.0), (3, -12.0)]:
            u = u3[-dim:] / jnp.linalg.norm(u3[-dim:])
            c = scale * u + jnp.array([0.3, -0.2, 0.1])[:dim] * (1 - u**2)
            eye = np.eye(dim) * 1e-6
            fd = np.array([(log_p(c + e, u) - log_p(c - e, u)) / 2e-6 for e in eye])
            np.testing.assert_allclose(grad_log_p(c, u), fd, rtol=1e-6, atol=1e-7)
        # The density is continuous where the tail expansion takes over (t = -10).
        u = jnp.array([1.0, 0.0])
        below = log_p(jnp.array([-10.0 - 1e-12, 0.0]), u)
        above = log_p(jnp.array([-10.0, 0.0]), u)
        assert abs(float(below - above)) < 1e-9

    # Reparameterized samples: gradients flow through sample.
    def objective(c):
        return ProjectedNormal(c).sample(jax.random.PRNGKey(0), (100,))[..., 0].mean()

    assert np.all(np.isfinite(jax.grad(objective)(jnp.array([0.5, -1.0, 2.0]))))


def test_projected_normal_validation():
    with pytest.raises(ValueError, match="at least one dimension"):
        ProjectedNormal(1.0)
    with pytest.raises(ValueError, match="concentration"):
        ProjectedNormal(jnp.array([1.0, jnp.nan]))
    d = ProjectedNormal(jnp.array([1.0, 0.0, 0.0]), validate_args=True)
    with pytest.raises(ValueError, match="event shape"):
        d.log_prob(jnp.array([1.0, 0.0]))
    with pytest.warns(UserWarning, match="Out-of-support"):
        lp = d.log_prob(jnp.array([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]]))
    assert lp[0] == -jnp.inf and np.isfinite(lp[1])


def test_projected_normal_jit_as_pytree():
    d = ProjectedNormal(jnp.array([[1.0, -2.0], [0.1, 0.3]]))
    u = jnp.array([0.6, 0.8])
    np.testing.assert_allclose(jax.jit(lambda d, u: d.log_prob(u))(d, u), d.log_prob(u), rtol=1e-6)


# -- SineBivariateVonMises ---------------------------------------------------------------------

# (phi_loc, psi_loc, phi_concentration, psi_concentration, correlation)
SBVM_PARAMS = np.array(
    [
        [0.3, -1.0, 2.0, 3.0, 1.5],  # unimodal
        [2.5, 1.0, 0.5, 4.0, -3.0],  # bimodal (rho^2 > kappa1 kappa2), negative coupling
        [-3.0, 0.2, 6.0, 1.0, 4.0],  # bimodal, near the wrap-around of phi
        [1.0, 0.5, 1.5, 2.0, -12.0],  # strongly bimodal: far from the rejection envelope
    ]
)


def _sbvm(params, **kwargs):
    p = jnp.asarray(params)
    return SineBivariateVonMises(p[..., 0], p[..., 1], p[..., 2], p[..., 3], p[..., 4], **kwargs)


def test_log_bessel_i_matches_scipy():
    x = np.array([1e-3, 0.2, 1.0, 7.5, 60.0, 400.0, 5e3])
    with jax.enable_x64(True):
        got = np.asarray(_log_bessel_i(jnp.asarray(x), 60))
    m = np.arange(60)[:, None]
    with np.errstate(divide="ignore"):
        want = np.log(sp.ive(m, x)) + x
    finite = np.isfinite(want)  # scipy underflows for tiny x and high orders
    assert finite.sum() > 350
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-11)
    # Where scipy underflows, the leading power-series term (x/2)^m / m! is exact enough.
    lead = m * np.log(x / 2) - sp.gammaln(m + 1.0)
    np.testing.assert_allclose(got[~finite], np.broadcast_to(lead, got.shape)[~finite], rtol=1e-6)


def test_sbvm_normalizer_integrates_to_one():
    independent = [0.0, 0.0, 1.0, 2.0, 0.0]
    params = np.concatenate(
        [
            [independent],
            SBVM_PARAMS,
            [
                [0.0, 0.0, 0.1, 0.1, 3.0],  # strongly bimodal, flat margins
                [1.0, -2.0, 40.0, 30.0, -33.0],  # concentrated
            ],
        ]
    )
    grid, area = _torus_grid(400)
    with jax.enable_x64(True):
        d = _sbvm(params)
        mass = jnp.exp(d.log_prob(jnp.asarray(grid)[:, :, None, :])).sum((0, 1)) * area
        np.testing.assert_allclose(mass, 1.0, rtol=1e-10)
        assert d.norm_const.shape == (len(params),)
        # Without coupling the density factorizes into two von Mises densities.
        k1, k2 = independent[2:4]
        want = 2 * math.log(2 * math.pi) + np.log(sp.ive(0, k1) * sp.ive(0, k2)) + k1 + k2
        np.testing.assert_allclose(d.norm_const[0], want, rtol=1e-12)


def test_sbvm_weighted_correlation():
    d = SineBivariateVonMises(0.0, 0.0, 4.0, 9.0, weighted_correlation=0.5)
    np.testing.assert_allclose(d.correlation, 3.0)
    grid, area = _torus_grid(128)
    mass = float(jnp.exp(d.log_prob(jnp.asarray(grid, jnp.float32))).sum() * area)
    assert abs(mass - 1) < 1e-4
    with jax.enable_x64(True):
        big = SineBivariateVonMises(0.0, 0.0, 80.0, 100.0, weighted_correlation=0.9)
        grid, area = _torus_grid(512)
        mass = float(jnp.exp(big.log_prob(jnp.asarray(grid))).sum() * area)
    assert abs(mass - 1) < 1e-9


def _torus_expectations(d, functions, n=256):
    """E[f(phi, psi)] for each f by grid quadrature; d has batch shape (b,)."""
    grid, area = _torus_grid(n)
    p = np.exp(np.asarray(d.log_prob(jnp.asarray(grid)[:, :, None, :]), np.float64)) * area
    return np.stack(
        [np.einsum("ijb,ijb->b", p, f(grid[..., None, 0], grid[..., None, 1])) for f in functions],
        -1,
    )


SKEW_2D = np.array([0.4, -0.3])
VM_LOC, VM_CONC = np.array([0.5, -2.8]), np.array([2.0, 0.7])


@pytest.fixture(scope="module")
def torus_draws():
    """One jitted call draws from every torus distribution tested below."""
    sbvm = _sbvm(SBVM_PARAMS.astype(np.float32))
    vm_product = VonMises(jnp.asarray(VM_LOC, jnp.float32), jnp.asarray(VM_CONC, jnp.float32))
    skewed_2d = SineSkewed(vm_product.to_event(1), jnp.asarray(SKEW_2D, jnp.float32))
    skewed_1d = SineSkewed(VonMises(jnp.array([0.5]), jnp.array([2.0])).to_event(1), [0.7])

    @jax.jit
    def draw(key):
        k1, k2, k3 = jax.random.split(key, 3)
        return (
            sbvm.sample(k1, (N_DRAWS,)),
            skewed_2d.sample(k2, (N_DRAWS,)),
            skewed_1d.sample(k3, (N_DRAWS,)),
        )

    out = draw(jax.random.PRNGKey(3))
    return {
        "sbvm": (sbvm, np.asarray(out[0], np.float64)),
        "skewed_2d": (skewed_2d, np.asarray(out[1], np.float64)),
        "skewed_1d": (skewed_1d, np.asarray(out[2], np.float64)),
    }


def _centred_features(loc):
    mu1, mu2 = loc[..., 0], loc[..., 1]
    return [
        lambda a, b: np.cos(a - mu1),
        lambda a, b: np.sin(a - mu1),
        lambda a, b: np.cos(b - mu2),
        lambda a, b: np.sin(b - mu2),
        lambda a, b: np.sin(a - mu1) * np.sin(b - mu2),
        lambda a, b: np.cos(2 * (a - mu1)),
    ]


@pytest.mark.slow
def test_sbvm_sample_moments_match_density(torus_draws):
    _, x = torus_draws["sbvm"]
    assert x.shape == (N_DRAWS, len(SBVM_PARAMS), 2)
    assert not np.isnan(x).any()
    assert np.all((x >= -math.pi) & (x <= math.pi))
    features = _centred_features(SBVM_PARAMS)
    with jax.enable_x64(True):
        truth = _torus_expectations(_sbvm(SBVM_PARAMS), features)
    values = np.stack([f(x[..., 0], x[..., 1]) for f in features], -1)
    _assert_mean_close(values, truth, "SineBivariateVonMises moments")


def test_sbvm_sample_histogram_chi_square(torus_draws):
    _, x = torus_draws["sbvm"]
    bins = 6
    grid, area = _torus_grid(bins * 40)
    with jax.enable_x64(True):
        p = np.exp(np.asarray(_sbvm(SBVM_PARAMS).log_prob(jnp.asarray(grid)[:, :, None, :])))
    probs = (p * area).reshape(bins, 40, bins, 40, -1).sum((1, 3))
    edges = np.linspace(-math.pi, math.pi, bins + 1)
    for b in range(len(SBVM_PARAMS)):
        counts, _, _ = np.histogram2d(x[:, b, 0], x[:, b, 1], bins=[edges, edges])
        expected = N_DRAWS * probs[..., b]
        keep = expected > 5
        chi2 = (((counts - expected) ** 2)[keep] / expected[keep]).sum()
        assert chi2 < st.chi2.ppf(1 - 1e-4, keep.sum() - 1), (b, chi2)


def test_sbvm_gradients():
    @jax.jit
    def log_p(params, value):
        return _sbvm(params).log_prob(value)

    grad_log_p = jax.jit(jax.grad(log_p))
    with jax.enable_x64(True):
        value = jnp.array([0.4, -2.0])
        for params in [*SBVM_PARAMS, [0.1, -0.2, 1.5, 0.7, 0.0]]:
            params = jnp.asarray(params)
            eye = np.eye(5) * 1e-6
            fd = np.array(
                [(log_p(params + e, value) - log_p(params - e, value)) / 2e-6 for e in eye]
            )
            np.testing.assert_allclose(grad_log_p(params, value), fd, rtol=1e-6, atol=1e-7)
    # Gradients flow in float32 too, concentrated or not.
    grad = grad_log_p(jnp.array([0.0, 0.0, 300.0, 200.0, 50.0]), jnp.array([0.1, 0.1]))
    assert np.all(np.isfinite(grad))


def test_sbvm_shapes_mean_and_pytree():
    d = SineBivariateVonMises(jnp.zeros((3, 1)), 3.0, 1.0, jnp.array([1.0, 2.0]), correlation=0.5)
    assert d.batch_shape == (3, 2) and d.event_shape == (2,)
    assert d.mean.shape == (3, 2, 2)
    np.testing.assert_allclose(d.mean[0, 0], [0.0, 3.0], rtol=1e-6)
    value = jnp.array([0.2, -0.4])
    np.testing.assert_allclose(
        jax.jit(lambda d, v: d.log_prob(v))(d, value), d.log_prob(value), rtol=1e-5
    )
    assert d.log_prob(jnp.zeros((4, 1, 1, 2))).shape == (4, 3, 2)
    # Tracing is enough for shapes (and skips compiling the sampler).
    x = jax.eval_shape(lambda key: d.sample(key, (5,)), jax.random.PRNGKey(0))
    assert x.shape == (5, 3, 2, 2)
    assert not d.has_rsample


def test_sbvm_exhausted_rejection_loop_gives_nan():
    d = SineBivariateVonMises(0.0, 0.0, 1.0, 1.0, correlation=0.5)
    d.max_sample_iter = 0
    assert np.isnan(np.asarray(d.sample(jax.random.PRNGKey(0), (3,)))).all()


def test_sbvm_validation():
    with pytest.raises(ValueError, match="exactly one of correlation and weighted_correlation"):
        SineBivariateVonMises(0.0, 0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="exactly one"):
        SineBivariateVonMises(0.0, 0.0, 1.0, 1.0, correlation=0.2, weighted_correlation=0.2)
    with pytest.raises(ValueError, match="phi_concentration"):
        SineBivariateVonMises(0.0, 0.0, -1.0, 1.0, correlation=0.0)
    with pytest.raises(ValueError, match="psi_loc"):
        SineBivariateVonMises(0.0, 4.0, 1.0, 1.0, correlation=0.0)
    with pytest.raises(ValueError, match="correlation"):
        SineBivariateVonMises(0.0, 0.0, 1.0, 1.0, correlation=jnp.inf)
    d = SineBivariateVonMises(0.0, 0.0, 1.0, 1.0, correlation=0.0, validate_args=True)
    with pytest.warns(UserWarning, match="Out-of-support"):
        assert d.log_prob(jnp.array([4.0, 0.0])) == -jnp.inf


# -- SineSkewed ---------------------------------------------------------------------------------


def test_sine_skewed_1d_density_and_moments(torus_draws):
    d, x = torus_draws["skewed_1d"]
    loc, kappa, lam = 0.5, 2.0, 0.7
    theta, dtheta = _circle_grid(512)
    log_p = np.asarray(d.log_prob(jnp.asarray(theta[:, None], jnp.float32)))
    want = st.vonmises.logpdf(theta, kappa, loc=loc) + np.log1p(lam * np.sin(theta - loc))
    np.testing.assert_allclose(log_p, want, rtol=1e-5, atol=1e-5)
    assert abs(np.exp(log_p).sum() * dtheta - 1) < 1e-5
    # E[sin(x - mu)] = lam E_vM[sin^2] = lam (1 - I2/I0)/2 and E[cos(x - mu)] = I1/I0.
    assert x.shape == (N_DRAWS, 1)
    assert np.all((x >= -math.pi) & (x <= math.pi))
    r = x[:, 0] - loc
    truth = np.array(
        [
            lam * (1 - sp.ive(2, kappa) / sp.ive(0, kappa)) / 2,
            sp.ive(1, kappa) / sp.ive(0, kappa),
        ]
    )
    _assert_mean_close(np.stack([np.sin(r), np.cos(r)], -1), truth, "SineSkewed 1-d")


def test_sine_skewed_sbvm_base_integrates_to_one():
    grid, area = _torus_grid(256)
    with jax.enable_x64(True):
        base = _sbvm(SBVM_PARAMS)
        d = SineSkewed(base, jnp.array([[0.4, -0.3], [-0.5, 0.5], [0.9, 0.05], [0.0, -0.8]]))
        log_p = np.asarray(d.log_prob(jnp.asarray(grid)[:, :, None, :]))
        base_log_p = np.asarray(base.log_prob(jnp.asarray(grid)[:, :, None, :]))
    np.testing.assert_allclose(np.exp(log_p).sum((0, 1)) * area, 1.0, rtol=1e-10)
    # The skewing factor is 1 + sum_i lambda_i sin(x_i - mu_i).
    skew = np.asarray(d.skewness)
    factor = 1 + (skew * np.sin(grid[:, :, None, :] - SBVM_PARAMS[:, :2])).sum(-1)
    np.testing.assert_allclose(log_p, base_log_p + np.log(factor), rtol=1e-10, atol=1e-10)


def test_sine_skewed_2d_sample_moments(torus_draws):
    d, x = torus_draws["skewed_2d"]
    assert x.shape == (N_DRAWS, 2)
    assert np.all((x >= -math.pi) & (x <= math.pi))
    # Independent von Mises base: by the closed forms of the 1-d test, per angle.
    r = x - VM_LOC
    ratio1, ratio2 = (sp.ive(k, VM_CONC) / sp.ive(0, VM_CONC) for k in (1, 2))
    truth = np.concatenate([SKEW_2D * (1 - ratio2) / 2, ratio1])
    _assert_mean_close(np.concatenate([np.sin(r), np.cos(r)], -1), truth, "SineSkewed 2-d")
    grid, area = _torus_grid(256)
    mass = np.exp(np.asarray(d.log_prob(jnp.asarray(grid, jnp.float32)), np.float64)).sum() * area
    assert abs(mass - 1) < 1e-5


def test_sine_skewed_uniform_base_and_batching():
    base = Uniform(-math.pi, math.pi).expand([2]).to_event(1)
    skew = jnp.array([[0.5, 0.5], [-0.2, 0.1], [0.0, 0.0]])
    d = SineSkewed(base, skew)
    assert d.batch_shape == (3,) and d.event_shape == (2,)
    value = jnp.array([0.3, -1.2])
    want = -2 * math.log(2 * math.pi) + np.log1p((np.asarray(skew) * np.sin(value)).sum(-1))
    np.testing.assert_allclose(d.log_prob(value), want, rtol=1e-6)
    np.testing.assert_allclose(d.mean, 0.0)
    x = jax.eval_shape(lambda key: d.sample(key, (4,)), jax.random.PRNGKey(0))
    assert x.shape == (4, 3, 2)
    np.testing.assert_allclose(
        jax.jit(lambda d, v: d.log_prob(v))(d, value), d.log_prob(value), rtol=1e-6
    )
    grad = jax.grad(lambda s: SineSkewed(base, s).log_prob(value).sum())(skew)
    np.testing.assert_allclose(
        grad,
        np.sin(np.asarray(value)) / (1 + (skew * np.sin(np.asarray(value))).sum(-1))[:, None],
        rtol=1e-5,
    )


def test_sine_skewed_validation():
    base = SineBivariateVonMises(0.0, 0.0, 1.0, 1.0, correlation=0.0)
    with pytest.raises(ValueError, match="skewness"):
        SineSkewed(base, jnp.array([0.8, 0.5]))
    with pytest.raises(ValueError, match="event shape"):
        SineSkewed(base, jnp.array([0.1, 0.1, 0.1]))
    with pytest.raises(ValueError, match="event shape"):
        SineSkewed(Normal(0.0, 1.0), jnp.array([0.1]))
    with pytest.raises(TypeError, match="Distribution"):
        SineSkewed("VonMises", jnp.array([0.1]))
    d = SineSkewed(base, jnp.array([0.2, 0.1]), validate_args=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert d.log_prob(jnp.array([0.0, 7.0])) == -jnp.inf
