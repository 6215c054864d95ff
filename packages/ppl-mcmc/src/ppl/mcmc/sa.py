"""Sample Adaptive MCMC (Zhu, 2019): a gradient-free kernel that adapts a Gaussian
proposal to a population of points.

The state holds :math:`N` points :math:`S = \\{x_1, \\dots, x_N\\}`. A
transition draws :math:`x_{N+1} \\sim q(\\cdot \\mid \\theta(S))`, a Gaussian with
the mean and covariance of :math:`S`, then removes one of the :math:`N + 1`
points, point :math:`j` with probability

.. math::

    \\lambda_j \\propto \\frac{q(x_j \\mid \\theta(S_{-j}))}{\\pi(x_j)},

where :math:`S_{-j}` is the set of :math:`N + 1` points without :math:`x_j`.
This leaves :math:`\\prod_n \\pi(x_n)` invariant. Only one evaluation of the
potential is needed per transition; the mean and covariance (a Cholesky
factor when ``dense_mass=True``) of each :math:`S_{-j}` follow from those of
:math:`S` by rank-one updates. As in NumPyro, each transition reports one
point drawn at random from the population (rather than all :math:`N`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import logsumexp

from ppl.distributions.util import cholesky_update
from ppl.infer.initialization import init_to_uniform
from ppl.mcmc.checks import structure_key
from ppl.mcmc.model_init import ModelKernel

__all__ = ["SA", "SAAdaptState", "SAState"]

#: A proposal whose potential exceeds the current one by more than this is
#: reported as diverging.
MAX_DELTA_ENERGY = 1000.0


class SAAdaptState(NamedTuple):
    """The population of :class:`SA`.

    Attributes:
        zs: the :math:`N` points, flattened: shape ``(N, D)``.
        pes: their potential energies, shape ``(N,)``.
        loc: the mean of ``zs``.
        inv_mass_matrix_sqrt: the proposal scale: the lower Cholesky factor of
            the (biased) covariance of ``zs`` when ``dense_mass=True``, else
            their standard deviations.
    """

    zs: jax.Array
    pes: jax.Array
    loc: jax.Array
    inv_mass_matrix_sqrt: jax.Array


class SAState(NamedTuple):
    """The state of :class:`SA`.

    Attributes:
        i: the iteration count (warmup iterations included).
        z: the reported latent values (unconstrained), one point of the
            population picked at random.
        potential_energy: the potential energy at ``z``.
        accept_prob: the probability that the last proposal entered the
            population (was not the point removed).
        mean_accept_prob: the running mean of ``accept_prob`` (restarted when
            sampling starts).
        diverging: whether the last proposal's potential exceeded that of the
            previous ``z`` by more than 1000.
        adapt_state: the population, an :class:`SAAdaptState`.
        rng_key: the random key for the next transition.
    """

    i: jax.Array
    z: Any
    potential_energy: jax.Array
    accept_prob: jax.Array
    mean_accept_prob: jax.Array
    diverging: jax.Array
    adapt_state: SAAdaptState
    rng_key: jax.Array


# -- the Gaussian proposal and its leave-one-out versions ----------------------


def _population_scale(zs: jax.Array, loc: jax.Array, dense: bool, fallback: jax.Array) -> jax.Array:
    """The proposal scale of a population: Cholesky factor of its biased covariance
    (``fallback`` when that is not positive definite), or its standard deviations."""
    centered = zs - loc
    if not dense:
        return jnp.sqrt(jnp.mean(centered**2, axis=0))
    cholesky = jnp.linalg.cholesky(centered.T @ centered / zs.shape[0])
    return jnp.where(jnp.any(jnp.isnan(cholesky)), fallback, cholesky)


def _draw(scale: jax.Array, rng_key: jax.Array, batch_shape: tuple[int, ...] = ()) -> jax.Array:
    eps = jax.random.normal(rng_key, batch_shape + scale.shape[:1])
    return eps * scale if scale.ndim == 1 else eps @ scale.T


def _leave_one_out(
    zs: jax.Array, loc: jax.Array, scale: jax.Array, new: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Mean and scale of each population with ``zs[j]`` replaced by ``new``.

    With weight :math:`w = 1/N` and :math:`\\Sigma` the biased covariance of
    :math:`S`, replacing :math:`x_j` by :math:`x` gives

    .. math::

        \\mu_j = \\mu + w (x - x_j),\\quad
        \\Sigma_j = \\Sigma + w (x - \\mu)(x - \\mu)^T - w (x_j - \\mu)(x_j - \\mu)^T
                   - w^2 (x - x_j)(x - x_j)^T .
    """
    w = 1.0 / zs.shape[0]
    locs = loc + w * (new - zs)
    if scale.ndim == 1:
        var = scale**2 + w * (new - loc) ** 2
        var_j = var - w * (zs - loc) ** 2 - w**2 * (new - zs) ** 2
        return locs, jnp.sqrt(var_j)
    grown = cholesky_update(scale, new - loc, w)
    scales = cholesky_update(grown, zs - loc, -w)
    scales = cholesky_update(scales, new - zs, -(w**2))
    return locs, scales


