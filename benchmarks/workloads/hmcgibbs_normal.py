"""HMCGibbs on a normal model with unknown mean and scale (N = 1,000): the mean is
drawn exactly from its conjugate conditional, the scale by NUTS; 4 chains sequential,
1000 warmup + 1000 samples."""

import numpy as np

KIND = "kernel"
KERNEL = "HMCGibbs"
CHAIN_METHOD = "sequential"  # NumPyro runs this kernel only sequential or parallel
PRIOR_SCALE = 10.0
SETTINGS = {"num_warmup": 1000, "num_samples": 1000, "num_chains": 4}
QUICK_SETTINGS = {"num_warmup": 200, "num_samples": 200, "num_chains": 4}


def make_data(quick: bool) -> dict:
    return {"y": np.random.default_rng(3).normal(1.0, 2.0, size=1000).astype(np.float32)}


def model(pp, dist, y):
    mu = pp.sample("mu", dist.Normal(0.0, PRIOR_SCALE))
    sigma = pp.sample("sigma", dist.HalfNormal(5.0))
    with pp.plate("N", y.shape[0]):
        pp.sample("y", dist.Normal(mu, sigma), obs=y)


def make_kernel(infer, model, data: dict):
    import jax
    import jax.numpy as jnp

    y = jnp.asarray(data["y"])

    def mu_given_sigma(rng_key, gibbs_sites, hmc_sites):
        # Normal prior x normal likelihood with known scale: a normal conditional.
        precision = PRIOR_SCALE**-2 + y.shape[0] / hmc_sites["sigma"] ** 2
        mean = (y.sum() / hmc_sites["sigma"] ** 2) / precision
        return {"mu": mean + jax.random.normal(rng_key) / jnp.sqrt(precision)}

    return infer.HMCGibbs(infer.NUTS(model), gibbs_fn=mu_given_sigma, gibbs_sites=["mu"])
