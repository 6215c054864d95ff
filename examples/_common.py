"""Command-line and plotting helpers shared by the scripts in this folder.

Every example takes the same handful of options (the MCMC sizes, a seed, a
device, an optional plot and a ``--smoke`` mode for a quick run) and draws its
plot only when matplotlib is installed. The scripts import this module as
``_common``: running ``python examples/<name>.py`` puts this folder on
``sys.path``, and the tests put it there before loading a script by its path.
"""

from __future__ import annotations

import argparse

import ppl

CHAIN_METHODS = ("sequential", "vectorized", "parallel")


def mcmc_arguments(
    parser: argparse.ArgumentParser,
    *,
    num_samples: int,
    num_warmup: int,
    num_chains: int | None = 1,
    chain_method: str = "parallel",
) -> None:
    """Add ``--num-samples`` and ``--num-warmup`` with the given defaults.

    Args:
        parser: the script's parser.
        num_samples: default number of draws kept per chain.
        num_warmup: default number of adaptation steps per chain.
        num_chains: default number of chains; ``None`` for a script that runs one
            chain only, which then gets neither ``--num-chains`` nor ``--chain-method``.
        chain_method: default of ``--chain-method``, one of :data:`CHAIN_METHODS`.
    """
    if chain_method not in CHAIN_METHODS:
        raise ValueError(f"chain_method must be one of {CHAIN_METHODS}, got {chain_method!r}")
    parser.add_argument("--num-samples", type=int, default=num_samples)
    parser.add_argument("--num-warmup", type=int, default=num_warmup)
    if num_chains is not None:
        parser.add_argument("--num-chains", type=int, default=num_chains)
        parser.add_argument("--chain-method", default=chain_method, choices=CHAIN_METHODS)


def run_arguments(
    parser: argparse.ArgumentParser, *, plot_help: str, smoke_help: str, progress_bar: bool = True
) -> None:
    """Add ``--seed``, ``--plot PATH``, ``--device``, ``--no-progress-bar`` and ``--smoke``.

    Args:
        parser: the script's parser.
        plot_help: what ``--plot`` saves.
        smoke_help: what the quick ``--smoke`` run does.
        progress_bar: whether the script has a progress bar to turn off.
    """
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", metavar="PATH", help=plot_help)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    if progress_bar:
        parser.add_argument("--no-progress-bar", action="store_true")
    parser.add_argument("--smoke", action="store_true", help=smoke_help)


def parse(parser: argparse.ArgumentParser, argv: list[str] | None, **smoke) -> argparse.Namespace:
    """Parse ``argv``; under ``--smoke``, set the options named in ``smoke`` to its values.

    A smoke run also turns the progress bar off, where the script has one, so
    that its output stays short.
    """
    args = parser.parse_args(argv)
    if args.smoke:
        for name, value in smoke.items():
            if not hasattr(args, name):
                raise ValueError(f"smoke sets {name!r}, which is not an option of this script")
            setattr(args, name, value)
        if hasattr(args, "no_progress_bar"):
            args.no_progress_bar = True
    return args


def setup_device(args: argparse.Namespace) -> None:
    """Select ``args.device``, with one host device per chain for parallel chains.

    Call it before JAX first runs anything: both settings are read at start-up.
    """
    ppl.set_platform(args.device)
    if hasattr(args, "num_chains"):
        ppl.set_host_device_count(args.num_chains)


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend, or ``None`` if matplotlib is missing.

    Plots are optional, so a missing matplotlib is reported rather than raised.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\nmatplotlib is not installed: skipping the plot (pip install matplotlib)")
        return None
    return plt


def save_figure(fig, path: str, dpi: int = 90) -> None:
    """Lay out ``fig``, save it to ``path`` and say where."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    print(f"\nSaved the plot to {path}")
