"""The ppl plugin entry point of ppl-mcmc (entry-point group ``ppl``).

Registers the MCMC driver and kernels so that ``from ppl.infer import MCMC, NUTS``
works. Entries are lazy: each kernel's module is imported when its name is
first looked up.
"""

from __future__ import annotations

from typing import Any

from ppl.plugins import hookimpl
from ppl.plugins.lazy import lazy

PPL_PLUGIN_API = 1

#: What ppl.infer resolves to this package: name -> module of ppl.mcmc.
KERNELS = {
    "MCMC": "mcmc",
    "MCMCKernel": "kernels",
    "HMC": "hmc",
    "NUTS": "nuts",
    "HMCState": "hmc",
    "Gibbs": "gibbs",
    "CustomGibbs": "gibbs",
    "HMCGibbs": "hmc_gibbs",
    "DiscreteGibbs": "discrete_gibbs",
    "DiscreteHMCGibbs": "hmc_gibbs",
    "MixedHMC": "mixed_hmc",
    "HMCECS": "hmc_ecs",
    "HMCECSState": "hmc_ecs",
    "taylor_proxy": "hmc_ecs",
    "SA": "sa",
    "SAState": "sa",
    "BarkerMH": "barker",
    "BarkerMHState": "barker",
    "EnsembleSampler": "ensemble",
    "EnsembleSamplerState": "ensemble",
    "AIES": "ensemble",
    "AIESState": "ensemble",
    "ESS": "ensemble",
    "ESSState": "ensemble",
    "hmc": "functional",
}


@hookimpl
def register_kernels(register: Any) -> None:
    for name, module in KERNELS.items():
        register(name, lazy(f"ppl.mcmc.{module}:{name}"))
    register("diagnostics", lazy("ppl.mcmc.diagnostics"))
