"""Run by test_trainer.py under torchrun: a few DDP steps, then each rank saves its weights."""

import sys

import torch.distributed as dist
from safetensors.torch import save_file

from owss_ros.training.config import load_train_config
from owss_ros.training.trainer import Trainer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from conftest import tiny_overrides  # noqa: E402

root, out = sys.argv[1], sys.argv[2]
trainer = Trainer(load_train_config(None, tiny_overrides(root, f"{out}/run", 3)))
rank = trainer.ctx.rank
if rank == 0:
    save_file({k: v.clone() for k, v in trainer.core_model.state_dict().items()}, f"{out}/initial.safetensors")
trainer.fit()
# parameters only: BatchNorm running statistics are per process and DDP re-broadcasts rank 0's
# at every forward, so after the last step they legitimately differ
params = {k: v.detach().contiguous() for k, v in trainer.core_model.named_parameters()}
save_file(params, f"{out}/rank{rank}.safetensors")
dist.barrier()
dist.destroy_process_group()
