import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from owss_ros.core.class_set import ClassSet
from owss_ros.core.class_store import ClassStoreError, load_class_set, save_class_set

N = 19


def taught_set():
    cs, _ = ClassSet.cityscapes(capacity=4).with_novel("moose", torch.randn(N), lambda_novel=2.5, pixels=321, shots=2)
    cs, _ = cs.with_novel("tyre", torch.randn(N))
    return cs


def test_round_trip_is_exact(tmp_path):
    cs = taught_set()
    path = tmp_path / "classes.json"
    save_class_set(path, cs, model_fingerprint="abc123")
    loaded = load_class_set(path, expected_fingerprint="abc123")
    assert loaded == cs  # float32 prototypes survive JSON exactly
    assert sorted(os.listdir(tmp_path)) == ["classes.json"]  # no temp file left behind


def test_fingerprint_mismatch_is_refused(tmp_path):
    save_class_set(tmp_path / "c.json", taught_set(), model_fingerprint="abc123")
    with pytest.raises(ClassStoreError, match="another embedding space"):
        load_class_set(tmp_path / "c.json", expected_fingerprint="def456")


@pytest.mark.parametrize("content, match", [
    (b"{not json", "corrupt JSON"),
    (b'{"hello": "world"}', "not an owss_ros class store"),
    (b"\xff\xfe\x00", "corrupt JSON"),
])
def test_corrupt_or_foreign_files(tmp_path, content, match):
    path = tmp_path / "c.json"
    path.write_bytes(content)
    with pytest.raises(ClassStoreError, match=match):
        load_class_set(path)
    assert path.read_bytes() == content  # loading never rewrites


def test_newer_version_truncation_and_tampering(tmp_path):
    path = tmp_path / "c.json"
    save_class_set(path, taught_set())
    doc = json.loads(path.read_text())
    doc["version"] = 99
    path.write_text(json.dumps(doc))
    with pytest.raises(ClassStoreError, match="version 99"):
        load_class_set(path)
    save_class_set(path, taught_set())
    doc = json.loads(path.read_text())
    doc["classes"][-1]["name"] = "elk"
    path.write_text(json.dumps(doc))
    with pytest.raises(ClassStoreError, match="checksum"):
        load_class_set(path)
    save_class_set(path, taught_set())
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ClassStoreError):
        load_class_set(path)


def test_failed_save_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "c.json"
    old = taught_set()
    save_class_set(path, old)
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    new, _ = old.with_novel("cone", torch.ones(N))
    with pytest.raises(ClassStoreError, match="No space"):
        save_class_set(path, new)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_class_set(path) == old
    assert sorted(os.listdir(tmp_path)) == ["c.json"]


def test_crash_mid_write_leaves_old_file_valid(tmp_path):
    """A process killed (SIGKILL) after writing the new bytes but before the rename."""
    path = tmp_path / "c.json"
    old = taught_set()
    save_class_set(path, old)
    child = textwrap.dedent(f"""
        import os, signal, torch
        from owss_ros.core.class_store import load_class_set, save_class_set
        cs = load_class_set({str(path)!r})
        cs, _ = cs.with_novel("cone", torch.ones({N}))
        os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)  # die mid-write
        save_class_set({str(path)!r}, cs)
    """)
    result = subprocess.run([sys.executable, "-c", child], cwd=os.getcwd(), capture_output=True)
    assert result.returncode == -9, result.stderr.decode()
    assert load_class_set(path) == old  # the old file is intact and valid
    leftovers = [n for n in os.listdir(tmp_path) if n != "c.json"]
    assert leftovers and all(n.endswith(".partial") for n in leftovers)  # the torn write stayed aside
    save_class_set(path, old)  # the store is still writable, and the next save tidies up
    assert load_class_set(path) == old
    assert os.listdir(tmp_path) == ["c.json"]
