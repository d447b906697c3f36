"""The four training tasks: data loading (whole split preloaded as uint8 on the device),
batches with on-device augmentation, losses and validation metrics."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import common
import det_utils
import nets


def _warp_border(x, m, hw):
    """Affine warp replicating the border (for crops: the world goes on past the edge)."""
    b, _, h, w = x.shape
    inv = torch.linalg.inv(m.detach().cpu().float()).to(x.device)
    oh, ow = hw
    dev = x.device
    n2p = torch.tensor([[ow / 2, 0, ow / 2], [0, oh / 2, oh / 2], [0, 0, 1]], device=dev)
    p2n = torch.tensor([[2 / w, 0, -1], [0, 2 / h, -1], [0, 0, 1]], device=dev)
    theta = (p2n @ inv @ n2p)[:, :2]
    grid = F.affine_grid(theta, [b, 3, oh, ow], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class Task:
    name = ""
    in_name = "image"
    out_name = "probs"
    in_shape: tuple[int, int, int] = (3, 0, 0)
    cfg: dict = {}
    extra_roots: list[Path] = []  # more data set roots whose splits of the task are added (--also)

    def __init__(self, data: Path, device: torch.device, threads: int):
        self.data, self.device, self.threads = data, device, threads
        self.gen = common.rand_gen(common.SEED + 7)

    def to_float(self, u8: torch.Tensor) -> torch.Tensor:
        x = u8.to(self.device, non_blocking=True).float().div_(255.0)
        return x

    def cl(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.device.type == "cuda" else x

    def roots(self) -> list[Path]:
        return [self.data] + list(self.extra_roots)

    def val_images(self, n: int) -> torch.Tensor:
        return self.to_float(self.val_x[:n])

    def set_model(self, model) -> None:
        self._model_ref = model


# --------------------------------------------------------------------------- plate recogniser


def _low_resolution(x: torch.Tensor, gen: torch.Generator, p: float) -> torch.Tensor:
    """A share `p` of the crops seen at a lower resolution and brought back up, as a far plate
    is in a real camera's frame (real crops of 100 x 35 px are common): each shrunk by 1.5 to 3.5
    times (area average), then enlarged again (bilinear)."""
    if p <= 0:
        return x
    b, _, h, w = x.shape
    pick = torch.rand(b, generator=gen) < p
    if not bool(pick.any()):
        return x
    k = float(torch.empty(1).uniform_(1.5, 3.5, generator=gen))
    small = F.interpolate(x[pick.to(x.device)], size=(max(8, int(h / k)), max(16, int(w / k))), mode="area")
    x = x.clone()
    x[pick.to(x.device)] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return x


def normalize_plate_text(t: str) -> str:
    t = unicodedata.normalize("NFC", t).upper()
    t = t.replace("\u0111", "\u0110")  # đ -> Đ (upper() does this too)
    return "".join(ch for ch in t if ch not in " -._·")


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


class PlateRec(Task):
    name = "plate_rec"
    in_shape = (3, 64, 160)
    cfg = dict(batch_cuda=256, batch_cpu=32, lr=3e-3, wd=0.05, max_epochs=3000, reserve_s=20, ema_decay=0.998,
               ema_tau=200)
    variant = "s"  # nets.PLATE_REC_VARIANTS
    balance = 1.0  # how much more often one-line and coloured plates are drawn

    low_res_p = 0.0

    def __init__(self, data, device, threads):
        super().__init__(data, device, threads)
        self.char_idx = {c: i + 1 for i, c in enumerate(nets.PLATE_CHARS)}
        self.skipped = {}
        self.train_x, self.train_y, self.train_meta = self._load("train")
        self.val_x, self.val_y, self.val_meta = self._load("val")
        self.n_train, self.n_val = len(self.train_y), len(self.val_y)

    def _load(self, split):
        rows = [(root / "plates" / split, r) for root in self.roots()
                for r in common.read_tsv(root / "plates" / split / "labels.tsv")]
        paths, ys, meta, skipped = [], [], [], 0
        for d, r in rows:
            if len(r) < 2:
                skipped += 1
                continue
            text = normalize_plate_text(r[1])
            if not text or len(text) > nets.PLATE_SLOTS or any(c not in self.char_idx for c in text):
                skipped += 1
                continue
            y = [self.char_idx[c] for c in text] + [0] * (nets.PLATE_SLOTS - len(text))
            paths.append(d / r[0])
            ys.append(y)
            meta.append({"text": text, "layout": r[2] if len(r) > 2 else "?", "colour": r[3] if len(r) > 3 else "?"})
        self.skipped[split] = skipped
        x = common.load_images(paths, self.in_shape[1:], self.threads)
        return (common.to_device_images(x, self.device), torch.tensor(ys, dtype=torch.long, device=self.device)
                .reshape(-1, nets.PLATE_SLOTS), meta)

    def data_info(self):
        lay, col = {}, {}
        for m in self.train_meta:
            lay[m["layout"]] = lay.get(m["layout"], 0) + 1
            col[m["colour"]] = col.get(m["colour"], 0) + 1
        # The crops' margin around the plate (sim's --plate-margin): the model's crop_margin.
        made = self.data / "manifest.json"
        margin = json.loads(made.read_text(encoding="utf-8")).get("plate_margin", 0.0) if made.exists() else 0.0
        return {"train": self.n_train, "val": self.n_val, "skipped_rows": self.skipped, "train_layouts": lay,
                "train_colours": col, "variant": self.variant, "balance": self.balance, "crop_margin": margin}

    def build(self):
        return nets.PlateRecNet(variant=self.variant)

    def sample_weights(self):
        """Per-sample drawing weights for the training batches: one-line plates and plates that
        are not white are the rarer kinds in the scenes (most traffic is motorbikes with white
        two-line plates) and the harder ones to read, so each counts `balance` times."""
        if self.balance == 1.0:
            return None
        w = [(self.balance if m["layout"] == "one_line" else 1.0) * (self.balance if m["colour"] != "white" else 1.0)
             for m in self.train_meta]
        return torch.tensor(w, dtype=torch.float64)

    def batch(self, idx, train):
        idx = idx.to(self.device)
        x = self.to_float(self.train_x[idx])
        y = self.train_y[idx]
        if train:
            b = x.shape[0]
            m, _ = common.affine_matrices(b, (64, 160), (64, 160), self.gen, self.device, base_scale=1.0,
                                          scale=(0.9, 1.06), shift=0.04, rot_deg=3.0, plain_p=0.2)
            x = _warp_border(x, m, (64, 160))
            x = common.color_jitter(x, self.gen, gray_p=0.1, noise=0.04, blur_p=0.3)
            x = _low_resolution(x, self.gen, self.low_res_p)
        return self.cl(x), y

    def loss(self, out, y):
        z = out.float().reshape(-1, out.shape[-1])
        loss = F.cross_entropy(z, y.reshape(-1), label_smoothing=0.05)
        return loss, {}

    @torch.no_grad()
    def evaluate(self, model):
        model.eval()
        preds = []
        for i in range(0, self.n_val, 512):
            x = self.to_float(self.val_x[i:i + 512])
            p = model(self.cl(x))
            preds.append(p.float().argmax(-1).cpu())
        pred = torch.cat(preds).numpy() if preds else np.zeros((0, nets.PLATE_SLOTS), int)
        chars = "\0" + nets.PLATE_CHARS
        ok, tot, dist, nchar = 0, 0, 0, 0
        by_layout, by_colour = {}, {}
        conf = {}
        for p, m in zip(pred, self.val_meta):
            text = "".join(chars[k] for k in p if k != 0)
            hit = text == m["text"]
            ok += hit
            tot += 1
            d = edit_distance(text, m["text"])
            dist += d
            nchar += len(m["text"])
            for key, dd in ((m["layout"], by_layout), (m["colour"], by_colour)):
                e = dd.setdefault(key, [0, 0, 0, 0])
                e[0] += hit
                e[1] += 1
                e[2] += d
                e[3] += len(m["text"])
            if not hit and len(text) == len(m["text"]):
                for a, b in zip(m["text"], text):
                    if a != b:
                        conf[f"{a}->{b}"] = conf.get(f"{a}->{b}", 0) + 1

        def fmt(dd):
            return {k: {"exact_match": round(v[0] / v[1], 4), "cer": round(v[2] / max(v[3], 1), 4), "n": v[1]}
                    for k, v in sorted(dd.items())}

        top = sorted(conf.items(), key=lambda kv: -kv[1])[:10]
        return {
            "exact_match": round(ok / max(tot, 1), 4),
            "cer": round(dist / max(nchar, 1), 4),
            "n": tot,
            "by_layout": fmt(by_layout),
            "by_colour": fmt(by_colour),
            "top_confusions": dict(top),
            "_score": ok / max(tot, 1) - dist / max(nchar, 1),
        }


# --------------------------------------------------------------------------- helmet


class Helmet(Task):
    name = "helmet"
    in_shape = (3, 64, 64)
    cfg = dict(batch_cuda=256, batch_cpu=32, lr=3e-3, wd=0.05, max_epochs=2000, reserve_s=15, ema_decay=0.998,
               ema_tau=200)
    classes = ["helmet", "no_helmet"]

    def __init__(self, data, device, threads):
        super().__init__(data, device, threads)
        self.train_x, self.train_y = self._load("train")
        self.val_x, self.val_y = self._load("val")
        self.n_train, self.n_val = len(self.train_y), len(self.val_y)

    def _load(self, split):
        d = self.data / "helmet" / split
        rows = [r for r in common.read_tsv(d / "labels.tsv") if len(r) >= 2 and r[1].strip() in self.classes]
        x = common.load_images([d / r[0] for r in rows], self.in_shape[1:], self.threads)
        y = torch.tensor([self.classes.index(r[1].strip()) for r in rows], dtype=torch.long, device=self.device)
        return common.to_device_images(x, self.device), y

    def data_info(self):
        return {"train": self.n_train, "val": self.n_val,
                "train_no_helmet_fraction": round(float(self.train_y.float().mean()), 4) if self.n_train else None}

    def build(self):
        return nets.HelmetNet()

    def batch(self, idx, train):
        idx = idx.to(self.device)
        x = self.to_float(self.train_x[idx])
        if train:
            m, _ = common.affine_matrices(x.shape[0], (64, 64), (64, 64), self.gen, self.device, base_scale=1.0,
                                          scale=(0.85, 1.15), shift=0.08, rot_deg=8.0, flip_p=0.5, plain_p=0.1)
            x = _warp_border(x, m, (64, 64))
            x = common.color_jitter(x, self.gen, hue_deg=15.0, gray_p=0.1, blur_p=0.3)
        return self.cl(x), self.train_y[idx]

    def loss(self, out, y):
        return F.cross_entropy(out.float(), y, label_smoothing=0.05), {}

    @torch.no_grad()
    def evaluate(self, model):
        model.eval()
        preds = []
        for i in range(0, self.n_val, 1024):
            preds.append(model(self.cl(self.to_float(self.val_x[i:i + 1024]))).float().argmax(-1))
        p = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.long, device=self.device)
        y = self.val_y
        acc = float((p == y).float().mean()) if len(y) else 0.0
        rec = {}
        for c, name in enumerate(self.classes):
            n = int((y == c).sum())
            rec[name] = round(float(((p == c) & (y == c)).sum()) / n, 4) if n else None
        vals = [v for v in rec.values() if v is not None]
        return {"accuracy": round(acc, 4), "recall": rec,
                "balanced_accuracy": round(float(np.mean(vals)), 4) if vals else None,
                "n": int(len(y)), "_score": acc}


# --------------------------------------------------------------------------- plate corners


def quad_bbox_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of the bounding boxes of quads a, b [N,8]."""
    ax, ay, bx, by = a[:, 0::2], a[:, 1::2], b[:, 0::2], b[:, 1::2]
    A = np.stack([ax.min(1), ay.min(1), ax.max(1), ay.max(1)], 1)
    B = np.stack([bx.min(1), by.min(1), bx.max(1), by.max(1)], 1)
    tl = np.maximum(A[:, :2], B[:, :2])
    br = np.minimum(A[:, 2:], B[:, 2:])
    inter = np.clip(br - tl, 0, None).prod(1)
    ua = np.clip(A[:, 2:] - A[:, :2], 0, None).prod(1) + np.clip(B[:, 2:] - B[:, :2], 0, None).prod(1) - inter
    return inter / np.maximum(ua, 1e-12)


