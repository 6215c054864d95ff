"""ppl: probabilistic programming on JAX.

``ppl`` is a namespace shared by several separately installed distributions:
ppl-core ships this file and the model language; ``ppl.distributions``,
``ppl.mcmc``, ``ppl.vi`` and ``ppl.tfp`` come from their own packages and are
found through :func:`pkgutil.extend_path`, from wheels and editable checkouts
alike.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

import importlib
from typing import Any

from ppl import handlers
from ppl.primitives import (
    deterministic,
    factor,
    get_mask,
    module,
    param,
    plate,
    plate_stack,
    prng_key,
    sample,
    subsample,
)
from ppl.util import (
    enable_validation,
    enable_x64,
    is_validation_enabled,
    set_host_device_count,
    set_platform,
    validation_enabled,
)

__version__ = "0.1.0"

__all__ = [
    "deterministic",
    "enable_validation",
    "enable_x64",
    "factor",
    "get_mask",
    "handlers",
    "is_validation_enabled",
    "module",
    "param",
    "plate",
    "plate_stack",
    "prng_key",
    "render_model",
    "sample",
    "set_host_device_count",
    "set_platform",
    "subsample",
    "validation_enabled",
]

# Subpackages imported on first attribute access, so `import ppl` stays cheap and
# `ppl.distributions.Normal` works after a bare `import ppl` when the plugin is installed.
_LAZY_SUBMODULES = {
    "constraints",
    "transforms",
    "infer",
    "plugins",
    "primitives",
    "util",
    "distributions",
    "mcmc",
    "vi",
    "tfp",
    "optim",
    "diagnostics",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"ppl.{name}")
    if name == "render_model":
        # Imported on first use: ppl.render needs jax.extend, which costs start-up time.
        from ppl.render import render_model

        return render_model
    raise AttributeError(f"module 'ppl' has no attribute {name!r}")
