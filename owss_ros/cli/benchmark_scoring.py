"""``owss_ros benchmark-scoring``: graph variants side by side on the sample drive (latency, agreement, floor).

    owss_ros benchmark-scoring --json docs/results/scoring_benchmark.json

Exports the previous graph (literal distance forms, all novel slots) and the current one at
input / 1/2 / 1/4 / 1/8 scoring resolution, with all slots and with dynamic K, plus the network
alone, and runs them interleaved in onnxruntime on one thread (see
:mod:`owss_ros.tools.scoring_benchmark`). Prints latency, ratio to the reference, open-set
agreement with the reference (calibrated scoring, one class taught from the drive's operator
mask), the fastest variant with >= 99% agreement, and the compute floor of this machine.
Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json

from owss_ros.cli.benchmark_model import DEFAULT_MODEL


def register(subparsers) -> None:
    p = subparsers.add_parser("benchmark-scoring", help="graph variants: latency, agreement, compute floor",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="DMLNet weights (.safetensors)")
    p.add_argument("--frames", type=int, default=12, help="sample-drive frames")
    p.add_argument("--repeats", type=int, default=3, help="timed passes over the frames (after 2 warm-up passes)")
    p.add_argument("--slots", type=int, default=16, help="novel slots the reference feeds (the node's old K)")
    p.add_argument("--json", dest="json_path", help="also write the results as JSON here")
    p.set_defaults(func=run)


def run(args) -> int:
    import tempfile
    from dataclasses import asdict

    import torch

    from owss_ros.backends.graph_inputs import GraphInputs
    from owss_ros.core.atomic_file import atomic_write_text
    from owss_ros.core.checkpoint import load_model
    from owss_ros.core.model import ImageNormalizer
    from owss_ros.core.npm import novel_prototype
    from owss_ros.runtime.engine import base_class_set
    from owss_ros.runtime.model_files import ModelFiles
    from owss_ros.tools.demo.sample_drive import CAMERA_SIZE, make_sample_drive
    from owss_ros.tools.scoring_benchmark import (build_variants, fastest_agreeing, format_results, load_frames,
                                                  measured_gflops, network_macs, run_variants)

    torch.set_num_threads(1)
    files = ModelFiles.open(args.model)
    model, spec = load_model(args.model)
    model.eval()
    hw = (CAMERA_SIZE[1], CAMERA_SIZE[0])
    with tempfile.TemporaryDirectory(prefix="owss_scoring_") as scratch:
        drive = make_sample_drive(scratch, num_frames=args.frames)
        frames = load_frames(drive.frames)
        mask = torch.from_numpy(load_frames([drive.operator_mask])[0][..., 0] > 127)
    config = files.scoring_defaults()
    with torch.inference_mode():
        image = torch.from_numpy(frames[drive.operator_frame]).permute(2, 0, 1)[None].float()
        embedding = model(ImageNormalizer("NCHW", "RGB")(image))
        prototype, _ = novel_prototype(embedding, mask[None])
    lambda_novel = config.lambda_novel
    if files.known_pixels is not None:
        lambda_novel, _ = files.known_pixels.bounded_lambda(lambda_novel, prototype)
    class_set, _ = base_class_set(spec.class_names, args.slots).with_novel("taught", prototype.numpy(),
                                                                         lambda_novel=lambda_novel)
    inputs = GraphInputs.build(class_set, config)
    variants = build_variants(model, hw, args.slots)
    results = run_variants(variants, frames, inputs, hw, args.repeats)
    gflops = measured_gflops()
    macs = network_macs(model, hw)
    floor_ms = 2 * macs / (gflops * 1e9) * 1e3
    best = fastest_agreeing(results)
    network = next(r for r in results if r.name == "network")
    print(f"model {args.model}; {len(frames)} sample-drive frames {hw[1]}x{hw[0]}, {args.repeats} passes; "
          f"onnxruntime {__import__('onnxruntime').__version__}, 1 thread; scoring {config.score_mode.value} / "
          f"{config.eds_normalization.value}, one taught class (lambda_novel {lambda_novel:.3f})")
    print(format_results(results))
    print(f"fastest variant with >= 99% open-set agreement: {best.name} ({best.median_ms:.2f} ms, "
          f"{100 * best.agreement:.3f}%)")
    print(f"floor: network {macs / 1e9:.3f} GMAC; this machine {gflops:.0f} GFLOP/s fp32 on one thread "
          f"(1024^2 matmul) -> {floor_ms:.2f} ms; network measured {network.median_ms:.2f} ms "
          f"({network.median_ms / floor_ms:.1f}x the floor)")
    if args.json_path:
        payload = {"model": args.model, "frames": len(frames), "repeats": args.repeats, "input_hw": list(hw),
                   "results": [asdict(r) for r in results], "fastest_99": best.name, "gflops": gflops,
                   "network_gmac": macs / 1e9, "floor_ms": floor_ms}
        atomic_write_text(args.json_path, json.dumps(payload, indent=1))
        print(f"wrote {args.json_path}")
    return 0
