"""Diagnostics of MCMC samples: autocorrelation, effective sample size, R-hat, HPDI, summaries.

Arrays of draws put the chain dimension first and the draw dimension second
(``num_chains x num_samples x ...``) unless stated otherwise. All functions
work on host (NumPy) arrays; JAX arrays are fetched first.
"""

from __future__ import annotations

from collections import OrderedDict
from itertools import product
from typing import Any

import jax
import numpy as np

__all__ = [
    "autocorrelation",
    "autocovariance",
    "effective_sample_size",
    "gelman_rubin",
    "hpdi",
    "print_summary",
    "split_gelman_rubin",
    "summary",
]


def _as_numpy(x: Any) -> np.ndarray:
    return np.asarray(jax.device_get(x))


def _check_chains(x: np.ndarray, name: str, min_draws: int, min_chains: int = 1) -> None:
    if x.ndim < 2:
        raise ValueError(
            f"{name} needs an array of shape (num_chains, num_samples, ...), got shape {x.shape}"
        )
    if x.shape[0] < min_chains:
        raise ValueError(f"{name} needs at least {min_chains} chains, got {x.shape[0]}")
    if x.shape[1] < min_draws:
        raise ValueError(f"{name} needs at least {min_draws} draws per chain, got {x.shape[1]}")


