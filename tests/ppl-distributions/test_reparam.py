import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import ppl
import ppl.distributions as dist
from ppl import handlers
from ppl.distributions.reparam import (
    CircularReparam,
    ExplicitReparam,
    LocScaleReparam,
    TransformReparam,
)
from ppl.infer.util import log_density
from ppl.transforms import AffineTransform, ExpTransform

N = 20000


def draws(model, config, site, num=N):
    reparam_model = handlers.reparam(model, config=config)

    def one(key):
        return handlers.trace(handlers.seed(reparam_model, rng_seed=key)).get_trace()[site]["value"]

    return jax.vmap(one)(jax.random.split(jax.random.PRNGKey(0), num))


def normal_model():
    with ppl.plate("n", 3):
        return ppl.sample("x", dist.Normal(jnp.array([1.0, -2.0, 0.5]), jnp.array([0.5, 2.0, 1.0])))


@pytest.mark.parametrize("centered", [0.0, 0.3, None])
def test_loc_scale_reparam_keeps_the_marginal(centered):
    x = draws(normal_model, {"x": LocScaleReparam(centered)}, "x")
    loc, scale = np.array([1.0, -2.0, 0.5]), np.array([0.5, 2.0, 1.0])
    assert np.all(np.abs(np.asarray(x.mean(0)) - loc) < 4 * scale / np.sqrt(N))
    np.testing.assert_allclose(x.std(0), scale, rtol=0.03)


def test_loc_scale_reparam_sites_and_density():
    model = handlers.reparam(normal_model, config={"x": LocScaleReparam(0.3)})
    tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
    assert tr["x"]["type"] == "deterministic"
    value = tr["x_decentered"]["value"]
    lp, _ = log_density(model, (), {}, {"x_decentered": value})
    loc, scale = np.array([1.0, -2.0, 0.5]), np.array([0.5, 2.0, 1.0])
    expected = stats.norm.logpdf(np.asarray(value), 0.3 * loc, scale**0.3).sum()
    np.testing.assert_allclose(lp, expected, rtol=1e-5)


def test_loc_scale_reparam_learnable_centeredness_is_a_param():
    model = handlers.reparam(normal_model, config={"x": LocScaleReparam()})
    tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
    assert tr["x_centered"]["type"] == "param"
    assert tr["x_centered"]["kwargs"]["constraint"] is ppl.constraints.unit_interval


def test_loc_scale_reparam_errors():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        LocScaleReparam(centered=1.5)

    def observed():
        ppl.sample("y", dist.Normal(0.0, 1.0), obs=1.0)

    with pytest.raises(ValueError, match="'y' is observed"):
        handlers.reparam(observed, config={"y": LocScaleReparam(0.0)})()


def test_transform_reparam_affine_normal():
    def model():
        return ppl.sample(
            "x", dist.TransformedDistribution(dist.Normal(0.0, 1.0), AffineTransform(3.0, 2.0))
        )

    x = draws(model, {"x": TransformReparam()}, "x")
    assert abs(float(x.mean()) - 3.0) < 4 * 2.0 / np.sqrt(N)
    np.testing.assert_allclose(float(x.std()), 2.0, rtol=0.03)
    tr = handlers.trace(
        handlers.seed(handlers.reparam(model, config={"x": TransformReparam()}), rng_seed=1)
    ).get_trace()
    np.testing.assert_allclose(tr["x"]["value"], 3.0 + 2.0 * tr["x_base"]["value"], rtol=1e-6)
    with pytest.raises(ValueError, match="TransformedDistribution"):
        handlers.seed(handlers.reparam(normal_model, config={"x": TransformReparam()}), 0)()


def test_explicit_reparam_log_normal():
    def model():
        return ppl.sample("x", dist.LogNormal(0.5, 0.7)) if hasattr(dist, "LogNormal") else None

    if not hasattr(dist, "LogNormal"):
        pytest.skip("LogNormal not available")
    reparam_model = handlers.reparam(model, config={"x": ExplicitReparam(ExpTransform().inv)})
    tr = handlers.trace(handlers.seed(reparam_model, rng_seed=0)).get_trace()
    y = tr["x_transformed"]["value"]
    np.testing.assert_allclose(tr["x"]["value"], np.exp(y), rtol=1e-6)
    # log(x) of a LogNormal(0.5, 0.7) is Normal(0.5, 0.7)
    lp, _ = log_density(reparam_model, (), {}, {"x_transformed": y})
    np.testing.assert_allclose(lp, stats.norm.logpdf(float(y), 0.5, 0.7), rtol=1e-5)


def test_circular_reparam_wraps_and_keeps_density():
    if not hasattr(dist, "VonMises"):
        pytest.skip("VonMises not available")

    def model():
        return ppl.sample("phi", dist.VonMises(2.0, 4.0))

    reparam_model = handlers.reparam(model, config={"phi": CircularReparam()})
    lp, tr = log_density(reparam_model, (), {}, {"phi_unwrapped": 2.0 + 2 * np.pi})
    np.testing.assert_allclose(tr["phi"]["value"], 2.0, rtol=1e-5)
    np.testing.assert_allclose(lp, stats.vonmises.logpdf(2.0, 4.0, loc=2.0), rtol=1e-5)
