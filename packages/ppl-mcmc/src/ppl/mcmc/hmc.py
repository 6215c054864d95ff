"""Hamiltonian Monte Carlo: the shared kernel machinery and the fixed-length HMC kernel.

A transition draws a momentum :math:`r \\sim \\mathcal N(0, M)`, simulates
Hamiltonian dynamics for :math:`H(z, r) = U(z) + K(r)` with the leapfrog
integrator, and keeps the end point with probability
:math:`\\min(1, e^{-\\Delta H})` (HMC) or samples a point from a dynamically
grown trajectory (NUTS, :mod:`ppl.mcmc.nuts`). During warmup the step size
and mass matrix are adapted (:mod:`ppl.mcmc.adaptation`).

Internally latent values are raveled into one flat vector; the state keeps
them (and their gradient) in the user's structure.
"""

from __future__ import annotations

import copy
import functools
import math
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree

from ppl import compilation
from ppl.handlers import seed, substitute, trace
from ppl.infer.initialization import init_to_uniform
from ppl.infer.util import (
    ParamInfo,
    constrain_fn,
    initialize_model,
    latent_transforms,
    transform_fn,
)
from ppl.mcmc.adaptation import Adapter, HMCAdaptState, find_reasonable_step_size, warmup_adapter
from ppl.mcmc.checks import (
    as_float_tree,
    check_init_params_against_model,
    check_positive,
    check_scalar_potential,
    describe_shapes,
    is_batched_key,
    structure_key,
)
from ppl.mcmc.integrators import IntegratorState, value_and_grad, velocity_verlet_step
from ppl.mcmc.kernels import MCMCKernel, _identity
from ppl.mcmc.metrics import (
    BlockLayout,
    Metric,
    custom_metric,
    euclidean_kinetic_energy,
    euclidean_metric,
    normalize_dense_mass,
    resolve_layout,
)
from ppl.mcmc.model_init import run_compiled_init
from ppl.mcmc.trajectory import MAX_DELTA_ENERGY, build_tree, static_trajectory
from ppl.mcmc.util import (
    HOST_READ_ERRORS,
    ArgsBinding,
    flat_structure,
    same_arrays,
    split_keys,
    uniform_from_key,
)

__all__ = ["HMC", "HMCState"]


class HMCState(NamedTuple):
    """The state of the HMC and NUTS kernels.

    Attributes:
        i: the iteration count (warmup iterations included).
        z: the latent values, in unconstrained space.
        z_grad: the gradient of the potential energy at ``z``.
        potential_energy: the potential energy :math:`U(z)`.
        energy: the Hamiltonian :math:`U(z) + K(r)` of the last accepted point.
        r: a momentum to use for the next step, or ``None`` (the usual case)
            to draw a fresh one at each step.
        trajectory_length: the integration time of HMC (``None`` for NUTS or
            when the number of steps is fixed).
        num_steps: the number of leapfrog steps of the last transition; for
            NUTS the tree depth is ``floor(log2(num_steps)) + 1``.
        accept_prob: the acceptance statistic of the last transition.
        mean_accept_prob: its running mean (restarted after warmup).
        diverging: whether the last transition diverged.
        adapt_state: the :class:`~ppl.mcmc.adaptation.HMCAdaptState`.
        rng_key: the random key for the next transition.
    """

    i: jax.Array
    z: Any
    z_grad: Any
    potential_energy: jax.Array
    energy: jax.Array
    r: Any
    trajectory_length: Any
    num_steps: jax.Array
    accept_prob: jax.Array
    mean_accept_prob: jax.Array
    diverging: jax.Array
    adapt_state: HMCAdaptState
    rng_key: jax.Array


# -- argument checks -----------------------------------------------------------


# -- the transition ------------------------------------------------------------


class _Spec(NamedTuple):
    """Everything static about a sampler for one latent structure."""

    algo: str
    num_warmup: int
    layout: BlockLayout
    unravel: Callable[[jax.Array], Any]
    make_adapter: Callable[[Callable | None], Adapter]
    kinetic_fn: Callable | None
    forward_mode: bool
    find_heuristic_step_size: bool
    max_tree_depth: tuple[int, int]
    fixed_num_steps: int | None


def _metric(spec: _Spec) -> Metric:
    if spec.kinetic_fn is None:
        return euclidean_metric(spec.layout)
    return custom_metric(spec.kinetic_fn, spec.layout, spec.unravel)


def _adapter(spec: _Spec, potential_vg: Callable, metric: Metric) -> Adapter:
    find_step_size = None
    if spec.find_heuristic_step_size:

        def find_step_size(step_size, inverse_mass_matrix, sqrt, z_info, rng_key):
            return find_reasonable_step_size(
                potential_vg, metric, step_size, inverse_mass_matrix, sqrt, z_info, rng_key
            )

    return spec.make_adapter(find_step_size)


def _flat_potential(spec: _Spec, potential_fn: Callable) -> Callable:
    return value_and_grad(lambda x: potential_fn(spec.unravel(x)), spec.forward_mode)


