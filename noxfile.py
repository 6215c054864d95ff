"""Developer and CI tasks for the ppl monorepo.

Run ``python3 -m nox -l`` for the list. Environments are built with uv when it
is installed next to nox (``python3 -m pip install nox uv``) and with
virtualenv otherwise; uv's cache is what keeps the repeated jax installs of
the ``isolation`` sessions cheap.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "tests", "isolation", "docs"]

ROOT = Path(__file__).resolve().parent

#: Every distribution of the monorepo, in dependency order. ppl-tfp-bridge pins
#: a ``tfp-nightly`` build that PyPI serves, so it installs like the others.
PACKAGES = ("ppl-core", "ppl-distributions", "ppl-mcmc", "ppl-vi", "ppl-tfp-bridge")

#: The third-party plugin the integration tests install to exercise discovery.
EXAMPLE_PLUGIN = ROOT / "tests" / "plugins" / "ppl-example-plugin"

#: The reference implementations the benchmarks compare against (blackjax 1.7.1
#: is the newest release and installs beside jax 0.10), scipy for the shared
#: ESS estimator and matplotlib for the plots.
BENCH_DEPS = ("numpyro==0.22.0", "blackjax==1.7.1", "scipy>=1.13", "matplotlib>=3.8")

TEST_DEPS = ("pytest>=8", "pytest-xdist>=3.5", "hypothesis>=6.100", "scipy>=1.13")

#: Each isolation run installs only these wheels into a fresh environment and
#: runs the test folders that the subset adds: every package's tests run once,
#: in the smallest environment that has what the package needs (the ``tests``
#: session runs them all together), which keeps CI within its time budget.
ISOLATION_SUBSETS = {
    "core": (("ppl-core",), ("tests/ppl-core",)),
    "distributions": (("ppl-core", "ppl-distributions"), ("tests/ppl-distributions",)),
    "vi": (("ppl-core", "ppl-distributions", "ppl-vi"), ("tests/ppl-vi",)),
    "mcmc": (("ppl-core", "ppl-distributions", "ppl-mcmc"), ("tests/ppl-mcmc",)),
    "tfp": (
        ("ppl-core", "ppl-distributions", "ppl-mcmc", "ppl-tfp-bridge"),
        ("tests/ppl-tfp-bridge",),
    ),
    "everything": ((*PACKAGES, "ppl-example-plugin"), ("tests/integration",)),
}

#: Run in every isolation environment: it checks that ``ppl`` and each
#: ``ppl.X`` come from that environment's wheels and that nothing else is there.
NAMESPACE_TEST = "tests/integration/test_namespace.py"

# Imports every top-level module of the installed ``ppl`` namespace and fails
# when one of them is not inside the running environment (i.e. it came from the
# source tree instead of the wheels).
_IMPORT_ALL_INSTALLED = """
import importlib, pkgutil, sys
from pathlib import Path

prefix = Path(sys.prefix).resolve()
import ppl

names = ["ppl"] + sorted(
    "ppl." + m.name for m in pkgutil.iter_modules(ppl.__path__) if not m.name.startswith("_")
)
for name in names:
    module = importlib.import_module(name)
    origin = Path(module.__file__).resolve()
    if not origin.is_relative_to(prefix):
        sys.exit(f"{name} was imported from {origin}, outside the environment {prefix}")
    print(f"imported {name:<24} from {origin.relative_to(prefix)}")
"""


def _package_dir(name: str) -> Path:
    return EXAMPLE_PLUGIN if name == "ppl-example-plugin" else ROOT / "packages" / name


def _editable_args(names) -> list[str]:
    args: list[str] = []
    for name in names:
        args += ["-e", str(_package_dir(name))]
    return args


def _build_wheel(session: nox.Session, name: str, out_dir: Path) -> Path:
    """Build one distribution's wheel into ``out_dir`` and return its path."""
    source = str(_package_dir(name))
    if session.venv_backend == "uv":
        session.run("uv", "build", "--wheel", "--quiet", "--out-dir", str(out_dir), source)
    else:
        session.run(
            "python", "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out_dir), source
        )
    wheels = sorted(out_dir.glob(name.replace("-", "_") + "-*.whl"))
    if len(wheels) != 1:
        session.error(f"expected one wheel of {name} in {out_dir}, found {wheels}")
    return wheels[0]


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite against editable installs of every package."""
    session.install(*_editable_args((*PACKAGES, "ppl-example-plugin")), *TEST_DEPS)
    session.run("pytest", "-n", "2", *(session.posargs or ["tests"]))


@nox.session
@nox.parametrize("subset", list(ISOLATION_SUBSETS), ids=list(ISOLATION_SUBSETS))
def isolation(session: nox.Session, subset: str) -> None:
    """Each package works from its wheel with only the packages it depends on.

    ``nox -s isolation`` runs every subset; ``nox -s "isolation(core)"`` one.
    """
    names, test_dirs = ISOLATION_SUBSETS[subset]
    wheel_dir = Path(session.create_tmp()) / "wheels"
    shutil.rmtree(wheel_dir, ignore_errors=True)
    wheel_dir.mkdir()
    wheels = [str(_build_wheel(session, name, wheel_dir)) for name in names]
    session.install(*wheels, *TEST_DEPS)

    # Run from a scratch directory so that nothing of the checkout can shadow
    # the installed wheels; pytest still finds the repository's configuration
    # because rootdir is derived from the (absolute) test paths.
    work_dir = Path(session.create_tmp()) / "run"
    work_dir.mkdir(exist_ok=True)
    paths = dict.fromkeys(str(ROOT / p) for p in (NAMESPACE_TEST, *test_dirs))
    env = {
        "PPL_ISOLATION_PREFIX": session.virtualenv.location,
        "PPL_ISOLATION_DISTRIBUTIONS": ",".join(names),
    }
    with session.chdir(work_dir):
        session.run("python", "-c", _IMPORT_ALL_INSTALLED)
        session.run("python", "-m", "ppl", "plugins")
        # Tests marked slow (the heaviest statistical checks) run in the ``tests``
        # session only: here each package's fast tests prove it works from its wheel.
        marker = [] if session.posargs else ["-m", "not slow"]
        session.run("pytest", "-n", "2", *marker, *paths, *session.posargs, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff's linter and formatter check over the whole repository."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def docs(session: nox.Session) -> None:
    """The Sphinx site, with warnings as errors, into docs/_build/html."""
    session.install(*_editable_args(PACKAGES), "sphinx>=8", "furo")
    out_dir = ROOT / "docs" / "_build" / "html"
    session.run(
        "sphinx-build", "-W", "--keep-going", "-b", "html", str(ROOT / "docs"), str(out_dir)
    )


@nox.session
def demo(session: nox.Session) -> None:
    """The eight-schools example end to end."""
    session.install(*_editable_args(PACKAGES))
    session.run("python", str(ROOT / "examples" / "eight_schools.py"), *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """ppl against NumPyro and BlackJAX: ``benchmarks/run.py`` with the posargs.

    ``nox -s bench -- --quick`` is the smoke run; ``-- --workloads svi,eight_schools``
    picks kinds and/or workloads; ``-- --list`` lists them.
    """
    session.install(*_editable_args(PACKAGES), *BENCH_DEPS)
    session.run("python", str(ROOT / "benchmarks" / "run.py"), *session.posargs)
