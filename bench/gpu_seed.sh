#!/usr/bin/env bash
# The seed-faithful Two4Two figures that need a GPU, in one run, everything written under "$OUT".
#
#   (a) seed64-supervised: full training (1 500 steps; the seed's eq. 1 with beta = 0.1)      } bench/gpu_seed.py:
#   (b) seed128: the seed's 128 px / 7 levels, shortened to fit a few minutes of one H200    } train, then
#   (d) the bias audit (Table 3) and the ideal-counterfactual read-out of both checkpoints  } audit each
#   (c) bench/grids.py on CUDA with the shipped seed64 checkpoint and the demo's 3 000 held-out images: counted
#       network evaluations, invertible vs gradient counterfactuals, and the served-cell faithfulness of the
#       demo's counterfactual and isofactual grids
#
# Run from the repository root. With the device tool:  run(command="bash bench/gpu_seed.sh", timeout_s=600)
# (OUT is set there; elsewhere it defaults to var/gpu). SMOKE=1 runs the same steps at toy sizes (a check of
# this script: the tiny "quick" preset and 200 held-out images). TRAIN_JOBS="seed64-supervised" (say) trains
# only those presets of bench/gpu_seed.py (TRAIN_JOBS=quick: the real grid figures, a toy training). BUDGET_S
# (default 420) is how long after the script began a training job may still start; later ones are skipped.
# SKIP_GRIDS=1 leaves out (c), e.g. for a second run that only trains; SHIP=NAME (with one training job)
# returns its weights as a shipped checkpoint under $OUT/shipped (bench/gpu_seed.py --ship).
#
# The lent machine has no internet, so `pip install -e .` (torch==2.13.0 and Django from PyPI) cannot work
# there. Everything here uses explainers.core only (plain torch, numpy, Pillow, scipy), which runs on the
# machine's own python3 with its CUDA build of torch and the repository on PYTHONPATH.
set -uo pipefail

OUT="${OUT:-var/gpu}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_seed.log") 2>&1
START=$(date +%s)
SMOKE="${SMOKE:-0}"
BUDGET_S="${BUDGET_S:-420}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export TWO4TWO_RENDER_WORKERS="${TWO4TWO_RENDER_WORKERS:-$(nproc)}"

# The interpreter: the project's venv where one exists and has torch, else the machine's python3.
PY=""
for candidate in .venv/bin/python python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "import torch" 2>/dev/null; then
        PY="$candidate"; break
    fi
done
if [ -z "$PY" ]; then
    echo "no python with torch found (tried .venv/bin/python, python3, python); nothing was run" | tee "$OUT/FAILED"
    exit 2
fi
"$PY" - <<'EOF' | tee "$OUT/environment.txt"
import importlib, platform, torch
print(f"python {platform.python_version()} torch {torch.__version__} cuda available: {torch.cuda.is_available()}")
if torch.cuda.is_available():
    print("device:", torch.cuda.get_device_name(0))
missing = [m for m in ("numpy", "PIL", "scipy") if importlib.util.find_spec(m) is None]
print("missing modules:", ", ".join(missing) or "none")
EOF
if grep -q "missing modules: [^n]" "$OUT/environment.txt"; then
    echo "the core needs numpy, Pillow and scipy; see $OUT/environment.txt" | tee "$OUT/FAILED"
    exit 2
fi
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "torch sees no CUDA device: falling back to the smoke sizes on the CPU (the figures are not the GPU's)"
    SMOKE=1
fi

status=0
step() {  # step NAME COMMAND...: run, time and log one step; a failing step does not stop the others
    local name="$1"; shift
    echo "== $name: $*"
    local t0; t0=$(date +%s)
    if "$@"; then echo "== $name done in $(( $(date +%s) - t0 )) s"
    else echo "== $name FAILED (exit $?) after $(( $(date +%s) - t0 )) s"; status=1; fi
}

if [ "$SMOKE" = "1" ]; then
    GRID_ARGS=(--held-out 200 --threads 4 --device all)
    JOBS=(quick)
    AUDIT_ARGS=(--audit-rows 10 --audit-test 100 --audit-regression 200 --regressor-steps 5)
else
    GRID_ARGS=(--held-out 3000 --threads 8 --device cuda)
    JOBS=(seed64-supervised seed128)
    AUDIT_ARGS=()
fi

if [ -n "${TRAIN_JOBS:-}" ]; then read -r -a JOBS <<< "$TRAIN_JOBS"; fi
if [ "${JOBS[0]}" = "quick" ]; then AUDIT_ARGS=(--audit-rows 10 --audit-test 100 --audit-regression 200 --regressor-steps 5); fi

# (c) first: short, and it needs nothing the training jobs produce (SKIP_GRIDS=1 leaves it out).
if [ "${SKIP_GRIDS:-0}" != "1" ]; then step grids "$PY" bench/grids.py "${GRID_ARGS[@]}"; fi
# (a), (b), (d): the training jobs each end with the audit and read-out; figures in $OUT/gpu_seed.json.
remaining=$(( BUDGET_S - ($(date +%s) - START) ))
step train-and-audit "$PY" bench/gpu_seed.py --jobs "${JOBS[@]}" --out "$OUT" --cache "${CACHE:-var/gpu-cache}" \
    --budget-s "$(( remaining > 0 ? remaining : 0 ))" "${AUDIT_ARGS[@]}" ${SHIP:+--ship "$SHIP"}

echo "total $(( $(date +%s) - START )) s; files in $OUT:"
ls -la "$OUT"
exit $status
