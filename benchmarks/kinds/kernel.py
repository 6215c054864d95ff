"""The ``kernel`` kind: one model sampled by a named MCMC kernel in ppl and NumPyro.

For the kernels beyond NUTS (HMC, SA, BarkerMH, HMCGibbs, DiscreteHMCGibbs,
MixedHMC, HMCECS, ...), which carry the same class name in ``ppl.infer`` and
``numpyro.infer``. A workload defines, besides ``make_data(quick)``,
``model(pp, dist, **data)`` and ``SETTINGS``/``QUICK_SETTINGS`` (``num_warmup``,
``num_samples``, ``num_chains``):

- ``KERNEL``: the class name, looked up in ``<library>.infer``;
- ``KERNEL_KWARGS`` (optional): keyword arguments of ``KERNEL(model, **kwargs)``;
- ``make_kernel(infer, model, data)`` (optional): builds the kernel instead, for
  kernels that wrap another one or take functions (``HMCGibbs(NUTS(model),
  gibbs_fn, gibbs_sites)``, ``HMCECS(NUTS(model), proxy=...)``);
- ``EXTRA_FIELDS`` (optional): state fields to record, reported as their means
  (``"accept_prob"``; dotted paths like ``"hmc_state.accept_prob"`` work);
- ``CHAIN_METHOD`` (optional, default ``"vectorized"``): the chain method of both
  libraries (NumPyro runs SA, BarkerMH and the Gibbs-based kernels only
  ``"sequential"`` or ``"parallel"``);
- ``ESS_SITES`` (optional): the sites whose draws judge the ESS (by default
  all; models with discrete latent sites name their continuous ones).

A library whose ``infer`` lacks ``KERNEL`` is reported as skipped, so a
workload can be added before ppl ships its kernel. BlackJAX has none of these
kernels under the same name and is not run.
"""

from __future__ import annotations

from benchmarks.kinds import _mcmc
from benchmarks.kinds._charts import by_workload
from benchmarks.kinds.spec import Metric, Plot

LIBRARIES = ("ppl", "numpyro")
REQUIRED = ("KERNEL", "SETTINGS", "QUICK_SETTINGS", "make_data", "model")

METRICS = {
    "time_to_first_samples": Metric("start to first samples (s)", False),
    "compile": Metric("compile (s)", False),
    "first_run": Metric("first run (s)", False),
    "warm_run": Metric("warm run (s)", False),
    "min_bulk_ess": Metric("min bulk ESS", True),
    "ess_per_second": Metric("min bulk ESS / s (warm)", True),
}

PLOTTED = ("time_to_first_samples", "warm_run", "ess_per_second")


def _extra_fields(workload) -> tuple[str, ...]:
    return tuple(getattr(workload, "EXTRA_FIELDS", ()))


def metrics(workload) -> dict[str, Metric]:
    extra = {f"mean_{f}": Metric(f"mean {f}", True) for f in _extra_fields(workload)}
    return {**METRICS, **extra}


def plots(summary: dict) -> list[Plot]:
    return by_workload(summary, METRICS, PLOTTED, LIBRARIES, prefix="kernel")


def build_kernel(infer, library: str, workload, model, data: dict):
    """The workload's kernel for one library: ``make_kernel(infer, model, data)`` when
    the workload defines it, else ``KERNEL(model, **KERNEL_KWARGS)``."""
    cls = _mcmc.kernel_class(infer, library, workload.KERNEL)
    if hasattr(workload, "make_kernel"):
        return workload.make_kernel(infer, model, data)
    return cls(model, **getattr(workload, "KERNEL_KWARGS", {}))


def run(library: str, workload, settings: dict, data: dict) -> dict:
    import numpy as np

    pp, dist, infer = _mcmc.modules(library)
    model = _mcmc.bind_model(workload, pp, dist)
    mcmc = infer.MCMC(
        build_kernel(infer, library, workload, model, data),
        num_warmup=settings["num_warmup"],
        num_samples=settings["num_samples"],
        num_chains=settings["num_chains"],
        chain_method=getattr(workload, "CHAIN_METHOD", "vectorized"),
        progress_bar=False,
    )
    fields = _extra_fields(workload)
    ess_sites = tuple(getattr(workload, "ESS_SITES", ()))
    result = _mcmc.run_protocol(mcmc, data, fields, "full", ess_sites)
    extra = result.pop("extra")
    result.pop("sample_time")
    for field in fields:
        result[f"mean_{field}"] = float(np.mean(np.asarray(extra[field], dtype=np.float64)))
    return result
