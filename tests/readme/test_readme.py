"""README.md's code blocks run, in order, and print what the README says they print.

The ```python blocks are executed one after another in one shared namespace,
as a reader pasting them into one Python session would. Two things differ from
a reader's session, both applied here and nowhere else:

* :data:`SIZE_SUBSTITUTIONS` shrinks the MCMC runs (``num_warmup=500`` and
  ``num_samples=1000`` in the README) so that the whole walkthrough takes
  seconds; every entry must match the README at least once, so an edit of the
  README that the table no longer covers fails here rather than silently
  running at full size.
* The ``CI`` environment variable is set, which turns MCMC's progress bars off.

Each block's standard output is captured. Output that depends on sampling is
not compared digit by digit: the ```text block labelled "Example output" that
follows a code block must have the same lines once every number is replaced
by a placeholder (same summary rows and columns, same messages), and the
numbers of the run are checked for plausibility against what is known about
the eight-schools posterior (the published posterior mean of ``mu`` is about
4.4, its posterior standard deviation about 3.3).

The ```bash blocks are not run (they install packages and run the whole test
suite); the test checks that what they name exists: the nox sessions in
noxfile.py, the distributions under packages/, the paths they install from.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

#: README text -> the text the test runs instead. The README's sizes are the
#: ones a reader should use; these keep the test near ten seconds of sampling.
SIZE_SUBSTITUTIONS = {
    "num_warmup=500": "num_warmup=200",
    "num_samples=1000": "num_samples=400",
}
NUM_SAMPLES = 400

SUMMARY_COLUMNS = ["mean", "std", "median", "5.0%", "95.0%", "n_eff", "r_hat"]
THETA_ROWS = [f"theta[{j}]" for j in range(8)]

#: What running the walkthrough gives: each python block's printed output, the
#: README's example output shown after it (or None) and the final namespace.
Walkthrough = tuple[list[str], list[str | None], dict]

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.S | re.M)
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf")


def _blocks(text: str) -> list[tuple[str, str, int]]:
    """Every fenced block of ``text`` as (language, body, offset of its end)."""
    return [(m.group(1), m.group(2), m.end()) for m in _FENCE.finditer(text)]


def _python_blocks_with_examples(text: str) -> list[tuple[str, str | None]]:
    """Each ```python block with the ```text block right after it (if labelled
    as example output in the prose between the two)."""
    fences = list(_FENCE.finditer(text))
    result = []
    for i, m in enumerate(fences):
        if m.group(1) != "python":
            continue
        example = None
        if i + 1 < len(fences) and fences[i + 1].group(1) == "text":
            between = text[m.end() : fences[i + 1].start()]
            if "Example output" in between:
                example = fences[i + 1].group(2)
        result.append((m.group(2), example))
    return result


def _skeleton(output: str) -> list[list[str]]:
    """The output's non-blank lines, tokenized, with every number replaced by ``#``."""
    return [_NUMBER.sub("#", line).split() for line in output.splitlines() if line.strip()]


