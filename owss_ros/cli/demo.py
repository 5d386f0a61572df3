"""``owss_ros demo``: the node on the bundled model over a sample drive, with /add_class mid-way."""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="run the node demo (sample drive, teach a class, summary)",
                              description=__doc__)
    p.add_argument("--model", type=Path, default=Path("models/default/model.safetensors"))
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    p.add_argument("--backend", default="auto", choices=("auto", "onnxruntime", "torch", "tensorrt"))
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic sample drive")
    p.set_defaults(func=run)


def run(args) -> int:
    from owss_ros.tools.demo.run_demo import run_demo

    summary = run_demo(args.out.resolve(), args.model, args.backend, args.frames, args.seed)
    print(summary.read_text())
    print(f"[demo] summary: {summary}\n[demo] picture strip: {summary.parent / 'strip.png'}")
    return 0
