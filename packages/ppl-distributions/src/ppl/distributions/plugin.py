"""The ppl plugin entry point of ppl-distributions (entry-point group ``ppl``).

Registers every public distribution of :mod:`ppl.distributions` by name, so
that registry look-ups (e.g. ``Unit`` for :func:`ppl.factor`) find them, and
the conjugacy rules used by :class:`ppl.handlers.collapse`. The package's own
KL rules live in :mod:`ppl.distributions.kl` directly; the ``register_kl``
hook is for third-party plugins.
"""

from __future__ import annotations

import inspect
from typing import Any

from ppl.plugins import hookimpl

PPL_PLUGIN_API = 1

# Public names of ppl.distributions that are not distributions.
_NOT_DISTRIBUTIONS = frozenset(
    {"biject_to", "constraints", "transforms", "kl_divergence", "register_kl"}
)


def public_distributions() -> dict[str, Any]:
    """Every distribution class and factory (e.g. ``Bernoulli``) exported by the package."""
    import ppl.distributions as package
    from ppl.distributions.distribution import Distribution

    found = {}
    for name in package.__all__:
        if name in _NOT_DISTRIBUTIONS:
            continue
        obj = getattr(package, name)
        is_class = inspect.isclass(obj) and issubclass(obj, Distribution)
        # NumPyro's parametrization factories (Bernoulli(probs=...|logits=...)) are functions.
        if is_class or inspect.isfunction(obj):
            found[name] = obj
    return found


@hookimpl
def register_distributions(register: Any) -> None:
    for name, obj in public_distributions().items():
        register(name, obj)


@hookimpl
def register_conjugacy(register: Any) -> None:
    from ppl.distributions.conjugacy import CONJUGACY_RULES

    for prior_type, likelihood_type, rule in CONJUGACY_RULES:
        register(prior_type, likelihood_type, rule)


@hookimpl
def register_reparams(register: Any) -> None:
    from ppl.distributions import reparam

    for name in reparam.__all__:
        register(name, getattr(reparam, name))
