#!/usr/bin/env bash
# TensorRT on a real GPU, through the project's own code (see scripts/gpu_check.py for the steps):
# parse + build FP32 and FP16, layer precisions from the engine inspector, agreement with torch and
# onnxruntime (labels, anomaly, a taught class, K changing), cached engine re-opened without a
# rebuild, latency. Bounded to 5 minutes. Without TensorRT or a CUDA GPU it says why and exits 0.
#   bash scripts/gpu_check.sh [--size 256x512] [--k 4] [--device-index 0] [--out out/gpu_check]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -f .venv/bin/activate ]]; then
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
export PYTHONPATH="${PWD}${PYTHONPATH:+:${PYTHONPATH}}"
python_bin="${PYTHON:-$(command -v python3 || command -v python)}"
if ! "${python_bin}" -c 'import torch' 2>/dev/null; then
  echo "SKIPPED: gpu_check needs torch (bash scripts/setup.sh, or a CUDA build of torch on the GPU host)"
  exit 0
fi
if ! command -v nvidia-smi >/dev/null 2>&1 && ! "${python_bin}" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
  echo "SKIPPED: no CUDA GPU visible (no nvidia-smi, torch.cuda.is_available() is False)"
  exit 0
fi
status=0
timeout --signal=TERM --kill-after=10 290 "${python_bin}" scripts/gpu_check.py "$@" || status=$?
if [[ ${status} -eq 124 ]]; then
  echo "FAIL: gpu_check ran past its 5-minute budget" >&2
fi
exit ${status}
