"""A third-party plugin, installed from tests/plugins/ppl-example-plugin, end to end.

It is discovered through its entry point, its names resolve wherever
first-party names do, its constraint gets a bijection, its distribution works
in models, and (with ppl-mcmc installed) its kernel runs under ``MCMC``.
Broken plugins are skipped with a :class:`~ppl.plugins.PluginWarning`
without taking the working ones down.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from jax import random

import ppl
from ppl import handlers
from ppl.plugins import PluginWarning, Registry, hookimpl, registry
from ppl.transforms import biject_to

ppl_example_plugin = pytest.importorskip(
    "ppl_example_plugin", reason="install tests/plugins/ppl-example-plugin (nox -s tests does)"
)
from ppl_example_plugin import (  # noqa: E402
    ExampleRWM,
    Triangular,
    TriangularSupport,
    triangular_support_bijection,
)

# low, mode, high: interior, left-skewed and a mode at an end of the support.
TRIANGLES = [(0.0, 0.3, 1.0), (-2.0, 1.5, 2.0), (1.0, 1.0, 4.0)]


# -- discovery -----------------------------------------------------------------


def _example_info():
    found = [info for info in registry.plugins() if info.name == "example"]
    assert len(found) == 1, [info.name for info in registry.plugins()]
    return found[0]


def test_plugin_is_discovered_with_what_it_provides():
    info = _example_info()
    assert info.distribution == "ppl-example-plugin"
    assert info.version == importlib.metadata.version("ppl-example-plugin")
    assert info.module == "ppl_example_plugin.plugin"
    assert info.provides["kernels"] == ["ExampleRWM"]
    assert info.provides["distributions"] == ["Triangular"]
    assert info.provides["bijections"] == ["TriangularSupport"]


def test_cli_lists_the_plugin():
    result = subprocess.run(
        [sys.executable, "-m", "ppl", "plugins"], capture_output=True, text=True, check=True
    )
    assert "ppl-example-plugin" in result.stdout
    line = next(line for line in result.stdout.splitlines() if "ppl-example-plugin" in line)
    assert line.split()[0] == "example"
    assert "ExampleRWM" in result.stdout
    assert "Triangular" in result.stdout


def test_names_resolve_through_the_facades():
    from ppl.infer import ExampleRWM as via_infer

    assert via_infer is ExampleRWM
    assert registry.lookup("kernels", "ExampleRWM") is ExampleRWM
    assert registry.lookup("distributions", "Triangular") is Triangular
    assert registry.provider("distributions", "Triangular") == "example"


# -- the constraint and its bijection ------------------------------------------


def test_biject_to_uses_the_plugin_rule():
    constraint = TriangularSupport(jnp.array([-1.0, 0.0]), jnp.array([2.0, 0.5]))
    transform = biject_to(constraint)
    x = jnp.array([[-30.0, -0.7], [0.0, 0.3], [1.3, 30.0]])
    y = transform(x)
    assert bool(jnp.all(constraint(y)))
    assert bool(jnp.all(((y > constraint.low) & (y < constraint.high))[1]))
    np.testing.assert_allclose(transform.inv(y[1]), x[1], rtol=1e-5, atol=1e-6)
    # The log-Jacobian against autodiff, element by element (event_dim 0).
    derivative = jax.vmap(jax.grad(lambda v: transform(jnp.full(2, v))[0]))(x[:, 0])
    np.testing.assert_allclose(
        transform.log_abs_det_jacobian(x, y)[:, 0], jnp.log(derivative), rtol=1e-4, atol=1e-5
    )
    assert triangular_support_bijection(constraint)(x[1]) == pytest.approx(y[1])


def test_constraint_is_a_pytree_and_checks_values():
    constraint = TriangularSupport(0.0, 2.0)
    leaves, treedef = jax.tree_util.tree_flatten(constraint)
    assert leaves == [0.0, 2.0]
    rebuilt = jax.tree_util.tree_unflatten(treedef, [1.0, 3.0])
    assert isinstance(rebuilt, TriangularSupport) and (rebuilt.low, rebuilt.high) == (1.0, 3.0)
    np.testing.assert_array_equal(
        constraint(jnp.array([-0.1, 0.0, 1.0, 2.0, 2.1])), [False, True, True, True, False]
    )
    assert bool(constraint(constraint.feasible_like(jnp.zeros(3))).all())


# -- the distribution ----------------------------------------------------------


def _scipy(low, mode, high):
    return scipy.stats.triang(c=(mode - low) / (high - low), loc=low, scale=high - low)


@pytest.mark.parametrize("low, mode, high", TRIANGLES)
def test_triangular_density_cdf_and_moments_match_scipy(low, mode, high):
    d = Triangular(low, mode, high)
    reference = _scipy(low, mode, high)
    x = np.linspace(low - 0.5, high + 0.5, 41)
    expected = reference.logpdf(x)
    actual = np.asarray(d.log_prob(jnp.asarray(x)))
    inside = np.isfinite(expected)
    np.testing.assert_allclose(actual[inside], expected[inside], rtol=1e-5, atol=1e-5)
    assert np.all(actual[~inside] == -np.inf)
    np.testing.assert_allclose(d.cdf(jnp.asarray(x)), reference.cdf(x), atol=1e-6)
    assert float(d.mean) == pytest.approx(reference.mean(), rel=1e-6)
    assert float(d.variance) == pytest.approx(reference.var(), rel=1e-5)


@pytest.mark.parametrize("low, mode, high", TRIANGLES)
def test_triangular_samples_follow_the_distribution(low, mode, high):
    d = Triangular(low, mode, high)
    draws = np.asarray(d.sample(random.key(0), (4000,)))
    assert draws.shape == (4000,)
    assert np.all((draws >= low) & (draws <= high))
    assert scipy.stats.kstest(draws, _scipy(low, mode, high).cdf).pvalue > 1e-3


def test_triangular_samples_are_reparameterized():
    # d/dmode of the inverse CDF at a fixed uniform draw, against finite differences.
    key = random.key(1)

    def draw(mode):
        return Triangular(0.0, mode, 2.0).sample(key, (8,))

    grad = jax.jacobian(draw)(0.7)
    eps = 1e-3
    finite = (draw(0.7 + eps) - draw(0.7 - eps)) / (2 * eps)
    np.testing.assert_allclose(grad, finite, rtol=2e-2, atol=2e-3)
    assert Triangular.has_rsample and not Triangular.is_discrete


def test_triangular_shapes_expand_and_validation():
    d = Triangular(jnp.zeros(3), 0.5, 1.0)
    assert d.batch_shape == (3,) and d.event_shape == ()
    assert d.sample(random.key(2), (5,)).shape == (5, 3)
    expanded = d.expand((4, 3))
    assert expanded.batch_shape == (4, 3)
    assert expanded.log_prob(jnp.full((4, 3), 0.25)).shape == (4, 3)
    with pytest.raises(ValueError, match="batch_shape"):
        d.expand((2,))
    with pytest.raises(ValueError, match="low must be < high"):
        Triangular(1.0, 1.0, 1.0, validate_args=True)
    with pytest.raises(ValueError, match="mode must lie in"):
        Triangular(0.0, 2.0, 1.0, validate_args=True)


def test_triangular_works_inside_models_and_plates():
    data = jnp.array([0.2, 0.9, 0.4])

    def model():
        with ppl.plate("data", 3):
            ppl.sample("obs", Triangular(0.0, 0.3, 1.0), obs=data)
        with ppl.plate("latent", 2):
            ppl.sample("x", Triangular(-1.0, 0.0, 1.0))

    tr = handlers.trace(handlers.seed(model, rng_seed=3)).get_trace()
    assert tr["x"]["value"].shape == (2,)
    assert tr["x"]["fn"].batch_shape == (2,)
    from ppl.infer.util import log_density

    log_joint, _ = log_density(model, (), {}, {"x": jnp.array([0.5, -0.25])})
    expected = _scipy(0.0, 0.3, 1.0).logpdf(np.asarray(data)).sum()
    expected += _scipy(-1.0, 0.0, 1.0).logpdf([0.5, -0.25]).sum()
    assert float(log_joint) == pytest.approx(expected, rel=1e-5)


# -- the kernel ----------------------------------------------------------------


def test_rwm_rejects_bad_arguments():
    with pytest.raises(TypeError, match="model must be callable"):
        ExampleRWM(3)
    with pytest.raises(ValueError, match="step_size must be positive"):
        ExampleRWM(lambda: None, step_size=0.0)
    with pytest.raises(ValueError, match="target_accept_prob"):
        ExampleRWM(lambda: None, target_accept_prob=1.5)


def test_rwm_recovers_a_normal_posterior_under_mcmc():
    pytest.importorskip("ppl.mcmc", reason="needs ppl-mcmc")
    import ppl.distributions as dist
    from ppl.mcmc import MCMC

    y = jnp.asarray(np.random.default_rng(0).normal(1.5, 1.0, size=20))

    def model(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("data", y.shape[0]):
            ppl.sample("y", dist.Normal(mu, 1.0), obs=y)

    # Conjugate posterior: N(sum(y) / (n + 1), 1 / (n + 1)).
    n = y.shape[0]
    post_mean, post_sd = float(y.sum()) / (n + 1), (1.0 / (n + 1)) ** 0.5

    mcmc = MCMC(ExampleRWM(model), num_warmup=1000, num_samples=6000, progress_bar=False)
    mcmc.run(random.key(4), y, extra_fields=("accept_prob",))
    draws = np.asarray(mcmc.get_samples()["mu"])
    assert draws.shape == (6000,)
    # Monte Carlo standard error from 30 batch means (autocorrelation included).
    batch_means = draws.reshape(30, -1).mean(axis=1)
    standard_error = batch_means.std(ddof=1) / np.sqrt(30)
    assert abs(draws.mean() - post_mean) < 4 * standard_error
    assert standard_error < 0.2 * post_sd  # the chain mixes at all
    assert draws.std() == pytest.approx(post_sd, rel=0.15)
    accept = np.asarray(mcmc.get_extra_fields()["accept_prob"])
    assert 0.1 < accept.mean() < 0.6  # adapted towards the 0.234 target


# -- broken plugins ------------------------------------------------------------


def _fresh_registry() -> Registry:
    fresh = Registry()
    fresh.plugins()  # discover the installed plugins first
    return fresh


def _still_works(reg: Registry) -> None:
    assert reg.lookup("kernels", "ExampleRWM") is ExampleRWM
    assert reg.lookup("distributions", "Triangular") is Triangular
    assert "example" in [info.name for info in reg.plugins()]


def test_plugin_with_a_foreign_api_version_is_skipped():
    reg = _fresh_registry()
    future = types.ModuleType("future_plugin")
    future.PPL_PLUGIN_API = 99

    @hookimpl
    def register_kernels(register):
        register("FutureKernel", object)

    future.register_kernels = register_kernels
    with pytest.warns(PluginWarning, match="PPL_PLUGIN_API=99"):
        assert reg.register_plugin(future, "future") is False
    assert "future" not in [info.name for info in reg.plugins()]
    assert reg.get("kernels", "FutureKernel") is None
    assert [item.name for item in reg.skipped()][-1] == "future"
    _still_works(reg)


def test_plugin_whose_hook_raises_registers_nothing():
    reg = _fresh_registry()
    faulty = types.ModuleType("faulty_plugin")
    faulty.PPL_PLUGIN_API = 1

    @hookimpl
    def register_distributions(register):
        register("HalfRegistered", object)
        raise RuntimeError("faulty plugin exploded")

    faulty.register_distributions = register_distributions
    with pytest.warns(PluginWarning, match="faulty plugin exploded"):
        assert reg.register_plugin(faulty, "faulty") is False
    assert reg.get("distributions", "HalfRegistered") is None
    assert "faulty" not in [info.name for info in reg.plugins()]
    _still_works(reg)


def test_entry_points_that_fail_to_load_are_skipped(monkeypatch):
    real_entry_points = importlib.metadata.entry_points
    broken = [
        importlib.metadata.EntryPoint(
            name="ghost", value="ppl_no_such_plugin_module.plugin", group="ppl"
        ),
        # Imports fine but is no plugin: it declares no PPL_PLUGIN_API.
        importlib.metadata.EntryPoint(name="not_a_plugin", value="json", group="ppl"),
    ]

    def entry_points(**params):
        found = list(real_entry_points(**params))
        return [*found, *broken] if params.get("group") == "ppl" else found

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    reg = Registry()
    with pytest.warns(PluginWarning) as caught:
        names = [info.name for info in reg.plugins()]
    messages = [str(w.message) for w in caught]
    assert any("ghost" in m and "failed to import" in m for m in messages)
    assert any("not_a_plugin" in m and "PPL_PLUGIN_API=None" in m for m in messages)
    assert "ghost" not in names and "not_a_plugin" not in names
    assert {item.name for item in reg.skipped()} >= {"ghost", "not_a_plugin"}
    _still_works(reg)
