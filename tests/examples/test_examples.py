"""Smoke runs of the scripts under examples/: each ``main`` in its ``--smoke`` mode.

Each run is marked slow: it is short, but compiling its NUTS loops and
samplers takes several seconds per model.

Each script is imported from its path (examples/ is not a package) and run in
this process with fixed seeds. The checks compare its output with something
known independently of ppl: exact conjugate posteriors, least squares, the
function the data were drawn from, the coefficients that generated the data.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["baseball", "bayesian_regression", "gp", "horseshoe_regression", "vae", "neutra"]


def load_example(name: str):
    """The module of ``examples/<name>.py``."""
    spec = importlib.util.spec_from_file_location(f"ppl_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_smoke(name: str, *extra: str):
    module = load_example(name)
    return module, module.main(module.parse_args(["--smoke", *extra]))


@pytest.mark.parametrize("name", NAMES)
def test_command_line(name, capsys):
    module = load_example(name)
    with pytest.raises(SystemExit) as exit_info:
        module.parse_args(["--help"])
    assert exit_info.value.code == 0
    usage = capsys.readouterr().out
    for option in ("--smoke", "--plot", "--device"):
        assert option in usage
    # The smoke run is a reduced one: fewer draws (epochs for the VAE) than the defaults.
    size = "num_epochs" if name == "vae" else "num_samples"
    smoke, default = module.parse_args(["--smoke"]), module.parse_args([])
    assert getattr(smoke, size) < getattr(default, size)
    assert getattr(smoke, "num_chains", 1) == 1


@pytest.mark.slow
def test_baseball():
    module, fits = run_smoke("baseball")
    data = module.load_data()
    hits, at_bats = data["hits"], data["at_bats"]

    # Uniform priors are Beta(1, 1): the fully pooled and not pooled posteriors are Betas.
    pooled = stats.beta(1 + hits.sum(), 1 + (at_bats - hits).sum())
    phi = fits["fully pooled"]["phi"][:, 0]
    assert abs(phi.mean() - pooled.mean()) < 4 * pooled.std() / np.sqrt(50)
    separate = stats.beta(1 + hits, 1 + at_bats - hits)
    phi = fits["not pooled"]["phi"]
    assert np.all(np.abs(phi.mean(0) - separate.mean()) < 5 * separate.std() / np.sqrt(50))

    # Partial pooling shrinks the players' estimates toward each other ...
    spread = {name: fit["phi"].mean(0).std() for name, fit in fits.items()}
    for name in ("partially pooled", "partially pooled with logit"):
        assert spread[name] < 0.7 * spread["not pooled"]
        # ... keeping their order: the best early hitters are still estimated best.
        rho = stats.spearmanr(fits[name]["phi"].mean(0), hits).statistic
        assert rho > 0.9
        # ... and predicts the rest of the season better than no pooling.
        assert fits[name]["lppd"] > fits["not pooled"]["lppd"] + 2.0
    for fit in fits.values():
        average = fit["rest_average"]
        assert average.shape == (200, 18) and np.all((average >= 0) & (average <= 1))


@pytest.mark.slow
def test_bayesian_regression():
    module, result = run_smoke("bayesian_regression")
    data = module.load_data()
    age, divorce = data["age"], data["divorce"]
    ols = stats.linregress(age, divorce)

    # Standardized data and weak priors: the posterior is close to least squares.
    b_age = np.asarray(result["samples_age"]["b_age"])
    assert abs(b_age.mean() - ols.slope) < 0.1
    assert b_age.mean() < 0 and np.mean(b_age < 0) > 0.99
    # The 90% HPDI band of the regression line holds the least-squares line.
    low, high = result["line_band"]
    line = ols.intercept + ols.slope * result["grid"]
    assert np.all(low < line) and np.all(line < high)
    # The band is narrowest at the data's mean age (0 after standardizing), widest at the ends.
    width = high - low
    assert abs(result["grid"][np.argmin(width)]) < 0.3
    assert width.min() < 0.5 * min(width[0], width[-1])
    # Once age is known the marriage rate adds little (McElreath's point).
    b_marriage = np.asarray(result["samples_both"]["b_marriage"])
    assert abs(b_marriage.mean()) < 0.25
    # About 90% of the states lie in their 90% posterior predictive interval.
    assert 0.8 <= result["coverage"] <= 1.0
    assert result["samples_region"]["a"].shape == (200, 2)


@pytest.mark.slow
def test_gp():
    _, result = run_smoke("gp")
    inside = np.abs(result["x_test"]) <= 1.0
    truth, mean = result["truth"][inside], result["mean"][inside]
    # The predictive mean follows the function the data were drawn from ...
    assert result["rmse"] < 0.5 * truth.std()
    assert np.corrcoef(mean, truth)[0, 1] > 0.9
    # ... and the 90% band of new observations holds it nearly everywhere it was observed.
    held = (result["low"][inside] <= truth) & (truth <= result["high"][inside])
    assert held.mean() > 0.9
    # The noise variance 0.2^2 = 0.04 lies within the posterior's bulk.
    noise = np.asarray(result["samples"]["kernel_noise"])
    assert np.quantile(noise, 0.01) < 0.04 < np.quantile(noise, 0.99)


@pytest.mark.slow
def test_horseshoe_regression():
    _, results = run_smoke("horseshoe_regression")
    for name, result in results.items():
        beta, truth = result["beta"], result["beta_true"]
        active = truth != 0
        if name == "normal":
            # Every generating coefficient is recovered: its 90% interval excludes zero.
            assert set(np.flatnonzero(active)) <= set(result["recovered"].tolist()), name
        else:
            # A smoke-sized logistic fit is too noisy to exclude zero for the smallest
            # coefficient; each active one is still within 3 posterior sd of the truth.
            sd = beta.std(0)[active]
            assert np.all(np.abs(beta.mean(0)[active] - truth[active]) < 3 * sd), name
        # The zero coefficients are shrunk well below the smallest active one.
        means = beta.mean(0)
        assert np.abs(means[~active]).max() < 0.5 * np.abs(truth[active]).min(), name
        sign = np.sign(means[active]) == np.sign(truth[active])
        assert np.all(sign), name
    normal = results["normal"]
    error = normal["beta"].mean(0) - normal["beta_true"]
    assert np.abs(error).max() < 0.25


@pytest.mark.slow
def test_vae(tmp_path, capsys):
    path = tmp_path / "vae.png"
    _, result = run_smoke("vae", "--plot", str(path))
    train, test = result["train_losses"], result["test_losses"]
    assert len(train) == 3 and np.all(np.isfinite(train + test))
    # The negative ELBO decreases epoch after epoch, on the training and the test images.
    assert np.all(np.diff(train) < 0) and test[-1] < test[0]
    assert test[-1] < 0.9 * train[0]
    out = capsys.readouterr().out
    if importlib.util.find_spec("matplotlib") is None:
        assert "matplotlib is not installed: skipping the plot" in out
        assert not path.exists()
    else:
        assert path.read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_neutra():
    _, result = run_smoke("neutra")
    losses = result["losses"]
    assert losses.shape == (1000,) and np.all(np.isfinite(losses))
    # SVI fits the flow: the mean loss of the last tenth of the steps is lower.
    assert losses[-100:].mean() < losses[:100].mean() - 0.2
    # The funnel's density is normalized, so the loss (the negative ELBO) estimates
    # KL(guide || funnel) >= 0: averaged over 100 steps it cannot be clearly negative.
    assert losses[-100:].mean() > -0.1
    for draws in (result["vanilla"], result["neutra"], result["guide_draws"]):
        assert draws["x"].shape == (100, 3) and draws["y"].shape == (100,)
        assert np.all(np.isfinite(draws["x"])) and np.all(np.isfinite(draws["y"]))
