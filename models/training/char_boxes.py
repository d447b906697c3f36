"""A plate recognizer data root from a set of real plate crops whose characters are boxed one by
one (YOLO format: `labels/NAME.txt`, a line `class cx cy w h` per character, class names in
`data.yaml`), as Roboflow exports them.

    python3 char_boxes.py --src DIR --out ROOT [--repeat N] [--check-against DIR]

The text of each plate is read from its boxes: the boxes split into a top and a bottom line at
the widest vertical gap between their centres when that gap is more than half a character's
height (a two-line plate), each line read left to right. A plate whose text is not the shape of a
Vietnamese plate (two digits, a series letter, an optional series letter or digit, four or five
digits) is left out and counted. The crops are written at the recognizer's input size (160x64)
into `ROOT/plates/train` (the source's `train` split, each row `--repeat` times so that a few
hundred real plates weigh among tens of thousands of rendered ones) and `ROOT/plates/val` (its
`valid` split, once), with `labels.tsv` rows `name, text, layout, colour`.

`--check-against DIR` hashes every crop of DIR (an evaluation set) and of the source with a
64-bit difference hash and reports how many source crops are within 6 bits of one in DIR, so
that an evaluation is not flattered by plates it was trained on; those are left out.

Real plates are personal data: ROOT belongs under the repository's ignored `data/`, never in a
commit.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = (160, 64)
SHAPE = re.compile(r"^\d\d[A-Z][A-Z0-9]?\d{4,5}$")


def class_names(src: Path) -> list[str]:
    """The `names:` list of a Roboflow `data.yaml` (either block or inline form)."""
    text = (src / "data.yaml").read_text(encoding="utf-8")
    inline = re.search(r"^names:\s*\[(.*)\]", text, re.M)
    if inline:
        return [n.strip().strip("'\"") for n in inline.group(1).split(",")]
    block = re.search(r"^names:\s*\n((?:\s*-.*\n)+)", text, re.M)
    if not block:
        raise SystemExit(f"{src / 'data.yaml'}: no names")
    return [line.strip()[1:].strip().strip("'\"") for line in block.group(1).splitlines() if line.strip()]


def plate_text(boxes: list[tuple[str, float, float, float, float]]) -> tuple[str, str]:
    """The text and layout (`one_line` or `two_line`) of a plate from its character boxes."""
    boxes = sorted(boxes, key=lambda b: b[2])
    heights = sorted(b[4] for b in boxes)
    char_h = heights[len(heights) // 2]
    gaps = [(boxes[i + 1][2] - boxes[i][2], i) for i in range(len(boxes) - 1)]
    gap, at = max(gaps) if gaps else (0.0, 0)
    if gap > 0.5 * char_h:
        lines = [boxes[: at + 1], boxes[at + 1:]]
        layout = "two_line"
    else:
        lines = [boxes]
        layout = "one_line"
    text = "".join(b[0] for line in lines for b in sorted(line, key=lambda b: b[1]))
    return text, layout


def dhash(path: Path) -> int:
    g = np.asarray(Image.open(path).convert("L").resize((9, 8), Image.BILINEAR), dtype=np.int16)
    bits = (g[:, 1:] > g[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--check-against", type=Path)
    args = ap.parse_args()
    names = class_names(args.src)
    held = []
    if args.check_against:
        held = [dhash(p) for p in sorted(args.check_against.iterdir())
                if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")]
    report = {"source": str(args.src), "repeat": args.repeat, "splits": {}}
    for split, out_split in (("train", "train"), ("valid", "val")):
        images = args.src / split / "images"
        if not images.is_dir():
            continue
        out = args.out / "plates" / out_split
        out.mkdir(parents=True, exist_ok=True)
        rows, refused, near = [], 0, 0
        for img in sorted(images.iterdir()):
            label = args.src / split / "labels" / (img.stem + ".txt")
            if not label.exists():
                refused += 1
                continue
            boxes = []
            for line in label.read_text(encoding="utf-8").splitlines():
                parts = line.split()
                if len(parts) == 5:
                    boxes.append((names[int(parts[0])], *map(float, parts[1:])))
            text, layout = plate_text(boxes) if boxes else ("", "")
            if not SHAPE.match(text):
                refused += 1
                continue
            if held:
                h = dhash(img)
                if min(bin(h ^ e).count("1") for e in held) <= 6:
                    near += 1
                    continue
            name = f"{split}-{len(rows):04d}.png"
            Image.open(img).convert("RGB").resize(SIZE, Image.BILINEAR).save(out / name)
            rows.append((name, text, layout, "white"))
        times = args.repeat if out_split == "train" else 1
        with open(out / "labels.tsv", "w", encoding="utf-8") as f:
            for _ in range(times):
                for r in rows:
                    f.write("\t".join(r) + "\n")
        report["splits"][out_split] = {
            "plates": len(rows),
            "refused_shape": refused,
            "near_duplicates_of_evaluation": near,
            "one_line": sum(r[2] == "one_line" for r in rows),
            "two_line": sum(r[2] == "two_line" for r in rows),
        }
    (args.out / "manifest.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
