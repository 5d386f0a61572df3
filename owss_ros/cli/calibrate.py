"""``owss_ros calibrate``: write a model's calibration.yaml (lambda_out, lambda_novel, eds_range).

lambda_out (Eq. 1): the anomaly-probability threshold reaching --target-tpr (largest such value)
or --target-fpr (smallest such value) on the calibration split, pooled over its pixels, with the
scoring the node will use (--score-mode, --eds-normalization, beta, gamma, eds_range).
lambda_novel (Eq. 12): the leave-one-shot-out quantile rule (owss_ros.evaluation.novel_threshold)
on k-shot draws: the calibration split's anomaly masks by default, or ground-truth classes the model
does not know (--novel-data ROOT --novel-classes car truck bus).

Example::

    python -m owss_ros.cli calibrate --model runs/synthetic_fast_scnn_dml/model_final.safetensors \\
        --calibration-data data/synthetic_calibration/anomaly --target-tpr 0.95 \\
        --score-mode eds_mmsp --eds-normalization fixed --out models/default/calibration.yaml
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("calibrate", help="calibrate lambda_out / lambda_novel into calibration.yaml",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="the DMLNet the node runs (.safetensors)")
    p.add_argument("--calibration-data", required=True,
                   help="anomaly split NOT used for evaluation (Fishyscapes or StreetHazards layout)")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--target-tpr", type=float, help="share of anomaly pixels to flag (default 0.95)")
    target.add_argument("--target-fpr", type=float, help="share of inlier pixels allowed to be flagged")
    p.add_argument("--score-mode", default="eds_mmsp", choices=("eds_mmsp", "eds", "mmsp"))
    p.add_argument("--eds-normalization", default="fixed", choices=("fixed", "image_max", "image_minmax"))
    p.add_argument("--eds-range", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   help="fixed EDS range (default: the geometric T^2(N-1), 2T^2(N-1))")
    p.add_argument("--beta", type=float, default=20.0)
    p.add_argument("--gamma", type=float, default=0.8)
    p.add_argument("--novel-data", metavar="ROOT",
                   help="Cityscapes-layout root whose --novel-classes are unknown to the model (default: use "
                        "the calibration split's anomaly masks as the novel-class shots)")
    p.add_argument("--novel-classes", nargs="+", default=["car", "truck", "bus"])
    p.add_argument("--novel-split", default="train")
    p.add_argument("--novel-shots", type=int, default=5, help="shots per draw (default 5)")
    p.add_argument("--novel-draws", type=int, default=5, help="draws averaged (default 5)")
    p.add_argument("--novel-quantile", type=float, default=0.95, help="quantile of the rule (default 0.95)")
    p.add_argument("--min-shot-pixels", type=int, default=100)
    p.add_argument("--layout", default="auto", choices=("auto", "fishyscapes", "streethazards"))
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", default="models/default/calibration.yaml")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from owss_ros.evaluation.report_io import command_line
    import torch

    from owss_ros.core.open_set import ScoringConfig
    from owss_ros.evaluation.anomaly_splits import AnomalySplit
    from owss_ros.evaluation.calibration import (
        calibrate_lambda_novel_on_anomalies,
        calibrate_lambda_novel_on_classes,
        calibrate_lambda_out,
        calibration_of,
    )
    from owss_ros.core.calibration import calibration_to_document, write_calibration
    from owss_ros.evaluation.networks import load_network

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    network = load_network(args.model, "dml")
    scoring = ScoringConfig(temperature=network.spec.temperature, beta=args.beta, gamma=args.gamma,
                            score_mode=args.score_mode, eds_normalization=args.eds_normalization,
                            eds_range=tuple(args.eds_range) if args.eds_range else None)
    split = AnomalySplit(args.calibration_data, args.layout, network.spec.class_names)
    target_tpr = None if args.target_fpr is not None else (args.target_tpr or 0.95)
    out_calibration = calibrate_lambda_out(network, split, scoring, target_tpr, args.target_fpr,
                                           progress=not args.no_progress)
    if args.novel_data:
        novel = calibrate_lambda_novel_on_classes(network, args.novel_data, args.novel_classes, args.novel_split,
                                                  args.novel_shots, args.novel_draws, args.novel_quantile,
                                                  args.min_shot_pixels)
    else:
        novel = calibrate_lambda_novel_on_anomalies(network, split, args.novel_shots, args.novel_draws,
                                                    args.novel_quantile, args.min_shot_pixels)
    calibration = calibration_of(network, scoring, out_calibration, novel, args.calibration_data)
    path = write_calibration(args.out, calibration, command_line("calibrate", args))
    document = calibration_to_document(calibration)
    target = f"TPR {out_calibration.target_value}" if out_calibration.target == "tpr" \
        else f"FPR {out_calibration.target_value}"
    print(f"lambda_out = {out_calibration.lambda_out:.6g} (target {target}; achieved TPR "
          f"{out_calibration.achieved_tpr:.4f}, FPR {out_calibration.achieved_fpr:.4f} on the calibration split)")
    print(f"lambda_novel = {novel.lambda_novel:.6g} ({novel.rule}; {novel.source})")
    print(f"eds_range = {document['eds_range']}  ->  {path}")
    return 0
