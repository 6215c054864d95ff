"""The vocabulary shared by the workload kinds: metrics, plots, unavailable runs."""

from __future__ import annotations

from typing import NamedTuple


class Metric(NamedTuple):
    """How one number of a run is labelled and read."""

    #: Row label in the tables, unit included.
    label: str
    #: True when a larger value is better (ESS/s, throughput), False for times.
    higher_is_better: bool


class Plot(NamedTuple):
    """One bar chart of ratios to NumPyro: a group of bars per entry of ``groups``."""

    #: File name without extension.
    name: str
    #: Axis label of the ratios.
    ylabel: str
    #: One tick per group (workloads, or the cases of one workload).
    groups: list[str]
    #: Legend label -> one ratio per group (NaN where missing).
    series: dict[str, list[float]]


class Unavailable(Exception):
    """Raised by a worker when the library lacks what the workload needs (say a kernel
    that ppl does not ship yet): the driver records the run as skipped and goes on."""


#: Reported by the worker for every kind.
COMMON_METRICS = {"peak_memory_mb": Metric("peak memory (MB)", False)}
