"""The benchmark harness: the summary arithmetic, workload selection, the registry and ESS.

Nothing here runs a benchmark: the harness's numbers are checked on synthetic
runs and draws whose answers are known in closed form.
"""

import math

import numpy as np
import pytest
from scipy import signal

from benchmarks.ess import effective_sample_size
from benchmarks.kinds import KINDS, check
from benchmarks.kinds.spec import COMMON_METRICS, Metric, Plot
from benchmarks.report import markdown, ratio_table
from benchmarks.run import prime_bytecode, schedule
from benchmarks.summary import not_run, summarize
from benchmarks.workloads import WORKLOADS, select


def _runs():
    ppl = [3.0, 1.0, 2.0]
    numpyro = [4.0, 8.0, 6.0]
    runs = [
        {"library": "ppl", "workload": "w", "kind": "nuts", "warm_run": t, "flag": True}
        for t in ppl
    ]
    runs += [
        {"library": "numpyro", "workload": "w", "kind": "nuts", "warm_run": t} for t in numpyro
    ]
    runs.append({"library": "ppl", "workload": "w", "kind": "nuts", "warm_run": math.nan})
    runs.append({"library": "blackjax", "workload": "w", "skipped": "no such kernel"})
    runs.append({"library": "ppl", "workload": "v", "failed": "Traceback ..."})
    return runs


def test_summary_medians_ranges_and_ratios():
    summary = summarize(_runs())
    ppl, numpyro = summary["w"]["ppl"]["warm_run"], summary["w"]["numpyro"]["warm_run"]
    # NaN repeats are dropped, not propagated.
    assert (ppl["median"], ppl["min"], ppl["max"]) == (2.0, 1.0, 3.0)
    assert (numpyro["median"], numpyro["min"], numpyro["max"]) == (6.0, 4.0, 8.0)
    assert ppl["ratio"] == pytest.approx(2.0 / 6.0)
    assert numpyro["ratio"] == 1.0
    # Booleans are not metrics; skipped and failed runs are not summarized.
    assert "flag" not in summary["w"]["ppl"]
    assert set(summary) == {"w"} and set(summary["w"]) == {"ppl", "numpyro"}
    assert not_run(_runs()) == {
        ("w", "blackjax"): "skipped: no such kernel",
        ("v", "ppl"): "failed: Traceback ...",
    }


def test_summary_without_reference_has_no_ratio():
    runs = [{"library": "ppl", "workload": "w", "kind": "svi", "steps_per_second": 5.0}]
    assert "ratio" not in summarize(runs)["w"]["ppl"]["steps_per_second"]


def test_select_by_kind_and_name_in_registry_order():
    svi = [name for name, module in WORKLOADS.items() if module.KIND == "svi"]
    assert svi and select("svi") == svi
    picked = select("eight_schools, svi")
    assert picked == [n for n in WORKLOADS if n == "eight_schools" or n in svi]
    assert select("all") == list(WORKLOADS)
    assert select("svi,svi") == svi
    with pytest.raises(ValueError, match="nonesuch"):
        select("svi,nonesuch")
    with pytest.raises(ValueError, match="empty"):
        select(" , ")


def test_priming_runs_each_pair_once_with_bytecode_writing_on(monkeypatch):
    import subprocess

    calls = []
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setattr(subprocess, "run", lambda command, **kw: calls.append((command, kw)))
    prime_bytecode(schedule(["eight_schools", "svi_logistic_regression"], ["ppl", "numpyro"], 3))
    pairs = [tuple(command[-3:-1]) for command, _ in calls]
    assert pairs == [
        ("ppl", "eight_schools"),
        ("numpyro", "eight_schools"),
        ("ppl", "svi_logistic_regression"),
        ("numpyro", "svi_logistic_regression"),
    ]
    assert all(command[-1] == "--quick" for command, _ in calls)
    assert all("PYTHONDONTWRITEBYTECODE" not in kw["env"] for _, kw in calls)


