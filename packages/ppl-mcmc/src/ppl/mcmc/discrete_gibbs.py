"""Gibbs and Metropolis updates of discrete latent sites, one coordinate at a time.

The discrete sites of a model are raveled into one vector of coordinates
:math:`x_1, \\dots, x_N`; coordinate :math:`j` takes the values
:math:`s_{j,1}, \\dots, s_{j,K_j}` of its site's enumerated support. One update
of coordinate :math:`j` proposes :math:`x'` differing from :math:`x` in
:math:`x_j` only, and accepts it with probability :math:`\\min(1, e^{\\ell})`,
where :math:`\\ell` is the proposal's log acceptance ratio. With
:math:`\\pi_v \\propto e^{-U(x_j = s_{j,v})}` the full conditional of the
coordinate (:math:`U` the potential energy), the four proposals are:

- Gibbs: :math:`v' \\sim \\pi`, always accepted (:math:`\\ell = 0`);
- modified Gibbs (Liu 1996): :math:`v' \\sim \\pi` restricted to
  :math:`v' \\ne v`, with :math:`\\ell = \\log(1 - \\pi_v) - \\log(1 - \\pi_{v'})`;
  it leaves the current value more often than Gibbs, which by Peskun's
  ordering never increases the asymptotic variance;
- random walk: :math:`v'` uniform over the support,
  :math:`\\ell = U(x) - U(x')`;
- modified random walk: :math:`v'` uniform over the support without
  :math:`v`, :math:`\\ell = U(x) - U(x')`.

The same proposals serve :class:`DiscreteGibbs` (a sweep over all coordinates
in a random order) and :class:`~ppl.mcmc.mixed_hmc.MixedHMC` (one coordinate at
a time, inside the HMC trajectory).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree
from jax.scipy.special import logsumexp

from ppl.infer.util import log_density
from ppl.mcmc.gibbs import (
    _subsample_plates,
    conditioned,
    deterministic_values,
    discrete_latent_sites,
    latent_sample_sites,
    prototype_trace,
    with_conditioning,
)
from ppl.mcmc.kernels import MCMCKernel, _identity
from ppl.mcmc.util import uniform_from_key

__all__ = [
    "DiscreteGibbs",
    "DiscreteGibbsState",
    "DiscreteLayout",
    "ProposalFn",
    "discrete_gibbs_sweep",
    "discrete_layout",
    "parallel_enumerated_sites",
    "select_discrete_proposal",
    "split_uniforms",
]

#: ``(u, x, idx, candidates, size, potential_energy, potential_fn) ->
#: (x_new, potential_energy_new, log_accept_ratio)``: a proposal for the flat
#: coordinate ``idx`` of the raveled discrete values ``x``, whose support values
#: are the first ``size`` entries of ``candidates``, drawn with the uniform
#: number ``u`` in [0, 1) (one uniform per proposal keeps compiled loops small);
#: ``potential_fn`` maps a raveled vector to its potential energy.
ProposalFn = Callable[..., tuple[jax.Array, jax.Array, jax.Array]]


# -- the discrete coordinates ----------------------------------------------------


class DiscreteLayout(NamedTuple):
    """The support of every raveled coordinate of a dict of discrete sites (static).

    Attributes:
        sites: the site names.
        support: ``(K, N)`` support values of the ``N`` coordinates, in
            :func:`~jax.flatten_util.ravel_pytree` order; column ``j`` is padded
            past its ``sizes[j]`` values by repeating its last value.
        sizes: ``(N,)`` the support size of each coordinate.
    """

    sites: tuple[str, ...]
    support: np.ndarray
    sizes: np.ndarray

    @property
    def key(self) -> tuple:
        """A hashable summary (compiled loops depend on the support tables)."""
        return (self.sites, self.support.shape, self.support.tobytes(), self.sizes.tobytes())


def parallel_enumerated_sites(model_trace: dict) -> list[str]:
    """The latent sites marked ``infer={"enumerate": "parallel"}``."""
    return [
        name
        for name in latent_sample_sites(model_trace)
        if model_trace[name].get("infer", {}).get("enumerate") == "parallel"
    ]


def _site_support(site: dict) -> np.ndarray:
    """``(K, n)``: the support values of each of the site's ``n`` scalar coordinates."""
    fn, name = site["fn"], site["name"]
    if fn.event_shape:
        raise NotImplementedError(
            f"discrete latent site {name!r} has event shape {tuple(fn.event_shape)}: discrete "
            "coordinate updates need scalar events (use Categorical rather than "
            "OneHotCategorical)"
        )
    try:
        support = np.asarray(fn.enumerate_support(expand=True))
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):
        raise ValueError(
            f"the support of discrete site {name!r} depends on traced values: its parameters "
            "that fix the support (e.g. total_count, low, high) must be concrete"
        ) from None
    shape = np.shape(site["value"])
    return np.broadcast_to(support, support.shape[:1] + shape).reshape(support.shape[0], -1)