def _init_state(
    spec: _Spec,
    potential_fn: Callable,
    z: Any,
    potential_energy: Any,
    z_grad: Any,
    step_size: Any,
    inverse_mass_matrix: Any,
    trajectory_length: Any,
    rng_key: jax.Array,
) -> HMCState:
    z_flat, _ = ravel_pytree(z)
    potential_vg = _flat_potential(spec, potential_fn)
    if potential_energy is None or z_grad is None:
        potential_energy, grad_flat = potential_vg(z_flat)
    else:
        grad_flat, _ = ravel_pytree(z_grad)
    metric = _metric(spec)
    key_hmc, key_adapt, key_momentum = jax.random.split(rng_key, 3)
    adapt_state = _adapter(spec, potential_vg, metric).init(
        IntegratorState(z_flat, None, potential_energy, grad_flat),
        key_adapt,
        step_size,
        inverse_mass_matrix,
    )
    r = metric.sample_momentum(key_momentum, adapt_state.mass_matrix_sqrt)
    energy = potential_energy + metric.kinetic_energy(adapt_state.inverse_mass_matrix, r)
    zero = jnp.zeros((), jnp.int32)
    float_zero = jnp.zeros((), jnp.result_type(float))
    return HMCState(
        i=zero,
        z=z,
        z_grad=spec.unravel(grad_flat),
        potential_energy=jnp.asarray(potential_energy),
        energy=energy,
        r=None,
        trajectory_length=trajectory_length,
        num_steps=zero,
        accept_prob=float_zero,
        mean_accept_prob=float_zero,
        diverging=jnp.zeros((), bool),
        adapt_state=adapt_state,
        rng_key=key_hmc,
    )


def _hmc_transition(
    spec: _Spec,
    step_fn: Callable,
    metric: Metric,
    inverse_mass_matrix: Any,
    step_size: jax.Array,
    trajectory_length: Any,
    initial: IntegratorState,
    rng_key: jax.Array,
) -> tuple[IntegratorState, jax.Array, jax.Array, jax.Array, jax.Array]:
    if spec.fixed_num_steps is not None:
        num_steps = jnp.asarray(spec.fixed_num_steps, jnp.int32)
    elif spec.layout.size == 0:
        num_steps = jnp.ones((), jnp.int32)
    else:
        num_steps = jnp.ceil(trajectory_length / step_size).astype(jnp.int32)
        # Keep the integration time exactly trajectory_length.
        step_size = trajectory_length / num_steps
    proposal = static_trajectory(step_fn, step_size, num_steps, initial)
    energy_old = initial.potential_energy + metric.kinetic_energy(inverse_mass_matrix, initial.r)
    energy_new = proposal.potential_energy + metric.kinetic_energy(inverse_mass_matrix, proposal.r)
    delta = energy_new - energy_old
    delta = jnp.where(jnp.isnan(delta), jnp.inf, delta)
    accept_prob = jnp.minimum(1.0, jnp.exp(-delta))
    accept = uniform_from_key(rng_key) < accept_prob
    state, energy = jax.tree.map(
        lambda new, old: jnp.where(accept, new, old),
        (proposal, energy_new),
        (initial, energy_old),
    )
    return state, energy, num_steps, accept_prob, delta > MAX_DELTA_ENERGY


def _nuts_transition(
    spec: _Spec,
    step_fn: Callable,
    metric: Metric,
    inverse_mass_matrix: Any,
    step_size: jax.Array,
    current_depth: jax.Array,
    initial: IntegratorState,
    rng_key: jax.Array,
) -> tuple[IntegratorState, jax.Array, jax.Array, jax.Array, jax.Array]:
    tree = build_tree(
        step_fn,
        metric,
        inverse_mass_matrix,
        step_size,
        initial,
        rng_key,
        max_tree_depth=(current_depth, max(spec.max_tree_depth)),
    )
    accept_prob = tree.sum_accept_probs / tree.num_proposals
    state = IntegratorState(tree.z_proposal, initial.r, tree.z_proposal_pe, tree.z_proposal_grad)
    return state, tree.z_proposal_energy, tree.num_proposals, accept_prob, tree.diverging


