"""Warmup adaptation of the step size and the mass matrix.

The default scheme is Stan's:

* the step size :math:`\\epsilon` follows Nesterov dual averaging
  (Hoffman & Gelman, 2014) on :math:`\\log\\epsilon` so that the mean
  acceptance statistic approaches ``target_accept_prob``; at the end of
  warmup the *averaged* iterate is kept;
* the inverse mass matrix is the (regularized) sample covariance of the
  latent values, estimated with Welford's online algorithm over a sequence
  of doubling windows (see :func:`build_adaptation_schedule`); after each
  window the new matrix is installed and dual averaging restarts.

Dual averaging drives the mean acceptance statistic of its *iterates* to
``target_accept_prob``. Those iterates fluctuate widely (a change
:math:`\\delta` in one statistic moves :math:`\\log\\epsilon` by about
:math:`\\sqrt t\\,\\delta / (\\gamma (t + t_0))`, i.e. by about
:math:`2.4\\,\\delta` late in a 50-iteration window) and the acceptance is
typically concave in :math:`\\log\\epsilon` around the target (it drops
steeply for too large steps), so the averaged step size kept for sampling
accepts more often than the target (Jensen's inequality). Stan and NumPyro
behave the same: on the non-centered eight-schools model with a target of
0.8, the post-warmup mean acceptance is about 0.9 for NUTS and 0.97 for HMC
with 16 leapfrog steps, while for HMC the iterates of the last window
average 0.78.

An adapter is an :class:`Adapter` ``(init, update)`` pair acting on an
:class:`HMCAdaptState`. Kernels only read ``step_size``,
``inverse_mass_matrix`` and ``mass_matrix_sqrt`` from that state, so a
different scheme can be plugged in by passing other step-size or mass-matrix
components to :func:`warmup_adapter`, or by overriding
``HMC._build_adapter`` to return any other :class:`Adapter`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from ppl.mcmc.integrators import IntegratorState, velocity_verlet_step
from ppl.mcmc.metrics import (
    BlockLayout,
    Metric,
    identity_inverse_mass_matrix,
    mass_matrix_sqrt_and_inverse,
)

__all__ = [
    "Adapter",
    "DualAveragingState",
    "HMCAdaptState",
    "WelfordState",
    "build_adaptation_schedule",
    "dual_averaging",
    "find_reasonable_step_size",
    "warmup_adapter",
    "welford_covariance",
]


# -- step size: dual averaging -------------------------------------------------


class DualAveragingState(NamedTuple):
    """State of dual averaging.

    Attributes:
        x: the current iterate (here :math:`\\log\\epsilon`).
        x_avg: the weighted average of the iterates.
        g_avg: the running average of the statistics :math:`g_t`.
        t: the number of updates made.
        prox_center: the point the iterates shrink towards.
    """

    x: jax.Array
    x_avg: jax.Array
    g_avg: jax.Array
    t: jax.Array
    prox_center: jax.Array


def dual_averaging(
    t0: float = 10.0, kappa: float = 0.75, gamma: float = 0.05
) -> tuple[Callable[..., DualAveragingState], Callable[..., DualAveragingState]]:
    """Nesterov's dual averaging, as used for step-size adaptation.

    With statistics :math:`g_t` (here ``target_accept_prob - accept_prob``),
    the updates are

    .. math::

        \\bar g_t = (1 - \\tfrac{1}{t + t_0}) \\bar g_{t-1} + \\tfrac{g_t}{t + t_0},\\quad
        x_t = \\mu - \\tfrac{\\sqrt t}{\\gamma} \\bar g_t,\\quad
        \\bar x_t = t^{-\\kappa} x_t + (1 - t^{-\\kappa}) \\bar x_{t-1}.

    Args:
        t0: stabilizes the first iterations.
        kappa: the decay exponent of the averaging weights.
        gamma: the shrinkage towards ``prox_center`` (:math:`\\mu`).

    Returns:
        ``init(prox_center=0.0)`` and ``update(g, state)``.
    """

    def init(prox_center: Any = 0.0) -> DualAveragingState:
        prox_center = jnp.asarray(prox_center, dtype=jnp.result_type(float))
        zero = jnp.zeros((), prox_center.dtype)
        return DualAveragingState(zero, zero, zero, jnp.zeros((), jnp.int32), prox_center)

    def update(g: Any, state: DualAveragingState) -> DualAveragingState:
        _, x_avg, g_avg, t, prox_center = state
        t = t + 1
        t_float = t.astype(g_avg.dtype)
        g_avg = (1.0 - 1.0 / (t_float + t0)) * g_avg + g / (t_float + t0)
        x = prox_center - jnp.sqrt(t_float) / gamma * g_avg
        weight = t_float ** (-kappa)
        x_avg = (1.0 - weight) * x_avg + weight * x
        return DualAveragingState(x, x_avg, g_avg, t, prox_center)

    return init, update


# -- mass matrix: Welford covariance -------------------------------------------


class WelfordState(NamedTuple):
    """Running mean, sum of squared deviations (diagonal or full) and count."""

    mean: jax.Array
    m2: jax.Array
    n: jax.Array


def welford_covariance(
    diagonal: bool = True,
) -> tuple[Callable[..., WelfordState], Callable[..., WelfordState], Callable[..., jax.Array]]:
    """Welford's online estimate of a (diagonal) covariance.

    Returns:
        ``init(size)``, ``update(x, state)`` and ``final(state, regularize=False)``.
        With ``regularize``, the estimate of :math:`n` draws is shrunk towards
        :math:`10^{-3} I` as Stan does:
        :math:`\\tfrac{n}{n+5}\\hat\\Sigma + 10^{-3}\\tfrac{5}{n+5} I`.
    """

    def init(size: int, dtype: Any = None) -> WelfordState:
        dtype = dtype or jnp.result_type(float)
        m2 = jnp.zeros(size, dtype) if diagonal else jnp.zeros((size, size), dtype)
        return WelfordState(jnp.zeros(size, dtype), m2, jnp.zeros((), jnp.int32))

    def update(x: jax.Array, state: WelfordState) -> WelfordState:
        mean, m2, n = state
        n = n + 1
        delta = x - mean
        mean = mean + delta / n.astype(mean.dtype)
        delta_after = x - mean
        m2 = m2 + (delta_after * delta if diagonal else jnp.outer(delta_after, delta))
        return WelfordState(mean, m2, n)

    def final(state: WelfordState, regularize: bool = False) -> jax.Array:
        _, m2, n = state
        n = n.astype(m2.dtype)
        covariance = m2 / (n - 1.0)
        if regularize:
            shrink = 1e-3 * (5.0 / (n + 5.0))
            covariance = (n / (n + 5.0)) * covariance
            if diagonal:
                covariance = covariance + shrink
            else:
                covariance = covariance + shrink * jnp.eye(covariance.shape[0], dtype=m2.dtype)
        return covariance

    return init, update, final


# -- schedule ------------------------------------------------------------------


def build_adaptation_schedule(num_steps: int) -> list[tuple[int, int]]:
    """Stan's windowed adaptation schedule for ``num_steps`` warmup iterations.

    Warmup is cut into an initial fast window (75 iterations: step size only),
    a sequence of slow windows of doubling size starting at 25 (step size and
    mass matrix; the last one is stretched to fill the gap) and a final fast
    window (50 iterations). When the three default sizes do not fit, they
    become 15%, 75% and 10% of warmup. Fewer than 20 iterations give a single
    window (step size only).

    Returns:
        A list of inclusive ``(start, end)`` iteration pairs.
    """
    if num_steps < 20:
        return [(0, num_steps - 1)]
    start_buffer, end_buffer, first_window = 75, 50, 25
    if start_buffer + end_buffer + first_window > num_steps:
        start_buffer = int(0.15 * num_steps)
        end_buffer = int(0.1 * num_steps)
        first_window = num_steps - start_buffer - end_buffer
    schedule = [(0, start_buffer - 1)]
    end_window_start = num_steps - end_buffer
    window_start, window_size = start_buffer, first_window
    while window_start < end_window_start:
        # A window too small to double is merged into the current one.
        if 3 * window_size <= end_window_start - window_start:
            size = window_size
            window_size = 2 * window_size
        else:
            size = end_window_start - window_start
        schedule.append((window_start, window_start + size - 1))
        window_start += size
    schedule.append((end_window_start, num_steps - 1))
    return schedule


# -- step size heuristic -------------------------------------------------------


def find_reasonable_step_size(
    potential_value_and_grad: Callable[[jax.Array], tuple[jax.Array, jax.Array]],
    metric: Metric,
    step_size: jax.Array,
    inverse_mass_matrix: Any,
    mass_matrix_sqrt: Any,
    z_info: IntegratorState,
    rng_key: jax.Array,
) -> jax.Array:
    """Hoffman & Gelman's heuristic: double or halve until one leapfrog step's
    acceptance :math:`\\exp(-\\Delta H)` crosses 0.8.

    Works on flat latent vectors. A NaN energy error counts as a rejection,
    so the step size shrinks away from regions where the potential is not
    finite.
    """
    log_target = jnp.log(0.8)
    z, _, potential_energy, z_grad = z_info
    finfo = jnp.finfo(jnp.result_type(step_size))

    def body(state):
        step_size, _, direction, rng_key = state
        rng_key, key_momentum = jax.random.split(rng_key)
        step_size = step_size * (2.0 ** direction.astype(step_size.dtype))
        r = metric.sample_momentum(key_momentum, mass_matrix_sqrt)
        new = velocity_verlet_step(
            potential_value_and_grad,
            metric.velocity,
            step_size,
            inverse_mass_matrix,
            IntegratorState(z, r, potential_energy, z_grad),
        )
        energy = potential_energy + metric.kinetic_energy(inverse_mass_matrix, r)
        new_energy = new.potential_energy + metric.kinetic_energy(inverse_mass_matrix, new.r)
        delta = jnp.where(jnp.isnan(new_energy - energy), jnp.inf, new_energy - energy)
        new_direction = jnp.where(log_target < -delta, 1, -1)
        return step_size, direction, new_direction, rng_key

    def cond(state):
        step_size, last_direction, direction, _ = state
        # Stop at the first reversal, or when the step size would leave the float range.
        in_range = ((step_size > finfo.tiny) | (direction >= 0)) & (
            (step_size < finfo.max) | (direction <= 0)
        )
        return in_range & ((last_direction == 0) | (direction == last_direction))

    zero = jnp.zeros((), jnp.int32)
    step_size = jnp.asarray(step_size, jnp.result_type(float))
    step_size, *_ = lax.while_loop(cond, body, (step_size, zero, zero, rng_key))
    return step_size


# -- the adapter ---------------------------------------------------------------


def _prox_center(step_size: jax.Array) -> jax.Array:
    """:math:`\\log(10\\epsilon)`, the point dual averaging shrinks towards (a
    larger step than the current one, so that the search leans towards
    cheaper trajectories). Summing logs stays finite for a step size near the
    float maximum, where ``10 * step_size`` would overflow."""
    return jnp.log(10.0) + jnp.log(step_size)


class HMCAdaptState(NamedTuple):
    """State of warmup adaptation.

    Attributes:
        step_size: the step size for the next iteration.
        inverse_mass_matrix: the inverse mass matrix for the next iteration
            (an array, or a dict of blocks keyed by tuples of site names).
        mass_matrix_sqrt: :math:`M^{1/2}` (a Cholesky factor when dense).
        mass_matrix_sqrt_inv: :math:`M^{-1/2}`.
        ss_state: the step-size scheme's state (dual averaging).
        mm_state: the mass-matrix estimator's state (Welford), per block.
        window_idx: the index of the current adaptation window.
        rng_key: a key for the step-size heuristic.
    """

    step_size: jax.Array
    inverse_mass_matrix: Any
    mass_matrix_sqrt: Any
    mass_matrix_sqrt_inv: Any
    ss_state: Any
    mm_state: Any
    window_idx: jax.Array
    rng_key: jax.Array


class Adapter(NamedTuple):
    """An adaptation scheme.

    Attributes:
        init: ``(z_info, rng_key, step_size, inverse_mass_matrix=None) -> HMCAdaptState``,
            with ``z_info`` an :class:`IntegratorState` on the flat latent vector.
        update: ``(t, accept_prob, z_info, state) -> HMCAdaptState``, called
            after warmup iteration ``t`` (0-based).
    """

    init: Callable[..., HMCAdaptState]
    update: Callable[..., HMCAdaptState]


def warmup_adapter(
    num_adapt_steps: int,
    layout: BlockLayout,
    *,
    find_reasonable_step_size: Callable[..., jax.Array] | None = None,
    adapt_step_size: bool = True,
    adapt_mass_matrix: bool = True,
    target_accept_prob: float = 0.8,
    regularize_mass_matrix: bool = True,
    step_size_adaptation: tuple[Callable, Callable] | None = None,
    mass_matrix_estimator: Callable[[bool], tuple[Callable, Callable, Callable]] = (
        welford_covariance
    ),
    schedule: list[tuple[int, int]] | None = None,
) -> Adapter:
    """Stan-style windowed adaptation of the step size and the mass matrix.

    Args:
        num_adapt_steps: the number of warmup iterations.
        layout: the mass matrix layout (which blocks, dense or diagonal).
        find_reasonable_step_size: optional
            ``(step_size, inverse_mass_matrix, mass_matrix_sqrt, z_info, rng_key) -> step_size``
            run at the start and after each slow window (only when adapting
            the step size).
        adapt_step_size: adapt the step size.
        adapt_mass_matrix: adapt the mass matrix.
        target_accept_prob: the acceptance statistic the step size aims at.
        regularize_mass_matrix: shrink the covariance estimates (Stan's rule).
        step_size_adaptation: an ``(init(prox_center), update(g, state))`` pair
            on :math:`\\log\\epsilon`; defaults to :func:`dual_averaging`. Its
            state needs fields ``x`` (current) and ``x_avg`` (final value).
        mass_matrix_estimator: ``diagonal -> (init(size), update(x, state),
            final(state, regularize))``; defaults to :func:`welford_covariance`.
        schedule: the windows; defaults to :func:`build_adaptation_schedule`.

    Returns:
        An :class:`Adapter`.
    """
    ss_init, ss_update = step_size_adaptation or dual_averaging()
    schedule = build_adaptation_schedule(num_adapt_steps) if schedule is None else schedule
    num_windows = len(schedule)
    window_ends = jnp.array([end for _, end in schedule] or [-1], dtype=jnp.int32)
    if layout.structured:
        estimators = {
            key: mass_matrix_estimator(not dense)
            for key, dense in zip(layout.keys, layout.dense, strict=True)
        }
        block_indices = dict(zip(layout.keys, layout.indices, strict=True))
    else:
        estimator = mass_matrix_estimator(not layout.dense_all)

    def mm_init(dtype: Any) -> Any:
        if layout.structured:
            return {key: estimators[key][0](len(block_indices[key]), dtype) for key in layout.keys}
        return estimator[0](layout.size, dtype)

    def mm_update(z: jax.Array, mm_state: Any) -> Any:
        if layout.structured:
            return {
                key: estimators[key][1](z[block_indices[key]], mm_state[key]) for key in layout.keys
            }
        return estimator[1](z, mm_state)

    def mm_final(mm_state: Any) -> Any:
        if layout.structured:
            return {
                key: estimators[key][2](mm_state[key], regularize_mass_matrix)
                for key in layout.keys
            }
        return estimator[2](mm_state, regularize_mass_matrix)

    def init(
        z_info: IntegratorState,
        rng_key: jax.Array,
        step_size: Any,
        inverse_mass_matrix: Any = None,
    ) -> HMCAdaptState:
        dtype = jnp.result_type(float)
        if inverse_mass_matrix is None:
            inverse_mass_matrix = identity_inverse_mass_matrix(layout, dtype)
        inverse_mass_matrix = jax.tree.map(lambda x: jnp.asarray(x, dtype), inverse_mass_matrix)
        sqrt, sqrt_inv = mass_matrix_sqrt_and_inverse(inverse_mass_matrix)
        step_size = jnp.asarray(step_size, dtype)
        if adapt_step_size and find_reasonable_step_size is not None:
            rng_key, key_ss = jax.random.split(rng_key)
            step_size = find_reasonable_step_size(
                step_size, inverse_mass_matrix, sqrt, z_info, key_ss
            )
        return HMCAdaptState(
            step_size,
            inverse_mass_matrix,
            sqrt,
            sqrt_inv,
            ss_init(_prox_center(step_size)),
            mm_init(dtype),
            jnp.zeros((), jnp.int32),
            rng_key,
        )

    def end_of_window(args: tuple[IntegratorState, jax.Array, HMCAdaptState]) -> HMCAdaptState:
        z_info, key_ss, state = args
        step_size, inverse_mass_matrix, sqrt, sqrt_inv, ss_state, mm_state, *rest = state
        if adapt_mass_matrix:
            inverse_mass_matrix = mm_final(mm_state)
            sqrt, sqrt_inv = mass_matrix_sqrt_and_inverse(inverse_mass_matrix)
            mm_state = mm_init(jnp.result_type(float))
        if adapt_step_size:
            if find_reasonable_step_size is not None:
                step_size = find_reasonable_step_size(
                    step_size, inverse_mass_matrix, sqrt, z_info, key_ss
                )
            ss_state = ss_init(_prox_center(step_size))
        return HMCAdaptState(
            step_size, inverse_mass_matrix, sqrt, sqrt_inv, ss_state, mm_state, *rest
        )

    def update(
        t: jax.Array, accept_prob: jax.Array, z_info: IntegratorState, state: HMCAdaptState
    ) -> HMCAdaptState:
        step_size, inverse_mass_matrix, sqrt, sqrt_inv, ss_state, mm_state, window_idx, key = state
        # The key is only consumed by the step-size heuristic; without it, no
        # generator call is compiled into the loop.
        key_ss = key
        if find_reasonable_step_size is not None:
            key, key_ss = jax.random.split(key)
        if adapt_step_size:
            ss_state = ss_update(target_accept_prob - accept_prob, ss_state)
            # The averaged iterate is the better estimate, but only once it has settled.
            log_step_size = jnp.where(t == num_adapt_steps - 1, ss_state.x_avg, ss_state.x)
            finfo = jnp.finfo(jnp.result_type(log_step_size))
            step_size = jnp.clip(jnp.exp(log_step_size), finfo.tiny, finfo.max)
        is_slow_window = (window_idx > 0) & (window_idx < num_windows - 1)
        if adapt_mass_matrix:
            mm_state = lax.cond(
                is_slow_window,
                lambda s: mm_update(z_info.z, s),
                lambda s: s,
                mm_state,
            )
        at_window_end = t == window_ends[jnp.minimum(window_idx, num_windows - 1)]
        state = HMCAdaptState(
            step_size,
            inverse_mass_matrix,
            sqrt,
            sqrt_inv,
            ss_state,
            mm_state,
            jnp.where(at_window_end, window_idx + 1, window_idx),
            key,
        )
        return lax.cond(
            at_window_end & is_slow_window,
            end_of_window,
            lambda args: args[2],
            (z_info, key_ss, state),
        )

    return Adapter(init, update)
