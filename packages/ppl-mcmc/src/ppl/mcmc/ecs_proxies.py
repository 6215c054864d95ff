"""Subsampled log-likelihood estimation for :class:`~ppl.mcmc.hmc_ecs.HMCECS`: per-datum
log-likelihoods of subsample plates, block updates of the subsample indices, and the
Taylor-series control variate with its bias-corrected (perturbed) estimator.

For a plate of :math:`n` data points with log-likelihood
:math:`\\ell(\\theta) = \\sum_{i=1}^n \\ell_i(\\theta)`, a proxy
:math:`q_i(\\theta) \\approx \\ell_i(\\theta)` whose sum
:math:`q(\\theta) = \\sum_i q_i(\\theta)` is cheap gives the difference estimator over
a subsample :math:`u = (u_1, \\ldots, u_m)` drawn uniformly with replacement
(Quiroz et al. 2019):

.. math::

    \\hat\\ell(\\theta, u) = q(\\theta) + \\frac{n}{m} \\sum_{j=1}^m d_{u_j}(\\theta),
    \\qquad d_i = \\ell_i - q_i,

which is unbiased for :math:`\\ell(\\theta)`. Exponentiating it is not unbiased for the
likelihood; the perturbed estimator subtracts half the estimated variance,
:math:`\\hat\\ell - \\tfrac12 \\hat\\sigma^2` with
:math:`\\hat\\sigma^2 = \\tfrac{n^2}{m} \\widehat{\\mathrm{Var}}(d_u)`, which makes
:math:`\\exp(\\cdot)` nearly unbiased when the proxy is good (Dang et al. 2019).

The :func:`taylor_proxy` expands each :math:`\\ell_i` to first or second order around
reference parameters :math:`\\theta^*` (in unconstrained space), so that
:math:`q(\\theta)` needs only the sums of the per-datum values, gradients and Hessians
at :math:`\\theta^*`, computed once over the full data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.flatten_util import ravel_pytree

from ppl.handlers import block, seed, substitute, trace
from ppl.primitives import Messenger
from ppl.transforms import biject_to

__all__ = [
    "BoundTaylorProxy",
    "TaylorProxy",
    "TaylorProxyState",
    "block_update",
    "per_datum_log_likelihood",
    "pin_subsample",
    "subsample_plate_sizes",
    "taylor_proxy",
]

#: ``{plate name: (size, subsample_size)}`` of the subsampled plates of a model.
PlateSizes = Mapping[str, tuple[int, int]]


# -- subsample plates ------------------------------------------------------------------


def subsample_plate_sizes(model_trace: dict) -> dict[str, tuple[int, int]]:
    """``{name: (size, subsample_size)}`` of the plates of a trace that subsample
    (``subsample_size < size``), in trace order."""
    return {
        name: (int(site["args"][0]), int(site["args"][1]))
        for name, site in model_trace.items()
        if site["type"] == "plate"
        and site["args"][1] is not None
        and site["args"][0] > site["args"][1]
    }


class pin_subsample(Messenger):
    """Make the plates named in ``indices`` use exactly these subsample indices.

    Handlers outside only fill indices that are not set (as the potential energy
    built by :func:`~ppl.infer.util.initialize_model` does), so these win. Index
    arrays of another length than the plate's ``subsample_size`` resize the plate.

    Args:
        fn: the model.
        indices: ``{plate name: integer index array}``.
    """

    def __init__(self, fn: Callable | None = None, indices: Mapping | None = None) -> None:
        self.indices = dict(indices or {})
        super().__init__(fn)

    def process_message(self, msg: dict) -> None:
        if msg["type"] == "plate" and msg["name"] in self.indices:
            msg["value"] = self.indices[msg["name"]]


def sum_except_dim(x: jax.Array, dim: int) -> jax.Array:
    """Sum ``x`` over every axis but ``dim`` (a negative axis)."""
    x = jnp.asarray(x)
    axis = x.ndim + dim
    return jnp.sum(x, axis=tuple(a for a in range(x.ndim) if a != axis))


def subsample_frame(site: dict, plate_sizes: PlateSizes) -> Any:
    """The frame of the (single) subsample plate around ``site``, or ``None``."""
    frames = [frame for frame in site["cond_indep_stack"] if frame.name in plate_sizes]
    if len(frames) > 1:
        raise ValueError(
            f"site {site['name']!r} lies in several subsample plates "
            f"{[frame.name for frame in frames]}; HMCECS estimates the likelihood of one "
            "subsample plate per site: reshape the data so that one plate subsamples it"
        )
    return frames[0] if frames else None


def observed_log_prob(fn: Any, value: Any, mask: Any) -> jax.Array:
    """The elementwise log density of an observed site, its mask applied (no scale:
    the plate's ``size / subsample_size`` scaling is the estimator's business)."""
    log_prob = fn.log_prob(value)
    if mask is not None:
        log_prob = jnp.where(mask, log_prob, 0.0)
    return log_prob


def per_datum_log_likelihood(
    model: Callable,
    model_args: tuple,
    model_kwargs: dict,
    params: Mapping,
    indices: Mapping,
    plate_sizes: PlateSizes,
) -> dict[str, jax.Array]:
    """The log-likelihood of each selected data point of each subsample plate.

    Args:
        model: the model.
        model_args, model_kwargs: its arguments.
        params: constrained values of the latent sites.
        indices: ``{plate name: index array}``: the data points to evaluate.
        plate_sizes: the model's subsample plates (see :func:`subsample_plate_sizes`).

    Returns:
        ``{plate name: array of shape (len(indices[name]),)}``: the summed log
        densities of the observed sites in the plate, per data point.
    """
    with block():
        model_trace = trace(
            seed(substitute(pin_subsample(model, indices=indices), data=dict(params)), rng_seed=0)
        ).get_trace(*model_args, **model_kwargs)
    log_liks: dict[str, jax.Array] = {}
    for site in model_trace.values():
        if site["type"] != "sample" or not site["is_observed"]:
            continue
        frame = subsample_frame(site, plate_sizes)
        if frame is None:
            continue
        log_prob = observed_log_prob(site["fn"], site["value"], site.get("mask"))
        per_datum = sum_except_dim(log_prob, frame.dim)
        log_liks[frame.name] = (
            log_liks[frame.name] + per_datum if frame.name in log_liks else per_datum
        )
    return log_liks


# -- block updates of the indices -----------------------------------------------------------


def _block_size(subsample_size: int, num_blocks: int) -> int:
    return -(-subsample_size // num_blocks)


def splice_block(values: jax.Array, start: jax.Array, new: jax.Array) -> jax.Array:
    """``values`` with the rows from ``start`` (a multiple of ``len(new)``) replaced by
    ``new``, along the first axis; rows past the end of ``values`` are dropped."""
    length = values.shape[0]
    # Padding to a whole number of blocks keeps dynamic_update_slice from shifting a
    # last, partial block back to fit.
    pad = -length % new.shape[0]
    padded = jnp.pad(values, [(0, pad)] + [(0, 0)] * (values.ndim - 1))
    return lax.dynamic_update_slice_in_dim(padded, new.astype(values.dtype), start, 0)[:length]


def block_update(
    rng_key: jax.Array, indices: Mapping, plate_sizes: PlateSizes, num_blocks: int
) -> tuple[dict, dict]:
    """Propose new subsample indices by redrawing one block of each plate's indices.

    A plate's :math:`m` indices are cut into consecutive blocks of
    :math:`\\lceil m / \\text{num\\_blocks} \\rceil` (the last one shorter); one block,
    chosen uniformly, is redrawn uniformly from :math:`\\{0, \\ldots, n - 1\\}` with
    replacement. The proposal is symmetric, so the Metropolis-Hastings ratio is the
    ratio of the estimated likelihoods (Tran et al. 2017).

    Returns:
        ``(new_indices, blocks)`` with ``blocks[name] = (start, block_indices)``.
    """
    new_indices, blocks = {}, {}
    for name in indices:
        size, subsample_size = plate_sizes[name]
        block_size = _block_size(subsample_size, num_blocks)
        num_used = -(-subsample_size // block_size)  # no block made of padding only
        rng_key, key_block, key_draw = jax.random.split(rng_key, 3)
        start = jax.random.randint(key_block, (), 0, num_used) * block_size
        fresh = jax.random.randint(key_draw, (block_size,), 0, size).astype(indices[name].dtype)
        new_indices[name] = splice_block(indices[name], start, fresh)
        blocks[name] = (start, fresh)
    return new_indices, blocks


# -- the Taylor proxy --------------------------------------------------------------------------


def _derivatives(f: Callable, x: jax.Array, degree: int) -> tuple[Any, Any, Any]:
    """``f(x)``, its Jacobian and (``degree`` 2) its second derivatives, from one
    trace of ``f``. Forward mode: ``f`` has many outputs (one per datum), few inputs."""

    def value_and_jacobian(x: jax.Array) -> tuple[Any, Any]:
        jacobian, value = jax.jacfwd(lambda x: _twice(f(x)), has_aux=True)(x)
        return jacobian, value

    if degree == 1:
        jacobian, value = value_and_jacobian(x)
        return value, jacobian, None
    hessian, (jacobian, value) = jax.jacfwd(
        lambda x: (lambda jv: (jv[0], jv))(value_and_jacobian(x)), has_aux=True
    )(x)
    return value, jacobian, hessian


def _total_derivatives(total: Callable, x: jax.Array, degree: int) -> tuple[Any, Any, Any]:
    """Like :func:`_derivatives` for a scalar-valued ``total`` over all the data: the
    gradient in reverse mode, so that a pass over the data costs no more than a few
    evaluations, whatever the dimension."""

    def gradient_and_value(x: jax.Array) -> tuple[Any, Any]:
        gradient, value = jax.jacrev(lambda x: _twice(total(x)), has_aux=True)(x)
        return gradient, value

    if degree == 1:
        gradient, value = gradient_and_value(x)
        return value, gradient, None
    hessian, (gradient, value) = jax.jacfwd(
        lambda x: (lambda gv: (gv[0], gv))(gradient_and_value(x)), has_aux=True
    )(x)
    return value, gradient, hessian


def _twice(x: Any) -> tuple[Any, Any]:
    return x, x


class TaylorProxyState(NamedTuple):
    """The statistics of the Taylor proxy at the reference parameters.

    Dicts are keyed by subsample plate; ``D`` is the number of unconstrained
    coordinates of the reference parameters and ``m`` the subsample size.

    Attributes:
        ref_subsample_log_liks: per-datum log-likelihoods of the current subsample, ``(m,)``.
        ref_subsample_log_lik_grads: their gradients, ``(m, D)``.
        ref_subsample_log_lik_hessians: their Hessians, ``(m, D, D)`` (``None`` for degree 1).
        ref_log_lik_sums: the full-data log-likelihood, ``()``.
        ref_log_lik_sum_grads: its gradient, ``(D,)``.
        ref_log_lik_sum_hessians: its Hessian, ``(D, D)`` (``None`` for degree 1).
    """

    ref_subsample_log_liks: dict
    ref_subsample_log_lik_grads: dict
    ref_subsample_log_lik_hessians: dict | None
    ref_log_lik_sums: dict
    ref_log_lik_sum_grads: dict
    ref_log_lik_sum_hessians: dict | None


class TaylorProxy:
    """A Taylor-series control variate around ``reference_params`` (made by
    :func:`taylor_proxy`); :class:`~ppl.mcmc.hmc_ecs.HMCECS` binds it to a model
    with :meth:`bind`.

    Args:
        reference_params: constrained values of every continuous latent site, e.g.
            the MAP estimate.
        degree: 1 or 2, the order of the expansion.
    """

    def __init__(self, reference_params: Mapping, degree: int = 2) -> None:
        if not isinstance(reference_params, Mapping) or not reference_params:
            raise ValueError(
                "reference_params must be a non-empty dict {site name: constrained value}, "
                f"got {reference_params!r}"
            )
        if isinstance(degree, bool) or degree not in (1, 2):
            raise ValueError(f"degree must be 1 or 2 (the order of the expansion), got {degree!r}")
        self.reference_params = {name: jnp.asarray(v) for name, v in reference_params.items()}
        self.degree = int(degree)

    def __repr__(self) -> str:
        return (
            f"taylor_proxy(reference_params={sorted(self.reference_params)}, degree={self.degree})"
        )

    def bind(self, model_trace: dict, plate_sizes: PlateSizes) -> BoundTaylorProxy:
        """Check the reference against a prototype trace of the model and move it to
        unconstrained space.

        Raises:
            ValueError: when ``reference_params`` names sites the model does not
                sample, misses continuous latent sites, or has wrong shapes.
        """
        latent = [
            name
            for name, site in model_trace.items()
            if site["type"] == "sample" and not site["is_observed"]
        ]
        unknown = sorted(set(self.reference_params) - set(latent))
        missing = sorted(set(latent) - set(self.reference_params))
        if unknown or missing:
            raise ValueError(
                "taylor_proxy: reference_params must give a value for each latent site of the "
                f"model (latent sites: {latent})"
                + (f"; not latent sites of the model: {unknown}" if unknown else "")
                + (f"; missing: {missing}" if missing else "")
            )
        transforms = {}
        for name in latent:
            expected = tuple(jnp.shape(model_trace[name]["value"]))
            got = tuple(jnp.shape(self.reference_params[name]))
            if got != expected:
                raise ValueError(
                    f"taylor_proxy: reference_params[{name!r}] has shape {got}, but site "
                    f"{name!r} has shape {expected}"
                )
            transforms[name] = biject_to(model_trace[name]["fn"].support)
        reference = {
            name: transforms[name].inv(value) for name, value in self.reference_params.items()
        }
        flat, unravel = ravel_pytree(reference)
        return BoundTaylorProxy(
            self.degree, dict(plate_sizes), transforms, flat, unravel, tuple(sorted(latent))
        )


def taylor_proxy(reference_params: Mapping, degree: int = 2) -> TaylorProxy:
    """A Taylor-expansion control variate for :class:`~ppl.mcmc.hmc_ecs.HMCECS`.

    Each datum's log-likelihood is expanded around ``reference_params`` in
    unconstrained space :math:`\\phi` (Bardenet et al. 2017):

    .. math::

        q_i(\\phi) = \\ell_i(\\phi^*) + \\nabla \\ell_i(\\phi^*)^\\top (\\phi - \\phi^*)
        + \\tfrac12 (\\phi - \\phi^*)^\\top \\nabla^2 \\ell_i(\\phi^*) (\\phi - \\phi^*),

    the last term for ``degree=2`` only. The closer the reference to the posterior
    mass (a MAP estimate is the usual choice), the smaller the variance of the
    likelihood estimator and the better subsampling mixes.

    Args:
        reference_params: constrained values of every continuous latent site.
        degree: 1 or 2, the order of the expansion.

    Example::

        kernel = HMCECS(NUTS(model), num_blocks=10, proxy=taylor_proxy(map_estimate))
    """
    return TaylorProxy(reference_params, degree)


class BoundTaylorProxy:
    """A :class:`TaylorProxy` bound to a model (see :meth:`TaylorProxy.bind`).

    Attributes:
        degree: the order of the expansion.
        plate_sizes: the model's subsample plates.
        site_names: the latent sites the expansion is in.
    """

    def __init__(
        self,
        degree: int,
        plate_sizes: dict[str, tuple[int, int]],
        transforms: dict,
        reference_flat: jax.Array,
        unravel: Callable,
        site_names: tuple[str, ...],
    ) -> None:
        self.degree = degree
        self.plate_sizes = plate_sizes
        self.site_names = site_names
        self._transforms = transforms
        self._reference_flat = reference_flat
        self._unravel = unravel

    def _constrain(self, flat: jax.Array) -> dict:
        return {name: self._transforms[name](value) for name, value in self._unravel(flat).items()}

    def _per_datum(
        self, model: Callable, model_args: tuple, model_kwargs: dict, indices: Mapping
    ) -> Callable[[jax.Array], dict]:
        def log_liks(flat: jax.Array) -> dict:
            return per_datum_log_likelihood(
                model, model_args, model_kwargs, self._constrain(flat), indices, self.plate_sizes
            )

        return log_liks

    def _subsample_terms(
        self, model: Callable, model_args: tuple, model_kwargs: dict, indices: Mapping
    ) -> tuple[dict, dict, dict | None]:
        f = self._per_datum(model, model_args, model_kwargs, indices)
        return _derivatives(f, self._reference_flat, self.degree)

    def init_state(
        self, model: Callable, model_args: tuple, model_kwargs: dict, indices: Mapping
    ) -> TaylorProxyState:
        """The proxy statistics: full-data sums (one pass over all the data) and the
        per-datum terms of the subsample ``indices`` (traceable: jit it)."""
        everything = {name: jnp.arange(size) for name, (size, _) in self.plate_sizes.items()}
        per_datum = self._per_datum(model, model_args, model_kwargs, everything)

        def total(flat: jax.Array) -> dict:
            return {name: jnp.sum(v) for name, v in per_datum(flat).items()}

        sums = _total_derivatives(total, self._reference_flat, self.degree)
        terms = self._subsample_terms(model, model_args, model_kwargs, indices)
        return TaylorProxyState(*terms, *sums)

    def update_state(
        self,
        state: TaylorProxyState,
        model: Callable,
        model_args: tuple,
        model_kwargs: dict,
        blocks: Mapping,
    ) -> TaylorProxyState:
        """The state after the index ``blocks`` (from :func:`block_update`) changed:
        the per-datum terms of the new indices replace those of the old."""
        new_indices = {name: fresh for name, (_, fresh) in blocks.items()}
        new_terms = self._subsample_terms(model, model_args, model_kwargs, new_indices)
        old_terms = state[:3]
        spliced = []
        for old, new in zip(old_terms, new_terms, strict=True):
            if old is None:
                spliced.append(None)
                continue
            spliced.append(
                {
                    name: splice_block(value, blocks[name][0], new[name])
                    if name in blocks
                    else value
                    for name, value in old.items()
                }
            )
        return state._replace(
            ref_subsample_log_liks=spliced[0],
            ref_subsample_log_lik_grads=spliced[1],
            ref_subsample_log_lik_hessians=spliced[2],
        )

    def estimate(self, log_liks: Mapping, params: Mapping, state: TaylorProxyState) -> jax.Array:
        """The perturbed estimate of the full-data log-likelihood.

        Args:
            log_liks: ``{plate: per-datum log-likelihoods of the subsample}``.
            params: constrained values of (at least) :attr:`site_names`.
            state: the proxy statistics for the subsample.
        """
        missing = [name for name in self.site_names if name not in params]
        if missing:
            raise ValueError(f"taylor_proxy: the model did not sample the sites {missing}")
        unconstrained = {name: self._transforms[name].inv(params[name]) for name in self.site_names}
        delta = ravel_pytree(unconstrained)[0] - self._reference_flat
        total = jnp.zeros((), delta.dtype)
        for name, log_lik in log_liks.items():
            size = self.plate_sizes[name][0]
            subsample_size = log_lik.shape[0]
            proxy_subsample = (
                state.ref_subsample_log_liks[name] + state.ref_subsample_log_lik_grads[name] @ delta
            )
            proxy_total = state.ref_log_lik_sums[name] + state.ref_log_lik_sum_grads[name] @ delta
            if self.degree == 2:
                proxy_subsample = (
                    proxy_subsample
                    + 0.5 * (state.ref_subsample_log_lik_hessians[name] @ delta) @ delta
                )
                proxy_total = (
                    proxy_total + 0.5 * delta @ state.ref_log_lik_sum_hessians[name] @ delta
                )
            diff = log_lik - proxy_subsample
            estimate = proxy_total + size * jnp.mean(diff)
            variance = size**2 / subsample_size * jnp.var(diff)
            total = total + estimate - 0.5 * variance
        return total
