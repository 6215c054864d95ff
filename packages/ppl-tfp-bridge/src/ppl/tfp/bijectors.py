"""TFP bijectors as ppl transforms, and ppl transforms as TFP bijectors.

A TFP bijector ``b`` and a ppl :class:`~ppl.transforms.Transform` describe
the same thing, a differentiable bijection with its log Jacobian, with two
conventions to reconcile:

* TFP reduces :meth:`forward_log_det_jacobian` over an ``event_ndims``
  chosen by the caller; ppl reduces over the domain's ``event_dim``. The
  wrapper passes ``b.forward_min_event_ndims``, the event rank of the
  domain.
* TFP bijectors carry no domain/codomain. The wrapper takes the domain to be
  the unconstrained reals (the usual case: flows, event-space bijectors) and
  the codomain to be their image, as found by
  :func:`ppl.tfp.support.bijector_image`; both can be given explicitly for
  bijectors defined on a constrained set (``Log``, ``Invert(Exp())``).
"""

from __future__ import annotations

import functools
from typing import Any

from ppl import constraints
from ppl.constraints import Constraint
from ppl.tfp import _tfp
from ppl.tfp.support import bijector_image, with_event_dim
from ppl.transforms import Transform

__all__ = ["BijectorTransform", "to_tfp_bijector"]


def _check_bijector(bijector: Any, where: str) -> None:
    bijector_type = _tfp.tfb().Bijector
    if not isinstance(bijector, bijector_type):
        hint = ""
        if _tfp.from_tensorflow_probability(bijector):
            hint = (
                " (it comes from another TFP substrate; use the JAX one: "
                "`from tensorflow_probability.substrates import jax as tfp`)"
            )
        raise TypeError(
            f"{where}: bijector must be a tensorflow_probability.substrates.jax bijector, got "
            f"{type(bijector).__module__}.{type(bijector).__qualname__}{hint}"
        )


def _check_constraint(value: Any, name: str) -> None:
    if value is not None and not isinstance(value, Constraint):
        raise TypeError(
            f"BijectorTransform: {name} must be a ppl constraint (ppl.constraints) or None, "
            f"got {value!r}"
        )


class BijectorTransform(Transform):
    """A TFP bijector used as a ppl :class:`~ppl.transforms.Transform`.

    .. math::
        y = b(x), \\qquad
        \\log\\left|\\det \\frac{\\partial y}{\\partial x}\\right|
        = b.\\mathrm{forward\\_log\\_det\\_jacobian}(x, n_{\\min})

    with :math:`n_{\\min}` = ``b.forward_min_event_ndims``, so the result has
    the batch shape of ``x`` as ppl transforms do. For bijectors that change
    the dimension, the log Jacobian is TFP's, relative to TFP's reference
    measure on the image (``SoftmaxCentered`` includes
    :math:`\\tfrac12\\log(n+1)`, which ppl's ``StickBreakingTransform``
    does not): densities built on it may differ from ppl's by a constant.

    Args:
        bijector: a bijector of ``tensorflow_probability.substrates.jax``.
        domain: the ppl constraint ``x`` lives in; defaults to the reals with
            ``b.forward_min_event_ndims`` event dims.
        codomain: the ppl constraint ``y`` lives in; defaults to the image of
            the reals under ``b`` (a named constraint when the bijector is a
            known one such as ``Exp`` or ``Sigmoid``, else a
            :class:`~ppl.tfp.support.BijectorConstraint`).

    Example:
        >>> from tensorflow_probability.substrates import jax as tfp
        >>> import ppl.distributions as dist
        >>> d = dist.TransformedDistribution(dist.Normal(0.0, 1.0),
        ...                                  BijectorTransform(tfp.bijectors.Exp()))
    """

    _eq_params = ("bijector",)

    def __init__(
        self,
        bijector: Any,
        domain: Constraint | None = None,
        codomain: Constraint | None = None,
    ) -> None:
        _check_bijector(bijector, "BijectorTransform")
        _check_constraint(domain, "domain")
        _check_constraint(codomain, "codomain")
        self.bijector = bijector
        self._domain = domain
        self._codomain = codomain

    @property
    def domain(self) -> Constraint:
        if self._domain is not None:
            return self._domain
        return with_event_dim(constraints.real, int(self.bijector.forward_min_event_ndims))

    @property
    def codomain(self) -> Constraint:
        if self._codomain is not None:
            return self._codomain
        return with_event_dim(
            bijector_image(self.bijector), int(self.bijector.inverse_min_event_ndims)
        )

    def __call__(self, x):
        return self.bijector.forward(x)

    def _inverse(self, y):
        return self.bijector.inverse(y)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return self.bijector.forward_log_det_jacobian(
            x, event_ndims=int(self.bijector.forward_min_event_ndims)
        )

    def forward_shape(self, shape: tuple) -> tuple:
        return tuple(self.bijector.forward_event_shape(tuple(shape)))

    def inverse_shape(self, shape: tuple) -> tuple:
        return tuple(self.bijector.inverse_event_shape(tuple(shape)))

    def tree_flatten(self):
        # The domain/codomain overrides may hold arrays, so they are children too.
        names = ("bijector", "_domain", "_codomain")
        return (self.bijector, self._domain, self._codomain), (names, {})

    def __repr__(self) -> str:
        return f"BijectorTransform({self.bijector.name})"


