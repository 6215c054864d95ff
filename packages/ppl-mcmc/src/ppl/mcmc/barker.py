"""The Barker proposal (Livingstone & Zanella, 2022): a gradient-informed
Metropolis-Hastings kernel that is robust to the choice of step size.

In preconditioned coordinates (:math:`x = A^T u` with :math:`A^T A = M^{-1}`,
the inverse mass matrix), each coordinate moves by :math:`w_i = b_i z_i` with

.. math::

    z_i \\sim \\mathcal N(0, \\epsilon^2), \\qquad
    P(b_i = 1) = \\sigma\\big(-z_i\\, (A\\nabla U(x))_i\\big), \\quad b_i \\in \\{-1, 1\\},

where :math:`\\sigma` is the logistic function: the proposal leans towards
decreasing potential :math:`U = -\\log\\pi`, but unlike Langevin proposals
its increments stay bounded by the Gaussian whatever the gradient's size. The
proposal :math:`y = x + A^T w` is accepted with probability
:math:`\\min(1, e^{\\log\\alpha})`,

.. math::

    \\log\\alpha = U(x) - U(y) + \\sum_i \\Big[
        \\log\\big(1 + e^{w_i (A\\nabla U(x))_i}\\big)
        - \\log\\big(1 + e^{-w_i (A\\nabla U(y))_i}\\big)\\Big].

During warmup the step size :math:`\\epsilon` and the mass matrix are adapted
with the same windowed scheme as HMC (:mod:`ppl.mcmc.adaptation`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree

from ppl.infer.initialization import init_to_uniform
from ppl.mcmc.adaptation import Adapter, HMCAdaptState, warmup_adapter
from ppl.mcmc.checks import (
    check_positive,
    structure_key,
)
from ppl.mcmc.integrators import IntegratorState
from ppl.mcmc.metrics import resolve_layout
from ppl.mcmc.model_init import ModelKernel

__all__ = ["BarkerMH", "BarkerMHState"]


class BarkerMHState(NamedTuple):
    """The state of :class:`BarkerMH`.

    Attributes:
        i: the iteration count (warmup iterations included).
        z: the latent values, in unconstrained space.
        potential_energy: the potential energy at ``z``.
        z_grad: the gradient of the potential energy at ``z``.
        accept_prob: the acceptance probability of the last proposal.
        mean_accept_prob: its running mean (restarted when sampling starts).
        adapt_state: the :class:`~ppl.mcmc.adaptation.HMCAdaptState` holding
            the step size and the (inverse) mass matrix and its square roots.
        rng_key: the random key for the next transition.
    """

    i: jax.Array
    z: Any
    potential_energy: jax.Array
    z_grad: Any
    accept_prob: jax.Array
    mean_accept_prob: jax.Array
    adapt_state: HMCAdaptState
    rng_key: jax.Array


def _precondition(sqrt_inv: jax.Array, v: jax.Array) -> jax.Array:
    """:math:`A v`, with :math:`A = M^{-1/2}` (a diagonal or a triangular matrix)."""
    return sqrt_inv * v if sqrt_inv.ndim == 1 else sqrt_inv @ v


def _unprecondition(sqrt_inv: jax.Array, w: jax.Array) -> jax.Array:
    """:math:`A^T w`: a step in preconditioned coordinates, in the original ones."""
    return sqrt_inv * w if sqrt_inv.ndim == 1 else sqrt_inv.T @ w


def barker_log_accept_ratio(
    potential_x: jax.Array,
    potential_y: jax.Array,
    step: jax.Array,
    grad_x: jax.Array,
    grad_y: jax.Array,
) -> jax.Array:
    """:math:`\\log\\alpha` of a Barker move ``x -> y`` (see :mod:`ppl.mcmc.barker`).

    Args:
        potential_x: :math:`U(x)`.
        potential_y: :math:`U(y)`.
        step: the increment :math:`w` in preconditioned coordinates.
        grad_x: :math:`A\\nabla U(x)`, the preconditioned gradient at ``x``.
        grad_y: :math:`A\\nabla U(y)`.
    """
    correction = jax.nn.softplus(step * grad_x) - jax.nn.softplus(-step * grad_y)
    return potential_x - potential_y + jnp.sum(correction)


def _barker_transition(
    potential_fn: Callable, adapter: Adapter, num_warmup: int, state: BarkerMHState
) -> BarkerMHState:
    x, unravel = ravel_pytree(state.z)
    x_grad, _ = ravel_pytree(state.z_grad)
    adapt_state = state.adapt_state
    sqrt_inv = adapt_state.mass_matrix_sqrt_inv
    rng_key, key_normal, key_sign, key_accept = jax.random.split(state.rng_key, 4)

    grad_x = _precondition(sqrt_inv, x_grad)
    magnitude = adapt_state.step_size * jax.random.normal(key_normal, x.shape, x.dtype)
    # P(b = 1) = sigmoid(-z g): compare a uniform with it on the logit scale.
    logistic = jax.random.logistic(key_sign, x.shape, x.dtype)
    step = jnp.where(logistic < -magnitude * grad_x, magnitude, -magnitude)
    y = x + _unprecondition(sqrt_inv, step)
    potential_y, y_grad = jax.value_and_grad(lambda v: potential_fn(unravel(v)))(y)
    grad_y = _precondition(sqrt_inv, y_grad)

    log_ratio = barker_log_accept_ratio(state.potential_energy, potential_y, step, grad_x, grad_y)
    log_ratio = jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)
    accept_prob = jnp.exp(jnp.minimum(log_ratio, 0.0))
    accept = jax.random.exponential(key_accept, dtype=log_ratio.dtype) > -log_ratio
    x, potential_x, x_grad = jax.tree.map(
        lambda new, old: jnp.where(accept, new, old),
        (y, potential_y, y_grad),
        (x, state.potential_energy, x_grad),
    )

    in_warmup = state.i < num_warmup
    if num_warmup > 0:
        adapt_state = lax.cond(
            in_warmup,
            lambda a: adapter.update(
                state.i, accept_prob, IntegratorState(x, None, potential_x, x_grad), a
            ),
            lambda a: a,
            adapt_state,
        )
    i = state.i + 1
    # The running mean restarts when sampling starts.
    n = jnp.where(in_warmup, i, i - num_warmup).astype(accept_prob.dtype)
    mean_accept_prob = state.mean_accept_prob + (accept_prob - state.mean_accept_prob) / n
    return BarkerMHState(
        i=i,
        z=unravel(x),
        potential_energy=potential_x,
        z_grad=unravel(x_grad),
        accept_prob=accept_prob,
        mean_accept_prob=mean_accept_prob,
        adapt_state=adapt_state,
        rng_key=rng_key,
    )


def _barker_init(
    potential_fn: Callable,
    adapter: Adapter,
    z: Any,
    step_size: jax.Array,
    inverse_mass_matrix: Any,
    rng_key: jax.Array,
) -> BarkerMHState:
    x, unravel = ravel_pytree(z)
    potential, grad = jax.value_and_grad(lambda v: potential_fn(unravel(v)))(x)
    rng_key, key_adapt = jax.random.split(rng_key)
    adapt_state = adapter.init(
        IntegratorState(x, None, potential, grad), key_adapt, step_size, inverse_mass_matrix
    )
    float_zero = jnp.zeros((), x.dtype)
    return BarkerMHState(
        i=jnp.zeros((), jnp.int32),
        z=z,
        potential_energy=potential,
        z_grad=unravel(grad),
        accept_prob=float_zero,
        mean_accept_prob=float_zero,
        adapt_state=adapt_state,
        rng_key=rng_key,
    )


class BarkerMH(ModelKernel):
    """Metropolis-Hastings with the Barker proposal (Livingstone & Zanella, 2022).

    A gradient-based kernel whose proposal is skewed, coordinate by
    coordinate, towards higher density (see :mod:`ppl.mcmc.barker`). Each
    step costs one potential and gradient evaluation; it suits low to
    moderate dimensional models and is far less sensitive to the step size
    than Langevin (MALA) proposals. The step size and the mass matrix are
    adapted during warmup as in :class:`~ppl.mcmc.hmc.HMC`.

    Args:
        model: a model built from ppl primitives; the potential energy is
            derived from it. Exactly one of ``model`` and ``potential_fn`` is
            required.
        potential_fn: the potential energy :math:`U(z)` of latent values
            ``z`` of any pytree type; ``init_params`` of the same type must
            then be given to :meth:`init` / :meth:`MCMC.run`.
        step_size: the (initial) step size :math:`\\epsilon`.
        adapt_step_size: adapt the step size by dual averaging during warmup.
        adapt_mass_matrix: adapt the mass matrix (Welford covariance) during warmup.
        dense_mass: use a dense mass matrix (``True``) or a diagonal one.
        target_accept_prob: the acceptance probability step-size adaptation
            aims at (0.4 by default, near-optimal for Barker proposals).
        init_strategy: the initialization strategy for a ``model``.
        inverse_mass_matrix: an initial inverse mass matrix over the raveled
            latent values (keyword only, an addition to NumPyro's signature):
            1-d for a diagonal matrix, 2-d for a dense one (its shape then
            decides, whatever ``dense_mass`` says). Defaults to the identity.

    References:
        Livingstone, S. & Zanella, G. (2022). *The Barker proposal: combining
        robustness and efficiency in gradient-based MCMC*. JRSS B 84(2).

    Example:
        >>> import jax
        >>> import ppl
        >>> import ppl.distributions as dist
        >>> from ppl.mcmc import MCMC
        >>> from ppl.mcmc.barker import BarkerMH
        >>> def model():
        ...     ppl.sample("x", dist.Normal(0.0, 2.0).expand([3]))
        >>> mcmc = MCMC(BarkerMH(model), num_warmup=500, num_samples=500, progress_bar=False)
        >>> mcmc.run(jax.random.PRNGKey(0))
        >>> mcmc.get_samples()["x"].shape
        (500, 3)
    """

    _transient_attrs = (*ModelKernel._transient_attrs, "_adapter")

    def __init__(
        self,
        model: Callable | None = None,
        potential_fn: Callable | None = None,
        step_size: float = 1.0,
        adapt_step_size: bool = True,
        adapt_mass_matrix: bool = True,
        dense_mass: bool = False,
        target_accept_prob: float = 0.4,
        init_strategy: Callable = init_to_uniform,
        *,
        inverse_mass_matrix: Any = None,
    ) -> None:
        super().__init__(model, potential_fn, init_strategy)
        check_positive("step_size", step_size)
        if not isinstance(dense_mass, (bool, np.bool_)):
            raise ValueError(f"dense_mass must be a bool, got {dense_mass!r}")
        if not 0.0 < float(target_accept_prob) < 1.0:
            raise ValueError(f"target_accept_prob must lie in (0, 1), got {target_accept_prob!r}")
        if inverse_mass_matrix is not None and jnp.ndim(inverse_mass_matrix) not in (1, 2):
            raise ValueError(
                "inverse_mass_matrix must be a 1-d (diagonal) or 2-d (dense) array, got shape "
                f"{jnp.shape(inverse_mass_matrix)}"
            )
        self._step_size = float(step_size)
        self._adapt_step_size = bool(adapt_step_size)
        self._adapt_mass_matrix = bool(adapt_mass_matrix)
        self._dense_mass = bool(dense_mass)
        self._target_accept_prob = float(target_accept_prob)
        self._inverse_mass_matrix = inverse_mass_matrix
        # Built by init.
        self._adapter: Adapter | None = None
        self._num_warmup = 0

    def get_diagnostics_str(self, state: BarkerMHState) -> str:
        return (
            f"step size {float(state.adapt_state.step_size):.2e}. "
            f"acc. prob={float(state.mean_accept_prob):.2f}"
        )

    def init(
        self,
        rng_key: jax.Array,
        num_warmup: int,
        init_params: Any = None,
        model_args: tuple = (),
        model_kwargs: dict | None = None,
    ) -> BarkerMHState:
        """The initial :class:`BarkerMHState` (a batch of states for a batch of keys).

        Args:
            rng_key: a key, or a batch of keys (then ``init_params``, if given,
                has a leading batch dimension).
            num_warmup: the number of warmup (adaptation) iterations.
            init_params: initial unconstrained values; required with
                ``potential_fn``.
            model_args: positional arguments of the model.
            model_kwargs: keyword arguments of the model.
        """
        model_kwargs = {} if model_kwargs is None else model_kwargs
        init = self._prepare_init(
            rng_key, num_warmup, init_params, model_args, model_kwargs, validate_grad=True
        )
        rng_key, z, z_single, batched = init.rng_key, init.z, init.z_single, init.batched
        if not jax.tree.leaves(z_single):
            raise ValueError("init_params has no latent values to sample")
        layout, inverse_mass_matrix = resolve_layout(
            z_single, self._dense_mass, self._inverse_mass_matrix, False
        )
        self._num_warmup = int(num_warmup)
        self._adapter = warmup_adapter(
            self._num_warmup,
            layout,
            adapt_step_size=self._adapt_step_size,
            adapt_mass_matrix=self._adapt_mass_matrix,
            target_accept_prob=self._target_accept_prob,
        )
        self._spec_key = (self._num_warmup, structure_key(z_single), layout.dense_all)
        self._sample_fn = self._sample_chains
        adapter = self._adapter

        def init_state(potential_fn: Callable, z: Any, step_size: Any, imm: Any, key: Any) -> Any:
            return _barker_init(potential_fn, adapter, z, step_size, imm, key)

        # A NumPy scalar: converting on the device would compile a program.
        step_size = np.asarray(self._step_size, jnp.result_type(float))
        return self._run_compiled_init(
            model_args,
            model_kwargs,
            z_single,
            self._spec_key,
            init_state,
            (z, step_size, inverse_mass_matrix, rng_key),
            (None, 0, None, None, 0) if batched else None,
        )

    def _transition(self, potential_fn: Callable, state: BarkerMHState) -> BarkerMHState:
        return _barker_transition(potential_fn, self._adapter, self._num_warmup, state)

    def sample(self, state: BarkerMHState, model_args: tuple, model_kwargs: dict) -> BarkerMHState:
        """One Barker Metropolis-Hastings transition from ``state``."""
        return self._run_sample(state, model_args, model_kwargs)
