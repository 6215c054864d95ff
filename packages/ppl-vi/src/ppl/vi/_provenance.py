"""Which named inputs each output of a function depends on, read off its jaxpr.

:func:`dependencies` traces ``fn`` to a jaxpr and propagates, equation by
equation, the set of input names every variable is computed from. Calls
(``jit``, custom derivatives, rematerialization) are followed inside; any
other equation carrying a sub-program (loops, conditionals) is treated as
making each output depend on all of its inputs, which over-approximates the
dependencies and so never drops a true one. :class:`~ppl.vi.TraceGraph_ELBO`
uses this to find the cost terms downstream of each non-reparameterizable
sample site.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
from jax.extend import core as jax_core

__all__ = ["dependencies"]

_EMPTY: frozenset[str] = frozenset()

#: Primitives whose inner program maps its inputs to its outputs one to one.
_CALL_PRIMITIVES = frozenset(
    {
        "jit",
        "pjit",
        "closed_call",
        "core_call",
        "custom_jvp_call",
        "custom_vjp_call",
        "custom_vjp_call_jaxpr",
        "remat",
        "remat2",
        "checkpoint",
    }
)


def _inner_program(eqn: Any) -> Any:
    """The eqn's inner jaxpr when its inputs and outputs line up with the eqn's own."""
    if eqn.primitive.name not in _CALL_PRIMITIVES:
        return None
    for value in eqn.params.values():
        jaxpr = getattr(value, "jaxpr", value)
        if isinstance(jaxpr, jax_core.Jaxpr):
            if len(jaxpr.invars) == len(eqn.invars) and len(jaxpr.outvars) == len(eqn.outvars):
                return jaxpr
    return None


def _read(env: dict, var: Any) -> frozenset[str]:
    if isinstance(var, jax_core.Literal):
        return _EMPTY
    return env.get(var, _EMPTY)


def _propagate(jaxpr: Any, input_deps: list[frozenset[str]]) -> list[frozenset[str]]:
    env: dict = dict(zip(jaxpr.invars, input_deps, strict=True))
    for eqn in jaxpr.eqns:
        ins = [_read(env, v) for v in eqn.invars]
        inner = _inner_program(eqn)
        if inner is not None:
            outs = _propagate(inner, ins)
        else:
            union = frozenset().union(*ins)
            outs = [union] * len(eqn.outvars)
        for var, deps in zip(eqn.outvars, outs, strict=True):
            env[var] = deps
    return [_read(env, v) for v in jaxpr.outvars]


def dependencies(fn: Callable[[dict], Any], inputs: dict[str, Any]) -> Any:
    """For each output leaf of ``fn(inputs)``, the names of the ``inputs`` it depends on.

    Args:
        fn: a JAX-traceable function of one dict of arrays.
        inputs: ``{name: array}``; only shapes and dtypes are used.

    Returns:
        the output pytree of ``fn`` with each leaf replaced by a frozenset of names.
    """
    specs = {
        name: jax.ShapeDtypeStruct(jax.numpy.shape(x), jax.numpy.result_type(x))
        for name, x in inputs.items()
    }
    closed, out_shape = jax.make_jaxpr(fn, return_shape=True)(specs)
    # A dict flattens in sorted key order, which is the order of the jaxpr's inputs.
    input_deps = [frozenset([name]) for name in sorted(specs)]
    out_deps = _propagate(closed.jaxpr, input_deps)
    return jax.tree.unflatten(jax.tree.structure(out_shape), out_deps)
