"""SVI: the optimization loop, its state, its errors, and the registry entries."""

import jax
import jax.example_libraries.optimizers
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ppl
import ppl.distributions as dist
import ppl.optim as optim
from ppl.vi import SVI, NonFiniteLossError, SVIRunResult, SVIState, Trace_ELBO


def test_converges_to_the_exact_posterior(normal):
    model, guide, data = normal.model, normal.guide, normal.data
    schedule = optax.exponential_decay(0.05, transition_steps=1500, decay_rate=0.05)
    svi = SVI(model, guide, optax.adam(schedule), Trace_ELBO(num_particles=16))
    result = svi.run(jax.random.PRNGKey(0), 1500, data, progress_bar=False)
    mean, sd = normal.posterior
    assert isinstance(result, SVIRunResult)
    assert result.losses.shape == (1500,)
    assert float(result.params["loc"]) == pytest.approx(mean, abs=0.02)
    assert float(result.params["scale"]) == pytest.approx(sd, abs=0.02)


def test_progress_bar_chunks_give_the_same_result(conjugate):
    model, guide, data = conjugate
    svi = SVI(model, guide, optim.Adam(0.02), Trace_ELBO())
    with_bar = svi.run(jax.random.PRNGKey(1), 103, data, progress_bar=True)
    without = svi.run(jax.random.PRNGKey(1), 103, data, progress_bar=False)
    assert with_bar.losses.shape == without.losses.shape == (103,)
    np.testing.assert_allclose(with_bar.losses, without.losses, rtol=1e-5)
    for name in ("loc", "scale"):
        np.testing.assert_allclose(with_bar.params[name], without.params[name], rtol=1e-5)


def test_run_compiles_one_loop_for_all_chunks(conjugate, capsys):
    _, guide, data = conjugate
    calls = []

    def model(data):
        calls.append(None)  # one entry per Python trace of the model
        conjugate[0](data)

    svi = SVI(model, guide, optim.Adam(0.02), Trace_ELBO())
    svi.run(jax.random.PRNGKey(1), 103, data, progress_bar=False)
    one_chunk = len(calls)
    calls.clear()
    result = svi.run(jax.random.PRNGKey(1), 103, data, progress_bar=True)
    # 21 chunks (20 of 5 steps and one of 3) reuse a single compiled scan.
    assert len(calls) == one_chunk < 10
    bar = capsys.readouterr().err
    assert "103/103" in bar
    final = np.mean(np.asarray(result.losses)[100:])
    assert f"avg. loss [101-103]: {final:.4f}" in bar
    assert f"init loss: {float(result.losses[0]):.4f}" in bar


def test_run_equals_repeated_update(conjugate):
    model, guide, data = conjugate
    svi = SVI(model, guide, optax.sgd(0.01), Trace_ELBO())
    result = svi.run(jax.random.PRNGKey(2), 5, data, progress_bar=False)
    state = svi.init(jax.random.PRNGKey(2), data)
    update = jax.jit(svi.update)
    losses = []
    for _ in range(5):
        state, loss = update(state, data)
        losses.append(loss)
    np.testing.assert_allclose(result.losses, losses, rtol=1e-5)
    np.testing.assert_allclose(result.params["loc"], svi.get_params(state)["loc"], rtol=1e-5)
    # Continue from a state.
    more = svi.run(jax.random.PRNGKey(9), 3, data, progress_bar=False, init_state=state)
    assert more.losses.shape == (3,)
    assert isinstance(more.state, SVIState)


def test_evaluate_and_init_params(conjugate):
    model, guide, data = conjugate
    svi = SVI(model, guide, optim.Adam(0.1), Trace_ELBO())
    state = svi.init(jax.random.PRNGKey(0), data, init_params={"loc": 1.5, "scale": 0.2})
    params = svi.get_params(state)
    assert float(params["loc"]) == pytest.approx(1.5)
    assert float(params["scale"]) == pytest.approx(0.2)
    _, key = jax.random.split(state.rng_key)
    expected = Trace_ELBO().loss(key, params, model, guide, data)
    assert float(svi.evaluate(state, data)) == pytest.approx(float(expected))


