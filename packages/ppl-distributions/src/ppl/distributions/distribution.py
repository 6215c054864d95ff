"""The :class:`Distribution` base class and the distributions built from other ones.

Shapes follow the torch/NumPyro convention. A draw has shape
``sample_shape + batch_shape + event_shape``: ``batch_shape`` indexes
independent, not necessarily identical distributions, ``event_shape`` is the
shape of one draw of one of them, and ``log_prob`` reduces over the event
dimensions, returning an array of shape ``sample_shape + batch_shape``.

Every distribution is a JAX pytree: its array parameters are the leaves, its
shapes and other static attributes are auxiliary data, so distributions can be
passed through :func:`jax.jit`, :func:`jax.vmap` and :func:`jax.lax.scan`.

Meta distributions defined here: :class:`ExpandedDistribution`,
:class:`Independent`, :class:`MaskedDistribution`,
:class:`TransformedDistribution`, :class:`FoldedDistribution`, :class:`Delta`,
:class:`Unit` and :class:`ImproperUniform`.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import logsumexp

from ppl import constraints
from ppl.distributions.util import (
    lazy_property,
    not_jax_tracer,
    promote_shapes,
    sum_rightmost,
    validate_sample,
)
from ppl.primitives import coerce_distribution

__all__ = [
    "Delta",
    "Distribution",
    "ExpandedDistribution",
    "FoldedDistribution",
    "ImproperUniform",
    "Independent",
    "MaskedDistribution",
    "TransformedDistribution",
    "Unit",
]

Shape = tuple[int, ...]


def _default_validate_args() -> bool:
    try:
        from ppl.util import is_validation_enabled
    except ImportError:  # pragma: no cover - an older ppl-core without the switch
        return False
    return bool(is_validation_enabled())


def _constraint_name(constraint: constraints.Constraint) -> str:
    """The public name of a singleton constraint (``positive``), else its repr.

    ``independent(c, n)`` is spelled with the name of ``c``.
    """
    for name in constraints.__all__:
        if getattr(constraints, name, None) is constraint:
            return name
    if isinstance(constraint, constraints.independent):
        base = _constraint_name(constraint.base_constraint)
        return f"independent({base}, {constraint.reinterpreted_batch_ndims})"
    return repr(constraint)


def _format_invalid(value: Any, valid: Any) -> str:
    value = np.asarray(value)
    if value.ndim == 0:
        return repr(value.item())
    valid = np.broadcast_to(np.asarray(valid), value.shape[: np.ndim(valid)])
    bad = value[~valid]
    shown = ", ".join(repr(v) for v in np.asarray(bad).reshape(-1)[:5].tolist())
    more = f" (and {bad.size - 5} more)" if bad.size > 5 else ""
    return f"array of shape {value.shape} with invalid entries [{shown}]{more}"


class DistributionMeta(type):
    """Metaclass of :class:`Distribution`: lets effect handlers intercept construction.

    :class:`ppl.handlers.collapse` uses it to turn a distribution whose
    parameter is a latent being integrated out into a delayed placeholder
    (see :func:`ppl.primitives.coerce_distribution`); outside such handlers
    construction is unchanged.
    """

    def __init__(cls, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # ``__call__`` below takes ``*args, **kwargs``; without this, introspection
        # (``inspect.signature``, Sphinx, IDEs) would report that instead of ``__init__``'s.
        try:
            init = inspect.signature(cls.__init__)
        except (TypeError, ValueError):  # an __init__ without an introspectable signature
            return
        cls.__signature__ = init.replace(parameters=list(init.parameters.values())[1:])

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        replaced = coerce_distribution(cls, args, kwargs)
        if replaced is not None:
            return replaced
        return super().__call__(*args, **kwargs)


class Distribution(metaclass=DistributionMeta):
    """Base class for probability distributions (NumPyro/torch.distributions API).

    Subclasses set the class attributes below, call
    ``super().__init__(batch_shape, event_shape, validate_args=validate_args)``
    at the end of their ``__init__`` and implement :meth:`sample` and
    :meth:`log_prob` (plus :meth:`mean`, :meth:`variance`, :meth:`cdf`,
    :meth:`icdf`, :meth:`entropy` where they have closed forms).

    Attributes:
        arg_constraints: maps each parameter name to the constraint it must
            satisfy. Parameters that are concrete (not traced) are always
            checked at construction unless ``validate_args=False`` is passed;
            with validation on, values given to ``log_prob`` are checked
            against :attr:`support` too.
        support: the constraint that samples satisfy.
        reparametrized_params: the parameters through which samples are
            differentiable; when it covers every parameter, :attr:`has_rsample`
            is true.
        pytree_data_fields: attribute names that are pytree leaves (default:
            the keys of ``arg_constraints``); collected over the class's MRO.
        pytree_aux_fields: attribute names that are static pytree data;
            collected over the MRO, ``_batch_shape`` and ``_event_shape`` always.

    Args:
        batch_shape: shape of the batch of independent distributions.
        event_shape: shape of a single event.
        validate_args: whether to validate parameters and ``log_prob`` inputs;
            ``None`` follows :func:`ppl.util.enable_validation`.
    """

    arg_constraints: dict[str, Any] = {}
    support: Any = None
    has_enumerate_support: bool = False
    reparametrized_params: list[str] = []
    pytree_aux_fields: tuple[str, ...] = ()
    # Whether concrete parameters are checked even with validation off. Off for
    # distributions where an out-of-constraint constant is meaningful (a factor
    # of -inf rejects a sample).
    _check_concrete_args: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        jax.tree_util.register_pytree_node(cls, cls.tree_flatten, cls.tree_unflatten)

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Switch validation on or off for distributions created afterwards.

        Same switch as :func:`ppl.util.enable_validation`.
        """
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args expects True or False, got {value!r}")
        from ppl.util import enable_validation

        enable_validation(value)

    def __init__(
        self,
        batch_shape: Shape = (),
        event_shape: Shape = (),
        *,
        validate_args: bool | None = None,
    ) -> None:
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        explicit = validate_args is not None
        self._validate_args = bool(validate_args) if explicit else _default_validate_args()
        # validate_args=False is an explicit opt-out of even the cheap concrete check.
        if self._validate_args or (not explicit and self._check_concrete_args):
            self._check_parameters()
        super().__init__()

    def _check_parameters(self) -> None:
        for name, constraint in self.arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue
            # A parametrization that was not given (e.g. probs when logits was) is
            # derived lazily; computing it here would defeat the laziness.
            if name not in self.__dict__ and isinstance(
                inspect.getattr_static(type(self), name, None), lazy_property
            ):
                continue
            value = getattr(self, name)
            if value is None or not not_jax_tracer(value):
                continue
            try:
                is_valid = constraint(value)
            except (TypeError, ValueError) as error:
                raise ValueError(
                    f"{type(self).__name__} distribution got invalid {name} parameter "
                    f"of shape {jnp.shape(value)}: cannot check constraint "
                    f"{_constraint_name(constraint)} ({error})"
                ) from error
            if not_jax_tracer(is_valid) and not np.all(np.asarray(is_valid)):
                raise ValueError(
                    f"{type(self).__name__} distribution got invalid {name} parameter: "
                    f"{_format_invalid(value, is_valid)} does not satisfy constraint "
                    f"{_constraint_name(constraint)}"
                )

    # -- pytree ---------------------------------------------------------------

    @classmethod
    def gather_pytree_data_fields(cls) -> tuple[str, ...]:
        """Names of the attributes that are pytree leaves, collected over the MRO."""
        fields: list[str] = []
        for base in inspect.getmro(cls):
            if not (isinstance(base, type) and issubclass(base, Distribution)):
                continue
            names = base.__dict__.get(
                "pytree_data_fields", tuple(base.__dict__.get("arg_constraints", {}))
            )
            fields.extend(name for name in names if name not in fields)
        return tuple(fields)

    @classmethod
    def gather_pytree_aux_fields(cls) -> tuple[str, ...]:
        """Names of the static attributes kept in the pytree definition."""
        fields = ["_batch_shape", "_event_shape", "_validate_args"]
        for base in inspect.getmro(cls):
            if isinstance(base, type) and issubclass(base, Distribution):
                names = base.__dict__.get("pytree_aux_fields", ())
                fields.extend(name for name in names if name not in fields)
        return tuple(fields)

    def tree_flatten(self) -> tuple[list[Any], tuple[Any, ...]]:
        data_names = type(self).gather_pytree_data_fields()
        data = [self.__dict__.get(name) for name in data_names]
        aux_names = type(self).gather_pytree_aux_fields()
        aux = tuple(self.__dict__.get(name) for name in aux_names)
        return data, (data_names, aux_names, aux)

    @classmethod
    def tree_unflatten(cls, aux_data: tuple[Any, ...], params: Any) -> Distribution:
        data_names, aux_names, aux = aux_data
        d = cls.__new__(cls)
        for name, value in zip(data_names, params, strict=True):
            # None marks a lazily derived parametrization that was never computed.
            if value is None and isinstance(inspect.getattr_static(cls, name, None), lazy_property):
                continue
            setattr(d, name, value)
        for name, value in zip(aux_names, aux, strict=True):
            setattr(d, name, value)
        return d

    # -- shapes -----------------------------------------------------------------

    @property
    def batch_shape(self) -> Shape:
        """Shape over which parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> Shape:
        """Shape of a single event (one draw of one distribution in the batch)."""
        return self._event_shape

    @property
    def event_dim(self) -> int:
        """Number of event dimensions."""
        return len(self.event_shape)

    def shape(self, sample_shape: Shape = ()) -> Shape:
        """Shape of ``sample(key, sample_shape)``: ``sample_shape + batch_shape + event_shape``."""
        return tuple(sample_shape) + self.batch_shape + self.event_shape

    @classmethod
    def infer_shapes(cls, *args: Any, **kwargs: Any) -> tuple[Shape, Shape]:
        """``(batch_shape, event_shape)`` of the distribution built from arguments of given shapes.

        Arguments are shapes (tuples), passed positionally or by name as to
        ``__init__``. The default broadcasts the batch parts of all arguments
        (each argument's constraint tells how many event dims it has) and
        assumes a scalar event; multivariate distributions override this.
        """
        arg_names = [
            p.name
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ][1:]
        kwargs.update(zip(arg_names, args, strict=False))
        batch_shapes = []
        for name, shape in kwargs.items():
            constraint = cls.arg_constraints.get(name, constraints.real)
            event_dim = 0 if constraints.is_dependent(constraint) else constraint.event_dim
            shape = tuple(shape)
            batch_shapes.append(shape[: len(shape) - event_dim])
        batch_shape = lax.broadcast_shapes(*batch_shapes) if batch_shapes else ()
        return tuple(batch_shape), ()

    # -- properties derived from the class attributes -----------------------------

    @property
    def is_discrete(self) -> bool:
        """Whether the support is discrete."""
        return self.support.is_discrete

    @property
    def has_rsample(self) -> bool:
        """Whether :meth:`rsample` gives samples differentiable in every parameter."""
        return set(self.reparametrized_params) == set(self.arg_constraints)

    # -- sampling -------------------------------------------------------------

    def sample(self, key: jax.Array, sample_shape: Shape = ()) -> jax.Array:
        """Draw samples of shape ``sample_shape + batch_shape + event_shape``.

        Args:
            key: a JAX PRNG key.
            sample_shape: leading shape of independent draws.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement sample")

    def rsample(self, key: jax.Array, sample_shape: Shape = ()) -> jax.Array:
        """Reparameterized samples (differentiable in the parameters), when available."""
        if self.has_rsample:
            return self.sample(key, sample_shape=sample_shape)
        raise NotImplementedError(
            f"{type(self).__name__} does not support reparameterized sampling"
        )

    def sample_with_intermediates(
        self, key: jax.Array, sample_shape: Shape = ()
    ) -> tuple[jax.Array, list[Any]]:
        """Samples plus the intermediate values some distributions can reuse in ``log_prob``."""
        return self.sample(key, sample_shape=sample_shape), []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``d(rng_key=key, sample_shape=...)`` samples; used by ``ppl.sample``."""
        if "rng_key" not in kwargs:
            raise TypeError(f"{type(self).__name__}(...)() needs the keyword argument rng_key")
        key = kwargs.pop("rng_key")
        if kwargs.pop("sample_intermediates", False):
            return self.sample_with_intermediates(key, *args, **kwargs)
        return self.sample(key, *args, **kwargs)

    # -- densities and moments -----------------------------------------------------

    def log_prob(self, value: Any) -> jax.Array:
        """Log density (or mass) of ``value``, of shape ``sample_shape + batch_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement log_prob")

    @property
    def mean(self) -> jax.Array:
        """Mean, of shape ``batch_shape + event_shape``."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form mean")

    @property
    def variance(self) -> jax.Array:
        """Variance, of shape ``batch_shape + event_shape``."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form variance")

    def cdf(self, value: Any) -> jax.Array:
        """Cumulative distribution function at ``value``."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form cdf")

    def icdf(self, q: Any) -> jax.Array:
        """Inverse cdf (quantile function) at ``q``."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form icdf")

    def entropy(self) -> jax.Array:
        """Differential entropy, of shape ``batch_shape``."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form entropy")

    def enumerate_support(self, expand: bool = True) -> jax.Array:
        """All support values, of shape ``(n,) + batch_shape + event_shape``.

        With ``expand=False`` the batch dimensions are left as size 1.
        """
        raise NotImplementedError(f"{type(self).__name__} has no enumerable support")

    def _validate_sample(self, value: Any) -> Any:
        mask = self.support(value)
        if not_jax_tracer(mask) and not np.all(np.asarray(mask)):
            warnings.warn(
                f"Out-of-support values provided to {type(self).__name__}.log_prob; "
                f"values should lie in {self.support!r}.",
                stacklevel=3,
            )
        return mask

    # -- derived distributions -------------------------------------------------------

    def to_event(self, reinterpreted_batch_ndims: int | None = None) -> Distribution:
        """Treat the rightmost ``reinterpreted_batch_ndims`` batch dims as event dims.

        ``None`` moves all of them.
        """
        if reinterpreted_batch_ndims is None:
            reinterpreted_batch_ndims = len(self.batch_shape)
        if reinterpreted_batch_ndims == 0:
            return self
        return Independent(self, reinterpreted_batch_ndims)

    def expand(self, batch_shape: Shape) -> Distribution:
        """Broadcast to a larger ``batch_shape`` (without copying parameters)."""
        batch_shape = tuple(batch_shape)
        if batch_shape == self.batch_shape:
            return self
        return ExpandedDistribution(self, batch_shape)

    def expand_by(self, sample_shape: Shape) -> Distribution:
        """Prepend ``sample_shape`` to the batch shape."""
        return self.expand(tuple(sample_shape) + self.batch_shape)

    def mask(self, mask: Any) -> Distribution:
        """Mask out batch elements: where ``mask`` is false, ``log_prob`` is 0.

        ``mask`` is a bool or a boolean array broadcastable to ``batch_shape``.
        """
        if mask is True:
            return self
        return MaskedDistribution(self, mask)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(batch_shape={self.batch_shape}, event_shape={self.event_shape})"
        )


# -- ExpandedDistribution --------------------------------------------------------------


def _expansion(existing: Shape, new: Shape) -> tuple[Shape, tuple, tuple]:
    """Check that ``existing`` broadcasts to ``new``.

    Returns the broadcast shape, the new leading dims ``((dim, size), ...)``
    and the interstitial dims (size 1 in ``existing``, larger in ``new``),
    both indexed from the right.
    """
    if len(new) < len(existing):
        raise ValueError(f"Cannot broadcast distribution of batch shape {existing} to {new}")
    result = list(existing)[::-1]
    expanded, interstitial = [], []
    for i, size in enumerate(reversed(new)):
        if i >= len(result):
            result.append(size)
            expanded.append((-i - 1, size))
        elif result[i] == 1:
            if size != 1:
                result[i] = size
                interstitial.append((-i - 1, size))
        elif result[i] != size:
            raise ValueError(f"Cannot broadcast distribution of batch shape {existing} to {new}")
    return tuple(result[::-1]), tuple(expanded[::-1]), tuple(interstitial[::-1])


class ExpandedDistribution(Distribution):
    """``base_dist`` broadcast to a larger ``batch_shape``.

    Sizes can be added on the left or replace size-1 dimensions; each new batch
    element draws independent samples.
    """

    arg_constraints = {}
    pytree_data_fields = ("base_dist",)
    pytree_aux_fields = ("_expanded_sizes", "_interstitial_sizes")

    def __init__(self, base_dist: Distribution, batch_shape: Shape = ()) -> None:
        batch_shape = tuple(batch_shape)
        if isinstance(base_dist, ExpandedDistribution):
            batch_shape, _, _ = _expansion(base_dist.batch_shape, batch_shape)
            base_dist = base_dist.base_dist
        self.base_dist = base_dist
        new_shape, expanded, interstitial = _expansion(base_dist.batch_shape, batch_shape)
        self._expanded_sizes = expanded
        self._interstitial_sizes = interstitial
        super().__init__(new_shape, base_dist.event_shape)

    @property
    def has_enumerate_support(self) -> bool:
        return self.base_dist.has_enumerate_support

    @property
    def is_discrete(self) -> bool:
        return self.base_dist.is_discrete

    @property
    def has_rsample(self) -> bool:
        return self.base_dist.has_rsample

    @property
    def reparametrized_params(self) -> list[str]:
        return self.base_dist.reparametrized_params

    @property
    def support(self) -> Any:
        return self.base_dist.support

    def _sample(self, sample_fn, key, sample_shape=()):
        sample_shape = tuple(sample_shape)
        expanded_sizes = tuple(size for _, size in self._expanded_sizes)
        interstitial_sizes = tuple(size for _, size in self._interstitial_sizes)
        samples, intermediates = sample_fn(
            key, sample_shape=sample_shape + expanded_sizes + interstitial_sizes
        )
        # The draws for each interstitial dim sit in front of the base batch dims;
        # swapping each with its size-1 batch dim puts them in place.
        batch_ndims = len(sample_shape) + len(self.batch_shape)
        first_interstitial = len(sample_shape) + len(expanded_sizes)
        permutation = list(range(batch_ndims + len(interstitial_sizes)))
        offset = batch_ndims + len(interstitial_sizes)
        for k, (dim, _) in enumerate(self._interstitial_sizes):
            a, b = first_interstitial + k, offset + dim
            permutation[a], permutation[b] = permutation[b], permutation[a]

        def reshape(x):
            n = len(permutation)
            x = jnp.transpose(x, permutation + list(range(n, jnp.ndim(x))))
            return jnp.reshape(x, sample_shape + self.batch_shape + jnp.shape(x)[n:])

        return reshape(samples), jax.tree_util.tree_map(reshape, intermediates)

    def rsample(self, key, sample_shape=()):
        return self._sample(
            lambda k, sample_shape: (self.base_dist.rsample(k, sample_shape=sample_shape), []),
            key,
            sample_shape,
        )[0]

    def sample(self, key, sample_shape=()):
        return self.sample_with_intermediates(key, sample_shape)[0]

    def sample_with_intermediates(self, key, sample_shape=()):
        return self._sample(self.base_dist.sample_with_intermediates, key, sample_shape)

    def _batch_broadcast(self, value, result):
        value_batch = jnp.shape(value)[: max(jnp.ndim(value) - self.event_dim, 0)]
        return jnp.broadcast_to(result, lax.broadcast_shapes(self.batch_shape, value_batch))

    def log_prob(self, value, intermediates=None):
        if intermediates is None:
            log_prob = self.base_dist.log_prob(value)
        else:
            log_prob = self.base_dist.log_prob(value, intermediates)
        return self._batch_broadcast(value, log_prob)

    def cdf(self, value):
        return self._batch_broadcast(value, self.base_dist.cdf(value))

    def icdf(self, q):
        return self._batch_broadcast(q, self.base_dist.icdf(q))

    def enumerate_support(self, expand=True):
        samples = self.base_dist.enumerate_support(expand=False)
        enum_shape = samples.shape[:1]
        samples = samples.reshape(enum_shape + (1,) * len(self.batch_shape) + self.event_shape)
        if expand:
            samples = jnp.broadcast_to(samples, enum_shape + self.batch_shape + self.event_shape)
        return samples

    @property
    def mean(self):
        return jnp.broadcast_to(self.base_dist.mean, self.batch_shape + self.event_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(self.base_dist.variance, self.batch_shape + self.event_shape)

    def entropy(self):
        return jnp.broadcast_to(self.base_dist.entropy(), self.batch_shape)


# -- Independent ----------------------------------------------------------------------


class Independent(Distribution):
    """Reinterpret the rightmost ``reinterpreted_batch_ndims`` batch dims as event dims.

    ``log_prob`` sums over them, so e.g. a batch of ``n`` Normals becomes one
    distribution over vectors of length ``n`` with diagonal covariance.

    Args:
        base_dist: the distribution to reinterpret.
        reinterpreted_batch_ndims: how many batch dims become event dims.
    """

    arg_constraints = {}
    pytree_data_fields = ("base_dist",)
    pytree_aux_fields = ("reinterpreted_batch_ndims",)

    def __init__(
        self,
        base_dist: Distribution,
        reinterpreted_batch_ndims: int,
        *,
        validate_args: bool | None = None,
    ) -> None:
        if (
            isinstance(reinterpreted_batch_ndims, bool)
            or not isinstance(reinterpreted_batch_ndims, int | np.integer)
            or reinterpreted_batch_ndims < 0
        ):
            raise ValueError(
                "Independent: reinterpreted_batch_ndims must be a nonnegative int, got "
                f"{reinterpreted_batch_ndims!r}"
            )
        if reinterpreted_batch_ndims > len(base_dist.batch_shape):
            raise ValueError(
                "Independent: reinterpreted_batch_ndims must be <= len(base_dist.batch_shape), "
                f"got {reinterpreted_batch_ndims} for batch shape {base_dist.batch_shape}"
            )
        reinterpreted_batch_ndims = int(reinterpreted_batch_ndims)
        shape = base_dist.batch_shape + base_dist.event_shape
        event_dim = reinterpreted_batch_ndims + len(base_dist.event_shape)
        self.base_dist = base_dist
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims
        super().__init__(
            shape[: len(shape) - event_dim],
            shape[len(shape) - event_dim :],
            validate_args=validate_args,
        )

    @property
    def support(self):
        return constraints.independent(self.base_dist.support, self.reinterpreted_batch_ndims)

    @property
    def has_enumerate_support(self) -> bool:
        return self.reinterpreted_batch_ndims == 0 and self.base_dist.has_enumerate_support

    @property
    def is_discrete(self) -> bool:
        return self.base_dist.is_discrete

    @property
    def has_rsample(self) -> bool:
        return self.base_dist.has_rsample

    @property
    def reparametrized_params(self) -> list[str]:
        return self.base_dist.reparametrized_params

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def variance(self):
        return self.base_dist.variance

    def sample(self, key, sample_shape=()):
        return self.base_dist(rng_key=key, sample_shape=sample_shape)

    def sample_with_intermediates(self, key, sample_shape=()):
        return self.base_dist.sample_with_intermediates(key, sample_shape=sample_shape)

    def rsample(self, key, sample_shape=()):
        return self.base_dist.rsample(key, sample_shape=sample_shape)

    def log_prob(self, value, intermediates=None):
        if intermediates is None:
            log_prob = self.base_dist.log_prob(value)
        else:
            log_prob = self.base_dist.log_prob(value, intermediates)
        return sum_rightmost(log_prob, self.reinterpreted_batch_ndims)

    def entropy(self):
        return sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def to_event(self, reinterpreted_batch_ndims=None):
        if reinterpreted_batch_ndims is None:
            reinterpreted_batch_ndims = len(self.batch_shape)
        if reinterpreted_batch_ndims == 0:
            return self
        return Independent(
            self.base_dist, self.reinterpreted_batch_ndims + reinterpreted_batch_ndims
        )

    def expand(self, batch_shape):
        batch_shape = tuple(batch_shape)
        if batch_shape == self.batch_shape:
            return self
        n = self.reinterpreted_batch_ndims
        base_shape = self.base_dist.batch_shape
        base_batch_shape = batch_shape + base_shape[len(base_shape) - n :]
        return self.base_dist.expand(base_batch_shape).to_event(n)

    def enumerate_support(self, expand=True):
        if self.reinterpreted_batch_ndims:
            raise NotImplementedError(
                "Independent: enumerate_support needs reinterpreted_batch_ndims == 0"
            )
        return self.base_dist.enumerate_support(expand=expand)


# -- MaskedDistribution ------------------------------------------------------------------


class MaskedDistribution(Distribution):
    """``base_dist`` whose ``log_prob`` is zero where ``mask`` is false.

    Args:
        base_dist: the distribution to mask.
        mask: a bool, or a boolean array broadcastable to ``base_dist.batch_shape``
            (the batch shape grows to the broadcast shape).
    """

    arg_constraints = {}
    pytree_data_fields = ("base_dist",)

    def __init__(self, base_dist: Distribution, mask: Any) -> None:
        if isinstance(mask, bool | np.bool_):
            self._mask = bool(mask)
        else:
            if not hasattr(mask, "shape"):
                mask = jnp.asarray(mask)
            if not jnp.issubdtype(mask.dtype, jnp.bool_):
                raise TypeError(
                    f"MaskedDistribution: mask must be a bool or a boolean array, "
                    f"got dtype {mask.dtype}"
                )
            try:
                batch_shape = lax.broadcast_shapes(jnp.shape(mask), base_dist.batch_shape)
            except ValueError as error:
                raise ValueError(
                    f"MaskedDistribution: mask of shape {jnp.shape(mask)} does not broadcast "
                    f"with batch shape {base_dist.batch_shape}"
                ) from error
            if jnp.shape(mask) != batch_shape:
                mask = jnp.broadcast_to(mask, batch_shape)
            if base_dist.batch_shape != batch_shape:
                base_dist = base_dist.expand(batch_shape)
            self._mask = mask
        self.base_dist = base_dist
        super().__init__(base_dist.batch_shape, base_dist.event_shape)

    def tree_flatten(self):
        data, (data_names, aux_names, aux) = super().tree_flatten()
        if isinstance(self._mask, bool):
            return data, (data_names, (*aux_names, "_mask"), (*aux, self._mask))
        return [*data, self._mask], ((*data_names, "_mask"), aux_names, aux)

    @property
    def has_enumerate_support(self) -> bool:
        return self.base_dist.has_enumerate_support

    @property
    def is_discrete(self) -> bool:
        return self.base_dist.is_discrete

    @property
    def has_rsample(self) -> bool:
        return self.base_dist.has_rsample

    @property
    def reparametrized_params(self) -> list[str]:
        return self.base_dist.reparametrized_params

    @property
    def support(self):
        return self.base_dist.support

    def sample(self, key, sample_shape=()):
        return self.base_dist(rng_key=key, sample_shape=sample_shape)

    def sample_with_intermediates(self, key, sample_shape=()):
        return self.base_dist.sample_with_intermediates(key, sample_shape=sample_shape)

    def rsample(self, key, sample_shape=()):
        return self.base_dist.rsample(key, sample_shape=sample_shape)

    def log_prob(self, value, intermediates=None):
        if self._mask is False:
            value_batch = jnp.shape(value)[: max(jnp.ndim(value) - self.event_dim, 0)]
            return jnp.zeros(lax.broadcast_shapes(self.batch_shape, value_batch))
        if self._mask is True:
            if intermediates is None:
                return self.base_dist.log_prob(value)
            return self.base_dist.log_prob(value, intermediates)
        # Masked-out entries may hold anything (e.g. NaN placeholders); swap in a
        # feasible value so that neither the result nor its gradient turns NaN.
        try:
            default_value = self.base_dist.support.feasible_like(value)
        except NotImplementedError:
            pass
        else:
            mask = jnp.reshape(self._mask, jnp.shape(self._mask) + (1,) * self.event_dim)
            value = jnp.where(mask, value, default_value)
        if intermediates is None:
            log_prob = self.base_dist.log_prob(value)
        else:
            log_prob = self.base_dist.log_prob(value, intermediates)
        return jnp.where(self._mask, log_prob, 0.0)

    def enumerate_support(self, expand=True):
        return self.base_dist.enumerate_support(expand=expand)

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def variance(self):
        return self.base_dist.variance

    def cdf(self, value):
        return self.base_dist.cdf(value)

    def icdf(self, q):
        return self.base_dist.icdf(q)


# -- TransformedDistribution ---------------------------------------------------------


class TransformedDistribution(Distribution):
    r"""The distribution of :math:`Y = f_n(\cdots f_1(X))` for :math:`X` from ``base_distribution``.

    .. math::
        \log p_Y(y) = \log p_X(x) - \sum_i \log\left|\det J_{f_i}\right|

    Args:
        base_distribution: the distribution of :math:`X`. If it is itself a
            ``TransformedDistribution``, its transforms are prepended and its
            base is used.
        transforms: a :class:`ppl.transforms.Transform` or a list of them,
            applied in order.
    """

    arg_constraints = {}
    pytree_data_fields = ("base_dist", "transforms")

    def __init__(
        self,
        base_distribution: Distribution,
        transforms: Any,
        *,
        validate_args: bool | None = None,
    ) -> None:
        from ppl.transforms import ComposeTransform, Transform

        if isinstance(transforms, Transform):
            transforms = [transforms]
        elif isinstance(transforms, list | tuple):
            transforms = list(transforms)
            if not all(isinstance(t, Transform) for t in transforms):
                raise ValueError(
                    "TransformedDistribution: transforms must be a Transform or a list of "
                    f"Transforms, got {[type(t).__name__ for t in transforms]}"
                )
        else:
            raise ValueError(
                "TransformedDistribution: transforms must be a Transform or a list of "
                f"Transforms, got {type(transforms).__name__}"
            )
        if isinstance(base_distribution, TransformedDistribution):
            base_dist = base_distribution.base_dist
            self.transforms = base_distribution.transforms + transforms
        else:
            base_dist = base_distribution
            self.transforms = transforms
        base_shape = base_dist.shape()
        base_event_dim = base_dist.event_dim
        transform = ComposeTransform(self.transforms)
        domain_event_dim = transform.domain.event_dim
        if len(base_shape) < domain_event_dim:
            raise ValueError(
                f"TransformedDistribution: base distribution needs at least {domain_event_dim} "
                f"dimensions for these transforms, got shape {base_shape}"
            )
        shape = transform.forward_shape(base_shape)
        expanded_base_shape = transform.inverse_shape(shape)
        if base_shape != expanded_base_shape:
            base_batch_shape = expanded_base_shape[: len(expanded_base_shape) - base_event_dim]
            base_dist = base_dist.expand(base_batch_shape)
        reinterpreted_batch_ndims = domain_event_dim - base_event_dim
        if reinterpreted_batch_ndims > 0:
            base_dist = base_dist.to_event(reinterpreted_batch_ndims)
        self.base_dist = base_dist
        event_dim = transform.codomain.event_dim + max(base_event_dim - domain_event_dim, 0)
        cut = len(shape) - event_dim
        super().__init__(shape[:cut], shape[cut:], validate_args=validate_args)

    @property
    def has_rsample(self) -> bool:
        return self.base_dist.has_rsample

    @property
    def reparametrized_params(self) -> list[str]:
        return self.base_dist.reparametrized_params

    @property
    def is_discrete(self) -> bool:
        return self.support.is_discrete

    @constraints.dependent_property(is_discrete=False)
    def support(self):
        codomain = self.transforms[-1].codomain
        extra = self.event_dim - codomain.event_dim
        return constraints.independent(codomain, extra) if extra > 0 else codomain

    def _transform(self, x):
        for transform in self.transforms:
            x = transform(x)
        return x

    def rsample(self, key, sample_shape=()):
        return self._transform(self.base_dist.rsample(key, sample_shape=sample_shape))

    def sample(self, key, sample_shape=()):
        return self._transform(self.base_dist(rng_key=key, sample_shape=sample_shape))

    def sample_with_intermediates(self, key, sample_shape=()):
        x = self.base_dist(rng_key=key, sample_shape=sample_shape)
        intermediates = []
        for transform in self.transforms:
            x_before = x
            x, t_inter = transform.call_with_intermediates(x)
            intermediates.append([x_before, t_inter])
        return x, intermediates

    @validate_sample
    def log_prob(self, value, intermediates=None):
        if intermediates is not None and len(intermediates) != len(self.transforms):
            raise ValueError(
                f"TransformedDistribution.log_prob: got {len(intermediates)} intermediates "
                f"for {len(self.transforms)} transforms"
            )
        event_dim = self.event_dim
        log_prob = 0.0
        y = value
        for i, transform in enumerate(reversed(self.transforms)):
            if intermediates is None:
                x, t_inter = transform.inv(y), None
            else:
                x, t_inter = intermediates[-i - 1]
            t_log_det = transform.log_abs_det_jacobian(x, y, t_inter)
            batch_ndim = event_dim - transform.codomain.event_dim
            log_prob = log_prob - sum_rightmost(t_log_det, batch_ndim)
            event_dim = transform.domain.event_dim + batch_ndim
            y = x
        base_log_prob = self.base_dist.log_prob(y)
        return log_prob + sum_rightmost(base_log_prob, event_dim - self.base_dist.event_dim)

    @property
    def mean(self):
        raise NotImplementedError("TransformedDistribution has no closed-form mean")

    @property
    def variance(self):
        raise NotImplementedError("TransformedDistribution has no closed-form variance")

    def _sign(self):
        if self.event_shape:
            raise NotImplementedError(
                "TransformedDistribution.cdf/icdf need a scalar event (monotone scalar transforms)"
            )
        # Each transform must be monotone (``sign`` raises NotImplementedError otherwise).
        sign = 1.0
        for transform in self.transforms:
            sign = sign * transform.sign
        return sign

    def cdf(self, value):
        sign = self._sign()
        for transform in reversed(self.transforms):
            value = transform.inv(value)
        q = self.base_dist.cdf(value)
        return jnp.where(sign < 0, 1.0 - q, q)

    def icdf(self, q):
        sign = self._sign()
        q = jnp.where(sign < 0, 1.0 - q, q)
        return self._transform(self.base_dist.icdf(q))


class FoldedDistribution(TransformedDistribution):
    r"""The distribution of :math:`|X|` for a univariate :math:`X` from ``base_dist``.

    .. math:: p_{|X|}(y) = p_X(y) + p_X(-y), \quad y \ge 0
    """

    support = constraints.positive

    def __init__(self, base_dist: Distribution, *, validate_args: bool | None = None) -> None:
        from ppl.transforms import AbsTransform

        if base_dist.event_shape != ():
            raise ValueError(
                f"FoldedDistribution: only univariate distributions can be folded, got "
                f"event shape {base_dist.event_shape}"
            )
        super().__init__(base_dist, AbsTransform(), validate_args=validate_args)

    @validate_sample
    def log_prob(self, value):
        dim = max(len(self.batch_shape), jnp.ndim(value))
        plus_minus = jnp.array([1.0, -1.0]).reshape((2,) + (1,) * dim)
        return logsumexp(self.base_dist.log_prob(plus_minus * value), axis=0)

    def cdf(self, value):
        return self.base_dist.cdf(value) - self.base_dist.cdf(-value)


# -- point masses and improper distributions --------------------------------------------


class Delta(Distribution):
    """A point mass at ``v``, with an optional ``log_density`` added to ``log_prob``.

    Args:
        v: the location; its rightmost ``event_dim`` dims form the event.
        log_density: log density returned at ``v`` (broadcast to the batch shape).
        event_dim: number of rightmost dims of ``v`` that form the event.
    """

    arg_constraints = {
        "v": constraints.dependent(is_discrete=False),
        "log_density": constraints.real,
    }
    reparametrized_params = ["v", "log_density"]
    _check_concrete_args = False

    def __init__(
        self,
        v: Any = 0.0,
        log_density: Any = 0.0,
        event_dim: int = 0,
        *,
        validate_args: bool | None = None,
    ) -> None:
        if event_dim > jnp.ndim(v):
            raise ValueError(
                f"Delta: event_dim must be <= jnp.ndim(v), got {event_dim} for v of shape "
                f"{jnp.shape(v)}"
            )
        batch_dim = jnp.ndim(v) - event_dim
        batch_shape = jnp.shape(v)[:batch_dim]
        event_shape = jnp.shape(v)[batch_dim:]
        self.v = v
        # Following Pyro, the density is per batch element.
        self.log_density = promote_shapes(log_density, shape=batch_shape)[0]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False)
    def support(self):
        return constraints.independent(constraints.real, self.event_dim)

    def sample(self, key, sample_shape=()):
        return jnp.broadcast_to(self.v, self.shape(sample_shape))

    @validate_sample
    def log_prob(self, value):
        log_prob = jnp.log(value == self.v)
        log_prob = sum_rightmost(log_prob, len(self.event_shape))
        return log_prob + self.log_density

    @property
    def mean(self):
        return jnp.broadcast_to(self.v, self.batch_shape + self.event_shape)

    @property
    def variance(self):
        return jnp.zeros(self.batch_shape + self.event_shape)

    def entropy(self):
        """``-log_density`` (NumPyro's convention for the point mass)."""
        return -jnp.broadcast_to(self.log_density, self.batch_shape)


class Unit(Distribution):
    """A trivial distribution over the empty event, contributing ``log_factor`` to a model.

    Used by :func:`ppl.factor`. Samples are empty arrays of shape
    ``sample_shape + batch_shape + (0,)``. As in NumPyro, ``validate_args``
    defaults to ``False`` whatever :func:`ppl.util.enable_validation` says: a
    factor of :math:`-\\infty` (rejecting a sample) is meaningful.
    """

    arg_constraints = {"log_factor": constraints.real}
    support = constraints.real
    _check_concrete_args = False

    def __init__(self, log_factor: Any, *, validate_args: bool = False) -> None:
        batch_shape = jnp.shape(log_factor)
        self.log_factor = log_factor
        super().__init__(batch_shape, (0,), validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        return jnp.empty(self.shape(sample_shape))

    def log_prob(self, value):
        shape = lax.broadcast_shapes(self.batch_shape, jnp.shape(value)[:-1])
        return jnp.broadcast_to(self.log_factor, shape)


class ImproperUniform(Distribution):
    """A flat (improper) density over ``support``: ``log_prob`` is 0 inside it.

    Useful for priors that only constrain a site's domain. It cannot be sampled
    from; inference initializes such sites in unconstrained space.

    Args:
        support: the constraint the values satisfy.
        batch_shape: batch shape.
        event_shape: event shape (at least ``support.event_dim`` dims).
    """

    arg_constraints = {}
    pytree_data_fields = ("support",)

    def __init__(
        self,
        support: constraints.Constraint,
        batch_shape: Shape,
        event_shape: Shape,
        *,
        validate_args: bool | None = None,
    ) -> None:
        event_shape = tuple(event_shape)
        if len(event_shape) < support.event_dim:
            raise ValueError(
                f"ImproperUniform: event_shape {event_shape} has fewer dims than the "
                f"support's event_dim {support.event_dim}"
            )
        extra = len(event_shape) - support.event_dim
        self.support = constraints.independent(support, extra) if extra else support
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        raise NotImplementedError("ImproperUniform has no normalized density to sample from")

    @validate_sample
    def log_prob(self, value):
        batch_shape = jnp.shape(value)[: jnp.ndim(value) - len(self.event_shape)]
        batch_shape = lax.broadcast_shapes(batch_shape, self.batch_shape)
        return jnp.zeros(batch_shape)

    def _validate_sample(self, value):
        mask = super()._validate_sample(value)
        batch_dim = jnp.ndim(value) - len(self.event_shape)
        if batch_dim < jnp.ndim(mask):
            mask = jnp.all(jnp.reshape(mask, (*jnp.shape(mask)[:batch_dim], -1)), -1)
        return mask
