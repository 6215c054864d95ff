"""Eight schools: the hierarchical model of Rubin (1981), as in NumPyro's README.

Eight schools ran the same coaching programme; ``y`` is each school's
estimated effect on test scores and ``sigma`` its standard error. The model
pools the schools' effects ``theta`` toward a common mean ``mu`` with spread
``tau``:

.. math::

    \\mu \\sim N(0, 5), \\quad \\tau \\sim \\text{HalfCauchy}(5), \\quad
    \\theta_j \\sim N(\\mu, \\tau), \\quad y_j \\sim N(\\theta_j, \\sigma_j)

Run ``python examples/eight_schools.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse

import _common
import jax
import numpy as np

import ppl
import ppl.distributions as dist
from ppl.infer import MCMC, NUTS, Predictive
from ppl.infer.reparam import TransformReparam

J = 8
y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
sigma = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools(J, sigma, y=None):
    """The centered parameterization."""
    mu = ppl.sample("mu", dist.Normal(0, 5))
    tau = ppl.sample("tau", dist.HalfCauchy(5))
    with ppl.plate("J", J):
        theta = ppl.sample("theta", dist.Normal(mu, tau))
        ppl.sample("obs", dist.Normal(theta, sigma), obs=y)


def eight_schools_noncentered(J, sigma, y=None):
    """The non-centered parameterization: theta = mu + tau * theta_base."""
    mu = ppl.sample("mu", dist.Normal(0, 5))
    tau = ppl.sample("tau", dist.HalfCauchy(5))
    with ppl.plate("J", J):
        with ppl.handlers.reparam(config={"theta": TransformReparam()}):
            theta = ppl.sample(
                "theta",
                dist.TransformedDistribution(
                    dist.Normal(0.0, 1.0), dist.transforms.AffineTransform(mu, tau)
                ),
            )
        ppl.sample("obs", dist.Normal(theta, sigma), obs=y)


def main(args: argparse.Namespace) -> None:
    print("The model:")
    print(ppl.render_model(eight_schools, model_args=(J, sigma, y), render_distributions=True))

    prior = Predictive(eight_schools, num_samples=1000)(jax.random.PRNGKey(1), J, sigma)
    print(
        "\nPrior predictive: obs has mean {:.1f} and standard deviation {:.1f}".format(
            float(np.mean(prior["obs"])), float(np.std(prior["obs"]))
        )
    )

    for name, model in [("centered", eight_schools), ("non-centered", eight_schools_noncentered)]:
        print(f"\nNUTS on the {name} model:")
        mcmc = MCMC(
            NUTS(model),
            num_warmup=args.num_warmup,
            num_samples=args.num_samples,
            num_chains=args.num_chains,
            chain_method=args.chain_method,
            progress_bar=not args.no_progress_bar,
        )
        mcmc.run(jax.random.PRNGKey(0), J, sigma, y=y, extra_fields=("potential_energy",))
        mcmc.print_summary()
        energy = mcmc.get_extra_fields()["potential_energy"]
        print(f"Expected log joint density: {float(np.mean(-energy)):.2f}")

    # Predict the effect in a new school from the non-centered posterior.
    samples = mcmc.get_samples()

    def new_school():
        mu = ppl.sample("mu", dist.Normal(0, 5))
        tau = ppl.sample("tau", dist.HalfCauchy(5))
        return ppl.sample("obs", dist.Normal(mu, tau))

    predictive = Predictive(new_school, {"mu": samples["mu"], "tau": samples["tau"]})
    effects = predictive(jax.random.PRNGKey(2))["obs"]
    print(f"\nEffect in a new school: mean {np.mean(effects):.2f}, sd {np.std(effects):.2f}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.mcmc_arguments(
        parser, num_samples=1000, num_warmup=1000, num_chains=4, chain_method="vectorized"
    )
    parser.add_argument("--no-progress-bar", action="store_true")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(parse_args())
