import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import ppl
from ppl import handlers
from ppl.infer.util import log_density


def simple_model(dist):
    def model(y=None):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("n", 3):
            ppl.sample("y", dist.Normal(mu, 1.0), obs=y)
        return mu

    return model


def test_handlers_work_as_context_managers_and_wrappers(dist):
    model = simple_model(dist)
    with handlers.trace() as tr, handlers.seed(rng_seed=1):
        model()
    tr2 = handlers.trace(handlers.seed(model, rng_seed=1)).get_trace()
    np.testing.assert_allclose(tr["mu"]["value"], tr2["mu"]["value"])
    # decorator form: handler(options)(fn)
    seeded = handlers.seed(rng_seed=1)(model)
    np.testing.assert_allclose(seeded(), tr["mu"]["value"])


def test_seed_inside_and_outside_trace_agree(dist):
    model = simple_model(dist)
    inside = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
    with handlers.seed(rng_seed=0):
        tr = handlers.trace(model).get_trace()
    np.testing.assert_allclose(inside["mu"]["value"], tr["mu"]["value"])


def test_seed_accepts_new_style_keys_and_rejects_junk(dist):
    model = simple_model(dist)
    a = handlers.seed(model, rng_seed=jax.random.key(0))()
    assert jnp.shape(a) == ()
    with pytest.raises(TypeError, match="rng_seed"):
        handlers.seed(model, rng_seed="zero")


def test_seeded_model_draws_fresh_values_each_call(dist):
    seeded = handlers.seed(simple_model(dist), rng_seed=0)
    assert seeded() != seeded()


def test_substitute_and_condition(dist):
    model = simple_model(dist)
    tr = handlers.trace(handlers.substitute(model, data={"mu": 0.5})).get_trace(jnp.zeros(3))
    assert tr["mu"]["value"] == 0.5 and not tr["mu"]["is_observed"]
    tr = handlers.trace(handlers.condition(model, data={"mu": 0.5})).get_trace(jnp.zeros(3))
    assert tr["mu"]["value"] == 0.5 and tr["mu"]["is_observed"]
    tr = handlers.trace(
        handlers.substitute(model, substitute_fn=lambda site: 2.0 if site["name"] == "mu" else None)
    ).get_trace(jnp.zeros(3))
    assert tr["mu"]["value"] == 2.0


def test_substitute_constrained_param():
    def model():
        return ppl.param("s", 1.0, constraint=ppl.constraints.positive)

    assert handlers.substitute(model, data={"s": 3.0})() == 3.0


def test_param_outside_constraint_is_rejected():
    with pytest.raises(ValueError, match=r"param site 's'.*outside its constraint"):
        ppl.param("s", -1.0, constraint=ppl.constraints.positive)


def test_uncondition_turns_data_into_latent(dist):
    model = simple_model(dist)
    y = jnp.array([1.0, 2.0, 3.0])
    tr = handlers.trace(handlers.seed(handlers.uncondition(model), rng_seed=0)).get_trace(y)
    assert not tr["y"]["is_observed"]
    assert tr["y"]["infer"]["was_observed"]
    np.testing.assert_allclose(tr["y"]["infer"]["obs"], y)
    assert not np.allclose(tr["y"]["value"], y)


def test_block_variants(dist):
    model = simple_model(dist)
    y = jnp.zeros(3)

    def names(**options):
        with handlers.trace() as tr, handlers.block(**options), handlers.seed(rng_seed=0):
            model(y)
        return set(tr)

    assert names() == set()
    assert names(hide=["mu"]) == {"n", "y"}
    assert names(expose=["mu"]) == {"mu"}
    assert names(expose_types=["plate"]) == {"n"}
    assert names(hide_fn=lambda msg: msg["type"] == "sample") == {"n"}
    with pytest.raises(ValueError, match="at most one"):
        handlers.block(hide=["a"], expose=["b"])


def test_scope_nested_and_duplicate_names(dist):
    def sub():
        return ppl.sample("x", dist.Normal(0.0, 1.0))

    def model():
        with handlers.scope(prefix="a"):
            sub()
            with handlers.scope(prefix="b"):
                sub()
        sub()

    tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
    assert list(tr) == ["a/x", "a/b/x", "x"]

    def clash():
        sub()
        sub()

    with pytest.raises(ValueError, match=r"Duplicate site name 'x'.*scope"):
        handlers.trace(handlers.seed(clash, rng_seed=0)).get_trace()


def test_scope_renames_plates(dist):
    def model():
        with handlers.scope(prefix="m"), ppl.plate("n", 2):
            ppl.sample("x", dist.Normal(0.0, 1.0))

    tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
    assert [f.name for f in tr["m/x"]["cond_indep_stack"]] == ["m/n"]


