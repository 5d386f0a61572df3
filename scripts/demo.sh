#!/usr/bin/env bash
# The main job. Until the node demo lands, this trains nothing and shows the core at work:
# see README "Main job".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
python -m owss_ros.cli demo "$@"
