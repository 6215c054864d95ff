"""Resolve names provided by plugins for the ``ppl.infer`` facade modules."""

from __future__ import annotations

from typing import Any

#: Names that ppl's own packages provide, so that a missing one can say what to install.
FIRST_PARTY: dict[str, str] = {
    **dict.fromkeys(
        [
            "MCMC",
            "MCMCKernel",
            "HMC",
            "NUTS",
            "Gibbs",
            "CustomGibbs",
            "DiscreteGibbs",
            "HMCGibbs",
            "DiscreteHMCGibbs",
            "MixedHMC",
            "HMCECS",
            "SA",
            "BarkerMH",
            "ESS",
            "AIES",
            "EnsembleSampler",
            "HMCState",
            "NUTSState",
            "taylor_proxy",
            "hmc",
            "diagnostics",
        ],
        "ppl-mcmc",
    ),
    **dict.fromkeys(
        [
            "SVI",
            "SVIState",
            "SVIRunResult",
            "ELBO",
            "Trace_ELBO",
            "TraceMeanField_ELBO",
            "TraceGraph_ELBO",
            "TraceEnum_ELBO",
            "RenyiELBO",
            "autoguide",
            "AutoGuide",
            "AutoGuideList",
            "AutoNormal",
            "AutoDelta",
            "AutoContinuous",
            "AutoDiagonalNormal",
            "AutoMultivariateNormal",
            "AutoLowRankMultivariateNormal",
            "AutoBatchedMultivariateNormal",
            "AutoLaplaceApproximation",
            "AutoIAFNormal",
            "AutoBNAFNormal",
            "AutoDAIS",
            "NeuTraReparam",
        ],
        "ppl-vi",
    ),
    **dict.fromkeys(
        [
            "LocScaleReparam",
            "TransformReparam",
            "CircularReparam",
            "ProjectedNormalReparam",
            "ExplicitReparam",
        ],
        "ppl-distributions",
    ),
    "TFPKernel": "ppl-tfp-bridge",
}


def _installed_version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def resolve(module: str, name: str, kinds: tuple[str, ...]) -> Any:
    """Look ``name`` up in the registry kinds, or raise an error that says what to install."""
    if name.startswith("__"):
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    from ppl.plugins import registry

    for kind in kinds:
        obj = registry.get(kind, name)
        if obj is not None:
            return obj
    package = FIRST_PARTY.get(name)
    installed = _installed_version(package) if package is not None else None
    if installed is not None:
        raise ImportError(
            f"{module}.{name} is provided by the {package} package, but the installed "
            f"{package} {installed} does not register it (the name is newer than that version, or "
            f"the plugin failed to load: see `python -m ppl plugins`). Upgrade it with "
            f"`pip install -U {package}`."
        )
    if package is not None:
        raise ImportError(
            f"{module}.{name} is provided by the {package} package, which is not installed "
            f"(or failed to load: see `python -m ppl plugins`). Install it with "
            f"`pip install {package}`."
        )
    raise AttributeError(
        f"module {module!r} has no attribute {name!r}, and no installed plugin provides it "
        "(`python -m ppl plugins` lists what is installed)"
    )


def available(kinds: tuple[str, ...]) -> list[str]:
    from ppl.plugins import registry

    return sorted({name for kind in kinds for name in registry.names(kind)})


def submodule(module: str, names: tuple[str, ...]) -> tuple[Any, Any]:
    """``(__getattr__, __dir__)`` for a facade module mirroring one of NumPyro's
    ``numpyro.infer.<module>`` modules: each of ``names`` is looked up among the
    registered kernels and inference utilities when first accessed."""
    kinds = ("kernels", "inference")

    def getattr_(name: str) -> Any:
        if name not in names:
            raise AttributeError(
                f"module {module!r} has no attribute {name!r} (it provides {', '.join(names)})"
            )
        return resolve(module, name, kinds)

    def dir_() -> list[str]:
        return list(names)

    return getattr_, dir_