class PlateDet(Task):
    name = "plate_det"
    out_name = "plate"
    in_shape = (3, 128, 128)
    cfg = dict(batch_cuda=256, batch_cpu=16, lr=3e-3, wd=0.05, max_epochs=3000, reserve_s=20, ema_decay=0.998,
               ema_tau=200)
    sigma = 1.0  # target heatmap spread, in heatmap cells

    def __init__(self, data, device, threads):
        super().__init__(data, device, threads)
        self.train_x, self.train_v, self.train_q = self._load("train")
        self.val_x, self.val_v, self.val_q = self._load("val")
        self.n_train, self.n_val = len(self.train_v), len(self.val_v)

    def _load(self, split):
        paths, vis, quads = [], [], []
        rows = [(root / "plate-detect" / split, r) for root in self.roots()
                for r in common.read_tsv(root / "plate-detect" / split / "labels.tsv")]
        for d, r in rows:
            if len(r) < 2:
                continue
            v = r[1].strip() == "1"
            q = [float(t) for t in r[2].split()] if len(r) > 2 and r[2].strip() else []
            if len(q) != 8:
                q, v = [0.0] * 8, False
            paths.append(d / r[0])
            vis.append(float(v))
            quads.append(q)
        x = common.load_images(paths, self.in_shape[1:], self.threads)
        return (common.to_device_images(x, self.device), torch.tensor(vis, device=self.device),
                torch.tensor(quads, dtype=torch.float32, device=self.device).reshape(-1, 8))

    def data_info(self):
        return {"train": self.n_train, "val": self.n_val,
                "train_visible_fraction": round(float(self.train_v.mean()), 4) if self.n_train else None}

    def build(self):
        return nets.PlateDetNet()

    def batch(self, idx, train):
        idx = idx.to(self.device)
        x = self.to_float(self.train_x[idx])
        v, q = self.train_v[idx], self.train_q[idx]
        if train:
            b = x.shape[0]
            m, flip = common.affine_matrices(b, (128, 128), (128, 128), self.gen, self.device, base_scale=1.0,
                                             scale=(0.85, 1.2), shift=0.08, rot_deg=6.0, flip_p=0.5, plain_p=0.1)
            x = _warp_border(x, m, (128, 128))
            x = common.color_jitter(x, self.gen, hue_deg=10.0, blur_p=0.3)
            pts = common.apply_points(m, q.view(b, 4, 2) * 128.0) / 128.0
            swapped = pts[:, [1, 0, 3, 2]]  # a mirrored plate: TL<->TR, BR<->BL
            pts = torch.where(flip[:, None, None], swapped, pts)
            q = pts.reshape(b, 8)
        return self.cl(x), (v, q)

    def loss(self, out, tgt):
        vis_logit, prob, px, py = out
        v, q = tgt
        l_vis = F.binary_cross_entropy_with_logits(vis_logit[:, 0], v)
        m = v > 0.5
        if bool(m.any()):
            tx, ty = q[:, 0::2][m], q[:, 1::2][m]  # [K,4]
            l_xy = (px[m] - tx).abs().mean() + (py[m] - ty).abs().mean()
            # DSNT-style regulariser: Jensen-Shannon divergence to a gaussian at the target
            model = self._model_ref
            g2 = ((model.gx - tx[..., None]) ** 2 + (model.gy - ty[..., None]) ** 2)
            s = self.sigma / 32.0
            tgt_hm = torch.softmax(-g2 / (2 * s * s), dim=-1)
            p = prob[m].clamp(min=1e-12)
            mid = 0.5 * (p + tgt_hm)
            js = 0.5 * (p * (p / mid).log()).sum(-1) + 0.5 * (tgt_hm * (tgt_hm.clamp(min=1e-12) / mid).log()).sum(-1)
            l_js = js.mean()
        else:
            l_xy = l_js = vis_logit.sum() * 0.0
        loss = l_vis + 20.0 * l_xy + l_js
        return loss, {"vis": l_vis.detach(), "xy": l_xy.detach(), "js": l_js.detach()}

    @torch.no_grad()
    def evaluate(self, model):
        model.eval()
        outs = []
        for i in range(0, self.n_val, 1024):
            outs.append(model(self.cl(self.to_float(self.val_x[i:i + 1024]))).float().cpu())
        o = torch.cat(outs).numpy() if outs else np.zeros((0, 9))
        v = self.val_v.cpu().numpy() > 0.5
        q = self.val_q.cpu().numpy()
        pv = o[:, 0] >= 0.5
        res = {"visibility_accuracy": round(float((pv == v).mean()), 4) if len(v) else None,
               "n": int(len(v)), "n_visible": int(v.sum())}
        if v.any():
            iou = quad_bbox_iou(o[v, 1:], q[v])
            err = np.sqrt((o[v, 1::2] - q[v, 0::2]) ** 2 + (o[v, 2::2] - q[v, 1::2]) ** 2) * 128.0  # [K,4]
            rec = float(((iou >= 0.5) & pv[v]).mean())
            res.update({
                "recall_iou50": round(rec, 4),
                "recall_iou50_ignoring_visibility": round(float((iou >= 0.5).mean()), 4),
                "mean_corner_error_px": round(float(err.mean()), 3),
                "median_corner_error_px": round(float(np.median(err)), 3),
                "p95_corner_error_px": round(float(np.percentile(err, 95)), 3),
                "_score": rec - float(err.mean()) / 128.0,
            })
        else:
            res["_score"] = res["visibility_accuracy"] or 0.0
        return res


