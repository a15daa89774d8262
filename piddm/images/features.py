"""A small classifier whose penultimate features score generated images where no Inception weights exist.

For Fashion-MNIST (and MNIST) on a machine without the internet, the Fréchet distance and
precision/recall are computed on the 128-dimensional features of this network, trained on the
training split (the validation hold-out excluded) and stored with its test accuracy and the command
that made it. These numbers are **not FID**: they are comparable between generators scored with the
same classifier file only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as fn
from torch import nn

from pde_bench.conventions import InputError, provenance

from ..files import atomic_torch_save
from .datasets import image_set, load_images, to_model

__all__ = ["FEATURES", "ClassifierOptions", "FeatureNet", "extract_features", "load_classifier", "train_classifier"]

FEATURES = 128
FORMAT = "piddm-classifier/1"


class FeatureNet(nn.Module):
    """Three conv blocks (32-64-128 channels, BatchNorm, ReLU, pooling), global average pool -> 128 features
    -> linear classifier."""

    def __init__(self, channels: int = 1, classes: int = 10):
        super().__init__()
        layers, c = [], channels
        for width in (32, 64, FEATURES):
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                       nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2)]
            c = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(FEATURES, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(-2, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass
class ClassifierOptions:
    images: str
    out: str
    data_dir: str | None = None
    epochs: int = 3
    batch: int = 128
    lr: float = 2e-3
    seed: int = 0


def _accuracy(net: FeatureNet, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    net.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            right += int((net(torch.from_numpy(to_model(x[i:i + batch]))).argmax(1).numpy() == y[i:i + batch]).sum())
    return right / len(x)


def train_classifier(opts: ClassifierOptions, on_progress: Callable[[int, int], None] | None = None) -> dict:
    """Train the feature network on the training split (Adam, cosine lr, flips as augmentation) and write
    ``classifier.pt`` with its validation and test accuracy; returns the file's metadata."""
    spec = image_set(opts.images)
    x, y, _ = load_images(spec.name, opts.data_dir, "train")
    xv, yv, _ = load_images(spec.name, opts.data_dir, "val")
    xt, yt, _ = load_images(spec.name, opts.data_dir, "test")
    torch.manual_seed(opts.seed)
    net = FeatureNet(spec.channels, spec.classes)
    batch = min(opts.batch, len(x))
    steps = opts.epochs * (len(x) // batch)
    optim = torch.optim.Adam(net.parameters(), lr=opts.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, steps)
    gen = torch.Generator().manual_seed(opts.seed)
    t0, step = time.perf_counter(), 0
    net.train()
    for _ in range(opts.epochs):
        perm = torch.randperm(len(x), generator=gen).numpy()
        for i in range(0, len(x) - batch + 1, batch):
            idx = perm[i:i + batch]
            xb = torch.from_numpy(to_model(x[idx]))
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb[flip] = xb[flip].flip(-1)
            loss = fn.cross_entropy(net(xb), torch.from_numpy(y[idx]))
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            sched.step()
            step += 1
            if on_progress:
                on_progress(step, steps)
    meta = {"format": FORMAT, "images": spec.name, "channels": spec.channels, "classes": spec.classes,
            "features": FEATURES, "val_accuracy": _accuracy(net, xv, yv), "test_accuracy": _accuracy(net, xt, yt),
            "n_train": len(x), "train_s": round(time.perf_counter() - t0, 1), "options": asdict(opts),
            "provenance": provenance(asdict(opts))}
    atomic_torch_save({**meta, "state": {k: v.detach().cpu() for k, v in net.state_dict().items()}},
                      Path(opts.out) / "classifier.pt")
    return meta


def load_classifier(path: str | Path, images: str | None = None) -> tuple[FeatureNet, dict]:
    """A trained feature network (eval mode) and its metadata; ``images`` checks which data set it was made for."""
    path = Path(path)
    if path.is_dir():
        path = path / "classifier.pt"
    if not path.exists():
        raise InputError(f"{path}: no feature classifier here; make one with `piddm train-classifier --images "
                         f"{images or 'NAME'} -o {path.parent}`")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain values only
    except Exception as err:  # noqa: BLE001
        raise InputError(f"{path}: not a readable classifier file ({type(err).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise InputError(f"{path}: not a piddm feature classifier (format {FORMAT!r} expected)")
    if images is not None and blob["images"] != image_set(images).name:
        raise InputError(f"{path}: a classifier of {blob['images']}, but {image_set(images).name} is scored")
    net = FeatureNet(blob["channels"], blob["classes"])
    net.load_state_dict(blob["state"])
    return net.eval().requires_grad_(False), {k: v for k, v in blob.items() if k != "state"}


@torch.no_grad()
def extract_features(net: FeatureNet, images: torch.Tensor | np.ndarray, batch: int = 1000) -> np.ndarray:
    """(N, 128) float64 features of images in [-1, 1] (a float tensor) or uint8 arrays."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(to_model(images) if images.dtype == np.uint8 else images)
    dev = next(net.parameters()).device
    out = [net.features(images[i:i + batch].float().to(dev)).double().cpu().numpy()
           for i in range(0, len(images), batch)]
    return np.concatenate(out)
