"""ppl.distributions.special against scipy.special / scipy.stats and finite differences."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special as sp
import scipy.stats as st

from ppl.distributions.special import betainc, exp1_scaled, von_mises_cdf

# (a, b, x): both sides of the mode (the continued fraction is flipped above it),
# shapes below 1, a long tail and a large, nearly symmetric pair.
BETAINC_POINTS = np.array(
    [
        (2.0, 3.0, 0.4),
        (0.5, 0.5, 0.1),
        (0.5, 0.5, 0.9),
        (30.0, 2.0, 0.95),
        (2.5, 0.5, 0.999),
        (0.1, 5.0, 0.01),
        (200.0, 300.0, 0.41),
        (1.0, 1.0, 0.3),
    ]
)


def _central_difference(f, args, i, eps):
    up, down = list(args), list(args)
    up[i] = args[i] + eps
    down[i] = args[i] - eps
    return (f(*up) - f(*down)) / (2 * eps)


def test_betainc_values_and_gradients_match_scipy():
    a, b, x = (jnp.asarray(c, jnp.float32) for c in BETAINC_POINTS.T)
    # (values are JAX's float32 betainc, a few ulps off for large a + b)
    np.testing.assert_allclose(betainc(a, b, x), sp.betainc(*BETAINC_POINTS.T), rtol=1e-4)
    grads = jax.vmap(jax.grad(betainc, argnums=(0, 1, 2)))(a, b, x)
    params = list(BETAINC_POINTS.T)
    for i, g in enumerate(grads):
        fd = _central_difference(sp.betainc, params, i, 1e-6 * np.maximum(1.0, params[i]))
        np.testing.assert_allclose(g, fd, rtol=2e-4, atol=1e-6)


def test_betainc_edges_and_broadcasting():
    # At x = 0 and x = 1 the value no longer depends on a and b.
    for edge in (0.0, 1.0):
        ga, gb = jax.grad(betainc, argnums=(0, 1))(2.0, 3.0, edge)
        assert float(ga) == 0.0 and float(gb) == 0.0
    # broadcasting and integer arguments
    assert betainc(jnp.ones((3, 1)), 2, jnp.full((4,), 0.5)).shape == (3, 4)


@pytest.mark.parametrize("kappa", [0.01, 0.7, 4.0, 49.0, 51.0, 400.0])
def test_von_mises_cdf_matches_scipy_on_both_branches(kappa):
    x = np.linspace(-np.pi, np.pi, 11)
    np.testing.assert_allclose(
        von_mises_cdf(np.float32(x), kappa), st.vonmises(kappa).cdf(x), atol=2e-6
    )


def test_von_mises_cdf_gradients():
    x, kappa = 0.3, 2.0
    gx, gk = jax.grad(von_mises_cdf, argnums=(0, 1))(x, kappa)
    np.testing.assert_allclose(gx, st.vonmises(kappa).pdf(x), rtol=1e-5)
    fd = (st.vonmises(kappa + 1e-5).cdf(x) - st.vonmises(kappa - 1e-5).cdf(x)) / 2e-5
    np.testing.assert_allclose(gk, fd, rtol=1e-4)


def test_exp1_scaled_matches_scipy_across_the_switch():
    x = np.array([1e-3, 0.5, 3.0, 39.0, 40.0, 41.0, 200.0, 1e4])
    # scipy's exp1 underflows long before 1e4: its asymptotic form there
    expected = np.where(x < 500, np.exp(np.minimum(x, 500)) * sp.exp1(x), 1 / x - 1 / x**2)
    np.testing.assert_allclose(exp1_scaled(np.float32(x)), expected, rtol=2e-6)
    np.testing.assert_allclose(jax.grad(exp1_scaled)(2.0), exp1_scaled(2.0) - 0.5, rtol=1e-5)
