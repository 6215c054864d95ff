"""The ``distribution`` kind: sampling and ``log_prob`` throughput of distributions.

A workload defines ``CASES`` (name -> :class:`Case`), ``make_data(quick)``
returning ``{case name: {parameter name: array}}`` and
``SETTINGS``/``QUICK_SETTINGS`` (``calls``: timing samples per median,
optionally ``min_seconds`` per sample, and the sizes its cases read). For
each case and library the worker jits

- ``sample(key, params) = case.build(dist, **params).sample(key, sample_shape)``
- ``log_prob(value, params) = case.build(dist, **params).log_prob(value)``

with the parameters as arguments (so that XLA cannot fold them into the
program and the distribution is built inside the program, as in a model),
runs each once to compile, and reports draws (or densities) per second over
the median of ``calls`` warm samples (each as many back-to-back calls as last
about ``min_seconds``), in millions: ``"<case>.sample"`` and
``"<case>.log_prob"``. BlackJAX has no distributions and is not run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, NamedTuple

from benchmarks.kinds.spec import Metric, Plot
from benchmarks.measure import warm_median

LIBRARIES = ("ppl", "numpyro")
REQUIRED = ("CASES", "SETTINGS", "QUICK_SETTINGS", "make_data")
OPERATIONS = ("sample", "log_prob")

#: Each timing sample lasts about this long (back-to-back calls), unless the
#: settings give ``min_seconds``.
DEFAULT_MIN_SECONDS = 0.1


def _no_sample_shape(settings: dict) -> tuple[int, ...]:
    return ()


class Case(NamedTuple):
    """One distribution to time: how to build it and how many draws to ask for."""

    #: ``build(dist, **params)``: the distribution, from the library's ``distributions``.
    build: Callable[..., Any]
    #: ``sample_shape(settings)``: the ``sample_shape`` of each call (default ``()``,
    #: for cases whose parameters already carry the batch).
    sample_shape: Callable[[dict], tuple[int, ...]] = _no_sample_shape


def metrics(workload) -> dict[str, Metric]:
    return {
        f"{case}.{op}": Metric(f"{case} {op} (M/s)", True)
        for case in workload.CASES
        for op in OPERATIONS
    } | {"compile": Metric("compile, all cases (s)", False)}


def plots(summary: dict) -> list[Plot]:
    """One chart per workload: a group per case, a bar per operation (ppl / NumPyro)."""
    from benchmarks.summary import ratio

    charts = []
    for workload, by_library in summary.items():
        suffixes = tuple(f".{op}" for op in OPERATIONS)
        keys = [k for k in by_library.get("ppl", {}) if k.endswith(suffixes)]
        cases = list(dict.fromkeys(k.rsplit(".", 1)[0] for k in keys))
        if not cases:
            continue
        series = {
            f"ppl {op}": [ratio(summary, workload, "ppl", f"{c}.{op}") for c in cases]
            for op in OPERATIONS
        }
        label = "throughput\nratio to NumPyro (> 1: faster)"
        charts.append(Plot(workload, label, cases, series))
    return charts


def time_case(dist, case: Case, params: dict, settings: dict) -> dict[str, float]:
    """Throughputs (millions per second) of one case and its compile seconds."""
    import jax
    import jax.numpy as jnp

    calls, min_seconds = settings["calls"], settings.get("min_seconds", DEFAULT_MIN_SECONDS)
    key = jax.random.PRNGKey(0)
    params = {k: jnp.asarray(v) for k, v in params.items()}
    shape = case.sample_shape(settings)
    sample = jax.jit(lambda key, p: case.build(dist, **p).sample(key, shape))
    log_prob = jax.jit(lambda value, p: case.build(dist, **p).log_prob(value))

    first_sample, warm_sample = warm_median(lambda: sample(key, params), calls, min_seconds)
    value = sample(key, params)
    first_log_prob, warm_log_prob = warm_median(lambda: log_prob(value, params), calls, min_seconds)
    count = log_prob(value, params).size
    return {
        "sample": count / warm_sample / 1e6,
        "log_prob": count / warm_log_prob / 1e6,
        "compile": max(first_sample - warm_sample, 0.0) + max(first_log_prob - warm_log_prob, 0.0),
    }


def run(library: str, workload, settings: dict, data: dict) -> dict:
    dist = importlib.import_module(f"{library}.distributions")
    result: dict = {"compile": 0.0}
    for name, case in workload.CASES.items():
        timings = time_case(dist, case, data[name], settings)
        for op in OPERATIONS:
            result[f"{name}.{op}"] = timings[op]
        result["compile"] += timings["compile"]
    return result
