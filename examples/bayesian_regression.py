"""Bayesian regression: divorce rates of the US states against marriage age and rate.

The data are McElreath's ``WaffleDivorce`` (Statistical Rethinking, 2020): for
50 states (all but Nevada, with Washington DC), the divorce rate, the
marriage rate and the median age at marriage in 2009, and whether the state
is in the South. All three rates are standardized, and the models regress
the divorce rate :math:`D` on them:

.. math::

    a \\sim N(0, 0.2), \\quad \\beta_A, \\beta_M \\sim N(0, 0.5), \\quad
    \\sigma \\sim \\text{Exponential}(1), \\quad
    D_i \\sim N(a + \\beta_A A_i + \\beta_M M_i, \\sigma).

The script fits, with NUTS,

1. the simple regression on the median age at marriage :math:`A`, and draws
   its regression line with a 90% highest posterior density band;
2. the multiple regression on both :math:`A` and the marriage rate
   :math:`M`, whose posterior shows that once age is known the marriage rate
   adds little, and checks it with the posterior predictive;
3. a hierarchical regression whose intercept varies by region (South or
   not): :math:`a_r \\sim N(\\mu_a, \\sigma_a)`, non-centered through
   :class:`~ppl.infer.reparam.LocScaleReparam`.

Run ``python examples/bayesian_regression.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse

import _common
import jax
import jax.numpy as jnp
import numpy as np

import ppl
import ppl.distributions as dist
from ppl.diagnostics import hpdi
from ppl.infer import MCMC, NUTS, Predictive
from ppl.infer.reparam import LocScaleReparam

# WaffleDivorce: state, marriage rate and divorce rate (per 1000 adults), median
# age at marriage, and 1 for a Southern state. The states are in alphabetical order.
_TABLE = """\
AL 20.2 12.7 25.3 1
AK 26.0 12.5 25.2 0
AZ 20.3 10.8 25.8 0
AR 26.4 13.5 24.3 1
CA 19.1  8.0 26.8 0
CO 23.5 11.6 25.7 0
CT 17.1  6.7 27.6 0
DE 23.1  8.9 26.6 0
DC 17.7  6.3 29.7 0
FL 17.0  8.5 26.4 1
GA 22.1 11.5 25.9 1
HI 24.9  8.3 26.9 0
ID 25.8  7.7 23.2 0
IL 17.9  8.0 27.0 0
IN 19.8 11.0 25.7 0
IA 21.5 10.2 25.4 0
KS 22.1 10.6 25.0 0
KY 22.2 12.6 24.8 1
LA 20.6 11.0 25.9 1
ME 13.5 13.0 26.4 0
MD 18.3  8.8 27.3 0
MA 15.8  7.8 28.5 0
MI 16.5  9.2 26.4 0
MN 15.3  7.4 26.3 0
MS 19.3 11.1 25.8 1
MO 18.6  9.5 25.6 1
MT 18.5  9.1 25.7 0
NE 19.6  8.8 25.4 0
NH 16.7 10.1 26.8 0
NJ 14.8  6.1 27.7 0
NM 20.4 10.2 25.8 0
NY 16.8  6.6 28.4 0
NC 20.4  9.9 25.7 1
ND 26.7  8.0 25.3 0
OH 16.9  9.5 26.3 0
OK 23.8 12.8 24.4 0
OR 18.9 10.4 26.0 0
PA 15.5  7.7 27.1 0
RI 15.0  9.4 28.2 0
SC 18.1  8.1 26.4 1
SD 20.1 10.9 25.6 0
TN 19.4 11.4 25.2 1
TX 21.5 10.0 25.2 1
UT 29.6 10.2 23.3 0
VT 16.4  9.6 26.9 0
VA 20.5  8.9 26.4 1
WA 21.4 10.0 25.9 0
WV 22.2 10.9 25.0 1
WI 17.2  8.3 26.3 0
WY 30.7 10.3 24.2 0
"""


def standardize(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / x.std()


def load_data() -> dict:
    """Standardized ``marriage``, ``divorce`` and ``age``, the 0/1 ``south`` and ``states``."""
    rows = [line.split() for line in _TABLE.splitlines()]
    column = [np.array([float(row[i]) for row in rows]) for i in (1, 2, 3, 4)]
    return {
        "states": [row[0] for row in rows],
        "marriage": standardize(column[0]),
        "divorce": standardize(column[1]),
        "age": standardize(column[2]),
        "south": column[3].astype(np.int32),
        "divorce_raw": column[1],
    }


def regression(age, marriage=None, divorce=None):
    """Divorce rate linear in the median age at marriage (and the marriage rate, when given)."""
    a = ppl.sample("a", dist.Normal(0.0, 0.2))
    b_age = ppl.sample("b_age", dist.Normal(0.0, 0.5))
    mu = a + b_age * age
    if marriage is not None:
        b_marriage = ppl.sample("b_marriage", dist.Normal(0.0, 0.5))
        mu = mu + b_marriage * marriage
    sigma = ppl.sample("sigma", dist.Exponential(1.0))
    with ppl.plate("states", age.shape[0]):
        mu = ppl.deterministic("mu", mu)
        ppl.sample("obs", dist.Normal(mu, sigma), obs=divorce)


def hierarchical_regression(age, region, num_regions, divorce=None):
    """As :func:`regression` on age, with an intercept per region pooled toward ``a_mu``."""
    a_mu = ppl.sample("a_mu", dist.Normal(0.0, 0.2))
    a_sigma = ppl.sample("a_sigma", dist.HalfNormal(0.2))
    with ppl.plate("regions", num_regions):
        # Two regions say little about a_sigma: the non-centered form keeps NUTS
        # out of the funnel between a_sigma and the intercepts.
        with ppl.handlers.reparam(config={"a": LocScaleReparam(centered=0.0)}):
            a = ppl.sample("a", dist.Normal(a_mu, a_sigma))
    b_age = ppl.sample("b_age", dist.Normal(0.0, 0.5))
    sigma = ppl.sample("sigma", dist.Exponential(1.0))
    with ppl.plate("states", age.shape[0]):
        mu = ppl.deterministic("mu", a[region] + b_age * age)
        ppl.sample("obs", dist.Normal(mu, sigma), obs=divorce)


def run_inference(model, args: argparse.Namespace, rng_key, *model_args, **model_kwargs) -> dict:
    mcmc = MCMC(
        NUTS(model),
        num_warmup=args.num_warmup,
        num_samples=args.num_samples,
        num_chains=args.num_chains,
        chain_method=args.chain_method,
        progress_bar=not args.no_progress_bar,
    )
    mcmc.run(rng_key, *model_args, **model_kwargs)
    mcmc.print_summary(exclude_deterministic=True)
    return mcmc.get_samples()


def main(args: argparse.Namespace) -> dict:
    """Fit the three models; return their posterior samples and predictive summaries."""
    data = load_data()
    age, marriage, divorce = (jnp.asarray(data[k]) for k in ("age", "marriage", "divorce"))
    keys = jax.random.split(jax.random.PRNGKey(args.seed), 5)

    print("\n1. Divorce rate against the median age at marriage")
    samples_age = run_inference(regression, args, keys[0], age, divorce=divorce)
    # The regression line's 90% band: HPDI of the mean over a grid of ages.
    grid = jnp.linspace(float(age.min()), float(age.max()), 40)
    line = Predictive(regression, samples_age, return_sites=["mu"])(keys[1], grid)["mu"]
    line_mean, line_band = np.asarray(line.mean(0)), hpdi(line, 0.9)

    print("\n2. Divorce rate against the median age at marriage and the marriage rate")
    samples_both = run_inference(regression, args, keys[2], age, marriage, divorce)
    predicted = Predictive(regression, samples_both, return_sites=["obs"])(keys[3], age, marriage)
    predicted = np.asarray(predicted["obs"])
    band = hpdi(predicted, 0.9)
    inside = (band[0] <= data["divorce"]) & (data["divorce"] <= band[1])
    print(
        f"Posterior predictive: {inside.mean():.0%} of the states' divorce rates lie in "
        "their 90% HPDI; the states predicted worst (in standard deviations):"
    )
    residual = data["divorce"] - predicted.mean(0)
    for i in np.argsort(-np.abs(residual))[:5]:
        state, observed = data["states"][i], data["divorce"][i]
        print(f"  {state}: observed {observed:+.2f}, residual {residual[i]:+.2f}")

    print("\n3. Hierarchical regression: an intercept per region (0: elsewhere, 1: the South)")
    south = jnp.asarray(data["south"])
    samples_region = run_inference(
        hierarchical_regression, args, keys[4], age, south, 2, divorce=divorce
    )
    gap = np.asarray(samples_region["a"][:, 1] - samples_region["a"][:, 0])
    print(f"The South's intercept minus the others': {gap.mean():+.2f} (sd {gap.std():.2f})")

    if args.plot:
        plot(data, grid, line_mean, line_band, predicted, band, args.plot)
    return {
        "samples_age": samples_age,
        "samples_both": samples_both,
        "samples_region": samples_region,
        "grid": np.asarray(grid),
        "line_mean": line_mean,
        "line_band": line_band,
        "coverage": float(inside.mean()),
    }


def plot(data, grid, line_mean, line_band, predicted, band, path: str) -> None:
    plt = _common.pyplot()
    if plt is None:
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
    ax1.plot(data["age"], data["divorce"], "o", ms=4, color="C0")
    ax1.plot(grid, line_mean, "k-", label="posterior mean")
    ax1.fill_between(grid, line_band[0], line_band[1], alpha=0.3, color="k", label="90% HPDI")
    ax1.set_xlabel("median age at marriage (standardized)")
    ax1.set_ylabel("divorce rate (standardized)")
    ax1.set_title("Regression line with its 90% HPDI")
    ax1.legend()
    mean = predicted.mean(0)
    ax2.errorbar(data["divorce"], mean, yerr=[mean - band[0], band[1] - mean], fmt="o", ms=4)
    lim = [min(data["divorce"].min(), band[0].min()), max(data["divorce"].max(), band[1].max())]
    ax2.plot(lim, lim, "k--", lw=1)
    ax2.set_xlabel("observed divorce rate")
    ax2.set_ylabel("predicted divorce rate")
    ax2.set_title("Posterior predictive (age and marriage rate)")
    _common.save_figure(fig, path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.mcmc_arguments(parser, num_samples=2000, num_warmup=1000)
    _common.run_arguments(
        parser,
        plot_help="save the regression plots (PNG)",
        smoke_help="a quick run: 200 warmup and 200 samples, 1 chain",
    )
    return _common.parse(parser, argv, num_warmup=200, num_samples=200, num_chains=1)


if __name__ == "__main__":
    args = parse_args()
    _common.setup_device(args)
    main(args)
