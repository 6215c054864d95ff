"""Continuous distributions (NumPyro 0.22 names and parametrizations).

Each class documents its density. Parameters broadcast against each other
(``batch_shape`` is their broadcast shape); samples are reparameterized
(differentiable in the parameters) wherever ``reparametrized_params`` lists
them all. ``log_prob`` does not check that its argument lies in the support
unless validation is on (:func:`ppl.util.enable_validation`), as in NumPyro.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax, random
from jax.scipy.special import (
    betaln,
    digamma,
    expit,
    gammainc,
    gammaincc,
    gammaln,
    i0e,
    i1e,
    log_ndtr,
    logit,
    ndtr,
    ndtri,
    xlog1py,
    xlogy,
)

from ppl import constraints
from ppl.distributions.distribution import Distribution, TransformedDistribution
from ppl.distributions.special import betainc, exp1_scaled, von_mises_cdf
from ppl.distributions.util import (
    clamp_probs,
    is_prng_key,
    not_jax_tracer,
    promote_shapes,
    validate_sample,
    von_mises_centered,
)
from ppl.transforms import AffineTransform, ExpTransform, PowerTransform, SigmoidTransform

__all__ = [
    "AsymmetricLaplace",
    "AsymmetricLaplaceQuantile",
    "Beta",
    "BetaProportion",
    "Cauchy",
    "Chi2",
    "Dagum",
    "Dirichlet",
    "DoublyTruncatedPowerLaw",
    "EulerMaruyama",
    "Exponential",
    "Gamma",
    "GaussianRandomWalk",
    "Gompertz",
    "Gumbel",
    "HalfCauchy",
    "HalfNormal",
    "InverseGamma",
    "Kumaraswamy",
    "Laplace",
    "Levy",
    "LogNormal",
    "LogUniform",
    "Logistic",
    "LowerTruncatedPowerLaw",
    "Normal",
    "Pareto",
    "RelaxedBernoulli",
    "RelaxedBernoulliLogits",
    "SoftLaplace",
    "StudentT",
    "Uniform",
    "VonMises",
    "Weibull",
]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_EULER_GAMMA = 0.5772156649015329


# -- helpers --------------------------------------------------------------------------


def _batch_shape(*args: Any) -> tuple[int, ...]:
    return tuple(lax.broadcast_shapes(*(jnp.shape(a) for a in args)))


def _check_key(key: Any, name: str) -> None:
    if not is_prng_key(key):
        raise TypeError(f"{name}.sample: key must be a JAX PRNG key, got {type(key).__name__}")


def _float_dtype(*args: Any):
    return jnp.result_type(*args, float)


def _uniform(key, shape, dtype, low=0.0):
    """Uniform draws in ``(low, 1)`` bounded away from 0 and 1 (safe for log/icdf)."""
    finfo = jnp.finfo(dtype)
    return random.uniform(key, shape, dtype, minval=max(low, finfo.tiny), maxval=1.0 - finfo.eps)


def _check_less(dist: Distribution, low_name: str, high_name: str) -> None:
    """Raise when concrete parameters violate ``low < high`` (a cross-parameter constraint)."""
    low, high = getattr(dist, low_name), getattr(dist, high_name)
    if not (not_jax_tracer(low) and not_jax_tracer(high)):
        return
    ok = np.asarray(np.less(np.asarray(low), np.asarray(high)))
    if not ok.all():
        raise ValueError(
            f"{type(dist).__name__} distribution got invalid {high_name} parameter: it must be "
            f"greater than {low_name} everywhere (constraint greater_than({low_name})), got "
            f"{low_name}={np.asarray(low).tolist()} and {high_name}={np.asarray(high).tolist()}"
        )


def _bisect(cdf: Callable, q, lo, hi, num_steps: int):
    """Solve ``cdf(x) = q`` for an increasing ``cdf`` by bisection on ``[lo, hi]``."""

    def body(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        below = cdf(mid) < q
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo, hi = lax.fori_loop(0, num_steps, body, (lo, hi))
    return 0.5 * (lo + hi)


def _implicit_inverse(x, q, cdf: Callable, pdf: Callable):
    """Attach implicit-function gradients to a numerically found root ``x`` of ``cdf(x) = q``.

    The value stays ``x``; derivatives follow
    :math:`\\partial x = (\\partial q - \\partial_\\theta F(x)) / p(x)`.
    """
    x = lax.stop_gradient(x)
    residual = (q - cdf(x)) / lax.stop_gradient(pdf(x))
    return x + residual - lax.stop_gradient(residual)


# The numerical inverses are compiled once per shape and carry no derivatives
# (``_implicit_inverse`` supplies those): inputs are cut from autodiff before
# the compiled call, so the loop is never differentiated or re-traced.
def _betaincinv(a, b, q):
    """Inverse of the regularized incomplete beta function in ``x`` (by bisection)."""
    return _betaincinv_compiled(*(lax.stop_gradient(jnp.asarray(v)) for v in (a, b, q)))


def _gammaincinv(a, q):
    """Inverse of the regularized lower incomplete gamma function in ``x`` (by bisection)."""
    return _gammaincinv_compiled(*(lax.stop_gradient(jnp.asarray(v)) for v in (a, q)))


@jax.jit
def _betaincinv_compiled(a, b, q):
    a, b, q = jnp.broadcast_arrays(a, b, q)
    dtype = _float_dtype(a, b, q)
    a, b, q = a.astype(dtype), b.astype(dtype), q.astype(dtype)
    steps = 64 if dtype == jnp.float64 else 40
    lo, hi = jnp.zeros_like(q), jnp.ones_like(q)
    x = _bisect(lambda x: betainc(a, b, x), q, lo, hi, steps)
    x = jnp.where(q <= 0, 0.0, jnp.where(q >= 1, 1.0, x))
    return x


@jax.jit
def _gammaincinv_compiled(a, q):
    a, q = jnp.broadcast_arrays(a, q)
    dtype = _float_dtype(a, q)
    a, q = a.astype(dtype), q.astype(dtype)
    finfo = jnp.finfo(dtype)
    steps = 100 if dtype == jnp.float64 else 64
    # Bisect on log x: the root spans many orders of magnitude.
    lo = jnp.full_like(q, math.log(float(finfo.tiny)))
    hi = jnp.full_like(q, 0.5 * math.log(float(finfo.max)))
    x = jnp.exp(_bisect(lambda log_x: gammainc(a, jnp.exp(log_x)), q, lo, hi, steps))
    return jnp.where(q <= 0, 0.0, jnp.where(q >= 1, jnp.inf, x))


# -- location-scale families on the real line ---------------------------------------------


class _LocScale(Distribution):
    r"""Base of the location-scale families :math:`X = \mu + \sigma Z`.

    Subclasses give the standard member :math:`Z` (``loc=0``, ``scale=1``) through
    its cdf and quantile function (:meth:`_standard_cdf`, :meth:`_standard_icdf`)
    and, where a direct sampler beats inversion, :meth:`_standard_sample`;
    parameters, shapes, validation and the affine maps live here once.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    reparametrized_params = ["loc", "scale"]

    def __init__(self, loc: Any = 0.0, scale: Any = 1.0, *, validate_args: bool | None = None):
        self.loc, self.scale = promote_shapes(loc, scale)
        super().__init__(batch_shape=_batch_shape(loc, scale), validate_args=validate_args)

    @staticmethod
    def _standard_cdf(z):
        raise NotImplementedError

    @staticmethod
    def _standard_icdf(q):
        raise NotImplementedError

    @classmethod
    def _standard_sample(cls, key, shape, dtype):
        """Draws of the standard member, by default by inversion of its cdf."""
        return cls._standard_icdf(_uniform(key, shape, dtype))

    def sample(self, key, sample_shape=()):
        _check_key(key, type(self).__name__)
        dtype = _float_dtype(self.loc, self.scale)
        return self.loc + self.scale * self._standard_sample(key, self.shape(sample_shape), dtype)

    def cdf(self, value):
        return self._standard_cdf((value - self.loc) / self.scale)

    def icdf(self, q):
        return self.loc + self.scale * self._standard_icdf(q)


