"""Benchmark ppl against NumPyro (and BlackJAX where it applies), side by side, as ratios.

Every (library, workload) pair runs in a fresh process, interleaved
(A, B, C, A, B, C, ...) over several repeats so that machine noise hits all
libraries alike. Results: ``results.json``, ``results.md`` and PNG charts in
the output folder (``benchmarks/results`` by default).

    python benchmarks/run.py                      # full sizes, 3 repeats
    python benchmarks/run.py --quick              # small sizes, 1 repeat: a smoke run
    python benchmarks/run.py --workloads svi,eight_schools   # kinds and/or names
    python benchmarks/run.py --list               # the workloads and their kinds

A benchmark never fails for being slow; it reports. It exits non-zero only
when a run crashed (after writing the results of the others).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = ("ppl", "numpyro", "blackjax")


def prime_bytecode(order: list[tuple[str, str]]) -> None:
    """Run each (workload, library) once at quick sizes, untimed, with bytecode writing on.

    Python caches the bytecode of what it imports on the first run after an
    install, so a user's later processes start from ``.pyc`` files; an
    environment made by uv, on a machine with ``PYTHONDONTWRITEBYTECODE`` set,
    would otherwise compile every imported source (JAX's alone takes seconds)
    in every timed process. Priming puts every library in the user's steady
    state alike. ``--cold-bytecode`` skips it.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for workload, library in dict.fromkeys(order):
        command = [sys.executable, "-m", "benchmarks.worker", library, workload, "--quick"]
        subprocess.run(command, capture_output=True, env=env, cwd=ROOT)


def run_one(library: str, workload: str, quick: bool) -> dict:
    """One worker process: its JSON line plus ``cold_wall`` and ``cold_cpu`` (seconds of
    the whole process), or ``failed`` with the end of its stderr."""
    env = {**os.environ, "BENCH_SPAWN_TIME": repr(time.time())}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "benchmarks.worker", library, workload]
    if quick:
        command.append("--quick")
    start, cpu_start = time.time(), _children_cpu()
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    wall, cpu = time.time() - start, _children_cpu() - cpu_start
    if out.returncode != 0:
        return {"library": library, "workload": workload, "failed": out.stderr[-4000:]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(cold_wall=wall, cold_cpu=cpu)
    return result


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far: next to the
    wall time it shows how much of a run was spent waiting for a loaded machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def schedule(names: list[str], libraries: list[str], repeats: int) -> list[tuple[str, str]]:
    """``(workload, library)`` in running order: interleaved, each workload on the
    libraries its kind supports."""
    from benchmarks.kinds import KINDS
    from benchmarks.workloads import WORKLOADS

    order = []
    for _ in range(repeats):
        for name in names:
            supported = KINDS[WORKLOADS[name].KIND].LIBRARIES
            order += [(name, lib) for lib in libraries if lib in supported]
    return order


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=None, help="default 3, or 1 with --quick")
    parser.add_argument(
        "--workloads",
        default="all",
        help="comma-separated workload names and/or kinds (nuts, kernel, svi, distribution)",
    )
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    parser.add_argument(
        "--cold-bytecode",
        action="store_true",
        help="do not prime the bytecode caches first (caches left by earlier runs still serve)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    from benchmarks.report import charts, markdown, plot
    from benchmarks.summary import not_run, summarize
    from benchmarks.workloads import WORKLOADS, select

    parser = _parser()
    args = parser.parse_args(argv)
    if args.list:
        for name, module in WORKLOADS.items():
            print(f"{name:<26} {module.KIND:<13} {(module.__doc__ or '').splitlines()[0]}")
        return 0
    try:
        names = select(args.workloads)
    except ValueError as error:
        parser.error(str(error))
    libraries = [lib for lib in args.libraries.split(",") if lib]
    unknown = set(libraries) - set(LIBRARIES)
    if unknown:
        parser.error(f"unknown libraries {sorted(unknown)}; known: {list(LIBRARIES)}")
    repeats = args.repeats or (1 if args.quick else 3)
    if repeats < 1:
        parser.error(f"--repeats must be at least 1, got {repeats}")

    started = time.time()
    order = schedule(names, libraries, repeats)
    if not args.cold_bytecode:
        print("Priming the bytecode caches (one untimed quick run of each pair)...", flush=True)
        prime_bytecode(order)
    runs = []
    for i, (name, library) in enumerate(order, 1):
        print(f"[{i}/{len(order)}] {name:<26} {library:<9}", end="", flush=True)
        result = run_one(library, name, args.quick)
        runs.append(result)
        if "failed" in result:
            print("  FAILED")
            print(result["failed"], file=sys.stderr)
        elif "skipped" in result:
            print(f"  skipped: {result['skipped']}")
        else:
            print(f"  {result['cold_wall']:7.1f} s wall, {result['cold_cpu']:6.1f} s CPU")

    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "repeats": repeats,
        "quick": args.quick,
        "workloads": names,
        "libraries": libraries,
        "total_seconds": time.time() - started,
        "total_cpu_seconds": sum(r.get("cold_cpu", 0.0) for r in runs),
        "load_average": os.getloadavg(),
        "bytecode": "cold" if args.cold_bytecode else "primed",
        "devices": sorted({r["device"] for r in runs if "device" in r}),
        "versions": {k: v for r in runs for k, v in r.get("versions", {}).items()},
    }
    summary = summarize(runs)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(
        json.dumps({"meta": meta, "runs": runs, "summary": summary}, indent=2)
    )
    missing = not_run(runs)
    table = markdown(summary, meta, WORKLOADS, missing)
    (out_dir / "results.md").write_text(table + "\n")
    plots = plot(charts(summary, WORKLOADS), out_dir)
    print()
    print(table)
    print(
        f"Wrote {out_dir / 'results.json'}, results.md and {len(plots)} plot(s) in "
        f"{meta['total_seconds']:.0f} s ({meta['total_cpu_seconds']:.0f} s CPU in the workers)."
    )
    return 1 if any("failed" in r for r in runs) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
