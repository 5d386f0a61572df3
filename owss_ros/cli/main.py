"""``owss_ros`` command line: one entry point, one module per sub-command."""

from __future__ import annotations

import argparse
import importlib
import sys

# Sub-command modules; each exposes ``register(subparsers)`` which adds a parser whose
# ``func`` default takes the parsed namespace and returns an exit code.
SUBCOMMAND_MODULES = (
    "owss_ros.cli.generate",
    "owss_ros.cli.train",
    "owss_ros.cli.export",
    "owss_ros.cli.build_engine",
    "owss_ros.cli.benchmark_backends",
    "owss_ros.cli.benchmark_scoring",
    "owss_ros.cli.evaluate",
    "owss_ros.cli.few_shot",
    "owss_ros.cli.calibrate",
    "owss_ros.cli.sample_known_pixels",
    "owss_ros.cli.metric_space",
    "owss_ros.cli.train_plm",
    "owss_ros.cli.average_weights",
    "owss_ros.cli.demo",
    "owss_ros.cli.benchmark_node",
    "owss_ros.cli.classes",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="owss_ros", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
