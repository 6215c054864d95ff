"""Mixed Hamiltonian Monte Carlo (Zhou 2020): discrete updates inside the HMC trajectory.

Each discrete coordinate :math:`x_j` gets a kinetic energy
:math:`k_j \\sim \\text{Exp}(1)` and a clock :math:`a_j \\sim U(0, 1)`; the
clocks advance with the leapfrog integration of the continuous sites
:math:`q` (momentum :math:`p`), and when clock :math:`j` reaches one the
integration pauses for an update of :math:`x_j` with one of the proposals of
:mod:`ppl.mcmc.discrete_gibbs`. The update, with log acceptance ratio
:math:`\\ell`, goes ahead when the coordinate's kinetic energy can pay for it,
:math:`k_j + \\ell > 0`, which then becomes its new kinetic energy; otherwise
:math:`x_j` is kept. The trajectory ends after ``num_discrete_updates``
updates, having integrated for the HMC trajectory length in total, and is
accepted with probability :math:`\\min(1, e^{-\\Delta})`,

.. math::

    \\Delta = H(q', p', x') - H(q, p, x) - \\sum_{\\text{updates}} \\Delta U_{\\text{discrete}},

that is, only the leapfrog integration error of :math:`H = U + K` counts:
the potential energy changes made by the discrete updates are paid for by
the discrete kinetic energies.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree

from ppl.mcmc.discrete_gibbs import (
    DiscreteLayout,
    _check_discrete_model,
    _check_flags,
    _initial_values,
    discrete_layout,
    select_discrete_proposal,
)
from ppl.mcmc.gibbs import (
    conditioned,
    discrete_latent_sites,
    latent_sample_sites,
    prototype_trace,
    with_conditioning,
)
from ppl.mcmc.hmc import HMC, HMCState, _adapter, _flat_potential, _metric
from ppl.mcmc.integrators import IntegratorState, velocity_verlet_step
from ppl.mcmc.kernels import MCMCKernel, _identity
from ppl.mcmc.nuts import NUTS
from ppl.mcmc.trajectory import MAX_DELTA_ENERGY, static_trajectory
from ppl.mcmc.util import uniform_from_key

__all__ = ["MixedHMC", "MixedHMCState"]


class MixedHMCState(NamedTuple):
    """The state of :class:`MixedHMC`.

    Attributes:
        z: the current values: discrete sites as they are, continuous sites in
            unconstrained space.
        hmc_state: the :class:`~ppl.mcmc.hmc.HMCState` of the continuous sites
            (its ``num_steps`` counts the leapfrog steps of the whole trajectory).
        rng_key: the random key for the next transition.
        accept_prob: the acceptance probability of the last trajectory.
    """

    z: dict
    hmc_state: HMCState
    rng_key: jax.Array
    accept_prob: jax.Array

    @property
    def diverging(self) -> jax.Array:
        """Whether the last trajectory diverged."""
        return self.hmc_state.diverging


class _Trajectory(NamedTuple):
    x: jax.Array
    point: IntegratorState
    kinetic: jax.Array
    clocks: jax.Array
    discrete_energy_change: jax.Array
    num_steps: jax.Array


def _check_num_updates(num_discrete_updates: Any) -> int | None:
    if num_discrete_updates is None:
        return None
    if (
        not isinstance(num_discrete_updates, (int, np.integer))
        or isinstance(num_discrete_updates, bool)
        or num_discrete_updates < 1
    ):
        raise ValueError(
            f"num_discrete_updates must be a positive integer or None, got {num_discrete_updates!r}"
        )
    return int(num_discrete_updates)


class MixedHMC(MCMCKernel):
    """Mixed Hamiltonian Monte Carlo for models with discrete and continuous latent sites.

    Discrete coordinates are updated at random times along each HMC trajectory
    of the continuous sites, and the whole trajectory is accepted or rejected
    at once (see :mod:`ppl.mcmc.mixed_hmc`). The step size and mass matrix of
    the inner kernel are adapted during warmup from each trajectory's
    acceptance probability.

    Args:
        inner_kernel: an :class:`~ppl.mcmc.hmc.HMC` kernel built on the model (not
            NUTS: the updates happen at times along a trajectory of fixed length).
            With ``num_steps`` instead of a ``trajectory_length``, the length is
            ``num_steps`` times the step size.
        num_discrete_updates: the number of discrete updates per trajectory;
            defaults to the number of discrete coordinates.
        random_walk: propose discrete values uniformly from the support instead
            of from the full conditional.
        modified: use Liu's modified (Metropolised) proposal, which never
            proposes the current value.

    References:
        Zhou, G. (2020). Mixed Hamiltonian Monte Carlo for mixed discrete and
        continuous variables. *NeurIPS 33*.

        Liu, J. S. (1996). Peskun's theorem and a modified discrete-state Gibbs
        sampler. *Biometrika* 83(3).

    Example::

        def model(probs, locs):
            c = ppl.sample("c", dist.Categorical(probs))
            ppl.sample("x", dist.Normal(locs[c], 0.5))

        kernel = MixedHMC(HMC(model, trajectory_length=1.2), num_discrete_updates=20)
        mcmc = MCMC(kernel, num_warmup=500, num_samples=5000)
        mcmc.run(random.PRNGKey(0), jnp.array([0.15, 0.3, 0.3, 0.25]), jnp.arange(-2.0, 6.0, 2.0))
    """

    def __init__(
        self,
        inner_kernel: HMC,
        *,
        num_discrete_updates: int | None = None,
        random_walk: bool = False,
        modified: bool = False,
    ) -> None:
        if isinstance(inner_kernel, NUTS):
            raise ValueError(
                "MixedHMC needs an HMC inner kernel, not NUTS: its discrete updates happen at "
                "fixed times along a trajectory of fixed length. With NUTS use "
                "DiscreteHMCGibbs(NUTS(model))"
            )
        if not isinstance(inner_kernel, HMC):
            raise TypeError(
                f"inner_kernel must be an HMC kernel, got {type(inner_kernel).__name__}"
            )
        if inner_kernel.model is None:
            raise ValueError("MixedHMC needs an inner kernel built on a model (not a potential_fn)")
        _check_flags("MixedHMC", random_walk, modified)
        self._model = inner_kernel.model
        self._inner = inner_kernel.wrap_model(conditioned)
        self._num_discrete_updates = _check_num_updates(num_discrete_updates)
        self._random_walk = bool(random_walk)
        self._modified = bool(modified)
        self._proposal_fn = select_discrete_proposal(random_walk, modified)
        # Resolved by init.
        self._layout: DiscreteLayout | None = None
        self._num_updates = 0
        self._sample_fn: Callable | None = None

    # -- properties -------------------------------------------------------------

    @property
    def model(self) -> Callable:
        """The model (as given)."""
        return self._model

    @property
    def inner_kernel(self) -> HMC:
        """The HMC kernel of the continuous sites (running the conditioned model)."""
        return self._inner

    @property
    def sample_field(self) -> str:
        return "z"

    @property
    def default_fields(self) -> tuple[str, ...]:
        return ("z", "diverging")

    @property
    def _spec_key(self) -> tuple | None:
        # The driver caches compiled loops per kernel structure.
        if self._layout is None:
            return None
        return (self._inner._spec_key, self._layout.key, self._num_updates)

    def get_diagnostics_str(self, state: MixedHMCState) -> str:
        return self._inner.get_diagnostics_str(state.hmc_state)

    def _split(self, z: dict) -> tuple[dict, dict]:
        sites = self._layout.sites if self._layout is not None else ()
        discrete = {name: value for name, value in z.items() if name in sites}
        continuous = {name: value for name, value in z.items() if name not in sites}
        return discrete, continuous

    # -- init ---------------------------------------------------------------------

    def init(self, rng_key, num_warmup, init_params, model_args, model_kwargs):
        """The initial state.

        Args:
            rng_key: a random key (one chain).
            num_warmup: the number of warmup (adaptation) iterations.
            init_params: initial values of (some of) the discrete sites, and
                optionally unconstrained initial values of all continuous sites.
            model_args: positional arguments of the model.
            model_kwargs: keyword arguments of the model.
        """
        typed_key = jax.dtypes.issubdtype(rng_key.dtype, jax.dtypes.prng_key)
        if jnp.ndim(rng_key) > (0 if typed_key else 1):
            raise ValueError(
                "MixedHMC.init takes one key (one chain); MCMC initializes several chains one "
                "by one"
            )
        model_kwargs = {} if model_kwargs is None else dict(model_kwargs)
        rng_key, key_trace, key_hmc = jax.random.split(rng_key, 3)
        model_trace = prototype_trace(conditioned(self._model), key_trace, model_args, model_kwargs)
        sites = _check_discrete_model(model_trace, "MixedHMC")
        if not [name for name in latent_sample_sites(model_trace) if name not in sites]:
            raise ValueError(
                f"MixedHMC: every latent site of the model is discrete ({list(sites)}), so there "
                "is no trajectory to move along: use DiscreteGibbs(model)"
            )
        self._layout = discrete_layout(model_trace, sites)
        self._num_updates = self._num_discrete_updates or int(self._layout.sizes.size)
        z_discrete, continuous_params = _initial_values(model_trace, sites, init_params, "MixedHMC")
        hmc_state = self._inner.init(
            key_hmc,
            num_warmup,
            continuous_params or None,
            model_args,
            with_conditioning(model_kwargs, z_discrete),
        )
        self._sample_fn = self._transition
        accept_prob = jnp.zeros((), jnp.result_type(float))
        return MixedHMCState({**z_discrete, **hmc_state.z}, hmc_state, rng_key, accept_prob)

    # -- the transition -------------------------------------------------------------

    def _transition(self, state: MixedHMCState, model_args: tuple, model_kwargs: dict):
        model_kwargs = model_kwargs or {}
        inner, spec, layout = self._inner, self._inner._spec, self._layout
        num_coords, num_updates = int(layout.sizes.size), self._num_updates
        hmc_state = state.hmc_state
        x0, unravel_x = ravel_pytree(self._split(state.z)[0])
        support = jnp.asarray(layout.support, x0.dtype)
        sizes = jnp.asarray(layout.sizes)
        metric = _metric(spec)
        adapt_state = hmc_state.adapt_state
        inverse_mass_matrix, step_size = adapt_state.inverse_mass_matrix, adapt_state.step_size

        def potential_vg(x: jax.Array) -> Callable:
            # U(q | x) and its gradient in q, on the flat continuous vector.
            kwargs = with_conditioning(model_kwargs, unravel_x(x))
            return _flat_potential(spec, inner._potential_for(model_args, kwargs))

        def leapfrog(x: jax.Array) -> Callable:
            vg = potential_vg(x)
            return lambda eps, point: velocity_verlet_step(
                vg, metric.velocity, eps, inverse_mass_matrix, point
            )

        # One generator call: the next key, the momentum's key, and uniforms for the
        # discrete kinetic energies, the clocks, the proposals and the final acceptance.
        keys = jax.random.split(state.rng_key, 2 * num_coords + num_updates + 3)
        rng_key, key_momentum = keys[0], keys[1]
        uniforms = jax.vmap(uniform_from_key)(keys[2:])
        kinetic = -jnp.log1p(-uniforms[:num_coords])
        clocks = uniforms[num_coords : 2 * num_coords]
        proposal_uniforms = uniforms[2 * num_coords : 2 * num_coords + num_updates]
        r0 = metric.sample_momentum(key_momentum, adapt_state.mass_matrix_sqrt)
        start = IntegratorState(
            ravel_pytree(hmc_state.z)[0],
            r0,
            hmc_state.potential_energy,
            ravel_pytree(hmc_state.z_grad)[0],
        )
        # The time of the last of num_updates arrivals, rescaled to the trajectory length.
        total_time = (num_updates - 1) // num_coords + jnp.sort(clocks)[
            (num_updates - 1) % num_coords
        ]
        if spec.fixed_num_steps is not None:
            length = spec.fixed_num_steps * step_size
        else:
            length = hmc_state.trajectory_length
        time_unit = length / total_time

        def discrete_update(t: jax.Array, carry: _Trajectory) -> _Trajectory:
            idx = jnp.argmin(carry.clocks)
            duration = carry.clocks[idx] * time_unit
            clocks = (carry.clocks - carry.clocks[idx]).at[idx].set(1.0)
            num_steps = jnp.maximum(jnp.ceil(duration / step_size), 1).astype(jnp.int32)
            point = static_trajectory(
                leapfrog(carry.x), duration / num_steps, num_steps, carry.point
            )

            def energy_of(x: jax.Array) -> jax.Array:
                return potential_vg(x)(point.z)[0]

            x_new, _, log_ratio = self._proposal_fn(
                proposal_uniforms[t],
                carry.x,
                idx,
                support[:, idx],
                sizes[idx],
                point.potential_energy,
                energy_of,
            )
            kinetic_new = carry.kinetic[idx] + log_ratio
            accept = kinetic_new > 0
            kinetic_new = jnp.where(accept, kinetic_new, carry.kinetic[idx])
            energy, grad = lax.cond(
                accept,
                lambda: potential_vg(x_new)(point.z),
                lambda: (point.potential_energy, point.z_grad),
            )
            return _Trajectory(
                x=jnp.where(accept, x_new, carry.x),
                point=point._replace(potential_energy=energy, z_grad=grad),
                kinetic=carry.kinetic.at[idx].set(kinetic_new),
                clocks=clocks,
                discrete_energy_change=carry.discrete_energy_change
                + (energy - point.potential_energy),
                num_steps=carry.num_steps + num_steps,
            )

        end = lax.fori_loop(
            0,
            num_updates,
            discrete_update,
            _Trajectory(
                x=x0,
                point=start,
                kinetic=kinetic,
                clocks=clocks,
                discrete_energy_change=jnp.zeros_like(hmc_state.potential_energy),
                num_steps=jnp.zeros((), jnp.int32),
            ),
        )
        energy_old = start.potential_energy + metric.kinetic_energy(inverse_mass_matrix, r0)
        proposal = end.point
        energy_new = proposal.potential_energy + metric.kinetic_energy(
            inverse_mass_matrix, proposal.r
        )
        delta = energy_new - energy_old - end.discrete_energy_change
        delta = jnp.where(jnp.isnan(delta), jnp.inf, delta)
        accept_prob = jnp.minimum(1.0, jnp.exp(-delta))
        accept = uniforms[-1] < accept_prob
        x, point, energy = jax.tree.map(
            lambda new, old: jnp.where(accept, new, old),
            (end.x, proposal, energy_new),
            (x0, start, energy_old),
        )

        in_warmup = hmc_state.i < spec.num_warmup
        if spec.num_warmup > 0:
            adapter = _adapter(spec, potential_vg(x), metric)
            adapt_state = lax.cond(
                in_warmup,
                lambda a: adapter.update(hmc_state.i, accept_prob, point, a),
                lambda a: a,
                adapt_state,
            )
        i = hmc_state.i + 1
        # The running mean restarts when sampling starts.
        n = jnp.where(in_warmup, i, i - spec.num_warmup).astype(accept_prob.dtype)
        mean_accept_prob = (
            hmc_state.mean_accept_prob + (accept_prob - hmc_state.mean_accept_prob) / n
        )
        hmc_state = hmc_state._replace(
            i=i,
            z=spec.unravel(point.z),
            z_grad=spec.unravel(point.z_grad),
            potential_energy=point.potential_energy,
            energy=energy,
            num_steps=end.num_steps,
            accept_prob=accept_prob,
            mean_accept_prob=mean_accept_prob,
            diverging=delta > MAX_DELTA_ENERGY,
            adapt_state=adapt_state,
        )
        z = {**unravel_x(x), **hmc_state.z}
        return MixedHMCState(z, hmc_state, rng_key, accept_prob)

    def sample(self, state: MixedHMCState, model_args: tuple, model_kwargs: dict):
        """One mixed trajectory."""
        if self._sample_fn is None:
            raise RuntimeError("MixedHMC.sample() needs init() first (MCMC.run calls it)")
        return self._sample_fn(state, model_args, model_kwargs)

    # -- composition and output ---------------------------------------------------

    def gibbs_init_params(self, values: dict, model_trace: dict) -> dict:
        """The discrete sites start from their prior draws; the continuous ones from the
        inner kernel's init strategy (its ``init_params`` are unconstrained)."""
        discrete = discrete_latent_sites(model_trace)
        return {name: value for name, value in values.items() if name in discrete}

    def refresh(self, state: MixedHMCState, model_args: tuple, model_kwargs: dict):
        """Recompute the continuous potential energy and gradient for the current
        conditioning (as a block of :class:`~ppl.mcmc.gibbs.Gibbs`)."""
        discrete, _ = self._split(state.z)
        hmc_state = self._inner.refresh(
            state.hmc_state, model_args, with_conditioning(model_kwargs, discrete)
        )
        return state._replace(hmc_state=hmc_state)

    def wrap_model(self, wrapper: Callable[[Callable], Callable]) -> MixedHMC:
        kernel = copy.copy(self)
        kernel.__dict__.pop("_ppl_mcmc_runners", None)
        kernel._model = wrapper(self._model)
        kernel._inner = self._inner.wrap_model(wrapper)
        kernel._layout = None
        kernel._sample_fn = None
        return kernel

    def get_constrain_fn(self, model_args: tuple, model_kwargs: dict) -> Callable:
        """Constrain the continuous sites (discrete values are kept)."""
        if self._layout is None:
            return _identity

        def constrain(z: dict) -> dict:
            discrete, continuous = self._split(z)
            kwargs = with_conditioning(model_kwargs, discrete)
            return {**discrete, **self._inner.get_constrain_fn(model_args, kwargs)(continuous)}

        return constrain

    def postprocess_fn(self, model_args: tuple, model_kwargs: dict) -> Callable:
        """Constrain the continuous sites and add the model's deterministic sites."""
        if self._layout is None:
            return _identity

        def postprocess(z: dict) -> dict:
            discrete, continuous = self._split(z)
            kwargs = with_conditioning(model_kwargs, discrete)
            return {**discrete, **self._inner.postprocess_fn(model_args, kwargs)(continuous)}

        return postprocess

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_sample_fn"] = None
        return state