def test_static_kwargs_reach_model_and_guide():
    def model(n):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("N", n):
            ppl.sample("x", dist.Normal(mu, 1.0), obs=jnp.ones(n))

    def guide(n):
        ppl.sample("mu", dist.Normal(ppl.param("loc", 0.0), 1.0))

    svi = SVI(model, guide, optax.adam(0.1), Trace_ELBO(), n=3)
    result = svi.run(jax.random.PRNGKey(0), 200, progress_bar=False)
    assert float(result.params["loc"]) == pytest.approx(0.75, abs=0.2)


def test_accepts_optax_chains_schedules_and_lbfgs(normal):
    model, data = normal.model, normal.data

    def map_guide(data):
        ppl.sample("mu", dist.Delta(ppl.param("mu_map", 0.0)))

    mean, _ = normal.posterior
    chain = optax.chain(
        optax.clip_by_global_norm(10.0), optax.adam(optax.linear_schedule(0.1, 0.01, 300))
    )
    for transformation, steps in ((chain, 300), (optax.lbfgs(), 10)):
        svi = SVI(model, map_guide, transformation, Trace_ELBO())
        result = svi.run(jax.random.PRNGKey(0), steps, data, progress_bar=False)
        assert float(result.params["mu_map"]) == pytest.approx(mean, abs=1e-3)


def test_stable_update_keeps_the_last_good_state():
    def model():
        x = ppl.param("x", 0.0)
        # The objective is finite only for x < 1.
        ppl.factor("f", jnp.where(x < 1.0, -((x - 3.0) ** 2), jnp.nan))

    def guide():
        pass

    svi = SVI(model, guide, optim.SGD(0.1), Trace_ELBO())
    with pytest.warns(UserWarning, match="non-finite loss or gradient and were skipped"):
        result = svi.run(jax.random.PRNGKey(0), 30, progress_bar=False, stable_update=True)
    losses = np.asarray(result.losses)
    first_bad = int(np.argmax(np.isnan(losses)))
    assert first_bad > 0 and np.all(np.isnan(losses[first_bad:]))
    x = float(result.params["x"])
    # the state after the last good step: x after first_bad SGD steps on (x-3)^2
    expected = 0.0
    for _ in range(first_bad):
        expected = expected + 0.1 * 2 * (3.0 - expected)
    assert x == pytest.approx(expected, rel=1e-5)


def test_nan_loss_names_the_step_and_the_sites():
    def model():
        x = ppl.param("x", 0.0)
        ppl.factor("pull", -((x - 3.0) ** 2))
        # The observed value is NaN once x passes 1, and so is its density.
        ppl.sample("y", dist.Normal(0.0, 1.0), obs=jnp.sqrt(1.0 - x))

    def guide():
        pass

    svi = SVI(model, guide, optim.SGD(0.1), Trace_ELBO())
    with pytest.raises(NonFiniteLossError) as info:
        svi.run(jax.random.PRNGKey(0), 50, progress_bar=False)
    error = info.value
    assert error.step > 0
    assert f"at step {error.step} (of 50)" in str(error)
    assert "model sites with a non-finite log density: y" in str(error)
    assert len(error.losses) == error.step and np.all(np.isfinite(error.losses))
    # The state before the bad step has x past 1.
    assert isinstance(error.state, SVIState)
    assert float(svi.get_params(error.state)["x"]) > 1.0


def test_nan_error_reports_sites_with_non_finite_density():
    def model():
        mu = ppl.param("mu", 0.0)
        ppl.sample("y", dist.Normal(mu, 1.0), obs=jnp.array([1.0, jnp.inf]))

    def guide():
        pass

    svi = SVI(model, guide, optim.SGD(0.1), Trace_ELBO())
    with pytest.raises(
        NonFiniteLossError,
        match=r"at step 0 .*model sites with a non-finite"
        r" log density: y",
    ):
        svi.run(jax.random.PRNGKey(0), 5, progress_bar=False)


