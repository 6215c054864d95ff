"""The model language: primitives that send messages through the handler stack.

A model is a plain Python function. Each primitive (:func:`sample`,
:func:`param`, :func:`deterministic`, ...) builds a *message*, a dict that
describes the site, and passes it through the stack of active effect handlers
(:mod:`ppl.handlers`). Every handler may edit the message on the way in
(``process_message``, innermost handler first) and on the way out
(``postprocess_message``, outermost first); whatever value the message holds
at the end is what the primitive returns.

The message fields:

======================  ==========================================================
``type``                ``"sample"``, ``"param"``, ``"deterministic"``, ``"plate"``,
                        ``"subsample"``, ``"prng_key"``, ``"mask"``, ...
``name``                the site name (unique per model run for sample sites)
``fn``                  the distribution (sample sites) or the function computing
                        the value
``args, kwargs``        the arguments of ``fn``
``value``               the site's value (``None`` until someone sets it)
``scale``               a factor on the site's log density (``None`` means 1)
``mask``                a boolean mask on the site's log density (``None``: all)
``is_observed``         whether the value is data
``cond_indep_stack``    the plates the site lives in, innermost last
``infer``               free-form options for inference algorithms
``intermediates``       values a distribution computed on the way to a sample
======================  ==========================================================
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "CondIndepStackFrame",
    "Messenger",
    "apply_stack",
    "deterministic",
    "factor",
    "get_mask",
    "module",
    "param",
    "plate",
    "plate_stack",
    "prng_key",
    "sample",
    "subsample",
]

#: The active effect handlers, outermost first. The only global state of ppl.
_HANDLER_STACK: list[Messenger] = []


class MissingRandomKeyError(ValueError):
    """A random site was reached with no random key to draw it with."""


# ---------------------------------------------------------------------------
# The handler protocol
# ---------------------------------------------------------------------------


class Messenger:
    """Base class of effect handlers.

    Subclasses override :meth:`process_message` and/or
    :meth:`postprocess_message`. A handler is used either as a context
    manager (``with trace() as tr: model()``) or as a function wrapper
    (``trace(model).get_trace()``, ``seed(model, rng_seed=0)(x)``).
    """

    def __init__(self, fn: Callable | None = None) -> None:
        if fn is not None and not callable(fn):
            raise TypeError(
                f"{type(self).__name__} expects a callable to wrap as its first argument, "
                f"got {type(fn).__name__}: {fn!r}. Pass the handler's options by keyword, e.g. "
                f"{type(self).__name__}(model, ...)."
            )
        self.fn = fn
        if fn is not None:
            functools.update_wrapper(self, fn, updated=[])

    def __enter__(self) -> Messenger:
        _HANDLER_STACK.append(self)
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        if exc_type is None:
            if not _HANDLER_STACK or _HANDLER_STACK[-1] is not self:
                raise RuntimeError(
                    f"handler {type(self).__name__} exited out of order: handlers must be "
                    "nested, each leaving before the one that entered before it"
                )
            _HANDLER_STACK.pop()
        elif self in _HANDLER_STACK:
            # An exception unwinds everything this handler was wrapping too.
            del _HANDLER_STACK[_HANDLER_STACK.index(self) :]

    def process_message(self, msg: dict) -> None:
        """Edit a message on its way in (innermost handler first)."""

    def postprocess_message(self, msg: dict) -> None:
        """Edit a message on its way out (outermost handler last)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fn is None:
            # Used as a decorator with options only: handler(options...)(fn).
            if len(args) == 1 and not kwargs and callable(args[0]):
                wrapped = _shallow_copy(self)
                Messenger.__init__(wrapped, args[0])
                return wrapped
            raise TypeError(
                f"{type(self).__name__} was called without a function to wrap; use it as "
                f"`with {type(self).__name__}(...):` or `{type(self).__name__}(fn, ...)(args)`"
            )
        with self:
            return self.fn(*args, **kwargs)


def _shallow_copy(handler: Messenger) -> Messenger:
    copy = object.__new__(type(handler))
    copy.__dict__.update(handler.__dict__)
    return copy


