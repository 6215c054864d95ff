"""TFP distributions with ppl semantics, one wrapper class per TFP class.

``ppl.tfp.distributions.Normal(0.0, 1.0)`` builds
``tfp.distributions.Normal(0.0, 1.0)`` (JAX substrate) and wraps it in a
:class:`TFPDistribution`, a ppl :class:`~ppl.distributions.Distribution`:

* ``sample(key, sample_shape)`` takes a JAX key first, as ppl distributions
  do (TFP's is ``sample(sample_shape, seed=key)``);
* ``batch_shape``/``event_shape`` are tuples; ``mean``/``variance`` are
  properties;
* ``support`` is a :mod:`ppl.constraints` constraint (see
  :mod:`ppl.tfp.support`), so ``biject_to``, validation and ppl's samplers
  work; ``support=`` overrides it;
* ``has_rsample`` follows TFP's ``reparameterization_type``;
* ``expand``, ``to_event``, ``mask`` and the pytree registration come from
  the ppl base class.

The wrapper classes are generated on first access (module ``__getattr__``),
so every distribution class of ``tfp.distributions``, including classes
added to TFP later, is available under its TFP name. A TFP distribution
object built elsewhere is wrapped with :func:`wrap`; ``ppl.sample`` does that
by itself (through the plugin's ``adapt_distribution`` hook).
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import jax.numpy as jnp
import numpy as np

from ppl import constraints
from ppl.constraints import Constraint
from ppl.distributions import Distribution as PPLDistribution
from ppl.distributions.util import validate_sample
from ppl.tfp import _tfp
from ppl.tfp.support import UnmappedSupport, infer_support, with_event_dim

__all__ = ["TFPDistribution", "wrap", "wrapper_class"]

Shape = tuple[int, ...]

#: Generated wrapper classes, by TFP class.
_WRAPPERS: dict[type, type[TFPDistribution]] = {}


def _describe(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _static_shape(shape: Any, what: str, name: str) -> Shape:
    """A TFP ``TensorShape`` as a tuple of ints, or a clear error for structured ones."""
    if isinstance(shape, dict | list | tuple) and not hasattr(shape, "as_list"):
        if any(not isinstance(s, int | np.integer) for s in shape):
            raise TypeError(
                f"TFP distribution {name} has a structured {what} ({shape}): a ppl sample site "
                "holds a single array. Sample its parts at separate sites (one per component "
                "distribution), or combine them into one vector-valued distribution with "
                "tfp.distributions.Blockwise."
            )
    dims = shape.as_list() if hasattr(shape, "as_list") else list(shape)
    if any(d is None for d in dims):
        raise ValueError(f"TFP distribution {name} has a {what} that is not static: {shape}")
    return tuple(int(d) for d in dims)


class TFPDistribution(PPLDistribution):
    """A TensorFlow Probability distribution behaving as a ppl distribution.

    Build one through its generated class, ``ppl.tfp.distributions.<TFPName>(
    *args, **kwargs)``, which takes the TFP constructor's arguments, or wrap
    an existing TFP object with :func:`wrap`.

    Args:
        *args: positional arguments of the TFP constructor.
        support: the support as a ppl constraint, overriding the one found
            from TFP (:func:`ppl.tfp.support.infer_support`). Needed where TFP
            knows no support ppl can express, e.g. ``FiniteDiscrete``; a
            constraint with fewer event dims than the distribution is
            extended over the rightmost batch dims of the event.
        validate_args: ppl's validation switch (``None`` follows
            :func:`ppl.util.enable_validation`); when given, it is also passed
            to the TFP constructor.
        **kwargs: keyword arguments of the TFP constructor.

    Attributes:
        tfp_dist: the wrapped TFP distribution object.
        tfp_class: the TFP class this wrapper class builds (``None`` on the base).
    """

    tfp_class: ClassVar[type | None] = None
    arg_constraints: ClassVar[dict] = {}
    pytree_data_fields = ("tfp_dist", "_support")

    def __init__(
        self,
        *args: Any,
        support: Constraint | None = None,
        validate_args: bool | None = None,
        **kwargs: Any,
    ) -> None:
        tfp_class = type(self).tfp_class
        if tfp_class is None:
            raise TypeError(
                "TFPDistribution is the base of the generated wrappers: build a distribution "
                "with ppl.tfp.distributions.<TFP class name>(...) (e.g. "
                "ppl.tfp.distributions.Normal(0.0, 1.0)), or wrap a TFP object with "
                "ppl.tfp.distributions.wrap(tfp_distribution)"
            )
        if validate_args is not None:
            kwargs["validate_args"] = validate_args
        self._setup(tfp_class(*args, **kwargs), support, validate_args)

    def _setup(self, tfp_dist: Any, support: Constraint | None, validate_args: bool | None) -> None:
        name = type(tfp_dist).__name__
        batch_shape = _static_shape(tfp_dist.batch_shape, "batch shape", name)
        event_shape = _static_shape(tfp_dist.event_shape, "event shape", name)
        if support is not None:
            if not isinstance(support, Constraint):
                raise TypeError(
                    f"{name}: support must be a ppl constraint (from ppl.constraints), got "
                    f"{support!r}"
                )
            if support.event_dim > len(event_shape):
                raise ValueError(
                    f"{name}: support {support!r} has event_dim {support.event_dim}, more than "
                    f"the distribution's {len(event_shape)} event dims (event shape "
                    f"{event_shape})"
                )
            support = with_event_dim(support, len(event_shape))
        self.tfp_dist = tfp_dist
        self._support = support
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    @classmethod
    def _from_tfp(
        cls, tfp_dist: Any, support: Constraint | None, validate_args: bool | None
    ) -> TFPDistribution:
        self = cls.__new__(cls)
        self._setup(tfp_dist, support, validate_args)
        return self

    @classmethod
    def infer_shapes(cls, *args: Any, **kwargs: Any) -> tuple[Shape, Shape]:
        """``(batch_shape, event_shape)`` for constructor arguments of the given shapes.

        The TFP class is built on arrays of ones of those shapes, which is
        cheap and lets TFP apply its own (per-family) shape rules.
        """
        if cls.tfp_class is None:
            raise TypeError("infer_shapes needs a generated wrapper class, e.g. Normal")

        def ones(shape: Any) -> Any:
            return jnp.ones(tuple(shape))

        tfp_dist = cls.tfp_class(*map(ones, args), **{k: ones(v) for k, v in kwargs.items()})
        name = cls.tfp_class.__name__
        return (
            _static_shape(tfp_dist.batch_shape, "batch shape", name),
            _static_shape(tfp_dist.event_shape, "event shape", name),
        )

    # -- TFP's attributes (loc, scale, probs, ...) ----------------------------------

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the wrapper lacks; private names and a
        # half-built object (no tfp_dist yet) must not recurse.
        tfp_dist = self.__dict__.get("tfp_dist")
        if name.startswith("_") or tfp_dist is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(tfp_dist, name)

    # -- ppl's protocol ---------------------------------------------------------------

    @property
    def support(self) -> Constraint:
        """The support as a ppl constraint (the ``support=`` override if one was given)."""
        if self._support is not None:
            return self._support
        cached = self.__dict__.get("_inferred_support")
        if cached is None:
            cached = self.__dict__["_inferred_support"] = infer_support(self.tfp_dist)
        return cached

    @property
    def has_rsample(self) -> bool:
        """Whether TFP's samples are fully reparameterized (differentiable in the parameters)."""
        reparameterized = _tfp.tfd().FULLY_REPARAMETERIZED
        return self.tfp_dist.reparameterization_type == reparameterized

    @property
    def reparametrized_params(self) -> list[str]:
        return list(self.tfp_dist.parameters) if self.has_rsample else []

    def sample(self, key: Any, sample_shape: Shape = ()) -> Any:
        """Draw ``sample_shape + batch_shape + event_shape`` samples with the JAX key ``key``."""
        return self.tfp_dist.sample(tuple(sample_shape), seed=key)

    @validate_sample
    def log_prob(self, value: Any) -> Any:
        """TFP's ``log_prob``: shape ``sample_shape + batch_shape``."""
        return self.tfp_dist.log_prob(value)

    @property
    def mean(self) -> Any:
        return self.tfp_dist.mean()

    @property
    def variance(self) -> Any:
        return self.tfp_dist.variance()

    def cdf(self, value: Any) -> Any:
        return self.tfp_dist.cdf(value)

    def icdf(self, q: Any) -> Any:
        return self.tfp_dist.quantile(q)

    def entropy(self) -> Any:
        return self.tfp_dist.entropy()

    # -- enumeration ------------------------------------------------------------------

    def _support_values(self) -> Any:
        """The values of a finite support, shape ``(n,) + event_shape``, or ``None``."""
        outcomes = getattr(self.tfp_dist, "outcomes", None)
        if type(self.tfp_dist).__name__ == "FiniteDiscrete" and outcomes is not None:
            if jnp.ndim(outcomes) != 1:
                return None  # outcomes that vary over the batch have no shared enumeration
            return jnp.asarray(outcomes)
        support = self.support
        if isinstance(support, UnmappedSupport):
            return None
        dtype = self.tfp_dist.dtype
        if support is constraints.boolean:
            return jnp.array([0, 1], dtype=dtype)
        if isinstance(support, constraints.integer_interval) and not self.event_shape:
            low, high = _homogeneous(support.lower_bound), _homogeneous(support.upper_bound)
            if low is None or high is None:
                return None
            return jnp.arange(low, high + 1).astype(dtype)
        if isinstance(support, constraints.multinomial) and _homogeneous(support.upper_bound) == 1:
            return jnp.eye(self.event_shape[-1], dtype=dtype)
        return None

    @property
    def has_enumerate_support(self) -> bool:
        """Whether the support is finite and the same for every batch member."""
        return self._support_values() is not None

    def enumerate_support(self, expand: bool = True) -> Any:
        """All support values, shape ``(n,) + batch_shape + event_shape``.

        Available for finite supports shared across the batch (``Bernoulli``,
        ``Categorical``, ``Binomial`` with one total count, ``OneHotCategorical``,
        ``FiniteDiscrete`` with shared outcomes, ...). With ``expand=False``
        the batch dims have size 1.
        """
        values = self._support_values()
        if values is None:
            raise NotImplementedError(
                f"{type(self).__name__}: enumerate_support needs a finite support shared by "
                f"every batch member (concrete, equal bounds); the support is {self.support!r}"
            )
        n = values.shape[0]
        values = values.reshape((n,) + (1,) * len(self.batch_shape) + self.event_shape)
        if expand:
            values = jnp.broadcast_to(values, (n, *self.batch_shape, *self.event_shape))
        return values

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(batch_shape={self.batch_shape}, "
            f"event_shape={self.event_shape}, tfp_dist={self.tfp_dist.name!r})"
        )


