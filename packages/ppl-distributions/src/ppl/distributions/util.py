"""Array helpers shared by the distributions (NumPyro keeps these in ``distributions.util``).

They are small, pure functions on JAX arrays: shape promotion, reductions over
event dimensions, numerically careful special functions and a few samplers
that :mod:`jax.random` lacks.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.linalg import solve_triangular

# Shared with ppl-core's constraints and transforms, so both sides agree on layouts.
from ppl._linalg import (
    add_diag,
    clamp_probs,
    matrix_to_tril_vec,
    signed_stick_breaking_tril,
    vec_to_tril_matrix,
)

__all__ = [
    "add_diag",
    "binary_cross_entropy_with_logits",
    "cholesky_of_inverse",
    "cholesky_update",
    "clamp_probs",
    "is_prng_key",
    "lazy_property",
    "log1mexp",
    "logdiffexp",
    "logmatmulexp",
    "matrix_to_tril_vec",
    "not_jax_tracer",
    "promote_shapes",
    "safe_normalize",
    "signed_stick_breaking_tril",
    "sum_rightmost",
    "validate_sample",
    "vec_to_tril_matrix",
    "von_mises_centered",
]


def not_jax_tracer(x: Any) -> bool:
    """Whether ``x`` holds a concrete value (is not a JAX tracer)."""
    return not isinstance(x, jax.core.Tracer)


def is_prng_key(key: Any) -> bool:
    """Whether ``key`` looks like a JAX PRNG key (typed key or raw ``uint32[2]``)."""
    try:
        if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
            return True
        return key.shape[-1:] == (2,) and key.dtype == jnp.uint32
    except AttributeError:
        return False


def _reshape(x: Any, shape: tuple[int, ...]) -> Any:
    # Keep NumPy inputs NumPy, so that constant parameters stay concrete.
    if isinstance(x, np.ndarray | np.generic | int | float | bool):
        return np.reshape(x, shape)
    return jnp.reshape(x, shape)


def promote_shapes(*args: Any, shape: tuple[int, ...] = ()) -> list[Any] | tuple[Any, ...]:
    """Left-pad the shapes of ``args`` with ones so that they all have the same rank.

    The rank is that of the broadcast of all shapes and ``shape``. Arrays are
    reshaped, not broadcast, so the result is cheap and keeps Python scalars as
    they are when nothing needs padding.
    """
    if len(args) < 2 and not shape:
        return args
    shapes = [jnp.shape(arg) for arg in args]
    ndim = len(lax.broadcast_shapes(tuple(shape), *shapes))
    return [
        _reshape(arg, (1,) * (ndim - len(s)) + s) if len(s) < ndim else arg
        for arg, s in zip(args, shapes, strict=True)
    ]


def sum_rightmost(x: Any, dim: int) -> jax.Array:
    """Sum the ``dim`` rightmost dimensions of ``x`` (``dim=0`` returns ``x`` unchanged).

    Works for scalars too: summing more dimensions than ``x`` has is allowed
    and sums everything there is.
    """
    out_dim = jnp.ndim(x) - dim
    x = jnp.reshape(jnp.expand_dims(x, -1), (*jnp.shape(x)[: max(out_dim, 0)], -1))
    return jnp.sum(x, axis=-1)


def binary_cross_entropy_with_logits(x: Any, y: Any) -> jax.Array:
    r"""Stable :math:`-[y \log \sigma(x) + (1 - y) \log(1 - \sigma(x))]`.

    Written as :math:`\text{softplus}(x) - x y`, whose gradient
    :math:`\sigma(x) - y` is right everywhere, including at :math:`x = 0` where
    a ``max(x, 0)`` formulation has a kink.
    """
    return jax.nn.softplus(x) - x * y


def log1mexp(x: Any) -> jax.Array:
    r""":math:`\log(1 - e^{x})` for :math:`x \le 0`, accurate near 0 and for large :math:`|x|`.

    Uses :math:`\log(-\mathrm{expm1}(x))` when :math:`x > -\log 2` and
    :math:`\mathrm{log1p}(-e^x)` otherwise (Mächler, 2012).
    """
    x = jnp.asarray(x)
    return jnp.where(x > -math.log(2.0), jnp.log(-jnp.expm1(x)), jnp.log1p(-jnp.exp(x)))


def logdiffexp(a: Any, b: Any) -> jax.Array:
    r""":math:`\log(e^a - e^b)` for :math:`a > b`, computed without overflow."""
    a, b = jnp.asarray(a), jnp.asarray(b)
    return a + log1mexp(b - a)


def logmatmulexp(x: jax.Array, y: jax.Array) -> jax.Array:
    r""":math:`\log(e^X e^Y)` for log-space matrices, stable for large entries."""
    x_shift = lax.stop_gradient(jnp.amax(x, -1, keepdims=True))
    y_shift = lax.stop_gradient(jnp.amax(y, -2, keepdims=True))
    xy = jnp.log(jnp.matmul(jnp.exp(x - x_shift), jnp.exp(y - y_shift)))
    return xy + x_shift + y_shift


def safe_normalize(x: jax.Array, *, p: int = 2) -> jax.Array:
    """Normalize the last axis of ``x`` to unit ``p``-norm; the zero vector maps to ``e_0``."""
    assert isinstance(p, int | float) and p >= 0
    norm = jnp.linalg.norm(x, p, axis=-1, keepdims=True)
    x = x / jnp.clip(norm, jnp.finfo(jnp.result_type(x)).tiny)
    # The zero vector has no direction: pick the first basis vector.
    e0 = jnp.zeros(x.shape[-1], dtype=x.dtype).at[0].set(1.0)
    return jnp.where(norm > 0, x, e0)


def cholesky_of_inverse(matrix: jax.Array) -> jax.Array:
    r"""Lower Cholesky factor of :math:`M^{-1}` without forming the inverse.

    With :math:`P` the reversal permutation, :math:`\mathrm{chol}(PMP) = L'`
    gives :math:`M = A A^T` for the upper-triangular :math:`A = PL'P`, so
    :math:`M^{-1} = A^{-T} A^{-1}` and :math:`A^{-T}` is the lower factor.
    """
    upper = jnp.linalg.cholesky(matrix[..., ::-1, ::-1])[..., ::-1, ::-1]
    identity = jnp.broadcast_to(jnp.eye(matrix.shape[-1], dtype=upper.dtype), upper.shape)
    return solve_triangular(jnp.swapaxes(upper, -1, -2), identity, lower=True)


def cholesky_update(L: jax.Array, x: jax.Array, coef: Any = 1.0) -> jax.Array:
    r"""Cholesky factor of :math:`LL^T + c\,xx^T` (rank-one update or downdate).

    Implements the classic sweep (Seeger, 2004) with a :func:`jax.lax.scan`
    over columns, batched over leading dimensions.
    """
    batch_shape = lax.broadcast_shapes(L.shape[:-2], x.shape[:-1], jnp.shape(coef))
    L = jnp.broadcast_to(L, batch_shape + L.shape[-2:])
    x = jnp.broadcast_to(x, batch_shape + x.shape[-1:])
    coef = jnp.broadcast_to(coef, batch_shape)
    sign = jnp.sign(coef)
    x = x * jnp.sqrt(jnp.abs(coef))[..., None]
    n = L.shape[-1]

    def step(carry, k):
        L, x = carry
        lkk = L[..., k, k]
        xk = x[..., k]
        r = jnp.sqrt(lkk**2 + sign * xk**2)
        c = r / lkk
        s = xk / lkk
        col = L[..., :, k]
        mask = jnp.arange(n) > k
        new_col = jnp.where(mask, (col + sign[..., None] * s[..., None] * x) / c[..., None], 0.0)
        new_col = new_col.at[..., k].set(r)
        new_x = jnp.where(mask, c[..., None] * x - s[..., None] * new_col, x)
        L = L.at[..., :, k].set(jnp.where(mask | (jnp.arange(n) == k), new_col, col))
        return (L, new_x), None

    (L, _), _ = lax.scan(step, (L, x), jnp.arange(n))
    return L


def von_mises_centered(
    key: jax.Array, concentration: Any, shape: tuple[int, ...] = (), dtype: Any = None
) -> jax.Array:
    """Samples from a von Mises distribution centred at 0 (Best & Fisher, 1979).

    Rejection sampling with a wrapped-Cauchy envelope; the loop runs until every
    element is accepted.
    """
    dtype = dtype or jnp.result_type(float)
    shape = tuple(shape) or jnp.shape(concentration)
    concentration = jnp.broadcast_to(jnp.asarray(concentration, dtype), shape)
    # Below this, Best–Fisher's r loses precision; a second-order expansion is used.
    s_cutoff = {jnp.float16: 1.8e-1, jnp.float32: 2e-2, jnp.float64: 1.2e-4}.get(
        jnp.dtype(dtype).type, 2e-2
    )
    r = 1.0 + jnp.sqrt(1.0 + 4.0 * concentration**2)
    rho = (r - jnp.sqrt(2.0 * r)) / (2.0 * concentration)
    s_exact = (1.0 + rho**2) / (2.0 * rho)
    s_approx = 1.0 / jnp.clip(concentration, jnp.finfo(dtype).tiny)
    s = jnp.where(concentration > s_cutoff, s_exact, s_approx)

    def cond(state):
        _, _, done, _ = state
        return ~jnp.all(done)

    def body(state):
        i, key, done, w = state
        key, uk, vk = jax.random.split(key, 3)
        u = jax.random.uniform(uk, shape, dtype, minval=-1.0, maxval=1.0)
        z = jnp.cos(math.pi * u)
        w_new = jnp.where(done, w, (1.0 + s * z) / (s + z))
        y = concentration * (s - w_new)
        v = jax.random.uniform(vk, shape, dtype)
        accept = (y * (2.0 - y) >= v) | (jnp.log(y / v) + 1.0 >= y)
        return i + 1, key, done | accept, w_new

    init = (jnp.array(0), key, jnp.zeros(shape, bool), jnp.zeros(shape, dtype))
    _, key, _, w = lax.while_loop(cond, body, init)
    sign = jnp.where(jax.random.bernoulli(key, 0.5, shape), 1.0, -1.0)
    return (sign * jnp.arccos(jnp.clip(w, -1.0, 1.0))).astype(dtype)


class lazy_property(functools.cached_property):
    """A property computed at first access and cached in the instance ``__dict__``.

    Distributions use it for parametrizations derived from the ones given
    (e.g. ``probs`` from ``logits``). The cached value lives in ``__dict__``,
    which is what pytree flattening and argument validation look at to decide
    which parametrization was supplied. It is a :class:`functools.cached_property`,
    so documentation tools see a property.
    """


def validate_sample(log_prob_fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate ``log_prob`` so that out-of-support values get ``-inf`` under validation.

    When the distribution validates its arguments, the value is checked
    against ``support`` (warning for concrete out-of-support values) and the
    log density is masked to ``-inf`` where it lies outside.
    """

    @functools.wraps(log_prob_fn)
    def wrapper(self, *args, **kwargs):
        log_prob = log_prob_fn(self, *args, **kwargs)
        if self._validate_args:
            value = kwargs["value"] if "value" in kwargs else args[0]
            mask = self._validate_sample(value)
            log_prob = jnp.where(mask, log_prob, -jnp.inf)
        return log_prob

    return wrapper
