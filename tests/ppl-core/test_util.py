import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import pytest

import ppl


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_set_host_device_count_before_jax_starts():
    out = run_python(
        """
        import ppl
        ppl.set_host_device_count(3)
        import jax
        print(jax.local_device_count())
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3"


def test_set_host_device_count_after_jax_started_warns():
    jnp.zeros(1).block_until_ready()
    with pytest.warns(UserWarning, match=r"already initialized.*no effect"):
        ppl.set_host_device_count(2)


def test_set_host_device_count_validates():
    with pytest.raises(ValueError, match="positive integer"):
        ppl.set_host_device_count(0)


def test_enable_x64_in_a_fresh_process():
    out = run_python(
        """
        import ppl
        ppl.enable_x64()
        import jax.numpy as jnp
        print(jnp.zeros(1).dtype)
        """
    )
    assert out.stdout.strip() == "float64", out.stderr


def test_set_platform_cpu():
    out = run_python(
        """
        import ppl
        ppl.set_platform("cpu")
        import jax
        print(jax.devices()[0].platform)
        """
    )
    assert out.stdout.strip() == "cpu", out.stderr


def test_validation_switches():
    assert not ppl.is_validation_enabled()
    with ppl.validation_enabled():
        assert ppl.is_validation_enabled()
        with ppl.validation_enabled(False):
            assert not ppl.is_validation_enabled()
        assert ppl.is_validation_enabled()
    assert not ppl.is_validation_enabled()
    ppl.enable_validation()
    try:
        assert ppl.is_validation_enabled()
    finally:
        ppl.enable_validation(False)


def test_lazy_subpackages():
    assert ppl.constraints.positive is not None
    assert ppl.infer.Predictive is not None
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        ppl.nothing  # noqa: B018


def test_x64_flag_round_trip():
    before = jax.config.jax_enable_x64
    try:
        ppl.enable_x64(True)
        assert jax.config.jax_enable_x64
    finally:
        jax.config.update("jax_enable_x64", before)