def _parse_summary(output: str) -> tuple[list[str], dict[str, dict[str, float]]]:
    """The header and rows of the first table that ``print_summary`` printed in ``output``."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split() == SUMMARY_COLUMNS)
    rows: dict[str, dict[str, float]] = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        label, *values = line.split()
        rows[label] = dict(zip(SUMMARY_COLUMNS, map(float, values), strict=True))
    return lines[start].split(), rows


def _printed_number(output: str, prefix: str) -> float:
    match = re.search(rf"^{re.escape(prefix)}\s*({_NUMBER.pattern})", output, re.M)
    assert match, f"no line starting with {prefix!r} in:\n{output}"
    return float(match.group(1))


def _run_walkthrough() -> Walkthrough:
    """Run the README's python blocks (with reduced sizes); return their outputs,
    the example outputs printed in the README and the final namespace."""
    text = README.read_text(encoding="utf-8")
    for original in SIZE_SUBSTITUTIONS:
        assert original in text, (
            f"README.md no longer contains {original!r}: update SIZE_SUBSTITUTIONS in {__file__}"
        )
    namespace: dict = {"__name__": "__readme__"}
    outputs, examples = [], []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CI", "1")
        for index, (code, example) in enumerate(_python_blocks_with_examples(text)):
            for original, reduced in SIZE_SUBSTITUTIONS.items():
                code = code.replace(original, reduced)
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(compile(code, f"README.md python block {index}", "exec"), namespace)
            outputs.append(buffer.getvalue())
            examples.append(example)
    return outputs, examples, namespace


def _output_of(walkthrough: Walkthrough, marker: str) -> str:
    """The output of the (first) python block whose code contains ``marker``."""
    text = README.read_text(encoding="utf-8")
    codes = [code for code, _ in _python_blocks_with_examples(text)]
    index = next(i for i, code in enumerate(codes) if marker in code)
    return walkthrough[0][index]


def _check_example_outputs_match_the_run(walkthrough: Walkthrough) -> None:
    outputs, examples, _ = walkthrough
    assert sum(e is not None for e in examples) >= 4, "the walkthrough lost its example outputs"
    for index, (output, example) in enumerate(zip(outputs, examples, strict=True)):
        if example is not None:
            assert _skeleton(output) == _skeleton(example), (
                f"python block {index} printed\n{output}\nbut the README shows\n{example}"
            )


def _check_centered_summary_is_plausible(walkthrough: Walkthrough) -> None:
    output = _output_of(walkthrough, "NUTS(eight_schools)")
    header, rows = _parse_summary(output)
    assert header == SUMMARY_COLUMNS
    assert list(rows) == ["mu", "tau", *THETA_ROWS]
    assert 0.0 < rows["mu"]["mean"] < 10.0
    assert 0.0 < rows["tau"]["mean"] < 10.0
    for name, row in rows.items():
        assert row["5.0%"] <= row["median"] <= row["95.0%"], name
        assert row["std"] > 0 and row["n_eff"] > 0, name
        # Partial pooling: every school's effect is drawn toward mu, inside the data's range.
        if name.startswith("theta"):
            assert -3.0 < row["mean"] < 28.0, name
    centered_divergences = _printed_number(output, "Number of divergences:")
    assert 0 <= centered_divergences < NUM_SAMPLES
    assert np.isfinite(_printed_number(output, "Expected log joint density:"))


def _check_divergence_count_agrees_with_summary(walkthrough: Walkthrough) -> None:
    summary_count = _printed_number(
        _output_of(walkthrough, "NUTS(eight_schools)"), "Number of divergences:"
    )
    direct_count = _printed_number(
        _output_of(walkthrough, '["diverging"]'), "Divergent transitions:"
    )
    assert direct_count == summary_count


def _check_noncentered_run_is_plausible(walkthrough: Walkthrough) -> None:
    _, _, namespace = walkthrough
    centered = _output_of(walkthrough, "NUTS(eight_schools)")
    output = _output_of(walkthrough, "NUTS(eight_schools_noncentered)")
    header, rows = _parse_summary(output)
    assert header == SUMMARY_COLUMNS
    base_rows = [f"theta_base[{j}]" for j in range(8)]
    assert list(rows) == ["mu", "tau", *THETA_ROWS, *base_rows]
    assert 0.0 < rows["mu"]["mean"] < 10.0
    noncentered_divergences = _printed_number(output, "Number of divergences:")
    assert noncentered_divergences <= _printed_number(centered, "Number of divergences:")
    assert noncentered_divergences <= 0.02 * NUM_SAMPLES
    # The non-centered sampler reaches the funnel's neck that the centered one misses.
    assert rows["tau"]["5.0%"] < _parse_summary(centered)[1]["tau"]["5.0%"]

    # The deterministic theta is the affine transform of theta_base.
    samples = namespace["mcmc"].get_samples()
    assert samples["mu"].shape == (NUM_SAMPLES,)
    expected_theta = samples["mu"][:, None] + samples["tau"][:, None] * samples["theta_base"]
    np.testing.assert_allclose(samples["theta"], expected_theta, rtol=1e-5, atol=1e-5)

    # The printed expected log joint density is the mean of -potential_energy.
    pe = np.asarray(namespace["pe"])
    assert pe.shape == (NUM_SAMPLES,)
    assert _printed_number(output, "Expected log joint density:") == pytest.approx(
        float(np.mean(-pe)), abs=0.006
    )


def _check_locscale_reparam_repeats_the_transform_reparam_run(walkthrough: Walkthrough) -> None:
    _, _, namespace = walkthrough
    output = _output_of(walkthrough, "LocScaleReparam(centered=0)")
    header, rows = _parse_summary(output)
    assert header == SUMMARY_COLUMNS
    assert list(rows) == ["mu", "tau", *[f"theta_decentered[{j}]" for j in range(8)]]
    # Both reparameterizations sample the same unconstrained density from the same
    # key, so (as the README says) they draw the same chain.
    locscale = namespace["mcmc_locscale"].get_samples()
    transform = namespace["mcmc"].get_samples()
    np.testing.assert_allclose(locscale["mu"], transform["mu"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(locscale["theta"], transform["theta"], rtol=1e-4, atol=1e-4)


def _check_new_school_prediction_is_plausible(walkthrough: Walkthrough) -> None:
    _, _, namespace = walkthrough
    output = _output_of(walkthrough, "Predictive(new_school")
    obs = np.asarray(namespace["samples_predictive"]["obs"])
    assert obs.shape == (NUM_SAMPLES,)
    posterior = namespace["mcmc"].get_samples()
    mu, tau = np.asarray(posterior["mu"]), np.asarray(posterior["tau"])
    # obs = mu + tau * eps with eps ~ N(0, 1) independent of (mu, tau), so given the
    # posterior draws mean(obs) - mean(mu) has standard deviation sqrt(mean(tau^2) / n).
    tolerance = 4.0 * np.sqrt(np.mean(tau**2) / NUM_SAMPLES)
    assert abs(obs.mean() - mu.mean()) < tolerance
    # and var(obs) = var(mu) + E[tau^2].
    assert obs.var() == pytest.approx(mu.var() + np.mean(tau**2), rel=0.3)
    assert 0.0 < obs.mean() < 10.0
    printed = re.search(rf"mean ({_NUMBER.pattern}), sd ({_NUMBER.pattern})", output)
    assert printed, output
    assert float(printed.group(1)) == pytest.approx(obs.mean(), abs=0.006)
    assert float(printed.group(2)) == pytest.approx(obs.std(), abs=0.006)


def _check_faq_blocks(walkthrough: Walkthrough) -> None:
    _, _, namespace = walkthrough
    assert bool(namespace["x"] != namespace["z"])
    assert namespace["trace"]["theta"]["value"].shape == (8,)
    # Seeding with the same integer gives the same draws.
    handlers, ppl, dist = namespace["handlers"], namespace["ppl"], namespace["dist"]
    with handlers.seed(rng_seed=0):
        again = ppl.sample("x", dist.Normal(0.0, 1.0))
    assert float(again) == float(namespace["x"])


@pytest.mark.slow
def test_readme_walkthrough():
    """All python blocks run once (compiling three MCMC loops takes most of the
    time, so the checks share one run rather than being separate tests that
    pytest-xdist could spread over workers, each repeating the run)."""
    walkthrough = _run_walkthrough()
    _check_example_outputs_match_the_run(walkthrough)
    _check_centered_summary_is_plausible(walkthrough)
    _check_divergence_count_agrees_with_summary(walkthrough)
    _check_noncentered_run_is_plausible(walkthrough)
    _check_locscale_reparam_repeats_the_transform_reparam_run(walkthrough)
    _check_new_school_prediction_is_plausible(walkthrough)
    _check_faq_blocks(walkthrough)


# -- the bash blocks ------------------------------------------------------------------


def _nox_sessions() -> set[str]:
    """The names of the functions noxfile.py decorates with ``nox.session``."""
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if ast.unparse(target) == "nox.session":
                    names.add(node.name)
    return names


def _distributions() -> dict[str, Path]:
    """Distribution name -> directory, for every package under packages/."""
    result = {}
    for pyproject in sorted((ROOT / "packages").glob("*/pyproject.toml")):
        name = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["name"]
        result[name] = pyproject.parent
    return result


def _shell_commands(text: str) -> list[list[str]]:
    """Every command of the README's bash blocks and inline ``pip install`` code,
    split at ``&&`` and with comments removed."""
    sources = [body for lang, body, _ in _blocks(text) if lang == "bash"]
    sources += re.findall(r"`(pip install [^`]+)`", text)
    commands = []
    for source in sources:
        for line in source.splitlines():
            line = line.split("#", 1)[0].strip()
            commands += [part.split() for part in line.split("&&") if part.strip()]
    return commands


def test_bash_blocks_name_what_exists():
    text = README.read_text(encoding="utf-8")
    sessions = _nox_sessions()
    distributions = _distributions()
    commands = _shell_commands(text)
    named_sessions, installed = set(), set()
    for words in commands:
        if "nox" in words and "-s" in words:
            session = words[words.index("-s") + 1]
            assert session in sessions, f"README runs nox session {session!r}: not in noxfile.py"
            named_sessions.add(session)
        if "install" in words and "pip" in words:
            for word in words[words.index("install") + 1 :]:
                if word.startswith('"') or word == "-e":
                    continue  # a quoted tool requirement such as "nox[uv]"
                if word.startswith("packages/"):
                    assert (ROOT / word / "pyproject.toml").is_file(), word
                    installed.add(word)
                else:
                    assert word in distributions, f"README installs {word!r}: no such package"
                    installed.add(word)
    # The two newcomer commands.
    assert {"demo", "tests"} <= named_sessions
    assert set(distributions) <= installed, "the README does not show how to install everything"


def test_development_section_names_nox_sessions():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Development") :]
    paragraph = section.split("CI runs", 1)[0]
    named = set(re.findall(r"`(\w+)`", paragraph)) - {"nox"}
    assert named, "the Development section names no nox sessions"
    assert named <= _nox_sessions()
    assert (ROOT / ".ci" / "run").is_file()


def test_files_the_readme_points_to_exist():
    text = README.read_text(encoding="utf-8")
    for path in ("examples/eight_schools.py", "docs/benchmarks.rst"):
        assert path in text
        assert (ROOT / path).is_file(), path


def test_python_m_ppl_plugins_lists_the_packages(capsys):
    from ppl.plugins.cli import main

    assert main(["plugins"]) == 0
    listing = capsys.readouterr().out
    for name in ("ppl-distributions", "ppl-mcmc"):
        assert name in listing
