"""Re-initializing an HMC-family kernel, as every warm re-run of MCMC does.

The initial-point search is compiled once per argument structure and reused:
re-initializing on the same arguments neither traces the model eagerly nor
compiles anything, and the same keys give the same initial state.
"""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import ppl
import ppl.distributions as dist
import ppl.infer.util as infer_util
from ppl.mcmc import NUTS


def location_model(y):
    mu = ppl.sample("mu", dist.Normal(0.0, 3.0))
    with ppl.plate("n", y.shape[0]):
        ppl.sample("y", dist.Normal(mu, 1.0), obs=y)


def walled_model():
    # Only x > 0 has a finite density: half of the uniform(-2, 2) draws are redrawn.
    x = ppl.sample("x", dist.Normal(0.0, 1.0))
    ppl.factor("wall", jnp.where(x > 0.0, 0.0, -jnp.inf))


def test_reinit_with_the_same_key_is_identical_without_compiling_or_eager_tracing(
    compile_counter, monkeypatch
):
    y = np.random.default_rng(0).normal(1.0, 1.0, size=10).astype(np.float32)
    kernel = NUTS(location_model)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    first = kernel.init(keys, 10, model_args=(y,))
    second = kernel.init(keys, 10, model_args=(y,))

    hmc_module = importlib.import_module("ppl.mcmc.hmc")
    calls = []
    eager = infer_util.initialize_model
    monkeypatch.setattr(
        hmc_module,
        "initialize_model",
        lambda *args, **kwargs: calls.append(kwargs) or eager(*args, **kwargs),
    )
    compile_counter.reset()
    again = kernel.init(keys, 10, model_args=(y,))
    assert compile_counter.count == 0
    assert calls == []
    for a, b in zip(jax.tree.leaves(second), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)
    mu = np.asarray(first.z["mu"])
    assert mu[0] != mu[1]
    # U(mu) = -log p(mu, y) at the initial points, from scipy.
    expected = -(stats.norm.logpdf(mu, 0.0, 3.0) + stats.norm.logpdf(y[None], mu[:, None]).sum(1))
    np.testing.assert_allclose(first.potential_energy, expected, rtol=1e-5)

    # New data of the same shape: the model is traced again, the search is not recompiled.
    other = kernel.init(keys, 10, model_args=(y + 5.0,))
    assert len(calls) == 1
    np.testing.assert_array_equal(other.z["mu"], first.z["mu"])
    expected = -(
        stats.norm.logpdf(mu, 0.0, 3.0) + stats.norm.logpdf(y[None] + 5.0, mu[:, None]).sum(1)
    )
    np.testing.assert_allclose(other.potential_energy, expected, rtol=1e-5)


@pytest.mark.slow
def test_draws_with_an_infinite_density_are_redrawn(monkeypatch):
    kernel = NUTS(walled_model)
    eager_searches = []
    eager = type(kernel)._init_model_eagerly
    monkeypatch.setattr(
        kernel,
        "_init_model_eagerly",
        lambda *a, **k: eager_searches.append(1) or eager(kernel, *a, **k),
    )
    keys = jax.random.split(jax.random.PRNGKey(3), 3)
    for run in range(2):  # the second init takes the cached, compiled search
        state = kernel.init(keys, 10)
        # These keys' first draws are not all valid: the eager search redrew them.
        assert len(eager_searches) == run + 1
        x = np.asarray(state.z["x"])
        assert np.all(x > 0.0)
        # U(x) = -log N(x; 0, 1) and dU/dx = x on the finite side of the wall.
        np.testing.assert_allclose(
            state.potential_energy, -stats.norm.logpdf(x), rtol=1e-5, atol=1e-5
        )
        np.testing.assert_allclose(state.z_grad["x"], x, rtol=1e-5)
    assert any(key[0] == "search" for key in kernel._init_fns)  # compiled once, kept


def test_no_valid_initial_point_is_reported_by_site():
    def hopeless():
        x = ppl.sample("x", dist.Normal(0.0, 1.0))
        ppl.factor("nowhere", -jnp.inf * jnp.ones_like(x))

    with pytest.raises(RuntimeError, match="Cannot find valid initial parameters"):
        NUTS(hopeless).init(jax.random.split(jax.random.PRNGKey(0), 2), 10)
