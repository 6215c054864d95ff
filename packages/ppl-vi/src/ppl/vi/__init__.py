"""ppl.vi: stochastic variational inference.

:class:`SVI` fits a guide to a model by stochastic optimization of an ELBO
objective (:class:`Trace_ELBO`, :class:`TraceMeanField_ELBO`,
:class:`TraceGraph_ELBO`, :class:`RenyiELBO`); :mod:`ppl.vi.autoguide` builds
guides automatically; :mod:`ppl.optim` holds the optimizers (any optax
transformation works too). Through the plugin registry these are also
``ppl.infer.SVI``, ``ppl.infer.autoguide.AutoNormal`` and so on.

Each name is imported from its module on first access, so that importing
``ppl.vi`` (which plugin discovery does) does not import optax.
"""

from ppl.plugins.lazy import lazy_exports

#: public name -> the module that defines it, relative to this package.
EXPORTS = {
    "autoguide": "autoguide",
    "AutoBatchedLowRankMultivariateNormal": "autoguide",
    "AutoBatchedMultivariateNormal": "autoguide",
    "AutoBNAFNormal": "autoguide",
    "AutoContinuous": "autoguide",
    "AutoDAIS": "autoguide",
    "AutoDelta": "autoguide",
    "AutoDiagonalNormal": "autoguide",
    "AutoGuide": "autoguide",
    "AutoGuideList": "autoguide",
    "AutoIAFNormal": "autoguide",
    "AutoLaplaceApproximation": "autoguide",
    "AutoLowRankMultivariateNormal": "autoguide",
    "AutoMultivariateNormal": "autoguide",
    "AutoNormal": "autoguide",
    "ELBO": "elbo",
    "Trace_ELBO": "elbo",
    "TraceMeanField_ELBO": "elbo",
    "RenyiELBO": "renyi",
    "NeuTraReparam": "reparam",
    "SVI": "svi",
    "NonFiniteLossError": "svi",
    "SVIRunResult": "svi",
    "SVIState": "svi",
    "TraceGraph_ELBO": "tracegraph",
}

__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)

__all__ = sorted(EXPORTS)
