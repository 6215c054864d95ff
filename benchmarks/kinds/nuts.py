"""The ``nuts`` kind: one model sampled by NUTS in ppl, NumPyro and BlackJAX.

A workload defines ``make_data(quick)``, ``model(pp, dist, **data)`` against the
API that ppl and NumPyro share, ``logdensity(data)`` returning
``(logdensity_fn, initial_position_fn)`` in unconstrained space for BlackJAX,
``SETTINGS``/``QUICK_SETTINGS`` (``num_warmup``, ``num_samples``,
``num_chains``) and ``PROTOCOL``: ``"full"`` times warmup and sampling
together; ``"sampling"`` times the sampling phase alone and reports the
sampler's overhead over its gradient evaluations.
"""

from __future__ import annotations

from benchmarks.kinds import _mcmc
from benchmarks.kinds._charts import by_workload
from benchmarks.kinds.spec import Metric, Plot
from benchmarks.measure import compile_seconds, since_spawn, timed

LIBRARIES = ("ppl", "numpyro", "blackjax")
REQUIRED = ("SETTINGS", "QUICK_SETTINGS", "PROTOCOL", "make_data", "model", "logdensity")

METRICS = {
    "time_to_first_samples": Metric("start to first samples (s)", False),
    "compile": Metric("compile (s)", False),
    "warmup": Metric("warmup (s)", False),
    "first_run": Metric("first run (s)", False),
    "warm_run": Metric("warm run (s)", False),
    "min_bulk_ess": Metric("min bulk ESS", True),
    "ess_per_second": Metric("min bulk ESS / s (warm)", True),
    "gradient_evaluations": Metric("gradient evaluations", False),
    "divergences": Metric("divergences", False),
    "overhead": Metric("overhead (1.0 is ideal)", False),
}

#: The metrics drawn, one chart each, bars per workload and library.
PLOTTED = ("time_to_first_samples", "warm_run", "ess_per_second", "overhead")


def metrics(workload) -> dict[str, Metric]:
    return METRICS


def plots(summary: dict) -> list[Plot]:
    return by_workload(summary, METRICS, PLOTTED, LIBRARIES, prefix="nuts")


def run(library: str, workload, settings: dict, data: dict) -> dict:
    if library == "blackjax":
        return _run_blackjax(workload, settings, data)
    pp, dist, infer = _mcmc.modules(library)
    mcmc = infer.MCMC(
        infer.NUTS(_mcmc.bind_model(workload, pp, dist)),
        num_warmup=settings["num_warmup"],
        num_samples=settings["num_samples"],
        num_chains=settings["num_chains"],
        chain_method="vectorized",
        progress_bar=False,
    )
    result = _mcmc.run_protocol(mcmc, data, ("num_steps", "diverging"), workload.PROTOCOL)
    extra = result.pop("extra")
    result["divergences"] = int(extra["diverging"].sum())
    result["gradient_evaluations"] = int(extra["num_steps"].sum())
    _add_overhead(result, workload, data)
    return result


def _add_overhead(result: dict, workload, data: dict) -> None:
    """Sampling time over (gradient evaluations x time of one jitted gradient)."""
    sample_time = result.pop("sample_time")
    if workload.PROTOCOL != "sampling":
        return
    import jax

    logdensity_fn, initial_position = workload.logdensity(data)
    t_grad = _mcmc.gradient_time(logdensity_fn, initial_position(jax.random.PRNGKey(0)))
    result["gradient_time"] = t_grad
    result["overhead"] = sample_time / (result["gradient_evaluations"] * t_grad)


def _run_blackjax(workload, settings: dict, data: dict) -> dict:
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
        run_all = jax.jit(lambda key: chains(full, key))
        compiled = compile_seconds()
        _, first = timed(lambda: run_all(jax.random.PRNGKey(1)))
        compiled = compile_seconds() - compiled
        result["time_to_first_samples"] = since_spawn()
        (positions, steps, divergent), warm = timed(lambda: run_all(jax.random.PRNGKey(2)))
        result.update(first_run=first, warm_run=warm, compile=compiled)
    else:
        run_warmup = jax.jit(lambda key: chains(warmup, key))
        (state, parameters), warmup_time = timed(lambda: run_warmup(jax.random.PRNGKey(1)))
        run_sample = jax.jit(lambda key, s, p: chains(sample, key, s, p))
        _, first = timed(lambda: run_sample(jax.random.PRNGKey(2), state, parameters))
        result["time_to_first_samples"] = since_spawn()
        (positions, steps, divergent), warm = timed(
            lambda: run_sample(jax.random.PRNGKey(3), state, parameters)
        )
        result.update(warmup=warmup_time, first_run=first, warm_run=warm)
    result["min_bulk_ess"] = _mcmc.min_bulk_ess(positions)
    result["ess_per_second"] = result["min_bulk_ess"] / warm
    result["divergences"] = int(jnp.sum(divergent))
    result["gradient_evaluations"] = int(jnp.sum(steps))
    result["sample_time"] = warm
    _add_overhead(result, workload, data)
    return result
