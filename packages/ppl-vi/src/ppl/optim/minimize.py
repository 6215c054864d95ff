"""Deterministic minimization in one optimizer step: BFGS or L-BFGS to convergence."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree
from jax.scipy.optimize import minimize as scipy_minimize

from ppl.optim.optimizers import IterOptState, _PPLOptim

__all__ = ["Minimize"]

_METHODS = ("BFGS", "L-BFGS")


@jax.tree_util.register_pytree_node_class
class MinimizeState:
    """Flat parameters and the function that unflattens them (static)."""

    def __init__(self, flat_params: jax.Array, unravel_fn: Callable) -> None:
        self.flat_params = flat_params
        self.unravel_fn = unravel_fn

    def tree_flatten(self) -> tuple:
        return (self.flat_params,), self.unravel_fn

    @classmethod
    def tree_unflatten(cls, unravel_fn: Callable, children: tuple) -> MinimizeState:
        return cls(children[0], unravel_fn)

    def __iter__(self):
        return iter((self.flat_params, self.unravel_fn))


def _minimize_triple() -> tuple:
    def init_fn(params: Any) -> MinimizeState:
        return MinimizeState(*ravel_pytree(params))

    def update_fn(step: Any, grads: Any, state: MinimizeState, **extra_args: Any) -> MinimizeState:
        # Minimize moves only through eval_and_update, which runs a whole minimization.
        return state

    def get_params_fn(state: MinimizeState) -> Any:
        return state.unravel_fn(state.flat_params)

    return init_fn, update_fn, get_params_fn


def _lbfgs(
    loss_fn: Callable, x0: jax.Array, tol: float, maxiter: int, **lbfgs_kwargs: Any
) -> tuple[jax.Array, jax.Array]:
    solver = optax.lbfgs(**lbfgs_kwargs)
    value_and_grad = optax.value_and_grad_from_state(loss_fn)

    def body(carry: tuple) -> tuple:
        x, state, _, _, count = carry
        value, grad = value_and_grad(x, state=state)
        updates, state = solver.update(grad, state, x, value=value, grad=grad, value_fn=loss_fn)
        return optax.apply_updates(x, updates), state, value, optax.tree.norm(grad), count + 1

    def cond(carry: tuple) -> jax.Array:
        _, _, _, grad_norm, count = carry
        return (count == 0) | ((count < maxiter) & (grad_norm >= tol))

    init = (x0, solver.init(x0), jnp.array(jnp.inf, x0.dtype), jnp.array(jnp.inf, x0.dtype), 0)
    x, _, _, _, _ = jax.lax.while_loop(cond, body, init)
    return x, loss_fn(x)


class Minimize(_PPLOptim):
    """Minimize the objective to convergence in a single ``update``.

    Meant for deterministic objectives: MAP with an :class:`~ppl.vi.autoguide.AutoDelta`
    or :class:`~ppl.vi.autoguide.AutoLaplaceApproximation` guide, or maximum
    likelihood with an empty guide; with a stochastic ELBO each step is an
    expensive minimization of one Monte Carlo draw.

    Args:
        method: ``"BFGS"`` (:func:`jax.scipy.optimize.minimize`) or
            ``"L-BFGS"`` (:func:`optax.lbfgs` with its zoom line search).
        **kwargs: for BFGS, the keyword arguments of
            :func:`jax.scipy.optimize.minimize` (``tol``, ``options``); for
            L-BFGS, ``tol`` (gradient norm at which to stop, default ``1e-6``),
            ``maxiter`` (default 500) and the keyword arguments of
            :func:`optax.lbfgs` (``memory_size``, ``linesearch``, ...).

    Example::

        svi = SVI(model, AutoLaplaceApproximation(model), Minimize(), Trace_ELBO())
        state, loss = svi.update(svi.init(jax.random.key(0), x, y), x, y)
    """

    def __init__(self, method: str = "BFGS", **kwargs: Any) -> None:
        if method not in _METHODS:
            raise ValueError(f"Minimize: method must be one of {list(_METHODS)}, got {method!r}")
        super().__init__(_minimize_triple)
        self._method = method
        self._kwargs = kwargs

    def _run(self, loss_fn: Callable, x0: jax.Array) -> tuple[jax.Array, jax.Array]:
        if self._method == "BFGS":
            result = scipy_minimize(loss_fn, x0, method="BFGS", **self._kwargs)
            return result.x, result.fun
        kwargs = dict(self._kwargs)
        tol = kwargs.pop("tol", 1e-6)
        maxiter = kwargs.pop("maxiter", 500)
        return _lbfgs(loss_fn, x0, tol, maxiter, **kwargs)

    def eval_and_update(
        self,
        fn: Callable[[Any], tuple],
        state: IterOptState,
        forward_mode_differentiation: bool = False,
    ) -> tuple[tuple[Any, Any], IterOptState]:
        """Minimize ``fn`` from the current parameters; returns ``((loss, None), state)``."""
        step, (flat_params, unravel_fn) = state

        def loss_fn(x: jax.Array) -> jax.Array:
            value, aux = fn(unravel_fn(x))
            if aux is not None:
                raise ValueError(
                    "Minimize cannot optimize objectives with mutable state (the loss "
                    "returned auxiliary state); use a gradient optimizer such as Adam"
                )
            return value

        x, value = self._run(loss_fn, flat_params)
        return (value, None), (step + 1, MinimizeState(x, unravel_fn))

    def eval_and_stable_update(
        self,
        fn: Callable[[Any], tuple],
        state: IterOptState,
        forward_mode_differentiation: bool = False,
    ) -> tuple[tuple[Any, Any], IterOptState]:
        """Like :meth:`eval_and_update`, keeping the old state if the minimum is not finite."""
        (value, aux), new_state = self.eval_and_update(fn, state, forward_mode_differentiation)
        finite = jnp.isfinite(value) & jnp.all(jnp.isfinite(new_state[1].flat_params))
        value, chosen = jax.lax.cond(
            finite, lambda: (value, new_state), lambda: (jnp.full_like(value, jnp.nan), state)
        )
        return (value, aux), chosen
