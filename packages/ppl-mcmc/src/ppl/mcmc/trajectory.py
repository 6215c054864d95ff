"""Trajectories for HMC-family kernels: static (fixed length) and dynamic (NUTS).

Dynamic trajectories follow the No-U-Turn Sampler (Hoffman & Gelman, 2014)
in the form of Betancourt (2017):

* the trajectory doubles, each time in a random direction, by appending a
  *subtree* of as many leapfrog steps as it already has;
* the proposal is drawn *multinomially* with weights :math:`e^{-H}`: within a
  subtree progressively and uniformly, and across the doubling with the
  *biased* progressive rule :math:`\\min(1, w_\\text{new} / w_\\text{old})`,
  which favours the far end;
* expansion stops at a *generalized U-turn*: with :math:`\\rho` the summed
  momenta of a (sub)trajectory and :math:`v = M^{-1} r` the velocities at its
  ends, it turns when :math:`v_- \\cdot \\rho' \\le 0` or
  :math:`v_+ \\cdot \\rho' \\le 0` with :math:`\\rho' = \\rho - (r_- + r_+)/2`
  (Stan's variant); every aligned sub-subtree of a new subtree is checked,
  as in the recursive algorithm, and so are Stan's extra checks across each
  merge (the left part plus the first point of the right part, and the last
  point of the left part plus the right part), which catch trajectories that
  wrap around, as on periodic orbits;
* a leapfrog step whose energy error exceeds ``max_delta_energy`` is a
  *divergence* and also stops the expansion.

Everything runs inside ``lax.while_loop``: the recursion of the original
algorithm is replaced by an iterative walk over the leaves of each subtree.
The momenta needed by the U-turn checks of sub-subtrees are kept in
``max_tree_depth`` checkpoints: leaf :math:`n` (counted from 0 within its
subtree) is the first leaf of the aligned sub-subtrees of sizes
:math:`2^k` for :math:`k \\le` its number of trailing zero bits, and the last
leaf of those of sizes :math:`2^k` for :math:`k \\le` its number of trailing
one bits. An even leaf stores its momentum in checkpoint
:math:`\\mathrm{popcount}(n)`; an odd leaf with :math:`t` trailing ones closes
the sub-subtrees whose first leaves used checkpoints
:math:`\\mathrm{popcount}(n) - t, \\dots, \\mathrm{popcount}(n) - 1`. No
checkpoint is overwritten while a sub-subtree that needs it is open. The
right half of the sub-subtree closed through checkpoint :math:`i` starts at
the leaf of checkpoint :math:`i + 1`, which also stores the momentum of the
leaf before it, so the extra checks need no further storage.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from ppl.mcmc.integrators import IntegratorState
from ppl.mcmc.metrics import Metric
from ppl.mcmc.util import uniform_from_key, varying_with

__all__ = [
    "TreeInfo",
    "build_tree",
    "is_turning",
    "static_trajectory",
]

#: An energy error above this marks a divergent transition.
MAX_DELTA_ENERGY = 1000.0


class TreeInfo(NamedTuple):
    """A (sub)trajectory of NUTS, on flat latent vectors.

    Attributes:
        z_left, r_left, z_left_grad: the leftmost (earliest in time) leaf.
        z_right, r_right, z_right_grad: the rightmost leaf.
        z_proposal, z_proposal_pe, z_proposal_grad, z_proposal_energy: the
            point sampled from the trajectory so far.
        depth: the number of doublings.
        weight: :math:`\\log \\sum e^{-(H - H_0)}` over the leaves.
        r_sum: the sum of the leaves' momenta.
        turning: whether a U-turn was found.
        diverging: whether a divergence was found.
        sum_accept_probs: the sum over leaves of :math:`\\min(1, e^{-(H - H_0)})`.
        num_proposals: the number of leaves (leapfrog steps).
    """

    z_left: jax.Array
    r_left: jax.Array
    z_left_grad: jax.Array
    z_right: jax.Array
    r_right: jax.Array
    z_right_grad: jax.Array
    z_proposal: jax.Array
    z_proposal_pe: jax.Array
    z_proposal_grad: jax.Array
    z_proposal_energy: jax.Array
    depth: jax.Array
    weight: jax.Array
    r_sum: jax.Array
    turning: jax.Array
    diverging: jax.Array
    sum_accept_probs: jax.Array
    num_proposals: jax.Array


def is_turning(
    v_left: jax.Array, v_right: jax.Array, r_left: jax.Array, r_right: jax.Array, r_sum: jax.Array
) -> jax.Array:
    """The generalized U-turn criterion of a trajectory, given its end velocities."""
    rho = r_sum - 0.5 * (r_left + r_right)
    return (jnp.dot(v_left, rho) <= 0) | (jnp.dot(v_right, rho) <= 0)


def _leaf(
    state: IntegratorState,
    energy_initial: jax.Array,
    metric: Metric,
    inverse_mass_matrix: Any,
    max_delta_energy: float,
) -> TreeInfo:
    z, r, pe, z_grad = state
    energy = pe + metric.kinetic_energy(inverse_mass_matrix, r)
    delta = energy - energy_initial
    # A NaN energy is treated as an infinitely bad (divergent) step.
    delta = jnp.where(jnp.isnan(delta), jnp.inf, delta)
    return TreeInfo(
        z, r, z_grad, z, r, z_grad, z, pe, z_grad, energy,
        depth=jnp.zeros((), jnp.int32),
        weight=-delta,
        r_sum=r,
        turning=jnp.zeros((), bool),
        diverging=delta > max_delta_energy,
        sum_accept_probs=jnp.minimum(1.0, jnp.exp(-delta)),
        num_proposals=jnp.ones((), jnp.int32),
    )  # fmt: skip


def _select(pred: jax.Array, a: Any, b: Any) -> Any:
    return jax.tree.map(lambda x, y: jnp.where(pred, x, y), a, b)


def _combine(
    tree: TreeInfo,
    new: TreeInfo,
    going_right: jax.Array,
    take_new: jax.Array,
) -> TreeInfo:
    """Append ``new`` to ``tree`` on the side given by ``going_right``."""
    left = _select(going_right, tree[:3], new[:3])
    right = _select(going_right, new[3:6], tree[3:6])
    proposal = _select(take_new, new[6:10], tree[6:10])
    return TreeInfo(
        *left,
        *right,
        *proposal,
        depth=tree.depth,
        weight=jnp.logaddexp(tree.weight, new.weight),
        r_sum=tree.r_sum + new.r_sum,
        turning=tree.turning,
        diverging=tree.diverging | new.diverging,
        sum_accept_probs=tree.sum_accept_probs + new.sum_accept_probs,
        num_proposals=tree.num_proposals + new.num_proposals,
    )


class _Checkpoints(NamedTuple):
    """Per even leaf: its momentum and velocity, the running momentum sum through
    it, and the momentum and velocity of the leaf before it."""

    r: jax.Array
    v: jax.Array
    r_sum: jax.Array
    r_prev: jax.Array
    v_prev: jax.Array


def _turning_rows(
    v_a: jax.Array, v_b: jax.Array, r_a: jax.Array, r_b: jax.Array, r_sum: jax.Array
) -> jax.Array:
    """:func:`is_turning` for rows of (broadcast) end points."""
    rho = r_sum - 0.5 * (r_a + r_b)
    return (jnp.sum(v_a * rho, axis=-1) <= 0) | (jnp.sum(v_b * rho, axis=-1) <= 0)


def _build_subtree(
    tree: TreeInfo,
    depth: jax.Array,
    going_right: jax.Array,
    leaf_key: jax.Array,
    step_fn: Callable[[jax.Array, IntegratorState], IntegratorState],
    metric: Metric,
    inverse_mass_matrix: Any,
    step_size: jax.Array,
    energy_initial: jax.Array,
    max_delta_energy: float,
    max_tree_depth: int,
) -> TreeInfo:
    """Grow a subtree of ``2**depth`` leaves from the end of ``tree``, leaf by leaf.

    Leaf ``n`` draws its uniform from ``fold_in(leaf_key, tree.num_proposals + n)``,
    a counter unique within the transition.
    """
    signed_step = jnp.where(going_right, step_size, -step_size)
    z_edge, r_edge, grad_edge = _select(going_right, tree[3:6], tree[:3])
    edge = IntegratorState(z_edge, r_edge, jnp.zeros_like(tree.z_proposal_pe), grad_edge)
    num_leaves = jnp.left_shift(jnp.ones((), jnp.int32), depth)
    empty = jnp.zeros((max_tree_depth, z_edge.shape[0]), r_edge.dtype)
    # Velocities are checkpointed too, so that each U-turn check is O(dim).
    ckpts = _Checkpoints(empty, empty, empty, empty, empty)
    slots = jnp.arange(max_tree_depth)

    def cond(carry):
        leaf_idx, _, _, subtree, *_ = carry
        return (leaf_idx < num_leaves) & ~subtree.turning & ~subtree.diverging

    def body(carry):
        leaf_idx, state, v_prev, subtree, ckpts = carry
        key_accept = jax.random.fold_in(leaf_key, tree.num_proposals + leaf_idx)
        r_prev = state.r
        state = step_fn(signed_step, state)
        leaf = _leaf(state, energy_initial, metric, inverse_mass_matrix, max_delta_energy)
        # Progressive multinomial sampling inside the subtree.
        accept_prob = jnp.exp(leaf.weight - jnp.logaddexp(subtree.weight, leaf.weight))
        take_leaf = (leaf_idx == 0) | (uniform_from_key(key_accept) < accept_prob)
        merged = _combine(subtree, leaf, going_right, take_leaf)
        subtree = _select(leaf_idx == 0, leaf, merged)

        r = state.r
        v = metric.velocity(inverse_mass_matrix, r)
        popcount = lax.population_count(leaf_idx)
        is_even = (leaf_idx & 1) == 0
        # An even leaf opens sub-subtrees: remember what their U-turn checks will need.
        row = _Checkpoints(r, v, subtree.r_sum, r_prev, v_prev)
        ckpts = jax.tree.map(
            lambda buf, new: buf.at[popcount].set(jnp.where(is_even, new, buf[popcount])),
            ckpts,
            row,
        )
        # An odd leaf closes the sub-subtrees whose first leaves are checkpointed in
        # slots [popcount - trailing_ones, popcount - 1]; slot i closes the one of size
        # 2**(popcount - i), whose right half starts at the leaf of slot i + 1.
        trailing_ones = lax.population_count(leaf_idx ^ (leaf_idx + 1)) - 1
        active = (slots >= popcount - trailing_ones) & (slots < popcount) & ~is_even
        whole = _turning_rows(ckpts.v, v, ckpts.r, r, subtree.r_sum - ckpts.r_sum + ckpts.r)
        # Stan's extra checks across the two halves: the left half plus the first leaf
        # of the right half, and the last leaf of the left half plus the right half.
        # They catch trajectories that wrap around (e.g. periodic orbits).
        right = jax.tree.map(lambda x: jnp.roll(x, -1, axis=0), ckpts)
        left_plus = _turning_rows(
            ckpts.v, right.v, ckpts.r, right.r, right.r_sum - ckpts.r_sum + ckpts.r
        )
        sum_before_right = right.r_sum - right.r - right.r_prev
        plus_right = _turning_rows(
            right.v_prev, v, right.r_prev, r, subtree.r_sum - sum_before_right
        )
        has_halves = active & (slots < popcount - 1)
        turning = jnp.any(active & whole) | jnp.any(has_halves & (left_plus | plus_right))
        subtree = subtree._replace(turning=turning)
        return leaf_idx + 1, state, v, subtree, ckpts

    # A placeholder of the right structure; leaf 0 replaces it.
    placeholder = tree._replace(
        weight=jnp.full_like(tree.weight, -jnp.inf),
        r_sum=jnp.zeros_like(tree.r_sum),
        turning=jnp.zeros((), bool),
        diverging=jnp.zeros((), bool),
        sum_accept_probs=jnp.zeros_like(tree.sum_accept_probs),
        num_proposals=jnp.zeros_like(tree.num_proposals),
    )
    v_edge = metric.velocity(inverse_mass_matrix, r_edge)
    carry = varying_with(
        energy_initial, (jnp.zeros((), jnp.int32), edge, v_edge, placeholder, ckpts)
    )
    _, _, _, subtree, *_ = lax.while_loop(cond, body, carry)
    return subtree._replace(depth=depth)


def build_tree(
    step_fn: Callable[[jax.Array, IntegratorState], IntegratorState],
    metric: Metric,
    inverse_mass_matrix: Any,
    step_size: jax.Array,
    initial: IntegratorState,
    rng_key: jax.Array,
    *,
    max_tree_depth: int | tuple[jax.Array | int, int] = 10,
    max_delta_energy: float = MAX_DELTA_ENERGY,
) -> TreeInfo:
    """Build a NUTS trajectory from ``initial`` and sample a point from it.

    Args:
        step_fn: ``(signed_step_size, state) -> state``, one leapfrog step.
        metric: the :class:`~ppl.mcmc.metrics.Metric` (kinetic energy, velocity).
        inverse_mass_matrix: the current inverse mass matrix.
        step_size: the step size.
        initial: the starting point (flat ``z``, momentum ``r``, energy, gradient).
        rng_key: the random key.
        max_tree_depth: the most doublings, or ``(current, capacity)`` where
            ``current`` may be traced and ``capacity`` (static) sizes the
            checkpoint buffers.
        max_delta_energy: the energy error that marks a divergence.

    Returns:
        The final :class:`TreeInfo`; its ``z_proposal*`` fields are the sample.
    """
    if isinstance(max_tree_depth, tuple):
        current_depth, capacity = max_tree_depth
    else:
        current_depth = capacity = max_tree_depth
    capacity = max(int(capacity), 1)
    z, r, pe, z_grad = initial
    energy_initial = pe + metric.kinetic_energy(inverse_mass_matrix, r)
    tree = TreeInfo(
        z, r, z_grad, z, r, z_grad, z, pe, z_grad, energy_initial,
        depth=jnp.zeros((), jnp.int32),
        weight=jnp.zeros_like(energy_initial),
        r_sum=r,
        turning=jnp.zeros((), bool),
        diverging=jnp.zeros((), bool),
        sum_accept_probs=jnp.zeros_like(energy_initial),
        num_proposals=jnp.zeros((), jnp.int32),
    )  # fmt: skip
    tree = varying_with(energy_initial, tree)

    # Few generator calls keep the compiled loop small: the direction and transition
    # uniforms of every doubling are drawn up front, and leaves fold in their index.
    key_doublings, key_leaves = jax.random.split(rng_key)
    doubling_uniforms = jax.random.uniform(key_doublings, (capacity, 2))

    def cond(tree):
        return (tree.depth < current_depth) & ~tree.turning & ~tree.diverging

    def body(tree):
        u_direction, u_transition = doubling_uniforms[tree.depth]
        going_right = u_direction < 0.5
        subtree = _build_subtree(
            tree,
            tree.depth,
            going_right,
            key_leaves,
            step_fn,
            metric,
            inverse_mass_matrix,
            step_size,
            energy_initial,
            max_delta_energy,
            capacity,
        )
        # Biased progressive sampling across the doubling; a subtree that turned or
        # diverged inside is not a valid extension and contributes no proposal.
        transition_prob = jnp.minimum(1.0, jnp.exp(subtree.weight - tree.weight))
        transition_prob = jnp.where(subtree.turning | subtree.diverging, 0.0, transition_prob)
        take_new = u_transition < transition_prob
        merged = _combine(tree, subtree, going_right, take_new)
        velocity = partial(metric.velocity, inverse_mass_matrix)
        turning = subtree.turning | is_turning(
            velocity(merged.r_left),
            velocity(merged.r_right),
            merged.r_left,
            merged.r_right,
            merged.r_sum,
        )
        # Stan's extra checks across the old tree and the new subtree.
        r_near_old, r_far_old = _select(
            going_right, (tree.r_right, tree.r_left), (tree.r_left, tree.r_right)
        )
        r_first_new, r_far_new = _select(
            going_right, (subtree.r_left, subtree.r_right), (subtree.r_right, subtree.r_left)
        )
        turning = turning | is_turning(
            velocity(r_far_old),
            velocity(r_first_new),
            r_far_old,
            r_first_new,
            tree.r_sum + r_first_new,
        )
        turning = turning | is_turning(
            velocity(r_near_old),
            velocity(r_far_new),
            r_near_old,
            r_far_new,
            r_near_old + subtree.r_sum,
        )
        return merged._replace(depth=tree.depth + 1, turning=turning)

    return lax.while_loop(cond, body, tree)


def static_trajectory(
    step_fn: Callable[[jax.Array, IntegratorState], IntegratorState],
    step_size: jax.Array,
    num_steps: jax.Array,
    initial: IntegratorState,
) -> IntegratorState:
    """Integrate ``num_steps`` leapfrog steps of ``step_size`` from ``initial``."""
    return lax.fori_loop(0, num_steps, lambda _, state: step_fn(step_size, state), initial)