def _chain_variances(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Within-chain variance :math:`W` and the pooled estimate
    :math:`\\hat V = \\tfrac{N-1}{N} W + B/N` (Gelman et al.)."""
    num_draws = x.shape[1]
    within = x.var(axis=1, ddof=1).mean(axis=0)
    pooled = within * (num_draws - 1) / num_draws
    if x.shape[0] > 1:
        pooled = pooled + x.mean(axis=1).var(axis=0, ddof=1)
    else:
        within = pooled
    return within, pooled


def gelman_rubin(x: Any) -> np.ndarray:
    """The potential scale reduction :math:`\\hat R = \\sqrt{\\hat V / W}`.

    Args:
        x: draws of shape ``(num_chains, num_samples, ...)`` with at least 2
            chains and 2 draws each.

    Returns:
        :math:`\\hat R` per coordinate.
    """
    x = _as_numpy(x)
    _check_chains(x, "gelman_rubin", min_draws=2, min_chains=2)
    within, pooled = _chain_variances(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(pooled / within)


def split_gelman_rubin(x: Any) -> np.ndarray:
    """:math:`\\hat R` after splitting each chain in halves (detects trends within chains).

    Args:
        x: draws of shape ``(num_chains, num_samples, ...)`` with at least 4
            draws per chain.
    """
    x = _as_numpy(x)
    _check_chains(x, "split_gelman_rubin", min_draws=4)
    half = x.shape[1] // 2
    return gelman_rubin(np.concatenate([x[:, :half], x[:, -half:]], axis=0))


def _next_fast_len(n: int) -> int:
    # The smallest 2-3-5-smooth integer >= n: FFTs of such lengths are fast.
    if n <= 2:
        return n
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def autocorrelation(x: Any, axis: int = 0, bias: bool = True) -> np.ndarray:
    """The autocorrelation :math:`\\rho_k` of draws along ``axis``, by FFT.

    Args:
        x: the draws.
        axis: the draw dimension.
        bias: use the biased autocovariance :math:`\\tfrac1N \\sum_t` (as Stan
            does; smaller variance at large lags) instead of
            :math:`\\tfrac{1}{N-k} \\sum_t`.
    """
    x = _as_numpy(x)
    num = x.shape[axis]
    size = 2 * _next_fast_len(num)
    centered = np.swapaxes(x, axis, -1)
    centered = centered - centered.mean(axis=-1, keepdims=True)
    spectrum = np.fft.rfft(centered, n=size, axis=-1)
    autocov = np.fft.irfft(spectrum * np.conjugate(spectrum), n=size, axis=-1)[..., :num]
    if not bias:
        autocov = autocov / np.arange(num, 0.0, -1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        autocorr = autocov / autocov[..., :1]
    return np.swapaxes(autocorr, axis, -1)


def autocovariance(x: Any, axis: int = 0, bias: bool = True) -> np.ndarray:
    """The autocovariance of draws along ``axis`` (see :func:`autocorrelation`)."""
    x = _as_numpy(x)
    return autocorrelation(x, axis, bias) * x.var(axis=axis, keepdims=True)


def effective_sample_size(x: Any, bias: bool = True) -> np.ndarray:
    """The effective sample size of draws from several chains.

    With the combined autocorrelation
    :math:`\\hat\\rho_k = 1 - (W - \\overline{\\gamma_k}) / \\hat V`, Geyer's
    initial monotone sequence estimator sums pairs
    :math:`P_m = \\hat\\rho_{2m} + \\hat\\rho_{2m+1}` while they are positive,
    forcing them non-increasing, and returns
    :math:`\\hat N_\\text{eff} = CN / (-1 + 2\\sum_m P_m)`, capped (as in Stan)
    at :math:`CN \\log_{10}(CN)` for strongly antithetic chains.

    Args:
        x: draws of shape ``(num_chains, num_samples, ...)``.
        bias: use the biased autocovariance (see :func:`autocorrelation`).
    """
    x = _as_numpy(x)
    _check_chains(x, "effective_sample_size", min_draws=2)
    gamma = autocovariance(x, axis=1, bias=bias)
    within, pooled = _chain_variances(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (within - gamma.mean(axis=0)) / pooled
    rho[0] = 1.0
    pairs = rho[:-1:2] + rho[1::2]
    pairs = np.concatenate(
        [pairs[:1], np.minimum.accumulate(np.clip(pairs[1:], 0.0, None), axis=0)], axis=0
    )
    tau = -1.0 + 2.0 * pairs.sum(axis=0)
    total = x.shape[0] * x.shape[1]
    # Strongly antithetic chains can drive the estimate of tau to (or below) zero;
    # as Stan does, the effective sample size is capped at N log10 N.
    cap = total * np.log10(total) if total > 1 else float(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        ess = np.where(tau > total / cap, total / tau, cap)
    # Constant draws have no defined effective sample size.
    return np.where(np.isnan(tau), np.nan, ess)


def hpdi(x: Any, prob: float = 0.9, axis: int = 0) -> np.ndarray:
    """The highest posterior density interval: the narrowest interval holding a
    fraction ``prob`` of the draws.

    Args:
        x: the draws.
        prob: the probability mass of the interval.
        axis: the draw dimension.

    Returns:
        The lower and upper bounds, stacked along ``axis``.
    """
    if not 0.0 < prob < 1.0:
        raise ValueError(f"prob must lie in (0, 1), got {prob!r}")
    x = np.swapaxes(_as_numpy(x), axis, 0)
    sorted_x = np.sort(x, axis=0)
    mass = x.shape[0]
    length = int(prob * mass)
    widths = sorted_x[length:] - sorted_x[: mass - length]
    start = widths.argmin(axis=0)
    lower = np.take_along_axis(sorted_x, start[None], axis=0)
    upper = np.take_along_axis(sorted_x, (start + length)[None], axis=0)
    return np.swapaxes(np.concatenate([lower, upper], axis=0), axis, 0)


def _as_sites(samples: Any, group_by_chain: bool) -> dict:
    if not group_by_chain:
        samples = jax.tree.map(lambda x: np.asarray(x)[None], samples)
    if not isinstance(samples, dict):
        samples = {f"Param:{i}": v for i, v in enumerate(jax.tree.leaves(samples))}
    return samples


def summary(samples: Any, prob: float = 0.9, group_by_chain: bool = True) -> dict:
    """Per-site statistics: mean, std, median, the ``prob`` HPD interval, n_eff, r_hat.

    Args:
        samples: a dict of site draws (or any pytree), each of shape
            ``(num_chains, num_samples, ...)``, or ``(num_samples, ...)`` when
            ``group_by_chain=False``.
        prob: the mass of the HPD interval.
        group_by_chain: whether the first dimension is the chain dimension.

    Returns:
        ``{site: stats}`` where ``stats`` is an ordered dict with the keys
        ``mean``, ``std``, ``median``, the interval's bounds (``"5.0%"`` and
        ``"95.0%"`` for ``prob=0.9``), ``n_eff`` and ``r_hat``.
    """
    samples = _as_sites(samples, group_by_chain)
    lower_name = f"{50 * (1 - prob):.1f}%"
    upper_name = f"{50 * (1 + prob):.1f}%"
    result = {}
    for name, value in samples.items():
        value = _as_numpy(value)
        if value.ndim < 2:
            raise ValueError(
                f"summary: site {name!r} has shape {value.shape}; expected "
                "(num_chains, num_samples, ...)"
            )
        flat = value.reshape((-1, *value.shape[2:]))
        interval = hpdi(flat, prob=prob)
        enough = value.shape[1] >= 4
        nan = np.full(value.shape[2:], np.nan)
        result[name] = OrderedDict(
            [
                ("mean", flat.mean(axis=0)),
                ("std", flat.std(axis=0, ddof=1)),
                ("median", np.median(flat, axis=0)),
                (lower_name, interval[0]),
                (upper_name, interval[1]),
                ("n_eff", effective_sample_size(value) if enough else nan),
                ("r_hat", split_gelman_rubin(value) if enough else nan),
            ]
        )
    return result


def print_summary(samples: Any, prob: float = 0.9, group_by_chain: bool = True) -> None:
    """Print :func:`summary` as a table, one row per scalar coordinate.

    Args:
        samples: as for :func:`summary`.
        prob: the mass of the HPD interval.
        group_by_chain: whether the first dimension is the chain dimension.
    """
    samples = _as_sites(samples, group_by_chain)
    stats = summary(samples, prob, group_by_chain=True)
    if not stats:
        return
    row_names = {
        name: name + "[" + ",".join(str(d - 1) for d in np.shape(v)[2:]) + "]"
        for name, v in samples.items()
    }
    width = max(max(len(n) for n in row_names.values()), 10)
    name_format = "{:>" + str(width) + "}"
    header_format = name_format + " {:>9}" * 7
    row_format = name_format + " {:>9.2f}" * 7
    columns = ["", *next(iter(stats.values())).keys()]
    print()
    print(header_format.format(*columns))
    for name, site_stats in stats.items():
        shape = site_stats["mean"].shape
        if len(shape) == 0:
            print(row_format.format(name, *site_stats.values()))
            continue
        for index in product(*map(range, shape)):
            label = "{}[{}]".format(name, ",".join(map(str, index)))
            print(row_format.format(label, *[v[index] for v in site_stats.values()]))
    print()
