r"""Autoguides over the whole latent space at once (ADVI, Kucukelbir et al. 2017).

All latent sites are mapped to unconstrained space and concatenated into one
vector :math:`z \in \mathbb{R}^D`; the guide is a distribution over
:math:`z` (the auxiliary site ``_{prefix}_latent``), from which each site's
value is :math:`x_i = T_i(z_i)`, recorded with density
:math:`q(z)\,/\,|\det J_{T}|`.
"""

from __future__ import annotations

import functools
import math
import warnings
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ppl import constraints
from ppl.distributions import (
    Delta,
    LowRankMultivariateNormal,
    MultivariateNormal,
    Normal,
    TransformedDistribution,
)
from ppl.distributions.util import cholesky_of_inverse, sum_rightmost
from ppl.handlers import seed, substitute
from ppl.infer.initialization import init_to_uniform
from ppl.primitives import get_mask, param, sample
from ppl.transforms import (
    AffineTransform,
    ComposeTransform,
    IndependentTransform,
    LowerCholeskyAffine,
    PermuteTransform,
    ReshapeTransform,
    UnpackTransform,
)
from ppl.vi.autoguide._whitened import WhitenedMultivariateNormal
from ppl.vi.autoguide.base import AutoGuide, site_transform

__all__ = [
    "AutoBatchedLowRankMultivariateNormal",
    "AutoBatchedMultivariateNormal",
    "AutoContinuous",
    "AutoDiagonalNormal",
    "AutoLaplaceApproximation",
    "AutoLowRankMultivariateNormal",
    "AutoMultivariateNormal",
]


def _ravel(values: dict) -> tuple[jax.Array, dict]:
    shapes = {name: tuple(jnp.shape(v)) for name, v in values.items()}
    return _ravel_with_shapes(values, shapes), shapes


def _ravel_with_shapes(values: dict, shapes: dict) -> jax.Array:
    parts = [jnp.reshape(values[name], -1) for name in shapes]
    return jnp.concatenate(parts) if parts else jnp.zeros((0,))


def _unravel(flat: jax.Array, shapes: dict) -> dict:
    out, start = {}, 0
    for name, shape in shapes.items():
        size = math.prod(shape)
        out[name] = jnp.reshape(flat[start : start + size], shape)
        start += size
    return out


def _check_init_scale(owner: str, init_scale: float) -> None:
    if not init_scale > 0:
        raise ValueError(f"{owner}: init_scale must be positive, got {init_scale!r}")


