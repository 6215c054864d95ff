"""Block Gibbs sampling: update a model's latent sites block by block, each block
with its own kernel, on the model conditioned on every other block's values.

A sweep visits the blocks in order. Block :math:`b` owns sites :math:`z_b` and
leaves :math:`p(z_b \\mid z_{-b}, y)` invariant; so does the sweep, hence the
joint posterior. A block kernel sees the conditioning values through the
model keyword argument :data:`GIBBS_SITES_KWARG`, which the model (wrapped by
:func:`conditioned`) turns into observed values. A kernel that caches anything
about its target (HMC caches the potential energy and its gradient) recomputes
it in :meth:`~ppl.mcmc.kernels.MCMCKernel.refresh` when other blocks moved.

:class:`~ppl.mcmc.hmc_gibbs.HMCGibbs` is the two-block case with a
user-written Gibbs update (:class:`CustomGibbs`) and HMC or NUTS.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from ppl.handlers import condition, seed, substitute, trace
from ppl.infer.initialization import init_to_sample
from ppl.mcmc.hmc import HMC
from ppl.mcmc.kernels import MCMCKernel, _identity

__all__ = [
    "GIBBS_SITES_KWARG",
    "CustomGibbs",
    "CustomGibbsState",
    "Gibbs",
    "GibbsState",
    "conditioned",
    "deterministic_values",
    "discrete_latent_sites",
    "latent_sample_sites",
    "prototype_trace",
    "with_conditioning",
]

#: The model keyword argument carrying the values a block is conditioned on.
GIBBS_SITES_KWARG = "_gibbs_sites"

#: Which sites a block owns: names, a function of a prototype trace, or ``None``
#: (every latent site no other block owns).
SitesSpec = Sequence[str] | Callable[[dict], Sequence[str]] | None


# -- conditioning ----------------------------------------------------------------


def _conditioned_model(model: Callable, *args: Any, **kwargs: Any) -> Any:
    values = kwargs.pop(GIBBS_SITES_KWARG, {})
    # condition makes the sites observed (they leave the block's latent space);
    # substitute also fixes deterministic reuse of their values.
    with condition(data=values), substitute(data=values):
        return model(*args, **kwargs)


def conditioned(model: Callable) -> Callable:
    """``model`` reading :data:`GIBBS_SITES_KWARG` from its keyword arguments and
    treating those sites as observed at the given values (idempotent)."""
    if isinstance(model, functools.partial) and model.func is _conditioned_model:
        return model
    return functools.partial(_conditioned_model, model)


def with_conditioning(model_kwargs: dict | None, values: dict) -> dict:
    """A copy of ``model_kwargs`` conditioning also on ``values``.

    The values extend those already there, so that nested composites each see
    exactly the sites they do not own.
    """
    model_kwargs = {} if model_kwargs is None else dict(model_kwargs)
    model_kwargs[GIBBS_SITES_KWARG] = {**model_kwargs.get(GIBBS_SITES_KWARG, {}), **values}
    return model_kwargs


# -- reading the model -----------------------------------------------------------


def prototype_trace(
    model: Callable, rng_key: jax.Array, model_args: tuple, model_kwargs: dict | None
) -> dict:
    """A trace of ``model`` with latent values drawn from their priors."""
    seeded = seed(model, rng_seed=rng_key)
    return trace(substitute(seeded, substitute_fn=init_to_sample)).get_trace(
        *model_args, **(model_kwargs or {})
    )


def latent_sample_sites(model_trace: dict) -> tuple[str, ...]:
    """The names of the unobserved sample sites, in trace order."""
    return tuple(
        name
        for name, site in model_trace.items()
        if site["type"] == "sample" and not site["is_observed"]
    )


def discrete_latent_sites(model_trace: dict) -> tuple[str, ...]:
    """The latent sites with a finite (enumerable) support, in trace order; a
    :data:`SitesSpec` selector for a discrete block."""
    return tuple(
        name
        for name in latent_sample_sites(model_trace)
        if getattr(model_trace[name]["fn"], "has_enumerate_support", False)
        and model_trace[name].get("infer", {}).get("enumerate") != "parallel"
    )


def deterministic_values(
    model: Callable, model_args: tuple, model_kwargs: dict, values: dict
) -> dict:
    """The values of the model's deterministic sites when its latent sites take the
    (constrained) ``values``."""
    replayed = substitute(seed(model, rng_seed=0), data=values)
    model_trace = trace(replayed).get_trace(*model_args, **model_kwargs)
    return {
        name: site["value"] for name, site in model_trace.items() if site["type"] == "deterministic"
    }


def _subsample_plates(model_trace: dict) -> list[str]:
    return [
        name
        for name, site in model_trace.items()
        if site["type"] == "plate"
        and site["args"][1] is not None
        and site["args"][0] > site["args"][1]
    ]


def _any_changed(old: Any, new: Any) -> Any:
    flags = [
        jnp.any(a != b) for a, b in zip(jax.tree.leaves(old), jax.tree.leaves(new), strict=True)
    ]
    return functools.reduce(jnp.logical_or, flags, jnp.asarray(False))


def _has_model(kernel: MCMCKernel) -> bool:
    return getattr(kernel, "model", None) is not None


# -- the custom block --------------------------------------------------------------


class CustomGibbsState(NamedTuple):
    """The state of :class:`CustomGibbs`.

    Attributes:
        z: the block's current (constrained) values.
        rng_key: the random key for the next update.
    """

    z: dict
    rng_key: jax.Array


def _as_arrays(values: dict) -> dict:
    return {name: jnp.asarray(value) for name, value in values.items()}


class CustomGibbs(MCMCKernel):
    """A block of :class:`Gibbs` updated by a user function.

    Args:
        gibbs_fn: called as ``gibbs_fn(rng_key=..., gibbs_sites=..., hmc_sites=...)``
            with the block's current values and the constrained values of every
            conditioning site; returns new values for exactly the block's sites,
            drawn from their full conditional (which is the user's
            responsibility). The keyword names are those of
            :class:`~ppl.mcmc.hmc_gibbs.HMCGibbs`.
    """

    def __init__(self, gibbs_fn: Callable[..., dict]) -> None:
        if not callable(gibbs_fn):
            raise TypeError(f"gibbs_fn must be callable, got {type(gibbs_fn).__name__}")
        self._gibbs_fn = gibbs_fn

    @property
    def sample_field(self) -> str:
        return "z"

    def gibbs_init_params(self, values: dict, model_trace: dict) -> dict:
        """The block starts from the prior draws of its sites."""
        return values

    def init(self, rng_key, num_warmup, init_params, model_args, model_kwargs):
        """``init_params`` are the block's initial constrained values (given by :class:`Gibbs`)."""
        if not init_params:
            raise ValueError("CustomGibbs needs initial values: use it as a block of Gibbs")
        return CustomGibbsState(_as_arrays(init_params), rng_key)

    def sample(self, state, model_args, model_kwargs):
        rng_key, key_update = jax.random.split(state.rng_key)
        conditioning = (model_kwargs or {}).get(GIBBS_SITES_KWARG, {})
        new = self._gibbs_fn(rng_key=key_update, gibbs_sites=state.z, hmc_sites=conditioning)
        if not isinstance(new, dict) or set(new) != set(state.z):
            got = sorted(new) if isinstance(new, dict) else type(new).__name__
            raise ValueError(
                f"gibbs_fn must return a dict with exactly the Gibbs sites {sorted(state.z)}, "
                f"got {got}"
            )
        for name, value in new.items():
            if jnp.shape(value) != jnp.shape(state.z[name]):
                raise ValueError(
                    f"gibbs_fn returned shape {jnp.shape(value)} for site {name!r}, expected "
                    f"{jnp.shape(state.z[name])}"
                )
        new = {
            name: jnp.asarray(value, jnp.result_type(state.z[name])) for name, value in new.items()
        }
        return CustomGibbsState(new, rng_key)

    def refresh(self, state, model_args, model_kwargs):
        """Nothing is cached: the state is returned unchanged."""
        return state

    def get_constrain_fn(self, model_args, model_kwargs):
        """The block's values are already constrained."""
        return _identity


