r"""The evidence lower bound and its Monte Carlo estimators.

For a model :math:`p(x, z)` and a guide :math:`q_\phi(z)`,

.. math::

    \text{ELBO}(\phi) = \mathbb{E}_{q_\phi(z)}\left[\log p(x, z) - \log q_\phi(z)\right]
    \le \log p(x).

Each estimator draws ``num_particles`` samples from the guide, replays the
model on them and returns the *loss* :math:`-\widehat{\text{ELBO}}`, whose
gradient SVI follows. Site log densities honour masks and scales (from
``mask``, ``scale`` and subsampled plates).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ppl.handlers import replay, seed, substitute, trace
from ppl.infer.util import apply_mask_and_scale
from ppl.vi._traces import (
    check_model_guide_match,
    log_prob_sum,
    mutable_values,
)

__all__ = ["ELBO", "TraceMeanField_ELBO", "Trace_ELBO"]


def _vectorize_fn(vectorize_particles: Any) -> Callable:
    if callable(vectorize_particles):
        return vectorize_particles
    if vectorize_particles is True:
        return lambda fn, keys: jax.vmap(fn)(keys)
    if vectorize_particles is False:
        return jax.lax.map
    raise TypeError(
        "vectorize_particles must be True (jax.vmap), False (jax.lax.map) or a callable "
        f"(fn, keys) -> results, got {vectorize_particles!r}"
    )


class ELBO:
    """Base class of the ELBO objectives.

    Subclasses implement :meth:`loss_with_mutable_state` (or :meth:`loss`).

    Args:
        num_particles: how many guide draws the estimate averages over.
        vectorize_particles: ``True`` evaluates the particles with
            :func:`jax.vmap`, ``False`` one after another with
            :func:`jax.lax.map`; a callable ``(fn, keys) -> results`` is used
            as given.
    """

    #: Whether the objective handles discrete latent variables in the guide.
    can_infer_discrete = False

    def __init__(self, num_particles: int = 1, vectorize_particles: Any = True) -> None:
        if (
            not isinstance(num_particles, int)
            or isinstance(num_particles, bool)
            or (num_particles < 1)
        ):
            raise ValueError(f"num_particles must be a positive integer, got {num_particles!r}")
        self.num_particles = num_particles
        self.vectorize_particles = vectorize_particles
        self.vectorize_particles_fn = _vectorize_fn(vectorize_particles)

    def loss(
        self,
        rng_key: jax.Array,
        param_map: dict,
        model: Callable,
        guide: Callable,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """The loss :math:`-\\text{ELBO}`, estimated with ``num_particles`` guide draws.

        Args:
            rng_key: random key for the guide's draws.
            param_map: current (constrained) values of the param sites.
            model, guide: the model and the guide, called with ``*args, **kwargs``.
        """
        return self.loss_with_mutable_state(rng_key, param_map, model, guide, *args, **kwargs)[
            "loss"
        ]

    def loss_with_mutable_state(
        self,
        rng_key: jax.Array,
        param_map: dict,
        model: Callable,
        guide: Callable,
        *args: Any,
        **kwargs: Any,
    ) -> dict:
        """Like :meth:`loss`, returning ``{"loss": ..., "mutable_state": ...}``: the new
        values of the state carried between steps (``None`` when there is none)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement loss_with_mutable_state (or loss)"
        )

    def _particles(self, rng_key: jax.Array, single: Callable) -> Any:
        """Run ``single(key)`` once per particle and stack the results."""
        keys = jax.random.split(rng_key, self.num_particles)
        return self.vectorize_particles_fn(single, keys)


def _combine(elbos: Any, mutable: Any, num_particles: int) -> dict:
    if num_particles == 1:
        return {"loss": jax.tree.map(jnp.negative, elbos), "mutable_state": mutable}
    return {"loss": jax.tree.map(lambda x: -jnp.mean(x), elbos), "mutable_state": mutable}


def _warn_mutable_particles(mutable: dict, num_particles: int) -> Any:
    if not mutable:
        return None
    if num_particles == 1:
        return mutable
    warnings.warn("mutable state is ignored when num_particles > 1", UserWarning, stacklevel=4)
    return None


def _sum_or_dict(terms: dict, sum_sites: bool) -> Any:
    if not sum_sites:
        return terms
    return sum(terms.values(), start=jnp.zeros(()))


