"""The registry: what the installed plugins provide, discovered lazily.

Plugins are found through the ``ppl`` entry-point group. Discovery happens at
the first look-up, not at ``import ppl``, so that importing the core stays
cheap and a broken plugin never breaks it: a plugin that fails to import, or
that declares a plugin API this core does not speak, is skipped with a
:class:`PluginWarning`.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import threading
import warnings
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import pluggy

from ppl.plugins import hookspecs
from ppl.plugins.lazy import LazyEntry

#: The plugin API this core speaks. A plugin declares the version it was
#: written against in its module attribute ``PPL_PLUGIN_API``.
PLUGIN_API_VERSION = 1
SUPPORTED_PLUGIN_APIS = frozenset({1})

#: The kinds of things a plugin may register, each with its hook.
KINDS = {
    "distributions": "register_distributions",
    "kernels": "register_kernels",
    "inference": "register_inference",
    "optimizers": "register_optimizers",
    "reparams": "register_reparams",
}


#: Hooks whose registrations are keyed on types rather than names:
#: kind -> (hook, number of types before the rule object).
RULE_KINDS = {
    "bijections": ("register_bijections", 1),
    "kl": ("register_kl", 2),
    "conjugacy": ("register_conjugacy", 2),
}


class PluginWarning(UserWarning):
    """A plugin was skipped or two plugins disagree."""


@dataclasses.dataclass
class PluginInfo:
    """What the registry knows of one loaded plugin."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    provides: dict[str, list[str]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class SkippedPlugin:
    name: str
    reason: str


