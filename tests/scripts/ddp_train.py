"""Run under torchrun by tests/test_ddp.py: train a tiny teacher, save this rank's weights."""

import sys
from pathlib import Path

import torch

from pde_bench.torch_data import FieldDataset
from piddm.distributed import setup
from piddm.edm import fixed_sigma_loss
from piddm.teacher import TeacherOptions, train_teacher
from piddm.training import TrainConfig

data, out, steps = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
ctx = setup("cpu")
opts = TeacherOptions(pde="darcy", data=data, out=str(out / "run"), preset="tiny", device="cpu", grid_steps=2,
                      train=TrainConfig(steps=steps, batch=16, lr=2e-3, warmup=2, checkpoint_every=steps))
fixed = FieldDataset(data, "train").batch(torch.arange(16))
result = train_teacher(opts, ctx)
torch.save({"model": result.model.state_dict(), "loss_after": fixed_sigma_loss(result.model, fixed, (0.5, 2.0))},
           out / f"rank{ctx.rank}.pt")
ctx.close()
