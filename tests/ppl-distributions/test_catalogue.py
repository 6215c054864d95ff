"""Properties every public distribution must have, checked over one example of each.

Samples lie in the support and their mean and variance agree with the closed forms
(where those exist and the fourth moment is finite); log_prob has finite gradients
in every parameter; reparameterized samples have finite, nonzero gradients.
Family-specific checks against scipy live in the other test files.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import ppl.distributions as dist
from ppl.distributions.plugin import public_distributions

A = jnp.array
COV = A([[2.0, 0.5], [0.5, 1.0]])
TRIL = jnp.linalg.cholesky(COV)
CORR = A([[1.0, 0.3], [0.3, 1.0]])
ADJ = A([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
PROBS = A([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])


def _ou_sde(x, t):
    return -x, 0.5 * jnp.ones_like(x)


# Batch shape (2,) where the family allows it; parameters keep fourth moments finite.
EXAMPLES = {
    "AsymmetricLaplace": lambda: dist.AsymmetricLaplace(A([0.0, 1.0]), 1.0, A([0.5, 2.0])),
    "AsymmetricLaplaceQuantile": lambda: dist.AsymmetricLaplaceQuantile(0.0, 1.0, A([0.3, 0.6])),
    "Bernoulli": lambda: dist.Bernoulli(probs=A([0.3, 0.8])),
    "BernoulliLogits": lambda: dist.BernoulliLogits(A([0.3, -1.0])),
    "BernoulliProbs": lambda: dist.BernoulliProbs(A([0.3, 0.8])),
    "Beta": lambda: dist.Beta(A([2.0, 0.7]), 3.0),
    "BetaBinomial": lambda: dist.BetaBinomial(A([2.0, 0.7]), 3.0, 5),
    "BetaNegativeBinomial": lambda: dist.BetaNegativeBinomial(9.0, A([3.0, 5.0]), 2.0),
    "BetaProportion": lambda: dist.BetaProportion(A([0.3, 0.6]), 5.0),
    "Binomial": lambda: dist.Binomial(5, probs=A([0.3, 0.8])),
    "BinomialLogits": lambda: dist.BinomialLogits(A([0.3, -1.0]), 5),
    "BinomialProbs": lambda: dist.BinomialProbs(A([0.3, 0.8]), 5),
    "CAR": lambda: dist.CAR(jnp.zeros(3), 0.5, 1.0, ADJ),
    "Categorical": lambda: dist.Categorical(probs=PROBS),
    "CategoricalLogits": lambda: dist.CategoricalLogits(jnp.log(PROBS)),
    "CategoricalProbs": lambda: dist.CategoricalProbs(PROBS),
    "Cauchy": lambda: dist.Cauchy(A([0.0, 1.0]), 1.0),
    "Chi2": lambda: dist.Chi2(A([3.0, 7.0])),
    "CirculantNormal": lambda: dist.CirculantNormal(jnp.zeros(4), A([1.0, 0.3, 0.1, 0.3])),
    "Dagum": lambda: dist.Dagum(A([0.7, 2.0]), 9.0, 1.5),
    "Delta": lambda: dist.Delta(A([1.0, 2.0]), 0.5),
    "Dirichlet": lambda: dist.Dirichlet(PROBS * 5),
    "DirichletMultinomial": lambda: dist.DirichletMultinomial(PROBS * 5, 4),
    "DiscreteUniform": lambda: dist.DiscreteUniform(A([0, -2]), 4),
    "Distribution": None,  # the abstract base
    "DoublyTruncatedPowerLaw": lambda: dist.DoublyTruncatedPowerLaw(A([-2.0, 1.5]), 1.0, 3.0),
    "EulerMaruyama": lambda: dist.EulerMaruyama(
        jnp.linspace(0.0, 1.0, 4), _ou_sde, dist.Normal(jnp.zeros(2), 1.0).to_event(1)
    ),
    "ExpandedDistribution": lambda: dist.ExpandedDistribution(dist.Gamma(2.0, 3.0), (2,)),
    "Exponential": lambda: dist.Exponential(A([2.0, 0.5])),
    "FoldedDistribution": lambda: dist.FoldedDistribution(dist.Normal(A([1.0, -0.5]), 1.0)),
    "Gamma": lambda: dist.Gamma(A([2.0, 0.7]), 3.0),
    "GammaPoisson": lambda: dist.GammaPoisson(A([2.0, 0.7]), 0.5),
    "GaussianCopula": lambda: dist.GaussianCopula(dist.Beta(A([2.0, 3.0]), 3.0), CORR),
    "GaussianCopulaBeta": lambda: dist.GaussianCopulaBeta(A([2.0, 3.0]), 3.0, CORR),
    "GaussianRandomWalk": lambda: dist.GaussianRandomWalk(A([1.0, 0.5]), 3),
    "GaussianStateSpace": lambda: dist.GaussianStateSpace(
        3, A([[0.5, 0.1], [0.0, 0.7]]), scale_tril=TRIL, initial_value=A([1.0, -1.0])
    ),
    "Geometric": lambda: dist.Geometric(probs=A([0.3, 0.8])),
    "GeometricLogits": lambda: dist.GeometricLogits(A([0.3, -1.0])),
    "GeometricProbs": lambda: dist.GeometricProbs(A([0.3, 0.8])),
    "Gompertz": lambda: dist.Gompertz(A([0.5, 2.0]), 2.0),
    "Gumbel": lambda: dist.Gumbel(A([0.0, 1.0]), 2.0),
    "HalfCauchy": lambda: dist.HalfCauchy(A([1.0, 2.0])),
    "HalfNormal": lambda: dist.HalfNormal(A([1.0, 2.0])),
    "HurdleDistribution": lambda: dist.HurdleDistribution(dist.Poisson(A([2.0, 4.0])), gate=0.3),
    "HurdleGamma": lambda: dist.HurdleGamma(A([0.3, 0.6]), 2.0, 3.0),
    "HurdleLogNormal": lambda: dist.HurdleLogNormal(A([0.3, 0.6]), 0.0, 0.5),
    "HurdleLogits": lambda: dist.HurdleLogits(dist.Poisson(A([2.0, 4.0])), 0.3),
    "HurdleNegativeBinomial2": lambda: dist.HurdleNegativeBinomial2(A([0.3, 0.6]), 2.0, 3.0),
    "HurdlePoisson": lambda: dist.HurdlePoisson(A([0.3, 0.6]), 2.0),
    "HurdleProbs": lambda: dist.HurdleProbs(dist.Poisson(A([2.0, 4.0])), 0.3),
    "ImproperUniform": lambda: dist.ImproperUniform(dist.constraints.positive, (2,), ()),
    "Independent": lambda: dist.Independent(dist.Normal(jnp.zeros((2, 3)), 1.0), 1),
    "IntervalCensoredDistribution": lambda: dist.IntervalCensoredDistribution(
        dist.Normal(A([0.0, 1.0]), 1.0), A([0, 1]), A([1, 0])
    ),
    "InverseGamma": lambda: dist.InverseGamma(A([6.0, 9.0]), 2.0),
    "InverseWishart": lambda: dist.InverseWishart(A([9.0, 12.0]), scale_matrix=COV),
    "InverseWishartCholesky": lambda: dist.InverseWishartCholesky(A([9.0, 12.0]), scale_matrix=COV),
    "Kumaraswamy": lambda: dist.Kumaraswamy(A([2.0, 0.7]), 3.0),
    "LKJ": lambda: dist.LKJ(3, A([2.0, 0.5])),
    "LKJCholesky": lambda: dist.LKJCholesky(3, A([2.0, 0.5])),
    "Laplace": lambda: dist.Laplace(A([0.0, 1.0]), 2.0),
    "LeftCensoredDistribution": lambda: dist.LeftCensoredDistribution(
        dist.Normal(A([0.0, 1.0]), 1.0), A([0, 1])
    ),
    "LeftTruncatedDistribution": lambda: dist.LeftTruncatedDistribution(
        dist.Normal(A([0.0, 1.0]), 1.0), -0.5
    ),
    "LeftTruncatedGamma": lambda: dist.LeftTruncatedGamma(dist.Gamma(A([2.0, 0.7]), 3.0), 0.5),
    "Levy": lambda: dist.Levy(A([0.0, 1.0]), 2.0),
    "LogNormal": lambda: dist.LogNormal(A([0.0, 1.0]), 0.4),
    "LogUniform": lambda: dist.LogUniform(A([1.0, 0.5]), 3.0),
    "Logistic": lambda: dist.Logistic(A([0.0, 1.0]), 2.0),
    "LowRankMultivariateNormal": lambda: dist.LowRankMultivariateNormal(
        jnp.zeros(2), A([[1.0], [0.5]]), A([1.0, 0.5])
    ),
    "LowerTruncatedPowerLaw": lambda: dist.LowerTruncatedPowerLaw(A([-7.0, -9.0]), 1.0),
    "MaskedDistribution": lambda: dist.MaskedDistribution(
        dist.Normal(A([0.0, 1.0]), 1.0), A([True, False])
    ),
    "MatrixNormal": lambda: dist.MatrixNormal(jnp.ones((2, 3)), TRIL, 0.5 * jnp.eye(3)),
    "Mixture": lambda: dist.Mixture(
        dist.Categorical(probs=A([0.3, 0.7])), [dist.Normal(0.0, 1.0), dist.Logistic(2.0, 1.0)]
    ),
    "MixtureGeneral": lambda: dist.MixtureGeneral(
        dist.Categorical(probs=A([0.3, 0.7])), [dist.Normal(0.0, 1.0), dist.Normal(2.0, 0.5)]
    ),
    "MixtureSameFamily": lambda: dist.MixtureSameFamily(
        dist.Categorical(probs=A([0.3, 0.7])), dist.Normal(A([0.0, 2.0]), A([1.0, 0.5]))
    ),
    "Multinomial": lambda: dist.Multinomial(4, probs=PROBS),
    "MultinomialLogits": lambda: dist.MultinomialLogits(jnp.log(PROBS), 4),
    "MultinomialProbs": lambda: dist.MultinomialProbs(PROBS, 4),
    "MultivariateNormal": lambda: dist.MultivariateNormal(A([[0.0, 1.0], [1.0, 0.0]]), COV),
    "MultivariateStudentT": lambda: dist.MultivariateStudentT(A([9.0, 12.0]), jnp.zeros(2), TRIL),
    "NegativeBinomial": lambda: dist.NegativeBinomial(3.0, probs=A([0.4, 0.7])),
    "NegativeBinomial2": lambda: dist.NegativeBinomial2(A([2.0, 5.0]), 3.0),
    "NegativeBinomialLogits": lambda: dist.NegativeBinomialLogits(3.0, A([0.4, -0.7])),
    "NegativeBinomialProbs": lambda: dist.NegativeBinomialProbs(3.0, A([0.4, 0.7])),
    "Normal": lambda: dist.Normal(A([0.0, 1.0]), 2.0),
    "OrderedLogistic": lambda: dist.OrderedLogistic(A([0.3, -1.0]), A([-1.0, 0.5, 2.0])),
    "Pareto": lambda: dist.Pareto(1.0, A([9.0, 6.0])),
    "Poisson": lambda: dist.Poisson(A([2.0, 0.5])),
    "ProjectedNormal": lambda: dist.ProjectedNormal(A([[1.0, 0.5, 0.2], [0.0, 0.0, 2.0]])),
    "RelaxedBernoulli": lambda: dist.RelaxedBernoulli(A([0.5, 2.0]), probs=0.3),
    "RelaxedBernoulliLogits": lambda: dist.RelaxedBernoulliLogits(0.5, A([0.3, -2.0])),
    "RightCensoredDistribution": lambda: dist.RightCensoredDistribution(
        dist.Normal(A([0.0, 1.0]), 1.0), A([0, 1])
    ),
    "RightTruncatedDistribution": lambda: dist.RightTruncatedDistribution(
        dist.Normal(A([0.0, 1.0]), 1.0), 0.5
    ),
    "RightTruncatedGamma": lambda: dist.RightTruncatedGamma(dist.Gamma(A([2.0, 0.7]), 3.0), 1.5),
    "SineBivariateVonMises": lambda: dist.SineBivariateVonMises(0.0, 0.5, 1.0, 2.0, 0.3),
    "SineSkewed": lambda: dist.SineSkewed(
        dist.VonMises(A([0.0, 0.5]), A([1.0, 2.0])).to_event(1), A([0.2, 0.3])
    ),
    "SoftLaplace": lambda: dist.SoftLaplace(A([0.0, 1.0]), 2.0),
    "StudentT": lambda: dist.StudentT(A([5.5, 9.0]), 0.0, 1.0),
    "TransformedDistribution": lambda: dist.TransformedDistribution(
        dist.Normal(A([0.0, 1.0]), 0.3), dist.transforms.ExpTransform()
    ),
    "TruncatedCauchy": lambda: dist.TruncatedCauchy(A([0.0, 1.0]), 1.0, low=-1.0, high=2.0),
    "TruncatedDistribution": lambda: dist.TruncatedDistribution(
        dist.Logistic(A([0.0, 1.0]), 1.0), -1.0, 2.0
    ),
    "TruncatedGamma": lambda: dist.TruncatedGamma(A([2.0, 0.7]), 3.0, low=0.2, high=1.5),
    "TruncatedNormal": lambda: dist.TruncatedNormal(A([0.0, 1.0]), 1.0, low=-1.0, high=2.0),
    "TruncatedPolyaGamma": lambda: dist.TruncatedPolyaGamma(batch_shape=(2,)),
    "TwoSidedTruncatedDistribution": lambda: dist.TwoSidedTruncatedDistribution(
        dist.Normal(A([0.0, 1.0]), 1.0), -1.0, 2.0
    ),
    "TwoSidedTruncatedGamma": lambda: dist.TwoSidedTruncatedGamma(
        dist.Gamma(A([2.0, 0.7]), 3.0), 0.2, 1.5
    ),
    "Uniform": lambda: dist.Uniform(A([0.0, -1.0]), 2.0),
    "Unit": lambda: dist.Unit(A([-1.0, 0.5])),
    "VonMises": lambda: dist.VonMises(A([0.5, -2.0]), A([2.0, 0.3])),
    "Weibull": lambda: dist.Weibull(A([1.0, 2.0]), 2.0),
    "Wishart": lambda: dist.Wishart(A([5.0, 8.0]), scale_matrix=COV),
    "WishartCholesky": lambda: dist.WishartCholesky(A([5.0, 8.0]), scale_matrix=COV),
    "ZeroInflatedDistribution": lambda: dist.ZeroInflatedDistribution(
        dist.Poisson(A([2.0, 4.0])), gate=0.3
    ),
    "ZeroInflatedLogits": lambda: dist.ZeroInflatedLogits(dist.Poisson(A([2.0, 4.0])), 0.3),
    "ZeroInflatedNegativeBinomial2": lambda: dist.ZeroInflatedNegativeBinomial2(
        A([2.0, 5.0]), 3.0, gate=0.3
    ),
    "ZeroInflatedPoisson": lambda: dist.ZeroInflatedPoisson(A([0.3, 0.6]), 2.0),
    "ZeroInflatedProbs": lambda: dist.ZeroInflatedProbs(dist.Poisson(A([2.0, 4.0])), 0.3),
    "ZeroSumNormal": lambda: dist.ZeroSumNormal(A([1.0, 2.0])[:, None], (3,)),
}

KEY = jax.random.key(0)


def test_every_public_distribution_has_an_example():
    assert set(EXAMPLES) == set(public_distributions())


def _feasible_value(d):
    if isinstance(d, dist.Delta):
        return jnp.broadcast_to(d.v, d.shape((3,)))
    return d.support.feasible_like(jnp.zeros(d.shape((3,))))


def _float_leaves(tree):
    return [x for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]


# Log_prob gradients checked elsewhere: the univariate catalogue against finite
# differences (test_continuous), the count families, truncated normals, censoring,
# mixtures, masking and the directional families in their own files. Left out too:
# parametrization aliases of a family kept here once (Bernoulli, Categorical, ...;
# GaussianCopulaBeta is a GaussianCopula), thin wrappers (Expanded, Independent,
# Transformed, the other truncation bases) and those without float parameters.
CHECKED_ELSEWHERE = {
    "Delta",
    "DiscreteUniform",
    "ExpandedDistribution",
    "ImproperUniform",
    "Independent",
    "MaskedDistribution",
    "RightTruncatedDistribution",
    "TransformedDistribution",
    "TruncatedDistribution",
    "TruncatedPolyaGamma",
    "Unit",
    "BernoulliLogits",
    "BernoulliProbs",
    "BetaBinomial",
    "BinomialProbs",
    "CategoricalLogits",
    "CategoricalProbs",
    "GaussianCopulaBeta",
    "Geometric",
    "GeometricLogits",
    "GeometricProbs",
    "HurdleDistribution",
    "HurdleGamma",
    "HurdleLogits",
    "HurdleProbs",
    "LeftCensoredDistribution",
    "LeftTruncatedDistribution",
    "MixtureGeneral",
    "MixtureSameFamily",
    "MultinomialLogits",
    "MultinomialProbs",
    "NegativeBinomial",
    "NegativeBinomial2",
    "NegativeBinomialLogits",
    "ProjectedNormal",
    "RelaxedBernoulli",
    "RightCensoredDistribution",
    "SineBivariateVonMises",
    "TruncatedCauchy",
    "TruncatedGamma",
    "TruncatedNormal",
    "TwoSidedTruncatedDistribution",
    "ZeroInflatedLogits",
    "ZeroInflatedPoisson",
    "ZeroInflatedProbs",
    "AsymmetricLaplace",
    "AsymmetricLaplaceQuantile",
    "Beta",
    "BetaProportion",
    "Binomial",
    "BinomialLogits",
    "Cauchy",
    "Chi2",
    "Dagum",
    "Distribution",
    "DoublyTruncatedPowerLaw",
    "Exponential",
    "Gamma",
    "Gompertz",
    "Gumbel",
    "HalfCauchy",
    "HalfNormal",
    "InverseGamma",
    "Laplace",
    "Levy",
    "LogNormal",
    "LogUniform",
    "Logistic",
    "LowerTruncatedPowerLaw",
    "Normal",
    "Pareto",
    "StudentT",
    "Uniform",
    "Weibull",
}
GRADIENT_EXAMPLES = sorted(set(EXAMPLES) - CHECKED_ELSEWHERE)


@pytest.mark.parametrize("name", GRADIENT_EXAMPLES)
def test_log_prob_gradients_are_finite_in_every_parameter(name):
    d = EXAMPLES[name]()
    value = _feasible_value(d)
    log_prob = d.log_prob(value)
    assert log_prob.shape == (3, *d.batch_shape)
    assert np.all(np.isfinite(log_prob))
    grads = jax.jit(jax.grad(lambda d: jnp.sum(d.log_prob(value)), allow_int=True))(d)
    for leaf in _float_leaves(grads):
        assert np.all(np.isfinite(leaf)), name


# Families new here, or whose sampler's gradients are checked nowhere else: samples in
# the support, moments against the closed forms, and the pathwise derivatives of the
# sample mean and second moment against those of the closed forms, both in the
# constructor arguments: (constructor, arguments). Beta and StudentT are here for the
# last check: their samplers are not inverse cdfs, so their pathwise derivatives agree
# with the implicit ones in expectation only.
SAMPLE_CASES = {
    "Beta": (dist.Beta, (A([2.0, 0.7]), A([3.0, 1.5]))),
    "StudentT": (dist.StudentT, (A([5.5, 9.0]), A([0.5, -1.0]), A([1.0, 2.0]))),
    "GaussianStateSpace": (
        lambda a, tril, z0: dist.GaussianStateSpace(3, a, scale_tril=tril, initial_value=z0),
        (A([[0.5, 0.1], [0.0, 0.7]]), TRIL, A([1.0, -1.0])),
    ),
    "InverseWishartCholesky": (
        lambda df, tril: dist.InverseWishartCholesky(df, scale_tril=tril),
        (A([9.0, 12.0]), TRIL),
    ),
    "RelaxedBernoulliLogits": (dist.RelaxedBernoulliLogits, (0.5, A([0.3, -2.0]))),
}
BATCHES, PER_BATCH = 16, 250


def _batched_draws(d, key):
    """Draws of shape ``(BATCHES, PER_BATCH) + d.shape()`` from independent keys."""
    keys = jax.random.split(key, BATCHES)
    return jax.vmap(lambda k: d.sample(k, (PER_BATCH,)))(keys)


def _has_closed_form_mean(d):
    try:
        _ = d.mean
    except NotImplementedError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(SAMPLE_CASES))
def test_samples_match_support_moments_and_their_gradients(name):
    make, args = SAMPLE_CASES[name]
    d = make(*args)
    with_mean = _has_closed_form_mean(d)
    weights = jax.random.normal(jax.random.key(1), d.shape())
    axes = tuple(range(1, 1 + len(d.shape())))

    # A random direction in the (float) arguments: derivatives along it, in forward mode.
    tangent = jax.tree.map(lambda a: jax.random.normal(jax.random.key(2), jnp.shape(a)), args)

    @jax.jit
    def run(args):
        d = make(*args)
        draws = _batched_draws(d, KEY)
        if not (d.has_rsample and with_mean):
            return draws, None, None

        def weighted_batch_moments(args):
            x = _batched_draws(make(*args), KEY)
            return jnp.stack([jnp.sum(jnp.mean(x**k, 1) * weights, axes) for k in (1, 2)], -1)

        def weighted_moments(args):
            d = make(*args)
            return jnp.stack([jnp.sum(m * weights) for m in (d.mean, d.variance + d.mean**2)])

        # one derivative per batch: their spread gives the Monte Carlo error
        _, pathwise = jax.jvp(weighted_batch_moments, (args,), (tangent,))
        _, exact = jax.jvp(weighted_moments, (args,), (tangent,))
        return draws, pathwise, exact

    draws, pathwise, exact = run(args)
    x = np.asarray(draws, np.float64).reshape(-1, *d.shape())
    assert np.all(d.support(x)), name
    if with_mean:
        n = x.shape[0]
        mean, var = np.asarray(d.mean, np.float64), np.asarray(d.variance, np.float64)
        m, s2 = x.mean(0), x.var(0)
        m4 = ((x - m) ** 4).mean(0)
        assert np.all(np.abs(m - mean) <= 5 * np.sqrt(var / n) + 1e-6), (m, mean)
        assert np.all(np.abs(s2 - var) <= 5 * np.sqrt((m4 - s2**2) / n) + 1e-6), (s2, var)
    if exact is not None:
        pathwise = np.asarray(pathwise, np.float64)  # (BATCHES, 2): first and second moment
        se = pathwise.std(0, ddof=1) / math.sqrt(BATCHES)
        error = np.abs(pathwise.mean(0) - np.asarray(exact))
        assert np.all(error < 5 * se + 1e-3), (pathwise.mean(0), exact, se)


# -- validate_args: the error names the distribution, the parameter and the constraint ----

BAD_TRIL = A([[-1.0, 0.0], [0.5, 1.0]])
BAD_PD = A([[1.0, 2.0], [2.0, 1.0]])
INVALID = [
    (lambda: dist.MultivariateNormal(jnp.zeros(2), scale_tril=BAD_TRIL), "scale_tril", "lower"),
    (lambda: dist.MultivariateNormal(jnp.zeros(2), BAD_PD), "covariance_matrix", "positive_def"),
    (lambda: dist.MultivariateNormal(precision_matrix=BAD_PD), "precision_matrix", "positive_def"),
    (
        lambda: dist.LowRankMultivariateNormal(jnp.zeros(2), jnp.ones((2, 1)), A([1.0, -1.0])),
        "cov_diag",
        "positive",
    ),
    (lambda: dist.MultivariateStudentT(-1.0, jnp.zeros(2), jnp.eye(2)), "df", "positive"),
    (lambda: dist.Dirichlet(A([1.0, -1.0])), "concentration", "positive"),
    (lambda: dist.DirichletMultinomial(A([1.0, -1.0]), 3), "concentration", "positive"),
    (lambda: dist.Multinomial(3, probs=A([0.5, 0.7])), "probs", "simplex"),
    (lambda: dist.Wishart(5.0, scale_tril=BAD_TRIL), "scale_tril", "lower"),
    (lambda: dist.InverseWishart(5.0, scale_matrix=BAD_PD), "scale_matrix", "positive_def"),
    (lambda: dist.WishartCholesky(5.0, rate_matrix=BAD_PD), "rate_matrix", "positive_def"),
    (lambda: dist.LKJCholesky(3, -1.0), "concentration", "positive"),
    (lambda: dist.MatrixNormal(jnp.zeros((2, 2)), BAD_TRIL, jnp.eye(2)), "scale_tril_row", "lower"),
    (lambda: dist.CAR(jnp.zeros(2), 1.5, 1.0, jnp.eye(2)[::-1]), "correlation", "OpenInterval"),
    (lambda: dist.GaussianRandomWalk(-1.0, 3), "scale", "positive"),
    (lambda: dist.ZeroSumNormal(-1.0, (3,)), "scale", "positive"),
    (
        lambda: dist.GaussianCopulaBeta(2.0, 3.0, BAD_PD, validate_args=True),
        "correlation_matrix",
        "corr",
    ),
    (lambda: dist.CirculantNormal(jnp.zeros(3), A([-1.0, 0.1, 0.1])), "covariance_row", ""),
    (lambda: dist.GaussianStateSpace(3, jnp.eye(2), scale_tril=BAD_TRIL), "scale_tril", "lower"),
    (lambda: dist.VonMises(0.0, -1.0), "concentration", "positive"),
    (lambda: dist.ProjectedNormal(A([1.0, jnp.nan])), "concentration", "real"),
    (lambda: dist.SineBivariateVonMises(0.0, 0.0, -1.0, 1.0, 0.1), "phi_concentration", "positive"),
    (
        lambda: dist.SineSkewed(dist.VonMises(A([0.0, 0.5]), 1.0).to_event(1), A([0.9, 0.9])),
        "skewness",
        "",
    ),
    (lambda: dist.StudentT(-1.0), "df", "positive"),
    (lambda: dist.Chi2(-1.0), "df", "positive"),
    (lambda: dist.Kumaraswamy(-1.0, 1.0), "concentration1", "positive"),
    (lambda: dist.Gompertz(-1.0), "concentration", "positive"),
    (lambda: dist.Dagum(1.0, -1.0, 1.0), "sharpness", "positive"),
    (lambda: dist.LowerTruncatedPowerLaw(-0.5, 1.0), "alpha", "LessThan"),
    (lambda: dist.DoublyTruncatedPowerLaw(-2.0, 2.0, 1.0), "high", "greater_than"),
    (lambda: dist.BetaProportion(1.5, 2.0), "mean", "OpenInterval"),
    (lambda: dist.LogUniform(-1.0, 2.0), "low", "positive"),
    (lambda: dist.LeftTruncatedDistribution(dist.Normal(), low=jnp.nan), "low", "real"),
    (lambda: dist.TwoSidedTruncatedGamma(dist.Gamma(2.0), -1.0, 2.0), "low", "nonnegative"),
    (lambda: dist.BetaBinomial(2.0, 3.0, -1), "total_count", "nonnegative_integer"),
    (lambda: dist.DiscreteUniform(3, 1), "high", "greater_than_eq"),
    (lambda: dist.RelaxedBernoulliLogits(-1.0, 0.0), "temperature", "positive"),
    (lambda: dist.InverseWishartCholesky(5.0, scale_tril=BAD_TRIL), "scale_tril", "lower"),
    (lambda: dist.ZeroInflatedNegativeBinomial2(-2.0, 3.0, gate=0.3), "mean", "nonnegative"),
]


@pytest.mark.parametrize("make, param, constraint", INVALID, ids=[c[1] for c in INVALID])
def test_invalid_parameters_are_named_with_their_constraint(make, param, constraint):
    pattern = rf"distribution got invalid {param} parameter.*constraint.*{constraint}"
    with pytest.raises(ValueError, match=pattern):
        make()


# -- shape semantics across families (hypothesis) -------------------------------------------


def _normal(s1, s2):
    return dist.Normal(jnp.zeros(s1), jnp.ones(s2))


def _gamma(s1, s2):
    return dist.Gamma(jnp.full(s1, 2.0), jnp.ones(s2))


def _binomial(s1, s2):
    return dist.Binomial(jnp.full(s1, 3), probs=jnp.full(s2, 0.4))


def _mvn(s1, s2):
    return dist.MultivariateNormal(
        jnp.zeros((*s1, 2)), scale_tril=jnp.broadcast_to(TRIL, (*s2, 2, 2))
    )


def _low_rank(s1, s2):
    return dist.LowRankMultivariateNormal(jnp.zeros((*s1, 2)), jnp.ones((*s2, 2, 1)), jnp.ones(2))


def _categorical(s1, s2):
    return dist.Categorical(logits=jnp.zeros((*_broadcast(s1, s2), 3)))


def _dirichlet(s1, s2):
    return dist.Dirichlet(jnp.ones((*_broadcast(s1, s2), 3)))


def _multinomial(s1, s2):
    return dist.Multinomial(jnp.full(s1, 4), probs=jnp.full((*s2, 3), 1 / 3))


def _broadcast(*shapes):
    return tuple(jnp.broadcast_shapes(*shapes))


FAMILIES = {
    "Normal": (_normal, ()),
    "Gamma": (_gamma, ()),
    "Binomial": (_binomial, ()),
    "MultivariateNormal": (_mvn, (2,)),
    "LowRankMultivariateNormal": (_low_rank, (2,)),
    "Categorical": (_categorical, ()),
    "Dirichlet": (_dirichlet, (3,)),
    "Multinomial": (_multinomial, (3,)),
}

_dims = hs.lists(hs.integers(1, 2), min_size=0, max_size=2).map(tuple)


@hs.composite
def _broadcastable_shapes(draw):
    """Two parameter batch shapes that broadcast: dims of one replaced by 1 or dropped."""
    full = draw(_dims)
    ones = draw(hs.lists(hs.booleans(), min_size=len(full), max_size=len(full)))
    other = tuple(1 if one else s for s, one in zip(full, ones, strict=True))
    return full, other[draw(hs.integers(0, len(other))) :]


@pytest.mark.slow
@settings(max_examples=5, deadline=None)
@given(
    family=hs.sampled_from(sorted(FAMILIES)),
    shapes=_broadcastable_shapes(),
    sample=_dims,
    extra=_dims,
    data=hs.data(),
)
def test_shapes_broadcast_expand_and_reinterpret(family, shapes, sample, extra, data):
    make, event = FAMILIES[family]
    s1, s2 = shapes if data.draw(hs.booleans()) else shapes[::-1]
    d = make(s1, s2)
    batch = _broadcast(s1, s2)
    assert (d.batch_shape, d.event_shape) == (batch, event)
    assert d.shape(sample) == sample + batch + event

    value = d.support.feasible_like(jnp.zeros(sample + batch + event))
    log_prob = d.log_prob(value)
    assert log_prob.shape == sample + batch
    # a value without the batch dims broadcasts against them
    assert d.log_prob(value[(0,) * (len(sample) + len(batch))]).shape == batch

    expanded = d.expand(extra + batch)
    assert (expanded.batch_shape, expanded.event_shape) == (extra + batch, event)
    extra_axes = tuple(range(len(sample), len(sample) + len(extra)))
    wide = jnp.broadcast_to(jnp.expand_dims(value, extra_axes), sample + extra + batch + event)
    expected = np.broadcast_to(np.expand_dims(log_prob, extra_axes), sample + extra + batch)
    np.testing.assert_allclose(expanded.log_prob(wide), expected, rtol=1e-6)

    k = data.draw(hs.integers(0, len(batch)))
    reinterpreted = d.to_event(k)
    split = len(batch) - k
    assert reinterpreted.batch_shape == batch[:split]
    assert reinterpreted.event_shape == batch[split:] + event
    np.testing.assert_allclose(
        reinterpreted.log_prob(value),
        np.sum(np.asarray(log_prob), axis=tuple(range(len(sample) + split, log_prob.ndim))),
        rtol=1e-5,
    )
