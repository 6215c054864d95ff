"""The Distribution base class, the meta distributions, shape semantics, pytrees and util."""

from __future__ import annotations

import importlib
import pkgutil
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs

import ppl
import ppl.distributions as dist
from ppl import constraints, transforms
from ppl.distributions import util
from ppl.distributions.distribution import Distribution

KEY = jax.random.key(0)

# -- argument validation ------------------------------------------------------------------


def test_invalid_constant_parameter_raises_naming_parameter_value_and_constraint():
    with pytest.raises(ValueError, match=r"Normal.*scale.*-1\.0.*positive"):
        dist.Normal(0.0, -1.0)
    with pytest.raises(ValueError, match=r"Gamma.*concentration.*\[-2\.0, 0\.0\].*positive"):
        dist.Gamma(jnp.array([1.0, -2.0, 0.0]))
    with pytest.raises(ValueError, match=r"Beta.*concentration0.*positive"):
        dist.Beta(1.0, np.float32(-3.0))
    with pytest.raises(ValueError, match=r"AsymmetricLaplaceQuantile.*quantile.*OpenInterval"):
        dist.AsymmetricLaplaceQuantile(0.0, 1.0, 1.5)
    with pytest.raises(ValueError, match=r"Uniform.*high.*greater than low"):
        dist.Uniform(1.0, 0.0)
    with pytest.raises(ValueError, match=r"Normal.*loc.*nan.*real"):
        dist.Normal(float("nan"), 1.0)


def test_validate_args_false_opts_out_and_traced_parameters_are_not_checked():
    d = dist.Normal(0.0, -1.0, validate_args=False)
    assert np.isnan(d.log_prob(0.0))
    # Under jit the parameters are tracers: nothing to check at construction.
    out = jax.jit(lambda s: dist.Normal(0.0, s).log_prob(0.0))(-1.0)
    assert np.isnan(out)


def test_factor_like_unit_accepts_minus_infinity():
    assert dist.Unit(-jnp.inf).log_prob(jnp.zeros((0,))) == -jnp.inf


def test_validation_switch_checks_values_in_log_prob():
    d = dist.Exponential(1.0)
    assert not d._validate_args
    assert np.isfinite(d.log_prob(-1.0))  # no support check by default, as in NumPyro
    with ppl.util.validation_enabled():
        d = dist.Exponential(1.0)
        assert d._validate_args
        with pytest.warns(UserWarning, match="Out-of-support"):
            assert d.log_prob(-1.0) == -jnp.inf
        np.testing.assert_allclose(d.log_prob(1.0), -1.0)
    assert not dist.Exponential(1.0)._validate_args
    assert dist.Exponential(1.0, validate_args=True)._validate_args


def test_set_default_validate_args_is_the_global_switch():
    before = ppl.util.is_validation_enabled()
    try:
        Distribution.set_default_validate_args(True)
        assert ppl.util.is_validation_enabled()
        assert dist.Normal()._validate_args
        Distribution.set_default_validate_args(False)
        assert not dist.Normal()._validate_args
        with pytest.raises(ValueError, match="True or False"):
            Distribution.set_default_validate_args("yes")
    finally:
        ppl.util.enable_validation(before)


# -- shapes -------------------------------------------------------------------------------

# Few distinct sizes: every new shape costs JAX a compilation.
small_shapes = hs.lists(hs.integers(1, 2), min_size=0, max_size=2).map(tuple)


