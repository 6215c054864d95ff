"""Shared models for the ppl-vi tests: small conjugate models with closed-form posteriors."""

import types

import jax.numpy as jnp
import numpy as np
import pytest

import ppl
import ppl.distributions as dist

#: data of the conjugate normal model (known noise scale 1, prior N(0, PRIOR_SCALE^2))
DATA = jnp.array([0.5, 1.2, -0.3, 2.0, 0.9, 1.4])
PRIOR_SCALE = 2.0


def normal_model(data):
    mu = ppl.sample("mu", dist.Normal(0.0, PRIOR_SCALE))
    with ppl.plate("N", data.shape[0]):
        ppl.sample("obs", dist.Normal(mu, 1.0), obs=data)


def normal_posterior(data=DATA):
    """The exact posterior of ``mu`` in :func:`normal_model`: (mean, sd)."""
    precision = 1.0 / PRIOR_SCALE**2 + len(data)
    return float(np.sum(data) / precision), float(precision**-0.5)


def normal_guide(data):
    loc = ppl.param("loc", 0.3)
    scale = ppl.param("scale", 0.7, constraint=ppl.constraints.positive)
    ppl.sample("mu", dist.Normal(loc, scale))


@pytest.fixture
def conjugate():
    """``(model, guide, data)`` of the conjugate normal model."""
    return normal_model, normal_guide, DATA


@pytest.fixture
def normal():
    """The conjugate normal model, a guide for it, its data and exact posterior."""
    return types.SimpleNamespace(
        model=normal_model, guide=normal_guide, data=DATA, posterior=normal_posterior()
    )
