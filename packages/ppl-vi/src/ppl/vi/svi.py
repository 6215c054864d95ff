"""Stochastic variational inference: fit a guide to a model by following ELBO gradients."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ppl import constraints
from ppl.handlers import replay, seed, substitute, trace
from ppl.infer.util import site_log_prob, transform_fn
from ppl.optim.optimizers import _PPLOptim, optax_to_ppl
from ppl.transforms import biject_to
from ppl.vi._traces import check_model_guide_match

__all__ = ["SVI", "NonFiniteLossError", "SVIRunResult", "SVIState"]

#: How many times the progress bar is refreshed over a run.
_PROGRESS_UPDATES = 20


class SVIState(NamedTuple):
    """The state of an SVI run.

    Attributes:
        optim_state: the optimizer's state, holding the unconstrained parameters.
        mutable_state: values carried between steps that are not optimized
            (e.g. decaying-average baselines), or ``None``.
        rng_key: the random key for the next step.
    """

    optim_state: Any
    mutable_state: Any
    rng_key: jax.Array


class SVIRunResult(NamedTuple):
    """What :meth:`SVI.run` returns: the constrained ``params``, the final ``state``
    and the loss of every step."""

    params: dict
    state: SVIState
    losses: jax.Array


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite during :meth:`SVI.run`.

    Attributes:
        step: the index of the first step whose loss was not finite.
        state: the :class:`SVIState` just before that step (the last good one).
        losses: the losses of the steps before it.
    """

    def __init__(self, message: str, step: int, state: SVIState, losses: Any) -> None:
        super().__init__(message)
        self.step = step
        self.state = state
        self.losses = losses


def _as_optimizer(optim: Any) -> _PPLOptim:
    if isinstance(optim, _PPLOptim):
        return optim
    if isinstance(optim, optax.GradientTransformation):
        return optax_to_ppl(optim)
    raise TypeError(
        "SVI: optim must be a ppl optimizer (e.g. ppl.optim.Adam(1e-3)) or an "
        f"optax.GradientTransformation (e.g. optax.adam(1e-3)), got "
        f"{type(optim).__module__}.{type(optim).__qualname__}: {optim!r}"
    )


def _check_loss(loss: Any) -> None:
    if isinstance(loss, type):
        raise TypeError(
            f"SVI: loss must be an ELBO instance, got the class {loss.__name__}; "
            f"write {loss.__name__}() instead"
        )
    if not callable(getattr(loss, "loss", None)):
        raise TypeError(
            "SVI: loss must be an ELBO (e.g. Trace_ELBO()), an object with a method "
            f"loss(rng_key, params, model, guide, *args, **kwargs); got {loss!r}"
        )


def _strong_type(x: Any) -> Any:
    # Weakly typed Python scalars would change dtype after the first step and make
    # the compiled loop trace twice.
    return jax.lax.convert_element_type(x, jnp.result_type(x))


def _check_param_value(name: str, value: Any, constraint: Any, unconstrained: Any) -> None:
    leaves = jax.tree.leaves((value, unconstrained))
    if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
        return
    # A param may be a pytree (a network's weights); each leaf must be in the support.
    for leaf in jax.tree.leaves(value):
        inside = np.asarray(constraint(jnp.asarray(leaf)))
        if not inside.all():
            raise ValueError(
                f"SVI.init: param site {name!r} starts outside its constraint {constraint!r} "
                f"at {int(inside.size - inside.sum())} of {inside.size} position(s) (value: "
                f"{np.asarray(leaf)!r}). Give an initial value inside the support, in the "
                "param statement or in init_params."
            )
    for leaf in jax.tree.leaves(unconstrained):
        if not np.all(np.isfinite(np.asarray(leaf))):
            raise ValueError(
                f"SVI.init: param site {name!r} starts on the boundary of its constraint "
                f"{constraint!r} (value: {value!r}), where its unconstrained value is not "
                "finite. Start it strictly inside the support."
            )


