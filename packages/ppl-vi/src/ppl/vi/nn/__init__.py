"""Neural networks for guides and models.

Stax-style networks on plain JAX (:func:`AutoregressiveNN`,
:func:`BlockNeuralAutoregressiveNN`, :func:`MaskedDense` and the layers of
:mod:`ppl.vi.nn.stax`), used with :func:`ppl.module`, and adapters for flax
and equinox modules (:func:`flax_module`, :func:`eqx_module`, ...).
"""

from ppl.vi.nn.auto_reg_nn import AutoregressiveNN, MaskedDense, create_mask
from ppl.vi.nn.block_neural_arn import BlockMaskedDense, BlockNeuralAutoregressiveNN
from ppl.vi.nn.module import (
    eqx_module,
    flax_module,
    nnx_module,
    random_eqx_module,
    random_flax_module,
    random_nnx_module,
)

__all__ = [
    "AutoregressiveNN",
    "BlockMaskedDense",
    "BlockNeuralAutoregressiveNN",
    "MaskedDense",
    "create_mask",
    "eqx_module",
    "flax_module",
    "nnx_module",
    "random_eqx_module",
    "random_flax_module",
    "random_nnx_module",
]
