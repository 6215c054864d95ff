"""TFP distributions wrapped as ppl distributions: densities, supports, the ppl protocol."""

import pytest

pytest.importorskip("tensorflow_probability")

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats
from tensorflow_probability.substrates import jax as tfp

import ppl
import ppl.tfp.distributions as td
from ppl import constraints
from ppl.distributions import Distribution
from ppl.handlers import seed, trace
from ppl.infer.util import initialize_model, log_density
from ppl.tfp.support import BijectorConstraint, UnmappedSupport, UnmappedSupportError
from ppl.transforms import biject_to

tfd = tfp.distributions
tfb = tfp.bijectors

KEY = jax.random.PRNGKey(0)

# -- log densities against scipy (and TFP itself) --------------------------------------

LOC = np.array([-1.0, 0.0, 2.5])
SCALE = np.array([0.5, 1.0, 2.0])
GAMMA_SHAPE = np.array([[0.7, 2.0, 5.0], [1.0, 3.0, 9.0]])
GAMMA_RATE = np.array([1.5, 0.5, 2.0])
ALPHA = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]])
COV_TRIL = np.array([[[1.0, 0.0], [0.5, 2.0]], [[0.3, 0.0], [-0.2, 0.8]]])

CASES = [
    (
        "Normal",
        (LOC, SCALE),
        np.array([[0.3, -0.2, 4.0], [-1.0, 1.0, 0.0]]),
        lambda x: stats.norm.logpdf(x, LOC, SCALE),
        (3,),
        (),
    ),
    (
        "Gamma",
        (GAMMA_SHAPE, GAMMA_RATE),
        np.array([[0.4, 2.0, 3.0], [1.1, 0.2, 7.0]]),
        lambda x: stats.gamma.logpdf(x, GAMMA_SHAPE, scale=1 / GAMMA_RATE),
        (2, 3),
        (),
    ),
    (
        "Beta",
        (np.array([0.5, 2.0]), np.array([3.0, 1.5])),
        np.array([0.2, 0.7]),
        lambda x: stats.beta.logpdf(x, [0.5, 2.0], [3.0, 1.5]),
        (2,),
        (),
    ),
    (
        "Dirichlet",
        (ALPHA,),
        np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]),
        lambda x: np.array([stats.dirichlet.logpdf(x[i], ALPHA[i]) for i in range(2)]),
        (2,),
        (3,),
    ),
    (
        "MultivariateNormalTriL",
        (np.array([[0.0, 1.0], [2.0, -1.0]]), COV_TRIL),
        np.array([[0.5, 0.5], [1.0, 0.0]]),
        lambda x: np.array(
            [
                stats.multivariate_normal.logpdf(
                    x[i], [[0.0, 1.0], [2.0, -1.0]][i], COV_TRIL[i] @ COV_TRIL[i].T
                )
                for i in range(2)
            ]
        ),
        (2,),
        (2,),
    ),
    (
        "Poisson",
        (np.array([0.5, 3.0, 10.0]),),
        np.array([0.0, 2.0, 13.0]),
        lambda x: stats.poisson.logpmf(x, [0.5, 3.0, 10.0]),
        (3,),
        (),
    ),
    (
        "StudentT",
        (np.array(3.0), LOC, SCALE),
        np.array([0.0, 1.0, -2.0]),
        lambda x: stats.t.logpdf(x, 3.0, LOC, SCALE),
        (3,),
        (),
    ),
]


@pytest.mark.parametrize(
    "name, args, value, expected, batch_shape, event_shape", CASES, ids=[c[0] for c in CASES]
)
def test_log_prob_matches_scipy_and_tfp(name, args, value, expected, batch_shape, event_shape):
    d = getattr(td, name)(*[jnp.asarray(a, jnp.float32) for a in args])
    assert isinstance(d, Distribution)
    assert d.batch_shape == batch_shape and d.event_shape == event_shape
    assert isinstance(d.batch_shape, tuple) and isinstance(d.event_shape, tuple)
    log_prob = d.log_prob(jnp.asarray(value, jnp.float32))
    np.testing.assert_allclose(log_prob, expected(value), rtol=2e-5, atol=2e-5)
    own = getattr(tfd, name)(*[jnp.asarray(a, jnp.float32) for a in args]).log_prob(value)
    np.testing.assert_array_equal(log_prob, own)


