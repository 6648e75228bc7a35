"""A variational autoencoder on scikit-learn's 8x8 handwritten digits.

The model draws a latent code ``z ~ Normal(0, I)`` per image and decodes it
into pixel probabilities; the guide is an amortized encoder
``q(z | x) = Normal(mu(x), sigma(x))`` (Kingma & Welling 2014, "Auto-Encoding
Variational Bayes", arXiv 1312.6114). Pixel intensities are scaled to
``[0, 1]`` and scored, as in Pyro's VAE tutorial, with the continuous relaxation
of a Bernoulli likelihood: ``Bernoulli(probs, validate_args=False).to_event(1)``
switches off the support check that would reject non-binary pixels, and the
log-probability ``x log p + (1 - x) log(1 - p)`` is the binary cross-entropy. Training uses SVI with
Trace_ELBO; the reparameterized latent gives pathwise gradients.

The data set ships inside scikit-learn (no download): install it with the
``examples`` extra, ``pip install -e ".[examples]"``. Saves a PNG grid of
inputs, reconstructions and samples from the prior.

Run ``python examples/vae.py --help`` for options.
"""

import argparse
import pathlib
from contextlib import contextmanager

import matplotlib.pyplot as plt
import torch
from torch import nn
from tqdm.auto import tqdm

import distributions as dist
import ppl
from inference import SVI, Trace_ELBO
from inference.optim import Adam

__all__ = ["VAE", "load_digits", "main"]


def load_digits():
    """The 1797 digits as 64-pixel rows of intensities in ``[0, 1]`` (float tensors)."""
    from sklearn.datasets import load_digits as sklearn_digits

    # The scans have 17 grey levels, 0 to 16.
    return torch.tensor(sklearn_digits().data / 16.0, dtype=torch.float32)


class VAE(nn.Module):
    """Encoder and decoder MLPs with the model and guide as methods."""

    def __init__(self, pixels=64, hidden=128, latent=4):
        super().__init__()
        self.latent = latent
        self.encoder = nn.Sequential(nn.Linear(pixels, hidden), nn.Softplus())
        self.enc_loc = nn.Linear(hidden, latent)
        self.enc_scale = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(
            nn.Linear(latent, hidden), nn.Softplus(), nn.Linear(hidden, pixels)
        )

    def model(self, x):
        ppl.module("decoder", self.decoder)
        prior = dist.Normal(x.new_zeros(self.latent), x.new_ones(self.latent)).to_event(1)
        with ppl.plate("images", x.shape[0]):
            z = ppl.sample("z", prior)
            loc_img = torch.sigmoid(self.decoder(z))
            # Real-valued pixels lie outside {0, 1}: this distribution opts out of
            # validation, so its observed site is not checked either (Pyro's idiom).
            ppl.sample("x", dist.Bernoulli(loc_img, validate_args=False).to_event(1), obs=x)

    def guide(self, x):
        ppl.module("encoder", self.encoder)
        ppl.module("enc_loc", self.enc_loc)
        ppl.module("enc_scale", self.enc_scale)
        with ppl.plate("images", x.shape[0]):
            h = self.encoder(x)
            scale = nn.functional.softplus(self.enc_scale(h)) + 1e-3
            ppl.sample("z", dist.Normal(self.enc_loc(h), scale).to_event(1))

    def reconstruct(self, x):
        """Decoded pixel probabilities at the encoder's mean code."""
        with torch.no_grad():
            return torch.sigmoid(self.decoder(self.enc_loc(self.encoder(x))))

    def generate(self, n):
        """Pixel probabilities decoded from ``n`` prior draws."""
        with torch.no_grad():
            return torch.sigmoid(self.decoder(torch.randn(n, self.latent)))


def train(vae, data, epochs, batch_size=128, lr=3e-3, progress=False):
    """Runs SVI over mini-batches; returns the mean loss per image for each epoch."""
    svi = SVI(vae.model, vae.guide, Adam({"lr": lr}), Trace_ELBO())
    history = []
    bar = tqdm(range(epochs), disable=not progress, desc="epochs")
    for _ in bar:
        perm = torch.randperm(len(data))
        total = sum(
            svi.step(data[perm[i : i + batch_size]]) for i in range(0, len(data), batch_size)
        )
        history.append(total / len(data))
        bar.set_postfix(loss=f"{history[-1]:.2f}")
    return history


def code_free_loss(data):
    """The loss per image of the best model that ignores the code: one probability per pixel.

    Its minimizer is the mean image, and the loss its binary cross-entropy; a
    VAE whose -ELBO is below this uses its latent code.
    """
    p = data.mean(0).clamp(1e-6, 1 - 1e-6)
    return -(data * p.log() + (1 - data) * (1 - p).log()).sum(-1).mean().item()


def _grid(rows, path):
    fig, axes = plt.subplots(len(rows), 10, figsize=(10, 1.1 * len(rows)))
    for r, (title, images) in enumerate(rows):
        for c in range(10):
            axes[r, c].imshow(images[c].view(8, 8).numpy(), cmap="gray_r", vmin=0, vmax=1)
            axes[r, c].axis("off")
        axes[r, 0].set_title(title, loc="left", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


@contextmanager
def _threads(n):
    """Runs the block on ``n`` torch intra-op threads, then restores the previous count.

    The tensors here are tiny: a second thread adds a synchronisation per
    operation and buys no arithmetic (on a busy machine it multiplies the run time).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--num-epochs", type=int, default=40, help="passes over the data")
    parser.add_argument("--latent", type=int, default=4, help="latent dimension")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (tiny tensors: more only add overhead)",
    )
    parser.add_argument("--out", default="examples/output", help="folder for the PNG")
    args = parser.parse_args(argv)
    with _threads(args.threads):
        return _run(args)


def _run(args):
    ppl.clear_param_store()
    ppl.set_rng_seed(0)
    data = load_digits()
    vae = VAE(latent=args.latent)
    history = train(vae, data, args.num_epochs, progress=not args.no_progress)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [("input", data[:10]), ("reconstruction", vae.reconstruct(data[:10]))]
    rows.append(("prior sample", vae.generate(10)))
    _grid(rows, out / "vae.png")
    baseline = code_free_loss(data)
    error = (vae.reconstruct(data) - data).abs().mean().item()
    mean_error = (data.mean(0) - data).abs().mean().item()
    if history:
        print(f"loss per image: first epoch {history[0]:.2f}, last {history[-1]:.2f}")
    print(f"best code-free model (the mean image): {baseline:.2f} per image")
    print(f"mean absolute pixel error: reconstruction {error:.3f}, mean image {mean_error:.3f}")
    print(f"saved {out / 'vae.png'}")
    return {
        "history": history,
        "code_free_loss": baseline,
        "reconstruction_error": error,
        "mean_image_error": mean_error,
        "png": out / "vae.png",
    }


if __name__ == "__main__":
    main()
