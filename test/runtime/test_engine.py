"""The open-world engine in-process (no ROS, no worker thread unless started): outputs, teaching,
forgetting, durability of the class store, the calibration rule, health, latest frame wins."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from owss_ros.backends.base import FrameGeometry
from owss_ros.backends.graph_inputs import GraphInputs
from owss_ros.backends.pipeline import FramePipeline
from owss_ros.backends.torch_backend import TorchBackend
from owss_ros.core.calibration import Calibration, CalibrationMismatch, ScoringDefinition, write_calibration
from owss_ros.core.checkpoint import ModelSpec, build_model, file_fingerprint, load_model, save_model
from owss_ros.core.classes import UNKNOWN_ID
from owss_ros.core.open_set import ScoringConfig
from owss_ros.core.scoring import EDSNormalization, ScoreMode
from owss_ros.runtime import EngineConfig, Frame, FrameRejectedError, ModelFiles, OpenWorldEngine, StartupError
from owss_ros.runtime.class_registry import ClassChangeRefused
from owss_ros.runtime.mask_files import MaskFileError
from owss_ros.runtime.ring_buffer import FrameNotBufferedError
from owss_ros.runtime.teaching import TeachingError
from owss_ros.core.class_names import MIN_MASK_PIXELS, TeachingRuleError
from owss_ros.core.class_store import ClassStoreError

INPUT_HW = (64, 128)
CAMERA_HW = (96, 160)
ALL = ("labels", "anomaly", "open_set", "overlay")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    torch.manual_seed(5)
    path = tmp_path_factory.mktemp("engine") / "model.safetensors"
    save_model(path, build_model(ModelSpec()), ModelSpec())
    return path


def box_frame(background=(40, 40, 90), color=(250, 230, 0), box=(20, 70, 30, 110)):
    frame = np.empty((*CAMERA_HW, 3), np.uint8)
    frame[:] = background
    r0, r1, c0, c1 = box
    frame[r0:r1, c0:c1] = color
    mask = np.zeros(CAMERA_HW, np.uint8)
    mask[r0:r1, c0:c1] = 255
    return frame, mask


def make_engine(model_path, tmp_path, scoring=None, calibration_path="none", **config):
    torch.set_num_threads(1)
    values = dict(backend="torch", device="cpu", cpu_threads=1, input_hw=INPUT_HW,
                  class_store_path=str(tmp_path / "store.json"), mask_directory=str(tmp_path / "masks"))
    values.update(config)
    model = ModelFiles.open(model_path, calibration_path)
    return OpenWorldEngine(model, EngineConfig(**values), scoring or model.scoring_defaults())


def reference(model_path, frame, class_set, config):
    model, _ = load_model(model_path)
    return TorchBackend(FramePipeline(model), INPUT_HW).infer(frame, GraphInputs.build(class_set, config))


def test_process_gives_the_backend_maps_and_only_what_is_wanted(model_path, tmp_path):
    engine = make_engine(model_path, tmp_path)
    frame, _ = box_frame()
    outputs = engine.process(Frame.of_array(frame, 7), ALL)
    expected = reference(model_path, frame, engine.class_set, engine.scoring)
    assert outputs.output_hw == FrameGeometry.fit(CAMERA_HW, INPUT_HW).scaled_hw
    np.testing.assert_array_equal(outputs.close_labels, expected.close_labels)
    np.testing.assert_array_equal(outputs.open_labels, expected.open_labels)
    np.testing.assert_allclose(outputs.anomaly, expected.anomaly, atol=1e-6)
    assert outputs.overlay.shape == (*outputs.output_hw, 3)
    only = engine.process(Frame.of_array(frame), {"anomaly"})
    assert only.close_labels is None and only.overlay is None and only.anomaly is not None
    decoded = []
    info_only = engine.process(Frame(1, lambda: decoded.append(1), lambda: CAMERA_HW), {"camera_info"})
    assert info_only.output_hw == outputs.output_hw and not decoded  # header-only: never decoded
    assert engine.process(Frame.of_array(frame), set()) is None
    counters = engine.health().counters
    assert counters["frames_processed"] == 3 and counters["frames_skipped_no_subscribers"] == 1


def test_rejected_frames_are_counted_with_the_reason(model_path, tmp_path):
    engine = make_engine(model_path, tmp_path)

    def bad():
        raise FrameRejectedError("unsupported image encoding 'yuv422'")

    assert engine.process(Frame(1, bad, lambda: (4, 4)), ALL) is None
    health = engine.health()
    assert health.counters["frames_rejected"] == 1 and "yuv422" in health.warnings[0]
    assert engine.health().warnings == []  # reported once


def test_teach_by_stamp_and_mask_file_then_forget(model_path, tmp_path):
    engine = make_engine(model_path, tmp_path)
    frame, mask = box_frame()
    (tmp_path / "masks").mkdir(exist_ok=True)
    PILImage.fromarray(mask).save(tmp_path / "masks" / "box.png")
    engine.submit(Frame.of_array(frame, 5_000_000_000))
    result = engine.teach("box", [5_000_000_000], ["box.png"], lambda_novel=None)
    assert result.entry.class_id == 19 and result.shots == 1 and result.pixels > 0
    assert "added class 19 'box'" in result.message
    box_threshold = 1e3  # the whole box (and more) belongs to the class
    engine.forget("box")
    result = engine.teach("box", [frame], [mask], lambda_novel=box_threshold)
    outputs = engine.process(Frame.of_array(frame), ALL)
    scaled = np.asarray(PILImage.fromarray(mask).resize(outputs.output_hw[::-1], PILImage.NEAREST)) > 0
    assert (outputs.open_labels[scaled] == 19).mean() > 0.9
    expected = reference(model_path, frame, engine.class_set, engine.scoring)
    np.testing.assert_array_equal(outputs.open_labels, expected.open_labels)
    removed = engine.forget(19)
    assert removed.name == "box" and not (engine.process(Frame.of_array(frame), ALL).open_labels == 19).any()


@pytest.mark.parametrize("frames, masks, error, reason", [
    ([123], [np.ones(CAMERA_HW, np.uint8)], FrameNotBufferedError, "no camera frame is buffered"),
    (["frame"], ["../outside.png"], MaskFileError, "outside the mask directory"),
    ([np.zeros((*CAMERA_HW, 3), np.uint8)], [np.zeros(CAMERA_HW, np.uint8)], TeachingError, "empty"),
    ([np.zeros((*CAMERA_HW, 3), np.uint8)], [np.ones((5, 5), np.uint8)], TeachingError, "but its frame is"),
    ([np.zeros((*CAMERA_HW, 3), np.uint8)], [], TeachingError, "counts must be equal"),
    ([np.zeros((*CAMERA_HW, 3), np.uint8)] * 3, [np.ones(CAMERA_HW, np.uint8)] * 3, TeachingError, "max_shots"),
])
def test_bad_teaching_requests_are_refused_and_change_nothing(model_path, tmp_path, frames, masks, error, reason):
    engine = make_engine(model_path, tmp_path, max_shots=2)
    (tmp_path / "masks").mkdir(exist_ok=True)
    frames = [np.zeros((*CAMERA_HW, 3), np.uint8) if isinstance(f, str) else f for f in frames]
    with pytest.raises(error, match=reason):
        engine.teach("x", frames, masks)
    assert engine.class_set.novel_entries == () or list(engine.class_set.novel_entries) == []
    with pytest.raises(TeachingError, match="255 is unknown"):
        engine.forget(UNKNOWN_ID)


def test_names_and_slots(model_path, tmp_path):
    engine = make_engine(model_path, tmp_path, max_novel_classes=1)
    frame, mask = box_frame()
    engine.teach("box", [frame], [mask])
    with pytest.raises(TeachingRuleError, match="already exists"):
        engine.teach("box", [frame], [mask])
    with pytest.raises(TeachingError, match="slots are in use"):
        engine.teach("other", [frame], [mask])


def test_taught_classes_survive_a_restart_and_a_bad_store_is_refused(model_path, tmp_path):
    frame, mask = box_frame()
    first = make_engine(model_path, tmp_path)
    first.teach("box", [frame], [mask], lambda_novel=50.0)
    first.close()
    again = make_engine(model_path, tmp_path)
    assert [(e.class_id, e.name) for e in again.class_set.novel_entries] == [(19, "box")]
    (tmp_path / "store.json").write_text("{ not json")
    with pytest.raises(StartupError, match="refusing to start"):
        make_engine(model_path, tmp_path)
    degraded = make_engine(model_path, tmp_path, class_store_on_error="base_only")
    assert degraded.health().errors and not degraded.class_set.novel_entries
    with pytest.raises(ClassChangeRefused):
        degraded.teach("box", [frame], [mask])
    assert (tmp_path / "store.json").read_text() == "{ not json"  # never overwritten


def test_scoring_changes_apply_from_the_next_frame(model_path, tmp_path):
    engine = make_engine(model_path, tmp_path)
    frame, _ = box_frame()
    engine.set_scoring(ScoringConfig(lambda_out=1.0))
    never = engine.process(Frame.of_array(frame), ALL)
    assert not (never.open_labels == UNKNOWN_ID).any()
    engine.set_scoring(ScoringConfig(lambda_out=0.0, score_mode="mmsp"))
    always = engine.process(Frame.of_array(frame), ALL)
    np.testing.assert_array_equal(always.open_labels == UNKNOWN_ID, always.anomaly > 0.0)


def test_a_calibrated_engine_refuses_another_scoring(model_path, tmp_path):
    scoring = ScoringDefinition(ScoreMode.EDS_MMSP, EDSNormalization.FIXED, (162.0, 324.0), 20.0, 0.8, 3.0)
    path = write_calibration(tmp_path / "calibration.yaml", Calibration(
        scoring=scoring, lambda_out=0.4, lambda_novel=2.0, model_fingerprint=file_fingerprint(model_path)))
    model = ModelFiles.open(model_path, str(path))
    assert (model.scoring_defaults().eds_normalization, model.scoring_defaults().lambda_out) == (
        EDSNormalization.FIXED, 0.4)
    engine = make_engine(model_path, tmp_path, calibration_path=str(path))
    with pytest.raises(CalibrationMismatch, match="eds_normalization: fixed vs image_max"):
        engine.set_scoring(ScoringConfig(lambda_out=0.4))
    assert engine.scoring.eds_normalization is EDSNormalization.FIXED
    engine.set_scoring(model.scoring_defaults().replaced(lambda_out=0.2))  # lambda_out alone: fine
    with pytest.raises(StartupError, match="eds_normalization image_max"):
        make_engine(model_path, tmp_path, scoring=ScoringConfig(), calibration_path=str(path))
    other = tmp_path / "other.safetensors"
    save_model(other, build_model(ModelSpec()), ModelSpec())
    with pytest.raises(StartupError, match="calibration made for model"):
        ModelFiles.open(other, str(path))


def test_worker_latest_frame_wins_and_delivers(model_path, tmp_path):
    engine = make_engine(model_path, tmp_path)
    delivered, gate = [], threading.Event()

    def deliver(outputs):
        gate.wait(10)
        delivered.append(outputs.frame.stamp_ns)

    engine.start(lambda: {"open_set"}, deliver)
    try:
        frame, mask = box_frame()
        for stamp in range(1, 6):  # the first is taken at once and held at the gate
            engine.submit(Frame.of_array(frame, stamp))
            time.sleep(0.05)
        gate.set()
        deadline = time.monotonic() + 20
        while 5 not in delivered and time.monotonic() < deadline:
            time.sleep(0.02)
        assert delivered[-1] == 5 and len(delivered) < 5
        assert engine.health().counters["frames_dropped"] >= 1
        result = engine.teach("box", [0], [mask])  # newest buffered frame, embedded on the worker
        assert result.entry.class_id == 19
        assert "total" in engine.health().latencies
    finally:
        engine.close()


def test_the_npm_guard_beside_the_model_caps_lambda_novel_of_a_class_taught_without_one(tmp_path):
    from owss_ros.core.novel_guard import KnownPixelSample

    torch.manual_seed(5)
    path = tmp_path / "model" / "model.safetensors"
    path.parent.mkdir()
    save_model(path, build_model(ModelSpec()), ModelSpec())
    frame, mask = box_frame()
    plain = make_engine(path, tmp_path / "a")
    unguarded = plain.teach("box", [frame], [mask]).lambda_novel
    assert unguarded is None  # no sample: the node's lambda_novel applies
    backend_embedding = plain._backend.embed(frame)  # known pixels = the frame's own background
    background = torch.from_numpy(backend_embedding.reshape(19, -1).T.copy())
    KnownPixelSample(background, file_fingerprint(path), "test", 0.01).save(path.parent / "known_pixels.safetensors")
    guarded = make_engine(path, tmp_path / "b", scoring=ScoringConfig(lambda_novel=1e6))
    result = guarded.teach("box", [frame], [mask])
    sample = guarded.model.known_pixels
    prototype = torch.tensor(result.entry.prototype, dtype=torch.float32)
    assert result.lambda_novel == pytest.approx(sample.distance_quantile(prototype), rel=1e-5)
    assert result.lambda_novel < 1e6
    other_frame, other_mask = box_frame(color=(0, 200, 250))  # same pixels again would be a duplicate prototype
    assert guarded.teach("box2", [other_frame], [other_mask], lambda_novel=1e6).lambda_novel == 1e6  # the operator's own wins
    KnownPixelSample(background, "0" * 64, "test").save(path.parent / "known_pixels.safetensors")
    with pytest.raises(StartupError, match="NPM guard sample"):
        ModelFiles.open(path, "none")


@pytest.mark.parametrize("name, reason", [
    ("x" * 100_000, "too long: 100000 characters"),
    ("cone\nx", "not allowed"),
    ("unknown", "reserved"),
    ("Animal", "use 'animal'"),
    ("a/b/../c", "characters that are not allowed"),
    ("traffic_light", "base class 'traffic light'"),
    (" box", "white space"),
])
def test_teach_applies_the_class_name_rule(model_path, tmp_path, name, reason):
    engine = make_engine(model_path, tmp_path)
    frame, mask = box_frame()
    with pytest.raises(TeachingRuleError, match=reason) as error:
        engine.teach(name, [frame], [mask])
    assert len(str(error.value)) < 400  # a 100,000-character name gives a short answer
    assert not engine.class_set.novel_entries and not (tmp_path / "store.json").exists()


def test_teach_refuses_a_case_variant_of_a_taught_name_and_the_same_pixels_under_a_second_name(
        model_path, tmp_path):
    engine = make_engine(model_path, tmp_path)
    frame, mask = box_frame()
    engine.teach("animal", [frame], [mask])
    with pytest.raises(TeachingRuleError, match="use 'animal'"):
        engine.teach("Animal", [frame], [mask])
    with pytest.raises(TeachingRuleError, match="identical to that of the taught class 'animal'"):
        engine.teach("moose", [frame], [mask])
    assert [e.name for e in engine.class_set.novel_entries] == ["animal"]


def test_teach_needs_the_minimum_mask_pixels_on_every_shot(model_path, tmp_path):
    engine = make_engine(model_path, tmp_path)
    frame, mask = box_frame()
    one_pixel = np.zeros(CAMERA_HW, np.uint8)
    one_pixel[40, 60] = 255
    with pytest.raises(TeachingRuleError, match=r"shot 1: the mask covers [01] pixels? at model resolution 107x64; "
                                                f"at least {MIN_MASK_PIXELS}"):
        engine.teach("box", [frame, frame], [mask, one_pixel])
    small = np.zeros(INPUT_HW, np.uint8)[:, :107]
    small[10:17, 10:19] = 1  # 63 pixels drawn at model resolution
    with pytest.raises(TeachingRuleError, match="covers 63 pixels"):
        engine.teach("box", [frame], [small])
    small[17, 10] = 1
    assert engine.teach("box", [frame], [small]).pixels == MIN_MASK_PIXELS
    assert [e.name for e in engine.class_set.novel_entries] == ["box"]


def test_refused_frames_are_never_buffered(model_path, tmp_path):
    engine = make_engine(model_path, tmp_path, max_image_pixels=20_000)
    frame, mask = box_frame()
    giant = np.zeros((200, 200, 3), np.uint8)
    assert not engine.submit(Frame.of_array(giant, 9))
    assert not engine.submit(Frame(10, lambda: frame, lambda: (0, 5)))
    counters = engine.health().counters
    assert counters["frames_rejected"] == 2 and counters["frames_buffered"] == 0
    assert counters["frames_received"] == 0  # never handed to the worker either
    with pytest.raises(FrameNotBufferedError, match="no camera frame is buffered"):
        engine.teach("box", [9], [mask])
    assert engine.submit(Frame.of_array(frame, 11))
    assert engine.health().counters["frames_buffered_bytes"] == frame.nbytes


def test_the_ring_buffer_is_bounded_in_bytes(model_path, tmp_path):
    frame, _ = box_frame()
    engine = make_engine(model_path, tmp_path, ring_buffer_max_bytes=3 * frame.nbytes, ring_buffer_size=100)
    for stamp in range(1, 11):
        engine.submit(Frame.of_array(frame.copy(), stamp))
    counters = engine.health().counters
    assert counters["frames_buffered"] == 3 and counters["frames_buffered_bytes"] == 3 * frame.nbytes


def test_a_snapshot_pins_the_newest_frame_until_a_class_is_taught_from_it(model_path, tmp_path):
    frame, mask = box_frame()
    engine = make_engine(model_path, tmp_path, ring_buffer_size=2)
    engine.submit(Frame.of_array(frame, 7_000_000_001))
    stamp, size = engine.snapshot_newest()
    assert (stamp, size) == (7_000_000_001, CAMERA_HW) and engine.health().counters["frames_pinned"] == 1
    other, _ = box_frame(color=(10, 250, 10))
    for later in range(8, 20):  # the ring moves on
        engine.submit(Frame.of_array(other, later * 1_000_000_000))
    np.testing.assert_array_equal(engine.buffered_frame(stamp), frame)
    result = engine.teach("box", [stamp], [mask])
    assert result.entry.name == "box" and engine.health().counters["frames_pinned"] == 0
    with pytest.raises(FrameNotBufferedError):
        engine.teach("box_again", [stamp], [mask])


def test_a_taught_class_moves_to_an_engine_with_the_same_model_only(model_path, tmp_path):
    frame, mask = box_frame()
    source = make_engine(model_path, tmp_path / "a")
    taught = source.teach("cone", [frame], [mask], lambda_novel=42.0).entry
    document = source.export_class("cone")
    target = make_engine(model_path, tmp_path / "b")
    imported = target.import_class(document)
    assert (imported.name, imported.prototype, imported.lambda_novel, imported.pixels) == (
        "cone", taught.prototype, 42.0, taught.pixels)
    again = make_engine(model_path, tmp_path / "b")  # persisted in the class store
    assert [e.name for e in again.class_set.novel_entries] == ["cone"]
    with pytest.raises(TeachingRuleError, match="already exists"):
        target.import_class(document)
    with pytest.raises(TeachingRuleError, match="identical to that of the taught class 'cone'"):
        target.import_class(document, name="cone_copy")
    with pytest.raises(TeachingError, match="base class"):
        source.export_class("road")
    torch.manual_seed(6)
    other_model = tmp_path / "other.safetensors"
    save_model(other_model, build_model(ModelSpec()), ModelSpec())
    foreign = make_engine(other_model, tmp_path / "c")
    with pytest.raises(ClassStoreError, match="exported from model .* not the loaded model"):
        foreign.import_class(document)
    with pytest.raises(ClassStoreError, match="checksum mismatch"):
        foreign.import_class(document.replace(b'"cone"', b'"cane"'))
    assert not foreign.class_set.novel_entries


def test_the_mask_directory_is_created_at_start(model_path, tmp_path):
    make_engine(model_path, tmp_path, mask_directory=str(tmp_path / "new" / "masks"))
    assert (tmp_path / "new" / "masks").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(StartupError, match="cannot create the mask directory"):
        make_engine(model_path, tmp_path, mask_directory=str(tmp_path / "file" / "masks"))


def test_frames_lost_before_the_engine_are_reported(model_path, tmp_path):
    engine = make_engine(model_path, tmp_path)
    engine.count_lost(3, " on /camera/image_raw")
    health = engine.health()
    assert health.counters["frames_lost_before_node"] == 3
    assert any("3 camera frame(s) lost before the node" in w for w in health.warnings)
    assert engine.health().counters["frames_lost_before_node"] == 3 and not engine.health().warnings


@pytest.mark.parametrize("resolution", ["half_scores", "half", "quarter"])
def test_score_resolution_reaches_the_backend_and_maps_keep_the_model_size(model_path, tmp_path, resolution):
    engine = make_engine(model_path, tmp_path, score_resolution=resolution)
    assert engine.backend_description["score_resolution"] == resolution
    frame, _ = box_frame()
    outputs = engine.process(Frame.of_array(frame, 7), ALL)
    full = reference(model_path, frame, engine.class_set, engine.scoring)
    assert outputs.output_hw == FrameGeometry.fit(CAMERA_HW, INPUT_HW).scaled_hw
    assert outputs.open_labels.shape == full.open_labels.shape
    agreement = (outputs.open_labels == full.open_labels).mean()
    if resolution == "half_scores":  # labels exact at the input size, only the scores are coarser
        np.testing.assert_array_equal(outputs.close_labels, full.close_labels)
        assert agreement > 0.99
    else:
        assert 0.8 < agreement < 1.0  # coarser scoring: close to, not equal to, the input-resolution maps


def test_teaching_keeps_background_prototypes_that_only_take_pixels_from_the_class(model_path, tmp_path):
    frame, mask = box_frame()
    plain = make_engine(model_path, tmp_path / "plain", background_prototypes=0)
    with_background = make_engine(model_path, tmp_path / "background", background_prototypes=2)
    assert plain.teach("box", [frame], [mask], lambda_novel=1e3).entry.background == ()
    result = with_background.teach("box", [frame], [mask], lambda_novel=1e3)
    assert len(result.entry.background) == 2 and "2 background prototype(s)" in result.message
    other, _ = box_frame(background=(90, 40, 40), box=(50, 90, 100, 150))
    for test_frame in (frame, other):
        taught_plain = plain.process(Frame.of_array(test_frame), ALL).open_labels == 19
        outputs = with_background.process(Frame.of_array(test_frame), ALL)
        expected = reference(model_path, test_frame, with_background.class_set, with_background.scoring)
        np.testing.assert_array_equal(outputs.open_labels, expected.open_labels)
        taught = outputs.open_labels == 19
        assert not (taught & ~taught_plain).any()  # a background never adds a pixel to the class
    assert (taught_plain & ~taught).any()  # and here takes some away