@pytest.mark.slow
@settings(max_examples=8, deadline=None)
@given(batch=small_shapes, sample=small_shapes, data=hs.data())
def test_sample_log_prob_expand_to_event_mask_shapes(batch, sample, data):
    loc = jnp.arange(float(np.prod(batch, dtype=int))).reshape(batch)
    d = dist.Normal(loc, 1.0)
    assert (d.batch_shape, d.event_shape) == (batch, ())
    x = d.sample(KEY, sample)
    assert x.shape == sample + batch == d.shape(sample)
    assert d.log_prob(x).shape == sample + batch

    # expand: new leading dims, and size-1 dims replaced
    extra = data.draw(small_shapes)
    new = extra + tuple(data.draw(hs.integers(1, 2)) if s == 1 else s for s in batch)
    e = d.expand(new)
    assert e.batch_shape == new
    assert e.sample(KEY, sample).shape == sample + new
    np.testing.assert_allclose(e.log_prob(jnp.zeros(new)), jnp.broadcast_to(d.log_prob(0.0), new))
    assert e.mean.shape == new

    # to_event: move the last k batch dims into the event
    k = data.draw(hs.integers(0, len(new)))
    i = e.to_event(k)
    assert (i.batch_shape, i.event_shape) == (new[: len(new) - k], new[len(new) - k :])
    value = e.sample(KEY)
    np.testing.assert_allclose(
        i.log_prob(value), util.sum_rightmost(e.log_prob(value), k), rtol=1e-6
    )

    # mask: a boolean array broadcastable to the batch shape
    mask = jnp.asarray(data.draw(hs.lists(hs.booleans(), min_size=1, max_size=1))[0])
    mask = jnp.broadcast_to(mask, new[len(new) - 1 :]) if new else mask
    m = e.mask(mask)
    assert m.batch_shape == new
    np.testing.assert_allclose(m.log_prob(value), jnp.where(mask, e.log_prob(value), 0.0))


def test_infer_shapes():
    assert dist.Normal.infer_shapes((3, 1), (4,)) == ((3, 4), ())
    assert dist.Normal.infer_shapes(loc=(2,), scale=()) == ((2,), ())
    assert dist.Uniform.infer_shapes((5,), (1,)) == ((5,), ())
    assert dist.MultivariateNormal.infer_shapes((2, 3), scale_tril=(3, 3)) == ((2,), (3,))


def test_expanded_distribution_samples_are_independent_and_in_place():
    # base batch (3, 1) -> (2, 3, 4): a new leading dim and an interstitial one
    loc = 100.0 * jnp.arange(3.0)[:, None]
    d = dist.Normal(loc, 1.0).expand((2, 3, 4))
    x = d.sample(KEY, (5,))
    assert x.shape == (5, 2, 3, 4)
    # each (i, j) cell keeps its own location ...
    np.testing.assert_allclose(np.asarray(x).mean((0, 1, 3)), [0.0, 100.0, 200.0], atol=2.0)
    # ... and every expanded cell gets its own draw
    flat = np.asarray(x - loc).reshape(-1)
    assert len(np.unique(flat)) == flat.size
    # expanding twice collapses onto the base distribution
    assert type(d.expand((7, 2, 3, 4)).base_dist) is dist.Normal
    with pytest.raises(ValueError, match="Cannot broadcast"):
        dist.Normal(jnp.zeros(3)).expand((4,))
    with pytest.raises(ValueError, match="Cannot broadcast"):
        dist.Normal(jnp.zeros((2, 3))).expand((3,))
    assert dist.Normal(jnp.zeros(3)).expand((3,)).batch_shape == (3,)
    np.testing.assert_allclose(d.variance, np.ones((2, 3, 4)))
    np.testing.assert_allclose(d.entropy(), dist.Normal().entropy() * np.ones((2, 3, 4)))


def test_expanded_enumerate_support():
    d = dist.Bernoulli(probs=0.3).expand((2, 3))
    assert d.has_enumerate_support
    assert d.enumerate_support().shape == (2, 2, 3)
    assert d.enumerate_support(expand=False).shape == (2, 1, 1)


def test_independent():
    base = dist.Normal(jnp.zeros((2, 3)), jnp.ones((2, 3)))
    d = dist.Independent(base, 1)
    assert (d.batch_shape, d.event_shape) == ((2,), (3,))
    assert d.support == constraints.independent(constraints.real, 1)
    x = d.sample(KEY, (4,))
    np.testing.assert_allclose(d.log_prob(x), base.log_prob(x).sum(-1), rtol=1e-6)
    np.testing.assert_allclose(d.entropy(), base.entropy().sum(-1), rtol=1e-6)
    assert d.has_rsample and not d.has_enumerate_support
    # nested reinterpretation merges; expand keeps the event
    dd = d.to_event()
    assert type(dd.base_dist) is dist.Normal and dd.event_shape == (2, 3)
    e = d.expand((5, 2))
    assert (e.batch_shape, e.event_shape) == ((5, 2), (3,))
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        dist.Independent(base, 3)
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        dist.Independent(base, -1)
    assert base.to_event(0) is base


