"""The files a model runs with, read and checked before anything starts: the weights' spec and
fingerprint, the calibration that goes with them (:mod:`owss_ros.core.calibration`) and the NPM
guard's known-pixel sample (``known_pixels.safetensors`` beside the weights)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from owss_ros.core.calibration import Calibration, CalibrationError, ScoringDefinition, load_calibration
from owss_ros.core.checkpoint import ModelSpec, file_fingerprint, read_spec
from owss_ros.core.novel_guard import KnownPixelSample
from owss_ros.core.open_set import ScoringConfig

CALIBRATION_NONE = "none"


class StartupError(RuntimeError):
    """The engine cannot start with this configuration; the message says why."""


KNOWN_PIXELS_FILE = "known_pixels.safetensors"


def _open_known_pixels(model_path: Path, fingerprint: str) -> KnownPixelSample | None:
    """The NPM guard's sample beside the model, if there is one; one for other weights is refused."""
    path = model_path.parent / KNOWN_PIXELS_FILE
    if not path.is_file():
        return None
    try:
        return KnownPixelSample.load(path, expected_fingerprint=fingerprint)
    except Exception as error:  # noqa: BLE001 - any unreadable sample is a start-up error
        raise StartupError(f"NPM guard sample {path}: {error}") from error


@dataclass(frozen=True)
class ModelFiles:
    """The model weights and the calibration that goes with them, read before anything starts."""

    model_path: Path
    spec: ModelSpec
    fingerprint: str
    calibration: Calibration
    calibration_source: str  # the file, or why there is none
    known_pixels: KnownPixelSample | None = None  # the NPM guard's sample (known_pixels.safetensors beside the model)

    @classmethod
    def open(cls, model_path: str | Path, calibration_path: str = "") -> "ModelFiles":
        """``calibration_path``: "" = calibration.yaml beside the model if present, "none" = none."""
        model_path = Path(model_path)
        if not model_path.is_file():
            raise StartupError(f"model weights not found: {model_path} (parameter model_path)")
        try:
            spec = read_spec(model_path)
        except Exception as error:  # noqa: BLE001 - any unreadable file is a start-up error
            raise StartupError(f"cannot read the model spec from {model_path}: {error}") from error
        fingerprint = file_fingerprint(model_path)
        guard = _open_known_pixels(model_path, fingerprint)
        if calibration_path == CALIBRATION_NONE:
            return cls(model_path, spec, fingerprint, Calibration(), "none (calibration_path: none)", guard)
        path = Path(calibration_path) if calibration_path else model_path.parent / "calibration.yaml"
        if not path.is_file():
            if calibration_path:
                raise StartupError(f"calibration file not found: {path} (parameter calibration_path)")
            return cls(model_path, spec, fingerprint, Calibration(), f"none ({path} does not exist)", guard)
        try:
            calibration = load_calibration(path)
            calibration.check_model(fingerprint, spec.temperature)
        except CalibrationError as error:
            raise StartupError(str(error)) from error
        return cls(model_path, spec, fingerprint, calibration, str(path), guard)

    def scoring_defaults(self) -> ScoringConfig:
        """The calibration's scoring and thresholds, else the paper's defaults (model's T)."""
        return self.calibration.scoring_config(temperature=self.spec.temperature)

    def check_scoring(self, config: ScoringConfig) -> None:
        """CalibrationMismatch (a ValueError) when the calibration forbids ``config``."""
        self.calibration.check_applies_to(ScoringDefinition.of(config, self.spec.num_classes))
