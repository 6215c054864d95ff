"""Start-up cost: importing a sampler imports what it needs and nothing else.

Plugin discovery loads every installed plugin, so each must register lazily
(:func:`ppl.plugins.lazy`): ``from ppl.infer import MCMC, NUTS`` must not pay
for optax, SVI or the other MCMC kernels, and ``SVI`` must not pay for MCMC
kernels.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("ppl.mcmc")
pytest.importorskip("ppl.vi")

WATCHED = (
    "optax",
    "ppl.vi.svi",
    "ppl.vi.autoguide",
    "ppl.mcmc.mcmc",
    "ppl.mcmc.nuts",
    "ppl.mcmc.ensemble",
    "ppl.mcmc.hmc_ecs",
    "ppl.mcmc.discrete_gibbs",
    "ppl.mcmc.mixed_hmc",
)


def imported_after(statement: str) -> set[str]:
    code = (
        f"import sys, json\n{statement}\n"
        f"print(json.dumps([m for m in {list(WATCHED)!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_nuts_imports_neither_vi_nor_other_kernels():
    assert imported_after("from ppl.infer import MCMC, NUTS") == {
        "ppl.mcmc.mcmc",
        "ppl.mcmc.nuts",
    }


def test_svi_imports_no_mcmc_driver():
    found = imported_after("from ppl.infer import SVI, Trace_ELBO")
    assert {"optax", "ppl.vi.svi"} <= found
    assert not found & {"ppl.mcmc.mcmc", "ppl.mcmc.ensemble", "ppl.mcmc.hmc_ecs"}


def test_direct_imports_still_work():
    found = imported_after("from ppl.mcmc import AIES, MCMC; from ppl.vi import AutoNormal")
    assert {"ppl.mcmc.ensemble", "ppl.mcmc.mcmc", "ppl.vi.autoguide"} <= found
