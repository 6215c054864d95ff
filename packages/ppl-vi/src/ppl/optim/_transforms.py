"""Gradient transformations that optax does not ship in the form ppl's optimizers need.

:func:`scale_by_adagrad_momentum` and :func:`scale_by_sm3_momentum` follow the
update rules of the classic JAX optimizers (``jax.example_libraries``), which
NumPyro's ``Adagrad`` and ``SM3`` wrap: a momentum average of the gradient
divided by the square root of an accumulator, with no epsilon.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["scale_by_adagrad_momentum", "scale_by_sm3_momentum"]


def _inverse_sqrt(accumulator: jax.Array) -> jax.Array:
    # A coordinate whose gradient has always been zero keeps a zero step.
    positive = accumulator > 0
    return jnp.where(positive, jax.lax.rsqrt(jnp.where(positive, accumulator, 1.0)), 0.0)


class AdagradMomentumState(NamedTuple):
    """Sum of squared gradients and the momentum average of scaled gradients."""

    sum_of_squares: Any
    momentum: Any


def scale_by_adagrad_momentum(momentum: float = 0.9) -> optax.GradientTransformation:
    r"""Adagrad with a momentum average.

    .. math::

        G_t = G_{t-1} + g_t^2, \qquad
        m_t = (1 - \mu)\, g_t / \sqrt{G_t} + \mu\, m_{t-1}

    The update returned is :math:`m_t` (scale it by minus the step size).
    """

    def init(params: Any) -> AdagradMomentumState:
        zeros = jax.tree.map(jnp.zeros_like, params)
        return AdagradMomentumState(zeros, zeros)

    def update(updates: Any, state: AdagradMomentumState, params: Any = None) -> tuple:
        del params
        sum_of_squares = jax.tree.map(lambda s, g: s + jnp.square(g), state.sum_of_squares, updates)
        new_momentum = jax.tree.map(
            lambda m, g, s: (1.0 - momentum) * g * _inverse_sqrt(s) + momentum * m,
            state.momentum,
            updates,
            sum_of_squares,
        )
        return new_momentum, AdagradMomentumState(sum_of_squares, new_momentum)

    return optax.GradientTransformation(init, update)


class SM3MomentumState(NamedTuple):
    """Per-axis maxima of the accumulators (one vector per axis of each leaf) and momentum."""

    accumulators: Any
    momentum: Any


def _axis_accumulators(x: jax.Array) -> list[jax.Array]:
    if jnp.ndim(x) == 0:
        return [jnp.zeros((), x.dtype)]
    return [jnp.zeros(size, x.dtype) for size in jnp.shape(x)]


def _expand_along(vector: jax.Array, ndim: int, axis: int) -> jax.Array:
    if ndim == 0:
        return vector
    shape = [1] * ndim
    shape[axis] = vector.shape[0]
    return jnp.reshape(vector, shape)


def _sm3_leaf(g: jax.Array, accumulators: list, m: jax.Array, momentum: float) -> tuple:
    ndim = jnp.ndim(g)
    expanded = [_expand_along(v, ndim, axis) for axis, v in enumerate(accumulators)]
    accumulator = functools.reduce(jnp.minimum, expanded) + jnp.square(g)
    new_m = (1.0 - momentum) * g * _inverse_sqrt(accumulator) + momentum * m
    if ndim == 0:
        new_accumulators = [accumulator]
    else:
        new_accumulators = [
            jnp.max(accumulator, axis=tuple(a for a in range(ndim) if a != axis))
            for axis in range(ndim)
        ]
    return new_m, new_accumulators


def scale_by_sm3_momentum(momentum: float = 0.9) -> optax.GradientTransformation:
    r"""SM3 (memory-efficient adaptive optimization, Anil et al. 2019) with momentum.

    Each array of shape :math:`(n_1, \ldots, n_k)` keeps one accumulator vector
    per axis; the accumulator of a coordinate is the minimum over its axes,
    plus :math:`g^2`, and each axis vector stores the maximum over the others.
    """

    def init(params: Any) -> SM3MomentumState:
        leaves, treedef = jax.tree.flatten(params)
        accumulators = [_axis_accumulators(jnp.asarray(x)) for x in leaves]
        momenta = [jnp.zeros_like(x) for x in leaves]
        return SM3MomentumState(accumulators, jax.tree.unflatten(treedef, momenta))

    def update(updates: Any, state: SM3MomentumState, params: Any = None) -> tuple:
        del params
        grads, treedef = jax.tree.flatten(updates)
        momenta = treedef.flatten_up_to(state.momentum)
        results = [
            _sm3_leaf(g, acc, m, momentum)
            for g, acc, m in zip(grads, state.accumulators, momenta, strict=True)
        ]
        new_momenta = jax.tree.unflatten(treedef, [r[0] for r in results])
        return new_momenta, SM3MomentumState([r[1] for r in results], new_momenta)

    return optax.GradientTransformation(init, update)
