"""A small variational autoencoder (stax networks through ppl.module) on synthetic data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.example_libraries import stax

import ppl
import ppl.distributions as dist
import ppl.optim as optim
from ppl.vi import SVI, Trace_ELBO

N, D, Z = 100, 8, 2


def synthetic_data():
    """Two binary prototypes, each pixel flipped with probability 0.05."""
    rng = np.random.default_rng(0)
    prototypes = np.array([[1, 1, 1, 1, 0, 0, 0, 0], [0, 1, 0, 1, 1, 0, 1, 0]])
    labels = rng.integers(0, 2, N)
    flips = rng.random((N, D)) < 0.05
    return jnp.asarray(np.abs(prototypes[labels] - flips), dtype=jnp.float32)


encoder = stax.serial(stax.Dense(16), stax.Softplus, stax.Dense(2 * Z))
decoder = stax.serial(stax.Dense(16), stax.Softplus, stax.Dense(D))


def model(x):
    decode = ppl.module("decoder", decoder, (N, Z))
    with ppl.plate("N", x.shape[0]):
        z = ppl.sample("z", dist.Normal(jnp.zeros(Z), 1.0).to_event(1))
        ppl.sample("x", dist.Bernoulli(logits=decode(z)).to_event(1), obs=x)


def guide(x):
    encode = ppl.module("encoder", encoder, (N, D))
    out = encode(x)
    loc, scale = out[:, :Z], jax.nn.softplus(out[:, Z:]) + 1e-3
    with ppl.plate("N", x.shape[0]):
        ppl.sample("z", dist.Normal(loc, scale).to_event(1))


@pytest.mark.slow
def test_vae_beats_the_best_factorized_model():
    x = synthetic_data()
    # The negative log likelihood of the best model with independent pixels: a VAE whose
    # latent captures the two prototypes must do much better.
    p = np.clip(np.asarray(x).mean(0), 1e-6, 1 - 1e-6)
    factorized_nll = -N * np.sum(p * np.log(p) + (1 - p) * np.log(1 - p))
    svi = SVI(model, guide, optim.Adam(0.01), Trace_ELBO())
    result = svi.run(jax.random.PRNGKey(0), 1000, x, progress_bar=False)
    losses = np.asarray(result.losses)
    assert losses[0] > factorized_nll
    assert losses[-100:].mean() < 0.7 * factorized_nll
