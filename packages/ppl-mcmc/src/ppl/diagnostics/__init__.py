"""MCMC diagnostics under NumPyro's module path (``numpyro.diagnostics`` becomes
``ppl.diagnostics``): the same functions as :mod:`ppl.mcmc.diagnostics`."""

from ppl.mcmc.diagnostics import *  # noqa: F403
from ppl.mcmc.diagnostics import __all__  # noqa: F401
