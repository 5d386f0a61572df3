"""The per-frame graph's inputs besides the image, in its wire format - built here and nowhere else.

Callers describe WHAT is scored (a :class:`~owss_ros.core.class_set.ClassSet` and a
:class:`~owss_ros.core.open_set.ScoringConfig`); :meth:`GraphInputs.build` turns that into the
float32 arrays the exported graph takes (:data:`owss_ros.backends.pipeline.INPUT_NAMES` after
``image``): the NPM decision slots of :meth:`~owss_ros.core.class_set.ClassSet.decision_slots` as
(K, C) prototypes, (K,) thresholds and (K,) 0/1 validity, and the packed score vector of
:mod:`.score_params`. K is dynamic (the used class slots, then the background prototypes), and 1
unused slot when nothing is taught - the novel branch then costs one channel, not ``max_novel_classes``.
Build once per class-set / scoring change and reuse for every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from owss_ros.backends.score_params import pack_score_params
from owss_ros.core.open_set import ScoringConfig


@dataclass(frozen=True)
class GraphInputs:
    novel_prototypes: np.ndarray  # (K, C) float32
    novel_thresholds: np.ndarray  # (K,) float32, lambda_novel per slot (Eq. 12)
    novel_valid: np.ndarray  # (K,) float32, 1 = slot in use
    score_vector: np.ndarray  # (NUM_PARAMS,) float32, see score_params.PARAM_NAMES

    @classmethod
    def build(cls, class_set, config: ScoringConfig) -> "GraphInputs":
        """The inputs that score with ``config`` and know the taught classes of ``class_set``."""
        protos, thresholds, valid = class_set.decision_slots(config.lambda_novel)
        if len(protos) == 0:  # graphs need K >= 1: one unused slot
            return cls.unused_slots(1, class_set.embedding_dim, config, class_set.num_base)
        return cls(_f32(protos.numpy()), _f32(thresholds.numpy()), _f32(valid.numpy()),
                   _f32(pack_score_params(config, class_set.num_base).numpy()))

    @classmethod
    def unused_slots(cls, slots: int, embedding_dim: int, config: ScoringConfig | None = None,
                     num_classes: int | None = None) -> "GraphInputs":
        """``slots`` unused novel slots (nothing taught), e.g. for fetching an embedding."""
        config = config or ScoringConfig()
        return cls(np.zeros((slots, embedding_dim), np.float32), np.full(slots, config.lambda_novel, np.float32),
                   np.zeros(slots, np.float32),
                   _f32(pack_score_params(config, num_classes or embedding_dim).numpy()))

    @property
    def slots(self) -> int:
        return int(self.novel_prototypes.shape[0])

    def feed(self) -> dict[str, np.ndarray]:
        """Graph input name -> array, for every input but ``image``."""
        return {"novel_prototypes": self.novel_prototypes, "novel_thresholds": self.novel_thresholds,
                "novel_valid": self.novel_valid, "score_params": self.score_vector}


def _f32(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float32)
