"""How rendered plate crops compare with real ones, in aggregate: a few image statistics of each
set at the recognizer's input size (160x64), their quantiles side by side, and a contact sheet of
the rendered crops only (real crops are personal data: no real image is ever written).

    python3 crop_stats.py --real DIR [--real-labels TSV] --rendered DIR [--sheet OUT.png] [--json OUT.json]

Statistics per crop, on its luma (0-255) unless said:
  mean         brightness
  contrast     standard deviation
  sharpness    mean absolute Laplacian (focus and resolution)
  dark_share   share of pixels darker than the crop's mean minus half its deviation (ink)
  colourful    Hasler-Suesstrunk colourfulness of the RGB crop
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = (160, 64)
QUANTILES = (0.1, 0.5, 0.9)


def stats(path: Path) -> dict[str, float]:
    rgb = np.asarray(Image.open(path).convert("RGB").resize(SIZE, Image.BILINEAR), dtype=np.float32)
    y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    lap = np.abs(4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:])
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    mean, sd = float(y.mean()), float(y.std())
    return {
        "mean": mean,
        "contrast": sd,
        "sharpness": float(lap.mean()),
        "dark_share": float((y < mean - 0.5 * sd).mean()),
        "colourful": float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())),
    }


def images(folder: Path, labels: Path | None) -> list[Path]:
    if labels:
        names = [line.split("\t")[0] for line in labels.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [folder / n for n in names if n != "name"]
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"))


def summary(paths: list[Path]) -> dict[str, list[float]]:
    rows = [stats(p) for p in paths]
    return {k: [round(float(np.quantile([r[k] for r in rows], q)), 3) for q in QUANTILES] for k in rows[0]}


def sheet(paths: list[Path], out: Path, cols: int = 8, rows: int = 6) -> None:
    cell = (SIZE[0] + 4, SIZE[1] + 4)
    img = Image.new("RGB", (cols * cell[0], rows * cell[1]), (255, 255, 255))
    for i, p in enumerate(paths[: cols * rows]):
        img.paste(Image.open(p).convert("RGB").resize(SIZE), ((i % cols) * cell[0] + 2, (i // cols) * cell[1] + 2))
    img.save(out, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real", type=Path, required=True)
    ap.add_argument("--real-labels", type=Path)
    ap.add_argument("--rendered", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=2000, help="rendered crops measured at most")
    ap.add_argument("--sheet", type=Path, help="a contact sheet of rendered crops (PNG)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    real = images(a.real, a.real_labels)
    rendered = images(a.rendered, None)[: a.limit]
    report = {"quantiles": list(QUANTILES), "real": {"n": len(real), **summary(real)},
              "rendered": {"n": len(rendered), **summary(rendered)}}
    print(f"{'statistic':<12} {'real q10/q50/q90':>26} {'rendered q10/q50/q90':>26}")
    for k in report["real"]:
        if k == "n":
            continue
        fmt = lambda v: "/".join(f"{x:.3g}" for x in v)  # noqa: E731
        print(f"{k:<12} {fmt(report['real'][k]):>26} {fmt(report['rendered'][k]):>26}")
    print(f"crops: real {len(real)}, rendered {len(rendered)}")
    if a.json:
        a.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    if a.sheet:
        sheet(rendered, a.sheet)


if __name__ == "__main__":
    main()