def test_masked_distribution():
    base = dist.Normal(jnp.zeros(3), 1.0)
    assert base.mask(True) is base
    m = base.mask(False)
    np.testing.assert_array_equal(m.log_prob(jnp.ones((2, 3))), np.zeros((2, 3)))
    mask = jnp.array([True, False, True])
    m = base.mask(mask)
    # masked-out entries may be NaN placeholders: value and gradient stay finite
    value = jnp.array([0.5, jnp.nan, -0.5])
    lp, grad = jax.value_and_grad(lambda v: m.log_prob(v).sum())(value)
    np.testing.assert_allclose(lp, base.log_prob(jnp.array([0.5, 0.0, -0.5]))[::2].sum())
    assert np.all(np.isfinite(grad))
    # a mask broadcasting a batch dimension grows the batch
    m2 = dist.Normal(0.0, 1.0).mask(mask)
    assert m2.batch_shape == (3,)
    with pytest.raises(TypeError, match="boolean"):
        base.mask(jnp.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="broadcast"):
        base.mask(jnp.array([True, False]))


def test_transformed_distribution_matches_the_closed_form():
    affine = dist.TransformedDistribution(
        dist.Normal(0.0, 1.0), transforms.AffineTransform(2.0, 3.0)
    )
    ref = st.norm(2.0, 3.0)
    x = np.array([-1.0, 2.5, 7.0], np.float32)
    np.testing.assert_allclose(affine.log_prob(x), ref.logpdf(x), rtol=1e-5)
    np.testing.assert_allclose(affine.cdf(x), ref.cdf(x), atol=1e-6)
    np.testing.assert_allclose(affine.icdf(np.float32([0.1, 0.9])), ref.ppf([0.1, 0.9]), rtol=1e-5)
    # a decreasing map flips the cdf
    flipped = dist.TransformedDistribution(
        dist.Exponential(1.0), transforms.AffineTransform(0.0, -1.0)
    )
    np.testing.assert_allclose(flipped.cdf(-0.5), np.exp(-0.5), rtol=1e-6)
    np.testing.assert_allclose(flipped.icdf(np.exp(-0.5)), -0.5, rtol=1e-5)
    # chained transforms equal LogNormal
    chained = dist.TransformedDistribution(
        dist.Normal(0.3, 0.5), [transforms.ExpTransform(), transforms.AffineTransform(0.0, 2.0)]
    )
    ref = st.lognorm(0.5, scale=2.0 * np.exp(0.3))
    np.testing.assert_allclose(chained.log_prob(x[1:]), ref.logpdf(x[1:]), rtol=1e-5)
    # nesting flattens the transforms onto one base
    nested = dist.TransformedDistribution(chained, transforms.ExpTransform())
    assert type(nested.base_dist) is dist.Normal and len(nested.transforms) == 3
    with pytest.raises(ValueError, match="Transform"):
        dist.TransformedDistribution(dist.Normal(), [lambda x: x])


def test_transformed_distribution_intermediates_and_event_dims():
    base = dist.Normal(jnp.zeros(3), 1.0)
    d = dist.TransformedDistribution(base, transforms.StickBreakingTransform())
    assert (d.batch_shape, d.event_shape) == ((), (4,))
    x, intermediates = d.sample_with_intermediates(KEY, (5,))
    assert x.shape == (5, 4) and len(intermediates) == 1
    np.testing.assert_allclose(d.log_prob(x, intermediates), d.log_prob(x), rtol=1e-4)
    assert np.all(d.support(x))
    # d(rng_key=..., sample_intermediates=True) is the same path
    y, _ = d(rng_key=KEY, sample_shape=(5,), sample_intermediates=True)
    np.testing.assert_allclose(y, x)
    with pytest.raises(ValueError, match="intermediates"):
        d.log_prob(x, [])


