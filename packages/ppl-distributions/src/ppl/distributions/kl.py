r"""Kullback–Leibler divergences :math:`\mathrm{KL}(p \,\|\, q) = \mathbb E_p[\log p - \log q]`.

:func:`kl_divergence` dispatches on the types of both arguments: among the
registered rules whose types match (``isinstance``), the most specific one
wins (closest in the method resolution orders of ``type(p)`` and ``type(q)``).
Rules come from :func:`register_kl` (used by this package) and from plugins
through the ``register_kl`` hook (see :mod:`ppl.plugins.hookspecs`); a rule
registered here takes precedence over a plugin rule for the same pair.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import betaln, digamma, gammaln

from ppl.distributions.continuous import (
    Beta,
    Dirichlet,
    Exponential,
    Gamma,
    Kumaraswamy,
    Laplace,
    Normal,
    Weibull,
)
from ppl.distributions.distribution import (
    Delta,
    Distribution,
    ExpandedDistribution,
    Independent,
    MaskedDistribution,
    TransformedDistribution,
)
from ppl.distributions.multivariate import (
    CirculantNormal,
    LowRankMultivariateNormal,
    MultivariateNormal,
)
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


_EULER_GAMMA = 0.5772156649015329


@register_kl(Weibull, Gamma)
def _kl_weibull_gamma(p: Weibull, q: Gamma):
    # -H(p) - E_p[log q] with E[log X] = log(lambda) - gamma/k and E[X] = lambda Gamma(1 + 1/k).
    k, lam = p.concentration, p.scale
    a, rate = q.concentration, q.rate
    kl = (
        jnp.log(k)
        + gammaln(a)
        - a * jnp.log(lam * rate)
        + a * _EULER_GAMMA / k
        - _EULER_GAMMA
        - 1.0
        + rate * lam * jnp.exp(gammaln(1.0 + 1.0 / k))
    )
    return jnp.broadcast_to(kl, _batch(p, q))


# Tanh-sinh (double exponential) rule on (0, 1): t = (1 + tanh(pi/2 sinh s)) / 2 on an
# even grid in s. It integrates the endpoint singularities of E[log(1 - X)] below to
# float32 precision with 43 nodes; log t is kept exactly (1 - t rounds to 0 early).
_TANH_SINH_STEP, _TANH_SINH_END = 0.15, 3.2


def _tanh_sinh_rule() -> tuple[np.ndarray, np.ndarray]:
    s = np.arange(-_TANH_SINH_END, _TANH_SINH_END + _TANH_SINH_STEP / 2, _TANH_SINH_STEP)
    u = 0.5 * math.pi * np.sinh(s)
    log_t = -np.logaddexp(0.0, -2.0 * u)
    weights = _TANH_SINH_STEP * 0.25 * math.pi * np.cosh(s) / np.cosh(u) ** 2
    return log_t, weights


_TANH_SINH_LOG_T, _TANH_SINH_WEIGHTS = _tanh_sinh_rule()


def _log_neg_log1m_exp(v):
    """``log(-log(1 - e^v))`` for ``v < 0``, accurate as ``v -> 0`` and as ``v -> -inf``."""
    near_zero, tiny = v > -1.0, v < -60.0
    top = jnp.log(-jnp.log(-jnp.expm1(jnp.where(near_zero, v, -1.0))))
    middle = jnp.log(-jnp.log1p(-jnp.exp(jnp.clip(v, -60.0, -1.0))))
    return jnp.where(near_zero, top, jnp.where(tiny, v, middle))


def _log1m_exp_neg_exp(z):
    """``log(1 - exp(-e^z))``, accurate as ``z -> -inf`` (``= z``) and ``z -> inf`` (``= 0``)."""
    inner = jnp.log(-jnp.expm1(-jnp.exp(jnp.clip(z, -20.0, 4.0))))
    return jnp.where(z < -20.0, z, jnp.where(z > 4.0, 0.0, inner))


def _kumaraswamy_mean_log1m(a, b):
    r""":math:`E[\log(1 - X)]` for :math:`X \sim \mathrm{Kumaraswamy}(a, b)`.

    By inversion :math:`X = (1 - t^{1/b})^{1/a}` with :math:`t` uniform, so this is
    :math:`\int_0^1 \log(1 - (1 - t^{1/b})^{1/a})\, dt`, evaluated in log space by the
    tanh-sinh rule (NumPyro truncates a series in :math:`B(m/a, b)` instead, which
    converges slowly for small :math:`b`).
    """
    a, b = jnp.asarray(a)[..., None], jnp.asarray(b)[..., None]
    dtype = jnp.result_type(a, b, float)
    log_t = jnp.asarray(_TANH_SINH_LOG_T, dtype)
    weights = jnp.asarray(_TANH_SINH_WEIGHTS, dtype)
    z = _log_neg_log1m_exp(log_t / b) - jnp.log(a)
    return jnp.sum(weights * _log1m_exp_neg_exp(z), -1)


@register_kl(Kumaraswamy, Beta)
def _kl_kumaraswamy_beta(p: Kumaraswamy, q: Beta):
    # -H(p) - E_p[log q], with X^a ~ Beta(1, b): E[log X] = -(gamma + digamma(b + 1)) / a.
    a, b = p.concentration1, p.concentration0
    alpha, beta = q.concentration1, q.concentration0
    mean_log = -(_EULER_GAMMA + digamma(b + 1.0)) / a
    kl = (
        -p.entropy()
        - (alpha - 1.0) * mean_log
        - (beta - 1.0) * _kumaraswamy_mean_log1m(a, b)
        + betaln(alpha, beta)
    )
    return jnp.broadcast_to(kl, _batch(p, q))


# -- Gaussian vectors ------------------------------------------------------------------------


@register_kl(Independent, CirculantNormal)
def _kl_diagonal_circulant(p: Independent, q: CirculantNormal):
    r"""A diagonal normal against a circulant one, in the Fourier basis of :math:`C`.

    :math:`\tfrac12[(C^{-1})_{00}\sum_i\sigma_i^2 + \delta^T C^{-1}\delta - n
    + \log|C| - \sum_i \log\sigma_i^2]`, with :math:`C`'s eigenvalues its
    ``covariance_rfft`` (each one strictly inside the half spectrum counted twice).
    """
    if not isinstance(p.base_dist, Normal) or p.reinterpreted_batch_ndims != 1:
        raise NotImplementedError(
            "kl_divergence(Independent, CirculantNormal) needs p = Normal(...).to_event(1), "
            f"got {type(p.base_dist).__name__} with {p.reinterpreted_batch_ndims} event dims"
        )
    if p.event_shape != q.event_shape:
        raise ValueError(f"kl_divergence: event shapes differ, {p.event_shape} vs {q.event_shape}")
    n = q.event_shape[0]
    eigenvalues = q.covariance_rfft
    variance = p.variance
    delta = q.mean - p.mean
    inverse_row0 = jnp.fft.irfft(1.0 / eigenvalues, n)[..., 0]
    maha = jnp.sum(delta * jnp.fft.irfft(jnp.fft.rfft(delta) / eigenvalues, n), -1)
    log_eigenvalues = jnp.log(eigenvalues)
    log_det_q = jnp.sum(log_eigenvalues, -1) + jnp.sum(log_eigenvalues[..., 1 : (n + 1) // 2], -1)
    kl = 0.5 * (
        inverse_row0 * jnp.sum(variance, -1) + maha - n + log_det_q - jnp.sum(jnp.log(variance), -1)
    )
    return jnp.broadcast_to(kl, _batch(p, q))


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
