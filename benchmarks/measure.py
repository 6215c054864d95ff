"""Clocks for the benchmark workers: wall time of JAX work, warm medians, peak memory.

Every time is taken after ``jax.block_until_ready`` on the result, since JAX
dispatches asynchronously and an unblocked call returns before the work is done.
"""

from __future__ import annotations

import math
import os
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

#: When the driver spawned this process (``time.time()``), so that "start to
#: first result" includes interpreter start-up and imports.
SPAWN_TIME = float(os.environ.get("BENCH_SPAWN_TIME", time.time()))


def block(tree: Any) -> Any:
    """Wait until every array in ``tree`` is computed."""
    import jax

    return jax.block_until_ready(tree)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``(fn(), seconds)``, blocking on the result."""
    start = time.perf_counter()
    out = block(fn())
    return out, time.perf_counter() - start


#: JAX's compile-time events: tracing to a jaxpr, lowering to MLIR, XLA compilation.
_COMPILE_EVENTS = frozenset(
    {
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
        "/jax/core/compile/backend_compile_duration",
    }
)
_compile_seconds = [0.0]
_listening = [False]


def _on_event(name: str, seconds: float, **kwargs: Any) -> None:
    if name in _COMPILE_EVENTS:
        _compile_seconds[0] += seconds


def compile_seconds() -> float:
    """Seconds JAX has spent tracing, lowering and compiling since the first call.

    Read it before and after a call: the difference is that call's compile time,
    however the library splits its work between a first and a later call (a
    library that compiles again on a re-run does not get a smaller figure).
    """
    if not _listening[0]:
        import jax

        jax.monitoring.register_event_duration_secs_listener(_on_event)
        _listening[0] = True
    return _compile_seconds[0]


def since_spawn() -> float:
    """Seconds since the driver spawned this process."""
    return time.time() - SPAWN_TIME


def warm_median(fn: Callable[[], Any], calls: int, min_seconds: float = 0.0) -> tuple[float, float]:
    """``(first, per_call)``: seconds of the first call of ``fn`` (compile included)
    and the median, over ``calls`` samples, of the seconds per warm call.

    Each sample times enough back-to-back calls to last about ``min_seconds``
    (one at least), blocking once at its end: a call of a fraction of a
    millisecond is otherwise lost in timer and scheduler noise.
    """
    if calls < 1:
        raise ValueError(f"calls must be at least 1, got {calls}")
    _, first = timed(fn)
    _, once = timed(fn)
    number = max(1, math.ceil(min_seconds / max(once, 1e-9)))
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        for _ in range(number):
            out = fn()
        block(out)
        samples.append((time.perf_counter() - start) / number)
    return first, statistics.median(samples)


def peak_memory_mb() -> float:
    """Peak resident memory of this process in MB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
