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
    from ppl.mcmc.barker import BarkerMH, BarkerMHState
    from ppl.mcmc.discrete_gibbs import DiscreteGibbs
    from ppl.mcmc.ensemble import (
        AIES,
        ESS,
        AIESState,
        EnsembleSampler,
        EnsembleSamplerState,
        ESSState,
    )
    from ppl.mcmc.functional import hmc
    from ppl.mcmc.gibbs import CustomGibbs, Gibbs
    from ppl.mcmc.hmc import HMC, HMCState
    from ppl.mcmc.hmc_ecs import HMCECS, HMCECSState, taylor_proxy
    from ppl.mcmc.hmc_gibbs import DiscreteHMCGibbs, HMCGibbs
    from ppl.mcmc.kernels import MCMCKernel
    from ppl.mcmc.mcmc import MCMC
    from ppl.mcmc.mixed_hmc import MixedHMC
    from ppl.mcmc.nuts import NUTS
    from ppl.mcmc.sa import SA, SAState

    for name, obj in (
        ("MCMC", MCMC),
        ("MCMCKernel", MCMCKernel),
        ("HMC", HMC),
        ("NUTS", NUTS),
        ("HMCState", HMCState),
        ("Gibbs", Gibbs),
        ("CustomGibbs", CustomGibbs),
        ("HMCGibbs", HMCGibbs),
        ("DiscreteGibbs", DiscreteGibbs),
        ("DiscreteHMCGibbs", DiscreteHMCGibbs),
        ("MixedHMC", MixedHMC),
        ("HMCECS", HMCECS),
        ("HMCECSState", HMCECSState),
        ("taylor_proxy", taylor_proxy),
        ("SA", SA),
        ("SAState", SAState),
        ("BarkerMH", BarkerMH),
        ("BarkerMHState", BarkerMHState),
        ("EnsembleSampler", EnsembleSampler),
        ("EnsembleSamplerState", EnsembleSamplerState),
        ("AIES", AIES),
        ("AIESState", AIESState),
        ("ESS", ESS),
        ("ESSState", ESSState),
        ("hmc", hmc),
        ("diagnostics", diagnostics),
    ):
        register(name, obj)
