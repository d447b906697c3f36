"""A generic OCR on the same plate crops as plate-ocr: Tesseract (Debian's package), as it is
usually set up for plates — each crop grey, scaled up three times (Tesseract wants letters some
30 px high) with a margin — then one process for all crops (a list file), page segmentation as a
block of text so two-line plates read as two lines, the characters of Vietnamese plates
whitelisted.

    tesseract_plates.py --labels LABELS.tsv --dir CROPS [--limit N]

LABELS.tsv: `name<TAB>text[<TAB>…]`. Prints one JSON object: crops, whole-plate accuracy (letters and
digits compared, separators ignored), the character error rate, and Tesseract's wall and CPU ms
a crop (the scaling not counted).
"""

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time

import cv2

WHITELIST = "0123456789ABCDEFGHKLMNPSTUVXYZ-."


def normalise(text):
    return "".join(c for c in text.upper() if c.isalnum())


def edits(a, b):
    """Levenshtein distance."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[len(b)]


def prepare(path, out):
    grey = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2GRAY)
    grey = cv2.resize(grey, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(out, cv2.copyMakeBorder(grey, 20, 20, 20, 20, cv2.BORDER_REPLICATE))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()

    labels = []
    with open(args.labels, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            name, text = fields[0], fields[1] if len(fields) > 1 else ""
            path = os.path.join(args.dir, name)
            if text and os.path.exists(path):
                labels.append((path, text))
    if args.limit:
        labels = labels[: args.limit]
    if not labels:
        raise SystemExit("no labelled crops found")

    scratch = tempfile.mkdtemp()
    prepared = []
    for i, (path, _) in enumerate(labels):
        prepared.append(os.path.join(scratch, f"{i:06}.png"))
        prepare(path, prepared[-1])
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(prepared) + "\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(
        ["tesseract", listing.name, "stdout", "--psm", "6",
         "-c", f"tessedit_char_whitelist={WHITELIST}"],
        check=True, capture_output=True, text=True,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    ).stdout
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.unlink(listing.name)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    for path in prepared:
        os.unlink(path)
    os.rmdir(scratch)

    pages = out.split("\f")
    right = sum(
        1 for (_, text), page in zip(labels, pages) if normalise(page) == normalise(text))
    wrong_chars = sum(
        edits(normalise(page), normalise(text)) for (_, text), page in zip(labels, pages))
    chars = sum(len(normalise(text)) for _, text in labels)
    print(json.dumps({
        "crops": len(labels),
        "accuracy": round(right / len(labels), 4),
        "cer": round(wrong_chars / chars, 4),
        "wall_ms_per_crop": round(1000 * wall / len(labels), 2),
        "cpu_ms_per_crop": round(1000 * cpu / len(labels), 2),
        "plates_per_s": round(len(labels) / wall, 1),
    }))


if __name__ == "__main__":
    main()
