"""Parameter counts and CPU latency of the segmentation backbones.

Run ``python -m owss_ros.core.model.benchmark [--size 256 512] [--threads 1 2] [--onnx]``.
Times ``net(x)`` (encoder + head at 1/8 resolution, no upsampling) in torch eager mode and,
with ``--onnx``, in onnxruntime (CPU) after exporting with dynamic H/W. Used for the figures
quoted in :mod:`.fast_scnn`; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from .registry import available_backbones, build_segmentation_net


def median_latency_ms(run: Callable[[], object], runs: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def _runs_for(name: str, requested: int) -> int:
    return requested if name == "fast_scnn" else max(1, requested // 5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs=2, default=(256, 512), metavar=("H", "W"))
    parser.add_argument("--threads", type=int, nargs="+", default=(1, 2))
    parser.add_argument("--runs", type=int, default=15, help="timed runs for fast_scnn (PSPNets get runs // 5)")
    parser.add_argument("--num-outputs", type=int, default=19)
    parser.add_argument("--backbones", nargs="+", default=list(available_backbones()))
    parser.add_argument("--onnx", action="store_true", help="also time onnxruntime (CPU)")
    args = parser.parse_args(argv)

    x = torch.randn(1, 3, *args.size)
    for name in args.backbones:
        torch.manual_seed(0)
        net = build_segmentation_net(name, args.num_outputs).eval()
        params = sum(p.numel() for p in net.parameters())
        head_params = sum(p.numel() for p in net.head.parameters())
        print(f"{name}: {params / 1e6:.2f} M parameters ({head_params / 1e6:.3f} M in the head)")
        runs = _runs_for(name, args.runs)
        for threads in args.threads:
            torch.set_num_threads(threads)
            with torch.inference_mode():
                ms = median_latency_ms(lambda: net(x), runs)
            print(f"  torch eager   {threads} thread(s) {args.size[0]}x{args.size[1]}: {ms:8.1f} ms")
        if args.onnx:
            import onnxruntime as ort

            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"{name}.onnx"
                torch.onnx.export(
                    net, x, str(path), dynamo=False, opset_version=17, input_names=["image"],
                    dynamic_axes={"image": {2: "height", 3: "width"}},
                )
                for threads in args.threads:
                    options = ort.SessionOptions()
                    options.intra_op_num_threads = threads
                    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                    feed = {"image": x.numpy()}
                    ms = median_latency_ms(lambda: sess.run(None, feed), runs)
                    print(f"  onnxruntime   {threads} thread(s) {args.size[0]}x{args.size[1]}: {ms:8.1f} ms")


if __name__ == "__main__":
    main()
