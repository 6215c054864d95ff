"""Sampling and log_prob throughput of seven distributions over large batches.

Scalar families draw 10^6 values, each with its own parameters; vector
families draw 10^5 vectors of dimension 10 (MultivariateNormal shares one
covariance, as a latent vector in a model does). The mixture is five normal
components drawn 10^6 times.
"""

import numpy as np

from benchmarks.kinds.distribution import Case

KIND = "distribution"
SETTINGS = {
    "scalars": 1_000_000,
    "vectors": 100_000,
    "dim": 10,
    "components": 5,
    "calls": 9,
    "min_seconds": 0.2,
}
QUICK_SETTINGS = {
    "scalars": 10_000,
    "vectors": 1_000,
    "dim": 10,
    "components": 5,
    "calls": 5,
    "min_seconds": 0.05,
}


def _scalar_draws(settings: dict) -> tuple[int, ...]:
    return (settings["scalars"],)


def _vector_draws(settings: dict) -> tuple[int, ...]:
    return (settings["vectors"],)


def _mixture(dist, mixing_logits, loc, scale):
    return dist.MixtureSameFamily(dist.Categorical(logits=mixing_logits), dist.Normal(loc, scale))


CASES = {
    "Normal": Case(lambda dist, loc, scale: dist.Normal(loc, scale)),
    "Gamma": Case(lambda dist, concentration, rate: dist.Gamma(concentration, rate)),
    "Beta": Case(lambda dist, a, b: dist.Beta(a, b)),
    "Dirichlet": Case(lambda dist, concentration: dist.Dirichlet(concentration)),
    "MultivariateNormal": Case(
        lambda dist, loc, scale_tril: dist.MultivariateNormal(loc, scale_tril=scale_tril),
        _vector_draws,
    ),
    "Categorical": Case(lambda dist, logits: dist.Categorical(logits=logits)),
    "MixtureSameFamily": Case(_mixture, _scalar_draws),
}


def make_data(quick: bool) -> dict:
    settings = QUICK_SETTINGS if quick else SETTINGS
    rng = np.random.default_rng(3)
    n, m, k, c = settings["scalars"], settings["vectors"], settings["dim"], settings["components"]

    def positive(*shape):
        return rng.uniform(0.5, 5.0, size=shape).astype(np.float32)

    a = rng.normal(size=(k, k))
    scale_tril = np.linalg.cholesky(a @ a.T / k + np.eye(k)).astype(np.float32)
    return {
        "Normal": {"loc": rng.normal(size=n).astype(np.float32), "scale": positive(n)},
        "Gamma": {"concentration": positive(n), "rate": positive(n)},
        "Beta": {"a": positive(n), "b": positive(n)},
        "Dirichlet": {"concentration": positive(m, k)},
        "MultivariateNormal": {
            "loc": rng.normal(size=k).astype(np.float32),
            "scale_tril": scale_tril,
        },
        "Categorical": {"logits": rng.normal(size=(m, k)).astype(np.float32)},
        "MixtureSameFamily": {
            "mixing_logits": rng.normal(size=c).astype(np.float32),
            "loc": rng.normal(0.0, 3.0, size=c).astype(np.float32),
            "scale": positive(c),
        },
    }
