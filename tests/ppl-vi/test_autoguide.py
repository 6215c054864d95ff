"""Autoguides against closed-form posteriors, Laplace approximations and MAP estimates."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import optimize, stats

import ppl
import ppl.distributions as dist
from ppl.handlers import block, seed, substitute, trace
from ppl.infer.initialization import init_to_value
from ppl.infer.util import potential_energy
from ppl.optim import Minimize
from ppl.vi import (
    SVI,
    AutoBatchedMultivariateNormal,
    AutoBNAFNormal,
    AutoDAIS,
    AutoDelta,
    AutoDiagonalNormal,
    AutoGuideList,
    AutoIAFNormal,
    AutoLaplaceApproximation,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
    NeuTraReparam,
    Trace_ELBO,
)

# Bayesian linear regression with known noise: a 2-D Gaussian posterior with correlation.
X = jnp.array([-1.0, 0.2, 0.9, 1.7])
Y = jnp.array([-0.5, 1.1, 1.9, 3.2])
NOISE = 1.0


def regression(x, y):
    a = ppl.sample("a", dist.Normal(0.0, 1.0))
    b = ppl.sample("b", dist.Normal(0.0, 1.0))
    with ppl.plate("N", x.shape[0]):
        ppl.sample("y", dist.Normal(a + b * x, NOISE), obs=y)


def regression_posterior():
    design = np.stack([np.ones(len(X)), np.asarray(X)], axis=1)
    precision = np.eye(2) + design.T @ design / NOISE**2
    covariance = np.linalg.inv(precision)
    mean = covariance @ design.T @ np.asarray(Y) / NOISE**2
    return mean, covariance


def log_evidence():
    design = np.stack([np.ones(len(X)), np.asarray(X)], axis=1)
    covariance = design @ design.T + NOISE**2 * np.eye(len(X))
    return stats.multivariate_normal(np.zeros(len(X)), covariance).logpdf(np.asarray(Y))


def fit(guide, model, *args, steps=600, lr=0.1, particles=32, seed_=0):
    schedule = optax.exponential_decay(lr, transition_steps=steps, decay_rate=0.01)
    svi = SVI(model, guide, optax.adam(schedule), Trace_ELBO(num_particles=particles))
    return svi.run(jax.random.PRNGKey(seed_), steps, *args, progress_bar=False).params


def test_auto_normal_recovers_the_exact_posterior(normal):
    guide = AutoNormal(normal.model)
    params = fit(guide, normal.model, normal.data)
    mean, sd = normal.posterior
    assert float(params["mu_auto_loc"]) == pytest.approx(mean, abs=0.02)
    assert float(params["mu_auto_scale"]) == pytest.approx(sd, abs=0.02)
    assert float(guide.median(params)["mu"]) == pytest.approx(mean, abs=0.02)


@pytest.mark.slow
def test_auto_multivariate_normal_recovers_mean_and_covariance():
    guide = AutoMultivariateNormal(regression)
    params = fit(guide, regression, X, Y)
    mean, covariance = regression_posterior()
    posterior = guide.get_posterior(params)
    np.testing.assert_allclose(posterior.mean, mean, atol=0.01)
    np.testing.assert_allclose(posterior.covariance_matrix, covariance, atol=0.01)
    median = guide.median(params)
    np.testing.assert_allclose([median["a"], median["b"]], mean, atol=0.01)
    quantiles = guide.quantiles(params, [0.1, 0.9])
    sd = np.sqrt(np.diag(np.asarray(posterior.covariance_matrix)))
    np.testing.assert_allclose(
        quantiles["b"],
        stats.norm.ppf([0.1, 0.9], np.asarray(posterior.mean)[1], sd[1]),
        rtol=1e-4,
    )


@pytest.mark.slow
def test_laplace_matches_the_exact_gaussian_posterior():
    guide = AutoLaplaceApproximation(regression)
    svi = SVI(regression, guide, Minimize(), Trace_ELBO())
    state = svi.init(jax.random.PRNGKey(0), X, Y)
    state, _ = svi.update(state, X, Y)
    params = svi.get_params(state)
    mean, covariance = regression_posterior()
    posterior = guide.get_posterior(params)
    np.testing.assert_allclose(posterior.mean, mean, atol=1e-4)
    np.testing.assert_allclose(posterior.covariance_matrix, covariance, atol=1e-4)
    draws = guide.sample_posterior(jax.random.PRNGKey(1), params, sample_shape=(4000,))
    assert draws["a"].shape == (4000,)
    assert float(jnp.mean(draws["b"])) == pytest.approx(mean[1], abs=0.02)


@pytest.mark.slow
def test_laplace_matches_the_analytic_laplace_approximation_in_unconstrained_space():
    data = np.array([0.8, -1.3, 2.1, 0.4])
    n, total = len(data), float(np.sum(data**2))

    def model(data):
        sigma = ppl.sample("sigma", dist.Exponential(1.0))
        with ppl.plate("N", data.shape[0]):
            ppl.sample("x", dist.Normal(0.0, sigma), obs=data)

    # Potential energy in u = log sigma (up to a constant):
    # U(u) = e^u - u + n u + total / 2 e^{-2u}
    def dU(u):
        return np.exp(u) + n - 1 - total * np.exp(-2 * u)

    u_map = optimize.brentq(dU, -5, 5)
    hessian = np.exp(u_map) + 2 * total * np.exp(-2 * u_map)
    guide = AutoLaplaceApproximation(model)
    svi = SVI(model, guide, optax.adam(0.01), Trace_ELBO())
    state = svi.init(
        jax.random.PRNGKey(0), jnp.asarray(data), init_params={"auto_loc": jnp.array([u_map])}
    )
    params = svi.get_params(state)
    # The MAP is a stationary point of the loss (the potential energy) in u.
    grad = jax.grad(lambda p: Trace_ELBO().loss(jax.random.PRNGKey(0), p, model, guide, data))(
        params
    )
    assert float(grad["auto_loc"][0]) == pytest.approx(0.0, abs=1e-4)
    posterior = guide.get_posterior(params)
    assert float(posterior.covariance_matrix[0, 0]) == pytest.approx(1 / hessian, rel=1e-3)
    assert float(guide.median(params)["sigma"]) == pytest.approx(np.exp(u_map), rel=1e-4)


@pytest.mark.slow
def test_auto_delta_finds_the_map():
    k, n, a, b = 7, 10, 2.0, 3.0

    def model():
        p = ppl.sample("p", dist.Beta(a, b))
        ppl.sample("k", dist.Binomial(n, probs=p), obs=k)

    guide = AutoDelta(model)
    svi = SVI(model, guide, optax.adam(0.05), Trace_ELBO())
    params = svi.run(jax.random.PRNGKey(0), 500, progress_bar=False).params
    expected = (k + a - 1) / (n + a + b - 2)
    assert float(params["p_auto_loc"]) == pytest.approx(expected, abs=1e-3)
    assert float(guide.median(params)["p"]) == pytest.approx(expected, abs=1e-3)
    draws = guide.sample_posterior(jax.random.PRNGKey(0), params, sample_shape=(3,))
    np.testing.assert_allclose(draws["p"], float(params["p_auto_loc"]), rtol=1e-6)


@pytest.mark.slow
def test_low_rank_and_diagonal_posteriors_are_consistent():
    model = regression
    for guide in (AutoLowRankMultivariateNormal(model, rank=1), AutoDiagonalNormal(model)):
        svi = SVI(model, guide, optax.adam(0.01), Trace_ELBO())
        state = svi.init(jax.random.PRNGKey(0), X, Y)
        params = {
            name: value + 0.3 * jnp.arange(value.size).reshape(value.shape) / value.size
            for name, value in svi.get_params(state).items()
        }
        transform = guide.get_transform(params)
        z = jax.random.normal(jax.random.PRNGKey(1), (20000, 2))
        x = transform(z)
        posterior = guide.get_posterior(params)
        np.testing.assert_allclose(jnp.mean(x, 0), posterior.mean, atol=0.03)
        np.testing.assert_allclose(
            jnp.cov(x.T),
            jnp.diag(posterior.variance)
            if isinstance(guide, AutoDiagonalNormal)
            else posterior.covariance_matrix,
            atol=0.03,
        )
        quantiles = guide.quantiles(params, [0.5])
        median = guide.median(params)
        np.testing.assert_allclose(quantiles["a"][0], median["a"], rtol=1e-5)


def test_auto_normal_transforms_constrained_sites():
    def model():
        ppl.sample("s", dist.LogNormal(0.0, 1.0))

    guide = AutoNormal(model)
    seed(guide, 0)()
    params = {"s_auto_loc": jnp.array(0.4), "s_auto_scale": jnp.array(0.3)}
    quantiles = guide.quantiles(params, [0.25, 0.75])
    np.testing.assert_allclose(
        quantiles["s"], np.exp(stats.norm.ppf([0.25, 0.75], 0.4, 0.3)), rtol=1e-5
    )
    draws = guide.sample_posterior(jax.random.PRNGKey(0), params, sample_shape=(20000,))
    assert float(jnp.mean(jnp.log(draws["s"]))) == pytest.approx(0.4, abs=0.01)


@pytest.mark.slow
def test_auto_normal_with_subsampling_learns_local_posteriors():
    data = jnp.linspace(-2.0, 2.0, 10)

    def model(data):
        with ppl.plate("N", 10, subsample_size=5):
            z = ppl.sample("z", dist.Normal(0.0, 1.0))
            ppl.sample("x", dist.Normal(z, 1.0), obs=ppl.subsample(data, event_dim=0))

    guide = AutoNormal(model)
    params = fit(guide, model, data, steps=800, lr=0.1, particles=16)
    assert params["z_auto_loc"].shape == (10,)
    np.testing.assert_allclose(params["z_auto_loc"], data / 2, atol=0.06)
    np.testing.assert_allclose(params["z_auto_scale"], np.sqrt(0.5), atol=0.06)


def test_auto_guide_list_combines_parts():
    guide = AutoGuideList(regression)
    guide.append(AutoNormal(block(seed(regression, rng_seed=0), hide=["b"])))
    guide.append(AutoDelta(block(seed(regression, rng_seed=1), expose=["b"])))
    params = fit(guide, regression, X, Y, steps=300, particles=4)
    assert set(params) == {"a_auto_loc", "a_auto_scale", "b_auto_loc"}
    median = guide.median(params)
    assert set(median) == {"a", "b"}
    draws = guide.sample_posterior(jax.random.PRNGKey(0), params, sample_shape=(5,))
    assert draws["a"].shape == draws["b"].shape == (5,)


@pytest.mark.slow
def test_batched_multivariate_normal_pairs_each_batch_entry():
    def model():
        with ppl.plate("B", 3):
            a = ppl.sample("a", dist.Normal(0.0, 1.0))
            ppl.sample("b", dist.Normal(a, 0.5))

    guide = AutoBatchedMultivariateNormal(model)
    svi = SVI(model, guide, optax.adam(0.01), Trace_ELBO())
    svi.init(jax.random.PRNGKey(0))
    loc = jnp.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    rho = jnp.array([0.9, 0.0, -0.9])
    scale_tril = jnp.stack([jnp.array([[1.0, 0.0], [r, jnp.sqrt(1 - r**2)]]) for r in rho])
    params = {"auto_loc": loc, "auto_scale_tril": scale_tril}
    draws = guide.sample_posterior(jax.random.PRNGKey(1), params, sample_shape=(20000,))
    np.testing.assert_allclose(jnp.mean(draws["a"], 0), loc[:, 0], atol=0.03)
    np.testing.assert_allclose(jnp.mean(draws["b"], 0), loc[:, 1], atol=0.03)
    for i in range(3):
        correlation = np.corrcoef(draws["a"][:, i], draws["b"][:, i])[0, 1]
        assert correlation == pytest.approx(float(rho[i]), abs=0.03)
    median = guide.median(params)
    np.testing.assert_allclose(median["a"], loc[:, 0])
    transform = guide.get_transform(params)
    z = jax.random.normal(jax.random.PRNGKey(2), (6,))
    np.testing.assert_allclose(
        guide._unpack_latent(transform(z))["b"],
        loc[:, 1] + (scale_tril @ z.reshape(3, 2, 1))[:, 1, 0],
        rtol=1e-5,
    )


@pytest.mark.slow
@pytest.mark.parametrize("guide_class", [AutoIAFNormal, AutoBNAFNormal])
def test_flow_guides_density_and_training(guide_class):
    options = {"hidden_factors": [4, 4]} if guide_class is AutoBNAFNormal else {}
    guide = guide_class(regression, **options)
    svi = SVI(regression, guide, optax.adam(0.01), Trace_ELBO(num_particles=4))
    state = svi.init(jax.random.PRNGKey(0), X, Y)
    params = svi.get_params(state)
    # The guide's density of its latent draw is the base density over |det J|.
    tr = trace(seed(substitute(guide, data=params), 1)).get_trace(X, Y)
    site = tr["_auto_latent"]
    base_value = site["intermediates"][0][0]
    transform = guide.get_transform(params)
    jacobian = jax.jacobian(transform)(base_value)
    expected = stats.norm.logpdf(np.asarray(base_value)).sum() - np.linalg.slogdet(jacobian)[1]
    assert float(
        site["log_prob"]
        if "log_prob" in site
        else site["fn"].log_prob(site["value"], site["intermediates"])
    ) == pytest.approx(expected, rel=1e-4)
    np.testing.assert_allclose(transform(base_value), site["value"], rtol=1e-5)
    # Training closes most of the gap between -ELBO and -log p(y).
    estimate = Trace_ELBO(num_particles=2000)

    @jax.jit
    def loss(params):
        return estimate.loss(jax.random.PRNGKey(2), params, regression, guide, X, Y)

    def gap(params):
        return float(loss(params)) + log_evidence()

    before = gap(params)
    result = svi.run(jax.random.PRNGKey(3), 300, X, Y, progress_bar=False)
    after = gap(result.params)
    assert after < 0.3 * before
    draws = guide.sample_posterior(jax.random.PRNGKey(1), result.params, sample_shape=(10,))
    assert draws["a"].shape == draws["b"].shape == (10,)


def test_neutra_reparam_whitens_the_posterior():
    mean, covariance = regression_posterior()
    guide = AutoMultivariateNormal(regression)
    svi = SVI(regression, guide, optax.adam(0.01), Trace_ELBO())
    svi.init(jax.random.PRNGKey(0), X, Y)
    params = {"auto_loc": jnp.asarray(mean), "auto_scale_tril": jnp.linalg.cholesky(covariance)}
    neutra = NeuTraReparam(guide, params)
    model = neutra.reparam(regression)
    tr = trace(seed(model, 0)).get_trace(X, Y)
    assert tr["auto_shared_latent"]["type"] == "sample"
    assert tr["a"]["type"] == "deterministic"

    def energy(z):
        return potential_energy(model, (X, Y), {}, {"auto_shared_latent": z})

    zs = jax.random.normal(jax.random.PRNGKey(3), (5, 2))
    # With the exact posterior's transform, the potential in z is that of N(0, I).
    differences = jnp.array([energy(z) - energy(jnp.zeros(2)) for z in zs])
    np.testing.assert_allclose(differences, 0.5 * jnp.sum(zs**2, -1), rtol=1e-4, atol=1e-4)
    samples = neutra.transform_sample(zs)
    expected = mean + zs @ np.linalg.cholesky(covariance).T
    np.testing.assert_allclose(samples["a"], expected[:, 0], rtol=1e-5)


def test_autoguide_errors(normal):
    def discrete():
        ppl.sample("z", dist.Bernoulli(0.5))

    with pytest.raises(ValueError, match="continuous latent variables only"):
        seed(AutoNormal(discrete), 0)()

    def one_dim():
        ppl.sample("z", dist.Normal(0.0, 1.0))

    with pytest.raises(ValueError, match="single latent dimension"):
        seed(AutoIAFNormal(one_dim), 0)()

    def local(data):
        with ppl.plate("N", 10, subsample_size=5):
            ppl.sample("z", dist.Normal(0.0, 1.0))

    with pytest.raises(ValueError, match="subsampled plate 'N'"):
        seed(AutoDiagonalNormal(local), 0)(None)
    with pytest.raises(ValueError, match="under a seed handler"):
        AutoNormal(normal.model)(normal.data)
    with pytest.raises(ValueError, match="init_scale must be positive"):
        AutoNormal(normal.model, init_scale=0.0)
    with pytest.raises(RuntimeError, match="has not been set up"):
        AutoDiagonalNormal(normal.model).median({})
    with pytest.raises(TypeError, match="AutoContinuous guide"):
        NeuTraReparam(AutoNormal(normal.model), {})


@pytest.mark.parametrize(
    "guide_class",
    [
        AutoNormal,
        AutoDelta,
        AutoDiagonalNormal,
        AutoMultivariateNormal,
        AutoLowRankMultivariateNormal,
        AutoLaplaceApproximation,
        AutoDAIS,
    ],
)
def test_init_loc_fn_sets_the_initial_location(guide_class):
    def model():
        ppl.sample("mu", dist.Normal(0.0, 2.0))
        with ppl.plate("N", 2):
            ppl.sample("sigma", dist.LogNormal(0.0, 1.0))

    values = {"mu": 1.5, "sigma": jnp.array([2.0, 0.5])}
    guide = guide_class(model, init_loc_fn=init_to_value(values=values))
    svi = SVI(model, guide, optax.adam(0.01), Trace_ELBO())
    params = svi.get_params(svi.init(jax.random.PRNGKey(0)))
    if guide_class is AutoDAIS:
        # The chain starts from its base distribution, centred at the values (unconstrained).
        expected = [1.5, np.log(2.0), np.log(0.5)]
        np.testing.assert_allclose(params["auto_z_0_loc"], expected, rtol=1e-6)
        return
    median = guide.median(params)
    assert float(median["mu"]) == pytest.approx(1.5, rel=1e-6)
    np.testing.assert_allclose(median["sigma"], values["sigma"], rtol=1e-6)
