"""Running a guide and the model against it, and checking that the two agree.

Every ELBO evaluates the same pair of traces: the guide run with the current
parameters, and the model replayed on the guide's draws. Each sample site of
both traces gets a ``"log_prob"`` entry: its elementwise log density with its
mask and scale applied (:func:`ppl.infer.util.site_log_prob`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from ppl.handlers import replay, substitute, trace
from ppl.infer.util import site_log_prob

__all__ = [
    "check_model_guide_match",
    "importance_traces",
    "latent_sites",
    "log_prob_sum",
    "mutable_values",
]


def importance_traces(
    model: Callable, guide: Callable, args: tuple, kwargs: dict, params: dict
) -> tuple[dict, dict]:
    """``(model_trace, guide_trace)``: the guide with ``params``, then the model replayed
    on the guide's draws, each sample site with its weighted ``"log_prob"``."""
    guide_trace = trace(substitute(guide, data=params)).get_trace(*args, **kwargs)
    replayed = substitute(replay(model, trace=guide_trace), data=params)
    model_trace = trace(replayed).get_trace(*args, **kwargs)
    for tr in (model_trace, guide_trace):
        for site in tr.values():
            if site["type"] == "sample":
                site["log_prob"] = site_log_prob(site)
    return model_trace, guide_trace


def log_prob_sum(site: dict) -> Any:
    """The summed weighted log density of a sample site."""
    log_prob = site["log_prob"] if "log_prob" in site else site_log_prob(site)
    return jnp.sum(log_prob)


def latent_sites(tr: dict) -> list[str]:
    """Names of the unobserved sample sites of a trace, in order."""
    return [
        name for name, site in tr.items() if site["type"] == "sample" and not site["is_observed"]
    ]


def mutable_values(tr: dict) -> dict:
    """Values of the ``"mutable"`` sites of a trace (state carried between SVI steps)."""
    return {name: site["value"] for name, site in tr.items() if site["type"] == "mutable"}


def _is_auxiliary(site: dict) -> bool:
    return bool(site.get("infer", {}).get("is_auxiliary"))


def check_model_guide_match(model_trace: dict, guide_trace: dict) -> None:
    """Raise if the guide samples sites the model does not have, or with other shapes.

    A guide latent site must be a latent site of the model (or be marked
    ``infer={"is_auxiliary": True}``). Model latent sites that the guide does
    not sample are drawn from the model's prior; that only warns, since it is
    legitimate for sites that are enumerated or deliberately left to the prior.
    """
    model_latents = set(latent_sites(model_trace))
    guide_latents = [
        name for name in latent_sites(guide_trace) if not _is_auxiliary(guide_trace[name])
    ]
    missing = [name for name in guide_latents if name not in model_trace]
    if missing:
        raise ValueError(
            f"The guide samples site(s) {missing} that the model does not have (the model's "
            f"latent sites are {sorted(model_latents)}). Each latent site of the guide must "
            "match a latent site of the model by name; mark guide-only variables with "
            "infer={'is_auxiliary': True}."
        )
    observed = [
        name
        for name in guide_latents
        if model_trace[name]["type"] != "sample" or model_trace[name]["is_observed"]
    ]
    if observed:
        raise ValueError(
            f"The guide samples site(s) {observed}, which the model observes or does not "
            "sample; a guide must only sample the model's latent variables."
        )
    auxiliary_in_model = [
        name
        for name in latent_sites(guide_trace)
        if _is_auxiliary(guide_trace[name]) and name in model_latents
    ]
    if auxiliary_in_model:
        raise ValueError(
            f"Site(s) {auxiliary_in_model} are marked is_auxiliary in the guide but are latent "
            "sites of the model; auxiliary guide sites must not appear in the model."
        )
    unguided = [
        name
        for name in model_latents
        if name not in guide_trace
        and model_trace[name].get("infer", {}).get("enumerate") != "parallel"
    ]
    if unguided:
        warnings.warn(
            f"Latent site(s) {sorted(unguided)} of the model are not in the guide; they are "
            "drawn from the model's prior at every step.",
            UserWarning,
            stacklevel=4,
        )
    for name in guide_latents:
        model_site, guide_site = model_trace[name], guide_trace[name]
        expected = tuple(model_site["fn"].batch_shape) + tuple(model_site["fn"].event_shape)
        got = tuple(jnp.shape(guide_site["value"]))
        if expected != got:
            raise ValueError(
                f"Site {name!r}: the guide draws values of shape {got}, but the model's "
                f"distribution there has shape {expected} (batch {model_site['fn'].batch_shape}"
                f" + event {model_site['fn'].event_shape}). Give the guide's distribution the "
                "same batch and event shape (e.g. with .to_event() or matching plates)."
            )
