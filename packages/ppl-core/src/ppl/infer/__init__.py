"""Inference: the facade users import from.

``from ppl.infer import MCMC, NUTS, SVI, Trace_ELBO, Predictive`` works with
whichever inference plugins are installed: the model-level utilities below
live in ppl-core, everything else is looked up in the plugin registry on first
access. A name that a first-party package provides raises an ``ImportError``
naming the package to install when that package is missing.
"""

from typing import Any

from ppl.infer import _facade
from ppl.infer.initialization import (
    init_to_feasible,
    init_to_mean,
    init_to_median,
    init_to_sample,
    init_to_uniform,
    init_to_value,
)
from ppl.infer.predictive import Predictive
from ppl.infer.util import (
    constrain_fn,
    initialize_model,
    log_density,
    log_likelihood,
    potential_energy,
    transform_fn,
    unconstrain_fn,
)

__all__ = [
    "Predictive",
    "constrain_fn",
    "init_to_feasible",
    "init_to_mean",
    "init_to_median",
    "init_to_sample",
    "init_to_uniform",
    "init_to_value",
    "initialize_model",
    "log_density",
    "log_likelihood",
    "potential_energy",
    "transform_fn",
    "unconstrain_fn",
]

_KINDS = ("kernels", "inference", "reparams")


#: Facade submodules named like NumPyro's (``ppl.infer.hmc`` is the module, as
#: ``numpyro.infer.hmc`` is, even though a function of that name is registered).
_SUBMODULES = frozenset(
    {
        "autoguide",
        "barker",
        "elbo",
        "ensemble",
        "gibbs",
        "hmc",
        "hmc_gibbs",
        "mcmc",
        "mixed_hmc",
        "reparam",
        "sa",
        "svi",
    }
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    return _facade.resolve(__name__, name, _KINDS)


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(_facade.available(_KINDS)))
