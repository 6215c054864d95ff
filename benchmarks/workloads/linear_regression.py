"""Gradient-bound linear regression, N = 200,000, D = 50: the sampler's overhead.

The sampling phase is timed alone (after warmup) and compared with the time
of its gradient evaluations: overhead = sampling time / (gradient evaluations
x time of one jitted gradient). A sampler with no overhead scores 1.0.
"""

import numpy as np

KIND = "nuts"
PROTOCOL = "sampling"
SETTINGS = {"num_warmup": 300, "num_samples": 500, "num_chains": 1, "N": 200_000, "D": 50}
QUICK_SETTINGS = {"num_warmup": 100, "num_samples": 100, "num_chains": 1, "N": 20_000, "D": 10}


def make_data(quick: bool) -> dict:
    settings = QUICK_SETTINGS if quick else SETTINGS
    rng = np.random.default_rng(2)
    N, D = settings["N"], settings["D"]
    X = rng.normal(size=(N, D)).astype(np.float32)
    w = rng.normal(size=D)
    y = (X @ w + 0.5 * rng.normal(size=N)).astype(np.float32)
    return {"X": X, "y": y}


def model(pp, dist, X, y=None):
    w = pp.sample("w", dist.Normal(np.zeros(X.shape[1], np.float32), 1.0).to_event(1))
    sigma = pp.sample("sigma", dist.HalfNormal(1.0))
    with pp.plate("N", X.shape[0]):
        pp.sample("y", dist.Normal(X @ w, sigma), obs=y)


def logdensity(data: dict):
    import jax
    import jax.numpy as jnp
    from jax.scipy import stats

    X, y = jnp.asarray(data["X"]), jnp.asarray(data["y"])

    def logdensity_fn(position):
        w, log_sigma = position["w"], position["log_sigma"]
        sigma = jnp.exp(log_sigma)
        log_prior = stats.norm.logpdf(w).sum() + jnp.log(2.0) + stats.norm.logpdf(sigma)
        return log_prior + log_sigma + stats.norm.logpdf(y, X @ w, sigma).sum()

    def initial_position(key):
        k1, k2 = jax.random.split(key)
        return {
            "w": jax.random.uniform(k1, (X.shape[1],), minval=-2, maxval=2),
            "log_sigma": jax.random.uniform(k2, (), minval=-2, maxval=2),
        }

    return logdensity_fn, initial_position
