"""Diagnostics against closed forms and direct computations."""

import numpy as np
import pytest
from scipy import stats

from ppl.mcmc import diagnostics
from ppl.mcmc.diagnostics import (
    autocorrelation,
    autocovariance,
    effective_sample_size,
    gelman_rubin,
    hpdi,
    print_summary,
    split_gelman_rubin,
    summary,
)


def ar1_chains(phi, num_chains, num_draws, seed):
    """Stationary AR(1) chains with unit marginal variance."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(num_chains, num_draws)) * np.sqrt(1 - phi**2)
    x = np.empty((num_chains, num_draws))
    x[:, 0] = rng.normal(size=num_chains)
    for t in range(1, num_draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


@pytest.mark.parametrize("phi, rtol", [(0.0, 0.06), (0.5, 0.08), (0.9, 0.15), (-0.3, 0.1)])
def test_ess_of_ar1_matches_closed_form(phi, rtol):
    # The asymptotic variance of the mean of an AR(1) chain is (1+phi)/(1-phi) times
    # the iid one, so ESS = N (1-phi)/(1+phi).
    x = ar1_chains(phi, num_chains=4, num_draws=10_000, seed=0)
    expected = x.size * (1 - phi) / (1 + phi)
    assert effective_sample_size(x) == pytest.approx(expected, rel=rtol)


def test_ess_keeps_trailing_dimensions():
    x = np.stack([ar1_chains(p, 2, 4000, seed=i) for i, p in enumerate([0.0, 0.8])], axis=-1)
    ess = effective_sample_size(x)
    assert ess.shape == (2,)
    assert ess[0] == pytest.approx(8000, rel=0.1)
    assert ess[1] == pytest.approx(8000 * 0.2 / 1.8, rel=0.2)


def test_split_rhat_of_stationary_chains_is_one():
    x = ar1_chains(0.5, num_chains=4, num_draws=5000, seed=1)
    assert split_gelman_rubin(x) == pytest.approx(1.0, abs=0.01)
    assert gelman_rubin(x) == pytest.approx(1.0, abs=0.01)


def test_rhat_of_shifted_chains_matches_closed_form():
    # Chains N(mu_c, 1): W -> 1 and V -> (N-1)/N + var(mu), so R-hat -> sqrt(1 + var(mu)).
    rng = np.random.default_rng(2)
    mu = np.array([0.0, 0.5, 1.0, 1.5])
    x = mu[:, None] + rng.normal(size=(4, 20_000))
    expected = np.sqrt(1 + np.var(mu, ddof=1))
    assert gelman_rubin(x) == pytest.approx(expected, rel=0.01)
    # Split chains: 8 halves whose means repeat each mu twice.
    expected_split = np.sqrt(1 + np.var(np.repeat(mu, 2), ddof=1))
    assert split_gelman_rubin(x) == pytest.approx(expected_split, rel=0.01)


def test_split_rhat_detects_a_trend_that_rhat_misses():
    # Every chain drifts the same way: whole-chain means agree, halves do not.
    # Halves of a linear ramp from 0 to a have means a/4 and 3a/4.
    rng = np.random.default_rng(3)
    n, a = 10_000, 2.0
    x = a * np.arange(n) / n + 0.1 * rng.normal(size=(4, n))
    assert gelman_rubin(x) == pytest.approx(1.0, abs=0.01)
    half_var = (a / 2) ** 2 / 12 + 0.01
    between = np.var(np.repeat([a / 4, 3 * a / 4], 4), ddof=1)
    assert split_gelman_rubin(x) == pytest.approx(np.sqrt(1 + between / half_var), rel=0.02)


@pytest.mark.parametrize("bias", [True, False])
def test_autocorrelation_matches_direct_sums(bias):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 57)).cumsum(axis=1)
    centered = x - x.mean(axis=1, keepdims=True)
    n = x.shape[1]
    lagged = np.array([[np.dot(c[: n - k], c[k:]) for k in range(n)] for c in centered])
    scale = n if bias else np.arange(n, 0, -1)
    expected_cov = lagged / scale
    expected_cov = expected_cov / expected_cov[:, :1] * x.var(axis=1, keepdims=True)
    np.testing.assert_allclose(autocovariance(x, axis=1, bias=bias), expected_cov, atol=1e-10)
    np.testing.assert_allclose(
        autocorrelation(x.T, axis=0, bias=bias), (expected_cov / expected_cov[:, :1]).T, atol=1e-10
    )


def test_hpdi_of_normal_matches_quantiles():
    rng = np.random.default_rng(5)
    x = rng.normal(2.0, 3.0, size=(200_000, 2))
    interval = hpdi(x, prob=0.9)
    z = stats.norm.ppf(0.95)
    assert interval.shape == (2, 2)
    # Endpoints sit where the density is low, so they are noisier than the width.
    np.testing.assert_allclose(interval[0], 2.0 - 3.0 * z, atol=0.1)
    np.testing.assert_allclose(interval[1], 2.0 + 3.0 * z, atol=0.1)
    np.testing.assert_allclose(interval[1] - interval[0], 6.0 * z, atol=0.04)


def test_hpdi_of_skewed_distribution_is_not_the_central_interval():
    # For Exp(1) the narrowest 80% interval is [0, -log(0.2)].
    rng = np.random.default_rng(6)
    x = rng.exponential(size=(3, 200_000))
    interval = hpdi(x, prob=0.8, axis=1)
    assert interval.shape == (3, 2)
    np.testing.assert_allclose(interval[:, 0], 0.0, atol=0.005)
    np.testing.assert_allclose(interval[:, 1], -np.log(0.2), atol=0.03)


def test_summary_columns_and_values():
    rng = np.random.default_rng(7)
    samples = {"a": rng.normal(1.0, 2.0, size=(2, 2000)), "b": rng.normal(size=(2, 2000, 3))}
    result = summary(samples, prob=0.5)
    assert list(result["a"]) == ["mean", "std", "median", "25.0%", "75.0%", "n_eff", "r_hat"]
    assert result["a"]["mean"] == pytest.approx(1.0, abs=0.1)
    assert result["a"]["std"] == pytest.approx(2.0, rel=0.05)
    assert result["a"]["25.0%"] < result["a"]["median"] < result["a"]["75.0%"]
    assert result["b"]["n_eff"].shape == (3,)
    flat = summary(samples["a"].reshape(-1), group_by_chain=False)
    assert flat["Param:0"]["mean"] == pytest.approx(np.mean(samples["a"]))


def test_print_summary_layout(capsys):
    rng = np.random.default_rng(8)
    print_summary({"mu": rng.normal(size=(2, 100)), "theta": rng.normal(size=(2, 100, 2))})
    lines = capsys.readouterr().out.strip("\n").splitlines()
    assert lines[0].split() == ["mean", "std", "median", "5.0%", "95.0%", "n_eff", "r_hat"]
    assert [line.split()[0] for line in lines[1:]] == ["mu", "theta[0]", "theta[1]"]
    assert all(len(line.split()) == 8 for line in lines[1:])


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="num_chains, num_samples"):
        effective_sample_size(np.zeros(10))
    with pytest.raises(ValueError, match="at least 2 chains"):
        gelman_rubin(np.zeros((1, 10)))
    with pytest.raises(ValueError, match="at least 4 draws"):
        split_gelman_rubin(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="prob"):
        hpdi(np.zeros(10), prob=1.5)


def test_module_exports():
    assert set(diagnostics.__all__) >= {
        "autocorrelation",
        "autocovariance",
        "effective_sample_size",
        "gelman_rubin",
        "hpdi",
        "print_summary",
        "split_gelman_rubin",
        "summary",
    }
