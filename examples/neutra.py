"""NeuTra HMC: NUTS on Neal's funnel, made easy by a learned normalizing flow.

Neal's funnel (2003) is the distribution

.. math::

    y \\sim N(0, 3), \\quad x_k \\sim N(0, e^{y/2}), \\quad k = 1, \\dots, d - 1,

whose scale in :math:`x` changes by orders of magnitude with :math:`y`. No
single step size suits both the wide mouth and the narrow neck, so NUTS
diverges in the neck and explores negative :math:`y` poorly.

NeuTra (Hoffman et al., 2019) first fits a normalizing-flow guide to the
target with SVI: an inverse autoregressive flow (:class:`~ppl.infer.AutoIAFNormal`)
or a block neural autoregressive flow (:class:`~ppl.infer.AutoBNAFNormal`).
:class:`~ppl.infer.NeuTraReparam` then rewrites the model in the flow's base
space, where the posterior is close to a standard normal, and NUTS samples
there; pushing the draws through the flow gives draws of :math:`(x, y)`.
The script compares the divergences and effective sample sizes of vanilla
NUTS and NeuTra NUTS.

Run ``python examples/neutra.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse

import _common
import jax
import jax.numpy as jnp
import numpy as np

import ppl
import ppl.distributions as dist
import ppl.optim as optim
from ppl.diagnostics import effective_sample_size
from ppl.infer import (
    MCMC,
    NUTS,
    SVI,
    AutoBNAFNormal,
    AutoIAFNormal,
    NeuTraReparam,
    Trace_ELBO,
)


def funnel(dim: int = 10):
    """Neal's funnel in ``dim`` dimensions: ``y`` and the ``dim - 1`` coordinates ``x``."""
    y = ppl.sample("y", dist.Normal(0.0, 3.0))
    ppl.sample("x", dist.Normal(jnp.zeros(dim - 1), jnp.exp(y / 2)).to_event(1))


def run_nuts(model, args: argparse.Namespace, rng_key) -> MCMC:
    mcmc = MCMC(
        NUTS(model),
        num_warmup=args.num_warmup,
        num_samples=args.num_samples,
        num_chains=args.num_chains,
        chain_method=args.chain_method,
        progress_bar=not args.no_progress_bar,
    )
    mcmc.run(rng_key, args.dim, extra_fields=("diverging",))
    return mcmc


def describe(name: str, mcmc: MCMC, y: np.ndarray) -> dict:
    """Print and return the divergences and the effective sample size of ``y``."""
    divergences = int(np.sum(mcmc.get_extra_fields()["diverging"]))
    # (chains, draws) for the ESS estimator, which pools the chains.
    ess = float(effective_sample_size(y.reshape(mcmc.num_chains, -1)))
    print(
        f"{name}: {divergences} divergences, effective sample size of y {ess:.0f}, "
        f"y in [{y.min():.2f}, {y.max():.2f}], mean {y.mean():+.2f}, sd {y.std():.2f}"
    )
    return {"divergences": divergences, "ess": ess}


