"""Model initialization shared by the Metropolis-type kernels (:class:`~ppl.mcmc.sa.SA`,
:class:`~ppl.mcmc.barker.BarkerMH`, the ensemble samplers).

These kernels all take either a ``model`` or a ``potential_fn``; for a model
they need an initial unconstrained point, the potential energy as a function
of the model arguments, and the map back to constrained values. This module
wraps :func:`~ppl.infer.util.initialize_model` to get them, and turns a model
with discrete latent sites into an error that names the kernel and the sites.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ppl.handlers import seed, trace
from ppl.infer.util import DiscreteLatentError, initialize_model

__all__ = ["ModelSetup", "discrete_latent_sites", "initialize_kernel_model"]


class ModelSetup(NamedTuple):
    """What a kernel keeps from a model.

    Attributes:
        z: the initial unconstrained latent values (a dict of sites; with a
            leading batch dimension when initialized from a batch of keys).
        potential_fn_gen: ``potential_fn_gen(*args, **kwargs)`` returns the
            potential energy of unconstrained values for those model arguments.
        postprocess_fn_gen: ``postprocess_fn_gen(*args, **kwargs)`` returns the
            map from unconstrained samples to constrained values (with
            deterministic sites).
    """

    z: dict
    potential_fn_gen: Callable
    postprocess_fn_gen: Callable


def discrete_latent_sites(
    model: Callable, rng_key: jax.Array, model_args: tuple, model_kwargs: dict
) -> list[str]:
    """The names of the unobserved sample sites of ``model`` with a discrete support."""
    model_trace = trace(seed(model, rng_seed=rng_key)).get_trace(*model_args, **model_kwargs)
    return [
        name
        for name, site in model_trace.items()
        if site["type"] == "sample" and not site["is_observed"] and site["fn"].support.is_discrete
    ]


def _single_key(rng_key: jax.Array) -> jax.Array:
    if jnp.issubdtype(rng_key.dtype, jax.dtypes.prng_key):
        return rng_key if rng_key.ndim == 0 else rng_key[0]
    return rng_key if rng_key.ndim == 1 else rng_key[0]


def initialize_kernel_model(
    kernel_name: str,
    model: Callable,
    rng_key: jax.Array,
    *,
    init_strategy: Callable,
    model_args: tuple,
    model_kwargs: dict,
    validate_grad: bool,
) -> ModelSetup:
    """Initialize ``model`` for the kernel called ``kernel_name``.

    Args:
        kernel_name: the kernel's class name, for error messages.
        model: the model.
        rng_key: a key, or a batch of keys (one initial point per key, found
            in one compiled search).
        init_strategy: the initialization strategy.
        model_args: positional arguments of the model.
        model_kwargs: keyword arguments of the model.
        validate_grad: also require a finite gradient at the initial point
            (for gradient-based kernels).

    Raises:
        DiscreteLatentError: when the model has discrete latent sites, naming
            them and the kernels that can sample them.
    """
    try:
        info = initialize_model(
            rng_key,
            model,
            init_strategy=init_strategy,
            dynamic_args=True,
            model_args=model_args,
            model_kwargs=model_kwargs,
            validate_grad=validate_grad,
        )
    except DiscreteLatentError:
        sites = discrete_latent_sites(model, _single_key(rng_key), model_args, model_kwargs)
        raise DiscreteLatentError(
            f"{kernel_name} samples continuous latent variables only, but the model has discrete "
            f"latent site(s) {sites}. Marginalize them out, or sample them with a kernel that "
            "handles discrete sites: DiscreteHMCGibbs or MixedHMC (around an HMC/NUTS kernel), "
            "or HMCGibbs with a gibbs_fn for those sites."
        ) from None
    return ModelSetup(info.param_info.z, info.potential_fn, info.postprocess_fn)
