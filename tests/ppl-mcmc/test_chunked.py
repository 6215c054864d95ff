"""MCMC(chunk_size=...): draws move to the host chunk by chunk, unchanged."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ppl
import ppl.distributions as dist
from ppl.mcmc import MCMC, NUTS


def model(y):
    mu = ppl.sample("mu", dist.Normal(0.0, 3.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(2.0))
    ppl.deterministic("twice", 2 * mu)
    with ppl.plate("data", y.shape[0]):
        ppl.sample("y", dist.Normal(mu, sigma), obs=y)


Y = jnp.array([0.3, 1.1, -0.4, 2.0, 0.9])


def run(chunk_size, chain_method, num_chains, thinning, warmup_first):
    mcmc = MCMC(
        NUTS(model),
        num_warmup=30,
        num_samples=45,
        num_chains=num_chains,
        thinning=thinning,
        chain_method=chain_method,
        chunk_size=chunk_size,
        progress_bar=False,
    )
    if warmup_first:
        mcmc.warmup(jax.random.PRNGKey(0), Y)
    mcmc.run(jax.random.PRNGKey(1), Y, extra_fields=("num_steps",))
    return mcmc


@pytest.mark.parametrize(
    "chain_method, num_chains, thinning, warmup_first",
    [
        ("sequential", 2, 2, False),
        pytest.param("vectorized", 2, 3, True, marks=pytest.mark.slow),
    ],
)
def test_chunked_run_keeps_the_same_draws(chain_method, num_chains, thinning, warmup_first):
    whole = run(None, chain_method, num_chains, thinning, warmup_first)
    chunked = run(7, chain_method, num_chains, thinning, warmup_first)
    expected = whole.get_samples(group_by_chain=True)
    got = chunked.get_samples(group_by_chain=True)
    assert set(got) == {"mu", "sigma", "twice"}
    for name in expected:
        assert isinstance(got[name], np.ndarray)
        assert got[name].shape == (num_chains, 45 // thinning)
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-6)
    np.testing.assert_array_equal(
        chunked.get_extra_fields()["num_steps"], whole.get_extra_fields()["num_steps"]
    )
    np.testing.assert_allclose(chunked.last_state.z["mu"], whole.last_state.z["mu"], rtol=1e-6)


def test_chunk_size_is_checked():
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
            MCMC(NUTS(model), num_warmup=1, num_samples=1, chunk_size=bad)
