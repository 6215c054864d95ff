import subprocess
import sys
import types

import pytest

from ppl.plugins import PluginWarning, hookimpl, registry
from ppl.plugins.cli import format_plugins


class FakeKernel:
    pass


def make_plugin(api=1, **hooks):
    module = types.ModuleType("fake_ppl_plugin")
    module.PPL_PLUGIN_API = api
    for name, fn in hooks.items():
        setattr(module, name, hookimpl(fn))
    return module


@pytest.fixture
def fake_plugin():
    def register_kernels(register):
        register("FakeKernel", FakeKernel)

    def register_inference(register):
        register("AutoFake", object)

    plugin = make_plugin(register_kernels=register_kernels, register_inference=register_inference)
    assert registry.register_plugin(plugin, "fake", "fake-dist", "9.9")
    yield plugin
    registry.unregister_plugin("fake")


def test_registered_names_resolve_through_the_facade(fake_plugin):
    from ppl.infer import FakeKernel as resolved
    from ppl.infer.autoguide import AutoFake

    assert resolved is FakeKernel and AutoFake is object
    assert registry.provider("kernels", "FakeKernel") == "fake"
    import ppl.infer

    assert "FakeKernel" in dir(ppl.infer)


def test_unregister_removes_names(fake_plugin):
    registry.unregister_plugin("fake")
    with pytest.raises(ImportError):
        from ppl.infer import FakeKernel  # noqa: F401
    assert registry.register_plugin(fake_plugin, "fake")


def test_missing_first_party_name_says_what_to_install(monkeypatch):
    from ppl.infer import _facade

    monkeypatch.setattr(registry, "get", lambda kind, name, default=None: default)
    monkeypatch.setattr(_facade, "_installed_version", lambda package: "0.0.1")
    with pytest.raises(ImportError, match=r"installed ppl-mcmc 0.0.1 does not register it"):
        from ppl.infer import NUTS
    monkeypatch.setattr(_facade, "_installed_version", lambda package: None)
    with pytest.raises(ImportError, match=r"ppl-mcmc.*pip install ppl-mcmc"):
        from ppl.infer import NUTS  # noqa: F401
    with pytest.raises(ImportError, match="ppl-vi"):
        from ppl.infer.autoguide import AutoNormal  # noqa: F401
    with pytest.raises(ImportError, match="ppl-distributions"):
        from ppl.infer.reparam import LocScaleReparam  # noqa: F401
    with pytest.raises(ImportError, match="cannot import name 'Nonsense'"):
        from ppl.infer import Nonsense  # noqa: F401


def test_incompatible_plugin_is_skipped_with_warning():
    with pytest.warns(PluginWarning, match=r"PPL_PLUGIN_API=99.*skipped"):
        assert not registry.register_plugin(make_plugin(api=99), "future")
    assert all(info.name != "future" for info in registry.plugins())


def test_plugin_whose_hook_raises_adds_nothing():
    def register_kernels(register):
        register("HalfDone", object)
        raise RuntimeError("broken plugin")

    with pytest.warns(PluginWarning, match="broken plugin"):
        assert not registry.register_plugin(make_plugin(register_kernels=register_kernels), "bad")
    assert registry.get("kernels", "HalfDone") is None


def test_plugin_with_unknown_hook_is_skipped():
    def register_everything(register):
        pass

    with pytest.warns(PluginWarning, match="hook specs"):
        assert not registry.register_plugin(
            make_plugin(register_everything=register_everything), "typo"
        )


def test_name_clash_keeps_the_first(fake_plugin):
    def register_kernels(register):
        register("FakeKernel", int)

    with pytest.warns(PluginWarning, match="provided by both"):
        registry.register_plugin(make_plugin(register_kernels=register_kernels), "clash")
    try:
        assert registry.lookup("kernels", "FakeKernel") is FakeKernel
    finally:
        registry.unregister_plugin("clash")


