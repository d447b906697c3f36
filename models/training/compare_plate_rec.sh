#!/usr/bin/env bash
# Train several configurations of the plate recogniser side by side on one data set, one
# process each sharing the device, then print one line per configuration from its report.
#
#   models/training/compare_plate_rec.sh DATA OUT MINUTES NAME=ARGS...
#
# ARGS are train.py's options for that configuration, e.g.
#   s-b2='--variant s --balance 2'  m-b2='--variant m --balance 2 --batch 512'
#   cont='--init models/plate_rec.onnx --balance 2 --lr 2e-3'  shipped='--init models/plate_rec.onnx --eval-only'
# Configuration NAME writes OUT/NAME/plate_rec.onnx and plate_rec.report.json (an --eval-only
# one plate_rec.eval.json); logs and checkpoints go to $WORK (default OUT/work). MINUTES is each
# one's wall-clock budget, load to written ONNX.
set -uo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 DATA OUT MINUTES NAME=ARGS..." >&2
  exit 2
fi
DATA=$1
OUT=$2
MIN=$3
shift 3
WORK=${WORK:-$OUT/work}
HERE=$(cd "$(dirname "$0")" && pwd)
export PYTHONUNBUFFERED=1
threads=$(($(nproc) / $#))
[ "$threads" -ge 1 ] || threads=1
mkdir -p "$WORK"
names=()
pids=()
for cfg in "$@"; do
  name=${cfg%%=*}
  if [ "$name" = "$cfg" ] || [[ ! "$name" =~ ^[A-Za-z0-9._-]+$ ]]; then
    echo "$0: '$cfg': expected NAME=ARGS, NAME of letters, digits, '.', '_' and '-'" >&2
    exit 2
  fi
  read -r -a extra <<<"${cfg#*=}"
  python3 "$HERE/train.py" --data "$DATA" --out "$OUT/$name" --work "$WORK/$name" --model plate_rec \
    --minutes "$MIN" --device auto --threads "$threads" "${extra[@]}" >"$WORK/$name.log" 2>&1 &
  names+=("$name")
  pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do
  wait "$pid" || rc=1
done
for name in "${names[@]}"; do
  echo "---- $name"
  grep -v -e '^\s*$' -e '%|' "$WORK/$name.log" | tail -3
  python3 "$HERE/train.py" --summarize "$OUT/$name" | grep plate_rec
done
exit $rc
