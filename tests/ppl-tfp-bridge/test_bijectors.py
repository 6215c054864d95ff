"""TFP bijectors as ppl transforms (BijectorTransform) and ppl transforms as TFP bijectors."""

import pytest

pytest.importorskip("tensorflow_probability")

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats
from tensorflow_probability.substrates import jax as tfp

import ppl.distributions as dist
from ppl import constraints
from ppl.tfp import BijectorTransform, to_tfp_bijector
from ppl.tfp.support import BijectorConstraint
from ppl.transforms import ExpTransform, StickBreakingTransform, biject_to

tfd = tfp.distributions
tfb = tfp.bijectors


def test_exp_bijector_in_a_transformed_distribution():
    # Y = exp(X), X ~ Normal(0.3, 0.8): log p(y) = log N(log y; 0.3, 0.8) - log y.
    d = dist.TransformedDistribution(dist.Normal(0.3, 0.8), BijectorTransform(tfb.Exp()))
    assert d.support == constraints.positive
    y = np.array([0.2, 1.0, 3.5])
    expected = stats.norm.logpdf(np.log(y), 0.3, 0.8) - np.log(y)
    np.testing.assert_allclose(d.log_prob(jnp.asarray(y)), expected, rtol=1e-5)


def test_affine_vector_bijector_change_of_variables_by_hand():
    # Y = shift + L X with X ~ N(0, I_2): log p(y) = log N(L^{-1}(y - shift)) - log|det L|.
    tril = np.array([[1.5, 0.0], [0.7, 0.4]])
    shift = np.array([1.0, -2.0])
    bijector = tfb.Chain(
        [tfb.Shift(jnp.asarray(shift, jnp.float32)), tfb.ScaleMatvecTriL(jnp.asarray(tril))]
    )
    transform = BijectorTransform(bijector)
    assert transform.domain == constraints.real_vector
    assert transform.codomain == constraints.real_vector
    base = dist.Normal(jnp.zeros(2), 1.0).to_event(1)
    d = dist.TransformedDistribution(base, transform)
    assert d.event_shape == (2,) and d.batch_shape == ()
    y = np.array([[0.5, 0.5], [2.0, -3.0], [1.0, -2.0]])
    x = np.linalg.solve(tril, (y - shift).T).T
    expected = stats.norm.logpdf(x).sum(-1) - np.log(np.diag(tril)).sum()
    np.testing.assert_allclose(d.log_prob(jnp.asarray(y)), expected, rtol=1e-5)
    # And the same density as the distribution TFP itself builds.
    mvn = tfd.MultivariateNormalTriL(jnp.asarray(shift), jnp.asarray(tril))
    np.testing.assert_allclose(d.log_prob(jnp.asarray(y)), mvn.log_prob(jnp.asarray(y)), 1e-5)


def test_forward_inverse_and_log_det_against_autodiff():
    transform = BijectorTransform(tfb.Sigmoid(low=1.0, high=3.0))
    assert transform.domain is constraints.real
    assert transform.codomain == constraints.interval(1.0, 3.0)
    x = jnp.array([-3.0, -0.5, 0.0, 2.0])
    y = transform(x)
    np.testing.assert_allclose(y, 1.0 + 2.0 / (1.0 + np.exp(-np.asarray(x))), rtol=1e-6)
    np.testing.assert_allclose(transform.inv(y), x, atol=1e-5)
    derivative = jax.vmap(jax.grad(transform))(x)
    np.testing.assert_allclose(
        transform.log_abs_det_jacobian(x, y), np.log(derivative), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        transform.inv.log_abs_det_jacobian(y, x), -np.log(derivative), rtol=1e-5, atol=1e-6
    )


def test_shape_changing_bijector():
    transform = BijectorTransform(tfb.Reshape(event_shape_out=(6,), event_shape_in=(2, 3)))
    assert transform.forward_shape((5, 2, 3)) == (5, 6)
    assert transform.inverse_shape((5, 6)) == (5, 2, 3)
    assert transform.domain.event_dim == 2 and transform.codomain.event_dim == 1
    x = jnp.arange(12.0).reshape(2, 2, 3)
    np.testing.assert_array_equal(transform(x), x.reshape(2, 6))
    np.testing.assert_array_equal(transform.log_abs_det_jacobian(x, transform(x)), [0.0, 0.0])


