"""Markov chain Monte Carlo for ppl: the :class:`MCMC` driver, :class:`HMC` and
:class:`NUTS` kernels, warmup adaptation and diagnostics.

The same names are available from :mod:`ppl.infer` once this package is
installed (it registers them through its plugin entry point).

Each name is imported from its module on first access (``from ppl.mcmc import
NUTS`` loads NUTS and what it needs, not every kernel), which keeps the start
of a program short.
"""

# Bound eagerly: importing the submodule ppl.mcmc.hmc would otherwise make
# `ppl.mcmc.hmc` the module, not the functional interface.
from ppl.mcmc.functional import hmc as hmc
from ppl.plugins.lazy import lazy_exports

#: public name -> the module that defines it (a module maps to itself).
EXPORTS = {
    "diagnostics": "diagnostics",
    "HMCAdaptState": "adaptation",
    "build_adaptation_schedule": "adaptation",
    "warmup_adapter": "adaptation",
    "BarkerMH": "barker",
    "BarkerMHState": "barker",
    "DiscreteGibbs": "discrete_gibbs",
    "DiscreteGibbsState": "discrete_gibbs",
    "AIES": "ensemble",
    "AIESState": "ensemble",
    "ESS": "ensemble",
    "ESSState": "ensemble",
    "EnsembleSampler": "ensemble",
    "EnsembleSamplerState": "ensemble",
    "CustomGibbs": "gibbs",
    "Gibbs": "gibbs",
    "GibbsState": "gibbs",
    "HMC": "hmc",
    "HMCState": "hmc",
    "HMCECS": "hmc_ecs",
    "HMCECSState": "hmc_ecs",
    "taylor_proxy": "hmc_ecs",
    "DiscreteHMCGibbs": "hmc_gibbs",
    "HMCGibbs": "hmc_gibbs",
    "HMCGibbsState": "hmc_gibbs",
    "IntegratorState": "integrators",
    "velocity_verlet": "integrators",
    "MCMCKernel": "kernels",
    "MCMC": "mcmc",
    "euclidean_kinetic_energy": "metrics",
    "MixedHMC": "mixed_hmc",
    "MixedHMCState": "mixed_hmc",
    "NUTS": "nuts",
    "SA": "sa",
    "SAState": "sa",
}

__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)

__all__ = sorted([*EXPORTS, "hmc"])