def test_bad_input_errors(conjugate):
    model, guide, data = conjugate
    with pytest.raises(TypeError, match=r"optim must be a ppl optimizer.*optax"):
        SVI(model, guide, "adam", Trace_ELBO())
    with pytest.raises(TypeError, match="optim must be"):
        SVI(model, guide, jax.example_libraries.optimizers.adam(0.1), Trace_ELBO())
    with pytest.raises(TypeError, match=r"write Trace_ELBO\(\) instead"):
        SVI(model, guide, optim.Adam(0.1), Trace_ELBO)
    with pytest.raises(TypeError, match="loss must be an ELBO"):
        SVI(model, guide, optim.Adam(0.1), lambda *a: 0.0)
    svi = SVI(model, guide, optim.Adam(0.1), Trace_ELBO())
    with pytest.raises(ValueError, match="num_steps must be a positive integer"):
        svi.run(jax.random.PRNGKey(0), 0, data)
    with pytest.raises(RuntimeError, match="not been initialized"):
        SVI(model, guide, optim.Adam(0.1), Trace_ELBO()).get_params(None)
    with pytest.raises(ValueError, match=r"param site 'scale' starts outside its constraint"):
        svi.init(jax.random.PRNGKey(0), data, init_params={"scale": -1.0})
    with pytest.raises(ValueError, match="not param sites"):
        svi.init(jax.random.PRNGKey(0), data, init_params={"sigma": 1.0})


def test_param_initialized_outside_its_constraint(normal):
    def guide(data):
        scale = ppl.param("scale", -0.5, constraint=ppl.constraints.positive)
        ppl.sample("mu", dist.Normal(0.0, scale))

    svi = SVI(normal.model, guide, optim.Adam(0.1), Trace_ELBO())
    with pytest.raises(ValueError, match=r"param site 'scale'.*outside its constraint"):
        svi.init(jax.random.PRNGKey(0), normal.data)

    def boundary_guide(data):
        scale = ppl.param("scale", lambda key: jnp.array(0.0), constraint=ppl.constraints.positive)
        ppl.sample("mu", dist.Normal(0.0, 1.0 + scale))

    svi = SVI(normal.model, boundary_guide, optim.Adam(0.1), Trace_ELBO())
    with pytest.raises(ValueError, match=r"param site 'scale'"):
        svi.init(jax.random.PRNGKey(0), normal.data)


def test_guide_site_not_in_model_fails_at_init(normal):
    def guide(data):
        ppl.sample("mu", dist.Normal(0.0, 1.0))
        ppl.sample("nu", dist.Normal(0.0, 1.0))

    svi = SVI(normal.model, guide, optim.Adam(0.1), Trace_ELBO())
    with pytest.raises(ValueError, match=r"\['nu'\] that the model does not have"):
        svi.init(jax.random.PRNGKey(0), normal.data)


def test_discrete_latent_with_trace_elbo_warns():
    def model():
        ppl.sample("z", dist.Bernoulli(0.5))

    def guide():
        ppl.sample(
            "z", dist.Bernoulli(ppl.param("p", 0.5, constraint=ppl.constraints.unit_interval))
        )

    with pytest.warns(UserWarning, match="TraceGraph_ELBO"):
        SVI(model, guide, optim.Adam(0.1), Trace_ELBO()).init(jax.random.PRNGKey(0))


def test_registry_entries():
    import ppl.infer
    import ppl.infer.autoguide
    import ppl.infer.reparam
    import ppl.vi
    from ppl.plugins import registry

    assert ppl.infer.SVI is ppl.vi.SVI
    assert ppl.infer.Trace_ELBO is ppl.vi.Trace_ELBO
    assert ppl.infer.RenyiELBO is ppl.vi.RenyiELBO
    assert ppl.infer.autoguide.AutoNormal is ppl.vi.AutoNormal
    assert ppl.infer.autoguide.AutoBNAFNormal is ppl.vi.AutoBNAFNormal
    assert ppl.infer.reparam.NeuTraReparam is ppl.vi.NeuTraReparam
    assert registry.get("optimizers", "Adam") is optim.Adam
    assert registry.get("optimizers", "Minimize") is optim.Minimize
