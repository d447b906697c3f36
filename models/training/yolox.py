"""The vehicle detector started from a COCO-trained YOLOX network instead of random weights.

The project's own detector (`nets.VehicleDetNet`) learned the simulator only: its first layers
never saw a real street. YOLOX-nano (Megvii, Apache-2.0) learned COCO's photographs; fine-tuned
on real Vietnamese junctions beside the sim's frames it starts from features of real images.
Its weights come from its ONNX export (`../shared/data/models/yolox_nano_416.onnx`, batch norms
already folded into the convolutions), turned into a trainable torch graph by onnx2torch after
three edits of the ONNX graph:

- the classification convolutions keep only the detector's classes (`nets.DET_CLASSES`, taken
  from COCO's car, motorcycle, bus, truck and person channels), so the head starts knowing them;
- the sigmoids on objectness and class scores are cut out, so training sees logits (the export
  puts them back);
- the reshapes that fixed the batch at 1 take any batch.

The exported model keeps YOLOX's contract, which the edge agent reads as `format = "yolox"`:
input BGR 0-255 letterboxed at the top left (padding 114), output `[N, 3549, 5 + nc]` with grid
offsets, log sizes, and sigmoid objectness and class scores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import det_utils
import nets

# COCO's 0-based class ids, as the YOLOX export orders its 80 channels.
COCO_IDS = {"person": 0, "bicycle": 1, "car": 2, "motorbike": 3, "bus": 5, "truck": 7}
STRIDES = (8, 16, 32)


def _graph_for_training(path: Path, classes: list[str]):
    """The ONNX model with its heads cut to `classes`, logits out, any batch."""
    import onnx
    from onnx import numpy_helper

    mo = onnx.load(str(path))
    g = mo.graph
    inits = {i.name: i for i in g.initializer}
    keep = [COCO_IDS[c] for c in classes]
    nc = len(classes)
    cut = 0
    for name, init in inits.items():
        if name.startswith("head.cls_preds.") and name.endswith((".weight", ".bias")):
            a = numpy_helper.to_array(init)
            if a.shape[0] != 80:
                raise ValueError(f"{path}: {name} has {a.shape[0]} classes, not COCO's 80")
            init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(a[keep]), name))
            cut += 1
    if cut != 6:
        raise ValueError(f"{path}: expected three classification heads (head.cls_preds.N), found {cut // 2}")
    # Objectness and class sigmoids feeding each level's Concat: bypass them.
    producer = {o: n for n in g.node for o in n.output}
    drop = []
    for n in g.node:
        if n.op_type == "Concat" and len(n.input) == 3:
            src = [producer.get(i) for i in n.input]
            if src[0] is not None and src[0].op_type == "Conv" and all(s is not None and s.op_type == "Sigmoid"
                                                                         for s in src[1:]):
                for k in (1, 2):
                    n.input[k] = src[k].input[0]
                    drop.append(src[k])
    if len(drop) != 6:
        raise ValueError(f"{path}: expected three heads ending in sigmoid scores, found {len(drop) // 2}")
    for n in drop:
        g.node.remove(n)
    # [1, 85, -1] reshapes -> [-1, 5 + nc, cells of the level]
    reshapes = [n for n in g.node if n.op_type == "Reshape"]
    if len(reshapes) != 3:
        raise ValueError(f"{path}: expected three reshapes, found {len(reshapes)}")
    side = 416
    for n, s in zip(reshapes, STRIDES):
        init = inits[n.input[1]]
        cells = (side // s) ** 2
        init.CopyFrom(numpy_helper.from_array(np.array([-1, 5 + nc, cells], np.int64), init.name))
    return mo


class YoloxDet(nn.Module):
    """The trainable detector: RGB 0-1 in, as every task of the project feeds its models. In
    training mode it returns the raw `[N, A, 5 + nc]` (logits for the scores); in eval mode the
    layout of `nets.VehicleDetNet`'s output, `[N, 4 + nc, A]` (centre and size in input pixels,
    objectness times class score), so evaluation is shared."""

    def __init__(self, path: Path, classes: list[str] | None = None, img: int = 416):
        super().__init__()
        import onnx2torch

        classes = list(classes or nets.DET_CLASSES)
        self.nc, self.img = len(classes), img
        self.net = onnx2torch.convert(_graph_for_training(path, classes))
        grid, stride = [], []
        for s in STRIDES:
            n = img // s
            ys, xs = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
            grid.append(torch.stack([xs, ys], -1).reshape(-1, 2).float())
            stride.append(torch.full((n * n,), float(s)))
        self.register_buffer("grid", torch.cat(grid), persistent=False)
        self.register_buffer("stride_t", torch.cat(stride), persistent=False)
        self.register_buffer("anchors", (self.grid + 0.5) * self.stride_t[:, None], persistent=False)

    def centres_sizes(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each anchor's box in input pixels from the raw output: centre (offset in its grid
        cell) and size (log, in strides), as the agent decodes them."""
        xy = (out[..., :2] + self.grid) * self.stride_t[:, None]
        wh = out[..., 2:4].clamp(max=10.0).exp() * self.stride_t[:, None]
        return xy, wh

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x.flip(1) * 255.0)
        if self.training:
            return out
        out = out.float()
        xy, wh = self.centres_sizes(out)
        sc = out[..., 4:5].sigmoid() * out[..., 5:].sigmoid()
        return torch.cat([xy, wh, sc], -1).permute(0, 2, 1)

    def load_export(self, path: Path) -> float:
        """Take the weights of a detector this class exported (`export_module`), to train it
        further: the file's initializers carry the network's own parameter names. Checks the
        result against ONNX Runtime on a random image and returns the largest difference; refuses
        a file that does not hold every weight of the network or computes otherwise."""
        import onnx
        from onnx import numpy_helper

        inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
        own = self.state_dict()
        found = {k: torch.tensor(inits[k]) for k in own if k in inits}
        trained = [k for k, _ in self.named_parameters()]
        missing = [k for k in trained if k not in found]
        if missing:
            raise ValueError(f"{path}: {len(missing)} of the network's weights are not in the file ({missing[0]}, ...)")
        for k, v in found.items():
            if tuple(v.shape) != tuple(own[k].shape):
                raise ValueError(f"{path}: {k} is {tuple(v.shape)} in the file, {tuple(own[k].shape)} in the network")
        self.load_state_dict(found, strict=False)
        import common

        x = self.export_input(torch.rand(1, 3, self.img, self.img))
        return common.check_against_onnx(self.export_module().eval(), path, x)

    def export_module(self) -> nn.Module:
        return YoloxExport(self.net)

    @staticmethod
    def export_input(x: torch.Tensor) -> torch.Tensor:
        """The exported file's input for the same image: BGR 0-255."""
        return x.flip(1) * 255.0