def test_schedule_interleaves_and_runs_each_kind_on_its_libraries():
    names = ["eight_schools", "svi_logistic_regression"]
    order = schedule(names, ["ppl", "numpyro", "blackjax"], repeats=2)
    one_repeat = [
        ("eight_schools", "ppl"),
        ("eight_schools", "numpyro"),
        ("eight_schools", "blackjax"),
        ("svi_logistic_regression", "ppl"),
        ("svi_logistic_regression", "numpyro"),
    ]
    assert order == one_repeat * 2


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_registered_workloads_are_complete(name):
    workload = WORKLOADS[name]
    assert check(workload) == []
    kind = KINDS[workload.KIND]
    assert "numpyro" in kind.LIBRARIES and "ppl" in kind.LIBRARIES
    metrics = kind.metrics(workload)
    assert metrics and all(isinstance(m, Metric) for m in metrics.values())
    assert not set(metrics) & set(COMMON_METRICS)
    # Quick mode shrinks the sizes of the same experiment: it sets the same knobs.
    assert set(workload.QUICK_SETTINGS) == set(workload.SETTINGS)


def test_check_names_what_is_missing():
    class Broken:
        KIND = "svi"
        SETTINGS = QUICK_SETTINGS = {}

    problems = check(Broken)
    assert any("GUIDE" in p for p in problems) and any("OPTIMIZER" in p for p in problems)
    Broken.KIND = "bogus"
    assert "bogus" in check(Broken)[0]


def test_distribution_workload_data_covers_every_case():
    for workload in WORKLOADS.values():
        if workload.KIND != "distribution":
            continue
        data = workload.make_data(quick=True)
        assert set(data) == set(workload.CASES)
        for params in data.values():
            assert all(
                isinstance(v, np.ndarray) and np.all(np.isfinite(v)) for v in params.values()
            )


def test_report_tables():
    chart = Plot("c", "warm run (s)\nratio", ["a", "b"], {"ppl": [0.5, math.nan]})
    assert ratio_table(chart) == ["| warm run (s) | ppl |", "|---|---|", "| a | 0.50 |", "| b |  |"]
    meta = {"date": "today", "machine": "here", "repeats": 3, "quick": False}
    runs = [{**r, "workload": "eight_schools"} for r in _runs() if "failed" not in r]
    text = markdown(summarize(runs), meta, WORKLOADS, not_run(runs))
    assert "| warm run (s) | 2 [1, 3] ×0.33 | 6 [4, 8] ×1.00 |" in text
    assert "- eight_schools on blackjax: skipped: no such kernel" in text
    meta.update(devices=["gpu (NVIDIA H200)"], versions={"jax": "0.11.2", "numpyro": "0.21.0"})
    text = markdown(summarize(runs), meta, WORKLOADS, not_run(runs))
    assert "here, JAX on gpu (NVIDIA H200), jax 0.11.2, numpyro 0.21.0, 3 repeat(s)" in text


def _ar1(rho, chains, draws, seed):
    """Stationary AR(1) chains with unit variance: x_t = rho x_{t-1} + sqrt(1 - rho^2) e_t."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(chains, draws))
    noise[:, 0] /= np.sqrt(1 - rho**2)  # so that x_0 ~ N(0, 1)
    return signal.lfilter([np.sqrt(1 - rho**2)], [1.0, -rho], noise, axis=1)


# Tolerances are about four standard deviations of the estimator over seeds.
@pytest.mark.parametrize(("rho", "rel"), [(0.0, 0.06), (0.5, 0.11), (0.9, 0.21)])
def test_ess_of_ar1_chains_matches_closed_form(rho, rel):
    # An AR(1) chain with lag-one correlation rho has integrated autocorrelation
    # time (1 + rho) / (1 - rho), so ESS = draws * (1 - rho) / (1 + rho).
    chains, draws = 4, 16000
    truth = chains * draws * (1 - rho) / (1 + rho)
    ess = effective_sample_size(_ar1(rho, chains, draws, seed=int(10 * rho)))
    assert ess == pytest.approx(truth, rel=rel)
