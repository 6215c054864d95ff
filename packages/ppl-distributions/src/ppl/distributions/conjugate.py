"""Compound (conjugate-mixture) discrete distributions.

A parameter of a discrete likelihood is integrated out against its conjugate
prior: Beta-Binomial, Beta-Negative-Binomial, Dirichlet-Multinomial and
Gamma-Poisson, the last one also in its negative-binomial parametrizations.
Sampling draws the latent parameter and then the count.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import jax.random as random
from jax import lax
from jax.nn import softplus
from jax.scipy.special import betaln, gammaln, xlog1py, xlogy

from ppl import constraints
from ppl.distributions.discrete import _arange_support, _homogeneous_max, _int_dtype
from ppl.distributions.distribution import Distribution
from ppl.distributions.special import betainc
from ppl.distributions.util import promote_shapes, validate_sample

__all__ = [
    "BetaBinomial",
    "BetaNegativeBinomial",
    "DirichletMultinomial",
    "GammaPoisson",
    "NegativeBinomial",
    "NegativeBinomial2",
    "NegativeBinomialLogits",
    "NegativeBinomialProbs",
]

ArrayLike = Any


def _log_beta_1(alpha: ArrayLike, value: ArrayLike) -> jax.Array:
    r""":math:`\log B(\alpha, k + 1) + \log(k + \alpha)`, i.e. minus the log of
    :math:`\binom{k + \alpha - 1}{k}` generalized to real :math:`\alpha`; zero at :math:`k = 0`."""
    return gammaln(1 + value) + gammaln(alpha) - gammaln(value + alpha)


def _float(x: ArrayLike) -> jax.Array:
    return jnp.asarray(x, jnp.result_type(x, float))


class BetaBinomial(Distribution):
    r"""Binomial count whose success probability is Beta distributed and integrated out.

    .. math:: P(X = k) = \binom{n}{k} \frac{B(k + \alpha, n - k + \beta)}{B(\alpha, \beta)},
              \quad k = 0, \dots, n

    Args:
        concentration1: :math:`\alpha > 0`, the Beta's first concentration.
        concentration0: :math:`\beta > 0`, the Beta's second concentration.
        total_count: number of trials :math:`n`, default 1.
        validate_args: check the parameters against their constraints.
    """

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
        "total_count": constraints.nonnegative_integer,
    }
    has_enumerate_support = True

    def __init__(
        self,
        concentration1: ArrayLike,
        concentration0: ArrayLike,
        total_count: ArrayLike = 1,
        *,
        validate_args: bool | None = None,
    ) -> None:
        self.concentration1, self.concentration0, self.total_count = promote_shapes(
            concentration1, concentration0, total_count
        )
        batch_shape = lax.broadcast_shapes(
            jnp.shape(concentration1), jnp.shape(concentration0), jnp.shape(total_count)
        )
        super().__init__(batch_shape, validate_args=validate_args)

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        key_beta, key_binom = random.split(key)
        shape = tuple(sample_shape) + self.batch_shape
        probs = random.beta(
            key_beta, _float(self.concentration1), _float(self.concentration0), shape
        )
        counts = random.binomial(key_binom, self.total_count, probs, shape=shape)
        return counts.astype(_int_dtype())

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        n = self.total_count
        return (
            -_log_beta_1(n - value + 1, value)
            + betaln(value + self.concentration1, n - value + self.concentration0)
            - betaln(self.concentration0, self.concentration1)
        )

    @property
    def mean(self) -> jax.Array:
        a, b = self.concentration1, self.concentration0
        return jnp.broadcast_to(self.total_count * a / (a + b), self.batch_shape)

    @property
    def variance(self) -> jax.Array:
        a, b, n = self.concentration1, self.concentration0, self.total_count
        total = a + b
        var = n * a * b * (total + n) / (total**2 * (total + 1))
        return jnp.broadcast_to(var, self.batch_shape)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self) -> constraints.Constraint:
        return constraints.integer_interval(0, self.total_count)

    def enumerate_support(self, expand: bool = True) -> jax.Array:
        total_count = _homogeneous_max(self.total_count, "total_count")
        return _arange_support(int(total_count) + 1, self.batch_shape, expand)


class BetaNegativeBinomial(Distribution):
    r"""Negative-binomial count whose probability is Beta distributed and integrated out.

    .. math:: P(X = k) = \binom{n + k - 1}{k} \frac{B(\alpha + k, \beta + n)}{B(\alpha, \beta)}

    Heavy-tailed: the mean is finite only for :math:`\beta > 1` and the variance
    only for :math:`\beta > 2` (``inf`` otherwise).

    Args:
        concentration1: :math:`\alpha > 0`, the Beta's first concentration.
        concentration0: :math:`\beta > 0`, the Beta's second concentration.
        n: the negative binomial's number of successes :math:`n > 0`.
        validate_args: check the parameters against their constraints.
    """

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
        "n": constraints.positive,
    }
    support = constraints.nonnegative_integer

    def __init__(
        self,
        concentration1: ArrayLike,
        concentration0: ArrayLike,
        n: ArrayLike,
        *,
        validate_args: bool | None = None,
    ) -> None:
        self.concentration1, self.concentration0, self.n = promote_shapes(
            concentration1, concentration0, n
        )
        batch_shape = lax.broadcast_shapes(
            jnp.shape(concentration1), jnp.shape(concentration0), jnp.shape(n)
        )
        super().__init__(batch_shape, validate_args=validate_args)

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        key_beta, key_gamma, key_poisson = random.split(key, 3)
        shape = tuple(sample_shape) + self.batch_shape
        p = random.beta(key_beta, _float(self.concentration1), _float(self.concentration0), shape)
        # NB(n, p) = Poisson(Gamma(n) * p / (1 - p)).
        rate = random.gamma(key_gamma, _float(self.n), shape) * p / (1 - p)
        return random.poisson(key_poisson, rate, shape)

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        a, b, n = self.concentration1, self.concentration0, self.n
        return (
            gammaln(n + value)
            - gammaln(n)
            - gammaln(value + 1.0)
            + betaln(a + value, b + n)
            - betaln(a, b)
        )

    @property
    def mean(self) -> jax.Array:
        a, b, n = self.concentration1, self.concentration0, self.n
        mean = jnp.where(b > 1, n * a / (b - 1), jnp.inf)
        return jnp.broadcast_to(mean, self.batch_shape)

    @property
    def variance(self) -> jax.Array:
        a, b, n = self.concentration1, self.concentration0, self.n
        var = n * a * (n + b - 1) * (a + b - 1) / ((b - 1) ** 2 * (b - 2))
        return jnp.broadcast_to(jnp.where(b > 2, var, jnp.inf), self.batch_shape)


class DirichletMultinomial(Distribution):
    r"""Multinomial counts whose probability vector is Dirichlet distributed and integrated out.

    .. math:: P(X = x) = \frac{n!\,\Gamma(A)}{\Gamma(n + A)}
              \prod_k \frac{\Gamma(x_k + \alpha_k)}{x_k!\,\Gamma(\alpha_k)},
              \quad A = \sum_k \alpha_k

    Args:
        concentration: Dirichlet concentrations :math:`\alpha` (last axis = categories).
        total_count: number of trials :math:`n`, default 1.
        total_count_max: accepted for NumPyro compatibility (unused: JAX's multinomial
            sampler works with traced counts).
        validate_args: check the parameters against their constraints.
    """

    arg_constraints = {
        "concentration": constraints.independent(constraints.positive, 1),
        "total_count": constraints.nonnegative_integer,
    }
    pytree_data_fields = ("concentration", "total_count")
    pytree_aux_fields = ("total_count_max",)

    def __init__(
        self,
        concentration: ArrayLike,
        total_count: ArrayLike = 1,
        *,
        total_count_max: int | None = None,
        validate_args: bool | None = None,
    ) -> None:
        if jnp.ndim(concentration) < 1:
            raise ValueError(
                "DirichletMultinomial: `concentration` must be at least one-dimensional, got "
                f"shape {jnp.shape(concentration)}."
            )
        batch_shape, event_shape = self.infer_shapes(
            jnp.shape(concentration), jnp.shape(total_count)
        )
        (self.concentration,) = promote_shapes(concentration, shape=batch_shape + event_shape)
        (self.total_count,) = promote_shapes(total_count, shape=batch_shape)
        self.total_count_max = total_count_max
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        key_dirichlet, key_multinom = random.split(key)
        shape = tuple(sample_shape) + self.batch_shape
        concentration = jnp.broadcast_to(
            _float(self.concentration), self.batch_shape + self.event_shape
        )
        probs = random.dirichlet(key_dirichlet, concentration, shape)
        counts = random.multinomial(
            key_multinom, self.total_count, probs, shape=shape + self.event_shape
        )
        return counts.astype(_int_dtype())

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        alpha = self.concentration
        return _log_beta_1(jnp.sum(alpha, -1), jnp.sum(value, -1)) - jnp.sum(
            _log_beta_1(alpha, value), -1
        )

    @property
    def mean(self) -> jax.Array:
        alpha = jnp.broadcast_to(self.concentration, self.batch_shape + self.event_shape)
        return alpha / alpha.sum(-1, keepdims=True) * jnp.expand_dims(self.total_count, -1)

    @property
    def variance(self) -> jax.Array:
        n = jnp.expand_dims(self.total_count, -1)
        alpha = jnp.broadcast_to(self.concentration, self.batch_shape + self.event_shape)
        alpha_sum = alpha.sum(-1, keepdims=True)
        ratio = alpha / alpha_sum
        return n * ratio * (1 - ratio) * (n + alpha_sum) / (1 + alpha_sum)

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self) -> constraints.Constraint:
        return constraints.multinomial(self.total_count)

    @classmethod
    def infer_shapes(
        cls, concentration: tuple[int, ...], total_count: tuple[int, ...] = ()
    ) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return lax.broadcast_shapes(concentration[:-1], total_count), concentration[-1:]


class GammaPoisson(Distribution):
    r"""Poisson count whose rate is :math:`\mathrm{Gamma}(\alpha, \beta)` and integrated out.

    .. math:: P(X = k) = \frac{\Gamma(k + \alpha)}{k!\,\Gamma(\alpha)}
              \left(\frac{\beta}{1 + \beta}\right)^{\alpha} \left(\frac{1}{1 + \beta}\right)^k

    Args:
        concentration: the Gamma's shape :math:`\alpha > 0`.
        rate: the Gamma's rate :math:`\beta > 0`, default 1.
        validate_args: check the parameters against their constraints.
    """

    arg_constraints = {
        "concentration": constraints.positive,
        "rate": constraints.positive,
    }
    support = constraints.nonnegative_integer

    def __init__(
        self,
        concentration: ArrayLike,
        rate: ArrayLike = 1.0,
        *,
        validate_args: bool | None = None,
    ) -> None:
        self.concentration, self.rate = promote_shapes(concentration, rate)
        batch_shape = lax.broadcast_shapes(jnp.shape(concentration), jnp.shape(rate))
        super().__init__(batch_shape, validate_args=validate_args)

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        key_gamma, key_poisson = random.split(key)
        shape = tuple(sample_shape) + self.batch_shape
        rate = random.gamma(key_gamma, _float(self.concentration), shape) / self.rate
        return random.poisson(key_poisson, rate, shape)

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        dtype = jnp.result_type(float)
        concentration = jnp.asarray(self.concentration, dtype)
        rate = jnp.asarray(self.rate, dtype)
        value = jnp.asarray(value, dtype)
        return (
            -betaln(concentration, value + 1)
            - jnp.log(concentration + value)
            + xlogy(-concentration, 1 + 1 / rate)
            - xlog1py(value, rate)
        )

    @property
    def mean(self) -> jax.Array:
        return jnp.broadcast_to(self.concentration / self.rate, self.batch_shape)

    @property
    def variance(self) -> jax.Array:
        var = self.concentration / self.rate * (1 + 1 / self.rate)
        return jnp.broadcast_to(var, self.batch_shape)

    def cdf(self, value: ArrayLike) -> jax.Array:
        r""":math:`P(X \le x) = I_{\beta / (1 + \beta)}(\alpha, \lfloor x \rfloor + 1)`."""
        k = jnp.floor(value)
        rate = jnp.asarray(self.rate, jnp.result_type(self.rate, float))
        fraction = jnp.where(jnp.isinf(rate), 1.0, rate / (rate + 1.0))
        cdf = betainc(self.concentration, jnp.clip(k, 0.0) + 1.0, fraction)
        return jnp.where(k < 0, 0.0, cdf)


def NegativeBinomial(
    total_count: ArrayLike,
    probs: ArrayLike | None = None,
    logits: ArrayLike | None = None,
    *,
    validate_args: bool | None = None,
) -> NegativeBinomialProbs | NegativeBinomialLogits:
    """Negative binomial distribution from ``total_count`` and one of ``probs``/``logits``.

    Returns:
        a :class:`NegativeBinomialProbs` or a :class:`NegativeBinomialLogits`.
    """
    if probs is not None and logits is not None:
        raise ValueError("NegativeBinomial: give only one of `probs` or `logits`, not both.")
    if probs is not None:
        return NegativeBinomialProbs(total_count, probs, validate_args=validate_args)
    if logits is not None:
        return NegativeBinomialLogits(total_count, logits, validate_args=validate_args)
    raise ValueError("NegativeBinomial: one of `probs` or `logits` must be specified.")


class NegativeBinomialProbs(GammaPoisson):
    r"""Negative binomial counting successes (probability ``probs``) before ``total_count``
    failures.

    .. math:: P(X = k) = \binom{k + r - 1}{k} p^k (1 - p)^r

    It is :math:`\mathrm{GammaPoisson}(r, 1/p - 1)`, with mean :math:`r p / (1 - p)`.

    Args:
        total_count: :math:`r > 0`.
        probs: :math:`p \in [0, 1]`.
        validate_args: check the parameters against their constraints.
    """

    arg_constraints = {
        "total_count": constraints.positive,
        "probs": constraints.unit_interval,
    }
    support = constraints.nonnegative_integer

    def __init__(
        self, total_count: ArrayLike, probs: ArrayLike, *, validate_args: bool | None = None
    ) -> None:
        self.total_count, self.probs = promote_shapes(total_count, probs)
        rate = 1.0 / jnp.asarray(probs, jnp.result_type(probs, float)) - 1.0
        super().__init__(total_count, rate, validate_args=validate_args)


class NegativeBinomialLogits(GammaPoisson):
    r"""Negative binomial parametrized by ``total_count`` and the log-odds ``logits``.

    It is :math:`\mathrm{GammaPoisson}(r, e^{-\ell})`, with mean :math:`r e^{\ell}`.

    Args:
        total_count: :math:`r > 0`.
        logits: :math:`\ell = \log(p / (1 - p))`.
        validate_args: check the parameters against their constraints.
    """

    arg_constraints = {
        "total_count": constraints.positive,
        "logits": constraints.real,
    }
    support = constraints.nonnegative_integer

    def __init__(
        self, total_count: ArrayLike, logits: ArrayLike, *, validate_args: bool | None = None
    ) -> None:
        self.total_count, self.logits = promote_shapes(total_count, logits)
        rate = jnp.exp(-jnp.asarray(logits, jnp.result_type(logits, float)))
        super().__init__(total_count, rate, validate_args=validate_args)

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        r""":math:`-r\,\mathrm{softplus}(\ell) - k\,\mathrm{softplus}(-\ell)
        - \log B(r, k + 1) - \log(k + r)`."""
        value = jnp.asarray(value, jnp.result_type(float))
        log_1mp = jnp.where(value == 0, 0.0, softplus(-self.logits))
        return -(
            self.total_count * softplus(self.logits)
            + value * log_1mp
            + _log_beta_1(self.total_count, value)
        )

    @property
    def mean(self) -> jax.Array:
        return jnp.broadcast_to(self.total_count * jnp.exp(self.logits), self.batch_shape)

    @property
    def variance(self) -> jax.Array:
        return self.mean * (1 + jnp.exp(self.logits))


class NegativeBinomial2(GammaPoisson):
    r"""Negative binomial with mean :math:`\mu` and concentration :math:`\alpha` ("NB2").

    It is :math:`\mathrm{GammaPoisson}(\alpha, \alpha / \mu)`: the variance is
    :math:`\mu + \mu^2 / \alpha`, and :math:`\mu = 0` puts all mass at zero.

    Args:
        mean: :math:`\mu \ge 0`.
        concentration: :math:`\alpha > 0`.
        validate_args: check the parameters against their constraints.
    """

    arg_constraints = {
        "mean": constraints.nonnegative,
        "concentration": constraints.positive,
    }
    support = constraints.nonnegative_integer
    # ``mean`` is the inherited property (concentration / rate), not a stored field.
    pytree_data_fields = ("concentration",)

    def __init__(
        self, mean: ArrayLike, concentration: ArrayLike, *, validate_args: bool | None = None
    ) -> None:
        rate = jnp.divide(concentration, jnp.asarray(mean, jnp.result_type(mean, float)))
        super().__init__(concentration, rate, validate_args=validate_args)
