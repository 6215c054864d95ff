"""The first run of a new model compiles only the sampler's own programs.

The model's structure is read from an abstract trace (nothing runs op by op),
keys are split inside the compiled programs, and NUTS's nested loops start
their carries batched under vmap; the sampling loop is traced while the
initial state compiles. Supports that depend on a draw are constrained by
replaying the model.
"""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ppl
import ppl.distributions as dist
from ppl import compilation
from ppl.mcmc import MCMC, NUTS, BarkerMH
from ppl.mcmc.util import varying_with


def two_vectorized_chains(kernel, num_warmup, num_samples):
    return MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=2,
        chain_method="vectorized",
        progress_bar=False,
    )


def odd_shaped_model(y):
    # Shapes used by no other test, so that no eager op is compiled already.
    scale = ppl.sample("scale", dist.HalfNormal(2.0))
    with ppl.plate("groups", 5):
        loc = ppl.sample("loc", dist.Normal(0.0, 3.0))
    with ppl.plate("data", 13):
        ppl.sample("y", dist.Normal(loc.sum() / 5.0, scale), obs=y)


@pytest.mark.slow
def test_first_run_compiles_only_the_sampler_programs(compile_counter, monkeypatch):
    hmc_module = importlib.import_module("ppl.mcmc.hmc")
    eager_calls = []
    eager = hmc_module.HMC._init_model_eagerly
    monkeypatch.setattr(
        hmc_module.HMC,
        "_init_model_eagerly",
        lambda self, *a, **k: eager_calls.append(a) or eager(self, *a, **k),
    )
    y = np.random.default_rng(1).normal(0.5, 1.5, size=13).astype(np.float32)
    mcmc = two_vectorized_chains(NUTS(odd_shaped_model), 30, 20)
    for role in ("setup", "loop"):
        compilation.compile_options(role)  # probed once per process
    key = jax.random.PRNGKey(0)
    compile_counter.reset()
    mcmc.run(key, y)
    # The chain keys, the initial-point search with the initial state built on it,
    # and the sampling loop. An eager model trace would add dozens.
    # (The chain-key split may be compiled already by another test.) The loop is
    # traced while the initial state compiles, and neither is compiled twice.
    assert [n for n in compile_counter.names if n != "jit(split)"] == [
        "jit(search_init)",
        "jit(chain_loop)",
    ]
    samples = mcmc.get_samples(group_by_chain=True)
    compile_counter.reset()
    flat = mcmc.get_samples()
    assert compile_counter.count <= 1  # the chain axes merged, all sites in one program
    np.testing.assert_array_equal(flat["loc"], np.reshape(samples["loc"], (40, 5)))
    assert eager_calls == []
    assert samples["loc"].shape == (2, 20, 5)
    assert np.all(np.asarray(samples["scale"]) > 0)


def dependent_support_model():
    upper = ppl.sample("upper", dist.Exponential(1.0))
    ppl.sample("x", dist.Uniform(0.0, upper))


@pytest.mark.slow
def test_support_that_depends_on_a_draw_constrains_each_draw_by_its_own():
    mcmc = two_vectorized_chains(NUTS(dependent_support_model), 100, 200)
    mcmc.run(jax.random.PRNGKey(2))
    samples = mcmc.get_samples()
    upper, x = np.asarray(samples["upper"]), np.asarray(samples["x"])
    assert mcmc.sampler._model_setup is not None  # no eager fallback
    # Constrained with each draw's own upper bound, not the first run's.
    assert np.all((x > 0.0) & (x < upper))
    assert len(np.unique(upper)) > 50
    constrain = mcmc.sampler.get_constrain_fn((), {})
    u = {"upper": jnp.float32(0.5), "x": jnp.float32(-1.0)}
    np.testing.assert_allclose(constrain(u)["x"], np.exp(0.5) / (1.0 + np.exp(1.0)), rtol=1e-5)


def test_varying_with_keeps_values_and_batches_them():
    carry = (jnp.zeros((), jnp.int32), jnp.ones(3), jnp.zeros((), bool))
    same = varying_with(jnp.float32(1.5), carry)
    for a, b in zip(jax.tree.leaves(carry), jax.tree.leaves(same), strict=True):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    batched = jax.vmap(lambda ref: varying_with(ref, carry))(jnp.arange(4.0))
    assert [leaf.shape for leaf in batched] == [(4,), (4, 3), (4,)]
    # Even a NaN reference leaves the values alone.
    nan_ref = varying_with(jnp.float32(jnp.nan), carry)
    np.testing.assert_array_equal(nan_ref[1], np.ones(3))


def centered_on_the_data(y):
    # Reads its data on the host, as NumPyro allows without jit_model_args.
    center = float(np.mean(y))
    mu = ppl.sample("mu", dist.Normal(center, 1.0))
    with ppl.plate("data", y.shape[0]):
        ppl.sample("y", dist.Normal(mu, 1.0), obs=y)


@pytest.mark.parametrize("kernel", [pytest.param(NUTS, marks=pytest.mark.slow), BarkerMH])
def test_models_that_read_their_data_on_the_host_sample_their_posterior(kernel, gaussian_moments):
    y = np.random.default_rng(4).normal(1.0, 1.0, size=20).astype(np.float32)
    # mu ~ N(mean(y), 1), y_i ~ N(mu, 1): posterior N((mean(y) + sum(y)) / 21, 1 / 21).
    post_mean, post_var = float((y.mean() + y.sum()) / 21.0), 1.0 / 21.0
    mcmc = two_vectorized_chains(kernel(centered_on_the_data), 300, 600)
    for seed in (0, 1):  # the second run takes the kept programs
        mcmc.run(jax.random.PRNGKey(seed), y)
        draws = mcmc.get_samples(group_by_chain=True)["mu"]
        gaussian_moments(draws, post_mean, post_var)
    assert mcmc.sampler._reads_args_on_host


@pytest.mark.slow
def test_tracing_the_loop_during_the_initial_compile_changes_no_draw(monkeypatch):
    y = np.random.default_rng(2).normal(0.5, 1.5, size=13).astype(np.float32)
    staged = two_vectorized_chains(NUTS(odd_shaped_model), 25, 15)
    staged.run(jax.random.PRNGKey(4), y)
    hmc_module = importlib.import_module("ppl.mcmc.hmc")
    monkeypatch.setattr(hmc_module.HMC, "_stage_init", lambda self, *a: None)
    plain = two_vectorized_chains(NUTS(odd_shaped_model), 25, 15)
    plain.run(jax.random.PRNGKey(4), y)
    for name, draws in staged.get_samples().items():
        np.testing.assert_array_equal(draws, plain.get_samples()[name])
