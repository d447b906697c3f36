"""Shared pieces of the training scripts: seeds, devices, time budgets, the training loop,
GPU-side augmentation, image loading, ONNX export and verification, reports."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import random
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    from tqdm import tqdm
except ImportError:  # the loop works without a progress bar
    tqdm = None

SEED = 20240611


# --------------------------------------------------------------------------- setup


def seed_everything(seed: int = SEED) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def setup_torch(device: torch.device, threads: int | None) -> None:
    if threads:
        torch.set_num_threads(threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def log(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- files


def read_tsv(path: Path) -> list[list[str]]:
    """Rows of a tab-separated label file; blank lines and a header row starting with
    'name' are skipped."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            if parts[0] == "name":
                continue
            rows.append(parts)
    return rows


def _load_one(path: Path, hw: tuple[int, int] | None) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        if hw is not None and (im.height, im.width) != hw:
            im = im.resize((hw[1], hw[0]), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8)


def load_images(paths: list[Path], hw: tuple[int, int], threads: int) -> np.ndarray:
    """Decode images into one uint8 array [N, H, W, 3] (resized to hw if they differ)."""
    out = np.empty((len(paths), hw[0], hw[1], 3), dtype=np.uint8)
    if not paths:
        return out

    def work(i):
        out[i] = _load_one(paths[i], hw)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as ex:
        list(ex.map(work, range(len(paths))))
    return out


