"""TensorRT engine cache, with a fake builder: keys, reuse, rebuilds, and crash safety."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from owss_ros.core import atomic_file
from owss_ros.core.atomic_file import remove_stale_temporaries
from owss_ros.backends.engine_cache import (
    BuildEnvironment,
    EngineBuildOptions,
    EngineCache,
    ImageProfile,
    engine_cache_key,
)

ENVIRONMENT = BuildEnvironment("10.3.0", "Orin (nvgpu)", "8.7")
OPTIONS = EngineBuildOptions(max_prototypes=16, opt_prototypes=2, image=ImageProfile.fixed((512, 1024)))


class FakeBuilder:
    """Stands in for TensorRT: the 'engine' is a digest of what it was built from."""

    def __init__(self):
        self.calls = []

    def __call__(self, onnx_path: Path, options: EngineBuildOptions) -> bytes:
        self.calls.append((onnx_path, options))
        return b"ENGINE" + hashlib.sha256(onnx_path.read_bytes() + repr(options).encode()).digest() * 64


@pytest.fixture
def onnx_file(tmp_path) -> Path:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"onnx graph v1")
    return path


def _final_files(directory: Path) -> list[str]:
    """Cache entries (the inter-process lock files stay by design: deleting them races)."""
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith(".") and p.suffix != ".lock")


def test_builds_once_then_reuses(tmp_path, onnx_file):
    cache, builder = EngineCache(tmp_path / "engines"), FakeBuilder()
    first = cache.get_or_build(onnx_file, ENVIRONMENT, OPTIONS, builder)
    second = EngineCache(tmp_path / "engines").get_or_build(onnx_file, ENVIRONMENT, OPTIONS, builder)
    assert first.built and not second.built
    assert len(builder.calls) == 1
    assert first.path == second.path and first.key == second.key
    assert first.path.read_bytes() == builder(onnx_file, OPTIONS)
    record = json.loads(cache.record_path(first.key).read_text())
    assert record["components"]["onnx_sha256"] == hashlib.sha256(b"onnx graph v1").hexdigest()
    assert record["components"]["environment"] == dataclasses.asdict(ENVIRONMENT)
    assert record["engine_sha256"] == hashlib.sha256(first.path.read_bytes()).hexdigest()
    assert _final_files(tmp_path / "engines") == sorted([f"{first.key}.engine", f"{first.key}.json"])


@pytest.mark.parametrize("change", [
    "onnx_bytes", "tensorrt_version", "gpu_name", "compute_capability", "precision", "workspace",
    "max_prototypes", "opt_prototypes", "image_profile"])
def test_any_key_component_change_rebuilds(tmp_path, onnx_file, change):
    cache, builder = EngineCache(tmp_path / "engines"), FakeBuilder()
    original = cache.get_or_build(onnx_file, ENVIRONMENT, OPTIONS, builder)
    environment, options = ENVIRONMENT, OPTIONS
    if change == "onnx_bytes":
        onnx_file.write_bytes(b"onnx graph v2")
    elif change in ("tensorrt_version", "gpu_name", "compute_capability"):
        value = {"tensorrt_version": "10.7.0", "gpu_name": "NVIDIA RTX A2000", "compute_capability": "8.6"}[change]
        environment = dataclasses.replace(ENVIRONMENT, **{change: value})
    else:
        options = dataclasses.replace(OPTIONS, **{
            "precision": {"precision": "fp32"}, "workspace": {"workspace_bytes": 2 << 30},
            "max_prototypes": {"max_prototypes": 8}, "opt_prototypes": {"opt_prototypes": 4},
            "image_profile": {"image": ImageProfile((256, 512), (512, 1024), (720, 1280))}}[change])
    rebuilt = cache.get_or_build(onnx_file, environment, options, builder)
    assert rebuilt.built and rebuilt.key != original.key
    assert len(builder.calls) == 2
    assert original.path.is_file() and rebuilt.path.is_file()  # the old entry stays valid for its key
    assert not cache.get_or_build(onnx_file, environment, options, builder).built


def test_key_is_canonical():
    assert engine_cache_key("ab" * 32, ENVIRONMENT, OPTIONS) == engine_cache_key(
        "ab" * 32, BuildEnvironment("10.3.0", "Orin (nvgpu)", "8.7"),
        EngineBuildOptions(max_prototypes=16, opt_prototypes=2, image=ImageProfile((512, 1024), (512, 1024),
                                                                                   (512, 1024))))
    assert len(engine_cache_key("ab" * 32, ENVIRONMENT, OPTIONS)) == 64


def test_builder_failure_leaves_nothing(tmp_path, onnx_file):
    def failing_builder(path, options):
        raise RuntimeError("out of memory while tuning")

    cache = EngineCache(tmp_path / "engines")
    with pytest.raises(RuntimeError, match="out of memory"):
        cache.get_or_build(onnx_file, ENVIRONMENT, OPTIONS, failing_builder)
    assert _final_files(tmp_path / "engines") == []


def test_interrupted_engine_write_leaves_no_engine_file(tmp_path, onnx_file, monkeypatch):
    cache, builder = EngineCache(tmp_path / "engines"), FakeBuilder()
    real_replace = atomic_file.os.replace

    def replace_failing_for_engines(src, dst):
        if str(dst).endswith(".engine"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic_file.os, "replace", replace_failing_for_engines)
    with pytest.raises(OSError, match="No space"):
        cache.get_or_build(onnx_file, ENVIRONMENT, OPTIONS, builder)
    assert not any(p.suffix == ".engine" for p in (tmp_path / "engines").iterdir())
    assert not any(p.name.endswith(atomic_file.TEMP_SUFFIX) for p in (tmp_path / "engines").iterdir())
    monkeypatch.setattr(atomic_file.os, "replace", real_replace)
    assert cache.get_or_build(onnx_file, ENVIRONMENT, OPTIONS, builder).built  # recovers by rebuilding


def test_killed_process_mid_write_leaves_no_engine_under_final_name(tmp_path, onnx_file):
    """A real crash: the writing process dies after writing the temporary, before the rename."""
    engines = tmp_path / "engines"
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from owss_ros.core import atomic_file
        from owss_ros.backends.engine_cache import BuildEnvironment, EngineBuildOptions, EngineCache
        real_fsync = os.fsync
        def die_on_engine(fd):
            target = os.readlink(f"/proc/self/fd/{{fd}}")
            if ".engine." in target and target.endswith({atomic_file.TEMP_SUFFIX!r}):
                os._exit(17)  # killed after writing the engine's temporary, before the rename
            real_fsync(fd)
        atomic_file.os.fsync = die_on_engine
        EngineCache({str(engines)!r}).get_or_build(
            Path({str(onnx_file)!r}), BuildEnvironment("10.3.0", "Orin (nvgpu)", "8.7"),
            EngineBuildOptions(), lambda path, options: b"x" * 1_000_000)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 17
    names = [p.name for p in engines.iterdir()]
    assert not any(n.endswith(".engine") for n in names)  # nothing loadable under a final name
    assert any(n.endswith(atomic_file.TEMP_SUFFIX) for n in names)  # the half-done temporary
    cache = EngineCache(engines)
    rebuilt = cache.get_or_build(onnx_file, BuildEnvironment("10.3.0", "Orin (nvgpu)", "8.7"),
                                 EngineBuildOptions(), lambda path, options: b"y" * 1000)
    assert rebuilt.built and rebuilt.path.read_bytes() == b"y" * 1000
    assert len(remove_stale_temporaries(engines, older_than_s=0.0)) == 1
    assert not any(p.name.endswith(atomic_file.TEMP_SUFFIX) for p in engines.iterdir())


def test_corrupted_engine_is_rebuilt(tmp_path, onnx_file):
    cache, builder = EngineCache(tmp_path / "engines"), FakeBuilder()
    first = cache.get_or_build(onnx_file, ENVIRONMENT, OPTIONS, builder)
    first.path.write_bytes(b"truncated")
    again = cache.get_or_build(onnx_file, ENVIRONMENT, OPTIONS, builder)
    assert again.built and again.path.read_bytes() == builder(onnx_file, OPTIONS)


def test_build_is_announced_with_expected_time(tmp_path, onnx_file, caplog):
    cache, builder = EngineCache(tmp_path / "engines"), FakeBuilder()
    with caplog.at_level(logging.INFO, logger="owss_ros.backends.engine_cache"):
        cache.get_or_build(onnx_file, ENVIRONMENT, OPTIONS, builder)
        announce = [r.getMessage() for r in caplog.records if "building a TensorRT engine" in r.getMessage()]
        assert announce and "Orin (nvgpu)" in announce[0] and "FP16, K 1..16" in announce[0]
        assert "5-20 min on a Jetson" in announce[0]  # no earlier build to go by
        caplog.clear()
        cache.get_or_build(onnx_file, ENVIRONMENT, dataclasses.replace(OPTIONS, precision="fp32"), builder)
        announce = [r.getMessage() for r in caplog.records if "building a TensorRT engine" in r.getMessage()]
        assert "the last build on this GPU took" in announce[0]
