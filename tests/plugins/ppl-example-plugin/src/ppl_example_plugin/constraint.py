"""``TriangularSupport``: a new constraint type, and the bijection ppl should use for it."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from ppl.constraints import Constraint, interval
from ppl.transforms import Transform, biject_to


class TriangularSupport(Constraint):
    """The closed interval ``[low, high]`` on which a triangular density lives.

    A constraint type of its own (rather than ``interval``) so that the plugin
    has something to teach :func:`ppl.transforms.biject_to`; see
    :func:`triangular_support_bijection`.
    """

    event_dim = 0

    def __init__(self, low: Any, high: Any) -> None:
        self.low = low
        self.high = high

    def __call__(self, x: Any) -> Any:
        return (x >= self.low) & (x <= self.high)

    def __repr__(self) -> str:
        return f"TriangularSupport(low={self.low}, high={self.high})"

    def feasible_like(self, prototype: Any) -> Any:
        midpoint = (jnp.asarray(self.low) + jnp.asarray(self.high)) / 2
        return jnp.broadcast_to(midpoint, jnp.shape(prototype))

    def tree_flatten(self):
        return (self.low, self.high), (("low", "high"), {})


def triangular_support_bijection(constraint: TriangularSupport) -> Transform:
    """Reals onto ``[low, high]``: the same map ppl uses for an interval.

    Registered for :class:`TriangularSupport` through the plugin's
    ``register_bijections`` hook, so ``biject_to(TriangularSupport(a, b))``
    works for MCMC and SVI on models with triangular latents.
    """
    return biject_to(interval(constraint.low, constraint.high))
