"""The calibration shipped beside a model (models/<name>/calibration.yaml).

Keys read (others are ignored): ``lambda_out`` (Eq. 1 threshold), ``lambda_novel`` (Eq. 12,
squared-distance units) and ``eds_range`` ([low, high], the fixed EDS normalisation range).
They become the defaults of the node's parameters of the same names; a value given in the
node's parameter file overrides them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml


class CalibrationError(ValueError):
    """The calibration file exists but cannot be used."""


@dataclass(frozen=True)
class Calibration:
    lambda_out: float | None = None
    lambda_novel: float | None = None
    eds_range: tuple[float, float] | None = None
    source: str = ""


def _number(document: dict, key: str, source: Path) -> float | None:
    if key not in document or document[key] is None:
        return None
    value = document[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CalibrationError(f"{source}: {key} must be a finite number, got {value!r}")
    return float(value)


def load_calibration(path: Path) -> Calibration:
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise CalibrationError(f"{path}: cannot read the calibration ({error})") from error
    if document is None:
        return Calibration(source=str(path))
    if not isinstance(document, dict):
        raise CalibrationError(f"{path}: expected a mapping of calibration values")
    eds_range = document.get("eds_range")
    if eds_range is not None:
        if (not isinstance(eds_range, (list, tuple)) or len(eds_range) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in eds_range)
                or not eds_range[0] < eds_range[1]):
            raise CalibrationError(f"{path}: eds_range must be [low, high] with low < high, got {eds_range!r}")
        eds_range = (float(eds_range[0]), float(eds_range[1]))
    return Calibration(_number(document, "lambda_out", path), _number(document, "lambda_novel", path),
                       eds_range, str(path))
