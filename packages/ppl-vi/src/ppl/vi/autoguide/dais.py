r"""Differentiable annealed importance sampling (DAIS) as an autoguide.

The guide draws :math:`z_0` from a Gaussian base :math:`q_0` over the
unconstrained latent vector and moves it with :math:`K` steps of uncorrected,
underdamped Langevin (Hamiltonian) dynamics whose targets anneal from
:math:`q_0` to the unnormalized posterior :math:`p`:

.. math::

    \log \pi_k(z) = (1 - \beta_k) \log q_0(z) + \beta_k \log p(x, z),
    \qquad 0 < \beta_1 < \dots < \beta_K = 1 .

Each step starts from a momentum :math:`v_k` (a fresh draw
:math:`v \sim \mathcal{N}(0, m^2)` at the first step, a partial refreshment
:math:`v_k = \gamma \hat v_{k-1} + \sqrt{1-\gamma^2}\,\epsilon_k` after that)
and takes one leapfrog step with step size :math:`\eta_k`:

.. math::

    z_{k-\frac12} = z_{k-1} + \eta_k \frac{v_k}{2m}, \quad
    \hat v_k = v_k + \eta_k \nabla \log \pi_k(z_{k-\frac12}), \quad
    z_k = z_{k-\frac12} + \eta_k \frac{\hat v_k}{2m}.

The leapfrog map is volume preserving and the refreshment leaves
:math:`\mathcal{N}(0, m^2)` invariant, so with the reversed chain as the
backward process the augmented importance weight reduces to

.. math::

    \log w = \log p(x, z_K) - \log q_0(z_0)
    + \sum_{k=1}^{K} \left[\log \mathcal{N}(\hat v_k; 0, m^2)
    - \log \mathcal{N}(v_k; 0, m^2)\right],

whose expectation under the guide is a lower bound on :math:`\log p(x)` and
whose exponential is an unbiased estimate of :math:`p(x)` (Geffner & Domke
2021, "MCMC variational inference via uncorrected Hamiltonian annealing";
Zhang et al. 2021, "Differentiable annealed importance sampling and the perils
of gradient noise"). The guide records the momentum sum as a ``factor``, so any
ELBO that counts the guide's factors (e.g. :class:`~ppl.vi.Trace_ELBO`)
estimates this bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ppl import constraints
from ppl.distributions import MultivariateNormal, Normal
from ppl.handlers import block, seed, substitute
from ppl.infer.initialization import init_to_uniform
from ppl.primitives import factor, param, sample
from ppl.vi.autoguide.continuous import AutoContinuous, _check_init_scale

__all__ = ["AutoDAIS"]

_BASE_DISTS = ("diagonal", "cholesky")

#: Posterior draws per vectorized batch in :meth:`AutoDAIS.sample_posterior`.
_SAMPLE_BATCH = 256


class _ChainState(NamedTuple):
    """The annealed chain between two steps."""

    z: jax.Array
    #: the momentum after the last leapfrog step (before its refreshment)
    v_hat: jax.Array
    #: the running sum of ``log N(v_hat) - log N(v)`` (the momentum part of ``log w``)
    log_weight: jax.Array


class _Dynamics(NamedTuple):
    """The learned settings of the annealed Langevin chain."""

    eta0: jax.Array
    eta_coeff: jax.Array
    eta_max: float
    gamma: jax.Array
    #: momentum scale :math:`m` (one per latent dimension)
    mass: jax.Array


def annealing_schedule(increments: jax.Array) -> jax.Array:
    r"""The inverse temperatures :math:`\beta_k = \sum_{j \le k} \delta_j / \sum_j \delta_j`
    from positive increments, increasing to exactly 1."""
    betas = jnp.cumsum(increments)
    return betas / betas[-1]


def run_annealed_chain(
    z0: jax.Array,
    noise: jax.Array,
    betas: jax.Array,
    dynamics: _Dynamics,
    grad_log_target: Callable[[jax.Array, jax.Array], jax.Array],
) -> tuple[jax.Array, jax.Array]:
    r"""Run the :math:`K` annealed leapfrog steps from ``z0``.

    Args:
        z0: the starting point, shape ``(D,)``.
        noise: ``(K, D)`` draws from :math:`\mathcal{N}(0, m^2)`: the first is the
            initial momentum, the others refresh it before each later step.
        betas: the ``K`` inverse temperatures.
        dynamics: step sizes, damping and momentum scale.
        grad_log_target: ``(z, beta) -> grad log pi_beta(z)``.

    Returns:
        ``(z_K, log_weight)``: the final point and the momentum part of the log
        importance weight.
    """
    momentum = Normal(jnp.zeros_like(dynamics.mass), dynamics.mass).to_event(1)
    half_inverse_mass = 0.5 / dynamics.mass
    keep = dynamics.gamma
    # The refreshment v = keep * v_hat + sqrt(1 - keep^2) * eps leaves N(0, m^2) invariant.
    fresh = jnp.sqrt(1.0 - keep**2)

    def step(state: _ChainState, inputs: tuple) -> tuple[_ChainState, None]:
        k, beta, eps = inputs
        v = jnp.where(k == 0, eps, keep * state.v_hat + fresh * eps)
        eta = jnp.clip(dynamics.eta0 + dynamics.eta_coeff * beta, 0.0, dynamics.eta_max)
        z_half = state.z + eta * v * half_inverse_mass
        v_hat = v + eta * grad_log_target(z_half, beta)
        z = z_half + eta * v_hat * half_inverse_mass
        log_weight = state.log_weight + momentum.log_prob(v_hat) - momentum.log_prob(v)
        return _ChainState(z, v_hat, log_weight), None

    num_steps = jnp.shape(betas)[0]
    init = _ChainState(z0, jnp.zeros_like(z0), jnp.zeros((), z0.dtype))
    final, _ = jax.lax.scan(step, init, (jnp.arange(num_steps), betas, noise))
    return final.z, final.log_weight


class AutoDAIS(AutoContinuous):
    r"""A guide given by differentiable annealed importance sampling (also called
    uncorrected Hamiltonian annealing) over the unconstrained latent vector.

    A Gaussian base (diagonal or full covariance) is moved towards the
    posterior by ``K`` annealed underdamped Langevin steps (see
    :mod:`ppl.vi.autoguide.dais` for the dynamics and the bound). Everything is
    learned: the base (``{prefix}_z_0_loc`` and ``{prefix}_z_0_scale`` or
    ``{prefix}_z_0_scale_tril``), the step size
    :math:`\eta_k = \mathrm{clip}(\eta_0 + c\,\beta_k, 0, \eta_{\max})`
    (``{prefix}_eta0``, ``{prefix}_eta_coeff``), the damping :math:`\gamma`
    (``{prefix}_gamma``), the schedule increments
    (``{prefix}_beta_increments``) and the momentum scale :math:`m`
    (``{prefix}_mass_matrix``). The auxiliary sites ``{prefix}_z_0`` and
    ``{prefix}_momentum`` hold the chain's randomness and the factor
    ``{prefix}_factor`` its momentum weights.

    The dynamics use the model's log density at the model arguments of each
    call, with model params fixed at their initial values. Data subsampling is
    not supported (the dynamics need the full log density).

    Example::

        guide = AutoDAIS(model, K=8)
        svi = SVI(model, guide, optax.adam(0.01), Trace_ELBO())
        result = svi.run(jax.random.key(0), 2000, data)
        draws = guide.sample_posterior(jax.random.key(1), result.params, sample_shape=(1000,))

    Args:
        model: the model.
        K: the number of annealed leapfrog steps (at least 1).
        base_dist: ``"diagonal"`` (a diagonal Normal base) or ``"cholesky"``
            (a full-covariance Normal base).
        eta_init: the initial step size, in :math:`(0, \eta_{\max})`.
        eta_max: the largest step size.
        gamma_init: the initial momentum damping, in :math:`(0, 1)`.
        prefix, init_loc_fn: see :class:`~ppl.vi.autoguide.AutoGuide`.
        init_scale: the initial scale of the base distribution.
    """

    def __init__(
        self,
        model: Callable,
        *,
        K: int = 4,
        base_dist: str = "diagonal",
        eta_init: float = 0.01,
        eta_max: float = 0.1,
        gamma_init: float = 0.9,
        prefix: str = "auto",
        init_loc_fn: Callable = init_to_uniform,
        init_scale: float = 0.1,
    ) -> None:
        _check_dais_arguments("AutoDAIS", K, base_dist, eta_init, eta_max, gamma_init)
        _check_init_scale("AutoDAIS", init_scale)
        self.K = int(K)
        self.base_dist = base_dist
        self.eta_init = eta_init
        self.eta_max = eta_max
        self.gamma_init = gamma_init
        self._init_scale = init_scale
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn)

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        for name, site in self.prototype_trace.items():
            if site["type"] == "plate" and site["args"][0] != site["args"][1]:
                raise NotImplementedError(
                    f"AutoDAIS cannot be used with data subsampling (plate {name!r} draws "
                    f"{site['args'][1]} of {site['args'][0]}): its dynamics need the full log "
                    "density"
                )

    # -- the guide -------------------------------------------------------------------------

    def _base_distribution(self) -> Any:
        loc = param(f"{self.prefix}_z_0_loc", self._init_latent)
        if self.base_dist == "diagonal":
            scale = param(
                f"{self.prefix}_z_0_scale",
                jnp.full(self.latent_dim, self._init_scale),
                constraint=constraints.positive,
            )
            return Normal(loc, scale).to_event(1)
        scale_tril = param(
            f"{self.prefix}_z_0_scale_tril",
            jnp.identity(self.latent_dim) * self._init_scale,
            constraint=constraints.scaled_unit_lower_cholesky,
        )
        return MultivariateNormal(loc, scale_tril=scale_tril)

    def _dynamics(self) -> tuple[_Dynamics, jax.Array]:
        eta0 = param(
            f"{self.prefix}_eta0",
            self.eta_init,
            constraint=constraints.interval(0.0, self.eta_max),
        )
        eta_coeff = param(f"{self.prefix}_eta_coeff", 0.0)
        gamma = param(
            f"{self.prefix}_gamma", self.gamma_init, constraint=constraints.interval(0.0, 1.0)
        )
        increments = param(
            f"{self.prefix}_beta_increments", jnp.ones(self.K), constraint=constraints.positive
        )
        mass = param(
            f"{self.prefix}_mass_matrix", jnp.ones(self.latent_dim), constraint=constraints.positive
        )
        return _Dynamics(eta0, eta_coeff, self.eta_max, gamma, mass), annealing_schedule(increments)

    def _log_joint(self, args: tuple, kwargs: dict) -> Callable[[jax.Array], jax.Array]:
        """The model's log density over the unconstrained latent vector."""
        potential = (
            self._potential_fn_gen(*args, **kwargs) if args or kwargs else self._potential_fn
        )

        def log_joint(z: jax.Array) -> jax.Array:
            # The model runs inside the guide; none of its sites may reach the guide's trace.
            with block():
                return -potential(self._unpack_latent(z))

        return log_joint

    def _sample_latent(self, *args: Any, **kwargs: Any) -> jax.Array:
        kwargs.pop("sample_shape", None)
        base = self._base_distribution()
        dynamics, betas = self._dynamics()
        log_joint = self._log_joint(args, kwargs)

        def log_target(z: jax.Array, beta: jax.Array) -> jax.Array:
            return (1.0 - beta) * base.log_prob(z) + beta * log_joint(z)

        z0 = sample(f"{self.prefix}_z_0", base, infer={"is_auxiliary": True})
        momentum = Normal(jnp.zeros(self.latent_dim), dynamics.mass).to_event(1)
        # The momenta's density cancels from the bound (only the ratios along the chain stay),
        # so the site is masked out of the guide's log density.
        noise = sample(
            f"{self.prefix}_momentum",
            momentum.expand((self.K,)).to_event(1).mask(False),
            infer={"is_auxiliary": True},
        )
        z, log_weight = run_annealed_chain(z0, noise, betas, dynamics, jax.grad(log_target))
        factor(f"{self.prefix}_factor", -log_weight)
        return z

    # -- the posterior ---------------------------------------------------------------------

    def _get_posterior(self) -> Any:
        raise NotImplementedError(
            "AutoDAIS has no closed-form posterior distribution; draw from it with sample_posterior"
        )

    def get_transform(self, params: dict) -> Any:
        """Not available: the DAIS posterior is not a transformed base distribution."""
        self._get_posterior()

    def get_posterior(self, params: dict) -> Any:
        """Not available: the DAIS posterior has no closed-form density."""
        self._get_posterior()

    def sample_posterior(
        self, rng_key: jax.Array, params: dict, *args: Any, sample_shape: tuple = (), **kwargs: Any
    ) -> dict:
        """Draws from the guide: each runs the annealed chain from a base draw.

        Args:
            rng_key: a random key.
            params: the trained params (e.g. ``svi.get_params(state)``).
            args, kwargs: the model's arguments (by default those of the first call).
            sample_shape: the leading shape of the draws.

        Returns:
            ``{site: draws}`` for the latent and deterministic sites of the model.
        """
        self._check_setup()
        sample_shape = tuple(sample_shape)

        def draw(key: jax.Array, params: dict) -> jax.Array:
            return substitute(seed(self._sample_latent, key), data=params)(*args, **kwargs)

        if sample_shape:
            num_draws = math.prod(sample_shape)
            # Chains run in equal vectorized batches (one compiled body), which bounds the
            # memory of many draws; the few surplus draws of the last batch are dropped.
            num_batches = -(-num_draws // _SAMPLE_BATCH)
            batch_size = -(-num_draws // num_batches)
            keys = jax.random.split(rng_key, num_batches * batch_size)
            keys = jnp.reshape(keys, (num_batches, batch_size, *jnp.shape(keys)[1:]))

            @jax.jit
            def draws(keys: jax.Array, params: dict) -> jax.Array:
                batch = jax.vmap(draw, in_axes=(0, None))
                return jax.lax.map(lambda batch_keys: batch(batch_keys, params), keys)

            latent = jnp.reshape(draws(keys, params), (-1, self.latent_dim))[:num_draws]
            latent = jnp.reshape(latent, (*sample_shape, self.latent_dim))
        else:
            latent = jax.jit(draw)(rng_key, params)
        return self._unpack_and_constrain(latent, params, args, kwargs)


def _check_dais_arguments(
    owner: str, K: Any, base_dist: Any, eta_init: Any, eta_max: Any, gamma_init: Any
) -> None:
    if isinstance(K, bool) or not isinstance(K, int | np.integer) or K < 1:
        raise ValueError(
            f"{owner}: K (the number of annealing steps) must be an integer >= 1, got {K!r}"
        )
    if base_dist not in _BASE_DISTS:
        raise ValueError(
            f"{owner}: base_dist must be one of {list(_BASE_DISTS)}, got {base_dist!r}"
        )
    if not eta_max > 0:
        raise ValueError(f"{owner}: eta_max must be positive, got {eta_max!r}")
    if not 0 < eta_init < eta_max:
        raise ValueError(
            f"{owner}: eta_init must satisfy 0 < eta_init < eta_max (= {eta_max!r}), "
            f"got {eta_init!r}"
        )
    if not 0 < gamma_init < 1:
        raise ValueError(
            f"{owner}: gamma_init must be in the open interval (0, 1), got {gamma_init!r}"
        )
