"""Neural networks of flax (linen and nnx) and equinox as ppl params or random variables.

Each ``*_module`` function registers a network's weights as one param site
``name + "$params"`` (learned by SVI) and returns the network with those
weights bound; each ``random_*_module`` function instead draws the weights
from a prior as sample sites named ``name + "/" + path`` (a Bayesian neural
network). flax and equinox are optional: install ``ppl-vi[flax]`` or
``ppl-vi[equinox]``. Plain ``(init_fn, apply_fn)`` pairs need neither: use
:func:`ppl.module`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ppl.handlers import scope
from ppl.primitives import param, prng_key, sample

__all__ = [
    "eqx_module",
    "flax_module",
    "nnx_module",
    "random_eqx_module",
    "random_flax_module",
    "random_nnx_module",
]


def _require(module_name: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module_name)
    except ImportError:
        raise ImportError(
            f"{module_name} is needed for this function but is not installed; install it with "
            f"`pip install ppl-vi[{extra}]`"
        ) from None


def _random_key(name: str) -> jax.Array:
    key = prng_key()
    if key is None:
        raise ValueError(
            f"module {name!r}: initializing its weights needs a random key; run the model "
            "under ppl.handlers.seed (SVI and MCMC do this)"
        )
    return key


def _path_name(path: tuple) -> str:
    parts = []
    for key in path:
        for attribute in ("key", "name", "idx"):
            if hasattr(key, attribute):
                parts.append(str(getattr(key, attribute)))
                break
        else:
            parts.append(str(key))
    return ".".join(parts)


def _prior_for(prior: Any, name: str, shape: tuple) -> Any:
    if isinstance(prior, dict):
        return prior.get(name)
    if callable(prior) and not hasattr(prior, "log_prob"):
        return prior(name, shape)
    return prior


def _sample_weights(name: str, weights: Any, prior: Any) -> Any:
    """Replace the leaves of ``weights`` that ``prior`` covers by sample sites.

    ``prior`` is a distribution for every leaf, a dict ``{path: distribution}``
    (leaves not named stay as they are) or a function ``(path, shape) ->
    distribution``. Each distribution is expanded to the leaf's shape, all of
    whose dims become event dims.
    """
    if isinstance(prior, dict):
        known = {_path_name(p) for p, _ in jax.tree_util.tree_flatten_with_path(weights)[0]}
        unknown = sorted(set(prior) - known)
        if unknown:
            raise ValueError(
                f"module {name!r}: the prior names {unknown}, which are not weights of the "
                f"network (its weights: {sorted(known)})"
            )
    leaves, treedef = jax.tree_util.tree_flatten_with_path(weights)
    new_leaves = []
    with scope(prefix=name):
        for path, leaf in leaves:
            path_name = _path_name(path)
            shape = tuple(jnp.shape(leaf))
            d = _prior_for(prior, path_name, shape)
            if d is None:
                new_leaves.append(leaf)
                continue
            batch_shape = shape[: len(shape) - d.event_dim]
            new_leaves.append(sample(path_name, d.expand(batch_shape).to_event()))
    return jax.tree.unflatten(treedef, new_leaves)


# -- flax linen ----------------------------------------------------------------------------


def _flax_setup(
    name: str,
    nn_module: Any,
    args: tuple,
    input_shape: tuple | None,
    apply_rng: list[str] | None,
    mutable: list[str] | None,
    kwargs: dict,
) -> tuple[Any, Callable]:
    """The module's weights (a param site) and ``apply(weights, *inputs)``."""
    if mutable:
        raise NotImplementedError(
            f"flax_module {name!r}: mutable collections {mutable} (e.g. BatchNorm statistics) "
            "need mutable sites, which ppl does not have yet; use a module without them"
        )
    flax_core = _require("flax.core", "flax")
    apply_rng = list(apply_rng or [])
    weights = param(f"{name}$params")
    if weights is None:
        if input_shape is not None:
            args = (jnp.ones(input_shape), *args)
        if not args and not kwargs:
            raise ValueError(
                f"flax_module {name!r}: give example inputs (*args) or input_shape to "
                "initialize its weights"
            )
        keys = jax.random.split(_random_key(name), len(apply_rng) + 1)
        rngs = {"params": keys[0], **dict(zip(apply_rng, keys[1:], strict=True))}
        variables = flax_core.unfreeze(nn_module.init(rngs, *args, **kwargs))
        weights = param(f"{name}$params", variables["params"])
    rngs = {}
    if apply_rng:
        keys = jax.random.split(_random_key(name), len(apply_rng))
        rngs = {"rngs": dict(zip(apply_rng, keys, strict=True))}

    def apply(weights: Any, *inputs: Any, **apply_kwargs: Any) -> Any:
        return nn_module.apply({"params": weights}, *inputs, **rngs, **apply_kwargs)

    return weights, apply


