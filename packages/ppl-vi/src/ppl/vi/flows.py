r"""Normalizing-flow transforms driven by autoregressive networks.

Both transforms act on vectors (``domain = codomain = real_vector``) and are
parameterized by a network given as a function of the input, usually a
:func:`ppl.module` built from :mod:`ppl.vi.nn`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from ppl import constraints
from ppl.transforms import Transform

__all__ = ["BlockNeuralAutoregressiveTransform", "InverseAutoregressiveTransform"]


class InverseAutoregressiveTransform(Transform):
    r"""An inverse autoregressive flow (Kingma et al., 2016):

    .. math::

        y = \mu(x) + \sigma(x) \odot x, \qquad \log\left|\det J\right| = \sum_i \log \sigma_i(x),

    where :math:`(\mu, \log \sigma)` come from an autoregressive network, so
    :math:`\mu_i` and :math:`\sigma_i` depend on :math:`x_{<i}` only. Sampling
    and the Jacobian cost one network pass; the inverse needs :math:`D`.

    Args:
        autoregressive_nn: ``x -> (mean, log_scale)``, e.g. an
            :func:`~ppl.vi.nn.AutoregressiveNN` bound to its parameters.
        log_scale_min_clip, log_scale_max_clip: bounds on :math:`\log \sigma`.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector

    def __init__(
        self,
        autoregressive_nn: Callable,
        log_scale_min_clip: float = -5.0,
        log_scale_max_clip: float = 3.0,
    ) -> None:
        self.arn = autoregressive_nn
        self.log_scale_min_clip = log_scale_min_clip
        self.log_scale_max_clip = log_scale_max_clip

    def _mean_log_scale(self, x: Any) -> tuple[Any, Any]:
        mean, log_scale = self.arn(x)
        return mean, jnp.clip(log_scale, self.log_scale_min_clip, self.log_scale_max_clip)

    def __call__(self, x: Any) -> Any:
        return self.call_with_intermediates(x)[0]

    def call_with_intermediates(self, x: Any) -> tuple[Any, Any]:
        mean, log_scale = self._mean_log_scale(x)
        return jnp.exp(log_scale) * x + mean, log_scale

    def _inverse(self, y: Any) -> Any:
        # Coordinate i of x is exact after i + 1 passes, since it depends on x_{<i} only.
        x = jnp.zeros_like(y)
        for _ in range(jnp.shape(y)[-1]):
            mean, log_scale = self._mean_log_scale(x)
            x = (y - mean) * jnp.exp(-log_scale)
        return x

    def log_abs_det_jacobian(self, x: Any, y: Any, intermediates: Any = None) -> Any:
        log_scale = self._mean_log_scale(x)[1] if intermediates is None else intermediates
        return jnp.sum(log_scale, axis=-1)

    def tree_flatten(self) -> tuple:
        return (), (
            (),
            {
                "arn": self.arn,
                "log_scale_min_clip": self.log_scale_min_clip,
                "log_scale_max_clip": self.log_scale_max_clip,
            },
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, InverseAutoregressiveTransform)
            and self.arn is other.arn
            and self.log_scale_min_clip == other.log_scale_min_clip
            and self.log_scale_max_clip == other.log_scale_max_clip
        )

    __hash__ = Transform.__hash__


class BlockNeuralAutoregressiveTransform(Transform):
    r"""A block neural autoregressive flow (De Cao et al., 2019): :math:`y = f(x)` for a
    :func:`~ppl.vi.nn.BlockNeuralAutoregressiveNN` :math:`f`, monotone in each
    :math:`x_d` given :math:`x_{<d}`, with
    :math:`\log|\det J| = \sum_d \log |\partial y_d / \partial x_d|`.

    Its inverse has no closed form and is not provided.

    Args:
        bn_arn: ``x -> (y, log_det)``, a block neural autoregressive network
            bound to its parameters.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector

    def __init__(self, bn_arn: Callable) -> None:
        self.bn_arn = bn_arn

    def __call__(self, x: Any) -> Any:
        return self.call_with_intermediates(x)[0]

    def call_with_intermediates(self, x: Any) -> tuple[Any, Any]:
        return self.bn_arn(x)

    def _inverse(self, y: Any) -> Any:
        raise NotImplementedError(
            "BlockNeuralAutoregressiveTransform has no analytic inverse; sample through it "
            "forwards (its log density is available at sampled points)"
        )

    def log_abs_det_jacobian(self, x: Any, y: Any, intermediates: Any = None) -> Any:
        log_det = self.bn_arn(x)[1] if intermediates is None else intermediates
        return jnp.sum(log_det, axis=-1)

    def tree_flatten(self) -> tuple:
        return (), ((), {"bn_arn": self.bn_arn})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BlockNeuralAutoregressiveTransform) and self.bn_arn is other.bn_arn

    __hash__ = Transform.__hash__
