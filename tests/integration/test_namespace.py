"""The shared ``ppl`` namespace: one owner of ``ppl/__init__.py``, one home per subpackage.

Every distribution under ``packages/`` ships a part of the ``ppl`` import
package. Only ppl-core may ship ``ppl/__init__.py`` (it extends ``__path__`` so
the others are found); a second copy would shadow or be shadowed depending on
install order. These tests read the source trees, the pyprojects and the
installed distributions' metadata.

When the ``isolation`` nox session runs them it sets ``PPL_ISOLATION_PREFIX``
(the environment's ``sys.prefix``) and ``PPL_ISOLATION_DISTRIBUTIONS`` (the
ppl distributions it installed from wheels); the tests then also check that
every import comes from those wheels and that nothing else is importable.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import tomllib
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES_DIR = ROOT / "packages"

#: Each distribution and the subpackage named after it (a plugin may ship more,
#: e.g. ppl-vi also ships ``ppl.optim``).
OWNED = {
    "ppl-core": "ppl",
    "ppl-distributions": "ppl.distributions",
    "ppl-mcmc": "ppl.mcmc",
    "ppl-vi": "ppl.vi",
    "ppl-tfp-bridge": "ppl.tfp",
}
PLUGINS = [name for name in OWNED if name != "ppl-core"]


def shipped_modules(name: str) -> list[str]:
    """The top-level ``ppl.X`` modules and subpackages in a distribution's tree."""
    root = PACKAGES_DIR / name / "src" / "ppl"
    found = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("__"):  # __init__.py, __main__.py, __pycache__
            continue
        if entry.is_dir() or entry.suffix == ".py":
            found.append("ppl." + entry.name.removesuffix(".py"))
    return found


SHIPPED = [(name, module) for name in OWNED for module in shipped_modules(name)]

ISOLATION_PREFIX = os.environ.get("PPL_ISOLATION_PREFIX")
ISOLATED = os.environ.get("PPL_ISOLATION_DISTRIBUTIONS")


def _pyproject(name: str) -> dict:
    with open(PACKAGES_DIR / name / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _installed(name: str) -> importlib.metadata.Distribution | None:
    try:
        return importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _editable_source(dist: importlib.metadata.Distribution) -> Path | None:
    """The project directory of an editable install, ``None`` for a regular one."""
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    direct_url = json.loads(text)
    if not direct_url.get("dir_info", {}).get("editable"):
        return None
    return Path(unquote(urlparse(direct_url["url"]).path))


def test_every_package_is_known():
    assert sorted(p.name for p in PACKAGES_DIR.iterdir() if p.is_dir()) == sorted(OWNED)


def test_only_core_ships_the_namespace_init():
    shipping = sorted(
        p.name for p in PACKAGES_DIR.iterdir() if (p / "src" / "ppl" / "__init__.py").exists()
    )
    assert shipping == ["ppl-core"]
    init = (PACKAGES_DIR / "ppl-core" / "src" / "ppl" / "__init__.py").read_text()
    assert "extend_path" in init, "ppl/__init__.py must extend __path__ for the plugins"


@pytest.mark.parametrize("name", PLUGINS)
def test_plugin_source_tree_holds_only_subpackages(name):
    root = PACKAGES_DIR / name / "src" / "ppl"
    loose = [p.name for p in root.iterdir() if p.is_file()]
    assert not loose, f"{name} ships files directly in ppl/: {loose}"
    for module in shipped_modules(name):
        assert (root / module.split(".")[1] / "__init__.py").exists(), module
    assert OWNED[name] in shipped_modules(name)


def test_no_two_packages_ship_the_same_module():
    owners: dict[str, list[str]] = {}
    for name, module in SHIPPED:
        owners.setdefault(module, []).append(name)
    assert {m: names for m, names in owners.items() if len(names) > 1} == {}


@pytest.mark.parametrize("name", list(OWNED))
def test_pyproject_declares_the_layout(name):
    project = _pyproject(name)
    assert project["project"]["name"] == name
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == ["src/ppl"]
    # No force-include or sources remapping could smuggle a ppl/__init__.py in.
    assert not set(wheel) - {"packages"}, f"unexpected wheel options {sorted(wheel)}"
    entry_points = project["project"].get("entry-points", {}).get("ppl", {})
    if name == "ppl-core":
        assert entry_points == {}
    else:
        plugin_module = OWNED[name] + ".plugin"
        assert list(entry_points.values()) == [plugin_module]
        path = PACKAGES_DIR / name / "src" / Path(*plugin_module.split(".")).with_suffix(".py")
        assert path.exists(), f"{name}'s entry point names {plugin_module}, which has no source"


@pytest.mark.parametrize("name", PLUGINS)
def test_only_core_installs_the_namespace_init(name):
    dist = _installed(name)
    if dist is None:
        pytest.skip(f"{name} is not installed")
    files = [str(f).replace("\\", "/") for f in dist.files or ()]
    assert "ppl/__init__.py" not in files


def _origin_check(name: str, module_name: str) -> None:
    """``module_name`` is imported from ``name``'s checkout (editable) or its installed files."""
    dist = _installed(name)
    if dist is None:
        if ISOLATED is not None:
            pytest.skip(f"{name} is deliberately absent here (see test_absent_packages)")
        pytest.skip(f"{name} is not installed")
    module = importlib.import_module(module_name)
    origin = Path(module.__file__).resolve()
    relative = Path(origin.relative_to(_namespace_root(origin, module_name)))
    source = _editable_source(dist)
    if source is not None:
        expected = (source / "src" / relative).resolve()
    else:
        expected = Path(dist.locate_file(relative)).resolve()
        files = {str(f).replace("\\", "/") for f in dist.files or ()}
        assert relative.as_posix() in files, f"{name}'s RECORD does not list {relative}"
    assert origin == expected
    if ISOLATION_PREFIX is not None:
        assert origin.is_relative_to(Path(ISOLATION_PREFIX).resolve())


def _namespace_root(origin: Path, module_name: str) -> Path:
    """The directory holding the top-level ``ppl`` folder of ``origin``."""
    depth = module_name.count(".") + (1 if origin.name == "__init__.py" else 0)
    return origin.parents[depth]


@pytest.mark.parametrize("name", list(OWNED))
def test_namespace_part_resolves_to_its_own_distribution(name):
    _origin_check(name, OWNED[name])


@pytest.mark.parametrize("name, module", SHIPPED, ids=[f"{n}:{m}" for n, m in SHIPPED])
def test_every_shipped_module_resolves_to_its_distribution(name, module):
    _origin_check(name, module)


@pytest.mark.skipif(ISOLATED is None, reason="only meaningful in the nox isolation sessions")
def test_isolation_environment_holds_exactly_the_subset():
    installed = {
        dist.metadata["Name"]
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"].startswith("ppl-")
    }
    assert installed == set(ISOLATED.split(","))
    core = importlib.metadata.distribution("ppl-core")
    assert _editable_source(core) is None, "isolation must install wheels, not the checkout"
    assert "ppl/__init__.py" in {str(f).replace("\\", "/") for f in core.files or ()}


@pytest.mark.skipif(ISOLATED is None, reason="only meaningful in the nox isolation sessions")
@pytest.mark.parametrize("name", PLUGINS)
def test_absent_packages_cannot_be_imported(name):
    if name in ISOLATED.split(","):
        pytest.skip(f"{name} is part of this subset")
    for module in shipped_modules(name):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(module)
