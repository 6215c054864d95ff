"""Euclidean metrics: kinetic energy, velocity and momentum for HMC.

A Euclidean metric is fixed by a positive-definite *inverse mass matrix*
:math:`M^{-1}`. The momentum :math:`r` is Gaussian with covariance :math:`M`,
so that the kinetic energy is

.. math::

    K(r) = \\tfrac12\\, r^\\top M^{-1} r, \\qquad
    v = \\nabla_r K(r) = M^{-1} r .

Three shapes of mass matrix are supported, all on the flattened (raveled)
latent vector:

* diagonal: ``inverse_mass_matrix`` is a 1-d array of the diagonal;
* dense: ``inverse_mass_matrix`` is a 2-d array;
* block: ``inverse_mass_matrix`` is a dict keyed by tuples of site names, whose
  values are 1-d or 2-d blocks over those sites (raveled in the tuple's order);
  the joint matrix is block diagonal.

The kernels work on flat vectors; a :class:`BlockLayout` records, once per
latent structure, which flat indices each block covers, so that the hot loop
does nothing but gathers and matrix-vector products.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ppl.mcmc.util import flat_structure

__all__ = [
    "normalize_dense_mass",
    "resolve_layout",
    "BlockLayout",
    "Metric",
    "block_layout",
    "custom_metric",
    "euclidean_kinetic_energy",
    "euclidean_metric",
    "identity_inverse_mass_matrix",
    "mass_matrix_sqrt_and_inverse",
    "momentum_generator",
]


def _check_matrix(inverse_mass_matrix: Any) -> jax.Array:
    inverse_mass_matrix = jnp.asarray(inverse_mass_matrix)
    if inverse_mass_matrix.ndim not in (1, 2):
        raise ValueError(
            "an inverse mass matrix (block) must be a 1-d diagonal or a 2-d dense array, "
            f"got an array of shape {inverse_mass_matrix.shape}"
        )
    return inverse_mass_matrix


def _matvec(inverse_mass_matrix: jax.Array, r: jax.Array) -> jax.Array:
    if inverse_mass_matrix.ndim == 1:
        return inverse_mass_matrix * r
    return inverse_mass_matrix @ r


def euclidean_kinetic_energy(inverse_mass_matrix: Any, r: Any) -> jax.Array:
    """Kinetic energy :math:`\\tfrac12 r^\\top M^{-1} r` of a momentum pytree.

    Args:
        inverse_mass_matrix: a 1-d (diagonal) or 2-d (dense) array over the
            raveled momentum, or a dict ``{(site, ...): block}`` of such arrays
            for a block-diagonal matrix (then ``r`` must be a dict of sites).
        r: the momentum, a pytree shaped like the latent values.

    Returns:
        The scalar kinetic energy.
    """
    if isinstance(inverse_mass_matrix, Mapping):
        total = jnp.zeros(())
        for site_names, block in inverse_mass_matrix.items():
            r_block, _ = ravel_pytree([r[name] for name in site_names])
            block = _check_matrix(block)
            total = total + 0.5 * jnp.dot(r_block, _matvec(block, r_block))
        return total
    r_flat, _ = ravel_pytree(r)
    inverse_mass_matrix = _check_matrix(inverse_mass_matrix)
    return 0.5 * jnp.dot(r_flat, _matvec(inverse_mass_matrix, r_flat))


def _triangular_inverse(matrix: jax.Array) -> jax.Array:
    identity = jnp.eye(matrix.shape[-1], dtype=matrix.dtype)
    return jax.scipy.linalg.solve_triangular(matrix, identity, lower=True)


def mass_matrix_sqrt_and_inverse(inverse_mass_matrix: Any) -> tuple[Any, Any]:
    """Square roots of the mass matrix :math:`M` and of its inverse.

    For a dense :math:`M^{-1}` this returns the lower Cholesky factor
    :math:`L` of :math:`M` (so momenta :math:`r = L\\epsilon` have covariance
    :math:`M`) and :math:`L^{-1}`. :math:`L` is obtained without inverting
    :math:`M^{-1}` explicitly: with the flip permutation :math:`P`, the
    Cholesky factor of :math:`P M^{-1} P` gives an *upper* factor
    :math:`U = P\\,\\mathrm{chol}(P M^{-1} P)\\,P` with :math:`M^{-1} = U U^\\top`,
    hence :math:`M = U^{-\\top} U^{-1}` and :math:`L = U^{-\\top}`.

    Args:
        inverse_mass_matrix: a 1-d or 2-d array, or a dict of them.

    Returns:
        ``(mass_matrix_sqrt, mass_matrix_sqrt_inv)``, with the same structure.
    """
    if isinstance(inverse_mass_matrix, Mapping):
        sqrt, sqrt_inv = {}, {}
        for site_names, block in inverse_mass_matrix.items():
            sqrt[site_names], sqrt_inv[site_names] = mass_matrix_sqrt_and_inverse(block)
        return sqrt, sqrt_inv
    inverse_mass_matrix = _check_matrix(inverse_mass_matrix)
    if inverse_mass_matrix.ndim == 1:
        return jnp.reciprocal(jnp.sqrt(inverse_mass_matrix)), jnp.sqrt(inverse_mass_matrix)
    flipped = jnp.linalg.cholesky(inverse_mass_matrix[::-1, ::-1])
    upper = flipped[::-1, ::-1]
    # L^{-1} = U^T, and L = (U^{-1})^T = inverse of the lower-triangular U^T.
    sqrt_inv = upper.T
    sqrt = _triangular_inverse(sqrt_inv)
    return sqrt, sqrt_inv


class BlockLayout(NamedTuple):
    """Where each mass-matrix block lives in the flattened latent vector.

    Attributes:
        keys: the block keys (tuples of site names), or ``()`` when the mass
            matrix is a single unstructured array over the whole vector.
        indices: one integer index array per block.
        dense: whether each block is dense (2-d) or diagonal (1-d).
        size: the length of the flattened latent vector.
        dense_all: for an unstructured layout, whether the single matrix is dense.
    """

    keys: tuple[tuple[str, ...], ...]
    indices: tuple[np.ndarray, ...]
    dense: tuple[bool, ...]
    size: int
    dense_all: bool = False

    @property
    def structured(self) -> bool:
        return len(self.keys) > 0


def _site_offsets(z: Mapping[str, Any]) -> dict[str, np.ndarray]:
    # ravel_pytree flattens a dict in sorted-key order, each leaf raveled in C order.
    offsets: dict[str, np.ndarray] = {}
    start = 0
    for name in sorted(z):
        size = flat_structure(z[name])[0]
        offsets[name] = np.arange(start, start + size)
        start += size
    return offsets


def block_layout(
    z: Any,
    blocks: Sequence[tuple[str, ...]] | None,
    dense: Sequence[bool] | bool = False,
) -> BlockLayout:
    """Build the :class:`BlockLayout` of latent values ``z``.

    Args:
        z: the latent values (a pytree; a dict of sites when ``blocks`` is given).
        blocks: the block keys, or ``None`` for one unstructured matrix.
        dense: per block, whether it is dense; for an unstructured layout a
            single bool.

    Raises:
        ValueError: when a block names a site that is not in ``z`` or a site
            appears in two blocks.
    """
    size = flat_structure(z)[0]
    if blocks is None:
        return BlockLayout((), (), (), size, bool(dense))
    if not isinstance(z, Mapping):
        raise ValueError(
            "a block-structured mass matrix (dense_mass as a list of site-name tuples, or "
            "inverse_mass_matrix as a dict) needs latent values that are a dict of sites, "
            f"got {type(z).__name__}"
        )
    offsets = _site_offsets(z)
    seen: dict[str, tuple[str, ...]] = {}
    indices = []
    for key in blocks:
        for name in key:
            if name not in offsets:
                raise ValueError(
                    f"mass matrix block {key!r} names site {name!r}, which is not a latent "
                    f"site; latent sites are {sorted(offsets)}"
                )
            if name in seen:
                raise ValueError(
                    f"site {name!r} appears in two mass matrix blocks: {seen[name]!r} and {key!r}"
                )
            seen[name] = key
        indices.append(
            np.concatenate([offsets[name] for name in key]) if key else np.zeros(0, np.int32)
        )
    dense = tuple(bool(d) for d in dense)
    return BlockLayout(tuple(tuple(k) for k in blocks), tuple(indices), dense, size)


def identity_inverse_mass_matrix(layout: BlockLayout, dtype: Any = None) -> Any:
    """The identity inverse mass matrix in the layout's structure."""
    dtype = dtype or jnp.result_type(float)

    def eye(n: int, is_dense: bool) -> jax.Array:
        return jnp.eye(n, dtype=dtype) if is_dense else jnp.ones(n, dtype=dtype)

    if not layout.structured:
        return eye(layout.size, layout.dense_all)
    return {
        key: eye(len(idx), d)
        for key, idx, d in zip(layout.keys, layout.indices, layout.dense, strict=True)
    }


