"""The MCMC driver: runs a kernel's chains and collects their samples.

Warmup and sampling of a batch of chains run in one compiled loop
(``lax.fori_loop`` for the iterations that are not kept, ``lax.scan`` for
those that are); chains run one after another (``"sequential"``), as one
vectorized batch (``"vectorized"``), or one per device (``"parallel"``, with
:func:`jax.shard_map` over a :class:`jax.sharding.Mesh`). Compiled loops are
cached on the :class:`MCMC` object, so running again with a new key, or new
data of the same shapes (``jit_model_args=True``), compiles nothing.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Callable
from operator import attrgetter
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, PartitionSpec

from ppl import compilation
from ppl.mcmc.diagnostics import print_summary
from ppl.mcmc.kernels import MCMCKernel, _identity
from ppl.mcmc.progress import ProgressBars, report_interval, state_view
from ppl.mcmc.util import ArgsBinding, merge_chain_axis, same_arrays, split_keys

__all__ = ["MCMC"]

_CHAIN_METHODS = ("parallel", "sequential", "vectorized")

#: Progress bars of the runs in flight, by the token their loop reports with.
_ACTIVE_PROGRESS: dict[int, ProgressBars] = {}
_TOKENS = itertools.count(1)


class _RunnerCache(dict):
    """Compiled loops kept on a kernel; pickled as empty (they are rebuilt on demand)."""

    def __reduce__(self) -> tuple:
        return (type(self), ())


def _report(token: Any, chain_ids: Any, iteration: Any, divergences: Any, view: Any) -> None:
    """Host side of the progress callback of compiled loops."""
    progress = _ACTIVE_PROGRESS.get(int(token))
    if progress is not None:
        progress.update(chain_ids, iteration, divergences, view)


def _is_key(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray)) and (
        jnp.issubdtype(x.dtype, jax.dtypes.prng_key)
        or (x.dtype == np.uint32 and x.ndim >= 1 and x.shape[-1] == 2)
    )


def _key_batch_shape(key: Any) -> tuple[int, ...]:
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return tuple(key.shape)
    return tuple(key.shape[:-1])


def _take(tree: Any, index: int) -> Any:
    return jax.tree.map(lambda x: x[index], tree)


def _stack(trees: list[Any]) -> Any:
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


class MCMC:
    """Markov chain Monte Carlo: run a kernel's chains and collect samples.

    Args:
        sampler: the :class:`~ppl.mcmc.kernels.MCMCKernel` (e.g.
            :class:`~ppl.mcmc.nuts.NUTS`).
        num_warmup: the number of warmup (adaptation) iterations.
        num_samples: the number of iterations after warmup.
        num_chains: the number of chains.
        thinning: keep every ``thinning``-th post-warmup sample (the last one
            included).
        postprocess_fn: maps unconstrained samples to the values returned by
            :meth:`get_samples`; defaults to the kernel's (constrain to the
            sites' supports and add deterministic sites).
        chain_method: ``"parallel"`` (one chain per device; falls back to
            ``"sequential"`` with a warning when there are fewer devices than
            chains), ``"sequential"``, ``"vectorized"`` (one batched chain on
            one device), or a callable transform such as :func:`jax.vmap`.
        progress_bar: show progress bars (disabled when the ``CI`` or
            ``PYTEST_XDIST_WORKER`` environment variables are set).
        jit_model_args: pass array arguments of the model to the compiled loop
            as arguments rather than constants, so that new data of the same
            shapes reuses the compiled loop.
        chunk_size: (ppl extension) run the chains in chunks of this many
            iterations and move each chunk's draws to host memory as soon as
            it is done, so that device memory holds one chunk of draws rather
            than all of them (samples are then NumPy arrays). ``None`` (the
            default) keeps every draw on the device until the run ends.
    """

    def __init__(
        self,
        sampler: MCMCKernel,
        *,
        num_warmup: int,
        num_samples: int,
        num_chains: int = 1,
        thinning: int = 1,
        postprocess_fn: Callable | None = None,
        chain_method: str | Callable = "parallel",
        progress_bar: bool = True,
        jit_model_args: bool = False,
        chunk_size: int | None = None,
    ) -> None:
        if not (hasattr(sampler, "init") and hasattr(sampler, "sample")):
            raise TypeError(
                "sampler must be an MCMCKernel (with init and sample), got "
                f"{type(sampler).__name__}"
            )
        for name, value, minimum in (
            ("num_warmup", num_warmup, 0),
            ("num_samples", num_samples, 0),
            ("num_chains", num_chains, 1),
            ("thinning", thinning, 1),
        ):
            if (
                not isinstance(value, (int, np.integer))
                or isinstance(value, bool)
                or value < minimum
            ):
                kind = "a positive" if minimum == 1 else "a non-negative"
                raise ValueError(f"{name} must be {kind} integer, got {value!r}")
        if chunk_size is not None and (
            not isinstance(chunk_size, (int, np.integer))
            or isinstance(chunk_size, bool)
            or chunk_size < 1
        ):
            raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")
        if postprocess_fn is not None and not callable(postprocess_fn):
            raise TypeError("postprocess_fn must be callable or None")
        if not callable(chain_method) and chain_method not in _CHAIN_METHODS:
            raise ValueError(
                "Only supporting the following methods to draw chains: "
                '"sequential", "parallel", or "vectorized" (or a callable transform such as '
                f"jax.vmap); got chain_method={chain_method!r}"
            )
        if getattr(sampler, "is_ensemble_kernel", False) and (
            chain_method != "vectorized" or num_chains < 2
        ):
            name = type(sampler).__name__
            raise ValueError(
                f"{name} is an ensemble kernel: its walkers are the chains, so it needs "
                f"chain_method='vectorized' and num_chains >= 2 (an even number, ideally at least "
                f"twice the number of latent dimensions); got chain_method={chain_method!r}, "
                f"num_chains={num_chains}. Use MCMC({name}(...), num_chains=K, "
                "chain_method='vectorized')."
            )
        self.sampler = sampler
        self._sample_field = sampler.sample_field
        self._default_fields = tuple(sampler.default_fields)
        self.num_warmup = int(num_warmup)
        self.num_samples = int(num_samples)
        self.num_chains = int(num_chains)
        self.thinning = int(thinning)
        self.postprocess_fn = postprocess_fn
        if chain_method == "parallel" and jax.local_device_count() < self.num_chains:
            chain_method = "sequential"
            warnings.warn(
                f"There are not enough devices to run parallel chains: expected {self.num_chains} "
                f"but got {jax.local_device_count()}. Chains will be drawn sequentially. On CPU, "
                f"call ppl.set_host_device_count({self.num_chains}) at the start of your program "
                "(before JAX is used) to get more devices.",
                UserWarning,
                stacklevel=2,
            )
        self.chain_method = chain_method
        self.progress_bar = progress_bar
        if "CI" in os.environ or "PYTEST_XDIST_WORKER" in os.environ:
            self.progress_bar = False
        self._jit_model_args = jit_model_args
        self.chunk_size = None if chunk_size is None else int(chunk_size)
        self._states: dict | None = None
        self._states_flat: dict | None = None
        self._last_state: Any = None
        self._warmup_state: Any = None
        self._cache: dict = {}
        self._progress: ProgressBars | None = None
        self._collection_params: dict = {}
        self._set_collection_params()

    # -- state -------------------------------------------------------------

    @property
    def post_warmup_state(self) -> Any:
        """The state sampling starts from; when set, :meth:`run` skips warmup.

        Drawing more samples from where the last run stopped::

            mcmc.run(random.PRNGKey(0))
            first = mcmc.get_samples()
            mcmc.post_warmup_state = mcmc.last_state
            mcmc.run(mcmc.post_warmup_state.rng_key)
            second = mcmc.get_samples()
        """
        return self._warmup_state

    @post_warmup_state.setter
    def post_warmup_state(self, state: Any) -> None:
        self._warmup_state = state

    @property
    def last_state(self) -> Any:
        """The kernel state at the end of the last run (batched over chains if several)."""
        return self._last_state

    def _set_collection_params(
        self,
        lower: int | None = None,
        upper: int | None = None,
        phase: str | None = None,
    ) -> None:
        self._collection_params = {
            "lower": self.num_warmup if lower is None else lower,
            "upper": self.num_warmup + self.num_samples if upper is None else upper,
            "phase": phase,
        }

    # -- running -----------------------------------------------------------

    def warmup(
        self,
        rng_key: jax.Array,
        *args: Any,
        extra_fields: tuple | list = (),
        collect_warmup: bool = False,
        init_params: Any = None,
        **kwargs: Any,
    ) -> None:
        """Run warmup only; :attr:`post_warmup_state` is set and the next :meth:`run`
        samples from it.

        Args:
            rng_key: the random key.
            *args: positional arguments of the model.
            extra_fields: state fields to collect besides the defaults.
            collect_warmup: collect the warmup samples (see :meth:`get_samples`).
            init_params: initial unconstrained values.
            **kwargs: keyword arguments of the model.
        """
        self._warmup_state = None
        if collect_warmup:
            self._set_collection_params(0, self.num_warmup, "warmup")
        else:
            self._set_collection_params(self.num_warmup, self.num_warmup, "warmup")
        self.run(rng_key, *args, extra_fields=extra_fields, init_params=init_params, **kwargs)
        self._warmup_state = self._last_state

    def run(
        self,
        rng_key: jax.Array,
        *args: Any,
        extra_fields: tuple | list = (),
        init_params: Any = None,
        **kwargs: Any,
    ) -> None:
        """Run the chains and collect samples.

        Args:
            rng_key: a random key, or a batch of ``num_chains`` keys.
            *args: positional arguments of the model.
            extra_fields: state fields to collect besides the kernel's
                defaults; dotted names reach sub-fields
                (``"adapt_state.step_size"``), and ``"~z.name"`` leaves site
                ``name`` out of the collected samples.
            init_params: initial unconstrained values (with a leading
                ``num_chains`` dimension when there are several chains).
            **kwargs: keyword arguments of the model.
        """
        if not isinstance(extra_fields, (tuple, list)):
            raise TypeError(
                f"extra_fields must be a tuple or list of field names, got {extra_fields!r}"
            )
        if not _is_key(rng_key):
            raise TypeError(
                "rng_key must be a JAX random key (e.g. jax.random.PRNGKey(0)), got "
                f"{type(rng_key).__name__}"
            )
        batch = _key_batch_shape(rng_key)
        if batch == () and self.num_chains > 1:
            rng_key = split_keys(rng_key, self.num_chains)
        elif batch not in ((), (self.num_chains,)):
            raise ValueError(
                f"rng_key must be a single key or a batch of num_chains={self.num_chains} keys, "
                f"got a batch of shape {batch}"
            )
        elif batch == (1,) and self.num_chains == 1:
            rng_key = rng_key[0]
        if init_params is not None:
            init_params = jax.tree.map(jnp.asarray, init_params)
            if self.num_chains > 1:
                _check_chain_dim(init_params, self.num_chains)
        try:
            self._run(rng_key, args, kwargs, tuple(extra_fields), init_params)
        finally:
            self._set_collection_params()

    def _collect_spec(self, extra_fields: tuple) -> tuple[tuple[str, ...], tuple[str, ...]]:
        fields: dict[str, None] = {}
        removed: dict[str, None] = {}
        prefix = f"~{self._sample_field}."
        for name in (self._sample_field, *self._default_fields, *extra_fields):
            if not isinstance(name, str):
                raise TypeError(f"extra_fields entries must be strings, got {name!r}")
            if name.startswith(prefix):
                removed[name[len(prefix) :]] = None
            else:
                fields[name] = None
        return tuple(fields), tuple(removed)

    def _run(
        self, rng_key: Any, args: tuple, kwargs: dict, extra_fields: tuple, init_params: Any
    ) -> None:
        params = self._collection_params
        lower, upper, phase = params["lower"], params["upper"], params["phase"]
        if self._warmup_state is not None:
            lower, upper, phase = 0, self.num_samples, "sample"
        collection_size = (upper - lower) // self.thinning
        num_skip = upper - collection_size * self.thinning
        collect_fields, remove_sites = self._collect_spec(extra_fields)
        # Loop bounds are arguments of the compiled loop, so warmup, sampling and
        # continuing from a state all reuse it; only the buffer size is static, and
        # a run that keeps nothing borrows the usual size.
        default_size = self.num_samples // self.thinning
        spans = _spans(upper, self.chunk_size)
        if self.chunk_size is None:
            buffer_size = default_size if collection_size == 0 else collection_size
        else:
            buffer_size = -(-self.chunk_size // self.thinning)
        token = next(_TOKENS)
        interval = report_interval(upper)
        schedules = [
            np.array(
                [
                    start,
                    stop,
                    upper,
                    num_skip,
                    interval,
                    token,
                    _kept(start, num_skip, self.thinning),
                ],
                np.int32,
            )
            for start, stop in spans
        ]
        counts = [
            _kept(stop, num_skip, self.thinning) - _kept(start, num_skip, self.thinning)
            for start, stop in spans
        ]

        binding = ArgsBinding(args, kwargs)
        config = (buffer_size, collect_fields, remove_sites)
        method = self.chain_method if self.num_chains > 1 else "single"
        dynamic = binding.dynamic if self._jit_model_args else []
        staged = self._stage_initial_state(rng_key, init_params, args, kwargs, method)
        if staged is not None:
            # A first run: the sampling loop is traced while its initial state compiles.
            abstract_state, finish = staged
            self._check_fields(abstract_state, collect_fields, remove_sites)
            runner = self._runner(binding, config)
            chain_ids = self._chain_ids(method)
            runner.trace(abstract_state, chain_ids, dynamic, schedules[0]).lower()
            init_state = finish()
        else:
            init_state = self._initial_state(rng_key, init_params, args, kwargs)
            self._check_fields(init_state, collect_fields, remove_sites)
            runner = self._runner(binding, config)

        progress = None
        if self.progress_bar:
            progress = ProgressBars(
                self.sampler,
                upper,
                self.num_warmup if phase is None else upper,
                phase,
                method == "vectorized",
                self.num_chains,
            )
        self._progress = progress
        if progress is not None:
            _ACTIVE_PROGRESS[token] = progress
        to_host = self.chunk_size is not None

        def run_spans(state: Any, chain_ids: jax.Array, add_chain_axis: bool) -> tuple:
            pieces = []
            for schedule, count in zip(schedules, counts, strict=True):
                collected, state = runner(state, chain_ids, dynamic, schedule)
                if add_chain_axis:
                    collected = jax.tree.map(lambda x: x[None], collected)
                collected = jax.tree.map(lambda x, n=count: x[:, :n], collected)
                pieces.append(jax.device_get(collected) if to_host else collected)
            if len(pieces) == 1:
                return pieces[0], state
            return jax.tree.map(lambda *xs: np.concatenate(xs, axis=1), *pieces), state

        try:
            if method == "single":
                collected, last_state = run_spans(init_state, self._chain_ids(method), True)
            elif method == "sequential":
                outputs = []
                for chain in range(self.num_chains):
                    if progress is not None:
                        progress.open(chain)
                    outputs.append(run_spans(_take(init_state, chain), jnp.int32(chain), True))
                    if progress is not None:
                        progress.close()
                join = np.concatenate if to_host else jnp.concatenate
                collected = jax.tree.map(lambda *xs: join(xs, axis=0), *[out[0] for out in outputs])
                last_state = _stack([out[1] for out in outputs])
            else:
                chain_ids = self._chain_ids(method)
                if progress is not None and method != "vectorized":
                    for chain in range(self.num_chains):
                        progress.open(chain)
                collected, last_state = run_spans(init_state, chain_ids, False)
            jax.block_until_ready(collected)
        finally:
            if progress is not None:
                progress.close()
            _ACTIVE_PROGRESS.pop(token, None)
            self._progress = None
        self._last_state = last_state
        self._states = collected
        self._states_flat = None

    # -- initial states ------------------------------------------------------

    def _needs_init(self) -> bool:
        return getattr(self.sampler, "_sample_fn", "absent") is None

    def _initial_state(self, rng_key: Any, init_params: Any, args: tuple, kwargs: dict) -> Any:
        num_chains = self.num_chains
        ensemble = self.chain_method == "vectorized" and getattr(
            self.sampler, "is_ensemble_kernel", False
        )
        if self._warmup_state is not None:
            if self._needs_init():
                # The kernel must be built (e.g. after unpickling) before it can sample.
                # Without init_params, the state's own sample (its first chain's) serves;
                # an ensemble kernel is built from the whole ensemble.
                if init_params is None:
                    init_params = attrgetter(self._sample_field)(self._warmup_state)
                if num_chains == 1 or ensemble:
                    key, params = rng_key, init_params
                else:
                    key, params = rng_key[0], _take(init_params, 0)
                self.sampler.init(key, self.num_warmup, params, args, kwargs)
            # An ensemble kernel carries one key for the whole ensemble.
            return self._warmup_state._replace(rng_key=rng_key[0] if ensemble else rng_key)
        if num_chains == 1:
            return self.sampler.init(rng_key, self.num_warmup, init_params, args, kwargs)
        from ppl.mcmc.hmc import HMC

        if ensemble or isinstance(self.sampler, HMC):
            # HMC-family kernels initialize a batch of chains in one compiled call, and
            # ensemble kernels initialize their ensemble as a whole.
            return self.sampler.init(rng_key, self.num_warmup, init_params, args, kwargs)
        states = [
            self.sampler.init(
                rng_key[c],
                self.num_warmup,
                None if init_params is None else _take(init_params, c),
                args,
                kwargs,
            )
            for c in range(num_chains)
        ]
        return _stack(states)

    def _chain_ids(self, method: Any) -> Any:
        """The chain ids the compiled loop of ``method`` gets: a scalar for one chain,
        all of them (NumPy: converting on the device would compile) for a batch."""
        if method == "single":
            return jnp.int32(0)
        return np.arange(self.num_chains, dtype=np.int32)

    def _stage_initial_state(
        self, rng_key: Any, init_params: Any, args: tuple, kwargs: dict, method: str
    ) -> tuple[Any, Callable[[], Any]] | None:
        """The kernel's staged initial state (see ``HMC._stage_init``), where the
        initial state goes straight into one compiled loop: a fresh run of a
        single chain or of vectorized chains without ``init_params``."""
        stage = getattr(self.sampler, "_stage_init", None)
        if (
            stage is None
            or method not in ("single", "vectorized")
            or init_params is not None
            or self._warmup_state is not None
        ):
            return None
        return stage(rng_key, self.num_warmup, args, kwargs)

    def _check_fields(
        self, state: Any, collect_fields: tuple[str, ...], remove_sites: tuple[str, ...]
    ) -> None:
        for name in collect_fields:
            try:
                attrgetter(name)(state)
            except AttributeError:
                available = getattr(state, "_fields", None)
                raise ValueError(
                    f"cannot collect field {name!r}: the {type(state).__name__} state has no "
                    f"such attribute" + (f" (fields: {list(available)})" if available else "")
                ) from None
        if remove_sites:
            sample = attrgetter(self._sample_field)(state)
            if not isinstance(sample, dict):
                raise ValueError(
                    f"'~{self._sample_field}.<site>' extra_fields need {self._sample_field} to be "
                    f"a dict of sites, got {type(sample).__name__}"
                )
            unknown = [s for s in remove_sites if s not in sample]
            if unknown:
                raise ValueError(
                    f"cannot exclude sites {unknown}: they are not in {self._sample_field} "
                    f"(sites: {sorted(sample)})"
                )

    # -- the compiled loop ---------------------------------------------------

    def _runner_cache(self) -> dict:
        # Compiled loops live with the kernel, so MCMC objects that share a kernel
        # (e.g. one per data set) share them too.
        try:
            attributes = vars(self.sampler)
        except TypeError:  # a kernel without a __dict__
            return self._cache
        cache = attributes.get("_ppl_mcmc_runners")
        if not isinstance(cache, _RunnerCache):
            cache = attributes["_ppl_mcmc_runners"] = _RunnerCache()
        return cache

    def _runner(self, binding: ArgsBinding, config: tuple) -> Callable:
        method = self.chain_method if self.num_chains > 1 else "single"
        if method == "sequential":
            # Sequential chains run the single-chain loop one after another.
            method = "single"
        args_key = binding.cache_key(self._jit_model_args)
        key = (
            None
            if args_key is None
            else (
                method,
                1 if method == "single" else self.num_chains,
                self.thinning,
                self.num_warmup,
                # Kernel-side structure read when the loop is traced (HMC's spec).
                getattr(self.sampler, "_spec_key", None),
                self._sample_field,
                self.postprocess_fn,
                bool(self._jit_model_args),
                config,
                bool(self.progress_bar),
                args_key,
            )
        )
        cache = self._runner_cache()
        try:
            cached = cache.get(key) if key is not None else None
        except TypeError:  # an unhashable postprocess_fn
            key, cached = None, None
        if cached is not None and (self._jit_model_args or same_arrays(cached[1], binding)):
            return cached[0]
        runner = self._build_runner(binding, config, method)
        if key is not None:
            # Keep the constant arrays alive so that their ids are not reused by others.
            cache[key] = (runner, binding)
        return runner

    def _build_runner(self, binding: ArgsBinding, config: tuple, method: Any) -> Callable:
        collection_size, collect_fields, remove_sites = config
        sampler = self.sampler
        sample_field = self._sample_field
        batched = method == "vectorized"
        # Chains of an ensemble kernel interact: the kernel sees the whole batch.
        # Other kernels are written for one chain and are vectorized here.
        step = sampler.sample
        ensemble = batched and getattr(sampler, "is_ensemble_kernel", False)
        if batched and not ensemble:
            step = jax.vmap(sampler.sample, in_axes=(0, None, None))
        progress_on = bool(self.progress_bar)
        num_chains = self.num_chains
        thinning = self.thinning
        jit_model_args = bool(self._jit_model_args)
        user_postprocess = self.postprocess_fn
        # The loop must not hold on to this MCMC object: it may serve others.
        del self

        def model_args(dynamic: list) -> tuple[tuple, dict]:
            return binding.rebuild(dynamic) if jit_model_args else binding.rebuild(binding.dynamic)

        def postprocess_for(args: tuple, kwargs: dict) -> Callable:
            if user_postprocess is not None:
                return user_postprocess
            return sampler.postprocess_fn(args, kwargs)

        def chain_loop(
            state: Any, chain_ids: jax.Array, dynamic: list, schedule: jax.Array
        ) -> tuple[Any, Any]:
            start, stop, total, num_skip = schedule[0], schedule[1], schedule[2], schedule[3]
            interval, token, slot_offset = schedule[4], schedule[5], schedule[6]
            args, kwargs = model_args(dynamic)
            postprocess = postprocess_for(args, kwargs)
            if batched:
                postprocess = jax.vmap(postprocess) if postprocess is not _identity else postprocess
            has_diverging = hasattr(state, "diverging")

            def one_step(iteration: jax.Array, carry: tuple) -> tuple:
                state, divergences = carry
                state = step(state, args, kwargs)
                if has_diverging:
                    divergences = divergences + state.diverging.astype(jnp.int32)
                if progress_on:
                    done = iteration + 1
                    lax.cond(
                        (done % interval == 0) | (done == total),
                        lambda: jax.debug.callback(
                            _report,
                            token,
                            chain_ids,
                            done,
                            divergences,
                            state_view(state, num_chains if batched else 1),
                        ),
                        lambda: None,
                    )
                return state, divergences

            def collect(state: Any) -> dict:
                values = attrgetter(*collect_fields)(state)
                values = (values,) if len(collect_fields) == 1 else tuple(values)
                out = dict(zip(collect_fields, values, strict=True))
                if ensemble:
                    # Fields of the ensemble as a whole (e.g. its acceptance rate) are
                    # reported for every walker, so all collected fields are per chain.
                    out = {
                        name: value if name == sample_field else _per_chain(value, num_chains)
                        for name, value in out.items()
                    }
                sample = postprocess(out[sample_field])
                if remove_sites:
                    sample = {k: v for k, v in sample.items() if k not in remove_sites}
                out[sample_field] = sample
                return out

            divergences = jnp.zeros(jnp.shape(chain_ids) if batched else (), jnp.int32)
            buffers = jax.tree.map(
                lambda s: jnp.zeros((collection_size, *s.shape), s.dtype),
                jax.eval_shape(collect, state),
            )

            def write(buffers: Any, slot: jax.Array, state: Any) -> Any:
                return jax.tree.map(
                    lambda buf, value: lax.dynamic_update_index_in_dim(buf, value, slot, 0),
                    buffers,
                    collect(state),
                )

            # One loop over all iterations, so that the kernel is traced (and compiled)
            # once; kept draws are written into preallocated buffers.
            def body(iteration: jax.Array, carry: tuple) -> tuple:
                state, divergences, buffers = carry
                state, divergences = one_step(iteration, (state, divergences))
                if collection_size > 0:
                    kept = iteration + 1 - num_skip
                    buffers = lax.cond(
                        (kept > 0) & (kept % thinning == 0),
                        lambda b: write(b, kept // thinning - 1 - slot_offset, state),
                        lambda b: b,
                        buffers,
                    )
                return state, divergences, buffers

            state, _, collected = lax.fori_loop(start, stop, body, (state, divergences, buffers))
            if batched:
                # Draws were stacked first; report chains first.
                collected = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), collected)
            return collected, state

        if method in ("single", "vectorized"):
            return compilation.jit(chain_loop, "loop")
        if callable(method):

            def transformed(
                state: Any, chain_ids: jax.Array, dynamic: list, schedule: jax.Array
            ) -> tuple[Any, Any]:
                return method(lambda s, i: chain_loop(s, i, dynamic, schedule))(state, chain_ids)

            return compilation.jit(transformed, "loop")
        per_chain = jax.vmap(chain_loop, in_axes=(0, 0, None, None))
        devices = np.array(jax.local_devices()[:num_chains])
        mesh = Mesh(devices, ("chain",))
        sharded = jax.shard_map(
            per_chain,
            mesh=mesh,
            in_specs=(
                PartitionSpec("chain"),
                PartitionSpec("chain"),
                PartitionSpec(),
                PartitionSpec(),
            ),
            out_specs=(PartitionSpec("chain"), PartitionSpec("chain")),
            check_vma=False,
        )
        return compilation.jit(sharded, "loop")

    # -- results -----------------------------------------------------------

    def _require_run(self) -> dict:
        if self._states is None:
            raise RuntimeError("no samples yet: call MCMC.run() first")
        return self._states

    def _get_states_flat(self) -> dict:
        if self._states_flat is None:
            self._states_flat = merge_chain_axis(self._require_run())
        return self._states_flat

    def get_samples(self, group_by_chain: bool = False) -> Any:
        """The collected samples (constrained, with deterministic sites for models).

        Args:
            group_by_chain: keep a leading ``num_chains`` dimension.
        """
        states = self._require_run() if group_by_chain else self._get_states_flat()
        return states[self._sample_field]

    def get_extra_fields(self, group_by_chain: bool = False) -> dict:
        """The collected state fields other than the samples (e.g. ``"diverging"``).

        Args:
            group_by_chain: keep a leading ``num_chains`` dimension.
        """
        states = self._require_run() if group_by_chain else self._get_states_flat()
        return {k: v for k, v in states.items() if k != self._sample_field}

    def print_summary(self, prob: float = 0.9, exclude_deterministic: bool = True) -> None:
        """Print mean, std, median, the ``prob`` HPD interval, n_eff and r_hat of each
        site, then the number of divergences.

        Args:
            prob: the probability mass of the credible interval.
            exclude_deterministic: leave deterministic sites out.
        """
        states = self._require_run()
        sites = states[self._sample_field]
        if isinstance(sites, dict) and exclude_deterministic:
            latent = attrgetter(self._sample_field)(self._last_state)
            if isinstance(latent, dict):
                sites = {k: v for k, v in sites.items() if k in latent}
        print_summary(sites, prob=prob)
        extra_fields = self.get_extra_fields()
        if "diverging" in extra_fields:
            print(f"Number of divergences: {int(jnp.sum(extra_fields['diverging']))}")

    def transfer_states_to_host(self) -> None:
        """Move the collected samples to host memory."""
        self._states = jax.device_get(self._require_run())
        self._states_flat = jax.device_get(self._get_states_flat())

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = {}
        state["_progress"] = None
        return state


def _spans(total: int, chunk_size: int | None) -> list[tuple[int, int]]:
    """The ``[start, stop)`` iteration ranges a run is split into."""
    if chunk_size is None or total == 0:
        return [(0, total)]
    return [(start, min(start + chunk_size, total)) for start in range(0, total, chunk_size)]


def _kept(iterations: int, num_skip: int, thinning: int) -> int:
    """How many draws are kept after ``iterations`` iterations."""
    return max(0, iterations - num_skip) // thinning


def _per_chain(tree: Any, num_chains: int) -> Any:
    """Broadcast the leaves of ``tree`` that lack a leading chain axis to ``num_chains``."""

    def broadcast(x: Any) -> Any:
        shape = jnp.shape(x)
        if shape and shape[0] == num_chains:
            return x
        return jnp.broadcast_to(x, (num_chains, *shape))

    return jax.tree.map(broadcast, tree)


def _check_chain_dim(init_params: Any, num_chains: int) -> None:
    for path, leaf in jax.tree_util.tree_leaves_with_path(init_params):
        shape = tuple(jnp.shape(leaf))
        if not shape or shape[0] != num_chains:
            where = jax.tree_util.keystr(path) or "init_params"
            raise ValueError(
                f"init_params{where if where != 'init_params' else ''} has shape {shape}: "
                f"with num_chains={num_chains}, every leaf of init_params needs a leading "
                f"dimension of {num_chains} (one initial value per chain)"
            )
