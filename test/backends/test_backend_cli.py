"""The export / build-engine / benchmark-backends sub-commands, run in-process."""

from __future__ import annotations

import argparse
import hashlib
import json
import re

import pytest

from owss_ros.backends.factory import backend_availability
from owss_ros.cli import benchmark_backends, build_engine, export
from owss_ros.cli.main import SUBCOMMAND_MODULES


def _run(module, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="owss_ros")
    module.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_subcommands_are_registered():
    for name in ("export", "build_engine", "benchmark_backends"):
        assert f"owss_ros.cli.{name}" in SUBCOMMAND_MODULES


def test_export_prints_checker_size_and_hash(random_model_path, tmp_path, capsys):
    out = tmp_path / "model.onnx"
    assert _run(export, ["export", "--model", str(random_model_path), "--out", str(out), "--fixed-size", "64x128",
                         "--max-prototypes", "3"]) == 0
    printed = capsys.readouterr().out
    data = out.read_bytes()
    assert "onnx.checker full_check passed" in printed
    assert f"size: {len(data)} bytes" in printed
    assert f"sha256: {hashlib.sha256(data).hexdigest()}" in printed
    metadata = json.loads(re.search(r"metadata: (.*)", printed).group(1))
    assert metadata["owss_ros.input_size"] == "64x128" and metadata["owss_ros.max_prototypes"] == "3"


def test_build_engine_errors_clearly_without_tensorrt(random_model_path, tmp_path, capsys):
    if backend_availability()["tensorrt"].available:
        pytest.skip("TensorRT and a GPU are present here")
    code = _run(build_engine, ["build-engine", "--model", str(random_model_path), "--input-size", "64x128",
                               "--cache-dir", str(tmp_path)])
    assert code == 2
    assert re.search(r"error: cannot build a TensorRT engine here: (TensorRT not installed|no CUDA GPU)",
                     capsys.readouterr().err)


def test_benchmark_reports_stages_ratio_and_skips(random_model_path, tmp_path, capsys):
    report = tmp_path / "bench.json"
    code = _run(benchmark_backends, ["benchmark-backends", "--model", str(random_model_path), "--sizes", "64x128",
                                     "--frames", "3", "--warmup", "1", "--json", str(report),
                                     "--backends", "torch,onnxruntime,tensorrt", "--cache-dir", str(tmp_path)])
    assert code == 0
    table = capsys.readouterr().out
    assert "onnxruntime/torch at 64x128" in table
    data = json.loads(report.read_text())
    by_backend = {r["backend"]: r for r in data["results"]}
    assert {"torch", "onnxruntime"} <= set(by_backend)
    for row in by_backend.values():
        assert row["frames"] == 3 and row["input_hw"] == [64, 128] and row["fps"] > 0
        for stage in ("preprocess", "inference", "copy_out", "total"):
            assert 0 < row["stages"][stage]["median_ms"] <= row["stages"][stage]["p99_ms"]
    ratio = data["onnxruntime_over_torch"]["64x128"]["total"]
    medians = {name: row["stages"]["total"]["median_ms"] for name, row in by_backend.items()}
    expected = medians["onnxruntime"] / medians["torch"]
    assert ratio == pytest.approx(expected)
    if not backend_availability()["tensorrt"].available:
        assert "tensorrt" in data["skipped"] and "skipped tensorrt:" in table