def test_categorical_log_prob_with_batch():
    probs = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]], np.float32)
    d = td.Categorical(probs=probs)
    value = np.array([[2, 0], [1, 1]])  # sample_shape (2,) + batch_shape (2,)
    expected = np.log(probs[np.arange(2), value])
    np.testing.assert_allclose(d.log_prob(value), expected, rtol=1e-6)
    assert d.batch_shape == (2,) and d.support == constraints.integer_interval(0, 2)


# -- supports ------------------------------------------------------------------------

SUPPORTS = [
    (lambda: tfd.Normal(0.0, 1.0), constraints.real),
    (lambda: tfd.Gamma(2.0, 1.0), constraints.positive),
    (lambda: tfd.HalfNormal(1.0), constraints.positive),
    (lambda: tfd.LogNormal(0.0, 1.0), constraints.positive),
    (lambda: tfd.InverseGamma(2.0, 1.0), constraints.positive),
    (lambda: tfd.Beta(2.0, 3.0), constraints.unit_interval),
    (lambda: tfd.Uniform(1.0, 3.0), constraints.interval(1.0, 3.0)),
    (lambda: tfd.TruncatedNormal(0.0, 1.0, -1.0, 2.0), constraints.interval(-1.0, 2.0)),
    (lambda: tfd.Pareto(2.0, 1.5), constraints.greater_than(1.5)),
    (lambda: tfd.VonMises(0.0, 1.0), constraints.circular),
    (lambda: tfd.Dirichlet(jnp.ones(3)), constraints.simplex),
    (lambda: tfd.MultivariateNormalDiag(jnp.zeros(2)), constraints.real_vector),
    (lambda: tfd.LKJ(3, 2.0), constraints.corr_matrix),
    (lambda: tfd.CholeskyLKJ(3, 2.0), constraints.corr_cholesky),
    (lambda: tfd.WishartTriL(4.0, jnp.eye(3)), constraints.positive_definite),
    (lambda: tfd.Poisson(3.0), constraints.nonnegative_integer),
    (lambda: tfd.Bernoulli(probs=0.3), constraints.boolean),
    (lambda: tfd.Categorical(logits=jnp.zeros(4)), constraints.integer_interval(0, 3)),
    (lambda: tfd.Binomial(5.0, probs=0.3), constraints.integer_interval(0, 5.0)),
    (lambda: tfd.Multinomial(4.0, probs=jnp.ones(3) / 3), constraints.multinomial(4.0)),
    (lambda: tfd.OneHotCategorical(probs=jnp.ones(3) / 3), constraints.multinomial(1)),
    (lambda: tfd.Zipf(2.0), constraints.positive_integer),
    (
        lambda: tfd.Independent(tfd.Beta(jnp.ones(2), 1.0), 1),
        constraints.independent(constraints.unit_interval, 1),
    ),
    (
        lambda: tfd.Sample(tfd.Gamma(2.0, 1.0), 3),
        constraints.independent(constraints.positive, 1),
    ),
    (
        lambda: tfd.TransformedDistribution(tfd.Normal(0.0, 1.0), tfb.Exp()),
        constraints.positive,
    ),
    (
        lambda: tfd.TransformedDistribution(
            tfd.Normal(0.0, 1.0), tfb.Chain([tfb.Shift(2.0), tfb.Scale(-1.0), tfb.Exp()])
        ),
        constraints.less_than(2.0),
    ),
    (
        lambda: tfd.MixtureSameFamily(
            tfd.Categorical(probs=jnp.ones(2) / 2), tfd.Gamma(jnp.ones(2), 1.0)
        ),
        constraints.positive,
    ),
]


@pytest.mark.parametrize("make, expected", SUPPORTS, ids=lambda x: getattr(x, "__name__", ""))
def test_support_maps_to_ppl_constraint(make, expected):
    d = td.wrap(make())
    assert d.support == expected, (d.support, expected)
    assert d.support.event_dim == len(d.event_shape)
    assert d.is_discrete == expected.is_discrete


