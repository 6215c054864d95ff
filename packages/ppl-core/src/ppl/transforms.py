"""Transforms: differentiable maps between constrained and unconstrained spaces.

A :class:`Transform` maps ``x`` in its :attr:`~Transform.domain` to
``y = t(x)`` in its :attr:`~Transform.codomain`, inverts with ``t.inv(y)``
and reports :math:`\\log|\\det J|` through
:meth:`~Transform.log_abs_det_jacobian`, summed over the domain's event
dimensions so that the result has the batch shape of ``x``. Transforms that
change the dimension (``StickBreakingTransform``, ``CorrCholeskyTransform``,
...) report the Jacobian with respect to the free coordinates of their
output, the convention density computations on the constrained space need.

:data:`biject_to` maps a constraint to a bijection from unconstrained space
onto it; plugins extend it through the ``register_bijections`` hook.

The names and semantics follow :mod:`numpyro.distributions.transforms`.
"""

from __future__ import annotations

import itertools
import math
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.nn import log_sigmoid, softplus
from jax.scipy.fft import dct, idct
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import expit, logit
from jax.tree_util import register_pytree_node

from ppl import constraints
from ppl._linalg import (
    add_diag,
    clamp_probs,
    log1m_tanh_sq,
    matrix_to_tril_vec,
    softplus_inv,
    sum_rightmost,
    tril_size_to_dim,
    vec_to_tril_matrix,
)
from ppl.constraints import Constraint, _same_value

__all__ = [
    "AbsTransform",
    "AffineTransform",
    "CatTransform",
    "CholeskyTransform",
    "ComplexTransform",
    "ComposeTransform",
    "ConstraintRegistry",
    "CorrCholeskyTransform",
    "CorrMatrixCholeskyTransform",
    "DiscreteCosineTransform",
    "ExpTransform",
    "HaarTransform",
    "IdentityTransform",
    "IndependentTransform",
    "L1BallTransform",
    "LowerCholeskyAffine",
    "LowerCholeskyTransform",
    "OrderedTransform",
    "PackRealFastFourierCoefficientsTransform",
    "ParameterFreeTransform",
    "PermuteTransform",
    "PowerTransform",
    "RealFastFourierTransform",
    "RecursiveLinearTransform",
    "ReshapeTransform",
    "ScaledUnitLowerCholeskyTransform",
    "SigmoidTransform",
    "SimplexToOrderedTransform",
    "SoftplusLowerCholeskyTransform",
    "SoftplusTransform",
    "StickBreakingTransform",
    "Transform",
    "UnpackTransform",
    "ZeroSumTransform",
    "biject_to",
]


# -- helpers -----------------------------------------------------------------


def _equal(a: Any, b: Any) -> bool:
    """Structural equality of transform parameters, as a Python bool."""
    if a is b:
        return True
    if a is None or b is None:
        return False
    if isinstance(a, Transform | Constraint) or isinstance(b, Transform | Constraint):
        return bool(a == b)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal(p, q) for p, q in zip(a, b, strict=True))
    if callable(a) or callable(b):
        return False
    return _same_value(a, b)


def _is_concretely_negative(scale: Any) -> bool:
    """Whether ``scale`` is known to be negative; traced values count as positive."""
    try:
        return bool(np.all(np.asarray(scale) < 0))
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return False


def _batch_zeros(x: Any, event_ndims: int) -> jax.Array:
    """Zeros with the batch shape of ``x`` (all but its ``event_ndims`` rightmost dims)."""
    shape = jnp.shape(x)
    return jnp.zeros(shape[: len(shape) - event_ndims], dtype=jnp.result_type(x, float))


def _check_min_ndim(shape: tuple, ndim: int, name: str) -> None:
    if len(shape) < ndim:
        raise ValueError(f"{name} needs inputs with at least {ndim} dimension(s), got {shape}")


# -- base classes ------------------------------------------------------------