def test_folded_distribution_is_scipy_foldnorm():
    mu, sigma = 0.7, 1.3
    d = dist.FoldedDistribution(dist.Normal(mu, sigma))
    ref = st.foldnorm(mu / sigma, scale=sigma)
    x = np.array([0.1, 0.9, 2.5], np.float32)
    np.testing.assert_allclose(d.log_prob(x), ref.logpdf(x), rtol=1e-5)
    np.testing.assert_allclose(d.cdf(x), ref.cdf(x), atol=1e-6)
    samples = d.sample(KEY, (10_000,))
    assert np.all(samples >= 0)
    assert st.kstest(np.asarray(samples, np.float64), ref.cdf).pvalue > 1e-3
    with pytest.raises(ValueError, match="univariate"):
        dist.FoldedDistribution(dist.Dirichlet(jnp.ones(3)))


def test_delta():
    v = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    d = dist.Delta(v, log_density=0.5, event_dim=1)
    assert (d.batch_shape, d.event_shape) == ((2,), (2,))
    assert d.sample(KEY, (3,)).shape == (3, 2, 2)
    np.testing.assert_allclose(d.log_prob(v), [0.5, 0.5])
    assert d.log_prob(v + 1.0)[0] == -jnp.inf
    np.testing.assert_array_equal(d.mean, v)
    np.testing.assert_array_equal(d.variance, jnp.zeros((2, 2)))
    assert d.has_rsample
    with pytest.raises(ValueError, match="event_dim"):
        dist.Delta(1.0, event_dim=1)


def test_unit_and_improper_uniform():
    u = dist.Unit(jnp.array([1.0, -2.0]))
    assert (u.batch_shape, u.event_shape) == ((2,), (0,))
    assert u.sample(KEY, (3,)).shape == (3, 2, 0)
    np.testing.assert_array_equal(u.log_prob(jnp.zeros((2, 0))), [1.0, -2.0])

    d = dist.ImproperUniform(constraints.positive, (3,), (2,))
    assert d.support == constraints.independent(constraints.positive, 1)
    assert d.log_prob(jnp.ones((5, 3, 2))).shape == (5, 3)
    with pytest.raises(NotImplementedError):
        d.sample(KEY)
    v = dist.ImproperUniform(constraints.positive, (), (2,), validate_args=True)
    with pytest.warns(UserWarning, match="Out-of-support"):
        np.testing.assert_array_equal(
            v.log_prob(jnp.array([[1.0, -1.0], [1.0, 1.0]])), [-np.inf, 0]
        )


def test_call_rsample_and_properties():
    d = dist.Normal(jnp.zeros(2), 1.0)
    assert d(rng_key=KEY, sample_shape=(3,)).shape == (3, 2)
    with pytest.raises(TypeError, match="rng_key"):
        d()
    assert d.has_rsample and not d.is_discrete and d.event_dim == 0
    np.testing.assert_array_equal(d.rsample(KEY), d.sample(KEY))
    vm = dist.VonMises(0.0, 1.0)
    assert not vm.has_rsample
    with pytest.raises(NotImplementedError, match="reparameterized"):
        vm.rsample(KEY)
    assert "Normal(batch_shape=(2,), event_shape=())" == repr(d)
    with pytest.raises(NotImplementedError, match="enumerable"):
        d.enumerate_support()


# -- pytrees ------------------------------------------------------------------------------


