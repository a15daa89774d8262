"""Image data sets from the files users hold: MNIST / Fashion-MNIST IDX, CIFAR-10 python batches, ImageNet-64 npz.

Nothing downloads unless asked (``download=True`` hands the fetch to torchvision's dataset classes,
which write the same files). Images come back as uint8 arrays (N, C, R, R) with integer labels;
:func:`to_model` maps them to [-1, 1] (EDM's data range, sigma_data = 0.5). MNIST-family images
are padded from 28² to 32² with background (0), so U-Nets with 2-3 levels fit.

Where the files are looked for (``data_dir``):
- ``fashion-mnist`` / ``mnist``: ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` in ``data_dir`` or
  ``data_dir/<FashionMNIST|MNIST>/raw`` (torchvision's layout). Default for Fashion-MNIST: Debian's
  ``dataset-fashion-mnist`` package, ``/usr/share/datasets/fashion-mnist``.
- ``cifar10``: ``data_batch_1..5`` / ``test_batch`` in ``data_dir`` or ``data_dir/cifar-10-batches-py``,
  read with an unpickler that admits only numpy arrays, lists and plain values.
- ``imagenet64``: ``train_data_batch_1..10.npz`` / ``val_data.npz`` (keys ``data`` (N, 12288) uint8
  channel-first, ``labels`` 1..1000) in ``data_dir`` (or ``Imagenet64_train_npz`` / ``Imagenet64_val_npz``).
"""

from __future__ import annotations

import gzip
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pde_bench.conventions import InputError

__all__ = ["IMAGE_SETS", "VAL_HOLDOUT", "ImageSet", "image_set", "load_images", "read_cifar_batch", "read_idx",
           "to_model"]

# None of these sets has a validation split: the last VAL_HOLDOUT training images are held out as one (choices are
# made on it; the test split is looked at once), and split "train" is the rest.
VAL_HOLDOUT = 5000


@dataclass(frozen=True)
class ImageSet:
    """One image data set: its shape, classes, where its files usually live and how to make them."""

    name: str
    channels: int
    resolution: int  # after padding
    classes: int
    default_dir: str | None
    install: str  # how to get the files (for error messages)


IMAGE_SETS = {
    "fashion-mnist": ImageSet("fashion-mnist", 1, 32, 10, "/usr/share/datasets/fashion-mnist",
                              "apt-get install dataset-fashion-mnist (or --download)"),
    "mnist": ImageSet("mnist", 1, 32, 10, None, "the four MNIST IDX files (or --download)"),
    "cifar10": ImageSet("cifar10", 3, 32, 10, None, "cifar-10-python.tar.gz unpacked (or --download)"),
    "imagenet64": ImageSet("imagenet64", 3, 64, 1000, None,
                           "the downsampled-ImageNet 64x64 npz batches (image-net.org, 'Imagenet64_train_npz')"),
}


def image_set(name: str) -> ImageSet:
    key = name.lower().replace("_", "-")
    key = {"fashionmnist": "fashion-mnist", "cifar-10": "cifar10", "imagenet-64": "imagenet64"}.get(key, key)
    if key not in IMAGE_SETS:
        raise InputError(f"unknown image data set {name!r}; expected one of {', '.join(IMAGE_SETS)}")
    return IMAGE_SETS[key]


