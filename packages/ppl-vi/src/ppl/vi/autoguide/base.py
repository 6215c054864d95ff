"""The autoguide base class: a guide built by inspecting the model once.

On its first call an autoguide runs the model (hidden from every handler
outside it) to record a *prototype trace*: the latent sites with their shapes,
supports and plates, and initial values chosen by ``init_loc_fn`` in
unconstrained space. Subclasses build their variational family from it.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ppl.handlers import block, seed, substitute, trace
from ppl.infer.initialization import init_to_uniform
from ppl.infer.util import DiscreteLatentError, constrain_fn, initialize_model
from ppl.primitives import plate, prng_key
from ppl.transforms import biject_to

__all__ = ["AutoGuide", "AutoGuideList"]


def periodic_repeat(x: jax.Array, size: int, dim: int) -> jax.Array:
    """Repeat ``x`` periodically along ``dim`` up to length ``size``."""
    axis = dim % jnp.ndim(x)
    indices = jnp.arange(size) % jnp.shape(x)[axis]
    return jnp.take(x, indices, axis=axis)


def site_transform(site: dict) -> Any:
    """The bijection from the reals onto a latent site's support, with a clear error."""
    support = site["fn"].support
    try:
        return biject_to(support)
    except NotImplementedError:
        raise NotImplementedError(
            f"site {site['name']!r}: autoguides need a bijection from the reals onto its "
            f"support {support!r}, and none is registered"
        ) from None


def _batched(fn: Callable, tree: Any, batch_ndims: int) -> Any:
    """Apply ``fn`` to each entry of the leading ``batch_ndims`` dims of ``tree``."""
    if batch_ndims == 0:
        return fn(tree)
    leaves = jax.tree.leaves(tree)
    batch_shape = jnp.shape(leaves[0])[:batch_ndims]
    flat = jax.tree.map(lambda x: jnp.reshape(x, (-1, *jnp.shape(x)[batch_ndims:])), tree)
    out = jax.vmap(fn)(flat)
    return jax.tree.map(lambda y: jnp.reshape(y, batch_shape + jnp.shape(y)[1:]), out)