# --------------------------------------------------------------------------- vehicle detector


# The image files a detection set may hold (Roboflow exports JPEG; WebP halves a set's size).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


class VehicleDet(Task):
    name = "vehicle_det"
    in_name = "images"
    out_name = "output0"
    in_shape = (3, 416, 416)
    cfg = dict(batch_cuda=64, batch_cpu=4, lr=2e-3, wd=0.025, max_epochs=3000, reserve_s=40, ema_decay=0.999,
               ema_tau=500)
    fill = 114.0 / 255.0

    def __init__(self, data, device, threads):
        super().__init__(data, device, threads)
        d = data / "detect"
        names = [l.strip() for l in (d / "classes.txt").read_text(encoding="utf-8").splitlines() if l.strip()] \
            if (d / "classes.txt").exists() else list(nets.DET_CLASSES)
        if names != nets.DET_CLASSES:
            common.log(f"[vehicle_det] warning: classes.txt is {names}, the contract is {nets.DET_CLASSES}")
        self.names = list(nets.DET_CLASSES)
        self.real, self.real_share, self.stretch_p = [], 0.0, 0.0
        self.train_x, self.train_l = self._load("train")
        self.val_x, self.val_l = self._load("val")
        self.n_sim = len(self.train_x)
        self.kind = torch.zeros(self.n_sim, dtype=torch.long, device=self.device)
        self.n_train, self.n_val = len(self.train_x), len(self.val_x)
        self.src_hw = (360, 640)
        self.real_val = None
        # A COCO-trained YOLOX export to start from (`yolox.py`), instead of the project's network.
        self.coco_init: Path | None = None
        self.top_left = False

    def _load(self, split):
        d = self.data / "detect"
        paths = sorted(p for p in (d / "images" / split).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) \
            if (d / "images" / split).is_dir() else []
        x = common.load_images(paths, (360, 640), self.threads)
        h, w = 360, 640
        labels = []
        for p in paths:
            lp = d / "labels" / split / (p.stem + ".txt")
            rows = []
            if lp.exists():
                for line in lp.read_text().splitlines():
                    t = line.split()
                    if len(t) < 5:
                        continue
                    c, cx, cy, bw, bh = int(float(t[0])), *map(float, t[1:5])
                    if not 0 <= c < len(nets.DET_CLASSES) or bw <= 0 or bh <= 0:
                        continue
                    rows.append([c, (cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h])
            labels.append(rows)
        mmax = max([len(r) for r in labels] + [1])
        lab = torch.zeros(len(labels), mmax, 5)
        lab[:, :, 0] = -1
        for i, rows in enumerate(labels):
            if rows:
                lab[i, : len(rows)] = torch.tensor(rows)
        return common.to_device_images(x, self.device), lab.to(self.device)

    def add_real(self, yamls: list[Path], share: float, stretch_p: float) -> None:
        """Real photographs in the YOLO / Roboflow layout (`data.yaml` with `names`, `train/` and
        `valid/` beside it) join the training frames, drawn as `share` of each batch. They are
        stored at the sim's 360x640: a set exported as stretched squares (640x640 from 16:9
        cameras) gets its cameras' own shape back. A share `stretch_p` of the training frames is
        stretched back to a square, as such exports are, so the detector reads both. Their
        `valid` split becomes the validation that picks the weights."""
        self.real_share, self.stretch_p = share, stretch_p
        xs, ls = [self.train_x], [self.train_l]
        kinds = [torch.zeros(len(self.train_x), dtype=torch.long)]
        vals = []
        person = self.names.index("person")
        for y in yamls:
            mapping = real_class_map(y)
            x, lab = self._load_yolo(y.parent / "train", mapping, (360, 640))
            xs.append(x)
            ls.append(lab)
            # A set that labels people (`pseudo_people.py`) teaches them; one that does not is
            # left out of the person class.
            kinds.append(torch.full((len(x),), 2 if person in mapping.values() else 1, dtype=torch.long))
            self.real.append({"data": str(y), "train": len(x), "classes": {k: self.names[v] for k, v in mapping.items()}})
            vdir = next((y.parent / s for s in ("valid", "val") if (y.parent / s / "images").is_dir()), None)
            if vdir is not None:
                vals.append(self._load_yolo(vdir, mapping, (640, 640)) + (str(y),))
        m = max(l.shape[1] for l in ls)
        ls = [F.pad(l, (0, 0, 0, m - l.shape[1]), value=-1.0) if l.shape[1] < m else l for l in ls]
        self.train_x = torch.cat(xs)
        self.train_l = torch.cat(ls)
        self.kind = torch.cat(kinds).to(self.device)
        self.n_train = len(self.train_x)
        if vals:
            # One real validation set, at its stored size (as `edge-agent eval-detect` reads it).
            x, lab, _ = vals[0]
            self.real_val = (x, lab)

    def _load_yolo(self, split_dir: Path, mapping: dict[int, int], hw: tuple[int, int]):
        paths = sorted(p for p in (split_dir / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        x = common.load_images(paths, hw, self.threads)
        h, w = hw
        labels = []
        for p in paths:
            lp = split_dir / "labels" / (p.stem + ".txt")
            rows = []
            if lp.exists():
                for line in lp.read_text().splitlines():
                    t = line.split()
                    if len(t) < 5:
                        continue
                    c, cx, cy, bw, bh = int(float(t[0])), *map(float, t[1:5])
                    if c not in mapping or bw <= 0 or bh <= 0:
                        continue
                    rows.append([mapping[c], (cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w,
                                 (cy + bh / 2) * h])
            labels.append(rows)
        mmax = max([len(r) for r in labels] + [1])
        lab = torch.full((len(labels), mmax, 5), 0.0)
        lab[:, :, 0] = -1
        for i, rows in enumerate(labels):
            if rows:
                lab[i, : len(rows)] = torch.tensor(rows)
        return common.to_device_images(x, self.device), lab.to(self.device)

    def sample_weights(self):
        """With real photographs, they make `real_share` of the draws, the sim frames the rest."""
        n_real = self.n_train - self.n_sim
        if not n_real or self.real_share <= 0:
            return None
        w = torch.empty(self.n_train, dtype=torch.float64)
        w[: self.n_sim] = (1.0 - self.real_share) / max(1, self.n_sim)
        w[self.n_sim:] = self.real_share / n_real
        return w

    def data_info(self):
        def count(lab):
            c = lab[:, :, 0]
            return {n: int((c == i).sum()) for i, n in enumerate(self.names)}

        info = {"train": self.n_train, "val": self.n_val, "train_boxes": count(self.train_l),
                "val_boxes": count(self.val_l), "max_boxes_per_image": int(self.train_l.shape[1])}
        if self.real:
            info.update(sim_train=self.n_sim, real=self.real, real_share=self.real_share, stretch_p=self.stretch_p,
                        real_val=len(self.real_val[0]) if self.real_val else 0,
                        real_val_boxes=count(self.real_val[1]) if self.real_val else {})
        return info

    def use_coco(self, path: Path) -> None:
        """Start from a COCO-trained YOLOX export (`yolox.py`). Its convolutions carry folded
        batch norms and already know real images: a learning rate about a fifth of training
        from random weights keeps what they know (at batch 8 on a CPU, 1.5e-4)."""
        self.coco_init = path
        self.cfg = dict(self.cfg, lr=4.2e-4, batch_cpu=8)

    def build(self):
        if self.coco_init is not None:
            import yolox

            return yolox.YoloxDet(self.coco_init)
        return nets.VehicleDetNet()

    def set_model(self, model):
        super().set_model(model)
        if hasattr(model, "export_module"):
            import yolox

            # YOLOX's contract: the frame letterboxed at the top left, as the agent feeds it.
            self.crit, self.top_left = yolox.YoloxLoss(model), True
        else:
            self.crit = det_utils.DetLoss(model)

    def letterbox_maps(self, b, src_hw=None):
        h, w = src_hw or self.src_hw
        s = min(416 / h, 416 / w)
        dx, dy = (0.0, 0.0) if self.top_left else ((416 - s * w) / 2, (416 - s * h) / 2)
        m = torch.tensor([[s, 0, dx], [0, s, dy], [0, 0, 1]], device=self.device)
        return m.expand(b, 3, 3)

    def _transform(self, u8, lab, m):
        x = common.affine_warp(u8.to(self.device).float().div_(255.0), m, (416, 416), self.fill)
        b = lab.shape[0]
        cls = lab[:, :, 0]
        pts = torch.stack([lab[:, :, [1, 2]], lab[:, :, [3, 2]], lab[:, :, [3, 4]], lab[:, :, [1, 4]]], 2)  # [B,M,4,2]
        pts = common.apply_points(m, pts.reshape(b, -1, 2)).reshape(b, -1, 4, 2)
        x1y1 = pts.amin(2)
        x2y2 = pts.amax(2)
        area0 = (x2y2 - x1y1).prod(-1)
        x1y1c, x2y2c = x1y1.clamp(0, 416), x2y2.clamp(0, 416)
        wh = (x2y2c - x1y1c)
        keep = (cls >= 0) & (wh.min(-1).values >= 2.0) & (wh.prod(-1) >= 0.25 * area0)
        boxes = torch.cat([x1y1c, x2y2c], -1)
        return x, (cls.long().clamp(min=0), boxes, keep)

    def batch(self, idx, train):
        idx = idx.to(self.device)
        u8, lab = self.train_x[idx], self.train_l[idx]
        b = u8.shape[0]
        lab = lab[:, : max(1, int((lab[:, :, 0] >= 0).sum(1).max()))]  # rows are packed: trim the padding
        if train:
            m, _ = common.affine_matrices(b, self.src_hw, (416, 416), self.gen, self.device, scale=(0.7, 1.5),
                                          shift=0.15, rot_deg=0.0, flip_p=0.5, plain_p=0.25)
            if self.stretch_p > 0:
                # Some frames stretched vertically back to the square of a 640x640 export.
                k = torch.where(torch.rand(b, generator=self.gen) < self.stretch_p,
                                torch.full((b,), 640 / 360), torch.ones(b)).to(self.device)
                s = torch.zeros(b, 3, 3, device=self.device)
                s[:, 0, 0], s[:, 2, 2] = 1.0, 1.0
                s[:, 1, 1] = k
                s[:, 1, 2] = 208.0 * (1.0 - k)
                m = s @ m
        else:
            m = self.letterbox_maps(b)
        x, tgt = self._transform(u8, lab, m)
        if train:
            x = common.color_jitter(x, self.gen, bright=0.3, contrast=0.25, sat=0.5, hue_deg=6.0, gray_p=0.03,
                                    noise=0.02, blur_p=0.25)
            # Which frames are real photographs, and whether their set labels people: their
            # labels cover fewer classes (see the loss). 0 sim, 1 real without people, 2 real
            # with people.
            tgt = tgt + (self.kind[idx],)
        return self.cl(x), tgt

    def loss(self, out, tgt):
        return self.crit(out, tgt)

    def val_images(self, n):
        x, _ = self._transform(self.val_x[:n], self.val_l[:n], self.letterbox_maps(min(n, self.n_val)))
        return x

    @torch.no_grad()
    def _detect(self, model, xs, ls, src_hw):
        dets, gts = [], []
        for i in range(0, len(xs), 64):
            u8, lab = xs[i:i + 64], ls[i:i + 64]
            x, (cls, boxes, keep) = self._transform(u8, lab, self.letterbox_maps(u8.shape[0], src_hw))
            pred = model(self.cl(x)).float()
            for j, d in enumerate(det_utils.postprocess(pred, conf=0.001, iou=0.5)):
                dets.append(d.cpu().numpy())
                k = keep[j]
                gts.append(torch.cat([cls[j][k, None].float(), boxes[j][k]], 1).cpu().numpy())
        return dets, gts

    @torch.no_grad()
    def evaluate(self, model):
        model.eval()
        dets, gts = self._detect(model, self.val_x, self.val_l, self.src_hw)
        res = det_utils.det_metrics(dets, gts, self.names)
        big = det_utils.det_metrics(dets, gts, self.names, min_size=8.0)
        res["objects_min8px"] = {k: big[k] for k in ("map50", "ap50", "recall@0.25_all", "recall@0.25",
                                                     "precision@0.25_all", "gt_count")}
        res["n_images"] = self.n_val
        res["nms_iou"] = 0.5
        res["note"] = ("boxes in 416x416 letterbox pixels; objects_min8px ignores ground truth whose shorter "
                       "side is under 8 px there (COCO-style ignore)")
        res["_score"] = res["map50"] or 0.0
        if self.real_val is not None:
            # Real photographs: buses and trucks found count as the cars the set labels.
            x, lab = self.real_val
            rd, rg = self._detect(model, x, lab, tuple(x.shape[2:]))
            merged = []
            for d in rd:
                d = d.copy()
                d[:, 5] = np.where(np.isin(d[:, 5], (2, 3)), 0, d[:, 5])
                merged.append(d[d[:, 5] < 2])
            real = det_utils.det_metrics(merged, rg, self.names[:2])
            res["real"] = {k: real[k] for k in ("map50", "ap50", "recall@0.25", "gt_count")}
            res["_score"] = real["map50"] or 0.0
        return res


def real_class_map(yaml_path: Path) -> dict[int, int]:
    """A YOLO data set's class ids -> the detector's, by name (car; motorbike under its spellings;
    bus; truck; person); other classes (signal lamps, stop lines) are not trained on."""
    text = yaml_path.read_text(encoding="utf-8")
    names = None
    for line in text.splitlines():
        if line.startswith("names:"):
            rest = line[len("names:"):].strip()
            if rest.startswith("["):
                names = [n.strip().strip("'\"") for n in rest.strip("[]").split(",")]
            break
    if names is None:
        raise ValueError(f"{yaml_path}: no inline `names: [...]`")
    alias = {"car": "car", "motobike": "motorbike", "motorbike": "motorbike", "motorcycle": "motorbike",
             "bus": "bus", "truck": "truck", "person": "person"}
    return {i: nets.DET_CLASSES.index(alias[n.lower()]) for i, n in enumerate(names) if n.lower() in alias}


TASKS = {t.name: t for t in (PlateRec, VehicleDet, PlateDet, Helmet)}
