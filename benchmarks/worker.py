"""Run one workload on one library in this (fresh) process and print its metrics as JSON.

Usage: ``python -m benchmarks.worker LIBRARY WORKLOAD [--quick]``; the driver
(``benchmarks/run.py``) sets ``BENCH_SPAWN_TIME`` so that the time from process
start to the first samples includes interpreter start-up and imports.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

SPAWN_TIME = float(os.environ.get("BENCH_SPAWN_TIME", time.time()))


def _block(tree):
    import jax

    return jax.block_until_ready(tree)


def _timed(fn):
    start = time.perf_counter()
    out = _block(fn())
    return out, time.perf_counter() - start


def _min_bulk_ess(samples: dict) -> float:
    """Minimum bulk ESS over every scalar component, by one shared implementation."""
    import numpy as np

    from benchmarks.ess import effective_sample_size

    values = []
    for draws in samples.values():
        draws = np.asarray(draws, dtype=np.float64)
        flat = draws.reshape(draws.shape[0], draws.shape[1], -1)
        values += [effective_sample_size(flat[:, :, i]) for i in range(flat.shape[-1])]
    return float(min(values))


def _gradient_time(logdensity_fn, position) -> float:
    """Seconds per call of the jitted gradient of the log density (median of batches)."""
    import jax
    import numpy as np

    grad = jax.jit(jax.grad(logdensity_fn))
    _block(grad(position))
    batches = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(20):
            out = grad(position)
        _block(out)
        batches.append((time.perf_counter() - start) / 20)
    return float(np.median(batches))


def run_ppl_or_numpyro(library: str, workload, settings: dict, data: dict) -> dict:
    import importlib

    import jax

    pp = importlib.import_module(library)
    dist = importlib.import_module(f"{library}.distributions")
    infer = importlib.import_module(f"{library}.infer")

    def model(*args, **kwargs):
        return workload.model(pp, dist, *args, **kwargs)

    model_data = {k: v for k, v in data.items()}
    mcmc = infer.MCMC(
        infer.NUTS(model),
        num_warmup=settings["num_warmup"],
        num_samples=settings["num_samples"],
        num_chains=settings["num_chains"],
        chain_method="vectorized",
        progress_bar=False,
    )
    fields = ("num_steps", "diverging")
    result: dict = {}
    if workload.PROTOCOL == "full":
        _, first = _timed(
            lambda: (
                mcmc.run(jax.random.PRNGKey(1), extra_fields=fields, **model_data)
                or mcmc.get_samples()
            )
        )
        result["time_to_first_samples"] = time.time() - SPAWN_TIME
        _, warm = _timed(
            lambda: (
                mcmc.run(jax.random.PRNGKey(2), extra_fields=fields, **model_data)
                or mcmc.get_samples()
            )
        )
        result.update(first_run=first, warm_run=warm, compile=max(first - warm, 0.0))
        sample_time = warm
    else:
        _, warmup_time = _timed(
            lambda: mcmc.warmup(jax.random.PRNGKey(1), **model_data) or mcmc.post_warmup_state
        )
        _, first = _timed(
            lambda: (
                mcmc.run(jax.random.PRNGKey(2), extra_fields=fields, **model_data)
                or mcmc.get_samples()
            )
        )
        result["time_to_first_samples"] = time.time() - SPAWN_TIME
        _, warm = _timed(
            lambda: (
                mcmc.run(jax.random.PRNGKey(3), extra_fields=fields, **model_data)
                or mcmc.get_samples()
            )
        )
        result.update(warmup=warmup_time, first_run=first, warm_run=warm)
        sample_time = warm
    samples = mcmc.get_samples(group_by_chain=True)
    extra = mcmc.get_extra_fields(group_by_chain=True)
    result["min_bulk_ess"] = _min_bulk_ess(samples)
    result["ess_per_second"] = result["min_bulk_ess"] / sample_time
    result["divergences"] = int(extra["diverging"].sum())
    result["gradient_evaluations"] = int(extra["num_steps"].sum())
    if workload.PROTOCOL == "sampling":
        logdensity_fn, initial_position = workload.logdensity(data)
        t_grad = _gradient_time(logdensity_fn, initial_position(jax.random.PRNGKey(0)))
        result["gradient_time"] = t_grad
        result["overhead"] = sample_time / (result["gradient_evaluations"] * t_grad)
    return result


def run_blackjax(workload, settings: dict, data: dict) -> dict:
    import blackjax
    import jax
    import jax.numpy as jnp

    logdensity_fn, initial_position = workload.logdensity(data)
    num_warmup, num_samples = settings["num_warmup"], settings["num_samples"]
    num_chains = settings["num_chains"]

    def warmup(key):
        init_key, warmup_key = jax.random.split(key)
        adaptation = blackjax.window_adaptation(blackjax.nuts, logdensity_fn)
        (state, parameters), _ = adaptation.run(
            warmup_key, initial_position(init_key), num_steps=num_warmup
        )
        return state, parameters

    def sample(key, state, parameters):
        kernel = blackjax.nuts(logdensity_fn, **parameters)

        def step(state, key):
            state, info = kernel.step(key, state)
            return state, (state.position, info.num_integration_steps, info.is_divergent)

        _, (positions, steps, divergent) = jax.lax.scan(
            step, state, jax.random.split(key, num_samples)
        )
        return positions, steps, divergent

    def full(key):
        warm_key, sample_key = jax.random.split(key)
        state, parameters = warmup(warm_key)
        return sample(sample_key, state, parameters)

    def chains(fn, key, *args):
        keys = jax.random.split(key, num_chains)
        return jax.vmap(fn)(keys, *args)

    result: dict = {}
    if workload.PROTOCOL == "full":
        run = jax.jit(lambda key: chains(full, key))
        _, first = _timed(lambda: run(jax.random.PRNGKey(1)))
        result["time_to_first_samples"] = time.time() - SPAWN_TIME
        (positions, steps, divergent), warm = _timed(lambda: run(jax.random.PRNGKey(2)))
        result.update(first_run=first, warm_run=warm, compile=max(first - warm, 0.0))
    else:
        run_warmup = jax.jit(lambda key: chains(warmup, key))
        (state, parameters), warmup_time = _timed(lambda: run_warmup(jax.random.PRNGKey(1)))
        run_sample = jax.jit(lambda key, s, p: chains(sample, key, s, p))
        _, first = _timed(lambda: run_sample(jax.random.PRNGKey(2), state, parameters))
        result["time_to_first_samples"] = time.time() - SPAWN_TIME
        (positions, steps, divergent), warm = _timed(
            lambda: run_sample(jax.random.PRNGKey(3), state, parameters)
        )
        result.update(warmup=warmup_time, first_run=first, warm_run=warm)
    result["min_bulk_ess"] = _min_bulk_ess(positions)
    result["ess_per_second"] = result["min_bulk_ess"] / warm
    result["divergences"] = int(jnp.sum(divergent))
    result["gradient_evaluations"] = int(jnp.sum(steps))
    if workload.PROTOCOL == "sampling":
        t_grad = _gradient_time(logdensity_fn, initial_position(jax.random.PRNGKey(0)))
        result["gradient_time"] = t_grad
        result["overhead"] = warm / (result["gradient_evaluations"] * t_grad)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("library", choices=["ppl", "numpyro", "blackjax"])
    parser.add_argument("workload")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)

    from benchmarks.workloads import WORKLOADS

    workload = WORKLOADS[args.workload]
    settings = workload.QUICK_SETTINGS if args.quick else workload.SETTINGS
    data = workload.make_data(args.quick)
    if args.library == "blackjax":
        result = run_blackjax(workload, settings, data)
    else:
        result = run_ppl_or_numpyro(args.library, workload, settings, data)
    # ru_maxrss is in KiB on Linux.
    result["peak_memory_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"library": args.library, "workload": args.workload, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
