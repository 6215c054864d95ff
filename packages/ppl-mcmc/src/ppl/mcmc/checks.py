"""Argument and initial-value checks shared by the kernels, with errors that say
what was expected."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "as_float_tree",
    "check_init_params_against_model",
    "check_positive",
    "check_scalar_potential",
    "describe_shapes",
    "is_batched_key",
    "structure_key",
]


def is_batched_key(rng_key: Any) -> bool:
    rng_key = jnp.asarray(rng_key) if not isinstance(rng_key, jax.Array) else rng_key
    if jnp.issubdtype(rng_key.dtype, jax.dtypes.prng_key):
        return rng_key.ndim == 1
    return rng_key.ndim == 2


def as_float_tree(tree: Any) -> Any:
    # Latent values must be real-valued to be differentiated; Python numbers and
    # integer arrays are promoted to the default float type.
    def convert(x: Any) -> jax.Array:
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.result_type(float))
        return x

    return jax.tree.map(convert, tree)


def describe_shapes(tree: Any) -> str:
    if isinstance(tree, Mapping):
        return "{" + ", ".join(f"{k!r}: {tuple(jnp.shape(v))}" for k, v in tree.items()) + "}"
    return str(jax.tree.map(lambda x: tuple(jnp.shape(x)), tree))


def check_init_params_against_model(init_z: Any, model_z: dict, batched: bool) -> None:
    if not isinstance(init_z, Mapping):
        raise ValueError(
            "init_params for a model must be a dict of unconstrained values keyed by latent "
            f"site name, got {type(init_z).__name__}"
        )
    missing = sorted(set(model_z) - set(init_z))
    unknown = sorted(set(init_z) - set(model_z))
    if missing or unknown:
        raise ValueError(
            "init_params must give a value for each latent site and nothing else: "
            + (f"missing {missing}" if missing else "")
            + ("; " if missing and unknown else "")
            + (f"not latent sites of the model {unknown}" if unknown else "")
        )
    for name, expected in model_z.items():
        expected_shape = tuple(jnp.shape(expected))
        got = tuple(jnp.shape(init_z[name]))
        if got != expected_shape:
            batch = " (with the leading num_chains dimension)" if batched else ""
            raise ValueError(
                f"init_params[{name!r}] has shape {got}, but latent site {name!r} has "
                f"unconstrained shape {expected_shape}{batch}"
            )


def structure_key(z: Any) -> tuple:
    leaves, treedef = jax.tree.flatten(z)
    return treedef, tuple((tuple(jnp.shape(x)), jnp.result_type(x)) for x in leaves)


def check_scalar_potential(potential_fn: Callable, z: Any) -> None:
    try:
        out = jax.eval_shape(potential_fn, z)
    except Exception as error:
        raise ValueError(
            f"potential_fn failed on init_params with shapes {describe_shapes(z)}: {error}"
        ) from error
    if tuple(getattr(out, "shape", ())) != ():
        raise ValueError(
            f"potential_fn must return a scalar, but returned shape {tuple(out.shape)} for "
            f"init_params with shapes {describe_shapes(z)}; check the shapes of init_params"
        )


def check_positive(name: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, (jax.Array, np.ndarray)) and np.ndim(value) == 0:
        value = float(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
