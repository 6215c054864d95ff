r"""Directional distributions: on the sphere and on the torus (NumPyro 0.22 names).

* :class:`ProjectedNormal`: the direction :math:`x/\|x\|` of an isotropic
  normal vector :math:`x \sim \mathcal{N}(c, I)`; support ``sphere``.
* :class:`SineBivariateVonMises`: two dependent angles on the 2-torus
  (Singh, Hnizdo and Demchuk, 2002); support ``independent(circular, 1)``.
* :class:`SineSkewed`: sine-skewing of a centrally symmetric distribution on
  a torus (Ameijeiras-Alonso and Ley, 2019).

:class:`~ppl.distributions.VonMises` lives in :mod:`ppl.distributions.continuous`.
Angles are returned in :math:`[-\pi, \pi)`.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax, random
from jax.scipy.special import erfcx, gammaln, i0e, i1e, ndtr
from jax.scipy.special import logsumexp as _logsumexp

from ppl import constraints
from ppl.distributions.distribution import Distribution
from ppl.distributions.util import (
    is_prng_key,
    lazy_property,
    promote_shapes,
    safe_normalize,
    validate_sample,
    von_mises_centered,
)

__all__ = ["ProjectedNormal", "SineBivariateVonMises", "SineSkewed"]

_LOG_2PI = math.log(2 * math.pi)

# ProjectedNormal: below t = -_RAY_TAIL_START the closed forms cancel badly, so
# an asymptotic series with _RAY_TAIL_TERMS terms takes over (relative error
# below 1e-14 there).
_RAY_TAIL_START = 10.0
_RAY_TAIL_TERMS = 20

# SineBivariateVonMises: terms of Singh et al.'s series for the normalizer, and
# how far above the highest Bessel order the ratio recurrence starts.
_NORM_SERIES_TERMS = 100
_BESSEL_RECURRENCE_EXTRA = 100


def _check_key(key: Any, name: str) -> None:
    if not is_prng_key(key):
        raise TypeError(f"{name}.sample: key must be a JAX PRNG key, got {type(key).__name__}")


def _float_dtype(*args: Any):
    """The floating dtype holding all ``args`` (JAX's default float for ints and bools)."""
    return jnp.result_type(
        *(jnp.asarray(a) if isinstance(a, list | tuple) else a for a in args), float
    )


def _wrap_angle(x: jax.Array) -> jax.Array:
    """Map angles to :math:`[-\\pi, \\pi)`."""
    return jnp.remainder(x + math.pi, 2 * math.pi) - math.pi


# -- ProjectedNormal ---------------------------------------------------------------------


def _double_factorials(num_terms: int, power: int) -> list[float]:
    r"""Coefficients :math:`c_j` of the tail series of :func:`_log_ray_moment`.

    :math:`(2j+1)!!` for ``power=1`` and :math:`2(j+1)(2j+1)!!` for ``power=2``.
    """
    coefs, odd = [], 1.0
    for j in range(num_terms):
        odd *= 2 * j + 1
        coefs.append(odd if power == 1 else 2.0 * (j + 1) * odd)
    return coefs


@functools.partial(jax.jit, static_argnames="power")
def _log_ray_moment(t: jax.Array, power: int) -> jax.Array:
    r""":math:`\log \int_0^\infty r^k \varphi(r - t)\, dr` for :math:`k \in \{1, 2\}`.

    :math:`\varphi` is the standard normal density. In closed form

    .. math::
        M_1(t) = \varphi(t) + t\,\Phi(t), \qquad
        M_2(t) = t\,\varphi(t) + (1 + t^2)\,\Phi(t).

    For :math:`t < 0` (write :math:`x = -t`) both terms nearly cancel and
    underflow, so :math:`\varphi(x)` is factored out and the Mills ratio
    :math:`R(x) = \Phi(-x)/\varphi(x)` is computed with ``erfcx``. For
    :math:`x \ge 10` the asymptotic expansions
    :math:`M_1 = \varphi(x) \sum_j (-1)^j (2j+1)!!\, x^{-2j-2}` and
    :math:`M_2 = \varphi(x) \sum_j (-1)^j 2(j+1)(2j+1)!!\, x^{-2j-3}` take over.
    """
    # Each branch gets inputs clipped to its own range, so that the branches not
    # selected stay finite and do not poison gradients through ``jnp.where``.
    t_pos = jnp.maximum(t, 0.0)
    pdf = jnp.exp(-0.5 * t_pos**2 - 0.5 * _LOG_2PI)
    cdf = ndtr(t_pos)
    if power == 1:
        positive = jnp.log(pdf + t_pos * cdf)
    else:
        positive = jnp.log(t_pos * pdf + (1.0 + t_pos**2) * cdf)

    x = jnp.clip(-t, 0.0, _RAY_TAIL_START)
    mills = math.sqrt(math.pi / 2) * erfcx(x * math.sqrt(0.5))
    bracket = 1.0 - x * mills if power == 1 else (1.0 + x**2) * mills - x
    negative = -0.5 * x**2 - 0.5 * _LOG_2PI + jnp.log(bracket)

    x_tail = jnp.maximum(-t, _RAY_TAIL_START)
    u = x_tail**-2
    series = jnp.zeros_like(u)
    for j, coef in reversed(list(enumerate(_double_factorials(_RAY_TAIL_TERMS, power)))):
        series = series * u + (-1) ** j * coef
    tail = -0.5 * x_tail**2 - 0.5 * _LOG_2PI - (power + 1) * jnp.log(x_tail) + jnp.log(series)

    return jnp.where(t >= 0, positive, jnp.where(t > -_RAY_TAIL_START, negative, tail))


class ProjectedNormal(Distribution):
    r"""Projected isotropic normal distribution on the unit sphere :math:`S^{d-1}`.

    A draw is :math:`u = x / \|x\|` with :math:`x \sim \mathcal{N}(c, I_d)`, where
    :math:`c` is ``concentration`` (its length sets how concentrated the
    directions are around :math:`c/\|c\|`). Sampling is reparameterized, which
    makes it convenient for variational inference. With respect to the surface
    measure of the sphere the density is

    .. math::
        p(u) = \int_0^\infty r^{d-1}\, \mathcal{N}(r u;\, c, I_d)\, dr
             = (2\pi)^{-\frac{d-1}{2}}\, e^{-\frac{\|c\|^2 - t^2}{2}}\,
               \int_0^\infty r^{d-1} \varphi(r - t)\, dr,
        \qquad t = c^\top u,

    which has a closed form for :math:`d \in \{2, 3\}` (Hernandez-Stumpfhauser,
    Breidt and van der Woerd, 2017); :meth:`log_prob` is implemented for
    those dimensions only. For other dimensions, or for HMC, reparameterize
    the site with :class:`ppl.infer.reparam.ProjectedNormalReparam`.

    Args:
        concentration: the mean :math:`c` of the underlying normal vector; its
            last axis is the event dimension :math:`d`.
    """

    arg_constraints = {"concentration": constraints.real_vector}
    reparametrized_params = ["concentration"]
    support = constraints.sphere

    def __init__(self, concentration: Any, *, validate_args: bool | None = None) -> None:
        if jnp.ndim(concentration) < 1:
            raise ValueError(
                "ProjectedNormal: concentration must have at least one dimension (the event "
                f"dimension), got shape {jnp.shape(concentration)}"
            )
        self.concentration = jnp.asarray(concentration, _float_dtype(concentration))
        shape = jnp.shape(concentration)
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    @classmethod
    def infer_shapes(cls, concentration: tuple[int, ...]) -> tuple[tuple, tuple]:
        concentration = tuple(concentration)
        return concentration[:-1], concentration[-1:]

    @property
    def mean(self) -> jax.Array:
        """The direction :math:`c/\\|c\\|`.

        This is the centroid on the sphere (the point minimizing the expected
        squared geodesic distance), not the Euclidean mean of the draws.
        """
        return safe_normalize(self.concentration)

    @property
    def mode(self) -> jax.Array:
        """The direction :math:`c/\\|c\\|`."""
        return safe_normalize(self.concentration)

    def sample(self, key, sample_shape=()):
        _check_key(key, "ProjectedNormal")
        eps = random.normal(key, self.shape(sample_shape), self.concentration.dtype)
        return safe_normalize(self.concentration + eps)

    @validate_sample
    def log_prob(self, value):
        value = jnp.asarray(value)
        if jnp.shape(value)[-1:] != self.event_shape:
            raise ValueError(
                f"ProjectedNormal.log_prob: value must end with the event shape "
                f"{self.event_shape}, got shape {jnp.shape(value)}"
            )
        dim = self.event_shape[0]
        if dim not in (2, 3):
            raise NotImplementedError(
                f"ProjectedNormal.log_prob has a closed form only for dimension 2 or 3, got "
                f"dimension {dim}; reparameterize the site with ProjectedNormalReparam instead"
            )
        c = self.concentration
        t = jnp.sum(c * value, axis=-1)
        perp = jnp.sum(c**2, axis=-1) - t**2
        return -0.5 * perp - 0.5 * (dim - 1) * _LOG_2PI + _log_ray_moment(t, dim - 1)


# -- SineBivariateVonMises ----------------------------------------------------------------


def _log_bessel_i(x: jax.Array, num_orders: int) -> jax.Array:
    r""":math:`\log I_m(x)` for :math:`m = 0, \dots, M-1` and :math:`x > 0`, stacked on axis 0.

    :math:`I_0` comes from ``i0e``. The ratios :math:`r_m = I_{m+1}/I_m` come
    from the backward recurrence :math:`r_{m-1} = 1/(2m/x + r_m)`, which is
    stable (Miller's algorithm on ratios), started from Amos' (1974) lower bound
    :math:`r_N \approx x / (N + \tfrac12 + \sqrt{(N + \tfrac32)^2 + x^2})` well
    above the highest order needed. Unlike the power series this is accurate
    for small and large :math:`x` alike.
    """
    x = jnp.asarray(x)
    start = num_orders + _BESSEL_RECURRENCE_EXTRA
    r_start = x / (start + 0.5 + jnp.sqrt((start + 1.5) ** 2 + x**2))

    def step(r, m):
        r = 1.0 / (2.0 * m / x + r)
        return r, r

    _, ratios = lax.scan(step, r_start, jnp.arange(start, 0, -1, dtype=x.dtype))
    log_ratios = jnp.log(ratios[::-1][: num_orders - 1])
    log_i0 = jnp.log(i0e(x)) + x
    return jnp.concatenate([log_i0[None], log_i0 + jnp.cumsum(log_ratios, axis=0)])


def _log_i0_difference(z: jax.Array, kappa: jax.Array, z2_minus_kappa2: jax.Array) -> jax.Array:
    r""":math:`\log I_0(z) - \log I_0(\kappa)` for :math:`z \ge \kappa > 0`, without overflow."""
    # z - kappa computed as (z^2 - kappa^2)/(z + kappa): no cancellation.
    return jnp.log(i0e(z)) - jnp.log(i0e(kappa)) + z2_minus_kappa2 / (z + kappa)


def _log_i0_sqrt_slope(z: jax.Array) -> jax.Array:
    r"""The slope :math:`I_1(z)/(2 z I_0(z))` of :math:`s \mapsto \log I_0(\sqrt{\kappa^2 + s})`.

    ``z`` is :math:`\sqrt{\kappa^2 + s}` at the point where the slope is taken.
    """
    return i1e(z) / (2.0 * z * i0e(z))


class _PhiMarginalState(NamedTuple):
    i: jax.Array
    key: jax.Array
    done: jax.Array
    phi: jax.Array


def _sample_phi_marginal(
    key: jax.Array,
    phi_concentration: jax.Array,
    psi_concentration: jax.Array,
    correlation: jax.Array,
    max_iter: int,
) -> tuple[jax.Array, jax.Array]:
    r"""Draw the marginal of :math:`\phi` of a centred sine bivariate von Mises.

    The marginal is :math:`f(\phi) \propto e^{\kappa_1 \cos\phi}
    I_0\big(\sqrt{\kappa_2^2 + \rho^2 \sin^2\phi}\big)`. Writing
    :math:`x = (\cos\phi, \sin\phi)`, it is bounded by a Bingham density
    :math:`\propto e^{-\lambda \sin^2\phi}`, using :math:`\cos\phi - 1 \le
    -\tfrac12 \sin^2\phi` and a tangent of the concave :math:`s \mapsto \log
    I_0(\sqrt{\kappa_2^2 + s})`, and the Bingham density by an angular central
    Gaussian, following Kent, Ganeiber and Mardia (2018). NumPyro uses the
    looser slope :math:`1/(2\kappa_2)`; the tangent here keeps the acceptance
    rate up for small :math:`\kappa_2` and for bimodal marginals. Entries still
    rejected after ``max_iter`` rounds are flagged in the returned ``accepted``
    mask.

    Returns:
        ``(phi, accepted)``, both of the parameters' broadcast shape.
    """
    shape = jnp.shape(phi_concentration)
    dtype = phi_concentration.dtype
    rho2 = correlation**2
    # g(s) = log I0(sqrt(kappa_2^2 + s)) is concave, so any tangent bounds it:
    # g(s) - g(0) <= offset + slope * s. The tangent at s = 0 is tight where the
    # phi marginal has its mode at 0; when the marginal is bimodal (its modes
    # near sin^2 = 1) the tangent at s = rho^2 is much tighter.
    slope_at_0 = _log_i0_sqrt_slope(psi_concentration)
    s0 = jnp.where(0.5 * phi_concentration >= rho2 * slope_at_0, 0.0, rho2)
    z0 = jnp.sqrt(psi_concentration**2 + s0)
    slope = _log_i0_sqrt_slope(z0)
    offset = _log_i0_difference(z0, psi_concentration, s0) - slope * s0
    lam = 0.5 * phi_concentration - rho2 * slope
    # Adding a multiple of x^T x = 1 leaves the Bingham density unchanged: shift
    # so that one eigenvalue is 0 and the other, |lam|, is nonnegative.
    shift = jnp.minimum(lam, 0.0)
    eig = jnp.abs(lam)
    on_sine = lam >= 0
    # Kent et al.'s b solves sum_i 1/(b + 2 eig_i) = 1; for eigenvalues (0, eig):
    b = 1.0 - eig + jnp.sqrt(1.0 + eig**2)
    acg_scale = lax.rsqrt(1.0 + 2.0 * eig / b)

    def log_accept_prob(cos, sin):
        corr_sin2 = (correlation * sin) ** 2
        alpha = jnp.sqrt(psi_concentration**2 + corr_sin2)
        log_target = phi_concentration * (cos - 1.0)
        log_target += _log_i0_difference(alpha, psi_concentration, corr_sin2) - offset
        bingham = eig * jnp.where(on_sine, sin**2, cos**2)
        # log f - log(M g) with the envelope constant M of Kent et al. for q = 2.
        return log_target + shift + 1.0 - 0.5 * b + jnp.log(0.5 * b + bingham)

    def body(state: _PhiMarginalState) -> _PhiMarginalState:
        key, subkey = random.split(state.key)
        u = random.uniform(subkey, (2, *shape), dtype)
        # Angular central Gaussian: the direction of D z with z ~ N(0, I) and
        # D = (I + 2A/b)^{-1/2}. Only the direction of z matters, a uniform angle,
        # which saves drawing normals (and compiling their sampler).
        theta = 2.0 * math.pi * u[0]
        y_cos = jnp.cos(theta) * jnp.where(on_sine, 1.0, acg_scale)
        y_sin = jnp.sin(theta) * jnp.where(on_sine, acg_scale, 1.0)
        norm = jnp.hypot(y_cos, y_sin)
        cos, sin = y_cos / norm, y_sin / norm
        accept = (jnp.log(u[1]) < log_accept_prob(cos, sin)) & ~state.done
        phi = jnp.where(accept, jnp.arctan2(sin, cos), state.phi)
        return _PhiMarginalState(state.i + 1, key, state.done | accept, phi)

    def cond(state: _PhiMarginalState) -> jax.Array:
        return (state.i < max_iter) & ~jnp.all(state.done)

    init = _PhiMarginalState(jnp.array(0), key, jnp.zeros(shape, bool), jnp.zeros(shape, dtype))
    final = lax.while_loop(cond, body, init)
    return final.phi, final.done


# The loops below are jitted at module level so that eager calls reuse one
# compiled program per shape instead of retracing the loop every time.


@jax.jit
def _scaled_log_normalizer(
    phi_concentration: jax.Array, psi_concentration: jax.Array, correlation: jax.Array
) -> jax.Array:
    r""":math:`\log C - \kappa_1 - \kappa_2` by Singh et al.'s series, summed in log space."""
    k1, k2, rho = jnp.broadcast_arrays(phi_concentration, psi_concentration, correlation)
    m = jnp.arange(_NORM_SERIES_TERMS, dtype=k1.dtype).reshape((-1,) + (1,) * k1.ndim)
    log_binom = gammaln(2.0 * m + 1.0) - 2.0 * gammaln(m + 1.0)
    # rho = 0 leaves only the m = 0 term; masking keeps log(0) out of the value
    # and of the gradient.
    rho2 = rho**2
    nonzero = rho2 > 0
    log_y = jnp.log(jnp.where(nonzero, rho2, 1.0)) - jnp.log(4.0 * k1 * k2)
    log_power = jnp.where(m == 0, 0.0, jnp.where(nonzero, m * log_y, -jnp.inf))
    # One recurrence for both concentrations.
    log_bessel = _log_bessel_i(jnp.stack([k1, k2], axis=-1), _NORM_SERIES_TERMS).sum(-1)
    log_terms = log_binom + log_power + log_bessel - k1 - k2
    return 2.0 * _LOG_2PI + _logsumexp(log_terms, axis=0)


@functools.partial(jax.jit, static_argnames="max_iter")
def _sample_centred(
    key: jax.Array,
    phi_concentration: jax.Array,
    psi_concentration: jax.Array,
    correlation: jax.Array,
    max_iter: int,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""Angles :math:`(\phi, \psi)` of a sine bivariate von Mises with zero locations.

    Returns ``(phi, psi, accepted)``; see :func:`_sample_phi_marginal`.
    """
    # The density is symmetric in (phi, kappa_1) <-> (psi, kappa_2). The envelope
    # fits the marginal of the less concentrated angle better, so draw that one
    # first and the other from its von Mises conditional.
    swap = phi_concentration > psi_concentration
    first_conc = jnp.where(swap, psi_concentration, phi_concentration)
    second_conc = jnp.where(swap, phi_concentration, psi_concentration)
    first_key, second_key = random.split(key)
    first, accepted = _sample_phi_marginal(
        first_key, first_conc, second_conc, correlation, max_iter
    )
    # kappa cos(y) + rho sin(x) sin(y) = alpha cos(y - beta) for the second angle y.
    rho_sin = correlation * jnp.sin(first)
    alpha = jnp.sqrt(second_conc**2 + rho_sin**2)
    beta = jnp.arctan2(rho_sin, second_conc)
    second = beta + von_mises_centered(second_key, alpha, jnp.shape(alpha), alpha.dtype)
    phi = jnp.where(swap, second, first)
    psi = jnp.where(swap, first, second)
    return phi, psi, accepted


class SineBivariateVonMises(Distribution):
    r"""Sine bivariate von Mises distribution of two dependent angles on the 2-torus.

    .. math::
        p(\phi, \psi) = C^{-1} \exp\big(\kappa_1 \cos(\phi - \mu_1)
            + \kappa_2 \cos(\psi - \mu_2)
            + \rho \sin(\phi - \mu_1) \sin(\psi - \mu_2)\big),

    .. math::
        C = (2\pi)^2 \sum_{m=0}^\infty \binom{2m}{m}
            \left(\frac{\rho^2}{4 \kappa_1 \kappa_2}\right)^m I_m(\kappa_1)\, I_m(\kappa_2)

    (Singh, Hnizdo and Demchuk, 2002), with :math:`I_m` the modified Bessel
    function of the first kind. The series is summed over its first 100 terms in
    log space, with :math:`I_m` from a stable recurrence; it has converged
    unless :math:`|\rho|` is large compared with 100. The distribution is
    unimodal when :math:`\rho^2 < \kappa_1 \kappa_2` and bimodal otherwise.

    Samples come from rejection sampling of the marginal of the less
    concentrated angle with an angular central Gaussian envelope (Kent,
    Ganeiber and Mardia, 2018), the other angle following its von Mises
    conditional, e.g. :math:`\psi \mid \phi \sim \mathrm{VonMises}(\mu_2 +
    \beta, \alpha)` with :math:`\alpha = \sqrt{\kappa_2^2 + \rho^2
    \sin^2(\phi - \mu_1)}` and :math:`\tan\beta = \rho \sin(\phi -
    \mu_1)/\kappa_2`. The loop runs under :func:`jax.lax.while_loop`, at most
    :attr:`max_sample_iter` rounds; entries still rejected after that are
    returned as NaN. The acceptance rate is high for unimodal distributions but
    can be tiny for bimodal ones where both concentrations are large (say
    :math:`\kappa_1, \kappa_2 \gtrsim 30` with :math:`\rho^2 > \kappa_1
    \kappa_2`). Sampling is not reparameterized: use this distribution as a
    likelihood, or with HMC/NUTS.

    Args:
        phi_loc: :math:`\mu_1`, location of the first angle, in :math:`[-\pi, \pi]`.
        psi_loc: :math:`\mu_2`, location of the second angle, in :math:`[-\pi, \pi]`.
        phi_concentration: :math:`\kappa_1 > 0`.
        psi_concentration: :math:`\kappa_2 > 0`.
        correlation: :math:`\rho`, the coupling of the two angles.
        weighted_correlation: alternative to ``correlation`` (give exactly one):
            :math:`\rho = w \sqrt{\kappa_1 \kappa_2}`; a ``w`` in :math:`[0, 1)`
            keeps the distribution unimodal.
    """

    arg_constraints = {
        "phi_loc": constraints.circular,
        "psi_loc": constraints.circular,
        "phi_concentration": constraints.positive,
        "psi_concentration": constraints.positive,
        "correlation": constraints.real,
    }
    support = constraints.independent(constraints.circular, 1)
    max_sample_iter = 1000

    def __init__(
        self,
        phi_loc: Any,
        psi_loc: Any,
        phi_concentration: Any,
        psi_concentration: Any,
        correlation: Any = None,
        weighted_correlation: Any = None,
        *,
        validate_args: bool | None = None,
    ) -> None:
        if (correlation is None) == (weighted_correlation is None):
            given = "both" if correlation is not None else "neither"
            raise ValueError(
                "SineBivariateVonMises: give exactly one of correlation and "
                f"weighted_correlation, got {given}"
            )
        if weighted_correlation is not None:
            correlation = weighted_correlation * jnp.sqrt(
                jnp.asarray(phi_concentration) * jnp.asarray(psi_concentration)
            )
        params = (phi_loc, psi_loc, phi_concentration, psi_concentration, correlation)
        dtype = _float_dtype(*params)
        params = [jnp.asarray(p, dtype) for p in params]
        batch_shape = lax.broadcast_shapes(*(jnp.shape(p) for p in params))
        (
            self.phi_loc,
            self.psi_loc,
            self.phi_concentration,
            self.psi_concentration,
            self.correlation,
        ) = promote_shapes(*params)
        super().__init__(batch_shape, (2,), validate_args=validate_args)

    @lazy_property
    def _scaled_norm_const(self) -> jax.Array:
        r""":math:`\log C - \kappa_1 - \kappa_2`, of the parameters' broadcast shape."""
        return _scaled_log_normalizer(
            self.phi_concentration, self.psi_concentration, self.correlation
        )

    @lazy_property
    def norm_const(self) -> jax.Array:
        """The log normalizing constant :math:`\\log C`, of shape ``batch_shape``."""
        log_c = self._scaled_norm_const + self.phi_concentration + self.psi_concentration
        return jnp.broadcast_to(log_c, self.batch_shape)

    @validate_sample
    def log_prob(self, value):
        d_phi = value[..., 0] - self.phi_loc
        d_psi = value[..., 1] - self.psi_loc
        # Written relative to the mode's value, log C - kappa_1 - kappa_2 stays
        # O(log kappa) and large concentrations lose no precision.
        unnormalized = (
            self.phi_concentration * (jnp.cos(d_phi) - 1.0)
            + self.psi_concentration * (jnp.cos(d_psi) - 1.0)
            + self.correlation * jnp.sin(d_phi) * jnp.sin(d_psi)
        )
        return unnormalized - self._scaled_norm_const

    def sample(self, key, sample_shape=()):
        _check_key(key, "SineBivariateVonMises")
        shape = self.shape(sample_shape)[:-1]
        phi_loc, psi_loc, k1, k2, rho = (
            jnp.broadcast_to(p, shape)
            for p in (
                self.phi_loc,
                self.psi_loc,
                self.phi_concentration,
                self.psi_concentration,
                self.correlation,
            )
        )
        phi, psi, accepted = _sample_centred(key, k1, k2, rho, self.max_sample_iter)
        angles = jnp.stack([_wrap_angle(phi + phi_loc), _wrap_angle(psi + psi_loc)], axis=-1)
        return jnp.where(accepted[..., None], angles, jnp.nan)

    @property
    def mean(self) -> jax.Array:
        """Circular means: :math:`(\\mu_1, \\mu_2)` wrapped to :math:`[-\\pi, \\pi)`."""
        loc = jnp.stack(jnp.broadcast_arrays(self.phi_loc, self.psi_loc), axis=-1)
        return jnp.broadcast_to(_wrap_angle(loc), self.batch_shape + self.event_shape)


# -- SineSkewed --------------------------------------------------------------------------


class SineSkewed(Distribution):
    r"""Sine-skewed distribution on the :math:`d`-torus (Ameijeiras-Alonso and Ley, 2019).

    .. math::
        p(x) = f(x) \Big(1 + \sum_{i=1}^d \lambda_i \sin(x_i - \mu_i)\Big)

    where :math:`f` is ``base_dist``, a density on :math:`[-\pi, \pi)^d` that is
    centrally symmetric about its ``mean`` :math:`\mu` (:math:`f(\mu + y) =
    f(\mu - y)`), e.g. :class:`~ppl.distributions.VonMises` made an event with
    ``.to_event(1)``, :class:`SineBivariateVonMises` or
    ``Uniform(-pi, pi).expand([d]).to_event(1)``. The symmetry keeps :math:`p`
    normalized when :math:`\sum_i |\lambda_i| \le 1`. A draw keeps a draw
    :math:`y` of the base with probability :math:`\tfrac12(1 + \sum_i \lambda_i
    \sin(y_i - \mu_i))` and reflects it to :math:`2\mu - y` otherwise.

    Args:
        base_dist: the symmetric base distribution, with event shape ``(d,)``.
        skewness: :math:`\lambda`, of shape ``(..., d)``, in the L1 unit ball.
    """

    arg_constraints = {"skewness": constraints.l1_ball}
    support = constraints.independent(constraints.circular, 1)
    pytree_data_fields = ("base_dist", "skewness")

    def __init__(
        self, base_dist: Distribution, skewness: Any, *, validate_args: bool | None = None
    ) -> None:
        if not isinstance(base_dist, Distribution):
            raise TypeError(
                f"SineSkewed: base_dist must be a Distribution, got {type(base_dist).__name__}"
            )
        skewness = jnp.asarray(skewness, _float_dtype(skewness))
        if len(base_dist.event_shape) != 1 or base_dist.event_shape != skewness.shape[-1:]:
            raise ValueError(
                "SineSkewed: base_dist must have event shape (d,) on a d-torus and skewness "
                f"one weight per angle, shape (..., d); got base event shape "
                f"{base_dist.event_shape} and skewness shape {skewness.shape}"
            )
        event_shape = base_dist.event_shape
        batch_shape = lax.broadcast_shapes(base_dist.batch_shape, skewness.shape[:-1])
        self.skewness = jnp.broadcast_to(skewness, batch_shape + event_shape)
        self.base_dist = base_dist.expand(batch_shape)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def _skew(self, value: jax.Array) -> jax.Array:
        return jnp.sum(self.skewness * jnp.sin(value - self.base_dist.mean), axis=-1)

    def sample(self, key, sample_shape=()):
        _check_key(key, "SineSkewed")
        base_key, skew_key = random.split(key)
        base = self.base_dist(rng_key=base_key, sample_shape=sample_shape)
        u = random.uniform(skew_key, self.shape(sample_shape)[:-1], jnp.result_type(base))
        keep = u <= 0.5 * (1.0 + self._skew(base))
        reflected = 2.0 * self.base_dist.mean - base
        return _wrap_angle(jnp.where(keep[..., None], base, reflected))

    @validate_sample
    def log_prob(self, value):
        return self.base_dist.log_prob(value) + jnp.log1p(self._skew(value))

    @property
    def mean(self) -> jax.Array:
        """The centre of symmetry of the base distribution (as in NumPyro)."""
        return self.base_dist.mean
