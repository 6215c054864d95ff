"""Constraints: the regions of value space where random variables live.

A :class:`Constraint` describes a set :math:`S`. Calling it on an array ``x``
answers, for each event in ``x``, whether the event lies in :math:`S`; the
result has the batch shape ``x.shape[:x.ndim - event_dim]``. Constraints are
JAX pytrees, so distributions holding them can cross ``jit`` and ``vmap``
boundaries; the array-valued bounds are the pytree leaves.

The names follow :mod:`numpyro.distributions.constraints`: parameter-free
constraints are module-level singletons (``real``, ``positive``, ``simplex``,
...), parametrized ones are factories (``interval(lo, hi)``,
``greater_than(lo)``, ``independent(base, n)``, ...).

:func:`ppl.transforms.biject_to` maps a constraint to a bijection from
unconstrained space onto it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import register_pytree_node

__all__ = [
    "Constraint",
    "ParameterFreeConstraint",
    "boolean",
    "cat",
    "circular",
    "complex",
    "corr_cholesky",
    "corr_matrix",
    "dependent",
    "dependent_property",
    "greater_than",
    "greater_than_eq",
    "independent",
    "integer_greater_than",
    "integer_interval",
    "interval",
    "is_dependent",
    "l1_ball",
    "less_than",
    "less_than_eq",
    "lower_cholesky",
    "multinomial",
    "nonnegative",
    "nonnegative_integer",
    "open_interval",
    "ordered_vector",
    "positive",
    "positive_definite",
    "positive_definite_circulant_vector",
    "positive_integer",
    "positive_ordered_vector",
    "positive_semidefinite",
    "real",
    "real_matrix",
    "real_vector",
    "scaled_unit_lower_cholesky",
    "simplex",
    "softplus_lower_cholesky",
    "softplus_positive",
    "sphere",
    "unit_interval",
    "zero_sum",
]


# -- helpers -----------------------------------------------------------------


def _xp(x: Any):
    """NumPy for host values, ``jax.numpy`` for JAX arrays and tracers.

    Checking a NumPy value with NumPy avoids a device round trip, which matters
    when distributions validate their arguments eagerly.
    """
    return jnp if isinstance(x, jax.Array) else np


def _same_value(a: Any, b: Any) -> bool:
    """Whether two bounds are equal, as a Python bool.

    Traced bounds cannot be compared concretely; they are equal only when they
    are the very same object.
    """
    if a is b:
        return True
    try:
        return bool(jnp.array_equal(a, b))
    except jax.errors.ConcretizationTypeError:
        return False


def _eps(x: Any) -> float:
    """Machine epsilon of ``x``'s floating dtype (JAX's default float for other dtypes)."""
    dtype = np.dtype(getattr(x, "dtype", None) or np.result_type(x))
    if not np.issubdtype(dtype, np.inexact):
        dtype = jnp.result_type(float)
    return float(np.finfo(dtype).eps)


def _fill(prototype: Any, value: Any) -> jax.Array:
    """``value`` broadcast to ``prototype``'s shape, in a dtype holding both."""
    dtype = jnp.result_type(prototype, value)
    return jnp.broadcast_to(jnp.asarray(value, dtype=dtype), jnp.shape(prototype))


def _eye_like(prototype: Any, scale: float = 1.0) -> jax.Array:
    n = jnp.shape(prototype)[-1]
    eye = jnp.eye(n, dtype=jnp.result_type(prototype, float)) * scale
    return jnp.broadcast_to(eye, jnp.shape(prototype))


def _require_ndim(x: Any, ndim: int, name: str) -> None:
    if jnp.ndim(x) < ndim:
        raise ValueError(
            f"{name} expects values with at least {ndim} dimension(s) (its event_dim), "
            f"got shape {jnp.shape(x)}"
        )


def _is_lower_triangular(xp, x):
    return xp.all(xp.tril(x) == x, axis=(-2, -1))


def _is_symmetric(xp, x):
    return xp.all(xp.isclose(x, xp.swapaxes(x, -2, -1)), axis=(-2, -1))


# -- base classes ------------------------------------------------------------