@pytest.mark.parametrize(
    "make",
    [
        lambda: tfd.Gamma(2.0, 1.0),
        lambda: tfd.Uniform(1.0, 3.0),
        lambda: tfd.Pareto(2.0, 1.5),
        lambda: tfd.Dirichlet(jnp.ones(3)),
        lambda: tfd.LKJ(3, 2.0),
        lambda: tfd.GeneralizedExtremeValue(0.0, 1.0, 0.5),
    ],
)
def test_biject_to_support_lands_in_the_support_with_finite_density(make):
    d = td.wrap(make())
    transform = biject_to(d.support)
    z = jax.random.normal(KEY, (5, *transform.inverse_shape(d.event_shape)))
    x = transform(z)
    assert x.shape == (5, *d.event_shape)
    assert bool(jnp.all(d.support(x)))
    assert bool(jnp.all(jnp.isfinite(d.log_prob(x))))


def test_unknown_bijector_gives_a_bijector_constraint_with_the_right_image():
    # GEV(loc=0, scale=1, concentration=0.5) lives on x > loc - scale / concentration = -2.
    d = td.GeneralizedExtremeValue(0.0, 1.0, 0.5)
    support = d.support
    assert isinstance(support, BijectorConstraint) and not support.is_discrete
    transform = biject_to(support)

    @jax.jit
    def evaluate(x, z):
        y = transform(z)
        grad = jax.vmap(jax.grad(transform))(z)
        return {
            "member": support(x),
            "y": y,
            "round_trip": transform.inv(y),
            "log_det": transform.log_abs_det_jacobian(z, y),
            "log_grad": jnp.log(jnp.abs(grad)),
            "feasible": support(support.feasible_like(jnp.zeros(3))),
        }

    z = jnp.linspace(-4.0, 4.0, 9)
    out = evaluate(jnp.array([-3.0, -2.5, -1.5, 0.0, 4.0]), z)
    np.testing.assert_array_equal(out["member"], [False, False, True, True, True])
    assert bool(jnp.all(out["y"] > -2.0)) and bool(jnp.all(out["feasible"]))
    np.testing.assert_allclose(out["round_trip"], z, atol=2e-4)
    # The log Jacobian is that of the TFP bijector, checked by autodiff.
    np.testing.assert_allclose(out["log_det"], out["log_grad"], rtol=1e-4)


def test_latent_site_with_a_bijector_constraint_uses_the_tfp_bijector():
    # U(z) = -log p(b(z)) - log|b'(z)| with b TFP's event-space bijector for GEV.
    gev = tfd.GeneralizedExtremeValue(0.0, 1.0, 0.5)

    def model():
        ppl.sample("x", gev)

    info = initialize_model(jax.random.PRNGKey(0), model)
    z = info.param_info.z["x"]
    bijector = gev.experimental_default_event_space_bijector()
    x = bijector.forward(z)
    expected = -(gev.log_prob(x) + bijector.forward_log_det_jacobian(z, event_ndims=0))
    np.testing.assert_allclose(info.potential_fn({"x": z}), expected, rtol=1e-5)
    np.testing.assert_allclose(info.postprocess_fn({"x": z})["x"], x, rtol=1e-6)
    assert float(x) > -2.0


# -- the ppl protocol ------------------------------------------------------------------


def test_sample_uses_a_jax_key_and_shapes():
    d = td.Normal(jnp.zeros(3), 1.0)
    x = d.sample(KEY, (4, 2))
    assert x.shape == (4, 2, 3)
    np.testing.assert_array_equal(x, tfd.Normal(jnp.zeros(3), 1.0).sample((4, 2), seed=KEY))
    np.testing.assert_array_equal(d(rng_key=KEY, sample_shape=(4, 2)), x)
    assert d.rsample(KEY).shape == (3,)


def test_has_rsample_follows_reparameterization_type():
    assert td.Normal(0.0, 1.0).has_rsample
    poisson = td.Poisson(3.0)
    assert not poisson.has_rsample and poisson.is_discrete
    with pytest.raises(NotImplementedError):
        poisson.rsample(KEY)


