"""Backbones by name and preset: ``build_backbone(config)`` from a plain, JSON-able config.

A config is ``{"backbone": "unet" | "fno", "preset": name, **overrides}``; checkpoints store
it, so a network is rebuilt exactly from its file. Presets (parameter counts for 2 channels):

- ``unet/tiny``   for tests (50 k parameters);
- ``unet/small``  the CPU preset of the reference teachers (0.2 M): the winner of equal-CPU-time
  runs against 1.4-5.5 M networks (benchmarks/results/unet_preset_choice*.md);
- ``unet/medium`` 3 levels, 64 channels (5.5-7.7 M), for longer CPU runs or small GPUs;
- ``unet/ddpmpp`` DiffusionPDE's size (EDM's DDPM++, ~55 M), for GPU users;
- ``fno/tiny``, ``fno/small``: neuraloperator's FNO with sigma channels (any resolution).
"""

from __future__ import annotations

from torch import nn

from pde_bench.conventions import InputError

__all__ = ["PRESETS", "backbone_config", "build_backbone", "count_parameters"]

PRESETS: dict[str, dict[str, dict]] = {
    "unet": {
        "tiny": {"channels": 8, "mult": (1, 2), "blocks": 1, "attn_resolutions": ()},
        "small": {"channels": 16, "mult": (1, 2), "blocks": 1, "attn_resolutions": ()},
        "medium": {"channels": 64, "mult": (1, 2, 2), "blocks": 2, "attn_resolutions": (8,)},
        "ddpmpp": {"channels": 128, "mult": (2, 2, 2), "blocks": 4, "attn_resolutions": (16,),
                   "dropout": 0.13},
    },
    "fno": {
        "tiny": {"modes": 6, "width": 12, "layers": 2},
        "small": {"modes": 12, "width": 48, "layers": 4},
    },
}


def backbone_config(backbone: str = "unet", preset: str = "small", *, resolution: int, periodic: bool,
                    **overrides) -> dict:
    """The full config of a named preset for data of ``resolution`` (periodic or not)."""
    if backbone not in PRESETS:
        raise InputError(f"unknown backbone {backbone!r}; expected one of {', '.join(PRESETS)}")
    if preset not in PRESETS[backbone]:
        raise InputError(f"unknown {backbone} preset {preset!r}; expected one of "
                         f"{', '.join(PRESETS[backbone])}")
    cfg = {"backbone": backbone, "preset": preset, **PRESETS[backbone][preset], **overrides}
    if backbone == "unet":
        cfg.update(resolution=resolution, padding="circular" if periodic else "zeros")
        levels = len(cfg["mult"])
        if resolution % 2 ** (levels - 1):
            raise InputError(f"unet/{preset} has {levels} levels: the resolution must be divisible by "
                             f"{2 ** (levels - 1)}, got {resolution}")
    else:
        cfg.setdefault("domain_padding", None if periodic else 0.25)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}


def build_backbone(config: dict, channels: int = 2) -> nn.Module:
    """A fresh network from a config made by :func:`backbone_config` (``data_channels`` in it, as image
    models store, overrides ``channels``)."""
    channels = int(config.get("data_channels", channels))
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()
          if k not in ("backbone", "preset", "resolution_trained", "data_channels")}
    if config["backbone"] == "unet":
        from .unet import UNet

        return UNet(in_channels=channels, out_channels=channels, **kw)
    if config["backbone"] == "fno":
        from .fno import SigmaFNO

        return SigmaFNO(in_channels=channels, out_channels=channels, **kw)
    raise InputError(f"unknown backbone {config['backbone']!r}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
