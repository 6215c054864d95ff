"""Ensemble samplers: gradient-free kernels whose chains (walkers) inform each
other's proposals.

An ensemble of :math:`K` walkers targets :math:`\\prod_k \\pi(x_k)`. Each
iteration splits the walkers into two halves and updates one half at a time,
with moves built from the positions of the other (complementary) half; since
those are held fixed while the active half moves, each half-update leaves the
joint target invariant. The walkers are the chains of a
``chain_method="vectorized"`` :class:`~ppl.mcmc.mcmc.MCMC` run.

* :class:`AIES`, affine-invariant ensemble sampling (Goodman & Weare, 2010;
  emcee): Metropolis-Hastings with stretch or differential-evolution moves.
* :class:`ESS`, ensemble slice sampling (Karamanis & Beutler, 2021; zeus):
  slice sampling along directions drawn from the complementary half, with a
  scale :math:`\\mu` tuned during warmup.

Moves are small callable objects. An :class:`AIES` move maps
``(rng_key, active, inactive)`` (arrays of flat walker positions, one row each)
to ``(proposal, log_factor)``, where ``log_factor`` is the log of the
proposal's Jacobian/Hastings factor per active walker. An :class:`ESS` move
maps ``(rng_key, inactive, mu)`` to one direction per active walker; it must
not depend on the active walkers.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree
from jax.scipy.stats import gaussian_kde

from ppl.infer.initialization import init_to_uniform
from ppl.mcmc.checks import (
    as_float_tree,
    check_init_params_against_model,
    check_scalar_potential,
    describe_shapes,
    is_batched_key,
    structure_key,
)
from ppl.mcmc.model_init import (
    ModelKernel,
    check_num_warmup,
    initialize_kernel_model,
    require_init_params,
    unwrap_init_params,
)

__all__ = [
    "AIES",
    "ESS",
    "AIESMove",
    "AIESState",
    "DifferentialEvolutionMove",
    "DifferentialMove",
    "ESSMove",
    "ESSState",
    "EnsembleSampler",
    "EnsembleSamplerState",
    "GaussianMove",
    "KDEMove",
    "RandomMove",
    "StretchMove",
]


class EnsembleSamplerState(NamedTuple):
    """The state of an ensemble sampler.

    Attributes:
        z: the walkers' latent values (unconstrained), with a leading
            ``num_chains`` dimension.
        inner_state: the sampler's own state (:class:`AIESState` or
            :class:`ESSState`).
        rng_key: the random key for the next iteration (one key for the
            whole ensemble).
    """

    z: Any
    inner_state: Any
    rng_key: jax.Array


class AIESState(NamedTuple):
    """The inner state of :class:`AIES`.

    Attributes:
        i: the iteration count, advanced by 0.5 per half-ensemble update.
        accept_prob: the fraction of proposals accepted in the last
            half-ensemble update.
        mean_accept_prob: the running mean of ``accept_prob`` (restarted when
            sampling starts).
        rng_key: the random key for the moves.
    """

    i: jax.Array
    accept_prob: jax.Array
    mean_accept_prob: jax.Array
    rng_key: jax.Array


class ESSState(NamedTuple):
    """The inner state of :class:`ESS`.

    Attributes:
        i: the iteration count, advanced by 0.5 per half-ensemble update.
        n_expansions: the number of interval expansions (stepping out) in the
            current iteration, over all walkers.
        n_contractions: the number of interval contractions (shrinking) in the
            current iteration.
        mu: the scale of the directions; tuned during warmup when
            ``tune_mu=True``.
        rng_key: the random key for the moves.
    """

    i: jax.Array
    n_expansions: jax.Array
    n_contractions: jax.Array
    mu: jax.Array
    rng_key: jax.Array


# -- moves ---------------------------------------------------------------------


def _distinct_pairs(rng_key: jax.Array, num: int, size: int) -> tuple[jax.Array, jax.Array]:
    """``num`` ordered pairs of distinct indices in ``range(size)``, uniformly."""
    key_first, key_offset = jax.random.split(rng_key)
    first = jax.random.randint(key_first, (num,), 0, size)
    second = (first + jax.random.randint(key_offset, (num,), 1, size)) % size
    return first, second


class _EnsembleMove:
    """What the moves of both samplers share: a check of the ensemble's size."""

    #: The fewest walkers a half-ensemble needs for this move.
    min_half_size: int = 1

    def check(self, half_size: int, dim: int) -> None:
        """Raise a ``ValueError`` when ``half_size`` walkers per half cannot support the move."""
        if half_size < self.min_half_size:
            raise ValueError(
                f"{type(self).__name__} needs at least {self.min_half_size} walkers in each half "
                f"of the ensemble, i.e. num_chains >= {2 * self.min_half_size}; got "
                f"num_chains={2 * half_size}"
            )


