#!/usr/bin/env bash
# The CUDA check of benchmarks/train.py and equal_steps.py, sized for a short GPU lease: run from
# the repository root on a machine whose python3 has torch with CUDA. WS holds both facesets
# (data_src/aligned, data_dst/aligned); WHEELS, if set, holds wheels missing there (pytorch-msssim).
set -uo pipefail
WS=${WS:?set WS to a workspace with both facesets}
LOG=${LOG:-gpu_bench.log}
if [ -n "${WHEELS:-}" ]; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site "$WHEELS"/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=src:${PYTHONPATH:-} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$LOG"
step() { echo "== $*" | tee -a "$LOG"; timeout 200 "$@" 2>&1 | grep -v Warning | tee -a "$LOG"; }
step python3 benchmarks/train.py --device cuda --presets quick,hd --resolutions 128,256 --batches 16,64 --steps 10
step python3 benchmarks/train.py --device cuda --presets hd --resolutions 256 --batches 16 --steps 10 \
    --compile --no-original --faces "$WS" --workers 0,4,8
step python3 benchmarks/equal_steps.py "$WS" --device cuda --steps 2000
step python3 - "$WS" <<'PY'
import sys
from pathlib import Path
from faceweave.config import load_config
from faceweave.train.run import run_train
from faceweave.workspace import Workspace
cfg = load_config(preset="hd", overrides={"train": {"time_limit_min": 1.0, "loader_workers": 8, "preview_every": 0}})
report = run_train(cfg, Workspace(Path(sys.argv[1])), say=print)
print(f"faceweave train, hd preset, 1 minute on CUDA with 8 loader workers: {report.steps_this_run} steps, "
      f"{report.samples_per_s / 2:.1f} faces/s per side including the data path")
PY
