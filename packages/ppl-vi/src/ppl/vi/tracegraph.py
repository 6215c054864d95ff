r"""Score-function gradients with Rao-Blackwellization: :class:`TraceGraph_ELBO`.

For a guide site :math:`z` that cannot be reparameterized (a discrete one,
say) the gradient of the ELBO has the score-function form

.. math::

    \nabla_\phi \mathbb{E}_q[f] = \mathbb{E}_q\left[f\, \nabla_\phi \log q_\phi(z)\right].

Only the cost terms that depend on :math:`z` contribute to this expectation:
upstream and unrelated terms have zero expected product with the score. The
*downstream cost* of :math:`z` keeps exactly those terms (found by tracking,
through the program's jaxpr, which log densities are computed from
:math:`z`), and within plates keeps each index's own terms apart, which lowers
the variance of the estimator without biasing it. A baseline :math:`b`
subtracted from the downstream cost lowers it further:

.. math::

    \widehat{\nabla} = \left(\text{cost}_z - b\right) \nabla_\phi \log q_\phi(z).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.lax import stop_gradient

from ppl.handlers import seed, substitute
from ppl.vi._provenance import dependencies
from ppl.vi._traces import check_model_guide_match, importance_traces
from ppl.vi.elbo import ELBO, _combine

__all__ = ["TraceGraph_ELBO", "baseline_state_name"]

_BASELINE_OPTIONS = frozenset(
    {
        "use_decaying_avg_baseline",
        "baseline_beta",
        "nn_baseline",
        "nn_baseline_input",
        "baseline_value",
    }
)


def baseline_state_name(site_name: str) -> str:
    """The mutable-state entry holding the decaying average baseline of a site."""
    return f"__baseline_avg_downstream_cost_{site_name}"


def _sum_to_frames(terms: list[tuple[list, jax.Array]], target_frames: list) -> jax.Array:
    """Sum cost terms down to the plates of the target site.

    Each term keeps the dimensions of the plates it shares with the target
    (index by index) and is summed over every other dimension; the result is
    right-aligned with the target's batch dimensions.
    """
    target = set(target_frames)
    total = jnp.zeros(())
    for frames, value in terms:
        keep = {frame.dim for frame in frames if frame in target}
        ndim = jnp.ndim(value)
        axes = tuple(a for a in range(ndim) if a - ndim not in keep)
        value = jnp.sum(value, axis=axes, keepdims=True)
        depth = max((-d for d in keep), default=0)
        value = jnp.reshape(value, jnp.shape(value)[ndim - depth :])
        total = total + value
    return total


def _masked_log_prob(site: dict) -> jax.Array:
    """The guide's log density without its scale: the score function is not scaled,
    since the downstream cost already carries the scale."""
    fn = site["fn"]
    if site.get("intermediates"):
        log_prob = fn.log_prob(site["value"], site["intermediates"])
    else:
        log_prob = fn.log_prob(site["value"])
    if site.get("mask") is not None:
        log_prob = jnp.where(site["mask"], log_prob, 0.0)
    return log_prob


def _baseline_options(site: dict) -> dict:
    options = site.get("infer", {}).get("baseline", {})
    unknown = set(options) - _BASELINE_OPTIONS
    if unknown:
        raise ValueError(
            f"site {site['name']!r}: unknown baseline option(s) {sorted(unknown)}; the "
            f"options are {sorted(_BASELINE_OPTIONS)}"
        )
    if "nn_baseline" in options and "baseline_value" in options:
        raise ValueError(
            f"site {site['name']!r}: give either nn_baseline or baseline_value, not both"
        )
    return options


class TraceGraph_ELBO(ELBO):
    r"""The ELBO with Rao-Blackwellized score-function gradients for
    non-reparameterizable guide sites (Schulman et al., 2015).

    The loss value is :math:`-\widehat{\text{ELBO}}`, as for
    :class:`~ppl.vi.Trace_ELBO`; its gradient adds, for each guide site
    :math:`z` without a reparameterized sampler, the score-function term
    weighted by :math:`z`'s downstream cost (see the module documentation).

    Baselines are chosen per site with
    ``sample(..., infer={"baseline": {...}})``:

    - ``"use_decaying_avg_baseline": True`` (with ``"baseline_beta"``,
      default 0.90): an exponential moving average of past downstream costs,
      carried between SVI steps as mutable state;
    - ``"nn_baseline": f`` with ``"nn_baseline_input": x``: the baseline
      ``f(x)``, a function of parameters (e.g. a :func:`ppl.module`) trained
      jointly by adding :math:`(\text{cost} - b)^2` to the loss;
    - ``"baseline_value": b``: a given baseline, trained the same way when it
      depends on parameters.

    Args:
        num_particles, vectorize_particles: see :class:`~ppl.vi.ELBO`.
    """

    can_infer_discrete = True

    def __init__(self, num_particles: int = 1, vectorize_particles: Any = True) -> None:
        super().__init__(num_particles=num_particles, vectorize_particles=vectorize_particles)

    def _single_particle(
        self,
        key: jax.Array,
        param_map: dict,
        model: Callable,
        guide: Callable,
        args: tuple,
        kwargs: dict,
    ) -> tuple[jax.Array, dict]:
        model_key, guide_key = jax.random.split(key)
        model_trace, guide_trace = importance_traces(
            seed(model, model_key), seed(guide, guide_key), args, kwargs, param_map
        )
        check_model_guide_match(model_trace, guide_trace)
        non_reparam = [
            name
            for name, site in guide_trace.items()
            if site["type"] == "sample" and not site["is_observed"] and not site["fn"].has_rsample
        ]

        elbo = jnp.zeros(())
        for site in model_trace.values():
            if site["type"] == "sample":
                elbo = elbo + jnp.sum(site["log_prob"])
        for name, site in guide_trace.items():
            if site["type"] == "sample":
                log_q = jnp.sum(site["log_prob"])
                # Without a reparameterized path, d/dphi of E_q[log q] is carried by the
                # score term below alone (the direct term has zero expectation).
                elbo = elbo - (stop_gradient(log_q) if name in non_reparam else log_q)
        if not non_reparam:
            return elbo, {}

        model_deps, guide_deps = self._dependencies(
            model, guide, args, kwargs, param_map, guide_trace, non_reparam
        )
        costs: dict[str, list] = {name: [] for name in non_reparam}
        for deps, tr, sign in ((model_deps, model_trace, 1.0), (guide_deps, guide_trace, -1.0)):
            for name, upstream in deps.items():
                site = tr[name]
                for node in upstream:
                    costs[node].append((site["cond_indep_stack"], sign * site["log_prob"]))

        surrogate = jnp.zeros(())
        baseline_loss = jnp.zeros(())
        new_state = {}
        for node in non_reparam:
            site = guide_trace[node]
            cost = stop_gradient(_sum_to_frames(costs[node], site["cond_indep_stack"]))
            baseline, node_loss, averages = self._baseline(node, site, cost, param_map)
            new_state.update(averages)
            baseline_loss = baseline_loss + node_loss
            score = _masked_log_prob(site)
            surrogate = surrogate + jnp.sum(score * stop_gradient(cost - baseline))
        elbo = elbo + surrogate - stop_gradient(surrogate)
        # The baseline fit enters the gradient only, not the reported ELBO.
        elbo = elbo - (baseline_loss - stop_gradient(baseline_loss))
        return elbo, new_state

    @staticmethod
    def _dependencies(
        model: Callable,
        guide: Callable,
        args: tuple,
        kwargs: dict,
        param_map: dict,
        guide_trace: dict,
        non_reparam: list[str],
    ) -> tuple[dict, dict]:
        latents = {name: guide_trace[name]["value"] for name in non_reparam}

        def log_probs(values: dict) -> tuple[dict, dict]:
            # The random keys do not matter: only what is computed from what.
            seeded_guide = seed(substitute(guide, data=values), rng_seed=0)
            model_trace, guide_trace = importance_traces(
                seed(model, rng_seed=0), seeded_guide, args, kwargs, param_map
            )
            return tuple(
                {n: s["log_prob"] for n, s in tr.items() if s["type"] == "sample"}
                for tr in (model_trace, guide_trace)
            )

        model_deps, guide_deps = dependencies(log_probs, latents)
        return model_deps, guide_deps

    @staticmethod
    def _baseline(
        node: str, site: dict, cost: jax.Array, param_map: dict
    ) -> tuple[Any, jax.Array, dict]:
        options = _baseline_options(site)
        baseline: Any = 0.0
        averages = {}
        if options.get("use_decaying_avg_baseline", False):
            beta = options.get("baseline_beta", 0.90)
            key = baseline_state_name(node)
            previous = param_map.get(key, jnp.zeros_like(cost))
            baseline = baseline + previous
            averages[key] = (1.0 - beta) * cost + beta * previous
        learned = None
        if "nn_baseline" in options:
            learned = options["nn_baseline"](options.get("nn_baseline_input"))
        elif "baseline_value" in options:
            learned = options["baseline_value"]
        if learned is not None:
            try:
                jnp.broadcast_shapes(jnp.shape(learned), jnp.shape(cost))
            except ValueError:
                raise ValueError(
                    f"site {node!r}: the baseline has shape {jnp.shape(learned)}, which does "
                    f"not broadcast with the shape {jnp.shape(cost)} of the site's downstream "
                    "cost (one entry per index of the site's plates)"
                ) from None
            baseline = baseline + learned
            node_loss = jnp.sum(jnp.square(cost - baseline))
        else:
            node_loss = jnp.zeros(())
        return baseline, node_loss, averages

    def loss_with_mutable_state(
        self,
        rng_key: jax.Array,
        param_map: dict,
        model: Callable,
        guide: Callable,
        *args: Any,
        **kwargs: Any,
    ) -> dict:
        def single(key: jax.Array) -> tuple:
            return self._single_particle(key, param_map, model, guide, args, kwargs)

        if self.num_particles == 1:
            elbo, state = single(rng_key)
        else:
            elbo, state = self._particles(rng_key, single)
            state = jax.tree.map(lambda x: jnp.mean(x, axis=0), state)
        return _combine(elbo, state or None, self.num_particles)

    def _init_mutable_state(
        self,
        rng_key: jax.Array,
        param_map: dict,
        model: Callable,
        guide: Callable,
        *args: Any,
        **kwargs: Any,
    ) -> dict:
        """Zero decaying-average baselines, so that SVI carries them from the first step."""
        shapes = jax.eval_shape(
            lambda key: self._single_particle(key, param_map, model, guide, args, kwargs)[1],
            rng_key,
        )
        return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