class Constraint:
    """A region of value space over which a variable is valid.

    Attributes:
        is_discrete: whether the region is a discrete set (integers, booleans).
        event_dim: how many rightmost dimensions make up one event; ``check``
            reduces over them.

    Subclasses are registered as JAX pytrees automatically: ``tree_flatten``
    returns ``(leaves, (leaf_names, static_attributes))`` and the default
    ``tree_unflatten`` restores the attributes onto a fresh instance.
    """

    is_discrete: bool = False
    event_dim: int = 0
    #: Constraints of the same kind compare their parameters in ``__eq__``;
    #: ``None`` means equality is identity.
    _eq_kind: str | None = None
    _eq_params: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register_pytree_node(cls, cls.tree_flatten, cls.tree_unflatten)

    def __call__(self, x: Any) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__.lstrip("_") + "()"

    def check(self, value: Any) -> Any:
        """A boolean array of shape ``sample_shape + batch_shape``: is each event valid?"""
        return self(value)

    def feasible_like(self, prototype: Any) -> Any:
        """A value inside the constraint with the shape (and, where possible, dtype) of
        ``prototype``."""
        raise NotImplementedError(f"{self!r} does not define feasible_like")

    def tree_flatten(self) -> tuple[tuple, tuple[tuple[str, ...], dict[str, Any]]]:
        raise NotImplementedError(f"{type(self).__name__} does not define tree_flatten")

    @classmethod
    def tree_unflatten(cls, aux_data, params):
        param_names, static = aux_data
        self = cls.__new__(cls)
        for name, value in zip(param_names, params, strict=True):
            setattr(self, name, value)
        for name, value in static.items():
            setattr(self, name, value)
        return self

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        kind = self._eq_kind
        if kind is None or not isinstance(other, Constraint) or other._eq_kind != kind:
            return False
        return all(
            _same_value(getattr(self, name), getattr(other, name)) for name in self._eq_params
        )

    def __hash__(self) -> int:
        # Equal constraints share a kind, so hashing the kind keeps the contract.
        return hash(self._eq_kind) if self._eq_kind is not None else object.__hash__(self)


class ParameterFreeConstraint(Constraint):
    """A constraint without array parameters: its pytree has no leaves."""

    def tree_flatten(self):
        return (), ((), {})


class _SingletonConstraint(ParameterFreeConstraint):
    """A constraint type with one canonical instance, like ``real`` (unlike ``interval``)."""

    def __new__(cls):
        # A subclass must not reuse the instance cached on its superclass.
        if type(cls.__dict__.get("_instance")) is not cls:
            cls._instance = super().__new__(cls)
        return cls._instance


# -- unconstrained -----------------------------------------------------------


class _Real(_SingletonConstraint):
    """The finite reals (NaN and ±inf excluded)."""

    def __call__(self, x):
        return _xp(x).isfinite(x)

    def feasible_like(self, prototype):
        return jnp.zeros_like(prototype)


class _Complex(_SingletonConstraint):
    """The finite complex numbers."""

    def __call__(self, x):
        return _xp(x).isfinite(x)

    def feasible_like(self, prototype):
        return jnp.zeros_like(prototype)


class _Boolean(_SingletonConstraint):
    """The set :math:`\\{0, 1\\}`."""

    is_discrete = True

    def __call__(self, x):
        xp = _xp(x)
        return xp.equal(x, 0) | xp.equal(x, 1)

    def feasible_like(self, prototype):
        return jnp.zeros_like(prototype)


# -- one-sided and two-sided bounds -------------------------------------------


class _HalfLine(Constraint):
    """The values on one side of a single bound, the attribute named in ``_eq_params``.

    Subclasses set ``_comparison``, the array-API comparison ``x <op> bound``
    that defines the set, and ``_inward``, the sign of a unit step from the bound
    into the set (used by :meth:`feasible_like`).
    """

    _comparison: str = ""
    _inward: int = 0

    @property
    def _bound(self) -> Any:
        return getattr(self, self._eq_params[0])

    def __call__(self, x):
        return getattr(_xp(x), self._comparison)(x, self._bound)

    def __repr__(self) -> str:
        return f"{type(self).__name__.lstrip('_')}({self._eq_params[0]}={self._bound})"

    def feasible_like(self, prototype):
        return _fill(prototype, self._bound + self._inward)

    def tree_flatten(self):
        return (self._bound,), (self._eq_params, {})


