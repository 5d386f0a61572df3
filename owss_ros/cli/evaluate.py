"""``owss_ros evaluate``: anomaly segmentation of a DMLNet and its cross-entropy twin, side by side.

Rows MSP / MaxLogit / Energy (twin's logits) and DML-MMSP / DML-EDS / DML-EDS+MMSP (DMLNet
distances); AUROC, FPR95, AUPR pooled over the split AND per image (StreetHazards / paper
Table 1 protocol); SegmentMeIfYouCan component metrics at thresholds chosen on a separate
calibration split; close-set mIoU of each network on a labelled val split.

Example::

    python -m owss_ros.cli evaluate \\
        --dml-model runs/synthetic_fast_scnn_dml/model_final.safetensors \\
        --ce-model runs/synthetic_fast_scnn_ce/model_final.safetensors \\
        --anomaly-data data/synthetic/anomaly --anomaly-data data/synthetic/streethazards \\
        --calibration-data data/synthetic_calibration/anomaly \\
        --val-data data/synthetic --out runs/evaluation
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="anomaly segmentation tables (paper Tables 1, 3) with curves",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dml-model", help="DMLNet weights (.safetensors): DML-MMSP / DML-EDS / DML-EDS+MMSP rows")
    p.add_argument("--ce-model", help="cross-entropy twin weights: MSP / MaxLogit / Energy rows")
    p.add_argument("--anomaly-data", action="append", required=True, metavar="PATH",
                   help="anomaly split folder, Fishyscapes style (images/, labels_masks/) or StreetHazards "
                        "style (test/images/); repeat for several splits")
    p.add_argument("--layout", default="auto", choices=("auto", "fishyscapes", "streethazards"),
                   help="split layout (default: detected)")
    p.add_argument("--calibration-data", metavar="PATH",
                   help="separate anomaly split the component-metric thresholds are chosen on "
                        "(without it the component metrics are skipped)")
    p.add_argument("--component-threshold", default="best-f1", choices=("best-f1", "tpr"),
                   help="threshold rule on the calibration split: best pooled pixel F1 (SegmentMeIfYouCan's "
                        "choice, default) or the TPR-target threshold")
    p.add_argument("--tpr-target", type=float, default=0.95, help="TPR of the FPR@TPR metric (default 0.95)")
    p.add_argument("--val-data", metavar="ROOT", help="Cityscapes-layout root for the close-set mIoU")
    p.add_argument("--val-split", default="val")
    p.add_argument("--eds-normalization", choices=("fixed", "image_max", "image_minmax"),
                   help="P_EDS normalisation (Eq. 8): fixed range (vehicle-safe, the default without "
                        "--calibration-file), image_max (Eq. 8 as printed), image_minmax (the authors' code)")
    p.add_argument("--eds-range", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   help="fixed EDS range (default T^2(N-1), 2T^2(N-1))")
    p.add_argument("--calibration-file", metavar="YAML",
                   help="take eds_normalization, eds_range, beta, gamma from a calibration.yaml written by "
                        "`calibrate` (explicit options win)")
    p.add_argument("--beta", type=float, help="Eq. 10 beta (paper 20; the default)")
    p.add_argument("--gamma", type=float, help="Eq. 10 gamma (paper 0.8; the default)")
    p.add_argument("--min-gt-component", type=int,
                   help="ignore GT components smaller than this (pixels; default: SegmentMeIfYouCan's 100 px "
                        "at 2048x1024 scaled to the frame area, 6 px at 512x256)")
    p.add_argument("--min-pred-component", type=int,
                   help="discard predicted components smaller than this (default: 500 px at 2048x1024 scaled, "
                        "31 px at 512x256)")
    p.add_argument("--examples", type=int, default=3, help="qualitative panels per split (default 3)")
    p.add_argument("--max-images", type=int, default=0, help="use the first N images of each split (0 = all)")
    p.add_argument("--chunk-pixels", type=int, default=1 << 22,
                   help="RAM buffer of each pooled meter in pixels before spilling to disk (default 4M)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    p.add_argument("--out", default="runs/evaluation", help="output folder (default runs/evaluation)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from owss_ros.evaluation.report_io import command_line
    import torch

    from owss_ros.core.open_set import ScoringConfig
    from owss_ros.evaluation.anomaly_report import AnomalyEvaluationSettings, run_anomaly_evaluation
    from owss_ros.evaluation.networks import load_network

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if not args.dml_model and not args.ce_model:
        print("evaluate: give --dml-model and/or --ce-model", file=sys.stderr)
        return 2
    networks = {}
    if args.ce_model:
        networks["ce"] = load_network(args.ce_model, "ce")
    if args.dml_model:
        networks["dml"] = load_network(args.dml_model, "dml")
    temperature = networks["dml"].spec.temperature if "dml" in networks else 3.0
    scoring = ScoringConfig(temperature=temperature, eds_normalization="fixed")
    if args.calibration_file:
        from owss_ros.core.calibration import load_calibration

        calibration = load_calibration(args.calibration_file)
        if "dml" in networks:
            calibration.check_model(networks["dml"].fingerprint, temperature)
        if calibration.scoring is not None:
            scoring = calibration.scoring_config(lambda_out=scoring.lambda_out)
    scoring = scoring.replaced(
        eds_normalization=args.eds_normalization, beta=args.beta, gamma=args.gamma,
        eds_range=tuple(args.eds_range) if args.eds_range else None)
    settings = AnomalyEvaluationSettings(
        anomaly_data=args.anomaly_data, out_dir=args.out, calibration_data=args.calibration_data,
        component_threshold_rule=args.component_threshold, tpr_target=args.tpr_target, val_data=args.val_data,
        val_split=args.val_split, layout=args.layout, min_gt_component=args.min_gt_component,
        min_pred_component=args.min_pred_component, num_examples=args.examples,
        max_images=args.max_images, chunk_pixels=args.chunk_pixels, progress=not args.no_progress,
        command=command_line("evaluate", args))
    report = run_anomaly_evaluation(networks, scoring, settings)
    print(report.tables)
    print(f"written to {args.out}: anomaly_results.json, tables.md, ROC / PR curves, qualitative panels")
    return 0