class AutoContinuous(AutoGuide):
    """Base class of the guides over the concatenated unconstrained latent vector.

    Subclasses implement :meth:`_get_posterior` (the distribution of the
    latent vector, built from param sites) and, where meaningful,
    :meth:`get_base_dist` and :meth:`get_transform`. Latent sites must be
    continuous and not inside subsampled plates.

    Args:
        model, prefix, init_loc_fn: see :class:`AutoGuide`.
    """

    def __init__(
        self,
        model: Callable,
        *,
        prefix: str = "auto",
        init_loc_fn: Callable = init_to_uniform,
        create_plates: Callable | None = None,
    ) -> None:
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn, create_plates=create_plates)

    #: Whether the posterior's location is the param ``{prefix}_loc`` (the median).
    _has_loc_param = False

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        self._init_latent, shapes = _ravel(self._init_locs)
        self._latent_shapes = shapes
        self._unpack_latent = UnpackTransform(
            functools.partial(_unravel, shapes=shapes),
            functools.partial(_ravel_with_shapes, shapes=shapes),
        )
        self.latent_dim = int(jnp.size(self._init_latent))
        if self.latent_dim == 0:
            raise RuntimeError(
                f"{type(self).__name__} found no latent variables in the model; use an empty "
                "guide (a function that samples nothing) instead"
            )
        for name in self._latent_names():
            for frame in self.prototype_trace[name]["cond_indep_stack"]:
                if frame.size != self._prototype_frame_full_sizes.get(frame.name, frame.size):
                    raise ValueError(
                        f"{type(self).__name__} cannot guide site {name!r}, which is inside the "
                        f"subsampled plate {frame.name!r} (a local latent variable); use "
                        "AutoNormal for models with local latent variables"
                    )

    @abstractmethod
    def _get_posterior(self) -> Any:
        """The distribution of the latent vector, with its params declared."""

    def _sample_latent(self, *args: Any, **kwargs: Any) -> jax.Array:
        sample_shape = kwargs.pop("sample_shape", ())
        posterior = self._get_posterior()
        return sample(
            f"_{self.prefix}_latent",
            posterior.expand_by(tuple(sample_shape)),
            infer={"is_auxiliary": True},
        )

    def __call__(self, *args: Any, **kwargs: Any) -> dict:
        if self.prototype_trace is None:
            self._setup_prototype(*args, **kwargs)
        latent = self._sample_latent(*args, **kwargs)
        result = {}
        compute_density = get_mask() is not False
        for name, unconstrained in self._unpack_latent(latent).items():
            site = self.prototype_trace[name]
            transform = site_transform(site)
            value = transform(unconstrained)
            event_dim = site["fn"].event_dim
            log_density = 0.0
            if compute_density:
                log_density = -transform.log_abs_det_jacobian(unconstrained, value)
                log_density = sum_rightmost(
                    log_density, jnp.ndim(log_density) - jnp.ndim(value) + event_dim
                )
            result[name] = sample(name, Delta(value, log_density=log_density, event_dim=event_dim))
        return result

    def _unpack_and_constrain(
        self, latent: jax.Array, params: dict, args: tuple = (), kwargs: dict | None = None
    ) -> dict:
        """Unpack latent vectors (with any leading batch dims) into constrained site values."""
        self._check_setup()
        batch_ndims = jnp.ndim(latent) - 1
        unpacked = self._unpack_latent(latent)
        return self._postprocess(unpacked, params, args, kwargs or {}, batch_ndims=batch_ndims)

    def get_base_dist(self) -> Any:
        """The base distribution of the posterior written as a transformed distribution
        (a standard Normal over :math:`\\mathbb{R}^D` by default)."""
        self._check_setup()
        return Normal(jnp.zeros(self.latent_dim), 1.0).to_event(1)

    def get_transform(self, params: dict) -> Any:
        """The transform taking the base distribution to the (unconstrained) posterior."""
        self._check_setup()
        posterior = substitute(self._get_posterior, data=params)()
        if not isinstance(posterior, TransformedDistribution):
            raise NotImplementedError(
                f"{type(self).__name__}.get_transform: the posterior is not a transformed "
                "distribution"
            )
        if len(posterior.transforms) == 1:
            return posterior.transforms[0]
        return ComposeTransform(posterior.transforms)

    def get_posterior(self, params: dict) -> Any:
        """The approximate posterior over the unconstrained latent vector."""
        return TransformedDistribution(self.get_base_dist(), self.get_transform(params))

    def sample_posterior(
        self, rng_key: jax.Array, params: dict, *args: Any, sample_shape: tuple = (), **kwargs: Any
    ) -> dict:
        self._check_setup()
        latent = substitute(seed(self._sample_latent, rng_key), data=params)(
            sample_shape=tuple(sample_shape)
        )
        return self._unpack_and_constrain(latent, params, args, kwargs)

    def _loc(self, params: dict) -> jax.Array:
        self._check_setup()
        return params[f"{self.prefix}_loc"]

    def median(self, params: dict) -> dict:
        if not self._has_loc_param:
            # e.g. flows: no param is the posterior's location.
            return super().median(params)
        return self._unpack_and_constrain(self._loc(params), params)

    def _quantiles_from(self, loc: jax.Array, scale: jax.Array, params: dict, quantiles: Any):
        quantiles = jnp.asarray(quantiles)[..., None]
        return self._unpack_and_constrain(Normal(loc, scale).icdf(quantiles), params)


