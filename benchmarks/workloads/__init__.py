"""Benchmark workloads: one module each, registered in :data:`WORKLOADS`.

Each module names its kind with ``KIND`` (see :mod:`benchmarks.kinds`, whose
kind modules document what a workload of that kind defines) and gives the run
sizes in ``SETTINGS`` and ``QUICK_SETTINGS``. Models are written once against
the API that ppl and NumPyro share: ``model(pp, dist, **data)`` where ``pp`` is
the ``ppl`` or ``numpyro`` module and ``dist`` its distributions.
"""

from __future__ import annotations

from benchmarks.kinds import KINDS
from benchmarks.workloads import (
    aies_eight_schools,
    barker_eight_schools,
    discrete_hmc_gibbs_mixture,
    distribution_throughput,
    eight_schools,
    ess_eight_schools,
    hierarchical_logistic,
    hmc_eight_schools,
    hmcgibbs_normal,
    linear_regression,
    logistic_regression,
    mixed_hmc_mixture,
    sa_eight_schools,
    svi_hierarchical,
    svi_logistic_regression,
)

WORKLOADS = {
    "eight_schools": eight_schools,
    "logistic_regression": logistic_regression,
    "hierarchical_logistic": hierarchical_logistic,
    "linear_regression": linear_regression,
    "hmc_eight_schools": hmc_eight_schools,
    "sa_eight_schools": sa_eight_schools,
    "barker_eight_schools": barker_eight_schools,
    "aies_eight_schools": aies_eight_schools,
    "ess_eight_schools": ess_eight_schools,
    "hmcgibbs_normal": hmcgibbs_normal,
    "discrete_hmc_gibbs_mixture": discrete_hmc_gibbs_mixture,
    "mixed_hmc_mixture": mixed_hmc_mixture,
    "svi_logistic_regression": svi_logistic_regression,
    "svi_hierarchical": svi_hierarchical,
    "distribution_throughput": distribution_throughput,
}


def select(spec: str, workloads: dict | None = None) -> list[str]:
    """The workload names a comma-separated ``spec`` of names, kinds or ``all`` picks.

    A kind (``nuts``, ``svi``, ...) stands for each of its workloads. Names keep
    the registry's order and appear once. Raises ``ValueError`` naming the
    unknown entries.
    """
    workloads = WORKLOADS if workloads is None else workloads
    wanted = {w.strip() for w in spec.split(",") if w.strip()}
    if not wanted:
        raise ValueError("--workloads is empty; give names, kinds or 'all'")
    kinds = set(KINDS)
    unknown = wanted - set(workloads) - kinds - {"all"}
    if unknown:
        raise ValueError(
            f"unknown workloads or kinds {sorted(unknown)}; "
            f"workloads: {sorted(workloads)}; kinds: {sorted(kinds)}"
        )
    return [
        name
        for name, module in workloads.items()
        if "all" in wanted or name in wanted or module.KIND in wanted
    ]
