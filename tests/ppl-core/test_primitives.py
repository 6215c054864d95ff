import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ppl
from ppl import handlers
from ppl.primitives import MissingRandomKeyError


def test_sample_without_key_explains_seed(dist):
    with pytest.raises(MissingRandomKeyError, match=r"'x'.*seed"):
        ppl.sample("x", dist.Normal(0.0, 1.0))
    with pytest.raises(MissingRandomKeyError, match="seed"):
        with handlers.trace():
            ppl.sample("x", dist.Normal(0.0, 1.0))


def test_sample_with_explicit_key_and_obs(dist):
    key = jax.random.PRNGKey(3)
    x = ppl.sample("x", dist.Normal(0.0, 1.0), rng_key=key)
    np.testing.assert_allclose(x, jax.random.normal(key, ()))
    assert ppl.sample("y", dist.Normal(0.0, 1.0), obs=2.0) == 2.0


def test_sample_shape_and_trace_fields(dist):
    def model():
        ppl.sample("x", dist.Normal(jnp.zeros(3), 1.0), sample_shape=(2,), infer={"a": 1})

    tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
    site = tr["x"]
    assert site["value"].shape == (2, 3)
    assert site["type"] == "sample" and not site["is_observed"]
    assert site["infer"] == {"a": 1}
    for field in ("fn", "args", "kwargs", "scale", "mask", "cond_indep_stack", "intermediates"):
        assert field in site


def test_plate_broadcasts_and_allocates_dims(dist):
    def model():
        with ppl.plate("outer", 3):
            with ppl.plate("inner", 4):
                x = ppl.sample("x", dist.Normal(0.0, 1.0))
        with ppl.plate("a", 2, dim=-2):
            y = ppl.sample("y", dist.Normal(jnp.zeros(5), 1.0))
        return x, y

    tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
    assert tr["x"]["value"].shape == (4, 3)
    assert [f.name for f in tr["x"]["cond_indep_stack"]] == ["inner", "outer"]
    assert [f.dim for f in tr["x"]["cond_indep_stack"]] == [-2, -1]
    assert tr["y"]["value"].shape == (2, 5)
    assert tr["outer"]["type"] == "plate"


def test_plate_rejects_value_that_does_not_fit(dist):
    def model():
        with ppl.plate("data", 10):
            ppl.sample("y", dist.Normal(0.0, 1.0), obs=jnp.ones(5))

    with pytest.raises(ValueError, match=r"'y'.*shape \(5,\).*plate 'data' of size 10"):
        handlers.trace(model).get_trace()


def test_plate_rejects_distribution_batch_that_does_not_broadcast(dist):
    def model():
        with ppl.plate("data", 10):
            ppl.sample("y", dist.Normal(jnp.zeros(3), 1.0))

    with pytest.raises(ValueError, match=r"'y'.*batch shape \(3,\).*plate 'data'"):
        handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()


def test_subsampled_plate_scales_and_subsamples(dist):
    data = jnp.arange(100.0)

    def model():
        with ppl.plate("data", 100, subsample_size=10) as idx:
            batch = ppl.subsample(data, event_dim=0)
            ppl.sample("y", dist.Normal(0.0, 1.0), obs=batch)
        return idx, batch

    tr = handlers.trace(handlers.seed(model, rng_seed=1)).get_trace()
    idx = tr["data"]["value"]
    assert idx.shape == (10,) and len(set(np.asarray(idx).tolist())) == 10
    np.testing.assert_allclose(tr["y"]["value"], data[idx])
    assert tr["y"]["scale"] == pytest.approx(10.0)
    with pytest.raises(MissingRandomKeyError, match="subsample"):
        handlers.trace(model).get_trace()


def test_plate_stack(dist):
    def model():
        with ppl.plate_stack("p", (2, 3)):
            return ppl.sample("x", dist.Normal(0.0, 1.0))

    assert handlers.seed(model, rng_seed=0)().shape == (2, 3)


def test_param_deterministic_factor_and_get_mask(dist):
    def model():
        a = ppl.param("a", jnp.ones(2), constraint=ppl.constraints.positive)
        b = ppl.deterministic("b", 2 * a)
        ppl.factor("f", jnp.array(-1.5))
        with handlers.mask(mask=jnp.array([True, False])):
            m = ppl.get_mask()
        return a, b, m

    with handlers.trace() as tr:
        _, _, inner_mask = model()
    np.testing.assert_array_equal(inner_mask, [True, False])
    assert ppl.get_mask() is None
    assert tr["a"]["type"] == "param"
    assert tr["a"]["kwargs"]["constraint"] is ppl.constraints.positive
    np.testing.assert_allclose(tr["b"]["value"], [2.0, 2.0])
    assert tr["f"]["is_observed"]
    np.testing.assert_allclose(tr["f"]["fn"].log_prob(tr["f"]["value"]), -1.5)


def test_param_with_init_function_needs_seed():
    def model():
        return ppl.param("w", lambda key: jax.random.normal(key, (3,)))

    value = handlers.seed(model, rng_seed=0)()
    assert value.shape == (3,)
    with pytest.raises(MissingRandomKeyError):
        model()


def test_prng_key():
    with handlers.seed(rng_seed=0):
        k1, k2 = ppl.prng_key(), ppl.prng_key()
    assert not np.array_equal(k1, k2)
    with pytest.warns(UserWarning, match="seed"):
        assert ppl.prng_key() is None


def test_module_with_init_apply_pair():
    def init_fn(key, input_shape):
        return (input_shape[0], 2), {"w": jax.random.normal(key, (input_shape[-1], 2))}

    def apply_fn(params, x):
        return x @ params["w"]

    def model(x):
        net = ppl.module("net", (init_fn, apply_fn), input_shape=x.shape)
        return net(x)

    tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace(jnp.ones((4, 3)))
    w = tr["net$params"]["value"]["w"]
    assert w.shape == (3, 2)
    out = handlers.substitute(model, data={"net$params": {"w": jnp.ones((3, 2))}})(jnp.ones((4, 3)))
    np.testing.assert_allclose(out, 3 * jnp.ones((4, 2)))


def test_obs_mask_splits_site(dist):
    y = jnp.array([1.0, 2.0, 3.0])
    obs_mask = jnp.array([True, False, True])

    def model():
        with ppl.plate("n", 3):
            return ppl.sample("y", dist.Normal(0.0, 1.0), obs=y, obs_mask=obs_mask)

    tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
    assert tr["y_observed"]["is_observed"] and not tr["y_unobserved"]["is_observed"]
    np.testing.assert_array_equal(tr["y_observed"]["mask"], obs_mask)
    value = tr["y"]["value"]
    np.testing.assert_allclose(value[obs_mask], y[obs_mask])
    np.testing.assert_allclose(value[1], tr["y_unobserved"]["value"][1])


def test_foreign_distribution_without_adapter_is_rejected():
    with pytest.raises(TypeError, match=r"'x'.*must be a distribution"):
        ppl.sample("x", object(), rng_key=jax.random.PRNGKey(0))
