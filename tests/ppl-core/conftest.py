"""Small distributions that follow ppl's distribution protocol.

ppl-core's tests must run with ppl-core alone installed, so they cannot use
ppl.distributions; these few classes are all the protocol needs.
"""

from __future__ import annotations

import types

import jax
import jax.numpy as jnp
import pytest
from jax.scipy import stats

from ppl import constraints


class _CoercingMeta(type):
    """Lets handlers such as collapse intercept construction, as ppl.distributions does."""

    def __call__(cls, *args, **kwargs):
        from ppl.primitives import coerce_distribution

        coerced = coerce_distribution(cls, args, kwargs)
        return coerced if coerced is not None else super().__call__(*args, **kwargs)


class _Simple(metaclass=_CoercingMeta):
    event_shape: tuple = ()
    is_discrete = False
    has_enumerate_support = False
    has_rsample = True

    def __init__(self, **params):
        arrays = {k: jnp.asarray(v, dtype=float) for k, v in params.items()}
        self.batch_shape = jax.lax.broadcast_shapes(*(jnp.shape(v) for v in arrays.values()))
        for key, value in arrays.items():
            setattr(self, key, jnp.broadcast_to(value, self.batch_shape))
        self._params = list(arrays)

    @property
    def event_dim(self):
        return len(self.event_shape)

    def shape(self, sample_shape=()):
        return tuple(sample_shape) + self.batch_shape + self.event_shape

    def expand(self, batch_shape):
        return type(self)(
            **{k: jnp.broadcast_to(getattr(self, k), batch_shape) for k in self._params}
        )

    def __repr__(self):
        return f"{type(self).__name__}{self.batch_shape}"


class SimpleNormal(_Simple):
    support = constraints.real

    def __init__(self, loc=0.0, scale=1.0):
        super().__init__(loc=loc, scale=scale)

    def sample(self, key, sample_shape=()):
        return self.loc + self.scale * jax.random.normal(key, self.shape(sample_shape))

    def log_prob(self, value):
        return stats.norm.logpdf(value, self.loc, self.scale)

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        return self.scale**2


class SimpleExponential(_Simple):
    support = constraints.positive

    def __init__(self, rate=1.0):
        super().__init__(rate=rate)

    def sample(self, key, sample_shape=()):
        return jax.random.exponential(key, self.shape(sample_shape)) / self.rate

    def log_prob(self, value):
        return jnp.where(value >= 0, jnp.log(self.rate) - self.rate * value, -jnp.inf)

    @property
    def mean(self):
        return 1.0 / self.rate


class SimpleBernoulli(_Simple):
    support = constraints.boolean
    is_discrete = True
    has_rsample = False

    def __init__(self, probs=0.5):
        super().__init__(probs=probs)

    def sample(self, key, sample_shape=()):
        return jax.random.bernoulli(key, self.probs, self.shape(sample_shape)).astype(jnp.int32)

    def log_prob(self, value):
        return jnp.where(value == 1, jnp.log(self.probs), jnp.log1p(-self.probs))


@pytest.fixture
def dist():
    """The test distributions, as ``dist.Normal``, ``dist.Exponential``, ``dist.Bernoulli``."""
    return types.SimpleNamespace(
        Normal=SimpleNormal, Exponential=SimpleExponential, Bernoulli=SimpleBernoulli
    )