def _gaussian_log_density(x: jax.Array, loc: jax.Array, scale: jax.Array) -> jax.Array:
    """Log density of each ``x[j]`` under its Gaussian ``(loc[j], scale[j])``, up to a
    constant shared by all ``j``."""
    if scale.ndim == 2:  # diagonal scales, one row per point
        return jnp.sum(-0.5 * ((x - loc) / scale) ** 2 - jnp.log(scale), axis=-1)

    def one(x: jax.Array, loc: jax.Array, tril: jax.Array) -> jax.Array:
        white = solve_triangular(tril, x - loc, lower=True)
        return -0.5 * jnp.dot(white, white) - jnp.sum(jnp.log(jnp.diagonal(tril)))

    return jax.vmap(one)(x, loc, scale)


def _removal_log_weights(log_q: jax.Array, pes: jax.Array) -> jax.Array:
    """:math:`\\log\\lambda_j = \\log q_{-j}(x_j) + U(x_j)`, made safe.

    A point whose potential is infinite (or NaN) has zero target density and
    is removed first. A point whose removal would leave a degenerate
    population (its leave-one-out scale is not finite) is kept. If no point is
    removable, the proposal (the last point) is.
    """
    invalid = jnp.isnan(pes) | (pes == jnp.inf)
    log_w = log_q + jnp.where(invalid, 0.0, pes)
    log_w = jnp.where(jnp.isfinite(log_w), log_w, -jnp.inf)
    log_w = jnp.where(jnp.any(invalid), jnp.where(invalid, 0.0, -jnp.inf), log_w)
    reject = jnp.full_like(log_w, -jnp.inf).at[-1].set(0.0)
    return jnp.where(jnp.all(log_w == -jnp.inf), reject, log_w)


