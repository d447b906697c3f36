"""A YOLOX export of the vehicle detector at another input size, with the same weights.

YOLOX is convolutional to its last layer: only the three reshapes that flatten each level's grid
and the declared input and output shapes name the size. This writes a copy of an export with
those set for WIDTH x HEIGHT (each a multiple of 32) and prints its anchors and SHA-256, for a
manifest entry beside the original (`input = [1, 3, HEIGHT, WIDTH]`), so that a size can be
measured with `edge-agent eval-detect` before the detector is trained at it.

    python3 input_size.py models/vehicle_det.onnx WIDTH HEIGHT OUT.onnx
"""

from __future__ import annotations

import argparse
import hashlib

import onnx
from onnx import numpy_helper

STRIDES = (8, 16, 32)


def resized(model: onnx.ModelProto, width: int, height: int) -> tuple[onnx.ModelProto, int]:
    """`model` declared for `width` x `height`, and the number of anchors it then outputs."""
    if width % 32 or height % 32:
        raise ValueError(f"{width}x{height}: each side must be a multiple of 32")
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    reshapes = [n for n in g.node if n.op_type == "Reshape"]
    if len(reshapes) != len(STRIDES):
        raise ValueError(f"expected a YOLOX export with three reshapes, found {len(reshapes)}")
    anchors = 0
    for node, stride in zip(reshapes, STRIDES):
        shape = numpy_helper.to_array(inits[node.input[1]]).copy()
        shape[2] = (width // stride) * (height // stride)
        anchors += int(shape[2])
        inits[node.input[1]].CopyFrom(numpy_helper.from_array(shape, node.input[1]))
    dims = g.input[0].type.tensor_type.shape.dim
    dims[2].dim_value, dims[3].dim_value = height, width
    g.output[0].type.tensor_type.shape.dim[1].dim_value = anchors
    del g.value_info[:]
    onnx.checker.check_model(model)
    return model, anchors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("width", type=int)
    parser.add_argument("height", type=int)
    parser.add_argument("out")
    args = parser.parse_args()
    model, anchors = resized(onnx.load(args.model), args.width, args.height)
    onnx.save(model, args.out)
    with open(args.out, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    print(f"{args.out}: input [1, 3, {args.height}, {args.width}], {anchors} anchors, sha256 {sha}")


if __name__ == "__main__":
    main()
