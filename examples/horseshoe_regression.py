"""Sparse regression with the horseshoe prior, for real-valued and binary responses.

Of many candidate covariates only a few matter. The horseshoe prior of
Carvalho, Polson and Scott (2010) encodes that belief: each coefficient has
its own local scale :math:`\\lambda_j` and all share a global scale
:math:`\\tau`,

.. math::

    \\tau \\sim \\text{HalfCauchy}(1), \\quad \\lambda_j \\sim \\text{HalfCauchy}(1),
    \\quad \\beta_j = \\tau \\lambda_j z_j, \\quad z_j \\sim N(0, 1).

A small :math:`\\tau` shrinks the noise coefficients to zero while the heavy
tails of :math:`\\lambda_j` leave the large ones nearly untouched. The
non-centered form :math:`\\beta_j = \\tau\\lambda_j z_j` is what NUTS samples
well. Two likelihoods are fitted on synthetic data where only the first few
coefficients are non-zero:

- a normal likelihood, :math:`y \\sim N(X\\beta, \\sigma)` with a Gamma prior
  on the precision :math:`1/\\sigma^2`;
- a Bernoulli likelihood for binary responses,
  :math:`y \\sim \\text{Bernoulli}(\\text{logit}^{-1}(X\\beta))`.

The script prints which coefficients' 90% intervals exclude zero: those are
the covariates the model recovers as relevant.

Run ``python examples/horseshoe_regression.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse

import _common
import jax
import jax.numpy as jnp
import numpy as np

import ppl
import ppl.distributions as dist
from ppl.diagnostics import print_summary
from ppl.infer import MCMC, NUTS


def horseshoe_coefficients(num_covariates: int):
    """The coefficients ``beta`` under the (non-centered) horseshoe prior."""
    tau = ppl.sample("tau", dist.HalfCauchy(1.0))
    with ppl.plate("covariates", num_covariates):
        lambdas = ppl.sample("lambdas", dist.HalfCauchy(1.0))
        z = ppl.sample("z", dist.Normal(0.0, 1.0))
        return ppl.deterministic("beta", tau * lambdas * z)


def model_normal_likelihood(X, y=None):
    beta = horseshoe_coefficients(X.shape[1])
    precision = ppl.sample("precision", dist.Gamma(3.0, 1.0))
    with ppl.plate("data", X.shape[0]):
        ppl.sample("y", dist.Normal(X @ beta, 1.0 / jnp.sqrt(precision)), obs=y)


def model_bernoulli_likelihood(X, y=None):
    beta = horseshoe_coefficients(X.shape[1])
    with ppl.plate("data", X.shape[0]):
        ppl.sample("y", dist.Bernoulli(logits=X @ beta), obs=y)


def make_data(
    rng_key, num_data: int, num_covariates: int, active: np.ndarray, binary: bool
) -> tuple:
    """Standard normal covariates; the response depends on the first ``len(active)`` only."""
    key_x, key_y = jax.random.split(rng_key)
    X = jax.random.normal(key_x, (num_data, num_covariates))
    beta = jnp.zeros(num_covariates).at[: len(active)].set(active)
    if binary:
        y = dist.Bernoulli(logits=X @ beta).sample(key_y)
    else:
        y = X @ beta + 0.5 * jax.random.normal(key_y, (num_data,))
    return X, y, np.asarray(beta)


def fit(model, args: argparse.Namespace, rng_key, X, y) -> np.ndarray:
    """Run NUTS on ``model``; return the draws of ``beta``."""
    mcmc = MCMC(
        NUTS(model),
        num_warmup=args.num_warmup,
        num_samples=args.num_samples,
        num_chains=args.num_chains,
        chain_method=args.chain_method,
        progress_bar=not args.no_progress_bar,
    )
    mcmc.run(rng_key, X, y)
    # The global scale (and noise precision) summarize the fit; the per-coefficient
    # sites would be a hundred rows.
    by_chain = mcmc.get_samples(group_by_chain=True)
    print_summary({k: v for k, v in by_chain.items() if k in ("tau", "precision")})
    return np.asarray(mcmc.get_samples()["beta"])


def recovered(beta: np.ndarray, prob: float = 0.9) -> np.ndarray:
    """Indices of the coefficients whose central ``prob`` interval excludes zero."""
    low, high = np.quantile(beta, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    return np.flatnonzero((low > 0) | (high < 0))


def main(args: argparse.Namespace) -> dict:
    """Fit both likelihoods; return, for each, the true and sampled coefficients."""
    active = np.array([1.5, -1.5, 1.0, -0.75])
    keys = jax.random.split(jax.random.PRNGKey(args.seed), 4)
    results = {}
    for i, (name, model, binary) in enumerate(
        [
            ("normal", model_normal_likelihood, False),
            ("Bernoulli", model_bernoulli_likelihood, True),
        ]
    ):
        X, y, beta_true = make_data(keys[2 * i], args.num_data, args.num_covariates, active, binary)
        print(f"\nNUTS on the horseshoe regression with a {name} likelihood")
        beta = fit(model, args, keys[2 * i + 1], X, y)
        found = recovered(beta)
        print(f"  non-zero coefficients: {np.flatnonzero(beta_true).tolist()}")
        print(f"  coefficients whose 90% interval excludes zero: {found.tolist()}")
        for j in range(len(beta_true)):
            if beta_true[j] != 0 or j in found:
                print(
                    f"  beta[{j}]: true {beta_true[j]:+.2f}, posterior mean "
                    f"{beta[:, j].mean():+.2f} (sd {beta[:, j].std():.2f})"
                )
        spread = np.abs(beta[:, beta_true == 0].mean(0)).max()
        print(f"  largest |posterior mean| of the zero coefficients: {spread:.3f}")
        results[name] = {"beta": beta, "beta_true": beta_true, "recovered": found}
    if args.plot:
        plot(results, args.plot)
    return results


def plot(results: dict, path: str) -> None:
    plt = _common.pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, len(results), figsize=(10, 3.8), sharey=True)
    for ax, (name, result) in zip(axes, results.items(), strict=True):
        beta, truth = result["beta"], result["beta_true"]
        index = np.arange(len(truth))
        low, high = np.quantile(beta, [0.05, 0.95], axis=0)
        mean = beta.mean(0)
        ax.errorbar(index, mean, yerr=[mean - low, high - mean], fmt="o", ms=3, label="posterior")
        ax.plot(index, truth, "rx", label="true value")
        ax.axhline(0.0, color="k", lw=0.5)
        ax.set_xlabel("coefficient")
        ax.set_title(f"{name} likelihood: means and 90% intervals")
    axes[0].legend(fontsize="small")
    _common.save_figure(fig, path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.mcmc_arguments(parser, num_samples=1000, num_warmup=1000)
    parser.add_argument("--num-data", type=int, default=100)
    parser.add_argument("--num-covariates", type=int, default=50)
    _common.run_arguments(
        parser,
        plot_help="save a plot of the coefficients (PNG)",
        smoke_help="a quick run: 200 warmup and 200 samples, 1 chain, 10 covariates",
    )
    return _common.parse(
        parser, argv, num_warmup=200, num_samples=200, num_chains=1, num_covariates=10
    )


if __name__ == "__main__":
    args = parse_args()
    _common.setup_device(args)
    main(args)