class _GreaterThan(_HalfLine):
    """:math:`x > \\text{lower\\_bound}`."""

    _eq_kind = "greater_than"
    _eq_params = ("lower_bound",)
    _comparison = "greater"
    _inward = 1

    def __init__(self, lower_bound: Any) -> None:
        self.lower_bound = lower_bound


class _GreaterThanEq(_GreaterThan):
    """:math:`x \\geq \\text{lower\\_bound}`."""

    _eq_kind = "greater_than_eq"
    _comparison = "greater_equal"


class _Positive(_SingletonConstraint, _GreaterThan):
    def __init__(self) -> None:
        super().__init__(0.0)


class _Nonnegative(_SingletonConstraint, _GreaterThanEq):
    def __init__(self) -> None:
        super().__init__(0.0)


class _SoftplusPositive(_SingletonConstraint, _GreaterThan):
    """The positive reals, reached by ``biject_to`` through softplus instead of exp."""

    def __init__(self) -> None:
        super().__init__(0.0)

    def feasible_like(self, prototype):
        return _fill(prototype, math.log(2.0))


class _LessThan(_HalfLine):
    """:math:`x < \\text{upper\\_bound}`."""

    _eq_kind = "less_than"
    _eq_params = ("upper_bound",)
    _comparison = "less"
    _inward = -1

    def __init__(self, upper_bound: Any) -> None:
        self.upper_bound = upper_bound


class _LessThanEq(_LessThan):
    """:math:`x \\leq \\text{upper\\_bound}`."""

    _eq_kind = "less_than_eq"
    _comparison = "less_equal"


class _Interval(Constraint):
    """The closed interval :math:`[\\text{lower\\_bound}, \\text{upper\\_bound}]`."""

    _eq_kind = "interval"
    _eq_params = ("lower_bound", "upper_bound")

    def __init__(self, lower_bound: Any, upper_bound: Any) -> None:
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def __call__(self, x):
        xp = _xp(x)
        return xp.greater_equal(x, self.lower_bound) & xp.less_equal(x, self.upper_bound)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__.lstrip('_')}"
            f"(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"
        )

    def feasible_like(self, prototype):
        return _fill(prototype, (self.lower_bound + self.upper_bound) / 2)

    def tree_flatten(self):
        return (self.lower_bound, self.upper_bound), (("lower_bound", "upper_bound"), {})


class _OpenInterval(_Interval):
    """The open interval :math:`(\\text{lower\\_bound}, \\text{upper\\_bound})`."""

    _eq_kind = "open_interval"

    def __call__(self, x):
        xp = _xp(x)
        return xp.greater(x, self.lower_bound) & xp.less(x, self.upper_bound)


class _UnitInterval(_SingletonConstraint, _Interval):
    def __init__(self) -> None:
        super().__init__(0.0, 1.0)


class _Circular(_SingletonConstraint, _Interval):
    """Angles, represented in :math:`[-\\pi, \\pi]`."""

    def __init__(self) -> None:
        super().__init__(-math.pi, math.pi)


# -- integers ------------------------------------------------------------------


class _IntegerInterval(Constraint):
    """Integers in :math:`[\\text{lower\\_bound}, \\text{upper\\_bound}]`."""

    is_discrete = True
    _eq_kind = "integer_interval"
    _eq_params = ("lower_bound", "upper_bound")

    def __init__(self, lower_bound: Any, upper_bound: Any) -> None:
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def __call__(self, x):
        xp = _xp(x)
        return (
            xp.greater_equal(x, self.lower_bound)
            & xp.less_equal(x, self.upper_bound)
            & xp.equal(xp.mod(x, 1), 0)
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__.lstrip('_')}"
            f"(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"
        )

    def feasible_like(self, prototype):
        return _fill(prototype, self.lower_bound)

    def tree_flatten(self):
        return (self.lower_bound, self.upper_bound), (("lower_bound", "upper_bound"), {})


class _IntegerGreaterThan(_HalfLine):
    """Integers :math:`\\geq \\text{lower\\_bound}`."""

    is_discrete = True
    _eq_kind = "integer_greater_than"
    _eq_params = ("lower_bound",)
    _comparison = "greater_equal"

    def __init__(self, lower_bound: Any) -> None:
        self.lower_bound = lower_bound

    def __call__(self, x):
        xp = _xp(x)
        return xp.equal(xp.mod(x, 1), 0) & super().__call__(x)

    def feasible_like(self, prototype):
        # The bound itself is an integer of the set (a step inward is not needed).
        return _fill(prototype, self.lower_bound)


