"""Training configuration: nested dataclasses read from YAML, with ``key.sub=value`` overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class DataConfig:
    format: str = "cityscapes"  # cityscapes (also the synthetic layout) | bdd100k | streethazards
    root: str = "data/synthetic"
    train_split: str = "train"
    val_split: str = "val"
    exclude_classes: list[str] = field(default_factory=list)  # e.g. [car, truck, bus] for 16+3
    workers: int = 2
    max_val_images: int = 0  # 0 = all


@dataclass
class ModelConfig:
    backbone: str = "fast_scnn"
    kind: str = "dml"  # dml (DCE + VL) | ce (cross-entropy twin for MSP / MaxLogit / Energy)
    temperature: float = 3.0
    pretrained_backbone: str | None = None  # a local ImageNet ResNet checkpoint, if you have one
    init_weights: str | None = None  # start from a trained model (.safetensors), e.g. to train longer
    frozen: list[str] = field(default_factory=list)  # [encoder, head]: train only a fast_scnn_s4 refiner


@dataclass
class AugmentConfig:
    crop: list[int] = field(default_factory=lambda: [256, 512])  # H, W
    scale: list[float] = field(default_factory=lambda: [0.75, 1.5])
    hflip: bool = True
    color_jitter: float = 0.2  # brightness / contrast / saturation amplitude
    hue: float = 0.0  # max rotation of the colour wheel, in turns (0.5 = any hue)
    gamma: float = 0.0  # log-uniform gamma in [exp(-g), exp(g)]
    blur: float = 0.0  # probability of a Gaussian blur (sigma 0.3-1.5 px)
    noise: float = 0.0  # max std of additive Gaussian pixel noise, in grey levels
    class_centred_crop: float = 0.0  # probability that a crop holds a pixel of a class drawn uniformly from the image's
    # outlier exposure (beyond the paper): procedural objects pasted into crops, see training/outlier_exposure.py
    outlier_probability: float = 0.0  # 0 = the paper's setting (no extra data)
    outlier_max_objects: int = 2
    outlier_size: list[float] = field(default_factory=lambda: [0.06, 0.4])  # fraction of the crop height
    outlier_solid_fraction: float = 0.0  # share of them drawn as prisms on the ground (sides, shadow)


@dataclass
class ScheduleConfig:
    iterations: int = 2000
    batch_size: int = 8  # per process
    optimizer: str = "adamw"  # adamw | sgd
    lr: float = 2e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    poly_power: float = 0.9
    warmup_iterations: int = 50
    lambda_vl: float = 0.01
    lambda_oe: float = 0.1  # weight of the outlier-exposure term (used only when outliers are pasted)
    eval_every: int = 500
    checkpoint_every: int = 500
    log_every: int = 10
    loss_stride: int = 1  # loss on every k-th label pixel (embeddings upsampled to that grid); 2 halves step time
    precision: str = "bf16"  # bf16 (CPU autocast; same convergence, ~1.5x faster here) | fp32
    # beyond the paper: DCE / CE weighted per class by its training-pixel frequency p, 1 / ln(c + p)
    class_weighting: str = "none"  # none (the paper) | log_inverse
    class_weighting_c: float = 1.02
    # an exponential moving average of the weights (and BN statistics), evaluated beside the raw
    # weights and saved as model_*_ema.safetensors; 0 = off. 0.999 averages over ~1000 steps.
    ema_decay: float = 0.0


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    output_dir: str = "runs/train"
    seed: int = 0
    threads: int = 1  # torch intra-op threads per process; 0 = torch default (1 is fastest on a shared 2-core CPU)


def _build(cls, values: dict[str, Any], where: str):
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown} in {where or 'top level'}; known: {sorted(known)}")
    kwargs = {}
    for name, value in values.items():
        target = _NESTED.get((cls, name))
        kwargs[name] = _build(target, value or {}, f"{where}{name}.") if target else value
    return cls(**kwargs)


_NESTED = {(TrainConfig, "data"): DataConfig, (TrainConfig, "model"): ModelConfig,
           (TrainConfig, "augment"): AugmentConfig, (TrainConfig, "schedule"): ScheduleConfig}


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """``["schedule.lr=0.01", "data.exclude_classes=[car,bus]"]`` -> nested dict updates (YAML values)."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not key=value")
        node = values
        *parents, leaf = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(raw)
    return values


def load_train_config(path: str | Path | None, overrides: list[str] = ()) -> TrainConfig:
    values = {}
    if path is not None:
        values = yaml.safe_load(Path(path).read_text()) or {}
    return _build(TrainConfig, apply_overrides(values, list(overrides)), "")


def config_to_dict(config: TrainConfig) -> dict:
    return dataclasses.asdict(config)
