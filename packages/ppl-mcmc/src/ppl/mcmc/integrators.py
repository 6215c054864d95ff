"""The velocity Verlet (leapfrog) integrator of Hamiltonian dynamics.

One step of size :math:`\\epsilon` maps :math:`(z, r)` to

.. math::

    r_{1/2} = r - \\tfrac{\\epsilon}{2} \\nabla U(z), \\quad
    z' = z + \\epsilon\\, \\nabla_r K(r_{1/2}), \\quad
    r' = r_{1/2} - \\tfrac{\\epsilon}{2} \\nabla U(z').

It is symplectic and time reversible: a step of size :math:`-\\epsilon`
undoes a step of size :math:`\\epsilon`, which is what lets NUTS grow its
trajectory backwards in time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

__all__ = ["IntegratorState", "value_and_grad", "velocity_verlet", "velocity_verlet_step"]


class IntegratorState(NamedTuple):
    """A point of phase space with the potential energy and its gradient there."""

    z: Any
    r: Any
    potential_energy: Any
    z_grad: Any


def value_and_grad(
    fn: Callable[[Any], jax.Array], forward_mode_differentiation: bool = False
) -> Callable[[Any], tuple[jax.Array, Any]]:
    """``x -> (fn(x), grad fn(x))`` by reverse mode, or by forward mode.

    Forward mode pushes one tangent per coordinate through ``fn`` (batched
    with :func:`jax.vmap`); it is useful when ``fn`` contains control flow
    that only supports forward differentiation, such as ``lax.while_loop``.
    """
    if not forward_mode_differentiation:
        return jax.value_and_grad(fn)

    def forward(x: Any) -> tuple[jax.Array, Any]:
        flat, unravel = ravel_pytree(x)
        basis = jnp.eye(flat.size, dtype=flat.dtype)

        def directional(tangent: jax.Array) -> tuple[jax.Array, jax.Array]:
            return jax.jvp(lambda y: fn(unravel(y)), (flat,), (tangent,))

        values, derivatives = jax.vmap(directional)(basis)
        value = fn(x) if flat.size == 0 else values[0]
        return value, unravel(derivatives)

    return forward


def velocity_verlet_step(
    potential_value_and_grad: Callable[[Any], tuple[jax.Array, Any]],
    velocity_fn: Callable[[Any, Any], Any],
    step_size: jax.Array,
    inverse_mass_matrix: Any,
    state: IntegratorState,
) -> IntegratorState:
    """One leapfrog step of size ``step_size`` (negative steps go back in time).

    Args:
        potential_value_and_grad: ``z -> (U(z), grad U(z))``.
        velocity_fn: ``(inverse_mass_matrix, r) -> grad_r K(r)``.
        step_size: the (signed) step size.
        inverse_mass_matrix: passed through to ``velocity_fn``.
        state: the current :class:`IntegratorState`.
    """
    z, r, _, z_grad = state
    r = jax.tree.map(lambda r, g: r - 0.5 * step_size * g, r, z_grad)
    v = velocity_fn(inverse_mass_matrix, r)
    z = jax.tree.map(lambda z, v: z + step_size * v, z, v)
    potential_energy, z_grad = potential_value_and_grad(z)
    r = jax.tree.map(lambda r, g: r - 0.5 * step_size * g, r, z_grad)
    return IntegratorState(z, r, potential_energy, z_grad)


def velocity_verlet(
    potential_fn: Callable[[Any], jax.Array],
    kinetic_fn: Callable[[Any, Any], jax.Array],
    forward_mode_differentiation: bool = False,
) -> tuple[Callable[..., IntegratorState], Callable[..., IntegratorState]]:
    """The velocity Verlet integrator on pytrees, as an ``(init_fn, update_fn)`` pair.

    Args:
        potential_fn: the potential energy :math:`U(z)`.
        kinetic_fn: the kinetic energy ``kinetic_fn(inverse_mass_matrix, r)``.
        forward_mode_differentiation: differentiate ``potential_fn`` in forward mode.

    Returns:
        ``init_fn(z, r, potential_energy=None, z_grad=None) -> IntegratorState``
        and ``update_fn(step_size, inverse_mass_matrix, state) -> IntegratorState``.
    """
    potential_value_and_grad = value_and_grad(potential_fn, forward_mode_differentiation)
    velocity_fn = jax.grad(kinetic_fn, argnums=1)

    def init_fn(
        z: Any, r: Any, potential_energy: Any = None, z_grad: Any = None
    ) -> IntegratorState:
        if potential_energy is None or z_grad is None:
            potential_energy, z_grad = potential_value_and_grad(z)
        return IntegratorState(z, r, potential_energy, z_grad)

    def update_fn(
        step_size: jax.Array, inverse_mass_matrix: Any, state: IntegratorState
    ) -> IntegratorState:
        return velocity_verlet_step(
            potential_value_and_grad, velocity_fn, step_size, inverse_mass_matrix, state
        )

    return init_fn, update_fn