def to_device_images(arr: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 [N,H,W,3] numpy -> uint8 [N,3,H,W] tensor on the device (kept as uint8)."""
    t = torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()
    return t.to(device)


# --------------------------------------------------------------------------- augmentation (on the device)


def affine_warp(img: torch.Tensor, fwd: torch.Tensor, out_hw: tuple[int, int], fill: float) -> torch.Tensor:
    """Warp float images [B,C,H,W] with per-image forward affine maps `fwd` [B,3,3]
    (source pixel coords -> output pixel coords, pixel edges at integers) into out_hw,
    bilinear, filling outside the source with `fill`."""
    b, _, h, w = img.shape
    oh, ow = out_hw
    dev, dt = img.device, torch.float32
    inv = torch.linalg.inv(fwd.detach().cpu().to(dt)).to(dev)  # tiny: no device solver needed
    # normalised output -> output pixels
    n2p_out = torch.tensor([[ow / 2, 0, ow / 2], [0, oh / 2, oh / 2], [0, 0, 1]], device=dev, dtype=dt)
    # source pixels -> normalised source
    p2n_src = torch.tensor([[2 / w, 0, -1], [0, 2 / h, -1], [0, 0, 1]], device=dev, dtype=dt)
    theta = (p2n_src @ inv @ n2p_out)[:, :2, :]
    grid = F.affine_grid(theta, [b, img.shape[1], oh, ow], align_corners=False)
    out = F.grid_sample(img.float() - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out + fill


def affine_matrices(
    b: int,
    src_hw: tuple[int, int],
    out_hw: tuple[int, int],
    gen: torch.Generator,
    device: torch.device,
    base_scale: float | None = None,
    scale: tuple[float, float] = (1.0, 1.0),
    shift: float = 0.0,
    rot_deg: float = 0.0,
    flip_p: float = 0.0,
    plain_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random forward maps [B,3,3] (source px -> output px): optional horizontal flip, then
    scale (log-uniform jitter times base_scale, default = letterbox fit), rotation about the
    centre, and a shift (fraction of the output size), centred in the output. A fraction
    plain_p of the maps is the plain centred fit. Returns (maps, flipped mask)."""
    h, w = src_hw
    oh, ow = out_hw
    if base_scale is None:
        base_scale = min(oh / h, ow / w)

    def U(lo, hi):
        return torch.rand(b, generator=gen, device="cpu") * (hi - lo) + lo

    s = base_scale * torch.exp(U(math.log(scale[0]), math.log(scale[1])))
    a = U(-rot_deg, rot_deg) * math.pi / 180
    dx, dy = U(-shift, shift) * ow, U(-shift, shift) * oh
    flip = torch.rand(b, generator=gen) < flip_p
    plain = torch.rand(b, generator=gen) < plain_p
    s = torch.where(plain, torch.full_like(s, base_scale), s)
    a = torch.where(plain, torch.zeros_like(a), a)
    dx = torch.where(plain, torch.zeros_like(dx), dx)
    dy = torch.where(plain, torch.zeros_like(dy), dy)
    flip = flip & ~plain

    m = torch.zeros(b, 3, 3)
    m[:, 2, 2] = 1
    # x' = R S (x - c_src) + c_out + d, with optional flip first: x -> w - x
    cos, sin = torch.cos(a) * s, torch.sin(a) * s
    fx = torch.where(flip, -torch.ones(b), torch.ones(b))
    ox = torch.where(flip, torch.full((b,), float(w)), torch.zeros(b))
    # flip map: x_f = fx * x + ox
    cx, cy = w / 2, h / 2
    m[:, 0, 0] = cos * fx
    m[:, 0, 1] = -sin
    m[:, 1, 0] = sin * fx
    m[:, 1, 1] = cos
    m[:, 0, 2] = cos * (ox - cx) - sin * (-cy) + ow / 2 + dx
    m[:, 1, 2] = sin * (ox - cx) + cos * (-cy) + oh / 2 + dy
    return m.to(device), flip.to(device)


def apply_points(m: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
    """Apply maps [B,3,3] to points [B,K,2]."""
    return pts @ m[:, :2, :2].transpose(1, 2) + m[:, None, :2, 2]


def color_jitter(x: torch.Tensor, gen: torch.Generator, bright=0.35, contrast=0.35, sat=0.5, hue_deg=8.0,
                 gray_p=0.05, noise=0.03, blur_p=0.2) -> torch.Tensor:
    """Photometric jitter of float images [B,3,H,W] in 0..1 (HSV-like: value, contrast,
    saturation, hue rotation in YIQ), random grayscale, gaussian noise and a light blur."""
    b, dev = x.shape[0], x.device

    def U(lo, hi, *shape):
        return (torch.rand((b,) + shape, generator=gen) * (hi - lo) + lo).to(dev)

    gray = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    s = U(1 - sat, 1 + sat, 1, 1, 1)
    s = torch.where(U(0, 1, 1, 1, 1) < gray_p, torch.zeros_like(s), s)
    x = gray + (x - gray) * s
    # hue: rotate the chroma plane of YIQ
    if hue_deg > 0:
        a = U(-hue_deg, hue_deg) * math.pi / 180
        rgb2yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
        yiq2rgb = torch.linalg.inv(rgb2yiq).to(dev)
        rgb2yiq = rgb2yiq.to(dev)
        rot = torch.zeros(b, 3, 3, device=dev)
        rot[:, 0, 0] = 1
        rot[:, 1, 1] = torch.cos(a)
        rot[:, 1, 2] = -torch.sin(a)
        rot[:, 2, 1] = torch.sin(a)
        rot[:, 2, 2] = torch.cos(a)
        mat = yiq2rgb @ rot @ rgb2yiq  # [B,3,3]
        x = torch.einsum("bij,bjhw->bihw", mat, x)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * U(1 - contrast, 1 + contrast, 1, 1, 1) + mean
    x = x * U(1 - bright, 1 + bright, 1, 1, 1)
    if blur_p > 0:
        k = torch.tensor([0.25, 0.5, 0.25], device=dev)
        k2 = (k[:, None] * k[None, :]).expand(3, 1, 3, 3)
        blurred = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k2, groups=3)
        x = torch.where(U(0, 1, 1, 1, 1) < blur_p, blurred, x)
    if noise > 0:
        sigma = U(0, noise, 1, 1, 1)
        x = x + torch.randn(x.shape, generator=None, device=dev) * sigma
    return x.clamp(0, 1)


def rand_gen(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


# --------------------------------------------------------------------------- optimisation


class EMA:
    """Exponential moving average of a model's weights (buffers copied)."""

    def __init__(self, model: nn.Module, decay: float = 0.999, tau: float = 300.0):
        self.ema = copy.deepcopy(model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.decay, self.tau, self.updates = decay, tau, 0
        esd, msd = self.ema.state_dict(), model.state_dict()  # views of the live tensors
        keys = [k for k, v in esd.items() if v.dtype.is_floating_point]
        self.e_f, self.m_f = [esd[k] for k in keys], [msd[k] for k in keys]
        others = [k for k, v in esd.items() if not v.dtype.is_floating_point]
        self.e_o, self.m_o = [esd[k] for k in others], [msd[k] for k in others]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / self.tau))
        torch._foreach_lerp_(self.e_f, self.m_f, 1.0 - d)
        for e, m in zip(self.e_o, self.m_o):
            e.copy_(m)


def init_from_onnx(model: nn.Module, path: Path, in_shape: tuple[int, ...]) -> float:
    """Load the weights of a model this project exported (`export_onnx`: batch norm folded into
    the convolutions) back into its training network, to train it further. Each folded
    convolution's weight goes into its Conv2d and its bias into the BatchNorm2d after it as a plain
    shift (mean 0, variance 1 - eps, scale 1): with the batch norms kept in eval mode
    (`freeze_batch_norm`) the network computes what the file computes. Other weights are found by
    their names in the file (linear layers exported as MatMul by their node's module). Checks the
    result against ONNX Runtime on a random input and returns the largest difference; refuses a
    file whose layers do not fit the network."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    modules = dict(model.named_modules())
    params = dict(model.named_parameters())
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    onnx_convs = [n for n in graph.node if n.op_type == "Conv"]
    if len(convs) != len(onnx_convs):
        raise ValueError(f"{path}: {len(onnx_convs)} convolutions, the network has {len(convs)}")
    # The exporter names each node by its module's scope (`/b1/b1.2/cv1/cv1.0/Conv` is module
    # `b1.2.cv1.0`); where every name resolves, match by name, since the graph's order of
    # convolutions need not be the network's order of modules (a C2f's branches).
    by_name = {_module_of_node(n.name): n for n in onnx_convs}
    if all(c in by_name for c in convs):
        onnx_convs = [by_name[c] for c in convs]
    done = set()

    def put(name: str, value) -> None:
        t = torch.as_tensor(value)
        target = params.get(name)
        if target is None:
            target = dict(model.named_buffers())[name]
        if tuple(target.shape) != tuple(t.shape):
            raise ValueError(f"{path}: {name} is {tuple(t.shape)} in the file, {tuple(target.shape)} in the network")
        with torch.no_grad():
            target.copy_(t)
        done.add(name)

    for name, node in zip(convs, onnx_convs):
        w = inits[node.input[1]]
        b = inits[node.input[2]] if len(node.input) > 2 else np.zeros(w.shape[0], np.float32)
        put(f"{name}.weight", w)
        if modules[name].bias is not None:
            put(f"{name}.bias", b)
            continue
        parent, _, idx = name.rpartition(".")
        bn_name = f"{parent}.{int(idx) + 1}"
        bn = modules.get(bn_name)
        if not isinstance(bn, nn.BatchNorm2d):
            raise ValueError(f"{path}: {name} has no bias and no batch norm after it")
        put(f"{bn_name}.weight", np.ones_like(b))
        put(f"{bn_name}.bias", b)
        put(f"{bn_name}.running_mean", np.zeros_like(b))
        put(f"{bn_name}.running_var", np.full_like(b, 1.0 - bn.eps))
    conv_inputs = {i for n in onnx_convs for i in n.input[1:]}
    for node in graph.node:
        for i, inp in enumerate(node.input):
            if inp not in inits or inp in conv_inputs:
                continue
            if inp in params:
                put(inp, inits[inp])
            elif node.op_type == "MatMul" and i == 1:
                put(f"{node.name.split('/')[-2]}.weight", inits[inp].T)
    missing = [n for n in params if n not in done]
    if missing:
        raise ValueError(f"{path}: no weights for {missing}")

    freeze_batch_norm(model)
    model.eval()
    return check_against_onnx(model, path, torch.rand((2,) + tuple(in_shape[1:]), generator=rand_gen(SEED)))


def check_against_onnx(model: nn.Module, path: Path, x: torch.Tensor) -> float:
    """The largest difference between `model` and the ONNX file at `path` on the input `x`
    (ONNX Runtime, CPU); refuses weights loaded into a network that does not compute what the
    file computes."""
    import onnxruntime

    with torch.no_grad():
        want = model(x).float().numpy()
    sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    diff = float(np.abs(got - want).max())
    # Relative to the outputs' scale: a detector's boxes are in input pixels (up to 416).
    if diff > 1e-4 * max(1.0, float(np.abs(want).max())):
        raise ValueError(f"{path}: the loaded network differs from the file by {diff:.2e}")
    return diff


def _module_of_node(node_name: str) -> str:
    """The dotted module path of an exported node (`/b1/b1.2/cv1/cv1.0/Conv` -> `b1.2.cv1.0`): each
    scope is a child's attribute name, written `parent.i` for the i-th of a sequence."""
    parts, prev = [], None
    for comp in node_name.strip("/").split("/")[:-1]:
        if prev is not None and comp.startswith(prev + "."):
            parts.append(comp[len(prev) + 1:])
        else:
            parts.append(comp)
        prev = comp
    return ".".join(parts)


def freeze_batch_norm(model: nn.Module) -> None:
    """Marks the model's batch norms to stay in eval mode while it trains (`train_mode`)."""
    model._frozen_bn = True


def train_mode(model: nn.Module) -> None:
    """model.train(), except batch norms marked frozen: they keep normalising with their stored
    statistics (their scale and shift still learn)."""
    model.train()
    if getattr(model, "_frozen_bn", False):
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()


def make_optimizer(model: nn.Module, lr: float, wd: float) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 or n.endswith(".bias") else decay).append(p)
    groups = [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]
    kw = {}
    if torch.cuda.is_available():
        kw["fused"] = True
    try:
        return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), **kw)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999))


