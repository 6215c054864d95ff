"""Logistic regression, N = 10,000, D = 25, NUTS (1 chain, 500 + 1000).

The sampling phase is timed alone (after warmup), so the sampler's overhead over
its gradient evaluations is reported as for the linear regression.
"""

import numpy as np

KIND = "nuts"
PROTOCOL = "sampling"
SETTINGS = {"num_warmup": 500, "num_samples": 1000, "num_chains": 1, "N": 10_000, "D": 25}
QUICK_SETTINGS = {"num_warmup": 100, "num_samples": 100, "num_chains": 1, "N": 2_000, "D": 10}


def make_data(quick: bool) -> dict:
    settings = QUICK_SETTINGS if quick else SETTINGS
    rng = np.random.default_rng(0)
    N, D = settings["N"], settings["D"]
    X = rng.normal(size=(N, D)) / np.sqrt(D)
    true_w = rng.normal(size=D)
    y = (rng.uniform(size=N) < 1 / (1 + np.exp(-(X @ true_w + 0.5)))).astype(np.float32)
    return {"X": X.astype(np.float32), "y": y}


def model(pp, dist, X, y=None):
    D = X.shape[1]
    w = pp.sample("w", dist.Normal(np.zeros(D, np.float32), 1.0).to_event(1))
    b = pp.sample("b", dist.Normal(0.0, 5.0))
    with pp.plate("N", X.shape[0]):
        pp.sample("y", dist.Bernoulli(logits=X @ w + b), obs=y)


def logdensity(data: dict):
    import jax
    import jax.numpy as jnp
    from jax.scipy import stats

    X, y = jnp.asarray(data["X"]), jnp.asarray(data["y"])

    def logdensity_fn(position):
        w, b = position["w"], position["b"]
        logits = X @ w + b
        log_lik = jnp.sum(y * jax.nn.log_sigmoid(logits) + (1 - y) * jax.nn.log_sigmoid(-logits))
        return stats.norm.logpdf(w).sum() + stats.norm.logpdf(b, 0.0, 5.0) + log_lik

    def initial_position(key):
        k1, k2 = jax.random.split(key)
        D = X.shape[1]
        return {
            "w": jax.random.uniform(k1, (D,), minval=-2, maxval=2),
            "b": jax.random.uniform(k2, (), minval=-2, maxval=2),
        }

    return logdensity_fn, initial_position
