"""Per-role XLA compile options (ppl.compilation)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ppl import compilation


@pytest.fixture
def restore_settings(monkeypatch):
    monkeypatch.setattr(compilation, "_CPU_OPTIONS", dict(compilation._CPU_OPTIONS))
    compilation._known_options.cache_clear()
    yield
    compilation.set_fast_compile(True)
    compilation._known_options.cache_clear()


def test_cpu_roles_get_their_options(restore_settings):
    assert jax.default_backend() == "cpu"
    assert compilation.compile_options("setup") == {
        "xla_backend_optimization_level": 0,
        "xla_cpu_use_fusion_emitters": False,
    }
    assert compilation.compile_options("loop") == {"xla_backend_optimization_level": 1}
    assert compilation.compile_options("default") == {}


def test_options_unknown_to_jaxlib_are_dropped(restore_settings, monkeypatch):
    monkeypatch.setitem(
        compilation._CPU_OPTIONS,
        "setup",
        {"xla_backend_optimization_level": 0, "xla_no_such_option_anywhere": 3},
    )
    assert compilation.compile_options("setup") == {"xla_backend_optimization_level": 0}
    assert compilation.compile_options("loop") == {"xla_backend_optimization_level": 1}


def test_one_probe_compile_serves_every_role(restore_settings, monkeypatch):
    probes = []
    real = compilation._compiles_with
    monkeypatch.setattr(compilation, "_compiles_with", lambda o: probes.append(o) or real(o))
    for role in ("setup", "loop", "default", "setup"):
        compilation.compile_options(role)
    assert len(probes) == 1


def test_other_backends_and_opting_out_get_xla_defaults(restore_settings, monkeypatch):
    compilation.set_fast_compile(False)
    assert not compilation.fast_compile_enabled()
    assert compilation.compile_options("setup") == {}
    compilation.set_fast_compile(True)
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert compilation.compile_options("loop") == {}


def test_unknown_role_is_named():
    with pytest.raises(ValueError, match="role must be one of"):
        compilation.compile_options("warmup")


@pytest.mark.parametrize("role", ["setup", "loop", "default"])
def test_jit_computes_what_jax_jit_computes(role):
    def logsumexp_grad(x):
        return jax.grad(lambda v: jnp.log(jnp.sum(jnp.exp(v))))(x)

    x = jnp.linspace(-3.0, 2.0, 11)
    expected = np.exp(np.asarray(x)) / np.exp(np.asarray(x)).sum()  # the softmax, by hand
    np.testing.assert_allclose(compilation.jit(logsumexp_grad, role)(x), expected, rtol=1e-6)
