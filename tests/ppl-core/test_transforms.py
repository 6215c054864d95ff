"""Tests for ppl.transforms and biject_to.

Every transform is checked for inverse round trips, domain/codomain
membership, shapes, jit/vmap, and ``log_abs_det_jacobian`` against
``jax.jacobian`` + ``slogdet`` in a chart of free coordinates (e.g. the first
K - 1 entries of a simplex, the lower triangle of a symmetric matrix).
"""

from __future__ import annotations

import dataclasses
import functools
import pickle
import types
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ppl import constraints as C
from ppl import transforms as T
from ppl._linalg import matrix_to_tril_vec, vec_to_tril_matrix
from ppl.plugins import PluginWarning, hookimpl, registry


@pytest.fixture(autouse=True, scope="module")
def _discovered_plugins():
    """Load the installed plugins up front.

    biject_to consults them for unknown constraint types; a broken, unrelated
    plugin (reported by ppl.plugins' own tests) must not fail these tests.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        registry.manager  # noqa: B018


# -- charts ----------------------------------------------------------------------


def _ravel(a):
    return jnp.reshape(a, (-1,))


def _complex_chart(y):
    return jnp.concatenate([_ravel(jnp.real(y)), _ravel(jnp.imag(y))])


def _tril_chart(y):
    return _ravel(matrix_to_tril_vec(y))


def _strict_tril_chart(y):
    return _ravel(matrix_to_tril_vec(y, diagonal=-1))


def _from_tril(v, shape):
    """A symmetric matrix batch from its lower-triangle entries."""
    n = shape[-1]
    low = vec_to_tril_matrix(jnp.reshape(v, (*shape[:-2], n * (n + 1) // 2)))
    return low + jnp.swapaxes(low, -1, -2) - jnp.eye(n) * low


def _from_strict_tril(v, shape):
    """A unit-diagonal symmetric matrix batch from its strict lower-triangle entries."""
    n = shape[-1]
    low = vec_to_tril_matrix(jnp.reshape(v, (*shape[:-2], n * (n - 1) // 2)), diagonal=-1)
    return low + jnp.swapaxes(low, -1, -2) + jnp.eye(n)


def _lower_from_tril(v, shape):
    n = shape[-1]
    return vec_to_tril_matrix(jnp.reshape(v, (*shape[:-2], n * (n + 1) // 2)))


def _simplex_from_head(v, shape):
    head = jnp.reshape(v, (*shape[:-1], shape[-1] - 1))
    return jnp.concatenate([head, 1 - head.sum(-1, keepdims=True)], axis=-1)


def _pack_chart(n):
    """Real parts, then the imaginary parts that real FFT coefficients of length n carry."""

    def chart(y):
        return jnp.concatenate(
            [_ravel(jnp.real(y)), _ravel(jnp.imag(y)[..., 1 : (n - 1) // 2 + 1])]
        )

    return chart


# -- samplers --------------------------------------------------------------------------


# A sampler maps standard normal draws ``z`` to points of the transform's domain; it
# runs inside the jitted computation, so sampling costs no extra compilation.


def _positive(z):
    return jnp.exp(0.5 * z)


def _unit(z):
    return 0.05 + 0.9 * jax.nn.sigmoid(z)


@dataclasses.dataclass
class Case:
    make: Callable[[], T.Transform]
    x_shape: tuple
    sample: Callable | None = None
    #: Shape of the normal draws fed to ``sample`` (``x_shape`` by default).
    z_shape: tuple | None = None
    # Free coordinates of the input (flatten / unflatten) and of the output.
    flat_in: Callable = _ravel
    unflat_in: Callable | None = None
    flat_out: Callable = _ravel
    #: "square": slogdet of the chart Jacobian; "gram": 0.5 slogdet(J^T J) for maps into
    #: a lower-dimensional submanifold measured by its own volume; None: convention only.
    jacobian: str | None = "square"


A2 = jnp.array([[0.9, 0.2], [-0.3, 0.5]])
TRIL3 = jnp.array([[1.5, 0.0, 0.0], [0.3, 0.7, 0.0], [-0.4, 0.2, 2.0]])

CASES = {
    "identity": Case(T.IdentityTransform, (2, 3)),
    "exp": Case(T.ExpTransform, (2, 3)),
    "exp_on_ordered": Case(
        lambda: T.ExpTransform(domain=C.ordered_vector),
        (2, 4),
        sample=T.OrderedTransform(),
        z_shape=(2, 4),
    ),
    "sigmoid": Case(T.SigmoidTransform, (2, 3)),
    "softplus": Case(T.SoftplusTransform, (2, 3)),
    "affine": Case(
        lambda: T.AffineTransform(jnp.array([1.0, -2.0, 0.5]), jnp.array([2.0, -0.5, 3.0])), (2, 3)
    ),
    "affine_vector_domain": Case(
        lambda: T.AffineTransform(1.0, jnp.array([2.0, 0.5, 3.0]), domain=C.real_vector), (2, 3)
    ),
    "power": Case(lambda: T.PowerTransform(jnp.array([0.5, 2.0, -1.5])), (2, 3), sample=_positive),
    "compose": Case(
        lambda: T.ComposeTransform(
            [T.AffineTransform(0.3, 2.0), T.ExpTransform(), T.PowerTransform(0.5)]
        ),
        (2, 3),
    ),
    "independent": Case(lambda: T.IndependentTransform(T.SigmoidTransform(), 1), (2, 3)),
    "exp_inverse": Case(lambda: T.ExpTransform().inv, (2, 3), sample=_positive),
    "sigmoid_inverse": Case(lambda: T.SigmoidTransform().inv, (2, 3), sample=_unit),
    "cat_elementwise": Case(
        lambda: T.CatTransform(
            [T.ExpTransform(), T.IdentityTransform(), T.SigmoidTransform()], -1, [2, 1, 2]
        ),
        (2, 5),
    ),
    "cat_event": Case(
        lambda: T.CatTransform(
            [T.IndependentTransform(T.ExpTransform(), 1), T.OrderedTransform()], -1, [2, 3]
        ),
        (2, 5),
    ),
    "stick_breaking": Case(
        T.StickBreakingTransform, (2, 4), flat_out=lambda y: _ravel(y[..., :-1])
    ),
    "ordered": Case(T.OrderedTransform, (2, 4)),
    "simplex_to_ordered": Case(
        lambda: T.SimplexToOrderedTransform(jnp.array([0.5, -1.0])),
        (2, 4),
        sample=T.StickBreakingTransform(),
        z_shape=(2, 3),
        flat_in=lambda x: _ravel(x[..., :-1]),
        unflat_in=_simplex_from_head,
    ),
    "l1_ball": Case(T.L1BallTransform, (2, 4)),
    "permute": Case(lambda: T.PermuteTransform(jnp.array([2, 0, 3, 1])), (2, 4)),
    "zero_sum": Case(lambda: T.ZeroSumTransform(1), (2, 3), jacobian="gram"),
    "zero_sum_2d": Case(lambda: T.ZeroSumTransform(2), (2, 2, 3), jacobian="gram"),
    "complex": Case(T.ComplexTransform, (2, 3, 2), flat_out=_complex_chart),
    "reshape": Case(lambda: T.ReshapeTransform((2, 3), (6,)), (2, 6)),
    "rfft": Case(T.RealFastFourierTransform, (2, 6), jacobian=None),
    "rfft_2d": Case(lambda: T.RealFastFourierTransform((4, 5), 2), (2, 4, 5), jacobian=None),
    "pack_even": Case(T.PackRealFastFourierCoefficientsTransform, (2, 6), flat_out=_pack_chart(6)),
    "pack_odd": Case(
        lambda: T.PackRealFastFourierCoefficientsTransform((5,)), (2, 5), flat_out=_pack_chart(5)
    ),
    "dct": Case(T.DiscreteCosineTransform, (2, 5)),
    "dct_smooth_dim2": Case(lambda: T.DiscreteCosineTransform(dim=-2, smooth=1.5), (2, 4, 3)),
    "haar": Case(T.HaarTransform, (2, 7)),
    "haar_flip_dim2": Case(lambda: T.HaarTransform(dim=-2, flip=True), (2, 6, 2)),
    "recursive_linear": Case(lambda: T.RecursiveLinearTransform(A2), (2, 5, 2)),
    "recursive_linear_batched": Case(
        lambda: T.RecursiveLinearTransform(jnp.stack([A2, 0.5 * A2.T])), (2, 4, 2)
    ),
    "lower_cholesky": Case(T.LowerCholeskyTransform, (2, 6), flat_out=_tril_chart),
    "softplus_lower_cholesky": Case(T.SoftplusLowerCholeskyTransform, (2, 6), flat_out=_tril_chart),
    "scaled_unit_lower_cholesky": Case(
        T.ScaledUnitLowerCholeskyTransform, (2, 6), flat_out=_tril_chart
    ),
    "corr_cholesky": Case(T.CorrCholeskyTransform, (2, 6), flat_out=_strict_tril_chart),
    "cholesky": Case(
        T.CholeskyTransform,
        (2, 3, 3),
        sample=T.biject_to(C.positive_definite),
        z_shape=(2, 6),
        flat_in=_tril_chart,
        unflat_in=_from_tril,
        flat_out=_tril_chart,
    ),
    "cholesky_inverse": Case(
        lambda: T.CholeskyTransform().inv,
        (2, 3, 3),
        sample=T.LowerCholeskyTransform(),
        z_shape=(2, 6),
        flat_in=_tril_chart,
        unflat_in=_lower_from_tril,
        flat_out=_tril_chart,
    ),
    "corr_matrix_cholesky": Case(
        T.CorrMatrixCholeskyTransform,
        (2, 3, 3),
        sample=T.biject_to(C.corr_matrix),
        z_shape=(2, 3),
        flat_in=_strict_tril_chart,
        unflat_in=_from_strict_tril,
        flat_out=_strict_tril_chart,
    ),
    "lower_cholesky_affine": Case(
        lambda: T.LowerCholeskyAffine(jnp.array([1.0, 0.0, -1.0]), TRIL3), (2, 3)
    ),
    "lower_cholesky_affine_batched": Case(
        lambda: T.LowerCholeskyAffine(jnp.zeros(3), jnp.stack([TRIL3, 0.5 * TRIL3])), (2, 3)
    ),
    "to_corr_matrix": Case(lambda: T.biject_to(C.corr_matrix), (2, 3), flat_out=_strict_tril_chart),
    "to_positive_definite": Case(
        lambda: T.biject_to(C.positive_definite), (2, 6), flat_out=_tril_chart
    ),
    "to_positive_ordered": Case(lambda: T.biject_to(C.positive_ordered_vector), (2, 4)),
    "to_interval": Case(lambda: T.biject_to(C.interval(-1.0, jnp.array([2.0, 3.0, 4.0]))), (2, 3)),
}


def _normal(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _draws(case, seed):
    return _normal(seed, case.z_shape or case.x_shape)


def _sample(case, z):
    return z if case.sample is None else case.sample(z)


def _chart_logdet(case, t, x):
    unflat = case.unflat_in or (lambda v, shape: jnp.reshape(v, shape))

    def f(v):
        return case.flat_out(t(unflat(v, x.shape)))

    jac = jax.jacfwd(f)(case.flat_in(x))
    if case.jacobian == "square":
        return jnp.linalg.slogdet(jac)[1]
    return 0.5 * jnp.linalg.slogdet(jac.T @ jac)[1]


def _run(transform, x):
    y = transform(x)
    return {
        "y": y,
        "x_back": transform.inv(y),
        "logdet": transform.log_abs_det_jacobian(x, y),
        "inv_logdet": transform.inv.log_abs_det_jacobian(y, x),
    }


def _run_batched(transform, x):
    y = transform(x)
    return {"y": y, "logdet": transform.log_abs_det_jacobian(x, y)}


def _quick_jit(fn, *args):
    """``jax.jit(fn)(*args)`` compiled without backend optimizations: these tests run many
    small programs once each, where compile time dominates."""
    compiled = jax.jit(fn).lower(*args).compile({"xla_backend_optimization_level": 0})
    return compiled(*args)


def _everything(case, t, z, zs):
    x = _sample(case, z)
    xs = jnp.stack([_sample(case, zi) for zi in zs])
    out = _run(t, x)
    out["vmapped"] = jax.vmap(_run_batched, in_axes=(None, 0))(t, xs)
    if case.jacobian is not None:
        out["chart_logdet"] = _chart_logdet(case, t, x)
    return x, out


@functools.cache
def _results(name):
    """Everything the per-transform tests check, computed under one jit (one compilation)."""
    case = CASES[name]
    t = case.make()
    z = _draws(case, 0)
    # vmap over x and a second sample: the first slice must match the unbatched run.
    zs = np.stack([z, _draws(case, 1)])
    x, out = _quick_jit(functools.partial(_everything, case), t, z, zs)
    results = jax.tree.map(np.asarray, out)
    results["x"] = np.asarray(x)
    return t, results


@pytest.fixture(params=sorted(CASES))
def name(request):
    return request.param


def test_round_trip(name):
    _, r = _results(name)
    np.testing.assert_allclose(r["x_back"], r["x"], rtol=1e-4, atol=1e-4)


def test_domain_and_codomain(name):
    t, r = _results(name)
    assert np.all(t.domain(r["x"])), t.domain
    assert np.all(t.codomain(r["y"])), t.codomain
    # The JAX code path of the checks agrees.
    assert bool(jnp.all(t.codomain(jnp.asarray(r["y"]))))


def test_shapes(name):
    t, r = _results(name)
    x, y = r["x"], r["y"]
    assert t.forward_shape(x.shape) == y.shape
    assert t.inverse_shape(y.shape) == x.shape
    assert r["logdet"].shape == x.shape[: x.ndim - t.domain.event_dim]
    # The inverse's shape rules mirror the forward's.
    assert t.inv.forward_shape(y.shape) == x.shape
    assert t.inv.inverse_shape(x.shape) == y.shape
    assert r["inv_logdet"].shape == r["logdet"].shape


def test_log_abs_det_jacobian(name):
    _, r = _results(name)
    if CASES[name].jacobian is None:
        # Linear maps whose NumPyro convention reports no volume change.
        np.testing.assert_array_equal(r["logdet"], 0.0)
        return
    np.testing.assert_allclose(r["logdet"].sum(), r["chart_logdet"], rtol=1e-4, atol=2e-3)
    np.testing.assert_allclose(r["inv_logdet"], -r["logdet"], rtol=1e-6, atol=1e-6)


def test_jit_and_vmap(name):
    # Everything in _results ran under jit with the transform as a pytree argument; the
    # vmapped run's first slice is the unbatched input.
    _, r = _results(name)
    for key, batched in r["vmapped"].items():
        np.testing.assert_allclose(batched[0], r[key], rtol=1e-5, atol=1e-5)
    assert not np.allclose(r["vmapped"]["y"][1], r["y"])


def test_pytree_round_trip(name):
    t = CASES[name].make()
    leaves, treedef = jax.tree_util.tree_flatten(t)
    rebuilt = jax.tree_util.tree_unflatten(treedef, leaves)
    assert type(rebuilt) is type(t)
    assert rebuilt == t
    assert all(a is b for a, b in zip(jax.tree_util.tree_leaves(rebuilt), leaves, strict=True))


# -- individual behaviours ----------------------------------------------------------------


def test_vmap_over_transform_parameters():
    affine = T.AffineTransform(jnp.array([0.0, 1.0]), jnp.array([2.0, 3.0]))
    x = jnp.array([1.0, 1.0])
    out = jax.vmap(lambda t, v: t(v))(affine, x)
    np.testing.assert_allclose(out, [2.0, 4.0])
    lower = jax.vmap(lambda lo: T.biject_to(C.greater_than(lo))(jnp.zeros(())))(jnp.arange(3.0))
    np.testing.assert_allclose(lower, jnp.arange(3.0) + 1.0)


def test_elementwise_values():
    x = jnp.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(T.ExpTransform()(x), np.exp(x), rtol=1e-6)
    np.testing.assert_allclose(T.SoftplusTransform()(x), np.log1p(np.exp(x)), rtol=1e-6)
    np.testing.assert_allclose(T.SigmoidTransform()(x), 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(T.OrderedTransform()(x), [-2.0, -1.0, -1.0 + np.e**3], rtol=1e-6)
    np.testing.assert_allclose(T.StickBreakingTransform()(jnp.zeros(3)), np.full(4, 0.25), 1e-6)
    np.testing.assert_allclose(
        T.SimplexToOrderedTransform()(jnp.array([0.3, 0.1, 0.4, 0.2])),
        np.log([0.3 / 0.7, 0.4 / 0.6, 0.8 / 0.2]),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        T.LowerCholeskyAffine(jnp.zeros(2), jnp.array([[0.3, 0.0], [1.0, 0.5]]))(jnp.ones(2)),
        [0.3, 1.5],
        rtol=1e-6,
    )


def test_sigmoid_is_clipped_and_stable():
    t = T.SigmoidTransform()
    y = t(jnp.array([-200.0, 200.0]))
    assert bool(jnp.all((y > 0) & (y < 1)))
    assert bool(jnp.all(jnp.isfinite(t.log_abs_det_jacobian(jnp.array([-200.0, 200.0]), y))))
    assert bool(jnp.all(jnp.isfinite(t.inv(jnp.array([0.0, 1.0])))))


def test_stick_breaking_is_stable_for_extreme_inputs():
    t = T.StickBreakingTransform()
    x = jnp.array([-60.0, 50.0, 80.0])
    y = t(x)
    assert bool(C.simplex(y))
    assert bool(jnp.isfinite(t.log_abs_det_jacobian(x, y)))
    assert bool(jnp.all(jnp.isfinite(jax.grad(lambda v: t.log_abs_det_jacobian(v, t(v)))(x))))


def test_corr_cholesky_matches_known_factor():
    # For a 2x2 correlation matrix with correlation r = tanh(x): L = [[1, 0], [r, sqrt(1-r^2)]].
    x = jnp.array([0.7])
    r = np.tanh(0.7)
    np.testing.assert_allclose(
        T.CorrCholeskyTransform()(x), [[1.0, 0.0], [r, np.sqrt(1 - r**2)]], rtol=1e-6
    )


def test_zero_sum_is_an_isometry():
    t = T.ZeroSumTransform(1)
    x = _normal(3, (4,))
    jac = jax.jacobian(t)(x)
    np.testing.assert_allclose(jac.T @ jac, np.eye(4), atol=1e-5)
    np.testing.assert_allclose(jnp.sum(t(x)), 0.0, atol=1e-5)


def test_dct_and_haar_are_orthonormal_without_smoothing():
    x = _normal(4, (7,))
    jacobians = jax.jit(
        lambda x: [jax.jacobian(t)(x) for t in [T.DiscreteCosineTransform(), T.HaarTransform()]]
    )(x)
    for jac in jacobians:
        np.testing.assert_allclose(jac @ jac.T, np.eye(7), atol=1e-5)
    np.testing.assert_allclose(
        T.DiscreteCosineTransform()(jnp.ones(4)), [2.0, 0.0, 0.0, 0.0], atol=1e-6
    )
    np.testing.assert_allclose(
        T.HaarTransform()(jnp.array([1.0, 3.0])), [4 / np.sqrt(2), -2 / np.sqrt(2)], rtol=1e-6
    )


def test_rfft_matches_numpy():
    x = _normal(5, (3, 6))
    np.testing.assert_allclose(
        T.RealFastFourierTransform()(x), np.fft.rfft(np.asarray(x)), rtol=1e-5, atol=1e-5
    )
    packed = T.PackRealFastFourierCoefficientsTransform()(jnp.arange(6.0))
    np.testing.assert_allclose(packed, [0.0, 1.0 + 4.0j, 2.0 + 5.0j, 3.0])


def test_recursive_linear_matches_loop():
    x = _normal(6, (5, 2))
    y = T.RecursiveLinearTransform(A2)(x)
    state = np.zeros(2)
    for step in range(5):
        state = np.asarray(A2) @ state + np.asarray(x[step])
        np.testing.assert_allclose(y[step], state, rtol=1e-5, atol=1e-6)


def test_compose_intermediates_match():
    t = T.ComposeTransform([T.AffineTransform(0.5, 2.0), T.ExpTransform(), T.SigmoidTransform()])
    x = jnp.array([0.1, -0.4])
    y, intermediates = t.call_with_intermediates(x)
    np.testing.assert_allclose(y, t(x))
    np.testing.assert_allclose(
        t.log_abs_det_jacobian(x, y, intermediates), t.log_abs_det_jacobian(x, y)
    )
    with pytest.raises(ValueError, match="intermediates"):
        t.log_abs_det_jacobian(x, y, intermediates[:1])


def test_compose_event_dims():
    t = T.ComposeTransform([T.ExpTransform(), T.StickBreakingTransform()])
    assert t.domain.event_dim == 1 and t.codomain is C.simplex
    t = T.ComposeTransform([T.StickBreakingTransform(), T.AffineTransform(0.0, 2.0)])
    assert t.codomain.event_dim == 1
    x = jnp.ones((3, 2))
    assert t.log_abs_det_jacobian(x, t(x)).shape == (3,)


def test_codomains():
    assert T.ExpTransform().codomain is C.positive
    assert T.ExpTransform(C.ordered_vector).codomain is C.positive_ordered_vector
    assert T.ExpTransform(C.greater_than(0.0)).codomain == C.greater_than(1.0)
    assert T.ExpTransform(C.interval(0.0, 1.0)).codomain == C.interval(1.0, np.e)
    assert T.AffineTransform(1.0, 2.0).codomain is C.real
    assert T.AffineTransform(1.0, 2.0, C.greater_than(1.0)).codomain == C.greater_than(3.0)
    assert T.AffineTransform(1.0, -2.0, C.greater_than(1.0)).codomain == C.less_than(-1.0)
    assert T.AffineTransform(1.0, -2.0, C.less_than_eq(1.0)).codomain == C.greater_than_eq(-1.0)
    assert T.AffineTransform(0.0, -1.0, C.unit_interval).codomain == C.interval(-1.0, 0.0)
    assert T.AffineTransform(1.0, 2.0, C.open_interval(0.0, 1.0)).codomain == (
        C.open_interval(1.0, 3.0)
    )
    assert T.AffineTransform(1.0, 2.0, C.real_vector).codomain == C.real_vector
    with pytest.raises(NotImplementedError, match="domain"):
        T.AffineTransform(1.0, 2.0, C.simplex).codomain  # noqa: B018
    # A traced scale is taken as positive.
    lower = jax.jit(lambda s: T.AffineTransform(0.0, s, C.positive).codomain.lower_bound)(
        jnp.array(2.0)
    )
    assert float(lower) == 0.0


def test_sign():
    assert T.ExpTransform().sign == 1
    assert float(T.AffineTransform(0.0, -3.0).sign) == -1
    assert float(T.ComposeTransform([T.ExpTransform(), T.AffineTransform(0.0, -2.0)]).sign) == -1
    assert float(T.AffineTransform(0.0, -3.0).inv.sign) == -1
    assert float(T.PowerTransform(-2.0).sign) == -1
    with pytest.raises(NotImplementedError, match="sign"):
        T.StickBreakingTransform().sign  # noqa: B018


def test_inverse_caching_and_equality():
    t = T.AffineTransform(1.0, 2.0)
    assert t.inv.inv is t
    assert t.inv is t.inv
    assert t == T.AffineTransform(1.0, 2.0)
    assert t != T.AffineTransform(1.0, 3.0)
    assert t.inv == T.AffineTransform(1.0, 2.0).inv
    assert T.ExpTransform() == T.ExpTransform()
    assert T.ExpTransform() != T.ExpTransform(C.ordered_vector)
    assert T.CholeskyTransform() != T.CorrMatrixCholeskyTransform()
    assert T.IndependentTransform(T.ExpTransform(), 1) == T.IndependentTransform(
        T.ExpTransform(), 1
    )
    assert T.ComposeTransform([T.ExpTransform(), t]) == T.ComposeTransform(
        [T.ExpTransform(), T.AffineTransform(1.0, 2.0)]
    )
    assert T.ComposeTransform([T.ExpTransform()]) != T.ComposeTransform(
        [T.ExpTransform(), T.ExpTransform()]
    )
    assert T.PermuteTransform(jnp.array([1, 0])) != T.PermuteTransform(jnp.array([0, 1]))
    assert hash(T.ExpTransform()) == hash(T.ExpTransform())
    restored = pickle.loads(pickle.dumps(t))
    assert restored == t and restored.inv.inv is restored


def test_abs_transform():
    t = T.AbsTransform()
    np.testing.assert_allclose(t(jnp.array([-2.0, 3.0])), [2.0, 3.0])
    assert t.codomain is C.nonnegative
    with pytest.warns(UserWarning, match="not a bijective"):
        np.testing.assert_allclose(t.inv(jnp.array([2.0])), [2.0])


def test_unpack_transform():
    def unpack(v):
        return {"a": v[:2], "b": jnp.reshape(v[2:], (2, 2))}

    def pack(tree):
        return jnp.concatenate([tree["a"], jnp.reshape(tree["b"], (-1,))])

    t = T.UnpackTransform(unpack, pack)
    x = jnp.arange(12.0).reshape(2, 6)
    y = t(x)
    assert y["a"].shape == (2, 2) and y["b"].shape == (2, 2, 2)
    np.testing.assert_allclose(t.inv(t(x[0])), x[0])
    assert t.log_abs_det_jacobian(x, y).shape == (2,)
    assert t.codomain is C.dependent
    with pytest.raises(NotImplementedError, match="pack_fn"):
        T.UnpackTransform(unpack).inv(y)


def test_bad_arguments():
    with pytest.raises(ValueError, match="permutation"):
        T.PermuteTransform(jnp.array([0, 0, 1]))
    with pytest.raises(ValueError, match="sizes"):
        T.ReshapeTransform((2, 3), (5,))
    with pytest.raises(ValueError, match="ending in"):
        T.ReshapeTransform((2, 3), (6,))(jnp.ones(5))
    with pytest.raises(TypeError, match="Transforms"):
        T.ComposeTransform([])
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        T.IndependentTransform(T.ExpTransform(), -1)
    with pytest.raises(ValueError, match="square"):
        T.LowerCholeskyAffine(jnp.zeros(2), jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="transform_ndims"):
        T.RealFastFourierTransform((4, 4), 1)
    with pytest.raises(ValueError, match="negative"):
        T.HaarTransform(dim=0)
    with pytest.raises(ValueError, match="lower triangle"):
        T.LowerCholeskyTransform()(jnp.ones(5))
    with pytest.raises(ValueError, match="trailing dimension of size 2"):
        T.ComplexTransform()(jnp.ones(3))
    with pytest.raises(ValueError, match="sum to"):
        T.CatTransform([T.ExpTransform(), T.ExpTransform()], -1, [1, 2])(jnp.ones(4))


# -- biject_to ----------------------------------------------------------------------------------

# (constraint, unconstrained event shape)
BIJECTIONS = [
    (C.real, ()),
    (C.complex, ()),
    (C.real_vector, (3,)),
    (C.real_matrix, (2, 3)),
    (C.positive, ()),
    (C.nonnegative, ()),
    (C.softplus_positive, ()),
    (C.greater_than(1.5), ()),
    (C.greater_than_eq(-2.0), ()),
    (C.less_than(1.5), ()),
    (C.less_than_eq(-2.0), ()),
    (C.interval(-1.0, 4.0), ()),
    (C.open_interval(0.0, 2.0), ()),
    (C.unit_interval, ()),
    (C.circular, ()),
    (C.simplex, (3,)),
    (C.ordered_vector, (4,)),
    (C.positive_ordered_vector, (4,)),
    (C.l1_ball, (3,)),
    (C.corr_cholesky, (6,)),
    (C.corr_matrix, (3,)),
    (C.lower_cholesky, (6,)),
    (C.scaled_unit_lower_cholesky, (6,)),
    (C.softplus_lower_cholesky, (6,)),
    (C.positive_definite, (6,)),
    (C.positive_semidefinite, (3,)),
    (C.zero_sum(), (3,)),
    (C.zero_sum(2), (2, 3)),
    (C.independent(C.interval(0.0, 2.0), 2), (2, 2)),
    (C.independent(C.simplex, 1), (2, 3)),
    (C.cat([C.positive, C.real, C.unit_interval], -1, [2, 1, 2]), (5,)),
]


@pytest.mark.parametrize("constraint, event_shape", BIJECTIONS, ids=lambda v: repr(v)[:30])
@pytest.mark.parametrize("batch_shape", [(2, 3)])
def test_biject_to_lands_in_constraint(constraint, event_shape, batch_shape):
    t = T.biject_to(constraint)
    x = _normal(7, batch_shape + event_shape)
    out = jax.tree.map(np.asarray, _quick_jit(_run, t, x))
    y = out["y"]
    ok = constraint(y)
    assert np.shape(ok) == y.shape[: y.ndim - constraint.event_dim]
    assert np.all(ok), (constraint, y)
    assert t.codomain.event_dim == constraint.event_dim
    np.testing.assert_allclose(out["x_back"], x, rtol=1e-3, atol=1e-3)
    logdet = out["logdet"]
    assert logdet.shape == x.shape[: x.ndim - t.domain.event_dim]
    assert np.all(np.isfinite(logdet))


@settings(max_examples=6, deadline=None)
@given(
    batch_shape=st.lists(st.integers(1, 3), max_size=2).map(tuple),
    n=st.integers(2, 4),
    which=st.sampled_from(["simplex", "corr_cholesky", "l1_ball", "ordered_vector"]),
)
def test_biject_to_shapes_hypothesis(batch_shape, n, which):
    constraint = getattr(C, which)
    t = T.biject_to(constraint)
    size = n * (n - 1) // 2 if which == "corr_cholesky" else n
    x = _normal(n, (*batch_shape, size))
    out = jax.tree.map(np.asarray, _quick_jit(_run, t, x))
    y = out["y"]
    assert y.shape == t.forward_shape(x.shape)
    assert np.shape(constraint(y)) == batch_shape
    assert np.all(constraint(y))
    assert out["logdet"].shape == batch_shape


def test_biject_to_specific_transforms():
    assert isinstance(T.biject_to(C.positive), T.ExpTransform)
    assert isinstance(T.biject_to(C.softplus_positive), T.SoftplusTransform)
    assert isinstance(T.biject_to(C.unit_interval), T.SigmoidTransform)
    assert isinstance(T.biject_to(C.real), T.IdentityTransform)
    assert isinstance(T.biject_to(C.simplex), T.StickBreakingTransform)
    assert isinstance(T.biject_to(C.corr_cholesky), T.CorrCholeskyTransform)
    assert isinstance(T.biject_to(C.lower_cholesky), T.LowerCholeskyTransform)
    real_vector = T.biject_to(C.real_vector)
    assert isinstance(real_vector, T.IndependentTransform)
    assert real_vector.reinterpreted_batch_ndims == 1
    assert T.biject_to(C.interval(0.0, 2.0)).codomain == C.interval(0.0, 2.0)
    assert T.biject_to(C.greater_than(3.0)).codomain == C.greater_than(3.0)
    assert T.biject_to(C.less_than(3.0)).codomain == C.less_than(3.0)
    # Scalars (no batch) work too.
    assert float(T.biject_to(C.positive)(jnp.array(0.0))) == 1.0
    assert float(T.biject_to(C.interval(2.0, 4.0))(jnp.array(0.0))) == pytest.approx(3.0)


@pytest.mark.parametrize(
    "constraint",
    [
        C.boolean,
        C.integer_interval(0, 3),
        C.nonnegative_integer,
        C.multinomial(3),
        C.dependent,
        C.sphere,
        C.positive_definite_circulant_vector,
    ],
    ids=repr,
)
def test_biject_to_without_bijection_raises(constraint):
    with pytest.raises(NotImplementedError, match="register_bijections") as info:
        T.biject_to(constraint)
    assert repr(constraint) in str(info.value)


def test_biject_to_rejects_non_constraints():
    with pytest.raises(TypeError, match="Constraint"):
        T.biject_to("positive")


def test_biject_to_follows_subclasses():
    class _Narrow(C._Interval):
        pass

    t = T.biject_to(_Narrow(2.0, 3.0))
    y = t(jnp.array([-3.0, 0.0, 3.0]))
    assert bool(jnp.all((y > 2.0) & (y < 3.0)))


def test_registry_register_as_decorator():
    reg = T.ConstraintRegistry()

    @reg.register(C.positive)
    def _softplus(constraint):
        return T.SoftplusTransform()

    assert isinstance(reg(C.positive), T.SoftplusTransform)
    reg.register(C.interval, lambda c: T.IdentityTransform())
    assert isinstance(reg(C.interval(0.0, 1.0)), T.IdentityTransform)
    with pytest.raises(NotImplementedError):
        reg(C.greater_than(1.0))
    with pytest.raises(TypeError, match="Constraint"):
        reg.register(int, lambda c: None)


class _AboveThree(C.ParameterFreeConstraint):
    """A constraint type that only a plugin knows how to reach."""

    def __call__(self, x):
        return x > 3.0

    def feasible_like(self, prototype):
        return jnp.full_like(prototype, 4.0)


def _bijection_plugin():
    plugin = types.ModuleType("fake_bijection_plugin")
    plugin.PPL_PLUGIN_API = 1

    @hookimpl
    def register_bijections(register):
        register(_AboveThree, lambda constraint: T.biject_to(C.greater_than(3.0)))

    plugin.register_bijections = register_bijections
    return plugin


def test_plugin_bijection_is_found():
    constraint = _AboveThree()
    with pytest.raises(NotImplementedError, match="register_bijections"):
        T.biject_to(constraint)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert registry.register_plugin(_bijection_plugin(), "fake-bijections")
    try:
        t = T.biject_to(constraint)
        y = t(jnp.array([-5.0, 0.0, 5.0]))
        assert bool(jnp.all(constraint(y)))
        # Built-in rules still win for built-in types.
        assert isinstance(T.biject_to(C.positive), T.ExpTransform)
    finally:
        registry.unregister_plugin("fake-bijections")
    with pytest.raises(NotImplementedError, match="register_bijections"):
        T.biject_to(constraint)