class Normal(_LocScale):
    r"""Normal distribution with mean ``loc`` and standard deviation ``scale``.

    .. math:: p(x) = \frac{1}{\sigma\sqrt{2\pi}} \exp\left(-\frac{(x-\mu)^2}{2\sigma^2}\right)
    """

    _standard_sample = staticmethod(random.normal)
    _standard_cdf = staticmethod(ndtr)
    _standard_icdf = staticmethod(ndtri)

    @validate_sample
    def log_prob(self, value):
        z = (value - self.loc) / self.scale
        return -0.5 * z**2 - jnp.log(self.scale) - _HALF_LOG_2PI

    def log_cdf(self, value):
        """Log of the cdf, accurate far in the left tail."""
        return log_ndtr((value - self.loc) / self.scale)

    @property
    def mean(self):
        return jnp.broadcast_to(self.loc, self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(jnp.square(self.scale), self.batch_shape)

    def entropy(self):
        return jnp.broadcast_to(0.5 + _HALF_LOG_2PI + jnp.log(self.scale), self.batch_shape)


class Cauchy(_LocScale):
    r"""Cauchy distribution with location ``loc`` and scale ``scale``.

    .. math:: p(x) = \frac{1}{\pi\sigma\,(1 + ((x-\mu)/\sigma)^2)}

    Mean and variance are undefined (NaN).
    """

    _standard_sample = staticmethod(random.cauchy)

    @staticmethod
    def _standard_cdf(z):
        return 0.5 + jnp.arctan(z) / math.pi

    @staticmethod
    def _standard_icdf(q):
        return jnp.tan(math.pi * (q - 0.5))

    @validate_sample
    def log_prob(self, value):
        z = (value - self.loc) / self.scale
        return -math.log(math.pi) - jnp.log(self.scale) - jnp.log1p(z**2)

    @property
    def mean(self):
        return jnp.full(self.batch_shape, jnp.nan)

    @property
    def variance(self):
        return jnp.full(self.batch_shape, jnp.nan)

    def entropy(self):
        return jnp.broadcast_to(math.log(4 * math.pi) + jnp.log(self.scale), self.batch_shape)


class Laplace(_LocScale):
    r"""Laplace (double exponential) distribution.

    .. math:: p(x) = \frac{1}{2b} \exp\left(-\frac{|x-\mu|}{b}\right)
    """

    _standard_sample = staticmethod(random.laplace)

    @staticmethod
    def _standard_cdf(z):
        return 0.5 - 0.5 * jnp.sign(z) * jnp.expm1(-jnp.abs(z))

    @staticmethod
    def _standard_icdf(q):
        # Two branches rather than sign(q - 1/2), which has a zero derivative at the median.
        return jnp.where(q < 0.5, jnp.log(2 * q), -jnp.log(2 - 2 * q))

    @validate_sample
    def log_prob(self, value):
        return -jnp.abs(value - self.loc) / self.scale - jnp.log(2 * self.scale)

    @property
    def mean(self):
        return jnp.broadcast_to(self.loc, self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(2 * jnp.square(self.scale), self.batch_shape)

    def entropy(self):
        return jnp.broadcast_to(1.0 + jnp.log(2 * self.scale), self.batch_shape)


class AsymmetricLaplace(Distribution):
    r"""Asymmetric Laplace distribution with ``asymmetry`` :math:`\kappa`.

    With left scale :math:`l = \sigma\kappa` and right scale :math:`r = \sigma/\kappa`:

    .. math::
        p(x) = \frac{1}{l + r}
        \begin{cases} e^{(x-\mu)/l} & x < \mu \\ e^{-(x-\mu)/r} & x \ge \mu \end{cases}

    ``asymmetry = 1`` is the Laplace distribution.
    """

    arg_constraints = {
        "loc": constraints.real,
        "scale": constraints.positive,
        "asymmetry": constraints.positive,
    }
    support = constraints.real
    reparametrized_params = ["loc", "scale", "asymmetry"]

    def __init__(
        self,
        loc: Any = 0.0,
        scale: Any = 1.0,
        asymmetry: Any = 1.0,
        *,
        validate_args: bool | None = None,
    ):
        self.loc, self.scale, self.asymmetry = promote_shapes(loc, scale, asymmetry)
        super().__init__(_batch_shape(loc, scale, asymmetry), validate_args=validate_args)

    @property
    def left_scale(self):
        return self.scale * self.asymmetry

    @property
    def right_scale(self):
        return self.scale / self.asymmetry

    def sample(self, key, sample_shape=()):
        _check_key(key, "AsymmetricLaplace")
        dtype = _float_dtype(self.loc, self.scale, self.asymmetry)
        # Inversion keeps the draw monotone in the noise (the quantile coupling).
        return self.icdf(_uniform(key, self.shape(sample_shape), dtype))

    @validate_sample
    def log_prob(self, value):
        z = value - self.loc
        z = -jnp.abs(z) / jnp.where(z < 0, self.left_scale, self.right_scale)
        return z - jnp.log(self.left_scale + self.right_scale)

    def cdf(self, value):
        z = value - self.loc
        total = self.left_scale + self.right_scale
        left = self.left_scale / total * jnp.exp(jnp.minimum(z, 0.0) / self.left_scale)
        right = 1.0 - self.right_scale / total * jnp.exp(-jnp.maximum(z, 0.0) / self.right_scale)
        return jnp.where(z < 0, left, right)

    def icdf(self, q):
        total = self.left_scale + self.right_scale
        p_left = self.left_scale / total
        left = self.loc + self.left_scale * jnp.log(jnp.minimum(q, p_left) / p_left)
        right = self.loc - self.right_scale * jnp.log(
            (1.0 - jnp.maximum(q, p_left)) / (1.0 - p_left)
        )
        return jnp.where(q < p_left, left, right)

    @property
    def mean(self):
        return jnp.broadcast_to(self.loc + self.right_scale - self.left_scale, self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(self.left_scale**2 + self.right_scale**2, self.batch_shape)

    def entropy(self):
        return jnp.broadcast_to(1.0 + jnp.log(self.left_scale + self.right_scale), self.batch_shape)


class AsymmetricLaplaceQuantile(Distribution):
    r"""Asymmetric Laplace distribution parametrized for quantile regression.

    ``loc`` is the ``quantile``-quantile of the distribution:

    .. math::
        p(x) = \frac{\tau(1-\tau)}{\sigma}
        \exp\left(-\rho_\tau\left(\frac{x-\mu}{\sigma}\right)\right),
        \qquad \rho_\tau(u) = u\,(\tau - \mathbb{1}[u < 0])

    It equals :class:`AsymmetricLaplace` with asymmetry
    :math:`\sqrt{\tau/(1-\tau)}` and scale :math:`\sigma\kappa/\tau`.
    """

    arg_constraints = {
        "loc": constraints.real,
        "scale": constraints.positive,
        "quantile": constraints.open_interval(0.0, 1.0),
    }
    support = constraints.real
    reparametrized_params = ["loc", "scale", "quantile"]
    pytree_data_fields = ("loc", "scale", "quantile", "_ald")

    def __init__(
        self,
        loc: Any = 0.0,
        scale: Any = 1.0,
        quantile: Any = 0.5,
        *,
        validate_args: bool | None = None,
    ):
        self.loc, self.scale, self.quantile = promote_shapes(loc, scale, quantile)
        batch_shape = _batch_shape(loc, scale, quantile)
        super().__init__(batch_shape, validate_args=validate_args)
        asymmetry = jnp.sqrt(self.quantile / (1.0 - jnp.asarray(self.quantile)))
        self._ald = AsymmetricLaplace(
            self.loc, self.scale * asymmetry / self.quantile, asymmetry, validate_args=False
        )

    def sample(self, key, sample_shape=()):
        return self._ald.sample(key, sample_shape)

    @validate_sample
    def log_prob(self, value):
        return self._ald.log_prob(value)

    def cdf(self, value):
        return self._ald.cdf(value)

    def icdf(self, q):
        return self._ald.icdf(q)

    @property
    def mean(self):
        return jnp.broadcast_to(self._ald.mean, self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(self._ald.variance, self.batch_shape)

    def entropy(self):
        return jnp.broadcast_to(self._ald.entropy(), self.batch_shape)


class Logistic(_LocScale):
    r"""Logistic distribution.

    .. math:: p(x) = \frac{e^{-z}}{s\,(1 + e^{-z})^2}, \quad z = (x - \mu)/s
    """

    _standard_sample = staticmethod(random.logistic)
    _standard_cdf = staticmethod(expit)
    _standard_icdf = staticmethod(logit)

    @validate_sample
    def log_prob(self, value):
        z = (value - self.loc) / self.scale
        return -z - 2.0 * jax.nn.softplus(-z) - jnp.log(self.scale)

    @property
    def mean(self):
        return jnp.broadcast_to(self.loc, self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(self.scale**2 * math.pi**2 / 3, self.batch_shape)

    def entropy(self):
        return jnp.broadcast_to(jnp.log(self.scale) + 2.0, self.batch_shape)


class SoftLaplace(_LocScale):
    r"""Smooth distribution with Laplace-like tails and a Gaussian-like peak.

    .. math:: p(x) = \frac{2}{\pi\sigma}\,\frac{1}{e^{z} + e^{-z}}, \quad z = (x - \mu)/\sigma

    Log-concave, infinitely differentiable, with exponential tails.
    """

    @staticmethod
    def _standard_cdf(z):
        return jnp.arctan(jnp.exp(z)) * (2 / math.pi)

    @staticmethod
    def _standard_icdf(q):
        return jnp.log(jnp.tan(q * (math.pi / 2)))

    @validate_sample
    def log_prob(self, value):
        z = (value - self.loc) / self.scale
        return math.log(2 / math.pi) - jnp.log(self.scale) - jnp.logaddexp(z, -z)

    @property
    def mean(self):
        return jnp.broadcast_to(self.loc, self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to((math.pi / 2 * self.scale) ** 2, self.batch_shape)

    def entropy(self):
        # -log p = log(pi sigma / 2) + log(2 cosh z), and E[log(2 cosh z)] = 2 log 2.
        return jnp.broadcast_to(jnp.log(2 * math.pi * self.scale), self.batch_shape)


class Gumbel(_LocScale):
    r"""Gumbel (type-I extreme value) distribution.

    .. math:: p(x) = \frac{1}{\beta} e^{-(z + e^{-z})}, \quad z = (x - \mu)/\beta
    """

    _standard_sample = staticmethod(random.gumbel)

    @staticmethod
    def _standard_cdf(z):
        return jnp.exp(-jnp.exp(-z))

    @validate_sample
    def log_prob(self, value):
        z = (value - self.loc) / self.scale
        return -(z + jnp.exp(-z)) - jnp.log(self.scale)

    def icdf(self, q):
        # loc - scale * log(-log q): one negation fewer than loc + scale * (-log(-log q)).
        return self.loc - self.scale * jnp.log(-jnp.log(q))

    @property
    def mean(self):
        return jnp.broadcast_to(self.loc + self.scale * _EULER_GAMMA, self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(math.pi**2 / 6.0 * self.scale**2, self.batch_shape)

    def entropy(self):
        return jnp.broadcast_to(jnp.log(self.scale) + 1.0 + _EULER_GAMMA, self.batch_shape)


class StudentT(Distribution):
    r"""Student's t distribution with ``df`` degrees of freedom, location and scale.

    .. math::
        p(x) = \frac{\Gamma(\frac{\nu+1}{2})}{\Gamma(\frac{\nu}{2})\sqrt{\nu\pi}\,\sigma}
        \left(1 + \frac{z^2}{\nu}\right)^{-\frac{\nu+1}{2}}, \quad z = (x - \mu)/\sigma

    Sampled as :math:`\mu + \sigma Z \sqrt{\nu / X}` with :math:`X \sim \chi^2_\nu`,
    which is differentiable in all parameters.
    """

    arg_constraints = {
        "df": constraints.positive,
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.real
    reparametrized_params = ["df", "loc", "scale"]

    def __init__(
        self, df: Any, loc: Any = 0.0, scale: Any = 1.0, *, validate_args: bool | None = None
    ):
        self.df, self.loc, self.scale = promote_shapes(df, loc, scale)
        super().__init__(_batch_shape(df, loc, scale), validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        _check_key(key, "StudentT")
        shape = self.shape(sample_shape)
        dtype = _float_dtype(self.df, self.loc, self.scale)
        key_normal, key_gamma = random.split(key)
        z = random.normal(key_normal, shape, dtype)
        # chi2(df) / df = Gamma(df/2, rate=df/2)
        g = random.gamma(key_gamma, jnp.broadcast_to(0.5 * self.df, shape).astype(dtype))
        return self.loc + self.scale * z * jnp.sqrt(0.5 * self.df / g)

    @validate_sample
    def log_prob(self, value):
        z = (value - self.loc) / self.scale
        return _std_t_log_pdf(self.df, z) - jnp.log(self.scale)

    def cdf(self, value):
        return _std_t_cdf(self.df, (value - self.loc) / self.scale)

    def icdf(self, q):
        # Solve the two-sided tail probability for the beta variable, then map back.
        df = jnp.asarray(self.df)
        tail = jnp.minimum(q, 1.0 - q)
        u = _betaincinv(0.5 * df, 0.5, 2.0 * tail)
        t = jnp.sqrt(df * (1.0 - u) / u)
        t = jnp.where(q < 0.5, -t, t)
        t = _implicit_inverse(
            t, q, lambda t: _std_t_cdf(df, t), lambda t: jnp.exp(_std_t_log_pdf(df, t))
        )
        return self.loc + self.scale * t

    @property
    def mean(self):
        df = jnp.broadcast_to(self.df, self.batch_shape)
        return jnp.where(df <= 1, jnp.nan, jnp.broadcast_to(self.loc, self.batch_shape))

    @property
    def variance(self):
        df = jnp.broadcast_to(self.df, self.batch_shape)
        var = jnp.broadcast_to(self.scale**2, self.batch_shape) * df / jnp.where(df > 2, df - 2, 1)
        return jnp.where(df > 2, var, jnp.where(df > 1, jnp.inf, jnp.nan))

    def entropy(self):
        df = self.df
        half = 0.5 * (df + 1.0)
        h = (
            half * (digamma(half) - digamma(0.5 * df))
            + 0.5 * jnp.log(df)
            + betaln(0.5 * df, 0.5)
            + jnp.log(self.scale)
        )
        return jnp.broadcast_to(h, self.batch_shape)


def _std_t_log_pdf(df, t):
    """Log density of the standard Student's t with ``df`` degrees of freedom."""
    log_norm = 0.5 * jnp.log(df * math.pi) + gammaln(0.5 * df) - gammaln(0.5 * (df + 1.0))
    return -0.5 * (df + 1.0) * jnp.log1p(t**2 / df) - log_norm


def _std_t_cdf(df, t):
    """Cdf of the standard Student's t: P(|T| > |t|) = I_{df/(df+t^2)}(df/2, 1/2)."""
    tail = 0.5 * betainc(0.5 * df, 0.5, df / (df + t**2))
    return jnp.where(t < 0, tail, 1.0 - tail)


# -- the positive half-line ----------------------------------------------------------------


class Exponential(Distribution):
    r"""Exponential distribution with ``rate`` :math:`\lambda`.

    .. math:: p(x) = \lambda e^{-\lambda x}, \quad x > 0
    """

    arg_constraints = {"rate": constraints.positive}
    support = constraints.positive
    reparametrized_params = ["rate"]

    def __init__(self, rate: Any = 1.0, *, validate_args: bool | None = None):
        self.rate = rate
        super().__init__(batch_shape=jnp.shape(rate), validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        _check_key(key, "Exponential")
        eps = random.exponential(key, self.shape(sample_shape), _float_dtype(self.rate))
        return eps / self.rate

    @validate_sample
    def log_prob(self, value):
        return jnp.log(self.rate) - self.rate * value

    def cdf(self, value):
        return -jnp.expm1(-self.rate * value)

    def icdf(self, q):
        return -jnp.log1p(-q) / self.rate

    @property
    def mean(self):
        return 1.0 / jnp.asarray(self.rate)

    @property
    def variance(self):
        return 1.0 / jnp.asarray(self.rate) ** 2

    def entropy(self):
        return 1.0 - jnp.log(self.rate)


class Gamma(Distribution):
    r"""Gamma distribution with shape ``concentration`` :math:`\alpha` and ``rate`` :math:`\beta`.

    .. math:: p(x) = \frac{\beta^\alpha}{\Gamma(\alpha)} x^{\alpha-1} e^{-\beta x}

    Samples are differentiable in both parameters (implicit reparameterization).
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    reparametrized_params = ["concentration", "rate"]

    def __init__(self, concentration: Any, rate: Any = 1.0, *, validate_args: bool | None = None):
        self.concentration, self.rate = promote_shapes(concentration, rate)
        super().__init__(_batch_shape(concentration, rate), validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        _check_key(key, "Gamma")
        shape = self.shape(sample_shape)
        dtype = _float_dtype(self.concentration, self.rate)
        alpha = jnp.broadcast_to(self.concentration, shape).astype(dtype)
        return random.gamma(key, alpha, shape, dtype) / self.rate

    @validate_sample
    def log_prob(self, value):
        a, b = self.concentration, self.rate
        return xlogy(a - 1.0, value) - b * value + xlogy(a, b) - gammaln(a)

    def cdf(self, value):
        return gammainc(self.concentration, self.rate * value)

    def icdf(self, q):
        a = jnp.asarray(self.concentration)
        x = _gammaincinv(a, q)
        x = _implicit_inverse(
            x,
            q,
            lambda x: gammainc(a, x),
            lambda x: jnp.exp(xlogy(a - 1.0, x) - x - gammaln(a)),
        )
        return x / self.rate

    @property
    def mean(self):
        return jnp.broadcast_to(self.concentration / self.rate, self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(self.concentration / self.rate**2, self.batch_shape)

    def entropy(self):
        a = self.concentration
        h = a - jnp.log(self.rate) + gammaln(a) + (1.0 - a) * digamma(a)
        return jnp.broadcast_to(h, self.batch_shape)


class Chi2(Gamma):
    r"""Chi-squared distribution with ``df`` degrees of freedom: ``Gamma(df / 2, rate=1 / 2)``."""

    arg_constraints = {"df": constraints.positive}
    reparametrized_params = ["df"]
    pytree_data_fields = ("df",)

    def __init__(self, df: Any, *, validate_args: bool | None = None):
        self.df = df
        super().__init__(0.5 * jnp.asarray(df), 0.5, validate_args=validate_args)


class InverseGamma(TransformedDistribution):
    r"""Inverse gamma distribution: :math:`1/X` for :math:`X \sim \mathrm{Gamma}(\alpha, \beta)`.

    .. math:: p(x) = \frac{\beta^\alpha}{\Gamma(\alpha)} x^{-\alpha-1} e^{-\beta / x}

    ``rate`` is the gamma's rate, i.e. the scale :math:`\beta` of the inverse gamma.
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    reparametrized_params = ["concentration", "rate"]

    def __init__(self, concentration: Any, rate: Any = 1.0, *, validate_args: bool | None = None):
        base_dist = Gamma(concentration, rate, validate_args=False)
        self.concentration = base_dist.concentration
        self.rate = base_dist.rate
        super().__init__(base_dist, PowerTransform(-1.0), validate_args=validate_args)

    def cdf(self, value):
        return gammaincc(self.concentration, self.rate / value)

    @property
    def mean(self):
        a = jnp.broadcast_to(self.concentration, self.batch_shape)
        mean = self.rate / jnp.where(a > 1, a - 1.0, 1.0)
        return jnp.where(a > 1, mean, jnp.inf)

    @property
    def variance(self):
        a = jnp.broadcast_to(self.concentration, self.batch_shape)
        safe = jnp.where(a > 2, a, 3.0)
        var = self.rate**2 / ((safe - 1.0) ** 2 * (safe - 2.0))
        return jnp.where(a > 2, var, jnp.inf)

    def entropy(self):
        a = self.concentration
        h = a + jnp.log(self.rate) + gammaln(a) - (1.0 + a) * digamma(a)
        return jnp.broadcast_to(h, self.batch_shape)


class _HalfScale(Distribution):
    r"""Base of the half families :math:`X = \sigma |Z|`, a symmetric standard :math:`Z`
    folded onto the positive half-line.

    Subclasses give the law of :math:`Z` through :meth:`_standard_sample`.
    """

    arg_constraints = {"scale": constraints.positive}
    support = constraints.positive
    reparametrized_params = ["scale"]

    def __init__(self, scale: Any = 1.0, *, validate_args: bool | None = None):
        self.scale = scale
        super().__init__(batch_shape=jnp.shape(scale), validate_args=validate_args)

    @staticmethod
    def _standard_sample(key, shape, dtype):
        """Draws of the symmetric standard member (``scale=1``) before folding."""
        raise NotImplementedError

    def sample(self, key, sample_shape=()):
        _check_key(key, type(self).__name__)
        eps = self._standard_sample(key, self.shape(sample_shape), _float_dtype(self.scale))
        return jnp.abs(eps) * self.scale


class HalfNormal(_HalfScale):
    r"""Half-normal distribution: :math:`|X|` for :math:`X \sim \mathrm{Normal}(0, \sigma)`.

    .. math:: p(x) = \frac{\sqrt{2}}{\sigma\sqrt{\pi}} e^{-x^2 / (2\sigma^2)}, \quad x > 0
    """

    _standard_sample = staticmethod(random.normal)

    @validate_sample
    def log_prob(self, value):
        z = value / self.scale
        return -0.5 * z**2 - jnp.log(self.scale) - _HALF_LOG_2PI + math.log(2.0)

    def cdf(self, value):
        return 2.0 * ndtr(value / self.scale) - 1.0

    def icdf(self, q):
        return self.scale * ndtri((1.0 + q) / 2.0)

    @property
    def mean(self):
        return jnp.asarray(self.scale) * math.sqrt(2 / math.pi)

    @property
    def variance(self):
        return jnp.asarray(self.scale) ** 2 * (1 - 2 / math.pi)

    def entropy(self):
        return 0.5 * jnp.log(math.pi * jnp.asarray(self.scale) ** 2 / 2) + 0.5


class HalfCauchy(_HalfScale):
    r"""Half-Cauchy distribution: :math:`|X|` for :math:`X \sim \mathrm{Cauchy}(0, \sigma)`.

    .. math:: p(x) = \frac{2}{\pi\sigma\,(1 + (x/\sigma)^2)}, \quad x > 0
    """

    _standard_sample = staticmethod(random.cauchy)

    @validate_sample
    def log_prob(self, value):
        return math.log(2 / math.pi) - jnp.log(self.scale) - jnp.log1p((value / self.scale) ** 2)

    def cdf(self, value):
        return jnp.arctan(value / self.scale) * (2 / math.pi)

    def icdf(self, q):
        return self.scale * jnp.tan(q * (math.pi / 2))

    @property
    def mean(self):
        return jnp.full(self.batch_shape, jnp.inf)

    @property
    def variance(self):
        return jnp.full(self.batch_shape, jnp.inf)

    def entropy(self):
        return jnp.log(2 * math.pi * jnp.asarray(self.scale))


class LogNormal(TransformedDistribution):
    r"""Log-normal distribution: :math:`e^X` for :math:`X \sim \mathrm{Normal}(\mu, \sigma)`.

    .. math:: p(x) = \frac{1}{x\sigma\sqrt{2\pi}} \exp\left(-\frac{(\log x-\mu)^2}{2\sigma^2}\right)
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    reparametrized_params = ["loc", "scale"]

    def __init__(self, loc: Any = 0.0, scale: Any = 1.0, *, validate_args: bool | None = None):
        base_dist = Normal(loc, scale, validate_args=False)
        self.loc, self.scale = base_dist.loc, base_dist.scale
        super().__init__(base_dist, ExpTransform(), validate_args=validate_args)

    @property
    def mean(self):
        return jnp.broadcast_to(jnp.exp(self.loc + self.scale**2 / 2), self.batch_shape)

    @property
    def variance(self):
        v = jnp.expm1(self.scale**2) * jnp.exp(2 * self.loc + self.scale**2)
        return jnp.broadcast_to(v, self.batch_shape)

    def entropy(self):
        return jnp.broadcast_to(
            self.loc + 0.5 + _HALF_LOG_2PI + jnp.log(self.scale), self.batch_shape
        )


class Weibull(Distribution):
    r"""Weibull distribution with ``scale`` :math:`\lambda` and ``concentration`` :math:`k`.

    .. math:: p(x) = \frac{k}{\lambda}\left(\frac{x}{\lambda}\right)^{k-1} e^{-(x/\lambda)^k}
    """

    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive
    reparametrized_params = ["scale", "concentration"]

    def __init__(self, scale: Any, concentration: Any, *, validate_args: bool | None = None):
        self.scale, self.concentration = promote_shapes(scale, concentration)
        super().__init__(_batch_shape(scale, concentration), validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        _check_key(key, "Weibull")
        u = _uniform(key, self.shape(sample_shape), _float_dtype(self.scale, self.concentration))
        return self.icdf(u)

    @validate_sample
    def log_prob(self, value):
        k, lam = self.concentration, self.scale
        z = value / lam
        return jnp.log(k) - jnp.log(lam) + xlogy(k - 1.0, z) - z**k

    def cdf(self, value):
        return -jnp.expm1(-((value / self.scale) ** self.concentration))

    def icdf(self, q):
        return self.scale * (-jnp.log1p(-q)) ** (1.0 / self.concentration)

    @property
    def mean(self):
        m = self.scale * jnp.exp(gammaln(1.0 + 1.0 / self.concentration))
        return jnp.broadcast_to(m, self.batch_shape)

    @property
    def variance(self):
        k = self.concentration
        v = self.scale**2 * (
            jnp.exp(gammaln(1.0 + 2.0 / k)) - jnp.exp(2.0 * gammaln(1.0 + 1.0 / k))
        )
        return jnp.broadcast_to(v, self.batch_shape)

    def entropy(self):
        k = self.concentration
        h = _EULER_GAMMA * (1.0 - 1.0 / k) + jnp.log(self.scale / k) + 1.0
        return jnp.broadcast_to(h, self.batch_shape)


class Gompertz(Distribution):
    r"""Gompertz distribution with ``concentration`` :math:`\eta` and ``rate`` :math:`b`.

    .. math:: p(x) = b\eta\, e^{bx} \exp\left(-\eta\,(e^{bx} - 1)\right), \quad x > 0

    With :math:`E_1` the exponential integral, the mean is :math:`e^\eta E_1(\eta)/b` and
    the entropy :math:`1 - \log(b\eta) - e^\eta E_1(\eta)`; the second moment, a
    :math:`{}_3F_3` hypergeometric function, is summed as a series for :math:`\eta < 1`
    and by 32-point Gauss-Laguerre quadrature above.
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    reparametrized_params = ["concentration", "rate"]

    def __init__(self, concentration: Any, rate: Any = 1.0, *, validate_args: bool | None = None):
        self.concentration, self.rate = promote_shapes(concentration, rate)
        super().__init__(_batch_shape(concentration, rate), validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        _check_key(key, "Gompertz")
        u = _uniform(key, self.shape(sample_shape), _float_dtype(self.concentration, self.rate))
        return self.icdf(u)

    @validate_sample
    def log_prob(self, value):
        scaled = self.rate * value
        return (
            jnp.log(self.concentration)
            + jnp.log(self.rate)
            + scaled
            - self.concentration * jnp.expm1(scaled)
        )

    def cdf(self, value):
        return -jnp.expm1(-self.concentration * jnp.expm1(self.rate * value))

    def icdf(self, q):
        return jnp.log1p(-jnp.log1p(-q) / self.concentration) / self.rate

    # With Y = bX, e^Y = 1 + E/eta for E ~ Exponential(1): the moments of log(1 + E/eta).

    @property
    def mean(self):
        # E[Y] = e^eta E_1(eta), E_1 the exponential integral.
        eta = jnp.asarray(self.concentration)
        return jnp.broadcast_to(exp1_scaled(eta) / self.rate, self.batch_shape)

    @property
    def variance(self):
        eta = jnp.asarray(self.concentration)
        var = _gompertz_second_moment(eta) - exp1_scaled(eta) ** 2
        return jnp.broadcast_to(var / self.rate**2, self.batch_shape)

    def entropy(self):
        # -E[log p] with E[e^Y] = 1 + 1/eta: 1 - log(b eta) - e^eta E_1(eta).
        eta = jnp.asarray(self.concentration)
        h = 1.0 - jnp.log(self.rate * eta) - exp1_scaled(eta)
        return jnp.broadcast_to(h, self.batch_shape)


_GOMPERTZ_SERIES_BELOW = 1.0
_GOMPERTZ_SERIES_TERMS = 20
# Gauss-Laguerre rule for E[g(E)], E ~ Exponential(1); with eta >= 1 the integrand
# log(1 + t/eta)^2 is analytic within distance eta of [0, inf) and 32 nodes give ~1e-9.
_LAGUERRE_NODES, _LAGUERRE_WEIGHTS = np.polynomial.laguerre.laggauss(32)


def _gompertz_second_moment(eta):
    r"""E[log(1 + E/eta)^2] for E ~ Exponential(1), the Gompertz E[(bX)^2].

    For small eta the closed form
    :math:`2e^\eta[\tfrac12(\gamma + \log\eta)^2 + \pi^2/12
    + \sum_{k\geq1} (-\eta)^k/(k!\,k^2)]` (a 3F3 hypergeometric series) is
    summed directly; its terms cancel for large eta, where Gauss-Laguerre
    quadrature is exact to float64 precision instead.
    """
    small = eta < _GOMPERTZ_SERIES_BELOW
    eta_s = jnp.where(small, eta, 0.5)
    eta_l = jnp.where(small, _GOMPERTZ_SERIES_BELOW, eta)
    k = np.arange(1, _GOMPERTZ_SERIES_TERMS + 1)
    coefficients = (-1.0) ** k / (np.array([math.factorial(i) for i in k], float) * k**2)
    tail = jnp.sum(coefficients * eta_s[..., None] ** k, axis=-1)
    log_term = _EULER_GAMMA + jnp.log(eta_s)
    series = 2.0 * jnp.exp(eta_s) * (0.5 * log_term**2 + math.pi**2 / 12 + tail)
    nodes = jnp.asarray(_LAGUERRE_NODES, eta.dtype)
    weights = jnp.asarray(_LAGUERRE_WEIGHTS, eta.dtype)
    quadrature = jnp.sum(weights * jnp.log1p(nodes / eta_l[..., None]) ** 2, axis=-1)
    return jnp.where(small, series, quadrature)


class Levy(_LocScale):
    r"""Lévy distribution with location :math:`\mu` and scale :math:`c`.

    .. math:: p(x) = \sqrt{\frac{c}{2\pi}} \frac{e^{-c / (2(x-\mu))}}{(x-\mu)^{3/2}}, \quad x > \mu

    Mean and variance are infinite.
    """

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.greater_than(self.loc)

    def sample(self, key, sample_shape=()):
        _check_key(key, "Levy")
        z = random.normal(key, self.shape(sample_shape), _float_dtype(self.loc, self.scale))
        return self.loc + self.scale / z**2

    @validate_sample
    def log_prob(self, value):
        shifted = value - self.loc
        return (
            0.5 * jnp.log(self.scale)
            - _HALF_LOG_2PI
            - self.scale / (2 * shifted)
            - 1.5 * jnp.log(shifted)
        )

    def cdf(self, value):
        # erfc(sqrt(c / (2 (x - mu)))) = 2 (1 - Phi(sqrt(c / (x - mu))))
        return 2.0 * ndtr(-jnp.sqrt(self.scale / (value - self.loc)))

    def icdf(self, q):
        return self.loc + self.scale / ndtri(1.0 - 0.5 * q) ** 2

    @property
    def mean(self):
        return jnp.full(self.batch_shape, jnp.inf)

    @property
    def variance(self):
        return jnp.full(self.batch_shape, jnp.inf)

    def entropy(self):
        h = (1.0 + 3.0 * _EULER_GAMMA + jnp.log(16 * math.pi * self.scale**2)) / 2.0
        return jnp.broadcast_to(h, self.batch_shape)


class Pareto(TransformedDistribution):
    r"""Pareto distribution with ``scale`` :math:`x_m` and shape ``alpha`` :math:`\alpha`.

    .. math:: p(x) = \frac{\alpha x_m^\alpha}{x^{\alpha+1}}, \quad x \ge x_m
    """

    arg_constraints = {"scale": constraints.positive, "alpha": constraints.positive}
    reparametrized_params = ["scale", "alpha"]

    def __init__(self, scale: Any, alpha: Any, *, validate_args: bool | None = None):
        self.scale, self.alpha = promote_shapes(scale, alpha)
        batch_shape = _batch_shape(scale, alpha)
        scale = jnp.broadcast_to(self.scale, batch_shape)
        alpha = jnp.broadcast_to(self.alpha, batch_shape)
        base_dist = Exponential(alpha, validate_args=False)
        transforms = [ExpTransform(), AffineTransform(loc=0.0, scale=scale)]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.greater_than_eq(self.scale)

    @validate_sample
    def log_prob(self, value):
        # Written out (rather than through the transforms) so that the value at
        # the boundary x = scale is finite and exact.
        return jnp.log(self.alpha) + xlogy(self.alpha, self.scale) - xlogy(self.alpha + 1, value)

    def cdf(self, value):
        return 1.0 - (self.scale / value) ** self.alpha

    def icdf(self, q):
        return self.scale * (1.0 - q) ** (-1.0 / self.alpha)

    @property
    def mean(self):
        a = jnp.broadcast_to(self.alpha, self.batch_shape)
        mean = a * self.scale / jnp.where(a > 1, a - 1, 1.0)
        return jnp.where(a > 1, mean, jnp.inf)

    @property
    def variance(self):
        a = jnp.broadcast_to(self.alpha, self.batch_shape)
        safe = jnp.where(a > 2, a, 3.0)
        var = self.scale**2 * safe / ((safe - 1) ** 2 * (safe - 2))
        return jnp.where(a > 2, var, jnp.inf)

    def entropy(self):
        a = self.alpha
        return jnp.broadcast_to(jnp.log(self.scale / a) + 1.0 / a + 1.0, self.batch_shape)


class Dagum(Distribution):
    r"""Dagum distribution (Burr type III) with ``concentration`` :math:`p`, ``sharpness``
    :math:`a` and ``scale`` :math:`b`.

    .. math::
        F(x) = \left(1 + (x/b)^{-a}\right)^{-p}, \qquad
        p(x) = \frac{a p}{x} \frac{(x/b)^{ap}}{\left((x/b)^a + 1\right)^{p+1}}, \quad x > 0

    The moment :math:`E[X^k]` exists for :math:`k < a`; the entropy is
    :math:`\log\frac{b}{ap} + (1 + \frac1a)(\gamma + \psi(p)) + 1 + \frac1p`.
    """

    arg_constraints = {
        "concentration": constraints.positive,
        "sharpness": constraints.positive,
        "scale": constraints.positive,
    }
    support = constraints.positive
    reparametrized_params = ["concentration", "sharpness", "scale"]

    def __init__(
        self, concentration: Any, sharpness: Any, scale: Any, *, validate_args: bool | None = None
    ):
        self.concentration, self.sharpness, self.scale = promote_shapes(
            concentration, sharpness, scale
        )
        super().__init__(_batch_shape(concentration, sharpness, scale), validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        _check_key(key, "Dagum")
        dtype = _float_dtype(self.concentration, self.sharpness, self.scale)
        return self.icdf(_uniform(key, self.shape(sample_shape), dtype))

    def _log_ratio(self, value):
        """``a log(x / b)``."""
        return self.sharpness * (jnp.log(value) - jnp.log(self.scale))

    @validate_sample
    def log_prob(self, value):
        p, t = self.concentration, self._log_ratio(value)
        return (
            jnp.log(self.sharpness)
            + jnp.log(p)
            - jnp.log(value)
            + p * t
            - (p + 1.0) * jax.nn.softplus(t)
        )

    def cdf(self, value):
        return jnp.exp(-self.concentration * jax.nn.softplus(-self._log_ratio(value)))

    def icdf(self, q):
        # (x/b)^{-a} = q^{-1/p} - 1
        p, a = self.concentration, self.sharpness
        return self.scale * jnp.expm1(-jnp.log(q) / p) ** (-1.0 / a)

    def _moment(self, k):
        a, p = self.sharpness, self.concentration
        safe_a = jnp.where(a > k, a, k + 1.0)
        log_m = (
            k * jnp.log(self.scale)
            + gammaln(p + k / safe_a)
            + gammaln(1.0 - k / safe_a)
            - gammaln(p)
        )
        return jnp.where(a > k, jnp.exp(log_m), jnp.inf)

    @property
    def mean(self):
        return jnp.broadcast_to(self._moment(1.0), self.batch_shape)

    @property
    def variance(self):
        m1, m2 = self._moment(1.0), self._moment(2.0)
        var = jnp.where(self.sharpness > 2, m2 - m1**2, jnp.inf)
        return jnp.broadcast_to(var, self.batch_shape)

    def entropy(self):
        # With t = a log(x/b): -log p = log(b/(ap)) + (1 + 1/a) t + (p + 1) softplus(-t),
        # where softplus(-t) ~ Exponential(p) and E[t] = gamma + digamma(p).
        p, a = self.concentration, self.sharpness
        h = (
            jnp.log(self.scale / (a * p))
            + (1.0 + 1.0 / a) * (_EULER_GAMMA + digamma(p))
            + 1.0
            + 1.0 / p
        )
        return jnp.broadcast_to(h, self.batch_shape)


class LowerTruncatedPowerLaw(Distribution):
    r"""Power law :math:`p(x) \propto x^\alpha` above ``low``, for :math:`\alpha < -1`.

    .. math:: p(x) = \frac{-(\alpha + 1)}{\mathrm{low}} \left(\frac{x}{\mathrm{low}}\right)^\alpha
    """

    arg_constraints = {"alpha": constraints.less_than(-1.0), "low": constraints.positive}
    reparametrized_params = ["alpha", "low"]

    def __init__(self, alpha: Any, low: Any, *, validate_args: bool | None = None):
        self.alpha, self.low = promote_shapes(alpha, low)
        super().__init__(_batch_shape(alpha, low), validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.greater_than_eq(self.low)

    def sample(self, key, sample_shape=()):
        _check_key(key, "LowerTruncatedPowerLaw")
        u = _uniform(key, self.shape(sample_shape), _float_dtype(self.alpha, self.low))
        return self.icdf(u)

    @validate_sample
    def log_prob(self, value):
        neg_a1 = -(self.alpha + 1.0)
        return jnp.log(neg_a1) - jnp.log(self.low) + self.alpha * jnp.log(value / self.low)

    def cdf(self, value):
        return 1.0 - (value / self.low) ** (self.alpha + 1.0)

    def icdf(self, q):
        return self.low * (1.0 - q) ** (1.0 / (self.alpha + 1.0))

    def _moment(self, k):
        a = self.alpha
        ok = a + 1.0 + k < 0
        safe = jnp.where(ok, a, -k - 2.0)
        m = (safe + 1.0) / (safe + 1.0 + k) * self.low**k
        return jnp.where(ok, m, jnp.inf)

    @property
    def mean(self):
        return jnp.broadcast_to(self._moment(1.0), self.batch_shape)

    @property
    def variance(self):
        m1, m2 = self._moment(1.0), self._moment(2.0)
        var = jnp.where(self.alpha + 3.0 < 0, m2 - m1**2, jnp.inf)
        return jnp.broadcast_to(var, self.batch_shape)

    def entropy(self):
        # log(X / low) ~ Exponential(-(alpha + 1)).
        a1 = self.alpha + 1.0
        h = jnp.log(self.low) - jnp.log(-a1) + self.alpha / a1
        return jnp.broadcast_to(h, self.batch_shape)


def _power_integral(alpha, low, high):
    r""":math:`\int_{low}^{high} x^\alpha dx`, continuous through :math:`\alpha = -1`."""
    a1 = alpha + 1.0
    near = jnp.abs(a1) < 1e-6
    safe = jnp.where(near, 1.0, a1)
    general = (high**safe - low**safe) / safe
    return jnp.where(near, jnp.log(high) - jnp.log(low), general)


class DoublyTruncatedPowerLaw(Distribution):
    r"""Power law :math:`p(x) \propto x^\alpha` on :math:`[\mathrm{low}, \mathrm{high}]`.

    .. math::
        p(x) = \frac{x^\alpha}{Z}, \qquad
        Z = \begin{cases}
            \frac{\mathrm{high}^{\alpha+1} - \mathrm{low}^{\alpha+1}}{\alpha + 1} & \alpha \ne -1 \\
            \log(\mathrm{high}/\mathrm{low}) & \alpha = -1
        \end{cases}
    """

    arg_constraints = {
        "alpha": constraints.real,
        "low": constraints.greater_than_eq(0.0),
        "high": constraints.dependent(is_discrete=False, event_dim=0),
    }
    reparametrized_params = ["alpha", "low", "high"]

    def __init__(self, alpha: Any, low: Any, high: Any, *, validate_args: bool | None = None):
        self.alpha, self.low, self.high = promote_shapes(alpha, low, high)
        super().__init__(_batch_shape(alpha, low, high), validate_args=validate_args)

    def _check_parameters(self):
        super()._check_parameters()
        _check_less(self, "low", "high")

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    def sample(self, key, sample_shape=()):
        _check_key(key, "DoublyTruncatedPowerLaw")
        u = _uniform(key, self.shape(sample_shape), _float_dtype(self.alpha, self.low, self.high))
        return self.icdf(u)

    @validate_sample
    def log_prob(self, value):
        return xlogy(self.alpha, value) - jnp.log(_power_integral(self.alpha, self.low, self.high))

    def cdf(self, value):
        value = jnp.clip(value, self.low, self.high)
        return _power_integral(self.alpha, self.low, value) / _power_integral(
            self.alpha, self.low, self.high
        )

    def icdf(self, q):
        a1 = self.alpha + 1.0
        near = jnp.abs(a1) < 1e-6
        safe = jnp.where(near, 1.0, a1)
        lo_p, hi_p = self.low**safe, self.high**safe
        general = (lo_p + q * (hi_p - lo_p)) ** (1.0 / safe)
        # alpha = -1 needs low > 0; guard the unused branch against low = 0.
        safe_low = jnp.where(jnp.asarray(self.low) > 0, self.low, 1.0)
        log_case = safe_low * (self.high / safe_low) ** q
        return jnp.where(near, log_case, general)

    def _moment(self, k):
        return _power_integral(self.alpha + k, self.low, self.high) / _power_integral(
            self.alpha, self.low, self.high
        )

    @property
    def mean(self):
        return jnp.broadcast_to(self._moment(1.0), self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(self._moment(2.0) - self._moment(1.0) ** 2, self.batch_shape)

    def entropy(self):
        # h = log Z - alpha E[log X], with the antiderivative of x^alpha log x:
        # x^{a+1} (log x - 1/(a+1)) / (a+1), or (log x)^2 / 2 at alpha = -1.
        a1 = self.alpha + 1.0
        near = jnp.abs(a1) < 1e-6
        safe = jnp.where(near, 1.0, a1)

        def antiderivative(x):
            power = x**safe
            return (xlogy(power, x) - power / safe) / safe

        general = antiderivative(self.high) - antiderivative(self.low)
        safe_low = jnp.where(jnp.asarray(self.low) > 0, self.low, 1.0)
        log_case = 0.5 * (jnp.log(self.high) ** 2 - jnp.log(safe_low) ** 2)
        z = _power_integral(self.alpha, self.low, self.high)
        h = jnp.log(z) - self.alpha * jnp.where(near, log_case, general) / z
        return jnp.broadcast_to(h, self.batch_shape)


# -- bounded supports ----------------------------------------------------------------------


class Uniform(Distribution):
    r"""Continuous uniform distribution on :math:`[\mathrm{low}, \mathrm{high}]`.

    ``log_prob`` is :math:`-\log(\mathrm{high} - \mathrm{low})` everywhere
    (values outside the support are only caught under validation).
    """

    arg_constraints = {
        "low": constraints.dependent(is_discrete=False, event_dim=0),
        "high": constraints.dependent(is_discrete=False, event_dim=0),
    }
    reparametrized_params = ["low", "high"]

    def __init__(self, low: Any = 0.0, high: Any = 1.0, *, validate_args: bool | None = None):
        self.low, self.high = promote_shapes(low, high)
        super().__init__(batch_shape=_batch_shape(low, high), validate_args=validate_args)

    def _check_parameters(self):
        super()._check_parameters()
        _check_less(self, "low", "high")

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    def sample(self, key, sample_shape=()):
        _check_key(key, "Uniform")
        u = random.uniform(key, self.shape(sample_shape), _float_dtype(self.low, self.high))
        return self.low + u * (self.high - self.low)

    @validate_sample
    def log_prob(self, value):
        shape = lax.broadcast_shapes(jnp.shape(value), self.batch_shape)
        return -jnp.broadcast_to(jnp.log(self.high - self.low), shape)

    def cdf(self, value):
        return jnp.clip((value - self.low) / (self.high - self.low), 0.0, 1.0)

    def icdf(self, q):
        return self.low + q * (self.high - self.low)

    @property
    def mean(self):
        return jnp.broadcast_to(self.low + (self.high - self.low) / 2.0, self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to((self.high - self.low) ** 2 / 12.0, self.batch_shape)

    def entropy(self):
        return jnp.broadcast_to(jnp.log(self.high - self.low), self.batch_shape)


class LogUniform(TransformedDistribution):
    r"""Log-uniform (reciprocal) distribution.

    .. math::
        p(x) = \frac{1}{x \log(\mathrm{high}/\mathrm{low})},
        \quad \mathrm{low} \le x \le \mathrm{high}
    """

    arg_constraints = {"low": constraints.positive, "high": constraints.positive}
    reparametrized_params = ["low", "high"]

    def __init__(self, low: Any, high: Any, *, validate_args: bool | None = None):
        self.low, self.high = promote_shapes(low, high)
        base_dist = Uniform(jnp.log(self.low), jnp.log(self.high), validate_args=False)
        super().__init__(base_dist, ExpTransform(), validate_args=validate_args)

    def _check_parameters(self):
        super()._check_parameters()
        _check_less(self, "low", "high")

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    @property
    def _log_ratio(self):
        return jnp.log(self.high) - jnp.log(self.low)

    @property
    def mean(self):
        return jnp.broadcast_to((self.high - self.low) / self._log_ratio, self.batch_shape)

    @property
    def variance(self):
        second = (self.high**2 - self.low**2) / (2.0 * self._log_ratio)
        return jnp.broadcast_to(second - self.mean**2, self.batch_shape)

    def entropy(self):
        h = jnp.log(self._log_ratio) + 0.5 * (jnp.log(self.low) + jnp.log(self.high))
        return jnp.broadcast_to(h, self.batch_shape)


class _UnitConcentrations(Distribution):
    """Constructor shared by the two-concentration families on the unit interval
    (:class:`Beta`, :class:`Kumaraswamy`)."""

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
    }
    support = constraints.unit_interval
    reparametrized_params = ["concentration1", "concentration0"]

    def __init__(
        self, concentration1: Any, concentration0: Any, *, validate_args: bool | None = None
    ):
        self.concentration1, self.concentration0 = promote_shapes(concentration1, concentration0)
        batch_shape = _batch_shape(concentration1, concentration0)
        super().__init__(batch_shape=batch_shape, validate_args=validate_args)


class Beta(_UnitConcentrations):
    r"""Beta distribution with concentrations :math:`\alpha` (``concentration1``) and :math:`\beta`.

    .. math:: p(x) = \frac{x^{\alpha-1}(1-x)^{\beta-1}}{B(\alpha, \beta)}, \quad 0 < x < 1
    """

    def sample(self, key, sample_shape=()):
        _check_key(key, "Beta")
        shape = self.shape(sample_shape)
        dtype = _float_dtype(self.concentration1, self.concentration0)
        a = jnp.broadcast_to(self.concentration1, shape).astype(dtype)
        b = jnp.broadcast_to(self.concentration0, shape).astype(dtype)
        x = random.beta(key, a, b, shape, dtype)
        # Keep draws strictly inside (0, 1), where log_prob is finite.
        finfo = jnp.finfo(dtype)
        return jnp.clip(x, finfo.tiny, 1.0 - finfo.eps)

    @validate_sample
    def log_prob(self, value):
        a, b = self.concentration1, self.concentration0
        return xlogy(a - 1.0, value) + xlog1py(b - 1.0, -value) - betaln(a, b)

    def cdf(self, value):
        return betainc(self.concentration1, self.concentration0, jnp.clip(value, 0.0, 1.0))

    def icdf(self, q):
        a, b = jnp.asarray(self.concentration1), jnp.asarray(self.concentration0)
        x = _betaincinv(a, b, q)
        return _implicit_inverse(
            x,
            q,
            lambda x: betainc(a, b, x),
            lambda x: jnp.exp(xlogy(a - 1.0, x) + xlog1py(b - 1.0, -x) - betaln(a, b)),
        )

    @property
    def mean(self):
        a, b = self.concentration1, self.concentration0
        return jnp.broadcast_to(a / (a + b), self.batch_shape)

    @property
    def variance(self):
        a, b = self.concentration1, self.concentration0
        total = a + b
        return jnp.broadcast_to(a * b / (total**2 * (total + 1.0)), self.batch_shape)

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        total = a + b
        h = (
            betaln(a, b)
            - (a - 1.0) * digamma(a)
            - (b - 1.0) * digamma(b)
            + (total - 2.0) * digamma(total)
        )
        return jnp.broadcast_to(h, self.batch_shape)


class BetaProportion(Beta):
    r"""Beta distribution parametrized by ``mean`` :math:`\mu` and ``concentration`` :math:`\kappa`.

    Equals ``Beta(mu * kappa, (1 - mu) * kappa)``; the variance is
    :math:`\mu(1-\mu)/(1+\kappa)`.
    """

    arg_constraints = {
        "mean": constraints.open_interval(0.0, 1.0),
        "concentration": constraints.positive,
    }
    reparametrized_params = ["mean", "concentration"]
    support = constraints.open_interval(0.0, 1.0)
    pytree_data_fields = ("concentration",)

    def __init__(self, mean: Any, concentration: Any, *, validate_args: bool | None = None):
        batch_shape = _batch_shape(mean, concentration)
        self.concentration = jnp.broadcast_to(concentration, batch_shape)
        mean = jnp.broadcast_to(mean, batch_shape)
        super().__init__(
            mean * self.concentration,
            (1.0 - mean) * self.concentration,
            validate_args=validate_args,
        )


class Kumaraswamy(_UnitConcentrations):
    r"""Kumaraswamy distribution with ``concentration1`` :math:`a` and ``concentration0`` :math:`b`.

    .. math:: p(x) = a b\, x^{a-1} (1 - x^a)^{b-1}, \quad 0 < x < 1

    A Beta-like distribution with a closed-form cdf
    :math:`F(x) = 1 - (1 - x^a)^b`, sampled by inversion.
    """

    def sample(self, key, sample_shape=()):
        _check_key(key, "Kumaraswamy")
        dtype = _float_dtype(self.concentration1, self.concentration0)
        u = _uniform(key, self.shape(sample_shape), dtype)
        finfo = jnp.finfo(dtype)
        return jnp.clip(self.icdf(u), finfo.tiny, 1.0 - finfo.eps)

    @validate_sample
    def log_prob(self, value):
        a, b = self.concentration1, self.concentration0
        return jnp.log(a) + jnp.log(b) + xlogy(a - 1.0, value) + xlog1py(b - 1.0, -(value**a))

    def cdf(self, value):
        a, b = self.concentration1, self.concentration0
        return -jnp.expm1(b * jnp.log1p(-(jnp.clip(value, 0.0, 1.0) ** a)))

    def icdf(self, q):
        a, b = self.concentration1, self.concentration0
        return (-jnp.expm1(jnp.log1p(-q) / b)) ** (1.0 / a)

    def _moment(self, k):
        a, b = self.concentration1, self.concentration0
        return b * jnp.exp(betaln(1.0 + k / a, b))

    @property
    def mean(self):
        return jnp.broadcast_to(self._moment(1.0), self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(self._moment(2.0) - self._moment(1.0) ** 2, self.batch_shape)

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        harmonic_b = digamma(b + 1.0) + _EULER_GAMMA
        h = (1.0 - 1.0 / b) + (1.0 - 1.0 / a) * harmonic_b - jnp.log(a * b)
        return jnp.broadcast_to(h, self.batch_shape)


class RelaxedBernoulliLogits(TransformedDistribution):
    r"""Relaxed (concrete) Bernoulli distribution on :math:`(0, 1)` with ``temperature``
    :math:`\tau` and ``logits`` :math:`\ell`.

    :math:`X = \sigma(Y)` with :math:`Y \sim \mathrm{Logistic}(\ell/\tau, 1/\tau)`:
    a differentiable stand-in for ``Bernoulli(logits)``, approaching it as
    :math:`\tau \to 0`.

    .. math::
        p(x) = \frac{\tau\, e^{\ell}\, x^{-\tau-1} (1-x)^{-\tau-1}}
        {\left(e^{\ell} x^{-\tau} + (1-x)^{-\tau}\right)^2}
    """

    arg_constraints = {"temperature": constraints.positive, "logits": constraints.real}
    support = constraints.unit_interval
    reparametrized_params = ["temperature", "logits"]
    pytree_data_fields = ("temperature", "logits")

    def __init__(self, temperature: Any, logits: Any, *, validate_args: bool | None = None):
        self.temperature, self.logits = promote_shapes(temperature, logits)
        # Checked here under their own names (temperature, logits), not the base's.
        base = Logistic(self.logits / self.temperature, 1.0 / self.temperature, validate_args=False)
        super().__init__(base, SigmoidTransform(), validate_args=validate_args)


def RelaxedBernoulli(
    temperature: Any,
    probs: Any = None,
    logits: Any = None,
    *,
    validate_args: bool | None = None,
) -> RelaxedBernoulliLogits:
    r"""A :class:`RelaxedBernoulliLogits` from ``probs`` or ``logits`` (exactly one).

    Args:
        temperature: :math:`\tau > 0`.
        probs: probability of the event the relaxation approaches, in (0, 1).
        logits: its log-odds.
        validate_args: check the parameters and values.
    """
    if (probs is None) == (logits is None):
        raise ValueError("RelaxedBernoulli: pass exactly one of probs or logits")
    if probs is not None:
        if not_jax_tracer(probs) and not np.all(
            (np.asarray(probs) >= 0) & (np.asarray(probs) <= 1)
        ):
            raise ValueError(
                "RelaxedBernoulli distribution got invalid probs parameter: "
                f"{np.asarray(probs).tolist()} does not satisfy constraint unit_interval"
            )
        p = clamp_probs(jnp.asarray(probs, _float_dtype(probs)))
        logits = jnp.log(p) - jnp.log1p(-p)
    return RelaxedBernoulliLogits(temperature, logits, validate_args=validate_args)


class VonMises(Distribution):
    r"""Von Mises distribution on the circle :math:`[-\pi, \pi)`.

    .. math:: p(x) = \frac{e^{\kappa\cos(x - \mu)}}{2\pi I_0(\kappa)}

    ``variance`` is the circular variance :math:`1 - I_1(\kappa)/I_0(\kappa)`.
    """

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.circular
    reparametrized_params = ["loc"]

    def __init__(self, loc: Any, concentration: Any, *, validate_args: bool | None = None):
        self.loc, self.concentration = promote_shapes(loc, concentration)
        super().__init__(_batch_shape(loc, concentration), validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        _check_key(key, "VonMises")
        dtype = _float_dtype(self.loc, self.concentration)
        shape = self.shape(sample_shape)
        samples = von_mises_centered(key, self.concentration, shape, dtype) + self.loc
        # Wrap into [-pi, pi).
        return jnp.remainder(samples + math.pi, 2 * math.pi) - math.pi

    @validate_sample
    def log_prob(self, value):
        kappa = self.concentration
        return -(math.log(2 * math.pi) + jnp.log(i0e(kappa))) + kappa * (
            jnp.cos(value - self.loc) - 1.0
        )

    def cdf(self, value):
        r""":math:`P(X \leq x)` for :math:`X` on the support :math:`[-\pi, \pi)`.

        With :math:`G` the centred cdf (:func:`~ppl.distributions.special.von_mises_cdf`)
        continued periodically, :math:`G(y + 2\pi) = G(y) + 1`, this is
        :math:`G(x - \mu) - G(-\pi - \mu)`; for :math:`\mu = 0` it is
        ``scipy.stats.vonmises(kappa).cdf``.
        """
        kappa = self.concentration
        return jnp.clip(
            _periodic_von_mises_cdf(value - self.loc, kappa)
            - _periodic_von_mises_cdf(-math.pi - self.loc, kappa),
            0.0,
            1.0,
        )

    @property
    def mean(self):
        return jnp.broadcast_to(self.loc, self.batch_shape)

    @property
    def variance(self):
        kappa = self.concentration
        return jnp.broadcast_to(1.0 - i1e(kappa) / i0e(kappa), self.batch_shape)

    def entropy(self):
        kappa = self.concentration
        ratio = i1e(kappa) / i0e(kappa)
        h = math.log(2 * math.pi) + jnp.log(i0e(kappa)) + kappa - kappa * ratio
        return jnp.broadcast_to(h, self.batch_shape)


def _periodic_von_mises_cdf(y, kappa):
    """The centred von Mises cdf continued to the real line, gaining 1 per turn."""
    turns = jnp.round(jnp.asarray(y) / (2 * math.pi))
    return von_mises_cdf(y - 2 * math.pi * turns, kappa) + turns


# -- vectors ---------------------------------------------------------------------------


class Dirichlet(Distribution):
    r"""Dirichlet distribution on the simplex with ``concentration`` :math:`\alpha` (last axis).

    .. math::
        p(x) = \frac{\Gamma(\sum_i \alpha_i)}{\prod_i \Gamma(\alpha_i)} \prod_i x_i^{\alpha_i - 1}
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    reparametrized_params = ["concentration"]

    def __init__(self, concentration: Any, *, validate_args: bool | None = None):
        if jnp.ndim(concentration) < 1:
            raise ValueError(
                "Dirichlet: concentration must be at least one-dimensional, got shape "
                f"{jnp.shape(concentration)}"
            )
        self.concentration = concentration
        shape = jnp.shape(concentration)
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        _check_key(key, "Dirichlet")
        shape = tuple(sample_shape) + self.batch_shape
        dtype = _float_dtype(self.concentration)
        alpha = jnp.broadcast_to(self.concentration, shape + self.event_shape).astype(dtype)
        x = random.dirichlet(key, alpha, shape, dtype)
        finfo = jnp.finfo(dtype)
        return jnp.clip(x, finfo.tiny, 1.0 - finfo.eps)

    @validate_sample
    def log_prob(self, value):
        alpha = self.concentration
        normalizer = jnp.sum(gammaln(alpha), -1) - gammaln(jnp.sum(alpha, -1))
        return jnp.sum(xlogy(alpha - 1.0, value), -1) - normalizer

    @property
    def mean(self):
        alpha = jnp.asarray(self.concentration)
        return alpha / jnp.sum(alpha, -1, keepdims=True)

    @property
    def variance(self):
        alpha = jnp.asarray(self.concentration)
        total = jnp.sum(alpha, -1, keepdims=True)
        return alpha * (total - alpha) / (total**2 * (total + 1.0))

    def entropy(self):
        alpha = jnp.asarray(self.concentration)
        total = jnp.sum(alpha, -1)
        k = alpha.shape[-1]
        log_b = jnp.sum(gammaln(alpha), -1) - gammaln(total)
        return log_b + (total - k) * digamma(total) - jnp.sum((alpha - 1.0) * digamma(alpha), -1)

    @staticmethod
    def infer_shapes(concentration):
        concentration = tuple(concentration)
        return concentration[:-1], concentration[-1:]


class GaussianRandomWalk(Distribution):
    r"""Gaussian random walk of ``num_steps`` steps starting from 0.

    :math:`x_1 \sim \mathcal N(0, \sigma^2)` and
    :math:`x_t \mid x_{t-1} \sim \mathcal N(x_{t-1}, \sigma^2)`;
    the event is the vector :math:`(x_1, \ldots, x_T)`.
    """

    arg_constraints = {"scale": constraints.positive}
    support = constraints.real_vector
    reparametrized_params = ["scale"]
    pytree_aux_fields = ("num_steps",)

    def __init__(self, scale: Any = 1.0, num_steps: int = 1, *, validate_args: bool | None = None):
        if not isinstance(num_steps, int | np.integer) or num_steps < 1:
            raise ValueError(
                f"GaussianRandomWalk: num_steps must be a positive int, got {num_steps!r}"
            )
        self.scale = scale
        self.num_steps = int(num_steps)
        super().__init__(jnp.shape(scale), (self.num_steps,), validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        _check_key(key, "GaussianRandomWalk")
        shape = self.shape(sample_shape)
        steps = random.normal(key, shape, _float_dtype(self.scale))
        return jnp.cumsum(steps, axis=-1) * jnp.expand_dims(self.scale, -1)

    @validate_sample
    def log_prob(self, value):
        scale = jnp.expand_dims(self.scale, -1)
        increments = jnp.diff(value, axis=-1, prepend=jnp.zeros_like(value[..., :1]))
        z = increments / scale
        return jnp.sum(-0.5 * z**2 - jnp.log(scale) - _HALF_LOG_2PI, -1)

    @property
    def mean(self):
        return jnp.zeros(self.batch_shape + self.event_shape)

    @property
    def variance(self):
        steps = jnp.arange(1, self.num_steps + 1, dtype=_float_dtype(self.scale))
        return jnp.broadcast_to(
            jnp.expand_dims(jnp.asarray(self.scale) ** 2, -1) * steps,
            self.batch_shape + self.event_shape,
        )

    def entropy(self):
        # The increments are iid normal and the map to their cumulative sum has Jacobian 1.
        h = self.num_steps * (0.5 + _HALF_LOG_2PI + jnp.log(self.scale))
        return jnp.broadcast_to(h, self.batch_shape)

    @classmethod
    def infer_shapes(cls, scale=(), num_steps=1):
        return tuple(scale), (num_steps,)


class EulerMaruyama(Distribution):
    r"""Euler–Maruyama discretization of an SDE :math:`dX_t = f(X_t, t)dt + g(X_t, t)dW_t`.

    Given the time grid ``t`` (:math:`t_0 < \ldots < t_{T-1}`), the state at
    :math:`t_0` follows ``init_dist`` and each step is Gaussian:

    .. math::
        X_{i+1} \mid X_i \sim
        \mathcal N\left(X_i + f(X_i, t_i)\Delta_i,\ g(X_i, t_i)^2 \Delta_i\right)

    Args:
        t: increasing times, shape ``batch + (T,)``.
        sde_fn: ``sde_fn(x, t) -> (drift, diffusion)``, called with a state
            ``x`` of shape ``(..., state_dim)`` and the time ``t_i`` of shape
            ``batch`` (a scalar for an unbatched grid); ``diffusion`` is the
            diagonal of :math:`g`.
        init_dist: distribution of :math:`X_{t_0}`, with ``event_dim >= 1``.

    The event is ``(T,) + init_dist.event_shape``.
    """

    arg_constraints = {"t": constraints.ordered_vector}
    pytree_data_fields = ("t", "init_dist")
    pytree_aux_fields = ("sde_fn",)

    def __init__(
        self,
        t: Any,
        sde_fn: Callable,
        init_dist: Distribution,
        *,
        validate_args: bool | None = None,
    ):
        if not isinstance(init_dist, Distribution):
            raise TypeError(
                f"EulerMaruyama: init_dist must be a Distribution, got {type(init_dist).__name__}"
            )
        if not callable(sde_fn):
            raise TypeError("EulerMaruyama: sde_fn must be callable as sde_fn(x, t)")
        if init_dist.event_dim == 0:
            raise ValueError(
                "EulerMaruyama: init_dist must have event_dim >= 1 (the state dimension); "
                "use .to_event(1) on a scalar distribution"
            )
        if jnp.ndim(t) < 1:
            raise ValueError(
                f"EulerMaruyama: t must be a vector of times, got shape {jnp.shape(t)}"
            )
        self.t = t
        self.sde_fn = sde_fn
        self.init_dist = init_dist
        batch_shape = lax.broadcast_shapes(jnp.shape(t)[:-1], init_dist.batch_shape)
        event_shape = (jnp.shape(t)[-1], *init_dist.event_shape)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False)
    def support(self):
        return constraints.independent(constraints.real, self.event_dim)

    def _times(self):
        t = jnp.asarray(self.t)
        # time axis first: (T,) + batch_t
        return jnp.moveaxis(t, -1, 0), jnp.moveaxis(jnp.diff(t, axis=-1), -1, 0)

    def _expand_t(self, ti):
        # Trailing unit dims line a per-batch time up with states of shape (..., batch, state).
        return jnp.reshape(ti, jnp.shape(ti) + (1,) * (self.init_dist.event_dim))

    def sample(self, key, sample_shape=()):
        _check_key(key, "EulerMaruyama")
        sample_shape = tuple(sample_shape)
        key_init, key_noise = random.split(key)
        x0 = self.init_dist.sample(key_init, sample_shape + self.batch_shape)
        ts, dts = self._times()
        noise = random.normal(
            key_noise, (dts.shape[0], *sample_shape, *self.batch_shape, *self.init_dist.event_shape)
        )

        def step(x, inputs):
            ti, dti, eps = inputs
            drift, diffusion = self.sde_fn(x, ti)
            dt = self._expand_t(dti)
            x_next = x + drift * dt + diffusion * jnp.sqrt(dt) * eps
            return x_next, x_next

        _, xs = lax.scan(step, x0, (ts[:-1], dts, noise))
        path = jnp.concatenate([x0[None], xs], axis=0)
        return jnp.moveaxis(path, 0, len(sample_shape) + len(self.batch_shape))

    @validate_sample
    def log_prob(self, value):
        time_axis = jnp.ndim(value) - self.event_dim
        path = jnp.moveaxis(value, time_axis, 0)
        ts, dts = self._times()
        state_axes = tuple(range(-self.init_dist.event_dim, 0))

        def step_log_prob(x_prev, x_next, ti, dti):
            drift, diffusion = self.sde_fn(x_prev, ti)
            dt = self._expand_t(dti)
            scale = diffusion * jnp.sqrt(dt)
            z = (x_next - x_prev - drift * dt) / scale
            return jnp.sum(-0.5 * z**2 - jnp.log(scale) - _HALF_LOG_2PI, axis=state_axes)

        steps = jax.vmap(step_log_prob)(path[:-1], path[1:], ts[:-1], dts)
        return self.init_dist.log_prob(path[0]) + jnp.sum(steps, axis=0)
