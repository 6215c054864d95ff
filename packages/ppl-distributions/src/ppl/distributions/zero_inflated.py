r"""Zero-inflated and hurdle distributions: extra zeros on top of a base distribution.

*Zero-inflated*: a zero comes either from a structural-zero gate (probability
:math:`g`) or from the base distribution itself,

.. math:: P(X = 0) = g + (1 - g) B(0), \qquad P(X = k) = (1 - g) B(k), \; k \ne 0.

*Hurdle*: every zero is structural and the nonzero part is the base
distribution truncated away from zero,

.. math:: P(X = 0) = g, \qquad P(X = k) = (1 - g) \frac{B(k)}{1 - B(0)}, \; k \ne 0,

where :math:`B(0) = 0` for a continuous base (no renormalization needed).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import jax.random as random
from jax import lax
from jax.nn import softplus

from ppl import constraints
from ppl.distributions.conjugate import NegativeBinomial2
from ppl.distributions.continuous import Gamma, LogNormal
from ppl.distributions.discrete import Poisson, _one_of, _to_probs_bernoulli
from ppl.distributions.distribution import Distribution
from ppl.distributions.util import log1mexp, promote_shapes, validate_sample

__all__ = [
    "HurdleDistribution",
    "HurdleGamma",
    "HurdleLogNormal",
    "HurdleLogits",
    "HurdleNegativeBinomial2",
    "HurdlePoisson",
    "HurdleProbs",
    "ZeroInflatedDistribution",
    "ZeroInflatedLogits",
    "ZeroInflatedNegativeBinomial2",
    "ZeroInflatedPoisson",
    "ZeroInflatedProbs",
]

ArrayLike = Any


def _check_univariate(owner: str, base_dist: Distribution) -> None:
    if not isinstance(base_dist, Distribution):
        raise TypeError(f"{owner}: `base_dist` must be a Distribution, got {type(base_dist)}.")
    if base_dist.event_shape:
        raise ValueError(
            f"{owner}: `base_dist` must be univariate (empty event_shape), got event_shape "
            f"{base_dist.event_shape}."
        )


# -- zero inflation --------------------------------------------------------------------


class ZeroInflatedProbs(Distribution):
    r"""A discrete base distribution with extra zeros of probability ``gate``.

    Args:
        base_dist: univariate discrete distribution.
        gate: probability :math:`g \in [0, 1]` of a structural zero.
        validate_args: check ``gate`` against its constraint.
    """

    arg_constraints = {"gate": constraints.unit_interval}
    pytree_data_fields = ("base_dist", "gate")

    def __init__(
        self, base_dist: Distribution, gate: ArrayLike, *, validate_args: bool | None = None
    ) -> None:
        _check_univariate(type(self).__name__, base_dist)
        if not base_dist.support.is_discrete:
            raise ValueError(
                f"{type(self).__name__}: `base_dist` must be discrete, got support "
                f"{base_dist.support}."
            )
        batch_shape = lax.broadcast_shapes(jnp.shape(gate), base_dist.batch_shape)
        (self.gate,) = promote_shapes(gate, shape=batch_shape)
        self.base_dist = base_dist.expand(batch_shape)
        super().__init__(batch_shape, validate_args=validate_args)

    def _log_gate(self) -> jax.Array:
        return jnp.log(self.gate)

    def _log1m_gate(self) -> jax.Array:
        return jnp.log1p(-self.gate)

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        key_gate, key_base = random.split(key)
        shape = tuple(sample_shape) + self.batch_shape
        structural_zero = random.bernoulli(key_gate, self.gate, shape)
        samples = self.base_dist.sample(key_base, sample_shape)
        return jnp.where(structural_zero, jnp.zeros_like(samples), samples)

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        log_base = self._log1m_gate() + self.base_dist.log_prob(value)
        return jnp.where(value == 0, jnp.logaddexp(self._log_gate(), log_base), log_base)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self) -> constraints.Constraint:
        return self.base_dist.support

    @property
    def mean(self) -> jax.Array:
        return (1 - self.gate) * self.base_dist.mean

    @property
    def variance(self) -> jax.Array:
        base_mean = self.base_dist.mean
        second_moment = (1 - self.gate) * (base_mean**2 + self.base_dist.variance)
        return second_moment - self.mean**2

    @property
    def has_enumerate_support(self) -> bool:
        return self.base_dist.has_enumerate_support

    def enumerate_support(self, expand: bool = True) -> jax.Array:
        return self.base_dist.enumerate_support(expand=expand)


class _GateLogits(Distribution):
    """The gate of a zero-inflated or hurdle model given by its log-odds ``gate_logits``.

    Mixed in before the ``...Probs`` class it parametrizes, which receives the
    gate probability derived from the logits. It derives from Distribution so
    that its pytree fields are gathered along the MRO.
    """

    arg_constraints = {"gate_logits": constraints.real}
    pytree_data_fields = ("gate_logits",)

    def __init__(
        self, base_dist: Distribution, gate_logits: ArrayLike, *, validate_args: bool | None = None
    ) -> None:
        batch_shape = lax.broadcast_shapes(jnp.shape(gate_logits), base_dist.batch_shape)
        (self.gate_logits,) = promote_shapes(gate_logits, shape=batch_shape)
        super().__init__(
            base_dist, _to_probs_bernoulli(self.gate_logits), validate_args=validate_args
        )

    def _log_gate(self) -> jax.Array:
        return -softplus(-self.gate_logits)

    def _log1m_gate(self) -> jax.Array:
        return -softplus(self.gate_logits)


class ZeroInflatedLogits(_GateLogits, ZeroInflatedProbs):
    r"""Zero inflation with the gate given by its log-odds ``gate_logits``.

    Args:
        base_dist: univariate discrete distribution.
        gate_logits: log-odds of a structural zero.
        validate_args: check ``gate_logits`` against its constraint.
    """


def ZeroInflatedDistribution(
    base_dist: Distribution,
    *,
    gate: ArrayLike | None = None,
    gate_logits: ArrayLike | None = None,
    validate_args: bool | None = None,
) -> ZeroInflatedProbs | ZeroInflatedLogits:
    """Zero-inflate ``base_dist`` with exactly one of ``gate`` or ``gate_logits``."""
    if _one_of("ZeroInflatedDistribution", gate=gate, gate_logits=gate_logits) == "gate":
        return ZeroInflatedProbs(base_dist, gate, validate_args=validate_args)
    return ZeroInflatedLogits(base_dist, gate_logits, validate_args=validate_args)


class ZeroInflatedPoisson(ZeroInflatedProbs):
    r"""Zero-inflated Poisson: mean :math:`(1 - g)\lambda`, variance
    :math:`(1 - g)\lambda(1 + g\lambda)`.

    Args:
        gate: probability :math:`g` of a structural zero.
        rate: Poisson rate :math:`\lambda > 0`, default 1.
        validate_args: check the parameters against their constraints.
    """

    arg_constraints = {"gate": constraints.unit_interval, "rate": constraints.positive}
    support = constraints.nonnegative_integer
    pytree_data_fields = ("rate",)

    def __init__(
        self, gate: ArrayLike, rate: ArrayLike = 1.0, *, validate_args: bool | None = None
    ) -> None:
        _, self.rate = promote_shapes(gate, rate)
        super().__init__(Poisson(self.rate), gate, validate_args=validate_args)


def ZeroInflatedNegativeBinomial2(
    mean: ArrayLike,
    concentration: ArrayLike,
    *,
    gate: ArrayLike | None = None,
    gate_logits: ArrayLike | None = None,
    validate_args: bool | None = None,
) -> ZeroInflatedProbs | ZeroInflatedLogits:
    """Zero-inflated :class:`~ppl.distributions.NegativeBinomial2` (mean, concentration),
    with exactly one of ``gate`` or ``gate_logits``."""
    return ZeroInflatedDistribution(
        NegativeBinomial2(mean, concentration, validate_args=validate_args),
        gate=gate,
        gate_logits=gate_logits,
        validate_args=validate_args,
    )


# -- hurdles ---------------------------------------------------------------------------


class HurdleProbs(Distribution):
    r"""Hurdle model: a structural zero with probability ``gate``, else a nonzero draw.

    For a discrete base the nonzero part is the base truncated away from zero
    (renormalized by :math:`1 - B(0)`); for a continuous base it is the base itself.

    Args:
        base_dist: univariate base distribution (discrete or continuous).
        gate: probability :math:`g \in [0, 1]` of a zero.
        validate_args: check ``gate`` against its constraint.
    """

    arg_constraints = {"gate": constraints.unit_interval}
    pytree_data_fields = ("base_dist", "gate")
    pytree_aux_fields = ("_is_discrete",)

    def __init__(
        self, base_dist: Distribution, gate: ArrayLike, *, validate_args: bool | None = None
    ) -> None:
        _check_univariate(type(self).__name__, base_dist)
        batch_shape = lax.broadcast_shapes(jnp.shape(gate), base_dist.batch_shape)
        (self.gate,) = promote_shapes(gate, shape=batch_shape)
        self._is_discrete = bool(base_dist.support.is_discrete)
        self.base_dist = base_dist.expand(batch_shape)
        super().__init__(batch_shape, validate_args=validate_args)

    @constraints.dependent_property
    def support(self) -> constraints.Constraint:
        support = self.base_dist.support
        # Zero is always in a hurdle's support, even when the base's excludes it.
        if support is constraints.positive:
            return constraints.nonnegative
        if support is constraints.positive_integer:
            return constraints.nonnegative_integer
        return support

    def _log_gate(self) -> jax.Array:
        return jnp.log(self.gate)

    def _log1m_gate(self) -> jax.Array:
        return jnp.log1p(-self.gate)

    def _log_base_zero(self) -> jax.Array:
        return self.base_dist.log_prob(jnp.zeros((), dtype=jnp.result_type(int)))

    def _sample_nonzero(self, key: jax.Array, sample_shape: tuple[int, ...]) -> jax.Array:
        # Rejection: redraw the zeros until none is left.
        first = self.base_dist.sample(key, sample_shape)

        def cond(state):
            return jnp.any(state[1] == 0)

        def body(state):
            key, current = state
            key, sub = random.split(key)
            candidate = self.base_dist.sample(sub, sample_shape)
            return key, jnp.where(current == 0, candidate, current)

        _, samples = lax.while_loop(cond, body, (random.fold_in(key, 1), first))
        return samples

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        key_gate, key_base = random.split(key)
        shape = tuple(sample_shape) + self.batch_shape
        zero = random.bernoulli(key_gate, self.gate, shape)
        if self._is_discrete:
            samples = self._sample_nonzero(key_base, tuple(sample_shape))
        else:
            samples = self.base_dist.sample(key_base, sample_shape)
        return jnp.where(zero, jnp.zeros_like(samples), samples)

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        is_zero = value == 0
        # Evaluate the base away from 0, where e.g. a Gamma density (or its gradient)
        # may be infinite; that branch is discarded at the zeros anyway.
        safe_value = jnp.where(is_zero, jnp.ones_like(value), value)
        log_nonzero = self._log1m_gate() + self.base_dist.log_prob(safe_value)
        if self._is_discrete:
            log_nonzero = log_nonzero - log1mexp(self._log_base_zero())
        return jnp.where(is_zero, self._log_gate(), log_nonzero)

    def _nonzero_mass(self) -> jax.Array:
        if self._is_discrete:
            return -jnp.expm1(self._log_base_zero())
        return jnp.ones(())

    @property
    def mean(self) -> jax.Array:
        return (1 - self.gate) * self.base_dist.mean / self._nonzero_mass()

    @property
    def variance(self) -> jax.Array:
        base_mean = self.base_dist.mean
        second_moment = (base_mean**2 + self.base_dist.variance) / self._nonzero_mass()
        return (1 - self.gate) * second_moment - self.mean**2


class HurdleLogits(_GateLogits, HurdleProbs):
    r"""Hurdle model with the gate given by its log-odds ``gate_logits``.

    Args:
        base_dist: univariate base distribution.
        gate_logits: log-odds of a zero.
        validate_args: check ``gate_logits`` against its constraint.
    """


def HurdleDistribution(
    base_dist: Distribution,
    *,
    gate: ArrayLike | None = None,
    gate_logits: ArrayLike | None = None,
    validate_args: bool | None = None,
) -> HurdleProbs | HurdleLogits:
    """Hurdle model on ``base_dist`` with exactly one of ``gate`` or ``gate_logits``."""
    if _one_of("HurdleDistribution", gate=gate, gate_logits=gate_logits) == "gate":
        return HurdleProbs(base_dist, gate, validate_args=validate_args)
    return HurdleLogits(base_dist, gate_logits, validate_args=validate_args)


class HurdlePoisson(HurdleProbs):
    r"""Hurdle Poisson: zero with probability :math:`g`, else a zero-truncated Poisson.

    .. math:: P(X = k) = (1 - g) \frac{\lambda^k e^{-\lambda} / k!}{1 - e^{-\lambda}},
              \quad k \ge 1

    Args:
        gate: probability :math:`g` of a zero.
        rate: rate :math:`\lambda > 0` of the underlying Poisson, default 1.
        validate_args: check the parameters against their constraints.
    """

    arg_constraints = {"gate": constraints.unit_interval, "rate": constraints.positive}
    support = constraints.nonnegative_integer
    pytree_data_fields = ("rate",)

    def __init__(
        self, gate: ArrayLike, rate: ArrayLike = 1.0, *, validate_args: bool | None = None
    ) -> None:
        _, self.rate = promote_shapes(gate, rate)
        super().__init__(Poisson(self.rate), gate, validate_args=validate_args)


class _PositiveMeanNegativeBinomial2(NegativeBinomial2):
    # A hurdle needs mass away from zero, which a zero mean does not have.
    arg_constraints = {**NegativeBinomial2.arg_constraints, "mean": constraints.positive}
    # Only the constraint changes: the pytree leaves stay NegativeBinomial2's (``mean``
    # is a derived property there, not a field).
    pytree_data_fields = ()


def HurdleNegativeBinomial2(
    gate: ArrayLike,
    mean: ArrayLike,
    concentration: ArrayLike,
    *,
    validate_args: bool | None = None,
) -> HurdleProbs:
    r"""Hurdle model on a zero-truncated :class:`~ppl.distributions.NegativeBinomial2`.

    Args:
        gate: probability :math:`g` of a zero.
        mean: mean :math:`\mu > 0` of the untruncated negative binomial.
        concentration: its concentration :math:`\alpha > 0`.
        validate_args: check the parameters against their constraints.
    """
    return HurdleProbs(
        _PositiveMeanNegativeBinomial2(mean, concentration, validate_args=validate_args),
        gate,
        validate_args=validate_args,
    )


class HurdleGamma(HurdleProbs):
    r"""Hurdle Gamma: zero with probability :math:`g`, else :math:`\mathrm{Gamma}(\alpha, \beta)`.

    Args:
        gate: probability :math:`g` of a zero.
        concentration: Gamma shape :math:`\alpha > 0`.
        rate: Gamma rate :math:`\beta > 0`, default 1.
        validate_args: check the parameters against their constraints.
    """

    arg_constraints = {
        "gate": constraints.unit_interval,
        "concentration": constraints.positive,
        "rate": constraints.positive,
    }
    support = constraints.nonnegative
    pytree_data_fields = ("concentration", "rate")

    def __init__(
        self,
        gate: ArrayLike,
        concentration: ArrayLike,
        rate: ArrayLike = 1.0,
        *,
        validate_args: bool | None = None,
    ) -> None:
        _, self.concentration, self.rate = promote_shapes(gate, concentration, rate)
        super().__init__(Gamma(concentration, rate), gate, validate_args=validate_args)


class HurdleLogNormal(HurdleProbs):
    r"""Hurdle log-normal: zero with probability :math:`g`, else
    :math:`\mathrm{LogNormal}(\mu, \sigma)`.

    Args:
        gate: probability :math:`g` of a zero.
        loc: :math:`\mu`, the mean of :math:`\log X` given :math:`X > 0`, default 0.
        scale: :math:`\sigma > 0`, its standard deviation, default 1.
        validate_args: check the parameters against their constraints.
    """

    arg_constraints = {
        "gate": constraints.unit_interval,
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.nonnegative
    pytree_data_fields = ("loc", "scale")

    def __init__(
        self,
        gate: ArrayLike,
        loc: ArrayLike = 0.0,
        scale: ArrayLike = 1.0,
        *,
        validate_args: bool | None = None,
    ) -> None:
        _, self.loc, self.scale = promote_shapes(gate, loc, scale)
        super().__init__(LogNormal(loc, scale), gate, validate_args=validate_args)