def _sa_transition(potential_fn: Callable, num_warmup: int, state: SAState) -> SAState:
    zs, pes, _, scale = state.adapt_state
    dense = scale.ndim == 2
    # Mean and scale are recomputed from the points, so rounding errors of the
    # rank-one updates do not accumulate.
    loc = jnp.mean(zs, axis=0)
    scale = _population_scale(zs, loc, dense, scale)
    rng_key, key_proposal, key_remove, key_pick = jax.random.split(state.rng_key, 4)
    _, unravel = ravel_pytree(state.z)

    new = loc + _draw(scale, key_proposal)
    new_pe = potential_fn(unravel(new))
    new_pe = jnp.where(jnp.isnan(new_pe), jnp.inf, new_pe)
    diverging = (new_pe - state.potential_energy) > MAX_DELTA_ENERGY

    locs, scales = _leave_one_out(zs, loc, scale, new)
    # Candidate j < N is old point j (its leave-one-out population holds the
    # proposal); candidate N is the proposal (its population is S itself).
    candidates = jnp.concatenate([zs, new[None]])
    candidate_pes = jnp.concatenate([pes, new_pe[None]])
    candidate_locs = jnp.concatenate([locs, loc[None]])
    candidate_scales = jnp.concatenate([scales, scale[None]])
    log_q = _gaussian_log_density(candidates, candidate_locs, candidate_scales)
    log_w = _removal_log_weights(log_q, candidate_pes)
    removed = jax.random.categorical(key_remove, log_w)
    keep = jnp.arange(zs.shape[0]) + (jnp.arange(zs.shape[0]) >= removed)
    zs, pes = candidates[keep], candidate_pes[keep]
    adapt_state = SAAdaptState(zs, pes, candidate_locs[removed], candidate_scales[removed])

    accept_prob = -jnp.expm1(log_w[-1] - logsumexp(log_w))
    i = state.i + 1
    # The running mean restarts when sampling starts.
    n = jnp.where(state.i < num_warmup, i, i - num_warmup).astype(accept_prob.dtype)
    mean_accept_prob = state.mean_accept_prob + (accept_prob - state.mean_accept_prob) / n
    pick = jax.random.randint(key_pick, (), 0, zs.shape[0])
    return SAState(
        i=i,
        z=unravel(zs[pick]),
        potential_energy=pes[pick],
        accept_prob=accept_prob,
        mean_accept_prob=mean_accept_prob,
        diverging=diverging,
        adapt_state=adapt_state,
        rng_key=rng_key,
    )


def _sa_init(potential_fn: Callable, z: Any, size: int, dense: bool, rng_key: jax.Array) -> SAState:
    z_flat, unravel = ravel_pytree(z)
    key_sa, key_points, key_pick = jax.random.split(rng_key, 3)
    # The initial population is a standard normal cloud around the initial point.
    identity = jnp.eye(z_flat.size, dtype=z_flat.dtype) if dense else jnp.ones_like(z_flat)
    zs = z_flat + _draw(identity, key_points, (size,))
    pes = jax.vmap(lambda x: potential_fn(unravel(x)))(zs)
    pes = jnp.where(jnp.isnan(pes), jnp.inf, pes)
    loc = jnp.mean(zs, axis=0)
    pick = jax.random.randint(key_pick, (), 0, size)
    float_zero = jnp.zeros((), z_flat.dtype)
    return SAState(
        i=jnp.zeros((), jnp.int32),
        z=unravel(zs[pick]),
        potential_energy=pes[pick],
        accept_prob=float_zero,
        mean_accept_prob=float_zero,
        diverging=jnp.zeros((), bool),
        adapt_state=SAAdaptState(zs, pes, loc, _population_scale(zs, loc, dense, identity)),
        rng_key=key_sa,
    )


# -- the kernel class ----------------------------------------------------------


