"""FID features: torch-fidelity's Inception-v3, read from a weights file the user gives.

FID as published (EDM's and PID's CIFAR-10 numbers included) is the Fréchet distance on the
2048-dimensional pool features of the TensorFlow Inception graph of 2015-12-05. torch-fidelity
ports that graph bit-exactly (its ``inception-v3-compat`` extractor: TF-style bilinear resize to
299², uint8 input). Nothing downloads here: FID needs its weights file
(``weights-inception-2015-12-05-6726825d.pth``, the address is :data:`WEIGHTS_URL`), fetched once by
the user, and ``--inception PATH``. Images in [-1, 1] are quantised to uint8 as an image file would
be (FID is defined on 8-bit images), and one-channel images are repeated to RGB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pde_bench.conventions import InputError

__all__ = ["FEATURES", "WEIGHTS_URL", "inception_features", "load_inception", "read_inception_state",
           "to_uint8_rgb"]

FEATURES = 2048
WEIGHTS_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
               "weights-inception-2015-12-05-6726825d.pth")


def read_inception_state(path: str | Path) -> dict:
    """The state dict in ``path``, read tensors-only (a file holding pickled code is refused), checked for
    the Inception-v3 keys; one-line errors naming the file and where the real one comes from."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no Inception weights file here; FID needs torch-fidelity's "
                         f"{WEIGHTS_URL.rsplit('/', 1)[1]} (from {WEIGHTS_URL}), given with --inception")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001
        raise InputError(f"{path}: not a readable Inception weights file ({type(err).__name__}); a state dict of "
                         "tensors is expected") from None
    if not isinstance(state, dict) or "fc.weight" not in state or "Mixed_7c.branch_pool.conv.weight" not in state:
        raise InputError(f"{path}: not torch-fidelity's Inception-v3 state dict (no fc.weight / Mixed_7c keys)")
    return state


def load_inception(path: str | Path, device: torch.device | str = "cpu") -> torch.nn.Module:
    """torch-fidelity's FID Inception (eval mode, on ``device``) with the weights in ``path``.

    The user's file is read once, tensors-only (:func:`read_inception_state`); torch-fidelity, which
    reads a path with full unpickling, is given a copy of those tensors that this process wrote to a
    private temporary folder, never the user's file."""
    import tempfile

    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    state = read_inception_state(path)
    with tempfile.TemporaryDirectory(prefix="piddm-inception-") as tmp:
        copy = Path(tmp) / "weights.pth"
        torch.save(state, copy)
        del state
        try:
            net = FeatureExtractorInceptionV3("inception-v3-compat", [str(FEATURES)],
                                              feature_extractor_weights_path=str(copy))
        except RuntimeError as err:
            raise InputError(f"{path}: does not fit torch-fidelity's Inception-v3 "
                             f"({str(err).splitlines()[0]})") from None
    return net.to(device)


def to_uint8_rgb(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """(N, 3, H, W) uint8 from float images in [-1, 1] or uint8 images (N, C, H, W), C = 1 or 3."""
    x = torch.as_tensor(images)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, 1 or 3, H, W), got shape {tuple(x.shape)}")
    if x.dtype != torch.uint8:
        x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


@torch.no_grad()
def inception_features(net: torch.nn.Module, images: torch.Tensor | np.ndarray, batch: int = 100) -> np.ndarray:
    """(N, 2048) float64 pool features of images (float in [-1, 1] or uint8), the ones FID is computed on."""
    dev = next(net.parameters()).device
    out = []
    for i in range(0, len(images), batch):
        (f,) = net(to_uint8_rgb(images[i:i + batch]).to(dev))
        out.append(f.double().cpu().numpy())
    return np.concatenate(out)
