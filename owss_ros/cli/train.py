"""``owss_ros train``: train a DMLNet (DCE + VL) or its cross-entropy twin from a YAML config.

Multi-process (DDP): ``torchrun --nproc_per_node=K -m owss_ros.cli train --config ...``.
"""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a DMLNet or its cross-entropy twin",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML training config (see config/training/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set schedule.iterations=100 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT_DIR/checkpoint_last.pt")
    p.add_argument("--stop-at", type=int, default=None, metavar="N",
                   help="pause at iteration N with a checkpoint (the schedule still spans schedule.iterations; "
                        "--resume continues); for comparisons at equal budget and for splitting long jobs")
    p.add_argument("--minutes", type=float, default=None, metavar="M",
                   help="pause after M minutes of training wall time (counted across --resume) with a last "
                        "evaluation, history.json and model_last.safetensors: comparisons at equal CPU time")
    p.set_defaults(func=run)


def run(args) -> int:
    from owss_ros.training.config import load_train_config
    from owss_ros.training.distributed import shutdown_distributed
    from owss_ros.training.trainer import Trainer

    if args.minutes is not None and args.minutes <= 0:
        raise SystemExit(f"--minutes must be positive, got {args.minutes}")
    config = load_train_config(args.config, args.overrides)
    trainer = Trainer(config)
    if args.resume and trainer.resume() and trainer.ctx.is_main:
        print(f"resumed from {config.output_dir} at iteration {trainer.iteration}")
    stop_after_s = None if args.minutes is None else 60.0 * args.minutes
    summary = trainer.fit(stop_at=args.stop_at, stop_after_s=stop_after_s)
    shutdown_distributed(trainer.ctx)
    if trainer.ctx.is_main:
        print(json.dumps(summary, indent=1))
        if summary.get("stopped_on_time"):
            print(f"outputs in {config.output_dir}: model_last.safetensors, history.json, checkpoint_last.pt")
        elif summary.get("paused"):
            print(f"paused in {config.output_dir}: checkpoint_last.pt (--resume continues)")
        else:
            print(f"outputs in {config.output_dir}: model_final.safetensors, training_curves.png, history.json")
    return 0
