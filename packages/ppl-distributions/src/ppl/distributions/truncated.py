r"""Truncated distributions: a base density restricted to an interval and renormalized.

.. math:: p(x) = \frac{f(x)}{F(b) - F(a)}, \qquad a \le x \le b

:class:`LeftTruncatedDistribution`, :class:`RightTruncatedDistribution` and
:class:`TwoSidedTruncatedDistribution` truncate a base that is symmetric about
its ``loc`` (Cauchy, Laplace, Logistic, Normal, SoftLaplace, StudentT); the
symmetry lets every tail probability be computed on the left side, where the
cdf is accurate, instead of as :math:`1 - F(x)` with :math:`F(x) \approx 1`.
:func:`TruncatedDistribution` picks the class from the bounds given. Sampling
is by the inverse cdf.

The Gamma distribution gets its own family (:class:`LeftTruncatedGamma`,
:class:`RightTruncatedGamma`, :class:`TwoSidedTruncatedGamma`, dispatched by
:func:`TruncatedGamma`), written with the regularized incomplete gamma
functions. Also here: :class:`TruncatedPolyaGamma`.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as random
from jax import lax
from jax.scipy.special import gammainc, gammaincc, gammaln, logsumexp, xlogy

from ppl import constraints
from ppl.distributions.continuous import (
    Cauchy,
    Gamma,
    Laplace,
    Logistic,
    Normal,
    SoftLaplace,
    StudentT,
)
from ppl.distributions.distribution import Distribution
from ppl.distributions.util import clamp_probs, logdiffexp, promote_shapes, validate_sample

__all__ = [
    "LeftTruncatedDistribution",
    "LeftTruncatedGamma",
    "RightTruncatedDistribution",
    "RightTruncatedGamma",
    "TruncatedCauchy",
    "TruncatedDistribution",
    "TruncatedGamma",
    "TruncatedNormal",
    "TruncatedPolyaGamma",
    "TwoSidedTruncatedDistribution",
    "TwoSidedTruncatedGamma",
]

ArrayLike = Any

_SUPPORTED_TYPES = (Cauchy, Laplace, Logistic, Normal, SoftLaplace, StudentT)


def _check_symmetric_base(owner: str, base_dist: Any) -> None:
    if not isinstance(base_dist, _SUPPORTED_TYPES):
        names = ", ".join(t.__name__ for t in _SUPPORTED_TYPES)
        raise TypeError(
            f"{owner}: `base_dist` must be one of {names} (symmetric, real support), got "
            f"{type(base_dist).__name__}."
        )
    if base_dist.support is not constraints.real:
        raise ValueError(f"{owner}: `base_dist` must have real support, got {base_dist.support!r}.")


def _broadcast_base(base_dist: Distribution, batch_shape: tuple[int, ...]) -> Distribution:
    """``base_dist`` with every parameter left-padded to the rank of ``batch_shape``."""
    return jax.tree.map(lambda p: promote_shapes(p, shape=batch_shape)[0], base_dist)


def _log_cdf(base_dist: Distribution, x: ArrayLike) -> jax.Array:
    log_cdf = getattr(base_dist, "log_cdf", None)
    if callable(log_cdf):
        return log_cdf(x)
    return jnp.log(base_dist.cdf(x))


def _reflect(loc: ArrayLike, x: ArrayLike, flip: ArrayLike) -> jax.Array:
    return jnp.where(flip, 2 * loc - x, x)


def _icdf_or_nan(q: ArrayLike, value: jax.Array) -> jax.Array:
    return jnp.where((q < 0) | (q > 1), jnp.nan, value)


class _Truncated(Distribution):
    """Constructor shared by the truncated families.

    Each bound is broadcast against the base's batch (their broadcast shape is
    the batch shape) and the support, fixed at construction, is stored.
    Subclasses say which bases they accept (:meth:`_check_base`) and how the
    base is fitted to the batch (:meth:`_fit_base`).
    """

    def __init__(
        self,
        base_dist: Distribution,
        bounds: dict[str, ArrayLike],
        support: constraints.Constraint,
        *,
        validate_args: bool | None = None,
    ) -> None:
        self._check_base(type(self).__name__, base_dist)
        shapes = (jnp.shape(bound) for bound in bounds.values())
        batch_shape = lax.broadcast_shapes(base_dist.batch_shape, *shapes)
        self.base_dist = self._fit_base(base_dist, batch_shape)
        promoted = promote_shapes(*bounds.values(), shape=batch_shape)
        for name, bound in zip(bounds, promoted, strict=True):
            setattr(self, name, bound)
        self._support = support
        super().__init__(batch_shape, validate_args=validate_args)

    @staticmethod
    def _check_base(owner: str, base_dist: Any) -> None:
        raise NotImplementedError

    @staticmethod
    def _fit_base(base_dist: Distribution, batch_shape: tuple[int, ...]) -> Distribution:
        return base_dist

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> constraints.Constraint:
        return self._support


class _TruncatedBase(_Truncated):
    supported_types = _SUPPORTED_TYPES
    _check_base = staticmethod(_check_symmetric_base)
    _fit_base = staticmethod(_broadcast_base)

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        dtype = jnp.result_type(float)
        shape = tuple(sample_shape) + self.batch_shape
        u = random.uniform(key, shape, dtype, minval=jnp.finfo(dtype).tiny)
        return self.icdf(u)

    @property
    def var(self) -> jax.Array:
        """Alias of :attr:`variance` (NumPyro's name on truncated distributions)."""
        return self.variance

    def _normal_moments(self, low_density: jax.Array, high_density: jax.Array) -> tuple:
        r"""Mean and variance of a truncated normal from the truncated density at the bounds.

        With :math:`g` the truncated density, :math:`E X = \mu + \sigma^2 (g(a) - g(b))` and
        :math:`\mathrm{Var} X = \sigma^2 [1 + (a - \mu) g(a) - (b - \mu) g(b)
        - \sigma^2 (g(a) - g(b))^2]`; an infinite bound contributes zero terms.
        """
        loc, scale = self.base_dist.loc, self.base_dist.scale
        low = getattr(self, "low", -jnp.inf)
        high = getattr(self, "high", jnp.inf)
        low_term = jnp.where(jnp.isinf(low), 0.0, (low - loc) * low_density)
        high_term = jnp.where(jnp.isinf(high), 0.0, (high - loc) * high_density)
        diff = low_density - high_density
        mean = loc + scale**2 * diff
        variance = scale**2 * (1 + low_term - high_term - (scale * diff) ** 2)
        return jnp.broadcast_to(mean, self.batch_shape), jnp.broadcast_to(
            variance, self.batch_shape
        )

    def _log_normalizer(self) -> jax.Array:
        raise NotImplementedError

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        return self.base_dist.log_prob(value) - self._log_normalizer()

    def _density_at(self, bound: ArrayLike | None) -> jax.Array:
        # Not self.log_prob: under validation a bound may lie outside an open support.
        if bound is None:
            return jnp.zeros(())
        return jnp.exp(self.base_dist.log_prob(bound) - self._log_normalizer())

    def _moment(self, index: int) -> jax.Array:
        if isinstance(self.base_dist, Normal):
            low_density = self._density_at(getattr(self, "low", None))
            high_density = self._density_at(getattr(self, "high", None))
            return self._normal_moments(low_density, high_density)[index]
        if isinstance(self.base_dist, Cauchy):
            return jnp.full(self.batch_shape, jnp.nan)
        raise NotImplementedError(
            f"{type(self).__name__}: mean and variance are implemented for Normal and Cauchy "
            f"bases only, not {type(self.base_dist).__name__}."
        )

    @property
    def mean(self) -> jax.Array:
        return self._moment(0)

    @property
    def variance(self) -> jax.Array:
        return self._moment(1)

    def entropy(self) -> jax.Array:
        r"""Entropy of a truncated normal (other bases have none in closed form).

        With :math:`Z` the retained mass and :math:`g` the truncated density,
        :math:`h = \tfrac12\log(2\pi e\sigma^2) + \log Z
        + \tfrac12[(a - \mu) g(a) - (b - \mu) g(b)]`.
        """
        if not isinstance(self.base_dist, Normal):
            raise NotImplementedError(
                f"{type(self).__name__}: entropy is implemented for a Normal base only, "
                f"not {type(self.base_dist).__name__}."
            )
        loc, scale = self.base_dist.loc, self.base_dist.scale
        terms = []
        for name in ("low", "high"):
            bound = getattr(self, name, None)
            terms.append(0.0 if bound is None else (bound - loc) * self._density_at(bound))
        h = (
            0.5 * (1.0 + math.log(2 * math.pi))
            + jnp.log(scale)
            + self._log_normalizer()
            + 0.5 * (terms[0] - terms[1])
        )
        return jnp.broadcast_to(h, self.batch_shape)


class LeftTruncatedDistribution(_TruncatedBase):
    r"""``base_dist`` restricted to :math:`x \ge \text{low}`.

    Args:
        base_dist: a univariate symmetric distribution with real support.
        low: the truncation point, default 0.
        validate_args: check the parameters and values.
    """

    arg_constraints = {"low": constraints.real}
    reparametrized_params = ["low"]
    pytree_data_fields = ("base_dist", "low", "_support")

    def __init__(
        self,
        base_dist: Distribution,
        low: ArrayLike = 0.0,
        *,
        validate_args: bool | None = None,
    ) -> None:
        support = constraints.greater_than(low)
        super().__init__(base_dist, {"low": low}, support, validate_args=validate_args)

    def _flip(self) -> jax.Array:
        # low right of the center: work with the mirrored (left) tail.
        return self.low > self.base_dist.loc

    def _mirrored_low(self) -> jax.Array:
        return _reflect(self.base_dist.loc, self.low, self._flip())

    def _log_normalizer(self) -> jax.Array:
        low = self._mirrored_low()
        return jnp.where(
            self._flip(),
            _log_cdf(self.base_dist, low),
            jnp.log1p(-self.base_dist.cdf(low)),
        )

    def cdf(self, value: ArrayLike) -> jax.Array:
        flip, loc = self._flip(), self.base_dist.loc
        f_low = self.base_dist.cdf(self._mirrored_low())
        direct = (self.base_dist.cdf(value) - f_low) / (1 - f_low)
        mirrored = 1 - self.base_dist.cdf(2 * loc - value) / f_low
        cdf = jnp.clip(jnp.where(flip, mirrored, direct), 0.0, 1.0)
        return jnp.where(value < self.low, 0.0, cdf)

    def icdf(self, q: ArrayLike) -> jax.Array:
        flip, loc = self._flip(), self.base_dist.loc
        f_low = self.base_dist.cdf(self._mirrored_low())
        direct = self.base_dist.icdf(clamp_probs(f_low + q * (1 - f_low)))
        mirrored = 2 * loc - self.base_dist.icdf(clamp_probs((1 - q) * f_low))
        return _icdf_or_nan(q, jnp.where(flip, mirrored, direct))


class RightTruncatedDistribution(_TruncatedBase):
    r"""``base_dist`` restricted to :math:`x \le \text{high}`.

    Args:
        base_dist: a univariate symmetric distribution with real support.
        high: the truncation point, default 0.
        validate_args: check the parameters and values.
    """

    arg_constraints = {"high": constraints.real}
    reparametrized_params = ["high"]
    pytree_data_fields = ("base_dist", "high", "_support")

    def __init__(
        self,
        base_dist: Distribution,
        high: ArrayLike = 0.0,
        *,
        validate_args: bool | None = None,
    ) -> None:
        support = constraints.less_than(high)
        super().__init__(base_dist, {"high": high}, support, validate_args=validate_args)

    def _log_normalizer(self) -> jax.Array:
        # F(high) is a left-tail probability or close to 1: accurate either way.
        return _log_cdf(self.base_dist, self.high)

    def cdf(self, value: ArrayLike) -> jax.Array:
        cdf = jnp.clip(self.base_dist.cdf(value) / self.base_dist.cdf(self.high), 0.0, 1.0)
        return jnp.where(value > self.high, 1.0, cdf)

    def icdf(self, q: ArrayLike) -> jax.Array:
        value = self.base_dist.icdf(clamp_probs(q * self.base_dist.cdf(self.high)))
        return _icdf_or_nan(q, value)


class TwoSidedTruncatedDistribution(_TruncatedBase):
    r"""``base_dist`` restricted to :math:`\text{low} \le x \le \text{high}`.

    Args:
        base_dist: a univariate symmetric distribution with real support.
        low: lower bound, default 0.
        high: upper bound, default 1.
        validate_args: check the parameters and values.
    """

    arg_constraints = {
        "low": constraints.dependent(is_discrete=False, event_dim=0),
        "high": constraints.dependent(is_discrete=False, event_dim=0),
    }
    reparametrized_params = ["low", "high"]
    pytree_data_fields = ("base_dist", "low", "high", "_support")

    def __init__(
        self,
        base_dist: Distribution,
        low: ArrayLike = 0.0,
        high: ArrayLike = 1.0,
        *,
        validate_args: bool | None = None,
    ) -> None:
        support = constraints.interval(low, high)
        bounds = {"low": low, "high": high}
        super().__init__(base_dist, bounds, support, validate_args=validate_args)

    def _mirrored_bounds(self) -> tuple[jax.Array, jax.Array, jax.Array]:
        """``(flip, a, b)``: the interval, mirrored to the left of ``loc`` when it starts right
        of it, so that ``F(b) - F(a)`` is a difference of small, accurate numbers."""
        loc = self.base_dist.loc
        flip = self.low > loc
        a = jnp.where(flip, 2 * loc - self.high, self.low)
        b = jnp.where(flip, 2 * loc - self.low, self.high)
        return flip, a, b

    def _log_normalizer(self) -> jax.Array:
        _, a, b = self._mirrored_bounds()
        if callable(getattr(self.base_dist, "log_cdf", None)):
            return logdiffexp(self.base_dist.log_cdf(b), self.base_dist.log_cdf(a))
        return jnp.log(self.base_dist.cdf(b) - self.base_dist.cdf(a))

    def cdf(self, value: ArrayLike) -> jax.Array:
        flip, a, b = self._mirrored_bounds()
        loc = self.base_dist.loc
        f_a = self.base_dist.cdf(a)
        mass = self.base_dist.cdf(b) - f_a
        inside = (self.base_dist.cdf(_reflect(loc, value, flip)) - f_a) / mass
        cdf = jnp.clip(jnp.where(flip, 1 - inside, inside), 0.0, 1.0)
        return jnp.where(value < self.low, 0.0, jnp.where(value > self.high, 1.0, cdf))

    def icdf(self, q: ArrayLike) -> jax.Array:
        flip, a, b = self._mirrored_bounds()
        f_a = self.base_dist.cdf(a)
        mass = self.base_dist.cdf(b) - f_a
        level = jnp.where(flip, 1 - q, q)
        x = self.base_dist.icdf(clamp_probs(f_a + level * mass))
        return _icdf_or_nan(q, _reflect(self.base_dist.loc, x, flip))


def TruncatedDistribution(
    base_dist: Distribution,
    low: ArrayLike | None = None,
    high: ArrayLike | None = None,
    *,
    validate_args: bool | None = None,
) -> Distribution:
    """Truncate ``base_dist`` below ``low`` and/or above ``high`` (``None``: no bound).

    Returns ``base_dist`` itself when both bounds are ``None``, else a
    :class:`LeftTruncatedDistribution`, :class:`RightTruncatedDistribution` or
    :class:`TwoSidedTruncatedDistribution`. The base must be one of Cauchy,
    Laplace, Logistic, Normal, SoftLaplace or StudentT.
    """
    if low is None and high is None:
        return base_dist
    if high is None:
        return LeftTruncatedDistribution(base_dist, low=low, validate_args=validate_args)
    if low is None:
        return RightTruncatedDistribution(base_dist, high=high, validate_args=validate_args)
    return TwoSidedTruncatedDistribution(base_dist, low=low, high=high, validate_args=validate_args)


def TruncatedCauchy(
    loc: ArrayLike = 0.0,
    scale: ArrayLike = 1.0,
    *,
    low: ArrayLike | None = None,
    high: ArrayLike | None = None,
    validate_args: bool | None = None,
) -> Distribution:
    """A Cauchy(``loc``, ``scale``) truncated to [``low``, ``high``] (``None``: unbounded)."""
    return TruncatedDistribution(
        Cauchy(loc, scale), low=low, high=high, validate_args=validate_args
    )


def TruncatedNormal(
    loc: ArrayLike = 0.0,
    scale: ArrayLike = 1.0,
    *,
    low: ArrayLike | None = None,
    high: ArrayLike | None = None,
    validate_args: bool | None = None,
) -> Distribution:
    """A Normal(``loc``, ``scale``) truncated to [``low``, ``high``] (``None``: unbounded)."""
    return TruncatedDistribution(
        Normal(loc, scale), low=low, high=high, validate_args=validate_args
    )


# -- truncated Gamma -------------------------------------------------------------------
#
# Pure functions of the parameters, keyed by a static ``kind``: "left" (``high`` unused),
# "right" (``low`` unused) or "two_sided". They are compiled once per kind and shape.
# P and Q are the lower and upper regularized incomplete gamma functions.


def _gamma_mass(kind, s, rate, low, high):
    """Probability of [low, high] under Gamma(s, rate)."""
    if kind == "left":
        return gammaincc(s, rate * low)
    if kind == "right":
        return gammainc(s, rate * high)
    # An interval starting above the median: differences of Q do not cancel there.
    upper = gammainc(s, rate * low) > 0.5
    lower_form = gammainc(s, rate * high) - gammainc(s, rate * low)
    upper_form = gammaincc(s, rate * low) - gammaincc(s, rate * high)
    return jnp.where(upper, upper_form, lower_form)


def _gamma_cdf(kind, a, rate, low, high, x):
    """Truncated cdf at ``x`` inside [low, high]."""
    if kind == "left":
        return 1.0 - gammaincc(a, rate * x) / gammaincc(a, rate * low)
    if kind == "right":
        return gammainc(a, rate * x) / gammainc(a, rate * high)
    return _gamma_mass(kind, a, rate, low, x) / _gamma_mass(kind, a, rate, low, high)


def _gamma_log_density(kind, a, rate, low, high, x):
    log_density = xlogy(a - 1.0, x) - rate * x + xlogy(a, rate) - gammaln(a)
    return log_density - jnp.log(_gamma_mass(kind, a, rate, low, high))


def _log_space_bisection(cdf, q, lo, hi):
    """Solve ``cdf(x) = q`` on ``[lo, hi]`` (``0 < lo``) by bisection in ``log x``."""
    steps = 100 if q.dtype == jnp.float64 else 64

    def body(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        below = cdf(jnp.exp(mid)) < q
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo, hi = lax.fori_loop(0, steps, body, (jnp.log(lo), jnp.log(hi)))
    return jnp.exp(0.5 * (lo + hi))


def _gamma_quantile_search(kind, a, rate, low, high, q):
    shape = lax.broadcast_shapes(*(jnp.shape(v) for v in (a, rate, low, high, q)))
    dtype = jnp.result_type(a, rate, low, high, q, float)
    finfo = jnp.finfo(dtype)
    a, rate, low, high, q = (
        jnp.broadcast_to(v, shape).astype(dtype) for v in (a, rate, low, high, q)
    )
    # Loop invariants are computed once, outside the bisection.
    if kind == "left":
        mass = gammaincc(a, rate * low)

        def cdf(x):
            return 1.0 - gammaincc(a, rate * x) / mass

        lo, hi = jnp.maximum(low, finfo.tiny), jnp.full(shape, math.sqrt(float(finfo.max)), dtype)
    elif kind == "right":
        mass = gammainc(a, rate * high)

        def cdf(x):
            return gammainc(a, rate * x) / mass

        lo, hi = jnp.full(shape, finfo.tiny, dtype), high
    else:
        upper = gammainc(a, rate * low) > 0.5
        p_low, q_low = gammainc(a, rate * low), gammaincc(a, rate * low)
        mass = _gamma_mass(kind, a, rate, low, high)

        def cdf(x):
            below = gammainc(a, rate * x) - p_low
            above = q_low - gammaincc(a, rate * x)
            return jnp.where(upper, above, below) / mass

        lo, hi = jnp.maximum(low, finfo.tiny), high
    return _log_space_bisection(cdf, q, lo, hi)


@functools.partial(jax.jit, static_argnums=0)
def _gamma_icdf(kind, a, rate, low, high, q):
    """Quantiles by bisection, with derivatives from implicit differentiation of F(x) = q."""
    params = [lax.stop_gradient(v) for v in (a, rate, low, high, q)]
    x = lax.stop_gradient(_gamma_quantile_search(kind, *params))
    # One Newton step from the root: the value stays x, the derivatives become
    # dx = (dq - dF/dtheta) / f(x).
    density = jnp.exp(_gamma_log_density(kind, a, rate, low, high, x))
    residual = (q - _gamma_cdf(kind, a, rate, low, high, x)) / lax.stop_gradient(density)
    return x + residual - lax.stop_gradient(residual)


def _check_gamma_base(owner: str, base_dist: Any) -> None:
    if not isinstance(base_dist, Gamma):
        raise TypeError(
            f"{owner} expects base_dist to be a ppl.distributions.Gamma, "
            f"got {type(base_dist).__name__}"
        )


class _TruncatedGammaBase(_Truncated):
    r"""A :math:`\mathrm{Gamma}(\alpha, \lambda)` restricted to an interval.

    With :math:`M(s)` the Gamma(:math:`s`, :math:`\lambda`) probability of the
    interval, the moments are
    :math:`E[X^k] = \frac{\Gamma(\alpha + k)}{\Gamma(\alpha) \lambda^k}
    \frac{M(\alpha + k)}{M(\alpha)}`. Quantiles (and so samples) come from a bisection
    on the cdf, differentiable by implicit differentiation.
    """

    _kind = ""
    base_dist: Gamma
    _check_base = staticmethod(_check_gamma_base)

    @property
    def concentration(self) -> jax.Array:
        """The base Gamma's shape :math:`\\alpha`."""
        return self.base_dist.concentration

    @property
    def rate(self) -> jax.Array:
        """The base Gamma's rate :math:`\\lambda`."""
        return self.base_dist.rate

    def _params(self) -> tuple:
        low = getattr(self, "low", 0.0)
        high = getattr(self, "high", jnp.inf)
        return self.concentration, self.rate, low, high

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        return _gamma_log_density(self._kind, *self._params(), value)

    def cdf(self, value: ArrayLike) -> jax.Array:
        a, rate, low, high = self._params()
        inside = _gamma_cdf(self._kind, a, rate, low, high, jnp.clip(value, low, high))
        inside = jnp.clip(inside, 0.0, 1.0)
        return jnp.where(value < low, 0.0, jnp.where(value > high, 1.0, inside))

    def icdf(self, q: ArrayLike) -> jax.Array:
        x = _gamma_icdf(self._kind, *self._params(), q)
        return jnp.where((q < 0) | (q > 1), jnp.nan, x)

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        dtype = jnp.result_type(self.concentration, self.rate, float)
        finfo = jnp.finfo(dtype)
        shape = tuple(sample_shape) + self.batch_shape
        u = random.uniform(key, shape, dtype, minval=finfo.tiny, maxval=1.0 - finfo.eps)
        return self.icdf(u)

    def _mass(self, shape: ArrayLike) -> jax.Array:
        _, rate, low, high = self._params()
        return _gamma_mass(self._kind, shape, rate, low, high)

    @property
    def mean(self) -> jax.Array:
        a = self.concentration
        mean = a / self.rate * self._mass(a + 1.0) / self._mass(a)
        return jnp.broadcast_to(mean, self.batch_shape)

    @property
    def variance(self) -> jax.Array:
        a = self.concentration
        second = a * (a + 1.0) / self.rate**2 * self._mass(a + 2.0) / self._mass(a)
        return jnp.broadcast_to(second, self.batch_shape) - self.mean**2


class LeftTruncatedGamma(_TruncatedGammaBase):
    r"""A :class:`~ppl.distributions.Gamma` ``base_dist`` restricted to :math:`x \ge \text{low}`.

    The normalizer is the upper regularized incomplete gamma function
    :math:`Q(\alpha, \lambda\,\text{low})`, accurate deep in the right tail.

    Args:
        base_dist: the Gamma(:math:`\alpha`, :math:`\lambda`) to truncate.
        low: truncation point :math:`\ge 0`, default 0.
        validate_args: check the parameters and values.
    """

    _kind = "left"
    arg_constraints = {"low": constraints.nonnegative}
    reparametrized_params = ["low"]
    pytree_data_fields = ("base_dist", "low", "_support")

    def __init__(
        self, base_dist: Gamma, low: ArrayLike = 0.0, *, validate_args: bool | None = None
    ) -> None:
        support = constraints.greater_than(low)
        super().__init__(base_dist, {"low": low}, support, validate_args=validate_args)


class RightTruncatedGamma(_TruncatedGammaBase):
    r"""A :class:`~ppl.distributions.Gamma` ``base_dist`` restricted to
    :math:`0 < x \le \text{high}`.

    Args:
        base_dist: the Gamma(:math:`\alpha`, :math:`\lambda`) to truncate.
        high: truncation point :math:`> 0`, default 1.
        validate_args: check the parameters and values.
    """

    _kind = "right"
    arg_constraints = {"high": constraints.positive}
    reparametrized_params = ["high"]
    pytree_data_fields = ("base_dist", "high", "_support")

    def __init__(
        self, base_dist: Gamma, high: ArrayLike = 1.0, *, validate_args: bool | None = None
    ) -> None:
        support = constraints.interval(0.0, high)
        super().__init__(base_dist, {"high": high}, support, validate_args=validate_args)


class TwoSidedTruncatedGamma(_TruncatedGammaBase):
    r"""A :class:`~ppl.distributions.Gamma` ``base_dist`` restricted to
    :math:`\text{low} \le x \le \text{high}`.

    The interval's mass is :math:`P(\alpha, \lambda b) - P(\alpha, \lambda a)` or, when
    the interval starts above the median, the same difference of the upper functions
    :math:`Q(\alpha, \lambda a) - Q(\alpha, \lambda b)`, which does not cancel to zero
    in the right tail.

    Args:
        base_dist: the Gamma(:math:`\alpha`, :math:`\lambda`) to truncate.
        low: lower bound :math:`\ge 0`, default 0.
        high: upper bound :math:`> \text{low}`, default 1.
        validate_args: check the parameters and values.
    """

    _kind = "two_sided"
    arg_constraints = {"low": constraints.nonnegative, "high": constraints.positive}
    reparametrized_params = ["low", "high"]
    pytree_data_fields = ("base_dist", "low", "high", "_support")

    def __init__(
        self,
        base_dist: Gamma,
        low: ArrayLike = 0.0,
        high: ArrayLike = 1.0,
        *,
        validate_args: bool | None = None,
    ) -> None:
        support = constraints.interval(low, high)
        bounds = {"low": low, "high": high}
        super().__init__(base_dist, bounds, support, validate_args=validate_args)


def TruncatedGamma(
    concentration: ArrayLike = 1.0,
    rate: ArrayLike = 1.0,
    *,
    low: ArrayLike | None = None,
    high: ArrayLike | None = None,
    validate_args: bool | None = None,
) -> Distribution:
    """A Gamma(``concentration``, ``rate``) truncated to [``low``, ``high``] (``None``: no bound).

    Returns a :class:`~ppl.distributions.Gamma` when both bounds are ``None``, else a
    :class:`LeftTruncatedGamma`, :class:`RightTruncatedGamma` or
    :class:`TwoSidedTruncatedGamma`.
    """
    if low is None and high is None:
        return Gamma(concentration, rate, validate_args=validate_args)
    base_dist = Gamma(concentration, rate, validate_args=validate_args)
    if high is None:
        return LeftTruncatedGamma(base_dist, low, validate_args=validate_args)
    if low is None:
        return RightTruncatedGamma(base_dist, high, validate_args=validate_args)
    return TwoSidedTruncatedGamma(base_dist, low, high, validate_args=validate_args)


class TruncatedPolyaGamma(Distribution):
    r"""The Pólya-Gamma :math:`\mathrm{PG}(1, 0)` distribution truncated to [0, 2.5].

    The density has two alternating series representations,

    .. math:: f(x) = \sum_{n \ge 0} (-1)^n \frac{2n + 1}{\sqrt{2\pi x^3}}
              e^{-(2n + 1)^2 / (8x)}
              = \sum_{n \ge 0} (-1)^n\, 2\pi (2n + 1)\, e^{-(2n + 1)^2 \pi^2 x / 2},

    the first converging fast for small :math:`x`, the second for large :math:`x`;
    ``log_prob`` sums ``num_log_prob_terms`` terms of the one suited to ``x``. Samples
    are the first ``num_gamma_variates`` terms of the series representation
    :math:`\frac{1}{2\pi^2} \sum_{k \ge 1} \frac{g_k}{(k - 1/2)^2}`,
    :math:`g_k \sim \mathrm{Exp}(1)`, clipped at the truncation point.

    Args:
        batch_shape: the batch shape (the distribution has no parameters).
        validate_args: check values given to ``log_prob``.
    """

    truncation_point = 2.5
    num_log_prob_terms = 7
    num_gamma_variates = 8
    # Below this point the small-x series is the accurate one.
    _series_switch = 0.5
    arg_constraints = {}
    support = constraints.interval(0.0, truncation_point)

    def __init__(
        self, batch_shape: tuple[int, ...] = (), *, validate_args: bool | None = None
    ) -> None:
        super().__init__(batch_shape, validate_args=validate_args)

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        shape = tuple(sample_shape) + self.batch_shape + (self.num_gamma_variates,)
        denominators = jnp.square(jnp.arange(0.5, self.num_gamma_variates))
        x = jnp.sum(random.exponential(key, shape) / denominators, axis=-1)
        return jnp.clip(x * (0.5 / math.pi**2), None, self.truncation_point)

    @staticmethod
    def _log_alternating_sum(log_terms: jax.Array) -> jax.Array:
        sum_even = jnp.exp(logsumexp(log_terms[..., ::2], axis=-1))
        sum_odd = jnp.exp(logsumexp(log_terms[..., 1::2], axis=-1))
        return jnp.log(sum_even - sum_odd)

    @validate_sample
    def log_prob(self, value: ArrayLike) -> jax.Array:
        shape = lax.broadcast_shapes(jnp.shape(value), self.batch_shape)
        value = jnp.broadcast_to(jnp.asarray(value), shape)
        small = value < self._series_switch
        # Each series only sees the values it is used for (no NaN in the unused branch).
        x_small = jnp.where(small, value, self._series_switch)[..., None]
        x_large = jnp.where(small, self._series_switch, value)[..., None]
        odd = 2.0 * jnp.arange(self.num_log_prob_terms) + 1.0
        log_small = self._log_alternating_sum(
            jnp.log(odd) - 1.5 * jnp.log(x_small) - 0.125 * odd**2 / x_small
        ) - 0.5 * math.log(2.0 * math.pi)
        log_large = self._log_alternating_sum(
            jnp.log(2.0 * math.pi * odd) - 0.5 * math.pi**2 * odd**2 * x_large
        )
        return jnp.where(small, log_small, log_large)