def test_moments_and_delegated_attributes():
    d = td.Gamma(jnp.array([2.0, 3.0]), 4.0)
    np.testing.assert_allclose(d.mean, [0.5, 0.75])
    np.testing.assert_allclose(d.variance, [2.0 / 16, 3.0 / 16])
    np.testing.assert_allclose(d.cdf(0.5), stats.gamma.cdf(0.5, [2.0, 3.0], scale=0.25), 1e-5)
    np.testing.assert_allclose(td.Normal(1.0, 2.0).icdf(0.975), 1.0 + 2.0 * 1.959964, 1e-5)
    np.testing.assert_array_equal(d.concentration, [2.0, 3.0])
    with pytest.raises(AttributeError):
        d.no_such_attribute  # noqa: B018


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: td.Bernoulli(probs=jnp.array([0.2, 0.7])), [[0, 0], [1, 1]]),
        (lambda: td.Categorical(probs=jnp.ones(3) / 3), [0, 1, 2]),
        (lambda: td.Binomial(2.0, probs=jnp.array([0.2, 0.7])), [[0, 0], [1, 1], [2, 2]]),
        (
            lambda: td.OneHotCategorical(probs=jnp.ones(2) / 2),
            [[1, 0], [0, 1]],
        ),
        (lambda: td.FiniteDiscrete([1.0, 2.0, 5.0], probs=jnp.ones(3) / 3), [1.0, 2.0, 5.0]),
    ],
)
def test_enumerate_support(make, expected):
    d = make()
    assert d.has_enumerate_support
    values = d.enumerate_support()
    np.testing.assert_array_equal(values, expected)
    # Every enumerated value has positive mass and the masses sum to one.
    total = jnp.exp(d.log_prob(values)).sum(0)
    np.testing.assert_allclose(total, jnp.ones(d.batch_shape), rtol=1e-5)
    unexpanded = d.enumerate_support(expand=False)
    assert unexpanded.shape == (len(expected), *(1,) * len(d.batch_shape), *d.event_shape)


def test_no_enumeration_for_infinite_supports():
    d = td.Poisson(3.0)
    assert not d.has_enumerate_support
    with pytest.raises(NotImplementedError, match="finite support"):
        d.enumerate_support()


def test_expand_and_to_event():
    d = td.Normal(jnp.array([0.0, 1.0]), 1.0)
    expanded = d.expand((3, 2))
    assert expanded.batch_shape == (3, 2)
    assert expanded.sample(KEY, (4,)).shape == (4, 3, 2)
    value = jnp.array([0.5, -0.5])
    independent = d.to_event(1)
    assert independent.event_shape == (2,) and independent.batch_shape == ()
    expected = stats.norm.logpdf([0.5, -0.5], [0.0, 1.0]).sum()
    np.testing.assert_allclose(independent.log_prob(value), expected, rtol=1e-6)
    np.testing.assert_allclose(expanded.log_prob(value), np.tile(d.log_prob(value), (3, 1)))
    assert independent.support == constraints.real_vector


def test_pytree_through_jit_and_vmap():
    d = td.Normal(jnp.array([0.0, 1.0]), 2.0)
    leaves, treedef = jax.tree.flatten(d)
    assert len(leaves) == 2
    rebuilt = jax.tree.unflatten(treedef, leaves)
    assert type(rebuilt) is type(d) and rebuilt.batch_shape == (2,)
    log_prob = jax.jit(lambda dist, x: dist.log_prob(x))(d, 0.5)
    np.testing.assert_allclose(log_prob, stats.norm.logpdf(0.5, [0.0, 1.0], 2.0), rtol=1e-6)
    locs = jnp.arange(3.0)
    out = jax.vmap(lambda loc: td.Normal(loc, 1.0).log_prob(0.0))(locs)
    np.testing.assert_allclose(out, stats.norm.logpdf(0.0, [0.0, 1.0, 2.0]), rtol=1e-6)


def test_infer_shapes_uses_tfp_shape_rules():
    assert td.Normal.infer_shapes((3, 1), (4,)) == ((3, 4), ())
    assert td.MultivariateNormalTriL.infer_shapes((2, 3), (3, 3)) == ((2,), (3,))


def test_wrapper_classes_for_every_tfp_class_and_for_new_ones(monkeypatch):
    names = [n for n in dir(td) if isinstance(getattr(tfd, n, None), type)]
    assert {"Normal", "GeneralizedExtremeValue", "JointDistributionNamed"} <= set(names)
    for name in names:
        cls = getattr(td, name)
        assert issubclass(cls, td.TFPDistribution) and cls.tfp_class is getattr(tfd, name)
    assert td.Normal is td.wrapper_class(tfd.Normal)

    class ShiftedNormal(tfd.Normal):
        """A TFP class the bridge has never heard of."""

    monkeypatch.setattr(tfd, "ShiftedNormal", ShiftedNormal, raising=False)
    d = td.ShiftedNormal(1.0, 2.0)
    assert d.support is constraints.real
    np.testing.assert_allclose(d.log_prob(0.0), stats.norm.logpdf(0.0, 1.0, 2.0), rtol=1e-6)