class _IntegerPositive(_SingletonConstraint, _IntegerGreaterThan):
    def __init__(self) -> None:
        super().__init__(1)


class _IntegerNonnegative(_SingletonConstraint, _IntegerGreaterThan):
    def __init__(self) -> None:
        super().__init__(0)


class _Multinomial(Constraint):
    """Nonnegative integer count vectors summing to ``upper_bound`` (the total count)."""

    is_discrete = True
    event_dim = 1
    _eq_kind = "multinomial"
    _eq_params = ("upper_bound",)

    def __init__(self, upper_bound: Any) -> None:
        self.upper_bound = upper_bound

    def __call__(self, x):
        xp = _xp(x)
        _require_ndim(x, 1, "multinomial")
        nonnegative_integer_counts = xp.all((x >= 0) & xp.equal(xp.mod(x, 1), 0), axis=-1)
        return nonnegative_integer_counts & xp.equal(x.sum(axis=-1), self.upper_bound)

    def __repr__(self) -> str:
        return f"multinomial(upper_bound={self.upper_bound})"

    def feasible_like(self, prototype):
        # All the mass on the first category.
        shape = jnp.shape(prototype)
        total = jnp.asarray(self.upper_bound, dtype=jnp.result_type(prototype))
        first = jnp.broadcast_to(total, shape[:-1])[..., None]
        rest = jnp.zeros((*shape[:-1], shape[-1] - 1), dtype=first.dtype)
        return jnp.concatenate([first, rest], axis=-1)

    def tree_flatten(self):
        return (self.upper_bound,), (("upper_bound",), {})


# -- vectors ---------------------------------------------------------------------


class _IndependentConstraint(Constraint):
    """``base_constraint`` with ``reinterpreted_batch_ndims`` batch dims folded into the event.

    An event is valid only when all its entries are valid under the base
    constraint. Nested independents are flattened into one.
    """

    _eq_kind = "independent"

    def __init__(self, base_constraint: Constraint, reinterpreted_batch_ndims: int) -> None:
        if not isinstance(base_constraint, Constraint):
            raise TypeError(
                f"independent: base_constraint must be a Constraint, got {base_constraint!r}"
            )
        if (
            isinstance(reinterpreted_batch_ndims, bool)
            or not isinstance(reinterpreted_batch_ndims, int | np.integer)
            or reinterpreted_batch_ndims < 0
        ):
            raise ValueError(
                "independent: reinterpreted_batch_ndims must be a nonnegative int, got "
                f"{reinterpreted_batch_ndims!r}"
            )
        reinterpreted_batch_ndims = int(reinterpreted_batch_ndims)
        if isinstance(base_constraint, _IndependentConstraint):
            reinterpreted_batch_ndims += base_constraint.reinterpreted_batch_ndims
            base_constraint = base_constraint.base_constraint
        self.base_constraint = base_constraint
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    @property
    def is_discrete(self) -> bool:
        return self.base_constraint.is_discrete

    @property
    def event_dim(self) -> int:
        return self.base_constraint.event_dim + self.reinterpreted_batch_ndims

    def __call__(self, value):
        result = self.base_constraint(value)
        n = self.reinterpreted_batch_ndims
        if n == 0:
            return result
        if jnp.ndim(result) < n:
            raise ValueError(
                f"{self!r} expects values with at least {self.event_dim} dimension(s), "
                f"got shape {jnp.shape(value)}"
            )
        xp = _xp(result)
        return xp.all(result, axis=tuple(range(-n, 0)))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__.lstrip('_')}"
            f"({self.base_constraint!r}, {self.reinterpreted_batch_ndims})"
        )

    def feasible_like(self, prototype):
        return self.base_constraint.feasible_like(prototype)

    def tree_flatten(self):
        return (self.base_constraint,), (
            ("base_constraint",),
            {"reinterpreted_batch_ndims": self.reinterpreted_batch_ndims},
        )

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        return (
            isinstance(other, _IndependentConstraint)
            and self.reinterpreted_batch_ndims == other.reinterpreted_batch_ndims
            and self.base_constraint == other.base_constraint
        )

    __hash__ = Constraint.__hash__


