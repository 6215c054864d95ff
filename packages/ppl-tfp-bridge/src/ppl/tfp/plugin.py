"""The ppl plugin entry point of ppl-tfp-bridge (entry-point group ``ppl``).

* ``register_kernels``: :class:`~ppl.tfp.mcmc.TFPKernel`, its state, and the
  named TFP kernels (``NoUTurnSampler``, ``RandomWalkMetropolis``, ...), so
  that ``from ppl.infer import TFPKernel`` works.
* ``register_bijections``: ``biject_to`` for the constraints this package
  adds (the image of a TFP bijector; an unmapped support, which explains
  itself).
* ``adapt_distribution``: raw TFP distribution objects at ``ppl.sample`` sites.

Nothing here imports TensorFlow Probability: discovering plugins must stay
cheap, and no object can be a TFP distribution before TFP is imported.
"""

from __future__ import annotations

from typing import Any

from ppl.plugins import hookimpl

PPL_PLUGIN_API = 1


@hookimpl
def register_kernels(register: Any) -> None:
    from ppl.tfp import mcmc

    register("TFPKernel", mcmc.TFPKernel)
    register("TFPKernelState", mcmc.TFPKernelState)
    for name in mcmc.KNOWN_KERNELS:
        register(name, getattr(mcmc, name))


@hookimpl
def register_bijections(register: Any) -> None:
    from ppl.tfp import support

    register(support.BijectorConstraint, support.transform_to_bijector_constraint)
    register(support.UnmappedSupport, support.transform_to_unmapped_support)


@hookimpl
def adapt_distribution(obj: Any) -> Any:
    from ppl.tfp import _tfp

    if not _tfp.from_tensorflow_probability(obj):
        return None
    from ppl.tfp.distributions import wrap

    # wrap() also explains what is wrong with TFP objects it cannot take (a
    # distribution of the TensorFlow substrate, a bijector, ...).
    return wrap(obj)