def flax_module(
    name: str,
    nn_module: Any,
    *args: Any,
    input_shape: tuple | None = None,
    apply_rng: list[str] | None = None,
    mutable: list[str] | None = None,
    **kwargs: Any,
) -> Callable:
    """Register a flax linen module's weights as the param site ``name + "$params"``.

    Args:
        name: the site name.
        nn_module: a ``flax.linen.Module``.
        *args, **kwargs: example inputs for ``nn_module.init`` (or give ``input_shape``).
        input_shape: the shape of an example input of ones, instead of ``args``.
        apply_rng: names of the random streams the module uses when applied
            (e.g. ``["dropout"]``); fresh keys come from the seed handler.
        mutable: mutable collections (batch statistics) are not supported:
            ppl has no mutable sites yet.

    Returns:
        ``apply(*inputs)``, the module applied with the current weights.
    """
    weights, apply = _flax_setup(name, nn_module, args, input_shape, apply_rng, mutable, kwargs)
    return functools.partial(apply, weights)


def random_flax_module(
    name: str,
    nn_module: Any,
    prior: Any,
    *args: Any,
    input_shape: tuple | None = None,
    apply_rng: list[str] | None = None,
    mutable: list[str] | None = None,
    **kwargs: Any,
) -> Callable:
    """A flax linen module whose weights are random variables drawn from ``prior``.

    Args:
        prior: a distribution for every weight, a dict ``{"Dense_0.kernel": dist,
            ...}`` (weights not named stay learnable params), or a function
            ``(path, shape) -> distribution``.
        name, nn_module, *args, input_shape, apply_rng, mutable, **kwargs: as
            for :func:`flax_module`.
    """
    weights, apply = _flax_setup(name, nn_module, args, input_shape, apply_rng, mutable, kwargs)
    return functools.partial(apply, _sample_weights(name, weights, prior))


# -- flax nnx --------------------------------------------------------------------------------


def _nnx_setup(name: str, nn_module: Any) -> tuple[Any, Callable]:
    nnx = _require("flax.nnx", "flax")
    graphdef, state, rest = nnx.split(nn_module, nnx.Param, ...)
    weights = param(f"{name}$params")
    if weights is None:
        weights = param(f"{name}$params", nnx.to_pure_dict(state))

    def apply(weights: Any, *inputs: Any, **kwargs: Any) -> Any:
        # replace_by_pure_dict writes in place, so each call fills a fresh copy.
        fresh = jax.tree.map(lambda x: x, state)
        nnx.replace_by_pure_dict(fresh, weights)
        return nnx.merge(graphdef, fresh, rest)(*inputs, **kwargs)

    return weights, apply


def nnx_module(name: str, nn_module: Any) -> Callable:
    """Register the ``nnx.Param`` weights of a flax nnx module as ``name + "$params"``.

    Other state (e.g. batch statistics) is kept as it is in ``nn_module``.

    Returns:
        ``apply(*inputs)``, the module applied with the current weights.
    """
    weights, apply = _nnx_setup(name, nn_module)
    return functools.partial(apply, weights)


def random_nnx_module(name: str, nn_module: Any, prior: Any) -> Callable:
    """A flax nnx module whose weights are drawn from ``prior`` (see
    :func:`random_flax_module` for the forms ``prior`` may take)."""
    weights, apply = _nnx_setup(name, nn_module)
    return functools.partial(apply, _sample_weights(name, weights, prior))


# -- equinox --------------------------------------------------------------------------------


def _eqx_setup(name: str, nn_module: Any) -> tuple[dict, Callable]:
    """The module's arrays as ``{path: array}`` (a param site) and ``rebuild(weights)``."""
    eqx = _require("equinox", "equinox")
    arrays, static = eqx.partition(nn_module, eqx.is_inexact_array)
    flat, treedef = jax.tree_util.tree_flatten_with_path(arrays)
    paths = [_path_name(path) for path, _ in flat]
    # An equinox module is callable, which param() would take for an initializer; the
    # site holds a plain dict instead.
    weights = param(f"{name}$params")
    if weights is None:
        weights = param(
            f"{name}$params", {p: leaf for p, (_, leaf) in zip(paths, flat, strict=True)}
        )

    def rebuild(weights: dict) -> Any:
        arrays = jax.tree.unflatten(treedef, [weights[p] for p in paths])
        return eqx.combine(arrays, static)

    return weights, rebuild


def eqx_module(name: str, nn_module: Any) -> Any:
    """Register the floating-point arrays of an equinox module as ``name + "$params"``
    (a dict keyed by attribute path, e.g. ``"layers.0.weight"``).

    Returns:
        the module with the current weights (itself callable).
    """
    weights, rebuild = _eqx_setup(name, nn_module)
    return rebuild(weights)


def random_eqx_module(name: str, nn_module: Any, prior: Any) -> Any:
    """An equinox module whose floating-point arrays are drawn from ``prior`` (see
    :func:`random_flax_module` for the forms ``prior`` may take; paths are
    attribute names such as ``"layers.0.weight"``)."""
    weights, rebuild = _eqx_setup(name, nn_module)
    return rebuild(_sample_weights(name, weights, prior))
