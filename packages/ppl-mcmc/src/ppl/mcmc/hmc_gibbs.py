"""HMC within Gibbs: a user-written Gibbs update for some sites, HMC or NUTS for the rest."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ppl.mcmc.gibbs import CustomGibbs, Gibbs, GibbsState
from ppl.mcmc.hmc import HMC, HMCState

__all__ = ["HMCGibbs", "HMCGibbsState"]


class HMCGibbsState(GibbsState):
    """The :class:`~ppl.mcmc.gibbs.GibbsState` of :class:`HMCGibbs`, with the inner
    kernel's state as ``hmc_state`` (so ``extra_fields=("hmc_state.diverging",)`` works)."""

    __slots__ = ()

    @property
    def hmc_state(self) -> HMCState:
        """The state of the HMC/NUTS block (the last block)."""
        return self.block_states[-1]

    @property
    def diverging(self) -> Any:
        """Whether the last HMC/NUTS transition diverged."""
        return self.block_states[-1].diverging


class HMCGibbs(Gibbs):
    """HMC-within-Gibbs: alternate a user's Gibbs update of ``gibbs_sites`` with an
    HMC or NUTS transition of the other latent sites.

    Each step draws :math:`z_g \\sim` ``gibbs_fn`` given the continuous sites
    :math:`z_h`, which must sample the full conditional :math:`p(z_g \\mid z_h, y)`
    (the sampler is only correct if it does), then moves :math:`z_h` with the
    inner kernel targeting :math:`p(z_h \\mid z_g, y)`.

    Args:
        inner_kernel: an :class:`~ppl.mcmc.hmc.HMC` or :class:`~ppl.mcmc.nuts.NUTS`
            kernel built on the model.
        gibbs_fn: ``gibbs_fn(rng_key, gibbs_sites, hmc_sites) -> dict`` returning new
            values of the Gibbs sites; ``hmc_sites`` holds the constrained values of
            the other sites, ``gibbs_sites`` the current Gibbs values.
        gibbs_sites: the names of the sites ``gibbs_fn`` updates.

    Example::

        def model():
            x = ppl.sample("x", dist.Normal(0.0, 2.0))
            y = ppl.sample("y", dist.Normal(0.0, 2.0))
            ppl.sample("obs", dist.Normal(x + y, 1.0), obs=jnp.array([1.0]))

        def gibbs_fn(rng_key, gibbs_sites, hmc_sites):
            y = hmc_sites["y"]
            # x | y, obs is Normal with precision 1/4 + 1 and mean (1 - y) * 4/5.
            return {"x": dist.Normal(0.8 * (1 - y), jnp.sqrt(0.8)).sample(rng_key)}

        kernel = HMCGibbs(NUTS(model), gibbs_fn=gibbs_fn, gibbs_sites=["x"])
        mcmc = MCMC(kernel, num_warmup=100, num_samples=100)
    """

    _state_type = HMCGibbsState

    def __init__(
        self, inner_kernel: HMC, gibbs_fn: Callable[..., dict], gibbs_sites: Sequence[str]
    ) -> None:
        if not isinstance(inner_kernel, HMC):
            raise TypeError(
                f"inner_kernel must be an HMC or NUTS kernel, got {type(inner_kernel).__name__}"
            )
        if inner_kernel.model is None:
            raise ValueError(
                "HMCGibbs needs an inner kernel built on a model (not on a potential_fn)"
            )
        if not callable(gibbs_fn):
            raise TypeError(f"gibbs_fn must be callable, got {type(gibbs_fn).__name__}")
        gibbs_sites = (gibbs_sites,) if isinstance(gibbs_sites, str) else tuple(gibbs_sites)
        if not gibbs_sites:
            raise ValueError("gibbs_sites must name at least one site")
        self._gibbs_fn = gibbs_fn
        self._gibbs_sites = gibbs_sites
        super().__init__([(CustomGibbs(gibbs_fn), gibbs_sites), (inner_kernel, None)])

    @property
    def inner_kernel(self) -> HMC:
        """The HMC/NUTS kernel (running the conditioned model)."""
        return self._kernels[-1]  # type: ignore[return-value]

    @property
    def default_fields(self) -> tuple[str, ...]:
        return ("z", "diverging")

    def get_diagnostics_str(self, state: HMCGibbsState) -> str:
        return self.inner_kernel.get_diagnostics_str(state.hmc_state)

    def _resolve_sites(self, model_trace: dict) -> Any:
        try:
            return super()._resolve_sites(model_trace)
        except ValueError as error:
            raise ValueError(f"HMCGibbs(gibbs_sites={list(self._gibbs_sites)}): {error}") from None
