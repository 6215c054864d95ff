"""Tests for ppl.constraints: membership, event dims, feasible values, pytrees, equality."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ppl import constraints as C

# (constraint, value, expected answer per event)
MEMBERSHIP = [
    (C.real, [0.0, -1e30, np.inf, -np.inf, np.nan], [True, True, False, False, False]),
    (C.complex, [1 + 2j, np.inf + 0j, complex(0, np.nan)], [True, False, False]),
    (C.boolean, [0.0, 1.0, 0.5, 2.0, -1.0], [True, True, False, False, False]),
    (C.positive, [1e-30, 0.0, -1.0, 3.0], [True, False, False, True]),
    (C.nonnegative, [0.0, -1e-30, 2.0], [True, False, True]),
    (C.softplus_positive, [1.0, 0.0], [True, False]),
    (C.greater_than(2.0), [2.0, 2.5, 1.0], [False, True, False]),
    (C.greater_than_eq(2.0), [2.0, 2.5, 1.0], [True, True, False]),
    (C.less_than(-1.0), [-1.0, -2.0, 0.0], [False, True, False]),
    (C.less_than_eq(-1.0), [-1.0, -2.0, 0.0], [True, True, False]),
    (C.interval(-1.0, 2.0), [-1.0, 2.0, 0.0, 2.1, -1.1], [True, True, True, False, False]),
    (C.open_interval(-1.0, 2.0), [-1.0, 2.0, 0.0, 2.1], [False, False, True, False]),
    (C.unit_interval, [0.0, 1.0, 0.5, 1.5], [True, True, True, False]),
    (C.circular, [-math.pi, math.pi, 0.0, 3.2], [True, True, True, False]),
    (C.integer_interval(0, 3), [0.0, 3.0, 1.5, 4.0, -1.0], [True, True, False, False, False]),
    (C.integer_greater_than(2), [2.0, 7.0, 1.0, 2.5], [True, True, False, False]),
    (C.nonnegative_integer, [0.0, 5.0, -1.0, 0.5], [True, True, False, False]),
    (C.positive_integer, [1.0, 5.0, 0.0, 0.5], [True, True, False, False]),
    (C.multinomial(3), [[1, 2, 0], [3, 0, 0], [1, 1, 0], [4, -1, 0], [1.5, 1.5, 0]],
     [True, True, False, False, False]),
    (C.simplex, [[0.2, 0.8], [0.5, 0.6], [1.2, -0.2], [1.0, 0.0]], [True, False, False, True]),
    (C.ordered_vector, [[1.0, 2.0, 3.0], [1.0, 1.0, 2.0], [3.0, 2.0, 1.0]], [True, False, False]),
    (C.positive_ordered_vector, [[1.0, 2.0], [-1.0, 2.0], [2.0, 1.0]], [True, False, False]),
    (C.real_vector, [[1.0, 2.0], [np.nan, 0.0]], [True, False]),
    (C.l1_ball, [[0.3, -0.6], [0.6, -0.6], [0.0, 0.0]], [True, False, True]),
    (C.sphere, [[0.6, 0.8], [1.0, 1.0], [0.0, -1.0]], [True, False, True]),
    (C.zero_sum(), [[1.0, -1.0, 0.0], [1.0, 1.0, -1.0]], [True, False]),
    (C.positive_definite_circulant_vector, [[2.0, 1.0, 0.0, 1.0], [1.0, 2.0, 0.0, 2.0],
                                            [1.0, 0.5, 0.0, 0.0]], [True, False, False]),
    (C.lower_cholesky,
     [[[1.0, 0.0], [2.0, 3.0]], [[1.0, 0.1], [2.0, 3.0]], [[1.0, 0.0], [2.0, -3.0]]],
     [True, False, False]),
    (C.corr_cholesky,
     [[[1.0, 0.0], [0.6, 0.8]], [[1.0, 0.0], [0.6, 0.7]], [[1.0, 0.0], [-0.6, -0.8]]],
     [True, False, False]),
    (C.corr_matrix,
     [[[1.0, 0.5], [0.5, 1.0]], [[1.0, 0.5], [0.4, 1.0]], [[1.0, 2.0], [2.0, 1.0]],
      [[2.0, 0.5], [0.5, 2.0]]],
     [True, False, False, False]),
    (C.positive_definite,
     [[[2.0, 0.5], [0.5, 1.0]], [[1.0, 2.0], [2.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]]],
     [True, False, False]),
    (C.positive_semidefinite,
     [[[2.0, 0.5], [0.5, 1.0]], [[1.0, 2.0], [2.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]]],
     [True, False, True]),
    (C.real_matrix, [[[1.0, 2.0]], [[np.inf, 2.0]]], [True, False]),
]  # fmt: skip


@pytest.mark.parametrize("constraint, value, expected", MEMBERSHIP, ids=lambda v: repr(v)[:30])
@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_membership(constraint, value, expected, backend):
    value = np.asarray(value)
    if backend == "jax":
        value = jnp.asarray(value)
    result = constraint(value)
    assert np.shape(result) == np.shape(expected)
    np.testing.assert_array_equal(np.asarray(result), expected)
    np.testing.assert_array_equal(np.asarray(constraint.check(value)), expected)


def test_membership_reduces_only_event_dims():
    value = jnp.ones((4, 3, 2, 2))
    assert C.real(value).shape == (4, 3, 2, 2)
    assert C.real_vector(value).shape == (4, 3, 2)
    assert C.real_matrix(value).shape == (4, 3)
    assert C.independent(C.real, 3)(value).shape == (4,)
    assert C.independent(C.real_vector, 2)(value).shape == (4,)
    assert C.positive_definite(value + jnp.eye(2)).shape == (4, 3)
    assert C.zero_sum(2)(jnp.zeros((4, 3, 2))).shape == (4,)


EVENT_DIMS = {
    "real": (C.real, 0),
    "boolean": (C.boolean, 0),
    "interval": (C.interval(0.0, 1.0), 0),
    "multinomial": (C.multinomial(3), 1),
    "simplex": (C.simplex, 1),
    "ordered_vector": (C.ordered_vector, 1),
    "positive_ordered_vector": (C.positive_ordered_vector, 1),
    "l1_ball": (C.l1_ball, 1),
    "sphere": (C.sphere, 1),
    "real_vector": (C.real_vector, 1),
    "real_matrix": (C.real_matrix, 2),
    "circulant": (C.positive_definite_circulant_vector, 1),
    "zero_sum": (C.zero_sum(3), 3),
    "lower_cholesky": (C.lower_cholesky, 2),
    "scaled_unit_lower_cholesky": (C.scaled_unit_lower_cholesky, 2),
    "softplus_lower_cholesky": (C.softplus_lower_cholesky, 2),
    "corr_cholesky": (C.corr_cholesky, 2),
    "corr_matrix": (C.corr_matrix, 2),
    "positive_definite": (C.positive_definite, 2),
    "positive_semidefinite": (C.positive_semidefinite, 2),
    "independent": (C.independent(C.simplex, 2), 3),
    "cat": (C.cat([C.real, C.simplex], -1, [1, 2]), 1),
}


@pytest.mark.parametrize("name", sorted(EVENT_DIMS))
def test_event_dim(name):
    constraint, event_dim = EVENT_DIMS[name]
    assert constraint.event_dim == event_dim


def test_is_discrete():
    discrete = [
        C.boolean,
        C.integer_interval(0, 2),
        C.integer_greater_than(0),
        C.nonnegative_integer,
        C.positive_integer,
        C.multinomial(2),
        C.independent(C.boolean, 1),
        C.cat([C.real, C.boolean]),
    ]
    continuous = [C.real, C.positive, C.simplex, C.interval(0, 1), C.corr_cholesky, C.cat([C.real])]
    assert all(c.is_discrete for c in discrete)
    assert not any(c.is_discrete for c in continuous)


FEASIBLE = [
    (C.real, (2, 3)),
    (C.complex, (3,)),
    (C.boolean, (2, 3)),
    (C.positive, (2, 3)),
    (C.nonnegative, (3,)),
    (C.softplus_positive, (3,)),
    (C.greater_than(jnp.array([1.0, -2.0, 3.0])), (2, 3)),
    (C.greater_than_eq(5.0), (3,)),
    (C.less_than(-3.0), (2, 3)),
    (C.less_than_eq(jnp.array([0.0, 1.0, 2.0])), (3,)),
    (C.interval(-1.0, jnp.array([0.0, 5.0, 7.0])), (2, 3)),
    (C.open_interval(2.0, 3.0), (3,)),
    (C.unit_interval, (3,)),
    (C.circular, (3,)),
    (C.integer_interval(2, 5), (2, 3)),
    (C.integer_greater_than(3), (3,)),
    (C.nonnegative_integer, (3,)),
    (C.positive_integer, (3,)),
    (C.multinomial(jnp.array([3.0, 5.0])), (2, 4)),
    (C.simplex, (2, 4)),
    (C.ordered_vector, (2, 4)),
    (C.positive_ordered_vector, (2, 4)),
    (C.l1_ball, (2, 4)),
    (C.sphere, (2, 4)),
    (C.zero_sum(), (2, 4)),
    (C.zero_sum(2), (2, 3, 4)),
    (C.positive_definite_circulant_vector, (2, 5)),
    (C.real_vector, (2, 4)),
    (C.real_matrix, (2, 4)),
    (C.independent(C.positive, 2), (2, 3, 4)),
    (C.lower_cholesky, (2, 3, 3)),
    (C.scaled_unit_lower_cholesky, (3, 3)),
    (C.softplus_lower_cholesky, (2, 3, 3)),
    (C.corr_cholesky, (2, 3, 3)),
    (C.corr_matrix, (2, 3, 3)),
    (C.positive_definite, (2, 3, 3)),
    (C.positive_semidefinite, (3, 3)),
    (C.cat([C.positive, C.interval(0.0, 2.0)], -1, [2, 3]), (2, 5)),
    (C.cat([C.simplex, C.ordered_vector], 0, [1, 2]), (3, 4)),
]


@pytest.mark.parametrize("constraint, shape", FEASIBLE, ids=lambda v: repr(v)[:30])
def test_feasible_like(constraint, shape):
    dtype = jnp.complex64 if constraint is C.complex else jnp.float32
    prototype = jnp.zeros(shape, dtype=dtype)
    value = constraint.feasible_like(prototype)
    assert value.shape == shape
    assert bool(jnp.all(constraint(value)))


def test_feasible_like_keeps_integer_dtype():
    value = C.nonnegative_integer.feasible_like(jnp.zeros(3, dtype=jnp.int32))
    assert value.dtype == jnp.int32
    assert C.softplus_positive.feasible_like(jnp.zeros(2))[0] == pytest.approx(math.log(2))


def test_singletons_and_factories():
    assert C.real is type(C.real)()
    assert C.positive is type(C.positive)()
    assert type(C.positive) is not type(C.softplus_positive)
    assert isinstance(C.positive, C._GreaterThan)
    assert isinstance(C.unit_interval, C._Interval)
    assert isinstance(C.real_vector, C._IndependentConstraint)
    assert C.real_vector.base_constraint is C.real
    assert C.real_matrix.reinterpreted_batch_ndims == 2
    assert C.positive.lower_bound == 0.0
    assert (C.circular.lower_bound, C.circular.upper_bound) == (-math.pi, math.pi)
    assert C.interval(1.0, 2.0).upper_bound == 2.0
    assert C.less_than(3).upper_bound == 3
    assert C.multinomial(5).upper_bound == 5


def test_independent_flattens_and_validates():
    nested = C.independent(C.independent(C.positive, 1), 2)
    assert nested.base_constraint is C.positive
    assert nested.reinterpreted_batch_ndims == 3
    assert nested.event_dim == 3
    with pytest.raises(TypeError, match="base_constraint"):
        C.independent(lambda x: x, 1)
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        C.independent(C.real, -1)
    with pytest.raises(ValueError, match="at least 2"):
        C.independent(C.real, 2)(jnp.ones(3))


def test_equality_and_hash():
    assert C.interval(0.0, 1.0) == C.interval(0.0, 1.0)
    assert C.interval(0.0, 1.0) != C.interval(0.0, 2.0)
    assert C.interval(0.0, 1.0) == C.unit_interval
    assert C.interval(0.0, 1.0) != C.open_interval(0.0, 1.0)
    assert C.positive == C.greater_than(0.0)
    assert C.greater_than(0.0) != C.greater_than_eq(0.0)
    assert C.nonnegative == C.greater_than_eq(0.0)
    assert C.real_vector == C.independent(C.real, 1)
    assert C.real_vector != C.real_matrix
    assert C.greater_than(jnp.array([1.0, 2.0])) == C.greater_than(np.array([1.0, 2.0]))
    assert C.zero_sum(1) == C.zero_sum(1) and C.zero_sum(1) != C.zero_sum(2)
    assert C.multinomial(3) != C.multinomial(4)
    assert C.cat([C.real, C.positive], 0, [1, 2]) == C.cat([C.real, C.positive], 0, [1, 2])
    assert C.cat([C.real, C.positive], 0, [1, 2]) != C.cat([C.real, C.positive], 0, [2, 1])
    assert C.simplex != C.real and C.real == C.real
    assert C.lower_cholesky != C.corr_cholesky
    for a, b in [
        (C.positive, C.greater_than(0.0)),
        (C.interval(0.0, 1.0), C.unit_interval),
        (C.real_vector, C.independent(C.real, 1)),
    ]:
        assert hash(a) == hash(b)
    assert len({C.real, C.real, C.positive, C.simplex}) == 3


def test_constraints_are_pytrees():
    c = C.interval(jnp.zeros(3), jnp.array([1.0, 2.0, 3.0]))
    leaves, treedef = jax.tree_util.tree_flatten(c)
    assert len(leaves) == 2
    rebuilt = jax.tree_util.tree_unflatten(treedef, leaves)
    assert isinstance(rebuilt, C._Interval) and rebuilt == c
    assert jax.tree_util.tree_leaves(C.simplex) == []
    assert jax.tree_util.tree_unflatten(*reversed(jax.tree_util.tree_flatten(C.simplex))) is (
        C.simplex
    )

    @jax.jit
    def check(constraint, x):
        return constraint(x)

    x = jnp.array([0.5, 2.5, -1.0])
    np.testing.assert_array_equal(check(c, x), [True, False, False])
    shifted = jax.tree_util.tree_map(lambda v: v + 1.0, c)
    np.testing.assert_array_equal(check(shifted, x), [False, True, False])

    indep = C.independent(C.greater_than(jnp.zeros(2)), 1)
    np.testing.assert_array_equal(check(indep, jnp.array([[1.0, 2.0], [1.0, -2.0]])), [True, False])
    batched = jax.vmap(lambda lo: C.greater_than(lo)(jnp.zeros(())))(jnp.array([-1.0, 1.0]))
    np.testing.assert_array_equal(batched, [True, False])
    zs = jax.tree_util.tree_unflatten(*reversed(jax.tree_util.tree_flatten(C.zero_sum(2))))
    assert zs.event_dim == 2
    ct = C.cat([C.positive, C.real], -1, [2, 1])
    np.testing.assert_array_equal(check(ct, jnp.array([1.0, -1.0, -1.0])), [True, False, True])


def test_dependent():
    assert C.is_dependent(C.dependent)
    assert not C.is_dependent(C.real)
    with pytest.raises(ValueError, match="dependent"):
        C.dependent(jnp.ones(2))
    with pytest.raises(NotImplementedError):
        C.dependent.event_dim  # noqa: B018
    with pytest.raises(NotImplementedError):
        C.dependent.is_discrete  # noqa: B018
    custom = C.dependent(is_discrete=True, event_dim=1)
    assert C.is_dependent(custom)
    assert custom.is_discrete and custom.event_dim == 1
    assert custom == C.dependent(is_discrete=True, event_dim=1)
    assert custom != C.dependent

    class Uniform:
        def __init__(self, low, high):
            self.low, self.high = low, high

        @C.dependent_property(is_discrete=False, event_dim=0)
        def support(self):
            return C.interval(self.low, self.high)

        @C.dependent_property
        def other(self):
            return C.real

    assert C.is_dependent(Uniform.support)
    assert Uniform.support.event_dim == 0 and not Uniform.support.is_discrete
    assert C.is_dependent(Uniform.other)
    instance = Uniform(1.0, 3.0)
    assert instance.support == C.interval(1.0, 3.0)
    assert instance.other is C.real
    with pytest.raises(ValueError, match="dependent"):
        Uniform.support(jnp.ones(2))


def test_cat_constraint():
    c = C.cat([C.positive, C.simplex], -1, [2, 3])
    assert c.event_dim == 1 and c.dim == -1 and c.axis == -1
    value = jnp.array([[1.0, 2.0, 0.2, 0.3, 0.5], [1.0, -2.0, 0.2, 0.3, 0.5]])
    np.testing.assert_array_equal(c(value), [True, False])
    # Along a batch dimension the pieces' answers are concatenated.
    stacked = C.cat([C.positive, C.less_than(0.0)], 0, [1, 2])
    np.testing.assert_array_equal(
        stacked(jnp.array([[1.0, 2.0], [-1.0, 1.0], [-2.0, -3.0]])),
        [[True, True], [True, False], [True, True]],
    )
    assert C.cat([C.real, C.real], axis=1).dim == 1
    with pytest.raises(ValueError, match="lengths"):
        C.cat([C.real, C.real], 0, [1])
    with pytest.raises(ValueError, match="sum to"):
        c(jnp.ones(4))
    with pytest.raises(TypeError, match="Constraints"):
        C.cat([1.0])


def test_repr():
    assert repr(C.real) == "Real()"
    assert repr(C.interval(0.0, 1.0)) == "Interval(lower_bound=0.0, upper_bound=1.0)"
    assert repr(C.independent(C.real, 1)) == "IndependentConstraint(Real(), 1)"
    assert repr(C.greater_than(2)) == "GreaterThan(lower_bound=2)"


def test_zero_sum_validates_event_dim():
    with pytest.raises(ValueError, match="event_dim"):
        C.zero_sum(0)
    with pytest.raises(ValueError, match="at least 2"):
        C.zero_sum(2)(jnp.zeros(3))
