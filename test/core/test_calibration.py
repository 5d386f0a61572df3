"""owss_ros.core.calibration: the one reader / writer of calibration files, and its mismatch rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from owss_ros.core import calibration as cal
from owss_ros.core.calibration import (
    FORMAT_VERSION,
    Calibration,
    CalibrationEntry,
    CalibrationError,
    CalibrationMismatch,
    ScoringDefinition,
    calibration_from_document,
    load_calibration,
    write_calibration,
)
from owss_ros.core.open_set import ScoringConfig
from owss_ros.core.scoring import EDSNormalization, ScoreMode

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXED = ScoringDefinition(ScoreMode.EDS_MMSP, EDSNormalization.FIXED, (162.0, 324.0), 20.0, 0.8, 3.0)


def full_calibration(**changes) -> Calibration:
    values = dict(scoring=FIXED, lambda_out=0.77, lambda_novel=3.5, model_fingerprint="ab" * 32,
                  provenance={"target_fpr": 0.05, "calibration_data": "somewhere"})
    values.update(changes)
    return Calibration(**values)


def test_every_key_round_trips_through_the_file(tmp_path):
    written = full_calibration()
    path = write_calibration(tmp_path / "calibration.yaml", written, command="owss_ros calibrate ...")
    text = path.read_text()
    assert text.startswith("# Written by `owss_ros calibrate`") and "# command: owss_ros calibrate ..." in text
    document = yaml.safe_load(text)
    assert document["format_version"] == FORMAT_VERSION
    assert set(cal.SCORING_KEYS + cal.THRESHOLD_KEYS) <= set(document)
    read = load_calibration(path)
    assert read.scoring == written.scoring
    assert (read.lambda_out, read.lambda_novel, read.model_fingerprint) == (0.77, 3.5, "ab" * 32)
    assert dict(read.provenance) == dict(written.provenance) and read.format_version == FORMAT_VERSION
    assert not list(tmp_path.glob("*.partial"))  # written through the atomic helper


LEGACY_FILE = """# written by owss_ros calibrate before format versions existed
lambda_out: 0.7789728045463562
lambda_novel: 3.743719788567094
eds_range: [162.0, 324.0]
score_mode: eds_mmsp
eds_normalization: fixed
beta: 20.0
gamma: 0.8
temperature: 3.0
target_fpr: 0.05
achieved_fpr: 0.04999997232144107
model_fingerprint: 9f27e7deae18c1f880e0bfbc25f71dc97de7519de647ac484275ede6b241534c
"""


def test_a_format_1_file_is_read_with_its_scoring(tmp_path):
    path = tmp_path / "calibration.yaml"
    path.write_text(LEGACY_FILE)
    calibration = load_calibration(path)
    assert calibration.format_version == cal.LEGACY_VERSION
    assert calibration.scoring.score_mode is ScoreMode.EDS_MMSP
    assert calibration.scoring.eds_normalization is EDSNormalization.FIXED
    assert calibration.scoring.eds_range == (162.0, 324.0) and calibration.lambda_out is not None
    assert "achieved_fpr" in calibration.provenance  # documentation keys of format 1 become provenance


def test_the_bundled_file_is_current_and_made_for_the_bundled_weights():
    from owss_ros.core.checkpoint import file_fingerprint

    calibration = load_calibration(REPO_ROOT / "models" / "default" / "calibration.yaml")
    assert calibration.format_version == cal.FORMAT_VERSION and calibration.lambda_out is not None
    assert calibration.model_fingerprint == file_fingerprint(REPO_ROOT / "models" / "default" / "model.safetensors")


@pytest.mark.parametrize("document, message", [
    ({"lambda_out": "high"}, "finite number"),
    ({"format_version": 2, "lambda_out": 0.4}, "without the scoring"),  # the bug: a threshold for no score
    ({"format_version": 2, "score_mode": "eds"}, "scoring keys come together"),
    ({**FIXED.as_dict(), "eds_range": [3.0, 1.0]}, "eds_range"),
    ({**FIXED.as_dict(), "score_mode": "bogus"}, "bogus"),
    ({**FIXED.as_dict(), "lambda_out": 1.5}, "lambda_out must be in"),
    ({"format_version": 2, "novel_guard": {"x": 1}}, "unknown key"),
    ({"format_version": 2, "notes": "typo-like key at the top"}, "unknown key"),
    ({"format_version": FORMAT_VERSION + 1}, "newer owss_ros"),
    ({"format_version": "two"}, "format_version"),
    ({"format_version": 2, "provenance": [1]}, "provenance must be a mapping"),
    (["a", "list"], "mapping"),
])
def test_bad_files_are_refused_with_the_reason(document, message):
    with pytest.raises(CalibrationError, match=message):
        calibration_from_document(document, "test.yaml")


def test_unreadable_yaml_is_a_calibration_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lambda_out: [\n")
    with pytest.raises(CalibrationError, match="cannot read"):
        load_calibration(path)


def test_a_registered_extension_entry_is_read_and_written_back(tmp_path, monkeypatch):
    entry = CalibrationEntry("novel_guard", FORMAT_VERSION, parse=lambda v, source: float(v), dump=float)
    monkeypatch.setitem(cal.EXTENSIONS, "novel_guard", entry)
    written = full_calibration(extensions={"novel_guard": 2.5})
    read = load_calibration(write_calibration(tmp_path / "c.yaml", written))
    assert read.extensions == {"novel_guard": 2.5}
    old = {"format_version": FORMAT_VERSION - 1, "novel_guard": 1.0}  # not defined at that version
    with pytest.raises(CalibrationError, match="unknown key"):
        calibration_from_document(old, "old.yaml")


def test_a_different_scoring_is_refused_naming_both():
    calibration = full_calibration()
    calibration.check_applies_to(FIXED)
    asked = ScoringDefinition.of(ScoringConfig(eds_normalization="image_max"), 19)
    with pytest.raises(CalibrationMismatch) as error:
        calibration.check_applies_to(asked)
    text = str(error.value)
    assert "eds_normalization fixed" in text and "eds_normalization image_max" in text
    assert "eds_normalization: fixed vs image_max" in text
    for key, value in (("score_mode", "mmsp"), ("beta", 10.0), ("gamma", 0.5), ("eds_range", (100.0, 300.0))):
        with pytest.raises(CalibrationMismatch, match=key):
            calibration.check_applies_to(ScoringDefinition.of(
                ScoringConfig(eds_normalization="fixed", **{key: value}), 19))


def test_keys_the_score_does_not_use_do_not_count():
    mmsp = ScoringDefinition(ScoreMode.MMSP, EDSNormalization.IMAGE_MAX, (1.0, 2.0), 20.0, 0.8, 3.0)
    calibration = full_calibration(scoring=mmsp)
    calibration.check_applies_to(ScoringDefinition(ScoreMode.MMSP, EDSNormalization.FIXED, (5.0, 9.0), 1.0, 0.1, 3.0))
    eds = ScoringDefinition(ScoreMode.EDS, EDSNormalization.IMAGE_MAX, (1.0, 2.0), 20.0, 0.8, 3.0)
    full_calibration(scoring=eds).check_applies_to(
        ScoringDefinition(ScoreMode.EDS, EDSNormalization.IMAGE_MAX, (5.0, 9.0), 1.0, 0.1, 3.0))


def test_without_lambda_out_any_scoring_applies_and_lambda_novel_stays():
    calibration = full_calibration(lambda_out=None)
    calibration.check_applies_to(ScoringDefinition.of(ScoringConfig(score_mode="mmsp"), 19))
    assert calibration.scoring_config(temperature=3.0).lambda_novel == 3.5


def test_a_calibration_for_other_weights_or_temperature_is_refused():
    calibration = full_calibration()
    calibration.check_model("ab" * 32, 3.0)
    with pytest.raises(CalibrationMismatch, match="made for model abababababab"):
        calibration.check_model("cd" * 32, 3.0)
    with pytest.raises(CalibrationMismatch, match="temperature"):
        calibration.check_model("ab" * 32, 2.0)


def test_scoring_config_carries_the_calibrated_scoring_and_thresholds():
    config = full_calibration().scoring_config(lambda_novel=None)
    assert (config.score_mode, config.eds_normalization, config.eds_range) == (
        ScoreMode.EDS_MMSP, EDSNormalization.FIXED, (162.0, 324.0))
    assert (config.lambda_out, config.lambda_novel) == (0.77, 3.5)
    assert ScoringDefinition.of(config, 19) == FIXED
