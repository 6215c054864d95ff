"""Unconstrained-space utilities shared by every inference backend.

Gradient-based samplers and optimizers work on :math:`z \\in \\mathbb{R}^d`.
Each latent site :math:`x` with support :math:`S` is reached through the
bijection :math:`T = \\text{biject\\_to}(S)`, :math:`x = T(z)`, and the density
on :math:`z` picks up the Jacobian term:

.. math::

    U(z) = -\\log p(T(z), y) - \\sum_{\\text{sites}} \\log |\\det J_T(z)|

:func:`potential_energy` computes :math:`U`, :func:`initialize_model` finds a
starting :math:`z` where :math:`U` and :math:`\\nabla U` are finite and returns
the functions a kernel needs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ppl.handlers import seed, substitute, trace
from ppl.infer.initialization import _warn_unknown_init_values, init_to_uniform, init_to_value
from ppl.transforms import biject_to

__all__ = [
    "ModelInfo",
    "ParamInfo",
    "apply_mask_and_scale",
    "constrain_fn",
    "find_valid_initial_params",
    "initialize_model",
    "latent_transforms",
    "log_density",
    "log_likelihood",
    "potential_energy",
    "site_log_prob",
    "transform_fn",
    "unconstrain_fn",
]

#: How many times :func:`find_valid_initial_params` redraws before giving up.
MAX_INIT_TRIES = 100


class ParamInfo(NamedTuple):
    """A point in unconstrained space with its potential energy and gradient."""

    z: dict
    potential_energy: Any
    z_grad: dict | None


class ModelInfo(NamedTuple):
    """What :func:`initialize_model` returns."""

    param_info: ParamInfo
    potential_fn: Callable
    postprocess_fn: Callable
    model_trace: dict


# ---------------------------------------------------------------------------
# Log densities
# ---------------------------------------------------------------------------


def site_log_prob(site: dict) -> Any:
    """The log density of one sample site, with its mask and scale applied, unsummed."""
    fn = site["fn"]
    if site.get("intermediates"):
        log_prob = fn.log_prob(site["value"], site["intermediates"])
    else:
        log_prob = fn.log_prob(site["value"])
    return apply_mask_and_scale(log_prob, site)


def apply_mask_and_scale(log_prob: Any, site: dict) -> Any:
    """Weigh an elementwise log density term by a sample site's mask and scale.

    Handlers such as :class:`~ppl.handlers.mask` and :class:`~ppl.handlers.scale`
    only record ``site["mask"]`` and ``site["scale"]``; every term that enters an
    objective for that site (its log density, the log-Jacobian of its bijection,
    an analytic KL divergence) must be weighed the same way:

    .. math::

        \\ell' = s \\cdot \\mathbf{1}[m] \\cdot \\ell,

    where masked-out entries become exactly 0 (not ``0 * nan``).

    Args:
        log_prob: an array of log density terms, broadcastable with the site's
            mask.
        site: a sample site of a trace (a dict with optional ``"mask"`` and
            ``"scale"`` entries; ``None`` or a missing entry means no masking or
            scaling).

    Returns:
        ``log_prob`` with masked-out entries set to 0, then multiplied by the
        scale; unsummed.
    """
    site_mask = site.get("mask")
    if site_mask is not None:
        log_prob = jnp.where(site_mask, log_prob, 0.0)
    if site.get("scale") is not None:
        log_prob = site["scale"] * log_prob
    return log_prob


def _trace_log_density(model_trace: dict) -> Any:
    log_joint = jnp.zeros((), dtype=jnp.result_type(float))
    for site in model_trace.values():
        if site["type"] == "sample":
            log_joint = log_joint + jnp.sum(site_log_prob(site))
    return log_joint


def log_density(
    model: Callable, model_args: tuple, model_kwargs: dict, params: dict
) -> tuple[Any, dict]:
    """The joint log density of ``model`` with sites set to ``params`` (constrained values).

    Returns:
        ``(log_joint, model_trace)``.
    """
    model_trace = trace(substitute(model, data=params)).get_trace(*model_args, **model_kwargs)
    return _trace_log_density(model_trace), model_trace


def _site_transform(site: dict) -> Any:
    if site["type"] == "param":
        return biject_to(site["kwargs"].get("constraint"))
    support = site["fn"].support
    try:
        return biject_to(support)
    except NotImplementedError as error:
        raise NotImplementedError(
            f"site {site['name']!r}: no bijection onto its support {support!r}, so it cannot be "
            "moved to unconstrained space. Use a kernel that does not need gradients for it, "
            f"or register a bijection for this constraint type ({error})"
        ) from None


def _event_dims(site: dict) -> int:
    if site["type"] == "sample":
        return len(site["fn"].event_shape)
    event_dim = site["kwargs"].get("event_dim")
    return 0 if event_dim is None else event_dim


def _constrain_sites(params: dict, site: dict) -> Any:
    if site["type"] not in ("sample", "param") or site["name"] not in params:
        return None
    return _site_transform(site)(params[site["name"]])


def potential_energy(
    model: Callable,
    model_args: tuple,
    model_kwargs: dict,
    params: dict,
    enum: bool = False,
) -> Any:
    """:math:`U(z)`: minus the log joint density at unconstrained ``params``,
    Jacobians of the bijections included."""
    if enum:
        raise NotImplementedError(
            "potential_energy(enum=True): enumeration of discrete sites is not available yet"
        )
    substituted = substitute(model, substitute_fn=functools.partial(_constrain_sites, params))
    model_trace = trace(substituted).get_trace(*model_args, **model_kwargs)
    log_joint = _trace_log_density(model_trace)
    for name, z in params.items():
        site = model_trace.get(name)
        if site is None or site["type"] != "sample":
            continue
        transform = _site_transform(site)
        log_det = transform.log_abs_det_jacobian(z, site["value"])
        # Sum the event dims so the Jacobian term weighs like the site's log_prob.
        event_dims = jnp.ndim(log_det) - jnp.ndim(site["value"]) + _event_dims(site)
        if event_dims > 0:
            log_det = jnp.sum(log_det, axis=tuple(range(-event_dims, 0)))
        log_joint = log_joint + jnp.sum(apply_mask_and_scale(log_det, site))
    return -log_joint


# ---------------------------------------------------------------------------
# Moving between constrained and unconstrained space
# ---------------------------------------------------------------------------


def transform_fn(transforms: dict, params: dict, invert: bool = False) -> dict:
    """Apply ``transforms[name]`` (or its inverse) to ``params[name]``; other entries pass."""
    if invert:
        transforms = {name: transform.inv for name, transform in transforms.items()}
    return {
        name: transforms[name](value) if name in transforms else value
        for name, value in params.items()
    }


def constrain_fn(
    model: Callable,
    model_args: tuple,
    model_kwargs: dict,
    params: dict,
    return_deterministic: bool = False,
) -> dict:
    """Map unconstrained ``params`` to the model's supports (running the model, so that
    supports depending on other sites are right), with deterministic sites if asked."""
    substituted = substitute(model, substitute_fn=functools.partial(_constrain_sites, params))
    model_trace = trace(substituted).get_trace(*model_args, **model_kwargs)
    return {
        name: site["value"]
        for name, site in model_trace.items()
        if name in params or (return_deterministic and site["type"] == "deterministic")
    }


def unconstrain_fn(model: Callable, model_args: tuple, model_kwargs: dict, params: dict) -> dict:
    """Map constrained ``params`` to unconstrained space."""
    model_trace = trace(substitute(model, data=params)).get_trace(*model_args, **model_kwargs)
    return {
        name: _site_transform(model_trace[name]).inv(value)
        for name, value in params.items()
        if name in model_trace
    }


def latent_transforms(model_trace: dict) -> dict:
    """The bijections from unconstrained space to the support of each continuous
    latent sample site of a trace (``{name: transform}``)."""
    return _latent_transforms(model_trace)[0]


def _latent_transforms(model_trace: dict) -> tuple[dict, bool]:
    transforms: dict = {}
    has_deterministic = False
    for name, site in model_trace.items():
        if site["type"] == "sample" and not site["is_observed"]:
            if site["fn"].support.is_discrete:
                continue
            transforms[name] = _site_transform(site)
        elif site["type"] == "deterministic":
            has_deterministic = True
    return transforms, has_deterministic


# ---------------------------------------------------------------------------
# Initialization
# ---------------------------------------------------------------------------


def _is_concrete(x: Any) -> bool:
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x))


def _is_single_key(rng_key: Any) -> bool:
    if jnp.issubdtype(rng_key.dtype, jax.dtypes.prng_key):
        return rng_key.ndim == 0
    return rng_key.shape == (2,)


def find_valid_initial_params(
    rng_key: jax.Array,
    model: Callable,
    *,
    init_strategy: Callable = init_to_uniform,
    enum: bool = False,
    model_args: tuple = (),
    model_kwargs: dict | None = None,
    prototype_params: dict | None = None,
    forward_mode_differentiation: bool = False,
    validate_grad: bool = True,
) -> tuple[tuple[dict, Any, dict | None], Any]:
    """Draw initial points with ``init_strategy`` until the potential energy (and its
    gradient) is finite, up to :data:`MAX_INIT_TRIES` times.

    ``rng_key`` may be a batch of keys (one chain each).

    Returns:
        ``((z, potential_energy, z_grad), is_valid)``.
    """
    model_kwargs = {} if model_kwargs is None else model_kwargs
    potential = functools.partial(potential_energy, model, model_args, model_kwargs, enum=enum)

    def draw(key: jax.Array) -> dict:
        seeded = substitute(seed(model, rng_seed=key), substitute_fn=init_strategy)
        model_trace = trace(seeded).get_trace(*model_args, **model_kwargs)
        transforms, _ = _latent_transforms(model_trace)
        constrained = {name: model_trace[name]["value"] for name in transforms}
        return transform_fn(transforms, constrained, invert=True)

    def attempt(key: jax.Array) -> tuple[dict, Any, Any, Any]:
        params = draw(key)
        if validate_grad:
            if forward_mode_differentiation:
                energy = potential(params)
                grad = jax.jacfwd(potential)(params)
            else:
                energy, grad = jax.value_and_grad(potential)(params)
            valid = jnp.isfinite(energy) & jnp.all(jnp.isfinite(ravel_pytree(grad)[0]))
        else:
            energy, grad = potential(params), None
            valid = jnp.isfinite(energy)
        return params, energy, grad, valid

    def search(key: jax.Array, exit_early: bool) -> tuple[tuple, Any]:
        key, first = jax.random.split(key)
        if exit_early and _is_concrete(key):
            # One eager attempt avoids compiling the retry loop when the first draw works,
            # which is the common case for a single chain.
            params, energy, grad, valid = attempt(first)
            if _is_concrete(valid) and bool(valid):
                return (params, energy, grad), valid

        def cond(state: tuple) -> Any:
            tries, _, _, valid = state
            return (tries < MAX_INIT_TRIES) & ~valid

        def body(state: tuple) -> tuple:
            tries, key, _, _ = state
            key, subkey = jax.random.split(key)
            params, energy, grad, valid = attempt(subkey)
            return tries + 1, key, (params, energy, grad), valid

        prototype = jax.eval_shape(attempt, first)
        zeros = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), prototype[:3])
        _, _, found, valid = jax.lax.while_loop(cond, body, (0, key, zeros, jnp.array(False)))
        return found, valid

    if _is_single_key(rng_key):
        return search(rng_key, exit_early=True)
    return jax.lax.map(lambda key: search(key, exit_early=False), rng_key)


def _check_observed_data(model_trace: dict) -> None:
    for name, site in model_trace.items():
        if site["type"] != "sample" or not site["is_observed"]:
            continue
        value = site["value"]
        if not _is_concrete(value):
            continue
        array = np.asarray(value)
        if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
            bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
            raise ValueError(
                f"observed site {name!r}: the data holds {bad} NaN or infinite value(s). Remove "
                "them, or mark them missing with sample(..., obs_mask=...) to impute them."
            )


def _diagnose_invalid_init(
    model: Callable, model_args: tuple, model_kwargs: dict, params: dict
) -> str:
    """Name the sites whose log density, or whose gradient, is not finite at ``params``."""
    substituted = substitute(model, substitute_fn=functools.partial(_constrain_sites, params))
    model_trace = trace(substituted).get_trace(*model_args, **model_kwargs)
    bad_density = []
    for name, site in model_trace.items():
        if site["type"] == "sample":
            total = jnp.sum(site_log_prob(site))
            if not bool(jnp.isfinite(total)):
                bad_density.append(f"{name} (log density {float(total)})")
    grads = jax.grad(potential_energy, argnums=3)(model, model_args, model_kwargs, params)
    bad_grad = [name for name, grad in grads.items() if not bool(jnp.all(jnp.isfinite(grad)))]
    lines = []
    if bad_density:
        lines.append("sites with a non-finite log density: " + ", ".join(bad_density))
    if bad_grad:
        lines.append("latent sites with a non-finite gradient: " + ", ".join(bad_grad))
    return "; ".join(lines) or "no single site is non-finite (check the model's arithmetic)"


def initialize_model(
    rng_key: jax.Array,
    model: Callable,
    *,
    init_strategy: Callable = init_to_uniform,
    dynamic_args: bool = False,
    model_args: tuple = (),
    model_kwargs: dict | None = None,
    forward_mode_differentiation: bool = False,
    validate_grad: bool = True,
) -> ModelInfo:
    """Everything a gradient-based kernel needs to run on ``model``.

    Args:
        rng_key: a key, or a batch of keys to initialize several chains.
        model: the model.
        init_strategy: an initialization strategy (:mod:`ppl.infer.initialization`).
        dynamic_args: return ``potential_fn(*args, **kwargs)`` and
            ``postprocess_fn(*args, **kwargs)`` that build the functions for
            given model arguments, instead of binding ``model_args`` now.
        model_args, model_kwargs: the model's arguments.
        forward_mode_differentiation: use forward mode (``jax.jacfwd``) for
            the gradient check, for models with ``while_loop`` and the like.
        validate_grad: require a finite gradient at the initial point.

    Returns:
        :class:`ModelInfo` ``(param_info, potential_fn, postprocess_fn, model_trace)``:
        ``param_info`` is the initial :class:`ParamInfo` in unconstrained
        space; ``postprocess_fn`` maps unconstrained samples to constrained
        values (with deterministic sites).

    Raises:
        RuntimeError: naming the sites whose log density or gradient is not
            finite, when no valid point is found.
    """
    model_kwargs = {} if model_kwargs is None else model_kwargs
    first_key = rng_key if _is_single_key(rng_key) else rng_key[0]
    seeded = substitute(seed(model, rng_seed=first_key), substitute_fn=init_strategy)
    model_trace = trace(seeded).get_trace(*model_args, **model_kwargs)
    _check_observed_data(model_trace)
    transforms, has_deterministic = _latent_transforms(model_trace)
    _check_discrete_latents(model_trace)
    strategy = init_strategy if isinstance(init_strategy, functools.partial) else init_strategy()
    if getattr(strategy, "func", None) is init_to_value:
        _warn_unknown_init_values(strategy.keywords.get("values") or {}, set(transforms))
    # Params and subsample indices keep the values of this first run, so the search
    # below draws only latents and the potential needs no random key.
    fixed_params = {
        name: site["value"]
        for name, site in model_trace.items()
        if site["type"] == "param"
        or (site["type"] == "plate" and site["args"][0] != site["args"][1])
    }
    # Fill-only: a value set inside the model (e.g. subsample indices HMCECS
    # passes in through a handler of its own) wins over the fixed one.
    model_with_params = (
        substitute(model, substitute_fn=functools.partial(_fill_unset, fixed_params))
        if fixed_params
        else model
    )

    def bind(fn: Callable, args: tuple, kwargs: dict) -> Callable:
        return functools.partial(fn, model_with_params, args, kwargs)

    def make_postprocess(args: tuple, kwargs: dict) -> Callable:
        if has_deterministic:
            return functools.partial(bind(constrain_fn, args, kwargs), return_deterministic=True)
        return functools.partial(transform_fn, transforms)

    if dynamic_args:

        def potential_fn(*args: Any, **kwargs: Any) -> Callable:
            return bind(potential_energy, args, kwargs)

        def postprocess_fn(*args: Any, **kwargs: Any) -> Callable:
            return make_postprocess(args, kwargs)

    else:
        potential_fn = bind(potential_energy, model_args, model_kwargs)
        postprocess_fn = make_postprocess(model_args, model_kwargs)

    (z, energy, grad), is_valid = find_valid_initial_params(
        rng_key,
        model_with_params,
        init_strategy=strategy,
        model_args=model_args,
        model_kwargs=model_kwargs,
        forward_mode_differentiation=forward_mode_differentiation,
        validate_grad=validate_grad,
    )
    if _is_concrete(is_valid) and not bool(jnp.all(is_valid)):
        point = z if _is_single_key(rng_key) else jax.tree_util.tree_map(lambda v: v[0], z)
        diagnosis = _diagnose_invalid_init(model_with_params, model_args, model_kwargs, point)
        raise RuntimeError(
            f"Cannot find valid initial parameters after {MAX_INIT_TRIES} tries: {diagnosis}. "
            "Check the priors' parameters, the data, and the support of each site; "
            "init_to_value(values=...) or init_to_median() may help."
        )
    return ModelInfo(ParamInfo(z, energy, grad), potential_fn, postprocess_fn, model_trace)


def _fill_unset(values: dict, msg: dict) -> Any:
    return values.get(msg["name"]) if msg["value"] is None else None


def _check_discrete_latents(model_trace: dict) -> None:
    discrete = [
        name
        for name, site in model_trace.items()
        if site["type"] == "sample" and not site["is_observed"] and site["fn"].support.is_discrete
    ]
    if discrete:
        raise DiscreteLatentError(
            f"discrete latent site(s) {discrete}: gradient-based kernels (HMC, NUTS) need "
            "continuous latent variables. Marginalize them out, or sample them with "
            "DiscreteHMCGibbs, MixedHMC or HMCGibbs (ppl-mcmc), or use a gradient-free "
            "kernel."
        )


class DiscreteLatentError(ValueError):
    """A model with discrete latent sites was given to a continuous-only algorithm."""


# ---------------------------------------------------------------------------
# Predictive utilities
# ---------------------------------------------------------------------------


def _batched_map(fn: Callable, xs: Any, batch_ndims: int, batch_size: int | None) -> Any:
    """Map ``fn`` over the leading ``batch_ndims`` dims of ``xs``, ``batch_size`` at a time."""
    leaves = jax.tree_util.tree_leaves(xs)
    batch_shape = jnp.shape(leaves[0])[:batch_ndims]
    flat = jax.tree_util.tree_map(lambda x: jnp.reshape(x, (-1, *jnp.shape(x)[batch_ndims:])), xs)
    total = int(np.prod(batch_shape))
    size = total if batch_size is None else max(1, min(int(batch_size), total))
    out = jax.lax.map(fn, flat, batch_size=size) if size < total else jax.vmap(fn)(flat)
    return jax.tree_util.tree_map(lambda y: jnp.reshape(y, batch_shape + jnp.shape(y)[1:]), out)


def log_likelihood(
    model: Callable,
    posterior_samples: dict,
    *args: Any,
    parallel: bool = False,
    batch_ndims: int = 1,
    **kwargs: Any,
) -> dict:
    """The log likelihood of each observed site at each posterior draw.

    Args:
        model: the model, called with ``*args, **kwargs``.
        posterior_samples: ``{site: draws}``, with ``batch_ndims`` leading
            batch dimensions (e.g. 2 for ``(chains, draws)``).
        parallel: evaluate all draws at once (vectorized) instead of one at
            a time.

    Returns:
        ``{observed site: log p(y | draw)}``, each with the batch dims in front.
    """

    def single(samples: dict) -> dict:
        model_trace = trace(substitute(model, data=samples)).get_trace(*args, **kwargs)
        return {
            name: site_log_prob({**site, "scale": None})
            for name, site in model_trace.items()
            if site["type"] == "sample" and site["is_observed"]
        }

    return _batched_map(single, posterior_samples, batch_ndims, None if parallel else 1)
