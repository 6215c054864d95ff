r"""Censored observations of a base distribution with a cdf (survival analysis and more).

An observation is *exact* (density :math:`f(x)`), *left-censored* (the true value
is at most :math:`x`: mass :math:`F(x)`), *right-censored* (at least :math:`x`:
mass :math:`1 - F(x)`) or *interval-censored* (in :math:`(l, u]`: mass
:math:`F(u) - F(l)`). The censoring indicators are data, given per observation;
``sample`` draws from the base distribution (no censoring mechanism is modeled).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ppl import constraints
from ppl.distributions.distribution import Distribution
from ppl.distributions.util import log1mexp, not_jax_tracer, validate_sample

__all__ = [
    "IntervalCensoredDistribution",
    "LeftCensoredDistribution",
    "RightCensoredDistribution",
]

ArrayLike = Any


def _check_cdf(owner: str, base_dist: Any) -> None:
    if not isinstance(base_dist, Distribution):
        raise TypeError(f"{owner}: `base_dist` must be a Distribution, got {type(base_dist)}.")
    if base_dist.event_shape:
        raise ValueError(
            f"{owner}: `base_dist` must be univariate (empty event_shape), got event_shape "
            f"{base_dist.event_shape}."
        )
    if type(base_dist).cdf is Distribution.cdf:
        raise TypeError(
            f"{owner}: `base_dist` ({type(base_dist).__name__}) has no cdf; censoring needs one."
        )


def _probe_cdf(owner: str, base_dist: Distribution) -> None:
    """Evaluate the base's cdf once at a point of its support (under ``validate_args``).

    Catches bases whose ``cdf`` exists but cannot be evaluated, e.g. a wrapper (expanded,
    transformed) around a distribution without one.
    """
    point = base_dist.support.feasible_like(jnp.zeros(base_dist.batch_shape))
    try:
        base_dist.cdf(point)
    except (NotImplementedError, AttributeError) as error:
        raise TypeError(
            f"{owner}: the cdf of `base_dist` ({type(base_dist).__name__}) cannot be "
            f"evaluated ({error}); censoring needs one."
        ) from error


def _as_bool(owner: str, name: str, x: ArrayLike) -> jax.Array:
    if not_jax_tracer(x):
        values = np.asarray(x)
        if values.dtype != bool and not np.all((values == 0) | (values == 1)):
            raise ValueError(
                f"{owner}: `{name}` must hold censoring indicators in {{0, 1}} (or booleans), "
                f"got values {np.unique(values)[:5].tolist()}."
            )
    return jnp.asarray(x).astype(bool)


def _log_cdf(base_dist: Distribution, x: ArrayLike) -> jax.Array:
    """:math:`\\log F(x)`, through the base's ``log_cdf`` where it has one (left tails)."""
    log_cdf = getattr(base_dist, "log_cdf", None)
    if callable(log_cdf):
        return log_cdf(x)
    cdf = base_dist.cdf(x)
    return jnp.log(jnp.clip(cdf, jnp.finfo(jnp.result_type(cdf, float)).tiny))


def _log_survival(base_dist: Distribution, x: ArrayLike) -> jax.Array:
    """:math:`\\log(1 - F(x))`."""
    cdf = base_dist.cdf(x)
    eps = jnp.finfo(jnp.result_type(cdf, float)).eps
    return jnp.log1p(-jnp.clip(cdf, 0.0, 1.0 - eps))


class _CensoredBase(Distribution):
    pytree_data_fields = ("base_dist",)

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        return self.base_dist.expand(self.batch_shape).sample(key, sample_shape)


