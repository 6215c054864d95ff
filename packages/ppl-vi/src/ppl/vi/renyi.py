r"""Rényi's :math:`\alpha`-divergence bound (Li and Turner, 2016)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from ppl.handlers import seed
from ppl.vi._traces import check_model_guide_match, importance_traces
from ppl.vi.elbo import ELBO

__all__ = ["RenyiELBO"]


def _plate_full_size(model_trace: dict, frame: Any) -> int:
    site = model_trace.get(frame.name)
    if site is None or site["type"] != "plate":
        return frame.size
    return int(site["args"][0])


class RenyiELBO(ELBO):
    r"""The Rényi bound of order :math:`\alpha`:

    .. math::

        \mathcal{L}_\alpha = \frac{1}{1-\alpha}
        \log \frac{1}{S} \sum_{s=1}^{S}
        \left(\frac{p(x, z_s)}{q(z_s)}\right)^{1-\alpha},
        \qquad z_s \sim q.

    For :math:`\alpha = 0` this is the importance-weighted bound of Burda et
    al. (2016); it tightens towards :math:`\log p(x)` as :math:`S` grows, and
    for :math:`0 \le \alpha < 1` it is at least the ELBO. The bound is
    computed separately for each index of the plates that enclose every
    sample site (data plates), and the results are summed; those plates may
    be subsampled.

    Args:
        alpha: the order :math:`\alpha \ne 1`.
        num_particles: the number :math:`S` of guide draws (default 2).
    """

    def __init__(self, alpha: float = 0, num_particles: int = 2) -> None:
        if alpha == 1:
            raise ValueError(
                "RenyiELBO: alpha must not be 1 (that order is the usual ELBO; use Trace_ELBO)"
            )
        self.alpha = alpha
        super().__init__(num_particles=num_particles)

    def _single_particle_elbo(
        self,
        model: Callable,
        guide: Callable,
        param_map: dict,
        args: tuple,
        kwargs: dict,
        rng_key: jax.Array,
    ) -> tuple[jax.Array, jax.Array]:
        model_key, guide_key = jax.random.split(rng_key)
        model_trace, guide_trace = importance_traces(
            seed(model, model_key), seed(guide, guide_key), args, kwargs, param_map
        )
        check_model_guide_match(model_trace, guide_trace)
        site_plates = [
            set(site["cond_indep_stack"])
            for tr in (model_trace,)
            for site in tr.values()
            if site["type"] == "sample"
        ]
        common = set.intersection(*site_plates) if site_plates else set()
        for frame in set().union(*site_plates) - common:
            if _plate_full_size(model_trace, frame) > frame.size:
                raise ValueError(
                    f"RenyiELBO: plate {frame.name!r} is subsampled but does not enclose every "
                    "sample site; subsampling is only supported in plates common to all sites "
                    "(e.g. a data plate around the whole model)"
                )
        common_scale = 1.0
        for frame in common:
            full = _plate_full_size(model_trace, frame)
            if full > frame.size:
                common_scale = common_scale * full / frame.size
        keep_dims = {frame.dim for frame in common}

        def reduce(log_prob: jax.Array) -> jax.Array:
            ndim = jnp.ndim(log_prob)
            axes = tuple(a for a in range(ndim) if a - ndim not in keep_dims)
            return jnp.sum(log_prob, axis=axes)

        elbo = jnp.zeros(())
        for sign, tr in ((1.0, model_trace), (-1.0, guide_trace)):
            for site in tr.values():
                if site["type"] == "sample":
                    elbo = elbo + sign * reduce(site["log_prob"])
        # The data-plate scale is taken out here and applied to the summed bounds, so that
        # the bound of each plate index is that of one datum.
        return elbo / common_scale, jnp.asarray(common_scale)

    def loss(
        self,
        rng_key: jax.Array,
        param_map: dict,
        model: Callable,
        guide: Callable,
        *args: Any,
        **kwargs: Any,
    ) -> jax.Array:
        plate_key, rng_key = jax.random.split(rng_key)
        # Every particle sees the same subsample of each plate.
        hide = ["sample", "prng_key"]
        model = seed(model, plate_key, hide_types=hide)
        guide = seed(guide, plate_key, hide_types=hide)

        def single(key: jax.Array) -> tuple:
            return self._single_particle_elbo(model, guide, param_map, args, kwargs, key)

        elbos, scales = self._particles(rng_key, single)
        scaled = (1.0 - self.alpha) * elbos
        log_mean = logsumexp(scaled, axis=0) - jnp.log(self.num_particles)
        renyi = log_mean / (1.0 - self.alpha)
        # Self-normalized importance weights give the gradient of the bound.
        weights = jax.lax.stop_gradient(jnp.exp(scaled - log_mean))
        weighted = jnp.mean(weights * elbos, axis=0)
        loss = -(jax.lax.stop_gradient(renyi - weighted) + weighted)
        return jnp.sum(loss) * scales[0]

    def loss_with_mutable_state(
        self,
        rng_key: jax.Array,
        param_map: dict,
        model: Callable,
        guide: Callable,
        *args: Any,
        **kwargs: Any,
    ) -> dict:
        return {
            "loss": self.loss(rng_key, param_map, model, guide, *args, **kwargs),
            "mutable_state": None,
        }
