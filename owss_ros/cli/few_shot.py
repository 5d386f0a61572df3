"""``owss_ros few-shot``: incremental few-shot learning in the shape of paper Table 4.

Base model = a DMLNet trained without the novel classes (e.g. the 16-class model with car, truck,
bus excluded). Settings 16+1 (car) and 16+3 (car, truck, bus one by one); k-shot draws by seed
from the train split; rows FT, PLM-latest, PLM-all, NPM (+ Base and the optional Oracle);
per-class IoU on the val split, mIoU old / novel and their harmonic mean, mean ± std over draws.

Example::

    python -m owss_ros.cli few-shot --base-model runs/synthetic_fast_scnn_dml16/model_final.safetensors \\
        --oracle-model runs/synthetic_fast_scnn_dml/model_final.safetensors --data data/synthetic \\
        --shots 5 1 --draws 3 --out runs/few_shot
"""

from __future__ import annotations

import argparse
import dataclasses
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("few-shot", help="incremental few-shot table (paper Table 4): FT, PLM, NPM",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base-model", required=True, help="DMLNet trained without the novel classes")
    p.add_argument("--oracle-model", help="DMLNet trained on all classes (the upper-bound row; optional)")
    p.add_argument("--data", required=True, help="Cityscapes-layout root (shots from --train-split, "
                                                 "evaluation on --val-split)")
    p.add_argument("--train-split", default="train")
    p.add_argument("--val-split", default="val")
    p.add_argument("--novel-classes", nargs="+", default=["car", "truck", "bus"],
                   help="novel classes in teaching order (default car truck bus)")
    p.add_argument("--stages", nargs="+", type=int, default=[1, 3],
                   help="evaluate after this many taught classes (default 1 3 = 16+1 and 16+3)")
    p.add_argument("--shots", nargs="+", type=int, default=[5, 1], help="shots per class (default 5 1)")
    p.add_argument("--draws", type=int, default=3, help="draws (seeds) per shot count (default 3)")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--min-shot-pixels", type=int, default=100,
                   help="a shot image must hold at least this many pixels of the class (default 100)")
    p.add_argument("--methods", nargs="+", default=["FT", "PLM-latest", "PLM-all", "NPM"],
                   choices=["FT", "PLM-latest", "PLM-all", "NPM"])
    p.add_argument("--plm-steps", type=int, default=100, help="Adam steps per PLM branch head (default 100)")
    p.add_argument("--plm-lr", type=float, default=5e-3)
    p.add_argument("--ft-steps", type=int, default=20, help="Adam steps of FT per class (default 20)")
    p.add_argument("--ft-lr", type=float, default=1e-3)
    p.add_argument("--lambda-vl", type=float, default=0.01, help="VL weight of the PLM / FT loss (paper 0.01)")
    p.add_argument("--lambda-novel", type=float,
                   help="NPM threshold (squared distance) for every class; default: the leave-one-shot-out "
                        "quantile rule on each class's own shots")
    p.add_argument("--novel-quantile", type=float, default=0.95, help="quantile of the lambda_novel rule")
    p.add_argument("--calibration-file", metavar="YAML", help="take lambda_novel from a calibration.yaml")
    p.add_argument("--known-pixels", metavar="SAFETENSORS",
                   help="NPM guard: cap each class's lambda_novel by this known-pixel sample of the base model "
                        "(owss_ros sample-known-pixels on a calibration split)")
    p.add_argument("--guard-quantile", type=float, metavar="Q",
                   help="with --known-pixels: the share of the sample a class may take (default: the sample's "
                        "own, set by sample-known-pixels)")
    p.add_argument("--background-prototypes", type=int, default=0, metavar="K",
                   help="beyond the paper, as the node teaches: up to K (0-4) background prototypes per NPM "
                        "class from the shots' cells flagged unknown outside the masks (default 0 = the paper)")
    p.add_argument("--unknown-calibration", metavar="YAML",
                   help="the base model's calibration.yaml (lambda_out and its scoring): which shot cells "
                        "are unknown, for --background-prototypes")
    p.add_argument("--max-val-images", type=int, default=0, help="evaluate on the first N val images (0 = all)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    p.add_argument("--out", default="runs/few_shot", help="output folder (few_shot_results.json, table.md)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    import torch

    from owss_ros.evaluation.few_shot_benchmark import FewShotSettings, few_shot_table, run_few_shot_benchmark
    from owss_ros.evaluation.few_shot_learners import TeachingOptions
    from owss_ros.evaluation.networks import load_network
    from owss_ros.core.atomic_file import atomic_write_text
    from owss_ros.evaluation.report_io import command_line, write_json
    from owss_ros.core.calibration import CalibrationError, load_calibration

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.guard_quantile is not None and not args.known_pixels:  # refused before any network is loaded
        print("few-shot: --guard-quantile needs --known-pixels", file=sys.stderr)
        return 2
    lambda_novel = args.lambda_novel
    if args.calibration_file:
        if lambda_novel is not None:
            print("few-shot: give --lambda-novel or --calibration-file, not both", file=sys.stderr)
            return 2
        lambda_novel = load_calibration(Path(args.calibration_file)).lambda_novel
        if lambda_novel is None:
            print(f"few-shot: {args.calibration_file} has no lambda_novel", file=sys.stderr)
            return 2
    if args.background_prototypes and not args.unknown_calibration:
        print("few-shot: --background-prototypes needs --unknown-calibration", file=sys.stderr)
        return 2
    base = load_network(args.base_model, "dml")
    scoring = None
    if args.unknown_calibration:
        unknown_calibration = load_calibration(Path(args.unknown_calibration))
        try:
            unknown_calibration.check_model(base.fingerprint, base.spec.temperature)
        except CalibrationError as error:
            print(f"few-shot: --unknown-calibration: {error}", file=sys.stderr)
            return 2
        if unknown_calibration.lambda_out is None:
            print(f"few-shot: {args.unknown_calibration} has no lambda_out", file=sys.stderr)
            return 2
        scoring = unknown_calibration.scoring_config()
    if args.calibration_file:  # lambda_novel is a distance in the base model's space: its calibration only
        load_calibration(Path(args.calibration_file)).check_model(base.fingerprint, base.spec.temperature)
    oracle = load_network(args.oracle_model, "dml") if args.oracle_model else None
    known_pixels = None
    if args.known_pixels:
        from owss_ros.core.novel_guard import KnownPixelSample

        known_pixels = KnownPixelSample.load(args.known_pixels, expected_fingerprint=base.fingerprint)
        if args.guard_quantile is not None:
            known_pixels = dataclasses.replace(known_pixels, guard_quantile=args.guard_quantile)
    teaching = TeachingOptions(plm_steps=args.plm_steps, plm_lr=args.plm_lr, ft_steps=args.ft_steps,
                               ft_lr=args.ft_lr, lambda_vl=args.lambda_vl, lambda_novel=lambda_novel,
                               novel_quantile=args.novel_quantile, known_pixels=known_pixels,
                               methods=tuple(args.methods), background_prototypes=args.background_prototypes,
                               scoring=scoring)
    settings = FewShotSettings(
        data_root=args.data, novel_classes=tuple(args.novel_classes), stages=tuple(args.stages),
        shots=tuple(args.shots), draws=args.draws, first_seed=args.first_seed, train_split=args.train_split,
        val_split=args.val_split, min_shot_pixels=args.min_shot_pixels, max_val_images=args.max_val_images,
        teaching=teaching, progress=not args.no_progress)
    document = run_few_shot_benchmark(base, settings, oracle)
    document["command"] = command_line("few-shot", args)
    table = few_shot_table(document)
    out = Path(args.out)
    write_json(out / "few_shot_results.json", document)
    atomic_write_text(out / "table.md", table + "\n")
    print(table)
    print(f"\nNPM lambda_novel: {document['teaching']['lambda_novel_rule']}; spread: {document['spread']}")
    print(f"written to {out}: few_shot_results.json, table.md")
    return 0