class AutoGuide(ABC):
    """Base class of automatic guides.

    Args:
        model: the model.
        prefix: a prefix for the names of the guide's param sites.
        init_loc_fn: an initialization strategy (:mod:`ppl.infer.initialization`)
            giving the initial location of each latent site.
        create_plates: an optional function of the model's ``*args, **kwargs``
            returning a :class:`ppl.plate` or a list of them, for plates that
            need options (e.g. a ``subsample``); the others are made
            automatically from the prototype trace.
    """

    def __init__(
        self,
        model: Callable,
        *,
        prefix: str = "auto",
        init_loc_fn: Callable = init_to_uniform,
        create_plates: Callable | None = None,
    ) -> None:
        if not callable(model):
            raise TypeError(f"{type(self).__name__}: model must be callable, got {model!r}")
        self.model = model
        self.prefix = prefix
        self.init_loc_fn = init_loc_fn
        self.create_plates = create_plates
        self.prototype_trace: dict | None = None
        self._prototype_frames: dict = {}
        self._prototype_frame_full_sizes: dict = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("plates", None)
        return state

    # -- the prototype ---------------------------------------------------------------------

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        with warnings.catch_warnings():
            # Outside any handler prng_key() warns; the error below says more.
            warnings.simplefilter("ignore")
            rng_key = prng_key()
        if rng_key is None:
            raise ValueError(
                f"{type(self).__name__} must be called under a seed handler the first time "
                "(to initialize from the model); SVI does this, or use "
                "ppl.handlers.seed(guide, rng_seed=0)(*args)"
            )
        try:
            with block():
                # Subsampled plates need their indices fixed while the model is probed for
                # initial values (the probing runs carry no random key).
                first = trace(seed(self.model, rng_key)).get_trace(*args, **kwargs)
                subsamples = {n: s["value"] for n, s in first.items() if s["type"] == "plate"}
                model = substitute(self.model, data=subsamples) if subsamples else self.model
                info = initialize_model(
                    rng_key,
                    model,
                    init_strategy=self.init_loc_fn,
                    dynamic_args=True,
                    model_args=args,
                    model_kwargs=kwargs,
                )
        except DiscreteLatentError as error:
            raise ValueError(
                f"{type(self).__name__} guides continuous latent variables only: {error}. "
                "Guide discrete sites with a hand-written guide (combined with this one "
                "through AutoGuideList and ppl.handlers.block) and use TraceGraph_ELBO."
            ) from None
        self._potential_fn_gen = info.potential_fn
        self._potential_fn = info.potential_fn(*args, **kwargs)
        self._postprocess_fn_gen = info.postprocess_fn
        self.prototype_trace = info.model_trace
        self._init_locs = dict(info.param_info.z)
        self._args, self._kwargs = args, kwargs
        self._prototype_frames = {}
        self._prototype_frame_full_sizes = {}
        for name, site in self.prototype_trace.items():
            if site["type"] == "sample":
                for frame in site["cond_indep_stack"]:
                    known = self._prototype_frames.setdefault(frame.name, frame)
                    if known != frame:
                        raise ValueError(
                            f"plate {frame.name!r} appears with different dims or sizes "
                            f"({known} and {frame}) in the model"
                        )
            elif site["type"] == "plate":
                self._prototype_frame_full_sizes[name] = int(site["args"][0])

    def _latent_names(self) -> list[str]:
        return [
            name
            for name, site in self.prototype_trace.items()
            if site["type"] == "sample" and not site["is_observed"]
        ]

    def _create_plates(self, *args: Any, **kwargs: Any) -> dict:
        """The plates of the model, each drawing its subsample once per guide call."""
        plates: dict = {}
        if self.create_plates is not None:
            given = self.create_plates(*args, **kwargs)
            given = [given] if isinstance(given, plate) else list(given)
            for p in given:
                if not isinstance(p, plate):
                    raise TypeError(
                        f"{type(self).__name__}: create_plates must return ppl.plate objects, "
                        f"got {p!r}"
                    )
                plates[p.name] = p
        for name, frame in sorted(self._prototype_frames.items()):
            if name not in plates:
                full_size = self._prototype_frame_full_sizes.get(name, frame.size)
                plates[name] = plate(name, full_size, dim=frame.dim, subsample_size=frame.size)
        # A plate draws a new subsample each time it is entered; every site of this call
        # must see the same one, so each plate is entered once and then fixed.
        self.plates = {}
        for name, p in plates.items():
            with p as indices:
                pass
            frame = self._prototype_frames.get(name)
            dim = frame.dim if frame is not None else p._user_dim
            self.plates[name] = plate(name, p.size, dim=dim, subsample=indices)
        return self.plates

    def _subsample(self, value: jax.Array, site: dict, event_dim: int) -> jax.Array:
        """Select the entries of a full-size param that the site's plates use."""
        for frame in site["cond_indep_stack"]:
            full_size = self._prototype_frame_full_sizes.get(frame.name, frame.size)
            if full_size != frame.size:
                indices = self.plates[frame.name]._subsample
                value = jnp.take(value, indices, axis=frame.dim - event_dim)
        return value

    # -- constrained values and deterministic sites -------------------------------------

    def _model_params(self, params: dict) -> dict:
        return {
            name: value
            for name, value in params.items()
            if name in self.prototype_trace and self.prototype_trace[name]["type"] == "param"
        }

    def _has_deterministic(self) -> bool:
        return any(site["type"] == "deterministic" for site in self.prototype_trace.values())

    def _postprocess(
        self,
        latents: dict,
        params: dict,
        args: tuple,
        kwargs: dict,
        *,
        batch_ndims: int,
        constrained: bool = False,
    ) -> dict:
        """Constrained values of ``latents`` (unconstrained unless ``constrained``), plus the
        model's deterministic sites, for latents with ``batch_ndims`` leading dims."""
        if not self._has_deterministic():
            if constrained:
                return dict(latents)
            return {
                name: site_transform(self.prototype_trace[name])(value)
                for name, value in latents.items()
            }
        if not args and not kwargs:
            args, kwargs = self._args, self._kwargs
        model = seed(substitute(self.model, data=self._model_params(params)), rng_seed=0)

        def single(latent: dict) -> dict:
            if not constrained:
                return constrain_fn(model, args, kwargs, latent, return_deterministic=True)
            model_trace = trace(substitute(model, data=latent)).get_trace(*args, **kwargs)
            return {
                name: site["value"]
                for name, site in model_trace.items()
                if name in latent or site["type"] == "deterministic"
            }

        with block():
            return _batched(single, latents, batch_ndims)

    # -- the interface ---------------------------------------------------------------------

    @abstractmethod
    def __call__(self, *args: Any, **kwargs: Any) -> dict:
        """Run the guide (with the model's arguments); returns ``{site: value}``."""

    @abstractmethod
    def sample_posterior(
        self, rng_key: jax.Array, params: dict, *args: Any, sample_shape: tuple = (), **kwargs: Any
    ) -> dict:
        """Draws from the approximate posterior.

        Args:
            rng_key: a random key.
            params: the guide's (and model's) param values, e.g. ``svi.get_params(state)``.
            args, kwargs: the model's arguments, for its deterministic sites
                (by default those of the first call).
            sample_shape: the leading shape of the draws.

        Returns:
            ``{site: draws}`` for the latent and deterministic sites of the model.
        """

    def median(self, params: dict) -> dict:
        """The posterior median of each latent site (constrained)."""
        raise NotImplementedError(f"{type(self).__name__} does not provide median")

    def quantiles(self, params: dict, quantiles: Any) -> dict:
        """Posterior quantiles of each latent site (constrained), e.g.
        ``guide.quantiles(params, [0.05, 0.5, 0.95])``: a leading dim per quantile."""
        raise NotImplementedError(f"{type(self).__name__} does not provide quantiles")

    def _check_setup(self) -> None:
        if self.prototype_trace is None:
            raise RuntimeError(
                f"{type(self).__name__} has not been set up: run it once (e.g. svi.init(...)) "
                "before asking for its posterior"
            )


