#!/bin/sh
# Train a model, then promote it to `production` only if it passes the Dice gate.
#   retrain.sh [lvseg train options…]     e.g. retrain.sh --arch unet-small
# Reads LVSEG_MIN_PROMOTE_DICE (the bar, default 0.85) and lvseg's own settings (LVSEG_MODEL_STORE, S3_*, LVSEG_DATA_DIR).
# Exit status: 0 promoted; non-zero when training fails or the gate refuses (production is then left as it was).
set -eu

out="/tmp/lvseg-train.$$.out"
lvseg train "$@" > "$out"
cat "$out"
# `lvseg train` prints "published <version>  train Dice …" once the version is in the store.
version=$(sed -n 's/^published \([^ ]*\) .*/\1/p' "$out")
if [ -z "$version" ]; then
  echo "retrain: lvseg train printed no published version" >&2
  exit 1
fi

bar="${LVSEG_MIN_PROMOTE_DICE:-0.85}"
echo "retrain: Dice gate for $version: lvseg eval on the val split, bar $bar" >&2
# The gate: re-evaluates the stored version (sha256-checked load, serving path) and exits 1 below the bar.
lvseg eval --model "$version" --split val --min-dice "$bar"
lvseg models promote "$version" --alias production --reason "retrain.sh: val Dice gate >= $bar passed"
