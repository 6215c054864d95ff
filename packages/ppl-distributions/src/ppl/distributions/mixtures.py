r"""Finite mixtures with the component index marginalized out.

.. math:: p(x) = \sum_{k=1}^{K} w_k\, p_k(x)

The weights :math:`w` come from a :class:`~ppl.distributions.Categorical`
(``mixing_distribution``). :class:`MixtureSameFamily` takes the components as
one distribution batched along its last batch dimension;
:class:`MixtureGeneral` takes a list of possibly different distributions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from ppl import constraints
from ppl.distributions.discrete import CategoricalLogits, CategoricalProbs
from ppl.distributions.distribution import Distribution
from ppl.distributions.util import validate_sample

__all__ = ["Mixture", "MixtureGeneral", "MixtureSameFamily"]


def Mixture(
    mixing_distribution: CategoricalProbs | CategoricalLogits,
    component_distributions: Distribution | Sequence[Distribution],
    *,
    validate_args: bool | None = None,
) -> MixtureSameFamily | MixtureGeneral:
    """A marginalized finite mixture.

    Args:
        mixing_distribution: a Categorical over the ``K`` components.
        component_distributions: either one distribution whose last batch dimension
            has size ``K`` (gives a :class:`MixtureSameFamily`) or a list of ``K``
            distributions (gives a :class:`MixtureGeneral`).
        validate_args: check the parameters.
    """
    if isinstance(component_distributions, Distribution):
        return MixtureSameFamily(
            mixing_distribution, component_distributions, validate_args=validate_args
        )
    return MixtureGeneral(mixing_distribution, component_distributions, validate_args=validate_args)


def _check_mixing_distribution(owner: str, mixing_distribution: Any) -> int:
    """The number of components of a valid mixing distribution."""
    if not isinstance(mixing_distribution, CategoricalProbs | CategoricalLogits):
        raise ValueError(
            f"{owner}: `mixing_distribution` must be a Categorical (CategoricalProbs or "
            f"CategoricalLogits), got {type(mixing_distribution).__name__}."
        )
    return jnp.shape(mixing_distribution._param)[-1]


class _MixtureBase(Distribution):
    """Shared logic; subclasses say how to reach the stacked components."""

    pytree_aux_fields = ("_mixture_size",)

    @property
    def mixture_size(self) -> int:
        """The number of components ``K``."""
        return self._mixture_size

    @property
    def mixing_distribution(self) -> CategoricalProbs | CategoricalLogits:
        """The Categorical over components."""
        return self._mixing_distribution

    @property
    def mixture_dim(self) -> int:
        """The axis (counted from the right) that indexes components in stacked arrays."""
        return -self.event_dim - 1

    def _log_weights(self) -> jax.Array:
        return jax.nn.log_softmax(self.mixing_distribution._normalized_logits(), axis=-1)

    def _weights_for_stacked(self) -> jax.Array:
        probs = jnp.exp(self._log_weights())
        return probs.reshape(probs.shape + (1,) * self.event_dim)

    # Subclass hooks: arrays with the component axis at ``mixture_dim``.
    @property
    def component_mean(self) -> jax.Array:
        raise NotImplementedError

    @property
    def component_variance(self) -> jax.Array:
        raise NotImplementedError

    def component_log_probs(self, value: Any) -> jax.Array:
        """Log weights plus component log densities, components on the last axis."""
        raise NotImplementedError

    def component_sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        raise NotImplementedError

    def component_cdf(self, value: Any) -> jax.Array:
        raise NotImplementedError

    @property
    def mean(self) -> jax.Array:
        r""":math:`\sum_k w_k \mu_k`."""
        return jnp.sum(self._weights_for_stacked() * self.component_mean, axis=self.mixture_dim)

    @property
    def variance(self) -> jax.Array:
        r"""Total variance: :math:`\sum_k w_k \sigma_k^2 + \sum_k w_k (\mu_k - \mu)^2`."""
        weights = self._weights_for_stacked()
        within = jnp.sum(weights * self.component_variance, axis=self.mixture_dim)
        deviation = self.component_mean - jnp.expand_dims(self.mean, self.mixture_dim)
        between = jnp.sum(weights * deviation**2, axis=self.mixture_dim)
        return within + between

    def cdf(self, value: Any) -> jax.Array:
        r""":math:`\sum_k w_k F_k(x)` (needs the components' ``cdf``)."""
        probs = jnp.exp(self._log_weights())
        return jnp.sum(self.component_cdf(value) * probs, axis=-1)

    def sample_with_intermediates(
        self, key: jax.Array, sample_shape: tuple[int, ...] = ()
    ) -> tuple[jax.Array, list[jax.Array]]:
        """Samples and, as intermediates, the indices of the components they came from."""
        key_components, key_index = jax.random.split(key)
        samples = self.component_sample(key_components, tuple(sample_shape))
        indices = self.mixing_distribution.expand(tuple(sample_shape) + self.batch_shape).sample(
            key_index
        )
        index = indices.reshape(indices.shape + (1,) * (self.event_dim + 1))
        chosen = jnp.take_along_axis(samples, index, axis=self.mixture_dim)
        return jnp.squeeze(chosen, axis=self.mixture_dim), [indices]

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        return self.sample_with_intermediates(key, sample_shape)[0]

    @validate_sample
    def log_prob(self, value: Any, intermediates: Any = None) -> jax.Array:
        del intermediates
        return jax.nn.logsumexp(self.component_log_probs(value), axis=-1)


class MixtureSameFamily(_MixtureBase):
    """Mixture of components of one family, batched along the last batch dimension.

    Args:
        mixing_distribution: a Categorical over ``K`` components.
        component_distribution: a distribution with ``batch_shape[-1] == K``.
        validate_args: check the parameters.

    Example:
        >>> mix = MixtureSameFamily(Categorical(probs=jnp.ones(3) / 3),
        ...                         Normal(jnp.arange(3.0), 1.0))
    """

    pytree_data_fields = ("_mixing_distribution", "_component_distribution")

    def __init__(
        self,
        mixing_distribution: CategoricalProbs | CategoricalLogits,
        component_distribution: Distribution,
        *,
        validate_args: bool | None = None,
    ) -> None:
        mixture_size = _check_mixing_distribution("MixtureSameFamily", mixing_distribution)
        if not isinstance(component_distribution, Distribution):
            raise ValueError(
                "MixtureSameFamily: `component_distribution` must be a Distribution, got "
                f"{type(component_distribution).__name__}."
            )
        batch = component_distribution.batch_shape
        if not batch or batch[-1] != mixture_size:
            raise ValueError(
                "MixtureSameFamily: the last batch dimension of `component_distribution` "
                f"(batch_shape {batch}) must equal the mixture size {mixture_size}."
            )
        self._mixing_distribution = mixing_distribution
        self._component_distribution = component_distribution
        self._mixture_size = mixture_size
        batch_shape = lax.broadcast_shapes(mixing_distribution.batch_shape, batch[:-1])
        super().__init__(
            batch_shape, component_distribution.event_shape, validate_args=validate_args
        )

    @property
    def component_distribution(self) -> Distribution:
        """The batched component distribution."""
        return self._component_distribution

    @constraints.dependent_property
    def support(self) -> constraints.Constraint:
        return self.component_distribution.support

    @property
    def is_discrete(self) -> bool:
        return self.component_distribution.is_discrete

    @property
    def component_mean(self) -> jax.Array:
        return self.component_distribution.mean

    @property
    def component_variance(self) -> jax.Array:
        return self.component_distribution.variance

    def component_cdf(self, value: Any) -> jax.Array:
        return self.component_distribution.cdf(jnp.expand_dims(value, self.mixture_dim))

    def component_sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        shape = tuple(sample_shape) + self.batch_shape + (self.mixture_size,)
        return self.component_distribution.expand(shape).sample(key)

    def component_log_probs(self, value: Any) -> jax.Array:
        value = jnp.expand_dims(value, self.mixture_dim)
        return self._log_weights() + self.component_distribution.log_prob(value)


class MixtureGeneral(_MixtureBase):
    """Mixture of a list of components, possibly from different families.

    Args:
        mixing_distribution: a Categorical over ``K`` components.
        component_distributions: ``K`` distributions with equal event shapes.
        support: the mixture's support. Without it, all components must have supports
            of one type; with it, each component's density is set to zero outside its
            own support (unless that component validates its values itself).
        validate_args: check the parameters.
    """

    pytree_data_fields = ("_mixing_distribution", "_component_distributions", "_support")

    def __init__(
        self,
        mixing_distribution: CategoricalProbs | CategoricalLogits,
        component_distributions: Sequence[Distribution],
        *,
        support: constraints.Constraint | None = None,
        validate_args: bool | None = None,
    ) -> None:
        mixture_size = _check_mixing_distribution("MixtureGeneral", mixing_distribution)
        try:
            components = list(component_distributions)
        except TypeError as error:
            raise ValueError(
                "MixtureGeneral: `component_distributions` must be a list of Distributions, got "
                f"{type(component_distributions).__name__}."
            ) from error
        for d in components:
            if not isinstance(d, Distribution):
                raise ValueError(
                    "MixtureGeneral: every element of `component_distributions` must be a "
                    f"Distribution, got {type(d).__name__}."
                )
        if len(components) != mixture_size:
            raise ValueError(
                f"MixtureGeneral: expected {mixture_size} component distributions (the "
                f"mixture size), got {len(components)}."
            )
        if support is None:
            kind = type(components[0].support)
            if any(type(d.support) is not kind for d in components[1:]):
                raise ValueError(
                    "MixtureGeneral: all component distributions must have the same support "
                    "type; pass `support=` to mix components with different supports."
                )
        elif not isinstance(support, constraints.Constraint):
            raise ValueError(
                f"MixtureGeneral: `support` must be a Constraint, got {type(support).__name__}."
            )
        event_shape = components[0].event_shape
        if any(d.event_shape != event_shape for d in components[1:]):
            raise ValueError(
                "MixtureGeneral: all component distributions must have the same event shape, "
                f"got {[d.event_shape for d in components]}."
            )
        self._mixing_distribution = mixing_distribution
        self._component_distributions = components
        self._support = support
        self._mixture_size = mixture_size
        batch_shape = lax.broadcast_shapes(
            mixing_distribution.batch_shape, *(d.batch_shape for d in components)
        )
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    @property
    def component_distributions(self) -> list[Distribution]:
        """The list of component distributions."""
        return self._component_distributions

    @constraints.dependent_property
    def support(self) -> constraints.Constraint:
        if self._support is not None:
            return self._support
        return self.component_distributions[0].support

    @property
    def is_discrete(self) -> bool:
        return self.component_distributions[0].is_discrete

    def _stack(self, values: list[jax.Array]) -> jax.Array:
        shape = self.batch_shape + self.event_shape
        return jnp.stack([jnp.broadcast_to(v, shape) for v in values], axis=self.mixture_dim)

    @property
    def component_mean(self) -> jax.Array:
        return self._stack([d.mean for d in self.component_distributions])

    @property
    def component_variance(self) -> jax.Array:
        return self._stack([d.variance for d in self.component_distributions])

    def component_cdf(self, value: Any) -> jax.Array:
        return jnp.stack([d.cdf(value) for d in self.component_distributions], axis=-1)

    def component_sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        keys = jax.random.split(key, self.mixture_size)
        shape = tuple(sample_shape) + self.batch_shape
        draws = [
            d.expand(shape).sample(k)
            for k, d in zip(keys, self.component_distributions, strict=True)
        ]
        return jnp.stack(draws, axis=self.mixture_dim)

    def component_log_probs(self, value: Any) -> jax.Array:
        log_probs = []
        for d in self.component_distributions:
            log_prob = d.log_prob(value)
            if self._support is not None and not d._validate_args:
                log_prob = jnp.where(d.support(value), log_prob, -jnp.inf)
            log_probs.append(log_prob)
        return self._log_weights() + jnp.stack(jnp.broadcast_arrays(*log_probs), axis=-1)
