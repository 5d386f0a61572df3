"""The TensorRT checks that need a CUDA GPU and TensorRT, through the project's own code.

Run by scripts/gpu_check.sh (which bounds it to 5 minutes). Steps, each reported PASS/FAIL:
  1. export the int32-label ONNX (TensorRT variant) and the uint8 one (onnxruntime); lint both
     and the fp16-body graph against the ONNX-TensorRT rules;
  2. build FP32 and FP16 engines with prepare_engine (the recipe this TensorRT gets is printed);
  3. dump each engine's layers with the IEngineInspector: FP16 must keep every scoring layer
     out of half precision, FP32 must have no half layer at all;
  4. compare each engine with torch (eager, the reference) and onnxruntime: close-set and
     open-set labels, anomaly, then a taught class (embed -> prototype -> open-set id), then
     K changing (K max -> 1 -> K max: rebinding);
  5. re-open the cached engine: prepare_engine must not rebuild, the backend must load it;
  6. latency (median / p99 over frames) of TensorRT FP32, FP16, onnxruntime and torch.
Without a GPU or TensorRT it prints SKIPPED with the reason and exits 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS: list[dict] = []


def record(step: str, ok: bool, detail: str) -> bool:
    RESULTS.append({"step": step, "ok": bool(ok), "detail": detail})
    print(f"[{'PASS' if ok else 'FAIL'}] {step}: {detail}", flush=True)
    return ok


def frames(hw: tuple[int, int], count: int, seed: int = 0) -> list[np.ndarray]:
    """Frames with regions and texture (like camera images), deterministic."""
    rng = np.random.default_rng(seed)
    out = []
    h, w = hw
    for _ in range(count):
        blocks = rng.integers(0, 256, (-(-h // 16), -(-w // 16), 3), dtype=np.uint8)
        frame = np.kron(blocks, np.ones((16, 16, 1), np.uint8))[:h, :w].astype(np.int16)
        frame += rng.integers(-20, 21, frame.shape, dtype=np.int16)
        out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return out


def half_tensors(entry: dict, key: str) -> bool:
    """Whether an inspector layer entry has a half-precision tensor among its ``key`` tensors."""
    return any(any(tag in str(t.get("Format/Datatype", "")).upper() for tag in ("HALF", "FP16"))
               for t in entry.get(key, []) if isinstance(t, dict))


def compare(name: str, got, expected, label_min: float, anomaly_max: float) -> bool:
    close = float((got.close_labels == expected.close_labels).mean())
    open_ = float((got.open_labels == expected.open_labels).mean())
    diff = float(np.abs(got.anomaly - expected.anomaly).max())
    return record(name, close >= label_min and open_ >= label_min and diff <= anomaly_max,
                  f"close equal {close:.5f}, open equal {open_:.5f} (need >= {label_min}), anomaly max |diff| "
                  f"{diff:.2e} (need <= {anomaly_max:.0e})")


def latency(backend, frame, inputs, count: int) -> tuple[float, float]:
    for _ in range(3):
        backend.infer(frame, inputs)
    times = []
    for _ in range(count):
        start = time.perf_counter()
        backend.infer(frame, inputs)
        times.append(1e3 * (time.perf_counter() - start))
    return float(np.median(times)), float(np.percentile(times, 99))


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--model", default=str(ROOT / "models" / "default" / "model.safetensors"))
    cli.add_argument("--size", default="256x512", help="model input HxW")
    cli.add_argument("--k", type=int, default=4, help="novel class slots of the export (K max)")
    cli.add_argument("--frames", type=int, default=50, help="frames per latency measurement")
    cli.add_argument("--device-index", type=int, default=0)
    cli.add_argument("--out", default=str(ROOT / "out" / "gpu_check"))
    cli.add_argument("--cpu-dry-run", action="store_true",
                        help="no TensorRT: run every non-TensorRT step on CPU with onnxruntime standing in for the "
                             "engines (checks this script itself)")
    args = cli.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from owss_ros.backends.tensorrt_build import tensorrt_availability

    ok, reason = tensorrt_availability(args.device_index)
    if not ok and not args.cpu_dry_run:
        print(f"SKIPPED: the TensorRT GPU check needs TensorRT and a CUDA GPU here: {reason}")
        return 0

    import onnx
    import torch

    from owss_ros.backends.factory import create_backend
    from owss_ros.backends.graph_inputs import GraphInputs
    from owss_ros.backends.onnx_export import ExportOptions, export_onnx
    from owss_ros.backends.onnx_fp16 import convert_body_to_fp16
    from owss_ros.backends.onnx_metadata import parse_hw
    from owss_ros.backends.onnx_tensorrt_lint import lint_tensorrt
    from owss_ros.backends.pipeline import FramePipeline
    from owss_ros.backends.tensorrt_backend import TensorRTBackend, prepare_engine
    from owss_ros.backends.tensorrt_build import (
        engine_layer_information,
        half_precision_scoring_layers,
        is_body_layer,
        recipe_for,
        tensorrt_capabilities,
    )
    from owss_ros.backends.torch_backend import TorchBackend
    from owss_ros.core.checkpoint import load_model
    from owss_ros.core.class_set import ClassSet
    from owss_ros.core.open_set import ScoringConfig

    hw = parse_hw(args.size)
    dry = args.cpu_dry_run
    version = "none (dry run)" if dry else tensorrt_capabilities().version
    device = "cpu" if dry else f"cuda:{args.device_index}"
    gpu = "no GPU (dry run)" if dry else torch.cuda.get_device_name(args.device_index)
    print(f"TensorRT {version} on {gpu} ({device}); torch {torch.__version__}", flush=True)
    if not dry:
        print(f"recipes: fp32 -> {recipe_for('fp32').describe()}, fp16 -> {recipe_for('fp16').describe()}", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="owss_gpu_check_"))
    cache_dir = work / "engines"

    # 1. exports + lint
    trt_onnx = export_onnx(args.model, work / "trt.onnx", ExportOptions(max_prototypes=args.k, label_dtype="int32"))
    ort_onnx = export_onnx(args.model, work / "ort.onnx", ExportOptions(max_prototypes=args.k))
    for name, model in (("int32", onnx.load(str(trt_onnx.path))), ("uint8", onnx.load(str(ort_onnx.path))),
                        ("fp16 body", convert_body_to_fp16(onnx.load(str(trt_onnx.path))))):
        violations = lint_tensorrt(model)
        record(f"lint {name} export", True, f"{len(violations)} documented-rule findings"
               + (": " + "; ".join(map(str, violations[:5])) if violations else ""))

    model, _ = load_model(args.model)
    num_classes = model.num_classes
    torch_ref = TorchBackend(FramePipeline(model), hw, device)
    ort = create_backend("onnxruntime", onnx_path=ort_onnx.path, input_hw=hw, model_path=args.model,
                         providers="cuda" if "CUDAExecutionProvider" in __import__("onnxruntime")
                         .get_available_providers() else "cpu", device_index=args.device_index)
    test_frames = frames(hw, 3, seed=7)
    unused_max = GraphInputs.unused_slots(args.k, num_classes, ScoringConfig(), num_classes)
    unused_one = GraphInputs.unused_slots(1, num_classes, ScoringConfig(), num_classes)
    summary = {"tensorrt": version, "gpu": gpu, "size": args.size}
    engines = {}
    tolerances = {"fp32": (0.999, 1e-3), "fp16": (0.99, 2e-2), "dry-run": (0.999, 1e-3)}

    for precision in ("dry-run",) if dry else ("fp32", "fp16"):
        label_min, anomaly_max = tolerances[precision]
        try:
            if dry:
                backend, cached, info = ort, None, ort.info
                record("dry run", True, "onnxruntime stands in for the engines; build, inspector and cache skipped")
            else:
                # 2. build
                start = time.perf_counter()
                cached, info = prepare_engine(trt_onnx.path, hw, cache_dir, precision,
                                              device_index=args.device_index)
                build_s = time.perf_counter() - start
                record(f"{precision} build", cached.built, f"{cached.path.name} in {build_s:.1f} s "
                       f"(recipe {cached.components['environment']['recipe']})")
                backend = TensorRTBackend(cached.path, info, hw, device_index=args.device_index)
                engines[precision] = (cached, backend)

                # 3. layer precisions from the engine inspector
                layers = engine_layer_information(backend.engine)
                (out / f"layers_{precision}.json").write_text(json.dumps(layers, indent=1))
                flagged = half_precision_scoring_layers(layers)
                half_body = [e.get("Name", "") for e in layers if is_body_layer(str(e.get("Name", "")))
                             and half_tensors(e, "Outputs")]
                if precision == "fp32":
                    any_half = [e.get("Name", "") for e in layers
                                if half_tensors(e, "Inputs") or half_tensors(e, "Outputs")]
                    record("fp32 engine has no half layers", bool(layers) and not any_half,
                           f"{len(layers)} layers, {len(any_half)} half")
                else:
                    record("fp16 scoring stays fp32", bool(layers) and not flagged and bool(half_body),
                           f"{len(layers)} layers, {len(half_body)} body layers in half, scoring layers in half: "
                           f"{flagged[:5] or 'none'}")

            # 4. agreement: plain frames, a taught class, K changing
            for i, frame in enumerate(test_frames):
                expected = torch_ref.infer(frame, unused_max)
                compare(f"{precision} vs torch, frame {i}", backend.infer(frame, unused_max), expected, label_min,
                        anomaly_max)
                if i == 0:
                    compare(f"{precision} vs onnxruntime, frame 0", backend.infer(frame, unused_max),
                            ort.infer(frame, unused_max), label_min, anomaly_max)
            frame = test_frames[0]
            y, x = hw[0] // 2, hw[1] // 2
            embedding = backend.embed(frame)
            reference_embedding = torch_ref.embed(frame)
            record(f"{precision} embed vs torch", np.abs(embedding - reference_embedding).max() <= 10 * anomaly_max,
                   f"max |diff| {np.abs(embedding - reference_embedding).max():.2e}")
            classes = ClassSet.from_base(list(info.class_names), capacity=args.k)
            taught, _ = classes.with_novel("gpu_check_class", embedding[:, y, x], lambda_novel=4.0)
            taught_inputs = GraphInputs.build(taught, ScoringConfig())
            got, expected = backend.infer(frame, taught_inputs), torch_ref.infer(frame, taught_inputs)
            record(f"{precision} taught class", int(got.open_labels[y, x]) == num_classes,
                   f"open label at the shot pixel {int(got.open_labels[y, x])} (want {num_classes}); "
                   f"{int((got.open_labels == num_classes).sum())} pixels taught vs torch "
                   f"{int((expected.open_labels == num_classes).sum())}")
            compare(f"{precision} taught class vs torch", got, expected, label_min, anomaly_max)
            for k_name, inputs in (("K=1", unused_one), (f"K={args.k}", unused_max), ("K=1 again", unused_one)):
                compare(f"{precision} {k_name} vs torch", backend.infer(frame, inputs), torch_ref.infer(frame, inputs),
                        label_min, anomaly_max)

            if dry:
                continue
            # 5. cached engine re-opened without rebuilding
            start = time.perf_counter()
            again, _ = prepare_engine(trt_onnx.path, hw, cache_dir, precision, device_index=args.device_index)
            TensorRTBackend(again.path, info, hw, device_index=args.device_index).infer(frame, unused_max)
            record(f"{precision} cached engine reused", not again.built and again.path == cached.path,
                   f"found and loaded in {time.perf_counter() - start:.2f} s")
        except Exception as error:  # noqa: BLE001 - report and go on with the next step
            record(f"{precision} (aborted)", False, f"{type(error).__name__}: {error}")
            traceback.print_exc()

    if not dry:
        timing = sorted(p.name for p in cache_dir.glob("timing-*.cache")) if cache_dir.is_dir() else []
        record("timing cache persisted", bool(timing), ", ".join(timing) or "none")

    # 6. latency
    frame = test_frames[0]
    rows = [(f"tensorrt {p}", b) for p, (_, b) in engines.items()] + [("onnxruntime", ort), ("torch", torch_ref)]
    summary["latency_ms"] = {}
    for name, backend in rows:
        median, p99 = latency(backend, frame, unused_max, args.frames)
        summary["latency_ms"][name] = {"median": median, "p99": p99}
        print(f"latency {name:16s} {args.size}: median {median:7.2f} ms, p99 {p99:7.2f} ms", flush=True)

    summary["results"] = RESULTS
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    failed = [r for r in RESULTS if not r["ok"]]
    print(f"{len(RESULTS) - len(failed)} passed, {len(failed)} failed; summary in {out / 'summary.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