class Registry:
    """Lazily discovered plugins and the names they provide."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._manager: pluggy.PluginManager | None = None
        self._entries: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
        self._providers: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
        self._plugins: dict[str, PluginInfo] = {}
        self._skipped: list[SkippedPlugin] = []
        # kind -> [(provider, *types, rule)], the provider so that unregistering
        # a plugin removes its rules.
        self._rules: dict[str, list[tuple]] = {kind: [] for kind in RULE_KINDS}
        # Bumped whenever the registered set changes, so caches built from it
        # (biject_to, kl_divergence) know to rebuild.
        self._generation = 0

    # -- discovery ---------------------------------------------------------

    @property
    def manager(self) -> pluggy.PluginManager:
        """The pluggy manager, with every installed plugin loaded."""
        with self._lock:
            if self._manager is None:
                manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
                manager.add_hookspecs(hookspecs)
                self._manager = manager
                self._discover()
            return self._manager

    def _discover(self) -> None:
        # pluggy's load_setuptools_entrypoints stops at the first plugin that
        # fails to import; we load each entry point ourselves so that one
        # broken plugin is reported and skipped instead.
        for entry_point in importlib.metadata.entry_points(group=hookspecs.PROJECT_NAME):
            if entry_point.name in self._plugins:
                continue
            distribution = getattr(entry_point.dist, "name", None)
            version = getattr(entry_point.dist, "version", None)
            label = f"{entry_point.name} ({distribution or 'unknown distribution'})"
            try:
                module = entry_point.load()
            except Exception as error:
                self._skip(entry_point.name, f"plugin {label} failed to import: {error!r}")
                continue
            self.register_plugin(module, entry_point.name, distribution, version)

    def register_plugin(
        self,
        module: ModuleType | Any,
        name: str,
        distribution: str | None = None,
        version: str | None = None,
    ) -> bool:
        """Register a plugin object (normally a module) by hand.

        Returns ``False`` (with a warning) when the plugin is incompatible or
        its hooks fail.
        """
        with self._lock:
            manager = self._manager
            if manager is None:
                manager = self.manager  # discovers installed plugins first
            api = getattr(module, "PPL_PLUGIN_API", None)
            if api not in SUPPORTED_PLUGIN_APIS:
                self._skip(
                    name,
                    f"plugin {name!r} declares PPL_PLUGIN_API={api!r}, but this ppl-core "
                    f"speaks plugin API {sorted(SUPPORTED_PLUGIN_APIS)}; upgrade the plugin "
                    "or ppl-core",
                )
                return False
            try:
                manager.register(module, name=name)
                # pluggy accepts hooks that no spec declares until asked: a typo in a
                # hook name would otherwise register silently and provide nothing.
                manager.check_pending()
            except Exception as error:
                if manager.is_registered(module):
                    manager.unregister(module)
                self._skip(name, f"plugin {name!r} does not follow the hook specs: {error}")
                return False
            info = PluginInfo(
                name, getattr(module, "__name__", repr(module)), distribution, version
            )
            staged = _Staging()
            calls = [(hook, staged.register_for(kind)) for kind, hook in KINDS.items()]
            calls += [
                (hook, staged.register_rule_for(kind, arity))
                for kind, (hook, arity) in RULE_KINDS.items()
            ]
            try:
                for hook, register in calls:
                    for implementation in getattr(manager.hook, hook).get_hookimpls():
                        if implementation.plugin_name == name:
                            implementation.function(register=register)
            except Exception as error:
                manager.unregister(name=name)
                self._skip(name, f"plugin {name!r} failed while registering: {error!r}")
                return False
            for kind, entries in staged.entries.items():
                for entry_name, obj in entries.items():
                    self._add(kind, entry_name, obj, name)
                if entries:
                    info.provides[kind] = sorted(entries)
            for kind, rules in staged.rules.items():
                self._rules[kind].extend((name, *rule) for rule in rules)
                if rules:
                    info.provides[kind] = [
                        "/".join(t.__name__ for t in rule[:-1]) for rule in rules
                    ]
            self._plugins[name] = info
            self._generation += 1
            return True

    def unregister_plugin(self, name: str) -> None:
        """Remove a plugin and everything it registered (used by tests)."""
        with self._lock:
            self._plugins.pop(name, None)
            for kind in KINDS:
                for entry_name, provider in list(self._providers[kind].items()):
                    if provider == name:
                        del self._providers[kind][entry_name]
                        del self._entries[kind][entry_name]
            for kind, rules in self._rules.items():
                self._rules[kind] = [rule for rule in rules if rule[0] != name]
            if self._manager is not None and self._manager.has_plugin(name):
                self._manager.unregister(name=name)
            self._generation += 1

    def _add(self, kind: str, name: str, obj: Any, provider: str) -> None:
        existing = self._providers[kind].get(name)
        if existing is not None and existing != provider:
            warnings.warn(
                f"{kind[:-1] if kind.endswith('s') else kind} {name!r} is provided by both "
                f"plugin {existing!r} and plugin {provider!r}; keeping {existing!r}'s",
                PluginWarning,
                stacklevel=3,
            )
            return
        self._entries[kind][name] = obj
        self._providers[kind][name] = provider

    def _skip(self, name: str, reason: str) -> None:
        self._skipped.append(SkippedPlugin(name, reason))
        warnings.warn(reason + "; it was skipped", PluginWarning, stacklevel=4)

    # -- look-ups ----------------------------------------------------------

    def lookup(self, kind: str, name: str) -> Any:
        """The object registered under ``name`` in ``kind``; ``KeyError`` if none.

        A :func:`~ppl.plugins.lazy.lazy` entry is imported here, once. One that
        fails to import is dropped with a :class:`PluginWarning` (and a
        ``KeyError``), as a plugin that fails to load is.
        """
        self.manager  # noqa: B018 - triggers discovery
        obj = self._entries[kind][name]
        if isinstance(obj, LazyEntry):
            obj = self._load_lazy(kind, name, obj)
        return obj

    def _load_lazy(self, kind: str, name: str, entry: LazyEntry) -> Any:
        with self._lock:
            if self._entries[kind].get(name) is not entry:  # loaded by another thread
                return self._entries[kind][name]
            try:
                obj = entry.load()
            except Exception as error:
                provider = self._providers[kind].pop(name)
                del self._entries[kind][name]
                self._generation += 1
                self._skip(
                    f"{provider}:{name}",
                    f"plugin {provider!r} registered {name!r} as {entry.target!r}, which "
                    f"failed to import: {error!r}",
                )
                raise KeyError(name) from error
            self._entries[kind][name] = obj
            return obj

    def get(self, kind: str, name: str, default: Any = None) -> Any:
        try:
            return self.lookup(kind, name)
        except KeyError:
            return default

    def names(self, kind: str) -> list[str]:
        self.manager  # noqa: B018
        return sorted(self._entries[kind])

    def provider(self, kind: str, name: str) -> str | None:
        self.manager  # noqa: B018
        return self._providers[kind].get(name)

    def plugins(self) -> list[PluginInfo]:
        self.manager  # noqa: B018
        return list(self._plugins.values())

    def skipped(self) -> list[SkippedPlugin]:
        self.manager  # noqa: B018
        return list(self._skipped)

    def rules(self, kind: str) -> list[tuple]:
        """``(*types, rule)`` registered for ``kind`` (see :data:`RULE_KINDS`), in load order."""
        self.manager  # noqa: B018
        return [rule[1:] for rule in self._rules[kind]]

    def bijections(self) -> Iterable[tuple[type, Any]]:
        """``(constraint_type, factory)`` rules from every plugin."""
        return self.rules("bijections")

    def kl_rules(self) -> Iterable[tuple[type, type, Any]]:
        """``(type_p, type_q, fn)`` rules from every plugin."""
        return self.rules("kl")

    def conjugacy_rules(self) -> Iterable[tuple[type, type, Any]]:
        """``(prior_type, likelihood_type, rule)`` rules from every plugin."""
        return self.rules("conjugacy")

    @property
    def generation(self) -> int:
        """A counter that changes whenever plugins are added or removed."""
        self.manager  # noqa: B018
        return self._generation

    def adapt_distribution(self, obj: Any) -> Any:
        """Ask the plugins to adapt a foreign distribution object; ``None`` if none can."""
        return self.manager.hook.adapt_distribution(obj=obj)


class _Staging:
    """Collects one plugin's registrations so that a failing plugin adds nothing."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, list[tuple]] = {}

    def register_for(self, kind: str):
        entries = self.entries.setdefault(kind, {})

        def register(name: str, obj: Any) -> None:
            if not isinstance(name, str) or not name:
                raise TypeError(f"register() needs a non-empty name string, got {name!r}")
            entries[name] = obj

        return register

    def register_rule_for(self, kind: str, arity: int):
        rules = self.rules.setdefault(kind, [])
        hook = RULE_KINDS[kind][0]

        def register(*args: Any) -> None:
            types, rule = args[:-1], args[-1] if args else None
            if len(types) != arity or not all(isinstance(t, type) for t in types):
                raise TypeError(f"{hook}: register() takes {arity} type(s) and then the rule")
            if not callable(rule):
                raise TypeError(f"{hook}: the rule must be callable, got {rule!r}")
            rules.append((*types, rule))

        return register


registry = Registry()
