"""Discrete distributions: Bernoulli, Binomial, Categorical, Multinomial, Poisson, ...

Each family with two natural parametrizations comes as a pair of classes
(``*Probs`` and ``*Logits``) plus a factory function of the family name that
picks one from the keyword given, as in NumPyro. Samplers are the ones of
:mod:`jax.random` wherever JAX has one.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import jax.random as random
import numpy as np
from jax import lax
from jax.nn import softmax, softplus
from jax.scipy.special import (
    expit,
    gammaincc,
    gammaln,
    logsumexp,
    xlog1py,
    xlogy,
)

from ppl import constraints
from ppl.distributions.distribution import Distribution
from ppl.distributions.kl import register_kl
from ppl.distributions.special import betainc
from ppl.distributions.util import (
    clamp_probs,
    lazy_property,
    not_jax_tracer,
    promote_shapes,
    validate_sample,
)

__all__ = [
    "Bernoulli",
    "BernoulliLogits",
    "BernoulliProbs",
    "Binomial",
    "BinomialLogits",
    "BinomialProbs",
    "Categorical",
    "CategoricalLogits",
    "CategoricalProbs",
    "DiscreteUniform",
    "Geometric",
    "GeometricLogits",
    "GeometricProbs",
    "Multinomial",
    "MultinomialLogits",
    "MultinomialProbs",
    "OrderedLogistic",
    "Poisson",
]

ArrayLike = Any


# -- parametrization helpers ----------------------------------------------------------


def _to_probs_bernoulli(logits: ArrayLike) -> jax.Array:
    return expit(logits)


def _to_logits_bernoulli(probs: ArrayLike) -> jax.Array:
    ps = clamp_probs(probs)
    return jnp.log(ps) - jnp.log1p(-ps)


def _to_probs_multinom(logits: ArrayLike) -> jax.Array:
    return softmax(logits, axis=-1)


def _to_logits_multinom(probs: ArrayLike) -> jax.Array:
    # A zero-probability category has logit -inf, not log(tiny).
    probs = jnp.asarray(probs)
    safe = jnp.where(probs > 0, probs, 1.0)
    return jnp.where(probs > 0, jnp.log(safe), -jnp.inf)


def _one_of(family: str, **kwargs: Any) -> str:
    """The name of the single keyword in ``kwargs`` that is not ``None``."""
    given = [name for name, value in kwargs.items() if value is not None]
    if len(given) != 1:
        names = " or ".join(f"`{name}`" for name in kwargs)
        raise ValueError(f"{family}: give exactly one of {names}, got {len(given)}.")
    return given[0]


def _check_vector(owner: str, name: str, value: ArrayLike) -> None:
    """Raise unless ``value`` has a last axis (of categories)."""
    if jnp.ndim(value) < 1:
        raise ValueError(
            f"{owner}: `{name}` must be at least one-dimensional, got shape {jnp.shape(value)}."
        )


def _int_dtype() -> Any:
    return jnp.result_type(int)


def _arange_support(size: int, batch_shape: tuple[int, ...], expand: bool, start=0) -> jax.Array:
    """``start, ..., start + size - 1`` along a new leading axis, ready to broadcast."""
    values = jnp.arange(start, start + size).reshape((-1,) + (1,) * len(batch_shape))
    if expand:
        values = jnp.broadcast_to(values, values.shape[:1] + tuple(batch_shape))
    return values


def _homogeneous_max(x: ArrayLike, name: str) -> Any:
    """The common value of a parameter that must not vary over the batch to enumerate."""
    if not not_jax_tracer(x):
        # Traced: the homogeneity cannot be checked, trust the maximum.
        return jnp.amax(x)
    x = np.asarray(x)
    if np.amin(x) != np.amax(x):
        raise NotImplementedError(
            f"enumerate_support needs the same `{name}` across the batch; got values from "
            f"{np.amin(x)} to {np.amax(x)}."
        )
    return np.amax(x)


class _OneParam(Distribution):
    """Constructor shared by the ``*Probs``/``*Logits`` twins of a one-parameter family.

    The subclass passes the parameter with its name (``"probs"`` or ``"logits"``);
    its shape, less the ``_param_event_dims`` trailing axes of categories, is the
    batch shape.
    """

    _param_event_dims = 0

    def __init__(self, name: str, param: ArrayLike, *, validate_args: bool | None = None) -> None:
        if self._param_event_dims:
            _check_vector(type(self).__name__, name, param)
        setattr(self, name, param)
        batch_shape = jnp.shape(param)[: jnp.ndim(param) - self._param_event_dims]
        super().__init__(batch_shape=batch_shape, validate_args=validate_args)


# -- Bernoulli -------------------------------------------------------------------------


class _BernoulliBase(_OneParam):
    support = constraints.boolean
    has_enumerate_support = True

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        shape = tuple(sample_shape) + self.batch_shape
        return random.bernoulli(key, self.probs, shape=shape).astype(_int_dtype())

    @property
    def mean(self) -> jax.Array:
        return jnp.broadcast_to(jnp.asarray(self.probs), self.batch_shape)

    @property
    def variance(self) -> jax.Array:
        probs = jnp.asarray(self.probs)
        return jnp.broadcast_to(probs * (1 - probs), self.batch_shape)

    def cdf(self, value: ArrayLike) -> jax.Array:
        r""":math:`F(x) = 0` for :math:`x < 0`, :math:`1 - p` on :math:`[0, 1)`, 1 above."""
        q = 1 - jnp.asarray(self.probs)
        return jnp.where(value < 0, 0.0, jnp.where(value < 1, q, 1.0))

    def icdf(self, q: ArrayLike) -> jax.Array:
        """The smallest :math:`k \\in \\{0, 1\\}` with :math:`F(k) \\ge q`."""
        return jnp.where(q <= 1 - jnp.asarray(self.probs), 0, 1)

    def enumerate_support(self, expand: bool = True) -> jax.Array:
        return _arange_support(2, self.batch_shape, expand)


class BernoulliProbs(_BernoulliBase):
    r"""Bernoulli distribution on :math:`\{0, 1\}` with success probability ``probs``.

    .. math:: P(X = k) = p^k (1 - p)^{1 - k}

    Args:
        probs: success probability :math:`p \in [0, 1]`.
        validate_args: check ``probs`` against its constraint.
    """

    arg_constraints = {"probs": constraints.unit_interval}

    def __init__(self, probs: ArrayLike, *, validate_args: bool | None = None) -> None:
        super().__init__("probs", probs, validate_args=validate_args)

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        ps = clamp_probs(self.probs)
        value = jnp.asarray(value, jnp.result_type(float))
        return xlogy(value, ps) + xlog1py(1 - value, -ps)

    @lazy_property
    def logits(self) -> jax.Array:
        return _to_logits_bernoulli(self.probs)

    def entropy(self) -> jax.Array:
        r""":math:`-p \log p - (1 - p) \log(1 - p)`."""
        probs = jnp.asarray(self.probs)
        return -xlogy(probs, probs) - xlog1py(1 - probs, -probs)


class BernoulliLogits(_BernoulliBase):
    r"""Bernoulli distribution parametrized by the log-odds ``logits``.

    .. math:: P(X = 1) = \sigma(\ell) = 1 / (1 + e^{-\ell})

    Args:
        logits: log-odds :math:`\ell` of success.
        validate_args: check ``logits`` against its constraint.
    """

    arg_constraints = {"logits": constraints.real}
    # Infinite logits are meaningful (p = 0 or 1): check them only under validation.
    _check_concrete_args = False

    def __init__(self, logits: ArrayLike, *, validate_args: bool | None = None) -> None:
        super().__init__("logits", logits, validate_args=validate_args)

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        # log p = min(l, 0) - t and log(1 - p) = min(-l, 0) - t share t = log1p(exp(-|l|)):
        # one exp and one log1p (two softplus calls cost twice that and split the graph into
        # more fused loops, which made SVI steps on large plates ~2x slower). One branch
        # (l >= 0) picks |l| and the two minima so that the gradient at l = 0 is exact. The
        # unused term is dropped so that l = +-inf gives 0 or -inf rather than 0 * inf.
        value = jnp.asarray(value, jnp.result_type(float))
        logits = jnp.asarray(self.logits)
        nonneg = logits >= 0
        shared = jnp.log1p(jnp.exp(jnp.where(nonneg, -logits, logits)))
        log_p = jnp.where(value == 0, 0.0, value * jnp.where(nonneg, 0.0, logits))
        log_q = jnp.where(value == 1, 0.0, (1 - value) * jnp.where(nonneg, -logits, 0.0))
        return log_p + log_q - shared

    @lazy_property
    def probs(self) -> jax.Array:
        return _to_probs_bernoulli(self.logits)

    def entropy(self) -> jax.Array:
        r""":math:`p\,\mathrm{softplus}(-\ell) + (1 - p)\,\mathrm{softplus}(\ell)`."""
        logits = jnp.asarray(self.logits)
        p, q = expit(logits), expit(-logits)
        return p * softplus(-logits) + q * softplus(logits)


def Bernoulli(
    probs: ArrayLike | None = None,
    logits: ArrayLike | None = None,
    *,
    validate_args: bool | None = None,
) -> BernoulliProbs | BernoulliLogits:
    """Bernoulli distribution from exactly one of ``probs`` or ``logits``.

    Returns:
        a :class:`BernoulliProbs` or a :class:`BernoulliLogits`.
    """
    if _one_of("Bernoulli", probs=probs, logits=logits) == "probs":
        return BernoulliProbs(probs, validate_args=validate_args)
    return BernoulliLogits(logits, validate_args=validate_args)


# -- Binomial --------------------------------------------------------------------------


class _BinomialBase(Distribution):
    has_enumerate_support = True

    def __init__(
        self,
        name: str,
        param: ArrayLike,
        total_count: ArrayLike,
        *,
        validate_args: bool | None = None,
    ) -> None:
        batch_shape = lax.broadcast_shapes(jnp.shape(param), jnp.shape(total_count))
        param, self.total_count = promote_shapes(param, total_count)
        setattr(self, name, param)
        super().__init__(batch_shape=batch_shape, validate_args=validate_args)

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        shape = tuple(sample_shape) + self.batch_shape
        draws = random.binomial(key, self.total_count, self.probs, shape=shape)
        return draws.astype(_int_dtype())

    @property
    def mean(self) -> jax.Array:
        return jnp.broadcast_to(self.total_count * self.probs, self.batch_shape)

    @property
    def variance(self) -> jax.Array:
        p = self.probs
        return jnp.broadcast_to(self.total_count * p * (1 - p), self.batch_shape)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self) -> constraints.Constraint:
        return constraints.integer_interval(0, self.total_count)

    def cdf(self, value: ArrayLike) -> jax.Array:
        r""":math:`P(X \le x) = I_{1-p}(n - k, k + 1)` with :math:`k = \lfloor x \rfloor`."""
        n = jnp.asarray(self.total_count, jnp.result_type(float))
        k = jnp.floor(value)
        inside = (k >= 0) & (k < n)
        # betainc needs a > 0: evaluate at a safe k outside (0, n), then overwrite.
        k_safe = jnp.where(inside, k, 0.0)
        n_safe = jnp.where(inside, n, 1.0)
        cdf = betainc(n_safe - k_safe, k_safe + 1, 1 - jnp.asarray(self.probs))
        return jnp.where(k < 0, 0.0, jnp.where(k >= n, 1.0, cdf))

    def enumerate_support(self, expand: bool = True) -> jax.Array:
        total_count = _homogeneous_max(self.total_count, "total_count")
        return _arange_support(int(total_count) + 1, self.batch_shape, expand)


class BinomialProbs(_BinomialBase):
    r"""Binomial distribution: successes in ``total_count`` trials of probability ``probs``.

    .. math:: P(X = k) = \binom{n}{k} p^k (1 - p)^{n - k}, \quad k = 0, \dots, n

    Args:
        probs: success probability per trial :math:`p \in [0, 1]`.
        total_count: number of trials :math:`n` (nonnegative integer), default 1.
        validate_args: check the parameters against their constraints.
    """

    arg_constraints = {
        "probs": constraints.unit_interval,
        "total_count": constraints.nonnegative_integer,
    }

    def __init__(
        self,
        probs: ArrayLike,
        total_count: ArrayLike = 1,
        *,
        validate_args: bool | None = None,
    ) -> None:
        super().__init__("probs", probs, total_count, validate_args=validate_args)

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        value = jnp.asarray(value, jnp.result_type(float))
        n = self.total_count
        probs = clamp_probs(self.probs)
        return (
            gammaln(n + 1.0)
            - gammaln(value + 1)
            - gammaln(n - value + 1)
            + xlogy(value, probs)
            + xlog1py(n - value, -probs)
        )

    @lazy_property
    def logits(self) -> jax.Array:
        return _to_logits_bernoulli(self.probs)


class BinomialLogits(_BinomialBase):
    r"""Binomial distribution parametrized by the log-odds ``logits`` of each trial.

    Args:
        logits: log-odds :math:`\ell` of success, :math:`p = \sigma(\ell)`.
        total_count: number of trials :math:`n` (nonnegative integer), default 1.
        validate_args: check the parameters against their constraints.
    """

    arg_constraints = {
        "logits": constraints.real,
        "total_count": constraints.nonnegative_integer,
    }
    # Infinite logits are meaningful (p = 0 or 1): check them only under validation.
    _check_concrete_args = False

    def __init__(
        self,
        logits: ArrayLike,
        total_count: ArrayLike = 1,
        *,
        validate_args: bool | None = None,
    ) -> None:
        super().__init__("logits", logits, total_count, validate_args=validate_args)

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        value = jnp.asarray(value, jnp.result_type(float))
        n = jnp.asarray(self.total_count, jnp.result_type(float))
        logits = jnp.asarray(self.logits)
        log_binom = gammaln(n + 1) - gammaln(value + 1) - gammaln(n - value + 1)
        # As in BernoulliLogits.log_prob: log p = min(l, 0) - t and log(1 - p) = min(-l, 0) - t
        # with t = log1p(exp(-|l|)), so k log p + (n - k) log(1 - p) needs one exp and one
        # log1p, and no large terms cancel at extreme logits. A zero count drops its term so
        # that l = +-inf gives 0 rather than 0 * inf.
        nonneg = logits >= 0
        shared = jnp.log1p(jnp.exp(jnp.where(nonneg, -logits, logits)))
        log_p = jnp.where(value == 0, 0.0, value * jnp.where(nonneg, 0.0, logits))
        log_q = jnp.where(value == n, 0.0, (n - value) * jnp.where(nonneg, -logits, 0.0))
        return log_binom + log_p + log_q - n * shared

    @lazy_property
    def probs(self) -> jax.Array:
        return _to_probs_bernoulli(self.logits)


def Binomial(
    total_count: ArrayLike = 1,
    probs: ArrayLike | None = None,
    logits: ArrayLike | None = None,
    *,
    validate_args: bool | None = None,
) -> BinomialProbs | BinomialLogits:
    """Binomial distribution from ``total_count`` and exactly one of ``probs`` or ``logits``."""
    if _one_of("Binomial", probs=probs, logits=logits) == "probs":
        return BinomialProbs(probs, total_count, validate_args=validate_args)
    return BinomialLogits(logits, total_count, validate_args=validate_args)


# -- Categorical -----------------------------------------------------------------------


class _CategoricalBase(_OneParam):
    has_enumerate_support = True
    _param_event_dims = 1

    def _num_categories(self) -> int:
        return jnp.shape(self._param)[-1]

    def _normalized_logits(self) -> jax.Array:
        raise NotImplementedError

    def _sampling_logits(self) -> jax.Array:
        """Logits up to a per-row constant: enough for the Gumbel-max draw."""
        return self._normalized_logits()

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        shape = tuple(sample_shape) + self.batch_shape
        return random.categorical(key, self._sampling_logits(), shape=shape)

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        value = jnp.asarray(value)
        batch_shape = lax.broadcast_shapes(jnp.shape(value), self.batch_shape)
        index = jnp.broadcast_to(value.astype(_int_dtype())[..., None], (*batch_shape, 1))
        log_pmf = self._normalized_logits()
        log_pmf = jnp.broadcast_to(log_pmf, batch_shape + jnp.shape(log_pmf)[-1:])
        return jnp.take_along_axis(log_pmf, index, axis=-1)[..., 0]

    @property
    def mean(self) -> jax.Array:
        """Undefined for unordered categories: NaN, as in NumPyro."""
        return jnp.full(self.batch_shape, jnp.nan, dtype=jnp.result_type(self._param, float))

    @property
    def variance(self) -> jax.Array:
        """Undefined for unordered categories: NaN, as in NumPyro."""
        return jnp.full(self.batch_shape, jnp.nan, dtype=jnp.result_type(self._param, float))

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self) -> constraints.Constraint:
        return constraints.integer_interval(0, self._num_categories() - 1)

    def enumerate_support(self, expand: bool = True) -> jax.Array:
        return _arange_support(self._num_categories(), self.batch_shape, expand)

    def entropy(self) -> jax.Array:
        r""":math:`-\sum_k p_k \log p_k` (a zero-probability category adds nothing)."""
        log_pmf = self._normalized_logits()
        probs = jnp.exp(log_pmf)
        return -jnp.sum(probs * jnp.where(probs > 0, log_pmf, 0.0), axis=-1)


class CategoricalProbs(_CategoricalBase):
    r"""Categorical distribution over :math:`\{0, \dots, K - 1\}` with probabilities ``probs``.

    Args:
        probs: probability vectors (last axis of size :math:`K`, on the simplex).
        validate_args: check ``probs`` against its constraint.
    """

    arg_constraints = {"probs": constraints.simplex}

    def __init__(self, probs: ArrayLike, *, validate_args: bool | None = None) -> None:
        super().__init__("probs", probs, validate_args=validate_args)

    @property
    def _param(self) -> ArrayLike:
        return self.probs

    def _normalized_logits(self) -> jax.Array:
        return self.logits

    @lazy_property
    def logits(self) -> jax.Array:
        return _to_logits_multinom(self.probs)


class CategoricalLogits(_CategoricalBase):
    r"""Categorical distribution from unnormalized log-probabilities ``logits``.

    .. math:: P(X = k) = e^{\ell_k} / \sum_j e^{\ell_j}

    Args:
        logits: unnormalized log-probabilities (last axis of size :math:`K`).
        validate_args: check ``logits`` against its constraint.
    """

    arg_constraints = {"logits": constraints.real_vector}
    # A logit of -inf marks an impossible category: check logits only under validation.
    _check_concrete_args = False

    def __init__(self, logits: ArrayLike, *, validate_args: bool | None = None) -> None:
        super().__init__("logits", logits, validate_args=validate_args)

    @property
    def _param(self) -> ArrayLike:
        return self.logits

    def _normalized_logits(self) -> jax.Array:
        return self.logits - logsumexp(self.logits, axis=-1, keepdims=True)

    def _sampling_logits(self) -> jax.Array:
        # argmax(gumbel + logits) ignores the log normalizer: skipping the logsumexp pass
        # over the (batch, K) logits made sampling ~1.4x faster.
        return jnp.asarray(self.logits)

    @lazy_property
    def probs(self) -> jax.Array:
        return _to_probs_multinom(self.logits)


def Categorical(
    probs: ArrayLike | None = None,
    logits: ArrayLike | None = None,
    *,
    validate_args: bool | None = None,
) -> CategoricalProbs | CategoricalLogits:
    """Categorical distribution from exactly one of ``probs`` or ``logits``."""
    if _one_of("Categorical", probs=probs, logits=logits) == "probs":
        return CategoricalProbs(probs, validate_args=validate_args)
    return CategoricalLogits(logits, validate_args=validate_args)


class OrderedLogistic(CategoricalProbs):
    r"""Ordinal outcome :math:`Y \in \{0, \dots, K - 1\}` from a latent logistic variable.

    With predictor :math:`\eta` and increasing cutpoints :math:`c_0 < \dots < c_{K-2}`,

    .. math:: P(Y \le k) = \sigma(c_k - \eta), \qquad
              P(Y = k) = \sigma(c_k - \eta) - \sigma(c_{k-1} - \eta),

    with :math:`c_{-1} = -\infty` and :math:`c_{K-1} = +\infty`.

    Args:
        predictor: the real predictor :math:`\eta`, typically a linear model's output.
        cutpoints: ordered cutpoints, last axis of size :math:`K - 1`; leading axes
            broadcast with ``predictor``.
        validate_args: check the parameters against their constraints.
    """

    arg_constraints = {
        "predictor": constraints.real,
        "cutpoints": constraints.ordered_vector,
    }

    def __init__(
        self,
        predictor: ArrayLike,
        cutpoints: ArrayLike,
        *,
        validate_args: bool | None = None,
    ) -> None:
        _check_vector("OrderedLogistic", "cutpoints", cutpoints)
        predictor = jnp.asarray(predictor)[..., None]
        predictor, self.cutpoints = promote_shapes(predictor, cutpoints)
        self.predictor = predictor[..., 0]
        cumulative = expit(jnp.asarray(self.cutpoints) - predictor)
        shape = lax.broadcast_shapes(jnp.shape(cumulative), jnp.shape(predictor))
        cumulative = jnp.broadcast_to(cumulative, shape)
        pad = [(0, 0)] * (cumulative.ndim - 1)
        upper = jnp.pad(cumulative, [*pad, (0, 1)], constant_values=1.0)
        lower = jnp.pad(cumulative, [*pad, (1, 0)], constant_values=0.0)
        super().__init__(upper - lower, validate_args=validate_args)

    @classmethod
    def infer_shapes(
        cls, predictor: tuple[int, ...], cutpoints: tuple[int, ...]
    ) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return lax.broadcast_shapes(predictor, cutpoints[:-1]), ()


class DiscreteUniform(Distribution):
    r"""Uniform distribution on the integers :math:`\{a, a + 1, \dots, b\}`.

    Args:
        low: lower bound :math:`a` (included), default 0.
        high: upper bound :math:`b` (included), default 1.
        validate_args: check the parameters.
    """

    arg_constraints = {
        "low": constraints.dependent(is_discrete=True, event_dim=0),
        "high": constraints.dependent(is_discrete=True, event_dim=0),
    }
    has_enumerate_support = True
    pytree_data_fields = ("low", "high", "_support")

    def __init__(
        self, low: ArrayLike = 0, high: ArrayLike = 1, *, validate_args: bool | None = None
    ) -> None:
        self.low, self.high = promote_shapes(low, high)
        batch_shape = lax.broadcast_shapes(jnp.shape(low), jnp.shape(high))
        self._support = constraints.integer_interval(low, high)
        super().__init__(batch_shape, validate_args=validate_args)

    def _check_parameters(self) -> None:
        super()._check_parameters()
        low, high = self.low, self.high
        if not (not_jax_tracer(low) and not_jax_tracer(high)):
            return
        if not np.all(np.asarray(low) <= np.asarray(high)):
            raise ValueError(
                "DiscreteUniform distribution got invalid high parameter: it must be at least "
                f"low everywhere (constraint greater_than_eq(low)), got low={np.asarray(low)!r} "
                f"and high={np.asarray(high)!r}"
            )

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self) -> constraints.Constraint:
        return self._support

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        shape = tuple(sample_shape) + self.batch_shape
        return random.randint(key, shape=shape, minval=self.low, maxval=self.high + 1)

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        shape = lax.broadcast_shapes(jnp.shape(value), self.batch_shape)
        return -jnp.broadcast_to(jnp.log(self.high + 1.0 - self.low), shape)

    def cdf(self, value: ArrayLike) -> jax.Array:
        r""":math:`F(x) = (\lfloor x \rfloor + 1 - a) / (b - a + 1)`, clipped to [0, 1]."""
        cdf = (jnp.floor(value) + 1 - self.low) / (self.high - self.low + 1)
        return jnp.clip(cdf, 0.0, 1.0)

    def icdf(self, q: ArrayLike) -> jax.Array:
        """The smallest support point :math:`k` with :math:`F(k) \\ge q`."""
        value = self.low + jnp.ceil(q * (self.high - self.low + 1)) - 1
        # q * (b - a + 1) may round just above an integer.
        value = jnp.where(self.cdf(value - 1) >= q, value - 1, value)
        return jnp.clip(value, self.low, self.high)

    @property
    def mean(self) -> jax.Array:
        return jnp.broadcast_to(self.low + (self.high - self.low) / 2.0, self.batch_shape)

    @property
    def variance(self) -> jax.Array:
        return jnp.broadcast_to(((self.high - self.low + 1) ** 2 - 1) / 12.0, self.batch_shape)

    def entropy(self) -> jax.Array:
        return jnp.broadcast_to(jnp.log(self.high - self.low + 1.0), self.batch_shape)

    def enumerate_support(self, expand: bool = True) -> jax.Array:
        if not (not_jax_tracer(self.low) and not_jax_tracer(self.high)):
            raise NotImplementedError(
                "DiscreteUniform.enumerate_support needs concrete `low` and `high`."
            )
        low = int(_homogeneous_max(self.low, "low"))
        high = int(_homogeneous_max(self.high, "high"))
        return _arange_support(high - low + 1, self.batch_shape, expand, start=low)


# -- Multinomial -----------------------------------------------------------------------


class _MultinomialBase(Distribution):
    pytree_aux_fields = ("total_count_max",)

    def __init__(
        self,
        name: str,
        param: ArrayLike,
        total_count: ArrayLike,
        total_count_max: int | None,
        *,
        validate_args: bool | None = None,
    ) -> None:
        _check_vector(type(self).__name__, name, param)
        batch_shape, event_shape = self.infer_shapes(jnp.shape(param), jnp.shape(total_count))
        setattr(self, name, promote_shapes(param, shape=batch_shape + jnp.shape(param)[-1:])[0])
        self.total_count = promote_shapes(total_count, shape=batch_shape)[0]
        self.total_count_max = total_count_max
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        shape = tuple(sample_shape) + self.batch_shape + self.event_shape
        draws = random.multinomial(key, self.total_count, self.probs, shape=shape)
        return draws.astype(_int_dtype())

    @property
    def mean(self) -> jax.Array:
        return self.probs * jnp.expand_dims(self.total_count, -1)

    @property
    def variance(self) -> jax.Array:
        return jnp.expand_dims(self.total_count, -1) * self.probs * (1 - self.probs)

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self) -> constraints.Constraint:
        return constraints.multinomial(self.total_count)

    @classmethod
    def infer_shapes(
        cls, param: tuple[int, ...], total_count: tuple[int, ...] = ()
    ) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return lax.broadcast_shapes(param[:-1], total_count), param[-1:]


class MultinomialProbs(_MultinomialBase):
    r"""Multinomial counts of ``total_count`` categorical trials with probabilities ``probs``.

    .. math:: P(X = x) = \frac{n!}{\prod_k x_k!} \prod_k p_k^{x_k}, \quad \sum_k x_k = n

    Args:
        probs: probability vectors (last axis = categories).
        total_count: number of trials :math:`n`, default 1.
        total_count_max: accepted for NumPyro compatibility; JAX's multinomial sampler
            works with traced counts, so it is not needed.
        validate_args: check the parameters against their constraints.
    """

    arg_constraints = {
        "probs": constraints.simplex,
        "total_count": constraints.nonnegative_integer,
    }
    pytree_data_fields = ("probs", "total_count")

    def __init__(
        self,
        probs: ArrayLike,
        total_count: ArrayLike = 1,
        *,
        total_count_max: int | None = None,
        validate_args: bool | None = None,
    ) -> None:
        super().__init__("probs", probs, total_count, total_count_max, validate_args=validate_args)

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        value = jnp.asarray(value, jnp.result_type(float))
        return gammaln(self.total_count + 1.0) + jnp.sum(
            xlogy(value, self.probs) - gammaln(value + 1), axis=-1
        )

    @lazy_property
    def logits(self) -> jax.Array:
        return _to_logits_multinom(self.probs)


class MultinomialLogits(_MultinomialBase):
    r"""Multinomial counts from unnormalized log-probabilities ``logits``.

    Args:
        logits: unnormalized log-probabilities (last axis = categories).
        total_count: number of trials :math:`n`, default 1.
        total_count_max: accepted for NumPyro compatibility (unused).
        validate_args: check the parameters against their constraints.
    """

    arg_constraints = {
        "logits": constraints.real_vector,
        "total_count": constraints.nonnegative_integer,
    }
    pytree_data_fields = ("logits", "total_count")
    # A logit of -inf marks an impossible category: check logits only under validation.
    _check_concrete_args = False

    def __init__(
        self,
        logits: ArrayLike,
        total_count: ArrayLike = 1,
        *,
        total_count_max: int | None = None,
        validate_args: bool | None = None,
    ) -> None:
        super().__init__(
            "logits", logits, total_count, total_count_max, validate_args=validate_args
        )

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        value = jnp.asarray(value, jnp.result_type(float))
        log_pmf = self.logits - logsumexp(self.logits, axis=-1, keepdims=True)
        # A zero count adds nothing, even for a category of logit -inf.
        log_pmf = jnp.where(value == 0, 0.0, log_pmf)
        return gammaln(self.total_count + 1.0) + jnp.sum(
            value * log_pmf - gammaln(value + 1), axis=-1
        )

    @lazy_property
    def probs(self) -> jax.Array:
        return _to_probs_multinom(self.logits)


def Multinomial(
    total_count: ArrayLike = 1,
    probs: ArrayLike | None = None,
    logits: ArrayLike | None = None,
    *,
    total_count_max: int | None = None,
    validate_args: bool | None = None,
) -> MultinomialProbs | MultinomialLogits:
    """Multinomial distribution from ``total_count`` and exactly one of ``probs``/``logits``."""
    if _one_of("Multinomial", probs=probs, logits=logits) == "probs":
        return MultinomialProbs(
            probs, total_count, total_count_max=total_count_max, validate_args=validate_args
        )
    return MultinomialLogits(
        logits, total_count, total_count_max=total_count_max, validate_args=validate_args
    )


# -- Poisson ---------------------------------------------------------------------------


class Poisson(Distribution):
    r"""Poisson distribution with rate :math:`\lambda \ge 0`.

    .. math:: P(X = k) = \lambda^k e^{-\lambda} / k!

    Args:
        rate: the rate :math:`\lambda`.
        is_sparse: when the observed values are mostly zero, compute the full log
            mass only at the nonzero ones (effective for concrete values only).
        validate_args: check ``rate`` against its constraint.
    """

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer
    pytree_aux_fields = ("is_sparse",)

    def __init__(
        self, rate: ArrayLike, *, is_sparse: bool = False, validate_args: bool | None = None
    ) -> None:
        self.rate = rate
        self.is_sparse = is_sparse
        super().__init__(jnp.shape(rate), validate_args=validate_args)

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        return random.poisson(key, self.rate, shape=tuple(sample_shape) + self.batch_shape)

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        ftype = jnp.result_type(float)
        rate = jnp.asarray(self.rate, ftype)
        if self.is_sparse and not_jax_tracer(value) and np.size(value) > 1:
            shape = lax.broadcast_shapes(self.batch_shape, jnp.shape(value))
            flat_rate = jnp.broadcast_to(rate, shape).reshape(-1)
            host_value = np.broadcast_to(np.asarray(jax.device_get(value)), shape).reshape(-1)
            nonzero = host_value > 0
            k = jnp.asarray(host_value[nonzero], ftype)
            r = flat_rate[nonzero]
            return (-flat_rate).at[nonzero].add(xlogy(k, r) - gammaln(k + 1)).reshape(shape)
        value = jnp.asarray(value, ftype)
        return xlogy(value, rate) - gammaln(value + 1.0) - rate

    @property
    def mean(self) -> jax.Array:
        return jnp.asarray(self.rate)

    @property
    def variance(self) -> jax.Array:
        return jnp.asarray(self.rate)

    def cdf(self, value: ArrayLike) -> jax.Array:
        r""":math:`P(X \le x) = Q(\lfloor x \rfloor + 1, \lambda)` (regularized upper gamma)."""
        k = jnp.floor(value) + 1
        return jnp.where(k < 1, 0.0, gammaincc(jnp.clip(k, 1.0), self.rate))


# -- Geometric -------------------------------------------------------------------------


class _GeometricBase(_OneParam):
    support = constraints.nonnegative_integer

    def _log_q(self) -> jax.Array:
        """:math:`\\log(1 - p)`."""
        raise NotImplementedError

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        # Inverse cdf: X = floor(log(1 - U) / log(1 - p)).
        log_q = self._log_q()
        shape = tuple(sample_shape) + self.batch_shape
        u = random.uniform(key, shape, jnp.result_type(log_q))
        return jnp.floor(jnp.log1p(-u) / log_q)

    def cdf(self, value: ArrayLike) -> jax.Array:
        r""":math:`P(X \le x) = 1 - (1 - p)^{\lfloor x \rfloor + 1}`."""
        k = jnp.floor(value) + 1
        return jnp.where(k < 1, 0.0, -jnp.expm1(jnp.clip(k, 1.0) * self._log_q()))

    def icdf(self, q: ArrayLike) -> jax.Array:
        r"""The smallest :math:`k` with :math:`1 - (1 - p)^{k + 1} \ge q`."""
        k = jnp.ceil(jnp.log1p(-q) / self._log_q()) - 1
        # Rounding can land one above the answer.
        k = jnp.where((k >= 1) & (self.cdf(k - 1) >= q), k - 1, k)
        return jnp.clip(k, 0.0)


class GeometricProbs(_GeometricBase):
    r"""Number of failures before the first success, success probability ``probs``.

    .. math:: P(X = k) = p (1 - p)^k, \quad k = 0, 1, \dots

    Args:
        probs: success probability :math:`p \in (0, 1]`.
        validate_args: check ``probs`` against its constraint.
    """

    arg_constraints = {"probs": constraints.unit_interval}

    def __init__(self, probs: ArrayLike, *, validate_args: bool | None = None) -> None:
        super().__init__("probs", probs, validate_args=validate_args)

    def _log_q(self) -> jax.Array:
        return jnp.log1p(-jnp.asarray(self.probs, jnp.result_type(self.probs, float)))

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        value = jnp.asarray(value)
        # p = 1 puts all mass at 0: avoid 0 * log(0) there.
        probs = jnp.where((self.probs == 1) & (value == 0), 0.0, self.probs)
        return value * jnp.log1p(-probs) + jnp.log(self.probs)

    @lazy_property
    def logits(self) -> jax.Array:
        return _to_logits_bernoulli(self.probs)

    @property
    def mean(self) -> jax.Array:
        return jnp.asarray(1.0 / self.probs - 1.0)

    @property
    def variance(self) -> jax.Array:
        return jnp.asarray((1.0 / self.probs - 1.0) / self.probs)

    def entropy(self) -> jax.Array:
        r""":math:`-\log p - \frac{1 - p}{p} \log(1 - p)`."""
        probs = jnp.asarray(self.probs)
        return -xlog1py(1 - probs, -probs) / probs - jnp.log(probs)


class GeometricLogits(_GeometricBase):
    r"""Geometric distribution parametrized by the log-odds ``logits`` of success.

    Args:
        logits: log-odds :math:`\ell` of success, :math:`p = \sigma(\ell)`.
        validate_args: check ``logits`` against its constraint.
    """

    arg_constraints = {"logits": constraints.real}

    def __init__(self, logits: ArrayLike, *, validate_args: bool | None = None) -> None:
        super().__init__("logits", logits, validate_args=validate_args)

    def _log_q(self) -> jax.Array:
        return -softplus(jnp.asarray(self.logits, jnp.result_type(self.logits, float)))

    @lazy_property
    def probs(self) -> jax.Array:
        return _to_probs_bernoulli(self.logits)

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        value = jnp.asarray(value)
        logits = jnp.asarray(self.logits)
        log_q = jnp.where(value == 0, 0.0, -softplus(logits))
        return -softplus(-logits) + value * log_q

    @property
    def mean(self) -> jax.Array:
        # (1 - p) / p = exp(-logits), without cancellation as p -> 1.
        logits = jnp.asarray(self.logits)
        return jnp.exp(-logits.astype(jnp.result_type(logits, float)))

    @property
    def variance(self) -> jax.Array:
        mean = self.mean
        return mean * (1.0 + mean)

    def entropy(self) -> jax.Array:
        logits = jnp.asarray(self.logits)
        log_q, log_p = -softplus(logits), -softplus(-logits)
        p, q = expit(logits), expit(-logits)
        p = jnp.clip(p, jnp.finfo(p.dtype).tiny)
        return -q * jnp.where(q > 0, log_q, 0.0) / p - log_p


def Geometric(
    probs: ArrayLike | None = None,
    logits: ArrayLike | None = None,
    *,
    validate_args: bool | None = None,
) -> GeometricProbs | GeometricLogits:
    """Geometric distribution from exactly one of ``probs`` or ``logits``."""
    if _one_of("Geometric", probs=probs, logits=logits) == "probs":
        return GeometricProbs(probs, validate_args=validate_args)
    return GeometricLogits(logits, validate_args=validate_args)


# -- KL divergences --------------------------------------------------------------------


def _kl_bernoulli(p: _BernoulliBase, q: _BernoulliBase) -> jax.Array:
    r""":math:`\pi \log\frac{\pi}{\rho} + (1 - \pi) \log\frac{1 - \pi}{1 - \rho}` in logit form."""
    p_logits, q_logits = jnp.asarray(p.logits), jnp.asarray(q.logits)
    p_probs = expit(p_logits)
    # log pi - log rho = softplus(-q) - softplus(-p); likewise for the complements.
    t1 = p_probs * (softplus(-q_logits) - softplus(-p_logits))
    t0 = (1 - p_probs) * (softplus(q_logits) - softplus(p_logits))
    return t1 + t0


def _kl_categorical(p: _CategoricalBase, q: _CategoricalBase) -> jax.Array:
    r""":math:`\sum_k p_k (\log p_k - \log q_k)`; categories with :math:`p_k = 0` add nothing."""
    log_p, log_q = p._normalized_logits(), q._normalized_logits()
    probs = jnp.exp(log_p)
    return jnp.sum(jnp.where(probs > 0, probs * (log_p - log_q), 0.0), axis=-1)


@register_kl(Poisson, Poisson)
def _kl_poisson(p: Poisson, q: Poisson) -> jax.Array:
    r""":math:`\lambda_p \log(\lambda_p / \lambda_q) - \lambda_p + \lambda_q`."""
    rate_p, rate_q = jnp.asarray(p.rate), jnp.asarray(q.rate)
    return xlogy(rate_p, rate_p) - xlogy(rate_p, rate_q) - rate_p + rate_q


for _p_type in (BernoulliProbs, BernoulliLogits):
    for _q_type in (BernoulliProbs, BernoulliLogits):
        register_kl(_p_type, _q_type)(_kl_bernoulli)
for _p_type in (CategoricalProbs, CategoricalLogits):
    for _q_type in (CategoricalProbs, CategoricalLogits):
        register_kl(_p_type, _q_type)(_kl_categorical)
del _p_type, _q_type
