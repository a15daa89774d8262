"""A DDPM++-family U-Net backbone ``F(x_in, c_noise, class_labels)`` for EDM denoisers.

Residual blocks (GroupNorm, SiLU, 3x3 convolutions, dropout) conditioned on the noise level
through a Fourier embedding and a per-block scale/shift; BigGAN-style resampling blocks
between levels; optional self-attention at low resolutions; optional class conditioning.
Residual sums are scaled by 1/sqrt(2) and the last convolution starts at zero, so a fresh
network outputs F = 0 (the denoiser starts as c_skip x, a sensible guess at every sigma).
``padding="circular"`` suits periodic problems (Navier-Stokes), ``"zeros"`` the others.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as fn
from torch import nn

__all__ = ["UNet"]


def _groups(channels: int) -> int:
    for g in (32, 16, 8, 4, 2, 1):
        if channels % g == 0 and channels // g >= 4 or g == 1:
            return g
    return 1


class FourierEmbedding(nn.Module):
    """Random Fourier features of the scalar c_noise (fixed frequencies, NCSN++ style)."""

    def __init__(self, channels: int, scale: float = 16.0):
        super().__init__()
        self.register_buffer("freqs", torch.randn(channels // 2) * scale)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        arg = 2 * math.pi * t[:, None].float() * self.freqs[None, :]
        return torch.cat([arg.cos(), arg.sin()], dim=1)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, noise-conditioned scale/shift, optional down/up-sampling."""

    def __init__(self, cin: int, cout: int, emb: int, *, dropout: float, padding: str,
                 resample: str | None = None):
        super().__init__()
        self.resample = resample
        self.norm0 = nn.GroupNorm(_groups(cin), cin)
        self.conv0 = nn.Conv2d(cin, cout, 3, padding=1, padding_mode=padding)
        self.affine = nn.Linear(emb, 2 * cout)
        self.norm1 = nn.GroupNorm(_groups(cout), cout)
        self.drop = nn.Dropout(dropout)
        self.conv1 = nn.Conv2d(cout, cout, 3, padding=1, padding_mode=padding)
        nn.init.zeros_(self.conv1.weight)
        nn.init.zeros_(self.conv1.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if (cin != cout or resample) else None

    def _resample(self, x):
        if self.resample == "down":
            return fn.avg_pool2d(x, 2)
        if self.resample == "up":
            return fn.interpolate(x, scale_factor=2, mode="nearest")
        return x

    def forward(self, x, emb):
        h = self._resample(fn.silu(self.norm0(x)))
        h = self.conv0(h)
        scale, shift = self.affine(emb)[:, :, None, None].chunk(2, dim=1)
        h = fn.silu(torch.addcmul(shift, self.norm1(h), scale + 1))
        h = self.conv1(self.drop(h))
        skip = self._resample(x)
        if self.skip is not None:
            skip = self.skip(skip)
        return (h + skip) / math.sqrt(2)


class Attention(nn.Module):
    """Multi-head self-attention over pixels, residual, scaled by 1/sqrt(2)."""

    def __init__(self, channels: int, head_channels: int = 32):
        super().__init__()
        self.heads = max(1, channels // head_channels)
        self.norm = nn.GroupNorm(_groups(channels), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).unbind(1)
        out = fn.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))
        out = out.transpose(-1, -2).reshape(b, c, h, w)
        return (x + self.proj(out)) / math.sqrt(2)


class UNet(nn.Module):
    """U-Net with ``len(mult)`` levels; level i has ``channels * mult[i]`` channels.

    ``attn_resolutions`` lists the feature-map sizes that get self-attention; the input side
    must be divisible by 2^(levels - 1).
    """

    def __init__(self, in_channels: int = 2, out_channels: int = 2, channels: int = 64,
                 mult: tuple[int, ...] = (1, 2, 2), blocks: int = 2,
                 attn_resolutions: tuple[int, ...] = (), dropout: float = 0.0,
                 resolution: int = 32, num_classes: int = 0, padding: str = "zeros"):
        super().__init__()
        self.levels = len(mult)
        self.num_classes = num_classes
        emb = 4 * channels
        self.embed = FourierEmbedding(channels)
        self.embed_mlp = nn.Sequential(nn.Linear(channels, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.class_embed = nn.Embedding(num_classes, emb) if num_classes else None
        self.head = nn.Conv2d(in_channels, channels, 3, padding=1, padding_mode=padding)
        kw = {"dropout": dropout, "padding": padding}

        self.down = nn.ModuleList()
        skips, c, res = [channels], channels, resolution
        for level, m in enumerate(mult):
            for _ in range(blocks):
                self.down.append(self._stage(ResBlock(c, channels * m, emb, **kw), res, attn_resolutions))
                c = channels * m
                skips.append(c)
            if level < self.levels - 1:
                self.down.append(self._stage(ResBlock(c, c, emb, resample="down", **kw)))
                res //= 2
                skips.append(c)
        self.mid = nn.ModuleList([ResBlock(c, c, emb, **kw), Attention(c), ResBlock(c, c, emb, **kw)])

        self.up = nn.ModuleList()
        for level, m in reversed(list(enumerate(mult))):
            for _ in range(blocks + 1):
                self.up.append(self._stage(ResBlock(c + skips.pop(), channels * m, emb, **kw), res,
                                           attn_resolutions))
                c = channels * m
            if level > 0:
                self.up.append(self._stage(ResBlock(c, c, emb, resample="up", **kw)))
                res *= 2
        self.tail = nn.Sequential(nn.GroupNorm(_groups(c), c), nn.SiLU(),
                                  nn.Conv2d(c, out_channels, 3, padding=1, padding_mode=padding))
        nn.init.zeros_(self.tail[-1].weight)
        nn.init.zeros_(self.tail[-1].bias)

    @staticmethod
    def _stage(block: ResBlock, res: int | None = None, attn: tuple[int, ...] = ()) -> nn.ModuleList:
        parts = [block]
        if res is not None and res in attn:
            parts.append(Attention(block.conv1.out_channels))
        return nn.ModuleList(parts)

    @staticmethod
    def _run(stage, x, emb):
        for part in stage:
            x = part(x, emb) if isinstance(part, ResBlock) else part(x)
        return x

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, class_labels=None) -> torch.Tensor:
        side = x.shape[-1]
        if side % 2 ** (self.levels - 1) or x.shape[-2] % 2 ** (self.levels - 1):
            raise ValueError(f"U-Net with {self.levels} levels needs a side divisible by "
                             f"{2 ** (self.levels - 1)}, got {tuple(x.shape[-2:])}")
        emb = self.embed_mlp(self.embed(c_noise))
        if self.class_embed is not None:
            if class_labels is None:
                raise ValueError("this network is class-conditional: pass class_labels")
            emb = emb + self.class_embed(class_labels)
        emb = fn.silu(emb)
        h = self.head(x)
        hs = [h]
        for stage in self.down:
            h = self._run(stage, h, emb)
            hs.append(h)
        for part in self.mid:
            h = part(h, emb) if isinstance(part, ResBlock) else part(h)
        for stage in self.up:
            if stage[0].resample != "up":
                h = torch.cat([h, hs.pop()], dim=1)
            h = self._run(stage, h, emb)
        return self.tail(h)
