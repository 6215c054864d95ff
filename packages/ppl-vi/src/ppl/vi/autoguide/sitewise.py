"""Autoguides with one independent factor per latent site: AutoNormal and AutoDelta."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import jax
import jax.numpy as jnp

from ppl import constraints
from ppl.distributions import Delta, Normal, TransformedDistribution
from ppl.infer.initialization import init_to_median, init_to_uniform
from ppl.primitives import param, sample
from ppl.vi.autoguide.base import AutoGuide, periodic_repeat, site_transform

__all__ = ["AutoDelta", "AutoNormal"]


def _is_real_support(support: Any) -> bool:
    while isinstance(support, constraints.independent):
        support = support.base_constraint
    return support is constraints.real


class _SitewiseGuide(AutoGuide):
    """Shared set-up: per-site event dims, and full-size initial values under subsampling."""

    def _setup_sites(self, locs: dict, event_dims: dict) -> dict:
        for name, site in self.prototype_trace.items():
            if site["type"] != "sample" or site["is_observed"]:
                continue
            for frame in site["cond_indep_stack"]:
                full_size = self._prototype_frame_full_sizes.get(frame.name, frame.size)
                if full_size != frame.size:
                    locs[name] = periodic_repeat(
                        locs[name], full_size, frame.dim - event_dims[name]
                    )
        return locs

    def _plates_of(self, site: dict, stack: ExitStack) -> None:
        for frame in site["cond_indep_stack"]:
            stack.enter_context(self.plates[frame.name])


class AutoNormal(_SitewiseGuide):
    r"""A mean-field guide: an independent Normal for each latent site in unconstrained space,

    .. math:: q(z) = \prod_i T_i\!\left(\mathcal{N}(\mu_i, \sigma_i^2)\right),

    with :math:`T_i` the bijection onto site :math:`i`'s support. Params are
    named ``{site}_{prefix}_loc`` and ``{site}_{prefix}_scale``; sites inside
    subsampled plates get full-size params of which each step uses the
    subsample. Equivalent to :class:`AutoDiagonalNormal` but with per-site
    params, and suited to :class:`~ppl.vi.TraceMeanField_ELBO`.

    Args:
        model, prefix, init_loc_fn, create_plates: see :class:`AutoGuide`.
        init_scale: the initial :math:`\sigma` of every site.
    """

    scale_constraint = constraints.softplus_positive

    def __init__(
        self,
        model: Callable,
        *,
        prefix: str = "auto",
        init_loc_fn: Callable = init_to_uniform,
        init_scale: float = 0.1,
        create_plates: Callable | None = None,
    ) -> None:
        if not init_scale > 0:
            raise ValueError(f"AutoNormal: init_scale must be positive, got {init_scale!r}")
        self._init_scale = init_scale
        self._event_dims: dict[str, int] = {}
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn, create_plates=create_plates)

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        for name in self._latent_names():
            site = self.prototype_trace[name]
            self._event_dims[name] = (
                site["fn"].event_dim + jnp.ndim(self._init_locs[name]) - jnp.ndim(site["value"])
            )
        self._init_locs = self._setup_sites(self._init_locs, self._event_dims)

    def _loc_name(self, name: str) -> str:
        return f"{name}_{self.prefix}_loc"

    def _scale_name(self, name: str) -> str:
        return f"{name}_{self.prefix}_scale"

    def __call__(self, *args: Any, **kwargs: Any) -> dict:
        if self.prototype_trace is None:
            self._setup_prototype(*args, **kwargs)
        self._create_plates(*args, **kwargs)
        result = {}
        for name in self._latent_names():
            site = self.prototype_trace[name]
            event_dim = self._event_dims[name]
            init_loc = self._init_locs[name]
            with ExitStack() as stack:
                self._plates_of(site, stack)
                loc = param(self._loc_name(name), init_loc, event_dim=event_dim)
                scale = param(
                    self._scale_name(name),
                    jnp.full(jnp.shape(init_loc), self._init_scale),
                    constraint=self.scale_constraint,
                    event_dim=event_dim,
                )
                loc = self._subsample(loc, site, event_dim)
                scale = self._subsample(scale, site, event_dim)
                fn = Normal(loc, scale).to_event(event_dim)
                if not _is_real_support(site["fn"].support):
                    fn = TransformedDistribution(fn, site_transform(site))
                result[name] = sample(name, fn)
        return result

    def _locs_scales(self, params: dict) -> tuple[dict, dict]:
        self._check_setup()
        names = self._latent_names()
        locs = {name: params[self._loc_name(name)] for name in names}
        scales = {name: params[self._scale_name(name)] for name in names}
        return locs, scales

    def sample_posterior(
        self, rng_key: jax.Array, params: dict, *args: Any, sample_shape: tuple = (), **kwargs: Any
    ) -> dict:
        locs, scales = self._locs_scales(params)
        latents = {}
        for name, key in zip(locs, jax.random.split(rng_key, max(len(locs), 1)), strict=False):
            latents[name] = Normal(locs[name], scales[name]).sample(key, tuple(sample_shape))
        return self._postprocess(latents, params, args, kwargs, batch_ndims=len(sample_shape))

    def median(self, params: dict) -> dict:
        locs, _ = self._locs_scales(params)
        return self._postprocess(locs, params, (), {}, batch_ndims=0)

    def quantiles(self, params: dict, quantiles: Any) -> dict:
        locs, scales = self._locs_scales(params)
        quantiles = jnp.asarray(quantiles)
        latents = {
            name: Normal(locs[name], scales[name]).icdf(
                jnp.reshape(quantiles, jnp.shape(quantiles) + (1,) * jnp.ndim(locs[name]))
            )
            for name in locs
        }
        return self._postprocess(latents, params, (), {}, batch_ndims=jnp.ndim(quantiles))


class AutoDelta(_SitewiseGuide):
    """A point-mass guide for MAP estimation: ``Delta(loc)`` at each latent site.

    The locations are params named ``{site}_{prefix}_loc``, held in
    constrained space (with the site's support as their constraint), so the
    optimum is the MAP of the model's density in the original parametrization.

    Args:
        model, prefix, create_plates: see :class:`AutoGuide`.
        init_loc_fn: initial locations (default: the median of the prior).
    """

    def __init__(
        self,
        model: Callable,
        *,
        prefix: str = "auto",
        init_loc_fn: Callable = init_to_median,
        create_plates: Callable | None = None,
    ) -> None:
        self._event_dims: dict[str, int] = {}
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn, create_plates=create_plates)

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        locs = {
            name: site_transform(self.prototype_trace[name])(value)
            for name, value in self._init_locs.items()
        }
        for name in self._latent_names():
            self._event_dims[name] = self.prototype_trace[name]["fn"].event_dim
        self._init_locs = self._setup_sites(locs, self._event_dims)

    def _loc_name(self, name: str) -> str:
        return f"{name}_{self.prefix}_loc"

    def __call__(self, *args: Any, **kwargs: Any) -> dict:
        if self.prototype_trace is None:
            self._setup_prototype(*args, **kwargs)
        self._create_plates(*args, **kwargs)
        result = {}
        for name in self._latent_names():
            site = self.prototype_trace[name]
            event_dim = self._event_dims[name]
            with ExitStack() as stack:
                self._plates_of(site, stack)
                loc = param(
                    self._loc_name(name),
                    self._init_locs[name],
                    constraint=site["fn"].support,
                    event_dim=event_dim,
                )
                loc = self._subsample(loc, site, event_dim)
                result[name] = sample(name, Delta(loc, event_dim=event_dim))
        return result

    def _locs(self, params: dict) -> dict:
        self._check_setup()
        return {name: params[self._loc_name(name)] for name in self._latent_names()}

    def sample_posterior(
        self, rng_key: jax.Array, params: dict, *args: Any, sample_shape: tuple = (), **kwargs: Any
    ) -> dict:
        latents = {
            name: jnp.broadcast_to(v, tuple(sample_shape) + jnp.shape(v))
            for name, v in self._locs(params).items()
        }
        return self._postprocess(
            latents, params, args, kwargs, batch_ndims=len(sample_shape), constrained=True
        )

    def median(self, params: dict) -> dict:
        return self._locs(params)
