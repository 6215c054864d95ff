"""The dependency arrows between the packages, checked on their source.

Every ``.py`` file under each package's ``src/`` is parsed and all of its
imports are collected: module-level ones, the lazy ones inside functions,
``if TYPE_CHECKING:`` blocks, relative imports (resolved against the file's
own module name), ``importlib.import_module("literal")`` calls and the
targets of lazy registry entries (``lazy("pkg.module:Name")``, and the literal
package prefix of ``lazy(f"pkg.{module}:{name}")``). Then:

* ppl-core imports no plugin;
* ppl-distributions imports only ppl-core modules and itself;
* the inference plugins (mcmc, vi, tfp) never import one another;
* the example third-party plugin imports nothing of ppl beyond ppl-core;
* every package imports only what its pyproject declares (ppl subpackages
  count as the distribution that ships them).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Source root of every distribution checked here.
SOURCES = {
    "ppl-core": ROOT / "packages" / "ppl-core",
    "ppl-distributions": ROOT / "packages" / "ppl-distributions",
    "ppl-mcmc": ROOT / "packages" / "ppl-mcmc",
    "ppl-vi": ROOT / "packages" / "ppl-vi",
    "ppl-tfp-bridge": ROOT / "packages" / "ppl-tfp-bridge",
    "ppl-example-plugin": ROOT / "tests" / "plugins" / "ppl-example-plugin",
}
INFERENCE_PLUGINS = ("ppl-mcmc", "ppl-vi", "ppl-tfp-bridge")

#: Third-party import roots and the distribution that provides each.
IMPORT_ROOT_TO_DISTRIBUTION = {
    "jax": "jax",
    "jaxlib": "jax",
    "numpy": "numpy",
    "pluggy": "pluggy",
    "optax": "optax",
    "tqdm": "tqdm",
    "scipy": "scipy",
    "graphviz": "graphviz",
    "tensorflow_probability": "tfp-nightly",
    "ppl_example_plugin": "ppl-example-plugin",
}


# -- collecting imports --------------------------------------------------------


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level - 1 > len(base) - 1:
        raise ImportError(f"relative import beyond the top-level package in {module}")
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def collect_imports(source: str, module: str, is_package: bool) -> list[tuple[str, int, bool]]:
    """Every module a source file imports, as ``(dotted name, line, certain)``.

    ``from a.b import c`` yields ``a.b`` (certain) and ``a.b.c`` (not certain:
    ``c`` is a submodule or just an attribute of ``a.b``).
    """
    found: list[tuple[str, int, bool]] = []
    with warnings.catch_warnings():
        # Invalid escape sequences and the like are the linter's business, not ours.
        warnings.simplefilter("ignore")
        tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, True) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = node.module
            if node.level:
                target = _resolve_relative(module, is_package, node.level, node.module)
            found.append((target, node.lineno, True))
            found += [(f"{target}.{alias.name}", node.lineno, False) for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and _is_import_module(node.func)
        ):
            found.append((node.args[0].value, node.lineno, True))
        elif isinstance(node, ast.Call) and node.args and _is_lazy(node.func):
            target = _lazy_module(node.args[0])
            if target:
                found.append((target, node.lineno, True))
    return found


def _is_lazy(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "lazy"
    return isinstance(func, ast.Name) and func.id == "lazy"


def _lazy_module(arg: ast.expr) -> str | None:
    """The module a ``lazy(...)`` target names: all of a literal, or the literal
    package prefix of an f-string (``f"ppl.mcmc.{module}:{name}"`` -> ``ppl.mcmc``)."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value.partition(":")[0]
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        head = str(arg.values[0].value)
        # Before a ':' all is module; otherwise the formatted part ends the last name.
        module = head.partition(":")[0] if ":" in head else head.rpartition(".")[0]
        return module or None
    return None


