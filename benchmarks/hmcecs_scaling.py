"""HMCECS scaling benchmark: ppl and NumPyro side by side, N = 10,000 .. 1,000,000.

Each (library, N) pair runs in a fresh process (``--worker``), pairs interleaved
within each repeat so that drifting machine load hits both libraries alike. Results
go to ``benchmarks/results/``: ``hmcecs_scaling.json`` (every run and the summary),
``hmcecs_scaling.md`` (the table) and ``hmcecs_scaling.png`` (time per sample
against N).

Usage::

    python -m benchmarks.hmcecs_scaling                 # N = 1e4, 1e5, 1e6, 2 repeats
    python -m benchmarks.hmcecs_scaling --quick         # smaller sizes, 1 repeat
    python -m benchmarks.hmcecs_scaling --sizes 10000 100000 --repeats 3

The Python running it needs ppl and numpyro installed (a scratch environment).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.workloads import hmcecs_scaling as workload

LIBRARIES = ("ppl", "numpyro")
RESULTS = Path(__file__).resolve().parent / "results"
METRICS = {
    "time_per_sample_ms": "time per sample (ms)",
    "first_run_s": "first run (s, init + compile)",
    "warm_run_s": "warm run (s)",
    "min_bulk_ess": "min bulk ESS",
    "ess_per_s": "ESS/s (warm)",
    "mean_num_steps": "leapfrog steps per sample",
    "index_accept_prob": "index acceptance",
}


def worker(library: str, num_data: int, quick: bool, seed: int) -> dict:
    from benchmarks.measure import peak_memory_mb

    settings = workload.QUICK_SETTINGS if quick else workload.SETTINGS
    result = workload.run(library, num_data, settings, seed)
    return {"library": library, **result, "peak_memory_mb": peak_memory_mb()}


def spawn(library: str, num_data: int, quick: bool, seed: int, timeout: float) -> dict:
    command = [sys.executable, "-m", "benchmarks.hmcecs_scaling", "--worker", library]
    command += ["--num-data", str(num_data), "--seed", str(seed)] + (["--quick"] if quick else [])
    root = Path(__file__).resolve().parents[1]
    try:
        done = subprocess.run(
            command, cwd=root, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"library": library, "num_data": num_data, "failed": f"timeout {timeout} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"library": library, "num_data": num_data, "failed": " | ".join(tail)}
    return json.loads(lines[-1])


def summarize(runs: list[dict], sizes: list[int]) -> dict:
    """Median of each metric per (library, N), and the ppl / NumPyro time ratio."""
    summary: dict = {}
    for num_data in sizes:
        row: dict = {}
        for library in LIBRARIES:
            ok = [r for r in runs if r["library"] == library and r["num_data"] == num_data]
            ok = [r for r in ok if "failed" not in r]
            if ok:
                row[library] = {
                    key: statistics.median(r[key] for r in ok)
                    for key in [*METRICS, "peak_memory_mb"]
                }
        if "ppl" in row and "numpyro" in row:
            row["time_ratio_ppl_over_numpyro"] = (
                row["ppl"]["time_per_sample_ms"] / row["numpyro"]["time_per_sample_ms"]
            )
        summary[str(num_data)] = row
    return summary


def markdown(summary: dict, settings: dict, repeats: int) -> str:
    lines = [
        "# HMCECS scaling: logistic regression, NUTS inner kernel, Taylor proxy",
        "",
        f"Settings: {settings}; medians over {repeats} repeat(s), each (library, N) in a "
        "fresh process. Time per sample = warm run (warmup + sampling, nothing compiled) / "
        "(num_warmup + num_samples).",
        "",
        "| N | metric | ppl | NumPyro |",
        "|---|---|---|---|",
    ]
    for num_data, row in summary.items():
        for key, label in [*METRICS.items(), ("peak_memory_mb", "peak memory (MB)")]:
            values = [row.get(lib, {}).get(key) for lib in LIBRARIES]
            cells = ["n/a" if v is None else f"{v:.3g}" for v in values]
            lines.append(f"| {int(num_data):,} | {label} | {cells[0]} | {cells[1]} |")
        ratio = row.get("time_ratio_ppl_over_numpyro")
        if ratio is not None:
            lines.append(f"| {int(num_data):,} | **time ratio ppl / NumPyro** | {ratio:.2f} | 1 |")
    return "\n".join(lines) + "\n"


def plot(summary: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    for library, marker in zip(LIBRARIES, ("o", "s"), strict=True):
        points = [
            (int(n), row[library]["time_per_sample_ms"])
            for n, row in summary.items()
            if library in row
        ]
        if points:
            ax.plot(*zip(*points, strict=True), marker=marker, label=library)
    ax.set_xscale("log")
    ax.set_xlabel("N (data points)")
    ax.set_ylabel("time per sample (ms)")
    ax.set_ylim(bottom=0)
    ax.set_title("HMCECS, fixed subsample size")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--num-data", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--libraries", nargs="+", choices=LIBRARIES, default=list(LIBRARIES))
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per worker")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.num_data, args.quick, args.seed)))
        return 0

    sizes = args.sizes or list(workload.QUICK_SIZES if args.quick else workload.SIZES)
    repeats = args.repeats or (1 if args.quick else 2)
    settings = workload.QUICK_SETTINGS if args.quick else workload.SETTINGS
    runs = []
    for repeat in range(repeats):
        for num_data in sizes:
            # Alternate which library goes first, so neither always runs on a warmer machine.
            order = args.libraries if repeat % 2 == 0 else args.libraries[::-1]
            for library in order:
                start = time.perf_counter()
                result = spawn(library, num_data, args.quick, args.seed + repeat, args.timeout)
                runs.append({**result, "repeat": repeat})
                status = result.get("failed") or f"{result['time_per_sample_ms']:.3f} ms/sample"
                print(
                    f"[{repeat}] {library:8s} N={num_data:>9,}: {status} "
                    f"({time.perf_counter() - start:.0f} s)",
                    flush=True,
                )
    summary = summarize(runs, sizes)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = "hmcecs_scaling_quick" if args.quick else "hmcecs_scaling"
    (args.out_dir / f"{stem}.json").write_text(
        json.dumps(
            {"settings": settings, "sizes": sizes, "runs": runs, "summary": summary}, indent=2
        )
    )
    table = markdown(summary, settings, repeats)
    (args.out_dir / f"{stem}.md").write_text(table)
    print("\n" + table)
    if plot(summary, args.out_dir / f"{stem}.png"):
        print(f"plot: {args.out_dir / (stem + '.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
