#!/usr/bin/env bash
# Train the four models in parallel on one GPU (CPU works too, slowly), then print one line
# per model from the reports.
#
#   models/training/device_train.sh DATA_DIR OUT_DIR MINUTES [WORK_DIR [TRAIN_ARGS...]]
#
# MINUTES is the wall-clock budget of the whole run: vehicle_det gets all of it, the others
# less (they finish earlier and leave the GPU to the detector). OUT_DIR receives
# <model>.onnx and <model>.report.json only; logs and checkpoints go to WORK_DIR
# (default OUT_DIR/work). TRAIN_ARGS go to train.py as they are (e.g. the vehicle detector's
# `--coco-init` and `--real`).
set -uo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 DATA_DIR OUT_DIR MINUTES [WORK_DIR]" >&2
  exit 2
fi
DATA=$1
OUT=$2
MIN=$3
WORK=${4:-$OUT/work}
shift $(($# < 4 ? $# : 4))
HERE=$(cd "$(dirname "$0")" && pwd)
export PYTHONUNBUFFERED=1

share() { python3 -c "import sys; print(round(float(sys.argv[1]) * $1, 2))" "$MIN"; }

python3 "$HERE/train.py" --data "$DATA" --out "$OUT" --work "$WORK" --model all --device auto \
  --minutes "$MIN" \
  --minutes-for "vehicle_det=$MIN,plate_rec=$(share 0.9),plate_det=$(share 0.7),helmet=$(share 0.45)" "$@"
rc=$?
echo "---- summary (exit $rc) ----"
python3 "$HERE/train.py" --summarize "$OUT"
exit $rc
