"""The reference: a detection loop written the way most open-source traffic tools and model
samples write it — OpenCV VideoCapture, resize, onnxruntime, decode and NMS, a rule checked on
each frame's boxes (no tracker) — run on the same video and model as the edge agent.

    reference_pipeline.py --model M.onnx --video V.mp4 [--format yolov8|yolox] [--threads 1]
        [--stop-line-y 700]

Prints one JSON object: frames, wall seconds, process CPU seconds, frames/s, CPU ms a frame,
and the boxes past the stop line (the rule's count, so the work cannot be skipped).
"""

import argparse
import json
import time

import cv2
import numpy as np
import onnxruntime as ort


def letterbox(frame, size, centred=True):
    """Scale to fit `size` on grey 114: centred (YOLOv8) or at the top left (YOLOX)."""
    h, w = frame.shape[:2]
    scale = min(size / w, size / h)
    nw, nh = round(w * scale), round(h * scale)
    resized = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    top, left = ((size - nh) // 2, (size - nw) // 2) if centred else (0, 0)
    padded = cv2.copyMakeBorder(
        resized, top, size - nh - top, left, size - nw - left,
        cv2.BORDER_CONSTANT, value=(114, 114, 114))
    return padded, scale, left, top


def yolox_grid(size):
    """Each anchor's cell (x, y) and stride, in the order of YOLOX's output."""
    cells = []
    for stride in (8, 16, 32):
        n = size // stride
        ys, xs = np.mgrid[0:n, 0:n]
        cells.append(np.stack([xs.ravel(), ys.ravel(), np.full(n * n, stride)], 1))
    return np.concatenate(cells).astype(np.float32)


def decode(output, scale, left, top, score_threshold, nms_iou, grid=None):
    """YOLOv8 head [4 + classes, N] (or YOLOX's raw grid [N, 5 + classes] with `grid`) → boxes
    in frame pixels, after per-class NMS."""
    if grid is None:
        predictions = output[0].T  # [N, 4 + classes]
        scores = predictions[:, 4:]
    else:
        raw = output[0]
        xy = (raw[:, :2] + grid[:, :2]) * grid[:, 2:]
        wh = np.exp(raw[:, 2:4]) * grid[:, 2:]
        predictions = np.concatenate([xy, wh], 1)
        scores = raw[:, 4:5] * raw[:, 5:]
    classes = scores.argmax(axis=1)
    best = scores[np.arange(len(scores)), classes]
    keep = best >= score_threshold
    predictions, classes, best = predictions[keep], classes[keep], best[keep]
    cx, cy, w, h = predictions[:, 0], predictions[:, 1], predictions[:, 2], predictions[:, 3]
    x = (cx - w / 2 - left) / scale
    y = (cy - h / 2 - top) / scale
    boxes = np.stack([x, y, w / scale, h / scale], axis=1)
    kept = cv2.dnn.NMSBoxesBatched(
        boxes.tolist(), best.tolist(), classes.tolist(), score_threshold, nms_iou)
    kept = np.array(kept, dtype=int).reshape(-1)
    return boxes[kept], classes[kept], best[kept]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--video", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--size", type=int, default=416)
    parser.add_argument("--format", choices=("yolov8", "yolox"), default="yolov8")
    parser.add_argument("--stop-line-y", type=float, default=700.0)
    parser.add_argument("--score-threshold", type=float, default=0.3)
    parser.add_argument("--nms-iou", type=float, default=0.5)
    args = parser.parse_args()

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name

    yolox = args.format == "yolox"
    grid = yolox_grid(args.size) if yolox else None
    capture = cv2.VideoCapture(args.video)
    if not capture.isOpened():
        raise SystemExit(f"cannot open {args.video}")
    frames = 0
    past_line = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        image, scale, left, top = letterbox(frame, args.size, centred=not yolox)
        if yolox:  # BGR as OpenCV reads it, 0-255
            blob = image.transpose(2, 0, 1)[None].astype(np.float32)
        else:
            blob = image[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        output = session.run(None, {input_name: np.ascontiguousarray(blob)})[0]
        boxes, _, _ = decode(output, scale, left, top, args.score_threshold, args.nms_iou, grid)
        # The rule, without a tracker: boxes whose bottom edge is past the stop line.
        past_line += int(np.sum(boxes[:, 1] + boxes[:, 3] > args.stop_line_y))
        frames += 1
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    print(json.dumps({
        "frames": frames,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "fps": round(frames / wall, 2) if wall else 0.0,
        "cpu_ms_per_frame": round(1000 * cpu / frames, 2) if frames else 0.0,
        "boxes_past_line": past_line,
        "opencv": cv2.__version__,
        "onnxruntime": ort.__version__,
    }))


if __name__ == "__main__":
    main()