# -- the composite ---------------------------------------------------------------------


class GibbsState(NamedTuple):
    """The state of :class:`Gibbs`.

    Attributes:
        z: every latent site's current value, each as its block keeps it
            (unconstrained for HMC blocks, constrained for the others).
        block_states: one state per block, in block order
            (``extra_fields=("block_states",)`` collects them).
        rng_key: the random key for the next sweep.
    """

    z: dict
    block_states: tuple
    rng_key: jax.Array


class Gibbs(MCMCKernel):
    """Update the latent sites of a model block by block.

    Args:
        blocks: ``(kernel, sites)`` pairs, visited in order at each step.
            ``kernel`` is any kernel implementing
            :meth:`~ppl.mcmc.kernels.MCMCKernel.refresh` (HMC, NUTS,
            :class:`CustomGibbs`, ...); model-based kernels must share one
            model. ``sites`` is a list of site names, a function of a prototype
            trace returning names (e.g. :func:`discrete_latent_sites`), or
            ``None`` for every latent site that no other block owns (at most
            one block).

    Each HMC block adapts its step size and mass matrix to its own conditional
    during warmup; strongly correlated continuous sites belong in one block.
    """

    _state_type: type = GibbsState

    def __init__(self, blocks: Sequence[tuple[MCMCKernel, SitesSpec]]) -> None:
        blocks = list(blocks)
        if not blocks:
            raise ValueError("Gibbs needs at least one (kernel, sites) block")
        kernels, specs = [], []
        for position, block in enumerate(blocks):
            if not (isinstance(block, tuple) and len(block) == 2):
                raise ValueError(f"block {position} must be a (kernel, sites) pair, got {block!r}")
            kernel, spec = block
            if not isinstance(kernel, MCMCKernel):
                raise TypeError(f"block {position}: {kernel!r} is not an MCMCKernel")
            if type(kernel).refresh is MCMCKernel.refresh:
                raise ValueError(
                    f"block {position}: {type(kernel).__name__} does not implement refresh(), "
                    "so it cannot be a block of Gibbs"
                )
            if hasattr(kernel, "model") and kernel.model is None:
                raise ValueError(
                    f"block {position}: a kernel built from a potential_fn cannot be a Gibbs "
                    "block (it cannot be conditioned on the other blocks)"
                )
            if spec is not None and not callable(spec):
                spec = (spec,) if isinstance(spec, str) else tuple(spec)
                if not spec or not all(isinstance(s, str) for s in spec):
                    raise ValueError(
                        f"block {position}: sites must be site names, a function of a trace, "
                        f"or None; got {spec!r}"
                    )
            kernels.append(kernel)
            specs.append(spec)
        if sum(spec is None for spec in specs) > 1:
            raise ValueError("at most one block may take the remaining sites (sites=None)")
        models = [kernel.model for kernel in kernels if _has_model(kernel)]
        if not models:
            raise ValueError("Gibbs needs at least one block built on a model")
        if any(model is not models[0] for model in models[1:]):
            raise ValueError("every model-based block of Gibbs must be built on the same model")
        self._model = models[0]
        self._kernels = tuple(
            kernel.wrap_model(conditioned) if _has_model(kernel) else kernel for kernel in kernels
        )
        self._specs = tuple(specs)
        self._sites: tuple[tuple[str, ...], ...] = ()
        self._has_deterministic = False
        self._sample_fn: Callable | None = None

    # -- properties -------------------------------------------------------------

    @property
    def model(self) -> Callable:
        """The (unwrapped) model shared by the model-based blocks."""
        return self._model

    @property
    def blocks(self) -> tuple[tuple[MCMCKernel, tuple[str, ...] | SitesSpec], ...]:
        """The ``(kernel, sites)`` pairs run (sites resolved once initialized)."""
        return tuple(zip(self._kernels, self._sites or self._specs, strict=True))

    @property
    def sample_field(self) -> str:
        return "z"

    @property
    def _spec_key(self) -> tuple:
        # The driver caches compiled loops per kernel structure.
        return (self._sites, tuple(getattr(k, "_spec_key", None) for k in self._kernels))

    def get_diagnostics_str(self, state: GibbsState) -> str:
        parts = [
            kernel.get_diagnostics_str(block_state)
            for kernel, block_state in zip(self._kernels, state.block_states, strict=True)
        ]
        return " | ".join(part for part in parts if part)

    # -- init -------------------------------------------------------------------

    def _resolve_sites(self, model_trace: dict) -> tuple[tuple[str, ...], ...]:
        latent = tuple(
            name
            for name in latent_sample_sites(model_trace)
            if model_trace[name].get("infer", {}).get("enumerate") != "parallel"
        )
        resolved: list[tuple[str, ...] | None] = []
        for kernel, spec in zip(self._kernels, self._specs, strict=True):
            if spec is None:
                resolved.append(None)
                continue
            names = tuple(spec(model_trace)) if callable(spec) else spec
            unknown = [name for name in names if name not in latent]
            if unknown:
                raise ValueError(
                    f"{type(kernel).__name__} block: sites {unknown} are not latent sample "
                    f"sites of the model (latent sites: {list(latent)})"
                )
            resolved.append(names)
        owned = [name for names in resolved if names for name in names]
        shared = sorted({name for name in owned if owned.count(name) > 1})
        if shared:
            raise ValueError(f"sites {shared} are owned by more than one Gibbs block")
        rest = tuple(name for name in latent if name not in owned)
        if None in resolved:
            resolved[resolved.index(None)] = rest
        elif rest:
            raise ValueError(
                f"latent sites {list(rest)} belong to no Gibbs block: list them in a block or "
                "give one block sites=None"
            )
        for kernel, spec, names in zip(self._kernels, self._specs, resolved, strict=True):
            if spec is not None and not names:
                raise ValueError(f"the {type(kernel).__name__} block owns no sites")
            if isinstance(kernel, HMC):
                discrete = [n for n in names if model_trace[n]["fn"].support.is_discrete]
                if discrete:
                    raise ValueError(
                        f"discrete latent sites {discrete} cannot be sampled by "
                        f"{type(kernel).__name__}: give them a discrete block (DiscreteHMCGibbs "
                        "or MixedHMC do so automatically) or a Gibbs function (HMCGibbs)"
                    )
        return tuple(resolved)  # type: ignore[arg-type]

    def _split_init_params(self, init_params: dict | None) -> tuple[dict | None, ...]:
        if not init_params:
            return tuple(None for _ in self._kernels)
        owned = {name for names in self._sites for name in names}
        unknown = sorted(set(init_params) - owned)
        if unknown:
            raise ValueError(f"init_params has sites {unknown} that no Gibbs block owns")
        return tuple(
            {n: init_params[n] for n in names if n in init_params} or None for names in self._sites
        )

    def init(self, rng_key, num_warmup, init_params, model_args, model_kwargs):
        typed_key = jax.dtypes.issubdtype(rng_key.dtype, jax.dtypes.prng_key)
        if jnp.ndim(rng_key) > (0 if typed_key else 1):
            raise ValueError(
                f"{type(self).__name__}.init takes one key (one chain); MCMC initializes several "
                "chains one by one"
            )
        model_kwargs = {} if model_kwargs is None else dict(model_kwargs)
        rng_key, key_trace = jax.random.split(rng_key)
        model_trace = prototype_trace(conditioned(self._model), key_trace, model_args, model_kwargs)
        self._check_model(model_trace)
        self._sites = self._resolve_sites(model_trace)
        self._has_deterministic = any(s["type"] == "deterministic" for s in model_trace.values())
        block_params = self._split_init_params(init_params)

        # Start every block from prior draws of the others, then from their initial values.
        constrained = {n: model_trace[n]["value"] for names in self._sites for n in names}
        block_states = []
        for kernel, names, params in zip(self._kernels, self._sites, block_params, strict=True):
            kwargs = with_conditioning(
                model_kwargs, {k: v for k, v in constrained.items() if k not in names}
            )
            prior_start = kernel.gibbs_init_params({n: constrained[n] for n in names}, model_trace)
            if prior_start:
                params = {**prior_start, **(params or {})}
            rng_key, key_block = jax.random.split(rng_key)
            state = kernel.init(key_block, num_warmup, params, model_args, kwargs)
            block_states.append(state)
            values = kernel.get_constrain_fn(model_args, kwargs)(
                getattr(state, kernel.sample_field)
            )
            constrained.update({n: values[n] for n in names})
        # Earlier blocks were initialized against prior draws of later ones.
        for i, (kernel, names) in enumerate(zip(self._kernels[:-1], self._sites, strict=False)):
            kwargs = with_conditioning(
                model_kwargs, {k: v for k, v in constrained.items() if k not in names}
            )
            block_states[i] = kernel.refresh(block_states[i], model_args, kwargs)
        self._sample_fn = self._sweep
        return self._state_type(self._merge(block_states), tuple(block_states), rng_key)

    def _check_model(self, model_trace: dict) -> None:
        plates = _subsample_plates(model_trace)
        if plates:
            raise ValueError(
                f"{type(self).__name__} does not support subsampling (plates {plates} have a "
                "subsample_size): use HMCECS for data subsampling"
            )

    def _merge(self, block_states: Sequence[Any]) -> dict:
        z = {}
        for kernel, names, state in zip(self._kernels, self._sites, block_states, strict=True):
            values = getattr(state, kernel.sample_field)
            z.update({n: values[n] for n in names})
        return z

    # -- sample -----------------------------------------------------------------

    def _constrained_block(self, i: int, state: Any, model_args: tuple, kwargs: dict) -> dict:
        kernel, names = self._kernels[i], self._sites[i]
        values = kernel.get_constrain_fn(model_args, kwargs)(getattr(state, kernel.sample_field))
        return {n: values[n] for n in names}

    def _sweep(self, state: GibbsState, model_args: tuple, model_kwargs: dict) -> GibbsState:
        model_kwargs = model_kwargs or {}
        num_blocks = len(self._kernels)
        states = list(state.block_states)
        constrained = [
            self._constrained_block(i, states[i], model_args, model_kwargs)
            for i in range(num_blocks)
        ]

        def kwargs_for(i: int) -> dict:
            others = {}
            for j in range(num_blocks):
                if j != i:
                    others.update(constrained[j])
            return with_conditioning(model_kwargs, others)

        def refresh_if(i: int, moved: list) -> Any:
            if not moved:
                return states[i]
            kwargs = kwargs_for(i)
            return lax.cond(
                functools.reduce(jnp.logical_or, moved),
                lambda s: self._kernels[i].refresh(s, model_args, kwargs),
                lambda s: s,
                states[i],
            )

        moved: list = []
        for i, kernel in enumerate(self._kernels):
            # Blocks visited before this one in the sweep may have moved.
            states[i] = refresh_if(i, moved[:i])
            before = getattr(states[i], kernel.sample_field)
            kwargs = kwargs_for(i)
            states[i] = kernel.sample(states[i], model_args, kwargs)
            moved.append(_any_changed(before, getattr(states[i], kernel.sample_field)))
            constrained[i] = self._constrained_block(i, states[i], model_args, kwargs)
        # Blocks visited after one may have moved: refresh against the final values.
        for i in range(num_blocks - 1):
            states[i] = refresh_if(i, moved[i + 1 :])
        rng_key = jax.random.split(state.rng_key)[0]
        return state._replace(z=self._merge(states), block_states=tuple(states), rng_key=rng_key)

    def sample(self, state: GibbsState, model_args: tuple, model_kwargs: dict) -> GibbsState:
        """One sweep over the blocks."""
        if self._sample_fn is None:
            raise RuntimeError(
                f"{type(self).__name__}.sample() needs init() first (MCMC.run calls it)"
            )
        return self._sample_fn(state, model_args, model_kwargs)

    def refresh(self, state, model_args, model_kwargs):
        """Each sweep refreshes its blocks itself: the state is returned unchanged."""
        return state

    def wrap_model(self, wrapper: Callable[[Callable], Callable]) -> Gibbs:
        kernel = copy.copy(self)
        kernel.__dict__.pop("_ppl_mcmc_runners", None)
        kernel._model = wrapper(self._model)
        kernel._kernels = tuple(
            k.wrap_model(wrapper) if _has_model(k) else k for k in self._kernels
        )
        kernel._sites = ()
        kernel._sample_fn = None
        return kernel

    # -- output -----------------------------------------------------------------

    def get_constrain_fn(self, model_args: tuple, model_kwargs: dict) -> Callable:
        """Constrain each block's sites with the block's own function."""
        if not self._sites:
            return _identity
        model_kwargs = model_kwargs or {}

        def constrain(z: dict) -> dict:
            # Conditioning values do not change the supports Gibbs allows, so the
            # current values of the other blocks serve as conditioning.
            out = {}
            for kernel, names in zip(self._kernels, self._sites, strict=True):
                others = {k: v for k, v in z.items() if k not in names}
                kwargs = with_conditioning(model_kwargs, others)
                values = kernel.get_constrain_fn(model_args, kwargs)({n: z[n] for n in names})
                out.update({n: values[n] for n in names})
            return out

        return constrain

    def postprocess_fn(self, model_args: tuple, model_kwargs: dict) -> Callable:
        """Constrained values of every site, plus the model's deterministic sites."""
        constrain = self.get_constrain_fn(model_args, model_kwargs)
        if not self._has_deterministic:
            return constrain
        model, kwargs = self._model, dict(model_kwargs or {})

        def postprocess(z: dict) -> dict:
            values = constrain(z)
            return {**values, **deterministic_values(model, model_args, kwargs, values)}

        return postprocess

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_sample_fn"] = None
        return state