def _sample_state(spec: _Spec, potential_fn: Callable, state: HMCState) -> HMCState:
    z_flat, _ = ravel_pytree(state.z)
    grad_flat, _ = ravel_pytree(state.z_grad)
    potential_vg = _flat_potential(spec, potential_fn)
    metric = _metric(spec)
    adapt_state = state.adapt_state
    inverse_mass_matrix = adapt_state.inverse_mass_matrix
    rng_key, key_momentum, key_transition = jax.random.split(state.rng_key, 3)
    if state.r is None:
        r = metric.sample_momentum(key_momentum, adapt_state.mass_matrix_sqrt)
    else:
        r = ravel_pytree(state.r)[0]
    initial = IntegratorState(z_flat, r, state.potential_energy, grad_flat)

    def step_fn(step_size: jax.Array, s: IntegratorState) -> IntegratorState:
        return velocity_verlet_step(
            potential_vg, metric.velocity, step_size, inverse_mass_matrix, s
        )

    in_warmup = state.i < spec.num_warmup
    if spec.algo == "HMC":
        length = state.trajectory_length
        transition = _hmc_transition
    else:
        warmup_depth, sample_depth = spec.max_tree_depth
        length = jnp.where(in_warmup, warmup_depth, sample_depth)
        transition = _nuts_transition
    new, energy, num_steps, accept_prob, diverging = transition(
        spec,
        step_fn,
        metric,
        inverse_mass_matrix,
        adapt_state.step_size,
        length,
        initial,
        key_transition,
    )
    if spec.num_warmup > 0:
        adapter = _adapter(spec, potential_vg, metric)
        adapt_state = lax.cond(
            in_warmup,
            lambda a: adapter.update(state.i, accept_prob, new, a),
            lambda a: a,
            adapt_state,
        )
    i = state.i + 1
    # The running mean restarts when sampling starts.
    n = jnp.where(in_warmup, i, i - spec.num_warmup).astype(accept_prob.dtype)
    mean_accept_prob = state.mean_accept_prob + (accept_prob - state.mean_accept_prob) / n
    return HMCState(
        i=i,
        z=spec.unravel(new.z),
        z_grad=spec.unravel(new.z_grad),
        potential_energy=new.potential_energy,
        energy=energy,
        r=None if state.r is None else spec.unravel(new.r),
        trajectory_length=state.trajectory_length,
        num_steps=num_steps.astype(jnp.int32),
        accept_prob=accept_prob,
        mean_accept_prob=mean_accept_prob,
        diverging=diverging,
        adapt_state=adapt_state,
        rng_key=rng_key,
    )


def _make_spec(
    kernel_config: dict,
    algo: str,
    num_warmup: int,
    layout: BlockLayout,
    unravel: Callable,
    make_adapter: Callable[[Callable | None], Adapter],
) -> _Spec:
    max_tree_depth = kernel_config["max_tree_depth"]
    if not isinstance(max_tree_depth, tuple):
        max_tree_depth = (max_tree_depth, max_tree_depth)
    kinetic_fn = kernel_config["kinetic_fn"]
    return _Spec(
        algo=algo,
        num_warmup=int(num_warmup),
        layout=layout,
        unravel=unravel,
        make_adapter=make_adapter,
        kinetic_fn=None if kinetic_fn in (None, euclidean_kinetic_energy) else kinetic_fn,
        forward_mode=bool(kernel_config["forward_mode_differentiation"]),
        find_heuristic_step_size=bool(kernel_config["find_heuristic_step_size"]),
        max_tree_depth=tuple(int(d) for d in max_tree_depth),
        fixed_num_steps=kernel_config["num_steps"],
    )


class _ModelSetup(NamedTuple):
    """What :class:`HMC` keeps from a model between runs on the same arguments."""

    key: tuple
    binding: ArgsBinding
    model_z: Any


def _compile_quietly(lowered: Any) -> None:
    try:
        lowered.compile()
    except Exception:
        pass


def _state_key(rng_key: jax.Array) -> jax.Array:
    """The half of one kernel key that the sampler state gets."""
    return jax.random.split(rng_key)[0]


def _model_key_of_one(rng_key: jax.Array) -> jax.Array:
    """The half of one kernel key that initializes the model."""
    return jax.random.split(rng_key)[1]


def _model_key(rng_key: jax.Array, batched: bool) -> jax.Array:
    """:func:`_model_key_of_one` of a key or of each key of a batch."""
    return split_keys(rng_key, 2, batched=batched, unstack=True)[1]


def _fixes_values_from_key(model_trace: dict) -> bool:
    """Whether the model's potential holds values drawn with the initialization key
    (``param`` sites, subsample indices), so that it must be rebuilt on every run."""
    return any(
        site["type"] == "param" or (site["type"] == "plate" and site["args"][0] != site["args"][1])
        for site in model_trace.values()
    )


def _all_finite(tree: Any) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]))


# -- the kernel class ------------------------------------------------------------


