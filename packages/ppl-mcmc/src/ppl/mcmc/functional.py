"""The functional interface to HMC and NUTS: ``init_kernel`` / ``sample_kernel`` pairs."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax

from ppl.mcmc.hmc import HMC, HMCState
from ppl.mcmc.nuts import NUTS

__all__ = ["hmc"]


def hmc(
    potential_fn: Callable | None = None,
    potential_fn_gen: Callable | None = None,
    kinetic_fn: Callable | None = None,
    algo: str = "NUTS",
) -> tuple[Callable[..., HMCState], Callable[..., HMCState]]:
    """The functional interface: ``(init_kernel, sample_kernel)`` for HMC or NUTS.

    Args:
        potential_fn: the potential energy of latent values.
        potential_fn_gen: alternatively, ``potential_fn_gen(*model_args, **model_kwargs)``
            returning the potential energy for given model arguments.
        kinetic_fn: the kinetic energy ``kinetic_fn(inverse_mass_matrix, r)``.
        algo: ``"HMC"`` (fixed trajectory length) or ``"NUTS"``.

    Returns:
        ``init_kernel(init_params, num_warmup, *, step_size=1.0, inverse_mass_matrix=None,
        adapt_step_size=True, adapt_mass_matrix=True, dense_mass=False,
        target_accept_prob=0.8, num_steps=None, trajectory_length=2*pi, max_tree_depth=10,
        find_heuristic_step_size=False, forward_mode_differentiation=False,
        regularize_mass_matrix=True, model_args=(), model_kwargs=None, rng_key=None)`` and
        ``sample_kernel(state, model_args=(), model_kwargs=None)``.
    """
    if algo not in ("HMC", "NUTS"):
        raise ValueError(f"algo must be 'HMC' or 'NUTS', got {algo!r}")
    if (potential_fn is None) == (potential_fn_gen is None):
        raise ValueError("Exactly one of `potential_fn` or `potential_fn_gen` must be provided.")
    kernel: HMC | None = None

    def init_kernel(
        init_params: Any,
        num_warmup: int,
        *,
        step_size: float = 1.0,
        inverse_mass_matrix: Any = None,
        adapt_step_size: bool = True,
        adapt_mass_matrix: bool = True,
        dense_mass: bool | list = False,
        target_accept_prob: float = 0.8,
        num_steps: int | None = None,
        trajectory_length: float | None = 2 * math.pi,
        max_tree_depth: int | tuple[int, int] = 10,
        find_heuristic_step_size: bool = False,
        forward_mode_differentiation: bool = False,
        regularize_mass_matrix: bool = True,
        model_args: tuple = (),
        model_kwargs: dict | None = None,
        rng_key: jax.Array | None = None,
    ) -> HMCState:
        nonlocal kernel
        options = (
            {"num_steps": num_steps, "trajectory_length": trajectory_length}
            if algo == "HMC"
            else {"max_tree_depth": max_tree_depth}
        )
        kernel = (HMC if algo == "HMC" else NUTS)(
            # With potential_fn_gen the kernel is built around it, then switched over.
            potential_fn=potential_fn if potential_fn is not None else potential_fn_gen,
            kinetic_fn=kinetic_fn,
            step_size=step_size,
            inverse_mass_matrix=inverse_mass_matrix,
            adapt_step_size=adapt_step_size,
            adapt_mass_matrix=adapt_mass_matrix,
            dense_mass=dense_mass,
            target_accept_prob=target_accept_prob,
            find_heuristic_step_size=find_heuristic_step_size,
            forward_mode_differentiation=forward_mode_differentiation,
            regularize_mass_matrix=regularize_mass_matrix,
            **options,
        )
        if potential_fn_gen is not None:
            kernel._potential_fn = None
            kernel._potential_fn_gen = potential_fn_gen
        if rng_key is None:
            rng_key = jax.random.PRNGKey(0)
        return kernel.init(rng_key, num_warmup, init_params, model_args, model_kwargs or {})

    def sample_kernel(
        hmc_state: HMCState, model_args: tuple = (), model_kwargs: dict | None = None
    ) -> HMCState:
        if kernel is None:
            raise RuntimeError("call init_kernel before sample_kernel")
        return kernel.sample(hmc_state, model_args, model_kwargs or {})

    return init_kernel, sample_kernel