class SA(ModelKernel):
    """Sample Adaptive MCMC (Zhu, 2019), a gradient-free kernel.

    Each transition evaluates the potential once: it proposes a point from a
    Gaussian fitted to a population of ``adapt_state_size`` points and drops
    one of the enlarged population (see :mod:`ppl.mcmc.sa`). It is cheap per
    step but needs many warmup steps for the population to reach the typical
    set. Each draw is one point of the population picked at random.

    Args:
        model: a model built from ppl primitives; the potential energy is
            derived from it. Exactly one of ``model`` and ``potential_fn`` is
            required.
        potential_fn: the potential energy :math:`U(z)` of latent values
            ``z`` of any pytree type; ``init_params`` of the same type must
            then be given to :meth:`init` / :meth:`MCMC.run`.
        adapt_state_size: the population size :math:`N > 1`; defaults to
            twice the number of latent dimensions.
        dense_mass: fit a full-covariance Gaussian (``True``) or one with a
            diagonal covariance (``False``).
        init_strategy: the initialization strategy for a ``model``.

    References:
        Zhu, M. (2019). *Sample Adaptive MCMC*. NeurIPS 32.

    Example:
        >>> import jax
        >>> import ppl
        >>> import ppl.distributions as dist
        >>> from ppl.mcmc import MCMC
        >>> from ppl.mcmc.sa import SA
        >>> def model():
        ...     ppl.sample("x", dist.Normal(0.0, 2.0).expand([3]))
        >>> mcmc = MCMC(SA(model), num_warmup=2000, num_samples=2000, progress_bar=False)
        >>> mcmc.run(jax.random.PRNGKey(0))
        >>> mcmc.get_samples()["x"].shape
        (2000, 3)
    """

    def __init__(
        self,
        model: Callable | None = None,
        potential_fn: Callable | None = None,
        adapt_state_size: int | None = None,
        dense_mass: bool = True,
        init_strategy: Callable = init_to_uniform,
    ) -> None:
        super().__init__(model, potential_fn, init_strategy)
        if adapt_state_size is not None and (
            not isinstance(adapt_state_size, (int, np.integer))
            or isinstance(adapt_state_size, bool)
            or adapt_state_size < 2
        ):
            raise ValueError(
                f"adapt_state_size must be an integer greater than 1 or None, got "
                f"{adapt_state_size!r}"
            )
        if not isinstance(dense_mass, (bool, np.bool_)):
            raise ValueError(f"dense_mass must be a bool, got {dense_mass!r}")
        self._adapt_state_size = None if adapt_state_size is None else int(adapt_state_size)
        self._dense_mass = bool(dense_mass)
        # Built by init.
        self._num_warmup = 0

    @property
    def default_fields(self) -> tuple[str, ...]:
        return ("z", "diverging")

    def get_diagnostics_str(self, state: SAState) -> str:
        return f"acc. prob={float(state.mean_accept_prob):.2f}"

    def init(
        self,
        rng_key: jax.Array,
        num_warmup: int,
        init_params: Any = None,
        model_args: tuple = (),
        model_kwargs: dict | None = None,
    ) -> SAState:
        """The initial :class:`SAState` (a batch of states for a batch of keys).

        The population starts as ``adapt_state_size`` standard normal draws
        around the initial point.

        Args:
            rng_key: a key, or a batch of keys (then ``init_params``, if given,
                has a leading batch dimension).
            num_warmup: the number of warmup iterations.
            init_params: initial unconstrained values; required with
                ``potential_fn``.
            model_args: positional arguments of the model.
            model_kwargs: keyword arguments of the model.
        """
        model_kwargs = {} if model_kwargs is None else model_kwargs
        init = self._prepare_init(
            rng_key, num_warmup, init_params, model_args, model_kwargs, validate_grad=False
        )
        rng_key, z, z_single, batched = init.rng_key, init.z, init.z_single, init.batched
        dim = int(ravel_pytree(z_single)[0].size)
        if dim == 0:
            raise ValueError("init_params has no latent values to sample")
        size = 2 * dim if self._adapt_state_size is None else self._adapt_state_size
        if self._dense_mass and size <= dim:
            warnings.warn(
                f"SA with dense_mass=True fits a {dim}x{dim} covariance to adapt_state_size="
                f"{size} points, which is singular; use adapt_state_size > {dim}",
                UserWarning,
                stacklevel=2,
            )
        self._num_warmup = int(num_warmup)
        self._spec_key = (self._num_warmup, structure_key(z_single), size, self._dense_mass)
        self._sample_fn = self._sample_chains
        dense = self._dense_mass

        def init_state(potential_fn: Callable, z: Any, rng_key: jax.Array) -> SAState:
            return _sa_init(potential_fn, z, size, dense, rng_key)

        spec = (structure_key(z_single), size)
        return self._run_compiled_init(
            model_args,
            model_kwargs,
            z_single,
            spec,
            init_state,
            (z, rng_key),
            (None, 0, 0) if batched else None,
        )

    def _transition(self, potential_fn: Callable, state: SAState) -> SAState:
        return _sa_transition(potential_fn, self._num_warmup, state)

    def sample(self, state: SAState, model_args: tuple, model_kwargs: dict) -> SAState:
        """One SA transition from ``state``."""
        return self._run_sample(state, model_args, model_kwargs)
