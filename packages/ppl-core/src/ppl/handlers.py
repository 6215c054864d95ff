"""Effect handlers: give a model other meanings without changing its code.

Each handler is a :class:`~ppl.primitives.Messenger` that edits the messages
the primitives send (see :mod:`ppl.primitives` for the message fields). Use
one as a context manager or as a wrapper::

    with seed(rng_seed=0), trace() as tr:
        model(data)

    tr = trace(seed(model, rng_seed=0)).get_trace(data)

Handlers compose: the innermost handler sees a message first. ``seed`` must
be inside the handlers that need random draws to have happened (so ``trace``
goes outside ``seed`` or inside it equally well, but ``substitute`` must be
inside ``seed`` to stop a draw).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ppl.primitives import CondIndepStackFrame, Messenger, apply_stack

__all__ = [
    "Messenger",
    "block",
    "collapse",
    "condition",
    "do",
    "infer_config",
    "lift",
    "mask",
    "reparam",
    "replay",
    "scale",
    "scope",
    "seed",
    "substitute",
    "trace",
    "uncondition",
]


def _checked_options(cls: type) -> type:
    """Make a handler reject unknown options with the list of the ones it takes."""
    init = cls.__init__
    signature = inspect.signature(init)
    options = [name for name in signature.parameters if name != "self"]

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        unknown = [key for key in kwargs if key not in options]
        if unknown:
            key = unknown[0]
            close = difflib.get_close_matches(key, options, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(
                f"{cls.__name__}() got an unknown option {key!r}; its options are "
                f"{', '.join(options)}.{hint}"
            )
        init(self, *args, **kwargs)

    cls.__init__ = __init__
    return cls


def _is_site(msg: dict) -> bool:
    return msg.get("name") is not None


# ---------------------------------------------------------------------------
# Recording and replaying
# ---------------------------------------------------------------------------


@_checked_options
class trace(Messenger):
    """Record every site of a run in an ordered dict ``{name: message}``.

    Example::

        exec_trace = trace(seed(model, rng_seed=0)).get_trace(x)
        exec_trace["mu"]["value"]
    """

    def __init__(self, fn: Callable | None = None) -> None:
        super().__init__(fn)
        self.trace: OrderedDict[str, dict] = OrderedDict()

    def __enter__(self) -> OrderedDict[str, dict]:  # type: ignore[override]
        super().__enter__()
        self.trace = OrderedDict()
        return self.trace

    def postprocess_message(self, msg: dict) -> None:
        if not _is_site(msg):
            return
        name = msg["name"]
        previous = self.trace.get(name)
        if previous is not None and "value_site" in (
            _site_kind(previous),
            _site_kind(msg),
        ):
            raise ValueError(
                f"Duplicate site name {name!r} (a {previous['type']} site and a {msg['type']} "
                "site): sample and deterministic sites need unique names within one run of "
                "the model. Inside a Python loop put the index in the name (f'x_{i}'); when "
                "a sub-model is called twice, wrap each call in scope(prefix=...)."
            )
        self.trace[name] = msg.copy()

    def get_trace(self, *args: Any, **kwargs: Any) -> OrderedDict[str, dict]:
        """Run the wrapped function and return its trace."""
        self(*args, **kwargs)
        return self.trace


def _site_kind(msg: dict) -> str:
    return "value_site" if msg["type"] in ("sample", "deterministic") else msg["type"]


@_checked_options
class replay(Messenger):
    """Give sample (and plate) sites the values recorded in ``trace``.

    Observed sites keep their data. Used to score a guide's draws under the
    model, as the ELBOs do.
    """

    def __init__(self, fn: Callable | None = None, trace: dict | None = None) -> None:
        if trace is None:
            raise ValueError("replay needs a trace to replay (replay(fn, trace=...))")
        super().__init__(fn)
        self.trace = trace

    def process_message(self, msg: dict) -> None:
        if msg["type"] not in ("sample", "plate") or msg["name"] not in self.trace:
            return
        recorded = self.trace[msg["name"]]
        if msg["type"] == "sample" and msg["is_observed"]:
            return
        if recorded["type"] != msg["type"]:
            raise ValueError(
                f"replay: site {msg['name']!r} is a {msg['type']} site here but a "
                f"{recorded['type']} site in the trace being replayed"
            )
        msg["value"] = recorded["value"]
        if msg["type"] == "sample":
            msg["infer"] = dict(recorded.get("infer", {}))


# ---------------------------------------------------------------------------
# Randomness
# ---------------------------------------------------------------------------


def _as_key(rng_seed: Any) -> jax.Array:
    if isinstance(rng_seed, int | np.integer) and not isinstance(rng_seed, bool):
        return jax.random.PRNGKey(int(rng_seed))
    if isinstance(rng_seed, jax.Array | np.ndarray):
        if jnp.issubdtype(rng_seed.dtype, jax.dtypes.prng_key):
            return rng_seed
        if rng_seed.shape == () and jnp.issubdtype(rng_seed.dtype, jnp.integer):
            return jax.random.PRNGKey(rng_seed)
        if rng_seed.shape == (2,) and rng_seed.dtype == jnp.uint32:
            return rng_seed
    raise TypeError(
        "seed: rng_seed must be an integer or a JAX random key (jax.random.key(0) or "
        f"jax.random.PRNGKey(0)), got {type(rng_seed).__name__}: {rng_seed!r}"
    )


@_checked_options
class seed(Messenger):
    """Supply random keys to the random sites of a model.

    Every unobserved sample site without a value, every subsampled plate and
    every :func:`~ppl.primitives.prng_key` call gets a fresh key split from
    ``rng_seed``. The handler keeps splitting, so calling a seeded model twice
    gives two different draws.

    Args:
        fn: the model to seed.
        rng_seed: an integer or a JAX random key.
        hide_types: message types this handler leaves alone.
    """

    def __init__(
        self,
        fn: Callable | None = None,
        rng_seed: Any = None,
        hide_types: list[str] | None = None,
    ) -> None:
        if rng_seed is None:
            raise ValueError("seed needs rng_seed: an integer or a JAX random key")
        self.rng_key = _as_key(rng_seed)
        self.hide_types = () if hide_types is None else tuple(hide_types)
        super().__init__(fn)

    def _next_key(self) -> jax.Array:
        self.rng_key, subkey = jax.random.split(self.rng_key)
        return subkey

    def process_message(self, msg: dict) -> None:
        kind = msg["type"]
        if kind in self.hide_types:
            return
        if kind == "sample":
            if msg["is_observed"] or msg["value"] is not None:
                return
            if msg["kwargs"].get("rng_key") is None:
                msg["kwargs"]["rng_key"] = self._next_key()
        elif kind == "plate":
            if msg["value"] is None and msg["kwargs"].get("rng_key") is None:
                msg["kwargs"]["rng_key"] = self._next_key()
        elif kind == "prng_key":
            if msg["value"] is None:
                msg["value"] = self._next_key()


# ---------------------------------------------------------------------------
# Setting values
# ---------------------------------------------------------------------------


@_checked_options
class substitute(Messenger):
    """Set the values of sites from ``data`` (or ``substitute_fn(msg)``).

    Param sites take the *constrained* value given; sample sites take the
    value without being marked observed (contrast :class:`condition`).
    """

    def __init__(
        self,
        fn: Callable | None = None,
        data: dict | None = None,
        substitute_fn: Callable[[dict], Any] | None = None,
    ) -> None:
        if (data is None) == (substitute_fn is None):
            raise ValueError("substitute needs exactly one of data or substitute_fn")
        self.data = data
        self.substitute_fn = substitute_fn
        super().__init__(fn)

    def process_message(self, msg: dict) -> None:
        if msg["type"] not in ("sample", "param", "plate", "deterministic"):
            return
        if self.data is not None:
            value = self.data.get(msg["name"])
        else:
            value = self.substitute_fn(msg)
        if value is not None:
            msg["value"] = value


@_checked_options
class condition(Messenger):
    """Observe sample sites at the values in ``data`` (or ``condition_fn(msg)``)."""

    def __init__(
        self,
        fn: Callable | None = None,
        data: dict | None = None,
        condition_fn: Callable[[dict], Any] | None = None,
    ) -> None:
        if (data is None) == (condition_fn is None):
            raise ValueError("condition needs exactly one of data or condition_fn")
        self.data = data
        self.condition_fn = condition_fn
        super().__init__(fn)

    def process_message(self, msg: dict) -> None:
        if msg["type"] != "sample":
            return
        if self.data is not None:
            value = self.data.get(msg["name"])
        else:
            value = self.condition_fn(msg)
        if value is not None:
            msg["value"] = value
            msg["is_observed"] = True


@_checked_options
class uncondition(Messenger):
    """Turn observed sample sites back into latent ones (for prior predictive checks).

    The data that was observed is kept in ``msg["infer"]["obs"]``.
    """

    def __init__(self, fn: Callable | None = None) -> None:
        super().__init__(fn)

    def process_message(self, msg: dict) -> None:
        if msg["type"] == "sample" and msg["is_observed"]:
            msg["is_observed"] = False
            msg["infer"] = {**msg["infer"], "was_observed": True, "obs": msg["value"]}
            msg["value"] = None


@_checked_options
class do(Messenger):
    """Intervene: fix sample sites to ``data`` values, cutting their dependence on parents.

    Unlike :class:`condition`, the intervened value is not evidence: it adds
    nothing to the log density. The site under its own name is still drawn as
    usual; the fixed value is recorded at ``name + "__CF"`` and returned to
    the model.
    """

    def __init__(self, fn: Callable | None = None, data: dict | None = None) -> None:
        if data is None:
            raise ValueError("do needs data: {site name: intervention value}")
        self.data = data
        self._intervener_id = id(self)
        super().__init__(fn)

    def process_message(self, msg: dict) -> None:
        if msg["type"] != "sample":
            return
        if msg.get("_intervener_id") == self._intervener_id:
            return
        intervention = self.data.get(msg["name"])
        if intervention is None:
            return
        if msg.get("_intervener_id") is not None:
            warnings.warn(
                f"do: site {msg['name']!r} is intervened on more than once; the outer "
                "intervention wins",
                RuntimeWarning,
                stacklevel=2,
            )
        msg["_intervener_id"] = self._intervener_id
        # The original draw goes on under the original name ...
        apply_stack(msg.copy())
        # ... and the model sees the intervention, recorded as the counterfactual.
        msg["name"] = msg["name"] + "__CF"
        msg["value"] = intervention
        msg["is_observed"] = True
        msg["stop"] = True


@_checked_options
class lift(Messenger):
    """Turn param sites into sample sites drawn from ``prior``.

    Args:
        prior: a distribution for every param, or ``{param name: distribution}``.
    """

    def __init__(self, fn: Callable | None = None, prior: Any = None) -> None:
        if prior is None:
            raise ValueError("lift needs a prior: a distribution or {param name: distribution}")
        self.prior = prior
        super().__init__(fn)

    def process_message(self, msg: dict) -> None:
        if msg["type"] != "param":
            return
        prior = self.prior.get(msg["name"]) if isinstance(self.prior, dict) else self.prior
        if prior is None:
            return
        msg["type"] = "sample"
        msg["fn"] = prior
        msg["args"] = ()
        msg["kwargs"] = {"rng_key": None, "sample_shape": ()}
        msg["intermediates"] = []
        msg["is_observed"] = False
        msg["infer"] = {}


# ---------------------------------------------------------------------------
# Weighting
# ---------------------------------------------------------------------------


def _is_concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


@_checked_options
class mask(Messenger):
    """Mask out the log density of sample sites where ``mask`` is ``False``.

    The mask is recorded in ``msg["mask"]`` (combined with any mask already
    there) and broadcast against the site's batch shape when log densities are
    computed. Masked-out entries contribute nothing, gradients included.
    """

    def __init__(self, fn: Callable | None = None, mask: Any = True) -> None:
        if jnp.result_type(mask) != jnp.bool_:
            raise TypeError(
                f"mask: mask must be a boolean or boolean array, got dtype {jnp.result_type(mask)}"
            )
        self.mask = mask
        super().__init__(fn)

    def process_message(self, msg: dict) -> None:
        if msg["type"] == "mask":
            msg["value"] = self.mask if msg["value"] is None else (msg["value"] & self.mask)
            return
        if msg["type"] != "sample":
            return
        msg["mask"] = self.mask if msg["mask"] is None else (msg["mask"] & self.mask)


@_checked_options
class scale(Messenger):
    """Multiply the log density of sample (and param) sites by ``scale``.

    ``scale`` must be positive; a scalar or an array broadcasting with the
    sites' batch shapes.
    """

    def __init__(self, fn: Callable | None = None, scale: Any = 1.0) -> None:
        if _is_concrete(scale) and not np.all(np.asarray(scale) > 0):
            raise ValueError(f"scale: scale must be positive, got {scale!r}")
        self.scale = scale
        super().__init__(fn)

    def process_message(self, msg: dict) -> None:
        if msg["type"] not in ("param", "sample", "plate"):
            return
        msg["scale"] = self.scale if msg.get("scale") is None else self.scale * msg["scale"]


# ---------------------------------------------------------------------------
# Names, visibility and configuration
# ---------------------------------------------------------------------------


@_checked_options
class scope(Messenger):
    """Prefix site (and plate) names: ``name`` becomes ``prefix + divider + name``.

    Lets one sub-model be used twice in a model without name clashes.
    """

    def __init__(
        self,
        fn: Callable | None = None,
        prefix: str = "",
        divider: str = "/",
        hide_types: list[str] | None = None,
    ) -> None:
        self.prefix = prefix
        self.divider = divider
        self.hide_types = () if hide_types is None else tuple(hide_types)
        super().__init__(fn)

    def _rename(self, name: str) -> str:
        return f"{self.prefix}{self.divider}{name}"

    def process_message(self, msg: dict) -> None:
        if msg.get("name") and msg["type"] not in self.hide_types:
            msg["name"] = self._rename(msg["name"])
        if msg.get("cond_indep_stack") and "plate" not in self.hide_types:
            msg["cond_indep_stack"] = [
                CondIndepStackFrame(self._rename(frame.name), frame.dim, frame.size)
                for frame in msg["cond_indep_stack"]
            ]


@_checked_options
class block(Messenger):
    """Hide sites from the handlers outside this one.

    With no option every site is hidden. Otherwise exactly one of:

    Args:
        hide_fn: ``hide_fn(msg) -> bool``.
        hide: names of sites to hide.
        expose_types: message types to let through (all others hidden).
        expose: names of sites to let through (all others hidden).
    """

    def __init__(
        self,
        fn: Callable | None = None,
        hide_fn: Callable[[dict], bool] | None = None,
        hide: list[str] | None = None,
        expose_types: list[str] | None = None,
        expose: list[str] | None = None,
    ) -> None:
        given = [x is not None for x in (hide_fn, hide, expose_types, expose)]
        if sum(given) > 1:
            raise ValueError("block takes at most one of hide_fn, hide, expose_types, expose")
        if hide_fn is not None:
            self.hide_fn = hide_fn
        elif hide is not None:
            hidden = set(hide)
            self.hide_fn = lambda msg: msg.get("name") in hidden
        elif expose_types is not None:
            exposed_types = set(expose_types)
            self.hide_fn = lambda msg: msg.get("type") not in exposed_types
        elif expose is not None:
            exposed = set(expose)
            self.hide_fn = lambda msg: msg.get("name") not in exposed
        else:
            self.hide_fn = lambda msg: True
        super().__init__(fn)

    def process_message(self, msg: dict) -> None:
        if self.hide_fn(msg):
            msg["stop"] = True


@_checked_options
class infer_config(Messenger):
    """Add ``config_fn(msg)`` to ``msg["infer"]`` of each sample site."""

    def __init__(
        self, fn: Callable | None = None, config_fn: Callable[[dict], dict] | None = None
    ) -> None:
        if config_fn is None:
            raise ValueError("infer_config needs config_fn: msg -> dict of infer options")
        self.config_fn = config_fn
        super().__init__(fn)

    def process_message(self, msg: dict) -> None:
        if msg["type"] == "sample":
            msg["infer"] = {**msg["infer"], **self.config_fn(msg)}


@_checked_options
class reparam(Messenger):
    """Reparameterize sample sites with reparameterizers (``ppl.infer.reparam``).

    A reparameterizer is called as ``reparam(name, fn, obs)`` and returns a new
    distribution and value. It usually adds auxiliary sites; the original
    site becomes a deterministic one (or an observed one with the new value).

    Args:
        config: ``{site name: reparameterizer}`` or ``msg -> reparameterizer or None``.
    """

    def __init__(self, fn: Callable | None = None, config: Any = None) -> None:
        if config is None or not (isinstance(config, dict) or callable(config)):
            raise TypeError(
                "reparam needs config: {site name: reparameterizer} or a function "
                "msg -> reparameterizer"
            )
        self.config = config
        super().__init__(fn)

    def process_message(self, msg: dict) -> None:
        if msg["type"] != "sample":
            return
        if isinstance(self.config, dict):
            reparameterizer = self.config.get(msg["name"])
        else:
            reparameterizer = self.config(msg)
        if reparameterizer is None:
            return
        new_fn, value = reparameterizer(msg["name"], msg["fn"], msg["value"])
        if value is not None:
            if new_fn is None:
                # The site is now a deterministic function of auxiliary sites.
                for key in list(msg):
                    if key not in ("type", "name", "value", "cond_indep_stack"):
                        del msg[key]
                msg.update(type="deterministic", value=value, fn=None, args=(), kwargs={})
                return
            if msg["value"] is None:
                msg["is_observed"] = True
            msg["value"] = value
        msg["fn"] = new_fn


# ---------------------------------------------------------------------------
# Collapsing conjugate pairs
# ---------------------------------------------------------------------------


class Delayed:
    """The value of a latent site inside :class:`collapse`: not drawn, to be integrated out.

    It may only be passed, as it is, as a parameter of the distributions of
    observed sites in the same ``collapse`` block.
    """

    def __init__(self, name: str, prior: Any) -> None:
        self.name = name
        self.prior = prior

    def __repr__(self) -> str:
        return f"Delayed({self.name!r})"

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"site {self.name!r} is being collapsed (integrated out) by ppl.handlers.collapse, "
            "so it has no value to compute with: pass it directly as a parameter of an "
            "observed site's distribution, e.g. sample('obs', Binomial(n, probs), obs=k)"
        )

    __array__ = __jax_array__ = __float__ = __index__ = __bool__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __pow__ = __rpow__ = __neg__ = __getitem__ = _refuse


class DelayedDistribution:
    """A distribution whose parameters include a :class:`Delayed` latent."""

    def __init__(self, cls: type, params: dict, latent_param: str, delayed: Delayed) -> None:
        self.cls = cls
        self.params = params
        self.latent_param = latent_param
        self.delayed = delayed
        # Shapes come from a stand-in built at the prior's mean.
        stand_in = cls(**{**params, latent_param: _prior_stand_in(delayed.prior)})
        self.batch_shape = tuple(stand_in.batch_shape)
        self.event_shape = tuple(stand_in.event_shape)
        self.support = stand_in.support
        self.is_discrete = stand_in.is_discrete

    def log_prob(self, value: Any) -> Any:
        raise TypeError(
            f"{self.cls.__name__} depends on the collapsed site {self.delayed.name!r}; its log "
            "density exists only after collapse integrates that site out"
        )

    def expand(self, batch_shape: tuple) -> DelayedDistribution:
        # Broadcasting happens in the conjugacy rule, against the observed values.
        return self


def _prior_stand_in(prior: Any) -> Any:
    shape = tuple(prior.batch_shape) + tuple(prior.event_shape)
    return jnp.broadcast_to(prior.mean, shape)


def _find_conjugacy_rule(prior: Any, likelihood_cls: type) -> Callable | None:
    from ppl.plugins import registry

    # A prior broadcast by a plate wraps the family's distribution: match through it.
    candidates = []
    while prior is not None:
        candidates.append(prior)
        prior = getattr(prior, "base_dist", None)
    for candidate in candidates:
        for prior_type, likelihood_type, rule in registry.conjugacy_rules():
            if isinstance(candidate, prior_type) and issubclass(likelihood_cls, likelihood_type):
                return rule
    return None


@_checked_options
class collapse(Messenger):
    """Integrate a latent site out analytically, using a conjugacy rule.

    Inside the block, the first unobserved sample site is not drawn: it
    becomes a :class:`Delayed` value that may only be passed as a parameter of
    the distributions of the observed sites that follow. On leaving the
    block, the latent site and those observed sites are replaced by one factor
    site, named after the latent, holding the log marginal likelihood of the
    observations. Conjugacy rules come from plugins (``register_conjugacy``);
    ppl-distributions provides Beta with Bernoulli and Binomial, Gamma with
    Poisson and Exponential, Normal with Normal (unknown mean), and Dirichlet
    with Categorical and Multinomial.

    Example::

        with collapse():
            probs = sample("probs", Beta(2.0, 2.0))
            sample("obs", Binomial(10, probs), obs=data)
    """

    def __init__(self, fn: Callable | None = None) -> None:
        super().__init__(fn)
        self._delayed: Delayed | None = None
        self._observed: list[dict] = []
        self._coerce = None

    def __enter__(self) -> collapse:
        from ppl.primitives import _DISTRIBUTION_COERCIONS

        self._delayed, self._observed = None, []
        self._coerce = self._coerce_distribution
        _DISTRIBUTION_COERCIONS.append(self._coerce)
        return super().__enter__()

    def _coerce_distribution(self, cls: type, args: tuple, kwargs: dict) -> Any:
        if self._delayed is None:
            return None
        marked = [v for v in (*args, *kwargs.values()) if isinstance(v, Delayed)]
        if not marked:
            return None
        # cls.__init__, not cls: a metaclass __call__ would hide the real signature.
        params = dict(inspect.signature(cls.__init__).bind(None, *args, **kwargs).arguments)
        params.pop(next(iter(params)))  # self
        latent_param = next(k for k, v in params.items() if isinstance(v, Delayed))
        return DelayedDistribution(cls, dict(params), latent_param, marked[0])

    def process_message(self, msg: dict) -> None:
        if msg["type"] != "sample":
            return
        if isinstance(msg["fn"], DelayedDistribution):
            if not msg["is_observed"]:
                raise ValueError(
                    f"collapse: site {msg['name']!r} depends on the collapsed site "
                    f"{msg['fn'].delayed.name!r} but is not observed; collapse integrates a "
                    "latent out of observed sites only"
                )
            self._observed.append(msg)
            msg["stop"] = True
        elif not msg["is_observed"] and msg["value"] is None:
            if self._delayed is not None:
                raise NotImplementedError(
                    f"collapse: site {msg['name']!r} would be a second collapsed latent (after "
                    f"{self._delayed.name!r}); collapse integrates out one latent per block"
                )
            self._delayed = Delayed(msg["name"], msg["fn"])
            msg["value"] = self._delayed
            msg["stop"] = True

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        from ppl.primitives import _DISTRIBUTION_COERCIONS, factor

        if self._coerce in _DISTRIBUTION_COERCIONS:
            _DISTRIBUTION_COERCIONS.remove(self._coerce)
        super().__exit__(exc_type, exc_value, traceback)
        if exc_type is not None:
            return
        delayed, observed = self._delayed, self._observed
        self._delayed, self._observed = None, []
        if delayed is None:
            return
        if len(observed) != 1:
            raise NotImplementedError(
                f"collapse: {len(observed)} observed sites depend on the collapsed site "
                f"{delayed.name!r}; collapse needs exactly one (put the data in one site, "
                "inside a plate)"
            )
        site = observed[0]
        if site["scale"] is not None or site["mask"] is not None:
            raise NotImplementedError(
                f"collapse: site {site['name']!r} is masked or scaled (e.g. by a subsampled "
                "plate); collapse integrates over complete, unweighted data only"
            )
        fn = site["fn"]
        rule = _find_conjugacy_rule(delayed.prior, fn.cls)
        log_marginal = (
            None
            if rule is None
            else rule(delayed.prior, fn.cls, fn.params, fn.latent_param, site["value"])
        )
        if log_marginal is None:
            raise NotImplementedError(
                f"collapse: no conjugacy rule for a {type(delayed.prior).__name__} prior "
                f"(site {delayed.name!r}) with a {fn.cls.__name__} likelihood through its "
                f"{fn.latent_param!r} parameter (site {site['name']!r}); plugins add rules "
                "with the register_conjugacy hook"
            )
        factor(delayed.name, log_marginal)