def apply_stack(msg: dict) -> dict:
    """Send ``msg`` through the active handlers and fill in its value.

    Handlers see the message innermost first; one may set ``msg["stop"]`` to
    hide it from the handlers outside it. Then the default behaviour runs
    (draw the sample, compute the value) if no handler supplied a value, and
    the handlers that saw the message post-process it, outermost first (as
    NumPyro does).
    """
    seen = 0
    for handler in reversed(_HANDLER_STACK):
        handler.process_message(msg)
        seen += 1
        if msg.get("stop"):
            break
    _default_process_message(msg)
    for handler in _HANDLER_STACK[len(_HANDLER_STACK) - seen :]:
        handler.postprocess_message(msg)
    return msg


def _default_process_message(msg: dict) -> None:
    if msg["value"] is not None:
        return
    if msg["type"] == "sample":
        msg["value"], msg["intermediates"] = _draw(
            msg["name"], msg["fn"], msg["kwargs"]["rng_key"], msg["kwargs"]["sample_shape"]
        )
    elif msg["fn"] is not None:
        msg["value"] = msg["fn"](*msg["args"], **msg["kwargs"])


def _draw(name: str, fn: Any, rng_key: Any, sample_shape: tuple) -> tuple[Any, list]:
    if rng_key is None:
        raise MissingRandomKeyError(
            f"Cannot draw sample site {name!r}: no random key. ppl has no global random "
            "state, so random draws need a key. Run the model under a seed handler, e.g. "
            "`ppl.handlers.seed(model, rng_seed=0)(*args)` or `with ppl.handlers.seed("
            "rng_seed=0): model(*args)`, pass `rng_key=` to `sample`, or run the model through "
            "an inference utility (MCMC, SVI, Predictive), which seeds it for you."
        )
    if hasattr(fn, "sample_with_intermediates"):
        return fn.sample_with_intermediates(rng_key, sample_shape=sample_shape)
    return fn.sample(rng_key, sample_shape=sample_shape), []


def _has_handlers() -> bool:
    return bool(_HANDLER_STACK)


#: Functions ``coerce(cls, args, kwargs) -> object | None`` consulted when a
#: distribution is constructed (see :func:`coerce_distribution`).
_DISTRIBUTION_COERCIONS: list[Callable] = []


def coerce_distribution(cls: type, args: tuple, kwargs: dict) -> Any:
    """Give active handlers a chance to replace the construction of a distribution.

    Distribution classes call this from their constructor path (ppl's
    ``Distribution`` does, through its metaclass). It returns ``None`` when
    nothing intervenes, which is always the case outside
    :class:`ppl.handlers.collapse`.
    """
    for coerce in reversed(_DISTRIBUTION_COERCIONS):
        result = coerce(cls, args, kwargs)
        if result is not None:
            return result
    return None


# ---------------------------------------------------------------------------
# Primitives
# ---------------------------------------------------------------------------


def _as_distribution(name: str, fn: Any) -> Any:
    """Accept ppl distributions as they are and ask plugins to adapt foreign ones."""
    if hasattr(fn, "log_prob") and hasattr(fn, "batch_shape") and hasattr(fn, "support"):
        return fn
    from ppl.plugins import registry

    adapted = registry.adapt_distribution(fn)
    if adapted is None:
        raise TypeError(
            f"sample site {name!r}: fn must be a distribution (with sample, log_prob, "
            f"batch_shape, event_shape and support), got {type(fn).__module__}."
            f"{type(fn).__qualname__}. No installed plugin knows how to adapt it; for "
            "TensorFlow Probability distributions install ppl-tfp-bridge."
        )
    return adapted


def sample(
    name: str,
    fn: Any,
    obs: Any = None,
    rng_key: jax.Array | None = None,
    sample_shape: tuple[int, ...] = (),
    infer: dict | None = None,
    obs_mask: Any = None,
) -> Any:
    """Draw a random variable, or observe data, at the site ``name``.

    Args:
        name: the site name, unique within one run of the model.
        fn: the distribution of the site.
        obs: observed data; the site then contributes ``log p(obs)`` to the
            model's log density instead of drawing a value.
        rng_key: a random key to draw with (normally supplied by
            :class:`ppl.handlers.seed`).
        sample_shape: extra leading dimensions to draw.
        infer: options for inference algorithms (e.g. ``{"enumerate":
            "parallel"}``).
        obs_mask: a boolean array, ``True`` where ``obs`` is observed. Where it
            is ``False`` the value is treated as a latent variable: the site
            is split into ``name + "_observed"`` and ``name + "_unobserved"``
            (imputation). Its shape must broadcast with the batch shape of
            ``fn``.

    Returns:
        the sampled or observed value.
    """
    fn = _as_distribution(name, fn)
    if obs_mask is not None:
        return _masked_observe(name, fn, obs, obs_mask, rng_key, sample_shape, infer)
    if not _has_handlers():
        if obs is not None:
            return obs
        return _draw(name, fn, rng_key, tuple(sample_shape))[0]
    msg = {
        "type": "sample",
        "name": name,
        "fn": fn,
        "args": (),
        "kwargs": {"rng_key": rng_key, "sample_shape": tuple(sample_shape)},
        "value": obs,
        "scale": None,
        "mask": None,
        "is_observed": obs is not None,
        "intermediates": [],
        "cond_indep_stack": [],
        "infer": {} if infer is None else dict(infer),
    }
    return apply_stack(msg)["value"]


