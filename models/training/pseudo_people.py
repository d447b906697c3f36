"""People for a real set that labels none: a COCO detector's sure finds stand in for the labels.

vn-street (CC BY 4.0) boxes cars, motorbikes, lamps and stop lines, but no one: trained on it,
the vehicle detector learns that people on real streets are background, and the masked copy a
citizen sees hides nobody on foot (docs/privacy.md). This writes a copy of the set's layout
whose training labels add, as class `person`, each person a DETR-family COCO export (DEIMv2,
Apache-2.0, `../shared/data/models`) finds at `--min-score` or more; the images are linked, not
copied, and the validation split is left as it is (`edge-agent eval-detect
--people-reference` measures against the same detector on it).

    python pseudo_people.py --data ../../../shared/data/vn-street/data.yaml \\
        --model ../../../shared/data/models/deimv2_hgnetv2_femto_coco.onnx \\
        --out ../../data/vn-street-people

The export's interface (as `edge-agent`'s `detr` format reads it): `images` [1,3,416,416] RGB
0-1, the frame stretched to the square; `orig_target_sizes` [1,2] (w, h); `labels`, `boxes`
(xyxy, the frame's pixels) and `scores`. COCO's person is class 0.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

COCO_PERSON = 0
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


def names_of(yaml_path: Path) -> list[str]:
    for line in yaml_path.read_text(encoding="utf-8").splitlines():
        if line.startswith("names:"):
            rest = line[len("names:"):].strip()
            if rest.startswith("["):
                return [n.strip().strip("'\"") for n in rest.strip("[]").split(",")]
    raise ValueError(f"{yaml_path}: no inline `names: [...]`")


def rides(person: tuple[float, float, float, float], bikes: list[tuple[float, float, float, float]]) -> bool:
    """Whether a person (cx, cy, w, h) stands on one of `bikes`: the middle of their box's
    bottom edge inside a motorbike's box (which, in vn-street, holds its riders)."""
    fx, fy = person[0], person[1] + person[3] / 2
    return any(abs(fx - cx) <= w / 2 and cy - h / 2 <= fy <= cy + h / 2 + 0.1 * h for cx, cy, w, h in bikes)


def people(session, path: Path, min_score: float, min_px: float) -> list[tuple[float, float, float, float]]:
    """The person boxes (cx, cy, w, h as shares of the image) the detector is sure of."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        x = np.asarray(im.resize((416, 416), Image.BILINEAR), dtype=np.float32) / 255.0
    x = x.transpose(2, 0, 1)[None]
    sizes = np.array([[w, h]], dtype=np.int64)
    labels, boxes, scores = session.run(["labels", "boxes", "scores"],
                                        {"images": x, "orig_target_sizes": sizes})
    out = []
    for c, b, s in zip(labels[0], boxes[0], scores[0]):
        if int(c) != COCO_PERSON or float(s) < min_score:
            continue
        x0, y0, x1, y1 = (float(v) for v in b)
        x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)
        if x1 - x0 < min_px or y1 - y0 < min_px:
            continue
        out.append(((x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="the set's data.yaml")
    ap.add_argument("--model", type=Path, required=True, help="a DETR-family COCO export (ONNX)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--min-score", type=float, default=0.5)
    ap.add_argument("--min-px", type=float, default=8.0, help="the shorter side a person needs")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--riders", action="store_true",
                    help="keep the people on a labelled motorbike too (by default they are left out: "
                         "the set's motorbike boxes hold their riders, and a person label inside one "
                         "takes the anchors the motorbike needs)")
    args = ap.parse_args()

    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    session = ort.InferenceSession(str(args.model), opts, providers=["CPUExecutionProvider"])

    names = names_of(args.data)
    if "person" in (n.lower() for n in names):
        raise SystemExit(f"{args.data} labels people already")
    person = len(names)
    motorbike = {i for i, n in enumerate(names) if n.lower() in ("motobike", "motorbike", "motorcycle")}
    src = args.data.parent
    args.out.mkdir(parents=True, exist_ok=True)
    text = args.data.read_text(encoding="utf-8").splitlines()
    quoted = ", ".join(f"'{n}'" for n in names + ["person"])
    lines = [f"names: [{quoted}]" if t.startswith("names:")
             else f"nc: {len(names) + 1}" if t.startswith("nc:") else t for t in text]
    (args.out / "data.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for split in ("valid", "val", "test"):
        if (src / split).is_dir() and not (args.out / split).exists():
            (args.out / split).symlink_to((src / split).resolve(), target_is_directory=True)

    images = sorted(p for p in (src / "train" / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    (args.out / "train" / "images").mkdir(parents=True, exist_ok=True)
    (args.out / "train" / "labels").mkdir(parents=True, exist_ok=True)
    found = with_people = 0
    for p in images:
        link = args.out / "train" / "images" / p.name
        if not link.exists():
            link.symlink_to(p.resolve())
        own = src / "train" / "labels" / (p.stem + ".txt")
        rows = own.read_text().splitlines() if own.exists() else []
        boxes = people(session, p, args.min_score, args.min_px)
        if not args.riders:
            bikes = [tuple(map(float, r.split()[1:5])) for r in rows
                     if r.split() and int(float(r.split()[0])) in motorbike]
            boxes = [b for b in boxes if not rides(b, bikes)]
        rows += [f"{person} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}" for cx, cy, w, h in boxes]
        (args.out / "train" / "labels" / (p.stem + ".txt")).write_text("\n".join(rows) + "\n")
        found += len(boxes)
        with_people += bool(boxes)
    print(f"{len(images)} training images, {found} people in {with_people} of them "
          f"(score >= {args.min_score}), written to {args.out}")


if __name__ == "__main__":
    main()
