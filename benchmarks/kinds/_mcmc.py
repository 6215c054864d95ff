"""The MCMC protocol shared by the ``nuts`` and ``kernel`` kinds for ppl and NumPyro.

Both libraries expose the same ``MCMC`` driver, so one function times either:
the first ``run`` (compile included), then the same object run again with a
new key (what a user re-running a model pays), and the draws of the last run
judged by the one shared ESS implementation.
"""

from __future__ import annotations

import importlib
import time
from types import ModuleType

from benchmarks.kinds.spec import Unavailable
from benchmarks.measure import compile_seconds, since_spawn, timed


def modules(library: str) -> tuple[ModuleType, ModuleType, ModuleType]:
    """``(pp, dist, infer)`` of ``ppl`` or ``numpyro``."""
    pp = importlib.import_module(library)
    dist = importlib.import_module(f"{library}.distributions")
    infer = importlib.import_module(f"{library}.infer")
    return pp, dist, infer


def bind_model(workload, pp: ModuleType, dist: ModuleType):
    """The workload's model, written once against ``(pp, dist)``, bound to one library."""

    def model(*args, **kwargs):
        return workload.model(pp, dist, *args, **kwargs)

    return model


def kernel_class(infer: ModuleType, library: str, name: str):
    """``infer.<name>``, or :class:`Unavailable` naming what is missing."""
    try:
        return getattr(infer, name)
    except (AttributeError, ImportError) as error:
        raise Unavailable(f"{library}.infer has no {name} ({error})") from None


def min_bulk_ess(samples: dict) -> float:
    """Minimum bulk ESS over every scalar component of ``{site: (chains, draws, ...)}``."""
    import numpy as np

    from benchmarks.ess import effective_sample_size

    values = []
    for draws in samples.values():
        draws = np.asarray(draws, dtype=np.float64)
        flat = draws.reshape(draws.shape[0], draws.shape[1], -1)
        values += [effective_sample_size(flat[:, :, i]) for i in range(flat.shape[-1])]
    return float(min(values))


def run_protocol(
    mcmc, data: dict, fields: tuple[str, ...], protocol: str, ess_sites: tuple[str, ...] = ()
) -> dict:
    """Time ``mcmc`` on ``data`` and return the metrics common to every MCMC workload.

    ``protocol`` is ``"full"`` (warmup and sampling timed together: first run,
    warm re-run; compile = the seconds JAX spent tracing, lowering and compiling
    during the first run) or ``"sampling"`` (warmup run alone
    first, then the sampling phase timed, for the gradient-overhead metric).
    ``ess_sites`` restricts the ESS to those sites (e.g. the continuous ones
    of a model with discrete latent sites); empty means every site.
    The returned dict also holds ``sample_time`` (the seconds behind ESS/s) and
    ``extra`` (the extra fields grouped by chain) for the caller to use.
    """
    import jax

    def run(seed: int):
        mcmc.run(jax.random.PRNGKey(seed), extra_fields=fields, **data)
        return mcmc.get_samples()

    result: dict = {}
    if protocol == "full":
        compiled = compile_seconds()
        _, first = timed(lambda: run(1))
        compiled = compile_seconds() - compiled
        result["time_to_first_samples"] = since_spawn()
        _, warm = timed(lambda: run(2))
        result.update(first_run=first, warm_run=warm, compile=compiled)
    elif protocol == "sampling":
        _, warmup = timed(
            lambda: mcmc.warmup(jax.random.PRNGKey(1), **data) or mcmc.post_warmup_state
        )
        _, first = timed(lambda: run(2))
        result["time_to_first_samples"] = since_spawn()
        _, warm = timed(lambda: run(3))
        result.update(warmup=warmup, first_run=first, warm_run=warm)
    else:
        raise ValueError(f"protocol must be 'full' or 'sampling', got {protocol!r}")
    samples = mcmc.get_samples(group_by_chain=True)
    if ess_sites:
        samples = {site: samples[site] for site in ess_sites}
    result["min_bulk_ess"] = min_bulk_ess(samples)
    result["ess_per_second"] = result["min_bulk_ess"] / warm
    result["sample_time"] = warm
    result["extra"] = mcmc.get_extra_fields(group_by_chain=True) if fields else {}
    return result


def gradient_time(logdensity_fn, position) -> float:
    """Seconds per call of the jitted gradient of ``logdensity_fn`` (median of 5 x 20 calls)."""
    import jax
    import numpy as np

    from benchmarks.measure import block

    grad = jax.jit(jax.grad(logdensity_fn))
    block(grad(position))
    batches = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(20):
            out = grad(position)
        block(out)
        batches.append((time.perf_counter() - start) / 20)
    return float(np.median(batches))
