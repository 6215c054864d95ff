"""The ppl plugin entry point of ppl-mcmc (entry-point group ``ppl``).

Registers the MCMC driver and kernels so that ``from ppl.infer import MCMC, NUTS``
works.
"""

from __future__ import annotations

from typing import Any

from ppl.plugins import hookimpl

PPL_PLUGIN_API = 1


@hookimpl
def register_kernels(register: Any) -> None:
    from ppl.mcmc import diagnostics
    from ppl.mcmc.functional import hmc
    from ppl.mcmc.gibbs import CustomGibbs, Gibbs
    from ppl.mcmc.hmc import HMC, HMCState
    from ppl.mcmc.hmc_gibbs import HMCGibbs
    from ppl.mcmc.kernels import MCMCKernel
    from ppl.mcmc.mcmc import MCMC
    from ppl.mcmc.nuts import NUTS

    for name, obj in (
        ("MCMC", MCMC),
        ("MCMCKernel", MCMCKernel),
        ("HMC", HMC),
        ("NUTS", NUTS),
        ("HMCState", HMCState),
        ("Gibbs", Gibbs),
        ("CustomGibbs", CustomGibbs),
        ("HMCGibbs", HMCGibbs),
        ("hmc", hmc),
        ("diagnostics", diagnostics),
    ):
        register(name, obj)
