"""Detection helpers: IoU, the task-aligned assigner, the YOLOv8-style loss, NMS and mAP."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def box_iou_pair(b1: torch.Tensor, b2: torch.Tensor, ciou: bool = False, eps: float = 1e-7) -> torch.Tensor:
    """IoU (or CIoU) of matching boxes xyxy [...,4] (broadcast)."""
    x1, y1, x2, y2 = b1.unbind(-1)
    X1, Y1, X2, Y2 = b2.unbind(-1)
    w1, h1 = (x2 - x1).clamp(min=0), (y2 - y1).clamp(min=0) + eps
    w2, h2 = (X2 - X1).clamp(min=0), (Y2 - Y1).clamp(min=0) + eps
    inter = (torch.minimum(x2, X2) - torch.maximum(x1, X1)).clamp(min=0) * \
            (torch.minimum(y2, Y2) - torch.maximum(y1, Y1)).clamp(min=0)
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    if not ciou:
        return iou
    cw = torch.maximum(x2, X2) - torch.minimum(x1, X1)
    ch = torch.maximum(y2, Y2) - torch.minimum(y1, Y1)
    c2 = cw ** 2 + ch ** 2 + eps
    rho2 = ((X1 + X2 - x1 - x2) ** 2 + (Y1 + Y2 - y1 - y2) ** 2) / 4
    v = (4 / math.pi ** 2) * (torch.atan(w2 / h2) - torch.atan(w1 / h1)) ** 2
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (rho2 / c2 + v * alpha)


@torch.no_grad()
def tal_assign(pd_scores, pd_boxes, anchors, anc_stride, gt_labels, gt_boxes, gt_mask, nc, topk=10, alpha=0.5,
               beta=6.0, eps=1e-9):
    """Task-aligned assignment (TOOD / YOLOv8). Candidates of a ground-truth box are the
    anchor points inside it plus, on every level, the cell that holds its centre (so boxes
    narrower than the stride, frequent in traffic scenes, still get candidates); the top-k
    candidates by score^alpha * IoU^beta are positives.
    pd_scores [B,A,C] sigmoid, pd_boxes [B,A,4] xyxy px, anchors [A,2] px, anc_stride [A],
    gt_labels [B,M] long, gt_boxes [B,M,4] xyxy px, gt_mask [B,M] bool.
    Returns target boxes [B,A,4], target scores [B,A,C], foreground mask [B,A]."""
    b, a, _ = pd_scores.shape
    m = gt_boxes.shape[1]
    dev = pd_scores.device
    if m == 0 or not bool(gt_mask.any()):
        return (torch.zeros(b, a, 4, device=dev), torch.zeros(b, a, nc, device=dev),
                torch.zeros(b, a, dtype=torch.bool, device=dev))
    # anchors inside gt boxes [B,M,A]
    lt = anchors[None, None] - gt_boxes[:, :, None, :2]
    rb = gt_boxes[:, :, None, 2:] - anchors[None, None]
    in_gt = torch.cat([lt, rb], -1).amin(-1) > eps
    ctr = (gt_boxes[:, :, None, :2] + gt_boxes[:, :, None, 2:]) * 0.5
    in_cell = ((anchors[None, None] - ctr).abs() <= anc_stride[None, None, :, None] * 0.5).all(-1)
    mask = (in_gt | in_cell) & gt_mask[:, :, None]
    # alignment metric
    lab = gt_labels.clamp(0, nc - 1)
    sc = pd_scores.permute(0, 2, 1).gather(1, lab[:, :, None].expand(b, m, a))  # [B,M,A]
    ov = box_iou_pair(gt_boxes[:, :, None, :], pd_boxes[:, None, :, :], ciou=True).clamp(min=0)
    ov = ov * mask
    align = sc.pow(alpha) * ov.pow(beta) * mask
    k = min(topk, a)
    top = align.topk(k, dim=-1).indices
    is_top = torch.zeros_like(align, dtype=torch.bool).scatter_(-1, top, True)
    pos = is_top & mask  # [B,M,A]
    fg = pos.sum(1)  # [B,A]
    if bool((fg > 1).any()):
        multi = (fg > 1)[:, None, :].expand(b, m, a)
        best = F.one_hot(ov.argmax(1), m).permute(0, 2, 1).bool()
        pos = torch.where(multi, best & mask, pos)
        fg = pos.sum(1)
    gt_idx = pos.float().argmax(1)  # [B,A]
    bi = torch.arange(b, device=dev)[:, None]
    t_labels = lab[bi, gt_idx]
    t_boxes = gt_boxes[bi, gt_idx]
    fgm = fg > 0
    t_scores = F.one_hot(t_labels, nc).float() * fgm[..., None]
    align = align * pos
    pos_align = align.amax(-1, keepdim=True)
    pos_ov = (ov * pos).amax(-1, keepdim=True)
    norm = (align * pos_ov / (pos_align + eps)).amax(1)  # [B,A]
    return t_boxes, t_scores * norm[..., None], fgm


class DetLoss:
    """Classification BCE on task-aligned soft targets, CIoU box loss and distribution focal
    loss, weighted 0.5 / 7.5 / 1.5 as in YOLOv8."""

    def __init__(self, model, w_box=7.5, w_cls=0.5, w_dfl=1.5):
        self.nc, self.r = model.nc, model.reg_max
        self.anchors = model.anchors  # [A,2] px
        self.stride = model.stride_t  # [A]
        self.proj = model.proj
        self.w = (w_box, w_cls, w_dfl)

    def __call__(self, out, tgt):
        gt_labels, gt_boxes, gt_mask = tgt[:3]
        out = out.float()
        b = out.shape[0]
        box, cls = out[:, : 4 * self.r], out[:, 4 * self.r:]
        cls = cls.permute(0, 2, 1)  # [B,A,C]
        dist = box.unflatten(1, (4, self.r)).permute(0, 3, 1, 2)  # [B,A,4,R]
        ltrb = (dist.softmax(-1) * self.proj).sum(-1)  # stride units
        anc_s = self.anchors / self.stride[:, None]  # anchors in stride units
        pb = torch.cat([anc_s - ltrb[..., :2], anc_s + ltrb[..., 2:]], -1)  # [B,A,4] stride units
        pb_px = pb * self.stride[None, :, None]
        t_boxes, t_scores, fg = tal_assign(cls.detach().sigmoid(), pb_px.detach(), self.anchors, self.stride,
                                           gt_labels, gt_boxes, gt_mask, self.nc)
        tss = t_scores.sum().clamp(min=1.0)
        l_cls = F.binary_cross_entropy_with_logits(cls, t_scores, reduction="sum") / tss
        if bool(fg.any()):
            wgt = t_scores.sum(-1)[fg]
            tb = t_boxes / self.stride[None, :, None]
            iou = box_iou_pair(pb[fg], tb[fg], ciou=True)
            l_box = ((1.0 - iou) * wgt).sum() / tss
            anc = anc_s[None].expand(b, -1, -1)[fg]
            t_ltrb = torch.cat([anc - tb[fg][:, :2], tb[fg][:, 2:] - anc], -1).clamp(0, self.r - 1 - 0.01)
            l_dfl = (dfl(dist[fg], t_ltrb) * wgt[:, None]).sum() / tss / 4.0
        else:
            l_box = l_dfl = out.sum() * 0.0
        loss = self.w[0] * l_box + self.w[1] * l_cls + self.w[2] * l_dfl
        return loss, {"box": l_box.detach(), "cls": l_cls.detach(), "dfl": l_dfl.detach()}


def dfl(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Distribution focal loss: pred [K,4,R] logits, target [K,4] in [0, R-1)."""
    tl = target.long()
    tr = tl + 1
    wl = tr.float() - target
    wr = 1 - wl
    logp = F.log_softmax(pred, -1)
    return -(logp.gather(-1, tl[..., None]).squeeze(-1) * wl + logp.gather(-1, tr[..., None]).squeeze(-1) * wr)