class AutoGuideList(AutoGuide):
    """Several guides for disjoint parts of a model, run one after another.

    Each part guides a subset of the latent sites, usually an autoguide of the
    model blocked to those sites::

        guide = AutoGuideList(model)
        guide.append(AutoNormal(block(model, hide=["z"])))
        guide.append(AutoDelta(block(model, expose=["z"])))
    """

    def __init__(
        self,
        model: Callable,
        *,
        prefix: str = "auto",
        init_loc_fn: Callable = init_to_uniform,
        create_plates: Callable | None = None,
    ) -> None:
        self._guides: list = []
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn, create_plates=create_plates)

    def append(self, part: Callable) -> None:
        """Add a guide for part of the model (an autoguide or any guide function)."""
        if not callable(part):
            raise TypeError(f"AutoGuideList.append: expected a guide, got {part!r}")
        self._guides.append(part)

    def __getitem__(self, key: int) -> Any:
        return self._guides[key]

    def __len__(self) -> int:
        return len(self._guides)

    def __iter__(self):
        return iter(self._guides)

    def __call__(self, *args: Any, **kwargs: Any) -> dict:
        first = self.prototype_trace is None
        if first:
            self._setup_prototype(*args, **kwargs)
        result = {}
        for part in self._guides:
            result.update(part(*args, **kwargs) or {})
        if first:
            self._check_parts()
        return result

    def _check_parts(self) -> None:
        seen: dict[str, int] = {}
        for i, part in enumerate(self._guides):
            prototype = getattr(part, "prototype_trace", None) or {}
            for name, site in prototype.items():
                if site["type"] == "deterministic":
                    raise ValueError(
                        f"AutoGuideList: the model of part {i} exposes the deterministic site "
                        f"{name!r}; block it in that part's model"
                    )
                if site["type"] == "sample" and not site["is_observed"]:
                    if name in seen:
                        raise ValueError(
                            f"AutoGuideList: site {name!r} is guided by parts {seen[name]} and "
                            f"{i}; block each part's model to its own sites"
                        )
                    seen[name] = i

    def sample_posterior(
        self, rng_key: jax.Array, params: dict, *args: Any, sample_shape: tuple = (), **kwargs: Any
    ) -> dict:
        result = {}
        for part in self._guides:
            rng_key, part_key = jax.random.split(rng_key)
            result.update(
                part.sample_posterior(part_key, params, *args, sample_shape=sample_shape, **kwargs)
            )
        return result

    def median(self, params: dict) -> dict:
        result = {}
        for part in self._guides:
            result.update(part.median(params))
        return result

    def quantiles(self, params: dict, quantiles: Any) -> dict:
        result = {}
        for part in self._guides:
            result.update(part.quantiles(params, quantiles))
        return result
