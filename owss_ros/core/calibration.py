"""A model's calibration file (``models/<name>/calibration.yaml``): the one reader and writer.

A threshold is a property of the score it thresholds. ``lambda_out`` (Eq. 1) is calibrated on
the anomaly probability of one scoring definition - (score_mode, eds_normalization, eds_range,
beta, gamma, temperature) of one model - and means nothing for another one. This module writes
and reads every one of those keys, with the model fingerprint and a format version, and says
whether a calibration may be applied to a given scoring (:meth:`Calibration.check_applies_to`).
``owss_ros calibrate`` writes through it; ``evaluate``, ``few-shot`` and the perception node read
through it.

The rule (the node's, documented in the README and config/perception.yaml): a calibration that
holds a ``lambda_out`` fixes the scoring. Its scoring keys are the defaults of the node's scoring
parameters; a parameter file or a ``ros2 param set`` asking for a different one is refused with an
error naming both (at start-up the node does not start). ``lambda_out`` / ``lambda_novel`` alone
may be overridden. A calibration for other weights (fingerprint) or another temperature is refused.

File format (YAML mapping), ``format_version`` :data:`FORMAT_VERSION`:

* ``format_version`` - int; files without it are format 1 (written before this module existed:
  the same keys at the top level, documentation keys beside them);
* ``model_fingerprint`` - sha256 of the weights file the calibration was made on;
* scoring: ``score_mode``, ``eds_normalization``, ``eds_range`` ([low, high]), ``beta``,
  ``gamma``, ``temperature`` - all six or none;
* thresholds: ``lambda_out`` (needs the scoring keys), ``lambda_novel`` (squared distance);
* ``provenance`` - a free mapping documenting how the values were made (targets, achieved rates,
  rules, data); kept and written back, never interpreted;
* extension entries registered in :data:`EXTENSIONS` (see "Adding a key" below).

Unknown keys are an error, not ignored: a key this reader does not know was written by a newer
``owss_ros`` (the message says so) or is a typo, and a silently ignored threshold is the bug this
module exists to prevent. A file of a newer format version is refused the same way.

Adding a key (e.g. issue 9's NPM novel guard): add a :class:`CalibrationEntry` to
:data:`EXTENSIONS` with ``since_version`` = the new :data:`FORMAT_VERSION` (bump it by one), a
``parse(value, source) -> object`` that raises :class:`CalibrationError` on bad values and a
``dump(object) -> YAML value``. It is then read into ``Calibration.extensions[name]`` and written
back by :func:`calibration_to_document`; files of older versions may not carry it.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from owss_ros.core.atomic_file import atomic_write_bytes
from owss_ros.core.scoring import EDSNormalization, ScoreMode

FORMAT_VERSION = 2
LEGACY_VERSION = 1  # files without format_version
SCORING_KEYS = ("score_mode", "eds_normalization", "eds_range", "beta", "gamma", "temperature")
THRESHOLD_KEYS = ("lambda_out", "lambda_novel")
CORE_KEYS = ("format_version", "model_fingerprint", *SCORING_KEYS, *THRESHOLD_KEYS, "provenance")
# Format 1 files carried their documentation at the top level: these keys become provenance.
LEGACY_PROVENANCE_KEYS = (
    "target_tpr", "target_fpr", "achieved_tpr", "achieved_fpr", "calibration_anomaly_pixels",
    "calibration_inlier_pixels", "calibration_auroc", "calibration_fpr95", "eds_range_source",
    "lambda_out_rule", "lambda_novel_units", "lambda_novel_rule", "lambda_novel_source",
    "lambda_novel_per_draw", "model", "calibration_data", "notes",
)


class CalibrationError(ValueError):
    """The calibration file cannot be used (unreadable, malformed, or for something else)."""


class CalibrationMismatch(CalibrationError):
    """A calibration is applied to a scoring or a model it was not made for."""


@dataclass(frozen=True)
class CalibrationEntry:
    """An optional, versioned calibration key beyond the core ones."""

    name: str
    since_version: int
    parse: Callable[[Any, str], Any]
    dump: Callable[[Any], Any]


# name -> entry. Empty at format 2; issue 9 adds its novel guard here.
EXTENSIONS: dict[str, CalibrationEntry] = {}


@dataclass(frozen=True)
class ScoringDefinition:
    """Everything the anomaly probability P (Eq. 6-10) depends on besides the model's weights."""

    score_mode: ScoreMode
    eds_normalization: EDSNormalization
    eds_range: tuple[float, float]
    beta: float
    gamma: float
    temperature: float

    @classmethod
    def of(cls, config, num_classes: int) -> "ScoringDefinition":
        """The definition of a :class:`owss_ros.core.open_set.ScoringConfig` (eds_range resolved)."""
        low, high = config.resolved_eds_range(num_classes)
        return cls(ScoreMode(config.score_mode), EDSNormalization(config.eds_normalization),
                   (float(low), float(high)), float(config.beta), float(config.gamma), float(config.temperature))

    def differences(self, other: "ScoringDefinition") -> list[str]:
        """``"key: mine vs theirs"`` for every key that changes P (keys P does not use are skipped)."""
        keys = ["temperature", "score_mode"]
        if ScoreMode.MMSP not in (self.score_mode, other.score_mode):
            keys.append("eds_normalization")
            if EDSNormalization.FIXED in (self.eds_normalization, other.eds_normalization):
                keys.append("eds_range")
        if ScoreMode.EDS_MMSP in (self.score_mode, other.score_mode):
            keys += ["beta", "gamma"]
        out = []
        for key in keys:
            mine, theirs = _plain(getattr(self, key)), _plain(getattr(other, key))
            if not _same(mine, theirs):
                out.append(f"{key}: {mine} vs {theirs}")
        return out

    def as_dict(self) -> dict:
        return {key: _plain(getattr(self, key)) for key in SCORING_KEYS}


