"""The image teacher: the PDE teacher's EDM denoiser, loss and training loop, on an image data set.

Only the data and the model file's description differ from :mod:`piddm.teacher`: images in [-1, 1]
(sigma_data = 0.5 as in EDM), an optional class-conditional network (ImageNet-64), and a PNG grid of
Heun samples at each checkpoint. The model file is an ordinary ``teacher.pt`` whose ``problem`` is
the data set's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from pde_bench.conventions import InputError, check_output, provenance

from ..distributed import Context
from ..edm import Denoiser, edm_loss, sample_sigmas
from ..models import ModelInfo, save_model
from ..networks import backbone_config, build_backbone, count_parameters
from ..noise import standard_noise
from ..sampling import generate
from ..teacher import run_training, val_loss_metrics
from ..training import TrainConfig, TrainResult, batch_indices, prepare_run_folder, stored_options, train
from .datasets import ImageSet, image_set, load_images, to_model

__all__ = ["ImageTeacherOptions", "check_image_teacher", "labelled", "run_image_teacher", "save_image_grid",
           "train_image_teacher"]

OPTIONS = "options.json"


@dataclass
class ImageTeacherOptions:
    images: str
    out: str
    data_dir: str | None = None
    download: bool = False
    class_conditional: bool = False
    preset: str = "small"
    device: str = "auto"
    val_samples: int = 512
    grid_steps: int = 18
    net: dict = field(default_factory=dict)  # overrides of the U-Net preset
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def of_run(cls, out: Path | str) -> ImageTeacherOptions:
        return stored_options(cls, out, OPTIONS)


def check_image_teacher(opts: ImageTeacherOptions, *, resume: bool = False, overwrite: bool = False,
                        is_main: bool = True):
    """Output folder, resume state and data of an image-teacher run, before any work. Returns (train, val, spec)."""
    out = Path(opts.out)
    spec = image_set(opts.images)
    if resume:
        if not (out / "checkpoint.pt").exists():
            raise InputError(f"{out}: nothing to resume (no checkpoint.pt)")
    elif is_main:
        check_output(out, overwrite)
    train_set = load_images(spec.name, opts.data_dir, "train", download=opts.download and is_main)
    val_set = load_images(spec.name, opts.data_dir, "val")
    return train_set, val_set, spec


def labelled(denoiser, labels: torch.Tensor | None):
    """``denoiser`` with its class labels bound (``D(x, sigma)`` as the samplers call it)."""
    return denoiser if labels is None else (lambda x, sigma: denoiser(x, sigma, labels))


def save_image_grid(x: torch.Tensor, path: Path, columns: int = 8) -> Path:
    """A PNG grid of images in [-1, 1] (clipped), (B, C, R, R), written atomically."""
    from PIL import Image

    from pde_bench.conventions import atomic_output

    x = ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    b, c, h, w = x.shape
    rows = -(-b // columns)
    grid = torch.zeros((c, rows * (h + 2) + 2, columns * (w + 2) + 2), dtype=torch.uint8)
    for k in range(b):
        r, q = divmod(k, columns)
        grid[:, 2 + r * (h + 2):2 + r * (h + 2) + h, 2 + q * (w + 2):2 + q * (w + 2) + w] = x[k]
    arr = grid.permute(1, 2, 0).numpy()
    img = Image.fromarray(arr[..., 0] if c == 1 else arr)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, overwrite=True) as tmp:
        img.save(tmp, format="png")
    return path


def _info(spec: ImageSet, opts: ImageTeacherOptions, cfg_net: dict, n_train: int, params: int) -> ModelInfo:
    return ModelInfo(kind="teacher", problem=spec.name, params={"classes": spec.classes if opts.class_conditional
                                                                else 0},
                     resolution=spec.resolution, backbone=cfg_net, normaliser={},
                     data={"images": spec.name, "data_dir": str(opts.data_dir or spec.default_dir),
                           "n_train": n_train, "range": [-1, 1]},
                     training={**asdict(opts.train), "parameters": params})


def train_image_teacher(opts: ImageTeacherOptions, ctx: Context, *, resume: bool = False, overwrite: bool = False,
                        on_progress: Callable | None = None) -> TrainResult:
    """Train (or resume) an EDM teacher on an image set into ``opts.out``; rank 0 writes."""
    out = Path(opts.out)
    (images, labels, _), (val_images, val_labels, _), spec = check_image_teacher(
        opts, resume=resume, overwrite=overwrite, is_main=ctx.is_main)
    classes = spec.classes if opts.class_conditional else 0
    cfg_net = {**backbone_config("unet", opts.preset, resolution=spec.resolution, periodic=False, **opts.net),
               "data_channels": spec.channels, **({"num_classes": classes} if classes else {})}
    torch.manual_seed(opts.train.seed)
    denoiser = Denoiser(build_backbone(cfg_net))
    info = _info(spec, opts, cfg_net, len(images), count_parameters(denoiser))
    prepare_run_folder(out, ctx, asdict(opts), count_parameters(denoiser), resume=resume, overwrite=overwrite,
                       name=OPTIONS)
    dev, share = ctx.device, opts.train.batch // max(ctx.world, 1)
    data, targets = torch.from_numpy(images), torch.from_numpy(labels)

    def loss_fn(net, step):
        idx = batch_indices(step, opts.train.batch, len(data), opts.train.seed, ctx.rank, ctx.world)
        x = torch.from_numpy(to_model(data[idx].numpy())).to(dev)
        y = targets[idx].to(dev) if classes else None
        return edm_loss(net, x, sample_sigmas(share, device=dev), torch.randn_like(x), y).mean()

    n_val = min(opts.val_samples, len(val_images))
    val_x = torch.from_numpy(to_model(val_images[:n_val])).to(dev)
    val_y = torch.from_numpy(val_labels[:n_val]).to(dev) if classes else None
    grid_noise = standard_noise(16, (spec.channels, spec.resolution, spec.resolution), seed=12345,
                                stream="grid").to(dev)
    grid_y = torch.arange(16, device=dev) % classes if classes else None

    def evaluate(ema_model, step):
        metrics = val_loss_metrics(ema_model, val_x, val_y)
        x = generate(labelled(ema_model, grid_y), grid_noise, steps=opts.grid_steps).x
        save_image_grid(x, out / "samples" / f"step-{step:07d}.png")
        return metrics

    def export(ema_model, extra):
        info.training = {**info.training, **extra}
        info.provenance = provenance(asdict(opts))
        save_model(out / "teacher.pt", ema_model, info)

    return train(denoiser, loss_fn, opts.train, out, ctx, evaluate=evaluate, export=export,
                 on_progress=on_progress, resume=resume)


def run_image_teacher(opts: ImageTeacherOptions, *, resume: bool = False, overwrite: bool = False,
                      training_bar: Callable | None = None) -> TrainResult | None:
    """Train (or resume) an image teacher as one process or under torchrun (see :func:`piddm.teacher.run_training`)."""
    return run_training(opts, ImageTeacherOptions.of_run, check_image_teacher, train_image_teacher,
                        f"teacher {image_set(opts.images).name}", resume=resume, overwrite=overwrite,
                        training_bar=training_bar)
