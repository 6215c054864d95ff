"""The building blocks: metrics, the integrator, adaptation and NUTS trees."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from ppl.mcmc.adaptation import (
    build_adaptation_schedule,
    dual_averaging,
    find_reasonable_step_size,
    warmup_adapter,
    welford_covariance,
)
from ppl.mcmc.functional import hmc
from ppl.mcmc.integrators import (
    IntegratorState,
    value_and_grad,
    velocity_verlet,
    velocity_verlet_step,
)
from ppl.mcmc.metrics import (
    block_layout,
    euclidean_kinetic_energy,
    euclidean_metric,
    mass_matrix_sqrt_and_inverse,
    momentum_generator,
)
from ppl.mcmc.trajectory import build_tree


def spd(n, seed):
    a = np.random.default_rng(seed).normal(size=(n, n))
    return a @ a.T / n + np.eye(n)


# -- metrics -------------------------------------------------------------------


def test_kinetic_energy_diagonal_dense_and_blocks():
    rng = np.random.default_rng(0)
    r = {"a": rng.normal(size=2), "b": rng.normal(size=(2, 2)), "c": rng.normal()}
    flat = np.concatenate([r["a"], r["b"].ravel(), [r["c"]]])  # sorted-key order
    dense = spd(7, 1)
    diag = rng.uniform(0.5, 2.0, size=7)
    assert euclidean_kinetic_energy(dense, r) == pytest.approx(0.5 * flat @ dense @ flat, rel=1e-5)
    assert euclidean_kinetic_energy(diag, r) == pytest.approx(0.5 * flat @ (diag * flat), rel=1e-5)
    # Blocks: (c, a) dense, b diagonal; raveled in the tuple's order.
    block_ca, block_b = spd(3, 2), rng.uniform(0.5, 2.0, size=4)
    ca = np.concatenate([[r["c"]], r["a"]])
    expected = 0.5 * ca @ block_ca @ ca + 0.5 * np.sum(block_b * r["b"].ravel() ** 2)
    value = euclidean_kinetic_energy({("c", "a"): block_ca, ("b",): block_b}, r)
    assert value == pytest.approx(expected, rel=1e-5)
    # The flat metric of the same layout agrees and its velocity is the gradient.
    layout = block_layout(r, [("c", "a"), ("b",)], [True, False])
    metric = euclidean_metric(layout)
    imm = {("c", "a"): jnp.asarray(block_ca), ("b",): jnp.asarray(block_b)}
    assert metric.kinetic_energy(imm, jnp.asarray(flat)) == pytest.approx(expected, rel=1e-5)
    grad = jax.grad(lambda x: metric.kinetic_energy(imm, x))(jnp.asarray(flat))
    np.testing.assert_allclose(metric.velocity(imm, jnp.asarray(flat)), grad, rtol=1e-5)


def test_mass_matrix_square_roots():
    inverse = spd(5, 3)
    sqrt, sqrt_inv = mass_matrix_sqrt_and_inverse(jnp.asarray(inverse))
    sqrt, sqrt_inv = np.asarray(sqrt), np.asarray(sqrt_inv)
    np.testing.assert_allclose(sqrt @ sqrt.T, np.linalg.inv(inverse), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.triu(sqrt, 1), 0.0, atol=1e-6)
    np.testing.assert_allclose(sqrt_inv @ sqrt, np.eye(5), atol=1e-4)
    diag_sqrt, diag_sqrt_inv = mass_matrix_sqrt_and_inverse(jnp.array([4.0, 0.25]))
    np.testing.assert_allclose(diag_sqrt, [0.5, 2.0])
    np.testing.assert_allclose(diag_sqrt_inv, [2.0, 0.5])


def test_momentum_covariance_is_the_mass_matrix():
    inverse = spd(3, 4)
    sqrt, _ = mass_matrix_sqrt_and_inverse(jnp.asarray(inverse))
    keys = jax.random.split(jax.random.PRNGKey(0), 40_000)
    draws = jax.vmap(lambda k: momentum_generator({"x": jnp.zeros(3)}, sqrt, k)["x"])(keys)
    np.testing.assert_allclose(np.cov(np.asarray(draws).T), np.linalg.inv(inverse), atol=0.03)


# -- integrator ----------------------------------------------------------------


def test_leapfrog_matches_closed_form_on_harmonic_oscillator():
    # For U = z^2/2, K = r^2/2 one leapfrog step is the linear map
    # z' = (1 - e^2/2) z + e r,  r' = -e (1 - e^2/4) z + (1 - e^2/2) r.
    init, update = velocity_verlet(lambda z: 0.5 * z**2, euclidean_kinetic_energy)
    z, r, eps = 0.7, -1.3, 0.3
    state = update(eps, jnp.ones(1), init(jnp.asarray(z), jnp.asarray(r)))
    assert float(state.z) == pytest.approx((1 - eps**2 / 2) * z + eps * r, rel=1e-6)
    expected_r = -eps * (1 - eps**2 / 4) * z + (1 - eps**2 / 2) * r
    assert float(state.r) == pytest.approx(expected_r, rel=1e-6)
    assert float(state.z_grad) == pytest.approx(float(state.z), rel=1e-6)
    back = update(-eps, jnp.ones(1), state)
    assert float(back.z) == pytest.approx(z, abs=1e-6)
    assert float(back.r) == pytest.approx(r, abs=1e-6)


def test_leapfrog_energy_error_is_second_order():
    cov = spd(3, 5)
    precision = jnp.asarray(np.linalg.inv(cov))

    def potential(z):
        return 0.5 * z @ precision @ z

    init, update = velocity_verlet(potential, euclidean_kinetic_energy)

    def max_energy_error(eps):
        steps = round(2.0 / eps)
        state = init(jnp.ones(3), jnp.array([0.5, -1.0, 0.2]))
        h0 = state.potential_energy + euclidean_kinetic_energy(jnp.ones(3), state.r)
        worst = 0.0
        for _ in range(steps):
            state = update(eps, jnp.ones(3), state)
            h = state.potential_energy + euclidean_kinetic_energy(jnp.ones(3), state.r)
            worst = max(worst, abs(float(h - h0)))
        return worst

    ratio = max_energy_error(0.1) / max_energy_error(0.05)
    assert 3.5 < ratio < 4.5


def test_forward_mode_gradient_matches_reverse_mode():
    def f(x):
        return jnp.sum(jnp.sin(x["a"]) * x["b"] ** 2)

    x = {"a": jnp.array([0.3, 1.2]), "b": jnp.array([2.0, -1.0])}
    value_f, grad_f = value_and_grad(f, True)(x)
    value_r, grad_r = value_and_grad(f, False)(x)
    assert value_f == pytest.approx(value_r)
    for name in x:
        np.testing.assert_allclose(grad_f[name], grad_r[name], rtol=1e-6)


# -- adaptation ----------------------------------------------------------------


def test_dual_averaging_finds_the_root():
    # Acceptance exp(-eps) hits 0.7 at eps = -log(0.7); g = target - accept.
    init, update = dual_averaging()
    state = init(jnp.log(10.0))
    step = jax.jit(lambda s: update(0.7 - jnp.exp(-jnp.exp(s.x)), s))
    for _ in range(3000):
        state = step(state)
    assert float(jnp.exp(state.x_avg)) == pytest.approx(-np.log(0.7), rel=0.02)


@pytest.mark.parametrize("diagonal", [True, False])
def test_welford_matches_numpy(diagonal):
    x = np.random.default_rng(6).normal(size=(50, 3)) @ np.array(
        [[1.0, 0.5, 0.0], [0.0, 2.0, 0.3], [0.0, 0.0, 0.5]]
    )
    init, update, final = welford_covariance(diagonal)
    state = init(3)
    for row in x:
        state = update(jnp.asarray(row), state)
    expected = np.cov(x.T)
    expected = np.diag(expected) if diagonal else expected
    np.testing.assert_allclose(final(state), expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(state.mean, x.mean(axis=0), rtol=1e-5, atol=1e-6)
    identity = np.ones(3) if diagonal else np.eye(3)
    shrunk = (50 / 55) * expected + 1e-3 * (5 / 55) * identity
    np.testing.assert_allclose(final(state, regularize=True), shrunk, rtol=1e-4, atol=1e-6)


def test_adaptation_schedule_matches_stan():
    ends = [end for _, end in build_adaptation_schedule(1000)]
    assert build_adaptation_schedule(1000)[0] == (0, 74)
    # Stan: 75 fast, slow windows 25, 50, 100, 200, 500 (stretched), 50 fast.
    assert np.diff([-1, *ends]).tolist() == [75, 25, 50, 100, 200, 500, 50]
    assert build_adaptation_schedule(100) == [(0, 14), (15, 89), (90, 99)]
    assert build_adaptation_schedule(10) == [(0, 9)]


def test_warmup_adapter_installs_the_last_window_covariance():
    num_warmup = 200
    schedule = build_adaptation_schedule(num_warmup)
    rng = np.random.default_rng(7)
    cov = spd(2, 8)
    draws = rng.multivariate_normal(np.zeros(2), cov, size=num_warmup).astype(np.float32)
    layout = block_layout(jnp.zeros(2), None, True)
    adapter = warmup_adapter(num_warmup, layout, adapt_step_size=False)
    state = adapter.init(
        IntegratorState(jnp.zeros(2), None, 0.0, jnp.zeros(2)), jax.random.PRNGKey(0), 0.5
    )
    update = jax.jit(adapter.update)
    for t in range(num_warmup):
        z_info = IntegratorState(jnp.asarray(draws[t]), None, 0.0, jnp.zeros(2))
        state = update(t, 0.8, z_info, state)
    start, end = schedule[-2]
    window = draws[start : end + 1]
    n = len(window)
    expected = (n / (n + 5)) * np.cov(window.T) + 1e-3 * (5 / (n + 5)) * np.eye(2)
    np.testing.assert_allclose(state.inverse_mass_matrix, expected, rtol=1e-3, atol=1e-5)
    assert float(state.step_size) == 0.5
    assert int(state.window_idx) == len(schedule)


def test_find_reasonable_step_size_scales_with_the_target():
    layout = block_layout(jnp.zeros(1), None, False)
    metric = euclidean_metric(layout)

    def found(scale, start):
        potential = value_and_grad(lambda z: 0.5 * jnp.sum((z / scale) ** 2))
        pe, grad = potential(jnp.ones(1) * scale)
        z_info = IntegratorState(jnp.ones(1) * scale, None, pe, grad)
        return float(
            find_reasonable_step_size(
                potential, metric, start, jnp.ones(1), jnp.ones(1), z_info, jax.random.PRNGKey(1)
            )
        )

    # The leapfrog step is stable for eps < 2 * scale; a reasonable one is of that order.
    assert 0.05 < found(0.01, 1.0) / 0.01 < 4
    assert 0.05 < found(100.0, 1e-3) / 100.0 < 4


# -- NUTS trees and kernel invariance ------------------------------------------


def _potential_with_wall(z, wall):
    # A standard Gaussian, plus (when wall=1) a steep wall at z[0] = 1.
    return 0.5 * jnp.sum(z**2) + wall * 1e4 * jax.nn.relu(z[0] - 1.0) ** 2


@jax.jit
def _tree(step_size, max_depth, z0, r0, wall):
    # One compiled tree builder: the depth limit is traced, the buffers sized for 10.
    layout = block_layout(z0, None, False)
    metric = euclidean_metric(layout)
    vg = value_and_grad(lambda z: _potential_with_wall(z, wall))

    def step_fn(eps, s):
        return velocity_verlet_step(vg, metric.velocity, eps, jnp.ones_like(z0), s)

    pe, grad = vg(z0)
    return build_tree(
        step_fn,
        metric,
        jnp.ones_like(z0),
        step_size,
        IntegratorState(z0, r0, pe, grad),
        jax.random.PRNGKey(3),
        max_tree_depth=(max_depth, 10),
    )


def test_tree_depth_is_bounded_and_u_turns_stop_growth():
    # A tiny step never turns within 2^4 steps: the tree uses all 1 + 2 + 4 + 8 leaves.
    tree = _tree(1e-4, 4, jnp.array([1.0, 0.0]), jnp.array([0.5, 0.0]), 0.0)
    assert int(tree.num_proposals) == 15 and int(tree.depth) == 4 and not bool(tree.turning)
    # On a circular orbit (2-d isotropic Gaussian, |z| = |r|) the summed momentum of an
    # arc makes half the arc's angle with the end velocities: the trajectory turns once
    # it spans more than half a turn, pi / 0.1 ~ 31.4 steps. The depth-5 tree (31 steps)
    # and the new depth-6 subtree (32 leaves spanning 3.1) do not turn, and the merged
    # trajectory, wrapping once around the circle, has an ambiguous summed momentum:
    # only the extra check across the merge (old tree plus the first new leaf) sees it.
    tree = _tree(0.1, 10, jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]), 0.0)
    assert bool(tree.turning) and int(tree.depth) == 6
    assert int(tree.num_proposals) == 63
    assert float(tree.sum_accept_probs / tree.num_proposals) > 0.99
    # Along a line a U-turn is a momentum reversal, which any stretch of a half
    # period (pi) contains: the tree stops by depth 6 whatever the directions drawn.
    tree = _tree(0.1, 10, jnp.array([1.0, 0.0]), jnp.array([0.5, 0.0]), 0.0)
    assert bool(tree.turning) and int(tree.num_proposals) <= 63


def test_divergence_is_detected():
    tree = _tree(2.0, 10, jnp.array([0.9, 0.0]), jnp.array([3.0, 0.0]), 1.0)
    assert bool(tree.diverging)
    assert int(tree.num_proposals) < 16


def _transition_draws(algo, potential, init_draws, num_transitions=2, **options):
    """Start independent chains at exact draws of the target and apply transitions.

    A correct kernel leaves the target invariant, so the results are exact draws
    too. Chains run one after another (``lax.map``) so that each builds only its
    own trajectories.
    """
    init_kernel, sample_kernel = hmc(potential_fn=potential, algo=algo)
    draws = jnp.asarray(init_draws)
    template = init_kernel(draws[0], 0, adapt_step_size=False, adapt_mass_matrix=False, **options)

    def chain(args):
        z, key = args
        pe, grad = jax.value_and_grad(potential)(z)
        state = template._replace(z=z, z_grad=grad, potential_energy=pe, rng_key=key)
        state = jax.lax.fori_loop(0, num_transitions, lambda _, s: sample_kernel(s), state)
        return state.z, state.accept_prob

    keys = jax.random.split(jax.random.PRNGKey(11), draws.shape[0])
    z, accept_prob = jax.jit(lambda a: jax.lax.map(chain, a))((draws, keys))
    return np.asarray(z), np.asarray(accept_prob)


def _assert_draws_from(columns, cdf):
    for column in columns:
        assert stats.kstest(column, cdf).pvalue > 1e-3


@pytest.mark.parametrize(
    "algo, options",
    [
        ("NUTS", {"step_size": 1.4, "max_tree_depth": 3}),
        ("HMC", {"step_size": 1.2, "num_steps": 3}),
    ],
)
def test_transition_leaves_a_gaussian_invariant(algo, options):
    draws = np.random.default_rng(9).normal(size=(2000, 1)).astype(np.float32)
    z, accept_prob = _transition_draws(algo, lambda z: 0.5 * jnp.sum(z**2), draws, **options)
    _assert_draws_from(z.T, stats.norm.cdf)
    # The step size is large enough for rejections to matter.
    assert accept_prob.mean() < 0.97


def test_nuts_leaves_a_non_gaussian_target_invariant():
    # density exp(-z^4 / 4) is the generalized normal with beta=4 and scale 4**(1/4).
    target = stats.gennorm(beta=4, scale=4**0.25)
    draws = target.rvs(size=(2000, 1), random_state=10).astype(np.float32)
    z, _ = _transition_draws("NUTS", lambda z: jnp.sum(z**4) / 4, draws, step_size=0.6)
    _assert_draws_from(z.T, target.cdf)


def test_nuts_with_dense_mass_leaves_a_correlated_gaussian_invariant():
    cov = np.array([[1.0, 0.9], [0.9, 1.0]])
    chol = np.linalg.cholesky(cov)
    precision = jnp.asarray(np.linalg.inv(cov))
    draws = (np.random.default_rng(12).normal(size=(2000, 2)) @ chol.T).astype(np.float32)
    z, _ = _transition_draws(
        "NUTS",
        lambda z: 0.5 * z @ precision @ z,
        draws,
        num_transitions=1,
        step_size=0.7,
        inverse_mass_matrix=jnp.asarray(cov),
    )
    # Whitened coordinates are independent standard normals.
    _assert_draws_from((z @ np.linalg.inv(chol).T).T, stats.norm.cdf)


def test_functional_interface_with_potential_fn_gen():
    def potential_fn_gen(center, scale=1.0):
        return lambda z: 0.5 * jnp.sum(((z - center) / scale) ** 2)

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="HMC")
    state = init_kernel(
        jnp.zeros(2),
        10,
        num_steps=2,
        model_args=(3.0,),
        model_kwargs={"scale": 2.0},
        rng_key=jax.random.PRNGKey(0),
    )
    assert float(state.potential_energy) == pytest.approx(0.5 * 2 * (3.0 / 2.0) ** 2)
    state = sample_kernel(state, model_args=(3.0,), model_kwargs={"scale": 2.0})
    z = np.asarray(state.z)
    assert float(state.potential_energy) == pytest.approx(
        0.5 * np.sum(((z - 3.0) / 2.0) ** 2), rel=1e-5
    )
    np.testing.assert_allclose(state.z_grad, (z - 3.0) / 4.0, rtol=1e-5)
    with pytest.raises(ValueError, match="Exactly one"):
        hmc(potential_fn=lambda z: z, potential_fn_gen=potential_fn_gen)