class Trace_ELBO(ELBO):
    r"""The standard ELBO estimator:
    :math:`\frac{1}{S}\sum_s \log p(x, z_s) - \log q(z_s)`, :math:`z_s \sim q`.

    Gradients flow through reparameterized draws; a guide with
    non-reparameterizable sites needs :class:`~ppl.vi.TraceGraph_ELBO`.

    Args:
        num_particles, vectorize_particles: see :class:`ELBO`.
        multi_sample_guide: the guide draws a batch of samples at once (the
            leading dimension of its sites); the model is evaluated on each
            and the log densities summed over the batch.
        sum_sites: return one scalar loss (default) or a dict of per-site
            contributions.
    """

    def __init__(
        self,
        num_particles: int = 1,
        vectorize_particles: Any = True,
        multi_sample_guide: bool = False,
        sum_sites: bool = True,
    ) -> None:
        self.multi_sample_guide = multi_sample_guide
        self.sum_sites = sum_sites
        super().__init__(num_particles=num_particles, vectorize_particles=vectorize_particles)

    def loss_with_mutable_state(
        self,
        rng_key: jax.Array,
        param_map: dict,
        model: Callable,
        guide: Callable,
        *args: Any,
        **kwargs: Any,
    ) -> dict:
        def single_particle_elbo(key: jax.Array) -> tuple:
            model_key, guide_key = jax.random.split(key)
            guide_trace = trace(substitute(seed(guide, guide_key), data=param_map)).get_trace(
                *args, **kwargs
            )
            mutable = mutable_values(guide_trace)
            params = {**param_map, **mutable}
            if self.multi_sample_guide:
                model_terms = _multi_sample_model_terms(
                    model, model_key, guide_trace, params, args, kwargs
                )
            else:
                replayed = substitute(
                    replay(seed(model, model_key), trace=guide_trace), data=params
                )
                model_trace = trace(replayed).get_trace(*args, **kwargs)
                check_model_guide_match(model_trace, guide_trace)
                mutable.update(mutable_values(model_trace))
                model_terms = {
                    name: log_prob_sum(site)
                    for name, site in model_trace.items()
                    if site["type"] == "sample"
                }
            guide_terms = {
                name: log_prob_sum(site)
                for name, site in guide_trace.items()
                if site["type"] == "sample"
            }
            terms = {
                name: model_terms.get(name, 0.0) - guide_terms.get(name, 0.0)
                for name in {**model_terms, **guide_terms}
            }
            elbo = _sum_or_dict(terms, self.sum_sites)
            return elbo, _warn_mutable_particles(mutable, self.num_particles)

        if self.num_particles == 1:
            elbo, mutable = single_particle_elbo(rng_key)
        else:
            elbo, mutable = self._particles(rng_key, single_particle_elbo)
        return _combine(elbo, mutable, self.num_particles)


def _multi_sample_model_terms(
    model: Callable,
    model_key: jax.Array,
    guide_trace: dict,
    params: dict,
    args: tuple,
    kwargs: dict,
) -> dict:
    plates = {name: s["value"] for name, s in guide_trace.items() if s["type"] == "plate"}
    latents = {
        name: s["value"]
        for name, s in guide_trace.items()
        if (s["type"] == "sample" and jnp.size(s["value"]) > 0) or s["type"] == "deterministic"
    }
    sizes = {jnp.shape(v)[0] for v in latents.values() if jnp.ndim(v) > 0}
    if len(sizes) != 1:
        raise ValueError(
            "Trace_ELBO(multi_sample_guide=True): the guide's sites must share one leading "
            f"sample dimension, got leading sizes {sorted(sizes)}"
        )
    num_samples = sizes.pop()

    def one(key: jax.Array, latent: dict) -> dict:
        conditioned = substitute(seed(model, key), data={**latent, **plates})
        model_trace = trace(substitute(conditioned, data=params)).get_trace(*args, **kwargs)
        return {
            name: log_prob_sum(site)
            for name, site in model_trace.items()
            if site["type"] == "sample"
        }

    keys = jax.random.split(model_key, num_samples)
    per_sample = jax.vmap(one)(keys, latents)
    return jax.tree.map(lambda x: jnp.sum(x, axis=0), per_sample)


