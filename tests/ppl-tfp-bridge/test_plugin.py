"""The ppl-tfp-bridge plugin: what it registers, the adapt_distribution hook, cheap discovery."""

import pytest

pytest.importorskip("tensorflow_probability")

import subprocess
import sys
import textwrap

from tensorflow_probability.substrates import jax as tfp

import ppl.tfp.distributions as td
from ppl.plugins import registry
from ppl.tfp import plugin
from ppl.tfp.support import BijectorConstraint, UnmappedSupport

tfd = tfp.distributions


def test_plugin_is_registered_with_its_kernels_and_bijections():
    assert plugin.PPL_PLUGIN_API == 1
    infos = [info for info in registry.plugins() if info.module == "ppl.tfp.plugin"]
    assert len(infos) == 1, [info.module for info in registry.plugins()]
    provides = infos[0].provides
    assert {"TFPKernel", "TFPKernelState", "NoUTurnSampler", "RandomWalkMetropolis"} <= set(
        provides["kernels"]
    )
    assert set(provides["bijections"]) == {BijectorConstraint.__name__, UnmappedSupport.__name__}
    assert not [s for s in registry.skipped() if "tfp" in s.name]


def test_adapt_distribution_hook():
    normal = tfd.Normal(0.0, 1.0)
    adapted = registry.adapt_distribution(normal)
    assert isinstance(adapted, td.Normal) and adapted.tfp_dist is normal
    assert plugin.adapt_distribution(obj=object()) is None
    assert plugin.adapt_distribution(obj=[1.0, 2.0]) is None
    with pytest.raises(TypeError, match="distribution"):
        plugin.adapt_distribution(obj=tfp.bijectors.Exp())


def test_discovery_does_not_import_tfp():
    # Finding the plugin and its kernels must not cost TFP's (seconds-long) import.
    script = textwrap.dedent(
        """
        import sys
        from ppl.plugins import registry
        assert "TFPKernel" in registry.names("kernels")
        assert "NoUTurnSampler" in registry.names("kernels")
        assert registry.adapt_distribution(object()) is None
        loaded = [m for m in sys.modules if m.startswith("tensorflow_probability")]
        assert not loaded, loaded
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
