"""Eight schools, non-centered: 4 chains vectorized, 1000 warmup + 1000 samples."""

import numpy as np

KIND = "nuts"
PROTOCOL = "full"
SETTINGS = {"num_warmup": 1000, "num_samples": 1000, "num_chains": 4}
QUICK_SETTINGS = {"num_warmup": 200, "num_samples": 200, "num_chains": 4}


def make_data(quick: bool) -> dict:
    return {
        "J": 8,
        "y": np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0]),
        "sigma": np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0]),
    }


def model(pp, dist, J, sigma, y=None):
    mu = pp.sample("mu", dist.Normal(0.0, 5.0))
    tau = pp.sample("tau", dist.HalfCauchy(5.0))
    with pp.plate("J", J):
        theta_base = pp.sample("theta_base", dist.Normal(0.0, 1.0))
        pp.sample("obs", dist.Normal(mu + tau * theta_base, sigma), obs=y)


def logdensity(data: dict):
    import jax.numpy as jnp
    from jax.scipy import stats

    y, sigma = jnp.asarray(data["y"]), jnp.asarray(data["sigma"])

    def logdensity_fn(position):
        mu, log_tau, theta_base = position["mu"], position["log_tau"], position["theta_base"]
        tau = jnp.exp(log_tau)
        # HalfCauchy(5) on tau, with the Jacobian of tau = exp(log_tau)
        log_prior = stats.norm.logpdf(mu, 0.0, 5.0)
        log_prior += jnp.log(2.0) + stats.cauchy.logpdf(tau, 0.0, 5.0) + log_tau
        log_prior += stats.norm.logpdf(theta_base).sum()
        return log_prior + stats.norm.logpdf(y, mu + tau * theta_base, sigma).sum()

    def initial_position(key):
        import jax

        k1, k2, k3 = jax.random.split(key, 3)
        return {
            "mu": jax.random.uniform(k1, (), minval=-2, maxval=2),
            "log_tau": jax.random.uniform(k2, (), minval=-2, maxval=2),
            "theta_base": jax.random.uniform(k3, (8,), minval=-2, maxval=2),
        }

    return logdensity_fn, initial_position
