"""Optimizers with the interface SVI drives: ``init``, ``update``, ``get_params``.

Every optimizer here is an optax gradient transformation wrapped in
:class:`_PPLOptim`, whose state is the pair ``(step, inner_state)``. The
classes keep the names, arguments and update rules of NumPyro's optimizers
(which follow the classic ``jax.example_libraries.optimizers``), so a
``step_size`` may be a number or a schedule ``step -> step size``. Any optax
transformation (chains, schedules, ``optax.lbfgs``) can be used directly
through :func:`optax_to_ppl`, which SVI applies by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from ppl.optim._transforms import scale_by_adagrad_momentum, scale_by_sm3_momentum

__all__ = [
    "SM3",
    "SGD",
    "Adagrad",
    "Adam",
    "ClippedAdam",
    "Momentum",
    "RMSProp",
    "RMSPropMomentum",
    "_PPLOptim",
    "optax_to_ppl",
]

#: ``(step, inner optimizer state)``
IterOptState = tuple[Any, Any]


def value_and_grad(
    fn: Callable[[Any], tuple], params: Any, forward_mode_differentiation: bool = False
) -> tuple[tuple[Any, Any], Any]:
    """``((value, aux), grad)`` of ``fn(params) -> (value, aux)``, in reverse or forward mode."""
    if not forward_mode_differentiation:
        return jax.value_and_grad(fn, has_aux=True)(params)

    def with_value(x: Any) -> tuple:
        value, aux = fn(x)
        return value, (value, aux)

    grads, (value, aux) = jax.jacfwd(with_value, has_aux=True)(params)
    return (value, aux), grads


def all_finite(value: Any, grads: Any) -> jax.Array:
    """Whether ``value`` and every gradient entry are finite."""
    return jnp.isfinite(value) & jnp.all(jnp.isfinite(ravel_pytree(grads)[0]))


class _PPLOptim:
    """The optimizer interface used by SVI (NumPyro's ``_NumPyroOptim``).

    Args:
        optim_fn: called as ``optim_fn(*args, **kwargs)``, returns the triple
            ``(init_fn, update_fn, get_params_fn)`` of the classic JAX
            optimizers: ``init_fn(params) -> opt_state``,
            ``update_fn(step, grads, opt_state) -> opt_state`` and
            ``get_params_fn(opt_state) -> params``.
    """

    def __init__(self, optim_fn: Callable, *args: Any, **kwargs: Any) -> None:
        self.init_fn, self.update_fn, self.get_params_fn = optim_fn(*args, **kwargs)

    def init(self, params: Any) -> IterOptState:
        """The initial state ``(0, opt_state)`` for ``params``."""
        return jnp.array(0), self.init_fn(params)

    def update(self, g: Any, state: IterOptState, **extra_args: Any) -> IterOptState:
        """One step with gradient ``g``.

        ``extra_args`` (``value``, ``grad``, ``value_fn``) reach optax
        transformations that take them, such as ``optax.lbfgs``.
        """
        step, opt_state = state
        if extra_args:
            opt_state = self.update_fn(step, g, opt_state, **extra_args)
        else:
            opt_state = self.update_fn(step, g, opt_state)
        return step + 1, opt_state

    def _extra_args(self, fn: Callable, value: Any, grads: Any) -> dict:
        return {}

    def eval_and_update(
        self,
        fn: Callable[[Any], tuple],
        state: IterOptState,
        forward_mode_differentiation: bool = False,
    ) -> tuple[tuple[Any, Any], IterOptState]:
        """Evaluate ``fn(params) -> (loss, aux)`` and take one step on its gradient.

        Returns:
            ``((loss, aux), new_state)``.
        """
        params = self.get_params(state)
        (value, aux), grads = value_and_grad(fn, params, forward_mode_differentiation)
        return (value, aux), self.update(grads, state, **self._extra_args(fn, value, grads))

    def eval_and_stable_update(
        self,
        fn: Callable[[Any], tuple],
        state: IterOptState,
        forward_mode_differentiation: bool = False,
    ) -> tuple[tuple[Any, Any], IterOptState]:
        """Like :meth:`eval_and_update`, but a step whose loss or gradient is not finite
        is skipped: the state is returned unchanged and the loss reported as ``nan``."""
        params = self.get_params(state)
        (value, aux), grads = value_and_grad(fn, params, forward_mode_differentiation)
        extra = self._extra_args(fn, value, grads)
        value, state = jax.lax.cond(
            all_finite(value, grads),
            lambda: (value, self.update(grads, state, **extra)),
            lambda: (jnp.full_like(value, jnp.nan), state),
        )
        return (value, aux), state

    def get_params(self, state: IterOptState) -> Any:
        """The current parameters held in ``state``."""
        _, opt_state = state
        return self.get_params_fn(opt_state)


def _optax_triple(transformation: optax.GradientTransformation) -> tuple:
    def init_fn(params: Any) -> tuple:
        return params, transformation.init(params)

    def update_fn(step: Any, grads: Any, state: tuple, **extra_args: Any) -> tuple:
        params, opt_state = state
        updates, opt_state = transformation.update(grads, opt_state, params, **extra_args)
        return optax.apply_updates(params, updates), opt_state

    def get_params_fn(state: tuple) -> Any:
        return state[0]

    return init_fn, update_fn, get_params_fn


class _OptaxOptim(_PPLOptim):
    """An optax transformation behind the :class:`_PPLOptim` interface.

    The inner state is ``(params, optax_state)``.
    """

    def __init__(self, transformation: optax.GradientTransformation) -> None:
        _check_transformation(transformation, "transformation")
        self.transformation = transformation
        super().__init__(_optax_triple, transformation)

    def _extra_args(self, fn: Callable, value: Any, grads: Any) -> dict:
        if not isinstance(self.transformation, optax.GradientTransformationExtraArgs):
            return {}
        # Line searches (optax.lbfgs) re-evaluate the objective at trial points.
        return {"value": value, "grad": grads, "value_fn": lambda params: fn(params)[0]}


def _check_transformation(transformation: Any, argument: str) -> None:
    if not isinstance(transformation, optax.GradientTransformation):
        raise TypeError(
            f"{argument} must be an optax.GradientTransformation (e.g. optax.adam(1e-3)), got "
            f"{type(transformation).__module__}.{type(transformation).__qualname__}"
        )


def optax_to_ppl(transformation: optax.GradientTransformation) -> _PPLOptim:
    """Wrap an optax transformation as a ppl optimizer (NumPyro's ``optax_to_numpyro``).

    SVI does this itself when given an optax transformation; call it to use
    one with other code that expects ``init``/``update``/``get_params``.
    Transformations that take extra arguments (``optax.lbfgs``) receive the
    loss value, its gradient and the objective in :meth:`_PPLOptim.eval_and_update`.
    """
    return _OptaxOptim(transformation)


def _check_step_size(step_size: Any) -> Any:
    if callable(step_size):
        return step_size
    try:
        value = float(step_size)
    except (TypeError, ValueError):
        raise TypeError(
            "step_size must be a positive number or a schedule (a callable step -> step size), "
            f"got {step_size!r}"
        ) from None
    if not value > 0:
        raise ValueError(f"step_size must be positive, got {step_size!r}")
    return step_size


class Adam(_OptaxOptim):
    r"""Adam (Kingma and Ba, 2015).

    .. math::

        m_t = b_1 m_{t-1} + (1-b_1) g_t,\quad v_t = b_2 v_{t-1} + (1-b_2) g_t^2,\quad
        x_{t} = x_{t-1} - \eta_t \frac{m_t / (1-b_1^t)}{\sqrt{v_t / (1-b_2^t)} + \epsilon}

    Args:
        step_size: the step size :math:`\eta`, or a schedule ``step -> step size``.
        b1, b2: decay rates of the first and second moment averages.
        eps: added to the denominator.
    """

    def __init__(
        self, step_size: Any, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
    ) -> None:
        super().__init__(optax.adam(_check_step_size(step_size), b1=b1, b2=b2, eps=eps))


class ClippedAdam(_OptaxOptim):
    """:class:`Adam` with each gradient entry first clipped to ``[-clip_norm, clip_norm]``.

    Args:
        step_size, b1, b2, eps: as for :class:`Adam`.
        clip_norm: the bound on the absolute value of each gradient entry.
    """

    def __init__(self, *args: Any, clip_norm: float = 10.0, **kwargs: Any) -> None:
        if not clip_norm > 0:
            raise ValueError(f"clip_norm must be positive, got {clip_norm!r}")
        self.clip_norm = clip_norm
        adam = Adam(*args, **kwargs).transformation
        super().__init__(optax.chain(optax.clip(clip_norm), adam))


class SGD(_OptaxOptim):
    r"""Plain gradient descent: :math:`x_t = x_{t-1} - \eta_t g_t`."""

    def __init__(self, step_size: Any) -> None:
        super().__init__(optax.sgd(_check_step_size(step_size)))


class Momentum(_OptaxOptim):
    r"""Gradient descent with momentum: :math:`v_t = \text{mass}\, v_{t-1} + g_t`,
    :math:`x_t = x_{t-1} - \eta_t v_t`."""

    def __init__(self, step_size: Any, mass: float) -> None:
        super().__init__(optax.sgd(_check_step_size(step_size), momentum=mass))


class RMSProp(_OptaxOptim):
    r"""RMSProp: :math:`a_t = \gamma a_{t-1} + (1-\gamma) g_t^2`,
    :math:`x_t = x_{t-1} - \eta_t g_t / \sqrt{a_t + \epsilon}`."""

    def __init__(self, step_size: Any, gamma: float = 0.9, eps: float = 1e-8) -> None:
        super().__init__(optax.rmsprop(_check_step_size(step_size), decay=gamma, eps=eps))


class RMSPropMomentum(_OptaxOptim):
    r"""RMSProp with momentum: :math:`m_t = \mu m_{t-1} + \eta_t g_t / \sqrt{a_t + \epsilon}`,
    :math:`x_t = x_{t-1} - m_t`."""

    def __init__(
        self, step_size: Any, gamma: float = 0.9, eps: float = 1e-8, momentum: float = 0.9
    ) -> None:
        super().__init__(
            optax.chain(
                optax.scale_by_rms(decay=gamma, eps=eps),
                optax.scale_by_learning_rate(_check_step_size(step_size)),
                optax.trace(decay=momentum),
            )
        )


class Adagrad(_OptaxOptim):
    r"""Adagrad with momentum: :math:`G_t = G_{t-1} + g_t^2`,
    :math:`m_t = (1-\mu) g_t/\sqrt{G_t} + \mu m_{t-1}`, :math:`x_t = x_{t-1} - \eta_t m_t`."""

    def __init__(self, step_size: Any, momentum: float = 0.9) -> None:
        super().__init__(
            optax.chain(
                scale_by_adagrad_momentum(momentum),
                optax.scale_by_learning_rate(_check_step_size(step_size)),
            )
        )


class SM3(_OptaxOptim):
    """SM3, the memory-efficient adaptive optimizer of Anil et al. (2019), with momentum."""

    def __init__(self, step_size: Any, momentum: float = 0.9) -> None:
        super().__init__(
            optax.chain(
                scale_by_sm3_momentum(momentum),
                optax.scale_by_learning_rate(_check_step_size(step_size)),
            )
        )
