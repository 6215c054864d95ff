"""HMCECS: NUTS on a subsampled likelihood, for a logistic regression on a large data set.

Energy conserving subsampling (Dang et al. 2019) runs HMC/NUTS on a likelihood
estimated from ``m`` of the ``N`` data points, with a Taylor-series control
variate around a reference point (here the MAP estimate, found by SVI with an
:class:`~ppl.infer.autoguide.AutoDelta` guide on the same subsampled model):

.. math::

    w \\sim N(0, I_D), \\quad y_i \\sim \\text{Bernoulli}(\\sigma(x_i^\\top w + b)),
    \\quad i = 1, \\ldots, N

Each step reads only the subsample (and one redrawn block of its indices), so the
cost per sample does not grow with ``N``. For comparison, NUTS runs on the full
likelihood of a subset of the data: its cost grows with the subset, and its
posterior is wider than the one from all the data.

Run ``python examples/hmcecs.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import time

import _common
import jax
import jax.numpy as jnp
import numpy as np

import ppl
import ppl.distributions as dist
import ppl.optim as optim
from ppl.infer import MCMC, NUTS, SVI, Trace_ELBO
from ppl.infer.autoguide import AutoDelta
from ppl.mcmc.hmc_ecs import HMCECS


def make_data(num_data: int, dim: int, seed: int) -> dict:
    """Synthetic features, coefficients and labels."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(num_data, dim)).astype(np.float32)
    w = rng.normal(size=dim) / np.sqrt(dim)
    b = 0.5
    y = (rng.uniform(size=num_data) < 1 / (1 + np.exp(-(X @ w + b)))).astype(np.float32)
    return {"X": X, "y": y, "w": w, "b": b}


def model(X, y, subsample_size=None):
    """Logistic regression; with ``subsample_size`` the likelihood plate subsamples."""
    w = ppl.sample("w", dist.Normal(jnp.zeros(X.shape[1]), 1.0).to_event(1))
    b = ppl.sample("b", dist.Normal(0.0, 5.0))
    with ppl.plate("N", X.shape[0], subsample_size=subsample_size):
        X_batch = ppl.subsample(X, event_dim=1)
        y_batch = ppl.subsample(y, event_dim=0)
        ppl.sample("obs", dist.Bernoulli(logits=X_batch @ w + b), obs=y_batch)


def map_estimate(data: dict, args: argparse.Namespace) -> dict:
    """The MAP estimate by SVI on the subsampled model (a point-mass guide)."""
    guide = AutoDelta(model)
    svi = SVI(model, guide, optim.Adam(args.learning_rate), Trace_ELBO())
    result = svi.run(
        jax.random.PRNGKey(args.seed),
        args.num_svi_steps,
        data["X"],
        data["y"],
        args.subsample_size,
        progress_bar=False,
    )
    return guide.median(result.params)


def run_mcmc(kernel, args: argparse.Namespace, *model_args) -> tuple[dict, float]:
    """Samples and the time per sample of a second (compiled) run."""
    mcmc = MCMC(
        kernel,
        num_warmup=args.num_warmup,
        num_samples=args.num_samples,
        progress_bar=not args.no_progress_bar,
    )
    mcmc.run(jax.random.PRNGKey(args.seed), *model_args)
    # Time a second run: the loop is compiled by then.
    start = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(args.seed + 1), *model_args)
    jax.block_until_ready(mcmc.get_samples())
    seconds = time.perf_counter() - start
    mcmc.print_summary()
    samples = {name: np.asarray(value) for name, value in mcmc.get_samples().items()}
    return samples, seconds / (args.num_warmup + args.num_samples)


