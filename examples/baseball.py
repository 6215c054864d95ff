"""Baseball: pooling batting averages across players (Efron and Morris, 1975).

Eighteen major-league players of the 1970 season had 45 at-bats each by the
end of April. From those first 45 at-bats we predict each player's batting
average over the rest of the season, with four models of the chance
:math:`\\phi_i` that player :math:`i` hits in an at-bat:

- *fully pooled*: every player has the same chance,
  :math:`\\phi \\sim \\text{Uniform}(0, 1)`;
- *not pooled*: each player's chance is separate,
  :math:`\\phi_i \\sim \\text{Uniform}(0, 1)`;
- *partially pooled*: the chances share a population,
  :math:`\\phi_i \\sim \\text{Beta}(m\\kappa, (1 - m)\\kappa)` with the population
  mean :math:`m \\sim \\text{Uniform}(0, 1)` and concentration
  :math:`\\kappa \\sim \\text{Pareto}(1, 1.5)`;
- *partially pooled with logit*: the log-odds
  :math:`\\alpha_i \\sim N(\\mu, \\sigma)`, with :math:`\\mu \\sim N(-1, 1)`
  and :math:`\\sigma \\sim \\text{HalfCauchy}(1)`, sampled non-centered.

In all four the hits are :math:`\\text{Binomial}(45, \\phi_i)`. Each model is
fitted with NUTS; its posterior predictive of the hits in the remaining
at-bats gives rest-of-season averages, and the log pointwise predictive
density of the hits actually made scores it. The pooled models pull the
extreme early averages toward the league's, which is what predicts the rest
of the season well.

Run ``python examples/baseball.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse

import _common
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

import ppl
import ppl.distributions as dist
from ppl.infer import MCMC, NUTS, Predictive, log_likelihood
from ppl.infer.reparam import LocScaleReparam

# Efron and Morris (1975), "Data analysis using Stein's estimator and its
# generalizations", Table 1: hits in the first 45 at-bats of the 1970 season,
# then the at-bats and hits of the rest of that season.
_TABLE = """\
Roberto Clemente     18  367  127
Frank Robinson       17  426  127
Frank Howard         16  521  144
Jay Johnstone        15  275   61
Ken Berry            14  418  114
Jim Spencer          14  466  126
Don Kessinger        13  586  155
Luis Alvarado        12  138   29
Ron Santo            11  510  137
Ron Swaboda          11  200   46
Rico Petrocelli      10  538  142
Ellie Rodriguez      10  186   42
George Scott         10  435  132
Del Unser            10  277   73
Billy Williams       10  591  195
Bert Campaneris       9  558  159
Thurman Munson        8  408  129
Max Alvis             7   70   10
"""

AT_BATS = 45


def load_data() -> dict:
    """The table as arrays: ``names``, ``hits``, ``at_bats``, ``rest_at_bats``, ``rest_hits``."""
    rows = [line.rsplit(maxsplit=3) for line in _TABLE.splitlines()]
    names = [row[0] for row in rows]
    hits, rest_at_bats, rest_hits = (np.array([int(row[i]) for row in rows]) for i in (1, 2, 3))
    return {
        "names": names,
        "hits": hits,
        "at_bats": np.full(len(rows), AT_BATS),
        "rest_at_bats": rest_at_bats,
        "rest_hits": rest_hits,
    }


def fully_pooled(at_bats, hits=None):
    """One chance of a hit shared by all players."""
    phi = ppl.sample("phi", dist.Uniform(0.0, 1.0))
    with ppl.plate("players", at_bats.shape[0]):
        return ppl.sample("obs", dist.Binomial(at_bats, probs=phi), obs=hits)


def not_pooled(at_bats, hits=None):
    """A separate chance for each player, learned from his at-bats only."""
    with ppl.plate("players", at_bats.shape[0]):
        phi = ppl.sample("phi", dist.Uniform(0.0, 1.0))
        return ppl.sample("obs", dist.Binomial(at_bats, probs=phi), obs=hits)


def partially_pooled(at_bats, hits=None):
    """Each player's chance drawn from a Beta population with mean ``m``."""
    m = ppl.sample("m", dist.Uniform(0.0, 1.0))
    kappa = ppl.sample("kappa", dist.Pareto(1.0, 1.5))
    with ppl.plate("players", at_bats.shape[0]):
        phi = ppl.sample("phi", dist.Beta(m * kappa, (1.0 - m) * kappa))
        return ppl.sample("obs", dist.Binomial(at_bats, probs=phi), obs=hits)


def partially_pooled_with_logit(at_bats, hits=None):
    """Each player's log-odds of a hit drawn from a normal population."""
    loc = ppl.sample("loc", dist.Normal(-1.0, 1.0))
    scale = ppl.sample("scale", dist.HalfCauchy(1.0))
    with ppl.plate("players", at_bats.shape[0]):
        # The data leave ``scale`` small but uncertain: sampled non-centered
        # (alpha = loc + scale * noise), NUTS avoids the funnel of the centered form.
        with ppl.handlers.reparam(config={"alpha": LocScaleReparam(centered=0.0)}):
            alpha = ppl.sample("alpha", dist.Normal(loc, scale))
        ppl.deterministic("phi", jax.nn.sigmoid(alpha))
        return ppl.sample("obs", dist.Binomial(at_bats, logits=alpha), obs=hits)


