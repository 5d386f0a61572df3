"""Training loop for a DMLNet (DCE + lambda_VL * VL, paper Sec. 4.1) or its cross-entropy twin.

Single process or DDP under ``torchrun``; checkpoints every N iterations and resumes from
the last one; deterministic per seed; progress bar with loss and throughput; curves as PNG.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from owss_ros.core.checkpoint import ModelSpec, build_model, load_model, save_model
from owss_ros.core.atomic_file import atomic_write_bytes, atomic_writer
from owss_ros.core.classes import IGNORE_INDEX
from owss_ros.core.prototypes import upsample
from owss_ros.core.losses import DMLLoss, log_inverse_class_weights, split_outliers, uniform_posterior_loss
from owss_ros.data.class_presence import ClassPresence
from owss_ros.evaluation.val_miou import evaluate_miou
from owss_ros.training.config import TrainConfig, config_to_dict
from owss_ros.training.data import AugmentedDataset, build_segmentation_dataset, dataset_class_names
from owss_ros.training.distributed import DistContext, init_distributed, sum_across_processes
from owss_ros.training.outlier_exposure import OutlierConfig
from owss_ros.training.transforms import EvalTransform, TrainTransform

CHECKPOINT_NAME = "checkpoint_last.pt"


def _outlier_config(aug) -> OutlierConfig | None:
    if aug.outlier_probability <= 0:
        return None
    return OutlierConfig(aug.outlier_probability, aug.outlier_max_objects, *aug.outlier_size,
                         solid_fraction=aug.outlier_solid_fraction)


def poly_lr_factor(iteration: int, total: int, power: float, warmup: int) -> float:
    if warmup > 0 and iteration < warmup:
        return (iteration + 1) / warmup
    return (1.0 - min(iteration, total - 1) / total) ** power


CLASS_WEIGHT_SCAN_IMAGES = 400  # label images scanned for the class frequencies (evenly spaced)


def class_weights_for(dataset, schedule, device: torch.device) -> torch.Tensor | None:
    """The DCE / CE class weights ``schedule.class_weighting`` asks for, on ``device`` (None: every
    pixel alike)."""
    if schedule.class_weighting == "none":
        return None
    if schedule.class_weighting != "log_inverse":
        raise ValueError(f"unknown schedule.class_weighting {schedule.class_weighting!r}: none | log_inverse")
    every = max(1, len(dataset) // CLASS_WEIGHT_SCAN_IMAGES)
    frequencies = ClassPresence.scan(dataset, every=every).pixel_frequencies()
    return log_inverse_class_weights(frequencies, schedule.class_weighting_c).to(device)


class Trainer:
    def __init__(self, config: TrainConfig, ctx: DistContext | None = None):
        self.config = config
        self.ctx = ctx or init_distributed()
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        if self.ctx.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed crop size: autotuned kernels pay off at once
        self.out_dir = Path(config.output_dir)
        train_raw = build_segmentation_dataset(config.data, config.data.train_split)
        self.class_names = dataset_class_names(train_raw)
        aug = config.augment
        self.train_set = AugmentedDataset(
            train_raw, TrainTransform(aug.crop, aug.scale, aug.hflip, aug.color_jitter, aug.hue, aug.gamma,
                                      aug.blur, aug.noise, _outlier_config(aug), aug.class_centred_crop),
            config.seed)
        self.val_set = None
        if config.data.val_split:
            self.val_set = AugmentedDataset(
                build_segmentation_dataset(config.data, config.data.val_split), EvalTransform(), config.seed)
        self.spec = ModelSpec(backbone=config.model.backbone, kind=config.model.kind,
                              class_names=self.class_names, temperature=config.model.temperature)
        self.model = build_model(self.spec, config.model.pretrained_backbone)
        if config.model.init_weights:
            self._load_initial_weights(config.model.init_weights)
        if config.model.frozen:
            self.model.net.freeze(config.model.frozen)
        self.model = self.model.to(self.ctx.device)
        if self.ctx.enabled:
            if self.ctx.device.type == "cuda":
                self.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
            self.model = DistributedDataParallel(
                self.model, device_ids=[self.ctx.local_rank] if self.ctx.device.type == "cuda" else None)
        self.optimizer = self._make_optimizer()
        s = config.schedule
        self.ema = self._make_ema(s.ema_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda it: poly_lr_factor(it, s.iterations, s.poly_power, s.warmup_iterations))
        self.class_weights = class_weights_for(train_raw, s, self.ctx.device)
        self.loss_fn = DMLLoss(s.lambda_vl, lambda_oe=s.lambda_oe, temperature=config.model.temperature,
                               class_weights=self.class_weights) if config.model.kind == "dml" else None
        self.iteration = 0
        self.history: list[dict] = []
        self.best_miou = -1.0
        self._start_wall: float | None = None  # set by fit(); wall_s in the history counts from it

    def _load_initial_weights(self, path: str) -> None:
        """Loads a trained model of the same kind, backbone and classes - or a ``fast_scnn`` one into a
        ``fast_scnn_s4`` net, whose zero-initialised refiner then starts as the stride-8 net's upsampling."""
        initial, initial_spec = load_model(path)
        adds_refiner = (initial_spec.backbone, self.spec.backbone) == ("fast_scnn", "fast_scnn_s4")
        if (initial_spec.kind, initial_spec.class_names) != (self.spec.kind, self.spec.class_names) or (
                initial_spec.backbone != self.spec.backbone and not adds_refiner):
            raise ValueError(f"model.init_weights {path} is a {initial_spec.kind}/{initial_spec.backbone} model "
                             f"of {initial_spec.num_classes} classes; this run trains a {self.spec.kind}/"
                             f"{self.spec.backbone} model of {self.spec.num_classes} classes")
        missing, unexpected = self.model.load_state_dict(initial.state_dict(), strict=not adds_refiner)
        if adds_refiner and (unexpected or not all(".refiner." in key for key in missing)):
            raise ValueError(f"{path}: unexpected keys {unexpected[:3]}, missing {missing[:3]}")

    @property
    def core_model(self):
        return self.model.module if isinstance(self.model, DistributedDataParallel) else self.model

    def _make_ema(self, decay: float) -> AveragedModel | None:
        """Polyak-style weight averaging (torch's AveragedModel, BN buffers averaged too, as
        torchvision's reference recipes do); None when ``decay`` is 0."""
        if decay == 0.0:
            return None
        if not 0.0 < decay < 1.0:
            raise ValueError(f"schedule.ema_decay must be 0 (off) or in (0, 1), got {decay}")
        return AveragedModel(self.core_model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)

    def _make_optimizer(self):
        s = self.config.schedule
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ValueError(f"model.frozen {self.config.model.frozen} leaves nothing to train")
        if s.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay)
        if s.optimizer == "sgd":
            return torch.optim.SGD(params, lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay)
        raise ValueError(f"unknown optimizer {s.optimizer!r}: adamw | sgd")

    def _autocast(self):
        """bf16 autocast for the network; losses and distances stay in fp32 (see ``loss``)."""
        precision = self.config.schedule.precision
        if precision == "fp32":
            return contextlib.nullcontext()
        if precision == "bf16":
            return torch.autocast(self.ctx.device.type, dtype=torch.bfloat16)
        raise ValueError(f"unknown schedule.precision {precision!r}: bf16 | fp32")

    def loss(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        with self._autocast():
            raw = self.model(images)
        stride = self.config.schedule.loss_stride
        if stride > 1:  # the label pixel nearest each centre of the coarser grid
            labels = labels[:, stride // 2::stride, stride // 2::stride]
        out = upsample(raw.float(), labels.shape[-2:])
        if self.loss_fn is not None:
            return self.loss_fn(self.core_model.base_distances(out), labels)
        known, outlier = split_outliers(labels)
        loss = F.cross_entropy(out, known, weight=self.class_weights, ignore_index=IGNORE_INDEX)
        if bool(outlier.any()):
            loss = loss + self.config.schedule.lambda_oe * uniform_posterior_loss(out, outlier)
        return loss

    # -- checkpoints ----------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        if not self.ctx.is_main:
            return
        state = {
            "model": self.core_model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "iteration": self.iteration,
            "best_miou": self.best_miou, "history_json": json.dumps(self.history),
            "torch_rng": torch.get_rng_state(),
            "config_json": json.dumps(config_to_dict(self.config)),
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        with atomic_writer(self.out_dir / CHECKPOINT_NAME) as f:
            torch.save(state, f)

    def resume(self) -> bool:
        path = self.out_dir / CHECKPOINT_NAME
        if not path.is_file():
            return False
        state = torch.load(path, map_location=self.ctx.device, weights_only=True)
        self.core_model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.ema is not None:
            if "ema" not in state:
                raise ValueError(f"{path} has no weight average: it was written with ema_decay 0; resume without it")
            self.ema.load_state_dict(state["ema"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.iteration = int(state["iteration"])
        self.best_miou = float(state["best_miou"])
        self.history = json.loads(state["history_json"])
        torch.set_rng_state(state["torch_rng"].cpu())
        return True

    # -- loop -----------------------------------------------------------------------------
    def _loader(self, epoch: int, skip_batches: int) -> DataLoader:
        """This process's shard of ``epoch``, without the batches a resumed run already saw."""
        self.train_set.set_epoch(epoch)
        sampler = DistributedSampler(self.train_set, num_replicas=self.ctx.world_size, rank=self.ctx.rank,
                                     shuffle=True, seed=self.config.seed, drop_last=True)
        sampler.set_epoch(epoch)
        s = self.config.schedule
        indices = list(sampler)[skip_batches * s.batch_size:]
        # a private generator: making an iterator must not consume the global RNG (dropout),
        # or a resumed run would diverge from an uninterrupted one
        generator = torch.Generator().manual_seed(self.config.seed + epoch)
        return DataLoader(self.train_set, batch_size=s.batch_size, sampler=indices, drop_last=True,
                          num_workers=self.config.data.workers, persistent_workers=False, generator=generator,
                          pin_memory=self.ctx.device.type == "cuda")

    def fit(self, stop_at: int | None = None, stop_after_s: float | None = None) -> dict:
        """Train to ``schedule.iterations`` (or pause at ``stop_at``; resume() continues).

        ``stop_after_s`` pauses once the run's training wall time (counted across resumes) reaches
        it, after a last evaluation, writing ``history.json`` and ``model_last.safetensors``: runs
        compared at equal CPU time end at the same minute, whatever their step cost.
        """
        s = self.config.schedule
        target = s.iterations if stop_at is None else min(stop_at, s.iterations)
        steps_per_epoch = max(1, len(self.train_set) // (s.batch_size * self.ctx.world_size))
        bar = tqdm(total=s.iterations, initial=self.iteration, disable=not self.ctx.is_main,
                   desc="train", unit="it", dynamic_ncols=True)
        self.model.train()
        elapsed = [h["wall_s"] for h in self.history if "wall_s" in h]  # a resumed run keeps counting
        self._start_wall = time.time() - (elapsed[-1] if elapsed else 0.0)
        while self.iteration < target and not self._out_of_time(stop_after_s):
            epoch, done_in_epoch = divmod(self.iteration, steps_per_epoch)
            tick = time.perf_counter()
            for images, labels in self._loader(epoch, done_in_epoch):
                self._step(images.to(self.ctx.device, non_blocking=True), labels.to(self.ctx.device, non_blocking=True),
                           tick, bar)
                tick = time.perf_counter()
                if self.iteration >= target or self._out_of_time(stop_after_s):
                    break
        bar.close()
        if self.iteration < target:
            return self._stop_on_time_budget()
        if target < s.iterations:
            self.save_checkpoint()
            self._write_history()  # tools that read a run (compare_runs, plan_schedule) see a paused one too
            return {"iterations": self.iteration, "paused": True}
        return self.finish()

    def _out_of_time(self, stop_after_s: float | None) -> bool:
        if stop_after_s is None:
            return False
        over = torch.tensor(float(time.time() - self._start_wall >= stop_after_s), device=self.ctx.device)
        return bool(sum_across_processes(over, self.ctx) > 0)  # every rank stops at the same step

    def _stop_on_time_budget(self) -> dict:
        miou = self._save_outputs("model_last.safetensors")
        if not self.ctx.is_main:
            return {}
        return {"iterations": self.iteration, "paused": True, "stopped_on_time": True, "val_miou": miou,
                "wall_s": time.time() - self._start_wall}

    def _save_outputs(self, model_name: str) -> float | None:
        """A last evaluation, the checkpoint, and (main process) the weights as ``model_name`` and
        ``history.json``; returns the evaluation's mIoU."""
        miou = self.evaluate()
        self.save_checkpoint()
        if self.ctx.is_main:
            save_model(self.out_dir / model_name, self.core_model, self.spec)
            if self.ema is not None:
                save_model(self.out_dir / model_name.replace(".safetensors", "_ema.safetensors"), self.ema.module,
                           self.spec)
            self._write_history()
        return miou

    def _write_history(self) -> None:
        if self.ctx.is_main:
            atomic_write_bytes(self.out_dir / "history.json", json.dumps(self.history, indent=1).encode())

    def _step(self, images, labels, tick, bar) -> None:
        s = self.config.schedule
        loss = self.loss(images, labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(self.core_model)
        self.iteration += 1
        loss_value = float(sum_across_processes(loss.detach().clone(), self.ctx)) / self.ctx.world_size
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"loss became {loss_value} at iteration {self.iteration}")
        step_s = max(time.perf_counter() - tick, 1e-9)
        images_per_s = images.shape[0] * self.ctx.world_size / step_s
        bar.update(1)
        if self.iteration % s.log_every == 0 or self.iteration == 1:
            lr = self.optimizer.param_groups[0]["lr"]
            self.history.append({"iteration": self.iteration, "loss": loss_value, "lr": lr,
                                 "images_per_s": images_per_s, "iterations_per_s": 1.0 / step_s,
                                 "wall_s": time.time() - self._start_wall})
            bar.set_postfix(loss=f"{loss_value:.4f}", it_s=f"{1.0 / step_s:.2f}", img_s=f"{images_per_s:.1f}",
                            lr=f"{lr:.2e}")
        if s.eval_every and self.iteration % s.eval_every == 0 and self.iteration < s.iterations:
            self.evaluate()
        if s.checkpoint_every and self.iteration % s.checkpoint_every == 0:
            self.save_checkpoint()

    def evaluate(self) -> float | None:
        if self.val_set is None or not self.ctx.is_main:
            return None
        metrics = evaluate_miou(self.core_model, self.val_set, len(self.class_names), self.ctx.device,
                                self.config.data.max_val_images)
        entry = {"iteration": self.iteration, "val_miou": metrics.miou, "val_pixel_accuracy": metrics.pixel_accuracy}
        if self.ema is not None:
            averaged = evaluate_miou(self.ema.module, self.val_set, len(self.class_names), self.ctx.device,
                                     self.config.data.max_val_images)
            entry["val_miou_ema"] = averaged.miou
            tqdm.write(f"[iter {self.iteration}] weight average: val mIoU {100 * averaged.miou:.1f}")
        if self._start_wall is not None:  # minutes of training so far: curves at equal CPU time
            entry["wall_s"] = time.time() - self._start_wall
        self.history.append(entry)
        tqdm.write(f"[iter {self.iteration}] val mIoU {100 * metrics.miou:.1f}  "
                   f"pixel acc {100 * metrics.pixel_accuracy:.1f}")
        if metrics.miou > self.best_miou:
            self.best_miou = metrics.miou
            save_model(self.out_dir / "model_best.safetensors", self.core_model, self.spec)
        return metrics.miou

    def finish(self) -> dict:
        final_miou = self._save_outputs("model_final.safetensors")
        if not self.ctx.is_main:
            return {}
        summary = {"iterations": self.iteration, "final_val_miou": final_miou, "best_val_miou": self.best_miou,
                   "class_names": self.class_names, "world_size": self.ctx.world_size,
                   "class_weights": None if self.class_weights is None else self.class_weights.tolist()}
        atomic_write_bytes(self.out_dir / "summary.json", json.dumps(summary, indent=1).encode())
        from owss_ros.training.curves import plot_training_curves

        plot_training_curves(self.history, self.out_dir / "training_curves.png")
        return summary
