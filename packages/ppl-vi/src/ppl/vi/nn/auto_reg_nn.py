r"""Masked autoregressive networks (MADE, Germain et al. 2015) for autoregressive flows.

Each unit gets a *degree*: the input at position ``permutation[k]`` has
degree :math:`k + 1`, hidden units cycle through :math:`1, \ldots, D-1`, and
an output for variable :math:`i` has the degree of input :math:`i`. A weight
from a unit of degree :math:`a` to one of degree :math:`b` is kept when
:math:`b \ge a` (into hidden units) or :math:`b > a` (into outputs), so
output :math:`i` depends only on the inputs that come before :math:`i` in the
permutation.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ppl.vi.nn.stax import Relu, serial

__all__ = ["AutoregressiveNN", "MaskedDense", "create_mask"]


def create_mask(
    input_dim: int,
    hidden_dims: Sequence[int],
    permutation: Any,
    output_dim_multiplier: int,
) -> tuple[list[np.ndarray], np.ndarray]:
    """The connectivity masks of a MADE network, each of shape ``(fan_in, fan_out)``.

    Returns:
        ``(masks, skip_mask)``: one mask per dense layer (input to first
        hidden, hidden to hidden, last hidden to output) and the mask of the
        direct input-to-output connections.
    """
    permutation = np.asarray(permutation)
    input_degrees = np.zeros(input_dim, dtype=int)
    input_degrees[permutation] = np.arange(1, input_dim + 1)
    hidden_degrees = [np.arange(h) % (input_dim - 1) + 1 for h in hidden_dims]
    output_degrees = np.tile(input_degrees, output_dim_multiplier)
    masks = [(hidden_degrees[0][None, :] >= input_degrees[:, None]).astype(np.float32)]
    for previous, current in itertools.pairwise(hidden_degrees):
        masks.append((current[None, :] >= previous[:, None]).astype(np.float32))
    masks.append((output_degrees[None, :] > hidden_degrees[-1][:, None]).astype(np.float32))
    skip_mask = (output_degrees[None, :] > input_degrees[:, None]).astype(np.float32)
    return masks, skip_mask


def MaskedDense(
    mask: Any,
    bias: bool = True,
    W_init: Callable = jax.nn.initializers.glorot_normal(),  # noqa: B008
    b_init: Callable = jax.nn.initializers.normal(1e-6),  # noqa: B008
) -> tuple[Callable, Callable]:
    """A dense layer ``x @ (W * mask) + b`` whose weights are masked by ``mask``
    (shape ``(fan_in, fan_out)``)."""
    mask = jnp.asarray(mask)

    def init_fn(rng_key: Any, input_shape: tuple) -> tuple:
        w_key, b_key = jax.random.split(rng_key)
        weight = W_init(w_key, mask.shape)
        params = (weight, b_init(b_key, mask.shape[-1:])) if bias else weight
        return (*tuple(input_shape[:-1]), mask.shape[-1]), params

    def apply_fn(params: Any, inputs: jax.Array, **kwargs: Any) -> jax.Array:
        if bias:
            weight, b = params
            return jnp.dot(inputs, weight * mask) + b
        return jnp.dot(inputs, params * mask)

    return init_fn, apply_fn


def AutoregressiveNN(
    input_dim: int,
    hidden_dims: Sequence[int],
    param_dims: Sequence[int] = (1, 1),
    permutation: Any = None,
    skip_connections: bool = False,
    nonlinearity: tuple[Callable, Callable] = Relu,
) -> tuple[Callable, Callable]:
    """An autoregressive network: ``(init_fn, apply_fn)`` in the stax convention.

    Args:
        input_dim: the dimension :math:`D` of the input vector.
        hidden_dims: the widths of the hidden layers.
        param_dims: how many outputs per input variable each returned
            parameter has; with the default ``(1, 1)`` the network returns two
            arrays of shape ``(..., D)`` (e.g. a mean and a log scale) stacked
            in a leading dimension.
        permutation: the autoregressive order (default: ``0, ..., D-1``).
        skip_connections: add masked direct connections from input to output.
        nonlinearity: a stax layer applied after each hidden layer.

    Returns:
        ``(init_fn, apply_fn)``. ``apply_fn(params, x)`` returns one array of
        shape ``(..., D)`` when ``param_dims == [1]``, an array of shape
        ``(len(param_dims), ..., D)`` when every entry is 1, and otherwise a
        tuple of arrays of shapes ``(..., param_dims[j], D)``.
    """
    if input_dim < 2:
        raise ValueError(f"AutoregressiveNN: input_dim must be at least 2, got {input_dim}")
    if not hidden_dims:
        raise ValueError("AutoregressiveNN: hidden_dims must name at least one hidden layer")
    param_dims = [int(p) for p in param_dims]
    multiplier = sum(param_dims)
    permutation = np.arange(input_dim) if permutation is None else np.asarray(permutation)
    masks, skip_mask = create_mask(input_dim, list(hidden_dims), permutation, multiplier)
    layers = []
    for mask in masks[:-1]:
        layers += [MaskedDense(mask), nonlinearity]
    layers.append(MaskedDense(masks[-1]))
    net_init, net_apply = serial(*layers)
    skip_init, skip_apply = MaskedDense(skip_mask, bias=False)

    def init_fn(rng_key: Any, input_shape: tuple) -> tuple:
        net_key, skip_key = jax.random.split(rng_key)
        output_shape, net_params = net_init(net_key, input_shape)
        if not skip_connections:
            return output_shape, net_params
        return output_shape, (net_params, skip_init(skip_key, input_shape)[1])

    def apply_fn(params: Any, inputs: jax.Array, **kwargs: Any) -> Any:
        if skip_connections:
            net_params, skip_params = params
            out = net_apply(net_params, inputs) + skip_apply(skip_params, inputs)
        else:
            out = net_apply(params, inputs)
        out = jnp.reshape(out, (*jnp.shape(inputs)[:-1], multiplier, input_dim))
        if param_dims == [1]:
            return out[..., 0, :]
        if all(p == 1 for p in param_dims):
            return jnp.moveaxis(out, -2, 0)
        ends = np.cumsum(param_dims)
        starts = ends - np.asarray(param_dims)
        return tuple(out[..., s:e, :] for s, e in zip(starts, ends, strict=True))

    return init_fn, apply_fn
