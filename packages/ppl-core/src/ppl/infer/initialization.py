"""Initialization strategies: where an inference algorithm starts.

A strategy is a function ``init_fn(site)`` used as a ``substitute_fn``: it
returns a value for unobserved, continuous sample sites (and ``None`` for
everything else). Called with options only (``init_to_median(num_samples=50)``)
it returns the configured strategy.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import jax
import jax.numpy as jnp

from ppl.transforms import biject_to

__all__ = [
    "init_to_feasible",
    "init_to_mean",
    "init_to_median",
    "init_to_sample",
    "init_to_uniform",
    "init_to_value",
]


def _is_continuous_latent(site: dict | None) -> bool:
    return (
        site is not None
        and site["type"] == "sample"
        and not site["is_observed"]
        and not site["fn"].support.is_discrete
    )


def _site_key(site: dict) -> jax.Array:
    key = site["kwargs"].get("rng_key")
    if key is None:
        raise ValueError(
            f"initializing site {site['name']!r} needs a random key: run the model under "
            "ppl.handlers.seed"
        )
    return key


def _site_shape(site: dict) -> tuple[int, ...]:
    fn = site["fn"]
    return (
        tuple(site["kwargs"].get("sample_shape", ()))
        + tuple(fn.batch_shape)
        + tuple(fn.event_shape)
    )


def init_to_uniform(site: dict | None = None, radius: float = 2.0) -> Any:
    """Start each latent site at a point drawn uniformly from ``(-radius, radius)``
    in unconstrained space, mapped back to the site's support."""
    if site is None:
        return functools.partial(init_to_uniform, radius=radius)
    if not _is_continuous_latent(site):
        return None
    if site["value"] is not None:
        return site["value"]
    transform = biject_to(site["fn"].support)
    shape = transform.inverse_shape(_site_shape(site))
    unconstrained = jax.random.uniform(_site_key(site), shape, minval=-radius, maxval=radius)
    return transform(unconstrained)


def init_to_feasible(site: dict | None = None) -> Any:
    """Start each latent site at the image of 0 in unconstrained space."""
    if site is None:
        return functools.partial(init_to_feasible)
    return init_to_uniform(site, radius=0.0)


def init_to_median(site: dict | None = None, num_samples: int = 15) -> Any:
    """Start each latent site at the median of ``num_samples`` prior draws."""
    if site is None:
        return functools.partial(init_to_median, num_samples=num_samples)
    if not _is_continuous_latent(site):
        return None
    if site["value"] is not None:
        return site["value"]
    sample_shape = tuple(site["kwargs"].get("sample_shape", ()))
    try:
        draws = site["fn"].sample(_site_key(site), (num_samples, *sample_shape))
    except NotImplementedError:
        return init_to_uniform(site)
    return jnp.median(draws, axis=0)


def init_to_sample(site: dict | None = None) -> Any:
    """Start each latent site at one prior draw."""
    if site is None:
        return functools.partial(init_to_sample)
    if not _is_continuous_latent(site):
        return None
    if site["value"] is not None:
        return site["value"]
    sample_shape = tuple(site["kwargs"].get("sample_shape", ()))
    return site["fn"].sample(_site_key(site), sample_shape)


def init_to_mean(site: dict | None = None) -> Any:
    """Start each latent site at its prior mean (the median where the mean is undefined)."""
    if site is None:
        return functools.partial(init_to_mean)
    if not _is_continuous_latent(site):
        return None
    if site["value"] is not None:
        return site["value"]
    try:
        mean = site["fn"].mean
    except (NotImplementedError, AttributeError):
        return init_to_median(site)
    sample_shape = tuple(site["kwargs"].get("sample_shape", ()))
    if not isinstance(mean, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(mean))):
        return init_to_median(site)
    return jnp.broadcast_to(mean, sample_shape + jnp.shape(mean))


def init_to_value(site: dict | None = None, values: dict | None = None) -> Any:
    """Start the sites named in ``values`` there and the others as :func:`init_to_uniform`."""
    values = {} if values is None else values
    if site is None:
        return functools.partial(init_to_value, values=values)
    if not _is_continuous_latent(site):
        return None
    if site["name"] in values:
        return values[site["name"]]
    return init_to_uniform(site)


def _warn_unknown_init_values(values: dict, latent_names: set[str]) -> None:
    unknown = sorted(set(values) - latent_names)
    if unknown:
        warnings.warn(
            f"init_to_value: {unknown} are not latent sites of the model and are ignored "
            f"(latent sites: {sorted(latent_names)})",
            UserWarning,
            stacklevel=3,
        )
