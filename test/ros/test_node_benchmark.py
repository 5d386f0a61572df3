"""``owss_ros benchmark-node``: a short real run (node process, real ROS 2) and its small helpers.

The run is tiny on purpose (64x128 model input, 4 s at 10 Hz, random-weights fast_scnn) so it
stays well under a minute on 2 shared cores; it checks the report's structure and sanity, not speed.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from owss_ros.cli.main import main as cli_main
from owss_ros.tools.node_benchmark import (
    covered_seconds,
    latency_summary,
    paced_ticks,
    read_process_memory_mb,
    received_latencies,
)
from perception_node_harness import write_test_model


def test_latency_summary_orders_percentiles_and_handles_no_samples():
    summary = latency_summary([5.0, 1.0, 3.0, 2.0, 100.0])
    assert summary["count"] == 5
    assert summary["p50"] == 3.0
    assert summary["p50"] <= summary["p99"] <= summary["max"] == 100.0
    assert latency_summary([]) == {"count": 0, "p50": None, "p99": None, "max": None, "mean": None}


def test_process_memory_is_read_from_proc():
    memory = read_process_memory_mb(os.getpid())
    assert memory["VmRSS"] > 0
    assert memory["VmHWM"] >= memory["VmRSS"]


def test_paced_ticks_keep_the_rate():
    started = time.perf_counter()
    ticks = list(paced_ticks(6, 50.0))
    elapsed = time.perf_counter() - started
    assert ticks == list(range(6))
    assert elapsed >= 5 / 50.0 - 0.002  # the last tick is due 5 periods after the first


def test_received_latencies_need_every_output_of_a_frame():
    stamps = [1_000_000_000, 2_000_000_000, 3_000_000_000]
    arrivals = {1_000_000_000: {"a": 1_010_000_000, "b": 1_020_000_000},  # both back: 20 ms
                2_000_000_000: {"a": 2_005_000_000}}  # one output missing: not received
    latencies, per_topic = received_latencies(stamps, arrivals, ["a", "b"])
    assert latencies == [20.0]
    assert per_topic == {"a": 2, "b": 1}
    assert covered_seconds(stamps, 10.0) == pytest.approx(2.1)


def test_short_benchmark_run_writes_a_complete_report(tmp_path, capsys):
    model = write_test_model(tmp_path / "random_fast_scnn.safetensors")
    report_path = tmp_path / "node_bench.json"
    exit_code = cli_main([
        "benchmark-node", "--model", str(model), "--backend", "auto", "--rate", "10", "--duration", "4",
        "--input-size", "64x128", "--cpu-threads", "1", "--bare-frames", "10", "--warmup-frames", "5",
        "--rss-period", "1", "--cache-dir", str(tmp_path / "cache"), "--work-dir", str(tmp_path / "work"),
        "--json", str(report_path)])
    assert exit_code == 0
    printed = capsys.readouterr().out
    assert "end-to-end" in printed and "ratio node e2e / bare" in printed

    report = json.loads(report_path.read_text())
    node, bare = report["node"], report["bare_backend"]
    assert node["outputs"] == ["/owss_benchmark/perception_node/open_set", "/owss_benchmark/perception_node/anomaly"]
    assert node["sent"]["count"] == 40
    assert 0 < node["received"]["count"] <= node["sent"]["count"]
    assert node["received"]["rate_hz"] > 0
    frames = node["frames"]
    assert frames["diagnostics_available"]
    assert frames["node_processed"] > 0
    assert frames["sent_minus_processed"] == node["sent"]["count"] - frames["node_processed"]
    assert frames["node_dropped_counter"] >= 0
    teaching = node["teaching"]  # /add_class with 5 drive frames + masks while frames flow
    assert teaching["shots"] == 5 and teaching["success"], teaching["message"]
    assert teaching["add_class_ms"] > 0 and teaching["new_client_refusal_ms"] > 0  # the refusal matched the client
    assert 0 <= teaching["frames_missed_during"] <= teaching["frames_sent_during"]
    assert "teaching while frames flow" in printed

    for latency in (node["end_to_end_ms"], bare["infer_ms"]):
        assert latency["count"] > 0
        assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    assert node["node_stage_ms"]["total"]["p50"] > 0
    assert node["node_stage_ms"]["total"]["p50"] <= node["node_stage_ms"]["total"]["p99"]
    assert report["ratio_node_e2e_over_bare"]["p50"] > 0
    assert report["ratio_node_e2e_over_bare"]["p99"] > 0

    rss = node["rss_mb"]
    assert rss["start_mb"] > 0 and rss["end_mb"] > 0
    assert rss["growth_mb"] == pytest.approx(rss["end_mb"] - rss["start_mb"])
    assert len(rss["series"]) >= 3  # start, samples every second, end
    assert node["node_backend"]["backend.backend"] == bare["backend"]["backend"] == "onnxruntime"
    assert node["machine"]["node_exit_code"] == 0
    assert node["machine"]["cpu_seconds"]["node"] > 0
    assert node["node_stage_warmup_samples"] >= 0
