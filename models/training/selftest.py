"""`train.py --selftest`: make a tiny fake data set in the layout of `sim dataset` (random
shapes and text drawn with PIL), train every model for a few steps on CPU through the same
`--model all` path as a real run, and check the ONNX files against the contracts."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZĐ"
COLOURS = {"white": ((235, 235, 235), (20, 20, 20)), "yellow": ((230, 200, 40), (20, 20, 20)),
           "blue": ((30, 60, 170), (240, 240, 240)), "red": ((190, 30, 30), (240, 240, 240)),
           "white_red_text": ((235, 235, 235), (200, 20, 20))}


def _bg(rng, w, h):
    a = np.zeros((h, w, 3), np.uint8)
    a[:] = [rng.randint(0, 255) for _ in range(3)]
    a = a.astype(np.int16) + np.random.default_rng(rng.randint(0, 1 << 30)).integers(-20, 20, (h, w, 3))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def make_detect(root: Path, rng: random.Random, n: dict):
    d = root / "detect"
    (d / "classes.txt").parent.mkdir(parents=True, exist_ok=True)
    (d / "classes.txt").write_text("car\nmotorbike\nbus\ntruck\nperson\n")
    for split, count in n.items():
        (d / "images" / split).mkdir(parents=True, exist_ok=True)
        (d / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            im = _bg(rng, 640, 360)
            dr = ImageDraw.Draw(im)
            lines = []
            for _ in range(rng.randint(0, 6)):
                c = rng.randint(0, 4)
                bw, bh = rng.randint(12, 200), rng.randint(12, 150)
                x, y = rng.randint(0, 640 - bw), rng.randint(0, 360 - bh)
                col = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (200, 30, 200)][c]
                (dr.rectangle if c % 2 == 0 else dr.ellipse)([x, y, x + bw, y + bh], fill=col)
                lines.append(f"{c} {(x + bw / 2) / 640:.6f} {(y + bh / 2) / 360:.6f} {bw / 640:.6f} {bh / 360:.6f}")
            im.save(d / "images" / split / f"{i:06d}.jpg", quality=90)
            (d / "labels" / split / f"{i:06d}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))


def make_plates(root: Path, rng: random.Random, n: dict):
    font = ImageFont.load_default(size=22)
    for split, count in n.items():
        d = root / "plates" / split
        d.mkdir(parents=True, exist_ok=True)
        rows = []
        for i in range(count):
            layout = rng.choice(["one_line", "two_line"])
            colour = rng.choice(list(COLOURS))
            text = "".join(rng.choice(CHARS) for _ in range(rng.randint(6, 10)))
            bg, fg = COLOURS[colour]
            im = Image.new("RGB", (160, 64), bg)
            dr = ImageDraw.Draw(im)
            if layout == "one_line":
                dr.text((6, 18), text, fill=fg, font=font)
            else:
                dr.text((20, 4), text[:4], fill=fg, font=font)
                dr.text((20, 34), text[4:], fill=fg, font=font)
            name = f"{i:06d}.png"
            im.save(d / name)
            rows.append(f"{name}\t{text}\t{layout}\t{colour}")
        (d / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def make_plate_detect(root: Path, rng: random.Random, n: dict):
    for split, count in n.items():
        d = root / "plate-detect" / split
        d.mkdir(parents=True, exist_ok=True)
        rows = []
        for i in range(count):
            im = _bg(rng, 128, 128)
            vis = rng.random() < 0.7
            q = [0.0] * 8
            if vis:
                w, h = rng.uniform(0.25, 0.5), rng.uniform(0.1, 0.25)
                x, y = rng.uniform(0.05, 0.95 - w), rng.uniform(0.3, 0.95 - h)
                j = lambda: rng.uniform(-0.02, 0.02)  # noqa: E731
                q = [x + j(), y + j(), x + w + j(), y + j(), x + w + j(), y + h + j(), x + j(), y + h + j()]
                ImageDraw.Draw(im).polygon([(q[k] * 128, q[k + 1] * 128) for k in range(0, 8, 2)],
                                           fill=(240, 240, 240), outline=(0, 0, 0))
            name = f"{i:06d}.jpg"
            im.save(d / name, quality=90)
            rows.append(f"{name}\t{int(vis)}\t" + " ".join(f"{v:.5f}" for v in q))
        (d / "labels.tsv").write_text("\n".join(rows) + "\n")


def make_helmet(root: Path, rng: random.Random, n: dict):
    for split, count in n.items():
        d = root / "helmet" / split
        d.mkdir(parents=True, exist_ok=True)
        rows = []
        for i in range(count):
            im = _bg(rng, 64, 64)
            dr = ImageDraw.Draw(im)
            helmet = rng.random() < 0.5
            dr.ellipse([20, 6, 44, 30], fill=(rng.randint(0, 255), 0, 0) if helmet else (60, 40, 30))
            dr.rectangle([18, 30, 46, 63], fill=(40, 40, 120))
            name = f"{i:06d}.png"
            im.save(d / name)
            rows.append(f"{name}\t{'helmet' if helmet else 'no_helmet'}")
        (d / "labels.tsv").write_text("\n".join(rows) + "\n")


def make_fake_dataset(root: Path, seed: int = 1):
    rng = random.Random(seed)
    make_detect(root, rng, {"train": 24, "val": 8})
    make_plates(root, rng, {"train": 48, "val": 16})
    make_plate_detect(root, rng, {"train": 32, "val": 12})
    make_helmet(root, rng, {"train": 32, "val": 12})


CONTRACTS = {
    "plate_rec": ("image", [3, 64, 160], "probs", [10, 38]),
    "vehicle_det": ("images", [3, 416, 416], "output0", [9, 3549]),
    "plate_det": ("image", [3, 128, 128], "plate", [9]),
    "helmet": ("image", [3, 64, 64], "probs", [2]),
}


def check_outputs(out: Path) -> list[str]:
    import onnx
    import onnxruntime as ort

    errors = []
    for name, (iname, ishape, oname, oshape) in CONTRACTS.items():
        path, rep = out / f"{name}.onnx", out / f"{name}.report.json"
        if not path.exists() or not rep.exists():
            errors.append(f"{name}: missing {path.name} or {rep.name}")
            continue
        m = onnx.load(str(path))
        if not any(o.version == 17 for o in m.opset_import if o.domain in ("", "ai.onnx")):
            errors.append(f"{name}: opset is not 17")
        def dims(v):
            return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]

        declared = (dims(m.graph.input[0]), dims(m.graph.output[0]))
        if declared != (["N"] + ishape, ["N"] + oshape):
            errors.append(f"{name}: declared shapes {declared}, want {(['N'] + ishape, ['N'] + oshape)}")
        if any(init.data_location == onnx.TensorProto.EXTERNAL for init in m.graph.initializer):
            errors.append(f"{name}: external data")
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        ins, outs = sess.get_inputs(), sess.get_outputs()
        if [i.name for i in ins] != [iname] or [o.name for o in outs] != [oname]:
            errors.append(f"{name}: I/O names {[i.name for i in ins]} -> {[o.name for o in outs]}")
            continue
        shapes = []
        for b in (1, 3):
            x = np.random.default_rng(b).random((b, *ishape), dtype=np.float32)
            y = sess.run(None, {iname: x})[0]
            shapes.append(list(y.shape))
            if list(y.shape) != [b] + oshape:
                errors.append(f"{name}: output shape {list(y.shape)} for batch {b}, want {[b] + oshape}")
            if name in ("plate_rec", "helmet") and not np.allclose(y.sum(-1), 1.0, atol=1e-4):
                errors.append(f"{name}: probabilities do not sum to 1")
            if name == "plate_det" and not ((y >= 0).all() and (y <= 1).all()):
                errors.append(f"{name}: outputs outside 0..1")
            if name == "vehicle_det" and not ((y[:, 4:] >= 0).all() and (y[:, 4:] <= 1).all()):
                errors.append(f"{name}: class scores outside 0..1")
        r = json.loads(rep.read_text(encoding="utf-8"))
        diff = r["onnx_check"]["max_abs_diff"]
        tol = 1e-2 if name == "vehicle_det" else 1e-4  # vehicle_det: box coordinates in pixels
        if not diff <= tol:
            errors.append(f"{name}: torch/ONNX max abs diff {diff} > {tol}")
        print(f"[selftest] {name}: in {iname} [N,{','.join(map(str, ishape))}] -> out {oname} "
              f"shapes {shapes}, parity max|diff| {diff:.2e} (batch1 {r['onnx_check']['max_abs_diff_batch1']:.2e}), "
              f"{path.stat().st_size} B, {r['network']['flops_per_image'] / 1e6:.1f} MFLOPs, "
              f"ORT 1 thread {r['onnx_check']['ort_cpu_1thread_batch1_ms_median']} ms, "
              f"train {r['train']['steps']} steps in {r['train']['train_s']} s", flush=True)
    return errors


def main(args) -> int:
    t0 = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="vn-train-selftest-"))
    data = tmp / "data"
    out = args.out or (tmp / "out")
    make_fake_dataset(data)
    print(f"[selftest] fake data set in {time.time() - t0:.1f} s", flush=True)
    cmd = [sys.executable, str(HERE / "train.py"), "--data", str(data), "--out", str(out), "--model", "all",
           "--device", "cpu", "--threads", str(args.threads or 1), "--max-steps", str(args.max_steps or 3),
           "--minutes", "0"]
    if args.batch:
        cmd += ["--batch", str(args.batch)]
    rc = subprocess.call(cmd)
    if rc != 0:
        print(f"[selftest] FAILED: training exited with {rc}", flush=True)
        return 1
    errors = check_outputs(out)
    for e in errors:
        print(f"[selftest] error: {e}", flush=True)
    print(f"[selftest] {'FAILED' if errors else 'OK'} in {time.time() - t0:.1f} s", flush=True)
    return 1 if errors else 0