@functools.cache
def _transform_bijector_class() -> type:
    """The TFP bijector class wrapping ppl transforms, built on first use (TFP imports slowly)."""
    tfb = _tfp.tfb()

    class TransformBijector(tfb.Bijector):
        """A ppl transform seen as a TFP bijector (see :func:`to_tfp_bijector`)."""

        def __init__(self, transform: Transform, name: str | None = None) -> None:
            parameters = dict(locals())
            self.transform = transform
            super().__init__(
                forward_min_event_ndims=transform.domain.event_dim,
                inverse_min_event_ndims=transform.codomain.event_dim,
                validate_args=False,
                parameters=parameters,
                name=name or type(transform).__name__,
            )

        @classmethod
        def _parameter_properties(cls, dtype, num_classes=None):
            return {}

        def _forward(self, x):
            return self.transform(x)

        def _inverse(self, y):
            return self.transform.inv(y)

        def _forward_log_det_jacobian(self, x):
            return self.transform.log_abs_det_jacobian(x, self.transform(x))

        def _inverse_log_det_jacobian(self, y):
            x = self.transform.inv(y)
            return -self.transform.log_abs_det_jacobian(x, y)

        def _forward_event_shape(self, input_shape):
            return _event_shape_map(self.transform.forward_shape, input_shape)

        def _inverse_event_shape(self, output_shape):
            return _event_shape_map(self.transform.inverse_shape, output_shape)

        def _forward_event_shape_tensor(self, input_shape):
            return self.transform.forward_shape(tuple(int(s) for s in input_shape))

        def _inverse_event_shape_tensor(self, output_shape):
            return self.transform.inverse_shape(tuple(int(s) for s in output_shape))

    return TransformBijector


def _event_shape_map(fn: Any, shape: Any) -> Any:
    tensor_shape = _tfp.tfp().tf2jax.TensorShape
    dims = getattr(shape, "dims", shape)
    if dims is None or any(getattr(d, "value", d) is None for d in dims):
        return tensor_shape(None)
    return tensor_shape(fn(tuple(int(getattr(d, "value", d)) for d in dims)))


def to_tfp_bijector(transform: Transform) -> Any:
    """A ppl transform as a TFP (JAX substrate) bijector.

    A :class:`BijectorTransform` gives back the bijector it wraps; any other
    transform is wrapped so that ``forward``/``inverse`` call it and
    ``forward_log_det_jacobian`` is its ``log_abs_det_jacobian``, with
    ``forward_min_event_ndims = transform.domain.event_dim`` and
    ``inverse_min_event_ndims = transform.codomain.event_dim``.

    Args:
        transform: a :class:`ppl.transforms.Transform`.

    Returns:
        A ``tfp.bijectors.Bijector`` usable anywhere TFP takes one (e.g.
        ``tfd.TransformedDistribution`` or ``tfp.mcmc.TransformedTransitionKernel``).
    """
    if isinstance(transform, BijectorTransform):
        return transform.bijector
    if not isinstance(transform, Transform):
        raise TypeError(
            f"to_tfp_bijector: transform must be a ppl.transforms.Transform, got "
            f"{type(transform).__module__}.{type(transform).__qualname__}"
        )
    return _transform_bijector_class()(transform)
