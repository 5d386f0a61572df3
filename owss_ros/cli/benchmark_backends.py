"""``owss_ros benchmark-backends``: per backend and size, median / p99 latency of each stage and fps.

    owss_ros benchmark-backends --sizes 512x1024,256x512 --frames 50 --json bench.json

Backends run interleaved on the same synthetic frames (camera size = model size) with one
taught-class slot and the default scoring parameters; warm-up frames are excluded. Without
--model (and without models/default/model.safetensors) a random-weights fast_scnn DMLNet is
used: latency does not depend on the weights' values. Unavailable backends are listed as
skipped with the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from owss_ros.backends.onnx_metadata import DEFAULT_SCORE_RESOLUTION, SCORE_RESOLUTIONS
from owss_ros.cli.benchmark_model import DEFAULT_MODEL, benchmark_model


def register(subparsers) -> None:
    p = subparsers.add_parser("benchmark-backends", help="time torch / onnxruntime / tensorrt side by side",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help=f"weights (.safetensors); default {DEFAULT_MODEL} if present, else random")
    p.add_argument("--backends", default="torch,onnxruntime,tensorrt", help="comma-separated backend names")
    p.add_argument("--sizes", default="512x1024,256x512", help="comma-separated model input sizes HxW")
    p.add_argument("--frames", type=int, default=50, help="measured frames per backend and size")
    p.add_argument("--warmup", type=int, default=5, help="warm-up frames (excluded)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch and onnxruntime (0: defaults)")
    p.add_argument("--providers", help="onnxruntime providers (default: CUDA if available, else CPU)")
    p.add_argument("--torch-device", default="cpu", help="device of the torch backend (cpu, cuda)")
    p.add_argument("--score-resolution", choices=SCORE_RESOLUTIONS, default=DEFAULT_SCORE_RESOLUTION,
                   help="score at input resolution, 1/2, 1/4 or 1/8 (maps resized afterwards)")
    p.add_argument("--cache-dir", help="cache for the ONNX export and engines (default: a temporary folder)")
    p.add_argument("--json", dest="json_path", help="also write the results as JSON here")
    p.set_defaults(func=run)


def run(args) -> int:
    import tempfile

    import torch

    from owss_ros.core.atomic_file import atomic_write_text
    from owss_ros.tools.backend_benchmark import format_table, synthetic_frames, time_backends, timing_to_json
    from owss_ros.backends.factory import BackendUnavailableError, backend_availability, create_backend
    from owss_ros.backends.onnx_metadata import parse_hw
    from owss_ros.backends.graph_inputs import GraphInputs
    from owss_ros.core.checkpoint import read_spec
    from owss_ros.core.class_set import ClassSet
    from owss_ros.core.open_set import ScoringConfig

    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    sizes = [parse_hw(s.strip()) for s in args.sizes.split(",") if s.strip()]
    if args.threads:
        torch.set_num_threads(args.threads)
    availability = backend_availability()
    skipped = {n: availability[n].reason for n in names if n in availability and not availability[n].available}
    unknown = [n for n in names if n not in availability]
    if unknown:
        print(f"error: unknown backend(s) {unknown}; choose from {sorted(availability)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="owss_bench_") as scratch:
        model_path, model_label = benchmark_model(args.model, Path(scratch))
        spec = read_spec(model_path)
        config = ScoringConfig()
        class_set = ClassSet.from_base(spec.class_names, capacity=1)
        inputs = GraphInputs.build(class_set, config)
        cache_dir = Path(args.cache_dir) if args.cache_dir else Path(scratch) / "cache"
        rows, ratios = [], {}
        for hw in sizes:
            backends = {}
            for name in names:
                if name in skipped:
                    continue
                try:
                    backends[name] = create_backend(
                        name, model_path=model_path, input_hw=hw, providers=args.providers,
                        intra_op_threads=args.threads or None, torch_device=args.torch_device, cache_dir=cache_dir,
                        score_resolution=args.score_resolution)
                except (BackendUnavailableError, RuntimeError, ImportError) as error:
                    skipped[name] = str(error)
            timings = time_backends(backends, synthetic_frames(hw), inputs, args.frames, args.warmup)
            rows.extend(timings.values())
            if "torch" in timings and "onnxruntime" in timings:
                ratios[f"{hw[0]}x{hw[1]}"] = {
                    s: timings["onnxruntime"].stages[s].median_ms / timings["torch"].stages[s].median_ms
                    for s in ("inference", "total")}
    print(f"model: {model_label}; scoring at {args.score_resolution} resolution; frames {args.frames} "
          f"(+{args.warmup} warm-up); "
          f"threads {args.threads or 'library default'} (torch uses {torch.get_num_threads()})")
    print(format_table(rows, skipped, ratios))
    if args.json_path:
        payload = {"model": model_label, "score_resolution": args.score_resolution, "frames": args.frames,
                   "warmup": args.warmup,
                   "threads": args.threads or None, "results": [timing_to_json(r) for r in rows],
                   "onnxruntime_over_torch": ratios, "skipped": skipped}
        atomic_write_text(args.json_path, json.dumps(payload, indent=1))
        print(f"wrote {args.json_path}")
    return 0
