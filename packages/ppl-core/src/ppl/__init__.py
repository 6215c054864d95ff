"""ppl: probabilistic programming on JAX.

``ppl`` is a namespace shared by several separately installed distributions:
ppl-core ships this file and the model language; ``ppl.distributions``,
``ppl.mcmc``, ``ppl.vi`` and ``ppl.tfp`` come from their own packages and are
found through :func:`pkgutil.extend_path`, from wheels and editable checkouts
alike.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

__version__ = "0.1.0"
