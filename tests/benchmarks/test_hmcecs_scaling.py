"""The HMCECS scaling benchmark's pieces that need no sampling: the reference point
both libraries get, and the summary arithmetic on synthetic runs."""

import numpy as np
from scipy import optimize, special

from benchmarks import hmcecs_scaling as driver
from benchmarks.workloads import hmcecs_scaling as workload


def test_reference_point_is_the_posterior_mode():
    data = workload.make_data(2_000, 3, seed=1)
    X, y = data["X"].astype(np.float64), data["y"].astype(np.float64)

    def negative_log_posterior(theta):
        logits = X @ theta[:-1] + theta[-1]
        log_lik = np.sum(y * logits - np.logaddexp(0.0, logits))
        return -(log_lik - 0.5 * theta[:-1] @ theta[:-1] - 0.5 * theta[-1] ** 2 / 25.0)

    def gradient(theta):
        p = special.expit(X @ theta[:-1] + theta[-1])
        prior = np.r_[theta[:-1], theta[-1] / 25.0]
        return -(np.r_[X.T @ (y - p), np.sum(y - p)] - prior)

    mode = optimize.minimize(negative_log_posterior, np.zeros(4), jac=gradient, tol=1e-12).x
    reference = data["reference"]
    np.testing.assert_allclose(reference["w"], mode[:-1], atol=1e-5)
    np.testing.assert_allclose(reference["b"], mode[-1], atol=1e-5)


def run(library, num_data, time_per_sample, repeat):
    metrics = {key: 1.0 for key in driver.METRICS}
    return {
        "library": library,
        "num_data": num_data,
        "repeat": repeat,
        **metrics,
        "time_per_sample_ms": time_per_sample,
        "peak_memory_mb": 100.0,
    }


def test_summary_takes_medians_and_ratios_and_skips_failures():
    runs = [
        run("ppl", 10, 1.0, 0),
        run("ppl", 10, 3.0, 1),
        run("ppl", 10, 2.0, 2),
        run("numpyro", 10, 8.0, 0),
        run("numpyro", 10, 4.0, 1),
        {"library": "numpyro", "num_data": 10, "failed": "timeout"},
        run("ppl", 100, 5.0, 0),
    ]
    summary = driver.summarize(runs, [10, 100])
    assert summary["10"]["ppl"]["time_per_sample_ms"] == 2.0
    assert summary["10"]["numpyro"]["time_per_sample_ms"] == 6.0
    assert summary["10"]["time_ratio_ppl_over_numpyro"] == 2.0 / 6.0
    assert "numpyro" not in summary["100"] and "time_ratio_ppl_over_numpyro" not in summary["100"]
    table = driver.markdown(summary, {"num_samples": 1}, repeats=3)
    assert "| 10 | **time ratio ppl / NumPyro** | 0.33 | 1 |" in table
    assert "| 100 | time per sample (ms) | 5 | n/a |" in table
