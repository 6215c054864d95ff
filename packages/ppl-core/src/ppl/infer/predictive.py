"""Prior and posterior predictive distributions."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ppl.handlers import mask, seed, substitute, trace
from ppl.infer.util import _batched_map

__all__ = ["Predictive"]


class Predictive:
    """Draws from the predictive distribution of ``model``.

    With ``posterior_samples``, each draw runs the model with its latent sites
    fixed to one posterior draw and samples the rest (posterior predictive).
    With a ``guide`` (and its ``params``) the latent values come from the
    guide instead. With neither, the model runs ``num_samples`` times from its
    prior (prior predictive).

    Args:
        model: the model.
        posterior_samples: ``{site: draws}`` with ``batch_ndims`` leading
            batch dimensions.
        guide: a guide whose draws stand in for the posterior.
        params: values of param sites (of the model and the guide).
        num_samples: how many draws (inferred from ``posterior_samples``).
        return_sites: the sites to return; by default the sample sites not in
            ``posterior_samples`` and the deterministic sites.
        infer_discrete: sample discrete sites from their conditional
            posterior (not supported yet: raises).
        parallel: evaluate the draws vectorized (all at once) rather than one
            after another.
        batch_ndims: batch dimensions of ``posterior_samples`` (default 1, or
            0 with a guide).
        exclude_deterministic: recompute deterministic sites instead of
            taking their values from ``posterior_samples``.
        batch_size: how many draws to evaluate at once (default: all when
            ``parallel``, else one). Bounds the working memory of large
            prediction runs to ``batch_size`` draws.

    Example::

        predictive = Predictive(model, posterior_samples=mcmc.get_samples())
        y_new = predictive(jax.random.key(1), x_new)["obs"]
    """

    def __init__(
        self,
        model: Callable,
        posterior_samples: dict | None = None,
        *,
        guide: Callable | None = None,
        params: dict | None = None,
        num_samples: int | None = None,
        return_sites: Iterable[str] | None = None,
        infer_discrete: bool = False,
        parallel: bool = False,
        batch_ndims: int | None = None,
        exclude_deterministic: bool = True,
        batch_size: int | None = None,
    ) -> None:
        if posterior_samples is None and num_samples is None:
            raise ValueError("Predictive: give either posterior_samples or num_samples")
        if posterior_samples is not None and guide is not None:
            raise ValueError("Predictive: give a guide or posterior_samples, not both")
        if infer_discrete:
            raise NotImplementedError(
                "Predictive(infer_discrete=True) needs enumeration of discrete sites, which "
                "ppl does not support yet"
            )
        if return_sites is not None and (
            isinstance(return_sites, str) or not isinstance(return_sites, list | tuple | set)
        ):
            raise TypeError(
                f"Predictive: return_sites must be a list, tuple or set of names, got "
                f"{return_sites!r}"
            )
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(
                f"Predictive: batch_size must be a positive integer, got {batch_size!r}"
            )
        if batch_ndims is None:
            batch_ndims = 1 if guide is None else 0
        posterior_samples = {} if posterior_samples is None else dict(posterior_samples)
        batch_shape = None
        prototype = None
        for name, value in posterior_samples.items():
            shape = tuple(jnp.shape(value)[:batch_ndims])
            if batch_shape is not None and shape != batch_shape:
                raise ValueError(
                    f"Predictive: posterior_samples[{name!r}] has batch shape {shape} but "
                    f"posterior_samples[{prototype!r}] has {batch_shape} (batch_ndims="
                    f"{batch_ndims})"
                )
            batch_shape, prototype = shape, name
        if batch_shape is not None:
            size = int(np.prod(batch_shape))
            if num_samples is not None and num_samples != size:
                warnings.warn(
                    f"Predictive: num_samples={num_samples} differs from the {size} draws in "
                    f"posterior_samples; using {size}",
                    UserWarning,
                    stacklevel=2,
                )
            num_samples = size
        else:
            batch_shape = (1,) * max(batch_ndims - 1, 0) + (num_samples,)
        self.model = model
        self.posterior_samples = posterior_samples
        self.num_samples = num_samples
        self.guide = guide
        self.params = {} if params is None else params
        self.infer_discrete = infer_discrete
        self.return_sites = None if return_sites is None else list(return_sites)
        self.parallel = parallel
        self.batch_ndims = batch_ndims
        self.exclude_deterministic = exclude_deterministic
        self.batch_size = batch_size
        self._batch_shape = batch_shape

    def _chunk(self) -> int | None:
        if self.batch_size is not None:
            return self.batch_size
        return None if self.parallel else 1

    def _call_with_params(self, rng_key: jax.Array, params: dict, args: tuple, kwargs: dict):
        posterior_samples = self.posterior_samples
        if self.guide is not None:
            rng_key, guide_key = jax.random.split(rng_key)
            posterior_samples = _predict(
                guide_key,
                substitute(self.guide, data=params),
                posterior_samples,
                self._batch_shape,
                return_sites=_ALL_SITES,
                chunk=self._chunk(),
                model_args=args,
                model_kwargs=kwargs,
                exclude_deterministic=self.exclude_deterministic,
            )
        model = substitute(self.model, data=params) if params else self.model
        return _predict(
            rng_key,
            model,
            posterior_samples,
            self._batch_shape,
            return_sites=self.return_sites,
            chunk=self._chunk(),
            model_args=args,
            model_kwargs=kwargs,
            exclude_deterministic=self.exclude_deterministic,
        )

    def __call__(self, rng_key: jax.Array, *args: Any, **kwargs: Any) -> dict:
        """Draw from the predictive distribution; ``args``/``kwargs`` go to the model.

        Returns:
            ``{site: draws}`` with the batch shape in front.
        """
        if self.batch_ndims == 0 or not self.params or self.guide is None:
            return self._call_with_params(rng_key, self.params, args, kwargs)
        if self.batch_ndims == 1:
            # A batch of guide parameters: one predictive run per parameter set.
            size = jnp.shape(jax.tree_util.tree_leaves(self.params)[0])[0]
            keys = jax.random.split(rng_key, size)
            run = functools.partial(self._call_with_params, args=args, kwargs=kwargs)
            return jax.vmap(run, in_axes=0, out_axes=1)(keys, self.params)
        raise NotImplementedError("Predictive: batch_ndims > 1 with batched guide params")


#: ``return_sites`` value meaning every site but plates (used to collect guide draws).
_ALL_SITES = ""


def _predict(
    rng_key: jax.Array,
    model: Callable,
    posterior_samples: dict,
    batch_shape: tuple,
    *,
    return_sites: Any,
    chunk: int | None,
    model_args: tuple,
    model_kwargs: dict,
    exclude_deterministic: bool,
) -> dict:
    # Predictions never use log densities; masking them lets XLA skip that work.
    masked = mask(model, mask=False)

    def single(carry: tuple) -> dict:
        key, samples = carry

        def substitute_fn(site: dict) -> Any:
            if exclude_deterministic and site["type"] == "deterministic":
                return None
            return samples.get(site["name"])

        model_trace = trace(
            seed(substitute(masked, substitute_fn=substitute_fn), rng_seed=key)
        ).get_trace(*model_args, **model_kwargs)
        if return_sites == _ALL_SITES:
            sites = {name for name, site in model_trace.items() if site["type"] != "plate"}
        elif return_sites is not None:
            sites = set(return_sites)
            missing = sites - set(model_trace)
            if missing:
                raise KeyError(
                    f"Predictive: return_sites {sorted(missing)} are not sites of the model "
                    f"(its sites: {sorted(model_trace)})"
                )
        else:
            sites = {
                name
                for name, site in model_trace.items()
                if (site["type"] == "sample" and name not in samples)
                or (
                    site["type"] == "deterministic"
                    and (exclude_deterministic or name not in samples)
                )
            }
        return {name: model_trace[name]["value"] for name in sites}

    num_samples = int(np.prod(batch_shape))
    keys = jax.random.split(rng_key, num_samples)
    keys = jnp.reshape(keys, batch_shape + jnp.shape(keys)[1:])
    return _batched_map(single, (keys, posterior_samples), len(batch_shape), chunk)
