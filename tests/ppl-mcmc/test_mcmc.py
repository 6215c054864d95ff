"""The MCMC driver: chain methods, compiled-loop reuse, continuation, collection, errors."""

import json
import os
import pickle
import subprocess
import sys
import textwrap
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ppl.mcmc import MCMC, NUTS, MCMCKernel

# Equal sizes let warmup and sampling runs share one compiled loop.
WARMUP = SAMPLES = 250


def conjugate_potential(y):
    y = jnp.asarray(y)

    def potential(z):
        return 0.5 * z["mu"] ** 2 + 0.5 * jnp.sum((y - z["mu"]) ** 2) / 4.0

    return potential


@pytest.fixture(scope="module")
def kernel(normal_normal):
    """One NUTS kernel for the module: MCMC objects sharing it share compiled loops."""
    return NUTS(potential_fn=conjugate_potential(normal_normal["y"]))


def make_mcmc(kernel, num_chains=1, **options):
    options = {"num_warmup": WARMUP, "num_samples": SAMPLES, "progress_bar": False, **options}
    return MCMC(kernel, num_chains=num_chains, **options)


def init_for(num_chains):
    return {"mu": jnp.zeros(num_chains) if num_chains > 1 else jnp.zeros(())}


@pytest.mark.slow
def test_chain_methods_agree(kernel, normal_normal, gaussian_moments, capsys):
    runs = {}
    for method in ("sequential", "vectorized", jax.vmap):
        mcmc = make_mcmc(kernel, num_chains=2, chain_method=method)
        mcmc.run(jax.random.PRNGKey(0), init_params=init_for(2))
        runs[method] = mcmc
        draws = mcmc.get_samples(group_by_chain=True)["mu"]
        assert draws.shape == (2, SAMPLES)
        assert mcmc.last_state.z["mu"].shape == (2,)
        gaussian_moments(draws, normal_normal["mean"], normal_normal["var"])
    if jax.default_backend() == "cpu":
        # Same keys, same algorithm, and on CPU the batched arithmetic rounds like the
        # unbatched one: the chains start out identical. (On GPUs rounding differs and
        # a single different accept decision during warmup sends chains apart.)
        reference = runs["sequential"].get_samples(group_by_chain=True)["mu"]
        for method in ("vectorized", jax.vmap):
            draws = runs[method].get_samples(group_by_chain=True)["mu"]
            np.testing.assert_allclose(draws[:, :10], reference[:, :10], rtol=1e-3, atol=1e-4)

    runs["sequential"].print_summary(prob=0.5)
    out = capsys.readouterr().out.strip("\n").splitlines()
    assert out[0].split() == ["mean", "std", "median", "25.0%", "75.0%", "n_eff", "r_hat"]
    assert out[1].split()[0] == "mu" and len(out[1].split()) == 8
    assert out[-1] == "Number of divergences: 0"


def test_parallel_falls_back_to_sequential_with_a_warning(kernel):
    with pytest.warns(UserWarning, match="not enough devices"):
        mcmc = make_mcmc(kernel, num_chains=jax.local_device_count() + 1)
    assert mcmc.chain_method == "sequential"