def _is_import_module(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in {"import_module", "__import__"}


def package_imports(name: str) -> list[tuple[str, str]]:
    """``(where, imported module)`` for every import in a distribution's sources.

    A name that may be an attribute (``from ppl import sample``) is kept only
    when some package's tree has a module of that name.
    """
    src = SOURCES[name] / "src"
    result = []
    for path in sorted(src.rglob("*.py")):
        module = module_name(path, src)
        imports = collect_imports(path.read_text(), module, path.name == "__init__.py")
        rel = path.relative_to(ROOT)
        result += [
            (f"{rel}:{line}", imported)
            for imported, line, certain in imports
            if certain or not _within(imported, "ppl") or ppl_owner(imported) is not None
        ]
    return result


def _within(imported: str, namespace: str) -> bool:
    return imported == namespace or imported.startswith(namespace + ".")


def ppl_owner(imported: str) -> str | None:
    """The distribution whose tree holds the ``ppl`` module ``imported``.

    ``None`` when ``imported`` is outside the ``ppl`` namespace or no tree has it.
    """
    if not _within(imported, "ppl"):
        return None
    parts = imported.split(".")
    if len(parts) == 1:
        return "ppl-core"
    for name, root in SOURCES.items():
        base = root / "src" / "ppl" / parts[1]
        if (base / "__init__.py").exists() or base.with_suffix(".py").exists():
            return name
    return None


def declared_dependencies(name: str) -> set[str]:
    with open(SOURCES[name] / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {_normalize(re.match(r"[A-Za-z0-9._-]+", r.strip()).group(0)) for r in requirements}


def _normalize(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


# -- the checker checks itself -------------------------------------------------

SAMPLE = """
import jax.numpy as jnp
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from ppl.distributions import Normal
def lazy():
    from ..mcmc import hmc
    import importlib
    return importlib.import_module("ppl.vi")
from . import sibling
"""


def test_collector_finds_lazy_relative_and_dynamic_imports():
    found = {name for name, *_ in collect_imports(SAMPLE, "ppl.tfp.kernels", is_package=False)}
    assert {"jax.numpy", "typing", "ppl.distributions", "ppl.mcmc", "ppl.mcmc.hmc"} <= found
    assert {"importlib", "ppl.vi", "ppl.tfp", "ppl.tfp.sibling"} <= found
    # A package's __init__ resolves "." to itself, a module to its parent.
    found = {n for n, *_ in collect_imports("from . import x", "ppl.tfp", is_package=True)}
    assert found == {"ppl.tfp", "ppl.tfp.x"}


def test_collector_sees_lazy_registry_targets():
    source = (
        'register("A", lazy("ppl.vi.svi:SVI"))\n'
        'register("B", lazy(f"ppl.mcmc.{module}:{name}"))\n'
        'register("C", plugins.lazy(f"ppl.optim:{name}"))\n'
        'register("D", lazy("ppl.vi.autoguide"))\n'
    )
    found = {name for name, *_ in collect_imports(source, "ppl.tfp.plugin", is_package=False)}
    assert found == {"ppl.vi.svi", "ppl.mcmc", "ppl.optim", "ppl.vi.autoguide"}


def test_owner_map_follows_the_trees():
    assert ppl_owner("ppl") == "ppl-core"
    assert ppl_owner("ppl.plugins.registry") == "ppl-core"
    assert ppl_owner("ppl.distributions") == "ppl-distributions"
    assert ppl_owner("ppl.mcmc.anything") == "ppl-mcmc"
    assert ppl_owner("ppl.vi") == "ppl-vi"
    assert ppl_owner("ppl.no_such_module") is None
    assert ppl_owner("pplx") is None


# -- the contracts -------------------------------------------------------------


def test_core_imports_no_plugin():
    offending = [
        f"{where} imports {imported}"
        for where, imported in package_imports("ppl-core")
        if ppl_owner(imported) not in {None, "ppl-core"} or _within(imported, "ppl_example_plugin")
    ]
    assert not offending, "ppl-core must not depend on a plugin:\n" + "\n".join(offending)


def test_distributions_import_only_core_and_themselves():
    offending = [
        f"{where} imports {imported}"
        for where, imported in package_imports("ppl-distributions")
        if (_within(imported, "ppl") or _within(imported, "ppl_example_plugin"))
        and ppl_owner(imported) not in {"ppl-core", "ppl-distributions"}
    ]
    assert not offending, "\n".join(offending)


@pytest.mark.parametrize("name", INFERENCE_PLUGINS)
def test_inference_plugins_do_not_import_each_other(name):
    others = set(INFERENCE_PLUGINS) - {name}
    offending = [
        f"{where} imports {imported}"
        for where, imported in package_imports(name)
        if ppl_owner(imported) in others or _within(imported, "ppl_example_plugin")
    ]
    assert not offending, f"{name} must not depend on another inference plugin:\n" + "\n".join(
        offending
    )


def test_example_plugin_imports_only_core():
    offending = [
        f"{where} imports {imported}"
        for where, imported in package_imports("ppl-example-plugin")
        if _within(imported, "ppl") and ppl_owner(imported) != "ppl-core"
    ]
    assert not offending, "the example plugin must need nothing but ppl-core:\n" + "\n".join(
        offending
    )


@pytest.mark.parametrize("name", list(SOURCES))
def test_imports_are_declared(name):
    declared = declared_dependencies(name)
    stdlib = sys.stdlib_module_names
    problems = {}  # one report per file and missing provider
    for where, imported in package_imports(name):
        file = where.rsplit(":", 1)[0]
        root = imported.split(".")[0]
        if root in stdlib or root == "__future__":
            continue
        if root == "ppl":
            provider = ppl_owner(imported)
            if provider is None:
                problems[file, imported] = f"{where} imports {imported}, which no package provides"
                continue
        elif root in IMPORT_ROOT_TO_DISTRIBUTION:
            provider = IMPORT_ROOT_TO_DISTRIBUTION[root]
        else:
            problems.setdefault(
                (file, root),
                f"{where} imports {root}, unknown here: add it to IMPORT_ROOT_TO_DISTRIBUTION",
            )
            continue
        if provider != name and _normalize(provider) not in declared:
            problems.setdefault(
                (file, provider), f"{where} imports {imported} but {provider} is not a dependency"
            )
    assert not problems, f"{name}'s pyproject misses dependencies:\n" + "\n".join(problems.values())