def _plain(value):
    if isinstance(value, (ScoreMode, EDSNormalization)):
        return value.value
    if isinstance(value, tuple):
        return [float(v) for v in value]
    return value


def _same(a, b) -> bool:
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


@dataclass(frozen=True)
class Calibration:
    """A parsed calibration file; every field may be absent (None) except the version."""

    scoring: ScoringDefinition | None = None
    lambda_out: float | None = None
    lambda_novel: float | None = None
    model_fingerprint: str | None = None
    format_version: int = FORMAT_VERSION
    provenance: Mapping[str, Any] = field(default_factory=dict)
    extensions: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        if self.lambda_out is not None and self.scoring is None:
            raise CalibrationError(f"{self.source or 'calibration'}: lambda_out without the scoring it was "
                                   f"calibrated for ({', '.join(SCORING_KEYS)})")

    @property
    def fixes_scoring(self) -> bool:
        """A calibrated lambda_out ties the scoring to :attr:`scoring`."""
        return self.lambda_out is not None

    def scoring_config(self, **overrides):
        """A :class:`~owss_ros.core.open_set.ScoringConfig` with this calibration's scoring and thresholds
        (``overrides`` win; None values are ignored)."""
        from owss_ros.core.open_set import ScoringConfig

        values: dict[str, Any] = {}
        if self.scoring is not None:
            values.update(score_mode=self.scoring.score_mode, eds_normalization=self.scoring.eds_normalization,
                          eds_range=self.scoring.eds_range, beta=self.scoring.beta, gamma=self.scoring.gamma,
                          temperature=self.scoring.temperature)
        for key in THRESHOLD_KEYS:
            if getattr(self, key) is not None:
                values[key] = getattr(self, key)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return ScoringConfig(**values)

    def check_model(self, fingerprint: str, temperature: float | None = None) -> None:
        """CalibrationMismatch when the calibration was made for other weights / another T."""
        if self.model_fingerprint and fingerprint and self.model_fingerprint != fingerprint:
            raise CalibrationMismatch(
                f"{self.source}: calibration made for model {self.model_fingerprint[:12]}, but the model is "
                f"{fingerprint[:12]}: re-run `owss_ros calibrate` for these weights")
        if (temperature is not None and self.scoring is not None
                and not _same(self.scoring.temperature, float(temperature))):
            raise CalibrationMismatch(f"{self.source}: calibration made for temperature {self.scoring.temperature}, "
                                      f"the model's is {temperature}")

    def check_applies_to(self, scoring: ScoringDefinition) -> None:
        """CalibrationMismatch naming both scorings when the calibrated lambda_out is not valid for it."""
        if not self.fixes_scoring:
            return
        differences = self.scoring.differences(scoring)
        if differences:
            raise CalibrationMismatch(
                f"the calibration {self.source} (lambda_out {self.lambda_out:g}) was made for "
                f"{_describe(self.scoring)}, but the scoring asked for is {_describe(scoring)} "
                f"(calibration vs asked: {'; '.join(differences)}). A threshold on one score is meaningless "
                f"for another: keep the calibration's scoring, or calibrate for the other one "
                f"(`owss_ros calibrate --score-mode ... --eds-normalization ...`), or run without this "
                f"calibration")


def _describe(s: ScoringDefinition) -> str:
    text = f"score_mode {s.score_mode.value}"
    if s.score_mode is not ScoreMode.MMSP:
        text += f", eds_normalization {s.eds_normalization.value}"
        if s.eds_normalization is EDSNormalization.FIXED:
            text += f", eds_range [{s.eds_range[0]:g}, {s.eds_range[1]:g}]"
    if s.score_mode is ScoreMode.EDS_MMSP:
        text += f", beta {s.beta:g}, gamma {s.gamma:g}"
    return text


# ----------------------------------------------------------------------------- reading
def _number(document: dict, key: str, source: str) -> float | None:
    if document.get(key) is None:
        return None
    value = document[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CalibrationError(f"{source}: {key} must be a finite number, got {value!r}")
    return float(value)


def _eds_range(value, source: str) -> tuple[float, float]:
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
            or not value[0] < value[1]):
        raise CalibrationError(f"{source}: eds_range must be [low, high] with low < high, got {value!r}")
    return float(value[0]), float(value[1])