class AutoDiagonalNormal(AutoContinuous):
    r"""A Normal with diagonal covariance over the latent vector:
    :math:`q(z) = \mathcal{N}(\mu, \mathrm{diag}(\sigma^2))`, params
    ``{prefix}_loc`` and ``{prefix}_scale``.

    Args:
        model, prefix, init_loc_fn: see :class:`AutoGuide`.
        init_scale: the initial :math:`\sigma`.
    """

    _has_loc_param = True

    scale_constraint = constraints.softplus_positive

    def __init__(
        self,
        model: Callable,
        *,
        prefix: str = "auto",
        init_loc_fn: Callable = init_to_uniform,
        init_scale: float = 0.1,
    ) -> None:
        _check_init_scale("AutoDiagonalNormal", init_scale)
        self._init_scale = init_scale
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn)

    def _get_posterior(self) -> Any:
        loc = param(f"{self.prefix}_loc", self._init_latent)
        scale = param(
            f"{self.prefix}_scale",
            jnp.full(self.latent_dim, self._init_scale),
            constraint=self.scale_constraint,
        )
        return Normal(loc, scale).to_event(1)

    def get_transform(self, params: dict) -> Any:
        loc, scale = params[f"{self.prefix}_loc"], params[f"{self.prefix}_scale"]
        return IndependentTransform(AffineTransform(loc, scale), 1)

    def get_posterior(self, params: dict) -> Any:
        """The diagonal Normal posterior (batch shape ``(D,)``)."""
        return Normal(params[f"{self.prefix}_loc"], params[f"{self.prefix}_scale"])

    def quantiles(self, params: dict, quantiles: Any) -> dict:
        loc, scale = self._loc(params), params[f"{self.prefix}_scale"]
        return self._quantiles_from(loc, scale, params, quantiles)


class AutoMultivariateNormal(AutoContinuous):
    r"""A full-covariance Normal over the latent vector:
    :math:`q(z) = \mathcal{N}(\mu, LL^\top)`, params ``{prefix}_loc`` and
    ``{prefix}_scale_tril``.

    Args:
        model, prefix, init_loc_fn: see :class:`AutoGuide`.
        init_scale: the initial scale (:math:`L = \text{init\_scale}\, I`).
    """

    _has_loc_param = True

    scale_tril_constraint = constraints.scaled_unit_lower_cholesky

    def __init__(
        self,
        model: Callable,
        *,
        prefix: str = "auto",
        init_loc_fn: Callable = init_to_uniform,
        init_scale: float = 0.1,
    ) -> None:
        _check_init_scale("AutoMultivariateNormal", init_scale)
        self._init_scale = init_scale
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn)

    def _get_posterior(self) -> Any:
        loc = param(f"{self.prefix}_loc", self._init_latent)
        scale_tril = param(
            f"{self.prefix}_scale_tril",
            jnp.identity(self.latent_dim) * self._init_scale,
            constraint=self.scale_tril_constraint,
        )
        # Scores its own draws from their white noise: no triangular solve per step.
        return WhitenedMultivariateNormal(loc, scale_tril=scale_tril)

    def get_transform(self, params: dict) -> Any:
        return LowerCholeskyAffine(
            params[f"{self.prefix}_loc"], params[f"{self.prefix}_scale_tril"]
        )

    def get_posterior(self, params: dict) -> Any:
        """The multivariate Normal posterior."""
        transform = self.get_transform(params)
        return MultivariateNormal(transform.loc, scale_tril=transform.scale_tril)

    def quantiles(self, params: dict, quantiles: Any) -> dict:
        transform = self.get_transform(params)
        scale = jnp.linalg.norm(transform.scale_tril, axis=-1)
        return self._quantiles_from(transform.loc, scale, params, quantiles)


