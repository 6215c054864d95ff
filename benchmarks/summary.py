"""Reduce repeated runs to medians and ratios to the reference library.

A run is the flat dict a worker prints: ``library``, ``workload``, ``kind`` and
numbers. Repeats of one (workload, library) pair are reduced to median, min
and max, and each median is divided by the reference library's median of the
same metric: the ratio is the claim, since absolute seconds move with the
machine's load.
"""

from __future__ import annotations

import math
import statistics
from numbers import Real

REFERENCE = "numpyro"

#: Keys of a run that identify it rather than measure it.
IDENTITY = ("library", "workload", "kind", "skipped", "failed")


def _numbers(run: dict) -> dict[str, float]:
    return {
        key: float(value)
        for key, value in run.items()
        if key not in IDENTITY and isinstance(value, Real) and not isinstance(value, bool)
    }


def summarize(runs: list[dict], reference: str = REFERENCE) -> dict:
    """``{workload: {library: {metric: {median, min, max[, ratio]}}}}`` over repeats.

    Skipped and failed runs are left out. ``ratio`` is the median over the reference
    library's median of the same metric, present where that median is non-zero.
    Workloads keep the order in which they first appear in ``runs``.
    """
    grouped: dict[str, dict[str, list[dict]]] = {}
    for run in runs:
        if run.get("skipped") or run.get("failed"):
            continue
        grouped.setdefault(run["workload"], {}).setdefault(run["library"], []).append(run)
    summary: dict = {}
    for workload, by_library in grouped.items():
        summary[workload] = {}
        for library, repeats in by_library.items():
            values: dict[str, list[float]] = {}
            for run in repeats:
                for key, value in _numbers(run).items():
                    if math.isfinite(value):
                        values.setdefault(key, []).append(value)
            summary[workload][library] = {
                key: {"median": statistics.median(v), "min": min(v), "max": max(v)}
                for key, v in values.items()
            }
        ref = summary[workload].get(reference, {})
        for metrics in summary[workload].values():
            for key, stats in metrics.items():
                ref_median = ref.get(key, {}).get("median")
                if ref_median:
                    stats["ratio"] = stats["median"] / ref_median
    return summary


def ratio(summary: dict, workload: str, library: str, key: str) -> float:
    """The ratio of one metric to the reference, NaN when it is missing."""
    stats = summary.get(workload, {}).get(library, {}).get(key, {})
    return stats.get("ratio", math.nan)


def not_run(runs: list[dict]) -> dict[tuple[str, str], str]:
    """``{(workload, library): why}`` of the runs that were skipped or failed."""
    out = {}
    for run in runs:
        for outcome in ("skipped", "failed"):
            if run.get(outcome):
                out[run["workload"], run["library"]] = f"{outcome}: {run[outcome]}"
    return out
