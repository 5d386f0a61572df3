#!/usr/bin/env bash
# The main job: the perception node on the bundled model, fed the bundled sample drive, taught the
# unknown object from one mask over /add_class (README "Main job"). Arguments go to `owss_ros demo`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
python -m owss_ros.cli demo "$@"
