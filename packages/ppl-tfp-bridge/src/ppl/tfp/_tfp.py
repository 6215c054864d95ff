"""The one place that imports TensorFlow Probability's JAX substrate.

Importing TFP takes seconds, so the rest of the bridge asks for it through
these functions only when a TFP object is actually built or inspected; the
plugin entry point and ``import ppl.tfp`` stay cheap.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

_SUBSTRATE = "tensorflow_probability.substrates.jax"


def tfp() -> ModuleType:
    """``tensorflow_probability.substrates.jax``, with an actionable error when it is unusable."""
    module = sys.modules.get(_SUBSTRATE)
    if module is not None:
        return module
    try:
        from tensorflow_probability.substrates import jax as module
    except ImportError as error:
        raise ImportError(
            "ppl.tfp needs TensorFlow Probability's JAX substrate "
            "(`from tensorflow_probability.substrates import jax`), which failed to import: "
            f"{error}. Install the tfp-nightly version pinned by ppl-tfp-bridge "
            "(`pip install ppl-tfp-bridge` pulls it in); the tensorflow-probability 0.25 "
            "release does not import with current JAX, and installing both breaks each other."
        ) from error
    return module


def tfd() -> ModuleType:
    """``tfp.distributions`` of the JAX substrate."""
    return tfp().distributions


def tfb() -> ModuleType:
    """``tfp.bijectors`` of the JAX substrate."""
    return tfp().bijectors


def tfm() -> ModuleType:
    """``tfp.mcmc`` of the JAX substrate."""
    return tfp().mcmc


def from_tensorflow_probability(obj: Any) -> bool:
    """Whether ``obj``'s class comes from any TensorFlow Probability package (any substrate)."""
    return type(obj).__module__.startswith("tensorflow_probability")


def public_name(cls: type, module: ModuleType) -> str | None:
    """The name under which ``module`` exports ``cls`` (``None`` when it does not)."""
    name = cls.__name__
    return name if getattr(module, name, None) is cls else None
