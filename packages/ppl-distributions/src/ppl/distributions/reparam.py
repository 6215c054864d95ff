"""Reparameterizers: rewrite a latent site as a transform of an easier one.

Used with the :class:`ppl.handlers.reparam` handler::

    with reparam(config={"theta": LocScaleReparam(centered=0)}):
        theta = sample("theta", Normal(mu, tau))

Each reparameterizer is called as ``reparam(name, fn, obs)``: it samples one or
more auxiliary sites and returns ``(None, value)``, turning the original site
into a deterministic function of them. The geometry of the auxiliary sites is
what the sampler sees, which is the point: a hierarchical ``Normal(mu, tau)``
with small ``tau`` is a funnel; its decentered version is a unit Normal.
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
import numpy as np

import ppl
from ppl import constraints
from ppl.distributions.distribution import (
    Distribution,
    ExpandedDistribution,
    ImproperUniform,
    Independent,
    TransformedDistribution,
)

__all__ = [
    "CircularReparam",
    "ExplicitReparam",
    "LocScaleReparam",
    "ProjectedNormalReparam",
    "Reparam",
    "TransformReparam",
]


class Reparam:
    """Base class: helpers to look through ``expand`` and ``to_event`` wrappers."""

    def __call__(self, name: str, fn: Distribution, obs: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    @staticmethod
    def _unwrap(fn: Distribution) -> tuple[Distribution, tuple, int]:
        shape = fn.shape()
        event_dim = fn.event_dim
        while isinstance(fn, Independent | ExpandedDistribution):
            fn = fn.base_dist
        expand_shape = shape[: len(shape) - fn.event_dim]
        return fn, expand_shape, event_dim

    @staticmethod
    def _wrap(fn: Distribution, expand_shape: tuple, event_dim: int) -> Distribution:
        fn = fn.expand(expand_shape)
        if fn.event_dim < event_dim:
            fn = fn.to_event(event_dim - fn.event_dim)
        return fn

    @staticmethod
    def _reject_obs(name: str, obs: Any) -> None:
        if obs is not None:
            raise ValueError(
                f"site {name!r} is observed: reparameterizers rewrite latent sites only"
            )


def _base_support(fn: Distribution) -> Any:
    support = fn.support
    while isinstance(support, constraints.independent):
        support = support.base_constraint
    return support


class LocScaleReparam(Reparam):
    """(Partially) decenter a location-scale site.

    With centeredness :math:`c \\in [0, 1]` the site
    :math:`x \\sim \\text{Loc}(\\mu, \\sigma)` is drawn as

    .. math::

        x_{dec} \\sim \\text{Loc}(c\\,\\mu, \\sigma^{c}), \\qquad
        x = \\mu + \\sigma^{1-c} (x_{dec} - c\\,\\mu)

    ``c = 1`` leaves the site alone, ``c = 0`` is the fully non-centered
    form. ``centered=None`` learns ``c`` as the param ``name + "_centered"``
    (with SVI).

    Args:
        centered: the centeredness, or ``None`` to learn it.
        shape_params: names of other parameters of the distribution to keep
            (e.g. ``("df",)`` for StudentT).
    """

    def __init__(self, centered: Any = None, shape_params: tuple | list = ()) -> None:
        if not isinstance(shape_params, tuple | list) or not all(
            isinstance(p, str) for p in shape_params
        ):
            raise TypeError("LocScaleReparam: shape_params must be a tuple of parameter names")
        if centered is not None and not _is_traced(centered):
            if not np.all((np.asarray(centered) >= 0) & (np.asarray(centered) <= 1)):
                raise ValueError(f"LocScaleReparam: centered must lie in [0, 1], got {centered!r}")
        self.centered = centered
        self.shape_params = tuple(shape_params)

    def __call__(self, name: str, fn: Distribution, obs: Any) -> tuple[Any, Any]:
        self._reject_obs(name, obs)
        support = _base_support(fn)
        if support is not constraints.real:
            raise ValueError(
                f"LocScaleReparam at site {name!r}: needs a distribution with real support, got "
                f"{type(fn).__name__} with support {support!r}"
            )
        centered = self.centered
        if centered is not None and not _is_traced(centered) and np.all(np.asarray(centered) == 1):
            return fn, obs
        event_shape = fn.event_shape
        fn, expand_shape, event_dim = self._unwrap(fn)
        if not (hasattr(fn, "loc") and hasattr(fn, "scale")):
            raise ValueError(
                f"LocScaleReparam at site {name!r}: {type(fn).__name__} has no loc and scale"
            )
        params = {key: getattr(fn, key) for key in self.shape_params}
        if centered is None:
            centered = ppl.param(
                f"{name}_centered", jnp.full(event_shape, 0.5), constraint=constraints.unit_interval
            )
        if isinstance(centered, int | float) and centered == 0:
            params["loc"] = jnp.zeros_like(fn.loc)
            params["scale"] = jnp.ones_like(fn.scale)
        else:
            params["loc"] = fn.loc * centered
            params["scale"] = fn.scale**centered
        decentered_fn = self._wrap(type(fn)(**params), expand_shape, event_dim)
        decentered = ppl.sample(f"{name}_decentered", decentered_fn)
        value = fn.loc + jnp.power(fn.scale, 1 - centered) * (decentered - centered * fn.loc)
        return None, value


def _is_traced(x: Any) -> bool:
    import jax

    return isinstance(x, jax.core.Tracer)


class TransformReparam(Reparam):
    """Draw a :class:`TransformedDistribution` site as its base draw, then transform it.

    ``x = T(base)`` with ``base ~ base_dist`` sampled at ``name + "_base"``.
    """

    def __call__(self, name: str, fn: Distribution, obs: Any) -> tuple[Any, Any]:
        self._reject_obs(name, obs)
        fn, expand_shape, event_dim = self._unwrap(fn)
        if not isinstance(fn, TransformedDistribution):
            raise ValueError(
                f"TransformReparam at site {name!r}: needs a TransformedDistribution, got "
                f"{type(fn).__name__}"
            )
        base_event_dim = event_dim
        for transform in reversed(fn.transforms):
            base_event_dim += transform.domain.event_dim - transform.codomain.event_dim
        value = ppl.sample(f"{name}_base", self._wrap(fn.base_dist, expand_shape, base_event_dim))
        for transform in fn.transforms:
            value = transform(value)
        return None, value


class CircularReparam(Reparam):
    """Sample a circular site on the real line and wrap it to :math:`[-\\pi, \\pi)`.

    The site ``name + "_unwrapped"`` is improper-uniform on the reals; the
    original density enters through the factor ``name + "_factor"``. This
    removes the boundary that samplers bounce off at :math:`\\pm\\pi`.
    """

    def __call__(self, name: str, fn: Distribution, obs: Any) -> tuple[Any, Any]:
        support = _base_support(fn)
        if support is not constraints.circular:
            raise ValueError(
                f"CircularReparam at site {name!r}: needs circular support, got {support!r}"
            )
        unwrapped = ppl.sample(
            f"{name}_unwrapped",
            ImproperUniform(constraints.real, fn.batch_shape, fn.event_shape),
            obs=obs,
        )
        value = jnp.remainder(unwrapped + math.pi, 2 * math.pi) - math.pi
        ppl.factor(f"{name}_factor", fn.log_prob(value))
        return None, value


class ProjectedNormalReparam(Reparam):
    """Draw a ProjectedNormal site as a normalized Normal draw.

    ``x = (z + c) / |z + c|`` with ``z ~ Normal(0, 1)`` at ``name + "_normal"``
    and ``c`` the concentration vector.
    """

    def __call__(self, name: str, fn: Distribution, obs: Any) -> tuple[Any, Any]:
        from ppl.distributions.continuous import Normal

        self._reject_obs(name, obs)
        fn, expand_shape, event_dim = self._unwrap(fn)
        if type(fn).__name__ != "ProjectedNormal":
            raise ValueError(
                f"ProjectedNormalReparam at site {name!r}: needs a ProjectedNormal, got "
                f"{type(fn).__name__}"
            )
        noise_fn = Normal(jnp.zeros(jnp.shape(fn.concentration)), 1.0).to_event(1)
        noise = ppl.sample(f"{name}_normal", self._wrap(noise_fn, expand_shape, event_dim))
        shifted = noise + fn.concentration
        norm = jnp.linalg.norm(shifted, axis=-1, keepdims=True)
        # A zero vector has no direction; any unit vector is as good as another.
        safe = jnp.where(norm > 0, shifted / jnp.where(norm > 0, norm, 1.0), _first_axis(shifted))
        return None, safe


def _first_axis(x: Any) -> Any:
    return jnp.zeros_like(x).at[..., 0].set(1.0)


class ExplicitReparam(Reparam):
    """Sample ``y = transform(x)`` instead of ``x``, for a better-shaped posterior.

    The site ``name + "_transformed"`` follows the pushforward of the site's
    distribution through ``transform``; ``x = transform.inv(y)``.

    Args:
        transform: a bijection defined on the site's support.
    """

    def __init__(self, transform: Any) -> None:
        self.transform = transform

    def __call__(self, name: str, fn: Distribution, obs: Any) -> tuple[Any, Any]:
        self._reject_obs(name, obs)
        fn, expand_shape, event_dim = self._unwrap(fn)
        transformed = TransformedDistribution(fn, self.transform)
        target_event_dim = event_dim + self.transform.codomain.event_dim
        target_event_dim -= self.transform.domain.event_dim
        y = ppl.sample(
            f"{name}_transformed", self._wrap(transformed, expand_shape, target_event_dim)
        )
        return None, self.transform.inv(y)