MODELS = {
    "fully pooled": fully_pooled,
    "not pooled": not_pooled,
    "partially pooled": partially_pooled,
    "partially pooled with logit": partially_pooled_with_logit,
}


def run_inference(model, args: argparse.Namespace, rng_key, at_bats, hits) -> dict:
    mcmc = MCMC(
        NUTS(model),
        num_warmup=args.num_warmup,
        num_samples=args.num_samples,
        num_chains=args.num_chains,
        chain_method=args.chain_method,
        progress_bar=not args.no_progress_bar,
    )
    mcmc.run(rng_key, at_bats, hits)
    mcmc.print_summary()
    return mcmc.get_samples()


def log_pointwise_predictive_density(model, samples: dict, at_bats, hits) -> float:
    """:math:`\\sum_i \\log \\frac{1}{S} \\sum_s p(y_i \\mid \\theta_s)` over the players ``i``."""
    log_lik = log_likelihood(model, samples, at_bats, hits)["obs"]  # (S, players)
    num_samples = log_lik.shape[0]
    return float(jnp.sum(logsumexp(log_lik, axis=0) - jnp.log(num_samples)))


def fit_model(model, args: argparse.Namespace, rng_key, data: dict) -> dict:
    """Posterior chances, predicted rest-of-season averages and the predictive density."""
    key_mcmc, key_predict = jax.random.split(rng_key)
    at_bats, hits = jnp.asarray(data["at_bats"]), jnp.asarray(data["hits"])
    rest_at_bats = jnp.asarray(data["rest_at_bats"])
    samples = run_inference(model, args, key_mcmc, at_bats, hits)
    phi = np.asarray(samples["phi"])
    if phi.ndim == 1:  # the fully pooled model's one chance, shared by every player
        phi = np.repeat(phi[:, None], len(data["names"]), axis=1)
    # Predicted hits in the at-bats each player had left.
    predicted = Predictive(model, samples, return_sites=["obs"])(key_predict, rest_at_bats)["obs"]
    rest_average = np.asarray(predicted) / data["rest_at_bats"]
    lppd = log_pointwise_predictive_density(
        model, samples, rest_at_bats, jnp.asarray(data["rest_hits"])
    )
    return {"phi": phi, "rest_average": rest_average, "lppd": lppd}


def report(name: str, fit: dict, data: dict) -> None:
    truth = data["rest_hits"] / data["rest_at_bats"]
    predicted = fit["rest_average"].mean(0)
    low, high = np.quantile(fit["rest_average"], [0.05, 0.95], axis=0)
    rmse = np.sqrt(np.mean((predicted - truth) ** 2))
    print(f"\n{name}: rest-of-season batting average, predicted (90% interval) vs actual")
    for i, player in enumerate(data["names"]):
        print(
            f"  {player:<18} {predicted[i]:.3f} ({low[i]:.3f}, {high[i]:.3f})"
            f"  actual {truth[i]:.3f}"
        )
    print(f"  root mean squared error {rmse:.4f}")
    print(f"  log pointwise predictive density of the rest of the season: {fit['lppd']:.1f}")


def plot(fits: dict, data: dict, path: str) -> None:
    plt = _common.pyplot()
    if plt is None:
        return
    order = np.argsort(-data["hits"], kind="stable")
    x = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(x, (data["hits"] / data["at_bats"])[order], "ks", label="first 45 at-bats")
    ax.plot(
        x, (data["rest_hits"] / data["rest_at_bats"])[order], "k*", ms=10, label="rest of season"
    )
    for offset, (name, fit) in zip(np.linspace(-0.3, 0.3, len(fits)), fits.items(), strict=True):
        mean = fit["phi"].mean(0)[order]
        low, high = np.quantile(fit["phi"], [0.05, 0.95], axis=0)[:, order]
        ax.errorbar(x + offset, mean, yerr=[mean - low, high - mean], fmt="o", ms=3, label=name)
    ax.set_xticks(x, [data["names"][i].split()[-1] for i in order], rotation=60)
    ax.set_ylabel("chance of a hit")
    ax.set_title("Batting averages: posterior chance of a hit (90% intervals)")
    ax.set_ylim(0.05, 0.65)
    ax.legend(fontsize="small", ncols=3, loc="upper right")
    _common.save_figure(fig, path)


def main(args: argparse.Namespace) -> dict:
    """Fit the four models; return, for each, its fit (see :func:`fit_model`)."""
    data = load_data()
    fits = {}
    keys = jax.random.split(jax.random.PRNGKey(args.seed), len(MODELS))
    for key, (name, model) in zip(keys, MODELS.items(), strict=True):
        print(f"\nNUTS on the {name} model")
        fits[name] = fit_model(model, args, key, data)
        report(name, fits[name], data)
    if args.plot:
        plot(fits, data, args.plot)
    return fits


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.mcmc_arguments(parser, num_samples=2000, num_warmup=1000)
    _common.run_arguments(
        parser,
        plot_help="save a plot of the estimates (PNG)",
        smoke_help="a quick run: 200 warmup and 200 samples, 1 chain",
    )
    return _common.parse(parser, argv, num_warmup=200, num_samples=200, num_chains=1)


if __name__ == "__main__":
    args = parse_args()
    _common.setup_device(args)
    main(args)