class AIESMove(_EnsembleMove, ABC):
    """A move of :class:`AIES`: ``(rng_key, active, inactive) -> (proposal, log_factor)``."""

    @abstractmethod
    def __call__(
        self, rng_key: jax.Array, active: jax.Array, inactive: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        raise NotImplementedError


class DifferentialEvolutionMove(AIESMove):
    """Differential evolution (ter Braak, 2006; Nelson et al., 2013):
    :math:`x' = x + \\gamma\\,(x_a - x_b)` for two distinct walkers :math:`a, b` of
    the complementary half, with :math:`\\gamma \\sim \\mathcal N(g_0, (g_0\\sigma)^2)`.
    The move is symmetric, so its log factor is 0.

    Args:
        sigma: the relative spread of :math:`\\gamma`.
        g0: the mean of :math:`\\gamma`; defaults to :math:`2.38/\\sqrt{2D}`
            for :math:`D` latent dimensions.
    """

    min_half_size = 2

    def __init__(self, sigma: float = 1.0e-5, g0: float | None = None) -> None:
        if not (isinstance(sigma, (int, float)) and sigma >= 0):
            raise ValueError(f"sigma must be a non-negative number, got {sigma!r}")
        if g0 is not None and not (isinstance(g0, (int, float)) and g0 > 0):
            raise ValueError(f"g0 must be a positive number or None, got {g0!r}")
        self.sigma = float(sigma)
        self.g0 = None if g0 is None else float(g0)

    def __repr__(self) -> str:
        return f"AIES.DEMove(sigma={self.sigma!r}, g0={self.g0!r})"

    def __call__(
        self, rng_key: jax.Array, active: jax.Array, inactive: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        num, dim = active.shape
        key_pairs, key_gamma = jax.random.split(rng_key)
        first, second = _distinct_pairs(key_pairs, num, inactive.shape[0])
        g0 = 2.38 / math.sqrt(2.0 * dim) if self.g0 is None else self.g0
        gamma = g0 * (1.0 + self.sigma * jax.random.normal(key_gamma, (num, 1), active.dtype))
        proposal = active + gamma * (inactive[first] - inactive[second])
        return proposal, jnp.zeros(num, active.dtype)


class StretchMove(AIESMove):
    """The stretch move (Goodman & Weare, 2010): :math:`x' = x_c + s\\,(x - x_c)`
    for a random walker :math:`x_c` of the complementary half, with
    :math:`s` drawn from :math:`g(s) \\propto 1/\\sqrt s` on :math:`[1/a, a]`;
    its log factor is :math:`(D - 1)\\log s`.

    Args:
        a: the stretch scale, greater than 1.
    """

    def __init__(self, a: float = 2.0) -> None:
        if not (isinstance(a, (int, float)) and a > 1):
            raise ValueError(f"a must be a number greater than 1, got {a!r}")
        self.a = float(a)

    def __repr__(self) -> str:
        return f"AIES.StretchMove(a={self.a!r})"

    def __call__(
        self, rng_key: jax.Array, active: jax.Array, inactive: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        num, dim = active.shape
        key_stretch, key_index = jax.random.split(rng_key)
        # Inverse-CDF draw of g(s) ~ 1/sqrt(s) on [1/a, a].
        u = jax.random.uniform(key_stretch, (num,), active.dtype)
        stretch = ((self.a - 1.0) * u + 1.0) ** 2 / self.a
        centers = inactive[jax.random.randint(key_index, (num,), 0, inactive.shape[0])]
        proposal = centers + stretch[:, None] * (active - centers)
        return proposal, (dim - 1.0) * jnp.log(stretch)


class ESSMove(_EnsembleMove, ABC):
    """A move of :class:`ESS`: ``(rng_key, inactive, mu) -> directions``, one per active
    walker (the halves have equal sizes)."""

    def __repr__(self) -> str:
        return f"ESS.{type(self).__name__}()"

    @abstractmethod
    def __call__(self, rng_key: jax.Array, inactive: jax.Array, mu: jax.Array) -> jax.Array:
        raise NotImplementedError


class DifferentialMove(ESSMove):
    """Directions :math:`2\\mu\\,(x_a - x_b)` between two distinct walkers of the
    complementary half (Karamanis & Beutler, 2021): the default, good on a wide
    range of targets."""

    min_half_size = 2

    def __call__(self, rng_key: jax.Array, inactive: jax.Array, mu: jax.Array) -> jax.Array:
        first, second = _distinct_pairs(rng_key, inactive.shape[0], inactive.shape[0])
        return 2.0 * mu * (inactive[first] - inactive[second])


class RandomMove(ESSMove):
    """Directions :math:`2\\mu\\,u` with :math:`u` uniform on the unit sphere, one per
    walker: no interaction between walkers (plain slice sampling along random
    directions); mostly for debugging."""

    def __call__(self, rng_key: jax.Array, inactive: jax.Array, mu: jax.Array) -> jax.Array:
        normal = jax.random.normal(rng_key, inactive.shape, inactive.dtype)
        return 2.0 * mu * normal / jnp.linalg.norm(normal, axis=-1, keepdims=True)


class GaussianMove(ESSMove):
    """Directions :math:`2\\mu\\,v` with :math:`v \\sim \\mathcal N(0, \\hat\\Sigma)`,
    :math:`\\hat\\Sigma` the sample covariance of the complementary half: suited to
    roughly Gaussian targets.

    :math:`v = \\sum_k \\epsilon_k (x_k - \\bar x)/\\sqrt{n - 1}` with standard normal
    :math:`\\epsilon_k` has exactly that distribution and needs no Cholesky factor,
    so it works even when :math:`\\hat\\Sigma` is singular.
    """

    min_half_size = 2

    def __call__(self, rng_key: jax.Array, inactive: jax.Array, mu: jax.Array) -> jax.Array:
        num = inactive.shape[0]
        centered = (inactive - jnp.mean(inactive, axis=0)) / math.sqrt(num - 1.0)
        eps = jax.random.normal(rng_key, (num, num), inactive.dtype)
        return 2.0 * mu * (eps @ centered)


class KDEMove(ESSMove):
    """Directions :math:`2\\mu\\,(v_1 - v_2)` between two draws of a Gaussian kernel
    density estimate of the complementary half: for multimodal targets, given
    many well-initialized walkers.

    Args:
        bw_method: the bandwidth rule of :class:`jax.scipy.stats.gaussian_kde`
            (``None`` for Scott's rule, ``"silverman"``, a number or a callable).
    """

    def __init__(self, bw_method: Any = None) -> None:
        self.bw_method = bw_method

    def __repr__(self) -> str:
        return f"ESS.KDEMove(bw_method={self.bw_method!r})"

    def check(self, half_size: int, dim: int) -> None:
        if half_size <= dim:
            raise ValueError(
                f"KDEMove needs more walkers in each half of the ensemble than latent "
                f"dimensions (a non-singular kernel covariance): num_chains/2 > {dim}, got "
                f"num_chains={2 * half_size}"
            )

    def __call__(self, rng_key: jax.Array, inactive: jax.Array, mu: jax.Array) -> jax.Array:
        num = inactive.shape[0]
        kde = gaussian_kde(inactive.T, bw_method=self.bw_method)
        draws = kde.resample(rng_key, (2 * num,)).T
        return 2.0 * mu * (draws[:num] - draws[num:])


def _normalize_moves(
    moves: Any, default: Callable, base: type, other: type, kernel: str, hint: str
) -> tuple[list[Callable], np.ndarray]:
    if not moves:
        return [default], np.ones(1)
    if not isinstance(moves, Mapping):
        raise TypeError(
            f"moves must be a dict mapping moves to their probabilities, e.g. {hint}; got "
            f"{type(moves).__name__}"
        )
    for move in moves:
        if isinstance(move, other) or not callable(move):
            raise TypeError(
                f"{kernel} moves must be {kernel} moves (such as {hint}) or callables with the "
                f"same signature; got {move!r}"
            )
    weights = np.asarray([float(w) for w in moves.values()])
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError(
            f"move probabilities must be non-negative with a positive sum, got {weights.tolist()}"
        )
    return list(moves), weights / weights.sum()


def _choose_and_apply(
    moves: list[Callable], probs: np.ndarray, rng_key: jax.Array, *operands: Any
) -> Any:
    if len(moves) == 1:
        return moves[0](rng_key, *operands)
    key_choice, key_move = jax.random.split(rng_key)
    index = jax.random.choice(key_choice, len(moves), p=jnp.asarray(probs))
    return lax.switch(index, [lambda *a, m=m: m(*a) for m in moves], key_move, *operands)


# -- the base class ------------------------------------------------------------


def _batch_ravel(z: Any) -> tuple[jax.Array, Callable[[jax.Array], Any], Callable]:
    """Flatten a batch of pytrees to ``(num_walkers, D)``; also return the batch and
    single unravel functions."""
    _, unravel_one = ravel_pytree(jax.tree.map(lambda x: x[0], z))
    flat = jax.vmap(lambda t: ravel_pytree(t)[0])(z)
    return flat, jax.vmap(unravel_one), unravel_one


def _check_walkers_spread(flat: np.ndarray) -> None:
    """Raise when the initial walkers do not span the latent space.

    Moves built from differences of walkers never leave the affine hull of the
    initial ensemble, so walkers that coincide (e.g. all initialized at one
    point) or lie in a lower-dimensional subspace cannot sample the target.
    """
    num, dim = flat.shape
    spread = flat.std(axis=0)
    flat_coordinates = np.flatnonzero(spread == 0)
    if flat_coordinates.size:
        raise ValueError(
            f"the initial walkers all have the same value in latent coordinate(s) "
            f"{flat_coordinates.tolist()}: ensemble moves cannot leave the span of the initial "
            "walkers. Give init_params with walkers spread around the region of interest (e.g. "
            "a point plus small random noise per walker)"
        )
    if num <= dim:
        return
    standardized = (flat - flat.mean(axis=0)) / spread
    singular_values = np.linalg.svd(standardized, compute_uv=False)
    if singular_values[-1] < 1e-5 * singular_values[0]:
        raise ValueError(
            "the initial walkers lie in a lower-dimensional subspace of the latent space: "
            "ensemble moves cannot leave the span of the initial walkers. Give init_params "
            "with linearly independent walkers (e.g. a point plus small random noise per walker)"
        )


def _ensemble_usage(kernel: str) -> str:
    return (
        f"{kernel} is an ensemble kernel: its walkers are the chains, so it runs with "
        "MCMC(kernel, num_chains=K, chain_method='vectorized') for an even K >= 2 (ideally at "
        "least twice the number of latent dimensions)"
    )


class EnsembleSampler(ModelKernel, ABC):
    """Base class of ensemble samplers: an iteration updates each half of the
    walkers in turn, given the other half.

    Subclasses implement :meth:`init_inner_state` and
    :meth:`update_active_chains`; the latter may call
    ``self._batch_log_density(x)``, the log density of each row of ``x``
    (NaN becomes :math:`-\\infty`).

    Each walker keeps its chain index, also with ``randomize_split=True``, so
    chain :math:`k` of the output is the Markov chain of walker :math:`k` and
    per-chain diagnostics (effective sample size, :math:`\\hat R`) measure its
    mixing. NumPyro 0.22 leaves the walkers in the shuffled order instead: its
    chains hop between walkers, which makes their draws look nearly
    independent, and its per-chain effective sample size overstates the
    precision of the pooled estimates (about six times on a 5-d normal with
    :class:`ESS`; the pooled draws themselves are equally good).

    Args:
        model: a model built from ppl primitives; exactly one of ``model`` and
            ``potential_fn`` is required.
        potential_fn: the potential energy of latent values of any pytree type;
            ``init_params`` (with a leading ``num_chains`` dimension) must then
            be given.
        randomize_split: assign walkers to the two halves at random at each
            iteration (walkers keep their chain index).
        init_strategy: the initialization strategy for a ``model``; each walker
            is initialized independently.
    """

    _transient_attrs = (*ModelKernel._transient_attrs, "_batch_log_density")

    def __init__(
        self,
        model: Callable | None = None,
        potential_fn: Callable | None = None,
        *,
        randomize_split: bool,
        init_strategy: Callable,
    ) -> None:
        super().__init__(model, potential_fn, init_strategy)
        self._randomize_split = bool(randomize_split)
        # Built by init.
        self._batch_log_density: Callable | None = None
        self._num_chains: int | None = None
        self._num_warmup = 0

    @property
    def is_ensemble_kernel(self) -> bool:
        return True

    @abstractmethod
    def init_inner_state(self, rng_key: jax.Array) -> Any:
        """The initial inner state (``self._num_chains`` and the latent size are known)."""
        raise NotImplementedError

    @abstractmethod
    def update_active_chains(
        self, active: jax.Array, inactive: jax.Array, inner_state: Any
    ) -> tuple[jax.Array, Any]:
        """Move the ``active`` walkers given the ``inactive`` ones.

        Args:
            active: flat positions of the walkers to update, ``(K/2, D)``.
            inactive: flat positions of the complementary half, ``(K/2, D)``.
            inner_state: the inner state.

        Returns:
            The new positions of the active walkers and the new inner state.
        """
        raise NotImplementedError

    def _check_moves(self, half_size: int, dim: int) -> None:
        """Raise when the kernel's built-in moves cannot work with this ensemble (user
        callables are not checked)."""
        for move in getattr(self, "_moves", ()):
            if isinstance(move, _EnsembleMove):
                move.check(half_size, dim)

    def _log_density_for(self, model_args: tuple, model_kwargs: dict, z: Any) -> Callable:
        potential_fn = self._potential_for(model_args, model_kwargs)
        _, _, unravel_one = _batch_ravel(z)

        def batch_log_density(x: jax.Array) -> jax.Array:
            log_density = -jax.vmap(lambda v: potential_fn(unravel_one(v)))(x)
            return jnp.where(jnp.isnan(log_density), -jnp.inf, log_density)

        return batch_log_density

    @contextmanager
    def _bound_log_density(self, log_density: Callable) -> Iterator[None]:
        # update_active_chains reads the log density for this call's model arguments;
        # afterwards the attribute is restored so no traced function outlives the trace.
        previous = self._batch_log_density
        self._batch_log_density = log_density
        try:
            yield
        finally:
            self._batch_log_density = previous

    def _init_walkers(
        self, rng_key: jax.Array, init_params: Any, model_args: tuple, model_kwargs: dict
    ) -> Any:
        name = type(self).__name__
        init_params = unwrap_init_params(init_params)
        if self._model is not None:
            # One eager search per walker is cheaper than compiling a batched search.
            keys = jax.random.split(rng_key, self._num_chains if init_params is None else 1)
            setups = [
                initialize_kernel_model(
                    name,
                    self._model,
                    key,
                    init_strategy=self._init_strategy,
                    model_args=model_args,
                    model_kwargs=model_kwargs,
                    validate_grad=False,
                )
                for key in keys
            ]
            self._keep_model_fns(setups[0])
            if init_params is None:
                return jax.tree.map(lambda *xs: jnp.stack(xs), *[s.z for s in setups])
            first = jax.tree.map(lambda x: x[0] if jnp.ndim(x) else x, init_params)
            check_init_params_against_model(as_float_tree(first), setups[0].z, True)
        require_init_params(init_params)
        return init_params

    def init(
        self,
        rng_key: jax.Array,
        num_warmup: int,
        init_params: Any = None,
        model_args: tuple = (),
        model_kwargs: dict | None = None,
    ) -> EnsembleSamplerState:
        """The initial :class:`EnsembleSamplerState`.

        Args:
            rng_key: a batch of ``num_chains`` keys, one per walker (what
                ``MCMC(..., chain_method="vectorized")`` passes).
            num_warmup: the number of warmup iterations.
            init_params: initial unconstrained values with a leading
                ``num_chains`` dimension; required with ``potential_fn``.
            model_args: positional arguments of the model.
            model_kwargs: keyword arguments of the model.
        """
        name = type(self).__name__
        model_kwargs = {} if model_kwargs is None else model_kwargs
        check_num_warmup(num_warmup)
        if not is_batched_key(rng_key):
            raise ValueError(
                f"{name}.init needs a batch of keys, one per walker, but got a single key. "
                + _ensemble_usage(name)
            )
        num_chains = int(rng_key.shape[0])
        if num_chains < 2 or num_chains % 2:
            raise ValueError(
                f"{name} needs an even number of walkers (num_chains) of at least 2, got "
                f"num_chains={num_chains}. " + _ensemble_usage(name)
            )
        self._num_chains = num_chains
        key, key_inner, key_model = jax.random.split(rng_key[0], 3)
        z = as_float_tree(self._init_walkers(key_model, init_params, model_args, model_kwargs))
        if any(jnp.ndim(x) == 0 or jnp.shape(x)[0] != num_chains for x in jax.tree.leaves(z)):
            raise ValueError(
                f"init_params needs a leading dimension of num_chains={num_chains} (one initial "
                f"value per walker) on every leaf; got shapes {describe_shapes(z)}"
            )
        flat, _, _ = _batch_ravel(z)
        dim = int(flat.shape[1])
        if dim == 0:
            raise ValueError("init_params has no latent values to sample")
        self._check_moves(num_chains // 2, dim)
        if num_chains < 2 * dim:
            warnings.warn(
                f"{name} with num_chains={num_chains} walkers for {dim} latent dimensions: at "
                f"least 2 * {dim} = {2 * dim} walkers are strongly recommended",
                UserWarning,
                stacklevel=2,
            )
        z_single = jax.tree.map(lambda x: x[0], z)
        check_scalar_potential(self._potential_for(model_args, model_kwargs), z_single)
        log_density = self._log_density_for(model_args, model_kwargs, z)
        bad = np.flatnonzero(~np.isfinite(np.asarray(log_density(flat))))
        if bad.size:
            raise ValueError(
                f"the potential energy is not finite at the initial values of walker(s) "
                f"{bad.tolist()}; give init_params where every walker has a finite potential"
            )
        _check_walkers_spread(np.asarray(flat))
        self._num_warmup = int(num_warmup)
        self._spec_key = (self._num_warmup, num_chains, structure_key(z_single))
        self._batch_log_density = log_density
        self._sample_fn = self._sample_ensemble
        return EnsembleSamplerState(z, self.init_inner_state(key_inner), key)

    def _sample_ensemble(
        self, state: EnsembleSamplerState, model_args: tuple, model_kwargs: dict
    ) -> EnsembleSamplerState:
        z, inner_state, rng_key = state
        # A batch of keys (e.g. set by the caller) is reduced to its first key.
        single = not is_batched_key(rng_key)
        key = rng_key if single else rng_key[0]
        key, key_split = jax.random.split(key)
        flat, unravel, _ = _batch_ravel(z)
        num = flat.shape[0]
        if self._randomize_split:
            order = jax.random.permutation(key_split, num)
        else:
            order = jnp.arange(num)
        halves = order.reshape(2, num // 2)

        def half_update(k: jax.Array, carry: tuple) -> tuple:
            flat, inner_state = carry
            active, inactive = halves[k], halves[1 - k]
            moved, inner_state = self.update_active_chains(
                flat[active], flat[inactive], inner_state
            )
            return flat.at[active].set(moved), inner_state

        with self._bound_log_density(self._log_density_for(model_args, model_kwargs, z)):
            flat, inner_state = lax.fori_loop(0, 2, half_update, (flat, inner_state))
        new_key = key if single else jax.random.split(key, rng_key.shape[0])
        return EnsembleSamplerState(unravel(flat), inner_state, new_key)

    def sample(
        self, state: EnsembleSamplerState, model_args: tuple, model_kwargs: dict
    ) -> EnsembleSamplerState:
        """One iteration: both halves of the ensemble are updated in turn."""
        return self._run_sample(state, model_args, model_kwargs)


def _running_mean(mean: jax.Array, value: jax.Array, i: jax.Array, num_warmup: int) -> jax.Array:
    """Update a running mean over half-iterations; ``i`` is the count before this one
    (in iterations, 0.5 per half), and the mean restarts when sampling starts."""
    count = 2.0 * jnp.where(i < num_warmup, i + 0.5, i + 0.5 - num_warmup)
    return mean + (value - mean) / count


# -- AIES ----------------------------------------------------------------------


class AIES(EnsembleSampler):
    """Affine-invariant ensemble sampling (Goodman & Weare, 2010; emcee).

    A gradient-free Metropolis-Hastings sampler whose proposals for one half
    of the walkers are built from the other half, so they adapt to the
    target's scale and correlations (the moves are affine invariant). Suited
    to low and moderate dimensions; use at least twice as many walkers as
    latent dimensions.

    Must run under ``MCMC(..., num_chains=K, chain_method="vectorized")`` with
    an even ``K``: the walkers are the chains.

    Args:
        model: a model built from ppl primitives; exactly one of ``model`` and
            ``potential_fn`` is required.
        potential_fn: the potential energy of latent values of any pytree type;
            ``init_params`` (with a leading ``num_chains`` dimension) must then
            be given.
        randomize_split: assign walkers to the two halves at random at each
            iteration.
        moves: a dict mapping moves to their probabilities of being chosen at
            each half-iteration (normalized to sum to 1), e.g.
            ``{AIES.DEMove(): 0.5, AIES.StretchMove(): 0.5}``. Defaults to
            ``{AIES.DEMove(): 1.0}``.
        init_strategy: the initialization strategy for a ``model``.

    References:
        Goodman, J. & Weare, J. (2010). *Ensemble samplers with affine
        invariance*. CAMCoS 5(1). Foreman-Mackey, D. et al. (2013). *emcee:
        The MCMC Hammer*. PASP 125.

    Example:
        >>> import jax
        >>> import ppl
        >>> import ppl.distributions as dist
        >>> from ppl.mcmc import MCMC
        >>> from ppl.mcmc.ensemble import AIES
        >>> def model():
        ...     ppl.sample("x", dist.Normal(0.0, 2.0).expand([3]))
        >>> kernel = AIES(model, moves={AIES.DEMove(): 0.5, AIES.StretchMove(): 0.5})
        >>> mcmc = MCMC(kernel, num_warmup=500, num_samples=500, num_chains=8,
        ...             chain_method="vectorized", progress_bar=False)
        >>> mcmc.run(jax.random.PRNGKey(0))
        >>> mcmc.get_samples()["x"].shape
        (4000, 3)
    """

    def __init__(
        self,
        model: Callable | None = None,
        potential_fn: Callable | None = None,
        randomize_split: bool = False,
        moves: Mapping[Callable, float] | None = None,
        init_strategy: Callable = init_to_uniform,
    ) -> None:
        self._moves, self._weights = _normalize_moves(
            moves,
            DifferentialEvolutionMove(),
            AIESMove,
            ESSMove,
            "AIES",
            "{AIES.DEMove(): 0.5, AIES.StretchMove(): 0.5}",
        )
        super().__init__(
            model, potential_fn, randomize_split=randomize_split, init_strategy=init_strategy
        )

    @staticmethod
    def DEMove(sigma: float = 1.0e-5, g0: float | None = None) -> DifferentialEvolutionMove:
        """A differential evolution move (see :class:`DifferentialEvolutionMove`).

        Args:
            sigma: the relative spread of the stretch factor :math:`\\gamma`.
            g0: the mean of :math:`\\gamma`; defaults to :math:`2.38/\\sqrt{2D}`.
        """
        return DifferentialEvolutionMove(sigma=sigma, g0=g0)

    @staticmethod
    def StretchMove(a: float = 2.0) -> StretchMove:
        """A stretch move (see :class:`StretchMove`).

        Args:
            a: the stretch scale, greater than 1.
        """
        return StretchMove(a=a)

    def get_diagnostics_str(self, state: EnsembleSamplerState) -> str:
        return f"acc. prob={float(state.inner_state.mean_accept_prob):.2f}"

    def init_inner_state(self, rng_key: jax.Array) -> AIESState:
        zero = jnp.zeros((), jnp.result_type(float))
        return AIESState(zero, zero, zero, rng_key)

    def update_active_chains(
        self, active: jax.Array, inactive: jax.Array, inner_state: AIESState
    ) -> tuple[jax.Array, AIESState]:
        i, _, mean_accept_prob, rng_key = inner_state
        rng_key, key_move, key_accept = jax.random.split(rng_key, 3)
        proposal, log_factor = _choose_and_apply(
            self._moves, self._weights, key_move, active, inactive
        )
        log_ratio = log_factor + self._batch_log_density(proposal) - self._batch_log_density(active)
        # Exp(1) > -log_ratio has probability min(1, exp(log_ratio)); NaN rejects.
        threshold = jax.random.exponential(key_accept, log_ratio.shape, log_ratio.dtype)
        accepted = threshold > -log_ratio
        moved = jnp.where(accepted[:, None], proposal, active)
        accept_prob = jnp.mean(accepted.astype(mean_accept_prob.dtype))
        mean_accept_prob = _running_mean(mean_accept_prob, accept_prob, i, self._num_warmup)
        return moved, AIESState(i + 0.5, accept_prob, mean_accept_prob, rng_key)


# -- ESS -----------------------------------------------------------------------


class ESS(EnsembleSampler):
    """Ensemble slice sampling (Karamanis & Beutler, 2021; zeus).

    Each active walker :math:`x` runs one slice-sampling update along a
    direction :math:`d` drawn from the complementary half: with
    :math:`\\log y = \\log\\pi(x) - E`, :math:`E \\sim \\mathrm{Exp}(1)`, an interval
    :math:`[L, R]` of unit width around 0 is stepped out (at most ``max_steps``
    expansions, split at random between the two sides) until
    :math:`\\pi(x + L d), \\pi(x + R d) < y`, then shrunk towards 0 until a
    uniform point :math:`t` has :math:`\\pi(x + t d) > y`. The direction scale
    :math:`\\mu` is tuned during warmup towards one expansion per contraction:
    after each warmup iteration :math:`\\mu \\leftarrow 2\\mu N_e/(N_e + N_c)`, with
    :math:`N_e` expansions and :math:`N_c` contractions counted over all walkers.

    Must run under ``MCMC(..., num_chains=K, chain_method="vectorized")`` with
    an even ``K``: the walkers are the chains.

    Args:
        model: a model built from ppl primitives; exactly one of ``model`` and
            ``potential_fn`` is required.
        potential_fn: the potential energy of latent values of any pytree type;
            ``init_params`` (with a leading ``num_chains`` dimension) must then
            be given.
        randomize_split: assign walkers to the two halves at random at each
            iteration.
        moves: a dict mapping moves to their probabilities (normalized to sum
            to 1): :meth:`ESS.DifferentialMove` (the default), :meth:`ESS.GaussianMove`,
            :meth:`ESS.KDEMove` or :meth:`ESS.RandomMove`.
        max_steps: the most stepping-out expansions per walker and update.
        max_iter: the most stepping-out and shrinking rounds per update; a
            walker whose slice is not found within them stays where it is.
        init_mu: the initial direction scale :math:`\\mu`.
        tune_mu: tune :math:`\\mu` during warmup (it is fixed while sampling, so
            the sampling phase is a proper Markov chain).
        init_strategy: the initialization strategy for a ``model``.

    References:
        Karamanis, M. & Beutler, F. (2021). *Ensemble slice sampling*.
        Statistics and Computing 31(61). Karamanis, M., Beutler, F. &
        Peacock, J. A. (2021). *zeus: a Python implementation of ensemble
        slice sampling*. MNRAS 508(3).

    Example:
        >>> import jax
        >>> import ppl
        >>> import ppl.distributions as dist
        >>> from ppl.mcmc import MCMC
        >>> from ppl.mcmc.ensemble import ESS
        >>> def model():
        ...     ppl.sample("x", dist.Normal(0.0, 2.0).expand([3]))
        >>> kernel = ESS(model, moves={ESS.DifferentialMove(): 0.8, ESS.RandomMove(): 0.2})
        >>> mcmc = MCMC(kernel, num_warmup=300, num_samples=300, num_chains=8,
        ...             chain_method="vectorized", progress_bar=False)
        >>> mcmc.run(jax.random.PRNGKey(0))
        >>> mcmc.get_samples()["x"].shape
        (2400, 3)
    """

    def __init__(
        self,
        model: Callable | None = None,
        potential_fn: Callable | None = None,
        randomize_split: bool = True,
        moves: Mapping[Callable, float] | None = None,
        max_steps: int = 10_000,
        max_iter: int = 10_000,
        init_mu: float = 1.0,
        tune_mu: bool = True,
        init_strategy: Callable = init_to_uniform,
    ) -> None:
        self._moves, self._weights = _normalize_moves(
            moves,
            DifferentialMove(),
            ESSMove,
            AIESMove,
            "ESS",
            "{ESS.DifferentialMove(): 0.8, ESS.RandomMove(): 0.2}",
        )
        for name, value in (("max_steps", max_steps), ("max_iter", max_iter)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not (isinstance(init_mu, (int, float)) and not isinstance(init_mu, bool)) or not (
            init_mu > 0
        ):
            raise ValueError(f"init_mu must be a positive number, got {init_mu!r}")
        self._max_steps = int(max_steps)
        self._max_iter = int(max_iter)
        self._init_mu = float(init_mu)
        self._tune_mu = bool(tune_mu)
        super().__init__(
            model, potential_fn, randomize_split=randomize_split, init_strategy=init_strategy
        )

    @staticmethod
    def DifferentialMove() -> DifferentialMove:
        """Directions between pairs of complementary walkers (see :class:`DifferentialMove`)."""
        return DifferentialMove()

    @staticmethod
    def RandomMove() -> RandomMove:
        """Random unit directions (see :class:`RandomMove`)."""
        return RandomMove()

    @staticmethod
    def GaussianMove() -> GaussianMove:
        """Gaussian directions with the complementary walkers' covariance
        (see :class:`GaussianMove`)."""
        return GaussianMove()

    @staticmethod
    def KDEMove(bw_method: Any = None) -> KDEMove:
        """Directions between draws of a kernel density estimate of the complementary
        walkers (see :class:`KDEMove`).

        Args:
            bw_method: the bandwidth rule of :class:`jax.scipy.stats.gaussian_kde`.
        """
        return KDEMove(bw_method=bw_method)

    def get_diagnostics_str(self, state: EnsembleSamplerState) -> str:
        return f"mu={float(state.inner_state.mu):.2f}"

    def init_inner_state(self, rng_key: jax.Array) -> ESSState:
        dtype = jnp.result_type(float)
        zero = jnp.zeros((), jnp.int32)
        mu = jnp.asarray(self._init_mu, dtype)
        return ESSState(jnp.zeros((), dtype), zero, zero, mu, rng_key)

    def _step_out(
        self,
        rng_key: jax.Array,
        log_height: jax.Array,
        active: jax.Array,
        directions: jax.Array,
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        num = active.shape[0]
        dtype = active.dtype
        key_left, key_budget = jax.random.split(rng_key)
        left = -jax.random.uniform(key_left, (num,), dtype)
        right = left + 1.0
        # Neal's (2003) budget: J expansions to the left, max_steps - 1 - J to the right.
        budget_left = jnp.floor(self._max_steps * jax.random.uniform(key_budget, (num,), dtype))
        budget_right = self._max_steps - 1.0 - budget_left
        growing = jnp.ones((2, num), bool)

        def cond(carry: tuple) -> jax.Array:
            _, _, _, _, growing, _, it = carry
            return jnp.any(growing) & (it < self._max_iter)

        def body(carry: tuple) -> tuple:
            left, right, budget_left, budget_right, growing, count, it = carry
            ends = jnp.stack([left, right])
            points = active[None] + ends[..., None] * directions[None]
            outside = self._batch_log_density(points.reshape(2 * num, -1)).reshape(2, num)
            budgets = jnp.stack([budget_left, budget_right])
            growing = growing & (budgets > 0) & (outside > log_height)
            left = jnp.where(growing[0], left - 1.0, left)
            right = jnp.where(growing[1], right + 1.0, right)
            budgets = budgets - growing
            count = count + jnp.sum(growing, dtype=jnp.int32)
            return left, right, budgets[0], budgets[1], growing, count, it + 1

        init = (left, right, budget_left, budget_right, growing, jnp.zeros((), jnp.int32), 0)
        left, right, *_, count, _ = lax.while_loop(cond, body, init)
        return left, right, count

    def _shrink(
        self,
        rng_key: jax.Array,
        log_height: jax.Array,
        left: jax.Array,
        right: jax.Array,
        active: jax.Array,
        directions: jax.Array,
    ) -> tuple[jax.Array, jax.Array]:
        num = active.shape[0]

        def cond(carry: tuple) -> jax.Array:
            _, _, _, _, done, _, it = carry
            return ~jnp.all(done) & (it < self._max_iter)

        def body(carry: tuple) -> tuple:
            rng_key, position, left, right, done, count, it = carry
            rng_key, key_point = jax.random.split(rng_key)
            t = left + (right - left) * jax.random.uniform(key_point, (num,), active.dtype)
            candidate = active + t[:, None] * directions
            inside = self._batch_log_density(candidate) > log_height
            position = jnp.where((~done & inside)[:, None], candidate, position)
            shrinking = ~done & ~inside
            left = jnp.where(shrinking & (t < 0), t, left)
            right = jnp.where(shrinking & (t > 0), t, right)
            count = count + jnp.sum(shrinking, dtype=jnp.int32)
            return rng_key, position, left, right, done | inside, count, it + 1

        done = jnp.zeros(num, bool)
        init = (rng_key, active, left, right, done, jnp.zeros((), jnp.int32), 0)
        _, position, _, _, _, count, _ = lax.while_loop(cond, body, init)
        return position, count

    def update_active_chains(
        self, active: jax.Array, inactive: jax.Array, inner_state: ESSState
    ) -> tuple[jax.Array, ESSState]:
        i, n_expansions, n_contractions, mu, rng_key = inner_state
        rng_key, key_move, key_height, key_out, key_shrink = jax.random.split(rng_key, 5)
        directions = _choose_and_apply(self._moves, self._weights, key_move, inactive, mu)
        height = jax.random.exponential(key_height, (active.shape[0],), active.dtype)
        log_height = self._batch_log_density(active) - height
        left, right, expansions = self._step_out(key_out, log_height, active, directions)
        moved, contractions = self._shrink(key_shrink, log_height, left, right, active, directions)
        n_expansions = n_expansions + expansions
        n_contractions = n_contractions + contractions
        i = i + 0.5
        # After a full iteration (both halves), mu is retuned during warmup and the
        # counts restart.
        full_iteration = jnp.floor(i) == i
        if self._tune_mu:
            expanded = jnp.maximum(n_expansions, 1).astype(mu.dtype)
            tuned = 2.0 * mu * expanded / (expanded + n_contractions)
            mu = jnp.where(full_iteration & (i <= self._num_warmup), tuned, mu)
        n_expansions = jnp.where(full_iteration, 0, n_expansions)
        n_contractions = jnp.where(full_iteration, 0, n_contractions)
        return moved, ESSState(i, n_expansions, n_contractions, mu, rng_key)
