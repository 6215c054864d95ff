"""Normalizing-flow autoguides: a standard Normal pushed through learned flows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ppl.distributions import TransformedDistribution
from ppl.infer.initialization import init_to_uniform
from ppl.primitives import module
from ppl.transforms import PermuteTransform
from ppl.vi.autoguide.continuous import AutoContinuous
from ppl.vi.flows import BlockNeuralAutoregressiveTransform, InverseAutoregressiveTransform
from ppl.vi.nn.auto_reg_nn import AutoregressiveNN
from ppl.vi.nn.block_neural_arn import BlockNeuralAutoregressiveNN
from ppl.vi.nn.stax import Elu

__all__ = ["AutoBNAFNormal", "AutoIAFNormal"]


def _check_dim(guide: AutoContinuous) -> None:
    if guide.latent_dim == 1:
        raise ValueError(
            f"{type(guide).__name__}: the model has a single latent dimension, which an "
            "autoregressive flow cannot mix; use AutoDiagonalNormal instead"
        )


class AutoIAFNormal(AutoContinuous):
    """A standard Normal transformed by ``num_flows`` inverse autoregressive flows
    (:class:`~ppl.vi.flows.InverseAutoregressiveTransform`), the order reversed
    between flows. The networks' params are named ``{prefix}_arn__{i}$params``.

    Args:
        model, prefix, init_loc_fn: see :class:`AutoGuide` (``init_loc_fn`` is
            only used to inspect the model).
        num_flows: the number of flows.
        hidden_dims: hidden layer widths of each network (default ``[D, D]``).
        skip_connections: add input-to-output connections in the networks.
        nonlinearity: the networks' nonlinearity, a stax layer (default ELU).
    """

    def __init__(
        self,
        model: Callable,
        *,
        prefix: str = "auto",
        init_loc_fn: Callable = init_to_uniform,
        num_flows: int = 3,
        hidden_dims: Sequence[int] | None = None,
        skip_connections: bool = False,
        nonlinearity: Any = Elu,
    ) -> None:
        if num_flows < 1:
            raise ValueError(f"AutoIAFNormal: num_flows must be >= 1, got {num_flows!r}")
        self.num_flows = num_flows
        self._hidden_dims = hidden_dims
        self._skip_connections = skip_connections
        self._nonlinearity = nonlinearity
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn)

    def _get_posterior(self) -> Any:
        _check_dim(self)
        dim = self.latent_dim
        hidden_dims = [dim, dim] if self._hidden_dims is None else list(self._hidden_dims)
        flows = []
        for i in range(self.num_flows):
            if i > 0:
                flows.append(PermuteTransform(np.arange(dim)[::-1]))
            network = AutoregressiveNN(
                dim,
                hidden_dims,
                permutation=np.arange(dim),
                skip_connections=self._skip_connections,
                nonlinearity=self._nonlinearity,
            )
            arn = module(f"{self.prefix}_arn__{i}", network, (dim,))
            flows.append(InverseAutoregressiveTransform(arn))
        return TransformedDistribution(self.get_base_dist(), flows)


class AutoBNAFNormal(AutoContinuous):
    """A standard Normal transformed by ``num_flows`` block neural autoregressive flows
    (:class:`~ppl.vi.flows.BlockNeuralAutoregressiveTransform`; De Cao et al., 2019).

    Args:
        model, prefix, init_loc_fn: see :class:`AutoGuide`.
        num_flows: the number of flows.
        hidden_factors: hidden layer ``i`` has ``hidden_factors[i]`` units per
            latent dimension.
    """

    def __init__(
        self,
        model: Callable,
        *,
        prefix: str = "auto",
        init_loc_fn: Callable = init_to_uniform,
        num_flows: int = 1,
        hidden_factors: Sequence[int] = (8, 8),
    ) -> None:
        if num_flows < 1:
            raise ValueError(f"AutoBNAFNormal: num_flows must be >= 1, got {num_flows!r}")
        self.num_flows = num_flows
        self._hidden_factors = list(hidden_factors)
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn)

    def _get_posterior(self) -> Any:
        _check_dim(self)
        dim = self.latent_dim
        flows = []
        for i in range(self.num_flows):
            if i > 0:
                flows.append(PermuteTransform(np.arange(dim)[::-1]))
            residual = "gated" if i < self.num_flows - 1 else None
            network = BlockNeuralAutoregressiveNN(dim, self._hidden_factors, residual)
            arn = module(f"{self.prefix}_arn__{i}", network, (dim,))
            flows.append(BlockNeuralAutoregressiveTransform(arn))
        return TransformedDistribution(self.get_base_dist(), flows)
