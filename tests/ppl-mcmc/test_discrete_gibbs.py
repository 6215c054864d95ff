"""DiscreteGibbs, DiscreteHMCGibbs and Gibbs composites with discrete blocks, against
exact posteriors computed by enumeration and exact one-step transition probabilities."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import ppl
import ppl.distributions as dist
from ppl.infer.util import DiscreteLatentError
from ppl.mcmc import HMC, MCMC, NUTS, CustomGibbs, Gibbs
from ppl.mcmc.diagnostics import effective_sample_size
from ppl.mcmc.discrete_gibbs import (
    DiscreteGibbs,
    DiscreteLayout,
    discrete_gibbs_sweep,
    select_discrete_proposal,
)
from ppl.mcmc.gibbs import discrete_latent_sites, with_conditioning
from ppl.mcmc.hmc_gibbs import DiscreteHMCGibbs, HMCGibbsState

# -- one update: exact transition probabilities ------------------------------------

# Coordinate 0 takes the values 2, 5, 7, 9 with probabilities P0 (a support that does
# not start at zero); coordinate 1 takes 0, 1 (its column is padded to four rows).
P0 = np.array([0.1, 0.2, 0.3, 0.4])
P1 = np.array([0.35, 0.65])
LAYOUT = DiscreteLayout(
    ("a", "b"), np.array([[2, 0], [5, 1], [7, 1], [9, 1]]), np.array([4, 2], np.int32)
)


def separable_potential(x):
    u0 = jnp.sum(jnp.where(x[0] == jnp.array([2, 5, 7, 9]), -jnp.log(P0), 0.0))
    return u0 - jnp.log(jnp.asarray(P1))[x[1]]


def exact_transitions(p, current, random_walk, modified):
    """Row ``current`` of the transition matrix of one update of a coordinate with
    target probabilities ``p``."""
    k = p.size
    row = np.zeros(k)
    for v in range(k):
        if v == current:
            continue
        if not random_walk and not modified:
            row[v] = p[v]
        elif not random_walk:
            row[v] = p[v] / (1 - p[current]) * min(1.0, (1 - p[current]) / (1 - p[v]))
        else:
            row[v] = min(1.0, p[v] / p[current]) / (k - 1 if modified else k)
    row[current] = 1.0 - row.sum()
    return row


@pytest.mark.parametrize("random_walk", [False, True])
@pytest.mark.parametrize("modified", [False, True])
def test_one_sweep_has_the_exact_transition_probabilities(random_walk, modified):
    proposal = select_discrete_proposal(random_walk, modified)
    start = jnp.array([5, 1])  # the second value of each coordinate

    def sweep(key):
        energy = separable_potential(start)
        return discrete_gibbs_sweep(key, start, energy, separable_potential, LAYOUT, proposal)

    num = 40000
    # lax.map (a loop) compiles faster than vmap here.
    keys = jax.random.split(jax.random.PRNGKey(0), num)
    x, energy = jax.jit(lambda keys: jax.lax.map(sweep, keys))(keys)
    x = np.asarray(x)
    np.testing.assert_allclose(energy, jax.vmap(separable_potential)(x), rtol=1e-5)
    for column, values, p in ((0, [2, 5, 7, 9], P0), (1, [0, 1], P1)):
        assert set(np.unique(x[:, column])) <= set(values)
        freq = np.array([(x[:, column] == v).mean() for v in values])
        expected = exact_transitions(p, 1, random_walk, modified)
        tolerance = 4.5 * np.sqrt(expected * (1 - expected) / num) + 1e-12
        assert np.all(np.abs(freq - expected) <= tolerance), (column, freq, expected)


# -- a purely discrete model ---------------------------------------------------------


def discrete_model():
    c = ppl.sample("c", dist.Categorical(jnp.array([0.2, 0.3, 0.5])))
    b = ppl.sample("b", dist.Bernoulli(0.3).expand([2]))
    u = ppl.sample("u", dist.DiscreteUniform(3, 5))
    total = c + b.sum() + u - 4
    ppl.deterministic("total", total)
    ppl.sample("obs", dist.Normal(total, 1.0), obs=1.5)


def discrete_model_posterior():
    """P(c = k), P(b_j = 1) and P(u = k) by enumeration."""
    probs = {"c": np.zeros(3), "b": np.zeros(2), "u": np.zeros(3)}
    total = 0.0
    for c, b0, b1, u in itertools.product(range(3), (0, 1), (0, 1), (3, 4, 5)):
        weight = (
            [0.2, 0.3, 0.5][c]
            * (0.3 if b0 else 0.7)
            * (0.3 if b1 else 0.7)
            * stats.norm.pdf(1.5, c + b0 + b1 + u - 4, 1.0)
        )
        total += weight
        probs["c"][c] += weight
        probs["b"] += weight * np.array([b0, b1])
        probs["u"][u - 3] += weight
    return {name: p / total for name, p in probs.items()}


def check_frequency(indicator, p, num_se=4.0):
    indicator = np.asarray(indicator, np.float64)
    ess = float(effective_sample_size(indicator))
    assert abs(indicator.mean() - p) < num_se * np.sqrt(p * (1 - p) / ess), (indicator.mean(), p)


def test_discrete_gibbs_samples_a_discrete_model_exactly():
    mcmc = MCMC(
        DiscreteGibbs(discrete_model, modified=True),
        num_warmup=100,
        num_samples=4000,
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(0), extra_fields=("potential_energy",))
    samples = mcmc.get_samples(group_by_chain=True)
    exact = discrete_model_posterior()
    for k in range(3):
        check_frequency(samples["c"] == k, exact["c"][k])
        check_frequency(samples["u"] == k + 3, exact["u"][k])
    for j in range(2):
        check_frequency(samples["b"][..., j], exact["b"][j])
    total = samples["c"] + samples["b"].sum(-1) + samples["u"] - 4
    np.testing.assert_array_equal(samples["total"], total)
    # The cached potential energy is minus the log joint of the current values.
    energy = mcmc.get_extra_fields(group_by_chain=True)["potential_energy"]
    log_joint = (
        np.log(np.array([0.2, 0.3, 0.5]))[samples["c"]]
        + np.log(np.where(samples["b"] == 1, 0.3, 0.7)).sum(-1)
        + np.log(1 / 3)
        + stats.norm.logpdf(1.5, total, 1.0)
    )
    np.testing.assert_allclose(energy, -log_joint, rtol=1e-5)


# -- mixtures: DiscreteHMCGibbs and Gibbs composites ---------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "make_kernel",
    [
        lambda model: DiscreteHMCGibbs(NUTS(model)),
        lambda model: DiscreteHMCGibbs(HMC(model, trajectory_length=1.0), modified=True),
        lambda model: DiscreteHMCGibbs(HMC(model, trajectory_length=1.0), random_walk=True),
    ],
    ids=["gibbs-nuts", "modified-hmc", "random-walk-hmc"],
)
def test_discrete_hmc_gibbs_matches_the_exact_posterior(discrete_mixture, make_kernel):
    kernel = make_kernel(discrete_mixture.model)
    mcmc = MCMC(kernel, num_warmup=300, num_samples=2000, progress_bar=False)
    mcmc.run(
        jax.random.PRNGKey(1),
        jnp.asarray(discrete_mixture.Y),
        extra_fields=("hmc_state.accept_prob",),
    )
    discrete_mixture.check(mcmc.get_samples(group_by_chain=True))
    extra = mcmc.get_extra_fields()
    assert extra["diverging"].shape == (2000,) and not extra["diverging"].any()
    assert 0.5 < float(extra["hmc_state.accept_prob"].mean()) <= 1.0
    assert isinstance(mcmc.last_state, HMCGibbsState)
    assert [sites for _, sites in kernel.blocks] == [("c",), ("mu", "nu")]
    assert "steps of size" in kernel.get_diagnostics_str(mcmc.last_state)


@pytest.mark.slow
def test_gibbs_with_discrete_custom_and_nuts_blocks(discrete_mixture):
    offsets, y = jnp.asarray(discrete_mixture.OFFSETS), jnp.asarray(discrete_mixture.Y)

    def mu_given_the_rest(rng_key, gibbs_sites, hmc_sites):
        # mu | c, nu, data is Normal: prior precision 1 plus four data points and v,
        # each with unit noise, so precision 6.
        residuals = y - offsets[hmc_sites["c"]]
        mean = (residuals.sum() + discrete_mixture.V - hmc_sites["nu"]) / 6.0
        return {"mu": mean + jax.random.normal(rng_key) / jnp.sqrt(6.0)}

    model = discrete_mixture.model
    kernel = Gibbs(
        [
            (DiscreteGibbs(model), discrete_latent_sites),
            (CustomGibbs(mu_given_the_rest), ["mu"]),
            (NUTS(model), None),
        ]
    )
    mcmc = MCMC(kernel, num_warmup=300, num_samples=2000, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(2), y)
    discrete_mixture.check(mcmc.get_samples(group_by_chain=True))
    assert [sites for _, sites in kernel.blocks] == [("c",), ("mu",), ("nu",)]


@pytest.mark.slow
def test_sequential_and_vectorized_chains_draw_the_same_samples(discrete_mixture):
    draws = {}
    for method in ("sequential", "vectorized"):
        kernel = DiscreteHMCGibbs(
            HMC(discrete_mixture.model, trajectory_length=1.0), random_walk=True, modified=True
        )
        mcmc = MCMC(
            kernel,
            num_warmup=50,
            num_samples=100,
            num_chains=2,
            chain_method=method,
            progress_bar=False,
        )
        mcmc.run(jax.random.PRNGKey(3), jnp.asarray(discrete_mixture.Y))
        draws[method] = mcmc.get_samples(group_by_chain=True)
    sequential, vectorized = draws["sequential"], draws["vectorized"]
    assert sequential["c"].shape == (2, 100, 4)
    # The chains differ from each other, and each is the same under both methods.
    assert not np.array_equal(sequential["mu"][0], sequential["mu"][1])
    np.testing.assert_array_equal(sequential["c"], vectorized["c"])
    for name in ("mu", "nu"):
        np.testing.assert_allclose(sequential[name], vectorized[name], rtol=1e-4, atol=1e-6)


# -- refresh ----------------------------------------------------------------------------


def test_refresh_recomputes_the_potential_for_new_conditioning(discrete_mixture):
    kernel = DiscreteGibbs(discrete_mixture.model)
    y = jnp.asarray(discrete_mixture.Y)
    c = jnp.array([0, 1, 2, 1])

    def log_joint(mu, nu):
        means = mu + discrete_mixture.OFFSETS[np.asarray(c)]
        return (
            np.log(discrete_mixture.WEIGHTS[np.asarray(c)]).sum()
            + stats.norm.logpdf(discrete_mixture.Y, means, 1.0).sum()
            + stats.norm.logpdf([mu, nu], 0.0, 1.0).sum()
            + stats.norm.logpdf(discrete_mixture.V, mu + nu, 1.0)
        )

    kwargs = with_conditioning({}, {"mu": jnp.array(0.3), "nu": jnp.array(-0.2)})
    state = kernel.init(jax.random.PRNGKey(0), 0, {"c": c}, (y,), kwargs)
    np.testing.assert_array_equal(state.z["c"], c)
    np.testing.assert_allclose(state.potential_energy, -log_joint(0.3, -0.2), rtol=1e-5)
    kwargs = with_conditioning({}, {"mu": jnp.array(-1.1), "nu": jnp.array(0.7)})
    state = kernel.refresh(state, (y,), kwargs)
    np.testing.assert_allclose(state.potential_energy, -log_joint(-1.1, 0.7), rtol=1e-5)
    # A sweep keeps the cache consistent with the values it moves to.
    state = jax.jit(lambda s: kernel.sample(s, (y,), kwargs))(state)
    np.testing.assert_allclose(
        state.potential_energy, kernel.get_potential_fn((y,), kwargs)(state.z), rtol=1e-5
    )


# -- errors -------------------------------------------------------------------------


def continuous_model():
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    ppl.sample("obs", dist.Normal(mu, 1.0), obs=0.5)


def test_model_without_discrete_sites_is_named():
    mcmc = MCMC(DiscreteHMCGibbs(NUTS(continuous_model)), num_warmup=2, num_samples=2)
    with pytest.raises(ValueError, match=r"no discrete latent sites.*use the inner HMC/NUTS"):
        mcmc.run(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="DiscreteGibbs: the model has no discrete"):
        DiscreteGibbs(continuous_model).init(jax.random.PRNGKey(0), 0, None, (), {})


def test_model_without_continuous_sites_points_to_discrete_gibbs():
    mcmc = MCMC(DiscreteHMCGibbs(NUTS(discrete_model)), num_warmup=2, num_samples=2)
    with pytest.raises(
        ValueError, match=r"every latent site .* is discrete.*DiscreteGibbs\(model\)"
    ):
        mcmc.run(jax.random.PRNGKey(0))


def test_discrete_site_under_plain_nuts_points_to_discrete_kernels(discrete_mixture):
    mcmc = MCMC(NUTS(discrete_mixture.model), num_warmup=2, num_samples=2)
    with pytest.raises(DiscreteLatentError, match=r"\['c'\].*DiscreteHMCGibbs, MixedHMC"):
        mcmc.run(jax.random.PRNGKey(0), jnp.asarray(discrete_mixture.Y))


def test_discrete_gibbs_alone_names_the_continuous_sites(discrete_mixture):
    kernel = DiscreteGibbs(discrete_mixture.model)
    with pytest.raises(ValueError, match=r"latent sites \['mu', 'nu'\].*DiscreteHMCGibbs"):
        kernel.init(jax.random.PRNGKey(0), 0, None, (jnp.asarray(discrete_mixture.Y),), {})


def test_init_params_are_checked():
    kernel = DiscreteGibbs(discrete_model)
    with pytest.raises(ValueError, match=r"init_params has \['x'\]"):
        kernel.init(jax.random.PRNGKey(0), 0, {"x": 1}, (), {})
    with pytest.raises(ValueError, match=r"init_params\['b'\] has shape \(3,\).*\(2,\)"):
        kernel.init(jax.random.PRNGKey(0), 0, {"b": jnp.zeros(3, jnp.int32)}, (), {})
    state = kernel.init(jax.random.PRNGKey(0), 0, {"u": 5}, (), {})
    assert int(state.z["u"]) == 5


def test_parallel_enumeration_mark_is_reported():
    def marked():
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        c = ppl.sample("c", dist.Bernoulli(0.5), infer={"enumerate": "parallel"})
        ppl.sample("obs", dist.Normal(mu + c, 1.0), obs=0.5)

    mcmc = MCMC(DiscreteHMCGibbs(NUTS(marked)), num_warmup=2, num_samples=2)
    with pytest.raises(NotImplementedError, match=r"\['c'\] are marked.*enumerate"):
        mcmc.run(jax.random.PRNGKey(0))


def test_constructor_errors():
    with pytest.raises(TypeError, match="inner_kernel must be an HMC or NUTS"):
        DiscreteHMCGibbs(DiscreteGibbs(discrete_model))
    with pytest.raises(ValueError, match="DiscreteHMCGibbs needs an inner kernel built on a model"):
        DiscreteHMCGibbs(NUTS(potential_fn=lambda z: z**2))
    with pytest.raises(TypeError, match="DiscreteHMCGibbs: random_walk must be a bool"):
        DiscreteHMCGibbs(NUTS(discrete_model), random_walk="yes")
    with pytest.raises(TypeError, match="model must be callable"):
        DiscreteGibbs(None)
    with pytest.raises(TypeError, match="positional"):
        DiscreteGibbs(discrete_model, True)
    with pytest.raises(RuntimeError, match="needs init"):
        DiscreteGibbs(discrete_model).sample(None, (), {})