def _examples():
    tril = jnp.array([[1.0, 0.0], [0.5, 2.0]])
    return [
        dist.Normal(jnp.zeros(3), jnp.ones(3)),
        dist.Gamma(2.0, jnp.array([1.0, 3.0])),
        dist.Beta(2.0, 3.0),
        dist.BetaProportion(0.3, 4.0),
        dist.Chi2(3.0),
        dist.AsymmetricLaplaceQuantile(0.0, 1.0, 0.3),
        dist.Dirichlet(jnp.ones(3)),
        dist.LogNormal(0.0, 1.0),
        dist.InverseGamma(3.0, 2.0),
        dist.Pareto(1.0, 3.0),
        dist.Uniform(-1.0, 2.0),
        dist.GaussianRandomWalk(1.0, 4),
        dist.MultivariateNormal(jnp.zeros(2), scale_tril=tril),
        dist.LowRankMultivariateNormal(jnp.zeros(2), jnp.ones((2, 1)), jnp.ones(2)),
        dist.LKJCholesky(3, 2.0),
        dist.Normal(0.0, 1.0).expand((2, 3)),
        dist.Normal(jnp.zeros((2, 3)), 1.0).to_event(1),
        dist.Normal(jnp.zeros(3), 1.0).mask(jnp.array([True, False, True])),
        dist.Normal(jnp.zeros(3), 1.0).mask(False),
        dist.FoldedDistribution(dist.Normal(1.0, 1.0)),
        dist.Delta(jnp.ones(2), 0.3, event_dim=1),
        dist.Unit(jnp.array([-1.0, 0.5])),
        dist.ImproperUniform(constraints.real, (2,), ()),
        dist.ZeroSumNormal(1.0, (3,)),
    ]


@pytest.mark.parametrize("d", _examples(), ids=lambda d: type(d).__name__)
def test_distributions_are_pytrees_through_jit(d):
    # A feasible point rather than a draw: sampling would cost compilations.
    value = d.v if isinstance(d, dist.Delta) else d.support.feasible_like(jnp.zeros(d.shape()))
    expected = d.log_prob(value)
    leaves, treedef = jax.tree_util.tree_flatten(d)
    rebuilt = jax.tree_util.tree_unflatten(treedef, leaves)
    assert type(rebuilt) is type(d)
    assert (rebuilt.batch_shape, rebuilt.event_shape) == (d.batch_shape, d.event_shape)
    np.testing.assert_allclose(rebuilt.log_prob(value), expected, rtol=1e-6)
    np.testing.assert_allclose(jax.jit(lambda d, v: d.log_prob(v))(d, value), expected, rtol=1e-5)
    passed = jax.jit(lambda d: d)(d)
    assert type(passed) is type(d) and passed.batch_shape == d.batch_shape


def test_jit_of_log_prob_and_vmap_over_distributions():
    assert jax.jit(lambda d: d.log_prob(1.0))(dist.Normal(0.0, 1.0)) == pytest.approx(
        st.norm.logpdf(1.0), rel=1e-6
    )
    d = dist.Normal(jnp.arange(3.0), jnp.ones(3))
    x = jnp.array([0.5, 1.0, 4.0])
    np.testing.assert_allclose(jax.vmap(lambda d, x: d.log_prob(x))(d, x), d.log_prob(x))
    # the same model vmapped over keys
    samples = jax.vmap(lambda k: d.sample(k))(jax.random.split(KEY, 4))
    assert samples.shape == (4, 3)

    # distributions can be carried through lax.scan
    def step(carry, _):
        return dist.Normal(carry.loc + 1.0, carry.scale), carry.loc

    _, locs = jax.lax.scan(step, dist.Normal(jnp.zeros(2), jnp.ones(2)), None, length=3)
    np.testing.assert_array_equal(locs[:, 0], [0.0, 1.0, 2.0])


def test_lazy_parametrizations_survive_flattening():
    d = dist.MultivariateNormal(jnp.zeros(2), covariance_matrix=jnp.eye(2) * 4.0)
    rebuilt = jax.tree_util.tree_map(lambda x: x, d)
    np.testing.assert_allclose(rebuilt.precision_matrix, jnp.eye(2) / 4.0, rtol=1e-6)


# -- the package surface ------------------------------------------------------------------

# Modules whose public names are not distributions (or live elsewhere, like the
# reparameterizers served through ppl.infer.reparam).
NOT_EXPORTED = {"util", "plugin", "reparam", "conjugacy", "special"}


def test_every_module_export_is_a_package_export():
    modules = [m.name for m in pkgutil.iter_modules(dist.__path__)]
    assert {"distribution", "continuous", "multivariate", "kl"} <= set(modules)
    for name in sorted(set(modules) - NOT_EXPORTED):
        module = importlib.import_module(f"ppl.distributions.{name}")
        missing = sorted(set(getattr(module, "__all__", ())) - set(dist.__all__))
        assert not missing, f"ppl.distributions lacks {missing} from {name}"
    assert dist.constraints is constraints and dist.transforms is transforms
    assert callable(dist.kl_divergence)