class Transform:
    """A differentiable map ``y = t(x)`` from :attr:`domain` to :attr:`codomain`.

    Subclasses implement ``__call__``, ``_inverse`` and
    ``log_abs_det_jacobian``; shape-changing ones also ``forward_shape`` and
    ``inverse_shape``. Every subclass is registered as a JAX pytree: its array
    parameters are leaves, the rest is static.
    """

    domain: Constraint = constraints.real
    codomain: Constraint = constraints.real
    _inv: Any = None
    #: Attribute names compared by ``__eq__`` (besides the exact type).
    _eq_params: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register_pytree_node(cls, cls.tree_flatten, cls.tree_unflatten)

    @property
    def inv(self) -> Transform:
        """The inverse transform (cached weakly, so that no reference cycle is kept)."""
        inverse = self._inv() if self._inv is not None else None
        if inverse is None:
            inverse = _InverseTransform(self)
            self._inv = weakref.ref(inverse)
        return inverse

    def __call__(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement __call__")

    def _inverse(self, y):
        raise NotImplementedError(f"{type(self).__name__} is not invertible")

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        """:math:`\\log|\\det \\partial y / \\partial x|`, with the batch shape of ``x``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement log_abs_det_jacobian")

    def call_with_intermediates(self, x):
        """``(self(x), intermediates)``, the latter reusable by ``log_abs_det_jacobian``."""
        return self(x), None

    def forward_shape(self, shape: tuple) -> tuple:
        """The output shape for an input of ``shape`` (unchanged by default)."""
        return shape

    def inverse_shape(self, shape: tuple) -> tuple:
        """The input shape for an output of ``shape`` (unchanged by default)."""
        return shape

    @property
    def sign(self):
        """The sign of the derivative, for monotone scalar transforms."""
        raise NotImplementedError(f"Transform `{type(self).__name__}` does not implement `sign`.")

    def __getstate__(self) -> dict:
        # Weak references cannot be pickled; the inverse is rebuilt on demand.
        return {k: (None if isinstance(v, weakref.ref) else v) for k, v in self.__dict__.items()}

    def tree_flatten(self):
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
        if type(other) is not type(self):
            return False
        return all(_equal(getattr(self, n), getattr(other, n)) for n in self._eq_params)

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ParameterFreeTransform(Transform):
    """A transform without parameters: its pytree has no leaves."""

    def tree_flatten(self):
        return (), ((), {})


class _InverseTransform(Transform):
    """The inverse of a transform: ``_InverseTransform(t)(y) == t._inverse(y)``."""

    def __init__(self, transform: Transform) -> None:
        self._inv = transform

    @property
    def domain(self):
        return self._inv.codomain

    @property
    def codomain(self):
        return self._inv.domain

    @property
    def sign(self):
        return self._inv.sign

    @property
    def inv(self) -> Transform:
        return self._inv

    def __call__(self, x):
        return self._inv._inverse(x)

    def _inverse(self, y):
        return self._inv(y)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        # The forward transform's intermediates do not apply in this direction.
        return -self._inv.log_abs_det_jacobian(y, x, None)

    def forward_shape(self, shape):
        return self._inv.inverse_shape(shape)

    def inverse_shape(self, shape):
        return self._inv.forward_shape(shape)

    def tree_flatten(self):
        return (self._inv,), (("_inv",), {})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _InverseTransform) and self._inv == other._inv

    __hash__ = Transform.__hash__

    def __repr__(self) -> str:
        return f"{self._inv!r}.inv"


# -- elementwise -----------------------------------------------------------------


class IdentityTransform(ParameterFreeTransform):
    """:math:`y = x`; :math:`\\log|\\det J| = 0`."""

    sign = 1

    def __call__(self, x):
        return x

    def _inverse(self, y):
        return y

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return jnp.zeros_like(x)


class AbsTransform(ParameterFreeTransform):
    """:math:`y = |x|`, onto the nonnegative reals.

    Not a bijection: the inverse returns ``y`` itself (with a warning) and no
    Jacobian is defined.
    """

    domain = constraints.real
    codomain = constraints.nonnegative

    def __call__(self, x):
        return jnp.abs(x)

    def _inverse(self, y):
        warnings.warn("AbsTransform is not a bijective transform. The inverse of `y` will be `y`.")
        return y


class ExpTransform(Transform):
    """:math:`y = e^x`; :math:`\\log|\\det J| = \\sum x` over the domain's event dims.

    Args:
        domain: the domain constraint (``real`` by default); the codomain is its
            image (``positive``, ``positive_ordered_vector``, shifted bounds, ...).
    """

    sign = 1
    _eq_params = ("domain",)

    def __init__(self, domain: Constraint = constraints.real) -> None:
        self.domain = domain

    @property
    def codomain(self):
        d = self.domain
        if d is constraints.real:
            return constraints.positive
        if d is constraints.ordered_vector:
            return constraints.positive_ordered_vector
        if isinstance(d, constraints._IndependentConstraint) and d.base_constraint is (
            constraints.real
        ):
            return constraints.independent(constraints.positive, d.reinterpreted_batch_ndims)
        if isinstance(d, constraints._GreaterThanEq):
            return constraints.greater_than_eq(self(d.lower_bound))
        if isinstance(d, constraints._GreaterThan):
            return constraints.greater_than(self(d.lower_bound))
        if type(d) is constraints._LessThan:
            return constraints.open_interval(0.0, self(d.upper_bound))
        if isinstance(d, constraints._Interval):
            factory = (
                constraints.open_interval
                if isinstance(d, constraints._OpenInterval)
                else constraints.interval
            )
            return factory(self(d.lower_bound), self(d.upper_bound))
        raise NotImplementedError(f"ExpTransform: the image of domain {d!r} is not known")

    def __call__(self, x):
        return jnp.exp(x)

    def _inverse(self, y):
        return jnp.log(y)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return sum_rightmost(jnp.asarray(x), self.domain.event_dim)

    def tree_flatten(self):
        return (self.domain,), (("domain",), {})


class SigmoidTransform(ParameterFreeTransform):
    """:math:`y = \\sigma(x) = 1 / (1 + e^{-x})`, clipped into ``[tiny, 1 - eps]``.

    :math:`\\log|\\det J| = \\log\\sigma(x) + \\log\\sigma(-x)
    = -\\mathrm{softplus}(x) - \\mathrm{softplus}(-x)`.
    """

    codomain = constraints.unit_interval
    sign = 1

    def __call__(self, x):
        return clamp_probs(expit(x))

    def _inverse(self, y):
        return logit(clamp_probs(y))

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return -softplus(x) - softplus(-x)


class SoftplusTransform(ParameterFreeTransform):
    """:math:`y = \\log(1 + e^x)`, with inverse :math:`x = y + \\log(-\\mathrm{expm1}(-y))`.

    :math:`\\log|\\det J| = \\log\\sigma(x) = -\\mathrm{softplus}(-x)`.
    """

    domain = constraints.real
    codomain = constraints.softplus_positive
    sign = 1

    def __call__(self, x):
        return softplus(x)

    def _inverse(self, y):
        return softplus_inv(y)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return -softplus(-x)


class AffineTransform(Transform):
    """:math:`y = \\mathrm{loc} + \\mathrm{scale}\\, x`.

    :math:`\\log|\\det J| = \\log|\\mathrm{scale}|` per element, summed over the
    domain's event dims.

    Args:
        loc: the shift.
        scale: the scale (nonzero). When it is a JAX tracer it is assumed
            positive for working out the codomain.
        domain: the domain constraint; bounded domains map to the matching
            bounded codomain (bounds swap for a negative scale).
    """

    _eq_params = ("loc", "scale", "domain")

    def __init__(self, loc: Any, scale: Any, domain: Constraint = constraints.real) -> None:
        self.loc = loc
        self.scale = scale
        self.domain = domain

    @property
    def codomain(self):
        d = self.domain
        if d is constraints.real or (
            isinstance(d, constraints._IndependentConstraint)
            and d.base_constraint is constraints.real
        ):
            return d
        flip = _is_concretely_negative(self.scale)
        if isinstance(d, constraints._GreaterThan | constraints._LessThan):
            closed = isinstance(d, constraints._GreaterThanEq | constraints._LessThanEq)
            bound = self(
                d.lower_bound if isinstance(d, constraints._GreaterThan) else d.upper_bound
            )
            points_up = isinstance(d, constraints._GreaterThan) != flip
            if points_up:
                return (constraints.greater_than_eq if closed else constraints.greater_than)(bound)
            return (constraints.less_than_eq if closed else constraints.less_than)(bound)
        if isinstance(d, constraints._Interval):
            lo, hi = self(d.lower_bound), self(d.upper_bound)
            if flip:
                lo, hi = hi, lo
            if isinstance(d, constraints._OpenInterval):
                return constraints.open_interval(lo, hi)
            return constraints.interval(lo, hi)
        raise NotImplementedError(f"AffineTransform: the image of domain {d!r} is not known")

    @property
    def sign(self):
        return jnp.sign(self.scale)

    def __call__(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        shape = self.forward_shape(jnp.shape(x))
        log_scale = jnp.broadcast_to(jnp.log(jnp.abs(self.scale)), shape)
        return sum_rightmost(log_scale, self.domain.event_dim)

    def forward_shape(self, shape):
        return lax.broadcast_shapes(tuple(shape), jnp.shape(self.loc), jnp.shape(self.scale))

    def inverse_shape(self, shape):
        return self.forward_shape(shape)

    def tree_flatten(self):
        return (self.loc, self.scale, self.domain), (("loc", "scale", "domain"), {})

    def __repr__(self) -> str:
        return f"AffineTransform(loc={self.loc}, scale={self.scale}, domain={self.domain!r})"


class PowerTransform(Transform):
    """:math:`y = x^p` on the positive reals.

    :math:`\\log|\\det J| = \\log|p| + (p - 1)\\log x`.
    """

    domain = constraints.positive
    codomain = constraints.positive
    _eq_params = ("exponent",)

    def __init__(self, exponent: Any) -> None:
        self.exponent = exponent

    def __call__(self, x):
        return jnp.power(x, self.exponent)

    def _inverse(self, y):
        return jnp.power(y, 1 / self.exponent)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return jnp.log(jnp.abs(self.exponent)) + (self.exponent - 1) * jnp.log(x)

    def forward_shape(self, shape):
        return lax.broadcast_shapes(tuple(shape), jnp.shape(self.exponent))

    def inverse_shape(self, shape):
        return self.forward_shape(shape)

    @property
    def sign(self):
        return jnp.sign(self.exponent)

    def tree_flatten(self):
        return (self.exponent,), (("exponent",), {})


# -- combinators -------------------------------------------------------------------


def _compose_input_event_dim(parts: Sequence[Transform]) -> int:
    event_dim = parts[-1].domain.event_dim
    for part in reversed(parts):
        event_dim = part.domain.event_dim + max(event_dim - part.codomain.event_dim, 0)
    return event_dim


def _compose_output_event_dim(parts: Sequence[Transform]) -> int:
    event_dim = parts[0].codomain.event_dim
    for part in parts[1:]:
        event_dim = part.codomain.event_dim + max(event_dim - part.domain.event_dim, 0)
    return event_dim


class ComposeTransform(Transform):
    """The composition :math:`y = f_n(\\cdots f_1(x))` of ``parts = [f_1, ..., f_n]``.

    :math:`\\log|\\det J| = \\sum_k \\log|\\det J_{f_k}|`, each term summed over
    the dimensions it leaves in the composed event.
    """

    _eq_params = ("parts",)

    def __init__(self, parts: Sequence[Transform]) -> None:
        parts = list(parts)
        if not parts or not all(isinstance(p, Transform) for p in parts):
            raise TypeError(
                f"ComposeTransform: parts must be a non-empty list of Transforms, got {parts!r}"
            )
        self.parts = parts

    @property
    def domain(self):
        event_dim = _compose_input_event_dim(self.parts)
        first = self.parts[0].domain
        extra = event_dim - first.event_dim
        return constraints.independent(first, extra) if extra > 0 else first

    @property
    def codomain(self):
        event_dim = _compose_output_event_dim(self.parts)
        last = self.parts[-1].codomain
        extra = event_dim - last.event_dim
        return constraints.independent(last, extra) if extra > 0 else last

    @property
    def sign(self):
        sign = 1
        for part in self.parts:
            sign = sign * part.sign
        return sign

    def __call__(self, x):
        for part in self.parts:
            x = part(x)
        return x

    def _inverse(self, y):
        for part in reversed(self.parts):
            y = part.inv(y)
        return y

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        if intermediates is not None and len(intermediates) != len(self.parts):
            raise ValueError(
                f"ComposeTransform: intermediates has length {len(intermediates)}, expected "
                f"{len(self.parts)}"
            )
        result = 0.0
        event_dim = self.domain.event_dim
        for i, part in enumerate(self.parts[:-1]):
            y_part = part(x) if intermediates is None else intermediates[i][0]
            inter = None if intermediates is None else intermediates[i][1]
            logdet = part.log_abs_det_jacobian(x, y_part, intermediates=inter)
            batch_ndim = event_dim - part.domain.event_dim
            result = result + sum_rightmost(logdet, batch_ndim)
            event_dim = part.codomain.event_dim + batch_ndim
            x = y_part
        last = self.parts[-1]
        inter = None if intermediates is None else intermediates[-1]
        logdet = last.log_abs_det_jacobian(x, y, intermediates=inter)
        return result + sum_rightmost(logdet, event_dim - last.domain.event_dim)

    def call_with_intermediates(self, x):
        intermediates = []
        for part in self.parts[:-1]:
            x, inter = part.call_with_intermediates(x)
            intermediates.append([x, inter])
        x, inter = self.parts[-1].call_with_intermediates(x)
        intermediates.append(inter)
        return x, intermediates

    def forward_shape(self, shape):
        for part in self.parts:
            shape = part.forward_shape(shape)
        return shape

    def inverse_shape(self, shape):
        for part in reversed(self.parts):
            shape = part.inverse_shape(shape)
        return shape

    def tree_flatten(self):
        return (self.parts,), (("parts",), {})

    def __repr__(self) -> str:
        return f"ComposeTransform({self.parts!r})"


class IndependentTransform(Transform):
    """``base_transform`` with ``reinterpreted_batch_ndims`` batch dims folded into its event.

    The map is unchanged; :math:`\\log|\\det J|` is summed over the extra dims.
    """

    _eq_params = ("base_transform", "reinterpreted_batch_ndims")

    def __init__(self, base_transform: Transform, reinterpreted_batch_ndims: int) -> None:
        if not isinstance(base_transform, Transform):
            raise TypeError(
                f"IndependentTransform: base_transform must be a Transform, got {base_transform!r}"
            )
        if (
            isinstance(reinterpreted_batch_ndims, bool)
            or not isinstance(reinterpreted_batch_ndims, int | np.integer)
            or reinterpreted_batch_ndims < 0
        ):
            raise ValueError(
                "IndependentTransform: reinterpreted_batch_ndims must be a nonnegative int, got "
                f"{reinterpreted_batch_ndims!r}"
            )
        self.base_transform = base_transform
        self.reinterpreted_batch_ndims = int(reinterpreted_batch_ndims)

    @property
    def domain(self):
        return constraints.independent(self.base_transform.domain, self.reinterpreted_batch_ndims)

    @property
    def codomain(self):
        return constraints.independent(self.base_transform.codomain, self.reinterpreted_batch_ndims)

    @property
    def sign(self):
        return self.base_transform.sign

    def __call__(self, x):
        return self.base_transform(x)

    def _inverse(self, y):
        return self.base_transform._inverse(y)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        result = self.base_transform.log_abs_det_jacobian(x, y, intermediates=intermediates)
        if jnp.ndim(result) < self.reinterpreted_batch_ndims:
            raise ValueError(
                f"IndependentTransform expects inputs with at least {self.domain.event_dim} "
                f"dimension(s), got shape {jnp.shape(x)}"
            )
        return sum_rightmost(result, self.reinterpreted_batch_ndims)

    def call_with_intermediates(self, x):
        return self.base_transform.call_with_intermediates(x)

    def forward_shape(self, shape):
        return self.base_transform.forward_shape(shape)

    def inverse_shape(self, shape):
        return self.base_transform.inverse_shape(shape)

    def tree_flatten(self):
        return (self.base_transform,), (
            ("base_transform",),
            {"reinterpreted_batch_ndims": self.reinterpreted_batch_ndims},
        )

    def __repr__(self) -> str:
        return f"IndependentTransform({self.base_transform!r}, {self.reinterpreted_batch_ndims})"


class CatTransform(Transform):
    """Apply ``tseq[i]`` to the ``i``-th consecutive slice along ``dim``, then concatenate.

    Slice ``i`` has ``lengths[i]`` entries (one by default); each transform
    must keep its slice's size along ``dim``. :math:`\\log|\\det J|` is the sum
    of the pieces' terms when ``dim`` lies inside the event and their
    concatenation along ``dim`` otherwise. ``axis`` is an alias of ``dim``.
    """

    _eq_params = ("transforms", "dim", "lengths")

    def __init__(
        self,
        tseq: Sequence[Transform],
        dim: int = 0,
        lengths: Sequence[int] | None = None,
        *,
        axis: int | None = None,
    ) -> None:
        if axis is not None:
            dim = axis
        tseq, lengths = constraints._concatenation_arguments(
            "CatTransform", tseq, Transform, dim, lengths
        )
        self.transforms = tseq
        self.dim = dim
        self.lengths = lengths

    @property
    def axis(self) -> int:
        return self.dim

    @property
    def domain(self):
        return constraints.cat([t.domain for t in self.transforms], self.dim, self.lengths)

    @property
    def codomain(self):
        return constraints.cat([t.codomain for t in self.transforms], self.dim, self.lengths)

    def _event_dim(self) -> int:
        return max(t.domain.event_dim for t in self.transforms)

    def _split(self, x):
        ndim = jnp.ndim(x)
        axis = self.dim + ndim if self.dim < 0 else self.dim
        if not 0 <= axis < ndim:
            raise ValueError(f"CatTransform: dim={self.dim} is out of range for a {ndim}-d input")
        if jnp.shape(x)[axis] != sum(self.lengths):
            raise ValueError(
                f"CatTransform: input has size {jnp.shape(x)[axis]} along dim {self.dim}, "
                f"but lengths {self.lengths} sum to {sum(self.lengths)}"
            )
        bounds = np.cumsum([0, *self.lengths])
        pieces = [
            lax.slice_in_dim(x, int(start), int(stop), axis=axis)
            for start, stop in itertools.pairwise(bounds)
        ]
        return axis, pieces

    def __call__(self, x):
        axis, pieces = self._split(x)
        return jnp.concatenate([t(p) for t, p in zip(self.transforms, pieces, strict=True)], axis)

    def _inverse(self, y):
        axis, pieces = self._split(y)
        return jnp.concatenate(
            [t.inv(p) for t, p in zip(self.transforms, pieces, strict=True)], axis
        )

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        axis, xs = self._split(x)
        _, ys = self._split(y)
        event_dim = self._event_dim()
        terms = [
            sum_rightmost(t.log_abs_det_jacobian(xp, yp), event_dim - t.domain.event_dim)
            for t, xp, yp in zip(self.transforms, xs, ys, strict=True)
        ]
        if axis < jnp.ndim(x) - event_dim:
            return jnp.concatenate(terms, axis=axis)
        return sum(terms[1:], terms[0])

    def tree_flatten(self):
        return (self.transforms,), (("transforms",), {"dim": self.dim, "lengths": self.lengths})

    def __repr__(self) -> str:
        return f"CatTransform({self.transforms!r}, dim={self.dim}, lengths={self.lengths})"


# -- vectors ---------------------------------------------------------------------------


class StickBreakingTransform(ParameterFreeTransform):
    """Stick breaking from :math:`\\mathbb{R}^{K-1}` onto the :math:`K`-simplex.

    With :math:`z_k = \\sigma(x_k - \\log(K - 1 - k))` (the shift maps zero to
    the uniform simplex), :math:`y_k = z_k \\prod_{j<k}(1 - z_j)` for
    :math:`k < K - 1` and :math:`y_{K-1} = \\prod_j (1 - z_j)`.

    :math:`\\log|\\det J|`, with respect to the first :math:`K - 1` coordinates
    of :math:`y`, is :math:`\\sum_k [\\log z_k + \\log(1 - z_k) + \\sum_{j<k}
    \\log(1 - z_j)]`, computed from :math:`x` with log-sigmoids.
    """

    domain = constraints.real_vector
    codomain = constraints.simplex

    @staticmethod
    def _shifted(x):
        n = jnp.shape(x)[-1]
        return x - jnp.log(n - jnp.arange(n, dtype=jnp.result_type(x, float)))

    def __call__(self, x):
        z = clamp_probs(expit(self._shifted(x)))
        remaining = jnp.cumprod(1 - z, axis=-1)
        z_padded = jnp.concatenate([z, jnp.ones_like(z[..., :1])], axis=-1)
        remaining_before = jnp.concatenate([jnp.ones_like(z[..., :1]), remaining], axis=-1)
        return z_padded * remaining_before

    def _inverse(self, y):
        y_crop = y[..., :-1]
        tiny = jnp.finfo(jnp.result_type(y, float)).tiny
        remaining = jnp.clip(1 - jnp.cumsum(y_crop, axis=-1), tiny)
        # z_k = y_k / (y_k + remaining_k), so logit(z_k) = log(y_k / remaining_k).
        x = jnp.log(jnp.clip(y_crop, tiny)) - jnp.log(remaining)
        n = x.shape[-1]
        return x + jnp.log(n - jnp.arange(n, dtype=x.dtype))

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        s = self._shifted(x)
        log_z = log_sigmoid(s)
        log_1mz = log_sigmoid(-s)
        log_remaining_before = jnp.cumsum(log_1mz, axis=-1) - log_1mz
        return jnp.sum(log_z + log_1mz + log_remaining_before, axis=-1)

    def forward_shape(self, shape):
        _check_min_ndim(shape, 1, "StickBreakingTransform")
        return (*shape[:-1], shape[-1] + 1)

    def inverse_shape(self, shape):
        _check_min_ndim(shape, 1, "StickBreakingTransform")
        return (*shape[:-1], shape[-1] - 1)


class OrderedTransform(ParameterFreeTransform):
    """Real vectors to increasing vectors: :math:`y_0 = x_0`, :math:`y_k = y_{k-1} + e^{x_k}`.

    :math:`\\log|\\det J| = \\sum_{k \\geq 1} x_k` (the Jacobian is triangular).
    """

    domain = constraints.real_vector
    codomain = constraints.ordered_vector

    def __call__(self, x):
        steps = jnp.concatenate([x[..., :1], jnp.exp(x[..., 1:])], axis=-1)
        return jnp.cumsum(steps, axis=-1)

    def _inverse(self, y):
        return jnp.concatenate([y[..., :1], jnp.log(y[..., 1:] - y[..., :-1])], axis=-1)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return jnp.sum(x[..., 1:], axis=-1)


class SimplexToOrderedTransform(Transform):
    """A :math:`K`-simplex to an increasing :math:`(K-1)`-vector of logistic cutpoints.

    :math:`y_k = \\mathrm{logit}(\\sum_{j \\leq k} x_j) + a` with anchor point
    :math:`a` (broadcastable to the batch shape). With respect to the first
    :math:`K - 1` coordinates of :math:`x`,
    :math:`\\log|\\det J| = \\sum_k [\\mathrm{softplus}(y_k - a) + \\mathrm{softplus}(a - y_k)]`.
    """

    domain = constraints.simplex
    codomain = constraints.ordered_vector
    _eq_params = ("anchor_point",)

    def __init__(self, anchor_point: Any = 0.0) -> None:
        self.anchor_point = anchor_point

    def __call__(self, x):
        cumulative = jnp.cumsum(x[..., :-1], axis=-1)
        return logit(clamp_probs(cumulative)) + jnp.expand_dims(self.anchor_point, -1)

    def _inverse(self, y):
        s = expit(y - jnp.expand_dims(self.anchor_point, -1))
        zeros = jnp.zeros_like(s[..., :1])
        padded = jnp.concatenate([zeros, s, zeros + 1], axis=-1)
        return padded[..., 1:] - padded[..., :-1]

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        centered = y - jnp.expand_dims(self.anchor_point, -1)
        return jnp.sum(softplus(centered) + softplus(-centered), axis=-1)

    def forward_shape(self, shape):
        _check_min_ndim(shape, 1, "SimplexToOrderedTransform")
        batch = lax.broadcast_shapes(tuple(shape[:-1]), jnp.shape(self.anchor_point))
        return (*batch, shape[-1] - 1)

    def inverse_shape(self, shape):
        _check_min_ndim(shape, 1, "SimplexToOrderedTransform")
        batch = lax.broadcast_shapes(tuple(shape[:-1]), jnp.shape(self.anchor_point))
        return (*batch, shape[-1] + 1)

    def tree_flatten(self):
        return (self.anchor_point,), (("anchor_point",), {})


class L1BallTransform(ParameterFreeTransform):
    """Real vectors into the open unit L1 ball by signed stick breaking.

    With :math:`t = \\tanh(x)`, :math:`y_k = t_k \\prod_{j<k}(1 - |t_j|)`. The
    Jacobian is triangular:
    :math:`\\log|\\det J| = \\sum_k \\log(1 - t_k^2) + \\sum_k \\sum_{j<k}\\log(1 - |t_j|)`,
    evaluated from :math:`x` with :math:`\\log(1 - \\tanh|x|) = \\log 2 - \\mathrm{softplus}(2|x|)`.
    """

    domain = constraints.real_vector
    codomain = constraints.l1_ball

    def __call__(self, x):
        t = jnp.tanh(x)
        remaining = jnp.cumprod(1 - jnp.abs(t[..., :-1]), axis=-1)
        remaining = jnp.concatenate([jnp.ones_like(t[..., :1]), remaining], axis=-1)
        return t * remaining

    def _inverse(self, y):
        finfo = jnp.finfo(jnp.result_type(y, float))
        used = jnp.cumsum(jnp.abs(y[..., :-1]), axis=-1)
        remaining = jnp.concatenate([jnp.ones_like(y[..., :1]), 1 - used], axis=-1)
        t = y / jnp.clip(remaining, finfo.tiny)
        return jnp.arctanh(jnp.clip(t, -1 + finfo.eps, 1 - finfo.eps))

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        n = jnp.shape(x)[-1]
        log_1m_abs_t = math.log(2.0) - softplus(2 * jnp.abs(x))
        # Coordinate j shrinks the stick of every later coordinate: n - 1 - j of them.
        later = n - 1 - jnp.arange(n, dtype=jnp.result_type(x, float))
        return jnp.sum(log1m_tanh_sq(x) + later * log_1m_abs_t, axis=-1)


class PermuteTransform(Transform):
    """:math:`y = x[..., \\pi]` for a permutation :math:`\\pi`; :math:`\\log|\\det J| = 0`."""

    domain = constraints.real_vector
    codomain = constraints.real_vector
    _eq_params = ("permutation",)

    def __init__(self, permutation: Any) -> None:
        try:
            concrete = np.asarray(permutation)
        except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
            concrete = None
        if concrete is not None and (
            concrete.ndim != 1
            or not np.issubdtype(concrete.dtype, np.integer)
            or not np.array_equal(np.sort(concrete), np.arange(concrete.size))
        ):
            raise ValueError(
                "PermuteTransform: permutation must be a 1-d integer permutation of "
                f"0..n-1, got {permutation!r}"
            )
        self.permutation = jnp.asarray(permutation)

    def __call__(self, x):
        return x[..., self.permutation]

    def _inverse(self, y):
        return y[..., jnp.argsort(self.permutation)]

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return _batch_zeros(x, 1)

    def tree_flatten(self):
        return (self.permutation,), (("permutation",), {})


class ZeroSumTransform(Transform):
    """:math:`\\mathbb{R}^{n_1-1 \\times \\cdots}` onto arrays summing to zero along each of the
    last ``transform_ndims`` axes.

    Along each axis, with :math:`m = n - 1` inputs and :math:`s = \\sum_i x_i`,
    the output is :math:`(x_1 - c, \\ldots, x_m - c, -s/\\sqrt{n})` with
    :math:`c = s/(n + \\sqrt{n})`: a
    Householder-type isometry onto the zero-sum hyperplane (as in PyMC's
    ZeroSumNormal), so :math:`\\log|\\det J| = 0` with respect to the
    hyperplane's own volume.
    """

    _eq_params = ("transform_ndims",)

    def __init__(self, transform_ndims: int = 1) -> None:
        if (
            isinstance(transform_ndims, bool)
            or not isinstance(transform_ndims, int)
            or transform_ndims < 1
        ):
            raise ValueError(
                f"ZeroSumTransform: transform_ndims must be a positive int, got {transform_ndims!r}"
            )
        self.transform_ndims = transform_ndims

    @property
    def domain(self):
        return constraints.independent(constraints.real, self.transform_ndims)

    @property
    def codomain(self):
        return constraints.zero_sum(self.transform_ndims)

    @staticmethod
    def _extend(x, axis):
        n = x.shape[axis] + 1
        total = jnp.sum(x, axis=axis, keepdims=True)
        shift = total / (math.sqrt(n) + n)
        # After the common shift the appended entry is -total / sqrt(n).
        last = shift - total / math.sqrt(n)
        return jnp.concatenate([x, last], axis=axis) - shift

    @staticmethod
    def _contract(y, axis):
        n = y.shape[axis]
        last = lax.slice_in_dim(y, n - 1, n, axis=axis)
        total = -last * math.sqrt(n)
        return lax.slice_in_dim(y, 0, n - 1, axis=axis) + total / (math.sqrt(n) + n)

    def __call__(self, x):
        for axis in range(-self.transform_ndims, 0):
            x = self._extend(x, jnp.ndim(x) + axis)
        return x

    def _inverse(self, y):
        for axis in range(-self.transform_ndims, 0):
            y = self._contract(y, jnp.ndim(y) + axis)
        return y

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return _batch_zeros(x, self.transform_ndims)

    def forward_shape(self, shape):
        k = self.transform_ndims
        _check_min_ndim(shape, k, "ZeroSumTransform")
        return tuple(shape[: len(shape) - k]) + tuple(s + 1 for s in shape[len(shape) - k :])

    def inverse_shape(self, shape):
        k = self.transform_ndims
        _check_min_ndim(shape, k, "ZeroSumTransform")
        return tuple(shape[: len(shape) - k]) + tuple(s - 1 for s in shape[len(shape) - k :])

    def tree_flatten(self):
        return (), ((), {"transform_ndims": self.transform_ndims})


class ComplexTransform(ParameterFreeTransform):
    """Pairs of reals to complex numbers: :math:`y = x_0 + i x_1` over a trailing axis of 2.

    As a map of :math:`\\mathbb{R}^2` to :math:`\\mathbb{C} \\cong \\mathbb{R}^2` it
    is the identity, so :math:`\\log|\\det J| = 0`.
    """

    domain = constraints.real_vector
    codomain = constraints.complex

    def __call__(self, x):
        if jnp.shape(x)[-1:] != (2,):
            raise ValueError(
                f"ComplexTransform needs a trailing dimension of size 2, got shape {jnp.shape(x)}"
            )
        return lax.complex(x[..., 0], x[..., 1])

    def _inverse(self, y):
        return jnp.stack([jnp.real(y), jnp.imag(y)], axis=-1)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return _batch_zeros(x, 1)

    def forward_shape(self, shape):
        _check_min_ndim(shape, 1, "ComplexTransform")
        return tuple(shape[:-1])

    def inverse_shape(self, shape):
        return (*tuple(shape), 2)


class UnpackTransform(Transform):
    """A flat vector to a pytree of arrays through ``unpack_fn`` (``pack_fn`` inverts it).

    Batched inputs are unpacked with ``vmap``. :math:`\\log|\\det J| = 0`.
    """

    domain = constraints.real_vector
    codomain = constraints.dependent
    _eq_params = ("unpack_fn", "pack_fn")

    def __init__(self, unpack_fn: Callable, pack_fn: Callable | None = None) -> None:
        if not callable(unpack_fn):
            raise TypeError(f"UnpackTransform: unpack_fn must be callable, got {unpack_fn!r}")
        self.unpack_fn = unpack_fn
        self.pack_fn = pack_fn

    def __call__(self, x):
        batch_shape = jnp.shape(x)[:-1]
        if not batch_shape:
            return self.unpack_fn(x)
        flat = jnp.reshape(x, (-1, jnp.shape(x)[-1]))
        unpacked = jax.vmap(self.unpack_fn)(flat)
        return jax.tree.map(lambda z: jnp.reshape(z, batch_shape + jnp.shape(z)[1:]), unpacked)

    def _inverse(self, y):
        if self.pack_fn is None:
            raise NotImplementedError(
                "pack_fn needs to be provided to perform UnpackTransform.inv."
            )
        return self.pack_fn(y)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return _batch_zeros(x, 1)

    def forward_shape(self, shape):
        raise NotImplementedError("UnpackTransform outputs a pytree; its shape is unpack_fn's")

    def inverse_shape(self, shape):
        raise NotImplementedError("UnpackTransform outputs a pytree; its shape is unpack_fn's")

    def tree_flatten(self):
        return (), ((), {"unpack_fn": self.unpack_fn, "pack_fn": self.pack_fn})

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, UnpackTransform)
            and self.unpack_fn is other.unpack_fn
            and self.pack_fn is other.pack_fn
        )

    __hash__ = Transform.__hash__


class ReshapeTransform(Transform):
    """Reshape the event from ``inverse_shape`` to ``forward_shape``; batch dims are kept.

    :math:`\\log|\\det J| = 0`.
    """

    sign = 1
    _eq_params = ("_forward_shape", "_inverse_shape")

    def __init__(self, forward_shape: Sequence[int], inverse_shape: Sequence[int]) -> None:
        forward_shape, inverse_shape = tuple(forward_shape), tuple(inverse_shape)
        if math.prod(forward_shape) != math.prod(inverse_shape):
            raise ValueError(
                f"ReshapeTransform: forward_shape {forward_shape} (size "
                f"{math.prod(forward_shape)}) and inverse_shape {inverse_shape} (size "
                f"{math.prod(inverse_shape)}) have different sizes"
            )
        self._forward_shape = forward_shape
        self._inverse_shape = inverse_shape

    @property
    def domain(self):
        return constraints.independent(constraints.real, len(self._inverse_shape))

    @property
    def codomain(self):
        return constraints.independent(constraints.real, len(self._forward_shape))

    @staticmethod
    def _target(shape, source, target):
        shape = tuple(shape)
        batch_ndim = len(shape) - len(source)
        if batch_ndim < 0 or shape[batch_ndim:] != source:
            raise ValueError(f"ReshapeTransform: expected a shape ending in {source}, got {shape}")
        return shape[:batch_ndim] + target

    def forward_shape(self, shape):
        return self._target(shape, self._inverse_shape, self._forward_shape)

    def inverse_shape(self, shape):
        return self._target(shape, self._forward_shape, self._inverse_shape)

    def __call__(self, x):
        return jnp.reshape(x, self.forward_shape(jnp.shape(x)))

    def _inverse(self, y):
        return jnp.reshape(y, self.inverse_shape(jnp.shape(y)))

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return _batch_zeros(x, len(self._inverse_shape))

    def tree_flatten(self):
        static = {"_forward_shape": self._forward_shape, "_inverse_shape": self._inverse_shape}
        return (), ((), static)


# -- Fourier and wavelet bases -------------------------------------------------------------


class RealFastFourierTransform(Transform):
    """The real FFT over the last ``transform_ndims`` axes: ``jnp.fft.rfftn``.

    Args:
        transform_shape: the signal length along each transformed axis (the
            input's by default); the last axis maps to ``n // 2 + 1`` coefficients.
        transform_ndims: how many trailing axes to transform.

    Following NumPyro, :math:`\\log|\\det J|` is reported as 0.
    """

    _eq_params = ("transform_shape", "transform_ndims")

    def __init__(self, transform_shape: Any = None, transform_ndims: int = 1) -> None:
        if isinstance(transform_shape, int):
            transform_shape = (transform_shape,)
        if transform_shape is not None:
            transform_shape = tuple(transform_shape)
            if len(transform_shape) != transform_ndims:
                raise ValueError(
                    f"RealFastFourierTransform: transform_shape {transform_shape} must have "
                    f"transform_ndims={transform_ndims} entries"
                )
        self.transform_shape = transform_shape
        self.transform_ndims = transform_ndims

    @property
    def domain(self):
        return constraints.independent(constraints.real, self.transform_ndims)

    @property
    def codomain(self):
        return constraints.independent(constraints.complex, self.transform_ndims)

    def _axes(self):
        return tuple(range(-self.transform_ndims, 0))

    def __call__(self, x):
        return jnp.fft.rfftn(x, self.transform_shape, self._axes())

    def _inverse(self, y):
        return jnp.fft.irfftn(y, self.transform_shape, self._axes())

    def forward_shape(self, shape):
        shape = tuple(shape)
        if self.transform_shape is not None:
            shape = shape[: len(shape) - self.transform_ndims] + self.transform_shape
        return (*shape[:-1], shape[-1] // 2 + 1)

    def inverse_shape(self, shape):
        shape = tuple(shape)
        if self.transform_shape is not None:
            return shape[: len(shape) - self.transform_ndims] + self.transform_shape
        return (*shape[:-1], 2 * (shape[-1] - 1))

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return _batch_zeros(x, self.transform_ndims)

    def tree_flatten(self):
        static = {"transform_shape": self.transform_shape, "transform_ndims": self.transform_ndims}
        return (), ((), static)


class PackRealFastFourierCoefficientsTransform(Transform):
    """A real vector of length :math:`n` to the :math:`n // 2 + 1` complex coefficients of a
    real FFT.

    The first :math:`n // 2 + 1` entries are the real parts; the rest are the
    imaginary parts of the coefficients that have one (all but the zero
    frequency, and the Nyquist frequency when :math:`n` is even). The map
    only rearranges entries, so :math:`\\log|\\det J| = 0`.

    Args:
        transform_shape: ``(n,)``, the real vector's length; inferred from the
            input when omitted (the inverse then assumes :math:`n` is even).
    """

    domain = constraints.real_vector
    codomain = constraints.independent(constraints.complex, 1)
    _eq_params = ("shape",)

    def __init__(self, transform_shape: Any = None) -> None:
        if isinstance(transform_shape, int):
            transform_shape = (transform_shape,)
        if transform_shape is not None:
            transform_shape = tuple(transform_shape)
            if len(transform_shape) != 1:
                raise ValueError(
                    "PackRealFastFourierCoefficientsTransform: only vectors are supported, "
                    f"got transform_shape={transform_shape}"
                )
        self.shape = transform_shape

    def _size_from_output(self, m: int) -> int:
        return self.shape[0] if self.shape is not None else 2 * (m - 1)

    def __call__(self, x):
        n = jnp.shape(x)[-1]
        if self.shape is not None and n != self.shape[0]:
            raise ValueError(
                f"PackRealFastFourierCoefficientsTransform: expected length {self.shape[0]}, "
                f"got {n}"
            )
        m = n // 2 + 1
        real = x[..., :m]
        zero = jnp.zeros_like(x[..., :1])
        parts = [zero, x[..., m:]] + ([zero] if n % 2 == 0 else [])
        imag = jnp.concatenate(parts, axis=-1)
        return lax.complex(real, imag)

    def _inverse(self, y):
        n = self._size_from_output(jnp.shape(y)[-1])
        imag = jnp.imag(y)[..., 1 : (n - 1) // 2 + 1]
        return jnp.concatenate([jnp.real(y), imag], axis=-1)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return _batch_zeros(x, 1)

    def forward_shape(self, shape):
        _check_min_ndim(shape, 1, "PackRealFastFourierCoefficientsTransform")
        return (*tuple(shape[:-1]), shape[-1] // 2 + 1)

    def inverse_shape(self, shape):
        _check_min_ndim(shape, 1, "PackRealFastFourierCoefficientsTransform")
        return (*tuple(shape[:-1]), self._size_from_output(shape[-1]))

    def tree_flatten(self):
        return (), ((), {"shape": self.shape})


def _move_to_last(x, dim: int):
    return jnp.moveaxis(x, dim, -1) if dim != -1 else x


def _move_from_last(x, dim: int):
    return jnp.moveaxis(x, -1, dim) if dim != -1 else x


class DiscreteCosineTransform(Transform):
    """The orthonormal type-II discrete cosine transform along ``dim``.

    Coefficient :math:`k` is multiplied by :math:`w_k \\propto (k + 1/2)^{s}`
    with ``smooth`` :math:`= s`, normalized so that :math:`\\prod_k w_k = 1`:
    :math:`s = 0` maps white noise to white noise, :math:`s = 1` Brownian noise
    to white noise. Orthonormality and the normalization give
    :math:`\\log|\\det J| = 0`.

    Args:
        dim: the (negative) axis to transform; the event is the last ``-dim`` axes.
        smooth: the smoothing exponent :math:`s`.
    """

    _eq_params = ("dim", "smooth")

    def __init__(self, dim: int = -1, smooth: float = 0.0) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim >= 0:
            raise ValueError(f"DiscreteCosineTransform: dim must be a negative int, got {dim!r}")
        self.dim = dim
        self.smooth = float(smooth)

    @property
    def domain(self):
        return constraints.independent(constraints.real, -self.dim)

    @property
    def codomain(self):
        return self.domain

    def _weight(self, n: int, dtype):
        if not self.smooth:
            return None
        log_freq = jnp.log(jnp.arange(n, dtype=dtype) + 0.5)
        return jnp.exp(self.smooth * (log_freq - jnp.mean(log_freq)))

    def __call__(self, x):
        x = _move_to_last(jnp.asarray(x), self.dim)
        y = dct(x, type=2, norm="ortho", axis=-1)
        weight = self._weight(y.shape[-1], y.dtype)
        if weight is not None:
            y = y * weight
        return _move_from_last(y, self.dim)

    def _inverse(self, y):
        y = _move_to_last(jnp.asarray(y), self.dim)
        weight = self._weight(y.shape[-1], y.dtype)
        if weight is not None:
            y = y / weight
        return _move_from_last(idct(y, type=2, norm="ortho", axis=-1), self.dim)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return _batch_zeros(x, -self.dim)

    def tree_flatten(self):
        return (), ((), {"dim": self.dim, "smooth": self.smooth})


_SQRT_HALF = math.sqrt(0.5)


def _haar(x):
    n = x.shape[-1]
    half = n // 2
    if half == 0:
        return x
    even, odd = x[..., 0 : 2 * half : 2], x[..., 1 : 2 * half : 2]
    low = (even + odd) * _SQRT_HALF
    high = (even - odd) * _SQRT_HALF
    return jnp.concatenate([_haar(low), x[..., 2 * half :], high], axis=-1)


def _inverse_haar(y):
    n = y.shape[-1]
    half = n // 2
    if half == 0:
        return y
    low = _inverse_haar(y[..., :half])
    rest, high = y[..., half : n - half], y[..., n - half :]
    even = (low + high) * _SQRT_HALF
    odd = (low - high) * _SQRT_HALF
    interleaved = jnp.stack([even, odd], axis=-1).reshape((*y.shape[:-1], 2 * half))
    return jnp.concatenate([interleaved, rest], axis=-1)


class HaarTransform(Transform):
    """The orthonormal discrete Haar wavelet transform along ``dim``.

    Pairs :math:`(a, b)` become :math:`((a + b)/\\sqrt2, (a - b)/\\sqrt2)`; the
    sums are transformed recursively (an odd leftover is carried along).
    The map is orthonormal, so :math:`\\log|\\det J| = 0`.

    Args:
        dim: the (negative) axis to transform; the event is the last ``-dim`` axes.
        flip: reverse the axis before transforming (and after inverting).
    """

    _eq_params = ("dim", "flip")

    def __init__(self, dim: int = -1, flip: bool = False) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim >= 0:
            raise ValueError(f"HaarTransform: dim must be a negative int, got {dim!r}")
        self.dim = dim
        self.flip = bool(flip)

    @property
    def domain(self):
        return constraints.independent(constraints.real, -self.dim)

    @property
    def codomain(self):
        return self.domain

    def __call__(self, x):
        x = _move_to_last(jnp.asarray(x), self.dim)
        if self.flip:
            x = jnp.flip(x, axis=-1)
        return _move_from_last(_haar(x), self.dim)

    def _inverse(self, y):
        x = _inverse_haar(_move_to_last(jnp.asarray(y), self.dim))
        if self.flip:
            x = jnp.flip(x, axis=-1)
        return _move_from_last(x, self.dim)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return _batch_zeros(x, -self.dim)

    def tree_flatten(self):
        return (), ((), {"dim": self.dim, "flip": self.flip})


class RecursiveLinearTransform(Transform):
    """The linear recursion :math:`y_t = A y_{t-1} + x_t` started from :math:`y_{-1} = v`.

    Inputs have shape ``(..., T, D)``, time on axis -2; the transition matrix
    :math:`A` is ``(..., D, D)`` and the initial value :math:`v` (default
    zero) is ``(..., D)``; both broadcast against the batch. The inverse is
    :math:`x_t = y_t - A y_{t-1}`. The Jacobian is block unit lower-triangular,
    so :math:`\\log|\\det J| = 0`.

    Args:
        transition_matrix: square matrix :math:`A` (or a batch of them).
        initial_value: the state :math:`v` before the first step, with
            :math:`y_0 = A v + x_0`; ``None`` means zeros of shape ``(D,)``.
    """

    domain = constraints.real_matrix
    codomain = constraints.real_matrix
    _eq_params = ("transition_matrix", "initial_value")

    def __init__(self, transition_matrix: Any, initial_value: Any = None) -> None:
        shape = jnp.shape(transition_matrix)
        if len(shape) < 2 or shape[-1] != shape[-2]:
            raise ValueError(
                "RecursiveLinearTransform: transition_matrix must be square, with shape "
                f"(..., D, D); got {shape}"
            )
        if initial_value is None:
            initial_value = np.zeros(shape[-1:])
        elif jnp.shape(initial_value)[-1:] != shape[-1:]:
            raise ValueError(
                "RecursiveLinearTransform: initial_value must have shape (..., D) with D = "
                f"{shape[-1]} as in transition_matrix; got {jnp.shape(initial_value)}"
            )
        self.transition_matrix = transition_matrix
        self.initial_value = initial_value

    def _apply(self, y):
        return jnp.einsum("...ij,...j->...i", self.transition_matrix, y)

    def _batch_shape(self, shape):
        return lax.broadcast_shapes(
            tuple(shape[:-2]),
            jnp.shape(self.transition_matrix)[:-2],
            jnp.shape(self.initial_value)[:-1],
        )

    def __call__(self, x):
        x = jnp.asarray(x)
        batch = self._batch_shape(x.shape)
        x = jnp.broadcast_to(x, batch + x.shape[-2:])
        steps = jnp.moveaxis(x, -2, 0)
        initial = jnp.broadcast_to(jnp.asarray(self.initial_value, x.dtype), batch + x.shape[-1:])

        def step(y_prev, x_t):
            y_t = self._apply(y_prev) + x_t
            return y_t, y_t

        _, ys = lax.scan(step, initial, steps)
        return jnp.moveaxis(ys, 0, -2)

    def _inverse(self, y):
        y = jnp.asarray(y)
        batch = self._batch_shape(y.shape)
        y = jnp.broadcast_to(y, batch + y.shape[-2:])
        initial = jnp.broadcast_to(
            jnp.asarray(self.initial_value, y.dtype)[..., None, :], (*batch, 1, *y.shape[-1:])
        )
        y_prev = jnp.concatenate([initial, y[..., :-1, :]], axis=-2)
        transition = jnp.expand_dims(self.transition_matrix, -3)
        return y - jnp.einsum("...ij,...j->...i", transition, y_prev)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return _batch_zeros(jnp.broadcast_to(x, self.forward_shape(jnp.shape(x))), 2)

    def forward_shape(self, shape):
        _check_min_ndim(shape, 2, "RecursiveLinearTransform")
        return self._batch_shape(shape) + tuple(shape[-2:])

    def inverse_shape(self, shape):
        return self.forward_shape(shape)

    def tree_flatten(self):
        return (self.transition_matrix, self.initial_value), (
            ("transition_matrix", "initial_value"),
            {},
        )


# -- matrices -------------------------------------------------------------------------------


def _matrix_forward_shape(shape, offset: int = 0):
    """``(..., N)`` to ``(..., D, D)`` where ``N`` fills the triangle; ``offset=-1``: strict."""
    _check_min_ndim(shape, 1, "this matrix transform")
    n = tril_size_to_dim(shape[-1], offset)
    return (*tuple(shape[:-1]), n, n)


def _matrix_inverse_shape(shape, offset: int = 0):
    """``(..., D, D)`` to ``(..., N)`` with ``N`` the size of the (offset) lower triangle."""
    _check_min_ndim(shape, 2, "this matrix transform")
    if shape[-1] != shape[-2]:
        raise ValueError(f"expected square matrices, got shape {tuple(shape)}")
    m = shape[-1] + offset
    return (*tuple(shape[:-2]), m * (m + 1) // 2)


class LowerCholeskyTransform(ParameterFreeTransform):
    """Real vectors to lower-triangular matrices with a positive diagonal.

    The first :math:`n(n-1)/2` entries fill the strict lower triangle row by
    row; the last :math:`n` are the logs of the diagonal:
    :math:`\\log|\\det J| = \\sum_i x_{\\mathrm{diag}, i}`.
    """

    domain = constraints.real_vector
    codomain = constraints.lower_cholesky

    @staticmethod
    def _split(x):
        n = tril_size_to_dim(jnp.shape(x)[-1])
        return n, x[..., :-n], x[..., -n:]

    def __call__(self, x):
        _, strict, diag = self._split(x)
        return add_diag(vec_to_tril_matrix(strict, diagonal=-1), jnp.exp(diag))

    def _inverse(self, y):
        strict = matrix_to_tril_vec(y, diagonal=-1)
        diag = jnp.diagonal(y, axis1=-2, axis2=-1)
        return jnp.concatenate([strict, jnp.log(diag)], axis=-1)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        _, _, diag = self._split(x)
        return jnp.sum(diag, axis=-1)

    def forward_shape(self, shape):
        return _matrix_forward_shape(shape)

    def inverse_shape(self, shape):
        return _matrix_inverse_shape(shape)


class SoftplusLowerCholeskyTransform(LowerCholeskyTransform):
    """Like :class:`LowerCholeskyTransform` with a softplus diagonal.

    :math:`\\log|\\det J| = -\\sum_i \\mathrm{softplus}(-x_{\\mathrm{diag}, i})`.
    """

    codomain = constraints.softplus_lower_cholesky

    def __call__(self, x):
        _, strict, diag = self._split(x)
        return add_diag(vec_to_tril_matrix(strict, diagonal=-1), softplus(diag))

    def _inverse(self, y):
        strict = matrix_to_tril_vec(y, diagonal=-1)
        diag = jnp.diagonal(y, axis1=-2, axis2=-1)
        return jnp.concatenate([strict, softplus_inv(diag)], axis=-1)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        _, _, diag = self._split(x)
        return -jnp.sum(softplus(-diag), axis=-1)


class ScaledUnitLowerCholeskyTransform(LowerCholeskyTransform):
    """Real vectors to :math:`L = D^{1/2}`-scaled unit lower-triangular factors.

    :math:`L = \\mathrm{diag}(d)\\,(I + Z)` with :math:`Z` the strict lower
    triangle (first :math:`n(n-1)/2` entries) and :math:`d = \\mathrm{softplus}`
    of the last :math:`n` entries, so row :math:`i` is scaled by :math:`d_i`.
    :math:`\\log|\\det J| = \\sum_i [\\,i \\log d_i - \\mathrm{softplus}(-x_{\\mathrm{diag}, i})]`
    (row :math:`i` has :math:`i` scaled strict entries).
    """

    codomain = constraints.scaled_unit_lower_cholesky

    def __call__(self, x):
        _, strict, diag = self._split(x)
        unit = add_diag(vec_to_tril_matrix(strict, diagonal=-1), 1.0)
        return unit * softplus(diag)[..., None]

    def _inverse(self, y):
        diag = jnp.diagonal(y, axis1=-2, axis2=-1)
        strict = matrix_to_tril_vec(y / diag[..., None], diagonal=-1)
        return jnp.concatenate([strict, softplus_inv(diag)], axis=-1)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        n, _, diag = self._split(x)
        log_d = jnp.log(softplus(diag))
        rows = jnp.arange(n, dtype=log_d.dtype)
        return jnp.sum(rows * log_d - softplus(-diag), axis=-1)


class CholeskyTransform(ParameterFreeTransform):
    """:math:`y = \\mathrm{cholesky}(x)` for symmetric positive-definite :math:`x`.

    With respect to the lower triangles of :math:`x` and :math:`y`,
    :math:`\\log|\\det J| = -n\\log 2 - \\sum_{i=1}^{n} (n - i + 1)\\log y_{ii}`
    (the inverse of :math:`|\\partial(LL^T)/\\partial L| = 2^n \\prod_i L_{ii}^{n-i+1}`).
    """

    domain = constraints.positive_definite
    codomain = constraints.lower_cholesky

    def __call__(self, x):
        return jnp.linalg.cholesky(x)

    def _inverse(self, y):
        return jnp.matmul(y, jnp.swapaxes(y, -2, -1))

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        n = jnp.shape(y)[-1]
        powers = jnp.arange(n, 0, -1, dtype=jnp.result_type(y, float))
        log_diag = jnp.log(jnp.diagonal(y, axis1=-2, axis2=-1))
        return -n * math.log(2.0) - jnp.sum(powers * log_diag, axis=-1)


class CorrMatrixCholeskyTransform(CholeskyTransform):
    """:math:`y = \\mathrm{cholesky}(x)` for a correlation matrix :math:`x`.

    With respect to the strict lower triangles,
    :math:`\\log|\\det J| = -\\sum_{i=1}^{n} (n - i)\\log y_{ii}`.
    """

    domain = constraints.corr_matrix
    codomain = constraints.corr_cholesky

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        n = jnp.shape(y)[-1]
        powers = jnp.arange(n - 1, -1, -1, dtype=jnp.result_type(y, float))
        log_diag = jnp.log(jnp.diagonal(y, axis1=-2, axis2=-1))
        return -jnp.sum(powers * log_diag, axis=-1)


class CorrCholeskyTransform(ParameterFreeTransform):
    """Real vectors of length :math:`D(D-1)/2` to Cholesky factors of :math:`D \\times D`
    correlation matrices.

    The entries fill the strict lower triangle row by row as partial
    correlations :math:`t = \\tanh(x)`; each row is completed by signed stick
    breaking, :math:`y_{ij} = t_{ij}\\prod_{k<j}\\sqrt{1 - t_{ik}^2}` and
    :math:`y_{ii} = \\prod_{k<i}\\sqrt{1 - t_{ik}^2}`, giving rows of unit norm.

    With respect to the strict lower triangle of :math:`y`,
    :math:`\\log|\\det J| = \\sum_{i>k} \\log(1 - t_{ik}^2)\\,(1 + (i - 1 - k)/2)`,
    evaluated from :math:`x` as :math:`\\log(1 - \\tanh^2 x) = 2(\\log 2 - x -
    \\mathrm{softplus}(-2x))`.
    """

    domain = constraints.real_vector
    codomain = constraints.corr_cholesky

    def __call__(self, x):
        t = vec_to_tril_matrix(jnp.tanh(x), diagonal=-1)
        # sqrt(1 - t^2) = sech(x), taken in log space from x: 1 - tanh(x)^2 cancels badly
        # for large |x| and would break the rows' unit norm.
        log_stick = vec_to_tril_matrix(0.5 * log1m_tanh_sq(x), diagonal=-1)
        log_stick_before = jnp.cumsum(log_stick, axis=-1) - log_stick
        return (t + jnp.eye(t.shape[-1], dtype=t.dtype)) * jnp.exp(log_stick_before)

    def _inverse(self, y):
        finfo = jnp.finfo(jnp.result_type(y, float))
        used = jnp.cumsum(y * y, axis=-1) - y * y  # squared norm before column j
        remaining = jnp.sqrt(jnp.clip(1 - used, finfo.tiny))
        t = matrix_to_tril_vec(y / remaining, diagonal=-1)
        return jnp.arctanh(jnp.clip(t, -1 + finfo.eps, 1 - finfo.eps))

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        n = tril_size_to_dim(jnp.shape(x)[-1], diagonal=-1)
        rows, cols = np.tril_indices(n, -1)
        # log(1 - t_ik^2) enters once through tanh and, halved, once for every later
        # column j (k < j < i) of the same row through the remaining stick.
        weights = jnp.asarray(1.0 + 0.5 * (rows - 1 - cols), dtype=jnp.result_type(x, float))
        return jnp.sum(weights * log1m_tanh_sq(x), axis=-1)

    def forward_shape(self, shape):
        return _matrix_forward_shape(shape, offset=-1)

    def inverse_shape(self, shape):
        return _matrix_inverse_shape(shape, offset=-1)


class LowerCholeskyAffine(Transform):
    """:math:`y = \\mathrm{loc} + L x` with :math:`L` lower triangular, positive diagonal.

    :math:`\\log|\\det J| = \\sum_i \\log L_{ii}`. ``scale_tril`` may carry batch
    dimensions that broadcast against the input's.

    Args:
        loc: a real vector.
        scale_tril: a lower-triangular matrix (or batch of them) with positive diagonal.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    _eq_params = ("loc", "scale_tril")

    def __init__(self, loc: Any, scale_tril: Any) -> None:
        shape = jnp.shape(scale_tril)
        if len(shape) < 2 or shape[-1] != shape[-2]:
            raise ValueError(
                f"LowerCholeskyAffine: scale_tril must be square matrices (..., D, D), got {shape}"
            )
        self.loc = loc
        self.scale_tril = scale_tril

    def __call__(self, x):
        return self.loc + jnp.einsum("...ij,...j->...i", self.scale_tril, x)

    def _inverse(self, y):
        centered = jnp.asarray(y) - self.loc
        batch = lax.broadcast_shapes(centered.shape[:-1], jnp.shape(self.scale_tril)[:-2])
        n = jnp.shape(self.scale_tril)[-1]
        tril = jnp.broadcast_to(self.scale_tril, (*batch, n, n))
        rhs = jnp.broadcast_to(centered, (*batch, n))[..., None]
        return solve_triangular(tril, rhs, lower=True)[..., 0]

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        log_det = jnp.sum(jnp.log(jnp.diagonal(self.scale_tril, axis1=-2, axis2=-1)), axis=-1)
        return jnp.broadcast_to(log_det, self.forward_shape(jnp.shape(x))[:-1])

    def forward_shape(self, shape):
        _check_min_ndim(shape, 1, "LowerCholeskyAffine")
        return lax.broadcast_shapes(
            tuple(shape), jnp.shape(self.loc), jnp.shape(self.scale_tril)[:-1]
        )

    def inverse_shape(self, shape):
        return self.forward_shape(shape)

    def tree_flatten(self):
        return (self.loc, self.scale_tril), (("loc", "scale_tril"), {})


# -- biject_to ----------------------------------------------------------------------------------


class ConstraintRegistry:
    """Maps constraint types to factories ``factory(constraint) -> Transform``.

    Look-up walks the constraint's class hierarchy (most derived first); at
    each class a factory registered here wins over one registered by a
    plugin through the ``register_bijections`` hook. Plugins are consulted
    only when the exact type is not registered here.
    """

    def __init__(self) -> None:
        self._registry: dict[type, Callable[[Any], Transform]] = {}
        self._plugin_rules: dict[type, Callable[[Any], Transform]] = {}
        self._plugin_generation: int | None = None

    def register(self, constraint: Any, factory: Callable | None = None):
        """Register ``factory`` for a constraint type (or the type of a constraint instance).

        Usable as a decorator: ``@biject_to.register(constraints.positive)``.
        """
        if factory is None:
            return lambda factory: self.register(constraint, factory)
        if isinstance(constraint, Constraint):
            constraint = type(constraint)
        if not (isinstance(constraint, type) and issubclass(constraint, Constraint)):
            raise TypeError(
                f"biject_to.register: expected a Constraint type or instance, got {constraint!r}"
            )
        if not callable(factory):
            raise TypeError(f"biject_to.register: factory must be callable, got {factory!r}")
        self._registry[constraint] = factory
        return factory

    def _plugins(self) -> dict[type, Callable]:
        from ppl.plugins import registry as plugin_registry  # lazy: keeps import ppl cheap

        generation = plugin_registry.generation
        if generation != self._plugin_generation:
            rules: dict[type, Callable] = {}
            for constraint_type, factory in plugin_registry.bijections():
                rules.setdefault(constraint_type, factory)  # first plugin loaded wins
            self._plugin_rules = rules
            self._plugin_generation = generation
        return self._plugin_rules

    def _lookup(self, constraint: Constraint) -> Callable | None:
        factory = self._registry.get(type(constraint))
        if factory is not None:
            return factory
        plugins = self._plugins()
        for cls in type(constraint).__mro__:
            if cls is Constraint:
                break
            factory = self._registry.get(cls) or plugins.get(cls)
            if factory is not None:
                return factory
        return None

    def __call__(self, constraint: Constraint) -> Transform:
        if not isinstance(constraint, Constraint):
            raise TypeError(f"biject_to expects a Constraint, got {constraint!r}")
        factory = self._lookup(constraint)
        if factory is None:
            raise NotImplementedError(
                f"biject_to: no bijection onto constraint {constraint!r} (type "
                f"{type(constraint).__module__}.{type(constraint).__qualname__}) is registered. "
                "Register one with biject_to.register(constraint_type, factory), or provide it "
                "from a plugin through the register_bijections hook: "
                "register(constraint_type, factory)."
            )
        return factory(constraint)


biject_to = ConstraintRegistry()
"""The registry of bijections: ``biject_to(constraint)`` is a transform from
unconstrained space onto ``constraint``'s support."""


@biject_to.register(constraints.real)
@biject_to.register(constraints.complex)
def _transform_to_real(constraint):
    return IdentityTransform()


@biject_to.register(constraints.real_vector)
@biject_to.register(constraints.real_matrix)
@biject_to.register(constraints.independent)
def _transform_to_independent(constraint):
    return IndependentTransform(
        biject_to(constraint.base_constraint), constraint.reinterpreted_batch_ndims
    )


@biject_to.register(constraints.positive)
@biject_to.register(constraints.nonnegative)
def _transform_to_positive(constraint):
    return ExpTransform()


@biject_to.register(constraints.softplus_positive)
def _transform_to_softplus_positive(constraint):
    return SoftplusTransform()


@biject_to.register(constraints.greater_than)
@biject_to.register(constraints.greater_than_eq)
def _transform_to_greater_than(constraint):
    return ComposeTransform(
        [ExpTransform(), AffineTransform(constraint.lower_bound, 1, domain=constraints.positive)]
    )


@biject_to.register(constraints.less_than)
@biject_to.register(constraints.less_than_eq)
def _transform_to_less_than(constraint):
    return ComposeTransform(
        [ExpTransform(), AffineTransform(constraint.upper_bound, -1, domain=constraints.positive)]
    )


@biject_to.register(constraints.unit_interval)
def _transform_to_unit_interval(constraint):
    return SigmoidTransform()


@biject_to.register(constraints.interval)
@biject_to.register(constraints.open_interval)
@biject_to.register(constraints.circular)
def _transform_to_interval(constraint):
    scale = constraint.upper_bound - constraint.lower_bound
    return ComposeTransform(
        [
            SigmoidTransform(),
            AffineTransform(constraint.lower_bound, scale, domain=constraints.unit_interval),
        ]
    )


@biject_to.register(constraints.simplex)
def _transform_to_simplex(constraint):
    return StickBreakingTransform()


@biject_to.register(constraints.ordered_vector)
def _transform_to_ordered_vector(constraint):
    return OrderedTransform()


@biject_to.register(constraints.positive_ordered_vector)
def _transform_to_positive_ordered_vector(constraint):
    return ComposeTransform([OrderedTransform(), ExpTransform()])


@biject_to.register(constraints.l1_ball)
def _transform_to_l1_ball(constraint):
    return L1BallTransform()


@biject_to.register(constraints.corr_cholesky)
def _transform_to_corr_cholesky(constraint):
    return CorrCholeskyTransform()


@biject_to.register(constraints.corr_matrix)
def _transform_to_corr_matrix(constraint):
    return ComposeTransform([CorrCholeskyTransform(), CorrMatrixCholeskyTransform().inv])


@biject_to.register(constraints.lower_cholesky)
def _transform_to_lower_cholesky(constraint):
    return LowerCholeskyTransform()


@biject_to.register(constraints.scaled_unit_lower_cholesky)
def _transform_to_scaled_unit_lower_cholesky(constraint):
    return ScaledUnitLowerCholeskyTransform()


@biject_to.register(constraints.softplus_lower_cholesky)
def _transform_to_softplus_lower_cholesky(constraint):
    return SoftplusLowerCholeskyTransform()


@biject_to.register(constraints.positive_definite)
@biject_to.register(constraints.positive_semidefinite)
def _transform_to_positive_definite(constraint):
    return ComposeTransform([LowerCholeskyTransform(), CholeskyTransform().inv])


@biject_to.register(constraints.zero_sum)
def _transform_to_zero_sum(constraint):
    return ZeroSumTransform(constraint.event_dim)


@biject_to.register(constraints.cat)
def _transform_to_cat(constraint):
    return CatTransform([biject_to(c) for c in constraint.cseq], constraint.dim, constraint.lengths)
