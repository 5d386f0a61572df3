"""The engine's building blocks, in-process (fast): hand-over, ring buffer, masks, class
registry, overlay."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from owss_ros.backends.base import FrameGeometry
from owss_ros.core.class_set import ClassSet, ClassSetError
from owss_ros.core.class_store import ClassStoreError, load_class_set, save_class_set
from owss_ros.runtime.class_registry import ClassChangeRefused, ClassRegistry
from owss_ros.runtime.teaching import (
    TeachingError,
    mask_on_scaled_frame,
    nearest_prototype,
    prototype_from_embeddings,
)
from owss_ros.runtime.mask_files import MaskFileError, resolve_mask_path
from owss_ros.runtime.overlay import UNKNOWN_COLOR, palette_lut, render_overlay
from owss_ros.runtime.ring_buffer import FrameNotBufferedError, FrameRingBuffer
from owss_ros.runtime.worker import FrameMailbox, InferenceWorker, PostedFrame


def stamped(sec, nanosec=0):
    return sec * 1_000_000_000 + nanosec


def test_mailbox_keeps_only_the_newest_frame_and_counts_drops():
    mailbox = FrameMailbox()
    for i in range(5):
        mailbox.post_frame(i)
    taken = mailbox.take(timeout=0)
    assert isinstance(taken, PostedFrame) and taken.frame == 4
    assert (mailbox.counters.received, mailbox.counters.dropped) == (5, 4)
    assert mailbox.take(timeout=0) is None


def test_mailbox_alternates_jobs_and_frames():
    mailbox = FrameMailbox()
    mailbox.post_frame("f1")
    mailbox.post_job(lambda: 1)
    mailbox.post_job(lambda: 2)
    kinds = []
    for _ in range(3):
        item = mailbox.take(timeout=0)
        kinds.append("frame" if isinstance(item, PostedFrame) else "job")
        if kinds[-1] == "job":
            mailbox.post_frame("f2")
    assert kinds == ["job", "frame", "job"]


def test_worker_runs_jobs_and_survives_frame_errors():
    mailbox = FrameMailbox()
    errors, processed = [], []

    def process(frame):
        if frame.frame == "bad":
            raise ValueError("broken frame")
        processed.append(frame.frame)

    worker = InferenceWorker(mailbox, process, errors.append)
    worker.start()
    mailbox.post_frame("bad")
    assert mailbox.post_job(lambda: threading.current_thread().name).result(5) == "owss_inference"
    mailbox.post_frame("good")
    assert mailbox.post_job(lambda: 42).result(5) == 42
    worker.stop()
    assert [str(e) for e in errors] == ["broken frame"] and processed == ["good"]
    with pytest.raises(RuntimeError, match="stopped"):
        mailbox.post_job(lambda: 0).result(1)


def test_ring_buffer_exact_nearest_newest_and_eviction():
    ring = FrameRingBuffer(3)
    frames = [stamped(10, i * 100_000_000) for i in range(5)]  # 10.0 .. 10.4 s
    for f in frames:
        ring.append(f, f)
    assert len(ring) == 3
    assert ring.find(10_300_000_000) is frames[3]
    assert ring.find(0) is frames[4]
    assert ring.find(10_310_000_000, tolerance_ns=20_000_000) is frames[3]
    with pytest.raises(FrameNotBufferedError, match="holds 3 frames from 10.200000000 to 10.400000000"):
        ring.find(10_310_000_000)
    with pytest.raises(FrameNotBufferedError):
        ring.find(10_000_000_000, tolerance_ns=50_000_000)  # evicted
    with pytest.raises(FrameNotBufferedError, match="disabled"):
        FrameRingBuffer(0).find(0)


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_ring_buffer_is_bounded_in_bytes_and_seconds():
    clock = FakeClock()
    ring = FrameRingBuffer(max_frames=1000, max_bytes=3000, max_age_s=2.0, clock=clock)
    for i in range(5):
        assert ring.append(stamped(1, i), f"frame{i}", nbytes=1000)
        clock.now += 0.1
    assert len(ring) == 3 and ring.nbytes == 3000  # 5000 bytes offered, 3000 kept: the newest three
    assert ring.find(stamped(1, 4)) == "frame4"
    with pytest.raises(FrameNotBufferedError):
        ring.find(stamped(1, 1))
    assert not ring.append(stamped(2), "giant", nbytes=3001)  # alone over the budget: not kept, nothing evicted
    assert len(ring) == 3
    clock.now += 1.75  # frame2 arrived 2.05 s ago, frame3 1.95 s ago
    assert len(ring) == 2 and ring.find(0) == "frame4"
    clock.now += 10
    assert len(ring) == 0 and ring.nbytes == 0
    with pytest.raises(FrameNotBufferedError, match="disabled"):
        FrameRingBuffer(10, max_age_s=0.0).find(0)
    with pytest.raises(ValueError, match=">= 0"):
        FrameRingBuffer(10, max_bytes=-1)


def test_pinned_frames_survive_eviction_until_released_or_timed_out():
    clock = FakeClock()
    ring = FrameRingBuffer(max_frames=2, max_age_s=1.0, max_pinned=2, pin_timeout_s=60.0, clock=clock)
    with pytest.raises(FrameNotBufferedError, match="no camera frame is buffered yet"):
        ring.pin_newest()
    ring.append(stamped(5), "five")
    assert ring.pin_newest() == (stamped(5), "five")
    for i in range(6, 10):
        ring.append(stamped(i), f"f{i}")
    clock.now += 5  # the ring is empty by age and count; the pin stays
    assert len(ring) == 0 and ring.find(stamped(5)) == "five"
    ring.release([stamped(5)])
    with pytest.raises(FrameNotBufferedError):
        ring.find(stamped(5))
    for i in range(10, 13):  # three pins with a limit of two: the oldest is released
        ring.append(stamped(i), f"f{i}")
        ring.pin_newest()
    assert ring.pinned_stamps() == [stamped(11), stamped(12)]
    clock.now += 61
    assert ring.pinned_stamps() == []
    with pytest.raises(FrameNotBufferedError, match="disabled"):
        FrameRingBuffer(5, max_pinned=0).pin_newest()


def test_mask_paths_are_confined_to_the_mask_directory(tmp_path):
    masks = tmp_path / "masks"
    (masks / "sub").mkdir(parents=True)
    (masks / "sub" / "a.png").write_bytes(b"x")
    (tmp_path / "secret.png").write_bytes(b"x")
    (masks / "inside_link.png").symlink_to(masks / "sub" / "a.png")
    (masks / "outside_link.png").symlink_to(tmp_path / "secret.png")
    assert resolve_mask_path(str(masks), "sub/a.png") == (masks / "sub" / "a.png").resolve()
    assert resolve_mask_path(str(masks), "inside_link.png") == (masks / "sub" / "a.png").resolve()
    assert resolve_mask_path(str(masks), str(masks / "sub" / "a.png")) == (masks / "sub" / "a.png").resolve()
    for bad in ("../secret.png", "sub/../../secret.png", str(tmp_path / "secret.png"), "outside_link.png", ".", ""):
        with pytest.raises(MaskFileError):
            resolve_mask_path(str(masks), bad)
    with pytest.raises(MaskFileError, match="disabled"):
        resolve_mask_path("", "sub/a.png")


def test_masks_fit_camera_or_model_resolution():
    geometry = FrameGeometry.fit((96, 160), (64, 128))
    camera_mask = np.zeros((96, 160), np.uint8)
    camera_mask[:48, :80] = 255
    scaled = mask_on_scaled_frame(camera_mask, geometry, "m")
    assert scaled.shape == (64, 107) and set(np.unique(scaled)) == {0, 1}
    assert scaled[:32, :53].all() and not scaled[32:].any() and not scaled[:, 55:].any()  # the top-left quarter
    assert mask_on_scaled_frame(scaled * 7, geometry, "m").sum() == scaled.sum()
    thin = np.zeros((96, 160), np.uint8)
    thin[1, :] = 1  # camera row 1 is not sampled when 96 rows shrink to 64: nothing is left (the
    assert not mask_on_scaled_frame(thin, geometry, "m").any()  # engine's minimum pixel rule refuses it)
    with pytest.raises(TeachingError, match="empty"):
        mask_on_scaled_frame(np.zeros((96, 160), np.uint8), geometry, "m")


def test_prototype_is_the_pixel_weighted_mean_over_shots():
    a = np.zeros((2, 4, 4), np.float32)
    a[0] = 1.0
    b = np.zeros((2, 2, 2), np.float32)
    b[1] = 3.0
    mask_a = np.zeros((4, 4), np.uint8)
    mask_a[:3] = 1  # 12 pixels of (1, 0)
    mask_b = np.ones((2, 2), np.uint8)  # 4 pixels of (0, 3)
    prototype, pixels = prototype_from_embeddings([a, b], [mask_a, mask_b])
    assert pixels == 16
    np.testing.assert_allclose(prototype, [12 / 16, 12 / 16])


def test_nearest_prototype_covers_base_and_novel():
    class_set = ClassSet.from_base(["a", "b"], capacity=2)
    assert nearest_prototype(class_set, np.array([2.5, 0.0]), 3.0) == ("a", pytest.approx(0.25))
    class_set, _ = class_set.with_novel("n", [1.0, 1.0])
    assert nearest_prototype(class_set, np.array([1.0, 1.5]), 3.0) == ("n", pytest.approx(0.25))


def test_registry_persists_before_commit_and_keeps_the_set_on_failure(tmp_path):
    base = ClassSet.from_base(["a", "b"], capacity=2)
    store = tmp_path / "store.json"
    registry, _ = ClassRegistry.open(base, store, "fp", "refuse")
    seen = []
    entry = registry.change(lambda s: s.with_novel("n", [1.0, 2.0]), on_committed=seen.append)
    assert entry.class_id == 2 and len(seen) == 1
    assert load_class_set(store, "fp").find("n").class_id == 2
    with pytest.raises(ClassSetError):
        registry.change(lambda s: s.with_novel("n", [1.0, 2.0]))
    registry.store_path = tmp_path / "a_file" / "store.json"
    (tmp_path / "a_file").write_text("not a directory")
    with pytest.raises(ClassChangeRefused):
        registry.change(lambda s: s.with_novel("m", [0.0, 1.0]))
    assert registry.current.find("m") is None  # not committed, since it could not be saved
    reopened, line = ClassRegistry.open(base, store, "fp", "refuse")
    assert reopened.current.find("n").class_id == 2 and "loaded" in line


def test_registry_refuses_stores_that_do_not_fit(tmp_path):
    store = tmp_path / "store.json"
    big = ClassSet.from_base(["a", "b"], capacity=4)
    for k in range(4):
        big, _ = big.with_novel(f"n{k}", [float(k), 0.0])
    save_class_set(store, big, "fp")
    with pytest.raises(ClassStoreError, match="do not fit max_novel_classes 2"):
        ClassRegistry.open(ClassSet.from_base(["a", "b"], capacity=2), store, "fp", "refuse")
    with pytest.raises(ClassStoreError, match="base classes"):
        ClassRegistry.open(ClassSet.from_base(["a", "c"], capacity=4), store, "fp", "refuse")
    registry, line = ClassRegistry.open(ClassSet.from_base(["a", "c"], capacity=4), store, "fp", "base_only")
    assert registry.persistence_error and "unusable" in line
    with pytest.raises(ClassChangeRefused, match="unusable"):
        registry.change(lambda s: s.with_novel("x", [0.0, 0.0]))


def test_overlay_blends_classes_and_hatches_unknown():
    class_set = ClassSet.from_base(["a", "b"], [(0, 0, 0), (200, 100, 0)], capacity=1)
    frame = np.full((8, 8, 3), 100, np.uint8)
    labels = np.ones((8, 8), np.uint8)
    labels[:, 4:] = 255
    out = render_overlay(frame, labels, palette_lut(class_set), 0.5)
    assert (out[:, :4] == (150, 100, 50)).all()
    unknown = out[:, 4:].reshape(-1, 3)
    solid = (unknown == UNKNOWN_COLOR).all(axis=1)
    assert 0 < solid.sum() < len(solid)  # stripes: some solid magenta, some blended
    assert (unknown[~solid] == (178, 50, 178)).all()


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 0.77, 1.0])
def test_overlay_fixed_point_blend_is_the_float_blend_within_one_level(alpha):
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)
    labels = rng.integers(0, 19, (16, 24), dtype=np.uint8)
    lut = palette_lut(ClassSet.cityscapes())
    expected = (1.0 - alpha) * frame.astype(np.float64) + alpha * lut[labels].astype(np.float64)
    got = render_overlay(frame, labels, lut, alpha)
    assert np.abs(got.astype(np.float64) - expected).max() <= 1.0
