"""The incremental few-shot methods of paper Table 4, taught one novel class at a time.

For a base DMLNet with N classes and novel classes added in order (car, then truck, then bus):

* ``NPM`` (Sec. 4.3, no training): Eq. 11 prototype from the shots' embeddings; Eq. 12 decision
  with a lambda_novel per class (given, or from :mod:`.novel_threshold`'s rule on the shots); with
  ``background_prototypes`` > 0 (beyond the paper, as the node teaches) each class also keeps the
  background prototypes of :func:`owss_ros.core.npm.background_prototypes`, and the decision reads
  the slots of :meth:`owss_ros.core.class_set.ClassSet.decision_slots`, the node's own layout;
* ``PLM-all`` (Algorithm 1 inference with every branch head) and ``PLM-latest`` (only the newest
  branch head, N + k outputs, argmin): branch heads trained with
  :func:`owss_ros.core.plm.train_branch_head` on the frozen encoder, heads built like the model's
  own head (:meth:`SegmentationNet.new_head`);
* ``FT``: :mod:`.fine_tune_baseline`.

Predictions use ids 0..N-1 for the base classes and N + j for the j-th novel class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import Tensor

from owss_ros.core.dmlnet import DMLNet, close_set_prediction
from owss_ros.core.class_set import ClassSet
from owss_ros.core.npm import background_prototypes, novel_class_index, novel_prototype
from owss_ros.core.open_set import ScoringConfig, combine_open_set, unknown_cells
from owss_ros.core.plm import PLMSegmenter, train_branch_head
from owss_ros.core.prototypes import one_hot_squared_distances, squared_distances, upsample
from owss_ros.core.scoring import close_set_labels
from owss_ros.evaluation.fine_tune_baseline import fine_tune_new_class
from owss_ros.core.novel_guard import KnownPixelSample
from owss_ros.evaluation.novel_threshold import DEFAULT_NOVEL_QUANTILE, shot_distance_quantile
from owss_ros.evaluation.shot_sampler import ShotSet

FEW_SHOT_METHODS = ("FT", "PLM-latest", "PLM-all", "NPM")
MAX_TAUGHT_CLASSES = 16


@dataclass
class TeachingOptions:
    plm_steps: int = 100
    plm_lr: float = 5e-3
    ft_steps: int = 20
    ft_lr: float = 1e-3
    lambda_vl: float = 0.01
    lambda_novel: float | None = None  # None: the shot rule of .novel_threshold per class
    novel_quantile: float = DEFAULT_NOVEL_QUANTILE
    known_pixels: KnownPixelSample | None = None  # NPM guard: cap lambda_novel (owss_ros.core.novel_guard)
    methods: Sequence[str] = FEW_SHOT_METHODS
    seed: int = 0  # seeds the fresh PLM heads / FT output channels
    background_prototypes: int = 0  # per NPM class, beyond the paper; 0 = the paper's NPM
    scoring: ScoringConfig | None = None  # the base model's calibrated scoring: its unknown cells (Eq. 1)

    def __post_init__(self) -> None:
        if self.background_prototypes and (self.scoring is None or self.scoring.lambda_out is None):
            raise ValueError("background prototypes need the base model's calibrated scoring (lambda_out)")


@dataclass
class TaughtModels:
    """Everything learned from one draw of shots, able to predict after any number of classes."""

    base: DMLNet
    methods: Sequence[str]
    prototypes: list[Tensor] = field(default_factory=list)  # NPM, (N,) each
    thresholds: list[float] = field(default_factory=list)  # NPM lambda_novel per class
    class_sets: list[ClassSet] = field(default_factory=list)  # NPM: the class set after k classes, k = 1, 2, ...
    segmenter: PLMSegmenter | None = None
    fine_tuned: dict[int, DMLNet] = field(default_factory=dict)  # FT model after k classes

    @property
    def num_base(self) -> int:
        return self.base.num_classes

    @property
    def temperature(self) -> float:
        return self.base.temperature


def teach_classes(base: DMLNet, shot_sets: Sequence[ShotSet], options: TeachingOptions,
                  keep_ft_after: Sequence[int] = ()) -> TaughtModels:
    """Teach the classes of ``shot_sets`` in order with every method of ``options.methods``.

    ``keep_ft_after``: numbers of taught classes after which the FT model is kept for evaluation.
    """
    base.eval()
    taught = TaughtModels(base, tuple(options.methods))
    if "PLM-all" in taught.methods or "PLM-latest" in taught.methods:
        taught.segmenter = PLMSegmenter(base.encoder, base.head, base.num_classes, base.temperature, base.refiner)
    fine_tuned = base
    for index, shots in enumerate(shot_sets):
        if "NPM" in taught.methods:
            with torch.no_grad():
                embeddings = base(shots.images)
            prototype, _ = novel_prototype(embeddings, shots.masks)
            taught.prototypes.append(prototype)
            threshold = (options.lambda_novel if options.lambda_novel is not None
                         else shot_distance_quantile(embeddings, shots.masks, options.novel_quantile))
            if options.known_pixels is not None:
                threshold, _ = options.known_pixels.bounded_lambda(threshold, prototype)
            taught.thresholds.append(threshold)
            taught.class_sets.append(_with_npm_class(taught, shots, prototype, threshold, embeddings, options))
        if taught.segmenter is not None:
            torch.manual_seed(options.seed * 1000 + index)
            train_branch_head(taught.segmenter, shots.images, shots.masks, base.net.new_head,
                              steps=options.plm_steps, lr=options.plm_lr, lambda_vl=options.lambda_vl)
        if "FT" in taught.methods:
            torch.manual_seed(options.seed * 1000 + 500 + index)
            fine_tuned = fine_tune_new_class(fine_tuned, shots.images, shots.masks, options.ft_steps,
                                             options.ft_lr, options.lambda_vl)
            if index + 1 in keep_ft_after:
                taught.fine_tuned[index + 1] = fine_tuned
    return taught


def _with_npm_class(taught: TaughtModels, shots: ShotSet, prototype: Tensor, threshold: float,
                    embeddings: Tensor, options: TeachingOptions) -> ClassSet:
    """The class set after one more NPM class (with its background prototypes, if asked for)."""
    if taught.class_sets:
        class_set = taught.class_sets[-1]
    else:
        class_set = ClassSet.from_base([f"base {i}" for i in range(taught.num_base)], capacity=MAX_TAUGHT_CLASSES)
    background = ()
    if options.background_prototypes:
        unknown = unknown_cells(embeddings, options.scoring)
        background = background_prototypes(embeddings, shots.masks, unknown, options.background_prototypes)
    return class_set.with_novel(shots.class_name, prototype.to(torch.float32), lambda_novel=float(threshold),
                                background=background.to(torch.float32) if len(background) else ())[0]


@torch.no_grad()
def predict_all(taught: TaughtModels, image: Tensor, stages: Sequence[int]) -> dict[tuple[str, int], Tensor]:
    """{(method, k): (H, W) ids} after k taught classes, for every method and k in ``stages``.

    The encoder runs once; NPM and both PLM variants share its features and the base embedding.
    """
    size = tuple(image.shape[-2:])
    features = taught.base.encoder(image)
    base_embedding = upsample(taught.base.net.refine(taught.base.head(features), image), size)
    base_distances = one_hot_squared_distances(base_embedding, taught.temperature)
    base_labels = close_set_labels(base_distances)
    predictions: dict[tuple[str, int], Tensor] = {}
    for k in stages:
        if "NPM" in taught.methods:
            prototypes, thresholds, valid = taught.class_sets[k - 1].decision_slots(taught.thresholds[0])
            novel = novel_class_index(squared_distances(base_embedding, prototypes), base_distances,
                                      thresholds.to(base_embedding.dtype), valid)
            # the core's precedence without the unknown step (Table 4 scores close-set + taught classes)
            predictions[("NPM", k)] = combine_open_set(base_labels, None, None, novel, taught.num_base)[0]
        if "PLM-all" in taught.methods:
            predictions[("PLM-all", k)] = taught.segmenter.labels_from_features(features, size, num_heads=k,
                                                                                 image=image)[0]
        if "PLM-latest" in taught.methods:
            latest = upsample(taught.segmenter.branch_heads[k - 1](features), size)
            predictions[("PLM-latest", k)] = close_set_labels(one_hot_squared_distances(latest, taught.temperature))[0]
        if "FT" in taught.methods:
            predictions[("FT", k)] = close_set_prediction(taught.fine_tuned[k], image)[0]
    return predictions