class AutoLowRankMultivariateNormal(AutoContinuous):
    r"""A Normal whose covariance is diagonal plus low rank:
    :math:`\Sigma = \mathrm{diag}(\sigma)\,(W W^\top + I)\,\mathrm{diag}(\sigma)`,
    params ``{prefix}_loc``, ``{prefix}_cov_factor`` (:math:`W`, ``D x rank``)
    and ``{prefix}_scale``.

    Args:
        model, prefix, init_loc_fn: see :class:`AutoGuide`.
        init_scale: the initial :math:`\sigma`.
        rank: the rank of :math:`W` (default :math:`\mathrm{round}(\sqrt{D})`).
    """

    _has_loc_param = True

    scale_constraint = constraints.softplus_positive

    def __init__(
        self,
        model: Callable,
        *,
        prefix: str = "auto",
        init_loc_fn: Callable = init_to_uniform,
        init_scale: float = 0.1,
        rank: int | None = None,
    ) -> None:
        _check_init_scale("AutoLowRankMultivariateNormal", init_scale)
        if rank is not None and (not isinstance(rank, int) or rank < 1):
            raise ValueError(f"AutoLowRankMultivariateNormal: rank must be >= 1, got {rank!r}")
        self._init_scale = init_scale
        self.rank = rank
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn)

    def _rank(self, dim: int) -> int:
        return round(dim**0.5) if self.rank is None else self.rank

    def _get_posterior(self) -> Any:
        loc = param(f"{self.prefix}_loc", self._init_latent)
        cov_factor = param(
            f"{self.prefix}_cov_factor", jnp.zeros((self.latent_dim, self._rank(self.latent_dim)))
        )
        scale = param(
            f"{self.prefix}_scale",
            jnp.full(self.latent_dim, self._init_scale),
            constraint=self.scale_constraint,
        )
        return LowRankMultivariateNormal(loc, cov_factor * scale[..., None], scale * scale)

    def get_posterior(self, params: dict) -> Any:
        """The low-rank multivariate Normal posterior."""
        loc = params[f"{self.prefix}_loc"]
        cov_factor = params[f"{self.prefix}_cov_factor"]
        scale = params[f"{self.prefix}_scale"]
        return LowRankMultivariateNormal(loc, cov_factor * scale[..., None], scale * scale)

    def get_transform(self, params: dict) -> Any:
        posterior = self.get_posterior(params)
        return LowerCholeskyAffine(posterior.loc, posterior.scale_tril)

    def quantiles(self, params: dict, quantiles: Any) -> dict:
        cov_factor = params[f"{self.prefix}_cov_factor"]
        scale = params[f"{self.prefix}_scale"] * jnp.sqrt(jnp.sum(cov_factor**2, -1) + 1.0)
        return self._quantiles_from(self._loc(params), scale, params, quantiles)