def test_plugin_registers_every_public_distribution():
    from ppl.distributions.plugin import PPL_PLUGIN_API, public_distributions
    from ppl.plugins import registry

    assert PPL_PLUGIN_API == 1
    names = set(public_distributions())
    assert {"Normal", "Unit", "MultivariateNormal", "Bernoulli", "Distribution"} <= names
    assert not {"kl_divergence", "constraints"} & names
    for name in names:
        assert registry.lookup("distributions", name) is getattr(dist, name)


# -- util -----------------------------------------------------------------------------------


def test_promote_shapes_and_sum_rightmost():
    a, b = util.promote_shapes(jnp.ones(3), jnp.ones((2, 1)))
    assert a.shape == (1, 3) and b.shape == (2, 1)
    (c,) = util.promote_shapes(1.0, shape=(2, 3))
    assert np.shape(c) == (1, 1)
    assert util.promote_shapes(5.0) == (5.0,)
    x = jnp.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(util.sum_rightmost(x, 2), x.sum((1, 2)))
    np.testing.assert_array_equal(util.sum_rightmost(x, 0), x)
    assert util.sum_rightmost(2.0, 1) == 2.0


def test_triangular_packing_and_cholesky_helpers():
    rng = np.random.default_rng(0)
    v = jnp.asarray(rng.normal(size=(2, 6)), jnp.float32)
    m = util.vec_to_tril_matrix(v)
    assert m.shape == (2, 3, 3)
    np.testing.assert_array_equal(jnp.triu(m, 1), 0.0)
    np.testing.assert_array_equal(util.matrix_to_tril_vec(m), v)
    a = rng.normal(size=(3, 3))
    spd = jnp.asarray(a @ a.T + 3 * np.eye(3), jnp.float32)
    l_inv = util.cholesky_of_inverse(spd)
    np.testing.assert_allclose(l_inv @ l_inv.T, np.linalg.inv(spd), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(jnp.triu(l_inv, 1), 0.0)
    chol = jnp.linalg.cholesky(spd)
    x = jnp.asarray(rng.normal(size=3), jnp.float32)
    for coef in (1.0, -0.2):
        updated = util.cholesky_update(chol, x, coef)
        np.testing.assert_allclose(
            updated, np.linalg.cholesky(spd + coef * np.outer(x, x)), rtol=1e-4, atol=1e-5
        )


def test_log_space_helpers():
    x = np.array([-1e-8, -0.3, -5.0, -50.0])
    np.testing.assert_allclose(
        util.log1mexp(jnp.asarray(x, jnp.float32)), np.log(-np.expm1(x)), rtol=1e-5, atol=1e-12
    )
    np.testing.assert_allclose(util.logdiffexp(2.0, 1.0), np.log(np.exp(2) - np.exp(1)), rtol=1e-6)
    a = jnp.log(jnp.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_allclose(
        jnp.exp(util.logmatmulexp(a, a)), np.array([[7.0, 10.0], [15.0, 22.0]]), rtol=1e-5
    )
    np.testing.assert_allclose(
        util.binary_cross_entropy_with_logits(0.3, 1.0), -np.log(1 / (1 + np.exp(-0.3))), rtol=1e-6
    )
    np.testing.assert_array_equal(util.safe_normalize(jnp.zeros(3)), [1.0, 0.0, 0.0])


def test_lazy_property_caches_in_the_instance():
    calls = []

    class Thing:
        @util.lazy_property
        def value(self):
            calls.append(1)
            return 42

    t = Thing()
    assert t.value == 42 and t.value == 42 and len(calls) == 1
    assert "value" in t.__dict__
    assert isinstance(Thing.value, util.lazy_property)


def test_validate_sample_decorator_masks_out_of_support_values():
    d = dist.Beta(2.0, 2.0, validate_args=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = jax.jit(d.log_prob)(jnp.array([0.5, 1.5]))  # traced: no warning, still masked
    assert np.isfinite(out[0]) and out[1] == -jnp.inf
