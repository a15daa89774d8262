"""neuraloperator's FNO as a sigma-conditioned EDM backbone ``F(x_in, c_noise, class_labels)``.

The noise level enters as extra constant input channels (sin/cos of c_noise at fixed
frequencies), so the operator stays discretisation-agnostic: a model trained at 32^2 can be
called at 64^2. For problems that are not periodic, the domain is padded before the Fourier
layers (``domain_padding``), the usual remedy for the FFT's wrap-around.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SigmaFNO"]


class SigmaFNO(nn.Module):
    def __init__(self, in_channels: int = 2, out_channels: int = 2, modes: int = 12, width: int = 32,
                 layers: int = 4, sigma_channels: int = 8, domain_padding: float | None = None,
                 num_classes: int = 0):
        super().__init__()
        if num_classes:
            raise ValueError("the FNO backbone has no class conditioning; use the U-Net")
        from neuralop.models import FNO  # heavy import, only when an FNO is built

        self.num_classes = 0
        # c_noise = ln(sigma)/4 spans about [-1.6, 1.1]: frequencies 0.5..2^(k-1) rad keep the
        # lowest feature monotone over that range and the highest ones sharp
        self.register_buffer("freqs", 0.5 * 2.0 ** torch.arange(sigma_channels // 2, dtype=torch.float32))
        self.fno = FNO(n_modes=(modes, modes), in_channels=in_channels + 2 * (sigma_channels // 2),
                       out_channels=out_channels, hidden_channels=width, n_layers=layers,
                       domain_padding=domain_padding)
        # start at F = 0, like the U-Net: the denoiser begins as c_skip x
        last = [m for m in self.fno.projection.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))][-1]
        nn.init.zeros_(last.weight)
        if last.bias is not None:
            nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, class_labels=None) -> torch.Tensor:
        arg = c_noise[:, None].float() * self.freqs[None, :]
        emb = torch.cat([arg.sin(), arg.cos()], dim=1)[:, :, None, None]
        emb = emb.expand(-1, -1, *x.shape[-2:]).to(x.dtype)
        return self.fno(torch.cat([x, emb], dim=1))
