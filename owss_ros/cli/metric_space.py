"""``owss_ros metric-space``: how compact a DMLNet's clusters are on a calibration split
(norms, distance to own prototype and to the prototype centroid, known vs anomaly pixels)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("metric-space", help="cluster compactness of a DMLNet on a calibration split",
                              description=__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, help="anomaly split with close-set labels (calibration, not test)")
    p.add_argument("--max-images", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", help="also write the report as JSON here")
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from owss_ros.evaluation.anomaly_splits import AnomalySplit
    from owss_ros.evaluation.report_io import write_json
    from owss_ros.evaluation.metric_space import format_report, metric_space_report
    from owss_ros.evaluation.networks import load_network

    torch.set_num_threads(args.threads)
    report = metric_space_report(load_network(args.model, expected_kind="dml"), AnomalySplit(args.data),
                                 args.max_images)
    print(format_report(report))
    if args.json:
        write_json(args.json, report)
    return 0