# -- raw TFP objects at sample sites -----------------------------------------------------


def test_raw_tfp_distribution_at_a_sample_site():
    def model(y):
        scale = ppl.sample("scale", tfd.Gamma(2.0, 2.0))
        with ppl.plate("data", y.shape[0]):
            ppl.sample("y", tfd.Normal(0.0, scale), obs=y)

    y = jnp.array([0.5, -1.0, 2.0])
    model_trace = trace(seed(model, rng_seed=0)).get_trace(y)
    site = model_trace["scale"]
    assert isinstance(site["fn"], td.Gamma) and site["fn"].support is constraints.positive
    assert float(site["value"]) > 0
    assert model_trace["y"]["fn"].batch_shape == (3,)
    log_joint = jax.jit(lambda s: log_density(model, (y,), {}, {"scale": s})[0])(1.5)
    expected = stats.gamma.logpdf(1.5, 2.0, scale=0.5) + stats.norm.logpdf(y, 0.0, 1.5).sum()
    np.testing.assert_allclose(log_joint, expected, rtol=1e-5)


def test_observed_site_with_an_unmapped_support_needs_no_support():
    def model():
        ppl.sample("k", tfd.Skellam(2.0, 3.0), obs=jnp.array([-1.0, 0.0, 4.0]))

    log_joint = jax.jit(lambda: log_density(model, (), {}, {})[0])()
    expected = stats.skellam.logpmf([-1, 0, 4], 2.0, 3.0).sum()
    np.testing.assert_allclose(log_joint, expected, rtol=1e-4)


# -- bad input ----------------------------------------------------------------------------


def test_unmapped_support_says_to_pass_a_constraint():
    d = td.FiniteDiscrete([1.0, 2.0, 5.0], probs=jnp.ones(3) / 3)
    assert isinstance(d.support, UnmappedSupport) and d.is_discrete
    for use in (lambda: biject_to(d.support), lambda: d.support(jnp.array(2.0))):
        with pytest.raises(UnmappedSupportError, match=r"FiniteDiscrete.*support="):
            use()
    checked = td.Skellam(1.0, 2.0, validate_args=True)
    with pytest.raises(UnmappedSupportError, match=r"Skellam.*support="):
        checked.log_prob(1.0)


def test_support_override():
    d = td.FiniteDiscrete(
        [0.0, 1.0, 2.0], probs=jnp.ones(3) / 3, support=constraints.integer_interval(0, 2)
    )
    assert d.support == constraints.integer_interval(0, 2)
    np.testing.assert_array_equal(d.support(jnp.array([0.0, 2.0, 3.0, 0.5])), [1, 1, 0, 0])
    wrapped = td.wrap(tfd.Normal(jnp.zeros(2), 1.0), support=constraints.real)
    assert wrapped.support == constraints.real
    vector = td.wrap(tfd.Sample(tfd.Exponential(1.0), 2), support=constraints.positive)
    assert vector.support == constraints.independent(constraints.positive, 1)


def test_bad_support_overrides_are_explained():
    with pytest.raises(TypeError, match="support must be a ppl constraint"):
        td.Normal(0.0, 1.0, support="real")
    with pytest.raises(ValueError, match="event_dim 1"):
        td.Normal(0.0, 1.0, support=constraints.simplex)


def test_other_bad_inputs():
    with pytest.raises(TypeError, match="generated wrappers"):
        td.TFPDistribution(0.0, 1.0)
    with pytest.raises(TypeError, match=r"tensorflow_probability\.substrates\.jax distribution"):
        td.wrap(object())
    with pytest.raises(TypeError, match="structured"):
        td.wrap(tfd.JointDistributionNamed({"a": tfd.Normal(0.0, 1.0)}))
    with pytest.raises(AttributeError, match="no distribution class"):
        td.NoSuchDistribution  # noqa: B018
    with pytest.raises(TypeError, match="bijector"):
        ppl.sample("x", tfb.Exp(), rng_key=KEY)