def lr_factor(p: float, warm: float = 0.04, final: float = 0.02) -> float:
    """Linear warm-up over the first `warm` of the run, then cosine down to `final`."""
    p = min(max(p, 0.0), 1.0)
    w = min(1.0, p / warm) if warm > 0 else 1.0
    c = final + (1 - final) * 0.5 * (1 + math.cos(math.pi * p))
    return w * c


# --------------------------------------------------------------------------- the loop


class Budget:
    """Wall-clock budget of one model, counted from the process start. Training stops
    `reserve_s` before the end, to leave time for evaluation and export."""

    def __init__(self, t0: float, minutes: float | None, reserve_s: float):
        self.t0 = t0
        self.end = None if not minutes else t0 + minutes * 60.0
        self.reserve_s = reserve_s

    def train_deadline(self) -> float | None:
        return None if self.end is None else self.end - self.reserve_s


def train_loop(task, model: nn.Module, args, device: torch.device, budget: Budget, on_ckpt=None,
               ckpt_every_s: float = 60.0) -> dict:
    """Generic loop: task supplies n_train, batch(idx) -> (x, target) and loss(out, target)
    -> (loss, parts). Stops at the time deadline, the epoch cap or args.max_steps. Calls
    on_ckpt(ema_model, info) every ckpt_every_s seconds."""
    cfg = task.cfg
    bs = args.batch or (cfg["batch_cuda"] if device.type == "cuda" else cfg["batch_cpu"])
    bs = max(1, min(bs, task.n_train))
    lr = args.lr or cfg["lr"] * (bs / cfg["batch_cuda"]) ** 0.5
    opt = make_optimizer(model, lr, cfg.get("wd", 0.05))
    ema = EMA(model, decay=cfg.get("ema_decay", 0.999), tau=cfg.get("ema_tau", 300))
    amp = device.type == "cuda" and not args.no_amp
    steps_per_epoch = max(1, task.n_train // bs)
    max_epochs = args.max_epochs or cfg["max_epochs"]
    max_steps = args.max_steps or max_epochs * steps_per_epoch
    gen = rand_gen(SEED + 1)
    weights = task.sample_weights() if hasattr(task, "sample_weights") else None

    t_start = time.time()
    last_ckpt = t_start
    deadline = budget.train_deadline()
    train_s = None if deadline is None else max(1.0, deadline - t_start)
    bar = None
    if tqdm is not None:
        tty = sys.stderr.isatty()
        bar = tqdm(total=int(train_s) if train_s else max_steps, unit="s" if train_s else "step",
                   desc=task.name, mininterval=1.0 if tty else 15.0, ascii=not tty, dynamic_ncols=tty,
                   file=sys.stderr)
    step, epoch, stop_reason = 0, 0, "epochs"
    loss_avg, parts_avg, seen = None, {}, 0
    train_mode(model)
    done = False
    while epoch < max_epochs and not done:
        perm = (torch.randperm(task.n_train, generator=gen) if weights is None
                else torch.multinomial(weights, task.n_train, replacement=True, generator=gen))
        for i in range(steps_per_epoch):
            now = time.time()
            p = (now - t_start) / train_s if train_s else 0.0
            p = max(p, step / max_steps)
            if step >= max_steps:
                stop_reason, done = "max_steps", True
                break
            if deadline is not None and now >= deadline:
                stop_reason, done = "time", True
                break
            for g in opt.param_groups:
                g["lr"] = lr * lr_factor(p)
            idx = perm[i * bs:(i + 1) * bs]
            x, tgt = task.batch(idx, train=True)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                out = model(x)
            loss, parts = task.loss(out, tgt)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            ema.update(model)
            step += 1
            seen += len(idx)
            if on_ckpt is not None and time.time() - last_ckpt >= ckpt_every_s:
                on_ckpt(ema.ema, {"steps": step, "epoch": epoch})
                last_ckpt = time.time()
            if step % 25 == 0 or step == 1:
                lv = float(loss.detach())
                loss_avg = lv if loss_avg is None else 0.9 * loss_avg + 0.1 * lv
                for k, v in parts.items():
                    fv = float(v)
                    parts_avg[k] = fv if k not in parts_avg else 0.9 * parts_avg[k] + 0.1 * fv
                if not math.isfinite(lv):
                    raise RuntimeError(f"{task.name}: loss is {lv} at step {step}")
            if bar is not None:
                if train_s:
                    bar.n = min(int(time.time() - t_start), int(train_s))
                else:
                    bar.n = step
                if step % 25 == 0 or step == 1:
                    bar.set_postfix(ep=epoch, step=step, loss=f"{loss_avg:.4f}", lr=f"{lr * lr_factor(p):.2e}",
                                    refresh=False)
                bar.update(0)
        else:
            epoch += 1
    if bar is not None:
        bar.close()
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall = time.time() - t_start
    return {
        "steps": step,
        "epochs": round(epoch + (step - epoch * steps_per_epoch) / steps_per_epoch, 2),
        "batch": bs,
        "lr": lr,
        "optimizer": "AdamW",
        "amp": "bf16" if amp else None,
        "train_s": round(wall, 1),
        "samples_per_s": round(seen / max(wall, 1e-6), 1),
        "stop_reason": stop_reason,
        "final_loss": loss_avg,
        "final_loss_parts": parts_avg,
        "_ema": ema.ema,
    }


# --------------------------------------------------------------------------- export


def count_flops(model: nn.Module, shape: tuple[int, ...]) -> int:
    """FLOPs of one forward pass (2 x multiply-accumulates, as torch's counter counts)."""
    from torch.utils.flop_counter import FlopCounterMode

    m = copy.deepcopy(model).cpu().float().eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        m(torch.zeros(shape))
    return int(fc.get_total_flops())


def export_onnx(model: nn.Module, path: Path, in_name: str, out_name: str, shape: tuple[int, ...]) -> None:
    m = copy.deepcopy(model).cpu().float().eval().to(memory_format=torch.contiguous_format)
    x = torch.rand(shape)
    tmp = path.with_suffix(".onnx.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            m, (x,), str(tmp), dynamo=False, opset_version=17, do_constant_folding=True,
            input_names=[in_name], output_names=[out_name],
            dynamic_axes={in_name: {0: "N"}, out_name: {0: "N"}},
        )
    import onnx

    with torch.no_grad():
        out_shape = list(m(x).shape)
    mo = onnx.load(str(tmp))
    # state the output's static dimensions (the tracer sometimes leaves them symbolic)
    dims = mo.graph.output[0].type.tensor_type.shape.dim
    if len(dims) == len(out_shape):
        for i, d in enumerate(dims):
            if i == 0:
                d.dim_param = "N"
            else:
                d.dim_value = out_shape[i]
    onnx.checker.check_model(mo, full_check=True)
    onnx.save(mo, str(tmp))
    for init in mo.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            raise RuntimeError("ONNX export wrote external data")
    os.replace(tmp, path)


def onnx_io(path: Path) -> dict:
    import onnx

    mo = onnx.load(str(path))

    def desc(v):
        dims = [d.dim_param if d.dim_param else d.dim_value for d in v.type.tensor_type.shape.dim]
        return {"name": v.name, "shape": dims,
                "dtype": onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name}

    inits = {i.name for i in mo.graph.initializer}
    return {
        "opset": max(o.version for o in mo.opset_import if o.domain in ("", "ai.onnx")),
        "inputs": [desc(v) for v in mo.graph.input if v.name not in inits],
        "outputs": [desc(v) for v in mo.graph.output],
        "nodes": len(mo.graph.node),
    }


def verify_onnx(model: nn.Module, path: Path, x: torch.Tensor, latency_runs: int = 30) -> dict:
    """Run the ONNX file with onnxruntime (CPU) on a batch and on its first sample, compare
    with the torch model in float32, and time batch-1 inference on one thread."""
    import onnxruntime as ort

    m = copy.deepcopy(model).cpu().float().eval()
    x = x.detach().cpu().float().contiguous()
    with torch.no_grad():
        ref = m(x).numpy()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    got = sess.run(None, {name: x.numpy()})[0]
    one = sess.run(None, {name: x[:1].numpy()})[0]
    diff = float(np.abs(got - ref).max())
    diff1 = float(np.abs(one - ref[:1]).max())
    x1 = x[:1].numpy()
    for _ in range(3):
        sess.run(None, {name: x1})
    times = []
    for _ in range(latency_runs):
        t = time.perf_counter()
        sess.run(None, {name: x1})
        times.append(time.perf_counter() - t)
    return {
        "batch": int(x.shape[0]),
        "max_abs_diff": diff,
        "max_abs_diff_batch1": diff1,
        "output_shape": list(got.shape),
        "output_shape_batch1": list(one.shape),
        "ort_cpu_1thread_batch1_ms_median": round(1000 * float(np.median(times)), 3),
        "onnxruntime": ort.__version__,
    }


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False, default=_json_default)
        f.write("\n")
    os.replace(tmp, path)


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, torch.Tensor):
        return o.tolist()
    if isinstance(o, Path):
        return o.name
    return str(o)