def _homogeneous(bound: Any) -> int | None:
    """The common value of a concrete integer bound array, or ``None``."""
    try:
        values = np.asarray(bound)
    except Exception:  # a tracer: the bound is not known while tracing
        return None
    if values.size == 0 or values.min() != values.max():
        return None
    return int(values.reshape(-1)[0])


# -- generated wrapper classes --------------------------------------------------------


def _check_distribution_class(tfp_class: Any) -> None:
    base = _tfp.tfd().Distribution
    if not (isinstance(tfp_class, type) and issubclass(tfp_class, base)):
        raise TypeError(
            "wrapper_class expects a tensorflow_probability.substrates.jax distribution class, "
            f"got {tfp_class!r}"
        )


def _signature(tfp_class: type) -> inspect.Signature | None:
    """The TFP constructor's signature plus the wrapper's keyword-only ``support``."""
    try:
        parameters = list(inspect.signature(tfp_class.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    if any(p.name == "support" for p in parameters):
        return None
    support = inspect.Parameter("support", inspect.Parameter.KEYWORD_ONLY, default=None)
    var_keyword = [p for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD]
    rest = [p for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD]
    return inspect.Signature([*rest, support, *var_keyword])


def wrapper_class(tfp_class: type) -> type[TFPDistribution]:
    """The ppl wrapper class of a TFP (JAX substrate) distribution class, built once.

    Calling it takes the TFP constructor's arguments plus ``support=``.
    """
    cls = _WRAPPERS.get(tfp_class)
    if cls is not None:
        return cls
    _check_distribution_class(tfp_class)
    name = tfp_class.__name__
    namespace: dict[str, Any] = {
        "tfp_class": tfp_class,
        "__module__": __name__,
        "__qualname__": name,
        "__doc__": (
            f"TFP's ``{name}`` as a ppl distribution (see :class:`TFPDistribution`).\n\n"
            f"Takes the arguments of ``tfp.distributions.{name}`` and ``support=``, the "
            "support as a ppl constraint when the one found from TFP is to be overridden."
        ),
    }
    cls = type(name, (TFPDistribution,), namespace)
    signature = _signature(tfp_class)
    if signature is not None:
        cls.__signature__ = signature
    _WRAPPERS[tfp_class] = cls
    return cls


def _is_public_distribution_class(name: str) -> bool:
    tfd = _tfp.tfd()
    obj = getattr(tfd, name, None)
    return isinstance(obj, type) and issubclass(obj, tfd.Distribution)


def wrap(
    tfp_dist: Any,
    support: Constraint | None = None,
    validate_args: bool | None = None,
) -> TFPDistribution:
    """A TFP distribution object as a ppl distribution.

    Args:
        tfp_dist: a ``tensorflow_probability.substrates.jax`` distribution.
        support: the support as a ppl constraint, overriding the one found
            from TFP (see :class:`TFPDistribution`).
        validate_args: ppl's validation switch for ``log_prob`` values.

    Returns:
        An instance of the generated wrapper class of ``type(tfp_dist)``;
        wrapping a wrapper returns it unchanged (or with the new support).
    """
    if isinstance(tfp_dist, TFPDistribution):
        if support is None and validate_args is None:
            return tfp_dist
        tfp_dist = tfp_dist.tfp_dist
    if not isinstance(tfp_dist, _tfp.tfd().Distribution):
        hint = ""
        if _tfp.from_tensorflow_probability(tfp_dist):
            hint = (
                " It comes from another TFP substrate; ppl runs on JAX, so use "
                "`from tensorflow_probability.substrates import jax as tfp`."
            )
        raise TypeError(
            "wrap expects a tensorflow_probability.substrates.jax distribution, got "
            f"{_describe(tfp_dist)}.{hint}"
        )
    return wrapper_class(type(tfp_dist))._from_tfp(tfp_dist, support, validate_args)


def __getattr__(name: str) -> type[TFPDistribution]:
    if not name.startswith("_") and name[:1].isupper() and _is_public_distribution_class(name):
        return wrapper_class(getattr(_tfp.tfd(), name))
    raise AttributeError(
        f"module {__name__!r} has no attribute {name!r}"
        + (
            " (tfp.distributions has no distribution class of that name)"
            if name[:1].isupper()
            else ""
        )
    )


def __dir__() -> list[str]:
    tfd = _tfp.tfd()
    names = [n for n in dir(tfd) if not n.startswith("_") and _is_public_distribution_class(n)]
    return sorted({*globals(), *names})
