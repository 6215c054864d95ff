"""Smoke run of examples/hmcecs.py: its ``main`` in ``--smoke`` mode, checked against
the coefficients that generated the data and against a numpy Laplace approximation
of the full-data posterior."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hmcecs.py"


def load_example():
    spec = importlib.util.spec_from_file_location("ppl_example_hmcecs", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def laplace_sd(X, y):
    """Posterior standard deviations of (w, b) at the mode (Newton's method, float64)."""
    A = np.hstack([X.astype(np.float64), np.ones((len(X), 1))])
    prior_precision = np.diag(np.r_[np.ones(X.shape[1]), 1 / 25.0])
    theta = np.zeros(A.shape[1])
    for _ in range(25):
        p = 1 / (1 + np.exp(-A @ theta))
        hessian = -(A.T * (p * (1 - p))) @ A - prior_precision
        theta = theta - np.linalg.solve(hessian, A.T @ (y - p) - prior_precision @ theta)
    return theta, np.sqrt(np.diag(np.linalg.inv(-hessian)))


def test_command_line(capsys):
    module = load_example()
    with pytest.raises(SystemExit) as exit_info:
        module.parse_args(["--help"])
    assert exit_info.value.code == 0
    usage = capsys.readouterr().out
    for option in ("--smoke", "--plot", "--device", "--num-samples", "--num-warmup"):
        assert option in usage
    smoke, default = module.parse_args(["--smoke"]), module.parse_args([])
    assert smoke.num_samples < default.num_samples and smoke.num_data < default.num_data


@pytest.mark.slow
def test_smoke_run(capsys):
    module = load_example()
    out = module.main(module.parse_args(["--smoke"]))
    printed = capsys.readouterr().out
    assert "Time per sample" in printed and "HMCECS" in printed
    data = out["data"]
    mode, sd = laplace_sd(data["X"], data["y"])
    ecs = np.column_stack([out["hmcecs"]["w"], out["hmcecs"]["b"]])
    assert ecs.shape == (200, 4)
    # The HMCECS posterior is the full-data posterior: its mean near the mode (200
    # draws, ESS > 100: well within 1 sd) and its spread the Laplace spread.
    assert np.all(np.abs(ecs.mean(0) - mode) < sd)
    np.testing.assert_allclose(ecs.std(0), sd, rtol=0.3)
    # ... which covers the coefficients that generated the data.
    truth = np.append(data["w"], data["b"])
    assert np.all(np.abs(mode - truth) < 4 * sd)
    # NUTS saw a tenth of the data: a posterior about sqrt(10) times wider.
    nuts = np.column_stack([out["nuts"]["w"], out["nuts"]["b"]])
    ratio = nuts.std(0) / ecs.std(0)
    assert np.all((ratio > 2.0) & (ratio < 4.5)), ratio
    assert all(t > 0 for t in out["seconds_per_sample"].values())