def _masked_observe(
    name: str,
    fn: Any,
    obs: Any,
    obs_mask: Any,
    rng_key: Any,
    sample_shape: tuple,
    infer: dict | None,
) -> Any:
    from ppl.handlers import mask as mask_handler

    if obs is None:
        raise ValueError(f"sample site {name!r}: obs_mask needs obs (the partly observed data)")
    obs_mask = jnp.asarray(obs_mask)
    if obs_mask.dtype != jnp.bool_:
        raise TypeError(
            f"sample site {name!r}: obs_mask must be a boolean array, got dtype {obs_mask.dtype}"
        )
    with mask_handler(mask=obs_mask):
        observed = sample(
            f"{name}_observed", fn, obs=obs, rng_key=rng_key, sample_shape=sample_shape, infer=infer
        )
    with mask_handler(mask=~obs_mask):
        unobserved = sample(
            f"{name}_unobserved", fn, rng_key=rng_key, sample_shape=sample_shape, infer=infer
        )
    event_dim = len(getattr(fn, "event_shape", ()))
    batch_mask = jnp.reshape(obs_mask, jnp.shape(obs_mask) + (1,) * event_dim)
    return deterministic(name, jnp.where(batch_mask, observed, unobserved))


def param(
    name: str,
    init_value: Any = None,
    *,
    constraint: Any = None,
    event_dim: int | None = None,
) -> Any:
    """A learnable parameter, optimized by SVI or set by ``substitute``.

    Args:
        name: the site name.
        init_value: the initial value, or a function ``init_value(rng_key)``
            that returns it (it then needs a random key from ``seed``).
        constraint: the support of the parameter (default: real); optimizers
            work on ``biject_to(constraint).inv(value)``.
        event_dim: how many rightmost dimensions form one event (only
            matters inside subsampled plates).

    Returns:
        the parameter's value: ``init_value`` when nothing else supplies one.
    """
    from ppl import constraints as _constraints

    if constraint is None:
        constraint = _constraints.real
    elif not callable(init_value) and init_value is not None:
        _check_param_support(name, init_value, constraint, event_dim)
    if not _has_handlers():
        if callable(init_value):
            raise MissingRandomKeyError(
                f"param site {name!r}: its init_value is a function of a random key, but "
                "no seed handler is active. Run the model under ppl.handlers.seed."
            )
        return init_value
    if callable(init_value):

        def fn(init_fn: Callable, *args: Any, **kwargs: Any) -> Any:
            return init_fn(prng_key())

    else:

        def fn(init_value: Any, *args: Any, **kwargs: Any) -> Any:
            return init_value

    msg = {
        "type": "param",
        "name": name,
        "fn": fn,
        "args": (init_value,),
        "kwargs": {"constraint": constraint, "event_dim": event_dim},
        "value": None,
        "scale": None,
        "mask": None,
        "cond_indep_stack": [],
    }
    value = apply_stack(msg)["value"]
    return value


def _check_param_support(name: str, value: Any, constraint: Any, event_dim: int | None) -> None:
    leaves = jax.tree_util.tree_leaves(value)
    if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
        return
    # Concrete values are checked eagerly even while a model is being traced (jit, render).
    with jax.ensure_compile_time_eval():
        inside = np.asarray(constraint(jnp.asarray(value)))
    if not inside.all():
        raise ValueError(
            f"param site {name!r}: its initial value lies outside its constraint {constraint!r} "
            f"at {int(inside.size - inside.sum())} of {inside.size} position(s). Initialize it "
            "inside the support (values are optimized in unconstrained space through "
            "biject_to(constraint))."
        )


