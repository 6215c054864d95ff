"""How inference programs are compiled: XLA options chosen per program role.

An inference run compiles a few programs of very different lives. The
initial-point search and the initial state run once per chain and run, so on
the CPU the time LLVM spends optimizing them is never won back; the sampling
loop runs thousands of iterations, yet on small and medium models its speed
barely moves past LLVM's first optimization level while its compile time does.
:func:`jit` compiles each program with the options of its role:

================  ===========================================================
role              CPU options
================  ===========================================================
``"setup"``       ``xla_backend_optimization_level=0`` and no fusion emitters
``"loop"``        ``xla_backend_optimization_level=1``
``"default"``     XLA's defaults
================  ===========================================================

Other backends (GPU, TPU) always get XLA's defaults, as does every program
after :func:`set_fast_compile` ``(False)``. Options the installed jaxlib does
not know are dropped (checked once per process, by one small compile), so a jaxlib upgrade never
turns into a compile error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal

import jax

__all__ = ["Role", "compile_options", "fast_compile_enabled", "jit", "set_fast_compile"]

Role = Literal["setup", "loop", "default"]

_CPU_OPTIONS: dict[str, dict[str, Any]] = {
    "setup": {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False},
    "loop": {"xla_backend_optimization_level": 1},
    "default": {},
}

_fast_compile = True


def set_fast_compile(enabled: bool) -> None:
    """Turn the per-role compile options of :func:`jit` on (the default) or off.

    Programs already compiled keep their options; set this before the first run.
    """
    global _fast_compile
    _fast_compile = bool(enabled)


def fast_compile_enabled() -> bool:
    """Whether :func:`jit` uses per-role compile options."""
    return _fast_compile


def _compiles_with(options: dict[str, Any]) -> bool:
    probe = jax.jit(lambda x: x + 1, compiler_options=options)
    try:
        probe(0.0)
    except Exception:  # jaxlib raises its own runtime error type
        return False
    return True


@functools.cache
def _known_options() -> frozenset[str]:
    # One probe compile covers every role's option names (values do not matter
    # to whether XLA knows a name); name by name only when it fails.
    probe = {}
    for options in _CPU_OPTIONS.values():
        probe.update(options)
    if _compiles_with(probe):
        return frozenset(probe)
    return frozenset(name for name, value in probe.items() if _compiles_with({name: value}))


def compile_options(role: Role) -> dict[str, Any]:
    """The XLA compile options :func:`jit` uses for a program of ``role`` now.

    Empty off the CPU, after ``set_fast_compile(False)`` and for ``"default"``.
    """
    if role not in _CPU_OPTIONS:
        raise ValueError(f"role must be one of {sorted(_CPU_OPTIONS)}, got {role!r}")
    if not _fast_compile or jax.default_backend() != "cpu":
        return {}
    options = _CPU_OPTIONS[role]
    if not options:
        return {}
    known = _known_options()
    return {name: value for name, value in options.items() if name in known}


def jit(fn: Callable, role: Role, **jit_kwargs: Any) -> Callable:
    """:func:`jax.jit` of ``fn`` with the compile options of ``role``.

    Args:
        fn: the function to compile.
        role: ``"setup"`` for programs that run once per inference run,
            ``"loop"`` for the long-running sampling or optimization loop,
            ``"default"`` for XLA's defaults.
        **jit_kwargs: further :func:`jax.jit` arguments.
    """
    options = compile_options(role)
    if options:
        jit_kwargs["compiler_options"] = {**options, **jit_kwargs.get("compiler_options", {})}
    return jax.jit(fn, **jit_kwargs)
