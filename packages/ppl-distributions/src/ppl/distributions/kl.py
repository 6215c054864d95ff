r"""Kullback–Leibler divergences :math:`\mathrm{KL}(p \,\|\, q) = \mathbb E_p[\log p - \log q]`.

:func:`kl_divergence` dispatches on the types of both arguments: among the
registered rules whose types match (``isinstance``), the most specific one
wins (closest in the method resolution orders of ``type(p)`` and ``type(q)``).
Rules come from :func:`register_kl` (used by this package) and from plugins
through the ``register_kl`` hook (see :mod:`ppl.plugins.hookspecs`); a rule
registered here takes precedence over a plugin rule for the same pair.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
from jax import lax
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import betaln, digamma, gammaln

from ppl.distributions.continuous import (
    Beta,
    Dirichlet,
    Exponential,
    Gamma,
    Laplace,
    Normal,
)
from ppl.distributions.distribution import (
    Delta,
    Distribution,
    ExpandedDistribution,
    Independent,
    MaskedDistribution,
    TransformedDistribution,
)
from ppl.distributions.multivariate import LowRankMultivariateNormal, MultivariateNormal
from ppl.distributions.util import sum_rightmost

__all__ = ["kl_divergence", "register_kl"]

KLRule = Callable[[Any, Any], Any]

# Rules registered in this process (by this package and by direct register_kl calls).
_RULES: dict[tuple[type, type], KLRule] = {}
# Resolution cache (type(p), type(q)) -> rule; cleared when rules change.
_CACHE: dict[tuple[type, type], KLRule] = {}
_PLUGIN_STATE: dict[str, Any] = {"generation": None, "rules": {}}


def register_kl(type_p: type, type_q: type) -> Callable[[KLRule], KLRule]:
    """Decorator registering ``fn(p, q)`` as the KL divergence for a pair of types.

    Example::

        @register_kl(MyDist, Normal)
        def _kl_mydist_normal(p, q):
            return ...

    Subclasses match too; the most specific registered pair is used.
    """
    if not (isinstance(type_p, type) and isinstance(type_q, type)):
        raise TypeError(f"register_kl expects two classes, got {type_p!r} and {type_q!r}")

    def decorator(fn: KLRule) -> KLRule:
        if not callable(fn):
            raise TypeError(f"register_kl: the rule must be callable, got {fn!r}")
        _RULES[(type_p, type_q)] = fn
        _CACHE.clear()
        return fn

    return decorator


def _plugin_rules() -> dict[tuple[type, type], KLRule]:
    """KL rules provided by plugins, refreshed whenever the plugin set changes."""
    try:
        from ppl.plugins.registry import registry
    except ImportError:  # pragma: no cover - a core without the plugin system
        return {}
    generation = registry.generation
    if generation != _PLUGIN_STATE["generation"]:
        rules = {}
        for type_p, type_q, fn in registry.kl_rules():
            rules.setdefault((type_p, type_q), fn)
        _PLUGIN_STATE["rules"] = rules
        _PLUGIN_STATE["generation"] = generation
        _CACHE.clear()
    return _PLUGIN_STATE["rules"]


def _resolve(type_p: type, type_q: type) -> KLRule | None:
    rules = dict(_plugin_rules())
    rules.update(_RULES)
    key = (type_p, type_q)
    if key in _CACHE:
        return _CACHE[key]
    mro_p, mro_q = type_p.__mro__, type_q.__mro__
    matches = [
        (mro_p.index(p) + mro_q.index(q), mro_p.index(p), (p, q), fn)
        for (p, q), fn in rules.items()
        if p in mro_p and q in mro_q
    ]
    if not matches:
        return None
    matches.sort(key=lambda m: m[:2])
    best = matches[0]
    ties = [m for m in matches[1:] if m[:2] == best[:2]]
    if ties:
        names = ", ".join(f"{p.__name__}||{q.__name__}" for _, _, (p, q), _ in [best, *ties])
        warnings.warn(
            f"kl_divergence: ambiguous rules for {type_p.__name__}||{type_q.__name__} "
            f"({names}); using the first",
            RuntimeWarning,
            stacklevel=3,
        )
    _CACHE[key] = best[3]
    return best[3]


def kl_divergence(p: Distribution, q: Distribution) -> Any:
    r"""Compute :math:`\mathrm{KL}(p \,\|\, q)`, with the broadcast batch shape of ``p`` and ``q``.

    Raises:
        NotImplementedError: when no rule covers ``(type(p), type(q))``.
    """
    rule = _resolve(type(p), type(q))
    if rule is None:
        raise NotImplementedError(
            f"KL divergence of {type(p).__name__} and {type(q).__name__} is not implemented; "
            "register one with ppl.distributions.kl.register_kl"
        )
    return rule(p, q)


def _batch(p: Distribution, q: Distribution) -> tuple[int, ...]:
    return tuple(lax.broadcast_shapes(p.batch_shape, q.batch_shape))


# -- meta distributions -------------------------------------------------------------------


@register_kl(Independent, Independent)
def _kl_independent_independent(p: Independent, q: Independent):
    if p.event_shape != q.event_shape:
        raise ValueError(f"kl_divergence: event shapes differ, {p.event_shape} vs {q.event_shape}")
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError(
            "kl_divergence(Independent, Independent) needs equal reinterpreted_batch_ndims, got "
            f"{p.reinterpreted_batch_ndims} and {q.reinterpreted_batch_ndims}"
        )
    kl = kl_divergence(p.base_dist, q.base_dist)
    return sum_rightmost(kl, p.reinterpreted_batch_ndims)


@register_kl(ExpandedDistribution, ExpandedDistribution)
def _kl_expanded_expanded(p: ExpandedDistribution, q: ExpandedDistribution):
    return jnp.broadcast_to(kl_divergence(p.base_dist, q.base_dist), _batch(p, q))


@register_kl(ExpandedDistribution, Distribution)
def _kl_expanded_any(p: ExpandedDistribution, q: Distribution):
    return jnp.broadcast_to(kl_divergence(p.base_dist, q), _batch(p, q))


@register_kl(Distribution, ExpandedDistribution)
def _kl_any_expanded(p: Distribution, q: ExpandedDistribution):
    return jnp.broadcast_to(kl_divergence(p, q.base_dist), _batch(p, q))


@register_kl(MaskedDistribution, MaskedDistribution)
def _kl_masked_masked(p: MaskedDistribution, q: MaskedDistribution):
    # An element counts only where both masks keep it.
    if p._mask is False or q._mask is False:
        return jnp.zeros(_batch(p, q))
    if p._mask is True:
        mask = q._mask
    elif q._mask is True or p._mask is q._mask:
        mask = p._mask
    else:
        mask = p._mask & q._mask
    kl = kl_divergence(p.base_dist, q.base_dist)
    return kl if mask is True else jnp.where(mask, kl, 0.0)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p: TransformedDistribution, q: TransformedDistribution):
    if len(p.transforms) != len(q.transforms) or any(
        a != b for a, b in zip(p.transforms, q.transforms, strict=True)
    ):
        raise NotImplementedError(
            "kl_divergence of TransformedDistributions is only known for equal transforms"
        )
    if p.event_shape != q.event_shape:
        raise ValueError(f"kl_divergence: event shapes differ, {p.event_shape} vs {q.event_shape}")
    # An injective map leaves the divergence unchanged; only the event dims the
    # transforms fold in remain to be summed.
    kl = kl_divergence(p.base_dist, q.base_dist)
    extra = jnp.ndim(kl) - len(_batch(p, q))
    return sum_rightmost(kl, max(extra, 0))


@register_kl(Delta, Distribution)
def _kl_delta_any(p: Delta, q: Distribution):
    # The continuous-density convention of NumPyro: -log q(v).
    return -q.log_prob(p.v)


# -- continuous families -------------------------------------------------------------------


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal):
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return jnp.broadcast_to(0.5 * (var_ratio + t1 - 1.0 - jnp.log(var_ratio)), _batch(p, q))


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p: Laplace, q: Laplace):
    scale_ratio = p.scale / q.scale
    dist = jnp.abs(p.loc - q.loc)
    kl = -jnp.log(scale_ratio) + dist / q.scale + scale_ratio * jnp.exp(-dist / p.scale) - 1.0
    return jnp.broadcast_to(kl, _batch(p, q))


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p: Exponential, q: Exponential):
    ratio = q.rate / p.rate
    return jnp.broadcast_to(ratio - 1.0 - jnp.log(ratio), _batch(p, q))


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p: Gamma, q: Gamma):
    a_p, b_p, a_q, b_q = p.concentration, p.rate, q.concentration, q.rate
    kl = (
        (a_p - a_q) * digamma(a_p)
        - gammaln(a_p)
        + gammaln(a_q)
        + a_q * (jnp.log(b_p) - jnp.log(b_q))
        + a_p * (b_q - b_p) / b_p
    )
    return jnp.broadcast_to(kl, _batch(p, q))


@register_kl(Beta, Beta)
def _kl_beta_beta(p: Beta, q: Beta):
    a_p, b_p, a_q, b_q = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    total_p = a_p + b_p
    kl = (
        betaln(a_q, b_q)
        - betaln(a_p, b_p)
        + (a_p - a_q) * digamma(a_p)
        + (b_p - b_q) * digamma(b_p)
        + (a_q - a_p + b_q - b_p) * digamma(total_p)
    )
    return jnp.broadcast_to(kl, _batch(p, q))


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p: Dirichlet, q: Dirichlet):
    a_p, a_q = jnp.asarray(p.concentration), jnp.asarray(q.concentration)
    total_p = jnp.sum(a_p, -1)
    kl = (
        gammaln(total_p)
        - gammaln(jnp.sum(a_q, -1))
        - jnp.sum(gammaln(a_p) - gammaln(a_q), -1)
        + jnp.sum((a_p - a_q) * (digamma(a_p) - digamma(total_p)[..., None]), -1)
    )
    return jnp.broadcast_to(kl, _batch(p, q))


# -- Gaussian vectors ------------------------------------------------------------------------


def _kl_gaussian(p, q):
    r""":math:`\tfrac12[\mathrm{tr}(\Sigma_q^{-1}\Sigma_p) + \delta^T\Sigma_q^{-1}\delta - n
    + \log|\Sigma_q| - \log|\Sigma_p|]` through Cholesky factors."""
    if p.event_shape != q.event_shape:
        raise ValueError(f"kl_divergence: event shapes differ, {p.event_shape} vs {q.event_shape}")
    n = p.event_shape[0]
    batch = _batch(p, q)
    lp = jnp.broadcast_to(p.scale_tril, (*batch, n, n))
    lq = jnp.broadcast_to(q.scale_tril, (*batch, n, n))
    delta = jnp.broadcast_to(q.loc - p.loc, (*batch, n))
    trace = jnp.sum(solve_triangular(lq, lp, lower=True) ** 2, axis=(-2, -1))
    maha = jnp.sum(solve_triangular(lq, delta[..., None], lower=True)[..., 0] ** 2, axis=-1)

    def half_log_det(tril):
        return jnp.sum(jnp.log(jnp.diagonal(tril, axis1=-2, axis2=-1)), -1)

    return 0.5 * (trace + maha - n) + half_log_det(lq) - half_log_det(lp)


for _p in (MultivariateNormal, LowRankMultivariateNormal):
    for _q in (MultivariateNormal, LowRankMultivariateNormal):
        register_kl(_p, _q)(_kl_gaussian)
