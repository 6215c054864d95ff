"""Gaussian process regression with NUTS on the kernel's hyperparameters.

The data are noisy draws of a smooth function at a few points of
:math:`[-1, 1]`. A Gaussian process with the squared-exponential (RBF) kernel

.. math::

    k(x, x') = \\eta \\exp\\left(-\\frac{(x - x')^2}{2 \\ell^2}\\right)

and Gaussian observation noise of variance :math:`\\sigma^2` models them; the
function itself is integrated out, so the likelihood is the multivariate
normal :math:`y \\sim N(0, K + \\sigma^2 I)`. NUTS samples the variance
:math:`\\eta`, the length scale :math:`\\ell` and the noise :math:`\\sigma^2`
(each with a log-normal prior). For each posterior draw the GP's conditional
distribution at the test points gives a predictive mean and a draw; together
they give the predictive mean and its 90% band.

Run ``python examples/gp.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse

import _common
import jax
import jax.numpy as jnp
import numpy as np

import ppl
import ppl.distributions as dist
from ppl.infer import MCMC, NUTS, init_to_median


def true_function(x):
    """The function the data are noisy observations of."""
    return jnp.sin(4.0 * x) + 0.5 * jnp.cos(9.0 * x) * x


def make_data(num_data: int, noise: float = 0.2, seed: int = 0) -> tuple:
    """``num_data`` noisy observations on [-1, 1] and 200 test points."""
    key_x, key_noise = jax.random.split(jax.random.PRNGKey(seed))
    x = jnp.sort(jax.random.uniform(key_x, (num_data,), minval=-1.0, maxval=1.0))
    y = true_function(x) + noise * jax.random.normal(key_noise, (num_data,))
    x_test = jnp.linspace(-1.2, 1.2, 200)
    return x, y, x_test


def rbf_kernel(x, z, var, length):
    """The matrix :math:`\\eta \\exp(-(x_i - z_j)^2 / 2\\ell^2)`."""
    squared = ((x[:, None] - z[None, :]) / length) ** 2
    return var * jnp.exp(-0.5 * squared)


def noisy_kernel(x, var, length, noise, jitter=1.0e-6):
    """The covariance of noisy observations at ``x``: the kernel plus ``noise + jitter`` times I.

    The jitter keeps the Cholesky factorization stable when the noise is tiny.
    """
    return rbf_kernel(x, x, var, length) + (noise + jitter) * jnp.eye(x.shape[0])


def model(x, y=None):
    var = ppl.sample("kernel_var", dist.LogNormal(0.0, 1.0))
    length = ppl.sample("kernel_length", dist.LogNormal(-1.0, 1.0))
    noise = ppl.sample("kernel_noise", dist.LogNormal(-2.0, 1.0))
    k = noisy_kernel(x, var, length, noise)
    ppl.sample("y", dist.MultivariateNormal(jnp.zeros(x.shape[0]), covariance_matrix=k), obs=y)


def predict(rng_key, x, y, x_test, var, length, noise):
    """The GP's predictive mean at ``x_test`` given the data and one set of hyperparameters,
    and one draw of new observations there (each point drawn from its marginal).

    With :math:`K = k(x, x) + \\sigma^2 I` and :math:`k_* = k(x_*, x)`, the mean is
    :math:`k_* K^{-1} y` and the variance of a new observation
    :math:`\\eta + \\sigma^2 - \\operatorname{diag}(k_* K^{-1} k_*^T)`.
    """
    chol = jnp.linalg.cholesky(noisy_kernel(x, var, length, noise))
    k_tx = rbf_kernel(x_test, x, var, length)
    mean = k_tx @ jax.scipy.linalg.cho_solve((chol, True), y)
    v = jax.scipy.linalg.solve_triangular(chol, k_tx.T, lower=True)
    # Only the marginal variances are needed: the diagonal of k_* K^{-1} k_*^T is the
    # column sums of v^2. Clipping keeps round-off from making a variance negative.
    variance = jnp.clip(var + noise - jnp.sum(v**2, axis=0), 0.0)
    return mean, mean + jnp.sqrt(variance) * jax.random.normal(rng_key, x_test.shape)


def main(args: argparse.Namespace) -> dict:
    """Fit the hyperparameters; return the predictive mean and 90% band at the test points."""
    x, y, x_test = make_data(args.num_data, seed=args.seed)
    key_mcmc, key_predict = jax.random.split(jax.random.PRNGKey(args.seed + 1))
    mcmc = MCMC(
        NUTS(model, init_strategy=init_to_median),
        num_warmup=args.num_warmup,
        num_samples=args.num_samples,
        num_chains=args.num_chains,
        chain_method=args.chain_method,
        progress_bar=not args.no_progress_bar,
    )
    mcmc.run(key_mcmc, x, y)
    mcmc.print_summary()
    samples = mcmc.get_samples()

    keys = jax.random.split(key_predict, samples["kernel_var"].shape[0])
    means, draws = jax.jit(jax.vmap(predict, in_axes=(0, None, None, None, 0, 0, 0)))(
        keys,
        x,
        y,
        x_test,
        samples["kernel_var"],
        samples["kernel_length"],
        samples["kernel_noise"],
    )
    mean = np.asarray(means.mean(0))
    low, high = np.percentile(np.asarray(draws), [5.0, 95.0], axis=0)
    truth = np.asarray(true_function(x_test))
    inside = np.abs(x_test) <= 1.0
    rmse = float(np.sqrt(np.mean((mean - truth)[inside] ** 2)))
    print(f"\nPredictive mean vs the true function on [-1, 1]: root mean squared error {rmse:.3f}")
    if args.plot:
        plot(x, y, x_test, mean, low, high, truth, args.plot)
    return {
        "samples": samples,
        "x_test": np.asarray(x_test),
        "mean": mean,
        "low": low,
        "high": high,
        "truth": truth,
        "rmse": rmse,
    }


def plot(x, y, x_test, mean, low, high, truth, path: str) -> None:
    plt = _common.pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(x, y, "kx", label="observations")
    ax.plot(x_test, truth, "k:", label="true function")
    ax.plot(x_test, mean, "C0-", label="predictive mean")
    ax.fill_between(x_test, low, high, color="C0", alpha=0.25, label="90% predictive band")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Gaussian process regression (NUTS on the kernel hyperparameters)")
    ax.legend(fontsize="small")
    _common.save_figure(fig, path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.mcmc_arguments(parser, num_samples=1000, num_warmup=1000)
    parser.add_argument("--num-data", type=int, default=25)
    _common.run_arguments(
        parser,
        plot_help="save the predictive plot (PNG)",
        smoke_help="a quick run: 200 warmup and 200 samples, 1 chain",
    )
    return _common.parse(parser, argv, num_warmup=200, num_samples=200, num_chains=1)


if __name__ == "__main__":
    args = parse_args()
    _common.setup_device(args)
    main(args)