_PARALLEL_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, warnings
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    os.environ["JAX_PLATFORMS"] = "cpu"  # host devices, also on a machine with a GPU
    os.environ.pop("CI", None)
    import jax, jax.numpy as jnp, numpy as np
    warnings.simplefilter("error")
    from ppl.mcmc import MCMC, NUTS

    y = jnp.asarray(json.loads(sys.argv[1]), jnp.float32)

    def potential(z):
        return 0.5 * z["mu"] ** 2 + 0.5 * jnp.sum((y - z["mu"]) ** 2) / 4.0

    mcmc = MCMC(NUTS(potential_fn=potential), num_warmup=250, num_samples=250, num_chains=4,
                chain_method="parallel", progress_bar=False)
    assert mcmc.chain_method == "parallel"
    mcmc.run(jax.random.PRNGKey(0), init_params={"mu": jnp.zeros(4)})
    print(json.dumps({
        "devices": jax.local_device_count(),
        "samples": np.asarray(mcmc.get_samples(group_by_chain=True)["mu"]).tolist(),
        "state_devices": len(mcmc.last_state.z["mu"].sharding.device_set),
    }))
    """
)


@pytest.mark.slow
def test_parallel_chains_shard_over_host_devices(kernel, normal_normal, gaussian_moments):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    result = subprocess.run(
        [sys.executable, "-c", _PARALLEL_SCRIPT, json.dumps(normal_normal["y"].tolist())],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["devices"] == 4
    assert out["state_devices"] == 4  # the last state lives sharded over the mesh
    parallel = np.array(out["samples"])
    assert parallel.shape == (4, SAMPLES)
    # The reference runs on the CPU too (the default device may be a GPU).
    with jax.default_device(jax.devices("cpu")[0]):
        mcmc = make_mcmc(kernel, num_chains=4, chain_method="sequential")
        mcmc.run(jax.random.PRNGKey(0), init_params=init_for(4))
        sequential = np.asarray(mcmc.get_samples(group_by_chain=True)["mu"])
    gaussian_moments(parallel, normal_normal["mean"], normal_normal["var"])
    gaussian_moments(sequential, normal_normal["mean"], normal_normal["var"])
    # Same keys, same algorithm: chain c follows the same path in both. Rounding that
    # differs between sharded and sequential programs (or between CPUs) can flip one
    # trajectory decision over the warmup and send a chain elsewhere, so half the
    # chains must match; chains given the wrong keys would match none.
    same_path = np.all(np.isclose(parallel[:, :5], sequential[:, :5], rtol=0.05, atol=1e-3), 1)
    assert same_path.sum() >= 2, (parallel[:, :5], sequential[:, :5])


@pytest.mark.slow
def test_rerun_reuses_compilation_and_continues_from_last_state(normal_normal, compile_counter):
    traces = []
    base = conjugate_potential(normal_normal["y"])

    def potential(z):
        traces.append(1)  # runs only when JAX traces the function
        return base(z)

    kernel = NUTS(potential_fn=potential)
    mcmc = make_mcmc(kernel)
    mcmc.run(jax.random.PRNGKey(0), init_params=init_for(1))
    first = mcmc.get_samples()["mu"]
    num_traces = len(traces)
    assert num_traces > 0

    compile_counter.reset()
    mcmc.run(jax.random.PRNGKey(1), init_params=init_for(1))
    assert len(traces) == num_traces and compile_counter.count == 0
    second = mcmc.get_samples()["mu"]
    assert not np.allclose(first, second)

    # A new MCMC object with the same kernel reuses the compiled loop too.
    other = make_mcmc(kernel)
    other.run(jax.random.PRNGKey(2), init_params=init_for(1))
    assert len(traces) == num_traces and compile_counter.count == 0

    # Continue sampling from where the last run stopped: no warmup, no recompilation.
    step_size = float(mcmc.last_state.adapt_state.step_size)
    mcmc.post_warmup_state = mcmc.last_state
    mcmc.run(mcmc.post_warmup_state.rng_key)
    assert len(traces) == num_traces and compile_counter.count == 0
    assert int(mcmc.last_state.i) == WARMUP + 2 * SAMPLES
    assert float(mcmc.last_state.adapt_state.step_size) == step_size
    third = mcmc.get_samples()["mu"]
    assert third.shape == (SAMPLES,)
    # The continuation starts from the last state, not from scratch: its first draw is one
    # transition away, and the draws still follow the posterior.
    sd = np.sqrt(normal_normal["var"])
    assert abs(float(third[0]) - float(second[-1])) < 5 * sd
    assert abs(float(np.mean(third)) - normal_normal["mean"]) < 0.5 * sd


def test_warmup_then_run(kernel):
    mcmc = make_mcmc(kernel, num_warmup=SAMPLES)  # equal sizes share the compiled loop
    mcmc.warmup(jax.random.PRNGKey(0), init_params=init_for(1), collect_warmup=True)
    assert mcmc.get_samples()["mu"].shape == (SAMPLES,)
    assert int(mcmc.post_warmup_state.i) == SAMPLES
    mcmc.run(jax.random.PRNGKey(1))
    assert mcmc.get_samples()["mu"].shape == (SAMPLES,)
    assert int(mcmc.last_state.i) == 2 * SAMPLES
    # warmup without collecting keeps nothing
    mcmc.warmup(jax.random.PRNGKey(2), init_params=init_for(1))
    assert mcmc.get_samples()["mu"].shape == (0,)


@pytest.mark.slow
def test_thinning_keeps_every_kth_draw_ending_with_the_last(kernel):
    full = make_mcmc(kernel, num_samples=12)
    full.run(jax.random.PRNGKey(5), init_params=init_for(1))
    thinned = make_mcmc(kernel, num_samples=12, thinning=3)
    thinned.run(jax.random.PRNGKey(5), init_params=init_for(1))
    expected = full.get_samples()["mu"][2::3]
    np.testing.assert_allclose(thinned.get_samples()["mu"], expected, rtol=1e-6)
    np.testing.assert_allclose(thinned.last_state.z["mu"], full.last_state.z["mu"], rtol=1e-6)


@pytest.mark.slow
def test_extra_fields_dotted_names_and_excluded_sites():
    def potential(z):
        return 0.5 * jnp.sum(z["a"] ** 2) + 0.5 * z["b"] ** 2

    mcmc = make_mcmc(NUTS(potential_fn=potential), num_chains=2, chain_method="vectorized")
    init = {"a": jnp.zeros((2, 3)), "b": jnp.zeros(2)}
    mcmc.run(
        jax.random.PRNGKey(0),
        init_params=init,
        extra_fields=("num_steps", "adapt_state.step_size", "~z.b"),
    )
    assert set(mcmc.get_samples()) == {"a"}
    assert mcmc.get_samples()["a"].shape == (2 * SAMPLES, 3)
    extra = mcmc.get_extra_fields(group_by_chain=True)
    assert set(extra) == {"diverging", "num_steps", "adapt_state.step_size"}
    assert extra["num_steps"].shape == (2, SAMPLES)
    # After warmup the step size is frozen.
    assert np.all(extra["adapt_state.step_size"] == extra["adapt_state.step_size"][:, :1])
    assert mcmc.last_state.z["b"].shape == (2,)  # excluded from collection only
    with pytest.raises(ValueError, match="no_such_field"):
        mcmc.run(jax.random.PRNGKey(0), init_params=init, extra_fields=("no_such_field",))
    with pytest.raises(ValueError, match=r"\['c'\]"):
        mcmc.run(jax.random.PRNGKey(0), init_params=init, extra_fields=("~z.c",))


def test_progress_bar_reports_step_size_and_divergences(kernel, monkeypatch, capsys):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    mcmc = make_mcmc(kernel, progress_bar=True)
    assert mcmc.progress_bar
    mcmc.run(jax.random.PRNGKey(0), init_params=init_for(1))
    err = capsys.readouterr().err
    assert "steps of size" in err and "divergences" in err
    assert f"{WARMUP + SAMPLES}/{WARMUP + SAMPLES}" in err
    assert "sample" in err


class MHState(NamedTuple):
    u: jax.Array
    rng_key: jax.Array


class RandomWalkMetropolis(MCMCKernel):
    """A user-defined kernel, written against the MCMCKernel interface only."""

    sample_field = "u"

    def __init__(self, potential_fn, step_size=1.0):
        self.potential_fn = potential_fn
        self.step_size = step_size

    def init(self, rng_key, num_warmup, init_params, model_args, model_kwargs):
        return MHState(init_params, rng_key)

    def sample(self, state, model_args, model_kwargs):
        u, rng_key = state
        rng_key, key_proposal, key_accept = jax.random.split(rng_key, 3)
        proposal = u + self.step_size * jax.random.normal(key_proposal, jnp.shape(u))
        log_ratio = self.potential_fn(u) - self.potential_fn(proposal)
        accept = jnp.log(jax.random.uniform(key_accept, jnp.shape(log_ratio))) < log_ratio
        return MHState(jnp.where(accept, proposal, u), rng_key)


@pytest.mark.parametrize("method", ["sequential", "vectorized"])
def test_user_defined_kernel(method, gaussian_moments):
    kernel = RandomWalkMetropolis(lambda u: 0.5 * (u - 2.0) ** 2, step_size=2.0)
    mcmc = MCMC(
        kernel,
        num_warmup=100,
        num_samples=3000,
        num_chains=2,
        chain_method=method,
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(0), init_params=jnp.zeros(2))
    draws = mcmc.get_samples(group_by_chain=True)
    assert draws.shape == (2, 3000)
    gaussian_moments(draws, 2.0, 1.0)
    assert mcmc.get_extra_fields() == {}


def test_bad_arguments_are_named(kernel):
    with pytest.raises(ValueError, match="num_warmup"):
        MCMC(kernel, num_warmup=-1, num_samples=10)
    with pytest.raises(ValueError, match="thinning"):
        MCMC(kernel, num_warmup=1, num_samples=10, thinning=0)
    with pytest.raises(ValueError, match="chain_method"):
        MCMC(kernel, num_warmup=1, num_samples=10, chain_method="threads")
    with pytest.raises(TypeError, match="MCMCKernel"):
        MCMC(object(), num_warmup=1, num_samples=10)
    mcmc = make_mcmc(kernel, num_chains=2, chain_method="sequential")
    with pytest.raises(RuntimeError, match="run"):
        mcmc.get_samples()
    with pytest.raises(TypeError, match="rng_key"):
        mcmc.run(0, init_params=init_for(2))
    with pytest.raises(ValueError, match="batch of num_chains=2 keys"):
        mcmc.run(jax.random.split(jax.random.PRNGKey(0), 3), init_params=init_for(2))
    with pytest.raises(ValueError, match=r"\['mu'\].*leading dimension of 2"):
        mcmc.run(jax.random.PRNGKey(0), init_params={"mu": jnp.zeros(3)})
    with pytest.raises(ValueError, match="init_params"):
        make_mcmc(kernel).run(jax.random.PRNGKey(0))


def _standard_normal(z):
    return 0.5 * jnp.sum(z**2)


@pytest.mark.slow
def test_pickled_mcmc_keeps_results_and_can_continue():
    mcmc = MCMC(
        NUTS(potential_fn=_standard_normal), num_warmup=50, num_samples=50, progress_bar=False
    )
    mcmc.run(jax.random.PRNGKey(0), init_params=jnp.zeros(2))
    restored = pickle.loads(pickle.dumps(mcmc))
    np.testing.assert_array_equal(restored.get_samples(), mcmc.get_samples())
    # The restored kernel is rebuilt on demand before it continues from the saved state.
    restored.post_warmup_state = restored.last_state
    restored.run(restored.post_warmup_state.rng_key)
    assert int(restored.last_state.i) == 150
    assert restored.get_samples().shape == (50, 2)
