import jax.numpy as jnp

import ppl
from ppl.render import get_model_relations


def hierarchical(dist):
    def model(sigma, y=None):
        mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
        tau = ppl.sample("tau", dist.Exponential(1.0))
        scale = ppl.param("scale", 1.0, constraint=ppl.constraints.positive)
        with ppl.plate("J", 3):
            theta = ppl.sample("theta", dist.Normal(mu, tau))
            shifted = ppl.deterministic("shifted", theta + 1.0)
            ppl.sample("obs", dist.Normal(shifted, sigma * scale), obs=y)

    return model


def test_model_relations_follow_the_data_flow(dist):
    rel = get_model_relations(hierarchical(dist), (jnp.ones(3), jnp.zeros(3)))
    assert rel["sample_sample"] == {
        "mu": [],
        "tau": [],
        "theta": ["mu", "tau"],
        "shifted": ["theta"],
        "obs": ["shifted"],
    }
    assert rel["sample_param"]["obs"] == ["scale"]
    assert rel["observed"] == ["obs"]
    assert rel["deterministic"] == ["shifted"]
    assert rel["plate_sample"] == {"J": ["theta", "shifted", "obs"]}
    assert rel["plate_size"] == {"J": 3}
    assert rel["sample_dist"]["theta"] == "SimpleNormal"


def test_render_model_text(dist, tmp_path):
    graph = ppl.render_model(
        hierarchical(dist),
        (jnp.ones(3), jnp.zeros(3)),
        render_distributions=True,
        render_params=True,
    )
    text = str(graph)
    assert "theta" in text and "<- mu, tau" in text and "in plate J[3]" in text
    assert "observed" in text and "scale" in text
    path = tmp_path / "model.txt"
    ppl.render_model(hierarchical(dist), (jnp.ones(3), jnp.zeros(3)), filename=str(path))
    assert "theta" in path.read_text()


def test_render_model_graphviz_source(dist):
    import pytest

    graphviz = pytest.importorskip("graphviz")
    graph = ppl.render_model(hierarchical(dist), (jnp.ones(3), jnp.zeros(3))).to_graphviz()
    assert isinstance(graph, graphviz.Digraph)
    assert "cluster_J" in graph.source and "mu -> theta" in graph.source
