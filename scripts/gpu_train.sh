#!/usr/bin/env bash
# Continue the bundled DMLNet and its cross-entropy twin side by side on one CUDA GPU, within a
# wall-clock budget, with the same schedule for both (the twin stays "equally trained").
#   bash scripts/gpu_train.sh OUT_DIR [BUDGET_S]
# Generates the training data first (seed 0, the split the bundle was trained on, more images) unless
# DATA points at an existing generator output. The two runs share the CPU cores for data loading (the
# bottleneck on a GPU: ~20 ms of decode + augmentation per sample). A short probe measures the
# iterations/s both runs reach together; the poly schedule then spans what the budget holds, and
# --minutes caps it. OUT_DIR receives dml.tar and ce.tar (weights, EMA weights, history, logs).
# Knobs (environment): DATA, TRAIN_IMAGES (8000), BATCH (32), LR (0.003), PROBE (100), WORKERS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:?usage: gpu_train.sh OUT_DIR [BUDGET_S]}
budget=${2:-420}
py="${PYTHON:-$(command -v python3 || command -v python)}"
export PYTHONPATH="${PWD}${PYTHONPATH:+:${PYTHONPATH}}" TQDM_MININTERVAL=${TQDM_MININTERVAL:-10}
cores=$(nproc)
workers=${WORKERS:-$(( cores > 3 ? (cores - 2) / 2 : 1 ))}
data=${DATA:-data/gpu_synthetic}
batch=${BATCH:-32}; lr=${LR:-0.003}; probe=${PROBE:-100}
work=$(mktemp -d /tmp/gpu_train.XXXX)
mkdir -p "${out}"; out=$(cd "${out}" && pwd)
started=$(date +%s)

if [[ ! -f ${data}/manifest.json ]]; then
  "${py}" -m owss_ros.cli generate --out "${data}" --train "${TRAIN_IMAGES:-8000}" --val 200 --size 512x256 \
    --seed 0 --workers "${cores}" --quiet
fi
echo "data ready after $(( $(date +%s) - started )) s; ${workers} loader workers per run"

common=(--set "data.root=${data}" --set "data.workers=${workers}" --set model.backbone=fast_scnn_s4
        --set "schedule.batch_size=${batch}" --set "schedule.lr=${lr}" --set schedule.lambda_vl=0.1
        --set schedule.eval_every=0 --set schedule.ema_decay=0.999 --set schedule.checkpoint_every=500)
dml=(--config config/training/synthetic_fast_scnn_dml.yaml --set model.init_weights=models/default/model.safetensors
     --set augment.outlier_probability=0.5 --set schedule.lambda_oe=0.1 --set "output_dir=${work}/dml")
ce=(--config config/training/synthetic_fast_scnn_ce.yaml --set model.init_weights=models/ce_twin/model.safetensors
    --set "output_dir=${work}/ce")

both() {  # both runs at once; fail if either fails
  "${py}" -m owss_ros.cli train "${dml[@]}" "${common[@]}" "$@" > "${work}/dml.log" 2>&1 & local a=$!
  "${py}" -m owss_ros.cli train "${ce[@]}" "${common[@]}" "$@" > "${work}/ce.log" 2>&1 & local b=$!
  local status=0
  wait ${a} || { status=$?; tail -c 2000 "${work}/dml.log"; }
  wait ${b} || { status=$?; tail -c 2000 "${work}/ce.log"; }
  return ${status}
}

both --set schedule.iterations=1000000 --stop-at "${probe}"
left=$(( budget - ($(date +%s) - started) - 30 ))  # 30 s: final evaluation and writing
read -r iterations minutes < <("${py}" - "${work}" "${probe}" "${left}" <<'EOF'
import json, sys, torch
work, probe, left = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rates, walls = [], []
for run in ("dml", "ce"):
    history = json.loads(torch.load(f"{work}/{run}/checkpoint_last.pt", weights_only=True)["history_json"])
    steps = [h for h in history if "loss" in h and h["iteration"] >= min(20, probe // 2)]
    rates.append((steps[-1]["iteration"] - steps[0]["iteration"]) / max(steps[-1]["wall_s"] - steps[0]["wall_s"], 1e-6))
    walls.append(steps[-1]["wall_s"])
# --minutes counts training wall time across --resume: the probe's, plus what is left
print(probe + max(0, int(min(rates) * left)), max(0.1, (min(walls) + left) / 60))
print(f"probe: {rates[0]:.2f} / {rates[1]:.2f} it/s (dml / ce) together; {left:.0f} s left", file=sys.stderr)
EOF
)
echo "schedule: ${iterations} iterations of batch ${batch} for both, capped at ${minutes} training minutes"
both --set "schedule.iterations=${iterations}" --resume --minutes "${minutes}"

for run in dml ce; do
  tr '\r' '\n' < "${work}/${run}.log" | grep -v "^train:" > "${work}/${run}/train.log" || true
  (cd "${work}/${run}" && tar -cf "${out}/${run}.tar" --ignore-failed-read \
     $(ls model_final*.safetensors model_last*.safetensors history.json train.log 2>/dev/null))
  grep -h "val mIoU\|weight average" "${work}/${run}/train.log" | sed "s/^/${run}: /" || true
done
echo "done after $(( $(date +%s) - started )) s"
