"""Model initialization shared by the Metropolis-type kernels (:class:`~ppl.mcmc.sa.SA`,
:class:`~ppl.mcmc.barker.BarkerMH`, the ensemble samplers).

These kernels all take either a ``model`` or a ``potential_fn``; for a model
they need an initial unconstrained point, the potential energy as a function
of the model arguments, and the map back to constrained values. This module
wraps :func:`~ppl.infer.util.initialize_model` to get them, and turns a model
with discrete latent sites into an error that names the kernel and the sites.
:func:`prepare_initial_params` holds the argument checks and the
initial-point search that the single-chain kernels' ``init`` share, and
:class:`ModelKernel` the model-or-potential bookkeeping of all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ppl import compilation
from ppl.handlers import seed, trace
from ppl.infer.initialization import init_to_uniform
from ppl.infer.util import DiscreteLatentError, ParamInfo, initialize_model
from ppl.mcmc.checks import (
    as_float_tree,
    check_init_params_against_model,
    check_scalar_potential,
    describe_shapes,
    is_batched_key,
)
from ppl.mcmc.kernels import MCMCKernel, _identity
from ppl.mcmc.util import HOST_READ_ERRORS, ArgsBinding

__all__ = [
    "InitialParams",
    "ModelKernel",
    "ModelSetup",
    "check_num_warmup",
    "discrete_latent_sites",
    "initialize_kernel_model",
    "prepare_initial_params",
    "require_init_params",
    "run_compiled_init",
    "unwrap_init_params",
]


class ModelSetup(NamedTuple):
    """What a kernel keeps from a model.

    Attributes:
        z: the initial unconstrained latent values (a dict of sites; with a
            leading batch dimension when initialized from a batch of keys).
        potential_fn_gen: ``potential_fn_gen(*args, **kwargs)`` returns the
            potential energy of unconstrained values for those model arguments.
        postprocess_fn_gen: ``postprocess_fn_gen(*args, **kwargs)`` returns the
            map from unconstrained samples to constrained values (with
            deterministic sites).
    """

    z: dict
    potential_fn_gen: Callable
    postprocess_fn_gen: Callable


def discrete_latent_sites(
    model: Callable, rng_key: jax.Array, model_args: tuple, model_kwargs: dict
) -> list[str]:
    """The names of the unobserved sample sites of ``model`` with a discrete support."""
    model_trace = trace(seed(model, rng_seed=rng_key)).get_trace(*model_args, **model_kwargs)
    return [
        name
        for name, site in model_trace.items()
        if site["type"] == "sample" and not site["is_observed"] and site["fn"].support.is_discrete
    ]


def _single_key(rng_key: jax.Array) -> jax.Array:
    if jnp.issubdtype(rng_key.dtype, jax.dtypes.prng_key):
        return rng_key if rng_key.ndim == 0 else rng_key[0]
    return rng_key if rng_key.ndim == 1 else rng_key[0]


def initialize_kernel_model(
    kernel_name: str,
    model: Callable,
    rng_key: jax.Array,
    *,
    init_strategy: Callable,
    model_args: tuple,
    model_kwargs: dict,
    validate_grad: bool,
) -> ModelSetup:
    """Initialize ``model`` for the kernel called ``kernel_name``.

    Args:
        kernel_name: the kernel's class name, for error messages.
        model: the model.
        rng_key: a key, or a batch of keys (one initial point per key, found
            in one compiled search).
        init_strategy: the initialization strategy.
        model_args: positional arguments of the model.
        model_kwargs: keyword arguments of the model.
        validate_grad: also require a finite gradient at the initial point
            (for gradient-based kernels).

    Raises:
        DiscreteLatentError: when the model has discrete latent sites, naming
            them and the kernels that can sample them.
    """
    try:
        info = initialize_model(
            rng_key,
            model,
            init_strategy=init_strategy,
            dynamic_args=True,
            model_args=model_args,
            model_kwargs=model_kwargs,
            validate_grad=validate_grad,
        )
    except DiscreteLatentError:
        sites = discrete_latent_sites(model, _single_key(rng_key), model_args, model_kwargs)
        raise DiscreteLatentError(
            f"{kernel_name} samples continuous latent variables only, but the model has discrete "
            f"latent site(s) {sites}. Marginalize them out, or sample them with a kernel that "
            "handles discrete sites: DiscreteHMCGibbs or MixedHMC (around an HMC/NUTS kernel), "
            "or HMCGibbs with a gibbs_fn for those sites."
        ) from None
    return ModelSetup(info.param_info.z, info.potential_fn, info.postprocess_fn)


class InitialParams(NamedTuple):
    """The starting point of a (possibly batched) kernel initialization.

    Attributes:
        rng_key: the key (or batch of keys) left for the kernel after the
            model's initialization took its share.
        z: the initial unconstrained values as float arrays (with a leading
            batch dimension when ``batched``).
        z_single: the values of the first chain (``z`` itself when not batched).
        batched: whether the kernel was initialized from a batch of keys.
        potential_fn_gen: see :class:`ModelSetup`; ``None`` without a model.
        postprocess_fn_gen: see :class:`ModelSetup`; ``None`` without a model.
    """

    rng_key: jax.Array
    z: Any
    z_single: Any
    batched: bool
    potential_fn_gen: Callable | None
    postprocess_fn_gen: Callable | None


def check_num_warmup(num_warmup: Any) -> None:
    """Raise unless ``num_warmup`` is a non-negative integer."""
    if not isinstance(num_warmup, (int, np.integer)) or num_warmup < 0:
        raise ValueError(f"num_warmup must be a non-negative integer, got {num_warmup!r}")


def unwrap_init_params(init_params: Any) -> Any:
    """The latent values of ``init_params`` (the ``z`` of a :class:`~ppl.infer.util.ParamInfo`)."""
    return init_params.z if isinstance(init_params, ParamInfo) else init_params


def require_init_params(init_params: Any) -> None:
    """Raise when a kernel built from a ``potential_fn`` gets no ``init_params``."""
    if init_params is None:
        raise ValueError("Valid value of `init_params` must be provided with `potential_fn`.")


def _first(tree: Any) -> Any:
    return jax.tree.map(lambda x: x[0], tree)


def prepare_initial_params(
    kernel_name: str,
    model: Callable | None,
    rng_key: jax.Array,
    num_warmup: Any,
    init_params: Any,
    *,
    init_strategy: Callable,
    model_args: tuple,
    model_kwargs: dict,
    validate_grad: bool,
) -> InitialParams:
    """Validate the arguments of a single-chain kernel's ``init`` and find its initial point.

    A batch of keys initializes one chain per key; ``init_params``, if given,
    then has a leading batch dimension. For a ``model`` the initial point
    comes from :func:`initialize_kernel_model` unless ``init_params`` is given,
    in which case those values are checked against the model's latent sites.

    Args:
        kernel_name: the kernel's class name, for error messages.
        model: the model, or ``None`` for a kernel built from a ``potential_fn``
            (``init_params`` is then required).
        rng_key: a key, or a batch of keys.
        num_warmup: the number of warmup iterations (checked to be a
            non-negative integer).
        init_params: initial unconstrained values, a
            :class:`~ppl.infer.util.ParamInfo`, or ``None``.
        init_strategy: the initialization strategy for a ``model``.
        model_args: positional arguments of the model.
        model_kwargs: keyword arguments of the model.
        validate_grad: also require a finite gradient at the model's initial
            point (for gradient-based kernels).

    Raises:
        ValueError: for a bad ``num_warmup``, a missing ``init_params`` with a
            ``potential_fn``, or ``init_params`` without the batch dimension.
    """
    check_num_warmup(num_warmup)
    batched = is_batched_key(rng_key)
    if batched:
        keys = jax.vmap(jax.random.split)(rng_key)
        rng_key, key_model = keys[:, 0], keys[:, 1]
    else:
        rng_key, key_model = jax.random.split(rng_key)
    init_params = unwrap_init_params(init_params)
    potential_fn_gen = postprocess_fn_gen = None
    if model is not None:
        setup = initialize_kernel_model(
            kernel_name,
            model,
            key_model,
            init_strategy=init_strategy,
            model_args=model_args,
            model_kwargs=model_kwargs,
            validate_grad=validate_grad,
        )
        potential_fn_gen, postprocess_fn_gen = setup.potential_fn_gen, setup.postprocess_fn_gen
        if init_params is None:
            init_params = setup.z
        else:
            model_z = _first(setup.z) if batched else setup.z
            first = _first(init_params) if batched else init_params
            check_init_params_against_model(as_float_tree(first), model_z, batched)
    require_init_params(init_params)
    z = as_float_tree(init_params)
    if batched:
        num = rng_key.shape[0]
        if any(jnp.ndim(x) == 0 or jnp.shape(x)[0] != num for x in jax.tree.leaves(z)):
            raise ValueError(
                f"with a batch of {num} keys, every leaf of init_params needs a leading "
                f"dimension of {num}; got shapes {describe_shapes(z)}"
            )
    z_single = _first(z) if batched else z
    return InitialParams(rng_key, z, z_single, batched, potential_fn_gen, postprocess_fn_gen)


def run_compiled_init(
    kernel: Any,
    binding: ArgsBinding,
    z_single: Any,
    spec: Any,
    init_state: Callable,
    operands: tuple,
    in_axes: tuple | None = None,
) -> Any:
    """``init_state(potential_fn, *operands)``, compiled once per argument
    structure and ``spec`` (a hashable description of everything else
    ``init_state`` depends on) and kept in ``kernel._init_fns``.

    The model's array arguments are traced, so new data of the same shapes
    reuses the program. A model that reads them on the host (``np.mean(y)``)
    gets them baked in instead, as NumPyro does without ``jit_model_args``;
    ``kernel._reads_args_on_host`` remembers it. With ``in_axes`` the function
    is vectorized over a batch of chains inside the compiled program (the
    axes of ``(model arguments, *operands)``).
    """
    if not kernel._reads_args_on_host:
        try:
            program = _compiled_init(kernel, binding, z_single, spec, init_state, in_axes, False)
            return program(binding.dynamic, *operands)
        except HOST_READ_ERRORS:
            kernel._reads_args_on_host = True
    program = _compiled_init(kernel, binding, z_single, spec, init_state, in_axes, True)
    return program([], *operands)


def _compiled_init(
    kernel: Any,
    binding: ArgsBinding,
    z_single: Any,
    spec: Any,
    init_state: Callable,
    in_axes: tuple | None,
    constant: bool,
) -> Callable:
    args_key = binding.cache_key(traced=not constant)
    key = None if args_key is None else (args_key, spec, in_axes, constant)
    if key is not None and key in kernel._init_fns:
        return kernel._init_fns[key]
    check_scalar_potential(kernel._potential_for(*binding.rebuild(binding.dynamic)), z_single)

    def init_one(dynamic: list, *operands: Any) -> Any:
        args = binding.rebuild(binding.dynamic if constant else dynamic)
        return init_state(kernel._potential_for(*args), *operands)

    program = compilation.jit(
        init_one if in_axes is None else jax.vmap(init_one, in_axes=in_axes), "setup"
    )
    if key is not None:
        kernel._init_fns[key] = program
    return program


class ModelKernel(MCMCKernel):
    """Base class of the kernels built from exactly one of a ``model`` and a ``potential_fn``.

    It keeps what :meth:`init` learns from a model (the potential and
    postprocessing generators, stored in ``_potential_fn_gen`` and
    ``_postprocess_fn``), the compiled initial-state functions
    (``_init_fns``) and transition (``_sample_fn``), and serves them for given
    model arguments.

    A single-chain kernel's ``init`` calls ``_prepare_init`` and then
    ``_run_compiled_init``, and sets ``_sample_fn`` to ``_sample_chains``, which
    applies its ``_transition`` to one chain or to a batch of chains.

    Args:
        model: a model built from ppl primitives.
        potential_fn: the potential energy of latent values of any pytree type.
        init_strategy: the initialization strategy for a ``model``.

    Raises:
        ValueError: unless exactly one of ``model`` and ``potential_fn`` is given.
        TypeError: when the given one, or ``init_strategy``, is not callable.
    """

    #: Attributes that hold functions built by :meth:`init`; pickling drops them
    #: (they close over traced model arguments), so a kernel is re-initialized after.
    _transient_attrs: tuple[str, ...] = (
        "_sample_fn",
        "_postprocess_fn",
        "_potential_fn_gen",
        "_spec_key",
    )

    def __init__(
        self,
        model: Callable | None,
        potential_fn: Callable | None,
        init_strategy: Callable = init_to_uniform,
    ) -> None:
        if not (model is None) ^ (potential_fn is None):
            raise ValueError("Only one of `model` or `potential_fn` must be specified.")
        for name, fn in (("model", model), ("potential_fn", potential_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
        if not callable(init_strategy):
            raise TypeError(f"init_strategy must be callable, got {type(init_strategy).__name__}")
        self._model = model
        self._potential_fn = potential_fn
        self._init_strategy = init_strategy
        # Built by init.
        self._potential_fn_gen: Callable | None = None
        self._postprocess_fn: Callable | None = None
        self._sample_fn: Callable | None = None
        self._spec_key: tuple | None = None
        self._init_fns: dict = {}
        # Set when the model reads its array arguments on the host (np.mean(y)).
        self._reads_args_on_host = False

    @property
    def model(self) -> Callable | None:
        """The model, or ``None`` when a ``potential_fn`` was given."""
        return self._model

    @property
    def sample_field(self) -> str:
        return "z"

    def _keep_model_fns(self, setup: ModelSetup | InitialParams) -> None:
        """Keep the potential and postprocessing generators of a model's initialization."""
        self._potential_fn_gen = setup.potential_fn_gen
        self._postprocess_fn = setup.postprocess_fn_gen

    def _prepare_init(
        self,
        rng_key: jax.Array,
        num_warmup: Any,
        init_params: Any,
        model_args: tuple,
        model_kwargs: dict,
        *,
        validate_grad: bool,
    ) -> InitialParams:
        """:func:`prepare_initial_params` for this kernel, keeping the model's generators."""
        init = prepare_initial_params(
            type(self).__name__,
            self._model,
            rng_key,
            num_warmup,
            init_params,
            init_strategy=self._init_strategy,
            model_args=model_args,
            model_kwargs=model_kwargs,
            validate_grad=validate_grad,
        )
        self._keep_model_fns(init)
        return init

    def _run_compiled_init(
        self,
        model_args: tuple,
        model_kwargs: dict,
        z_single: Any,
        spec: Any,
        init_state: Callable,
        operands: tuple,
        in_axes: tuple | None = None,
    ) -> Any:
        """:func:`run_compiled_init` on this kernel's model arguments (ignored by a
        kernel built from a ``potential_fn``)."""
        binding = ArgsBinding(model_args, model_kwargs) if self._model else ArgsBinding((), {})
        return run_compiled_init(self, binding, z_single, spec, init_state, operands, in_axes)

    def _potential_for(self, model_args: tuple, model_kwargs: dict) -> Callable:
        if self._potential_fn is not None:
            return self._potential_fn
        if self._potential_fn_gen is None:
            raise RuntimeError("the kernel is not initialized: call init() first")
        return self._potential_fn_gen(*model_args, **model_kwargs)

    def _transition(self, potential_fn: Callable, state: Any) -> Any:
        """One transition of a single chain; kernels that use :meth:`_sample_chains` override it."""
        raise NotImplementedError(f"{type(self).__name__} defines no single-chain transition")

    def _sample_chains(self, state: Any, model_args: tuple, model_kwargs: dict) -> Any:
        """:meth:`_transition` applied to one chain, or to each chain of a batched state."""
        potential_fn = self._potential_for(model_args, model_kwargs)
        if jnp.ndim(state.i) == 1:
            # A batch of chains (a batched init): the state carries a leading chain axis.
            return jax.vmap(lambda s: self._transition(potential_fn, s))(state)
        return self._transition(potential_fn, state)

    def _run_sample(self, state: Any, model_args: tuple, model_kwargs: dict | None) -> Any:
        """Apply the transition built by :meth:`init`, raising when there is none yet."""
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

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for name in self._transient_attrs:
            state[name] = None
        state["_init_fns"] = {}
        return state
