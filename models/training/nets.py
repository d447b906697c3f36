"""The four networks. All take RGB float images in 0..1 (NCHW); any normalisation is done
inside the graph. ReLU everywhere: ONNX Runtime fuses Conv+ReLU on CPU."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

PLATE_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZĐ"  # class i+1; class 0 = pad
PLATE_SLOTS = 10
DET_CLASSES = ["car", "motorbike", "bus", "truck", "person"]


class Normalize(nn.Module):
    def __init__(self, mean: float = 0.5, std: float = 0.25):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean), persistent=False)
        self.register_buffer("inv_std", torch.tensor(1.0 / std), persistent=False)

    def forward(self, x):
        return (x - self.mean) * self.inv_std


class ConvBNAct(nn.Sequential):
    def __init__(self, c1, c2, k=3, s=1, g=1, act=True):
        pad = (k[0] // 2, k[1] // 2) if isinstance(k, tuple) else k // 2
        layers = [nn.Conv2d(c1, c2, k, s, pad, groups=g, bias=False), nn.BatchNorm2d(c2)]
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class DSBlock(nn.Module):
    """Depthwise k x k (stride s) + pointwise 1x1, residual when shapes match."""

    def __init__(self, c1, c2, s=1, k=3):
        super().__init__()
        self.dw = ConvBNAct(c1, c1, k, s, g=c1)
        self.pw = ConvBNAct(c1, c2, 1, act=False)
        self.res = s == 1 and c1 == c2
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.pw(self.dw(x))
        return self.act(y + x if self.res else y)


# --------------------------------------------------------------------------- plate recogniser


# Recogniser sizes: the body's widest channel count and whether its last downsampling halves
# the width too (an 8x20 map, a column per 8 pixels) or only the height (8x40, a column per 4
# pixels: the narrow characters of a one-line plate, 10 across 160 pixels, get two columns or more
# each instead of barely two).
PLATE_REC_VARIANTS = {
    "s": dict(c=96, fine=False),
    "m": dict(c=112, fine=True),
}


class PlateRecNet(nn.Module):
    """[N,3,64,160] -> probs [N,10,38]. A small depthwise-separable CNN to an 8x20 or 8x40
    feature map, then 10 character slots read it by attention: each slot's query is a
    learned slot embedding plus a projection of a coarse global view of the plate (so a
    slot can find its character in one-line and two-line layouts and any length), keys
    are features plus a learned position embedding; each slot's attended feature is
    classified by one classifier shared by all slots."""

    def __init__(self, n_cls: int = len(PLATE_CHARS) + 1, slots: int = PLATE_SLOTS, d: int = 32,
                 variant: str = "s"):
        super().__init__()
        v = PLATE_REC_VARIANTS[variant]
        self.slots, self.d = slots, d
        self.norm = Normalize()
        c, fine = v["c"], v["fine"]
        w = 40 if fine else 20
        self.body = nn.Sequential(
            ConvBNAct(3, 16, 3, 2),  # 32x80
            DSBlock(16, 32, 2),  # 16x40
            DSBlock(32, 32),
            DSBlock(32, 64, (2, 1) if fine else 2),  # 8x40 or 8x20
            DSBlock(64, 64),
            DSBlock(64, c, k=(3, 5)),
            DSBlock(c, c, k=(3, 5)),
        )
        self.key = nn.Conv2d(c, d, 1)
        self.pos = nn.Parameter(torch.zeros(1, d, 8, w))
        nn.init.normal_(self.pos, std=0.5)
        self.pool = nn.AvgPool2d((4, w // 5), (4, w // 5))  # -> 2x5 global layout view
        self.glob = nn.Sequential(nn.Flatten(1), nn.Linear(c * 10, 128), nn.ReLU(inplace=True),
                                  nn.Linear(128, slots * d))
        self.slot_emb = nn.Parameter(torch.randn(1, slots, d) * 0.5)
        self.cls = nn.Sequential(nn.Linear(c + d, 96), nn.ReLU(inplace=True), nn.Linear(96, n_cls))
        self.export_probs = True

    def logits(self, x):
        f = self.body(self.norm(x))  # [N,c,8,W]
        k = (self.key(f) + self.pos).flatten(2)  # [N,d,P]
        q = self.glob(self.pool(f)).unflatten(1, (self.slots, self.d)) + self.slot_emb  # [N,S,d]
        att = torch.softmax(torch.matmul(q, k) * (1.0 / math.sqrt(self.d)), dim=-1)  # [N,S,P]
        v = torch.matmul(att, f.flatten(2).transpose(1, 2))  # [N,S,c]
        return self.cls(torch.cat([v, q], dim=-1))  # [N,S,n_cls]

    def forward(self, x):
        z = self.logits(x)
        return z if self.training else torch.softmax(z.float(), dim=-1)


# --------------------------------------------------------------------------- helmet classifier


class HelmetNet(nn.Module):
    """[N,3,64,64] -> probs [N,2] (helmet, no_helmet)."""

    def __init__(self):
        super().__init__()
        self.norm = Normalize()
        self.body = nn.Sequential(
            ConvBNAct(3, 24, 3, 2),  # 32
            DSBlock(24, 48, 2),  # 16
            DSBlock(48, 48),
            DSBlock(48, 96, 2),  # 8
            DSBlock(96, 96),
            DSBlock(96, 160, 2),  # 4
            DSBlock(160, 160),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Dropout(0.2), nn.Linear(160, 2))

    def forward(self, x):
        z = self.head(self.body(self.norm(x)))
        return z if self.training else torch.softmax(z.float(), dim=-1)


# --------------------------------------------------------------------------- plate corner detector


class PlateDetNet(nn.Module):
    """[N,3,128,128] -> [N,9]: visibility probability and the four plate corners
    (TL TR BR BL, x y in 0..1). Corners are heatmaps at stride 4 (32x32) decoded inside the
    graph by soft-argmax (integral regression), which localises better than regressing
    coordinates from pooled features; visibility is a pooled-feature logistic output."""

    def __init__(self, hm: int = 32):
        super().__init__()
        self.norm = Normalize()
        self.stem = nn.Sequential(ConvBNAct(3, 16, 3, 2), DSBlock(16, 24, 2))  # 32
        self.s8 = nn.Sequential(DSBlock(24, 48, 2), DSBlock(48, 48))  # 16
        self.s16 = nn.Sequential(DSBlock(48, 96, 2), DSBlock(96, 96), DSBlock(96, 96))  # 8
        self.s32 = nn.Sequential(DSBlock(96, 128, 2), DSBlock(128, 128))  # 4 (context)
        self.lat32 = ConvBNAct(128, 64, 1)
        self.lat16 = ConvBNAct(96, 64, 1)
        self.lat8 = ConvBNAct(48, 64, 1)
        self.lat4 = ConvBNAct(24, 64, 1)
        self.fuse8 = DSBlock(64, 64)
        self.fuse4 = nn.Sequential(DSBlock(64, 64), DSBlock(64, 64))
        self.hm = nn.Conv2d(64, 4, 1)
        self.vis = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(128, 64), nn.ReLU(inplace=True),
                                 nn.Linear(64, 1))
        g = (torch.arange(hm, dtype=torch.float32) + 0.5) / hm
        gy, gx = torch.meshgrid(g, g, indexing="ij")
        self.register_buffer("gx", gx.reshape(1, 1, -1), persistent=False)
        self.register_buffer("gy", gy.reshape(1, 1, -1), persistent=False)

    def features(self, x):
        x = self.norm(x)
        f4 = self.stem(x)
        f8 = self.s8(f4)
        f16 = self.s16(f8)
        f32 = self.s32(f16)
        p = self.lat16(f16) + F.interpolate(self.lat32(f32), scale_factor=2.0, mode="nearest")
        p = self.lat8(f8) + F.interpolate(p, scale_factor=2.0, mode="nearest")
        p = self.fuse8(p)
        p = self.lat4(f4) + F.interpolate(p, scale_factor=2.0, mode="nearest")
        p = self.fuse4(p)
        return self.hm(p).flatten(2).float(), self.vis(f32).float()  # [N,4,P], [N,1]

    def decode(self, hm):
        prob = torch.softmax(hm, dim=-1)
        x = (prob * self.gx).sum(-1)
        y = (prob * self.gy).sum(-1)
        return prob, x, y

    def forward(self, x):
        hm, vis = self.features(x)
        prob, px, py = self.decode(hm)
        if self.training:
            return vis, prob, px, py
        xy = torch.stack([px, py], dim=-1).flatten(1)  # [N,8] x1 y1 ... x4 y4
        return torch.cat([torch.sigmoid(vis), xy], dim=1)


# --------------------------------------------------------------------------- vehicle detector


class Bottleneck(nn.Module):
    def __init__(self, c, shortcut=True):
        super().__init__()
        self.cv1 = ConvBNAct(c, c, 3)
        self.cv2 = ConvBNAct(c, c, 3)
        self.add = shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """YOLOv8's CSP block with two convolutions."""

    def __init__(self, c1, c2, n=1, shortcut=False):
        super().__init__()
        self.c = c2 // 2
        self.cv1 = ConvBNAct(c1, 2 * self.c, 1)
        self.cv2 = ConvBNAct((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = ConvBNAct(c1, c_, 1)
        self.cv2 = ConvBNAct(c_ * 4, c2, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class VehicleDetNet(nn.Module):
    """YOLOv8-style anchor-free detector, [N,3,416,416] -> [N,4+nc,3549] in eval mode
    (cx cy w h in input pixels, sigmoid class scores), raw [N,4*reg_max+nc,3549] in training.
    Backbone/neck are YOLOv8n-like (C2f, SPPF, PAN) at reduced width; the head is
    decoupled with depthwise-separable convolutions and DFL box distributions."""

    strides = (8, 16, 32)

    def __init__(self, nc: int = len(DET_CLASSES), reg_max: int = 16, img: int = 416,
                 w=(16, 32, 64, 96, 160), n=(1, 2, 2, 1)):
        super().__init__()
        self.nc, self.reg_max, self.img = nc, reg_max, img
        self.norm = Normalize(0.5, 0.25)
        self.b1 = nn.Sequential(ConvBNAct(3, w[0], 3, 2), ConvBNAct(w[0], w[1], 3, 2), C2f(w[1], w[1], n[0], True))
        self.b2 = nn.Sequential(ConvBNAct(w[1], w[2], 3, 2), C2f(w[2], w[2], n[1], True))  # P3
        self.b3 = nn.Sequential(ConvBNAct(w[2], w[3], 3, 2), C2f(w[3], w[3], n[2], True))  # P4
        self.b4 = nn.Sequential(ConvBNAct(w[3], w[4], 3, 2), C2f(w[4], w[4], n[3], True), SPPF(w[4], w[4]))  # P5
        self.up = nn.Upsample(scale_factor=2.0, mode="nearest")
        self.n4 = C2f(w[4] + w[3], w[3])
        self.n3 = C2f(w[3] + w[2], w[2])
        self.d3 = ConvBNAct(w[2], w[2], 3, 2)
        self.n4b = C2f(w[2] + w[3], w[3])
        self.d4 = ConvBNAct(w[3], w[3], 3, 2)
        self.n5b = C2f(w[3] + w[4], w[4])
        chs = (w[2], w[3], w[4])
        cr = max(16, chs[0] // 4, reg_max * 4)
        cc = max(chs[0], min(nc, 100))
        self.reg = nn.ModuleList(
            nn.Sequential(ConvBNAct(c, c, 3, g=c), ConvBNAct(c, cr, 1), ConvBNAct(cr, cr, 3, g=cr),
                          ConvBNAct(cr, cr, 1), nn.Conv2d(cr, 4 * reg_max, 1)) for c in chs)
        self.cls = nn.ModuleList(
            nn.Sequential(ConvBNAct(c, c, 3, g=c), ConvBNAct(c, cc, 1), ConvBNAct(cc, cc, 3, g=cc),
                          ConvBNAct(cc, cc, 1), nn.Conv2d(cc, nc, 1)) for c in chs)
        for r, c, s in zip(self.reg, self.cls, self.strides):
            nn.init.constant_(r[-1].bias, 1.0)
            nn.init.constant_(c[-1].bias, math.log(5 / nc / (640 / s) ** 2))
        anchors, strides = make_anchors(img, self.strides)
        self.register_buffer("anchors", anchors, persistent=False)  # [A,2] input pixels
        self.register_buffer("stride_t", strides, persistent=False)  # [A]
        self.register_buffer("proj", torch.arange(reg_max, dtype=torch.float32), persistent=False)

    def raw(self, x):
        x = self.norm(x)
        c2 = self.b1(x)
        p3 = self.b2(c2)
        p4 = self.b3(p3)
        p5 = self.b4(p4)
        h4 = self.n4(torch.cat([self.up(p5), p4], 1))
        o3 = self.n3(torch.cat([self.up(h4), p3], 1))
        o4 = self.n4b(torch.cat([self.d3(o3), h4], 1))
        o5 = self.n5b(torch.cat([self.d4(o4), p5], 1))
        outs = []
        for i, f in enumerate((o3, o4, o5)):
            outs.append(torch.cat([self.reg[i](f), self.cls[i](f)], 1).flatten(2))
        return torch.cat(outs, 2)  # [N, 4R+nc, A]

    def decode_dist(self, box):
        """box [N,4R,A] -> distances ltrb [N,4,A] in stride units (DFL expectation)."""
        b = box.unflatten(1, (4, self.reg_max)).softmax(2)  # [N,4,R,A]
        return (b * self.proj.view(1, 1, -1, 1)).sum(2)

    def forward(self, x):
        y = self.raw(x)
        if self.training:
            return y
        y = y.float()
        box, cls = y[:, : 4 * self.reg_max], y[:, 4 * self.reg_max:]
        d = self.decode_dist(box) * self.stride_t  # [N,4,A] pixels
        lt, rb = d[:, :2], d[:, 2:]
        a = self.anchors.t()  # [2,A]
        x1y1, x2y2 = a - lt, a + rb
        return torch.cat([(x1y1 + x2y2) * 0.5, x2y2 - x1y1, torch.sigmoid(cls)], 1)


def make_anchors(img: int, strides) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchor points (cell centres, input pixels) [A,2] and their strides [A]."""
    pts, st = [], []
    for s in strides:
        n = img // s
        r = (torch.arange(n, dtype=torch.float32) + 0.5) * s
        yy, xx = torch.meshgrid(r, r, indexing="ij")
        pts.append(torch.stack([xx, yy], -1).reshape(-1, 2))
        st.append(torch.full((n * n,), float(s)))
    return torch.cat(pts), torch.cat(st)