class _AutoBatchedMixin:
    """Shape bookkeeping of the batched guides: the latent vector is read as
    ``batch_shape + (event_size,)`` (the leading ``batch_ndim`` dims shared by
    every latent site), with an independent factor per batch entry."""

    latent_dim: int

    def _setup_batch(self, batch_ndim: int) -> None:
        batch_shape = None
        for name in self._latent_names():
            site = self.prototype_trace[name]
            shape = tuple(jnp.shape(site["value"]))
            if len(shape) < batch_ndim + site["fn"].event_dim:
                raise ValueError(
                    f"{type(self).__name__}: expected {batch_ndim} batch dimension(s), but site "
                    f"{name!r} has shape {shape}"
                )
            if batch_shape is None:
                batch_shape = shape[:batch_ndim]
            elif shape[:batch_ndim] != batch_shape:
                raise ValueError(
                    f"{type(self).__name__}: the latent sites have different batch shapes "
                    f"({batch_shape} and {shape[:batch_ndim]} at site {name!r})"
                )
        self._batch_shape = tuple(batch_shape)
        batch_size = math.prod(self._batch_shape)
        if self.latent_dim % batch_size:
            raise ValueError(
                f"{type(self).__name__}: batch shape {self._batch_shape} does not divide the "
                f"latent dimension {self.latent_dim}"
            )
        self._event_shape = (self.latent_dim // batch_size,)
        # The latent vector lists sites one after another; the batched layout needs each
        # batch entry's coordinates together.
        index = np.arange(self.latent_dim)
        pieces, start = [], 0
        for name in self._latent_names():
            shape = tuple(jnp.shape(self._init_locs[name]))
            size = math.prod(shape)
            pieces.append(np.reshape(index[start : start + size], (batch_size, -1)))
            start += size
        self._to_batched = np.concatenate(pieces, axis=1).reshape(-1)
        self._from_batched = np.argsort(self._to_batched)

    def _reshape_transform(self) -> Any:
        return ReshapeTransform((self.latent_dim,), self._batch_shape + self._event_shape)


class AutoBatchedMultivariateNormal(_AutoBatchedMixin, AutoContinuous):
    r"""Independent full-covariance Normals, one per entry of the leading ``batch_ndim``
    dimensions shared by all latent sites (e.g. one per time series of a batch).

    Params ``{prefix}_loc`` (``batch_shape + (E,)``) and ``{prefix}_scale_tril``
    (``batch_shape + (E, E)``).

    Args:
        model, prefix, init_loc_fn: see :class:`AutoGuide`.
        init_scale: the initial scale.
        batch_ndim: how many leading dimensions are batch dimensions.
    """

    _has_loc_param = True

    scale_tril_constraint = constraints.scaled_unit_lower_cholesky

    def __init__(
        self,
        model: Callable,
        *,
        prefix: str = "auto",
        init_loc_fn: Callable = init_to_uniform,
        init_scale: float = 0.1,
        batch_ndim: int = 1,
    ) -> None:
        _check_init_scale("AutoBatchedMultivariateNormal", init_scale)
        self._init_scale = init_scale
        self.batch_ndim = batch_ndim
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn)

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        self._setup_batch(self.batch_ndim)

    def _batched_posterior(self) -> Any:
        init = jnp.reshape(
            self._init_latent[self._to_batched], self._batch_shape + self._event_shape
        )
        loc = param(f"{self.prefix}_loc", init)
        identity = jnp.broadcast_to(
            jnp.identity(self._event_shape[0]) * self._init_scale,
            self._batch_shape + self._event_shape * 2,
        )
        scale_tril = param(
            f"{self.prefix}_scale_tril", identity, constraint=self.scale_tril_constraint
        )
        return MultivariateNormal(loc, scale_tril=scale_tril)

    def _get_posterior(self) -> Any:
        return TransformedDistribution(
            self._batched_posterior(),
            [self._reshape_transform(), _permutation(self._from_batched)],
        )

    def get_transform(self, params: dict) -> Any:
        loc = params[f"{self.prefix}_loc"]
        scale_tril = params[f"{self.prefix}_scale_tril"]
        reshape = self._reshape_transform()
        return ComposeTransform(
            [
                reshape.inv,
                LowerCholeskyAffine(loc, scale_tril),
                reshape,
                _permutation(self._from_batched),
            ]
        )

    def _loc(self, params: dict) -> jax.Array:
        loc = self._reshape_transform()(params[f"{self.prefix}_loc"])
        return loc[self._from_batched]


class AutoBatchedLowRankMultivariateNormal(_AutoBatchedMixin, AutoContinuous):
    """Independent low-rank multivariate Normals, one per batch entry (see
    :class:`AutoBatchedMultivariateNormal` and :class:`AutoLowRankMultivariateNormal`)."""

    _has_loc_param = True

    scale_constraint = constraints.softplus_positive

    def __init__(
        self,
        model: Callable,
        *,
        prefix: str = "auto",
        init_loc_fn: Callable = init_to_uniform,
        init_scale: float = 0.1,
        rank: int | None = None,
        batch_ndim: int = 1,
    ) -> None:
        _check_init_scale("AutoBatchedLowRankMultivariateNormal", init_scale)
        self._init_scale = init_scale
        self.rank = rank
        self.batch_ndim = batch_ndim
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn)

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        self._setup_batch(self.batch_ndim)

    def _batched_posterior(self) -> Any:
        size = self._event_shape[0]
        rank = round(size**0.5) if self.rank is None else self.rank
        init = jnp.reshape(
            self._init_latent[self._to_batched], self._batch_shape + self._event_shape
        )
        loc = param(f"{self.prefix}_loc", init)
        cov_factor = param(f"{self.prefix}_cov_factor", jnp.zeros((*self._batch_shape, size, rank)))
        scale = param(
            f"{self.prefix}_scale",
            jnp.full((*self._batch_shape, size), self._init_scale),
            constraint=self.scale_constraint,
        )
        return LowRankMultivariateNormal(loc, cov_factor * scale[..., None], scale * scale)

    def _get_posterior(self) -> Any:
        return TransformedDistribution(
            self._batched_posterior(),
            [self._reshape_transform(), _permutation(self._from_batched)],
        )

    def _loc(self, params: dict) -> jax.Array:
        loc = self._reshape_transform()(params[f"{self.prefix}_loc"])
        return loc[self._from_batched]


