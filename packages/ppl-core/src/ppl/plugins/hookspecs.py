"""Hook specifications: what a ppl plugin may provide.

Every hook is *register-style*: ppl calls it with a ``register`` callable and
the plugin calls ``register`` once per thing it provides. A plugin module
implements any subset of these hooks with :data:`hookimpl` and declares the
plugin API it was written against in a module attribute
``PPL_PLUGIN_API`` (see :data:`ppl.plugins.PLUGIN_API_VERSION`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT_NAME = "ppl"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[..., None]


@hookspec
def register_distributions(register: Register) -> None:
    """Provide distributions: ``register(name, cls)``.

    Registered names are importable from ``ppl.distributions`` look-ups made
    through the registry (e.g. by ``factor`` for ``Unit``).
    """


@hookspec
def register_kernels(register: Register) -> None:
    """Provide MCMC kernels and drivers: ``register(name, obj)``.

    Every registered name is importable from :mod:`ppl.infer`.
    """


@hookspec
def register_inference(register: Register) -> None:
    """Provide inference utilities (SVI, ELBOs, autoguides, ...): ``register(name, obj)``.

    Names are importable from :mod:`ppl.infer`; autoguides also from
    :mod:`ppl.infer.autoguide`.
    """


@hookspec
def register_optimizers(register: Register) -> None:
    """Provide optimizers: ``register(name, obj)``."""


@hookspec
def register_reparams(register: Register) -> None:
    """Provide reparameterizers: ``register(name, cls)``.

    Registered names are importable from :mod:`ppl.infer.reparam`.
    """


@hookspec
def register_bijections(register: Register) -> None:
    """Extend :func:`ppl.transforms.biject_to`: ``register(constraint_type, factory)``.

    ``factory(constraint)`` returns a transform from the reals onto the
    constraint's support.
    """


@hookspec
def register_kl(register: Register) -> None:
    """Provide KL divergences: ``register(type_p, type_q, fn)`` with ``fn(p, q) -> array``."""


@hookspec
def register_conjugacy(register: Register) -> None:
    """Provide conjugacy rules for :class:`ppl.handlers.collapse`.

    ``register(prior_type, likelihood_type, rule)`` where
    ``rule(prior, likelihood_type, params, latent_param, value)`` returns the
    log marginal likelihood of the observed ``value`` (summed to a scalar)
    once the latent drawn from ``prior`` is integrated out. ``params`` are the
    likelihood's constructor arguments by name and ``latent_param`` names the
    one the latent was passed as. A rule returns ``None`` when the pair is
    conjugate in general but not for this parameter (e.g. logits instead of
    probs).
    """


@hookspec(firstresult=True)
def adapt_distribution(obj: Any) -> Any:
    """Turn a foreign distribution object into one that follows ppl's protocol.

    Called by :func:`ppl.sample` when its ``fn`` is not a ppl distribution.
    Return the adapted distribution, or ``None`` when this plugin does not
    know the object; the first non-``None`` answer wins.
    """