def test_cli_lists_plugins(fake_plugin):
    text = format_plugins(registry)
    assert "fake  (fake-dist 9.9)" in text
    assert "kernels (1): FakeKernel" in text
    out = subprocess.run(
        [sys.executable, "-m", "ppl", "plugins"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("ppl-core")


def test_type_keyed_rules_are_collected_and_removed():
    class P:
        pass

    class Q:
        pass

    def kl_rule(p, q):
        return 0.0

    def register_kl(register):
        register(P, Q, kl_rule)

    assert registry.register_plugin(make_plugin(register_kl=register_kl), "rules")
    try:
        assert (P, Q, kl_rule) in registry.kl_rules()
        info = next(info for info in registry.plugins() if info.name == "rules")
        assert info.provides["kl"] == ["P/Q"]
    finally:
        registry.unregister_plugin("rules")
    assert (P, Q, kl_rule) not in registry.kl_rules()


def test_rule_with_wrong_arity_skips_the_plugin():
    def register_kl(register):
        register(int, lambda p, q: 0.0)

    with pytest.warns(PluginWarning, match="takes 2 type"):
        assert not registry.register_plugin(make_plugin(register_kl=register_kl), "arity")


def test_numpyro_style_submodules_resolve_their_names(fake_plugin, monkeypatch):
    import importlib

    import ppl.infer

    assert ppl.infer.hmc is importlib.import_module("ppl.infer.hmc")
    original_get = registry.get
    monkeypatch.setattr(
        registry,
        "get",
        lambda kind, name, default=None: (
            FakeKernel if name == "SA" else original_get(kind, name, default)
        ),
    )
    from ppl.infer.sa import SA

    assert SA is FakeKernel
    assert dir(importlib.import_module("ppl.infer.hmc_gibbs")) == [
        "DiscreteHMCGibbs",
        "HMCECS",
        "HMCGibbs",
        "HMCGibbsState",
        "estimate_likelihood",
        "taylor_proxy",
    ]
    with pytest.raises(ImportError, match="cannot import name 'NUTS'"):
        from ppl.infer.sa import NUTS  # noqa: F401
    monkeypatch.setattr(registry, "get", lambda kind, name, default=None: default)
    monkeypatch.setattr("ppl.infer._facade._installed_version", lambda package: None)
    with pytest.raises(ImportError, match="pip install ppl-vi"):
        from ppl.infer.elbo import Trace_ELBO  # noqa: F401


# -- lazy entries and exports ----------------------------------------------------


@pytest.fixture
def lazy_module(tmp_path, monkeypatch):
    """A module on sys.path that records its import, and is forgotten afterwards."""
    name = "ppl_lazy_target_for_tests"
    (tmp_path / f"{name}.py").write_text("IMPORTS = [1]\n\nclass LazyKernel:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_lazy_entry_is_imported_on_first_look_up(lazy_module):
    from ppl.plugins import lazy

    def register_kernels(register):
        register("LazyKernel", lazy(f"{lazy_module}:LazyKernel"))

    assert registry.register_plugin(make_plugin(register_kernels=register_kernels), "lazy")
    try:
        assert lazy_module not in sys.modules
        assert registry.names("kernels").count("LazyKernel") == 1
        assert lazy_module not in sys.modules  # listing names imports nothing
        from ppl.infer import LazyKernel

        assert LazyKernel is sys.modules[lazy_module].LazyKernel
        assert registry.get("kernels", "LazyKernel") is LazyKernel
        assert sys.modules[lazy_module].IMPORTS == [1]  # imported once
    finally:
        registry.unregister_plugin("lazy")


def test_lazy_entry_that_fails_to_import_is_dropped_with_a_warning():
    import ppl.infer
    from ppl.plugins import lazy

    def register_kernels(register):
        register("GhostKernel", lazy("ppl_no_such_module_anywhere:GhostKernel"))

    assert registry.register_plugin(make_plugin(register_kernels=register_kernels), "ghost")
    try:
        warning = r"'ghost' registered 'GhostKernel'.*failed to import"
        with pytest.warns(PluginWarning, match=warning):
            with pytest.raises(AttributeError, match="no installed plugin provides it"):
                ppl.infer.GhostKernel  # noqa: B018
        assert "GhostKernel" not in registry.names("kernels")
        assert any("GhostKernel" in s.reason for s in registry.skipped())
    finally:
        registry.unregister_plugin("ghost")


@pytest.mark.parametrize("target", ["", "pkg:", "pkg.:Name", "pkg:Na-me", "1pkg:Name"])
def test_lazy_rejects_malformed_targets(target):
    from ppl.plugins import lazy

    with pytest.raises(ValueError, match=r"package\.module:attribute"):
        lazy(target)


def test_lazy_resolves_modules_and_dotted_attributes():
    from ppl.plugins import LazyEntry, lazy

    module = sys.modules["ppl.plugins.lazy"]
    assert lazy("ppl.plugins.lazy").load() is module
    assert lazy("ppl.plugins.lazy:LazyEntry.load").load() is LazyEntry.load


def test_lazy_exports_import_a_name_on_first_access(lazy_module):
    from ppl.plugins import lazy_exports

    package = types.ModuleType("ppl_lazy_package_for_tests")
    package.__path__ = []
    sys.modules[package.__name__] = package
    sys.modules[f"{package.__name__}.impl"] = sys.modules.setdefault(
        lazy_module, __import__(lazy_module)
    )
    try:
        getattr_, dir_ = lazy_exports(package.__name__, {"LazyKernel": "impl", "impl": "impl"})
        package.__getattr__ = getattr_
        assert "LazyKernel" in dir_()
        assert package.LazyKernel is sys.modules[lazy_module].LazyKernel
        assert vars(package)["LazyKernel"] is package.LazyKernel  # cached in the namespace
        assert package.impl is sys.modules[lazy_module]
        with pytest.raises(AttributeError, match="has no attribute 'Missing'"):
            package.Missing  # noqa: B018
    finally:
        sys.modules.pop(package.__name__, None)
        sys.modules.pop(f"{package.__name__}.impl", None)
