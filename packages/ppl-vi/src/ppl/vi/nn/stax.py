"""A few stax-style layers on plain JAX.

A layer is a pair ``(init_fn, apply_fn)``: ``init_fn(rng_key, input_shape)``
returns ``(output_shape, params)`` and ``apply_fn(params, inputs, **kwargs)``
the outputs, the convention of ``jax.example_libraries.stax`` (whose layers
work here too) and of :func:`ppl.module`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["Elu", "LeakyRelu", "Relu", "Sigmoid", "Tanh", "elementwise", "serial"]

Layer = tuple[Callable, Callable]


def elementwise(fn: Callable[[jax.Array], jax.Array]) -> Layer:
    """A parameter-free layer applying ``fn`` elementwise."""

    def init_fn(rng_key: Any, input_shape: tuple) -> tuple:
        return input_shape, ()

    def apply_fn(params: Any, inputs: jax.Array, **kwargs: Any) -> jax.Array:
        return fn(inputs)

    return init_fn, apply_fn


Elu = elementwise(jax.nn.elu)
Relu = elementwise(jax.nn.relu)
LeakyRelu = elementwise(jax.nn.leaky_relu)
Sigmoid = elementwise(jax.nn.sigmoid)
Tanh = elementwise(jnp.tanh)


def serial(*layers: Layer) -> Layer:
    """Compose layers: the output of each is the input of the next."""
    init_fns = [layer[0] for layer in layers]
    apply_fns = [layer[1] for layer in layers]

    def init_fn(rng_key: Any, input_shape: tuple) -> tuple:
        params = []
        for init in init_fns:
            rng_key, layer_key = jax.random.split(rng_key)
            input_shape, layer_params = init(layer_key, input_shape)
            params.append(layer_params)
        return input_shape, params

    def apply_fn(params: Any, inputs: Any, **kwargs: Any) -> Any:
        for apply, layer_params in zip(apply_fns, params, strict=True):
            inputs = apply(layer_params, inputs, **kwargs)
        return inputs

    return init_fn, apply_fn