def test_mask_and_scale_reach_log_density(dist):
    y = jnp.array([0.5, -1.0, 2.0])

    def model():
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("n", 3), handlers.mask(mask=jnp.array([True, False, True])):
            with handlers.scale(scale=2.0):
                ppl.sample("y", dist.Normal(mu, 1.0), obs=y)

    lp, _ = log_density(model, (), {}, {"mu": 0.3})
    expected = stats.norm.logpdf(0.3) + 2.0 * (
        stats.norm.logpdf(0.5, 0.3) + stats.norm.logpdf(2.0, 0.3)
    )
    np.testing.assert_allclose(lp, expected, rtol=1e-6)


def test_scale_and_mask_validate_their_input():
    with pytest.raises(ValueError, match="positive"):
        handlers.scale(scale=-1.0)
    with pytest.raises(TypeError, match="boolean"):
        handlers.mask(mask=jnp.array([1.0, 0.0]))


def test_unknown_handler_option_is_named():
    with pytest.raises(TypeError, match=r"seed\(\) got an unknown option 'rng_key'.*rng_seed"):
        handlers.seed(lambda: None, rng_key=0)
    with pytest.raises(TypeError, match="expects a callable"):
        handlers.trace(3)


def test_lift_turns_params_into_samples(dist):
    def model():
        return ppl.param("w", 1.0)

    tr = handlers.trace(
        handlers.seed(handlers.lift(model, prior={"w": dist.Normal(5.0, 0.1)}), rng_seed=0)
    ).get_trace()
    assert tr["w"]["type"] == "sample"
    assert abs(float(tr["w"]["value"]) - 5.0) < 1.0


def test_do_intervenes_without_adding_evidence(dist):
    def model():
        x = ppl.sample("x", dist.Normal(0.0, 1.0))
        return ppl.sample("y", dist.Normal(x, 0.01))

    tr = handlers.trace(handlers.seed(handlers.do(model, data={"x": 10.0}), rng_seed=0)).get_trace()
    # Outside `do`, x is an ordinary draw and y sees the intervention.
    assert "x__CF" not in tr and not tr["x"]["is_observed"]
    assert abs(float(tr["x"]["value"])) < 5.0
    assert abs(float(tr["y"]["value"]) - 10.0) < 0.1
    # Inside `do`, the intervened value is recorded as the counterfactual site.
    with handlers.seed(rng_seed=0), handlers.do(data={"x": 10.0}):
        inner = handlers.trace(model).get_trace()
    assert inner["x__CF"]["value"] == 10.0 and inner["x__CF"]["is_observed"]


def test_infer_config(dist):
    model = simple_model(dist)
    configured = handlers.infer_config(model, config_fn=lambda msg: {"tag": msg["name"]})
    tr = handlers.trace(handlers.seed(configured, rng_seed=0)).get_trace()
    assert tr["mu"]["infer"]["tag"] == "mu"


def test_reparam_with_a_custom_reparameterizer(dist):
    class Shift:
        """x = z + 3 with z ~ Normal(loc - 3, scale): a toy reparameterizer."""

        def __call__(self, name, fn, obs):
            z = ppl.sample(name + "_z", dist.Normal(fn.loc - 3.0, fn.scale))
            return None, z + 3.0

    def model():
        return ppl.sample("x", dist.Normal(1.0, 1.0))

    tr = handlers.trace(
        handlers.seed(handlers.reparam(model, config={"x": Shift()}), rng_seed=0)
    ).get_trace()
    assert tr["x"]["type"] == "deterministic"
    np.testing.assert_allclose(tr["x"]["value"], tr["x_z"]["value"] + 3.0)


def test_replay_uses_recorded_values(dist):
    model = simple_model(dist)
    guide_trace = handlers.trace(handlers.seed(model, rng_seed=5)).get_trace()
    replayed = handlers.trace(
        handlers.seed(handlers.replay(model, trace=guide_trace), rng_seed=9)
    ).get_trace()
    np.testing.assert_allclose(replayed["mu"]["value"], guide_trace["mu"]["value"])


def test_handler_stack_unwinds_after_errors(dist):
    from ppl.primitives import _HANDLER_STACK

    def broken():
        ppl.sample("x", dist.Normal(0.0, 1.0))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        handlers.trace(handlers.seed(broken, rng_seed=0)).get_trace()
    assert _HANDLER_STACK == []


def test_handlers_under_jit(dist):
    model = simple_model(dist)

    @jax.jit
    def draw(key):
        return handlers.seed(model, rng_seed=key)()

    a, b = draw(jax.random.PRNGKey(0)), draw(jax.random.PRNGKey(1))
    assert a != b