def test_domain_override_for_a_bijector_on_a_constrained_set():
    transform = BijectorTransform(tfb.Log(), domain=constraints.positive, codomain=constraints.real)
    assert transform.domain is constraints.positive and transform.codomain is constraints.real
    assert transform.inv.domain is constraints.real
    np.testing.assert_allclose(transform(jnp.array(np.e)), 1.0, rtol=1e-6)


def test_unknown_bijector_has_a_bijector_constraint_codomain():
    bijector = tfb.GeneralizedPareto(loc=1.0, scale=2.0, concentration=0.5)
    transform = BijectorTransform(bijector)
    assert isinstance(transform.codomain, BijectorConstraint)
    # biject_to of that codomain is a transform built on the very same bijector.
    assert biject_to(transform.codomain).bijector is bijector


def test_pytree_and_equality():
    transform = BijectorTransform(tfb.Shift(jnp.array([1.0, 2.0])))
    leaves = jax.tree.leaves(transform)
    assert len(leaves) == 1
    out = jax.jit(lambda t, x: t(x))(transform, jnp.zeros(2))
    np.testing.assert_array_equal(out, [1.0, 2.0])
    assert transform == BijectorTransform(transform.bijector)
    assert transform != BijectorTransform(tfb.Shift(jnp.array([1.0, 2.0])))


def test_to_tfp_bijector_inside_tfp():
    bijector = to_tfp_bijector(ExpTransform())
    assert isinstance(bijector, tfb.Bijector)
    lognormal = tfd.TransformedDistribution(tfd.Normal(0.5, 1.2), bijector)
    y = jnp.array([0.3, 1.0, 4.0])
    expected = stats.lognorm.logpdf(np.asarray(y), 1.2, scale=np.exp(0.5))
    np.testing.assert_allclose(lognormal.log_prob(y), expected, rtol=1e-5)
    np.testing.assert_allclose(bijector.inverse(y), np.log(y), rtol=1e-6)
    np.testing.assert_allclose(
        bijector.inverse_log_det_jacobian(y, event_ndims=0), -np.log(y), rtol=1e-6
    )


def test_to_tfp_bijector_keeps_event_dims():
    transform = StickBreakingTransform()
    bijector = to_tfp_bijector(transform)
    assert bijector.forward_min_event_ndims == 1 and bijector.inverse_min_event_ndims == 1
    assert tuple(bijector.forward_event_shape((4, 2))) == (4, 3)
    assert tuple(bijector.inverse_event_shape((3,))) == (2,)
    x = jnp.array([[0.1, -0.4], [1.0, 2.0]])
    y = bijector.forward(x)
    np.testing.assert_allclose(y, transform(x), rtol=1e-6)
    np.testing.assert_allclose(
        bijector.forward_log_det_jacobian(x, event_ndims=1),
        transform.log_abs_det_jacobian(x, y),
        rtol=1e-6,
    )
    # Summing over one more (batch) dim follows TFP's event_ndims rule.
    np.testing.assert_allclose(
        bijector.forward_log_det_jacobian(x, event_ndims=2),
        transform.log_abs_det_jacobian(x, y).sum(),
        rtol=1e-6,
    )


def test_round_trip_is_the_identity():
    bijector = tfb.Softplus()
    assert to_tfp_bijector(BijectorTransform(bijector)) is bijector


def test_bad_inputs():
    with pytest.raises(TypeError, match=r"substrates\.jax bijector"):
        BijectorTransform(ExpTransform())
    with pytest.raises(TypeError, match="domain must be a ppl constraint"):
        BijectorTransform(tfb.Exp(), domain="real")
    with pytest.raises(TypeError, match=r"must be a ppl\.transforms\.Transform"):
        to_tfp_bijector(tfb.Exp())
