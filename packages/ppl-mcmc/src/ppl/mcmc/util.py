"""Small helpers shared by the kernels and the driver."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree

from ppl import compilation

__all__ = [
    "HOST_READ_ERRORS",
    "ArgsBinding",
    "flat_structure",
    "merge_chain_axis",
    "same_arrays",
    "split_keys",
    "uniform_from_key",
    "varying_with",
]


#: What tracing raises when a model reads a traced argument on the host
#: (``np.mean(y)``, ``float(x)``); such models get their arguments as constants.
HOST_READ_ERRORS = (
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerArrayConversionError,
    jax.errors.TracerIntegerConversionError,
)


def _is_array(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray))


class ArgsBinding:
    """Model arguments split into array leaves and everything else.

    Array leaves can be passed to a compiled function as (traced) arguments,
    or baked in as constants; the other leaves (numbers, strings, ``None``,
    callables) are always static, since models may use them for shapes or
    control flow.
    """

    def __init__(self, args: tuple, kwargs: dict) -> None:
        leaves, self.treedef = jax.tree.flatten((tuple(args), dict(kwargs)))
        self.is_dynamic = tuple(_is_array(leaf) for leaf in leaves)
        self.dynamic = [leaf for leaf, d in zip(leaves, self.is_dynamic, strict=True) if d]
        self.static = tuple(leaf for leaf, d in zip(leaves, self.is_dynamic, strict=True) if not d)

    def rebuild(self, dynamic: list[Any]) -> tuple[tuple, dict]:
        """``(args, kwargs)`` with the array leaves taken from ``dynamic``."""
        arrays = iter(dynamic)
        static = iter(self.static)
        leaves = [next(arrays) if d else next(static) for d in self.is_dynamic]
        return jax.tree.unflatten(self.treedef, leaves)

    def cache_key(self, traced: bool) -> tuple | None:
        """A hashable description, or ``None`` when a static leaf is unhashable.

        Arrays count by shape and dtype when they are traced, by identity when
        they are baked in as constants.
        """
        if traced:
            arrays: tuple = tuple((np.shape(x), str(x.dtype)) for x in self.dynamic)
        else:
            arrays = tuple(id(x) for x in self.dynamic)
        key = (self.treedef, self.is_dynamic, self.static, arrays)
        try:
            hash(key)
        except TypeError:
            return None
        return key


def same_arrays(a: ArgsBinding, b: ArgsBinding) -> bool:
    """Whether two bindings hold the very same array objects."""
    return len(a.dynamic) == len(b.dynamic) and all(
        x is y for x, y in zip(a.dynamic, b.dynamic, strict=True)
    )


def uniform_from_key(rng_key: jax.Array) -> jax.Array:
    """A uniform number in ``[0, 1)`` made from the bits of a key itself.

    Keys are outputs of the counter-based generator, so their bits are as
    random as those ``jax.random.uniform`` would draw from them; reading them
    directly saves one generator call, which keeps compiled loops small.
    """
    if jnp.issubdtype(rng_key.dtype, jax.dtypes.prng_key):
        rng_key = jax.random.key_data(rng_key)
    bits = jnp.ravel(rng_key)[0].astype(jnp.uint32)
    # 23 random mantissa bits under exponent 0 give a float in [1, 2).
    one_to_two = lax.bitcast_convert_type((bits >> 9) | jnp.uint32(0x3F800000), jnp.float32)
    return one_to_two - 1.0


def varying_with(ref: jax.Array, tree: Any) -> Any:
    """``tree``, made to depend on the value of ``ref`` (a scalar).

    Under ``vmap`` (vectorized chains), a ``while_loop`` whose predicate differs
    across the batch carries every value batched. A carry that starts batched
    lets JAX batch the loop body once instead of discovering it on a second
    pass; over nested loops that halves the trace time of NUTS. XLA folds the
    ``select`` of two equal operands away, so the compiled program is unchanged.
    """
    marker = lax.ne(ref, ref)  # NaN test as a primitive: jnp wrappers cost trace time

    def vary(x: jax.Array) -> jax.Array:
        return lax.select(lax.broadcast(marker, jnp.shape(x)), x, x)

    return jax.tree.map(vary, tree)


@functools.cache
def _compiled_split(num: int, batched: bool, unstack: bool, fast: bool) -> Callable:
    del fast  # a cache key only: the compile options in force when compiled

    def split(rng_key: jax.Array) -> Any:
        if batched:
            keys = jax.vmap(lambda key: jax.random.split(key, num))(rng_key)
        else:
            keys = jax.random.split(rng_key, num)
        return tuple(jnp.moveaxis(keys, int(batched), 0)) if unstack else keys

    return compilation.jit(split, "setup")


def split_keys(
    rng_key: jax.Array, num: int, *, batched: bool = False, unstack: bool = False
) -> Any:
    """``jax.random.split(rng_key, num)`` (of each key of a batch when
    ``batched``), as one small compiled program instead of several eager ones.

    With ``unstack``, a tuple of ``num`` keys (or of ``num`` batches of keys)."""
    return _compiled_split(int(num), batched, unstack, compilation.fast_compile_enabled())(rng_key)


def _merge_first_axes(tree: Any) -> Any:
    return jax.tree.map(lambda x: x.reshape(x.shape[0] * x.shape[1], *x.shape[2:]), tree)


@functools.cache
def _compiled_merge(fast: bool) -> Callable:
    del fast  # a cache key only, as in _compiled_split
    return compilation.jit(_merge_first_axes, "setup")


def merge_chain_axis(tree: Any) -> Any:
    """Each array of ``tree`` with its first two axes (chains, draws) merged into one.

    Device arrays are reshaped in one compiled program (reshaping each eagerly
    would compile one program per shape); host (NumPy) arrays stay on the host.
    """
    leaves = jax.tree.leaves(tree)
    if leaves and all(isinstance(x, np.ndarray) for x in leaves):
        return _merge_first_axes(tree)
    return _compiled_merge(compilation.fast_compile_enabled())(tree)


def flat_structure(z: Any) -> tuple[int, Callable[[jax.Array], Any]]:
    """The size of ``ravel_pytree(z)`` and its unravel function, computed from
    shapes alone (``z`` may hold :class:`jax.ShapeDtypeStruct` leaves)."""
    captured: list[Callable] = []

    def ravel(tree: Any) -> jax.Array:
        flat, unravel = ravel_pytree(tree)
        captured.append(unravel)
        return flat

    flat = jax.eval_shape(ravel, z)
    return int(flat.size), captured[0]