def deterministic(name: str, value: Any) -> Any:
    """Record ``value`` in traces and posterior samples under ``name``."""
    if not _has_handlers():
        return value
    msg = {
        "type": "deterministic",
        "name": name,
        "fn": None,
        "args": (),
        "kwargs": {},
        "value": value,
        "cond_indep_stack": [],
    }
    return apply_stack(msg)["value"]


def _factor_distribution(log_factor: Any) -> Any:
    from ppl.plugins import registry

    unit = registry.get("distributions", "Unit")
    if unit is not None:
        return unit(log_factor)
    return _LogFactor(log_factor)


def factor(name: str, log_factor: Any) -> None:
    """Add ``log_factor`` to the model's log density, at an observed site ``name``."""
    unit = _factor_distribution(log_factor)
    sample(name, unit, obs=jnp.empty((*jnp.shape(log_factor), 0)))


class _LogFactor:
    """An improper distribution with density ``exp(log_factor)`` on empty values.

    Used by :func:`factor` when no distribution plugin provides ``Unit``.
    """

    event_shape = (0,)
    is_discrete = False
    has_rsample = True
    has_enumerate_support = False
    reparametrized_params: list = []

    def __init__(self, log_factor: Any) -> None:
        self.log_factor = jnp.asarray(log_factor)
        self.batch_shape = jnp.shape(self.log_factor)

    @property
    def support(self) -> Any:
        from ppl import constraints

        return constraints.real

    @property
    def event_dim(self) -> int:
        return 1

    def sample(self, key: Any, sample_shape: tuple = ()) -> Any:
        return jnp.empty(tuple(sample_shape) + self.batch_shape + self.event_shape)

    def log_prob(self, value: Any) -> Any:
        shape = jax.lax.broadcast_shapes(self.batch_shape, jnp.shape(value)[:-1])
        return jnp.broadcast_to(self.log_factor, shape)

    def expand(self, batch_shape: tuple) -> _LogFactor:
        return _LogFactor(jnp.broadcast_to(self.log_factor, batch_shape))


def prng_key() -> jax.Array | None:
    """A fresh random key from the enclosing :class:`~ppl.handlers.seed`.

    Returns ``None`` (with a warning) when no seed handler is active.
    """
    if not _has_handlers():
        warnings.warn(
            "prng_key() called outside a seed handler; it returns None. Wrap the model in "
            "ppl.handlers.seed to get random keys.",
            stacklevel=2,
        )
        return None
    msg = {
        "type": "prng_key",
        "name": None,
        "fn": lambda: None,
        "args": (),
        "kwargs": {},
        "value": None,
    }
    apply_stack(msg)
    return msg["value"]


def get_mask() -> Any:
    """The mask that :class:`ppl.handlers.mask` applies here (``None``: no mask).

    Lets a model skip expensive work that would be masked out anyway.
    """
    if not _has_handlers():
        return None
    msg = {
        "type": "mask",
        "name": None,
        "fn": lambda: None,
        "args": (),
        "kwargs": {},
        "value": None,
    }
    apply_stack(msg)
    return msg["value"]


def module(name: str, nn: tuple[Callable, Callable], input_shape: tuple | None = None) -> Callable:
    """Register a neural network given as an ``(init_fn, apply_fn)`` pair.

    The network's parameters become the param site ``name + "$params"``,
    initialized with ``init_fn(rng_key, input_shape)`` (which returns
    ``(output_shape, params)``, as stax and similar libraries do).

    Returns:
        ``apply`` with the parameters bound: ``apply(x) == apply_fn(params, x)``.
    """
    init_fn, apply_fn = nn
    params = param(f"{name}$params")
    if params is None:
        if input_shape is None:
            raise ValueError(
                f"module {name!r}: its parameters are not initialized yet, so input_shape "
                "is needed to initialize them"
            )
        key = prng_key()
        if key is None:
            raise MissingRandomKeyError(
                f"module {name!r}: initializing its parameters needs a random key; run the "
                "model under ppl.handlers.seed"
            )
        _, init_params = init_fn(key, input_shape)
        params = param(f"{name}$params", init_params)
    return functools.partial(apply_fn, params)