def train_guide(args: argparse.Namespace, rng_key) -> tuple:
    """Fit the flow guide to the funnel with SVI; return it, its params and the losses."""
    if args.guide == "iaf":
        guide = AutoIAFNormal(funnel, num_flows=args.num_flows, hidden_dims=[args.hidden_dim] * 2)
    else:
        guide = AutoBNAFNormal(
            funnel, num_flows=args.num_flows, hidden_factors=[args.hidden_factor] * 2
        )
    svi = SVI(funnel, guide, optim.Adam(args.learning_rate), Trace_ELBO())
    result = svi.run(rng_key, args.num_steps, args.dim, progress_bar=not args.no_progress_bar)
    losses = np.asarray(result.losses)
    tenth = max(len(losses) // 10, 1)
    print(
        f"SVI with {type(guide).__name__}: mean loss {losses[:tenth].mean():.3f} over the "
        f"first tenth of the steps, {losses[-tenth:].mean():.3f} over the last"
    )
    return guide, result.params, losses


def main(args: argparse.Namespace) -> dict:
    """Vanilla NUTS, the flow's fit and NeuTra NUTS; return their draws and diagnostics."""
    key_vanilla, key_svi, key_neutra, key_guide = jax.random.split(jax.random.PRNGKey(args.seed), 4)

    print("Vanilla NUTS on the funnel")
    mcmc = run_nuts(funnel, args, key_vanilla)
    vanilla = mcmc.get_samples()
    vanilla_stats = describe("vanilla NUTS", mcmc, np.asarray(vanilla["y"]))

    print("\nTraining the flow guide")
    guide, params, losses = train_guide(args, key_svi)
    guide_draws = guide.sample_posterior(
        key_guide, params, args.dim, sample_shape=(args.num_samples,)
    )

    print("\nNUTS in the flow's base space")
    neutra = NeuTraReparam(guide, params)
    mcmc = run_nuts(neutra.reparam(funnel), args, key_neutra)
    latent = mcmc.get_samples()["auto_shared_latent"]
    reparameterized = neutra.transform_sample(latent)
    neutra_stats = describe("NeuTra NUTS", mcmc, np.asarray(reparameterized["y"]))

    if args.plot:
        plot(vanilla, guide_draws, reparameterized, args.plot)
    return {
        "vanilla": vanilla,
        "vanilla_stats": vanilla_stats,
        "neutra": reparameterized,
        "neutra_stats": neutra_stats,
        "guide_draws": guide_draws,
        "losses": losses,
    }


def plot(vanilla: dict, guide_draws: dict, neutra: dict, path: str) -> None:
    plt = _common.pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharex=True, sharey=True)
    panels = [("vanilla NUTS", vanilla), ("the trained flow", guide_draws), ("NeuTra NUTS", neutra)]
    # The exact funnel, from its generative definition, shaded behind each panel.
    key_y, key_x = jax.random.split(jax.random.PRNGKey(123))
    y_exact = 3.0 * jax.random.normal(key_y, (4000,))
    x_exact = jnp.exp(y_exact / 2) * jax.random.normal(key_x, (4000,))
    for ax, (title, draws) in zip(axes, panels, strict=True):
        ax.plot(x_exact, y_exact, ".", color="0.85", ms=2, label="exact")
        ax.plot(np.asarray(draws["x"])[:, 0], np.asarray(draws["y"]), ".", ms=3, label=title)
        ax.set_title(title)
        ax.set_xlabel("$x_1$")
    axes[0].set_ylabel("$y$")
    axes[0].set_xlim(-20, 20)
    axes[0].set_ylim(-9, 9)
    fig.suptitle("Neal's funnel: draws of ($x_1$, $y$)")
    _common.save_figure(fig, path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.mcmc_arguments(parser, num_samples=2000, num_warmup=1000)
    parser.add_argument("--dim", type=int, default=10, help="the funnel's dimension")
    parser.add_argument("--guide", default="iaf", choices=["iaf", "bnaf"])
    parser.add_argument("--num-flows", type=int, default=2)
    parser.add_argument("--hidden-dim", type=int, default=20, help="IAF hidden layer width")
    parser.add_argument("--hidden-factor", type=int, default=8, help="BNAF hidden factor")
    parser.add_argument("--num-steps", type=int, default=10000, help="SVI steps")
    parser.add_argument("--learning-rate", type=float, default=3.0e-3)
    _common.run_arguments(
        parser,
        plot_help="save the draws of the three methods",
        smoke_help=(
            "a quick run: a 4-dimensional funnel, 100 warmup and 100 samples, 1000 SVI steps"
        ),
    )
    return _common.parse(
        parser, argv, num_warmup=100, num_samples=100, num_chains=1, dim=4, num_steps=1000
    )


if __name__ == "__main__":
    args = parse_args()
    _common.setup_device(args)
    main(args)
