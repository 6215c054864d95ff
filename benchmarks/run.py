"""Benchmark ppl against NumPyro and BlackJAX, side by side, as ratios.

Every (library, workload) pair runs in a fresh process, interleaved
(A, B, C, A, B, C, ...) over several repeats so that machine noise hits all
libraries alike. Results: ``results.json``, ``results.md`` and PNG plots in
the output folder (``benchmarks/results`` by default).

    python benchmarks/run.py            # full sizes, 3 repeats
    python benchmarks/run.py --quick    # small sizes, 1 repeat: a smoke run

A benchmark never fails for being slow; it reports. It fails only if a run
crashes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = ("ppl", "numpyro", "blackjax")
REFERENCE = "numpyro"

#: metric -> (label, True when larger is better)
METRICS = {
    "time_to_first_samples": ("start to first samples (s)", False),
    "compile": ("compile (s)", False),
    "first_run": ("first run (s)", False),
    "warm_run": ("warm run (s)", False),
    "min_bulk_ess": ("min bulk ESS", True),
    "ess_per_second": ("min bulk ESS / s (warm)", True),
    "gradient_evaluations": ("gradient evaluations", False),
    "divergences": ("divergences", False),
    "overhead": ("overhead (1.0 is ideal)", False),
    "peak_memory_mb": ("peak memory (MB)", False),
}


def run_one(library: str, workload: str, quick: bool) -> dict:
    env = {**os.environ, "BENCH_SPAWN_TIME": repr(time.time())}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "benchmarks.worker", library, workload]
    if quick:
        command.append("--quick")
    start = time.time()
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.time() - start
    if out.returncode != 0:
        raise RuntimeError(f"{library} on {workload} failed:\n{out.stderr[-4000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["cold_wall"] = wall
    return result


def summarize(runs: list[dict]) -> dict:
    """Median, min and max of each metric over repeats, per library and workload."""
    grouped: dict = {}
    for run in runs:
        grouped.setdefault(run["workload"], {}).setdefault(run["library"], []).append(run)
    summary: dict = {}
    for workload, by_library in grouped.items():
        summary[workload] = {}
        for library, repeats in by_library.items():
            metrics = {}
            for key in [*METRICS, "cold_wall"]:
                values = [r[key] for r in repeats if r.get(key) is not None]
                if values:
                    metrics[key] = {
                        "median": statistics.median(values),
                        "min": min(values),
                        "max": max(values),
                    }
            summary[workload][library] = metrics
        reference = summary[workload].get(REFERENCE)
        if reference:
            for metrics in summary[workload].values():
                for key, stats in metrics.items():
                    ref = reference.get(key, {}).get("median")
                    if ref:
                        stats["ratio_to_numpyro"] = stats["median"] / ref
    return summary


def markdown(summary: dict, meta: dict) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"{meta['date']}, {meta['machine']}, {meta['repeats']} repeat(s)"
        f"{' (quick sizes)' if meta['quick'] else ''}. Medians with [min, max]; the ratio "
        "column divides by NumPyro's median (for times < 1 is faster; for ESS > 1 is better).",
        "",
    ]
    labels = {**{k: v[0] for k, v in METRICS.items()}, "cold_wall": "process wall time (s)"}
    for workload, by_library in summary.items():
        lines += [f"## {workload}", "", "| metric | " + " | ".join(by_library) + " |"]
        lines.append("|---" * (len(by_library) + 1) + "|")
        keys = [k for k in labels if any(k in m for m in by_library.values())]
        for key in keys:
            cells = []
            for metrics in by_library.values():
                stats = metrics.get(key)
                if stats is None:
                    cells.append("")
                    continue
                cell = f"{stats['median']:.4g} [{stats['min']:.3g}, {stats['max']:.3g}]"
                if "ratio_to_numpyro" in stats:
                    cell += f" ×{stats['ratio_to_numpyro']:.2f}"
                cells.append(cell)
            lines.append(f"| {labels[key]} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot(summary: dict, out_dir: Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    paths = []
    for key in ("time_to_first_samples", "warm_run", "ess_per_second", "overhead"):
        workloads = [w for w in summary if any(key in m for m in summary[w].values())]
        if not workloads:
            continue
        fig, ax = plt.subplots(figsize=(1.8 * len(workloads) + 2, 3.5))
        width = 0.8 / len(LIBRARIES)
        for offset, library in enumerate(LIBRARIES):
            ratios = [
                summary[w].get(library, {}).get(key, {}).get("ratio_to_numpyro", float("nan"))
                for w in workloads
            ]
            ax.bar(
                [i + offset * width for i in range(len(workloads))], ratios, width, label=library
            )
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set_xticks([i + width for i in range(len(workloads))], workloads, rotation=15)
        ax.set_ylabel(f"{METRICS[key][0]}\nratio to NumPyro")
        ax.legend()
        fig.tight_layout()
        path = out_dir / f"{key}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    from benchmarks.workloads import WORKLOADS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    workloads = [w for w in args.workloads.split(",") if w]
    unknown = set(workloads) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}; known: {sorted(WORKLOADS)}")
    libraries = [lib for lib in args.libraries.split(",") if lib]

    runs = []
    for repeat in range(repeats):
        for workload in workloads:
            for library in libraries:
                print(f"[{repeat + 1}/{repeats}] {workload:<24} {library:<9}", end="", flush=True)
                result = run_one(library, workload, args.quick)
                runs.append(result)
                print(f"  {result['cold_wall']:7.1f} s wall")

    import platform

    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "repeats": repeats,
        "quick": args.quick,
    }
    summary = summarize(runs)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(
        json.dumps({"meta": meta, "runs": runs, "summary": summary}, indent=2)
    )
    table = markdown(summary, meta)
    (out_dir / "results.md").write_text(table + "\n")
    plots = plot(summary, out_dir)
    print()
    print(table)
    print(f"Wrote {out_dir / 'results.json'}, results.md and {len(plots)} plot(s).")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