def discrete_layout(model_trace: dict, sites: Sequence[str]) -> DiscreteLayout:
    """The :class:`DiscreteLayout` of ``sites`` (discrete latent sites of ``model_trace``)."""
    per_site = {name: _site_support(model_trace[name]) for name in sites}
    # Dicts ravel in the order of jax.tree.leaves (sorted keys).
    columns = jax.tree.leaves(per_site)
    sizes = np.concatenate([np.full(c.shape[1], c.shape[0], np.int32) for c in columns])
    num_values = int(sizes.max()) if sizes.size else 1
    padded = [np.concatenate([c, np.repeat(c[-1:], num_values - c.shape[0], 0)]) for c in columns]
    support = np.concatenate(padded, axis=1) if padded else np.zeros((1, 0))
    return DiscreteLayout(tuple(sites), support, sizes)


# -- proposals ---------------------------------------------------------------------


def _candidate_energies(
    x: jax.Array, idx: jax.Array, candidates: jax.Array, size: jax.Array, potential_fn: Callable
) -> jax.Array:
    """The potential energy with coordinate ``idx`` set to each candidate (``inf``
    past the support and where the energy is not a number)."""
    energies = jax.vmap(lambda value: potential_fn(x.at[idx].set(value)))(candidates)
    valid = (jnp.arange(candidates.shape[0]) < size) & ~jnp.isnan(energies)
    return jnp.where(valid, energies, jnp.inf)


def _current_index(x: jax.Array, idx: jax.Array, candidates: jax.Array, size: jax.Array) -> Any:
    matches = (candidates == x[idx]) & (jnp.arange(candidates.shape[0]) < size)
    return jnp.argmax(matches)


def _inverse_cdf(u: jax.Array, logits: jax.Array) -> jax.Array:
    """The index drawn with probabilities ``softmax(logits)`` from one uniform ``u``."""
    top = jnp.max(logits)
    weights = jnp.exp(logits - jnp.where(jnp.isfinite(top), top, 0.0))
    cdf = jnp.cumsum(weights)
    # Values of zero weight never hold the first cdf entry above u * total.
    return jnp.minimum(jnp.sum(cdf <= u * cdf[-1]), logits.shape[0] - 1)


def _uniform_index(u: jax.Array, size: jax.Array) -> jax.Array:
    return jnp.minimum(jnp.floor(u * size).astype(jnp.int32), size - 1)


def _gibbs_proposal(u, x, idx, candidates, size, potential_energy, potential_fn):
    energies = _candidate_energies(x, idx, candidates, size, potential_fn)
    choice = _inverse_cdf(u, -energies)
    # Every value impossible (the current one too): leave the coordinate alone.
    log_ratio = jnp.where(jnp.isfinite(jnp.min(energies)), 0.0, -jnp.inf)
    return x.at[idx].set(candidates[choice]), energies[choice], log_ratio


def _modified_gibbs_proposal(u, x, idx, candidates, size, potential_energy, potential_fn):
    logits = -_candidate_energies(x, idx, candidates, size, potential_fn)
    current = _current_index(x, idx, candidates, size)
    others = logits.at[current].set(-jnp.inf)
    choice = _inverse_cdf(u, others)
    # log(1 - pi_current) - log(1 - pi_choice), the normalizers cancelling.
    log_ratio = logsumexp(others) - logsumexp(logits.at[choice].set(-jnp.inf))
    # No other value has positive probability: stay.
    log_ratio = jnp.where(jnp.isfinite(logsumexp(others)), log_ratio, -jnp.inf)
    return x.at[idx].set(candidates[choice]), -logits[choice], log_ratio


def _metropolis_ratio(x_new, potential_energy, potential_fn):
    energy_new = potential_fn(x_new)
    energy_new = jnp.where(jnp.isnan(energy_new), jnp.inf, energy_new)
    return x_new, energy_new, potential_energy - energy_new