class Metric(NamedTuple):
    """The three operations a kernel needs from a metric, on flat vectors.

    Attributes:
        kinetic_energy: ``(inverse_mass_matrix, r) -> K(r)``.
        velocity: ``(inverse_mass_matrix, r) -> dK/dr``.
        sample_momentum: ``(rng_key, mass_matrix_sqrt) -> r``.
    """

    kinetic_energy: Callable[[Any, jax.Array], jax.Array]
    velocity: Callable[[Any, jax.Array], jax.Array]
    sample_momentum: Callable[[jax.Array, Any], jax.Array]


def _gaussian_momentum(layout: BlockLayout) -> Callable[[jax.Array, Any], jax.Array]:
    def sample_momentum(rng_key: jax.Array, mass_matrix_sqrt: Any) -> jax.Array:
        eps = jax.random.normal(rng_key, (layout.size,))
        if not layout.structured:
            return _matvec(mass_matrix_sqrt, eps)
        r = jnp.zeros(layout.size, eps.dtype)
        for key, idx in zip(layout.keys, layout.indices, strict=True):
            r = r.at[idx].set(_matvec(mass_matrix_sqrt[key], eps[idx]))
        return r

    return sample_momentum


def euclidean_metric(layout: BlockLayout) -> Metric:
    """The Gaussian Euclidean metric on flat vectors for a given layout."""

    def velocity(inverse_mass_matrix: Any, r: jax.Array) -> jax.Array:
        if not layout.structured:
            return _matvec(inverse_mass_matrix, r)
        v = jnp.zeros_like(r)
        for key, idx in zip(layout.keys, layout.indices, strict=True):
            v = v.at[idx].set(_matvec(inverse_mass_matrix[key], r[idx]))
        return v

    def kinetic_energy(inverse_mass_matrix: Any, r: jax.Array) -> jax.Array:
        return 0.5 * jnp.dot(r, velocity(inverse_mass_matrix, r))

    return Metric(kinetic_energy, velocity, _gaussian_momentum(layout))


