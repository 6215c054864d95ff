"""The No-U-Turn Sampler: HMC whose trajectory length is chosen per transition.

The trajectory is built by :func:`ppl.mcmc.trajectory.build_tree`
(multinomial sampling, generalized U-turn criterion, divergence detection);
everything else (state, adaptation, model handling) is shared with
:class:`~ppl.mcmc.hmc.HMC`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ppl.infer.initialization import init_to_uniform
from ppl.mcmc.hmc import HMC

__all__ = ["NUTS"]


def _check_max_tree_depth(max_tree_depth: Any) -> int | tuple[int, int]:
    def is_depth(d: Any) -> bool:
        return isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1

    if is_depth(max_tree_depth):
        return int(max_tree_depth)
    if (
        isinstance(max_tree_depth, tuple)
        and len(max_tree_depth) == 2
        and all(is_depth(d) for d in max_tree_depth)
    ):
        return (int(max_tree_depth[0]), int(max_tree_depth[1]))
    raise ValueError(
        "max_tree_depth must be a positive integer or a pair (warmup_depth, sampling_depth) "
        f"of positive integers, got {max_tree_depth!r}"
    )


class NUTS(HMC):
    """The No-U-Turn Sampler, with step-size and mass-matrix adaptation.

    Each transition doubles a leapfrog trajectory in random directions until
    it makes a U-turn, diverges, or reaches ``2**max_tree_depth`` steps, and
    samples the next state from it with multinomial weights.

    Args:
        model: a model built from ppl primitives (or give ``potential_fn``).
        potential_fn: the potential energy of latent values of any pytree type.
        kinetic_fn: the kinetic energy ``kinetic_fn(inverse_mass_matrix, r)``.
        step_size: the initial leapfrog step size.
        inverse_mass_matrix: the initial inverse mass matrix (see :class:`HMC`).
        adapt_step_size: adapt the step size during warmup.
        adapt_mass_matrix: adapt the mass matrix during warmup.
        dense_mass: ``False``, ``True``, or a list of tuples of site names
            giving dense blocks (see :class:`HMC`).
        target_accept_prob: the mean acceptance statistic that step-size adaptation
            aims at during warmup; the averaged step size kept for sampling usually
            accepts more often (see :mod:`ppl.mcmc.adaptation`).
        trajectory_length: unused by NUTS (kept for signature compatibility).
        max_tree_depth: the most doublings per transition, or a pair
            ``(warmup_depth, sampling_depth)``.
        init_strategy: the initialization strategy for a ``model``.
        find_heuristic_step_size: rescale the step size at the start of each
            adaptation window.
        forward_mode_differentiation: differentiate the potential in forward mode.
        regularize_mass_matrix: shrink the covariance estimate (Stan's rule).
    """

    _algo = "NUTS"

    def __init__(
        self,
        model: Callable | None = None,
        potential_fn: Callable | None = None,
        kinetic_fn: Callable | None = None,
        step_size: float = 1.0,
        inverse_mass_matrix: Any = None,
        adapt_step_size: bool = True,
        adapt_mass_matrix: bool = True,
        dense_mass: bool | list = False,
        target_accept_prob: float = 0.8,
        trajectory_length: float | None = None,
        max_tree_depth: int | tuple[int, int] = 10,
        init_strategy: Callable = init_to_uniform,
        find_heuristic_step_size: bool = False,
        forward_mode_differentiation: bool = False,
        regularize_mass_matrix: bool = True,
    ) -> None:
        super().__init__(
            model=model,
            potential_fn=potential_fn,
            kinetic_fn=kinetic_fn,
            step_size=step_size,
            inverse_mass_matrix=inverse_mass_matrix,
            adapt_step_size=adapt_step_size,
            adapt_mass_matrix=adapt_mass_matrix,
            dense_mass=dense_mass,
            target_accept_prob=target_accept_prob,
            trajectory_length=trajectory_length,
            init_strategy=init_strategy,
            find_heuristic_step_size=find_heuristic_step_size,
            forward_mode_differentiation=forward_mode_differentiation,
            regularize_mass_matrix=regularize_mass_matrix,
        )
        self._max_tree_depth = _check_max_tree_depth(max_tree_depth)
