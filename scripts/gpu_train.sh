#!/usr/bin/env bash
# Continue the bundled DMLNet and its cross-entropy twin side by side on one CUDA GPU, within a
# wall-clock budget, with the same schedule for both (the twin stays "equally trained").
#   bash scripts/gpu_train.sh OUT_DIR [BUDGET_S]
# Generates the training data first (seed 0, the split the bundle was trained on, more images) unless
# DATA points at an existing generator output. The runs share the CPU cores for data loading (the
# bottleneck on a GPU: ~20 ms of decode + augmentation per sample). A short probe measures the
# iterations/s the runs reach together; the poly schedule then spans what the budget holds (the same
# iteration count for all), and --minutes caps it. OUT_DIR receives RUN.tar (weights, EMA weights,
# history, log) per run.
# RUNS picks the networks (default "dml ce"; "dml16" is the 16-class base of Table 4).
# Knobs (environment): DATA, TRAIN_IMAGES (8000), BATCH (32), LR (0.003), PROBE (100), WORKERS,
# INIT_DML, INIT_CE, INIT_DML16 (the weights to continue; default the bundled ones).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:?usage: gpu_train.sh OUT_DIR [BUDGET_S]}
budget=${2:-420}
py="${PYTHON:-$(command -v python3 || command -v python)}"
export PYTHONPATH="${PWD}${PYTHONPATH:+:${PYTHONPATH}}" TQDM_MININTERVAL=${TQDM_MININTERVAL:-10}
cores=$(nproc)
read -r -a runs <<< "${RUNS:-dml ce}"
workers=${WORKERS:-$(( cores > 3 ? (cores - 2) / ${#runs[@]} : 1 ))}
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
        --set "schedule.batch_size=${batch}" --set "schedule.lr=${lr}"
        --set schedule.eval_every=0 --set schedule.ema_decay=0.999 --set schedule.checkpoint_every=500)
dml=(--config config/training/synthetic_fast_scnn_dml.yaml --set "model.init_weights=${INIT_DML:-models/default/model.safetensors}"
     --set schedule.lambda_vl=0.1 --set augment.outlier_probability=0.5 --set schedule.lambda_oe=0.1
     --set "output_dir=${work}/dml")
ce=(--config config/training/synthetic_fast_scnn_ce.yaml --set "model.init_weights=${INIT_CE:-models/ce_twin/model.safetensors}"
    --set "output_dir=${work}/ce")
dml16=(--config config/training/synthetic_fast_scnn_dml16.yaml
       --set "model.init_weights=${INIT_DML16:-models/base16/model.safetensors}"
       --set schedule.lambda_vl=0.1 --set augment.outlier_probability=0.5 --set schedule.lambda_oe=0.1
       --set augment.class_centred_crop=0.5
       --set "output_dir=${work}/dml16")

train_all() {  # the chosen runs at once, each with these extra arguments; fail if any fails
  local pids=() run i status=0
  for run in "${runs[@]}"; do
    case ${run} in
      dml) local args=("${dml[@]}") ;;
      ce) local args=("${ce[@]}") ;;
      dml16) local args=("${dml16[@]}") ;;
      *) echo "unknown run ${run}: dml | ce | dml16" >&2; return 2 ;;
    esac
    "${py}" -m owss_ros.cli train "${args[@]}" "${common[@]}" "$@" > "${work}/${run}.log" 2>&1 & pids+=($!)
  done
  for i in "${!runs[@]}"; do
    wait "${pids[$i]}" || { status=$?; tail -c 2000 "${work}/${runs[$i]}.log"; }
  done
  return ${status}
}

train_all --set schedule.iterations=1000000 --stop-at "${probe}"
left=$(( budget - ($(date +%s) - started) - 30 ))  # 30 s: final evaluation and writing
read -r iterations minutes < <("${py}" -m owss_ros.tools.plan_schedule "${work}" "${probe}" "${left}" "${runs[@]}")
[[ -n ${minutes:-} ]] || { echo "gpu_train: no schedule planned from the probe" >&2; exit 1; }
echo "schedule: ${iterations} iterations of batch ${batch} for each, capped at ${minutes} training minutes"
train_all --set "schedule.iterations=${iterations}" --resume --minutes "${minutes}"

for run in "${runs[@]}"; do
  tr '\r' '\n' < "${work}/${run}.log" | grep -v "^train:" > "${work}/${run}/train.log" || true
  (cd "${work}/${run}" && tar -cf "${out}/${run}.tar" --ignore-failed-read \
     $(ls model_final*.safetensors model_last*.safetensors history.json train.log 2>/dev/null))
  grep -h "val mIoU\|weight average" "${work}/${run}/train.log" | sed "s/^/${run}: /" || true
done
echo "done after $(( $(date +%s) - started )) s"