class _RealVector(_IndependentConstraint, _SingletonConstraint):
    def __init__(self) -> None:
        super().__init__(_Real(), 1)


class _RealMatrix(_IndependentConstraint, _SingletonConstraint):
    def __init__(self) -> None:
        super().__init__(_Real(), 2)


class _Simplex(_SingletonConstraint):
    """Nonnegative vectors summing to one (within 1e-6)."""

    event_dim = 1

    def __call__(self, x):
        _require_ndim(x, 1, "simplex")
        xp = _xp(x)
        total = x.sum(axis=-1)
        return xp.all(x >= 0, axis=-1) & (xp.abs(total - 1) < 1e-6)

    def feasible_like(self, prototype):
        return jnp.full_like(prototype, 1 / jnp.shape(prototype)[-1])


class _OrderedVector(_SingletonConstraint):
    """Strictly increasing vectors."""

    event_dim = 1

    def __call__(self, x):
        _require_ndim(x, 1, "ordered_vector")
        return _xp(x).all(x[..., 1:] > x[..., :-1], axis=-1)

    def feasible_like(self, prototype):
        n = jnp.shape(prototype)[-1]
        return _fill(prototype, jnp.arange(n, dtype=jnp.result_type(prototype, float)))


class _PositiveOrderedVector(_SingletonConstraint):
    """Strictly increasing vectors of positive numbers."""

    event_dim = 1

    def __call__(self, x):
        xp = _xp(x)
        return ordered_vector(x) & xp.all(x > 0, axis=-1)

    def feasible_like(self, prototype):
        n = jnp.shape(prototype)[-1]
        return _fill(prototype, jnp.exp(jnp.arange(n, dtype=jnp.result_type(prototype, float))))


class _L1Ball(_SingletonConstraint):
    """The open unit L1 ball :math:`\\{x: \\sum_i |x_i| < 1\\}` (with a few ulps of slack)."""

    event_dim = 1
    reltol = 10.0  # in units of the dtype's machine epsilon

    def __call__(self, x):
        _require_ndim(x, 1, "l1_ball")
        xp = _xp(x)
        eps = _eps(x)
        return xp.abs(x).sum(axis=-1) < 1 + self.reltol * eps

    def feasible_like(self, prototype):
        return jnp.zeros_like(prototype)


class _Sphere(_SingletonConstraint):
    """The Euclidean unit sphere :math:`\\{x: \\|x\\|_2 = 1\\}` (to rounding)."""

    event_dim = 1
    reltol = 10.0  # in units of the dtype's machine epsilon

    def __call__(self, x):
        _require_ndim(x, 1, "sphere")
        xp = _xp(x)
        eps = _eps(x)
        error = xp.abs(xp.linalg.norm(x, axis=-1) - 1)
        return error < self.reltol * eps * x.shape[-1] ** 0.5

    def feasible_like(self, prototype):
        return jnp.full_like(prototype, jnp.shape(prototype)[-1] ** -0.5)


class _ZeroSum(Constraint):
    """Arrays whose sums along each of the last ``event_dim`` axes vanish (to rounding)."""

    _eq_kind = "zero_sum"
    _eq_params = ("event_dim",)

    def __init__(self, event_dim: int = 1) -> None:
        if isinstance(event_dim, bool) or not isinstance(event_dim, int) or event_dim < 1:
            raise ValueError(f"zero_sum: event_dim must be a positive int, got {event_dim!r}")
        self._event_dim = event_dim

    @property
    def event_dim(self) -> int:
        return self._event_dim

    def __call__(self, x):
        _require_ndim(x, self.event_dim, "zero_sum")
        xp = _xp(x)
        tol = _eps(x) * x.shape[-1] * 10
        event_axes = tuple(range(-self.event_dim, 0))
        ok = True
        for axis in event_axes:
            sums_vanish = xp.abs(x.sum(axis=axis, keepdims=True)) <= tol
            ok = ok & xp.all(sums_vanish, axis=event_axes)
        return ok

    def __repr__(self) -> str:
        return f"zero_sum(event_dim={self.event_dim})"

    def feasible_like(self, prototype):
        return jnp.zeros_like(prototype)

    def tree_flatten(self):
        return (), ((), {"_event_dim": self._event_dim})