class LeftCensoredDistribution(_CensoredBase):
    r"""Observations that are exact or left-censored (true value :math:`\le x`).

    .. math:: \log p(x) = \begin{cases} \log f(x) & \text{censored} = 0 \\
              \log F(x) & \text{censored} = 1 \end{cases}

    This is R's ``Surv(time, event, type = "left")`` with ``censored = 1 - event``.

    Args:
        base_dist: univariate distribution with a ``cdf``.
        censored: per-observation indicator (0: exact, 1: left-censored), default False.
        validate_args: check the parameters, that the base's cdf can be evaluated and the
            values given to ``log_prob``. Off by default (as in NumPyro), whatever
            :func:`ppl.util.enable_validation` says.

    Example:
        >>> d = LeftCensoredDistribution(LogNormal(0.0, 1.0), censored=jnp.array([0, 1, 1]))
        >>> d.log_prob(jnp.array([2.0, 4.0, 6.0]))
    """

    arg_constraints = {"censored": constraints.boolean}
    pytree_data_fields = ("base_dist", "censored")

    def __init__(
        self,
        base_dist: Distribution,
        censored: ArrayLike = False,
        *,
        validate_args: bool = False,
    ) -> None:
        _check_cdf("LeftCensoredDistribution", base_dist)
        if validate_args:
            _probe_cdf("LeftCensoredDistribution", base_dist)
        self.base_dist = base_dist
        self.censored = _as_bool("LeftCensoredDistribution", "censored", censored)
        batch_shape = lax.broadcast_shapes(base_dist.batch_shape, jnp.shape(censored))
        super().__init__(batch_shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> constraints.Constraint:
        return self.base_dist.support

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        return jnp.where(
            self.censored, _log_cdf(self.base_dist, value), self.base_dist.log_prob(value)
        )


class RightCensoredDistribution(_CensoredBase):
    r"""Observations that are exact or right-censored (true value :math:`\ge x`).

    .. math:: \log p(x) = \begin{cases} \log f(x) & \text{censored} = 0 \\
              \log(1 - F(x)) & \text{censored} = 1 \end{cases}

    This is R's ``Surv(time, event)`` with ``censored = 1 - event``.

    Args:
        base_dist: univariate distribution with a ``cdf``.
        censored: per-observation indicator (0: exact, 1: right-censored), default False.
        validate_args: check the parameters, that the base's cdf can be evaluated and the
            values given to ``log_prob``. Off by default (as in NumPyro), whatever
            :func:`ppl.util.enable_validation` says.
    """

    arg_constraints = {"censored": constraints.boolean}
    pytree_data_fields = ("base_dist", "censored")

    def __init__(
        self,
        base_dist: Distribution,
        censored: ArrayLike = False,
        *,
        validate_args: bool = False,
    ) -> None:
        _check_cdf("RightCensoredDistribution", base_dist)
        if validate_args:
            _probe_cdf("RightCensoredDistribution", base_dist)
        self.base_dist = base_dist
        self.censored = _as_bool("RightCensoredDistribution", "censored", censored)
        batch_shape = lax.broadcast_shapes(base_dist.batch_shape, jnp.shape(censored))
        super().__init__(batch_shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> constraints.Constraint:
        return self.base_dist.support

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        return jnp.where(
            self.censored, _log_survival(self.base_dist, value), self.base_dist.log_prob(value)
        )


class IntervalCensoredDistribution(_CensoredBase):
    r"""Interval-censored observations; each value is a pair ``(lower, upper)``.

    With indicators ``left_censored`` (L) and ``right_censored`` (R):

    ============  ============  =================================  =============================
    L             R             meaning                            log-likelihood
    ============  ============  =================================  =============================
    1             0             value :math:`\le u`                :math:`\log F(u)`
    0             1             value :math:`> l`                  :math:`\log(1 - F(l))`
    0             0             value in :math:`(l, u]`            :math:`\log(F(u) - F(l))`
    1             1             value outside :math:`(l, u]`       :math:`\log(1 - F(u) + F(l))`
    ============  ============  =================================  =============================

    A pair with :math:`l = u` in the interval case is an exact observation and
    scores :math:`\log f(l)`. The unused bound of a one-sided row is ignored (it
    may be :math:`\pm\infty` or NaN). This matches R's
    ``Surv(l, u, type = "interval2")``.

    Args:
        base_dist: univariate distribution with a ``cdf``.
        left_censored: per-observation indicator of left censoring.
        right_censored: per-observation indicator of right censoring.
        validate_args: check the parameters, that the base's cdf can be evaluated and the
            values given to ``log_prob``. Off by default (as in NumPyro), whatever
            :func:`ppl.util.enable_validation` says.
    """

    arg_constraints = {
        "left_censored": constraints.boolean,
        "right_censored": constraints.boolean,
    }
    pytree_data_fields = ("base_dist", "left_censored", "right_censored")

    def __init__(
        self,
        base_dist: Distribution,
        left_censored: ArrayLike,
        right_censored: ArrayLike,
        *,
        validate_args: bool = False,
    ) -> None:
        owner = "IntervalCensoredDistribution"
        _check_cdf(owner, base_dist)
        if validate_args:
            _probe_cdf(owner, base_dist)
        self.base_dist = base_dist
        self.left_censored = _as_bool(owner, "left_censored", left_censored)
        self.right_censored = _as_bool(owner, "right_censored", right_censored)
        batch_shape = lax.broadcast_shapes(
            base_dist.batch_shape, jnp.shape(left_censored), jnp.shape(right_censored)
        )
        super().__init__(batch_shape, event_shape=(2,), validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=1)
    def support(self) -> constraints.Constraint:
        return constraints.independent(self.base_dist.support, 1)

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        """Exact draws ``x`` from the base, returned as degenerate intervals ``(x, x)``."""
        x = super().sample(key, sample_shape)
        return jnp.stack([x, x], axis=-1)

    def _validate_sample(self, value: ArrayLike) -> Any:
        # Check only the bounds a row uses: the other one may be +-inf or NaN.
        support = self.base_dist.support
        lower, upper = value[..., 0], value[..., 1]
        left, right = self.left_censored, self.right_censored
        ok_lower = (left & ~right) | support(lower)
        ok_upper = (right & ~left) | support(upper)
        mask = ok_lower & ok_upper & (self.left_censored | self.right_censored | (lower <= upper))
        if not_jax_tracer(mask) and not np.all(np.asarray(mask)):
            import warnings

            warnings.warn(
                "Out-of-support values provided to IntervalCensoredDistribution.log_prob; "
                f"the bounds in use should lie in {support!r} with lower <= upper.",
                stacklevel=3,
            )
        return mask

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        value = jnp.asarray(value)
        lower, upper = value[..., 0], value[..., 1]
        left, right = self.left_censored, self.right_censored
        interval = ~left & ~right
        point = interval & (lower == upper)
        # A one-sided row leaves one bound unused (it may be inf or NaN): evaluate the cdf
        # at a harmless point there.
        feasible = self.base_dist.support.feasible_like(jnp.zeros_like(lower))
        lower_safe = jnp.where((left & ~right) | point, feasible, lower)
        upper_safe = jnp.where((right & ~left) | point, feasible, upper)
        log_f_lower = _log_cdf(self.base_dist, lower_safe)
        log_f_upper = _log_cdf(self.base_dist, upper_safe)
        log_s_lower = _log_survival(self.base_dist, lower_safe)

        # log(F(u) - F(l)) and log(1 - F(u) + F(l)). log1mexp needs a negative argument:
        # rows where it is not (empty intervals, unused branches) get a dummy argument and
        # then -inf, so that neither the value nor the gradient picks up a NaN.
        gap = log_f_lower - log_f_upper
        log_inside = jnp.where(
            gap < 0, log_f_upper + log1mexp(jnp.where(gap < 0, gap, -1.0)), -jnp.inf
        )
        log_outside = jnp.where(
            log_inside < 0, log1mexp(jnp.where(log_inside < 0, log_inside, -1.0)), -jnp.inf
        )
        log_density = self.base_dist.log_prob(jnp.where(point, lower, feasible))

        log_prob = jnp.where(point, log_density, log_inside)
        log_prob = jnp.where(left & ~right, log_f_upper, log_prob)
        log_prob = jnp.where(right & ~left, log_s_lower, log_prob)
        return jnp.where(left & right, log_outside, log_prob)
