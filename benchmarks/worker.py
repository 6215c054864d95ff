"""Run one workload on one library in this (fresh) process and print its metrics as JSON.

Usage: ``python -m benchmarks.worker LIBRARY WORKLOAD [--quick]``. The workload's
kind (``benchmarks/kinds/``) does the measuring; this module only picks the
sizes, builds the data, adds the peak memory and prints one JSON line. When
the library lacks what the workload needs, the line says ``skipped`` and why.
The driver (``benchmarks/run.py``) sets ``BENCH_SPAWN_TIME`` so that "start to
first result" includes interpreter start-up and imports.
"""

from __future__ import annotations

import argparse
import json
import sys

from benchmarks.measure import peak_memory_mb


def run(library: str, name: str, quick: bool) -> dict:
    """The metrics of ``name`` on ``library``, or ``{"skipped": reason}``."""
    from benchmarks.kinds import KINDS
    from benchmarks.kinds.spec import Unavailable
    from benchmarks.workloads import WORKLOADS

    workload = WORKLOADS[name]
    kind = KINDS[workload.KIND]
    if library not in kind.LIBRARIES:
        raise ValueError(f"the {workload.KIND} kind runs on {kind.LIBRARIES}, not {library!r}")
    settings = workload.QUICK_SETTINGS if quick else workload.SETTINGS
    head = {"library": library, "workload": name, "kind": workload.KIND}
    try:
        result = kind.run(library, workload, settings, workload.make_data(quick))
    except Unavailable as reason:
        return {**head, "skipped": str(reason)}
    return {**head, **result, **_environment(library), "peak_memory_mb": peak_memory_mb()}


def _environment(library: str) -> dict:
    """Where the run happened: JAX's backend and device, and the versions used."""
    from importlib import metadata

    import jax

    distribution = {"ppl": "ppl-mcmc"}.get(library, library)
    device = jax.devices()[0]
    return {
        "device": f"{jax.default_backend()} ({device.device_kind})",
        "versions": {"jax": jax.__version__, distribution: metadata.version(distribution)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("library", choices=["ppl", "numpyro", "blackjax"])
    parser.add_argument("workload")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.library, args.workload, args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