class _PositiveDefiniteCirculantVector(_SingletonConstraint):
    """First rows of positive-definite circulant matrices.

    A circulant matrix with first row :math:`c` has eigenvalues
    :math:`\\mathrm{DFT}(c)`; it is symmetric positive definite exactly when
    the real FFT of :math:`c` is real and positive.
    """

    event_dim = 1

    def __call__(self, x):
        _require_ndim(x, 1, "positive_definite_circulant_vector")
        xp = _xp(x)
        tol = 10 * _eps(x)
        spectrum = xp.fft.rfft(x)
        real = xp.all(xp.abs(spectrum.imag) < tol, axis=-1)
        return real & xp.all(spectrum.real > -tol, axis=-1)

    def feasible_like(self, prototype):
        return jnp.zeros_like(prototype).at[..., 0].set(1.0)


# -- matrices --------------------------------------------------------------------


class _LowerCholesky(_SingletonConstraint):
    """Lower-triangular matrices with a positive diagonal."""

    event_dim = 2

    def __call__(self, x):
        _require_ndim(x, 2, type(self).__name__.lstrip("_"))
        xp = _xp(x)
        positive_diagonal = xp.all(xp.diagonal(x, axis1=-2, axis2=-1) > 0, axis=-1)
        return _is_lower_triangular(xp, x) & positive_diagonal

    def feasible_like(self, prototype):
        return _eye_like(prototype)


class _SoftplusLowerCholesky(_LowerCholesky):
    """Lower Cholesky factors, reached by ``biject_to`` through softplus on the diagonal."""

    def feasible_like(self, prototype):
        return _eye_like(prototype, math.log(2.0))


class _ScaledUnitLowerCholesky(_LowerCholesky):
    """Lower Cholesky factors, reached by ``biject_to`` as a scaled unit-diagonal factor."""


class _CorrCholesky(_SingletonConstraint):
    """Lower Cholesky factors of correlation matrices: rows of unit Euclidean norm."""

    event_dim = 2

    def __call__(self, x):
        _require_ndim(x, 2, "corr_cholesky")
        xp = _xp(x)
        positive_diagonal = xp.all(xp.diagonal(x, axis1=-2, axis2=-1) > 0, axis=-1)
        row_norm = xp.linalg.norm(x, axis=-1)
        tol = _eps(x) * x.shape[-1] * 10
        unit_rows = xp.all(xp.abs(row_norm - 1) <= tol, axis=-1)
        return _is_lower_triangular(xp, x) & positive_diagonal & unit_rows

    def feasible_like(self, prototype):
        return _eye_like(prototype)


class _CorrMatrix(_SingletonConstraint):
    """Symmetric positive-definite matrices with a unit diagonal."""

    event_dim = 2

    def __call__(self, x):
        _require_ndim(x, 2, "corr_matrix")
        xp = _xp(x)
        positive = xp.linalg.eigvalsh(x)[..., 0] > 0
        unit_diagonal = xp.all(xp.abs(xp.diagonal(x, axis1=-2, axis2=-1) - 1) < 1e-6, axis=-1)
        return _is_symmetric(xp, x) & positive & unit_diagonal

    def feasible_like(self, prototype):
        return _eye_like(prototype)


class _PositiveDefinite(_SingletonConstraint):
    """Symmetric matrices with positive eigenvalues."""

    event_dim = 2

    def __call__(self, x):
        _require_ndim(x, 2, "positive_definite")
        xp = _xp(x)
        return _is_symmetric(xp, x) & (xp.linalg.eigvalsh(x)[..., 0] > 0)

    def feasible_like(self, prototype):
        return _eye_like(prototype)


class _PositiveSemiDefinite(_SingletonConstraint):
    """Symmetric matrices with nonnegative eigenvalues."""

    event_dim = 2

    def __call__(self, x):
        _require_ndim(x, 2, "positive_semidefinite")
        xp = _xp(x)
        return _is_symmetric(xp, x) & (xp.linalg.eigvalsh(x)[..., 0] >= 0)

    def feasible_like(self, prototype):
        return _eye_like(prototype)


# -- concatenation -----------------------------------------------------------------


