"""``ExampleRWM``: random-walk Metropolis as a plugin-provided MCMC kernel.

The kernel follows the interface ``ppl.infer.MCMC`` drives (``init``,
``sample``, ``sample_field``, ``default_fields``, ``postprocess_fn``,
``get_diagnostics_str``) by duck typing: it imports nothing from
:mod:`ppl.mcmc`. The model-specific work -- finding a valid starting point,
moving to unconstrained space, the potential energy -- comes from
:func:`ppl.infer.util.initialize_model` in the core.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import random
from jax.flatten_util import ravel_pytree

from ppl.infer.initialization import init_to_uniform
from ppl.infer.util import initialize_model


class RWMState(NamedTuple):
    """The chain's state after ``i`` transitions."""

    i: jax.Array
    #: the position in unconstrained space, one array per latent site
    z: dict
    potential_energy: jax.Array
    #: the Metropolis acceptance probability of the last proposal
    accept_prob: jax.Array
    #: the running mean of ``accept_prob`` (restarted when warmup ends)
    mean_accept_prob: jax.Array
    step_size: jax.Array
    rng_key: jax.Array


class ExampleRWM:
    r"""Random-walk Metropolis with a Gaussian proposal in unconstrained space.

    Each step proposes :math:`z' = z + \sigma \varepsilon` with
    :math:`\varepsilon \sim \mathcal N(0, I)` and accepts it with probability
    :math:`\min(1, \exp(U(z) - U(z')))`, :math:`U` being the potential energy.
    During warmup the log step size follows a Robbins-Monro recursion,
    :math:`\log\sigma_{t+1} = \log\sigma_t + (\alpha_t - \alpha^*) / t^{0.6}`,
    towards the target acceptance rate :math:`\alpha^*`.

    Args:
        model: the model to sample from.
        step_size: the initial proposal scale :math:`\sigma`; by default
            :math:`2.38 / \sqrt{d}` for :math:`d` unconstrained dimensions,
            the optimal scale for Gaussian targets.
        target_accept_prob: :math:`\alpha^*`, 0.234 by default (the optimum
            for high-dimensional Gaussian targets).
        init_strategy: where chains start (:mod:`ppl.infer.initialization`).
    """

    sample_field = "z"
    default_fields = ("z",)
    is_ensemble_kernel = False

    def __init__(
        self,
        model: Callable,
        *,
        step_size: float | None = None,
        target_accept_prob: float = 0.234,
        init_strategy: Callable = init_to_uniform,
    ) -> None:
        if not callable(model):
            raise TypeError(f"ExampleRWM: model must be callable, got {model!r}")
        if step_size is not None and not step_size > 0:
            raise ValueError(f"ExampleRWM: step_size must be positive, got {step_size!r}")
        if not 0 < target_accept_prob < 1:
            raise ValueError(
                f"ExampleRWM: target_accept_prob must lie in (0, 1), got {target_accept_prob!r}"
            )
        self._model = model
        self._step_size = step_size
        self._target_accept_prob = target_accept_prob
        self._init_strategy = init_strategy
        self._potential_fn_gen: Callable | None = None
        self._postprocess_fn_gen: Callable | None = None
        self._num_warmup = 0

    @property
    def model(self) -> Callable:
        return self._model

    def init(
        self,
        rng_key: jax.Array,
        num_warmup: int,
        init_params: dict | None,
        model_args: tuple,
        model_kwargs: dict,
    ) -> RWMState:
        """Find a starting point and build the initial state (one chain per key)."""
        typed = jax.dtypes.issubdtype(rng_key.dtype, jax.dtypes.prng_key)
        if jnp.shape(rng_key) != (() if typed else (2,)):
            raise ValueError(
                "ExampleRWM.init: rng_key must be a single key (ExampleRWM runs one chain per "
                f"key; use chain_method='sequential' or 'parallel'), got shape {rng_key.shape}"
            )
        key_init, key_chain = random.split(rng_key)
        info = initialize_model(
            key_init,
            self._model,
            init_strategy=self._init_strategy,
            dynamic_args=True,
            model_args=model_args,
            model_kwargs=model_kwargs,
        )
        self._potential_fn_gen = info.potential_fn
        self._postprocess_fn_gen = info.postprocess_fn
        self._num_warmup = int(num_warmup)
        z = info.param_info.z if init_params is None else init_params
        potential_fn = self._potential_fn_gen(*model_args, **model_kwargs)
        dimension = ravel_pytree(z)[0].size
        step_size = self._step_size or 2.38 / math.sqrt(max(dimension, 1))
        zero = jnp.zeros(())
        return RWMState(
            i=jnp.zeros((), dtype=jnp.int32),
            z=z,
            potential_energy=potential_fn(z),
            accept_prob=zero,
            mean_accept_prob=zero,
            step_size=jnp.asarray(step_size, dtype=zero.dtype),
            rng_key=key_chain,
        )

    def sample(self, state: RWMState, model_args: tuple, model_kwargs: dict) -> RWMState:
        """One Metropolis transition, with step-size adaptation while warming up."""
        if self._potential_fn_gen is None:
            raise RuntimeError("ExampleRWM.sample: call init first")
        potential_fn = self._potential_fn_gen(*model_args, **model_kwargs)
        key, key_proposal, key_accept = random.split(state.rng_key, 3)

        flat, unravel = ravel_pytree(state.z)
        noise = random.normal(key_proposal, flat.shape, flat.dtype)
        proposal = unravel(flat + state.step_size * noise)
        proposal_energy = potential_fn(proposal)
        log_ratio = state.potential_energy - proposal_energy
        # A proposal whose density is NaN (outside the model's domain) is rejected.
        accept_prob = jnp.minimum(1.0, jnp.exp(jnp.nan_to_num(log_ratio, nan=-jnp.inf)))
        accept = random.uniform(key_accept) < accept_prob
        z = jax.tree_util.tree_map(lambda new, old: jnp.where(accept, new, old), proposal, state.z)
        energy = jnp.where(accept, proposal_energy, state.potential_energy)

        t = state.i + 1
        warming_up = state.i < self._num_warmup
        adapted = jnp.exp(
            jnp.log(state.step_size) + (accept_prob - self._target_accept_prob) / t**0.6
        )
        step_size = jnp.where(warming_up, adapted, state.step_size)
        n = jnp.where(warming_up, t, t - self._num_warmup)
        mean_accept_prob = state.mean_accept_prob + (accept_prob - state.mean_accept_prob) / n
        return RWMState(t, z, energy, accept_prob, mean_accept_prob, step_size, key)

    def postprocess_fn(self, model_args: tuple, model_kwargs: dict) -> Callable[[dict], dict]:
        """Maps unconstrained samples to the model's constrained (and deterministic) sites."""
        if self._postprocess_fn_gen is None:
            raise RuntimeError("ExampleRWM.postprocess_fn: call init first")
        return self._postprocess_fn_gen(*model_args, **model_kwargs)

    def get_diagnostics_str(self, state: RWMState) -> str:
        return (
            f"step size {float(state.step_size):.2e}. acc. prob={float(state.mean_accept_prob):.2f}"
        )
