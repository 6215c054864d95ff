"""ppl.optim: each optimizer's updates against optax and the classic JAX optimizers."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.example_libraries import optimizers as classic

import ppl.optim as optim

PARAMS = {"a": jnp.array([1.0, 2.0, -3.0]), "b": jnp.array([[0.5, -1.0], [2.0, 0.1]])}


def fake_grad(step, params):
    return jax.tree.map(lambda x: jnp.sin(x * (step + 1)) + 0.3 * x, params)


def run_ours(opt, steps=6):
    state = opt.init(PARAMS)
    for i in range(steps):
        state = opt.update(fake_grad(i, opt.get_params(state)), state)
    return opt.get_params(state)


def run_optax(transformation, steps=6):
    params, state = PARAMS, transformation.init(PARAMS)
    for i in range(steps):
        updates, state = transformation.update(fake_grad(i, params), state, params)
        params = optax.apply_updates(params, updates)
    return params


def run_classic(triple, steps=6):
    init, update, get = triple
    state = init(PARAMS)
    for i in range(steps):
        state = update(i, fake_grad(i, get(state)), state)
    return get(state)


def assert_trees_close(a, b, atol=2e-6):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(x, y, atol=atol, rtol=1e-5)


@pytest.mark.parametrize(
    "ours, reference",
    [
        (optim.Adam(0.1), optax.adam(0.1)),
        (optim.Adam(0.05, b1=0.8, b2=0.99, eps=1e-6), optax.adam(0.05, b1=0.8, b2=0.99, eps=1e-6)),
        (optim.ClippedAdam(0.1, clip_norm=0.5), optax.chain(optax.clip(0.5), optax.adam(0.1))),
        (optim.SGD(0.1), optax.sgd(0.1)),
        (optim.Momentum(0.1, mass=0.8), optax.sgd(0.1, momentum=0.8)),
        (optim.RMSProp(0.1, gamma=0.8), optax.rmsprop(0.1, decay=0.8)),
        (optim.RMSPropMomentum(0.1), optax.rmsprop(0.1, decay=0.9, momentum=0.9)),
    ],
    ids=["adam", "adam-options", "clipped-adam", "sgd", "momentum", "rmsprop", "rmsprop-mom"],
)
def test_matches_optax(ours, reference):
    assert_trees_close(run_ours(ours), run_optax(reference))


@pytest.mark.parametrize(
    "ours, reference",
    [
        (optim.Adagrad(0.1), classic.adagrad(0.1)),
        (optim.Adagrad(0.1, momentum=0.5), classic.adagrad(0.1, momentum=0.5)),
        (optim.SM3(0.1), classic.sm3(0.1)),
        (
            optim.RMSPropMomentum(0.1, gamma=0.8, momentum=0.7),
            classic.rmsprop_momentum(0.1, gamma=0.8, momentum=0.7),
        ),
        (optim.Adam(0.1), classic.adam(0.1)),
    ],
    ids=["adagrad", "adagrad-momentum", "sm3", "rmsprop-momentum", "adam"],
)
def test_matches_classic_jax_optimizers(ours, reference):
    assert_trees_close(run_ours(ours), run_classic(reference), atol=1e-5)


def test_step_size_schedule():
    schedule = optax.exponential_decay(0.1, transition_steps=1, decay_rate=0.5)
    assert_trees_close(run_ours(optim.Adam(schedule)), run_optax(optax.adam(schedule)))
    assert_trees_close(
        run_ours(optim.Momentum(schedule, 0.9)), run_classic(classic.momentum(schedule, 0.9))
    )


def test_optax_to_ppl_wraps_any_transformation():
    chain = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(0.05, weight_decay=0.1))
    assert_trees_close(run_ours(optim.optax_to_ppl(chain)), run_optax(chain))


def test_state_is_step_and_inner_state():
    opt = optim.Adam(0.1)
    state = opt.init(PARAMS)
    assert int(state[0]) == 0
    state = opt.update(fake_grad(0, PARAMS), state)
    assert int(state[0]) == 1


def test_eval_and_update_and_stable_update():
    opt = optim.SGD(0.5)
    state = opt.init({"x": jnp.array(3.0)})

    def fn(p):
        return (p["x"] - 1.0) ** 2, None

    (value, _), state = opt.eval_and_update(fn, state)
    assert value == pytest.approx(4.0)
    assert float(opt.get_params(state)["x"]) == pytest.approx(3.0 - 0.5 * 4.0)

    def bad(p):
        return jnp.log(p["x"] - 5.0), None  # nan below 5

    (value, _), new_state = opt.eval_and_stable_update(bad, state)
    assert np.isnan(value)
    assert float(opt.get_params(new_state)["x"]) == float(opt.get_params(state)["x"])
    assert int(new_state[0]) == int(state[0])
    (value, _), new_state = opt.eval_and_update(fn, state, forward_mode_differentiation=True)
    assert value == pytest.approx(0.0)


@pytest.mark.parametrize("method", ["BFGS", "L-BFGS"])
def test_minimize_finds_the_minimum_in_one_step(method):
    target = {"a": jnp.array([1.0, -2.0]), "b": jnp.array(0.5)}
    opt = optim.Minimize(method=method)
    state = opt.init({"a": jnp.zeros(2), "b": jnp.array(3.0)})

    def fn(p):
        return jnp.sum((p["a"] - target["a"]) ** 2) + 4.0 * (p["b"] - target["b"]) ** 2, None

    (value, _), state = jax.jit(lambda s: opt.eval_and_update(fn, s))(state)
    assert float(value) < 1e-8
    assert_trees_close(opt.get_params(state), target, atol=1e-4)


def test_bad_arguments():
    with pytest.raises(TypeError, match=r"optax\.GradientTransformation"):
        optim.optax_to_ppl(lambda g: g)
    with pytest.raises(ValueError, match="step_size must be positive"):
        optim.Adam(-0.1)
    with pytest.raises(TypeError, match="step_size"):
        optim.SGD("fast")
    with pytest.raises(ValueError, match="method"):
        optim.Minimize(method="Newton")
    with pytest.raises(ValueError, match="clip_norm"):
        optim.ClippedAdam(0.1, clip_norm=0.0)