def _concatenation_arguments(
    owner: str, parts: Any, part_type: type, dim: Any, lengths: Any
) -> tuple[list, tuple[int, ...]]:
    """Check the arguments shared by ``cat`` and ``CatTransform``: the parts, one
    nonnegative length per part (default 1 each) and an integer ``dim``."""
    parts = list(parts)
    kind = part_type.__name__
    if not parts or not all(isinstance(part, part_type) for part in parts):
        raise TypeError(f"{owner}: expects a non-empty sequence of {kind}s, got {parts!r}")
    lengths = [1] * len(parts) if lengths is None else [int(n) for n in lengths]
    if len(lengths) != len(parts) or any(n < 0 for n in lengths):
        raise ValueError(
            f"{owner}: lengths must hold one nonnegative size per {kind.lower()} "
            f"({len(parts)}), got {lengths!r}"
        )
    if not isinstance(dim, int):
        raise TypeError(f"{owner}: dim must be an int, got {dim!r}")
    return parts, tuple(lengths)


class _Cat(Constraint):
    """Pieces of an array along ``dim``, each satisfying its own constraint.

    The value is split along ``dim`` into consecutive pieces of sizes
    ``lengths`` (one each by default) and piece ``i`` is checked against
    ``cseq[i]``. The event dimension is the largest among ``cseq``; when
    ``dim`` falls inside the event, the pieces' answers are combined with a
    logical and, otherwise they are concatenated along ``dim``. ``axis`` is an
    alias of ``dim``.
    """

    _eq_kind = "cat"

    def __init__(
        self,
        cseq: Sequence[Constraint],
        dim: int = 0,
        lengths: Sequence[int] | None = None,
        *,
        axis: int | None = None,
    ) -> None:
        # ``axis`` is accepted as a JAX-style alias of ``dim``.
        if axis is not None:
            dim = axis
        cseq, lengths = _concatenation_arguments("cat", cseq, Constraint, dim, lengths)
        self.cseq = cseq
        self.dim = dim
        self.lengths = lengths

    @property
    def axis(self) -> int:
        return self.dim

    @property
    def is_discrete(self) -> bool:
        return any(c.is_discrete for c in self.cseq)

    @property
    def event_dim(self) -> int:
        return max(c.event_dim for c in self.cseq)

    def _axis(self, ndim: int) -> int:
        axis = self.dim + ndim if self.dim < 0 else self.dim
        if not 0 <= axis < ndim:
            raise ValueError(f"cat: dim={self.dim} is out of range for a {ndim}-d value")
        return axis

    def _pieces(self, x) -> list:
        axis = self._axis(jnp.ndim(x))
        if jnp.shape(x)[axis] != sum(self.lengths):
            raise ValueError(
                f"cat: value has size {jnp.shape(x)[axis]} along dim {self.dim}, but lengths "
                f"{self.lengths} sum to {sum(self.lengths)}"
            )
        bounds = np.cumsum([0, *self.lengths])
        xp = _xp(x)
        return [
            xp.take(x, xp.arange(start, stop), axis=axis)
            for start, stop in itertools.pairwise(bounds)
        ]

    def __call__(self, x):
        ndim = jnp.ndim(x)
        axis = self._axis(ndim)
        event_dim = self.event_dim
        xp = _xp(x)
        answers = []
        for c, piece in zip(self.cseq, self._pieces(x), strict=True):
            ok = c(piece)
            extra = event_dim - c.event_dim
            if extra:
                ok = xp.all(ok, axis=tuple(range(-extra, 0)))
            answers.append(ok)
        if axis >= ndim - event_dim:
            result = answers[0]
            for ok in answers[1:]:
                result = result & ok
            return result
        return xp.concatenate(answers, axis=axis)

    def __repr__(self) -> str:
        return f"cat({self.cseq!r}, dim={self.dim}, lengths={self.lengths})"

    def feasible_like(self, prototype):
        axis = self._axis(jnp.ndim(prototype))
        return jnp.concatenate(
            [c.feasible_like(p) for c, p in zip(self.cseq, self._pieces(prototype), strict=True)],
            axis=axis,
        )

    def tree_flatten(self):
        return (self.cseq,), (("cseq",), {"dim": self.dim, "lengths": self.lengths})

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        return (
            isinstance(other, _Cat)
            and self.dim == other.dim
            and self.lengths == other.lengths
            and len(self.cseq) == len(other.cseq)
            and all(a == b for a, b in zip(self.cseq, other.cseq, strict=True))
        )

    __hash__ = Constraint.__hash__