def main(args: argparse.Namespace) -> dict:
    data = make_data(args.num_data, args.dim, args.seed)
    print(f"{args.num_data} data points, {args.dim} features")

    start = time.perf_counter()
    reference = map_estimate(data, args)
    print(f"MAP by SVI ({args.num_svi_steps} steps): {time.perf_counter() - start:.1f} s")

    print(f"\nHMCECS: subsamples of {args.subsample_size}, {args.num_blocks} blocks")
    kernel = HMCECS(NUTS(model), num_blocks=args.num_blocks, proxy=HMCECS.taylor_proxy(reference))
    ecs, ecs_seconds = run_mcmc(kernel, args, data["X"], data["y"], args.subsample_size)

    subset = min(args.nuts_subset, args.num_data)
    print(f"\nNUTS on the full likelihood of the first {subset} data points")
    nuts, nuts_seconds = run_mcmc(NUTS(model), args, data["X"][:subset], data["y"][:subset])

    print("\n            true    HMCECS (all data)    NUTS (subset)")
    truth = {"w": data["w"], "b": np.array(data["b"])}
    for name in ("w", "b"):
        for i, value in enumerate(np.atleast_1d(truth[name])):
            label = f"{name}[{i}]" if name == "w" else name
            e, n = (
                ecs[name].reshape(len(ecs[name]), -1)[:, i],
                nuts[name].reshape(len(nuts[name]), -1)[:, i],
            )
            print(
                f"{label:8s} {value:7.3f}   {e.mean():7.3f} +- {e.std():.3f}"
                f"     {n.mean():7.3f} +- {n.std():.3f}"
            )
    print(
        f"\nTime per sample (warmup included): HMCECS {1e3 * ecs_seconds:.2f} ms on "
        f"{args.num_data} points, NUTS {1e3 * nuts_seconds:.2f} ms on {subset} points"
    )
    if args.plot:
        plot(ecs, nuts, truth, args.plot)
    return {
        "data": data,
        "reference": {k: np.asarray(v) for k, v in reference.items()},
        "hmcecs": ecs,
        "nuts": nuts,
        "seconds_per_sample": {"hmcecs": ecs_seconds, "nuts": nuts_seconds},
    }


def plot(ecs: dict, nuts: dict, truth: dict, path: str) -> None:
    """Posterior means and standard deviations of the coefficients, with the truth."""
    plt = _common.pyplot()
    if plt is None:
        return
    names = [f"w[{i}]" for i in range(len(truth["w"]))] + ["b"]
    true = np.append(truth["w"], truth["b"])
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 4))
    for offset, (label, samples) in zip(
        (-0.15, 0.15), (("HMCECS", ecs), ("NUTS", nuts)), strict=True
    ):
        values = np.concatenate([samples["w"], samples["b"][:, None]], axis=1)
        ax.errorbar(x + offset, values.mean(0), 2 * values.std(0), fmt="o", capsize=3, label=label)
    ax.plot(x, true, "k_", markersize=14, label="true value")
    ax.set_xticks(x, names)
    ax.set_ylabel("posterior mean +- 2 sd")
    ax.legend()
    _common.save_figure(fig, path, dpi=120)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.mcmc_arguments(parser, num_samples=1000, num_warmup=500, num_chains=None)
    parser.add_argument("--num-data", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=10)
    parser.add_argument("--subsample-size", type=int, default=1000)
    parser.add_argument("--num-blocks", type=int, default=100)
    parser.add_argument("--num-svi-steps", type=int, default=2000)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument(
        "--nuts-subset", type=int, default=20_000, help="data points for the NUTS comparison"
    )
    _common.run_arguments(
        parser,
        plot_help="save a plot of the estimates (PNG)",
        smoke_help="a quick run: 20,000 points, 200 warmup and 200 samples",
    )
    return _common.parse(
        parser,
        argv,
        num_data=20_000,
        dim=3,
        subsample_size=200,
        num_blocks=10,
        num_warmup=200,
        num_samples=200,
        num_svi_steps=500,
        learning_rate=0.03,
        nuts_subset=2_000,
    )


if __name__ == "__main__":
    args = parse_args()
    _common.setup_device(args)
    main(args)
