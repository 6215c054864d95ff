"""Progress bars for MCMC runs, fed from inside compiled loops by host callbacks.

The compiled sampling loop calls back to the host every ``interval``
iterations (``jax.debug.callback``) with the chain ids, the iteration count,
the number of divergences so far and a small view of the kernel state; this
module turns those reports into ``tqdm`` bars.
"""

from __future__ import annotations

import threading
from typing import Any

import jax
import numpy as np

__all__ = ["ProgressBars", "report_interval", "state_view"]

#: Leaves bigger than this (per chain) are left out of the progress report.
_MAX_VIEW_SIZE = 16


def report_interval(num_iterations: int) -> int:
    """Report about 50 times per run: often enough to watch, rarely enough to be free."""
    return max(1, num_iterations // 50)


def state_view(state: Any, num_chains_in_batch: int = 1) -> Any:
    """The state with large leaves (latent values, mass matrices) replaced by zeros,
    so that the progress report moves only a few scalars to the host."""

    def small(x: Any) -> Any:
        if np.size(x) > _MAX_VIEW_SIZE * max(num_chains_in_batch, 1):
            return jax.numpy.zeros((), getattr(x, "dtype", float))
        return x

    return jax.tree.map(small, state)


class ProgressBars:
    """tqdm bars, one per chain (or one for a vectorized batch of chains).

    Args:
        sampler: the kernel, for ``get_diagnostics_str``.
        total: the number of iterations of the run.
        num_warmup: iterations up to this count are labelled "warmup".
        phase: a fixed label, or ``None`` to label warmup/sample by iteration.
        vectorized: one bar for a batch of chains.
    """

    def __init__(
        self,
        sampler: Any,
        total: int,
        num_warmup: int,
        phase: str | None,
        vectorized: bool,
        num_chains: int,
    ) -> None:
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self._sampler = sampler
        self._total = total
        self._num_warmup = num_warmup
        self._phase = phase
        self._vectorized = vectorized
        self._num_chains = num_chains
        self._bars: dict[int, Any] = {}
        self._lock = threading.Lock()

    def _label(self, iteration: int, chain: int | None) -> str:
        phase = self._phase or ("warmup" if iteration <= self._num_warmup else "sample")
        if chain is None or self._num_chains == 1:
            return phase
        return f"chain {chain} {phase}"

    def open(self, chain: int) -> Any:
        with self._lock:
            if chain not in self._bars:
                label = self._label(0, None if self._vectorized else chain)
                self._bars[chain] = self._tqdm(
                    total=self._total, desc=label, position=chain, leave=True, dynamic_ncols=True
                )
            return self._bars[chain]

    def _diagnostics(self, view: Any) -> str:
        try:
            return self._sampler.get_diagnostics_str(view)
        except Exception:  # a progress bar must never break a run
            return ""

    def update(self, chain_ids: Any, iteration: Any, divergences: Any, view: Any) -> None:
        """Host side of the callback."""
        chain_ids = np.atleast_1d(np.asarray(chain_ids))
        iteration = int(np.max(iteration))
        divergences = np.atleast_1d(np.asarray(divergences))
        if self._vectorized:
            bar = self.open(0)
            parts = []
            if getattr(self._sampler, "is_ensemble_kernel", False):
                parts.append(self._diagnostics(view))
            step_size = _step_size(view)
            if step_size is not None:
                parts.append(f"step size {np.min(step_size):.2e}-{np.max(step_size):.2e}")
            parts.append(f"{int(divergences.sum())} divergences")
            self._advance(bar, iteration, None, ", ".join(p for p in parts if p))
            return
        for index, chain in enumerate(chain_ids.tolist()):
            chain_view = (
                view if chain_ids.size == 1 else jax.tree.map(lambda x, i=index: x[i], view)
            )
            text = self._diagnostics(chain_view)
            if divergences.size:
                count = int(divergences[min(index, divergences.size - 1)])
                text = f"{text}, {count} divergences" if text else f"{count} divergences"
            self._advance(self.open(int(chain)), iteration, int(chain), text)

    def _advance(self, bar: Any, iteration: int, chain: int | None, postfix: str) -> None:
        with self._lock:
            bar.set_description(self._label(iteration, chain), refresh=False)
            bar.set_postfix_str(postfix, refresh=False)
            bar.update(iteration - bar.n)

    def close(self) -> None:
        jax.effects_barrier()
        with self._lock:
            for bar in self._bars.values():
                bar.close()
            self._bars.clear()


def _step_size(view: Any) -> Any:
    adapt_state = getattr(view, "adapt_state", None)
    step_size = getattr(adapt_state, "step_size", None)
    return None if step_size is None else np.asarray(step_size)