# -- dependent supports --------------------------------------------------------------


class _Dependent(Constraint):
    """Placeholder for a support that depends on other variables.

    Such a variable obeys no fixed coordinate-wise constraint, so it cannot be
    checked. ``is_discrete`` and ``event_dim`` may be given when they are
    known statically; reading them otherwise raises ``NotImplementedError``.
    Calling ``dependent(is_discrete=..., event_dim=...)`` makes a copy with
    those attributes.
    """

    _eq_kind = "dependent"
    _eq_params = ("_is_discrete", "_event_dim")

    def __init__(self, *, is_discrete: Any = NotImplemented, event_dim: Any = NotImplemented):
        self._is_discrete = is_discrete
        self._event_dim = event_dim

    @property
    def is_discrete(self) -> bool:
        if self._is_discrete is NotImplemented:
            raise NotImplementedError(".is_discrete cannot be determined statically")
        return self._is_discrete

    @property
    def event_dim(self) -> int:
        if self._event_dim is NotImplemented:
            raise NotImplementedError(".event_dim cannot be determined statically")
        return self._event_dim

    def __call__(self, x=None, *, is_discrete=NotImplemented, event_dim=NotImplemented):
        if x is not None:
            raise ValueError("Cannot determine validity of dependent constraint")
        if is_discrete is NotImplemented:
            is_discrete = self._is_discrete
        if event_dim is NotImplemented:
            event_dim = self._event_dim
        return _Dependent(is_discrete=is_discrete, event_dim=event_dim)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        return (
            isinstance(other, _Dependent)
            and self._is_discrete == other._is_discrete
            and self._event_dim == other._event_dim
        )

    __hash__ = Constraint.__hash__

    def tree_flatten(self):
        return (), ((), {"_is_discrete": self._is_discrete, "_event_dim": self._event_dim})


class dependent_property(property, _Dependent):
    """A ``@property`` that is also a dependent constraint, for distribution supports.

    Used on a distribution class, the class attribute reads as a
    :class:`_Dependent` constraint (so ``is_dependent(Dist.support)`` holds)
    while instances compute their actual support::

        @constraints.dependent_property(is_discrete=False, event_dim=0)
        def support(self):
            return constraints.interval(self.low, self.high)
    """

    def __init__(self, fn=None, *, is_discrete=NotImplemented, event_dim=NotImplemented):
        property.__init__(self, fn)
        self._is_discrete = is_discrete
        self._event_dim = event_dim

    def __call__(self, x):
        if not callable(x):
            return super().__call__(x)
        return dependent_property(x, is_discrete=self._is_discrete, event_dim=self._event_dim)

    __hash__ = property.__hash__


def is_dependent(constraint: Any) -> bool:
    """Whether ``constraint`` is a placeholder for a support depending on other variables."""
    return isinstance(constraint, _Dependent)


# -- public instances and factories ---------------------------------------------------

boolean = _Boolean()
cat = _Cat
circular = _Circular()
complex = _Complex()
corr_cholesky = _CorrCholesky()
corr_matrix = _CorrMatrix()
dependent = _Dependent()
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
independent = _IndependentConstraint
integer_greater_than = _IntegerGreaterThan
integer_interval = _IntegerInterval
interval = _Interval
l1_ball = _L1Ball()
less_than = _LessThan
less_than_eq = _LessThanEq
lower_cholesky = _LowerCholesky()
multinomial = _Multinomial
nonnegative = _Nonnegative()
nonnegative_integer = _IntegerNonnegative()
open_interval = _OpenInterval
ordered_vector = _OrderedVector()
positive = _Positive()
positive_definite = _PositiveDefinite()
positive_definite_circulant_vector = _PositiveDefiniteCirculantVector()
positive_integer = _IntegerPositive()
positive_ordered_vector = _PositiveOrderedVector()
positive_semidefinite = _PositiveSemiDefinite()
real = _Real()
real_matrix = _RealMatrix()
real_vector = _RealVector()
scaled_unit_lower_cholesky = _ScaledUnitLowerCholesky()
simplex = _Simplex()
softplus_lower_cholesky = _SoftplusLowerCholesky()
softplus_positive = _SoftplusPositive()
sphere = _Sphere()
unit_interval = _UnitInterval()
zero_sum = _ZeroSum
