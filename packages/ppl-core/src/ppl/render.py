"""Draw a model: its sites, the plates they live in and what depends on what.

Dependencies are read off the model's computation itself: the model is traced
to a jaxpr with every site's value as an input, and a site depends on another
when the other's value flows into its distribution's parameters (or, for a
deterministic site, into its value).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.extend
import jax.numpy as jnp

from ppl.handlers import seed, substitute, trace

__all__ = ["ModelGraph", "get_model_relations", "render_model"]


def _distribution_leaves(fn: Any) -> list:
    leaves = [leaf for leaf in jax.tree_util.tree_leaves(fn) if _is_array(leaf)]
    if leaves or not hasattr(fn, "__dict__"):
        return leaves
    # A distribution that is not a pytree: use the arrays among its attributes.
    return [value for value in vars(fn).values() if _is_array(value)]


def _is_array(x: Any) -> bool:
    return (
        isinstance(x, jax.Array | float | int)
        or hasattr(x, "__jax_array__")
        or (hasattr(x, "dtype") and hasattr(x, "shape"))
    )


def _family_name(fn: Any) -> str:
    """The distribution's own name, looking through the wrappers that plates add."""
    while type(fn).__name__ in ("ExpandedDistribution", "Independent") and hasattr(fn, "base_dist"):
        fn = fn.base_dist
    return type(fn).__name__


def _jaxpr_dependencies(jaxpr: Any, num_inputs_by_site: list[tuple[str, int]]) -> list[set]:
    """For each jaxpr output, the set of site names whose input values it depends on."""
    depends: dict[Any, set] = {}
    invars = iter(jaxpr.jaxpr.invars)
    for name, count in num_inputs_by_site:
        for _ in range(count):
            depends[next(invars)] = {name}

    def lookup(var: Any) -> set:
        if isinstance(var, jax.extend.core.Literal):
            return set()
        return depends.get(var, set())

    for eqn in jaxpr.jaxpr.eqns:
        # Conservative through nested jaxprs (scan, cond, pjit): every output of an
        # equation depends on all of its inputs.
        sources = set().union(*(lookup(var) for var in eqn.invars)) if eqn.invars else set()
        for var in eqn.outvars:
            depends[var] = sources
    return [lookup(var) for var in jaxpr.jaxpr.outvars]


def get_model_relations(
    model: Callable, model_args: tuple | None = None, model_kwargs: dict | None = None
) -> dict:
    """The structure of ``model`` as plain data.

    Returns:
        a dict with ``sample_sample`` (site -> sites its distribution depends
        on), ``sample_param`` (site -> param sites it depends on),
        ``sample_dist`` (site -> distribution class name), ``param_constraint``
        (param -> constraint), ``plate_sample`` (plate -> sites inside it),
        ``plate_size`` (plate -> size), ``observed`` (observed site names) and
        ``deterministic`` (deterministic site names).
    """
    model_args = () if model_args is None else tuple(model_args)
    model_kwargs = {} if model_kwargs is None else dict(model_kwargs)
    base_trace = trace(seed(model, rng_seed=0)).get_trace(*model_args, **model_kwargs)
    sites = {
        name: site
        for name, site in base_trace.items()
        if site["type"] in ("sample", "param", "deterministic")
    }
    # Every site's value is an input, so that an edge stops at the nearest site
    # (obs <- shifted, not obs <- theta when shifted = f(theta)).
    inputs = {name: site["value"] for name, site in sites.items() if site["value"] is not None}

    def outputs(values: dict) -> list:
        computed: dict = {}

        def substitute_fn(site: dict) -> Any:
            if site["type"] == "deterministic":
                computed[site["name"]] = site["value"]
            return values.get(site["name"])

        tr = trace(substitute(seed(model, rng_seed=0), substitute_fn=substitute_fn)).get_trace(
            *model_args, **model_kwargs
        )
        result = []
        for name in sites:
            site = tr[name]
            leaves = (
                jax.tree_util.tree_leaves(computed[name])
                if site["type"] == "deterministic"
                else _distribution_leaves(site["fn"])
                if site["type"] == "sample"
                else []
            )
            result.append([jnp.asarray(leaf) for leaf in leaves])
        return result

    flat_inputs = {name: jax.tree_util.tree_leaves(value) for name, value in inputs.items()}
    jaxpr, out_shape = jax.make_jaxpr(outputs, return_shape=True)(inputs)
    counts = [(name, len(flat_inputs[name])) for name in sorted(inputs)]
    per_output = _jaxpr_dependencies(jaxpr, counts)
    depends: dict[str, set] = {}
    position = 0
    for name, leaves in zip(sites, out_shape, strict=True):
        depends[name] = set().union(*per_output[position : position + len(leaves)]) - {name}
        position += len(leaves)

    kinds = {name: site["type"] for name, site in sites.items()}
    plate_sample: dict[str, list[str]] = {}
    plate_size: dict[str, int] = {}
    for name, site in sites.items():
        for frame in site.get("cond_indep_stack", []):
            plate_sample.setdefault(frame.name, []).append(name)
            plate_size[frame.name] = frame.size
    return {
        "sample_sample": {
            name: sorted(d for d in depends[name] if kinds[d] != "param")
            for name in sites
            if kinds[name] != "param"
        },
        "sample_param": {
            name: sorted(d for d in depends[name] if kinds[d] == "param")
            for name in sites
            if kinds[name] != "param"
        },
        "sample_dist": {
            name: _family_name(site["fn"])
            for name, site in sites.items()
            if site["type"] == "sample"
        },
        "param_constraint": {
            name: site["kwargs"].get("constraint")
            for name, site in sites.items()
            if site["type"] == "param"
        },
        "plate_sample": plate_sample,
        "plate_size": plate_size,
        "observed": sorted(
            name for name, site in sites.items() if site["type"] == "sample" and site["is_observed"]
        ),
        "deterministic": sorted(name for name in sites if kinds[name] == "deterministic"),
    }


