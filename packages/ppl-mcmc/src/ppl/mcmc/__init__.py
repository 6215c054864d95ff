"""Markov chain Monte Carlo for ppl: the :class:`MCMC` driver, :class:`HMC` and
:class:`NUTS` kernels, warmup adaptation and diagnostics.

The same names are available from :mod:`ppl.infer` once this package is
installed (it registers them through its plugin entry point).
"""

from ppl.mcmc import diagnostics
from ppl.mcmc.adaptation import HMCAdaptState, build_adaptation_schedule, warmup_adapter
from ppl.mcmc.barker import BarkerMH, BarkerMHState
from ppl.mcmc.discrete_gibbs import DiscreteGibbs, DiscreteGibbsState
from ppl.mcmc.ensemble import AIES, ESS, AIESState, EnsembleSampler, EnsembleSamplerState, ESSState
from ppl.mcmc.functional import hmc
from ppl.mcmc.gibbs import CustomGibbs, Gibbs, GibbsState
from ppl.mcmc.hmc import HMC, HMCState
from ppl.mcmc.hmc_ecs import HMCECS, HMCECSState, taylor_proxy
from ppl.mcmc.hmc_gibbs import DiscreteHMCGibbs, HMCGibbs, HMCGibbsState
from ppl.mcmc.integrators import IntegratorState, velocity_verlet
from ppl.mcmc.kernels import MCMCKernel
from ppl.mcmc.mcmc import MCMC
from ppl.mcmc.metrics import euclidean_kinetic_energy
from ppl.mcmc.mixed_hmc import MixedHMC, MixedHMCState
from ppl.mcmc.nuts import NUTS
from ppl.mcmc.sa import SA, SAState

__all__ = [
    "HMCECS",
    "HMCECSState",
    "taylor_proxy",
    "DiscreteGibbs",
    "DiscreteGibbsState",
    "DiscreteHMCGibbs",
    "MixedHMC",
    "MixedHMCState",
    "AIES",
    "AIESState",
    "BarkerMH",
    "BarkerMHState",
    "ESS",
    "ESSState",
    "EnsembleSampler",
    "EnsembleSamplerState",
    "SA",
    "SAState",
    "CustomGibbs",
    "Gibbs",
    "GibbsState",
    "HMC",
    "HMCGibbs",
    "HMCGibbsState",
    "MCMC",
    "NUTS",
    "HMCAdaptState",
    "HMCState",
    "IntegratorState",
    "MCMCKernel",
    "build_adaptation_schedule",
    "diagnostics",
    "euclidean_kinetic_energy",
    "hmc",
    "velocity_verlet",
    "warmup_adapter",
]
