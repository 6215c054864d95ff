"""The ``svi`` kind: one model fitted by SVI with an autoguide in ppl and NumPyro.

A workload defines ``make_data(quick)``, ``model(pp, dist, **data)``,
``SETTINGS``/``QUICK_SETTINGS`` (``num_steps``, optionally ``timing_calls``)
and names the pieces, which carry the same names in both libraries:

- ``GUIDE``: an autoguide class of ``<library>.infer.autoguide``
  (``GUIDE_KWARGS`` optional);
- ``OPTIMIZER``: ``(name, kwargs)`` of a ``<library>.optim`` optimizer;
- ``ELBO`` (optional, ``("Trace_ELBO", {})`` by default): ``(name, kwargs)`` in
  ``<library>.infer``.

Two measurements, because ``SVI.run`` builds its loop anew on every call:
``svi.run`` itself, first and again with a new key (what a user pays), and a
``jax.jit``-compiled ``lax.scan`` of ``num_steps`` ``svi.update`` calls, the same
program in both libraries, whose first call minus its warm median is the
compile time and whose warm median gives the steps per second. The final
loss (mean of the last tenth of ``svi.run``'s losses) shows that both
libraries optimize the same objective to the same place.
"""

from __future__ import annotations

import importlib

from benchmarks.kinds import _mcmc
from benchmarks.kinds._charts import by_workload
from benchmarks.kinds.spec import Metric, Plot
from benchmarks.measure import since_spawn, timed, warm_median

LIBRARIES = ("ppl", "numpyro")
REQUIRED = ("GUIDE", "OPTIMIZER", "SETTINGS", "QUICK_SETTINGS", "make_data", "model")

METRICS = {
    "time_to_first_fit": Metric("start to first fit (s)", False),
    "first_run": Metric("svi.run, first (s)", False),
    "warm_run": Metric("svi.run, again (s)", False),
    "compile": Metric("compile of the update loop (s)", False),
    "steps_per_second": Metric("steps / s (warm, jitted loop)", True),
    "final_loss": Metric("final loss (mean of last 10%)", False),
}

PLOTTED = ("time_to_first_fit", "compile", "steps_per_second", "final_loss")

#: Warm calls of the jitted update loop whose median gives steps per second.
DEFAULT_TIMING_CALLS = 3


def metrics(workload) -> dict[str, Metric]:
    return METRICS


def plots(summary: dict) -> list[Plot]:
    return by_workload(summary, METRICS, PLOTTED, LIBRARIES, prefix="svi")


def build_svi(library: str, workload):
    """``SVI(model, guide, optimizer, elbo)`` of one library, as the workload names them."""
    pp, dist, infer = _mcmc.modules(library)
    autoguide = importlib.import_module(f"{library}.infer.autoguide")
    optim = importlib.import_module(f"{library}.optim")
    model = _mcmc.bind_model(workload, pp, dist)
    guide = getattr(autoguide, workload.GUIDE)(model, **getattr(workload, "GUIDE_KWARGS", {}))
    optimizer_name, optimizer_kwargs = workload.OPTIMIZER
    elbo_name, elbo_kwargs = getattr(workload, "ELBO", ("Trace_ELBO", {}))
    return infer.SVI(
        model,
        guide,
        getattr(optim, optimizer_name)(**optimizer_kwargs),
        getattr(infer, elbo_name)(**elbo_kwargs),
    )


def run(library: str, workload, settings: dict, data: dict) -> dict:
    import jax
    import numpy as np

    svi = build_svi(library, workload)
    num_steps = settings["num_steps"]

    def fit(seed: int):
        return svi.run(jax.random.PRNGKey(seed), num_steps, progress_bar=False, **data).losses

    losses, first = timed(lambda: fit(1))
    result = {"time_to_first_fit": since_spawn(), "first_run": first}
    _, result["warm_run"] = timed(lambda: fit(2))
    tail = np.asarray(losses)[-max(num_steps // 10, 1) :]
    result["final_loss"] = float(np.mean(tail))

    # Arrays travel as arguments so that XLA cannot fold the data into the program;
    # the rest (plate sizes) must stay static.
    arrays = {k: v for k, v in data.items() if isinstance(v, np.ndarray)}
    static = {k: v for k, v in data.items() if k not in arrays}

    @jax.jit
    def update_loop(state, arrays):
        def step(state, _):
            return svi.update(state, **arrays, **static)

        return jax.lax.scan(step, state, None, length=num_steps)

    state = svi.init(jax.random.PRNGKey(0), **data)
    calls = settings.get("timing_calls", DEFAULT_TIMING_CALLS)
    first_loop, warm_loop = warm_median(lambda: update_loop(state, arrays), calls)
    result["compile"] = max(first_loop - warm_loop, 0.0)
    result["steps_per_second"] = num_steps / warm_loop
    return result