def custom_metric(
    kinetic_fn: Callable[[Any, Any], jax.Array],
    layout: BlockLayout,
    unravel: Callable[[jax.Array], Any],
) -> Metric:
    """A metric from a user kinetic energy ``kinetic_fn(inverse_mass_matrix, r)``.

    ``kinetic_fn`` receives the momentum shaped like the latent values; the
    velocity is its gradient. Momenta are still drawn from
    :math:`\\mathcal N(0, M)`.
    """

    def kinetic_energy(inverse_mass_matrix: Any, r: jax.Array) -> jax.Array:
        return kinetic_fn(inverse_mass_matrix, unravel(r))

    velocity = jax.grad(kinetic_energy, argnums=1)
    return Metric(kinetic_energy, velocity, _gaussian_momentum(layout))


def momentum_generator(prototype_r: Any, mass_matrix_sqrt: Any, rng_key: jax.Array) -> Any:
    """Draw a momentum :math:`r \\sim \\mathcal N(0, M)` shaped like ``prototype_r``.

    Args:
        prototype_r: a pytree giving the structure (e.g. the latent values).
        mass_matrix_sqrt: :math:`M^{1/2}`: a 1-d or 2-d array over the raveled
            pytree, or a dict of blocks keyed by tuples of site names.
        rng_key: the random key.
    """
    if isinstance(mass_matrix_sqrt, Mapping):
        layout = block_layout(
            prototype_r,
            list(mass_matrix_sqrt),
            [jnp.ndim(b) == 2 for b in mass_matrix_sqrt.values()],
        )
    else:
        layout = block_layout(prototype_r, None, jnp.ndim(mass_matrix_sqrt) == 2)
    _, unravel = ravel_pytree(prototype_r)
    return unravel(_gaussian_momentum(layout)(rng_key, mass_matrix_sqrt))


