"""The interface every Markov transition kernel driven by :class:`~ppl.mcmc.mcmc.MCMC` follows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

__all__ = ["MCMCKernel"]


def _identity(x: Any) -> Any:
    return x


class MCMCKernel(ABC):
    """A Markov transition kernel for :class:`~ppl.mcmc.mcmc.MCMC`.

    A kernel turns a state into the next state. States are pytrees (usually
    ``NamedTuple``), so :class:`~ppl.mcmc.mcmc.MCMC` can run many steps
    inside one compiled loop, vectorize chains or shard them over devices.

    Example:
        A random-walk Metropolis kernel::

            class MHState(NamedTuple):
                u: jax.Array
                rng_key: jax.Array

            class MetropolisHastings(MCMCKernel):
                sample_field = "u"

                def __init__(self, potential_fn, step_size=0.1):
                    self.potential_fn = potential_fn
                    self.step_size = step_size

                def init(self, rng_key, num_warmup, init_params, model_args, model_kwargs):
                    return MHState(init_params, rng_key)

                def sample(self, state, model_args, model_kwargs):
                    u, rng_key = state
                    rng_key, key_proposal, key_accept = random.split(rng_key, 3)
                    proposal = u + self.step_size * random.normal(key_proposal, u.shape)
                    log_ratio = self.potential_fn(u) - self.potential_fn(proposal)
                    accept = jnp.log(random.uniform(key_accept)) < log_ratio
                    return MHState(jnp.where(accept, proposal, u), rng_key)
    """

    def postprocess_fn(self, model_args: tuple, model_kwargs: dict) -> Any:
        """A function mapping unconstrained samples to constrained values (and
        adding deterministic sites) for a model called with these arguments.

        The default is the identity.
        """
        return _identity

    @abstractmethod
    def init(
        self,
        rng_key: Any,
        num_warmup: int,
        init_params: Any,
        model_args: tuple,
        model_kwargs: dict,
    ) -> Any:
        """Return the initial state.

        Args:
            rng_key: a random key (a batch of keys for vectorized chains).
            num_warmup: the number of warmup iterations, for adaptation.
            init_params: initial (unconstrained) parameters, or ``None``.
            model_args: positional arguments of the model.
            model_kwargs: keyword arguments of the model.
        """
        raise NotImplementedError

    @abstractmethod
    def sample(self, state: Any, model_args: tuple, model_kwargs: dict) -> Any:
        """Return the state after one transition from ``state``."""
        raise NotImplementedError

    @property
    def sample_field(self) -> str:
        """The attribute of the state holding the sample (used to collect samples)."""
        raise NotImplementedError

    @property
    def default_fields(self) -> tuple[str, ...]:
        """The state attributes collected by default during :meth:`MCMC.run`."""
        return (self.sample_field,)

    @property
    def is_ensemble_kernel(self) -> bool:
        """Whether chains interact (ensemble samplers); then diagnostics are shown
        for vectorized runs as well."""
        return False

    def get_diagnostics_str(self, state: Any) -> str:
        """A short text for the progress bar describing ``state``."""
        return ""

    # -- composition (used by :class:`~ppl.mcmc.gibbs.Gibbs`) -----------------

    def refresh(self, state: Any, model_args: tuple, model_kwargs: dict) -> Any:
        """Recompute what ``state`` caches about the target after the target changed.

        A block of :class:`~ppl.mcmc.gibbs.Gibbs` samples a conditional whose
        conditioning values other blocks move; a kernel that caches, say, the
        potential energy and its gradient at the current point recomputes them
        here for the target given by ``model_args`` and ``model_kwargs``.
        Kernels that cache nothing return ``state``. The default raises, so a
        kernel cannot be used as a Gibbs block until it says what to refresh.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement refresh(), so it cannot be a block of Gibbs"
        )

    def gibbs_init_params(self, values: dict, model_trace: dict) -> dict | None:
        """The ``init_params`` that start this kernel as a block of
        :class:`~ppl.mcmc.gibbs.Gibbs` from ``values``, the block's constrained
        values in ``model_trace`` (draws from the prior).

        ``init_params`` are unconstrained values for most kernels, so the default
        is ``None``: the kernel starts from its own init strategy. Kernels whose
        ``init_params`` are (partly) constrained values return those.
        """
        return None

    def wrap_model(self, wrapper: Callable[[Callable], Callable]) -> MCMCKernel:
        """A copy of this kernel running ``wrapper(model)`` instead of its model.

        Kernels without a model return themselves.
        """
        return self

    def get_constrain_fn(self, model_args: tuple, model_kwargs: dict) -> Callable:
        """A function mapping this kernel's samples to constrained site values.

        Unlike :meth:`postprocess_fn` it need not add deterministic sites; the
        default is :meth:`postprocess_fn`.
        """
        return self.postprocess_fn(model_args, model_kwargs)
