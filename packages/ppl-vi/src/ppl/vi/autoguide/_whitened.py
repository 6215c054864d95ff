r"""A multivariate Normal that scores its own draws without a triangular solve.

A reparameterized draw :math:`z = \mu + L\varepsilon`, :math:`\varepsilon \sim
\mathcal{N}(0, I)`, has

.. math::

    \log q(z) = -\tfrac12 \lVert\varepsilon\rVert^2 - \sum_i \log L_{ii}
    - \tfrac{n}{2}\log 2\pi,

because :math:`L^{-1}(z - \mu) = \varepsilon` identically in :math:`(\mu, L)`.
The value and its total derivative in :math:`(\mu, L)` are those of the usual
density (the path through :math:`z` and the explicit dependence cancel in the
quadratic term), so the ELBO and its gradient are unchanged while the
:math:`O(n^2)` solve and its backward pass disappear. The white noise travels
as the site's ``intermediates``; a value given from outside (``substitute``,
``condition``) carries none and is scored by the ordinary density.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from ppl.distributions import MultivariateNormal

__all__ = ["WhitenedMultivariateNormal"]

_LOG_2PI = math.log(2 * math.pi)


class WhitenedMultivariateNormal(MultivariateNormal):
    """:class:`~ppl.distributions.MultivariateNormal` whose draws record their white noise
    :math:`\\varepsilon` as intermediates, which :meth:`log_prob` then uses in place of
    :math:`L^{-1}(z - \\mu)`."""

    def sample_with_intermediates(
        self, key: jax.Array, sample_shape: tuple = ()
    ) -> tuple[jax.Array, list[Any]]:
        # The same draw as MultivariateNormal.sample (same key, shape and dtype).
        dtype = jnp.result_type(self.loc, self.scale_tril, float)
        eps = jax.random.normal(key, self.shape(sample_shape), dtype)
        value = self.loc + jnp.matmul(self.scale_tril, eps[..., None])[..., 0]
        return value, [eps]

    def sample(self, key: jax.Array, sample_shape: tuple = ()) -> jax.Array:
        return self.sample_with_intermediates(key, sample_shape)[0]

    def log_prob(self, value: Any, intermediates: list | None = None) -> Any:
        if not intermediates:
            return super().log_prob(value)
        (eps,) = intermediates
        n = self.event_shape[0]
        half_log_det = jnp.sum(jnp.log(jnp.diagonal(self.scale_tril, axis1=-2, axis2=-1)), axis=-1)
        return -0.5 * (jnp.sum(eps**2, axis=-1) + n * _LOG_2PI) - half_log_det