def _same_weights(model_site: dict, guide_site: dict) -> bool:
    """Whether both sites carry the same mask and scale, so that their log densities
    combine into a KL divergence weighted the same way."""
    for key in ("mask", "scale"):
        a, b = model_site.get(key), guide_site.get(key)
        if a is b:
            continue
        if a is None or b is None:
            return False
        if isinstance(a, jax.core.Tracer) or isinstance(b, jax.core.Tracer):
            return False
        if jnp.shape(a) != jnp.shape(b) or not bool(jnp.all(jnp.asarray(a) == jnp.asarray(b))):
            return False
    return True


def _check_mean_field_order(model_trace: dict, guide_trace: dict) -> None:
    model_sites = [n for n, s in model_trace.items() if s["type"] == "sample" and n in guide_trace]
    guide_sites = [n for n, s in guide_trace.items() if s["type"] == "sample" and n in model_trace]
    if model_sites != guide_sites:
        warnings.warn(
            "TraceMeanField_ELBO could not verify the mean-field condition: the model and the "
            f"guide sample their shared sites in different orders (model: {model_sites}, "
            f"guide: {guide_sites}). Sample them in the same order to silence this warning.",
            UserWarning,
            stacklevel=4,
        )


class TraceMeanField_ELBO(ELBO):
    r"""An ELBO estimator that uses analytic KL divergences where they are known:

    .. math::

        \text{ELBO} = \mathbb{E}_q[\log p(x \mid z)]
        - \sum_{\text{latent } z_i} \mathrm{KL}(q(z_i) \,\|\, p(z_i \mid \ldots))

    For each latent site whose (guide, model) distribution pair has a
    registered :func:`ppl.distributions.kl_divergence`, the Monte Carlo term
    :math:`\log p(z_i) - \log q(z_i)` is replaced by :math:`-\mathrm{KL}`;
    other sites fall back to Monte Carlo. The KL is weighted by the site's
    scale, and used only where the model and guide sites carry the same mask
    and scale.

    .. warning:: Correct when the guide is mean-field with respect to the
        model's dependency structure: no latent's parents in the model may be
        descendants of it in the guide (always true when model and guide have
        the same structure).

    Args:
        num_particles, vectorize_particles: see :class:`ELBO`.
        sum_sites: return one scalar loss (default) or a dict of per-site terms.
    """

    def __init__(
        self, num_particles: int = 1, vectorize_particles: Any = True, sum_sites: bool = True
    ) -> None:
        self.sum_sites = sum_sites
        super().__init__(num_particles=num_particles, vectorize_particles=vectorize_particles)

    def loss_with_mutable_state(
        self,
        rng_key: jax.Array,
        param_map: dict,
        model: Callable,
        guide: Callable,
        *args: Any,
        **kwargs: Any,
    ) -> dict:
        from ppl.distributions import kl_divergence

        def single_particle_elbo(key: jax.Array) -> tuple:
            model_key, guide_key = jax.random.split(key)
            guide_trace = trace(substitute(seed(guide, guide_key), data=param_map)).get_trace(
                *args, **kwargs
            )
            mutable = mutable_values(guide_trace)
            params = {**param_map, **mutable}
            replayed = substitute(replay(seed(model, model_key), trace=guide_trace), data=params)
            model_trace = trace(replayed).get_trace(*args, **kwargs)
            mutable.update(mutable_values(model_trace))
            check_model_guide_match(model_trace, guide_trace)
            _check_mean_field_order(model_trace, guide_trace)

            terms = {}
            for name, model_site in model_trace.items():
                if model_site["type"] != "sample":
                    continue
                guide_site = guide_trace.get(name)
                if model_site["is_observed"] or guide_site is None:
                    terms[name] = log_prob_sum(model_site)
                    continue
                kl = None
                if _same_weights(model_site, guide_site):
                    try:
                        kl = kl_divergence(guide_site["fn"], model_site["fn"])
                    except NotImplementedError:
                        kl = None
                if kl is None:
                    terms[name] = log_prob_sum(model_site) - log_prob_sum(guide_site)
                else:
                    terms[name] = -jnp.sum(apply_mask_and_scale(kl, guide_site))
            for name, site in guide_trace.items():
                if site["type"] == "sample" and name not in model_trace:
                    terms[name] = -log_prob_sum(site)
            elbo = _sum_or_dict(terms, self.sum_sites)
            return elbo, _warn_mutable_particles(mutable, self.num_particles)

        if self.num_particles == 1:
            elbo, mutable = single_particle_elbo(rng_key)
        else:
            elbo, mutable = self._particles(rng_key, single_particle_elbo)
        return _combine(elbo, mutable, self.num_particles)
