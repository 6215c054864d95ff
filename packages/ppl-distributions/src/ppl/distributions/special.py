"""Special functions the distributions need beyond :mod:`jax.scipy.special`.

* :func:`betainc`: the regularized incomplete beta function, differentiable in
  all three arguments (JAX's own has no derivative in ``a`` and ``b``, which
  the cdfs of ``Beta``, ``StudentT`` and the negative binomials need).
* :func:`exp1_scaled`: :math:`e^x E_1(x)` without the overflow of the product.
* :func:`von_mises_cdf`: the cdf of the centred von Mises distribution.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import SymbolicZero
from jax.scipy import special as jss

__all__ = ["betainc", "exp1_scaled", "von_mises_cdf"]

# Depth of the continued fraction behind the a- and b-derivatives of betainc:
# it converges in O(sqrt(a + b)) terms where it is used (x below the mode),
# so 128 levels are exact to float64 precision up to a + b ~ 1e4.
_BETAINC_CF_DEPTH = 128


def _as_float(*args: Any) -> list[jax.Array]:
    dtype = jnp.result_type(*args, float)
    return [jnp.asarray(a, dtype) for a in jnp.broadcast_arrays(*args)]


def betainc(a: Any, b: Any, x: Any) -> jax.Array:
    r"""Regularized incomplete beta function, differentiable in ``a``, ``b`` and ``x``.

    .. math:: I_x(a, b) = \frac{1}{B(a, b)} \int_0^x t^{a-1} (1 - t)^{b-1}\, dt

    Values are :func:`jax.scipy.special.betainc`'s. The derivatives in ``a``
    and ``b`` differentiate (forward mode) the continued fraction

    .. math::
        I_x(a, b) = \frac{x^a (1-x)^b}{a B(a, b)}
        \cfrac{1}{1 + \cfrac{d_1}{1 + \cfrac{d_2}{1 + \cdots}}}, \quad
        d_{2m+1} = -\frac{(a+m)(a+b+m)x}{(a+2m)(a+2m+1)}, \quad
        d_{2m} = \frac{m(b-m)x}{(a+2m-1)(a+2m)},

    evaluated bottom-up at a fixed depth on the side of the mode where it
    converges fast (:math:`I_x(a, b) = 1 - I_{1-x}(b, a)` otherwise).

    Args:
        a: first shape parameter, positive.
        b: second shape parameter, positive.
        x: point in :math:`[0, 1]`.
    """
    return _betainc(*_as_float(a, b, x))


@jax.custom_jvp
def _betainc(a, b, x):
    return jss.betainc(a, b, x)


def _log_continued_fraction(a, b, x):
    """``log`` of the continued fraction's denominator, evaluated bottom-up at a fixed depth."""

    def level(i, f):
        k = _BETAINC_CF_DEPTH - i  # innermost level first
        m = jnp.asarray(k // 2, a.dtype)
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        return 1.0 + jnp.where(k % 2 == 1, odd, even) / f

    return jnp.log(lax.fori_loop(0, _BETAINC_CF_DEPTH, level, jnp.ones_like(x)))


@jax.jit
def _betainc_shape_derivatives(a, b, x):
    """``(dI/da, dI/db)`` at ``x`` strictly inside ``(0, 1)``.

    :math:`\\log I = a\\log x + b\\log(1-x) - \\log a - \\log B(a, b) - \\log f`; the
    prefactor is differentiated by hand (digamma), the continued fraction :math:`f`
    in forward mode, both directions in one batched pass.
    """
    flip = x > (a + 1.0) / (a + b + 2.0)
    p, q, y = jnp.where(flip, b, a), jnp.where(flip, a, b), jnp.where(flip, 1.0 - x, x)

    def directional(tangent_p, tangent_q):
        return jax.jvp(
            lambda p, q: _log_continued_fraction(p, q, y), (p, q), (tangent_p, tangent_q)
        )

    ones, zeros = jnp.ones_like(p), jnp.zeros_like(p)
    log_f, dlog_f = jax.vmap(directional)(jnp.stack([ones, zeros]), jnp.stack([zeros, ones]))
    log_y, log1m_y = jnp.log(y), jnp.log1p(-y)
    value = jnp.exp(p * log_y + q * log1m_y - jnp.log(p) - jss.betaln(p, q) - log_f[0])
    digamma_sum = jss.digamma(p + q)
    d_p = value * (log_y - 1.0 / p - jss.digamma(p) + digamma_sum - dlog_f[0])
    d_q = value * (log1m_y - jss.digamma(q) + digamma_sum - dlog_f[1])
    # On the flipped side I_x(a, b) = 1 - I_{1-x}(b, a).
    return jnp.where(flip, -d_q, d_p), jnp.where(flip, -d_p, d_q)


@_betainc.defjvp
def _betainc_jvp(primals, tangents):
    a, b, x = primals
    ta, tb, tx = tangents
    value = _betainc(a, b, x)  # (recursively, so higher derivatives exist too)
    inside = (x > 0) & (x < 1)
    tiny = jnp.finfo(x.dtype).tiny
    x_safe = jnp.where(inside, x, 0.5)
    tangent = jnp.zeros_like(value)
    if not isinstance(tx, SymbolicZero):
        log_density = (
            (a - 1.0) * jnp.log(x_safe) + (b - 1.0) * jnp.log1p(-x_safe) - jss.betaln(a, b)
        )
        tangent = tangent + jnp.where(inside, jnp.exp(log_density), 0.0) * tx
    if not (isinstance(ta, SymbolicZero) and isinstance(tb, SymbolicZero)):
        d_a, d_b = _betainc_shape_derivatives(jnp.maximum(a, tiny), jnp.maximum(b, tiny), x_safe)
        if not isinstance(ta, SymbolicZero):
            tangent = tangent + jnp.where(inside, d_a, 0.0) * ta
        if not isinstance(tb, SymbolicZero):
            tangent = tangent + jnp.where(inside, d_b, 0.0) * tb
    return value, tangent


_betainc.defjvp(_betainc_jvp, symbolic_zeros=True)


# Terms of the asymptotic series e^x E_1(x) ~ sum_k (-1)^k k! / x^{k+1}; at x >= 40
# eight of them are exact to ~1e-9 relative, and E_1 alone would underflow float32.
_EXP1_ASYMPTOTIC_FROM = 40.0
_EXP1_ASYMPTOTIC_TERMS = 8


def exp1_scaled(x: Any) -> jax.Array:
    r"""The scaled exponential integral :math:`e^{x} E_1(x)` for :math:`x > 0`.

    :math:`E_1(x) = \int_1^\infty e^{-xt}/t\, dt`. The product is computed
    directly for moderate ``x`` and from its asymptotic series
    :math:`\sum_k (-1)^k k!/x^{k+1}` for large ``x``, where :math:`e^x` would
    overflow and :math:`E_1(x)` underflow.
    """
    return _exp1_scaled(*_as_float(x))


# Compiled as a unit: called eagerly, the ops would otherwise compile one by one.
@jax.jit
def _exp1_scaled(x):
    large = x >= _EXP1_ASYMPTOTIC_FROM
    x_small = jnp.where(large, 1.0, x)
    x_large = jnp.where(large, x, _EXP1_ASYMPTOTIC_FROM)
    direct = jnp.exp(x_small) * jss.exp1(x_small)
    series = sum(
        (-1) ** k * math.factorial(k) / x_large ** (k + 1) for k in range(_EXP1_ASYMPTOTIC_TERMS)
    )
    return jnp.where(large, series, direct)


# Von Mises cdf: a Fourier series for moderate concentration, a normal
# approximation in sin(x/2) beyond (the series would need O(sqrt(kappa)) terms).
_VON_MISES_SERIES_BELOW = 50.0
_VON_MISES_SERIES_TERMS = 64


def von_mises_cdf(x: Any, concentration: Any) -> jax.Array:
    r"""Cdf of the von Mises distribution centred at 0, for ``x`` in :math:`[-\pi, \pi]`.

    For :math:`\kappa < 50` this sums the Fourier series

    .. math::
        F(x) = \frac{1}{2} + \frac{x}{2\pi}
        + \frac{1}{\pi} \sum_{n \geq 1} \frac{I_n(\kappa)}{I_0(\kappa)} \frac{\sin nx}{n},

    with the Bessel ratios :math:`I_n/I_{n-1} = 1 / (2n/\kappa + I_{n+1}/I_n)`
    from backward recurrence (64 terms, nested so that the ratios multiply
    as they are produced). For larger :math:`\kappa` it uses the normal
    approximation :math:`\Phi\big(\sqrt{2/\pi}\, \sin(x/2) / \mathrm{i0e}(\kappa)\big)`
    whose error is :math:`O(1/\kappa)` in the argument.
    Differentiable in both arguments.

    Args:
        x: angle, in :math:`[-\pi, \pi]`.
        concentration: :math:`\kappa > 0`.
    """
    return _von_mises_cdf(*_as_float(x, concentration))


@jax.jit
def _von_mises_cdf(x, kappa):
    use_series = kappa < _VON_MISES_SERIES_BELOW
    kappa_series = jnp.where(use_series, kappa, 1.0)
    kappa_normal = jnp.where(use_series, _VON_MISES_SERIES_BELOW, kappa)

    def term(i, carry):
        ratio, acc = carry
        n = jnp.asarray(_VON_MISES_SERIES_TERMS - i, x.dtype)
        ratio = 1.0 / (2.0 * n / kappa_series + ratio)
        return ratio, ratio * (jnp.sin(n * x) / n + acc)

    zeros = jnp.zeros_like(x)
    _, acc = lax.fori_loop(0, _VON_MISES_SERIES_TERMS, term, (zeros, zeros))
    series = 0.5 + x / (2 * math.pi) + acc / math.pi
    scale = math.sqrt(2 / math.pi) / jss.i0e(kappa_normal)
    normal = jss.ndtr(scale * jnp.sin(0.5 * x))
    return jnp.clip(jnp.where(use_series, series, normal), 0.0, 1.0)
