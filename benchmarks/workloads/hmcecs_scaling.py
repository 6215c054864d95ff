"""HMCECS scaling: time per sample of HMCECS (NUTS inner kernel, Taylor proxy) on a
logistic regression as the data grow, N = 10,000, 100,000, 1,000,000.

With subsamples of a fixed size the cost of a step should not grow with N; only the
proxy's one full-data pass at initialization does. Both libraries get the same data,
the same reference point (the MAP estimate, by Newton's method in NumPy) and the same
settings; :func:`run` measures one (library, N) pair in the calling process (the
driver, ``benchmarks/hmcecs_scaling.py``, gives each pair a fresh process).
"""

from __future__ import annotations

import importlib
import time

import numpy as np

KIND = "hmcecs_scaling"
SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
SETTINGS = {
    "num_warmup": 500,
    "num_samples": 1000,
    "D": 10,
    "subsample_size": 1000,
    "num_blocks": 100,
}
QUICK_SETTINGS = {
    "num_warmup": 200,
    "num_samples": 300,
    "D": 5,
    "subsample_size": 500,
    "num_blocks": 10,
}


def make_data(num_data: int, dim: int, seed: int = 0) -> dict:
    """Features, labels, and the MAP estimate (the proxy's reference point)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(num_data, dim)).astype(np.float32)
    w = rng.normal(size=dim) / np.sqrt(dim)
    y = (rng.uniform(size=num_data) < 1 / (1 + np.exp(-(X @ w + 0.5)))).astype(np.float32)
    return {"X": X, "y": y, "reference": map_estimate(X, y)}


def map_estimate(X: np.ndarray, y: np.ndarray) -> dict:
    """The posterior mode of (w, b) under the priors of :func:`model` (Newton, float64)."""
    A = np.hstack([X.astype(np.float64), np.ones((len(X), 1))])
    prior_precision = np.diag(np.r_[np.ones(X.shape[1]), 1 / 25.0])
    theta = np.zeros(A.shape[1])
    for _ in range(20):
        p = 1 / (1 + np.exp(-A @ theta))
        hessian = -(A.T * (p * (1 - p))) @ A - prior_precision
        step = np.linalg.solve(hessian, A.T @ (y - p) - prior_precision @ theta)
        theta = theta - step
        if np.max(np.abs(step)) < 1e-10:
            break
    return {"w": theta[:-1].astype(np.float32), "b": np.float32(theta[-1])}


def model(pp, dist, X, y, subsample_size):
    """Logistic regression with a subsampled likelihood plate (the API both libraries share)."""
    import jax.numpy as jnp

    w = pp.sample("w", dist.Normal(jnp.zeros(X.shape[1]), 1.0).to_event(1))
    b = pp.sample("b", dist.Normal(0.0, 5.0))
    with pp.plate("N", X.shape[0], subsample_size=subsample_size):
        X_batch = pp.subsample(X, event_dim=1)
        y_batch = pp.subsample(y, event_dim=0)
        pp.sample("obs", dist.Bernoulli(logits=X_batch @ w + b), obs=y_batch)


def _hmcecs_class(library: str):
    infer = importlib.import_module(f"{library}.infer")
    try:
        return infer.HMCECS
    except (AttributeError, ImportError):
        if library != "ppl":
            raise
        # ppl before the kernel is registered in ppl.infer.
        return importlib.import_module("ppl.mcmc.hmc_ecs").HMCECS


def run(library: str, num_data: int, settings: dict, seed: int = 0) -> dict:
    """Time HMCECS on ``library`` ("ppl" or "numpyro") for ``num_data`` points.

    Returns the first run's seconds (initialization, the proxy's full-data pass and
    compilation included), the warm run's seconds and time per sample (the same
    object run again with a new key: warmup and sampling, nothing compiled), the
    minimum bulk ESS of the warm run, mean leapfrog steps and the index acceptance.
    """
    import jax

    from benchmarks.ess import effective_sample_size

    pp = importlib.import_module(library)
    dist = importlib.import_module(f"{library}.distributions")
    infer = importlib.import_module(f"{library}.infer")
    hmcecs = _hmcecs_class(library)
    data = make_data(num_data, settings["D"], seed)
    X, y = jax.numpy.asarray(data["X"]), jax.numpy.asarray(data["y"])

    def bound_model(X, y, subsample_size):
        return model(pp, dist, X, y, subsample_size)

    kernel = hmcecs(
        infer.NUTS(bound_model),
        num_blocks=settings["num_blocks"],
        proxy=hmcecs.taylor_proxy(data["reference"]),
    )
    mcmc = infer.MCMC(
        kernel,
        num_warmup=settings["num_warmup"],
        num_samples=settings["num_samples"],
        progress_bar=False,
    )
    fields = ("hmc_state.num_steps", "accept_prob")

    def one_run(key: int) -> float:
        start = time.perf_counter()
        mcmc.run(jax.random.PRNGKey(key), X, y, settings["subsample_size"], extra_fields=fields)
        jax.block_until_ready(mcmc.get_samples())
        return time.perf_counter() - start

    first = one_run(seed)
    warm = one_run(seed + 1)
    samples = mcmc.get_samples(group_by_chain=True)
    ess = []
    for draws in samples.values():
        draws = np.asarray(draws, dtype=np.float64)
        flat = draws.reshape(draws.shape[0], draws.shape[1], -1)
        ess += [effective_sample_size(flat[:, :, i]) for i in range(flat.shape[-1])]
    extra = mcmc.get_extra_fields()
    iterations = settings["num_warmup"] + settings["num_samples"]
    mean_w = np.asarray(samples["w"]).reshape(-1, settings["D"]).mean(0)
    return {
        "num_data": num_data,
        "first_run_s": first,
        "warm_run_s": warm,
        "time_per_sample_ms": 1e3 * warm / iterations,
        "min_bulk_ess": float(min(ess)),
        "ess_per_s": float(min(ess)) / warm,
        "mean_num_steps": float(np.mean(extra["hmc_state.num_steps"])),
        "index_accept_prob": float(np.mean(extra["accept_prob"])),
        # The largest gap between the posterior mean and the MAP of w: a sanity check
        # that both libraries sample the same posterior.
        "mean_minus_map": float(np.max(np.abs(mean_w - data["reference"]["w"]))),
    }
