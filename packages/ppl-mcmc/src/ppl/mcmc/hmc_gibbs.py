"""HMC within Gibbs: HMC or NUTS for the continuous sites, and a user-written Gibbs
update (:class:`HMCGibbs`) or discrete Gibbs/Metropolis updates
(:class:`DiscreteHMCGibbs`) for the others."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ppl.mcmc.discrete_gibbs import DiscreteGibbs, _check_flags, parallel_enumerated_sites
from ppl.mcmc.gibbs import CustomGibbs, Gibbs, GibbsState, discrete_latent_sites
from ppl.mcmc.hmc import HMC, HMCState

__all__ = ["DiscreteHMCGibbs", "HMCGibbs", "HMCGibbsState"]


class HMCGibbsState(GibbsState):
    """The :class:`~ppl.mcmc.gibbs.GibbsState` of :class:`HMCGibbs` and
    :class:`DiscreteHMCGibbs`, with the inner
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


class _WithInnerHMC(Gibbs):
    """A two-block :class:`~ppl.mcmc.gibbs.Gibbs` whose last block is an HMC/NUTS kernel."""

    _state_type = HMCGibbsState

    @property
    def inner_kernel(self) -> HMC:
        """The HMC/NUTS kernel (running the conditioned model)."""
        return self._kernels[-1]  # type: ignore[return-value]

    @property
    def default_fields(self) -> tuple[str, ...]:
        return ("z", "diverging")

    def get_diagnostics_str(self, state: HMCGibbsState) -> str:
        return self.inner_kernel.get_diagnostics_str(state.hmc_state)


def _check_inner_kernel(owner: str, inner_kernel: Any) -> None:
    if not isinstance(inner_kernel, HMC):
        raise TypeError(
            f"inner_kernel must be an HMC or NUTS kernel, got {type(inner_kernel).__name__}"
        )
    if inner_kernel.model is None:
        raise ValueError(f"{owner} needs an inner kernel built on a model (not on a potential_fn)")


class HMCGibbs(_WithInnerHMC):
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

    def __init__(
        self, inner_kernel: HMC, gibbs_fn: Callable[..., dict], gibbs_sites: Sequence[str]
    ) -> None:
        _check_inner_kernel("HMCGibbs", inner_kernel)
        if not callable(gibbs_fn):
            raise TypeError(f"gibbs_fn must be callable, got {type(gibbs_fn).__name__}")
        gibbs_sites = (gibbs_sites,) if isinstance(gibbs_sites, str) else tuple(gibbs_sites)
        if not gibbs_sites:
            raise ValueError("gibbs_sites must name at least one site")
        self._gibbs_fn = gibbs_fn
        self._gibbs_sites = gibbs_sites
        super().__init__([(CustomGibbs(gibbs_fn), gibbs_sites), (inner_kernel, None)])

    def _resolve_sites(self, model_trace: dict) -> Any:
        try:
            return super()._resolve_sites(model_trace)
        except ValueError as error:
            raise ValueError(f"HMCGibbs(gibbs_sites={list(self._gibbs_sites)}): {error}") from None


class DiscreteHMCGibbs(_WithInnerHMC):
    """HMC/NUTS within Gibbs for models with discrete latent sites: each step
    updates the discrete sites coordinate by coordinate with
    :class:`~ppl.mcmc.discrete_gibbs.DiscreteGibbs` (given the continuous ones),
    then the continuous sites with the inner kernel (given the discrete ones).

    The discrete sites are the model's latent sites with an enumerable support;
    the coordinates are visited in a random order at each step. It is
    ``Gibbs([(DiscreteGibbs(model, ...), discrete_latent_sites), (inner_kernel, None)])``.

    Args:
        inner_kernel: an :class:`~ppl.mcmc.hmc.HMC` or :class:`~ppl.mcmc.nuts.NUTS`
            kernel built on the model.
        random_walk: propose discrete values uniformly from the support (a
            Metropolis step) instead of from the full conditional.
        modified: use Liu's modified (Metropolised) proposal, which never
            proposes the current value.

    References:
        Liu, J. S. (1996). Peskun's theorem and a modified discrete-state Gibbs
        sampler. *Biometrika* 83(3).

    Example::

        def model(probs, locs):
            c = ppl.sample("c", dist.Categorical(probs))
            ppl.sample("x", dist.Normal(locs[c], 0.5))

        kernel = DiscreteHMCGibbs(NUTS(model), modified=True)
        mcmc = MCMC(kernel, num_warmup=500, num_samples=5000)
        mcmc.run(random.PRNGKey(0), jnp.array([0.15, 0.3, 0.3, 0.25]), jnp.arange(-2.0, 6.0, 2.0))
    """

    def __init__(
        self, inner_kernel: HMC, *, random_walk: bool = False, modified: bool = False
    ) -> None:
        _check_inner_kernel("DiscreteHMCGibbs", inner_kernel)
        _check_flags("DiscreteHMCGibbs", random_walk, modified)
        discrete = DiscreteGibbs(inner_kernel.model, random_walk=random_walk, modified=modified)
        self._random_walk = bool(random_walk)
        self._modified = bool(modified)
        super().__init__([(discrete, discrete_latent_sites), (inner_kernel, None)])

    def _resolve_sites(self, model_trace: dict) -> Any:
        enumerated = parallel_enumerated_sites(model_trace)
        if enumerated:
            raise NotImplementedError(
                f"DiscreteHMCGibbs: sites {enumerated} are marked infer={{'enumerate': "
                "'parallel'}, but enumerating discrete sites out of the potential energy is not "
                "available yet; remove the mark to sample them"
            )
        if not discrete_latent_sites(model_trace):
            raise ValueError(
                "DiscreteHMCGibbs: the model has no discrete latent sites (sample sites whose "
                "distribution has an enumerable support): use the inner HMC/NUTS kernel directly"
            )
        discrete, continuous = super()._resolve_sites(model_trace)
        if not continuous:
            raise ValueError(
                f"DiscreteHMCGibbs: every latent site of the model is discrete ({list(discrete)}), "
                "so there is nothing for HMC/NUTS to sample: use DiscreteGibbs(model)"
            )
        return discrete, continuous
