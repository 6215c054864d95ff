"""Hierarchical logistic regression: 100 groups with their own intercepts, N = 5,000, D = 5."""

import numpy as np

KIND = "nuts"
PROTOCOL = "full"
SETTINGS = {"num_warmup": 500, "num_samples": 1000, "num_chains": 1, "G": 100, "N": 5000, "D": 5}
QUICK_SETTINGS = {"num_warmup": 100, "num_samples": 100, "num_chains": 1, "G": 20, "N": 500, "D": 3}


def make_data(quick: bool) -> dict:
    settings = QUICK_SETTINGS if quick else SETTINGS
    rng = np.random.default_rng(1)
    G, N, D = settings["G"], settings["N"], settings["D"]
    group = rng.integers(0, G, size=N)
    X = rng.normal(size=(N, D)).astype(np.float32)
    alpha = rng.normal(0.0, 1.0, size=G)
    w = rng.normal(size=D)
    p = 1 / (1 + np.exp(-(alpha[group] + X @ w)))
    y = (rng.uniform(size=N) < p).astype(np.float32)
    return {"X": X, "group": group.astype(np.int32), "G": G, "y": y}


def model(pp, dist, X, group, G, y=None):
    mu = pp.sample("mu", dist.Normal(0.0, 2.0))
    sigma = pp.sample("sigma", dist.HalfNormal(1.0))
    w = pp.sample("w", dist.Normal(np.zeros(X.shape[1], np.float32), 1.0).to_event(1))
    with pp.plate("groups", G):
        alpha_base = pp.sample("alpha_base", dist.Normal(0.0, 1.0))
    alpha = mu + sigma * alpha_base
    with pp.plate("N", X.shape[0]):
        pp.sample("y", dist.Bernoulli(logits=alpha[group] + X @ w), obs=y)


def logdensity(data: dict):
    import jax
    import jax.numpy as jnp
    from jax.scipy import stats

    X, y, group, G = (jnp.asarray(data["X"]), jnp.asarray(data["y"]), data["group"], data["G"])

    def logdensity_fn(position):
        mu, log_sigma = position["mu"], position["log_sigma"]
        sigma = jnp.exp(log_sigma)
        alpha = mu + sigma * position["alpha_base"]
        logits = alpha[group] + X @ position["w"]
        log_lik = jnp.sum(y * jax.nn.log_sigmoid(logits) + (1 - y) * jax.nn.log_sigmoid(-logits))
        log_prior = stats.norm.logpdf(mu, 0.0, 2.0)
        log_prior += jnp.log(2.0) + stats.norm.logpdf(sigma) + log_sigma
        log_prior += stats.norm.logpdf(position["w"]).sum()
        log_prior += stats.norm.logpdf(position["alpha_base"]).sum()
        return log_prior + log_lik

    def initial_position(key):
        keys = jax.random.split(key, 4)
        D = X.shape[1]
        return {
            "mu": jax.random.uniform(keys[0], (), minval=-2, maxval=2),
            "log_sigma": jax.random.uniform(keys[1], (), minval=-2, maxval=2),
            "w": jax.random.uniform(keys[2], (D,), minval=-2, maxval=2),
            "alpha_base": jax.random.uniform(keys[3], (G,), minval=-2, maxval=2),
        }

    return logdensity_fn, initial_position