class YoloxExport(nn.Module):
    """What the ONNX file computes: YOLOX's own contract, sigmoid scores."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return torch.cat([out[..., :4], out[..., 4:].sigmoid()], -1)


class YoloxLoss:
    """Task-aligned assignment (as for the project's own detector, on the score objectness x
    class), then YOLOX's terms: IoU loss on the positives' boxes, objectness BCE everywhere
    (IoU-aware soft targets on positives), class BCE on positives. A real set's `car` covers
    the buses and trucks it did not label apart, and a set that labels no people leaves the
    person channel out of the class loss on its images (one given people by
    `pseudo_people.py` keeps it)."""

    def __init__(self, model: YoloxDet, w_box=5.0, w_obj=1.0, w_cls=1.0):
        self.m = model
        self.nc = model.nc
        self.w = (w_box, w_obj, w_cls)
        names = list(nets.DET_CLASSES)
        self.car = names.index("car")
        self.loose = [names.index(c) for c in ("bus", "truck")]
        self.person = names.index("person")

    def __call__(self, out, tgt):
        gt_labels, gt_boxes, gt_mask = tgt[:3]
        real = tgt[3] if len(tgt) > 3 else None
        out = out.float()
        m = self.m
        xy, wh = m.centres_sizes(out)
        pb = torch.cat([xy - wh / 2, xy + wh / 2], -1)  # [B,A,4] px
        obj, cls = out[..., 4], out[..., 5:]
        scores = (obj.detach().sigmoid()[..., None] * cls.detach().sigmoid())
        t_boxes, t_scores, fg = det_utils.tal_assign(scores, pb.detach(), m.anchors, m.stride_t, gt_labels,
                                                     gt_boxes, gt_mask, self.nc)
        n_fg = fg.sum().clamp(min=1).float()
        soft = t_scores.amax(-1)  # the IoU-aware target of each positive, 0 elsewhere
        l_obj = F.binary_cross_entropy_with_logits(obj, soft, reduction="sum") / n_fg
        if bool(fg.any()):
            iou = det_utils.box_iou_pair(pb[fg], t_boxes[fg], ciou=True)
            l_box = (1.0 - iou).sum() / n_fg
            t_cls = (t_scores[fg] > 0).float()
            w = torch.ones_like(t_cls)
            if real is not None:
                # 0: a sim frame; 1: a real photograph of a set that labels no people; 2: one of a
                # set that does (`pseudo_people.py`).
                kind = real.long()[:, None].expand_as(fg)[fg]
                r = kind > 0
                is_car = t_cls[:, self.car] > 0
                for k in self.loose:
                    w[:, k] = torch.where(r & is_car, 0.0, 1.0)
                w[:, self.person] = torch.where(kind == 1, 0.0, 1.0)
            l_cls = (F.binary_cross_entropy_with_logits(cls[fg], t_cls, reduction="none") * w).sum() / n_fg
        else:
            l_box = l_cls = out.sum() * 0.0
        loss = self.w[0] * l_box + self.w[1] * l_obj + self.w[2] * l_cls
        return loss, {"box": l_box.detach(), "obj": l_obj.detach(), "cls": l_cls.detach()}