class SVI:
    """Stochastic variational inference.

    Minimizes ``loss`` (an ELBO objective) over the param sites of the guide
    (and of the model) with ``optim``. Params are optimized in unconstrained
    space: a param with ``constraint=c`` is held as ``biject_to(c).inv(value)``.

    Args:
        model: the model.
        guide: the guide (e.g. an autoguide), with the model's arguments.
        optim: a :mod:`ppl.optim` optimizer or any optax gradient
            transformation (chains and schedules included).
        loss: the objective, e.g. :class:`~ppl.vi.Trace_ELBO`.
        **static_kwargs: keyword arguments passed to model and guide at every
            step, kept out of compilation (e.g. Python values used as shapes).

    Example::

        svi = SVI(model, AutoNormal(model), optax.adam(0.01), Trace_ELBO())
        result = svi.run(jax.random.key(0), 2000, data)
        result.params, result.losses
    """

    def __init__(
        self, model: Callable, guide: Callable, optim: Any, loss: Any, **static_kwargs: Any
    ) -> None:
        if not callable(model):
            raise TypeError(f"SVI: model must be callable, got {model!r}")
        if not callable(guide):
            raise TypeError(f"SVI: guide must be callable, got {guide!r}")
        _check_loss(loss)
        self.model = model
        self.guide = guide
        self.loss = loss
        self.optim = _as_optimizer(optim)
        self.static_kwargs = static_kwargs
        self.constrain_fn: Callable | None = None

    # -- initialization -----------------------------------------------------------------

    def init(
        self, rng_key: jax.Array, *args: Any, init_params: dict | None = None, **kwargs: Any
    ) -> SVIState:
        """The initial :class:`SVIState`.

        Args:
            rng_key: a random key.
            args, kwargs: the model's and guide's arguments.
            init_params: constrained initial values for param sites, replacing
                the ``init_value`` of their ``param`` statements.
        """
        rng_key, model_key, guide_key = jax.random.split(rng_key, 3)
        kwargs = {**kwargs, **self.static_kwargs}
        guide_init = seed(self.guide, guide_key)
        if init_params is not None:
            if not isinstance(init_params, dict):
                raise TypeError(
                    f"SVI.init: init_params must be a dict {{param name: value}}, got "
                    f"{type(init_params).__name__}"
                )
            self._check_init_values(seed(self.guide, guide_key), init_params, args, kwargs)
            guide_init = substitute(guide_init, data=init_params)
        guide_trace = trace(guide_init).get_trace(*args, **kwargs)
        guide_params = {
            name: site["value"] for name, site in guide_trace.items() if site["type"] == "param"
        }
        if init_params is not None:
            guide_params.update(init_params)
        model_init = substitute(
            replay(seed(self.model, model_key), trace=guide_trace), data=guide_params
        )
        model_trace = trace(model_init).get_trace(*args, **kwargs)
        check_model_guide_match(model_trace, guide_trace)
        self._check_init_params(init_params, model_trace, guide_trace)
        self._warn_discrete(model_trace)

        params, transforms, mutable_state = {}, {}, {}
        # A param in both traces takes the guide's value, which comes last.
        for site in [*model_trace.values(), *guide_trace.values()]:
            if site["type"] == "param":
                constraint = site["kwargs"].get("constraint") or constraints.real
                transform = biject_to(constraint)
                unconstrained = transform.inv(site["value"])
                _check_param_value(site["name"], site["value"], constraint, unconstrained)
                transforms[site["name"]] = transform
                params[site["name"]] = unconstrained
            elif site["type"] == "mutable":
                mutable_state[site["name"]] = site["value"]
        self.constrain_fn = functools.partial(transform_fn, transforms)
        init_state = getattr(self.loss, "_init_mutable_state", None)
        if init_state is not None:
            constrained = {**self.constrain_fn(params), **mutable_state}
            mutable_state.update(
                init_state(rng_key, constrained, self.model, self.guide, *args, **kwargs)
            )
        params, mutable_state = jax.tree.map(_strong_type, (params, mutable_state or None))
        return SVIState(self.optim.init(params), mutable_state, rng_key)

    @staticmethod
    def _check_init_values(guide: Callable, init_params: dict, args: tuple, kwargs: dict) -> None:
        """Check init_params against the constraints of the guide's param sites before the
        guide runs with them (a value outside the support could fail inside the guide)."""
        guide_trace = trace(guide).get_trace(*args, **kwargs)
        for name, value in init_params.items():
            site = guide_trace.get(name)
            if site is None or site["type"] != "param":
                continue
            constraint = site["kwargs"].get("constraint") or constraints.real
            _check_param_value(name, value, constraint, biject_to(constraint).inv(value))

    @staticmethod
    def _check_init_params(init_params: dict | None, model_trace: dict, guide_trace: dict) -> None:
        if not init_params:
            return
        known = {
            name
            for tr in (model_trace, guide_trace)
            for name, s in tr.items()
            if s["type"] == "param"
        }
        unknown = sorted(set(init_params) - known)
        if unknown:
            raise ValueError(
                f"SVI.init: init_params names {unknown}, which are not param sites of the model "
                f"or the guide (their param sites: {sorted(known)})"
            )

    def _warn_discrete(self, model_trace: dict) -> None:
        if getattr(self.loss, "can_infer_discrete", False):
            return
        discrete = [
            name
            for name, s in model_trace.items()
            if s["type"] == "sample" and not s["is_observed"] and s["fn"].support.is_discrete
        ]
        if discrete:
            warnings.warn(
                f"SVI with {type(self.loss).__name__} does not handle the discrete latent "
                f"site(s) {discrete}: their gradients are biased. Use TraceGraph_ELBO.",
                UserWarning,
                stacklevel=3,
            )

    # -- parameters ------------------------------------------------------------------------

    def get_params(self, svi_state: SVIState) -> dict:
        """The constrained values of the params held in ``svi_state``."""
        if self.constrain_fn is None:
            raise RuntimeError(
                "SVI.get_params: this SVI object has not been initialized; call svi.init(...) "
                "(or svi.run(...)) first"
            )
        return self.constrain_fn(self.optim.get_params(svi_state.optim_state))

    # -- steps --------------------------------------------------------------------------------

    def _loss_fn(self, rng_key: jax.Array, mutable_state: Any, args: tuple, kwargs: dict):
        kwargs = {**kwargs, **self.static_kwargs}

        def loss_fn(unconstrained: dict) -> tuple:
            params = self.constrain_fn(unconstrained)
            if mutable_state is None:
                loss = self.loss.loss(rng_key, params, self.model, self.guide, *args, **kwargs)
                return loss, None
            params = {**params, **mutable_state}
            result = self.loss.loss_with_mutable_state(
                rng_key, params, self.model, self.guide, *args, **kwargs
            )
            return result["loss"], result["mutable_state"]

        return loss_fn

    def _step(
        self,
        stable: bool,
        svi_state: SVIState,
        args: tuple,
        kwargs: dict,
        forward_mode_differentiation: bool,
    ) -> tuple[SVIState, Any]:
        if self.constrain_fn is None:
            raise RuntimeError("SVI: call svi.init(...) before svi.update(...)")
        rng_key, step_key = jax.random.split(svi_state.rng_key)
        loss_fn = self._loss_fn(step_key, svi_state.mutable_state, args, kwargs)
        step = self.optim.eval_and_stable_update if stable else self.optim.eval_and_update
        (loss, mutable_state), optim_state = step(
            loss_fn,
            svi_state.optim_state,
            forward_mode_differentiation=forward_mode_differentiation,
        )
        if stable and svi_state.mutable_state is not None and mutable_state is not None:
            finite = jnp.isfinite(loss)
            mutable_state = jax.tree.map(
                lambda new, old: jnp.where(finite, new, old),
                mutable_state,
                svi_state.mutable_state,
            )
        return SVIState(optim_state, mutable_state, rng_key), loss

    def update(
        self,
        svi_state: SVIState,
        *args: Any,
        forward_mode_differentiation: bool = False,
        **kwargs: Any,
    ) -> tuple[SVIState, Any]:
        """One optimization step.

        Returns:
            ``(new_state, loss)``, the loss evaluated before the step.
        """
        return self._step(False, svi_state, args, kwargs, forward_mode_differentiation)

    def stable_update(
        self,
        svi_state: SVIState,
        *args: Any,
        forward_mode_differentiation: bool = False,
        **kwargs: Any,
    ) -> tuple[SVIState, Any]:
        """Like :meth:`update`, but a step whose loss or gradient is not finite leaves the
        parameters as they were (its loss is reported as NaN)."""
        return self._step(True, svi_state, args, kwargs, forward_mode_differentiation)

    def evaluate(self, svi_state: SVIState, *args: Any, **kwargs: Any) -> Any:
        """The loss at the current parameters, with a fresh random key (no step is taken)."""
        _, rng_key = jax.random.split(svi_state.rng_key)
        params = self.get_params(svi_state)
        if svi_state.mutable_state is not None:
            params = {**params, **svi_state.mutable_state}
        kwargs = {**kwargs, **self.static_kwargs}
        return self.loss.loss(rng_key, params, self.model, self.guide, *args, **kwargs)

    # -- the optimization loop -------------------------------------------------------------

    def run(
        self,
        rng_key: jax.Array,
        num_steps: int,
        *args: Any,
        progress_bar: bool = True,
        stable_update: bool = False,
        forward_mode_differentiation: bool = False,
        init_state: SVIState | None = None,
        init_params: dict | None = None,
        **kwargs: Any,
    ) -> SVIRunResult:
        """Run ``num_steps`` optimization steps in one compiled loop.

        The loop is a :func:`jax.lax.scan`; with ``progress_bar`` it runs in
        about twenty chunks of equal length (the same compiled loop each time),
        after each of which a tqdm bar shows the average loss of the chunk.

        Args:
            rng_key: a random key (for :meth:`init`, unless ``init_state`` is given).
            num_steps: the number of steps.
            args, kwargs: the model's and guide's arguments.
            progress_bar: show a progress bar.
            stable_update: use :meth:`stable_update`: steps with a non-finite
                loss or gradient are skipped (and warned about).
            forward_mode_differentiation: differentiate in forward mode (for
                models with ``while_loop`` and the like).
            init_state: continue from this state instead of initializing.
            init_params: initial param values, as for :meth:`init`.

        Returns:
            :class:`SVIRunResult` ``(params, state, losses)``.

        Raises:
            NonFiniteLossError: without ``stable_update``, when a step's loss is
                not finite; it names the step and the sites whose log density
                or gradient is not finite, and holds the last good state.
        """
        if (
            isinstance(num_steps, bool)
            or not isinstance(num_steps, int | np.integer)
            or (num_steps < 1)
        ):
            raise ValueError(f"SVI.run: num_steps must be a positive integer, got {num_steps!r}")
        num_steps = int(num_steps)
        if init_state is None:
            svi_state = self.init(rng_key, *args, init_params=init_params, **kwargs)
        else:
            if not isinstance(init_state, SVIState):
                raise TypeError(
                    f"SVI.run: init_state must be an SVIState, got {type(init_state).__name__}"
                )
            if self.constrain_fn is None:
                self.init(rng_key, *args, init_params=init_params, **kwargs)
            svi_state = init_state

        chunk_size = max(num_steps // _PROGRESS_UPDATES, 1) if progress_bar else num_steps
        run_chunk = self._chunk_runner(
            chunk_size, stable_update, args, kwargs, forward_mode_differentiation
        )
        bar = _ProgressBar(num_steps) if progress_bar else None
        losses: list[np.ndarray] = []
        try:
            for start in range(0, num_steps, chunk_size):
                stop = min(start + chunk_size, num_steps)
                chunk_start_state = svi_state
                svi_state, chunk_losses = run_chunk(svi_state, start, stop)
                chunk_losses = np.asarray(chunk_losses)[: stop - start]
                losses.append(chunk_losses)
                if bar is not None:
                    bar.update(start, stop, losses)
                if not stable_update and not np.all(np.isfinite(chunk_losses)):
                    bad = start + int(np.argmin(np.isfinite(chunk_losses)))
                    good_state, _ = run_chunk(chunk_start_state, start, bad)
                    self._raise_non_finite(
                        bad,
                        num_steps,
                        good_state,
                        np.concatenate(losses)[: bad + 1],
                        args,
                        kwargs,
                    )
        finally:
            if bar is not None:
                bar.close()
        all_losses = np.concatenate(losses)
        if stable_update:
            _warn_skipped(all_losses)
        return SVIRunResult(self.get_params(svi_state), svi_state, jnp.asarray(all_losses))

    def _chunk_runner(
        self,
        length: int,
        stable: bool,
        args: tuple,
        kwargs: dict,
        forward_mode_differentiation: bool,
    ) -> Callable:
        """A compiled ``(state, start, stop) -> (state, losses)`` running steps
        ``start .. stop - 1`` in a scan of fixed ``length`` (later steps are skipped)."""

        def step(state: SVIState) -> tuple:
            return self._step(stable, state, args, kwargs, forward_mode_differentiation)

        @jax.jit
        def run_chunk(state: SVIState, start: Any, stop: Any) -> tuple:
            loss_shape = jax.eval_shape(step, state)[1]

            def body(state: SVIState, i: Any) -> tuple:
                def skip(state: SVIState) -> tuple:
                    return state, jnp.full(loss_shape.shape, jnp.nan, loss_shape.dtype)

                return jax.lax.cond(start + i < stop, step, skip, state)

            return jax.lax.scan(body, state, jnp.arange(length))

        return run_chunk

    def _raise_non_finite(
        self,
        step: int,
        num_steps: int,
        state: SVIState,
        losses: np.ndarray,
        args: tuple,
        kwargs: dict,
    ) -> None:
        diagnosis = self._diagnose(state, args, kwargs)
        raise NonFiniteLossError(
            f"SVI.run: the loss is {losses[-1]} at step {step} (of {num_steps}); {diagnosis}. "
            "Lower the step size, check the model's and guide's parameters and data, or pass "
            "stable_update=True to skip such steps. The error's .state holds the state "
            "before that step.",
            step,
            state,
            losses[:-1],
        )

    def _non_finite_sites(
        self, guide_key: jax.Array, model_key: jax.Array, params: dict, args: tuple, kwargs: dict
    ) -> list[str]:
        guide_trace = trace(substitute(seed(self.guide, guide_key), data=params)).get_trace(
            *args, **kwargs
        )
        replayed = substitute(replay(seed(self.model, model_key), trace=guide_trace), data=params)
        model_trace = trace(replayed).get_trace(*args, **kwargs)
        lines = []
        for label, tr in (("guide", guide_trace), ("model", model_trace)):
            bad = []
            for name, site in tr.items():
                if site["type"] == "sample":
                    total = float(jnp.sum(site_log_prob(site)))
                    if not np.isfinite(total):
                        bad.append(f"{name} ({total})")
            if bad:
                lines.append(f"{label} sites with a non-finite log density: {', '.join(bad)}")
        return lines

    def _diagnose(self, state: SVIState, args: tuple, kwargs: dict) -> str:
        """Name the sites and params that make the loss non-finite at ``state``."""
        _, step_key = jax.random.split(state.rng_key)
        model_key, guide_key = jax.random.split(step_key)
        kwargs = {**kwargs, **self.static_kwargs}
        unconstrained = self.optim.get_params(state.optim_state)
        params = self.get_params(state)
        if state.mutable_state is not None:
            params = {**params, **state.mutable_state}
        lines = []
        bad_values = [name for name, v in unconstrained.items() if not _finite(v)]
        if bad_values:
            lines.append(f"params with non-finite values: {bad_values}")
        try:
            lines += self._non_finite_sites(guide_key, model_key, params, args, kwargs)
            loss_fn = self._loss_fn(step_key, state.mutable_state, args, kwargs)
            grads = jax.grad(lambda p: loss_fn(p)[0])(unconstrained)
        except Exception as error:  # the model itself may reject these values
            lines.append(
                f"running the model and guide at these parameters raises {type(error).__name__}: "
                f"{error}"
            )
            return "; ".join(lines)
        bad_grads = [name for name, g in grads.items() if not _finite(g)]
        if bad_grads:
            lines.append(f"params with a non-finite gradient: {bad_grads}")
        return "; ".join(lines) or (
            "no single site has a non-finite log density at the parameters before the step"
        )


def _finite(tree: Any) -> bool:
    return all(np.all(np.isfinite(np.asarray(leaf))) for leaf in jax.tree.leaves(tree))


def _warn_skipped(losses: np.ndarray) -> None:
    bad = ~np.isfinite(losses)
    if not bad.any():
        return
    first = int(np.argmax(bad))
    warnings.warn(
        f"SVI.run: {int(bad.sum())} of {len(losses)} steps had a non-finite loss or gradient "
        f"and were skipped (the first at step {first}); the parameters are those of the last "
        "good step.",
        UserWarning,
        stacklevel=3,
    )


class _ProgressBar:
    """A tqdm bar advanced chunk by chunk, showing the chunk's average loss."""

    def __init__(self, total: int) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total)

    def update(self, start: int, stop: int, losses: list[np.ndarray]) -> None:
        chunk = losses[-1]
        finite = chunk[np.isfinite(chunk)]
        average = float(np.mean(finite)) if finite.size else float("nan")
        init_loss = float(losses[0][0])
        self._bar.set_postfix_str(
            f"init loss: {init_loss:.4f}, avg. loss [{start + 1}-{stop}]: {average:.4f}",
            refresh=False,
        )
        self._bar.update(stop - start)

    def close(self) -> None:
        self._bar.close()
