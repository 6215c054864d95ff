"""Process-wide switches: precision, platform, host devices and validation."""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator

import jax

__all__ = [
    "enable_validation",
    "enable_x64",
    "is_validation_enabled",
    "set_host_device_count",
    "set_platform",
    "validation_enabled",
]

_VALIDATION = {"enabled": False}


def enable_x64(use_x64: bool = True) -> None:
    """Use 64-bit floats and integers by default (``jax_enable_x64``).

    Call it at the start of a program, before arrays are created.
    """
    if not use_x64:
        use_x64 = os.getenv("JAX_ENABLE_X64", "0").lower() in ("1", "true", "yes")
    jax.config.update("jax_enable_x64", bool(use_x64))


def set_platform(platform: str | None = None) -> None:
    """Choose the platform JAX runs on: ``"cpu"``, ``"gpu"`` or ``"tpu"``.

    ``None`` reads the ``JAX_PLATFORM_NAME`` environment variable, defaulting
    to ``"cpu"``. Like :func:`set_host_device_count`, this only takes effect
    before JAX has started its backends.
    """
    if platform is None:
        platform = os.getenv("JAX_PLATFORM_NAME", "cpu")
    jax.config.update("jax_platform_name", platform)


def _backends_initialized() -> bool:
    try:
        from jax._src import xla_bridge
    except ImportError:  # pragma: no cover - private module moved; assume the worst
        return True
    return bool(getattr(xla_bridge, "_backends", {}))


def set_host_device_count(n: int) -> None:
    """Expose ``n`` CPU devices to JAX, so that chains can run in parallel on a CPU.

    This sets ``--xla_force_host_platform_device_count`` in ``XLA_FLAGS`` and
    therefore only works before JAX initializes its backends (the first array
    operation). Called later, it changes nothing and warns so.

    Args:
        n: the number of host (CPU) devices.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_host_device_count: n must be a positive integer, got {n!r}")
    flags = os.getenv("XLA_FLAGS", "")
    flags = re.sub(r"--xla_force_host_platform_device_count=\S+", "", flags).split()
    os.environ["XLA_FLAGS"] = " ".join([f"--xla_force_host_platform_device_count={n}", *flags])
    if _backends_initialized():
        warnings.warn(
            f"set_host_device_count({n}) was called after JAX had already initialized its "
            f"backends, so it has no effect in this process (JAX sees {jax.local_device_count()} "
            "device(s)). Call it at the very start of the program, before any JAX computation, "
            f"or set XLA_FLAGS=--xla_force_host_platform_device_count={n} in the environment.",
            UserWarning,
            stacklevel=2,
        )


def enable_validation(is_validate: bool = True) -> None:
    """Check distribution arguments and observed values against their constraints.

    Validation is off by default because the checks cost time inside compiled
    loops; arguments that are obviously invalid constants are rejected
    regardless.
    """
    _VALIDATION["enabled"] = bool(is_validate)


def is_validation_enabled() -> bool:
    """Whether distribution validation is on (see :func:`enable_validation`)."""
    return _VALIDATION["enabled"]


@contextlib.contextmanager
def validation_enabled(is_validate: bool = True) -> Iterator[None]:
    """A context in which validation is switched on (or off), restored on exit::

    with ppl.validation_enabled():
        ...
    """
    before = _VALIDATION["enabled"]
    enable_validation(is_validate)
    try:
        yield
    finally:
        enable_validation(before)
