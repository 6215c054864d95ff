"""TraceGraph_ELBO: Rao-Blackwellized score-function gradients, checked by enumeration."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ppl
import ppl.distributions as dist
from ppl.handlers import seed, substitute
from ppl.vi import SVI, TraceGraph_ELBO
from ppl.vi._provenance import dependencies
from ppl.vi._traces import importance_traces
from ppl.vi.tracegraph import baseline_state_name

X = jnp.array([-1.5, 0.3, 2.2, 0.9])
MEANS = jnp.array([-1.0, 1.5])
PRIOR = 0.4
# logits away from 0, where the gradient of Bernoulli(logits).log_prob is exact
PARAMS = {"logits": jnp.array([0.2, -0.3, 0.5, 0.1])}


def model(x):
    with ppl.plate("N", x.shape[0]):
        z = ppl.sample("z", dist.Bernoulli(probs=PRIOR))
        ppl.sample("x", dist.Normal(MEANS[z], 1.0), obs=x)


def make_guide(baseline=None):
    def guide(x):
        logits = ppl.param("logits", jnp.full(x.shape[0], 0.1))
        infer = {} if baseline is None else {"baseline": baseline}
        with ppl.plate("N", x.shape[0]):
            ppl.sample("z", dist.Bernoulli(logits=logits), infer=infer)

    return guide


def joint_log_probs():
    """log p(z_i = k, x_i) for k = 0, 1, by enumeration."""
    return [
        np.log(1 - PRIOR) + np.asarray(dist.Normal(MEANS[0], 1.0).log_prob(X)),
        np.log(PRIOR) + np.asarray(dist.Normal(MEANS[1], 1.0).log_prob(X)),
    ]


def exact_loss(params):
    lp0, lp1 = joint_log_probs()
    q1 = jax.nn.sigmoid(params["logits"])
    elbo = q1 * (lp1 - jnp.log(q1)) + (1 - q1) * (lp0 - jnp.log1p(-q1))
    return -jnp.sum(elbo)


def gradient_draws(loss_fn, num=3000):
    keys = jax.random.split(jax.random.PRNGKey(1), num)
    return np.asarray(
        jax.jit(jax.vmap(lambda k: jax.grad(lambda p: loss_fn(k, p))(PARAMS)["logits"]))(keys)
    )


def plain_score_function_loss(key, params):
    """The score-function estimator with the whole ELBO as every site's cost."""
    model_key, guide_key = jax.random.split(key)
    model_trace, guide_trace = importance_traces(
        seed(model, model_key), seed(make_guide(), guide_key), (X,), {}, params
    )
    log_q = jnp.sum(guide_trace["z"]["log_prob"])
    cost = (
        sum(jnp.sum(s["log_prob"]) for s in model_trace.values() if s["type"] == "sample") - log_q
    )
    return -(log_q * jax.lax.stop_gradient(cost))


def test_gradient_is_unbiased_with_lower_variance_than_plain_score_function():
    elbo = TraceGraph_ELBO()
    graph = gradient_draws(lambda k, p: elbo.loss(k, p, model, make_guide(), X))
    plain = gradient_draws(plain_score_function_loss)
    exact = np.asarray(jax.grad(exact_loss)(PARAMS)["logits"])
    for draws in (graph, plain):
        standard_error = draws.std(0) / np.sqrt(len(draws))
        assert np.all(np.abs(draws.mean(0) - exact) < 4 * standard_error + 1e-3)
    # Each z_i's cost keeps only its own datum: far less variance than the whole ELBO.
    assert np.all(graph.var(0) < 0.3 * plain.var(0))


