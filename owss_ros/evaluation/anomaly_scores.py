"""The anomaly-scoring methods compared by ``owss_ros evaluate`` (paper Tables 1 and 3).

Every method maps one network output to a per-pixel anomaly score, higher = more anomalous:

* from the cross-entropy twin's logits (paper Table 1 baselines), via :mod:`owss_ros.core.scoring`:
  ``MSP`` = 1 - max softmax (Hendrycks & Gimpel), ``MaxLogit`` = -max logit (Hendrycks et al.),
  ``Energy`` = -logsumexp(logits) (Liu et al. 2020, temperature 1);
* from the DMLNet's squared distances d_t to the base prototypes (paper Sec. 4.2):
  ``DML-MMSP`` = Eq. 6, ``DML-EDS`` = Eq. 7-8 with the configured normalisation (see
  :class:`owss_ros.core.scoring.EDSNormalization`), ``DML-EDS+MMSP`` = the mixture Eq. 9-10.

The three DML scores are the core's :func:`owss_ros.core.open_set.scores_of` (P_MMSP and P_EDS
once, the mixture from them): the definition the node's exported graph runs too.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from owss_ros.core.open_set import ScoringConfig, scores_of
from owss_ros.core.scoring import ScoreMode, energy_anomaly, max_logit_anomaly, msp_anomaly

CE_NETWORK = "ce"
DML_NETWORK = "dml"


@dataclass(frozen=True)
class AnomalyMethod:
    """One row of the anomaly table: a score computed from one network's output."""

    key: str  # stable identifier used in the JSON report
    label: str  # the row name printed in the tables and the plots
    network: str  # CE_NETWORK (logits) or DML_NETWORK (distances)
    definition: str  # the formula, for the report


BASELINE_METHODS: tuple[AnomalyMethod, ...] = (
    AnomalyMethod("msp", "MSP", CE_NETWORK, "1 - max_t softmax_t(logits)"),
    AnomalyMethod("max_logit", "MaxLogit", CE_NETWORK, "-max_t logit_t"),
    AnomalyMethod("energy", "Energy", CE_NETWORK, "-logsumexp_t(logit_t)"),
)
DML_METHODS: tuple[AnomalyMethod, ...] = (
    AnomalyMethod("dml_mmsp", "DML-MMSP", DML_NETWORK, "Eq. 6: 1 - max_t softmax_t(-d_t)"),
    AnomalyMethod("dml_eds", "DML-EDS", DML_NETWORK, "Eq. 7-8: P_EDS from S = sum_t d_t"),
    AnomalyMethod("dml_eds_mmsp", "DML-EDS+MMSP", DML_NETWORK, "Eq. 9-10: alpha P_EDS + (1 - alpha) P_MMSP"),
)
ALL_METHODS: tuple[AnomalyMethod, ...] = BASELINE_METHODS + DML_METHODS
DML_SCORE_MODES = {"dml_mmsp": ScoreMode.MMSP, "dml_eds": ScoreMode.EDS, "dml_eds_mmsp": ScoreMode.EDS_MMSP}


def methods_for_networks(networks) -> tuple[AnomalyMethod, ...]:
    """The methods whose network (``"ce"`` / ``"dml"``) is in ``networks``, in table order."""
    return tuple(method for method in ALL_METHODS if method.network in networks)


def baseline_anomaly_scores(logits: Tensor) -> dict[str, Tensor]:
    """MSP, MaxLogit and Energy maps (B, H, W) from (B, N, H, W) logits of the twin."""
    return {"msp": msp_anomaly(logits), "max_logit": max_logit_anomaly(logits), "energy": energy_anomaly(logits)}


def dml_anomaly_scores(distances: Tensor, config: ScoringConfig) -> dict[str, Tensor]:
    """DML-MMSP (Eq. 6), DML-EDS (Eq. 8, ``config.eds_normalization``) and DML-EDS+MMSP
    (Eq. 9-10, ``config.beta`` / ``config.gamma``) from one (B, N, H, W) distance tensor."""
    scores = scores_of(distances, config)
    return {key: scores[mode] for key, mode in DML_SCORE_MODES.items()}
