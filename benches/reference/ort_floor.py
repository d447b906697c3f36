"""The detection floor from Python: onnxruntime alone on the very tensor the edge agent's
preprocessing made (raw little-endian f32, NCHW), no decode, no video.

    ort_floor.py --model M.onnx --tensor T.f32 --shape 1,3,416,416 [--threads 1] [--runs 200]

Prints one JSON object: inferences/s and ms an inference.
"""

import argparse
import json
import time

import numpy as np
import onnxruntime as ort


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--tensor", required=True)
    parser.add_argument("--shape", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    shape = tuple(int(d) for d in args.shape.split(","))
    tensor = np.fromfile(args.tensor, dtype="<f4").reshape(shape)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: tensor}
    for _ in range(5):
        session.run(None, feed)
    started = time.perf_counter()
    for _ in range(args.runs):
        session.run(None, feed)
    elapsed = time.perf_counter() - started
    print(json.dumps({
        "inferences_per_s": round(args.runs / elapsed, 2),
        "ms_per_inference": round(1000 * elapsed / args.runs, 3),
        "onnxruntime": ort.__version__,
    }))


if __name__ == "__main__":
    main()
