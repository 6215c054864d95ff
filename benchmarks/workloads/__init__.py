"""Benchmark workloads: one module each, registered in WORKLOADS.

A workload module defines ``make_data(quick)``, ``model(pp, dist, **data)``
written once against the API that ppl and NumPyro share (``pp`` is the
``ppl`` or ``numpyro`` module, ``dist`` its distributions), and, for BlackJAX,
``logdensity(data)`` returning ``(logdensity_fn, initial_position_fn)`` in
unconstrained space, hand-written in JAX. ``SETTINGS`` gives the run sizes.
"""

from benchmarks.workloads import (
    eight_schools,
    hierarchical_logistic,
    linear_regression,
    logistic_regression,
)

WORKLOADS = {
    "eight_schools": eight_schools,
    "logistic_regression": logistic_regression,
    "hierarchical_logistic": hierarchical_logistic,
    "linear_regression": linear_regression,
}
