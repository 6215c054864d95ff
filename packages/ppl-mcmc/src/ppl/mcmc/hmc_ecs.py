"""HMC with energy conserving subsampling (HMCECS): HMC or NUTS on a log-likelihood
estimated from a subsample of the data, within Gibbs with the subsample indices.

The sampler targets the extended density

.. math::

    \\bar\\pi(\\theta, u) \\propto p(\\theta) \\exp\\{\\hat\\ell(\\theta, u)\\} p(u)

over the parameters :math:`\\theta` and the subsample indices :math:`u` of each
subsample plate (Dang et al. 2019). A step

1. proposes new indices by redrawing one block of :math:`u` (Tran et al. 2017) and
   accepts them with probability
   :math:`\\min\\{1, \\exp(\\hat\\ell(\\theta, u') - \\hat\\ell(\\theta, u))\\}`;
2. moves :math:`\\theta` by an HMC/NUTS transition of
   :math:`p(\\theta) \\exp\\{\\hat\\ell(\\theta, u)\\}` with :math:`u` fixed, so that the
   Hamiltonian is conserved along the trajectory.

With a proxy (:func:`~ppl.mcmc.ecs_proxies.taylor_proxy`), :math:`\\hat\\ell` is the
perturbed difference estimator of :mod:`ppl.mcmc.ecs_proxies` and the
:math:`\\theta`-marginal is close to the posterior; without one it is the plate's
scaled subsample log-likelihood :math:`\\frac{n}{m} \\sum_j \\ell_{u_j}(\\theta)`,
whose variance can be large (Betancourt 2015).

Each log density evaluation touches only the :math:`m` subsampled data points (and
the redrawn block); the proxy's full-data sums are computed once, at initialization.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from ppl.mcmc.ecs_proxies import (
    BoundTaylorProxy,
    TaylorProxy,
    block_update,
    observed_log_prob,
    subsample_frame,
    subsample_plate_sizes,
    sum_except_dim,
    taylor_proxy,
)
from ppl.mcmc.gibbs import GIBBS_SITES_KWARG, conditioned, prototype_trace
from ppl.mcmc.hmc import HMC, HMCState
from ppl.mcmc.kernels import MCMCKernel, _identity
from ppl.mcmc.util import ArgsBinding
from ppl.primitives import Messenger, factor, get_mask

__all__ = ["HMCECS", "HMCECSState", "taylor_proxy"]

#: The model keyword argument carrying the subsample indices and proxy state.
ECS_KWARG = "_hmcecs"

#: The name of the factor site holding the likelihood estimate (NumPyro's name).
ESTIMATE_SITE = "_biased_corrected_log_likelihood"


class HMCECSState(NamedTuple):
    """The state of :class:`HMCECS`.

    Attributes:
        z: the current values: the inner kernel's (unconstrained) latent values and,
            under each subsample plate's name, its subsample indices.
        hmc_state: the state of the inner HMC/NUTS kernel.
        rng_key: the random key for the next step.
        gibbs_state: the proxy's :class:`~ppl.mcmc.ecs_proxies.TaylorProxyState`
            for the current indices, or ``()`` without a proxy.
        accept_prob: the acceptance probability of the last index proposal.
    """

    z: dict
    hmc_state: HMCState
    rng_key: jax.Array
    gibbs_state: Any
    accept_prob: jax.Array

    @property
    def diverging(self) -> jax.Array:
        """Whether the last HMC/NUTS transition diverged."""
        return self.hmc_state.diverging


# -- the model the inner kernel runs -------------------------------------------------------


class _ECSInputs(NamedTuple):
    indices: dict
    # None: only pin the indices (constraining samples needs no estimate).
    proxy_state: Any


class _ECSConfig:
    """What HMCECS learns about the model at init, read by the wrapped model."""

    def __init__(self) -> None:
        self.plate_sizes: dict[str, tuple[int, int]] = {}
        self.proxy: BoundTaylorProxy | None = None

    def __getstate__(self) -> dict:
        # Rebuilt by the next init (a pickled kernel is re-initialized before it samples).
        return {"plate_sizes": {}, "proxy": None}


class _SubsampleEstimator(Messenger):
    """Pin the subsample indices; with a proxy, also take the observed sites of the
    subsample plates out of the log density (their log-likelihoods are recorded for
    the estimator) and record the latent values the proxy expands in."""

    def __init__(self, indices: Mapping, plate_sizes: Mapping, proxy: BoundTaylorProxy | None):
        self.indices = indices
        self.plate_sizes = plate_sizes
        self.proxy = proxy
        self.records: dict[str, list] = {}
        self.params: dict[str, Any] = {}
        super().__init__(None)

    def process_message(self, msg: dict) -> None:
        if msg["type"] == "plate" and msg["name"] in self.indices:
            msg["value"] = self.indices[msg["name"]]
            return
        if self.proxy is None or msg["type"] != "sample" or not msg["is_observed"]:
            return
        frame = subsample_frame(msg, self.plate_sizes)
        if frame is None:
            return
        self.records[msg["name"]] = [frame, msg["fn"], msg.get("mask"), None]
        fn = msg["fn"]
        if hasattr(fn, "mask"):
            msg["fn"] = fn.mask(False)
        else:
            msg["mask"] = False

    def postprocess_message(self, msg: dict) -> None:
        if msg["type"] == "plate" and msg["name"] in self.indices:
            # A handler outside (initialize_model's) may have fixed other indices.
            msg["value"] = self.indices[msg["name"]]
            return
        if self.proxy is None or msg["type"] != "sample":
            return
        if msg["name"] in self.records:
            self.records[msg["name"]][3] = msg["value"]
        if msg["name"] in self.proxy.site_names:
            self.params[msg["name"]] = msg["value"]

    def log_likelihoods(self) -> dict[str, jax.Array]:
        log_liks: dict[str, jax.Array] = {}
        for frame, fn, mask, value in self.records.values():
            per_datum = sum_except_dim(observed_log_prob(fn, value, mask), frame.dim)
            log_liks[frame.name] = (
                log_liks[frame.name] + per_datum if frame.name in log_liks else per_datum
            )
        return log_liks


class _DrawIndices(Messenger):
    """Draw the indices of subsample plates uniformly with replacement, as the index
    updates do (the plate's own draw, without replacement, costs a pass over the
    plate's full size)."""

    def __init__(self, fn: Callable, rng_key: jax.Array) -> None:
        self.rng_key = rng_key
        super().__init__(fn)

    def process_message(self, msg: dict) -> None:
        if msg["type"] != "plate" or msg["value"] is not None:
            return
        size, subsample_size = msg["args"]
        if subsample_size is None or subsample_size >= size:
            return
        self.rng_key, key = jax.random.split(self.rng_key)
        msg["value"] = jax.random.randint(key, (subsample_size,), 0, size)


def _ecs_model(config: _ECSConfig, model: Callable, *args: Any, **kwargs: Any) -> Any:
    inputs = kwargs.pop(ECS_KWARG, None)
    if inputs is None:
        return model(*args, **kwargs)
    proxy = config.proxy if inputs.proxy_state is not None else None
    estimator = _SubsampleEstimator(inputs.indices, config.plate_sizes, proxy)
    with estimator:
        out = model(*args, **kwargs)
    if proxy is not None and estimator.records and get_mask() is not False:
        # Outside the estimator, so that the factor is not taken for a likelihood site.
        log_lik = proxy.estimate(estimator.log_likelihoods(), estimator.params, inputs.proxy_state)
        factor(ESTIMATE_SITE, log_lik)
    return out


def _wrap_ecs(model: Callable, config: _ECSConfig) -> Callable:
    return functools.partial(_ecs_model, config, conditioned(model))


# -- the kernel ---------------------------------------------------------------------------


class HMCECS(MCMCKernel):
    """HMC with energy conserving subsampling, for models whose data sit in subsample
    plates (``plate(name, size, subsample_size=m)`` with the data selected by
    :func:`~ppl.primitives.subsample`).

    Each step first updates the subsample indices of every subsample plate by a
    Metropolis-Hastings step that redraws one of ``num_blocks`` blocks of them, then
    moves the other latent sites with ``inner_kernel`` on the likelihood estimated
    from the subsample (see :mod:`ppl.mcmc.hmc_ecs` for the target). New indices are
    drawn uniformly with replacement.

    Args:
        inner_kernel: an :class:`~ppl.mcmc.hmc.HMC` or :class:`~ppl.mcmc.nuts.NUTS`
            kernel built on the model.
        num_blocks: how many blocks the subsample indices are cut into; one block
            changes per step, so more blocks give higher acceptance of the index
            updates (and slower refreshment of the subsample).
        proxy: a control variate for the likelihood estimator, e.g.
            :func:`~ppl.mcmc.ecs_proxies.taylor_proxy` (also
            ``HMCECS.taylor_proxy``); ``None`` uses the plain scaled subsample
            log-likelihood, which is only accurate for large subsamples.

    Samples (:meth:`~ppl.mcmc.mcmc.MCMC.get_samples`) hold the latent sites; the
    subsample indices are dropped. ``extra_fields`` reach the inner kernel's state
    as ``"hmc_state.<field>"`` and the index acceptance as ``"accept_prob"``.

    Example::

        def model(X, y):
            w = ppl.sample("w", dist.Normal(jnp.zeros(3), 1.0).to_event(1))
            with ppl.plate("N", X.shape[0], subsample_size=1000):
                X_batch = ppl.subsample(X, event_dim=1)
                y_batch = ppl.subsample(y, event_dim=0)
                ppl.sample("y", dist.Bernoulli(logits=X_batch @ w), obs=y_batch)

        proxy = HMCECS.taylor_proxy({"w": w_map})
        mcmc = MCMC(HMCECS(NUTS(model), num_blocks=10, proxy=proxy), num_warmup=500,
                    num_samples=1000)
        mcmc.run(jax.random.PRNGKey(0), X, y)

    References:
        Dang, Quiroz, Kohn, Tran and Villani (2019), *Hamiltonian Monte Carlo with
        energy conserving subsampling*, JMLR 20(100).
        Quiroz, Kohn, Villani and Tran (2019), *Speeding up MCMC by efficient data
        subsampling*, JASA 114(526).
        Tran, Kohn, Quiroz and Villani (2017), *The block pseudo-marginal sampler*.
        Betancourt (2015), *The fundamental incompatibility of scalable Hamiltonian
        Monte Carlo and naive data subsampling*.
    """

    def __init__(
        self, inner_kernel: HMC, *, num_blocks: int = 1, proxy: TaylorProxy | None = None
    ) -> None:
        if not isinstance(inner_kernel, HMC):
            raise TypeError(
                f"inner_kernel must be an HMC or NUTS kernel, got {type(inner_kernel).__name__}"
            )
        if inner_kernel.model is None:
            raise ValueError(
                "HMCECS needs an inner kernel built on a model (not on a potential_fn): the "
                "subsample plates are read from the model"
            )
        if isinstance(num_blocks, bool) or not isinstance(num_blocks, int) or num_blocks < 1:
            raise ValueError(f"num_blocks must be a positive integer, got {num_blocks!r}")
        if proxy is not None and not isinstance(proxy, TaylorProxy):
            raise TypeError(
                "proxy must be None or made by taylor_proxy(reference_params, degree), got "
                f"{type(proxy).__name__}"
            )
        self._model = inner_kernel.model
        self._base_inner = inner_kernel
        self._num_blocks = num_blocks
        self._proxy = proxy
        self._config = _ECSConfig()
        self._inner = inner_kernel.wrap_model(functools.partial(_wrap_ecs, config=self._config))
        self._sample_fn: Callable | None = None
        self._proxy_init_fns: dict = {}

    # -- properties ----------------------------------------------------------------

    @property
    def model(self) -> Callable:
        """The model (as given to the inner kernel)."""
        return self._model

    @property
    def inner_kernel(self) -> HMC:
        """The HMC/NUTS kernel, running the model with the likelihood estimator."""
        return self._inner

    @property
    def num_blocks(self) -> int:
        """How many blocks the subsample indices are cut into."""
        return self._num_blocks

    @property
    def proxy(self) -> TaylorProxy | None:
        """The control variate, or ``None`` for the plain subsample estimate."""
        return self._proxy

    @property
    def sample_field(self) -> str:
        return "z"

    @property
    def _spec_key(self) -> tuple:
        # The driver caches compiled loops per kernel structure.
        return (
            getattr(self._inner, "_spec_key", None),
            tuple(self._config.plate_sizes.items()),
            self._num_blocks,
            self._config.proxy is not None,
        )

    def get_diagnostics_str(self, state: HMCECSState) -> str:
        return self._inner.get_diagnostics_str(state.hmc_state)

    # -- helpers -------------------------------------------------------------------

    def _inner_kwargs(self, model_kwargs: dict | None, indices: dict, proxy_state: Any) -> dict:
        kwargs = {} if model_kwargs is None else dict(model_kwargs)
        kwargs[ECS_KWARG] = _ECSInputs(indices, proxy_state)
        return kwargs

    def _split(self, z: Mapping) -> tuple[dict, dict]:
        plates = self._config.plate_sizes
        return (
            {name: z[name] for name in plates},
            {name: value for name, value in z.items() if name not in plates},
        )

    # -- init ----------------------------------------------------------------------

    def _check_model(self, model_trace: dict, plate_sizes: dict, model_kwargs: dict) -> None:
        if not plate_sizes:
            raise ValueError(
                "HMCECS found no subsample plate in the model: subsample the data with "
                "plate(name, size, subsample_size=m), m < size, and ppl.subsample(data, "
                "event_dim=...) (or use HMC/NUTS for full-data inference)"
            )
        for name, site in model_trace.items():
            plates = [f.name for f in site.get("cond_indep_stack", ()) if f.name in plate_sizes]
            if site["type"] != "sample" or not plates:
                continue
            if not site["is_observed"]:
                raise ValueError(
                    f"latent site {name!r} lies in subsample plate {plates[0]!r}: HMCECS "
                    "subsamples observations only; move local latent variables out of the "
                    "subsample plate or marginalize them"
                )
            if name in model_kwargs.get(GIBBS_SITES_KWARG, {}):
                raise ValueError(
                    f"site {name!r} is conditioned by an enclosing kernel but lies in "
                    f"subsample plate {plates[0]!r}; HMCECS cannot estimate its likelihood"
                )
            if self._proxy is not None:
                subsample_frame(site, plate_sizes)  # one subsample plate per likelihood site
        for name, (_, subsample_size) in plate_sizes.items():
            if self._num_blocks > subsample_size:
                raise ValueError(
                    f"num_blocks={self._num_blocks} exceeds the subsample size "
                    f"{subsample_size} of plate {name!r}"
                )
        if self._proxy is not None:
            discrete = [
                name
                for name, site in model_trace.items()
                if site["type"] == "sample"
                and not site["is_observed"]
                and site["fn"].support.is_discrete
            ]
            if discrete:
                raise ValueError(
                    f"the Taylor proxy needs continuous latent sites; {discrete} are discrete"
                )

    def _initial_indices(self, model_trace: dict, init_params: dict | None) -> dict:
        indices = {}
        for name, (_size, subsample_size) in self._config.plate_sizes.items():
            value = init_params.pop(name) if init_params and name in init_params else None
            if value is None:
                value = model_trace[name]["value"]
            value = jnp.asarray(value)
            if value.shape != (subsample_size,) or not jnp.issubdtype(value.dtype, jnp.integer):
                raise ValueError(
                    f"init_params[{name!r}] must be {subsample_size} integer subsample indices "
                    f"of plate {name!r}, got shape {value.shape} and dtype {value.dtype}"
                )
            indices[name] = value
        return indices

    def _proxy_init_fn(
        self,
        bound: BoundTaylorProxy,
        model: Callable,
        model_args: tuple,
        model_kwargs: dict,
        indices: dict,
    ) -> Callable[[dict], Any]:
        """The compiled proxy initialization (a full-data pass), cached per argument
        structure so that re-running compiles nothing."""
        binding = ArgsBinding(model_args, model_kwargs)
        args_key = binding.cache_key(traced=True)
        key = None
        if args_key is not None:
            key = (
                args_key,
                tuple(bound.plate_sizes.items()),
                tuple((name, value.shape, str(value.dtype)) for name, value in indices.items()),
            )
        compiled = self._proxy_init_fns.get(key) if key is not None else None
        if compiled is None:

            def compute(dynamic: list, indices: dict) -> Any:
                return bound.init_state(model, *binding.rebuild(dynamic), indices)

            compiled = jax.jit(compute)
            if key is not None:
                self._proxy_init_fns[key] = compiled
        return functools.partial(compiled, binding.dynamic)

    def init(
        self,
        rng_key: jax.Array,
        num_warmup: int,
        init_params: dict | None,
        model_args: tuple,
        model_kwargs: dict | None,
    ) -> HMCECSState:
        """The initial state (one chain).

        Args:
            rng_key: a random key.
            num_warmup: the number of warmup iterations of the inner kernel.
            init_params: initial unconstrained values of latent sites and, optionally,
                initial subsample indices under the plates' names.
            model_args, model_kwargs: the model's arguments.
        """
        typed_key = jax.dtypes.issubdtype(rng_key.dtype, jax.dtypes.prng_key)
        if jnp.ndim(rng_key) > (0 if typed_key else 1):
            raise ValueError(
                "HMCECS.init takes one key (one chain); MCMC initializes several chains one by one"
            )
        model_kwargs = {} if model_kwargs is None else dict(model_kwargs)
        rng_key, key_trace, key_indices, key_inner = jax.random.split(rng_key, 4)
        model = conditioned(self._model)
        model_trace = prototype_trace(
            _DrawIndices(model, key_indices), key_trace, model_args, model_kwargs
        )
        plate_sizes = subsample_plate_sizes(model_trace)
        self._check_model(model_trace, plate_sizes, model_kwargs)
        bound = None if self._proxy is None else self._proxy.bind(model_trace, plate_sizes)
        self._config.plate_sizes = plate_sizes
        self._config.proxy = bound

        init_params = None if init_params is None else dict(init_params)
        indices = self._initial_indices(model_trace, init_params)
        proxy_state = (
            ()
            if bound is None
            else self._proxy_init_fn(bound, model, model_args, model_kwargs, indices)(indices)
        )
        hmc_state = self._inner.init(
            key_inner,
            num_warmup,
            init_params or None,
            model_args,
            self._inner_kwargs(model_kwargs, indices, proxy_state),
        )
        self._sample_fn = self._step
        z = {**indices, **hmc_state.z}
        return HMCECSState(z, hmc_state, rng_key, proxy_state, jnp.zeros(()))

    # -- sample --------------------------------------------------------------------

    def _step(self, state: HMCECSState, model_args: tuple, model_kwargs: dict) -> HMCECSState:
        model_kwargs = {} if model_kwargs is None else model_kwargs
        rng_key, key_propose, key_accept = jax.random.split(state.rng_key, 3)
        indices, _ = self._split(state.z)
        proposal, blocks = block_update(
            key_propose, indices, self._config.plate_sizes, self._num_blocks
        )
        proxy_state = state.gibbs_state
        if self._config.proxy is not None:
            proposed_state = self._config.proxy.update_state(
                proxy_state, conditioned(self._model), model_args, model_kwargs, blocks
            )
        else:
            proposed_state = proxy_state
        # With theta fixed, the potential energies differ by the log-likelihood estimates.
        proposed = self._inner.refresh(
            state.hmc_state, model_args, self._inner_kwargs(model_kwargs, proposal, proposed_state)
        )
        log_ratio = state.hmc_state.potential_energy - proposed.potential_energy
        accept_prob = jnp.where(jnp.isnan(log_ratio), 0.0, jnp.exp(jnp.minimum(log_ratio, 0.0)))
        accept = jax.random.uniform(key_accept) < accept_prob
        kept = (indices, proxy_state, state.hmc_state.potential_energy, state.hmc_state.z_grad)
        moved = (proposal, proposed_state, proposed.potential_energy, proposed.z_grad)
        indices, proxy_state, potential_energy, z_grad = jax.tree.map(
            lambda new, old: jnp.where(accept, new, old), moved, kept
        )
        hmc_state = state.hmc_state._replace(potential_energy=potential_energy, z_grad=z_grad)
        hmc_state = self._inner.sample(
            hmc_state, model_args, self._inner_kwargs(model_kwargs, indices, proxy_state)
        )
        z = {**indices, **hmc_state.z}
        return HMCECSState(z, hmc_state, rng_key, proxy_state, accept_prob)

    def sample(self, state: HMCECSState, model_args: tuple, model_kwargs: dict) -> HMCECSState:
        """One step: a block update of the subsample indices, then an HMC/NUTS transition."""
        if self._sample_fn is None:
            raise RuntimeError("HMCECS.sample() needs init() first (MCMC.run calls it)")
        return self._sample_fn(state, model_args, model_kwargs)

    # -- composition ---------------------------------------------------------------

    def refresh(self, state: HMCECSState, model_args: tuple, model_kwargs: dict) -> HMCECSState:
        """Recompute the inner kernel's potential energy and gradient for the current
        subsample and these model arguments."""
        indices, _ = self._split(state.z)
        hmc_state = self._inner.refresh(
            state.hmc_state,
            model_args,
            self._inner_kwargs(model_kwargs, indices, state.gibbs_state),
        )
        return state._replace(hmc_state=hmc_state)

    def wrap_model(self, wrapper: Callable[[Callable], Callable]) -> HMCECS:
        kernel = copy.copy(self)
        kernel.__dict__.pop("_ppl_mcmc_runners", None)
        kernel._model = wrapper(self._model)
        kernel._config = _ECSConfig()
        kernel._inner = self._base_inner.wrap_model(
            lambda model: _wrap_ecs(wrapper(model), kernel._config)
        )
        kernel._sample_fn = None
        kernel._proxy_init_fns = {}
        return kernel

    # -- output --------------------------------------------------------------------

    def _on_latent(self, method: str, model_args: tuple, model_kwargs: dict) -> Callable:
        if not self._config.plate_sizes:
            return _identity

        def fn(z: dict) -> dict:
            indices, latent = self._split(z)
            kwargs = self._inner_kwargs(model_kwargs, indices, None)
            return getattr(self._inner, method)(model_args, kwargs)(latent)

        return fn

    def postprocess_fn(self, model_args: tuple, model_kwargs: dict) -> Callable:
        """Constrained latent values and deterministic sites (computed on the current
        subsample); the subsample indices are dropped."""
        return self._on_latent("postprocess_fn", model_args, model_kwargs)

    def get_constrain_fn(self, model_args: tuple, model_kwargs: dict) -> Callable:
        """Constrained latent values; the subsample indices are dropped."""
        return self._on_latent("get_constrain_fn", model_args, model_kwargs)

    @staticmethod
    def taylor_proxy(reference_params: Mapping, degree: int = 2) -> TaylorProxy:
        """The same as :func:`~ppl.mcmc.ecs_proxies.taylor_proxy`."""
        return taylor_proxy(reference_params, degree)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_sample_fn"] = None
        state["_proxy_init_fns"] = {}
        state.pop("_ppl_mcmc_runners", None)
        return state