def normalize_dense_mass(dense_mass: Any) -> bool | list[tuple[str, ...]]:
    if isinstance(dense_mass, (bool, np.bool_)):
        return bool(dense_mass)
    if isinstance(dense_mass, (list, tuple)):
        blocks = []
        for block in dense_mass:
            if not isinstance(block, tuple) or not all(isinstance(n, str) for n in block):
                raise ValueError(
                    "dense_mass must be a bool or a list of tuples of site names, e.g. "
                    f"[('x', 'y')]; got entry {block!r}"
                )
            blocks.append(block)
        return blocks
    raise ValueError(
        f"dense_mass must be a bool or a list of tuples of site names, got {dense_mass!r}"
    )


def _check_block(key: tuple[str, ...], block: Any, size: int) -> None:
    shape = tuple(jnp.shape(block))
    if shape not in ((size,), (size, size)):
        raise ValueError(
            f"inverse_mass_matrix block {key!r} has shape {shape}, but its sites have "
            f"{size} unconstrained coordinates: expected ({size},) or ({size}, {size})"
        )


def resolve_layout(
    z: Any, dense_mass: bool | list, inverse_mass_matrix: Any, structured: bool
) -> tuple[BlockLayout, Any]:
    """The mass-matrix layout and the (completed) initial inverse mass matrix."""
    size = flat_structure(z)[0]
    if isinstance(inverse_mass_matrix, Mapping):
        blocks = [tuple(k) if isinstance(k, tuple) else (k,) for k in inverse_mass_matrix]
        imm = {
            key: jnp.asarray(v) for key, v in zip(blocks, inverse_mass_matrix.values(), strict=True)
        }
        dense = [jnp.ndim(v) == 2 for v in imm.values()]
    elif isinstance(dense_mass, list) or structured:
        if not isinstance(z, Mapping):
            raise ValueError(
                "dense_mass given as a list of site-name tuples needs init_params that are a "
                f"dict of sites, got {type(z).__name__}"
            )
        if inverse_mass_matrix is not None:
            # One array given for a model: it spans all sites in sorted order.
            blocks = [tuple(sorted(z))]
            imm = {blocks[0]: jnp.asarray(inverse_mass_matrix)}
            dense = [jnp.ndim(inverse_mass_matrix) == 2]
        else:
            if isinstance(dense_mass, bool):
                dense_mass = [tuple(sorted(z))] if dense_mass else []
            blocks, imm, dense = list(dense_mass), None, [True] * len(dense_mass)
    else:
        if inverse_mass_matrix is not None:
            imm = jnp.asarray(inverse_mass_matrix)
            _check_block(("<all latent coordinates>",), imm, size)
            return block_layout(z, None, imm.ndim == 2), imm
        return block_layout(z, None, dense_mass), None
    covered = {name for block in blocks for name in block}
    remaining = tuple(sorted(set(z) - covered))
    if remaining:
        blocks.append(remaining)
        dense.append(False)
    layout = block_layout(z, blocks, dense)
    if imm is not None:
        for key, idx in zip(layout.keys, layout.indices, strict=True):
            if key == remaining:
                imm[key] = jnp.ones(len(idx))
            _check_block(key, imm[key], len(idx))
    return layout, imm
