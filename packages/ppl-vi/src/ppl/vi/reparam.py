r"""Neural transport reparameterization (Hoffman et al., 2019).

A trained :class:`~ppl.vi.autoguide.AutoContinuous` guide approximates the
posterior as :math:`x = T(z)` with :math:`z` from a simple base distribution.
Sampling the model in terms of :math:`z` instead of :math:`x` gives MCMC a
target close to that base distribution: the posterior's correlations and
scales are absorbed by :math:`T`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from ppl.distributions.reparam import Reparam
from ppl.distributions.util import sum_rightmost
from ppl.handlers import reparam
from ppl.primitives import factor, get_mask, sample
from ppl.transforms import biject_to
from ppl.vi.autoguide.continuous import AutoContinuous

__all__ = ["NeuTraReparam"]


class NeuTraReparam(Reparam):
    r"""Reparameterize every latent site of a model through a trained
    :class:`~ppl.vi.autoguide.AutoContinuous` guide's transform.

    All latent sites become deterministic functions of one shared site
    ``{prefix}_shared_latent`` :math:`z`, whose density is the model's joint
    density expressed in :math:`z`:

    .. math:: \log p(z) = \log p(x = T(z)) + \log |\det J_T(z)|.

    Example::

        guide = AutoIAFNormal(model)
        params = svi.run(key, 5000, data).params
        neutra = NeuTraReparam(guide, params)
        mcmc = MCMC(NUTS(neutra.reparam(model)), num_warmup=500, num_samples=1000)
        mcmc.run(key, data)
        zs = mcmc.get_samples()["auto_shared_latent"]
        samples = neutra.transform_sample(zs)

    Args:
        guide: a trained AutoContinuous guide.
        params: its params (``svi.get_params(state)``).
    """

    def __init__(self, guide: AutoContinuous, params: dict) -> None:
        if not isinstance(guide, AutoContinuous):
            raise TypeError(
                f"NeuTraReparam expects an AutoContinuous guide (e.g. AutoIAFNormal), got "
                f"{type(guide).__name__}"
            )
        if guide.prototype_trace is None:
            raise ValueError(
                "NeuTraReparam: the guide has not been trained (its prototype trace is empty); "
                "fit it with SVI first"
            )
        self.guide = guide
        self.params = params
        try:
            self.transform = guide.get_transform(params)
        except (NotImplementedError, TypeError) as error:
            raise ValueError(
                f"NeuTraReparam needs a guide whose get_transform does not depend on the "
                f"model's arguments; {type(guide).__name__} failed: {error}"
            ) from error
        self._x_unconstrained: dict = {}

    def _reparam_config(self, site: dict) -> NeuTraReparam | None:
        prototype = self.guide.prototype_trace.get(site["name"])
        if prototype is not None and prototype["type"] == "sample":
            if not prototype["is_observed"]:
                return self
        return None

    def reparam(self, fn: Callable | None = None) -> Any:
        """The model (or a handler to apply to one) with every guided site reparameterized."""
        return reparam(fn, config=self._reparam_config)

    def __call__(self, name: str, fn: Any, obs: Any) -> tuple[Any, Any]:
        if name not in self.guide.prototype_trace:
            return fn, obs
        if obs is not None:
            raise ValueError(
                f"NeuTraReparam: site {name!r} is observed; it reparameterizes latents"
            )
        compute_density = get_mask() is not False
        shared_log_det = None
        if not self._x_unconstrained:
            # The first guided site draws the shared latent for all of them.
            z = sample(f"{self.guide.prefix}_shared_latent", self.guide.get_base_dist().mask(False))
            x_unconstrained = self.transform(z)
            if compute_density:
                shared_log_det = self.transform.log_abs_det_jacobian(z, x_unconstrained)
            self._x_unconstrained = self.guide._unpack_latent(x_unconstrained)
        unconstrained = self._x_unconstrained.pop(name)
        transform = biject_to(fn.support)
        value = transform(unconstrained)
        log_density = 0.0
        if compute_density:
            log_det = transform.log_abs_det_jacobian(unconstrained, value)
            log_det = sum_rightmost(log_det, jnp.ndim(log_det) - jnp.ndim(value) + fn.event_dim)
            log_density = fn.log_prob(value) + log_det
            if shared_log_det is not None:
                # The factor is summed over the site's batch (its plates), so the shared
                # Jacobian term is spread evenly over it to count once.
                log_density = log_density + shared_log_det / max(jnp.size(log_density), 1)
        factor(f"_{name}_log_prob", log_density)
        return None, value

    def transform_sample(self, latent: Any) -> dict:
        """Map draws of the shared latent (any leading batch dims) to constrained site values."""
        x_unconstrained = self.transform(latent)
        return self.guide._unpack_and_constrain(x_unconstrained, self.params)
