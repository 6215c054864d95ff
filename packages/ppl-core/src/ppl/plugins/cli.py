"""``python -m ppl``: the command line (``python -m ppl plugins``)."""

from __future__ import annotations

import argparse
import sys
import warnings

from ppl.plugins.registry import PLUGIN_API_VERSION, PluginWarning, Registry, registry


def format_plugins(reg: Registry) -> str:
    """A readable listing of the installed plugins and what each provides."""
    import ppl

    lines = [f"ppl-core {ppl.__version__} (plugin API {PLUGIN_API_VERSION})", ""]
    plugins = reg.plugins()
    if not plugins:
        lines.append("No plugins installed. Install ppl-distributions, ppl-mcmc or ppl-vi.")
    for info in plugins:
        origin = f"{info.distribution} {info.version}" if info.distribution else info.module
        lines.append(f"{info.name}  ({origin})")
        if not info.provides:
            lines.append("    provides nothing yet")
        for kind, names in sorted(info.provides.items()):
            lines.append(f"    {kind} ({len(names)}): {', '.join(names)}")
    skipped = reg.skipped()
    if skipped:
        lines += ["", "Skipped plugins:"]
        lines += [f"    {item.name}: {item.reason}" for item in skipped]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ppl", description="ppl command line")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("plugins", help="list installed plugins and what each provides")
    args = parser.parse_args(argv)
    if args.command == "plugins":
        with warnings.catch_warnings():
            # The listing reports skipped plugins itself.
            warnings.simplefilter("ignore", PluginWarning)
            print(format_plugins(registry))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
