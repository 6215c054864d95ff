"""Dependency tracking through jaxprs, used by TraceGraph_ELBO."""

import jax
import jax.numpy as jnp

from ppl.vi._provenance import dependencies

INPUTS = {"a": jnp.ones(3), "b": jnp.array(2.0), "c": jnp.array(1)}


def test_tracks_elementwise_and_reductions():
    def fn(v):
        return {"ab": jnp.sum(v["a"]) * v["b"], "a": jnp.sin(v["a"]), "const": jnp.ones(2)}

    deps = dependencies(fn, INPUTS)
    assert deps == {"ab": frozenset("ab"), "a": frozenset("a"), "const": frozenset()}


def test_follows_jit_and_custom_derivatives_inside():
    @jax.jit
    def inner(x, y):
        return x * 2.0, jax.nn.softplus(y)

    def fn(v):
        x, y = inner(v["a"], v["b"])
        return x, y, jnp.where(v["c"] > 0, v["b"], 0.0)

    deps = dependencies(fn, INPUTS)
    assert deps == (frozenset("a"), frozenset("b"), frozenset("bc"))


def test_loops_are_treated_conservatively():
    def fn(v):
        def body(carry, x):
            return carry + x, carry * v["b"]

        total, _ = jax.lax.scan(body, 0.0, v["a"])
        return total, v["c"] + 1

    total, c = dependencies(fn, INPUTS)
    assert {"a", "b"} <= total  # may over-approximate, never under-approximate
    assert c == frozenset("c")


def test_closed_over_tracers_are_constants():
    def outer(w):
        deps = dependencies(lambda v: v["b"] * w, INPUTS)
        assert deps == frozenset("b")
        return jnp.sum(w)

    jax.jit(outer)(jnp.ones(3))
    jax.vmap(outer)(jnp.ones((2, 3)))