class HMC(MCMCKernel):
    """Hamiltonian Monte Carlo with a fixed trajectory length (or number of steps),
    adapting the step size and mass matrix during warmup.

    Args:
        model: a model built from ppl primitives; the potential energy is derived
            from it. Exactly one of ``model`` and ``potential_fn`` is required.
        potential_fn: the potential energy :math:`U(z)` (negative log density)
            of latent values ``z`` of any pytree type; ``init_params`` of the
            same type must then be given to :meth:`init`/:meth:`MCMC.run`.
        kinetic_fn: ``kinetic_fn(inverse_mass_matrix, r)``; defaults to the
            Euclidean :func:`~ppl.mcmc.metrics.euclidean_kinetic_energy`.
        step_size: the initial leapfrog step size.
        inverse_mass_matrix: the initial inverse mass matrix: a 1-d (diagonal)
            or 2-d (dense) array over the raveled latent values, or a dict
            ``{(site, ...): block}`` of a block-diagonal matrix. Defaults to
            the identity.
        adapt_step_size: adapt the step size by dual averaging during warmup.
        adapt_mass_matrix: adapt the mass matrix (Welford covariance) during warmup.
        dense_mass: ``False`` for a diagonal mass matrix, ``True`` for a dense one,
            or a list of tuples of site names, each a dense block (sites not
            listed share one diagonal block), e.g. ``[("x", "y")]``.
        target_accept_prob: the mean acceptance statistic that step-size adaptation
            aims at during warmup; the averaged step size kept for sampling usually
            accepts more often (see :mod:`ppl.mcmc.adaptation`).
        num_steps: a fixed number of leapfrog steps per transition; when given,
            ``trajectory_length`` is ignored.
        trajectory_length: the integration time :math:`\\epsilon L` of each
            transition (the number of steps is
            :math:`\\lceil \\text{trajectory\\_length} / \\epsilon \\rceil`).
        init_strategy: the initialization strategy for a ``model``.
        find_heuristic_step_size: rescale the step size by doubling/halving
            at the start of each adaptation window.
        forward_mode_differentiation: differentiate the potential in forward mode.
        regularize_mass_matrix: shrink the covariance estimate (Stan's rule).
    """

    _algo = "HMC"

    def __init__(
        self,
        model: Callable | None = None,
        potential_fn: Callable | None = None,
        kinetic_fn: Callable | None = None,
        step_size: float = 1.0,
        inverse_mass_matrix: Any = None,
        adapt_step_size: bool = True,
        adapt_mass_matrix: bool = True,
        dense_mass: bool | list = False,
        target_accept_prob: float = 0.8,
        num_steps: int | None = None,
        trajectory_length: float | None = 2 * math.pi,
        init_strategy: Callable = init_to_uniform,
        find_heuristic_step_size: bool = False,
        forward_mode_differentiation: bool = False,
        regularize_mass_matrix: bool = True,
    ) -> None:
        if not (model is None) ^ (potential_fn is None):
            raise ValueError("Only one of `model` or `potential_fn` must be specified.")
        for name, fn in (("model", model), ("potential_fn", potential_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
        if kinetic_fn is not None and not callable(kinetic_fn):
            raise TypeError(f"kinetic_fn must be callable, got {type(kinetic_fn).__name__}")
        check_positive("step_size", step_size)
        if not 0.0 < float(target_accept_prob) < 1.0:
            raise ValueError(f"target_accept_prob must lie in (0, 1), got {target_accept_prob!r}")
        if num_steps is not None and (
            not isinstance(num_steps, (int, np.integer)) or isinstance(num_steps, bool)
        ):
            raise ValueError(f"num_steps must be a positive integer or None, got {num_steps!r}")
        if num_steps is not None and num_steps < 1:
            raise ValueError(f"num_steps must be a positive integer or None, got {num_steps!r}")
        check_positive("trajectory_length", trajectory_length, allow_none=True)
        if self._algo == "HMC" and num_steps is None and trajectory_length is None:
            raise ValueError("HMC needs a trajectory_length or a num_steps; both are None")
        self._model = model
        self._potential_fn = potential_fn
        self._kinetic_fn = kinetic_fn if kinetic_fn is not None else euclidean_kinetic_energy
        self._step_size = float(step_size) if isinstance(step_size, int) else step_size
        self._inverse_mass_matrix = inverse_mass_matrix
        self._adapt_step_size = adapt_step_size
        self._adapt_mass_matrix = adapt_mass_matrix
        self._dense_mass = normalize_dense_mass(dense_mass)
        self._target_accept_prob = target_accept_prob
        self._num_steps = None if num_steps is None else int(num_steps)
        self._trajectory_length = (
            None if num_steps is not None or trajectory_length is None else float(trajectory_length)
        )
        self._max_tree_depth: int | tuple[int, int] = 10
        self._init_strategy = init_strategy
        self._find_heuristic_step_size = find_heuristic_step_size
        self._forward_mode_differentiation = forward_mode_differentiation
        self._regularize_mass_matrix = regularize_mass_matrix
        # Built by init; kept across runs with the same latent structure so that
        # compiled functions are reused.
        self._potential_fn_gen: Callable | None = None
        self._postprocess_fn: Callable | None = None
        self._transforms: dict | None = None
        self._spec: _Spec | None = None
        self._spec_key: tuple | None = None
        self._init_fns: dict = {}
        self._sample_fn: Callable | None = None
        self._model_setup: _ModelSetup | None = None
        # Set when the model reads its array arguments on the host (np.mean(y)):
        # its setup programs then close over the arguments instead of tracing them.
        self._reads_args_on_host = False

    # -- configuration -----------------------------------------------------

    @property
    def model(self) -> Callable | None:
        """The model, or ``None`` when a ``potential_fn`` was given."""
        return self._model

    @property
    def sample_field(self) -> str:
        return "z"

    @property
    def default_fields(self) -> tuple[str, ...]:
        return ("z", "diverging")

    def get_diagnostics_str(self, state: HMCState) -> str:
        return (
            f"{int(state.num_steps)} steps of size {float(state.adapt_state.step_size):.2e}. "
            f"acc. prob={float(state.mean_accept_prob):.2f}"
        )

    def _config(self) -> dict:
        return {
            "kinetic_fn": self._kinetic_fn,
            "forward_mode_differentiation": self._forward_mode_differentiation,
            "find_heuristic_step_size": self._find_heuristic_step_size,
            "max_tree_depth": self._max_tree_depth,
            "num_steps": self._num_steps if self._algo == "HMC" else None,
        }

    def _build_adapter(
        self,
        num_warmup: int,
        layout: BlockLayout,
        find_reasonable_step_size: Callable | None,
    ) -> Adapter:
        """The warmup adaptation scheme; override to plug in another one.

        Args:
            num_warmup: the number of warmup iterations.
            layout: the mass-matrix layout.
            find_reasonable_step_size: the step-size heuristic, or ``None``
                when ``find_heuristic_step_size=False``.
        """
        return warmup_adapter(
            num_warmup,
            layout,
            find_reasonable_step_size=find_reasonable_step_size,
            adapt_step_size=self._adapt_step_size,
            adapt_mass_matrix=self._adapt_mass_matrix,
            target_accept_prob=self._target_accept_prob,
            regularize_mass_matrix=self._regularize_mass_matrix,
        )

    # -- init / sample -----------------------------------------------------

    def _potential_for(self, model_args: tuple, model_kwargs: dict) -> Callable:
        if self._potential_fn is not None:
            return self._potential_fn
        if self._potential_fn_gen is None:
            raise RuntimeError("the kernel is not initialized: call init() first")
        return self._potential_fn_gen(*model_args, **model_kwargs)

    def _init_model(
        self,
        rng_key: jax.Array,
        init_params: Any,
        model_args: tuple,
        model_kwargs: dict,
        batched: bool,
    ) -> Any:
        """Checked ``init_params``, or the eager initial-point search's result.

        The usual case, no ``init_params``, is served by :meth:`_init_from_search`;
        this path takes what it cannot: models that must be initialized afresh each
        run, models that read their arguments on the host, and first draws that are
        not finite (the eager search redraws them and names the sites at fault).
        """
        binding = ArgsBinding(model_args, model_kwargs)
        setup = self._model_setup_for(rng_key, binding, batched)
        if setup is None or self._reads_args_on_host or init_params is None:
            return self._init_model_eagerly(
                _model_key(rng_key, batched), init_params, model_args, model_kwargs, batched
            )
        init_z = init_params.z if isinstance(init_params, ParamInfo) else init_params
        if batched:
            init_z = jax.tree.map(lambda x: x[0] if jnp.ndim(x) else x, init_z)
        check_init_params_against_model(as_float_tree(init_z), setup.model_z, batched)
        return init_params

    def _init_from_search(
        self,
        rng_key: jax.Array,
        num_warmup: int,
        model_args: tuple,
        model_kwargs: dict,
        batched: bool,
    ) -> HMCState | None:
        """The initial state from the first draw of the initial-point search, both in
        one compiled program kept across runs; ``None`` when :meth:`_init_model`
        must take over.

        Every MCMC run initializes again: searching eagerly would dispatch the
        model's operations one by one on each run, a cost comparable to the
        compiled sampling loop on small models. Straight-line code compiles faster
        than the search's retry loop, and the rare first draws that are not finite
        are redrawn by the eager search.
        """
        found = self._search_init_program(rng_key, num_warmup, model_args, model_kwargs, batched)
        if found is None:
            return None
        program, operands, _ = found
        try:
            state, valid = program(*operands)
        except HOST_READ_ERRORS:
            # As NumPyro does without jit_model_args: the model sees concrete arguments.
            self._reads_args_on_host = True
            return None
        return state if bool(valid) else None

    def _search_init_program(
        self,
        rng_key: jax.Array,
        num_warmup: int,
        model_args: tuple,
        model_kwargs: dict,
        batched: bool,
    ) -> tuple[Callable, tuple, bool] | None:
        """``(program, operands, built before)`` of :meth:`_compiled_search_init` for
        these arguments, the program kept in ``_init_fns`` (reset whenever the spec
        changes); ``None`` when the model takes the eager path."""
        binding = ArgsBinding(model_args, model_kwargs)
        setup = self._model_setup_for(rng_key, binding, batched)
        if setup is None or self._reads_args_on_host:
            return None
        spec, inverse_mass_matrix = self._prepare(num_warmup, setup.model_z, True)
        cache_key = ("search", binding.cache_key(traced=True), batched)
        program = self._init_fns.get(cache_key)
        built_before = program is not None
        if not built_before:
            check_scalar_potential(self._potential_for(model_args, model_kwargs), setup.model_z)
            program = self._init_fns[cache_key] = self._compiled_search_init(binding, spec, batched)
        step_size, length = self._initial_scalars()
        operands = (binding.dynamic, rng_key, step_size, inverse_mass_matrix, length)
        return program, operands, built_before

    def _initialize(self, key: jax.Array, model_args: tuple, model_kwargs: dict, **options):
        """:func:`~ppl.infer.util.initialize_model` of this kernel's model and settings."""
        return initialize_model(
            key,
            self._model,
            init_strategy=self._init_strategy,
            dynamic_args=True,
            model_args=model_args,
            model_kwargs=model_kwargs,
            forward_mode_differentiation=self._forward_mode_differentiation,
            **options,
        )

    def _model_setup_for(
        self, rng_key: jax.Array, binding: ArgsBinding, batched: bool
    ) -> _ModelSetup | None:
        """The model's potential, postprocessing and abstract latent values.

        Re-running on the very same argument arrays reuses everything; new arrays
        of the same shapes probe the model again (the compiled programs are kept).
        ``None`` when the model fixes values from the key of its first run
        (parameters, subsample indices) and must be initialized afresh each run.
        """
        structure = binding.cache_key(traced=True)
        if structure is None:
            return None
        key = (structure, batched)
        cached = self._model_setup
        if cached is not None and cached.key == key and same_arrays(cached.binding, binding):
            return cached
        key_shape = rng_key.shape[1:] if batched else rng_key.shape
        first_key = jax.ShapeDtypeStruct(key_shape, rng_key.dtype)
        model_args, model_kwargs = binding.rebuild(binding.dynamic)
        probed = self._probe_model(first_key, model_args, model_kwargs)
        if probed is None:
            self._model_setup = None
            return None
        model_info, transforms = probed
        self._potential_fn_gen = model_info.potential_fn
        self._postprocess_fn = model_info.postprocess_fn
        self._transforms = transforms
        setup = _ModelSetup(key, binding, model_info.param_info.z)
        self._model_setup = setup
        return setup

    def _probe_model(
        self, key: jax.ShapeDtypeStruct, model_args: tuple, model_kwargs: dict
    ) -> tuple[Any, dict] | None:
        """The model's :func:`~ppl.infer.util.initialize_model` structure (its
        potential and postprocessing, the latent sites' transforms and abstract
        unconstrained values), traced abstractly so that none of the model's
        operations is compiled or run one by one.

        ``None`` when the structure cannot be kept across runs: the model fixes
        values from the key (parameters, subsample indices) or cannot be traced
        abstractly (e.g. Python control flow on a value); the eager path then
        takes over and reports any error. Transforms are ``None`` when a site's
        support depends on a drawn value.
        """
        captured = {}

        def probe(key: jax.Array) -> Any:
            info = self._initialize(key, model_args, model_kwargs, validate_grad=False)
            captured["info"] = info
            captured["transforms"] = latent_transforms(info.model_trace)
            return info.param_info.z

        try:
            model_z = jax.eval_shape(probe, key)
        except Exception:  # the eager initialization raises the error worth reading
            return None
        model_info = captured["info"]
        if _fixes_values_from_key(model_info.model_trace):
            return None
        transforms = captured["transforms"]
        if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(transforms)):
            # A support depends on another site's draw (x ~ Uniform(0, y)): each draw
            # is constrained by replaying the model, not by the first draw's transforms.
            model = self._model

            def replay(*args: Any, **kwargs: Any) -> Callable:
                return functools.partial(
                    constrain_fn, model, args, kwargs, return_deterministic=True
                )

            model_info, transforms = model_info._replace(postprocess_fn=replay), None
        param_info = model_info.param_info._replace(z=model_z)
        return model_info._replace(param_info=param_info, model_trace=None), transforms

    def _stage_init(
        self, rng_key: jax.Array, num_warmup: int, model_args: tuple, model_kwargs: dict
    ) -> tuple[Any, Callable[[], HMCState]] | None:
        """Start compiling the first run's initial state in the background.

        Returns the state's abstract value (shapes and dtypes), so that the caller
        can trace the sampling loop meanwhile, and a function that waits for the
        compile and returns :meth:`init`'s state. ``None`` when there is nothing to
        overlap: a ``potential_fn``, a program compiled already, or a model that
        takes the eager path.
        """
        if self._model is None:
            return None
        found = self._search_init_program(
            rng_key, num_warmup, model_args, model_kwargs, is_batched_key(rng_key)
        )
        if found is None:
            return None
        program, operands, built_before = found
        if built_before:
            return None
        try:
            lowered = program.trace(*operands).lower()
        except HOST_READ_ERRORS:
            return None  # init() finds this out again and takes the eager path
        # XLA compiles without the GIL: the caller traces meanwhile. The call in
        # init() then finds the compiled program (or raises what compiling raised).
        compiling = threading.Thread(target=_compile_quietly, args=(lowered,), daemon=True)
        compiling.start()

        def finish() -> HMCState:
            compiling.join()
            return self.init(rng_key, num_warmup, None, model_args, model_kwargs)

        return lowered.out_info[0], finish

    def _compiled_search_init(self, binding: ArgsBinding, spec: _Spec, batched: bool) -> Callable:
        """``(array arguments, kernel key or keys, step size, inverse mass matrix,
        trajectory length) -> (HMCState, all finite)``: the first draw of the
        initial-point search of :func:`~ppl.infer.util.initialize_model` (one per
        key) and the state built on it, compiled as one program.
        """
        model = self._model
        strategy = self._init_strategy
        if not isinstance(strategy, functools.partial):
            strategy = strategy()
        potential_gen = self._potential_fn_gen
        forward_mode = self._forward_mode_differentiation

        def one_chain(
            dynamic: list, key: jax.Array, step_size: Any, inverse_mass_matrix: Any, length: Any
        ) -> tuple[HMCState, ParamInfo]:
            args, kwargs = binding.rebuild(dynamic)
            # The key of the search's first draw, from the model's half of the key.
            _, first = jax.random.split(_model_key_of_one(key))
            seeded = substitute(seed(model, rng_seed=first), substitute_fn=strategy)
            model_trace = trace(seeded).get_trace(*args, **kwargs)
            transforms = latent_transforms(model_trace)
            constrained = {name: model_trace[name]["value"] for name in transforms}
            z = as_float_tree(transform_fn(transforms, constrained, invert=True))
            potential_fn = potential_gen(*args, **kwargs)
            energy, grad = value_and_grad(potential_fn, forward_mode)(z)
            state = _init_state(
                spec,
                potential_fn,
                z,
                energy,
                grad,
                step_size,
                inverse_mass_matrix,
                length,
                _state_key(key),
            )
            return state, ParamInfo(z, energy, grad)

        def search_init(dynamic: list, keys: jax.Array, *scalars: Any) -> tuple[HMCState, Any]:
            if batched:
                in_axes = (None, 0, None, None, None)
                state, info = jax.vmap(one_chain, in_axes=in_axes)(dynamic, keys, *scalars)
            else:
                state, info = one_chain(dynamic, keys, *scalars)
            return state, _all_finite((info.potential_energy, info.z_grad))

        return compilation.jit(search_init, "setup")

    def _init_model_eagerly(
        self,
        rng_key: jax.Array,
        init_params: Any,
        model_args: tuple,
        model_kwargs: dict,
        batched: bool,
    ) -> Any:
        def initialize(key: jax.Array) -> Any:
            return self._initialize(key, model_args, model_kwargs)

        if batched:
            # One eager search per chain: it retries only the chains that need it.
            infos = [initialize(key) for key in rng_key]
            model_info = infos[-1]
            param_info = ParamInfo(
                *jax.tree.map(lambda *xs: jnp.stack(xs), *[i.param_info for i in infos])
            )
            model_info = model_info._replace(param_info=param_info)
        else:
            model_info = initialize(rng_key)
        self._potential_fn_gen = model_info.potential_fn
        self._postprocess_fn = model_info.postprocess_fn
        self._transforms = latent_transforms(model_info.model_trace)
        if init_params is None:
            return model_info.param_info
        init_z = init_params.z if isinstance(init_params, ParamInfo) else init_params
        model_z = model_info.param_info.z
        if batched:
            model_z = jax.tree.map(lambda x: x[0], model_z)
            init_z = jax.tree.map(lambda x: x[0] if jnp.ndim(x) else x, init_z)
        check_init_params_against_model(as_float_tree(init_z), model_z, batched)
        return init_params

    def _prepare(self, num_warmup: int, z_single: Any, structured: bool) -> tuple[_Spec, Any]:
        layout, inverse_mass_matrix = resolve_layout(
            z_single, self._dense_mass, self._inverse_mass_matrix, structured
        )
        key = (int(num_warmup), structure_key(z_single), structured)
        if self._spec is None or self._spec_key != key:
            _, unravel = flat_structure(z_single)
            self._spec = _make_spec(
                self._config(),
                self._algo,
                num_warmup,
                layout,
                unravel,
                lambda find: self._build_adapter(int(num_warmup), layout, find),
            )
            self._spec_key = key
            self._init_fns = {}
        self._sample_fn = self._sample_any
        return self._spec, inverse_mass_matrix

    def _initial_scalars(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The initial step size and trajectory length, as NumPy scalars: converting
        them on the device would compile a program each."""
        step_size = np.asarray(self._step_size, jnp.result_type(float))
        length = self._trajectory_length
        return step_size, None if length is None else np.asarray(length, jnp.result_type(float))

    def init(
        self,
        rng_key: jax.Array,
        num_warmup: int,
        init_params: Any = None,
        model_args: tuple = (),
        model_kwargs: dict | None = None,
    ) -> HMCState:
        """The initial :class:`HMCState` (a batch of states for a batch of keys).

        Args:
            rng_key: a key, or a batch of keys (then ``init_params``, if given,
                has a leading batch dimension).
            num_warmup: the number of warmup (adaptation) iterations.
            init_params: initial unconstrained values; required with
                ``potential_fn``. A :class:`~ppl.infer.util.ParamInfo` is accepted.
            model_args: positional arguments of the model.
            model_kwargs: keyword arguments of the model.
        """
        model_kwargs = {} if model_kwargs is None else model_kwargs
        if not isinstance(num_warmup, (int, np.integer)) or num_warmup < 0:
            raise ValueError(f"num_warmup must be a non-negative integer, got {num_warmup!r}")
        batched = is_batched_key(rng_key)
        # The key splits into the state's key and the model's; the compiled programs
        # split it themselves rather than in a program of their own.
        if self._model is not None:
            if init_params is None:
                state = self._init_from_search(
                    rng_key, num_warmup, model_args, model_kwargs, batched
                )
                if state is not None:
                    return state
            init_params = self._init_model(rng_key, init_params, model_args, model_kwargs, batched)
        elif init_params is None:
            raise ValueError("Valid value of `init_params` must be provided with `potential_fn`.")

        if isinstance(init_params, ParamInfo):
            z, potential_energy, z_grad = init_params
        else:
            z, potential_energy, z_grad = init_params, None, None
        z = as_float_tree(z)
        if batched:
            num = rng_key.shape[0]
            for leaf in jax.tree.leaves(z):
                if jnp.ndim(leaf) == 0 or jnp.shape(leaf)[0] != num:
                    raise ValueError(
                        f"with a batch of {num} keys, every leaf of init_params needs a leading "
                        f"dimension of {num}; got shapes {describe_shapes(z)}"
                    )
        # Only the structure of one chain's values is needed: slicing would compile.
        z_single = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape[int(batched) :], x.dtype), z)
        if not jax.tree.leaves(z_single):
            raise ValueError("init_params has no latent values to sample")
        spec, inverse_mass_matrix = self._prepare(num_warmup, z_single, self._model is not None)
        uses_args = self._potential_fn is None
        binding = ArgsBinding(model_args, model_kwargs) if uses_args else ArgsBinding((), {})
        step_size, length = self._initial_scalars()

        def init_state(potential_fn: Callable, *operands: Any) -> HMCState:
            *values, rng_key = operands
            return _init_state(spec, potential_fn, *values, _state_key(rng_key))

        # The cache of compiled initial states is reset whenever the spec changes.
        return run_compiled_init(
            self,
            binding,
            z_single,
            (),
            init_state,
            (z, potential_energy, z_grad, step_size, inverse_mass_matrix, length, rng_key),
            (None, 0, 0, 0, None, None, None, 0) if batched else None,
        )

    def _sample_any(self, state: HMCState, model_args: tuple, model_kwargs: dict) -> HMCState:
        potential_fn = self._potential_for(model_args, model_kwargs)
        if jnp.ndim(state.i) == 1:
            # A batch of chains (vectorized): the state carries a leading chain axis.
            return jax.vmap(lambda s: _sample_state(self._spec, potential_fn, s))(state)
        return _sample_state(self._spec, potential_fn, state)

    def sample(self, state: HMCState, model_args: tuple, model_kwargs: dict) -> HMCState:
        """One transition from ``state`` (a batch of states is sampled chain-wise)."""
        if self._sample_fn is None:
            raise RuntimeError(
                f"{type(self).__name__}.sample() needs the kernel to be initialized: call init() "
                "(MCMC.run does)"
            )
        return self._sample_fn(state, model_args, model_kwargs or {})

    def postprocess_fn(self, args: tuple, kwargs: dict) -> Callable:
        """Constrain unconstrained samples and add deterministic sites (models only)."""
        if self._postprocess_fn is None:
            return _identity
        return self._postprocess_fn(*args, **(kwargs or {}))

    def get_constrain_fn(self, args: tuple, kwargs: dict) -> Callable:
        """Map unconstrained latent values to the sites' supports (models only)."""
        if self._model is None:
            return _identity
        if self._transforms is None:
            if self._postprocess_fn is None:
                return _identity
            # Supports that depend on draws: replay the model (see _probe_model).
            return functools.partial(constrain_fn, self._model, args, kwargs or {})
        return functools.partial(transform_fn, self._transforms)

    def refresh(self, state: HMCState, model_args: tuple, model_kwargs: dict) -> HMCState:
        """Recompute the potential energy and its gradient at ``state.z`` for the
        target given by these model arguments (used when the kernel is a block of
        :class:`~ppl.mcmc.gibbs.Gibbs`, whose other blocks change the conditioning)."""
        potential_fn = self._potential_for(model_args, model_kwargs or {})
        energy_and_grad = value_and_grad(potential_fn, self._forward_mode_differentiation)
        if jnp.ndim(state.i) == 1:
            potential, grad = jax.vmap(energy_and_grad)(state.z)
        else:
            potential, grad = energy_and_grad(state.z)
        return state._replace(potential_energy=potential, z_grad=grad)

    def wrap_model(self, wrapper: Callable[[Callable], Callable]) -> HMC:
        """A fresh copy of this kernel (nothing compiled) on ``wrapper(model)``."""
        if self._model is None:
            raise ValueError(
                f"{type(self).__name__} built from a potential_fn has no model to wrap"
            )
        kernel = copy.copy(self)
        kernel.__dict__.update(self.__getstate__())
        kernel.__dict__.pop("_ppl_mcmc_runners", None)
        kernel._model = wrapper(self._model)
        return kernel

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for name in (
            "_sample_fn",
            "_postprocess_fn",
            "_potential_fn_gen",
            "_transforms",
            "_spec",
            "_spec_key",
            "_model_setup",
        ):
            state[name] = None
        state["_init_fns"] = {}
        return state
