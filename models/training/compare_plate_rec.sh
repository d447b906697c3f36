#!/usr/bin/env bash
# Train several configurations of the plate recogniser side by side on one data set, one
# process each sharing the device, then print one line per configuration from its report.
#
#   models/training/compare_plate_rec.sh DATA OUT MINUTES VARIANT:BALANCE...
#
# VARIANT is a key of nets.PLATE_REC_VARIANTS, BALANCE how many times as often one-line and
# non-white plates are drawn (train.py --variant, --balance). Configuration V:B writes
# OUT/V-bB/plate_rec.onnx and plate_rec.report.json; logs and checkpoints go to $WORK
# (default OUT/work). MINUTES is each one's wall-clock budget, load to written ONNX.
set -uo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 DATA OUT MINUTES VARIANT:BALANCE..." >&2
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
pids=()
for cfg in "$@"; do
  variant=${cfg%%:*}
  balance=${cfg#*:}
  name="$variant-b$balance"
  python3 "$HERE/train.py" --data "$DATA" --out "$OUT/$name" --work "$WORK/$name" --model plate_rec \
    --variant "$variant" --balance "$balance" --minutes "$MIN" --device auto --threads "$threads" \
    >"$WORK/$name.log" 2>&1 &
  pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do
  wait "$pid" || rc=1
done
for cfg in "$@"; do
  name="${cfg%%:*}-b${cfg#*:}"
  echo "---- $name"
  grep -v -e '^\s*$' -e '%|' "$WORK/$name.log" | tail -3
  python3 "$HERE/train.py" --summarize "$OUT/$name" | grep plate_rec
done
exit $rc
