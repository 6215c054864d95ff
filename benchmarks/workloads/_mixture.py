"""A two-component Gaussian mixture with one discrete assignment per point, shared
by the discrete-latent kernel workloads (DiscreteHMCGibbs, MixedHMC).

One component sits at zero and the other's location ``mu`` is learned, so the
posterior has no label-switching twin mode (which would leave chains stuck in
different modes and make the ESS a matter of luck).
"""

import numpy as np

#: The continuous sites judge ESS; the assignments are discrete.
ESS_SITES = ("mu", "sigma")


def make_data(quick: bool) -> dict:
    rng = np.random.default_rng(4)
    n = 50
    z = rng.integers(0, 2, size=n)
    y = 3.0 * z + rng.normal(size=n)
    return {"y": y.astype(np.float32)}


def model(pp, dist, y):
    mu = pp.sample("mu", dist.Normal(0.0, 5.0))
    sigma = pp.sample("sigma", dist.HalfNormal(2.0))
    with pp.plate("N", y.shape[0]):
        z = pp.sample("z", dist.Bernoulli(0.5))
        pp.sample("y", dist.Normal(mu * z, sigma), obs=y)