def _scoring(document: dict, source: str) -> ScoringDefinition | None:
    present = [key for key in SCORING_KEYS if document.get(key) is not None]
    if not present:
        return None
    missing = [key for key in SCORING_KEYS if key not in present]
    if missing:
        raise CalibrationError(f"{source}: the scoring keys come together; missing {', '.join(missing)} "
                               f"(has {', '.join(present)})")
    try:
        mode, normalization = ScoreMode(document["score_mode"]), EDSNormalization(document["eds_normalization"])
    except ValueError as error:
        raise CalibrationError(f"{source}: {error}") from error
    temperature = _number(document, "temperature", source)
    if temperature <= 0:
        raise CalibrationError(f"{source}: temperature must be > 0, got {temperature}")
    return ScoringDefinition(mode, normalization, _eds_range(document["eds_range"], source),
                             _number(document, "beta", source), _number(document, "gamma", source), temperature)


def calibration_from_document(document: Any, source: str = "<calibration>") -> Calibration:
    """Parse a calibration mapping (see the module docstring); CalibrationError says what is wrong."""
    if document is None:
        return Calibration(format_version=LEGACY_VERSION, source=source)
    if not isinstance(document, dict):
        raise CalibrationError(f"{source}: expected a mapping of calibration values")
    document = dict(document)
    version = document.get("format_version", LEGACY_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < LEGACY_VERSION:
        raise CalibrationError(f"{source}: format_version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise CalibrationError(f"{source}: calibration format {version} was written by a newer owss_ros "
                               f"(this one reads formats up to {FORMAT_VERSION})")
    provenance = document.get("provenance") or {}
    if not isinstance(provenance, dict):
        raise CalibrationError(f"{source}: provenance must be a mapping")
    provenance = dict(provenance)
    if version == LEGACY_VERSION:  # documentation lived beside the values
        for key in LEGACY_PROVENANCE_KEYS:
            if key in document:
                provenance[key] = document.pop(key)
    extensions = {}
    unknown = []
    for key in document:
        if key in CORE_KEYS:
            continue
        entry = EXTENSIONS.get(key)
        if entry is None or entry.since_version > version:
            unknown.append(key)
            continue
        extensions[key] = entry.parse(document[key], source)
    if unknown:
        raise CalibrationError(
            f"{source}: unknown key(s) {', '.join(map(repr, unknown))} for calibration format {version} "
            f"(known: {', '.join(CORE_KEYS + tuple(EXTENSIONS))}); written by a newer owss_ros, or a typo "
            "(documentation belongs under 'provenance')")
    fingerprint = document.get("model_fingerprint")
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise CalibrationError(f"{source}: model_fingerprint must be a string")
    lambda_out = _number(document, "lambda_out", source)
    if lambda_out is not None and not 0.0 <= lambda_out <= 1.0:
        raise CalibrationError(f"{source}: lambda_out must be in [0, 1], got {lambda_out}")
    lambda_novel = _number(document, "lambda_novel", source)
    if lambda_novel is not None and lambda_novel <= 0:
        raise CalibrationError(f"{source}: lambda_novel must be > 0, got {lambda_novel}")
    return Calibration(_scoring(document, source), lambda_out, lambda_novel, fingerprint or None, version,
                       provenance, extensions, source)


def load_calibration(path: str | Path) -> Calibration:
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise CalibrationError(f"{path}: cannot read the calibration ({error})") from error
    return calibration_from_document(document, str(path))


# ----------------------------------------------------------------------------- writing
def calibration_to_document(calibration: Calibration) -> dict:
    """The mapping :func:`calibration_from_document` reads back (always the current format)."""
    document: dict[str, Any] = {"format_version": FORMAT_VERSION}
    if calibration.model_fingerprint:
        document["model_fingerprint"] = calibration.model_fingerprint
    if calibration.scoring is not None:
        document.update(calibration.scoring.as_dict())
    for key in THRESHOLD_KEYS:
        if getattr(calibration, key) is not None:
            document[key] = float(getattr(calibration, key))
    for name, value in calibration.extensions.items():
        if name not in EXTENSIONS:
            raise CalibrationError(f"cannot write unknown calibration entry {name!r}")
        document[name] = EXTENSIONS[name].dump(value)
    if calibration.provenance:
        document["provenance"] = dict(calibration.provenance)
    return document


def write_calibration(path: str | Path, calibration: Calibration, command: str = "") -> Path:
    """Atomic YAML write with a header naming the command that wrote it."""
    path = Path(path)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    header = (f"# Written by `owss_ros calibrate` on {stamp}; do not edit by hand, re-run the command.\n"
              + (f"# command: {command}\n" if command else "")
              + "# lambda_out holds only for the scoring keys beside it (owss_ros/core/calibration.py).\n")
    body = yaml.safe_dump(calibration_to_document(calibration), sort_keys=False, allow_unicode=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (header + body).encode())
    return path


def with_values(calibration: Calibration, **changes) -> Calibration:
    return dataclasses.replace(calibration, **changes)
