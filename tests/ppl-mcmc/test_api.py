"""The public surface: NumPyro-compatible signatures, state fields and plugin registration."""

import inspect
import math

import pytest

import ppl.infer
from ppl.infer.initialization import init_to_uniform
from ppl.mcmc import HMC, MCMC, NUTS, HMCState, MCMCKernel, diagnostics, hmc
from ppl.plugins import registry

_EMPTY = inspect.Parameter.empty


def parameters(fn):
    return [(p.name, p.default, p.kind) for p in inspect.signature(fn).parameters.values()]


def test_hmc_signature():
    expected = [
        ("model", None),
        ("potential_fn", None),
        ("kinetic_fn", None),
        ("step_size", 1.0),
        ("inverse_mass_matrix", None),
        ("adapt_step_size", True),
        ("adapt_mass_matrix", True),
        ("dense_mass", False),
        ("target_accept_prob", 0.8),
        ("num_steps", None),
        ("trajectory_length", 2 * math.pi),
        ("init_strategy", init_to_uniform),
        ("find_heuristic_step_size", False),
        ("forward_mode_differentiation", False),
        ("regularize_mass_matrix", True),
    ]
    assert [(name, default) for name, default, _ in parameters(HMC)] == expected


def test_nuts_signature():
    expected = [
        ("model", None),
        ("potential_fn", None),
        ("kinetic_fn", None),
        ("step_size", 1.0),
        ("inverse_mass_matrix", None),
        ("adapt_step_size", True),
        ("adapt_mass_matrix", True),
        ("dense_mass", False),
        ("target_accept_prob", 0.8),
        ("trajectory_length", None),
        ("max_tree_depth", 10),
        ("init_strategy", init_to_uniform),
        ("find_heuristic_step_size", False),
        ("forward_mode_differentiation", False),
        ("regularize_mass_matrix", True),
    ]
    assert [(name, default) for name, default, _ in parameters(NUTS)] == expected


def test_mcmc_signatures():
    kw = inspect.Parameter.KEYWORD_ONLY
    assert parameters(MCMC)[1:] == [
        ("num_warmup", _EMPTY, kw),
        ("num_samples", _EMPTY, kw),
        ("num_chains", 1, kw),
        ("thinning", 1, kw),
        ("postprocess_fn", None, kw),
        ("chain_method", "parallel", kw),
        ("progress_bar", True, kw),
        ("jit_model_args", False, kw),
        # ppl's extension, after NumPyro's parameters
        ("chunk_size", None, kw),
    ]
    assert [p[:2] for p in parameters(MCMC.run)] == [
        ("self", _EMPTY),
        ("rng_key", _EMPTY),
        ("args", _EMPTY),
        ("extra_fields", ()),
        ("init_params", None),
        ("kwargs", _EMPTY),
    ]
    assert [p[:2] for p in parameters(MCMC.warmup)][3:5] == [
        ("extra_fields", ()),
        ("collect_warmup", False),
    ]
    assert [p[:2] for p in parameters(MCMC.get_samples)] == [
        ("self", _EMPTY),
        ("group_by_chain", False),
    ]
    assert [p[:2] for p in parameters(MCMC.print_summary)] == [
        ("self", _EMPTY),
        ("prob", 0.9),
        ("exclude_deterministic", True),
    ]
    for name in ("post_warmup_state", "last_state"):
        assert isinstance(getattr(MCMC, name), property)


def test_kernel_interface():
    assert HMCState._fields == (
        "i",
        "z",
        "z_grad",
        "potential_energy",
        "energy",
        "r",
        "trajectory_length",
        "num_steps",
        "accept_prob",
        "mean_accept_prob",
        "diverging",
        "adapt_state",
        "rng_key",
    )
    assert [p[0] for p in parameters(MCMCKernel.init)] == [
        "self",
        "rng_key",
        "num_warmup",
        "init_params",
        "model_args",
        "model_kwargs",
    ]
    kernel = NUTS(potential_fn=lambda z: z**2)
    assert isinstance(kernel, MCMCKernel) and isinstance(kernel, HMC)
    assert kernel.sample_field == "z" and kernel.default_fields == ("z", "diverging")
    assert kernel.is_ensemble_kernel is False and kernel.model is None
    with pytest.raises(TypeError):
        MCMCKernel()


def test_registered_with_the_plugin_registry():
    for name, obj in {
        "MCMC": MCMC,
        "HMC": HMC,
        "NUTS": NUTS,
        "MCMCKernel": MCMCKernel,
        "HMCState": HMCState,
        "hmc": hmc,
        "diagnostics": diagnostics,
    }.items():
        assert registry.lookup("kernels", name) is obj
        if name != "hmc":  # ppl.infer.hmc is the module, as numpyro.infer.hmc is
            assert getattr(ppl.infer, name) is obj
    assert ppl.infer.hmc.hmc is hmc
    assert registry.provider("kernels", "NUTS") == "mcmc"


def test_kernel_arguments_are_checked():
    with pytest.raises(ValueError, match="Only one of `model` or `potential_fn`"):
        NUTS()
    with pytest.raises(ValueError, match="Only one of `model` or `potential_fn`"):
        NUTS(model=lambda: None, potential_fn=lambda z: z)
    with pytest.raises(ValueError, match="step_size"):
        NUTS(potential_fn=lambda z: z, step_size=-1.0)
    with pytest.raises(ValueError, match="target_accept_prob"):
        NUTS(potential_fn=lambda z: z, target_accept_prob=1.5)
    with pytest.raises(ValueError, match="max_tree_depth"):
        NUTS(potential_fn=lambda z: z, max_tree_depth=0)
    with pytest.raises(ValueError, match="num_steps"):
        HMC(potential_fn=lambda z: z, num_steps=2.5)
    with pytest.raises(ValueError, match="trajectory_length or a num_steps"):
        HMC(potential_fn=lambda z: z, trajectory_length=None)
    with pytest.raises(ValueError, match="dense_mass"):
        NUTS(potential_fn=lambda z: z, dense_mass=["x"])
