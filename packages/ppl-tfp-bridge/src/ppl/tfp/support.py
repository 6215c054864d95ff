"""Supports of TFP distributions as ppl constraints.

TFP distributions have no ``support`` attribute. What they have is a default
*event-space bijector*, a map from unconstrained reals onto the support,
which is all ppl's samplers need; but ppl also compares, checks and
enumerates supports, and that needs a :mod:`ppl.constraints` object. The
support of a TFP distribution is found in this order:

1. a table of the TFP classes whose support a bijector cannot express
   (discrete families, which have no bijector; supports with a ppl name,
   like ``corr_matrix`` for ``LKJ``; and the meta distributions, whose
   support is that of the distribution they wrap);
2. the image of the reals under the default event-space bijector, when the
   bijector is a known composition (``Softplus`` onto ``positive``,
   ``Shift(a)`` of ``Softplus`` onto ``greater_than(a)``, ...);
3. otherwise a :class:`BijectorConstraint`: "the image of the bijector",
   which ``biject_to`` maps back to that very bijector (through
   :class:`ppl.tfp.BijectorTransform`);
4. with no bijector either, an :class:`UnmappedSupport` that names the
   distribution and asks for ``support=`` wherever ppl needs the support.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ppl import constraints
from ppl.constraints import Constraint

__all__ = [
    "BijectorConstraint",
    "UnmappedSupport",
    "UnmappedSupportError",
    "bijector_image",
    "infer_support",
    "with_event_dim",
]


class UnmappedSupportError(NotImplementedError):
    """ppl needs the support of a TFP distribution that has no ppl constraint."""


# -- constraint types the bridge adds ---------------------------------------------


class BijectorConstraint(Constraint):
    """The image of the reals under a TFP bijector, as a ppl constraint.

    ``biject_to(BijectorConstraint(b))`` is ``BijectorTransform(b)``, so a
    sample site with this support is moved to unconstrained space by ``b``
    itself. Membership of ``x`` is decided by the round trip: ``x`` is in the
    image when ``b.inverse(x)`` is finite and ``b.forward(b.inverse(x))``
    returns ``x`` to within :math:`\\sqrt{\\epsilon}` of the dtype.

    Args:
        bijector: a TFP (JAX substrate) bijector from unconstrained space.
        event_dim: the number of rightmost dimensions of one point in the
            image (the bijector's ``inverse_min_event_ndims`` by default).
    """

    def __init__(self, bijector: Any, event_dim: int | None = None) -> None:
        self.bijector = bijector
        self._event_dim = int(bijector.inverse_min_event_ndims if event_dim is None else event_dim)

    @property
    def event_dim(self) -> int:
        return self._event_dim

    def __call__(self, x: Any) -> Any:
        x = jnp.asarray(x)
        z = self.bijector.inverse(x)
        domain_ndims = self.bijector.inverse_event_ndims(self._event_dim)
        finite = _all_rightmost(jnp.isfinite(z), domain_ndims)
        tol = math.sqrt(float(jnp.finfo(jnp.result_type(x, float)).eps))
        round_trip = jnp.isclose(self.bijector.forward(z), x, rtol=tol, atol=tol)
        return finite & _all_rightmost(round_trip, self._event_dim)

    def feasible_like(self, prototype: Any) -> Any:
        shape = tuple(jnp.shape(prototype))
        event_shape = shape[len(shape) - self._event_dim :]
        z = jnp.zeros(tuple(self.bijector.inverse_event_shape(event_shape)))
        point = self.bijector.forward(z)
        return jnp.broadcast_to(point, shape).astype(jnp.result_type(prototype, float))

    def __repr__(self) -> str:
        return f"BijectorConstraint({type(self.bijector).__name__}, event_dim={self._event_dim})"

    def tree_flatten(self):
        return (self.bijector,), (("bijector",), {"_event_dim": self._event_dim})


class UnmappedSupport(Constraint):
    """The support of a TFP distribution that neither a ppl constraint nor a
    TFP bijector describes (e.g. ``FiniteDiscrete``, ``Skellam``).

    Sampling and ``log_prob`` do not need it; everything that does (checking
    values, moving a latent site to unconstrained space, enumeration) raises
    :class:`UnmappedSupportError` naming the distribution and saying how to
    pass the support explicitly.

    Args:
        name: the TFP distribution's class name.
        event_dim: the number of event dimensions of the distribution.
        is_discrete: whether the distribution is discrete.
    """

    def __init__(self, name: str, event_dim: int = 0, is_discrete: bool = True) -> None:
        self.name = name
        self._event_dim = int(event_dim)
        self._is_discrete = bool(is_discrete)

    @property
    def event_dim(self) -> int:
        return self._event_dim

    @property
    def is_discrete(self) -> bool:
        return self._is_discrete

    def error(self, needed_for: str) -> UnmappedSupportError:
        """The error to raise when the support is needed for ``needed_for``."""
        return UnmappedSupportError(
            f"{needed_for} needs the support of the TFP distribution {self.name}, which has no "
            f"ppl constraint (it is not in ppl.tfp's table of known supports and TFP gives it no "
            f"default event-space bijector). Pass the support explicitly as a ppl constraint: "
            f"ppl.tfp.distributions.{self.name}(..., support=<constraint>), or "
            f"ppl.tfp.distributions.wrap(tfp_distribution, support=<constraint>), e.g. "
            f"support=ppl.constraints.integer_interval(0, 10)."
        )

    def __call__(self, x: Any) -> Any:
        raise self.error("checking values against the support")

    def feasible_like(self, prototype: Any) -> Any:
        raise self.error("finding a value inside the support")

    def __repr__(self) -> str:
        return f"UnmappedSupport({self.name})"

    def tree_flatten(self):
        static = {"name": self.name, "_event_dim": self._event_dim}
        return (), ((), {**static, "_is_discrete": self._is_discrete})


def _all_rightmost(mask: Any, ndims: int) -> Any:
    return jnp.all(mask, axis=tuple(range(-ndims, 0))) if ndims else mask


def transform_to_bijector_constraint(constraint: BijectorConstraint) -> Any:
    """``biject_to`` rule: the bijector that defines the constraint, as a ppl transform."""
    from ppl.tfp.bijectors import BijectorTransform

    return BijectorTransform(constraint.bijector)


def transform_to_unmapped_support(constraint: UnmappedSupport) -> Any:
    """``biject_to`` rule: there is no bijection, say how to supply a support."""
    raise constraint.error("moving a site to unconstrained space (biject_to)")


# -- event dimensions -------------------------------------------------------------


def _is_real(constraint: Constraint) -> bool:
    return constraint is constraints.real or (
        isinstance(constraint, constraints.independent)
        and constraint.base_constraint is constraints.real
    )


def with_event_dim(constraint: Constraint, event_dim: int) -> Constraint:
    """``constraint`` with batch dimensions folded in until it has ``event_dim`` event dims.

    Reals come back as the named singletons (``real_vector``, ``real_matrix``).
    """
    if _is_real(constraint):
        named = {0: constraints.real, 1: constraints.real_vector, 2: constraints.real_matrix}
        if event_dim in named:
            return named[event_dim]
        return constraints.independent(constraints.real, event_dim)
    if isinstance(constraint, UnmappedSupport):
        return UnmappedSupport(constraint.name, event_dim, constraint.is_discrete)
    extra = event_dim - constraint.event_dim
    return constraints.independent(constraint, extra) if extra > 0 else constraint


# -- images of bijectors ----------------------------------------------------------


def _concrete_sign(x: Any) -> int:
    """+1 or -1 when ``x`` is concretely all positive or all negative, else 0."""
    try:
        value = np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return 0
    if np.all(value > 0):
        return 1
    if np.all(value < 0):
        return -1
    return 0


def _affine_image(constraint: Constraint, shift: Any, scale: Any) -> Constraint | None:
    """The image of ``constraint`` under :math:`x \\mapsto \\text{shift} + \\text{scale}\\,x`."""
    if _is_real(constraint):
        return constraint
    sign = _concrete_sign(scale)
    if sign == 0:
        return None

    def map_(bound: Any) -> Any:
        return shift + scale * bound

    if isinstance(constraint, constraints.interval):
        low, high = map_(constraint.lower_bound), map_(constraint.upper_bound)
        low, high = (low, high) if sign > 0 else (high, low)
        kind = (
            constraints.open_interval
            if isinstance(constraint, constraints.open_interval)
            else constraints.interval
        )
        return kind(low, high)
    lower = {
        constraints.greater_than: constraints.less_than,
        constraints.greater_than_eq: constraints.less_than_eq,
    }
    for kind in (constraints.greater_than_eq, constraints.greater_than):
        if isinstance(constraint, kind):
            bound = map_(constraint.lower_bound)
            return kind(bound) if sign > 0 else lower[kind](bound)
    upper = {
        constraints.less_than: constraints.greater_than,
        constraints.less_than_eq: constraints.greater_than_eq,
    }
    for kind in (constraints.less_than_eq, constraints.less_than):
        if isinstance(constraint, kind):
            bound = map_(constraint.upper_bound)
            return kind(bound) if sign > 0 else upper[kind](bound)
    return None


#: Bijectors that map the reals onto the reals (possibly reshaping the event).
_REAL_TO_REAL = frozenset(
    {
        "Identity",
        "Glow",
        "MaskedAutoregressiveFlow",
        "MatvecLU",
        "Permute",
        "RealNVP",
        "Reshape",
        "ScaleMatvecDiag",
        "ScaleMatvecLinearOperator",
        "ScaleMatvecLU",
        "ScaleMatvecTriL",
        "Sinh",
        "SinhArcsinh",
        "Transpose",
    }
)


def _from_reals(name: str, bijector: Any) -> Constraint | None:
    """The image of the reals under a bijector that ppl has a constraint for."""
    if name in _REAL_TO_REAL:
        return constraints.real
    if name == "Exp":
        return constraints.positive
    if name == "Softplus":
        low = getattr(bijector, "low", None)
        return constraints.positive if low is None else constraints.greater_than(low)
    if name == "Sigmoid":
        low, high = getattr(bijector, "low", None), getattr(bijector, "high", None)
        if low is None and high is None:
            return constraints.unit_interval
        return constraints.interval(low, high)
    if name == "NormalCDF":
        return constraints.unit_interval
    if name == "Tanh":
        return constraints.open_interval(-1.0, 1.0)
    if name == "SoftmaxCentered":
        return constraints.simplex
    if name == "CorrelationCholesky":
        return constraints.corr_cholesky
    if name == "FillScaleTriL":
        return constraints.lower_cholesky
    if name == "Ascending":
        return constraints.ordered_vector
    return None


def _push(constraint: Constraint, bijector: Any) -> Constraint | None:
    """The image of ``constraint`` under ``bijector``, when ppl has a constraint for it."""
    name = type(bijector).__name__
    if name == "Identity":
        return constraint
    if name == "Chain":
        for part in reversed(list(bijector.bijectors)):
            constraint = _push(constraint, part)
            if constraint is None:
                return None
        return constraint
    if name == "Shift":
        return _affine_image(constraint, bijector.shift, 1.0)
    if name == "Scale":
        return _affine_image(constraint, 0.0, bijector.scale)
    if name == "Reciprocal" and constraint is constraints.positive:
        return constraints.positive
    if name == "CholeskyOuterProduct":
        if constraint is constraints.corr_cholesky:
            return constraints.corr_matrix
        if constraint is constraints.lower_cholesky:
            return constraints.positive_definite
        return None
    if _is_real(constraint):
        return _from_reals(name, bijector)
    return None


def bijector_image(bijector: Any) -> Constraint:
    """The image of the reals under a TFP bijector, as a ppl constraint.

    A named ppl constraint when the bijector is a known composition, else
    :class:`BijectorConstraint` (whose ``biject_to`` is the bijector itself).
    """
    image = _push(constraints.real, bijector)
    return BijectorConstraint(bijector) if image is None else image


# -- supports of distributions ----------------------------------------------------


def _num_categories(d: Any) -> int:
    parameter = d.logits if d.logits is not None else d.probs
    return jnp.shape(parameter)[-1]


def _parameter_free(constraint: Constraint) -> bool:
    return not jax.tree_util.tree_leaves(constraint)


def _quantized(d: Any) -> Constraint | None:
    if d.low is not None and d.high is not None:
        return constraints.integer_interval(d.low, d.high)
    if d.low is not None:
        return constraints.integer_greater_than(d.low)
    return None


def _mixture_same_family(d: Any) -> Constraint | None:
    # The components' support has the component axis as a batch axis; only a
    # support without parameters is the same for every component.
    inner = infer_support(d.components_distribution)
    return inner if _parameter_free(inner) else None


def _mixture(d: Any) -> Constraint | None:
    supports = [infer_support(c) for c in d.components]
    first = supports[0]
    if _parameter_free(first) and all(s == first for s in supports[1:]):
        return first
    return None


def _wrapped(d: Any) -> Constraint:
    return infer_support(d.distribution)


def _matrix(cholesky: Constraint, full: Constraint) -> Callable[[Any], Constraint]:
    return lambda d: cholesky if d.input_output_cholesky else full


#: Supports by TFP class name. A rule returning ``None`` defers to the bijector.
SUPPORT_TABLE: dict[str, Callable[[Any], Constraint | None]] = {
    # discrete families: TFP gives them no bijector
    "Bernoulli": lambda d: constraints.boolean,
    "ProbitBernoulli": lambda d: constraints.boolean,
    "Categorical": lambda d: constraints.integer_interval(0, _num_categories(d) - 1),
    "OrderedLogistic": lambda d: constraints.integer_interval(0, jnp.shape(d.cutpoints)[-1]),
    "StoppingRatioLogistic": lambda d: constraints.integer_interval(0, jnp.shape(d.cutpoints)[-1]),
    "Binomial": lambda d: constraints.integer_interval(0, d.total_count),
    "BetaBinomial": lambda d: constraints.integer_interval(0, d.total_count),
    "Poisson": lambda d: constraints.nonnegative_integer,
    "Geometric": lambda d: constraints.nonnegative_integer,
    "NegativeBinomial": lambda d: constraints.nonnegative_integer,
    "ZeroInflatedNegativeBinomial": lambda d: constraints.nonnegative_integer,
    "PoissonLogNormalQuadratureCompound": lambda d: constraints.nonnegative_integer,
    "Zipf": lambda d: constraints.positive_integer,
    "Multinomial": lambda d: constraints.multinomial(d.total_count),
    "DirichletMultinomial": lambda d: constraints.multinomial(d.total_count),
    "OneHotCategorical": lambda d: constraints.multinomial(1),
    "QuantizedDistribution": _quantized,
    # supports ppl has a name for, which the bijector does not reveal
    "VonMises": lambda d: constraints.circular,
    "VonMisesFisher": lambda d: constraints.sphere,
    "SphericalUniform": lambda d: constraints.sphere,
    "PowerSpherical": lambda d: constraints.sphere,
    "LKJ": _matrix(constraints.corr_cholesky, constraints.corr_matrix),
    "CholeskyLKJ": lambda d: constraints.corr_cholesky,
    "WishartTriL": _matrix(constraints.lower_cholesky, constraints.positive_definite),
    "WishartLinearOperator": _matrix(constraints.lower_cholesky, constraints.positive_definite),
    "Deterministic": lambda d: constraints.real,
    "VectorDeterministic": lambda d: constraints.real,
    # meta distributions: the support of what they wrap
    "Independent": _wrapped,
    "Sample": _wrapped,
    "BatchBroadcast": _wrapped,
    "Masked": _wrapped,
    "Inflated": _wrapped,
    "MixtureSameFamily": _mixture_same_family,
    "Mixture": _mixture,
}


def _table_rule(d: Any) -> Callable[[Any], Constraint | None] | None:
    # Walk the class hierarchy so that subclasses of a TFP class share its rule.
    for cls in type(d).__mro__:
        if cls.__module__.startswith("tensorflow_probability") and cls.__name__ in SUPPORT_TABLE:
            return SUPPORT_TABLE[cls.__name__]
    return None


def default_event_space_bijector(d: Any) -> Any:
    """TFP's default event-space bijector of ``d``, or ``None`` when it has none."""
    try:
        return d.experimental_default_event_space_bijector()
    except (NotImplementedError, AttributeError, TypeError, ValueError):
        return None


def infer_support(d: Any) -> Constraint:
    """The support of the TFP distribution ``d`` as a ppl constraint.

    The result has ``event_dim == len(d.event_shape)``.
    """
    event_dim = len(d.event_shape)
    rule = _table_rule(d)
    support = rule(d) if rule is not None else None
    if support is None:
        bijector = default_event_space_bijector(d)
        if bijector is not None:
            support = bijector_image(bijector)
        else:
            support = UnmappedSupport(type(d).__name__, event_dim, is_discrete=True)
    return with_event_dim(support, event_dim)