@dataclasses.dataclass
class ModelGraph:
    """A rendered model: readable as text (``str(graph)``), drawable with graphviz."""

    relations: dict
    render_distributions: bool = False
    render_params: bool = False

    @property
    def text(self) -> str:
        """A plain-text drawing of the model."""
        rel = self.relations
        plates_of: dict[str, list[str]] = {}
        for plate_name, members in rel["plate_sample"].items():
            for member in members:
                plates_of.setdefault(member, []).append(plate_name)
        lines = ["Model"]
        names = list(rel["sample_sample"])
        width = max((len(name) for name in names), default=0)
        for name in names:
            if name in rel["deterministic"]:
                kind, dist = "deterministic", "="
            else:
                kind = "observed" if name in rel["observed"] else "latent"
                dist = "~ " + rel["sample_dist"].get(name, "?")
            parents = rel["sample_sample"][name]
            if self.render_params:
                parents = parents + rel["sample_param"][name]
            line = f"  {name:<{width}}  {dist:<20} {kind:<13}"
            if parents:
                line += " <- " + ", ".join(parents)
            if plates_of.get(name):
                line += "   in plate " + ", ".join(
                    f"{plate}[{rel['plate_size'][plate]}]" for plate in plates_of[name]
                )
            lines.append(line.rstrip())
        if self.render_params and rel["param_constraint"]:
            lines.append("Params")
            for name, constraint in rel["param_constraint"].items():
                lines.append(f"  {name}  in {constraint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text

    def to_graphviz(self) -> Any:
        """The model as a ``graphviz.Digraph`` (needs the ``graphviz`` package)."""
        try:
            import graphviz
        except ImportError:
            raise ImportError(
                "drawing the model with graphviz needs the graphviz package: "
                "pip install 'ppl-core[graphviz]' (str(graph) gives a text drawing without it)"
            ) from None
        rel = self.relations
        graph = graphviz.Digraph()
        inside_plate = {m for members in rel["plate_sample"].values() for m in members}

        def add_node(target: Any, name: str) -> None:
            label = name
            if self.render_distributions and name in rel["sample_dist"]:
                label = f"{name}\n~ {rel['sample_dist'][name]}"
            style = "filled" if name in rel["observed"] else ""
            shape = "ellipse" if name not in rel["deterministic"] else "box"
            target.node(name, label=label, style=style, fillcolor="lightgrey", shape=shape)

        for plate_name, members in rel["plate_sample"].items():
            with graph.subgraph(name=f"cluster_{plate_name}") as cluster:
                cluster.attr(label=f"{plate_name} [{rel['plate_size'][plate_name]}]", labeljust="r")
                for member in members:
                    if member in rel["sample_sample"]:
                        add_node(cluster, member)
        for name in rel["sample_sample"]:
            if name not in inside_plate:
                add_node(graph, name)
        for name, parents in rel["sample_sample"].items():
            for parent in parents:
                graph.edge(parent, name)
        if self.render_params:
            for name, params in rel["sample_param"].items():
                for param_name in params:
                    graph.node(param_name, shape="plain")
                    graph.edge(param_name, name)
        return graph

    def render(self, filename: str | None = None, **kwargs: Any) -> Any:
        """Write the drawing; ``.txt`` files get the text form, others graphviz."""
        if filename is not None and filename.endswith(".txt"):
            with open(filename, "w") as handle:
                handle.write(self.text + "\n")
            return filename
        return self.to_graphviz().render(filename, **kwargs)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        try:
            return self.to_graphviz()._repr_mimebundle_(include, exclude)
        except ImportError:
            return {"text/plain": self.text}


def render_model(
    model: Callable,
    model_args: tuple | None = None,
    model_kwargs: dict | None = None,
    filename: str | None = None,
    render_distributions: bool = False,
    render_params: bool = False,
) -> ModelGraph:
    """Draw ``model`` run on ``model_args``/``model_kwargs``.

    Returns:
        a :class:`ModelGraph`: ``print(graph)`` shows it as text,
        ``graph.to_graphviz()`` gives a ``graphviz.Digraph`` (with the
        graphviz package installed), and Jupyter displays it as a picture.
        With ``filename`` the drawing is also written there.
    """
    graph = ModelGraph(
        get_model_relations(model, model_args, model_kwargs),
        render_distributions=render_distributions,
        render_params=render_params,
    )
    if filename is not None:
        graph.render(filename)
    return graph