def _permutation(indices: np.ndarray) -> Any:
    """The transform putting the batch-ordered latent vector back in site order."""
    return PermuteTransform(jnp.asarray(indices))


class AutoLaplaceApproximation(AutoContinuous):
    r"""The Laplace approximation: a Normal at the MAP point of the unconstrained
    posterior, with covariance the inverse Hessian of the potential energy there,

    .. math::

        q(z) = \mathcal{N}\!\left(\hat z, H^{-1}\right), \qquad
        H = \nabla^2_z \left[-\log p(x, T(z)) - \log|\det J_T(z)|\right]_{z = \hat z}.

    Training fits only :math:`\hat z` (a point mass, param ``{prefix}_loc``);
    :meth:`get_posterior` and :meth:`sample_posterior` then add the curvature.

    Args:
        model, prefix, init_loc_fn, create_plates: see :class:`AutoGuide`.
        hessian_fn: ``hessian_fn(f, z)``, the Hessian of ``f`` at ``z``
            (default :func:`jax.hessian`); e.g. add a small ridge when the
            Hessian may be singular.
    """

    _has_loc_param = True

    def __init__(
        self,
        model: Callable,
        *,
        prefix: str = "auto",
        init_loc_fn: Callable = init_to_uniform,
        create_plates: Callable | None = None,
        hessian_fn: Callable | None = None,
    ) -> None:
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn, create_plates=create_plates)
        self._hessian_fn = (
            hessian_fn if hessian_fn is not None else (lambda f, x: jax.hessian(f)(x))
        )

    def _get_posterior(self) -> Any:
        loc = param(f"{self.prefix}_loc", self._init_latent)
        return Delta(loc, event_dim=1)

    def _precision(self, params: dict) -> jax.Array:
        from ppl.vi.elbo import Trace_ELBO

        args, kwargs = self._args, self._kwargs
        key = f"{self.prefix}_loc"

        def loss(z: jax.Array) -> jax.Array:
            # With the point-mass guide the loss is the potential energy at z.
            return Trace_ELBO().loss(
                jax.random.PRNGKey(0), {**params, key: z}, self.model, self, *args, **kwargs
            )

        return self._hessian_fn(loss, params[key])

    def get_transform(self, params: dict) -> Any:
        self._check_setup()
        loc = params[f"{self.prefix}_loc"]
        scale_tril = cholesky_of_inverse(self._precision(params))
        if not isinstance(scale_tril, jax.core.Tracer) and bool(jnp.any(jnp.isnan(scale_tril))):
            warnings.warn(
                "AutoLaplaceApproximation: the Hessian of the potential energy at the MAP point "
                "is not positive definite, so posterior draws collapse to the MAP point. Train "
                "longer, pass a hessian_fn with a ridge, or use AutoMultivariateNormal.",
                UserWarning,
                stacklevel=2,
            )
        scale_tril = jnp.where(jnp.isnan(scale_tril), 0.0, scale_tril)
        return LowerCholeskyAffine(loc, scale_tril)

    def get_posterior(self, params: dict) -> Any:
        """The Laplace approximation: a multivariate Normal over the latent vector."""
        transform = self.get_transform(params)
        return MultivariateNormal(transform.loc, scale_tril=transform.scale_tril)

    def sample_posterior(
        self, rng_key: jax.Array, params: dict, *args: Any, sample_shape: tuple = (), **kwargs: Any
    ) -> dict:
        latent = self.get_posterior(params).sample(rng_key, tuple(sample_shape))
        return self._unpack_and_constrain(latent, params, args, kwargs)

    def quantiles(self, params: dict, quantiles: Any) -> dict:
        transform = self.get_transform(params)
        scale = jnp.linalg.norm(transform.scale_tril, axis=-1)
        return self._quantiles_from(transform.loc, scale, params, quantiles)