def to_model(images: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in [-1, 1]."""
    return images.astype(np.float32) / 127.5 - 1.0


# -- MNIST family (IDX) ---------------------------------------------------------------------------------------

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (plain or gzipped) as a numpy array; a one-line error for anything else."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise InputError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise InputError(f"{path}: IDX header cut short ({len(raw)} bytes for {ndim} dimensions)")
    dims = [int(d) for d in np.frombuffer(raw, ">i4", ndim, offset=4)]
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    count = int(np.prod(dims))
    if len(raw) != 4 + 4 * ndim + count * dtype.itemsize:
        raise InputError(f"{path}: IDX header says shape {tuple(dims)}, but the file holds "
                         f"{len(raw) - 4 - 4 * ndim} bytes of data")
    return np.frombuffer(raw, dtype, count, offset=4 + 4 * ndim).reshape(dims).astype(dtype.newbyteorder("="))


def _find(data_dir: Path, names: list[str], subdirs: list[str], what: str, spec: ImageSet) -> Path:
    tried = []
    for sub in ["", *subdirs]:
        for name in names:
            p = data_dir / sub / name if sub else data_dir / name
            tried.append(p)
            if p.exists():
                return p
    raise InputError(f"{spec.name}: no {what} in {data_dir} (looked for {', '.join(str(t) for t in tried[:2])}, ...); "
                     f"get it with: {spec.install}, and pass its folder as --data-dir")


def _read_mnist(spec: ImageSet, data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    prefix = "train" if split == "train" else "t10k"
    sub = ["FashionMNIST/raw" if spec.name == "fashion-mnist" else "MNIST/raw"]
    files = {}
    for key, kind in (("images", "images-idx3"), ("labels", "labels-idx1")):
        base = f"{prefix}-{kind}-ubyte"
        files[key] = _find(data_dir, [base, base + ".gz"], sub, f"{split} {key} file {base}[.gz]", spec)
    images, labels = read_idx(files["images"]), read_idx(files["labels"])
    if images.ndim != 3 or images.dtype != np.uint8 or labels.shape != images.shape[:1]:
        raise InputError(f"{files['images']}: images of shape {images.shape} ({images.dtype}) with "
                         f"{labels.shape} labels; expected (N, 28, 28) uint8 and N labels")
    pad = (spec.resolution - images.shape[-1]) // 2
    images = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))[:, None]
    return images, labels.astype(np.int64)


# -- CIFAR-10 (python pickles) --------------------------------------------------------------------------------

class _ArraysOnly(pickle.Unpickler):
    """Admits numpy arrays (and the reconstructors they need), refuses any other global."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}  # encode: py3 protocol-2 bytes

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch -> uint8 (N, 3, 32, 32), int64 labels."""
    try:
        d = _ArraysOnly(io.BytesIO(Path(path).read_bytes()), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as err:
        raise InputError(f"{path}: not a CIFAR-10 python batch ({err})") from None
    d = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()} if isinstance(d, dict) else {}
    if "data" not in d or "labels" not in d:
        raise InputError(f"{path}: a CIFAR-10 batch needs keys 'data' and 'labels'")
    data = np.asarray(d["data"])
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise InputError(f"{path}: 'data' has shape {data.shape} ({data.dtype}); expected (N, 3072) uint8")
    return data.reshape(-1, 3, 32, 32), np.asarray(d["labels"], dtype=np.int64)


def _read_cifar(spec: ImageSet, data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    parts = [read_cifar_batch(_find(data_dir, [n], ["cifar-10-batches-py"], f"batch {n}", spec)) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# -- ImageNet-64 (npz batches) --------------------------------------------------------------------------------

def _read_imagenet(spec: ImageSet, data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    if split == "train":
        first = _find(data_dir, ["train_data_batch_1.npz"], ["Imagenet64_train_npz"], "train_data_batch_1.npz", spec)
        files = sorted((p for p in first.parent.glob("train_data_batch_*.npz") if p.stem.rsplit("_", 1)[1].isdigit()),
                       key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    else:
        files = [_find(data_dir, ["val_data.npz"], ["Imagenet64_val_npz"], "val_data.npz", spec)]
    images, labels = [], []
    for f in files:
        with np.load(f, allow_pickle=False) as z:
            if "data" not in z or "labels" not in z:
                raise InputError(f"{f}: an ImageNet-64 batch needs arrays 'data' and 'labels' (has {list(z)})")
            data = z["data"]
            if data.ndim != 2 or data.shape[1] != 3 * 64 * 64 or data.dtype != np.uint8:
                raise InputError(f"{f}: 'data' has shape {data.shape} ({data.dtype}); expected (N, 12288) uint8")
            images.append(data.reshape(-1, 3, 64, 64))
            labels.append(np.asarray(z["labels"], dtype=np.int64) - 1)  # the files count classes from 1
    labels = np.concatenate(labels)
    if labels.min() < 0 or labels.max() >= spec.classes:
        raise InputError(f"{files[0].parent}: labels outside 1..{spec.classes}")
    return np.concatenate(images), labels


_READERS = {"fashion-mnist": _read_mnist, "mnist": _read_mnist, "cifar10": _read_cifar, "imagenet64": _read_imagenet}


def _download(spec: ImageSet, data_dir: Path) -> None:
    """Fetch through torchvision's dataset classes (explicitly asked for only)."""
    import torchvision.datasets as tvd

    cls = {"fashion-mnist": tvd.FashionMNIST, "mnist": tvd.MNIST, "cifar10": tvd.CIFAR10}.get(spec.name)
    if cls is None:
        raise InputError(f"{spec.name} cannot be downloaded automatically; get {spec.install}")
    for train in (True, False):
        cls(str(data_dir), train=train, download=True)


def load_images(name: str, data_dir: str | Path | None = None, split: str = "train", *,
                download: bool = False) -> tuple[np.ndarray, np.ndarray, ImageSet]:
    """(uint8 images (N, C, R, R), int64 labels, the set's spec) of ``split``: train | val (the last
    :data:`VAL_HOLDOUT` training images; with fewer than twice as many, the last fifth) | test."""
    spec = image_set(name)
    if split not in ("train", "val", "test"):
        raise InputError(f"split must be train, val or test, got {split!r}")
    if data_dir is None:
        if spec.default_dir is None:
            raise InputError(f"{spec.name}: no default location; pass --data-dir (files: {spec.install})")
        data_dir = spec.default_dir
    data_dir = Path(data_dir)
    if download:
        _download(spec, data_dir)
    if not data_dir.is_dir():
        raise InputError(f"{spec.name}: data folder {data_dir} does not exist; get the files with: {spec.install}")
    images, labels = _READERS[spec.name](spec, data_dir, "test" if split == "test" else "train")
    if len(images) != len(labels):
        raise InputError(f"{data_dir}: {len(images)} {split} images but {len(labels)} labels")
    if split != "test":
        hold = VAL_HOLDOUT if len(images) >= 2 * VAL_HOLDOUT else len(images) // 5
        keep = slice(len(images) - hold, None) if split == "val" else slice(0, len(images) - hold)
        images, labels = images[keep], labels[keep]
    return images, labels, spec
