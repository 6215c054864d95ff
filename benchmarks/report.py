"""Write a summary out: the markdown tables and the PNG charts of ratios."""

from __future__ import annotations

import math
from pathlib import Path

from benchmarks.kinds import KINDS
from benchmarks.kinds.spec import COMMON_METRICS, Metric, Plot

#: Added by the driver: wall and CPU time of the whole worker process.
DRIVER_METRICS = {
    "cold_wall": Metric("process wall time (s)", False),
    "cold_cpu": Metric("process CPU time (s)", False),
}


def _cell(stats: dict) -> str:
    cell = f"{stats['median']:.4g} [{stats['min']:.3g}, {stats['max']:.3g}]"
    if "ratio" in stats:
        cell += f" ×{stats['ratio']:.2f}"
    return cell


def _ratio(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.2f}"


def workload_table(workload_module, by_library: dict) -> list[str]:
    """Rows of one workload's table: each labelled metric x each library."""
    kind = KINDS[workload_module.KIND]
    labels = {**kind.metrics(workload_module), **COMMON_METRICS, **DRIVER_METRICS}
    lines = ["| metric | " + " | ".join(by_library) + " |"]
    lines.append("|---" * (len(by_library) + 1) + "|")
    for key, metric in labels.items():
        if not any(key in m for m in by_library.values()):
            continue
        cells = [_cell(m[key]) if key in m else "" for m in by_library.values()]
        lines.append(f"| {metric.label} | " + " | ".join(cells) + " |")
    return lines


def ratio_table(chart: Plot) -> list[str]:
    """A chart as a table: a row per group, a column per series."""
    lines = [f"| {chart.ylabel.splitlines()[0]} | " + " | ".join(chart.series) + " |"]
    lines.append("|---" * (len(chart.series) + 1) + "|")
    for i, group in enumerate(chart.groups):
        cells = [_ratio(values[i]) for values in chart.series.values()]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    return lines


def charts(summary: dict, workloads: dict) -> list[Plot]:
    """Every kind's charts, over the summarized workloads of that kind."""
    out = []
    for kind_name, kind in KINDS.items():
        of_kind = {w: s for w, s in summary.items() if workloads[w].KIND == kind_name}
        if of_kind:
            out += kind.plots(of_kind)
    return out


def markdown(summary: dict, meta: dict, workloads: dict, not_run: dict) -> str:
    """``results.md``: the ratios at a glance, then every workload's full table."""
    load = meta.get("load_average")
    machine = meta["machine"] + (f", load average {load[0]:.1f} at the end" if load else "")
    if meta.get("devices"):
        machine += f", JAX on {' and '.join(meta['devices'])}"
    if meta.get("versions"):
        machine += ", " + ", ".join(f"{k} {v}" for k, v in sorted(meta["versions"].items()))
    if meta.get("bytecode") == "cold":
        machine += ", cold bytecode caches"
    lines = [
        "# Benchmark results",
        "",
        f"{meta['date']}, {machine}, {meta['repeats']} repeat(s)"
        f"{' (quick sizes)' if meta['quick'] else ''}. Medians with [min, max]; ×r is the "
        "ratio to NumPyro's median (for times < 1 is faster; for ESS/s, steps/s and "
        "throughput > 1 is faster).",
        "",
        "## Ratios to NumPyro",
        "",
    ]
    for chart in charts(summary, workloads):
        lines += [f"`{chart.name}`", "", *ratio_table(chart), ""]
    for kind_name in KINDS:
        names = [w for w in summary if workloads[w].KIND == kind_name]
        if not names:
            continue
        lines += [f"## {kind_name} workloads", ""]
        for name in names:
            doc = (workloads[name].__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
            lines += [f"### {name}", "", doc, "", *workload_table(workloads[name], summary[name])]
            lines.append("")
    if not_run:
        lines += ["## Not run", ""]
        lines += [
            f"- {workload} on {library}: {why}" for (workload, library), why in not_run.items()
        ]
        lines.append("")
    return "\n".join(lines)


def _tick(value: float, _position=None) -> str:
    return f"{value:.3g}"


def _minor_tick(value: float, _position=None) -> str:
    """Label only the 2s, 3s and 5s between the decades, so that labels do not collide."""
    if value <= 0:
        return ""
    mantissa = round(value / 10 ** math.floor(math.log10(value)), 6)
    return _tick(value) if mantissa in (2.0, 3.0, 5.0) else ""


def plot(chart_specs: list[Plot], out_dir: Path) -> list[Path]:
    """Draw each chart as ``<name>.png`` in ``out_dir``; nothing when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return []
    paths = []
    for chart in chart_specs:
        groups, series = chart.groups, chart.series
        fig, ax = plt.subplots(figsize=(1.6 * len(groups) + 2.5, 3.6))
        width = 0.8 / len(series)
        # Ratios on a log axis, each bar drawn from 1.0: x2 and x0.5 look alike.
        for offset, (label, values) in enumerate(series.items()):
            xs = [i + offset * width for i in range(len(groups))]
            ax.bar(xs, [v - 1.0 for v in values], width, bottom=1.0, label=label)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_tick))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(_minor_tick))
        ax.axhline(1.0, color="grey", linewidth=0.8)
        centre = width * (len(series) - 1) / 2
        ax.set_xticks([i + centre for i in range(len(groups))], groups, rotation=15, ha="right")
        ax.set_ylabel(chart.ylabel)
        ax.legend(fontsize="small")
        fig.tight_layout()
        path = out_dir / f"{chart.name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
