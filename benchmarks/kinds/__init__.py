"""Workload kinds: how a workload of each kind is run, measured and plotted.

A workload module names its kind with ``KIND``; the kind's module (one per
kind, registered in :data:`KINDS`) provides

- ``LIBRARIES``: the libraries that can run it, NumPyro among them;
- ``REQUIRED``: the names a workload module of this kind must define;
- ``metrics(workload) -> dict[str, Metric]``: what a run reports;
- ``plots(summary) -> list[Plot]``: the charts, from the summary of its workloads;
- ``run(library, workload, settings, data) -> dict``: the measurement, in the
  worker process (imports of JAX and the libraries happen there, not here).
"""

from benchmarks.kinds import distribution, kernel, nuts, svi

KINDS = {
    "nuts": nuts,
    "kernel": kernel,
    "svi": svi,
    "distribution": distribution,
}


def check(workload) -> list[str]:
    """Problems with a workload module: an unknown kind or missing names (empty when fine)."""
    kind_name = getattr(workload, "KIND", None)
    if kind_name not in KINDS:
        return [f"KIND is {kind_name!r}; expected one of {sorted(KINDS)}"]
    kind = KINDS[kind_name]
    return [
        f"a {kind_name} workload must define {name}"
        for name in kind.REQUIRED
        if not hasattr(workload, name)
    ]
