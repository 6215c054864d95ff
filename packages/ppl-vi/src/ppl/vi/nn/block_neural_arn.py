r"""Block neural autoregressive networks (De Cao, Titov and Aziz, 2019).

The network maps :math:`x \in \mathbb{R}^D` to :math:`y \in \mathbb{R}^D`
through layers whose weight matrices are block triangular, one block row and
column per variable. Diagonal blocks are :math:`\exp(W)` (positive), blocks
below the diagonal free, blocks above zero, so output :math:`d` depends on
inputs :math:`\le d` and increases monotonically in input :math:`d`; with
:math:`\tanh` between layers the map is a bijection. Each layer carries the
log of the diagonal blocks of its Jacobian (one :math:`a \times b` block per
variable), and these compose by log-space matrix products, giving
:math:`\log |\partial y_d / \partial x_d|` for every :math:`d`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

__all__ = ["BlockMaskedDense", "BlockNeuralAutoregressiveNN", "Tanh"]

Layer = tuple[Callable, Callable]


def _log_matmul_exp(a: jax.Array, b: jax.Array) -> jax.Array:
    """:math:`\\log(\\exp(a) \\exp(b))` over the last two dims, computed stably."""
    return logsumexp(a[..., :, :, None] + b[..., None, :, :], axis=-2)


def _block_masks(num_blocks: int, in_factor: int, out_factor: int) -> tuple[np.ndarray, ...]:
    rows = np.repeat(np.arange(num_blocks), in_factor)
    cols = np.repeat(np.arange(num_blocks), out_factor)
    diagonal = (rows[:, None] == cols[None, :]).astype(np.float32)
    off_diagonal = (rows[:, None] < cols[None, :]).astype(np.float32)
    return diagonal, off_diagonal


def BlockMaskedDense(
    num_blocks: int,
    in_factor: int,
    out_factor: int,
    bias: bool = True,
    W_init: Callable = jax.nn.initializers.glorot_uniform(),  # noqa: B008
) -> Layer:
    """A weight-normalized block-triangular dense layer acting on ``(x, log_jacobian)``.

    The weight of output unit :math:`j` is :math:`e^{s_j} w_{\\cdot j} / \\|w_{\\cdot j}\\|`
    with :math:`w = e^{W} \\odot M_{\\text{diag}} + W \\odot M_{\\text{below}}`.
    """
    diagonal, off_diagonal = _block_masks(num_blocks, in_factor, out_factor)
    diagonal, off_diagonal = jnp.asarray(diagonal), jnp.asarray(off_diagonal)
    shape = (num_blocks * in_factor, num_blocks * out_factor)

    def init_fn(rng_key: Any, input_shape: tuple) -> tuple:
        w_key, b_key = jax.random.split(rng_key)
        weight = W_init(w_key, shape)
        log_scale = jnp.zeros(shape[1:])
        b = jax.random.uniform(b_key, shape[1:], minval=-1.0, maxval=1.0) / np.sqrt(shape[0])
        params = (weight, log_scale, b) if bias else (weight, log_scale)
        return (*tuple(input_shape[:-1]), shape[1]), params

    def apply_fn(params: Any, inputs: tuple, **kwargs: Any) -> tuple:
        x, log_jacobian = inputs
        weight, log_scale = params[0], params[1]
        w = jnp.exp(weight) * diagonal + weight * off_diagonal
        log_norm = 0.5 * jnp.log(jnp.sum(jnp.square(w), axis=0))
        w = jnp.exp(log_scale - log_norm) * w
        y = jnp.dot(x, w)
        if bias:
            y = y + params[2]
        # log of the diagonal blocks of w: weight on the diagonal, normalized.
        log_w = (log_scale - log_norm) + weight
        # Diagonal block d of log_w, transposed to (out_factor, in_factor): one gather.
        blocks = jnp.reshape(log_w, (num_blocks, in_factor, num_blocks, out_factor))
        log_blocks = jnp.transpose(jnp.diagonal(blocks, axis1=0, axis2=2), (2, 1, 0))
        if log_jacobian is None:
            log_jacobian = jnp.broadcast_to(log_blocks, jnp.shape(x)[:-1] + log_blocks.shape)
        else:
            log_jacobian = _log_matmul_exp(log_blocks, log_jacobian)
        return y, log_jacobian

    return init_fn, apply_fn


def _tanh_layer(num_blocks: int) -> Layer:
    def init_fn(rng_key: Any, input_shape: tuple) -> tuple:
        return input_shape, ()

    def apply_fn(params: Any, inputs: tuple, **kwargs: Any) -> tuple:
        x, log_jacobian = inputs
        # log(1 - tanh(x)^2), written to stay finite for large |x|.
        log_derivative = 2.0 * (np.log(2.0) - x - jax.nn.softplus(-2.0 * x))
        per_block = jnp.reshape(log_derivative, (*jnp.shape(x)[:-1], num_blocks, -1, 1))
        return jnp.tanh(x), log_jacobian + per_block

    return init_fn, apply_fn


Tanh = _tanh_layer


def _residual(kind: str | None) -> Layer | None:
    if kind is None:
        return None
    if kind == "normal":

        def init_fn(rng_key: Any, input_shape: tuple) -> tuple:
            return input_shape, ()

        def apply_fn(params: Any, x: jax.Array, y: jax.Array, log_det: jax.Array) -> tuple:
            return x + y, jax.nn.softplus(log_det)

        return init_fn, apply_fn
    if kind == "gated":

        def init_fn(rng_key: Any, input_shape: tuple) -> tuple:
            return input_shape, jax.random.normal(rng_key, ())

        def apply_fn(params: Any, x: jax.Array, y: jax.Array, log_det: jax.Array) -> tuple:
            gate = jax.nn.sigmoid(params)
            log_gate, log_one_minus = jax.nn.log_sigmoid(params), jax.nn.log_sigmoid(-params)
            return gate * y + (1.0 - gate) * x, jnp.logaddexp(log_gate + log_det, log_one_minus)

        return init_fn, apply_fn
    raise ValueError(f"residual must be None, 'normal' or 'gated', got {kind!r}")


def BlockNeuralAutoregressiveNN(
    input_dim: int,
    hidden_factors: Sequence[int] = (8, 8),
    residual: str | None = None,
) -> Layer:
    """A block neural autoregressive network: ``(init_fn, apply_fn)``.

    Args:
        input_dim: the dimension :math:`D`.
        hidden_factors: hidden layer :math:`i` has ``hidden_factors[i]``
            units per input variable.
        residual: ``None``, ``"normal"`` (:math:`y = x + f(x)`) or
            ``"gated"`` (:math:`y = g f(x) + (1-g) x` with a learned gate).

    Returns:
        ``(init_fn, apply_fn)``; ``apply_fn(params, x)`` returns ``(y, log_det)``
        with ``log_det[..., d]`` :math:`= \\log |\\partial y_d / \\partial x_d|`.
    """
    factors = [1, *[int(f) for f in hidden_factors], 1]
    layers: list[Layer] = []
    for i, (in_factor, out_factor) in enumerate(itertools.pairwise(factors)):
        layers.append(BlockMaskedDense(input_dim, in_factor, out_factor))
        if i < len(factors) - 2:
            layers.append(Tanh(input_dim))
    residual_layer = _residual(residual)

    def init_fn(rng_key: Any, input_shape: tuple) -> tuple:
        params = []
        for init, _ in layers:
            rng_key, layer_key = jax.random.split(rng_key)
            params.append(init(layer_key, input_shape)[1])
        if residual_layer is not None:
            params.append(residual_layer[0](rng_key, input_shape)[1])
        return input_shape, params

    def apply_fn(params: Any, inputs: jax.Array, **kwargs: Any) -> tuple:
        state = (inputs, None)
        for (_, apply), layer_params in zip(layers, params, strict=False):
            state = apply(layer_params, state)
        y, log_jacobian = state
        log_det = log_jacobian[..., 0, 0]
        if residual_layer is not None:
            y, log_det = residual_layer[1](params[-1], inputs, y, log_det)
        return y, log_det

    return init_fn, apply_fn