def _random_walk_proposal(u, x, idx, candidates, size, potential_energy, potential_fn):
    choice = _uniform_index(u, size)
    return _metropolis_ratio(x.at[idx].set(candidates[choice]), potential_energy, potential_fn)


def _modified_random_walk_proposal(u, x, idx, candidates, size, potential_energy, potential_fn):
    current = _current_index(x, idx, candidates, size)
    # Uniform over the size - 1 other values: skip over the current one.
    draw = _uniform_index(u, jnp.maximum(size - 1, 1))
    choice = jnp.where(size > 1, draw + (draw >= current), current)
    return _metropolis_ratio(x.at[idx].set(candidates[choice]), potential_energy, potential_fn)


def select_discrete_proposal(random_walk: bool = False, modified: bool = False) -> ProposalFn:
    """The discrete proposal (a :data:`ProposalFn`).

    Args:
        random_walk: propose uniformly over the support instead of from the full
            conditional.
        modified: never propose the current value (Liu's modified, or
            Metropolised, form).
    """
    if random_walk:
        return _modified_random_walk_proposal if modified else _random_walk_proposal
    return _modified_gibbs_proposal if modified else _gibbs_proposal


def _check_flags(owner: str, random_walk: Any, modified: Any) -> None:
    for name, value in (("random_walk", random_walk), ("modified", modified)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{owner}: {name} must be a bool, got {value!r}")


def split_uniforms(rng_key: jax.Array, num: int) -> tuple[jax.Array, jax.Array]:
    """A new key and ``num`` uniform numbers in [0, 1), from one generator call.

    The uniforms are read from the bits of split keys
    (:func:`~ppl.mcmc.util.uniform_from_key`): each generator call costs
    compile time, which dominates small discrete updates.
    """
    keys = jax.random.split(rng_key, num + 1)
    return keys[0], jax.vmap(uniform_from_key)(keys[1:])


def _sweep_with_uniforms(
    uniforms: jax.Array,
    x: jax.Array,
    potential_energy: jax.Array,
    potential_fn: Callable[[jax.Array], jax.Array],
    layout: DiscreteLayout,
    proposal_fn: ProposalFn,
) -> tuple[jax.Array, jax.Array]:
    support = jnp.asarray(layout.support, x.dtype)
    sizes = jnp.asarray(layout.sizes)
    # Rows: the visiting order, the proposals, the acceptances.
    uniforms = uniforms.reshape(3, sizes.shape[0])
    order = jnp.argsort(uniforms[0])

    def update(t: jax.Array, carry: tuple) -> tuple:
        x, energy = carry
        idx = order[t]
        x_new, energy_new, log_ratio = proposal_fn(
            uniforms[1, t], x, idx, support[:, idx], sizes[idx], energy, potential_fn
        )
        accept = jnp.log(uniforms[2, t]) < log_ratio
        return jnp.where(accept, x_new, x), jnp.where(accept, energy_new, energy)

    return lax.fori_loop(0, sizes.shape[0], update, (x, potential_energy))


def discrete_gibbs_sweep(
    rng_key: jax.Array,
    x: jax.Array,
    potential_energy: jax.Array,
    potential_fn: Callable[[jax.Array], jax.Array],
    layout: DiscreteLayout,
    proposal_fn: ProposalFn,
) -> tuple[jax.Array, jax.Array]:
    """Update every coordinate of the raveled discrete values ``x`` once, in a
    random order, each with ``proposal_fn`` and a Metropolis correction.

    Args:
        rng_key: a random key.
        x: the raveled discrete values.
        potential_energy: the potential energy at ``x``.
        potential_fn: the potential energy of a raveled vector.
        layout: the support of each coordinate.
        proposal_fn: a :data:`ProposalFn` (see :func:`select_discrete_proposal`).

    Returns:
        The new values and their potential energy.
    """
    _, uniforms = split_uniforms(rng_key, 3 * int(layout.sizes.size))
    return _sweep_with_uniforms(uniforms, x, potential_energy, potential_fn, layout, proposal_fn)


# -- the kernel ----------------------------------------------------------------------


class DiscreteGibbsState(NamedTuple):
    """The state of :class:`DiscreteGibbs`.

    Attributes:
        z: the current values of the discrete sites.
        potential_energy: the potential energy (minus the log joint density) at
            ``z`` given the current conditioning values.
        rng_key: the random key for the next update.
    """

    z: dict
    potential_energy: jax.Array
    rng_key: jax.Array


def _discrete_potential(model: Callable, model_args: tuple, model_kwargs: dict) -> Callable:
    def potential(z: dict) -> jax.Array:
        kwargs = with_conditioning(model_kwargs, z)
        return -log_density(model, model_args, kwargs, {})[0]

    return potential


def _raveled(potential_fn: Callable[[dict], jax.Array], unravel: Callable) -> Callable:
    return lambda x: potential_fn(unravel(x))


class DiscreteGibbs(MCMCKernel):
    """Gibbs or Metropolis updates of the discrete latent sites of a model, one
    coordinate at a time in a random order each step.

    On its own it samples a model whose latent sites are all discrete; as a
    block of :class:`~ppl.mcmc.gibbs.Gibbs` (as in
    :class:`~ppl.mcmc.hmc_gibbs.DiscreteHMCGibbs`) it samples the discrete sites
    given the other blocks' values. The support of each site is enumerated
    with ``enumerate_support``; see :mod:`ppl.mcmc.discrete_gibbs` for the
    proposals.

    Args:
        model: a model whose discrete latent sites have an enumerable support.
        random_walk: propose a value uniformly from the support (a Metropolis
            step) instead of drawing from the coordinate's full conditional.
        modified: use Liu's modified (Metropolised) proposal, which never
            proposes the current value.

    References:
        Liu, J. S. (1996). Peskun's theorem and a modified discrete-state Gibbs
        sampler. *Biometrika* 83(3).

    Example::

        def model():
            c = ppl.sample("c", dist.Categorical(jnp.array([0.2, 0.3, 0.5])))
            ppl.sample("obs", dist.Normal(c, 1.0), obs=1.5)

        mcmc = MCMC(DiscreteGibbs(model, modified=True), num_warmup=100, num_samples=1000)
    """

    def __init__(self, model: Callable, *, random_walk: bool = False, modified: bool = False):
        if not callable(model):
            raise TypeError(f"model must be callable, got {type(model).__name__}")
        _check_flags("DiscreteGibbs", random_walk, modified)
        self._model = model
        self._random_walk = bool(random_walk)
        self._modified = bool(modified)
        self._proposal_fn = select_discrete_proposal(random_walk, modified)
        # Resolved by init.
        self._layout: DiscreteLayout | None = None
        self._has_deterministic = False
        self._sample_fn: Callable | None = None

    @property
    def model(self) -> Callable:
        """The model (as given, or as wrapped by :meth:`wrap_model`)."""
        return self._model

    @property
    def sample_field(self) -> str:
        return "z"

    @property
    def _spec_key(self) -> tuple | None:
        # The driver caches compiled loops per kernel structure.
        return None if self._layout is None else self._layout.key

    def get_potential_fn(self, model_args: tuple = (), model_kwargs: dict | None = None):
        """The potential energy of the discrete values (a dict) given these model
        arguments, whose conditioning values fix every other latent site."""
        return _discrete_potential(conditioned(self._model), model_args, model_kwargs or {})

    def init(self, rng_key, num_warmup, init_params, model_args, model_kwargs):
        """The initial state.

        Args:
            rng_key: a random key (one chain).
            num_warmup: unused (nothing is adapted).
            init_params: initial values of (some of) the discrete sites;
                the others start from a prior draw.
            model_args: positional arguments of the model.
            model_kwargs: keyword arguments of the model.
        """
        typed_key = jax.dtypes.issubdtype(rng_key.dtype, jax.dtypes.prng_key)
        if jnp.ndim(rng_key) > (0 if typed_key else 1):
            raise ValueError("DiscreteGibbs.init takes one key (one chain)")
        model_kwargs = {} if model_kwargs is None else dict(model_kwargs)
        rng_key, key_trace = jax.random.split(rng_key)
        model_trace = prototype_trace(conditioned(self._model), key_trace, model_args, model_kwargs)
        sites = _check_discrete_model(model_trace, "DiscreteGibbs")
        continuous = [name for name in latent_sample_sites(model_trace) if name not in sites]
        if continuous:
            raise ValueError(
                f"DiscreteGibbs samples discrete sites only, but the model also has the latent "
                f"sites {continuous}: use DiscreteHMCGibbs or MixedHMC, or make DiscreteGibbs a "
                "block of Gibbs with other blocks for them"
            )
        self._layout = discrete_layout(model_trace, sites)
        self._has_deterministic = any(s["type"] == "deterministic" for s in model_trace.values())
        z, unknown = _initial_values(model_trace, sites, init_params, "DiscreteGibbs")
        if unknown:
            raise ValueError(
                f"DiscreteGibbs: init_params has {sorted(unknown)}, which are not discrete latent "
                f"sites of the model ({list(sites)})"
            )
        potential = self.get_potential_fn(model_args, model_kwargs)(z)
        self._sample_fn = self._sweep
        return DiscreteGibbsState(z, jnp.asarray(potential), rng_key)

    def _sweep(self, state: DiscreteGibbsState, model_args, model_kwargs) -> DiscreteGibbsState:
        rng_key, uniforms = split_uniforms(state.rng_key, 3 * int(self._layout.sizes.size))
        x, unravel = ravel_pytree(state.z)
        potential_fn = _raveled(self.get_potential_fn(model_args, model_kwargs), unravel)
        x, energy = _sweep_with_uniforms(
            uniforms, x, state.potential_energy, potential_fn, self._layout, self._proposal_fn
        )
        return DiscreteGibbsState(unravel(x), energy, rng_key)

    def sample(self, state, model_args, model_kwargs):
        """One sweep over the discrete coordinates."""
        if self._sample_fn is None:
            raise RuntimeError("DiscreteGibbs.sample() needs init() first (MCMC.run calls it)")
        return self._sample_fn(state, model_args, model_kwargs)

    def gibbs_init_params(self, values: dict, model_trace: dict) -> dict:
        """The discrete sites start from their prior draws (they have no transform)."""
        return values

    def refresh(self, state, model_args, model_kwargs):
        """Recompute the cached potential energy for the current conditioning."""
        potential = self.get_potential_fn(model_args, model_kwargs)(state.z)
        return state._replace(potential_energy=jnp.asarray(potential, state.potential_energy.dtype))

    def wrap_model(self, wrapper: Callable[[Callable], Callable]) -> DiscreteGibbs:
        kernel = copy.copy(self)
        kernel.__dict__.pop("_ppl_mcmc_runners", None)
        kernel._model = wrapper(self._model)
        kernel._layout = None
        kernel._sample_fn = None
        return kernel

    def get_constrain_fn(self, model_args, model_kwargs):
        """Discrete values are already constrained: the identity."""
        return _identity

    def postprocess_fn(self, model_args, model_kwargs):
        """The values, plus the model's deterministic sites."""
        if not self._has_deterministic:
            return _identity
        model, kwargs = conditioned(self._model), dict(model_kwargs or {})
        return lambda z: {**z, **deterministic_values(model, model_args, kwargs, z)}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_sample_fn"] = None
        return state


# -- shared with MixedHMC ------------------------------------------------------------


def _check_discrete_model(model_trace: dict, owner: str) -> tuple[str, ...]:
    """The discrete latent sites, after checking that the model can be handled."""
    plates = _subsample_plates(model_trace)
    if plates:
        raise ValueError(
            f"{owner} does not support subsampling (plates {plates} have a subsample_size): "
            "use HMCECS for data subsampling"
        )
    enumerated = parallel_enumerated_sites(model_trace)
    if enumerated:
        raise NotImplementedError(
            f"{owner}: sites {enumerated} are marked infer={{'enumerate': 'parallel'}}, but "
            "enumerating discrete sites out of the potential energy is not available yet; "
            "remove the mark to sample them"
        )
    sites = discrete_latent_sites(model_trace)
    if not sites:
        raise ValueError(
            f"{owner}: the model has no discrete latent sites (sample sites whose "
            "distribution has an enumerable support, e.g. Bernoulli or Categorical)"
        )
    return sites


def _initial_values(
    model_trace: dict, sites: Sequence[str], init_params: dict | None, owner: str
) -> tuple[dict, dict]:
    """Initial values of the discrete ``sites`` (``init_params`` where given, else the
    prototype trace's prior draws), and the entries of ``init_params`` left over."""
    if init_params is not None and not isinstance(init_params, dict):
        raise TypeError(
            f"{owner}: init_params must be a dict of site values, got {type(init_params).__name__}"
        )
    init_params = dict(init_params or {})
    values = {}
    for name in sites:
        prototype = jnp.asarray(model_trace[name]["value"])
        value = jnp.asarray(init_params.pop(name, prototype))
        if value.shape != prototype.shape:
            raise ValueError(
                f"{owner}: init_params[{name!r}] has shape {value.shape}, but discrete site "
                f"{name!r} has shape {prototype.shape}"
            )
        values[name] = value.astype(prototype.dtype)
    return values, init_params
