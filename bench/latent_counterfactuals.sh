#!/bin/bash
# Latent-space counterfactuals at 64 px on a GPU: train the VAEs (all images, class 0 only, class 1 only) and
# three CNNs (explained, ensemble member, oracle), then compare every counterfactual method on held-out images,
# the shipped seed64 Glow included. About 3 minutes on one H100/H200 (most of it rendering Two4Two on the CPU).
#
#   bash bench/latent_counterfactuals.sh [OUT]        # OUT default: var/latent-cf
#   DEVICE=cpu N=8 bash bench/latent_counterfactuals.sh   # the same on a CPU (an hour or more)
#   SMOKE=1 DEVICE=cpu bash bench/latent_counterfactuals.sh /tmp/lcf-smoke  # 16 px, 2 steps: checks the wiring
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-var/latent-cf}
DEVICE=${DEVICE:-cuda}
N=${N:-32}
PY=${PY:-.venv/bin/python}
mkdir -p "$OUT"
# One 3000-image training stream and one 1000-image validation stream, rendered once and shared by every model.
DATA="--size 64 --train-size 3000 --val-size 1000 --device $DEVICE --threads 4"
GLOW=(--glow "$(realpath explainers/checkpoints/two4two-seed64.pt)")
SMOKE=${SMOKE:-}
if [ -n "$SMOKE" ]; then DATA="--size 16 --train-size 64 --val-size 16 --device $DEVICE --threads 1"; GLOW=(); fi
steps() { if [ -n "$SMOKE" ]; then echo 2; else echo "$1"; fi; }
train() { local name=$1; shift; [ -f "$OUT/$name.pt" ] || $PY manage.py train_model "$@" --out "$(realpath "$OUT")/$name.pt"; }
train vae           --preset vae-two4two        $DATA --steps "$(steps 2000)"
train vae-class0    --preset vae-two4two-class0 $DATA --steps "$(steps 1200)"
train vae-class1    --preset vae-two4two-class1 $DATA --steps "$(steps 1200)"
train cnn           --preset cnn-two4two-biased-64 $DATA --steps "$(steps 800)"
train cnn-s1        --preset cnn-two4two-biased-64 $DATA --steps "$(steps 800)" --seed 1
train cnn-oracle    --preset cnn-two4two-oracle-64 $DATA --steps "$(steps 800)"
$PY manage.py compare_counterfactuals --classifier "$(realpath "$OUT")/cnn.pt" --oracle "$(realpath "$OUT")/cnn-oracle.pt" \
    --vae "$(realpath "$OUT")/vae.pt" --class-vae 0="$(realpath "$OUT")/vae-class0.pt" \
    --class-vae 1="$(realpath "$OUT")/vae-class1.pt" --ensemble "$(realpath "$OUT")/cnn-s1.pt" \
    "${GLOW[@]}" --n "$N" --device "$DEVICE" --threads 4 --max-iterations "$(steps 500)" \
    --out "$(realpath "$OUT")/comparison" --figure "$(realpath "$OUT")/comparison-rows.png"
