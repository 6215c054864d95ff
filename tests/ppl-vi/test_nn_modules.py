"""flax and equinox modules as params and as random variables (skipped when not installed)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ppl
import ppl.distributions as dist
from ppl.handlers import seed, trace
from ppl.vi import SVI, Trace_ELBO
from ppl.vi.nn import (
    eqx_module,
    flax_module,
    nnx_module,
    random_eqx_module,
    random_flax_module,
    random_nnx_module,
)

X = jnp.linspace(-1.0, 1.0, 20)[:, None]
Y = 2.0 * X[:, 0] + 1.0


def fit_line(model):
    svi = SVI(model, lambda x, y: None, optax.adam(0.05), Trace_ELBO())
    return svi.run(jax.random.PRNGKey(0), 500, X, Y, progress_bar=False).params["net$params"]


def linear_networks():
    """(name, make the model's network) for every installed library."""
    nets = []
    try:
        import flax.linen as nn
        from flax import nnx

        nets.append(("linen", lambda: flax_module("net", nn.Dense(1), input_shape=(1,))))
        nets.append(("nnx", lambda: nnx_module("net", nnx.Linear(1, 1, rngs=nnx.Rngs(0)))))
    except ImportError:
        pass
    try:
        import equinox as eqx

        def eqx_net():
            module = eqx_module("net", eqx.nn.Linear(1, 1, key=jax.random.PRNGKey(0)))
            return jax.vmap(module)

        nets.append(("equinox", eqx_net))
    except ImportError:
        pass
    return nets


@pytest.mark.parametrize(
    "name, make_net",
    linear_networks()
    or [
        pytest.param(
            "none", None, marks=pytest.mark.skip(reason="neither flax nor equinox is installed")
        )
    ],
)
def test_module_weights_are_learned_as_params(name, make_net):
    def model(x, y):
        net = make_net()
        ppl.sample("y", dist.Normal(net(x)[:, 0], 0.1), obs=y)

    weights = fit_line(model)
    leaves = {k: np.asarray(v).reshape(-1) for k, v in weights.items()}
    assert set(leaves) in ({"kernel", "bias"}, {"weight", "bias"})
    slope = leaves.get("kernel", leaves.get("weight"))
    np.testing.assert_allclose(slope, [2.0], atol=1e-2)
    np.testing.assert_allclose(leaves["bias"], [1.0], atol=1e-2)


def test_random_flax_modules_draw_weights_from_the_prior():
    nn = pytest.importorskip("flax.linen")
    nnx = pytest.importorskip("flax.nnx")

    def model(x):
        net = random_flax_module(
            "net", nn.Dense(2), {"kernel": dist.Normal(0.0, 2.0)}, input_shape=(1,)
        )
        return net(x)

    tr = trace(seed(model, 0)).get_trace(X)
    assert tr["net/kernel"]["type"] == "sample"
    assert tr["net/kernel"]["value"].shape == (1, 2)
    assert "net/bias" not in tr  # not in the prior: stays a param
    kernel = tr["net/kernel"]["value"]
    np.testing.assert_allclose(
        tr["net/kernel"]["fn"].log_prob(kernel),
        jnp.sum(dist.Normal(0.0, 2.0).log_prob(kernel)),
        rtol=1e-6,
    )
    out = seed(model, 0)(X)
    np.testing.assert_allclose(out, X @ kernel + tr["net$params"]["value"]["bias"], rtol=1e-5)

    def nnx_model(x):
        return random_nnx_module(
            "net", nnx.Linear(1, 2, rngs=nnx.Rngs(0)), lambda path, shape: dist.Normal(0.0, 1.0)
        )(x)

    tr = trace(seed(nnx_model, 0)).get_trace(X)
    assert tr["net/kernel"]["value"].shape == (1, 2)
    assert tr["net/bias"]["value"].shape == (2,)


def test_random_eqx_module_draws_weights_from_the_prior():
    eqx = pytest.importorskip("equinox")

    def model(x):
        net = random_eqx_module(
            "net", eqx.nn.Linear(1, 2, key=jax.random.PRNGKey(0)), dist.Normal(0.0, 1.0)
        )
        return jax.vmap(net)(x)

    tr = trace(seed(model, 0)).get_trace(X)
    weight, bias = tr["net/weight"]["value"], tr["net/bias"]["value"]
    assert weight.shape == (2, 1) and bias.shape == (2,)
    np.testing.assert_allclose(seed(model, 0)(X), X @ weight.T + bias, rtol=1e-5)
    with pytest.raises(ValueError, match="not weights of the network"):
        random_eqx_module(
            "net2", eqx.nn.Linear(1, 2, key=jax.random.PRNGKey(0)), {"kernel": dist.Normal()}
        )


def test_flax_mutable_state_is_refused():
    nn = pytest.importorskip("flax.linen")
    with pytest.raises(NotImplementedError, match="mutable"):
        seed(
            lambda: flax_module("bn", nn.BatchNorm(), input_shape=(3,), mutable=["batch_stats"]), 0
        )()
