"""The one crash-safe write helper: a failure at any step leaves the previous file as it was."""

import pytest

from owss_ros.core import atomic_file
from owss_ros.core.atomic_file import atomic_write_bytes, atomic_write_text, atomic_writer


def _names(folder):
    return [p.name for p in folder.iterdir()]


def test_writes_create_folders_and_replace_the_whole_file(tmp_path):
    path = tmp_path / "a" / "b" / "report.json"
    assert atomic_write_text(path, "first") == path
    atomic_write_bytes(path, b"second, longer")
    assert path.read_bytes() == b"second, longer"
    with atomic_writer(path) as f:
        f.write(b"streamed ")
        f.write(b"in parts")
    assert path.read_text() == "streamed in parts"
    assert _names(path.parent) == ["report.json"]


def test_an_error_while_writing_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "checkpoint.pt"
    atomic_write_bytes(path, b"previous")
    with pytest.raises(RuntimeError, match="writer died"):
        with atomic_writer(path) as f:
            f.write(b"half of the new")
            raise RuntimeError("writer died")
    assert path.read_bytes() == b"previous"
    assert _names(tmp_path) == ["checkpoint.pt"]


def _disk_full(*args):
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_a_failed_flush_or_rename_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch, step):
    path = tmp_path / "model.safetensors"
    atomic_write_bytes(path, b"previous")
    monkeypatch.setattr(atomic_file.os, step, _disk_full)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(path, b"new content")
    monkeypatch.undo()
    assert path.read_bytes() == b"previous"
    assert _names(tmp_path) == ["model.safetensors"]


def test_a_missing_target_stays_missing_after_a_failed_write(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic_file.os, "replace", _disk_full)
    with pytest.raises(OSError):
        atomic_write_text(tmp_path / "manifest.json", "{}")
    monkeypatch.undo()
    assert _names(tmp_path) == []


def test_a_write_that_fills_the_disk_part_way_keeps_the_previous_file(tmp_path):
    import resource
    import signal

    path = tmp_path / "calibration.yaml"
    atomic_write_text(path, "previous")
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit a write fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (16, limits[1]))
    try:
        with pytest.raises(OSError):
            atomic_write_text(path, "a new document longer than sixteen bytes")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    assert path.read_text() == "previous"
    assert _names(tmp_path) == ["calibration.yaml"]
