"""Autoguides (``from ppl.infer.autoguide import AutoNormal``), provided by ppl-vi."""

from typing import Any

from ppl.infer import _facade

_KINDS = ("inference",)


def __getattr__(name: str) -> Any:
    return _facade.resolve(__name__, name, _KINDS)


def __dir__() -> list[str]:
    return [name for name in _facade.available(_KINDS) if name.startswith("Auto")]
