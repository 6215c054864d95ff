"""A variational autoencoder trained with SVI on synthetic binary images.

The images are 8 by 8 binary pictures of a single horizontal or vertical bar
(16 shapes), each pixel flipped with a small probability. The generative
model draws a latent code :math:`z \\in \\mathbb{R}^2` from a standard normal
and each pixel from a Bernoulli whose logit a neural network (the decoder)
computes from :math:`z`:

.. math::

    z_n \\sim N(0, I), \\quad x_{n,p} \\sim \\text{Bernoulli}(\\text{logit}^{-1}(f_\\theta(z_n)_p)).

The guide is amortized: a second network (the encoder) maps each image to
the mean and scale of a normal distribution over its code,
:math:`q_\\phi(z_n \\mid x_n) = N(\\mu_\\phi(x_n), \\sigma_\\phi(x_n))`. SVI
maximizes the evidence lower bound over the decoder's and the encoder's
weights together, one mini-batch of images at a time.

Both networks are ``(init_fn, apply_fn)`` pairs of ``jax.example_libraries.stax``
registered with :func:`ppl.module`; a flax or equinox network would go through
:func:`ppl.vi.nn.flax_module` or :func:`ppl.vi.nn.eqx_module` the same way.

Run ``python examples/vae.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import time

import _common
import jax
import jax.numpy as jnp
import numpy as np
from jax.example_libraries import stax

import ppl
import ppl.distributions as dist
import ppl.optim as optim
from ppl.infer import SVI, Trace_ELBO

SIDE = 8
NUM_PIXELS = SIDE * SIDE


def make_images(num_images: int, flip_prob: float = 0.03, seed: int = 0) -> np.ndarray:
    """``num_images`` flattened 8x8 binary images of one bar each, with flipped pixels."""
    rng = np.random.default_rng(seed)
    shapes = np.zeros((2 * SIDE, SIDE, SIDE), dtype=np.float32)
    for i in range(SIDE):
        shapes[i, i, :] = 1.0  # horizontal bars
        shapes[SIDE + i, :, i] = 1.0  # vertical bars
    images = shapes[rng.integers(0, 2 * SIDE, num_images)].reshape(num_images, NUM_PIXELS)
    flips = rng.random(images.shape) < flip_prob
    return np.abs(images - flips).astype(np.float32)


def encoder(hidden_dim: int, z_dim: int):
    """Image -> (loc, scale) of the code, as one stax network with two outputs."""
    return stax.serial(
        stax.Dense(hidden_dim),
        stax.Softplus,
        stax.FanOut(2),
        stax.parallel(stax.Dense(z_dim), stax.serial(stax.Dense(z_dim), stax.Softplus)),
    )


def decoder(hidden_dim: int):
    """Code -> the logits of the pixels."""
    return stax.serial(stax.Dense(hidden_dim), stax.Softplus, stax.Dense(NUM_PIXELS))


def model(batch, hidden_dim: int = 128, z_dim: int = 2):
    decode = ppl.module("decoder", decoder(hidden_dim), (batch.shape[0], z_dim))
    with ppl.plate("batch", batch.shape[0]):
        z = ppl.sample("z", dist.Normal(jnp.zeros(z_dim), 1.0).to_event(1))
        ppl.sample("obs", dist.Bernoulli(logits=decode(z)).to_event(1), obs=batch)


def guide(batch, hidden_dim: int = 128, z_dim: int = 2):
    encode = ppl.module("encoder", encoder(hidden_dim, z_dim), (batch.shape[0], NUM_PIXELS))
    loc, scale = encode(batch)
    with ppl.plate("batch", batch.shape[0]):
        ppl.sample("z", dist.Normal(loc, scale + 1.0e-3).to_event(1))


def reconstruct(params: dict, images, hidden_dim: int, z_dim: int) -> jax.Array:
    """The decoder's pixel probabilities at the encoder's mean code of each image."""
    _, encode = encoder(hidden_dim, z_dim)
    _, decode = decoder(hidden_dim)
    loc, _ = encode(params["encoder$params"], images)
    return jax.nn.sigmoid(decode(params["decoder$params"], loc))


def main(args: argparse.Namespace) -> dict:
    """Train the VAE; return the per-image loss of each epoch on the training and test sets."""
    train = jnp.asarray(make_images(args.num_train, seed=args.seed))
    test = jnp.asarray(make_images(args.num_test, seed=args.seed + 1))
    svi = SVI(
        model,
        guide,
        optim.Adam(args.learning_rate),
        Trace_ELBO(),
        hidden_dim=args.hidden_dim,
        z_dim=args.z_dim,
    )
    rng_key, init_key = jax.random.split(jax.random.PRNGKey(args.seed))
    batch_size = args.batch_size
    # Compiled, the initialization draws every layer's weights in one program.
    svi_state = jax.jit(svi.init)(init_key, train[:batch_size])

    @jax.jit
    def epoch(svi_state, rng_key):
        """One pass over the shuffled training set, then the loss on the test images;
        both per image (the training loss summed over the epoch's batches)."""
        num_batches = train.shape[0] // batch_size
        order = jax.random.permutation(rng_key, train.shape[0])[: num_batches * batch_size]
        batches = train[order].reshape(num_batches, batch_size, NUM_PIXELS)

        def step(state, batch):
            state, loss = svi.update(state, batch)
            return state, loss

        svi_state, losses = jax.lax.scan(step, svi_state, batches)
        test_loss = svi.evaluate(svi_state, test) / test.shape[0]
        return svi_state, jnp.sum(losses) / (num_batches * batch_size), test_loss

    train_losses, test_losses = [], []
    # The first epoch's time includes compiling the training step.
    for i in range(args.num_epochs):
        start = time.time()
        rng_key, epoch_key = jax.random.split(rng_key)
        svi_state, train_loss, test_loss = epoch(svi_state, epoch_key)
        train_losses.append(float(train_loss))
        test_losses.append(float(test_loss))
        print(
            f"epoch {i:3d}: negative ELBO per image {train_losses[-1]:7.3f} (train), "
            f"{test_losses[-1]:7.3f} (test)  [{time.time() - start:.1f} s]"
        )
    params = svi.get_params(svi_state)
    if args.plot:
        plot(params, np.asarray(test[:8]), args)
    return {"train_losses": train_losses, "test_losses": test_losses, "params": params}


def plot(params: dict, images: np.ndarray, args: argparse.Namespace) -> None:
    """Test images beside the decoder's pixel probabilities at their codes."""
    plt = _common.pyplot()
    if plt is None:
        return
    probs = np.asarray(reconstruct(params, images, args.hidden_dim, args.z_dim))
    path = args.plot
    fig, axes = plt.subplots(2, len(images), figsize=(1.1 * len(images), 2.6))
    for j in range(len(images)):
        for row, picture in enumerate((images[j], probs[j])):
            axes[row, j].imshow(picture.reshape(SIDE, SIDE), cmap="gray_r", vmin=0, vmax=1)
            axes[row, j].set_xticks([])
            axes[row, j].set_yticks([])
    axes[0, 0].set_ylabel("test image")
    axes[1, 0].set_ylabel("decoded")
    fig.suptitle("VAE: test images and the decoder's pixel probabilities at their codes")
    _common.save_figure(fig, path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--num-epochs", type=int, default=50)
    parser.add_argument("--learning-rate", type=float, default=1.0e-2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-train", type=int, default=2048)
    parser.add_argument("--num-test", type=int, default=256)
    parser.add_argument("--hidden-dim", type=int, default=128)
    parser.add_argument("--z-dim", type=int, default=2)
    _common.run_arguments(
        parser,
        plot_help="save test images and reconstructions",
        smoke_help="a quick run: 3 epochs over 512 images",
        progress_bar=False,
    )
    return _common.parse(parser, argv, num_epochs=3, num_train=512, num_test=128)


if __name__ == "__main__":
    args = parse_args()
    _common.setup_device(args)
    main(args)
