"""Conjugacy rules for :class:`ppl.handlers.collapse`: closed-form marginal likelihoods.

Each rule integrates a latent parameter :math:`\\theta \\sim p(\\theta)` out of
observations :math:`y_i \\sim p(y \\mid \\theta)`:

.. math::

    \\log p(y) = \\log \\int p(\\theta) \\prod_i p(y_i \\mid \\theta)\\, d\\theta
    = \\log Z(\\text{posterior}) - \\log Z(\\text{prior}) + \\sum_i \\log h(y_i)

with :math:`Z` the normalizer of the conjugate family and :math:`h` the base
measure of the likelihood. The latent may be batched (one per group, inside a
plate): sufficient statistics are summed over the observations that share each
latent element.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from jax.scipy.special import betaln, gammaln

from ppl.distributions.continuous import Beta, Dirichlet, Exponential, Gamma, Normal
from ppl.distributions.discrete import (
    BernoulliProbs,
    BinomialProbs,
    CategoricalProbs,
    MultinomialProbs,
    Poisson,
)
from ppl.distributions.distribution import ExpandedDistribution, Independent

__all__ = ["CONJUGACY_RULES"]


def _unwrap(prior: Any) -> tuple[Any, tuple]:
    """The base distribution of an expanded/independent prior, and the full latent shape."""
    shape = tuple(prior.batch_shape) + tuple(prior.event_shape)
    while isinstance(prior, ExpandedDistribution | Independent):
        prior = prior.base_dist
    return prior, shape


def _sum_to(x: Any, shape: tuple) -> Any:
    """Sum ``x`` down to ``shape`` (the reverse of broadcasting ``shape`` up to ``x``)."""
    x = jnp.asarray(x)
    extra = x.ndim - len(shape)
    if extra > 0:
        x = jnp.sum(x, axis=tuple(range(extra)))
    axes = tuple(i for i, size in enumerate(shape) if size == 1 and x.shape[i] != 1)
    if axes:
        x = jnp.sum(x, axis=axes, keepdims=True)
    return jnp.broadcast_to(x, shape)


def _broadcast_observations(value: Any, shape: tuple, *params: Any) -> list:
    """Broadcast observations and parameters to the shape they jointly take."""
    full = jnp.broadcast_shapes(jnp.shape(value), shape, *(jnp.shape(p) for p in params))
    return [jnp.broadcast_to(jnp.asarray(v, dtype=float), full) for v in (value, *params)]


def _beta_binomial(prior: Any, likelihood_cls: type, params: dict, latent: str, value: Any):
    if latent != "probs":
        return None
    beta, shape = _unwrap(prior)
    a = jnp.broadcast_to(beta.concentration1, shape)
    b = jnp.broadcast_to(beta.concentration0, shape)
    n = params.get("total_count", 1) if likelihood_cls is BinomialProbs else 1
    k, n = _broadcast_observations(value, shape, n)
    successes, trials = _sum_to(k, shape), _sum_to(n, shape)
    log_z = betaln(a + successes, b + trials - successes) - betaln(a, b)
    log_h = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
    return jnp.sum(log_z) + jnp.sum(log_h)


def _gamma_poisson(prior: Any, likelihood_cls: type, params: dict, latent: str, value: Any):
    if latent != "rate":
        return None
    gamma, shape = _unwrap(prior)
    alpha = jnp.broadcast_to(gamma.concentration, shape)
    beta = jnp.broadcast_to(gamma.rate, shape)
    (y,) = _broadcast_observations(value, shape)
    total, count = _sum_to(y, shape), _sum_to(jnp.ones_like(y), shape)
    log_z = (
        alpha * jnp.log(beta)
        - gammaln(alpha)
        + gammaln(alpha + total)
        - (alpha + total) * jnp.log(beta + count)
    )
    return jnp.sum(log_z) - jnp.sum(gammaln(y + 1))


def _gamma_exponential(prior: Any, likelihood_cls: type, params: dict, latent: str, value: Any):
    if latent != "rate":
        return None
    gamma, shape = _unwrap(prior)
    alpha = jnp.broadcast_to(gamma.concentration, shape)
    beta = jnp.broadcast_to(gamma.rate, shape)
    (y,) = _broadcast_observations(value, shape)
    total, count = _sum_to(y, shape), _sum_to(jnp.ones_like(y), shape)
    log_z = (
        alpha * jnp.log(beta)
        - gammaln(alpha)
        + gammaln(alpha + count)
        - (alpha + count) * jnp.log(beta + total)
    )
    return jnp.sum(log_z)


def _normal_normal(prior: Any, likelihood_cls: type, params: dict, latent: str, value: Any):
    """Normal prior on the mean of Normal observations with known scales.

    With precision weights :math:`w_i = \\sigma_i^{-2}`, posterior precision
    :math:`P = \\tau_0^{-2} + \\sum w_i` and posterior mean :math:`m`:

    .. math::

        \\log p(y) = -\\tfrac{n}{2}\\log 2\\pi - \\sum_i \\log\\sigma_i - \\log\\tau_0
        - \\tfrac12 \\log P - \\tfrac12\\Big(\\sum_i w_i y_i^2 + \\mu_0^2/\\tau_0^2 - P m^2\\Big)
    """
    if latent != "loc":
        return None
    normal, shape = _unwrap(prior)
    mu0 = jnp.broadcast_to(normal.loc, shape)
    tau0 = jnp.broadcast_to(normal.scale, shape)
    y, sigma = _broadcast_observations(value, shape, params["scale"])
    w = sigma**-2
    precision = tau0**-2 + _sum_to(w, shape)
    mean = (mu0 * tau0**-2 + _sum_to(w * y, shape)) / precision
    count = _sum_to(jnp.ones_like(y), shape)
    log_z = (
        -0.5 * count * jnp.log(2 * jnp.pi)
        - jnp.log(tau0)
        - 0.5 * jnp.log(precision)
        - 0.5 * (_sum_to(w * y**2, shape) + mu0**2 * tau0**-2 - precision * mean**2)
    )
    return jnp.sum(log_z) - jnp.sum(jnp.log(sigma))


def _dirichlet_categorical(prior: Any, likelihood_cls: type, params: dict, latent: str, value):
    if latent != "probs":
        return None
    dirichlet, shape = _unwrap(prior)
    alpha = jnp.broadcast_to(dirichlet.concentration, shape)
    num_categories = shape[-1]
    value = jnp.asarray(value)
    if likelihood_cls is CategoricalProbs:
        counts = (value[..., None] == jnp.arange(num_categories)).astype(alpha.dtype)
        log_h = 0.0
    else:
        counts = value.astype(alpha.dtype)
        total = jnp.sum(counts, axis=-1)
        log_h = jnp.sum(gammaln(total + 1)) - jnp.sum(gammaln(counts + 1))
    summed = _sum_to(counts, shape)
    log_z = (
        gammaln(jnp.sum(alpha, -1))
        - gammaln(jnp.sum(alpha + summed, -1))
        + jnp.sum(gammaln(alpha + summed) - gammaln(alpha), -1)
    )
    return jnp.sum(log_z) + log_h


#: ``(prior type, likelihood type, rule)`` registered through ``register_conjugacy``.
CONJUGACY_RULES = [
    (Beta, BernoulliProbs, _beta_binomial),
    (Beta, BinomialProbs, _beta_binomial),
    (Gamma, Poisson, _gamma_poisson),
    (Gamma, Exponential, _gamma_exponential),
    (Normal, Normal, _normal_normal),
    (Dirichlet, CategoricalProbs, _dirichlet_categorical),
    (Dirichlet, MultinomialProbs, _dirichlet_categorical),
]