# ---------------------------------------------------------------------------
# Plates
# ---------------------------------------------------------------------------


class CondIndepStackFrame(NamedTuple):
    """One plate as seen by a site: its name, dimension and (subsample) size."""

    name: str
    dim: int
    size: int


def _subsample_indices(size: int, subsample_size: int, rng_key: Any = None) -> Any:
    if subsample_size == size:
        return jnp.arange(size)
    if rng_key is None:
        raise MissingRandomKeyError(
            f"A plate of size {size} with subsample_size={subsample_size} needs a random key "
            "to choose its subsample; run the model under ppl.handlers.seed (SVI and HMCECS "
            "do this for you)."
        )
    return jax.random.choice(rng_key, size, (subsample_size,), replace=False)


class plate(Messenger):
    """Conditionally independent copies of the sites inside it, along one batch dimension.

    Sites inside the plate are broadcast to the plate's size at dimension
    ``dim``; with ``subsample_size`` a random subset of the indices is used
    and log densities are scaled by ``size / subsample_size``, which keeps
    the log density an unbiased estimate for data subsampling.

    Args:
        name: the plate name.
        size: the number of copies.
        subsample_size: how many indices to use (default: all).
        dim: the (negative) batch dimension; by default the rightmost one not
            used by an enclosing plate.
        subsample: explicit indices to use instead of drawing them.

    Example::

        with plate("data", len(y)):
            sample("obs", Normal(mu, 1.0), obs=y)
    """

    def __init__(
        self,
        name: str,
        size: int,
        subsample_size: int | None = None,
        dim: int | None = None,
        subsample: Any = None,
    ) -> None:
        if not isinstance(size, int | np.integer) or size < 0:
            raise ValueError(f"plate {name!r}: size must be a non-negative integer, got {size!r}")
        if dim is not None and (not isinstance(dim, int) or dim >= 0):
            raise ValueError(f"plate {name!r}: dim must be a negative integer, got {dim!r}")
        if subsample_size is not None and not 0 <= subsample_size <= size:
            raise ValueError(
                f"plate {name!r}: subsample_size must be between 0 and size={size}, "
                f"got {subsample_size!r}"
            )
        self.name = name
        self.size = int(size)
        self._user_dim = dim
        if subsample is not None:
            subsample = jnp.asarray(subsample)
            subsample_size = int(subsample.shape[0])
        self.subsample_size = self.size if subsample_size is None else int(subsample_size)
        self.dim = dim
        self._subsample = subsample
        self._indices: Any = None
        super().__init__(None)

    def _allocate_dim(self) -> int:
        occupied = {
            handler.dim
            for handler in _HANDLER_STACK
            if isinstance(handler, plate) and handler is not self and handler.dim is not None
        }
        if self._user_dim is not None:
            if self._user_dim in occupied:
                raise ValueError(
                    f"plate {self.name!r}: dim={self._user_dim} is already used by an "
                    "enclosing plate"
                )
            return self._user_dim
        dim = -1
        while dim in occupied:
            dim -= 1
        return dim

    def __enter__(self) -> Any:
        super().__enter__()
        self.dim = self._allocate_dim()
        msg = {
            "type": "plate",
            "name": self.name,
            "fn": _subsample_indices,
            "args": (self.size, self.subsample_size),
            "kwargs": {"rng_key": None},
            "value": self._subsample,
            "scale": None,
            "mask": None,
            "cond_indep_stack": [],
            "infer": {},
        }
        # The plate's own message goes only to the handlers outside it.
        _HANDLER_STACK.pop()
        try:
            self._indices = apply_stack(msg)["value"]
        finally:
            _HANDLER_STACK.append(self)
        subsample_size = int(jnp.shape(self._indices)[0])
        if subsample_size != self.subsample_size:
            # e.g. replayed with a subsample of another size
            self.subsample_size = subsample_size
        return self._indices

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        if self._user_dim is None:
            self.dim = None

    @property
    def _frame(self) -> CondIndepStackFrame:
        return CondIndepStackFrame(self.name, self.dim, self.subsample_size)

    def process_message(self, msg: dict) -> None:
        kind = msg["type"]
        if kind == "subsample":
            msg["value"] = self._subsample_data(msg)
            return
        if kind not in ("sample", "param", "deterministic", "plate"):
            return
        msg["cond_indep_stack"].append(self._frame)
        if kind != "sample":
            return
        expected = _plates_batch_shape(msg["cond_indep_stack"])
        fn_batch = tuple(msg["fn"].batch_shape)
        sample_shape = msg["kwargs"].get("sample_shape", ())
        if sample_shape:
            fn_batch = tuple(sample_shape) + fn_batch
            msg["kwargs"]["sample_shape"] = ()
        overlap = max(len(expected) - len(fn_batch), 0)
        try:
            broadcast = jax.lax.broadcast_shapes(expected[overlap:], fn_batch)
        except ValueError:
            raise ValueError(
                f"sample site {msg['name']!r}: its distribution's batch shape {fn_batch} does "
                f"not broadcast with plate {self.name!r} of size {self.subsample_size} at dim "
                f"{self.dim} (the plates around the site ask for batch shape {expected})"
            ) from None
        batch_shape = expected[:overlap] + broadcast
        if batch_shape != fn_batch or sample_shape:
            msg["fn"] = msg["fn"].expand(batch_shape)
        if msg["value"] is not None and msg.get("is_observed"):
            _check_value_fits_plate(msg, self)
        if self.subsample_size != self.size:
            factor = self.size / self.subsample_size
            msg["scale"] = factor if msg["scale"] is None else factor * msg["scale"]

    def _subsample_data(self, msg: dict) -> Any:
        # An inner plate may already have subsampled its own dimension.
        data = msg["args"][0] if msg["value"] is None else msg["value"]
        event_dim = msg["kwargs"]["event_dim"]
        axis = jnp.ndim(data) - event_dim + self.dim
        if axis < 0:
            return data
        if jnp.shape(data)[axis] == self.subsample_size and self.subsample_size == self.size:
            return data
        if jnp.shape(data)[axis] != self.size:
            raise ValueError(
                f"subsample: data of shape {jnp.shape(data)} has size {jnp.shape(data)[axis]} "
                f"at the dimension of plate {self.name!r} (dim {self.dim}, event_dim "
                f"{event_dim}), expected the plate's full size {self.size}"
            )
        return jnp.take(data, self._indices, axis=axis)