# --------------------------------------------------------------------------- inference side


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou: float) -> torch.Tensor:
    try:
        import torchvision

        return torchvision.ops.nms(boxes, scores, iou)
    except Exception:  # plain implementation
        order = scores.argsort(descending=True)
        keep = []
        while order.numel():
            i = order[0]
            keep.append(int(i))
            if order.numel() == 1:
                break
            ious = box_iou_pair(boxes[i][None], boxes[order[1:]])
            order = order[1:][ious <= iou]
        return torch.tensor(keep, dtype=torch.long, device=boxes.device)


def postprocess(pred: torch.Tensor, conf: float = 0.001, iou: float = 0.5, max_det: int = 300,
                max_cand: int = 3000) -> list[torch.Tensor]:
    """pred [N,4+C,A] (the ONNX output) -> per image [K,6] (x1 y1 x2 y2 score cls),
    class-wise NMS, multi-label candidates."""
    res = []
    for p in pred:
        p = p.float().t()  # [A,4+C]
        xy, wh, sc = p[:, :2], p[:, 2:4], p[:, 4:]
        boxes = torch.cat([xy - wh / 2, xy + wh / 2], 1)
        ai, ci = (sc > conf).nonzero(as_tuple=True)
        s = sc[ai, ci]
        if s.numel() > max_cand:
            top = s.topk(max_cand).indices
            ai, ci, s = ai[top], ci[top], s[top]
        bx = boxes[ai]
        keep = nms(bx + ci[:, None].float() * 4096.0, s, iou)[:max_det]
        res.append(torch.cat([bx[keep], s[keep, None], ci[keep, None].float()], 1))
    return res


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(br - tl, 0, None).prod(-1)
    aa = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    ab = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    return inter / (aa[:, None] + ab[None] - inter + 1e-9)


