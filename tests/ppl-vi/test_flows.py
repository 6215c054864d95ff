"""Flow transforms and the autoregressive networks behind them, checked with jax.jacobian."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ppl.vi.flows import BlockNeuralAutoregressiveTransform, InverseAutoregressiveTransform
from ppl.vi.nn import AutoregressiveNN, BlockNeuralAutoregressiveNN, MaskedDense, create_mask
from ppl.vi.nn.stax import Tanh

DIM = 4


def bind(network, key=0):
    init_fn, apply_fn = network
    _, params = init_fn(jax.random.PRNGKey(key), (DIM,))
    # Perturb the weights so that no connection is accidentally zero.
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(key + 1), len(leaves))
    leaves = [
        x + 0.3 * jax.random.normal(k, jnp.shape(x)) for x, k in zip(leaves, keys, strict=True)
    ]
    params = jax.tree.unflatten(treedef, leaves)
    return lambda x: apply_fn(params, x)


@pytest.mark.parametrize("permutation", [np.arange(DIM), np.array([2, 0, 3, 1])])
@pytest.mark.parametrize("skip", [False, True])
def test_autoregressive_nn_outputs_depend_only_on_earlier_inputs(permutation, skip):
    arn = bind(
        AutoregressiveNN(
            DIM, [8, 8], permutation=permutation, skip_connections=skip, nonlinearity=Tanh
        )
    )
    x = jax.random.normal(jax.random.PRNGKey(3), (DIM,))
    jacobian = jax.jacobian(lambda x: arn(x)[0])(x)  # d mean_i / d x_j
    order = np.argsort(permutation)  # position of each variable in the ordering
    allowed = order[None, :] < order[:, None]
    assert np.all(np.asarray(jacobian)[~allowed] == 0.0)
    assert np.any(np.asarray(jacobian)[allowed] != 0.0)


@pytest.mark.slow
def test_autoregressive_nn_param_dims():
    x = jnp.ones((5, DIM))
    assert bind(AutoregressiveNN(DIM, [6], param_dims=[1]))(x).shape == (5, DIM)
    assert bind(AutoregressiveNN(DIM, [6], param_dims=[1, 1, 1]))(x).shape == (3, 5, DIM)
    a, b = bind(AutoregressiveNN(DIM, [6], param_dims=[2, 1]))(x)
    assert a.shape == (5, 2, DIM) and b.shape == (5, 1, DIM)
    with pytest.raises(ValueError, match="input_dim must be at least 2"):
        AutoregressiveNN(1, [4])


def test_masks_and_masked_dense():
    masks, skip = create_mask(3, [4], np.arange(3), 1)
    assert [m.shape for m in masks] == [(3, 4), (4, 3)]
    assert skip.shape == (3, 3)
    np.testing.assert_array_equal(skip, np.triu(np.ones((3, 3)), 1))
    init_fn, apply_fn = MaskedDense(np.eye(3))
    shape, (w, b) = init_fn(jax.random.PRNGKey(0), (2, 3))
    assert shape == (2, 3)
    x = jnp.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(apply_fn((w, b), x), x * jnp.diag(w) + b, rtol=1e-6)


def test_iaf_log_det_inverse_and_autoregressive_jacobian():
    transform = InverseAutoregressiveTransform(bind(AutoregressiveNN(DIM, [8, 8])))
    x = jax.random.normal(jax.random.PRNGKey(4), (DIM,))
    y = transform(x)
    jacobian = jax.jacobian(transform)(x)
    np.testing.assert_allclose(np.triu(jacobian, 1), 0.0, atol=1e-7)
    expected = np.linalg.slogdet(np.asarray(jacobian))[1]
    assert float(transform.log_abs_det_jacobian(x, y)) == pytest.approx(expected, rel=1e-5)
    _, intermediates = transform.call_with_intermediates(x)
    assert float(transform.log_abs_det_jacobian(x, y, intermediates)) == pytest.approx(
        expected, rel=1e-5
    )
    np.testing.assert_allclose(transform.inv(y), x, atol=1e-5)
    batch = jax.random.normal(jax.random.PRNGKey(5), (3, DIM))
    assert transform.log_abs_det_jacobian(batch, transform(batch)).shape == (3,)


@pytest.mark.slow
@pytest.mark.parametrize("residual", [None, "normal", "gated"])
def test_bnaf_is_monotone_autoregressive_with_exact_log_det(residual):
    network = bind(BlockNeuralAutoregressiveNN(DIM, [3, 2], residual=residual))
    transform = BlockNeuralAutoregressiveTransform(network)
    x = jax.random.normal(jax.random.PRNGKey(6), (DIM,))
    y, log_det = transform.call_with_intermediates(x)
    jacobian = np.asarray(jax.jacobian(transform)(x))
    np.testing.assert_allclose(np.triu(jacobian, 1), 0.0, atol=1e-6)
    assert np.all(np.diag(jacobian) > 0)
    np.testing.assert_allclose(log_det, np.log(np.diag(jacobian)), rtol=1e-4, atol=1e-5)
    assert float(transform.log_abs_det_jacobian(x, y)) == pytest.approx(
        float(np.sum(np.log(np.diag(jacobian)))), rel=1e-4
    )
    with pytest.raises(NotImplementedError, match="no analytic inverse"):
        transform.inv(y)
    with pytest.raises(ValueError, match="residual"):
        BlockNeuralAutoregressiveNN(DIM, residual="skip")