def _plates_batch_shape(frames: list[CondIndepStackFrame]) -> tuple[int, ...]:
    if not frames:
        return ()
    ndim = max(-frame.dim for frame in frames)
    shape = [1] * ndim
    for frame in frames:
        shape[frame.dim] = frame.size
    return tuple(shape)


def _check_value_fits_plate(msg: dict, plate_: plate) -> None:
    value_shape = jnp.shape(msg["value"])
    event_dim = len(getattr(msg["fn"], "event_shape", ()))
    batch = value_shape[: len(value_shape) - event_dim] if event_dim else value_shape
    position = len(batch) + plate_.dim
    if position < 0:
        return
    size = batch[position]
    if size not in (1, plate_.subsample_size):
        raise ValueError(
            f"sample site {msg['name']!r}: observed value of shape {value_shape} has size "
            f"{size} at dim {plate_.dim}, which does not match plate {plate_.name!r} of size "
            f"{plate_.subsample_size}. (Event dims of the distribution: {event_dim}.)"
        )


@contextmanager
def plate_stack(prefix: str, sizes: tuple[int, ...], rightmost_dim: int = -1) -> Iterator[None]:
    """Nested plates named ``prefix_0, prefix_1, ...`` for the batch shape ``sizes``.

    The last size goes to ``rightmost_dim``, the others to the dims left of it.
    """
    with ExitStack() as stack:
        for index, size in enumerate(reversed(sizes)):
            stack.enter_context(
                plate(f"{prefix}_{len(sizes) - index - 1}", size, dim=rightmost_dim - index)
            )
        yield


def subsample(data: Any, event_dim: int) -> Any:
    """Select the entries of ``data`` that the enclosing subsampled plates chose.

    Args:
        data: an array whose batch dimensions line up with the enclosing
            plates at their full sizes.
        event_dim: how many rightmost dimensions of ``data`` are not batch
            dimensions.
    """
    if not _has_handlers():
        return data
    msg = {
        "type": "subsample",
        "name": None,
        "fn": lambda data, event_dim: data,
        "args": (data,),
        "kwargs": {"event_dim": event_dim},
        "value": None,
    }
    apply_stack(msg)
    return msg["value"]
