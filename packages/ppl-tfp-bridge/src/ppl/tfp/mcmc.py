"""TFP transition kernels driven by ppl's ``MCMC`` on ppl models.

``TFPKernel[tfp.mcmc.NoUTurnSampler](model, step_size=0.1)`` (NumPyro's
spelling) and ``ppl.tfp.mcmc.NoUTurnSampler(model, step_size=0.1)`` build a
kernel that ppl's :class:`~ppl.mcmc.MCMC` runs like its own: the model's
potential energy :math:`U(z)` in unconstrained space, from
:func:`ppl.infer.util.initialize_model`, becomes TFP's
``target_log_prob_fn`` :math:`= -U`, and samples come back constrained, with
deterministic sites, through the model's ``postprocess_fn``.

The TFP kernel sees the latent values raveled into one flat vector
(:func:`jax.flatten_util.ravel_pytree`, sites in sorted order), so per-site
options such as a ``step_size`` vector refer to that order. The kernel state
keeps them as a dict of sites (``state.z``), so ``MCMC``'s
``extra_fields=("~z.site",)`` and ``init_params`` work as for ppl's kernels;
TFP's kernel results are in ``state.kernel_results`` (collect e.g.
``extra_fields=("kernel_results.is_accepted",)``).

Warmup iterations run the kernel unchanged and are discarded: TFP kernels do
not adapt by themselves. Wrap adaptation in ``kernel_kwargs`` where TFP's
kernel takes it (``ReplicaExchangeMC``'s ``make_kernel_fn``), or tune
``step_size`` by hand.

This module follows the ``MCMCKernel`` interface of ppl-mcmc by duck typing:
ppl-tfp-bridge never imports another inference plugin.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ppl.infer.initialization import init_to_uniform
from ppl.infer.util import ParamInfo, initialize_model
from ppl.tfp import _tfp

__all__ = ["TFPKernel", "TFPKernelState", "kernel_names"]

#: TFP kernels that take a ``target_log_prob_fn``, available without importing
#: TFP (the plugin registers them); any other TFP kernel class with a
#: ``target_log_prob_fn`` is reached through ``TFPKernel[cls]`` or this
#: module's attributes.
KNOWN_KERNELS = (
    "HamiltonianMonteCarlo",
    "MetropolisAdjustedLangevinAlgorithm",
    "NoUTurnSampler",
    "RandomWalkMetropolis",
    "ReplicaExchangeMC",
    "SliceSampler",
    "UncalibratedHamiltonianMonteCarlo",
    "UncalibratedLangevin",
    "UncalibratedRandomWalk",
)


class TFPKernelState(NamedTuple):
    """The state of a :class:`TFPKernel` chain.

    Attributes:
        z: the latent values in unconstrained space (a dict of sites for a
            model; the structure of ``init_params`` otherwise).
        kernel_results: TFP's kernel results for the raveled ``z``.
        rng_key: the random key of the next transition.
    """

    z: Any
    kernel_results: Any
    rng_key: jax.Array


def _identity(x: Any) -> Any:
    return x


def _is_batched_key(rng_key: Any) -> bool:
    """A batch of keys (vectorized chains) rather than one key."""
    if jnp.issubdtype(jnp.result_type(rng_key), jax.dtypes.prng_key):
        return jnp.ndim(rng_key) >= 1
    return jnp.ndim(rng_key) >= 2


def _takes_target_log_prob_fn(kernel_class: type) -> bool:
    try:
        parameters = inspect.signature(kernel_class.__init__).parameters
    except (TypeError, ValueError):
        return False
    return "target_log_prob_fn" in parameters


def _check_kernel_class(kernel_class: Any) -> None:
    transition_kernel = _tfp.tfm().TransitionKernel
    if not (isinstance(kernel_class, type) and issubclass(kernel_class, transition_kernel)):
        raise TypeError(
            "TFPKernel[...] expects a TFP transition kernel class from "
            "tensorflow_probability.substrates.jax.mcmc (e.g. tfp.mcmc.NoUTurnSampler), got "
            f"{kernel_class!r}"
        )
    if not _takes_target_log_prob_fn(kernel_class):
        raise TypeError(
            f"TFPKernel[{kernel_class.__name__}]: the TFP kernel must take a target_log_prob_fn, "
            f"which ppl builds from the model; {kernel_class.__name__} does not (kernels that "
            "wrap an inner kernel, like DualAveragingStepSizeAdaptation, cannot be driven "
            "directly)"
        )


class _TFPKernelMeta(type):
    """Makes ``TFPKernel[tfp.mcmc.NoUTurnSampler]`` a kernel class."""

    def __getitem__(cls, kernel_class: Any) -> type[TFPKernel]:
        return _specialize(kernel_class)


_SPECIALIZED: dict[Any, type] = {}


def _specialize(kernel_class: type | str) -> type[TFPKernel]:
    """The ppl kernel class driving ``kernel_class`` (a TFP class or a ``tfp.mcmc`` name).

    TFP's public kernels are keyed by name, so ``TFPKernel[tfp.mcmc.NoUTurnSampler]``
    is the very class ``ppl.tfp.mcmc.NoUTurnSampler``.
    """
    if isinstance(kernel_class, str):
        key = name = kernel_class
    else:
        _check_kernel_class(kernel_class)
        name = kernel_class.__name__
        key = name if _tfp.public_name(kernel_class, _tfp.tfm()) else kernel_class
    cls = _SPECIALIZED.get(key)
    if cls is None:
        namespace = {
            "_kernel_spec": kernel_class,
            "__module__": __name__,
            "__qualname__": name,
            "__doc__": (
                f"TFP's ``{name}`` transition kernel driven by ppl's ``MCMC`` (see "
                ":class:`TFPKernel`).\n\nTakes ``model`` (or ``target_log_prob_fn``), "
                f"``init_strategy`` and the keyword arguments of ``tfp.mcmc.{name}`` other "
                "than ``target_log_prob_fn``."
            ),
        }
        cls = _TFPKernelMeta(name, (TFPKernel,), namespace)
        _SPECIALIZED[key] = cls
    return cls


class TFPKernel(metaclass=_TFPKernelMeta):
    """A TFP transition kernel as a ppl MCMC kernel.

    Subscript with a TFP kernel class to get a kernel class,
    ``TFPKernel[tfp.mcmc.NoUTurnSampler]``, or use the named classes of this
    module (``ppl.tfp.mcmc.NoUTurnSampler``), then pass the result to
    :class:`ppl.mcmc.MCMC`::

        kernel = TFPKernel[tfp.mcmc.NoUTurnSampler](model, step_size=0.5)
        mcmc = MCMC(kernel, num_warmup=500, num_samples=1000)
        mcmc.run(random.PRNGKey(0), data)

    Args:
        model: a ppl model; its potential energy :math:`U` gives TFP's
            ``target_log_prob_fn`` :math:`= -U` on unconstrained values.
        target_log_prob_fn: instead of a model, the log density of latent
            values (any pytree); ``init_params`` of the same structure must
            then be passed to ``MCMC.run``.
        init_strategy: how a model's initial values are chosen
            (:mod:`ppl.infer.initialization`).
        **kernel_kwargs: the TFP kernel's arguments other than
            ``target_log_prob_fn`` (``step_size``, ``num_leapfrog_steps``,
            ``new_state_fn``, ``inverse_temperatures``, ...).
    """

    _kernel_spec: ClassVar[type | str | None] = None

    def __init__(
        self,
        model: Callable | None = None,
        target_log_prob_fn: Callable | None = None,
        init_strategy: Callable = init_to_uniform,
        **kernel_kwargs: Any,
    ) -> None:
        kernel_class = type(self).tfp_kernel_class()
        if not (model is None) ^ (target_log_prob_fn is None):
            raise ValueError("Only one of `model` or `target_log_prob_fn` must be specified.")
        for name, fn in (("model", model), ("target_log_prob_fn", target_log_prob_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
        if not callable(init_strategy):
            raise TypeError(f"init_strategy must be callable, got {init_strategy!r}")
        _check_kernel_kwargs(kernel_class, kernel_kwargs)
        self._model = model
        self._target_log_prob_fn = target_log_prob_fn
        self._init_strategy = init_strategy
        self._kernel_kwargs = kernel_kwargs
        self._kernel_class = kernel_class
        # Built by init.
        self._potential_fn_gen: Callable | None = None
        self._postprocess_fn: Callable | None = None
        self._unravel: Callable | None = None
        self._sample_fn: Callable | None = None

    @classmethod
    def tfp_kernel_class(cls) -> type:
        """The TFP transition kernel class this kernel class drives."""
        spec = cls._kernel_spec
        if spec is None:
            raise TypeError(
                "TFPKernel needs a TFP kernel class: use TFPKernel[tfp.mcmc.NoUTurnSampler](model, "
                "step_size=...) or a named kernel such as ppl.tfp.mcmc.NoUTurnSampler(model, "
                "step_size=...)"
            )
        if isinstance(spec, str):
            kernel_class = getattr(_tfp.tfm(), spec, None)
            if kernel_class is None:
                raise TypeError(f"tfp.mcmc has no kernel named {spec!r} in this TFP version")
            _check_kernel_class(kernel_class)
            return kernel_class
        return spec

    # -- the MCMCKernel interface --------------------------------------------------

    @property
    def model(self) -> Callable | None:
        """The model, or ``None`` when a ``target_log_prob_fn`` was given."""
        return self._model

    @property
    def sample_field(self) -> str:
        return "z"

    @property
    def default_fields(self) -> tuple[str, ...]:
        return ("z",)

    @property
    def is_ensemble_kernel(self) -> bool:
        return False

    def get_diagnostics_str(self, state: TFPKernelState) -> str:
        parts = []
        log_accept_ratio = _find_result(state.kernel_results, "log_accept_ratio")
        if log_accept_ratio is not None:
            accept_prob = np.mean(np.minimum(1.0, np.exp(np.asarray(log_accept_ratio))))
            parts.append(f"acc. prob={float(accept_prob):.2f}")
        step_size = _find_result(state.kernel_results, "step_size")
        if step_size is not None and np.size(step_size) == 1:
            parts.append(f"step size={float(np.asarray(step_size).reshape(())):.2e}")
        return ", ".join(parts)

    def postprocess_fn(self, args: tuple, kwargs: dict) -> Callable:
        """Constrain unconstrained samples and add deterministic sites (models only)."""
        if self._postprocess_fn is None:
            return _identity
        return self._postprocess_fn(*args, **(kwargs or {}))

    def init(
        self,
        rng_key: jax.Array,
        num_warmup: int,
        init_params: Any = None,
        model_args: tuple = (),
        model_kwargs: dict | None = None,
    ) -> TFPKernelState:
        """The initial :class:`TFPKernelState` (a batch of states for a batch of keys).

        Args:
            rng_key: a key, or a batch of keys (then ``init_params``, if
                given, has a leading batch dimension).
            num_warmup: the number of warmup iterations (they are not
                treated differently: TFP kernels do not adapt by themselves).
            init_params: initial unconstrained values; required with
                ``target_log_prob_fn``. A :class:`~ppl.infer.util.ParamInfo`
                is accepted.
            model_args: positional arguments of the model.
            model_kwargs: keyword arguments of the model.
        """
        model_kwargs = {} if model_kwargs is None else model_kwargs
        if isinstance(num_warmup, bool) or not isinstance(num_warmup, int | np.integer):
            raise ValueError(f"num_warmup must be a non-negative integer, got {num_warmup!r}")
        if num_warmup < 0:
            raise ValueError(f"num_warmup must be a non-negative integer, got {num_warmup!r}")
        if isinstance(init_params, ParamInfo):
            init_params = init_params.z
        if not _is_batched_key(rng_key):
            return self._init_one(rng_key, init_params, model_args, model_kwargs)
        states = []
        for chain, key in enumerate(rng_key):
            params = None if init_params is None else _take(init_params, chain)
            states.append(self._init_one(key, params, model_args, model_kwargs))
        return jax.tree.map(lambda *xs: jnp.stack(xs), *states)

    def _init_one(
        self, rng_key: jax.Array, init_params: Any, model_args: tuple, model_kwargs: dict
    ) -> TFPKernelState:
        rng_key, key_init = jax.random.split(rng_key)
        if self._model is not None:
            info = initialize_model(
                key_init,
                self._model,
                init_strategy=self._init_strategy,
                dynamic_args=True,
                model_args=model_args,
                model_kwargs=model_kwargs,
            )
            self._potential_fn_gen = info.potential_fn
            self._postprocess_fn = info.postprocess_fn
            if init_params is None:
                init_params = info.param_info.z
            else:
                _check_same_structure(init_params, info.param_info.z)
        elif init_params is None:
            raise ValueError(
                "Valid value of `init_params` must be provided with `target_log_prob_fn`."
            )
        z = jax.tree.map(lambda x: jnp.asarray(x, dtype=jnp.result_type(x, float)), init_params)
        flat, self._unravel = ravel_pytree(z)
        if flat.size == 0:
            raise ValueError("the model has no latent values to sample")
        kernel = self._tfp_kernel(model_args, model_kwargs)
        kernel_results = jax.jit(kernel.bootstrap_results)(flat)
        self._sample_fn = self._sample_one
        return TFPKernelState(z, kernel_results, rng_key)

    def sample(
        self, state: TFPKernelState, model_args: tuple, model_kwargs: dict
    ) -> TFPKernelState:
        """One TFP transition from ``state`` (a batch of states is sampled chain-wise)."""
        if self._sample_fn is None:
            raise RuntimeError(
                f"{type(self).__name__}.sample() needs the kernel to be initialized: call init() "
                "(MCMC.run does)"
            )
        model_kwargs = model_kwargs or {}
        if _is_batched_key(state.rng_key):
            return jax.vmap(lambda s: self._sample_fn(s, model_args, model_kwargs))(state)
        return self._sample_fn(state, model_args, model_kwargs)

    # -- building the TFP kernel -----------------------------------------------------

    def _target_log_prob(self, model_args: tuple, model_kwargs: dict) -> Callable:
        unravel = self._unravel
        if self._target_log_prob_fn is not None:
            log_prob_fn = self._target_log_prob_fn

            def log_prob_one(flat: jax.Array) -> jax.Array:
                return log_prob_fn(unravel(flat))

        else:
            if self._potential_fn_gen is None:
                raise RuntimeError("the kernel is not initialized: call init() first")
            potential_fn = self._potential_fn_gen(*model_args, **model_kwargs)

            def log_prob_one(flat: jax.Array) -> jax.Array:
                return -potential_fn(unravel(flat))

        return functools.partial(_batched_log_prob, log_prob_one)

    def _tfp_kernel(self, model_args: tuple, model_kwargs: dict) -> Any:
        """The TFP kernel for a model called with these arguments (cheap to rebuild)."""
        target_log_prob_fn = self._target_log_prob(model_args, model_kwargs)
        return self._kernel_class(target_log_prob_fn=target_log_prob_fn, **self._kernel_kwargs)

    def _sample_one(
        self, state: TFPKernelState, model_args: tuple, model_kwargs: dict
    ) -> TFPKernelState:
        kernel = self._tfp_kernel(model_args, model_kwargs)
        rng_key, key_step = jax.random.split(state.rng_key)
        flat, _ = ravel_pytree(state.z)
        flat, kernel_results = kernel.one_step(flat, state.kernel_results, seed=key_step)
        return TFPKernelState(self._unravel(flat), kernel_results, rng_key)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for name in ("_sample_fn", "_postprocess_fn", "_potential_fn_gen", "_unravel"):
            state[name] = None
        return state


def _take(tree: Any, index: int) -> Any:
    return jax.tree.map(lambda x: x[index], tree)


def _batched_log_prob(log_prob_one: Callable, flat: jax.Array) -> jax.Array:
    """``log_prob_one`` over any leading batch dims of raveled states.

    Some TFP kernels evaluate several states at once (``ReplicaExchangeMC``
    stacks its replicas in front), while a ppl model takes one state.
    """
    if jnp.ndim(flat) <= 1:
        return log_prob_one(flat)
    batch_shape = jnp.shape(flat)[:-1]
    values = jax.vmap(log_prob_one)(jnp.reshape(flat, (-1, jnp.shape(flat)[-1])))
    return jnp.reshape(values, batch_shape)


def _check_kernel_kwargs(kernel_class: type, kernel_kwargs: dict) -> None:
    parameters = inspect.signature(kernel_class.__init__).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    accepted = [n for n in parameters if n not in ("self", "target_log_prob_fn")]
    unknown = [n for n in kernel_kwargs if n not in parameters or n == "self"]
    if unknown and not accepts_any:
        raise TypeError(
            f"{kernel_class.__name__} got unexpected keyword argument(s) {unknown}; it accepts "
            f"{accepted} (target_log_prob_fn is built from the model)"
        )
    missing = [
        n
        for n, p in parameters.items()
        if n not in ("self", "target_log_prob_fn")
        and p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        and n not in kernel_kwargs
    ]
    if missing:
        raise TypeError(
            f"{kernel_class.__name__} needs the keyword argument(s) {missing}, e.g. "
            f"{kernel_class.__name__}(model, {missing[0]}=...)"
        )


def _check_same_structure(init_params: Any, model_z: dict) -> None:
    given = jax.tree.structure(init_params)
    expected = jax.tree.structure(model_z)
    if given != expected:
        names = sorted(model_z) if isinstance(model_z, dict) else expected
        raise ValueError(
            f"init_params must have the structure of the model's latent sites {names}, got {given}"
        )
    leaves = jax.tree_util.tree_leaves_with_path(init_params)
    for (path, value), reference in zip(leaves, jax.tree.leaves(model_z), strict=True):
        if jnp.shape(value) != jnp.shape(reference):
            raise ValueError(
                f"init_params{jax.tree_util.keystr(path)} has shape {jnp.shape(value)}, "
                f"expected {jnp.shape(reference)} (one chain's unconstrained value)"
            )


def _find_result(results: Any, field: str, depth: int = 4) -> Any:
    """The first ``field`` in TFP kernel results, looking into wrapped results."""
    value = getattr(results, field, None)
    if value is not None or depth == 0:
        return value
    for inner in ("accepted_results", "inner_results", "post_swap_replica_results"):
        nested = getattr(results, inner, None)
        if nested is not None:
            found = _find_result(nested, field, depth - 1)
            if found is not None:
                return found
    return None


def kernel_names() -> list[str]:
    """Names of the kernels of ``tfp.mcmc`` that a :class:`TFPKernel` can drive (imports TFP)."""
    tfm = _tfp.tfm()
    return sorted(
        name
        for name in dir(tfm)
        if isinstance(getattr(tfm, name), type)
        and issubclass(getattr(tfm, name), tfm.TransitionKernel)
        and _takes_target_log_prob_fn(getattr(tfm, name))
    )


# The named kernels of the TFP versions this bridge is tested with, created
# without importing TFP; others come from __getattr__.
for _name in KNOWN_KERNELS:
    globals()[_name] = _specialize(_name)
del _name


def __getattr__(name: str) -> type[TFPKernel]:
    if name[:1].isupper():
        kernel_class = getattr(_tfp.tfm(), name, None)
        if isinstance(kernel_class, type) and issubclass(kernel_class, _tfp.tfm().TransitionKernel):
            if _takes_target_log_prob_fn(kernel_class):
                return _specialize(kernel_class)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
