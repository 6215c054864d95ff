"""The triangular distribution, written against ppl's distribution protocol.

It subclasses nothing from :mod:`ppl.distributions`: anything with
``sample``, ``log_prob``, ``batch_shape``, ``event_shape`` and ``support`` can
stand in a ``ppl.sample`` statement, and ``expand`` lets ``ppl.plate``
broadcast it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import random

from ppl.util import is_validation_enabled
from ppl_example_plugin.constraint import TriangularSupport


@jax.tree_util.register_pytree_node_class
class Triangular:
    r"""Triangular distribution on ``[low, high]`` with its peak at ``mode``.

    .. math::

        p(x) = \begin{cases}
            \dfrac{2 (x - a)}{(b - a)(c - a)} & a \le x < c, \\[1ex]
            \dfrac{2 (b - x)}{(b - a)(b - c)} & c \le x \le b,
        \end{cases}

    with :math:`a` = ``low``, :math:`b` = ``high``, :math:`c` = ``mode``.
    Draws invert the CDF, whose value at the mode is
    :math:`(c - a) / (b - a)`, so they are reparameterized.

    Args:
        low: the lower end of the support.
        mode: the peak, ``low <= mode <= high``.
        high: the upper end, ``high > low``.
        validate_args: check the parameters (when concrete); defaults to
            :func:`ppl.is_validation_enabled`.
    """

    event_shape: tuple = ()
    is_discrete = False
    has_rsample = True
    has_enumerate_support = False
    reparametrized_params = ("low", "mode", "high")

    def __init__(self, low: Any, mode: Any, high: Any, *, validate_args: bool | None = None):
        self.low, self.mode, self.high = (jnp.asarray(p, dtype=float) for p in (low, mode, high))
        if validate_args is None:
            validate_args = is_validation_enabled()
        if validate_args:
            self._validate()

    def _validate(self) -> None:
        if any(isinstance(p, jax.core.Tracer) for p in (self.low, self.mode, self.high)):
            return
        if not jnp.all(self.low < self.high):
            raise ValueError(
                f"Triangular: low must be < high, got low={self.low}, high={self.high}"
            )
        if not jnp.all((self.low <= self.mode) & (self.mode <= self.high)):
            raise ValueError(
                f"Triangular: mode must lie in [low, high], got low={self.low}, "
                f"mode={self.mode}, high={self.high}"
            )

    @property
    def batch_shape(self) -> tuple:
        # Derived from the parameters, so it stays right when jax.vmap strips a dimension.
        return jnp.broadcast_shapes(jnp.shape(self.low), jnp.shape(self.mode), jnp.shape(self.high))

    @property
    def support(self) -> TriangularSupport:
        return TriangularSupport(self.low, self.high)

    @property
    def mean(self) -> jax.Array:
        return jnp.broadcast_to((self.low + self.mode + self.high) / 3, self.batch_shape)

    @property
    def variance(self) -> jax.Array:
        a, b, c = self.low, self.high, self.mode
        return jnp.broadcast_to(
            (a * a + b * b + c * c - a * b - a * c - b * c) / 18, self.batch_shape
        )

    def shape(self, sample_shape: tuple = ()) -> tuple:
        return tuple(sample_shape) + tuple(self.batch_shape) + self.event_shape

    def cdf(self, value: Any) -> jax.Array:
        a, b, c = self.low, self.high, self.mode
        x = jnp.clip(value, a, b)
        left = (x - a) ** 2 / ((b - a) * _nonzero(c - a))
        right = 1 - (b - x) ** 2 / ((b - a) * _nonzero(b - c))
        return jnp.where(x < c, left, right)

    def icdf(self, q: Any) -> jax.Array:
        a, b, c = self.low, self.high, self.mode
        width = b - a
        left = a + jnp.sqrt(q * width * (c - a))
        right = b - jnp.sqrt((1 - q) * width * (b - c))
        return jnp.where(q < (c - a) / width, left, right)

    def sample(self, key: jax.Array, sample_shape: tuple = ()) -> jax.Array:
        q = random.uniform(key, self.shape(sample_shape))
        return self.icdf(q)

    def __call__(self, *args: Any, **kwargs: Any) -> jax.Array:
        kwargs.pop("sample_intermediates", None)
        key = kwargs.pop("rng_key")
        return self.sample(key, *args, **kwargs)

    def log_prob(self, value: Any) -> jax.Array:
        a, b, c = self.low, self.high, self.mode
        # Each branch's denominator is replaced where the branch is unused, so
        # a mode at an end of the support gives no 0/0 (nor NaN gradients).
        left = (value - a) / _nonzero(c - a)
        right = (b - value) / _nonzero(b - c)
        shape = jnp.where(value < c, left, right)
        inside = (value >= a) & (value <= b)
        safe_shape = jnp.where(inside, shape, 1.0)
        return jnp.where(inside, jnp.log(2 / (b - a)) + jnp.log(safe_shape), -jnp.inf)

    def expand(self, batch_shape: tuple) -> Triangular:
        batch_shape = tuple(batch_shape)
        try:
            compatible = jnp.broadcast_shapes(self.batch_shape, batch_shape) == batch_shape
        except ValueError:
            compatible = False
        if not compatible:
            raise ValueError(
                f"Triangular.expand: batch_shape {batch_shape} does not broadcast the "
                f"distribution's batch shape {self.batch_shape}"
            )
        low, mode, high = (
            jnp.broadcast_to(p, batch_shape) for p in (self.low, self.mode, self.high)
        )
        return Triangular(low, mode, high, validate_args=False)

    def tree_flatten(self):
        return (self.low, self.mode, self.high), None

    @classmethod
    def tree_unflatten(cls, aux_data, params):
        # JAX may unflatten with placeholder leaves: set them, do not convert them.
        self = cls.__new__(cls)
        self.low, self.mode, self.high = params
        return self

    def __repr__(self) -> str:
        return f"Triangular(batch_shape={self.batch_shape})"


def _nonzero(x: jax.Array) -> jax.Array:
    return jnp.where(x == 0, 1.0, x)