def test_loss_value_is_the_elbo():
    key = jax.random.PRNGKey(0)
    model_key, guide_key = jax.random.split(key)
    model_trace, guide_trace = importance_traces(
        seed(model, model_key), seed(make_guide(), guide_key), (X,), {}, PARAMS
    )
    expected = -(
        sum(jnp.sum(s["log_prob"]) for s in model_trace.values() if s["type"] == "sample")
        - jnp.sum(guide_trace["z"]["log_prob"])
    )
    loss = TraceGraph_ELBO().loss(key, PARAMS, model, make_guide(), X)
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.slow
def test_decaying_average_baseline_lowers_variance():
    lp0, lp1 = joint_log_probs()
    q1 = jax.nn.sigmoid(PARAMS["logits"])
    expected_cost = q1 * (lp1 - jnp.log(q1)) + (1 - q1) * (lp0 - jnp.log1p(-q1))
    guide = make_guide({"use_decaying_avg_baseline": True, "baseline_beta": 0.9})
    elbo = TraceGraph_ELBO()

    def with_average(k, p):
        return elbo.loss(k, {**p, baseline_state_name("z"): expected_cost}, model, guide, X)

    baseline = gradient_draws(with_average)
    without = gradient_draws(lambda k, p: elbo.loss(k, p, model, make_guide(), X))
    exact = np.asarray(jax.grad(exact_loss)(PARAMS)["logits"])
    assert np.all(np.abs(baseline.mean(0) - exact) < 4 * baseline.std(0) / np.sqrt(3000) + 1e-3)
    assert np.all(baseline.var(0) < 0.5 * without.var(0))
    # The same baseline given as a value has the same gradient.
    value_guide = make_guide({"baseline_value": expected_cost})
    given = gradient_draws(lambda k, p: elbo.loss(k, p, model, value_guide, X), num=50)
    np.testing.assert_allclose(given, baseline[:50], rtol=1e-4, atol=1e-5)


def test_decaying_baseline_state_is_carried_by_svi():
    guide = make_guide({"use_decaying_avg_baseline": True})
    svi = SVI(model, guide, optax.adam(0.05), TraceGraph_ELBO())
    state = svi.init(jax.random.PRNGKey(0), X)
    name = baseline_state_name("z")
    assert set(state.mutable_state) == {name}
    assert state.mutable_state[name].shape == (4,)
    state, _ = jax.jit(svi.update)(state, X)
    assert np.all(np.asarray(state.mutable_state[name]) != 0.0)


def test_learns_the_exact_posterior_of_bernoulli_latents():
    guide = make_guide({"use_decaying_avg_baseline": True})
    svi = SVI(model, guide, optax.adam(0.05), TraceGraph_ELBO(num_particles=8))
    result = svi.run(jax.random.PRNGKey(0), 1500, X, progress_bar=False)
    lp0, lp1 = joint_log_probs()
    posterior = 1.0 / (1.0 + np.exp(lp0 - lp1))
    np.testing.assert_allclose(jax.nn.sigmoid(result.params["logits"]), posterior, atol=0.04)


def test_downstream_costs_follow_the_dependency_graph():
    """A site's score is weighted only by terms computed from it."""

    def model2():
        a = ppl.sample("a", dist.Bernoulli(0.3))
        b = ppl.sample("b", dist.Bernoulli(0.6))
        ppl.sample("y", dist.Normal(a * 2.0, 1.0), obs=1.0)
        ppl.sample("w", dist.Normal(b * 1.0, 1.0), obs=0.0)

    def guide2():
        ppl.sample("a", dist.Bernoulli(ppl.param("pa", 0.5)))
        ppl.sample("b", dist.Bernoulli(ppl.param("pb", 0.5)))

    def fn(values):
        model_trace, _ = importance_traces(
            seed(model2, 0),
            seed(substitute(guide2, data=values), 0),
            (),
            {},
            {"pa": 0.5, "pb": 0.5},
        )
        return {n: s["log_prob"] for n, s in model_trace.items()}

    deps = dependencies(fn, {"a": jnp.array(1), "b": jnp.array(0)})
    assert deps == {
        "a": frozenset({"a"}),
        "b": frozenset({"b"}),
        "y": frozenset({"a"}),
        "w": frozenset({"b"}),
    }


def test_bad_baseline_options():
    guide = make_guide({"use_average": True})
    with pytest.raises(ValueError, match="unknown baseline option"):
        TraceGraph_ELBO().loss(jax.random.PRNGKey(0), PARAMS, model, guide, X)
    guide = make_guide({"baseline_value": jnp.zeros(3)})
    with pytest.raises(ValueError, match=r"baseline has shape \(3,\)"):
        TraceGraph_ELBO().loss(jax.random.PRNGKey(0), PARAMS, model, guide, X)
