"""Ratio charts built from a summary, for the kinds' ``plots``."""

from __future__ import annotations

from benchmarks.kinds.spec import Metric, Plot
from benchmarks.summary import REFERENCE, ratio


def by_workload(
    summary: dict,
    metric_specs: dict[str, Metric],
    keys: tuple[str, ...],
    libraries: tuple[str, ...],
    prefix: str,
) -> list[Plot]:
    """One chart per metric key: a group of bars per workload, one bar per library
    other than the reference."""
    charts = []
    for key in keys:
        workloads = [w for w in summary if any(key in m for m in summary[w].values())]
        if not workloads:
            continue
        # The reference is 1.0 by definition: the chart's horizontal line.
        series = {
            lib: [ratio(summary, w, lib, key) for w in workloads]
            for lib in libraries
            if lib != REFERENCE
        }
        label = f"{metric_specs[key].label}\nratio to NumPyro"
        charts.append(Plot(f"{prefix}_{key}", label, workloads, series))
    return charts