def det_metrics(dets: list[np.ndarray], gts: list[np.ndarray], names: list[str], iou_thr: float = 0.5,
                score_thr: float = 0.25, min_size: float = 0.0) -> dict:
    """dets: per image [K,6] (x1 y1 x2 y2 score cls); gts: per image [M,5] (cls x1 y1 x2 y2).
    Returns AP@iou_thr per class (all-point interpolation), mAP over classes with ground
    truth, and recall / precision of detections with score >= score_thr. With min_size,
    ground truth whose shorter side is below it is ignored (COCO-style: a detection matched
    to it, or itself that small and unmatched, counts neither way)."""
    nc = len(names)
    recs = {c: [] for c in range(nc)}  # (score, tp)
    npos = np.zeros(nc, int)
    tp_thr = np.zeros(nc, int)
    fp_thr = np.zeros(nc, int)
    for d, g in zip(dets, gts):
        for c in range(nc):
            gc = g[g[:, 0] == c][:, 1:]
            ign = np.minimum(gc[:, 2] - gc[:, 0], gc[:, 3] - gc[:, 1]) < min_size if min_size else \
                np.zeros(len(gc), bool)
            gc = np.concatenate([gc[~ign], gc[ign]])  # real ones first
            n_real = int((~ign).sum())
            dc = d[d[:, 5] == c]
            dc = dc[np.argsort(-dc[:, 4])]
            npos[c] += n_real
            used = np.zeros(len(gc), bool)
            ious = iou_matrix(dc[:, :4], gc)
            for j in range(len(dc)):
                tp, skip = False, False
                if n_real:
                    cand = np.where(~used[:n_real], ious[j, :n_real], -1)
                    k = int(cand.argmax())
                    if cand[k] >= iou_thr:
                        used[k] = True
                        tp = True
                if not tp and len(gc) > n_real:
                    if ious[j, n_real:].max() >= iou_thr:
                        skip = True
                if not tp and min_size and min(dc[j, 2] - dc[j, 0], dc[j, 3] - dc[j, 1]) < min_size:
                    skip = True
                if skip:
                    continue
                recs[c].append((dc[j, 4], tp))
                if dc[j, 4] >= score_thr:
                    tp_thr[c] += tp
                    fp_thr[c] += not tp
    out = {"ap50": {}, "recall@0.25": {}, "precision@0.25": {}, "gt_count": {}}
    aps = []
    for c in range(nc):
        r = sorted(recs[c], key=lambda t: -t[0])
        tp = np.array([t[1] for t in r], float)
        n = int(npos[c])
        out["gt_count"][names[c]] = n
        if n == 0:
            out["ap50"][names[c]] = None
            out["recall@0.25"][names[c]] = None
        else:
            ctp = np.cumsum(tp)
            cfp = np.cumsum(1 - tp)
            rec = ctp / n
            prec = ctp / np.maximum(ctp + cfp, 1e-9)
            mrec = np.concatenate([[0.0], rec, [1.0]])
            mpre = np.concatenate([[1.0], prec, [0.0]])
            mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
            i = np.where(mrec[1:] != mrec[:-1])[0]
            ap = float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))
            out["ap50"][names[c]] = round(ap, 4)
            aps.append(ap)
            out["recall@0.25"][names[c]] = round(float(tp_thr[c] / n), 4)
        den = tp_thr[c] + fp_thr[c]
        out["precision@0.25"][names[c]] = round(float(tp_thr[c] / den), 4) if den else None
    out["map50"] = round(float(np.mean(aps)), 4) if aps else None
    tot = int(npos.sum())
    out["recall@0.25_all"] = round(float(tp_thr.sum() / tot), 4) if tot else None
    den = int(tp_thr.sum() + fp_thr.sum())
    out["precision@0.25_all"] = round(float(tp_thr.sum() / den), 4) if den else None
    return out
