//! Plate reading next to a generic OCR on the same crops: rectified plate crops of sim scenes
//! never trained on (day, dusk, night, rain, blur, JPEG; one- and two-line plates), read by
//! `plate-ocr eval` (the recognizer and the grammar-constrained search, one thread) and by
//! Tesseract (Debian's, one thread, plate characters whitelisted; benches/reference).
//!
//! `plates [CROPS]` prints one table row per figure.

use std::{process::Command, time::Instant};

use anyhow::{Context, bail};
use benches::{manifest, python, root, row};

fn main() -> anyhow::Result<()> {
    let wanted: usize = std::env::args().nth(1).map_or(Ok(600), |a| a.parse())?;
    let release = root().join("target/release");
    for tool in ["sim", "plate-ocr"] {
        if !release.join(tool).exists() {
            bail!("target/release/{tool} is missing: cargo build --release -p {tool}");
        }
    }
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    // About ten plates a scene; seed 99 is never trained on (the models' data is seed 11).
    let scenes = wanted.div_ceil(8).to_string();
    let made = Command::new(release.join("sim"))
        .args(["dataset", "--seed", "99", "--scenes", &scenes])
        .args(["--frames-per-scene", "1", "--plate-frames-per-scene", "12"])
        .arg("--out")
        .arg(&data)
        .output()
        .context("sim dataset")?;
    if !made.status.success() {
        bail!("sim dataset: {}", String::from_utf8_lossy(&made.stderr));
    }
    // Both splits of this set, the first `wanted` crops, in one folder's terms.
    let plates = data.join("plates");
    let mut lines = Vec::new();
    for split in ["train", "val"] {
        let text = std::fs::read_to_string(plates.join(split).join("labels.tsv"))?;
        lines.extend(
            text.lines()
                .filter(|l| !l.is_empty())
                .map(|l| format!("{split}/{l}")),
        );
    }
    lines.truncate(wanted);
    let labels = dir.path().join("labels.tsv");
    std::fs::write(&labels, lines.join("\n") + "\n")?;

    let started = Instant::now();
    let eval = Command::new(release.join("plate-ocr"))
        .arg("--models")
        .arg(manifest())
        .args(["--threads", "1", "eval", "--crops", "--json", "--labels"])
        .arg(&labels)
        .arg(&plates)
        .output()
        .context("plate-ocr eval")?;
    let wall = started.elapsed().as_secs_f64();
    if !eval.status.success() {
        bail!("plate-ocr eval: {}", String::from_utf8_lossy(&eval.stderr));
    }
    let ours: serde_json::Value = serde_json::from_slice(&eval.stdout)?;
    let count = ours["count"].as_f64().unwrap_or(0.0);
    let layout = |name: &str| {
        let g = &ours["per_layout"][name];
        format!(
            "{:.1} % of {}",
            100.0 * g["accuracy"].as_f64().unwrap_or(0.0),
            g["count"]
        )
    };
    let accuracy = ours["accuracy"].as_f64().unwrap_or(0.0);
    row(
        "plate-ocr: whole-plate accuracy on sim crops never trained on",
        format!("{:.1} %", 100.0 * accuracy),
        "≥ 99 % one-line, ≥ 98 % two-line",
        &format!(
            "{count} crops: one-line {}, two-line {}; character error rate {:.2} %",
            layout("one_line"),
            layout("two_line"),
            100.0 * ours["cer"].as_f64().unwrap_or(0.0)
        ),
    );
    let p50 = ours["latency_ms_p50"].as_f64().unwrap_or(0.0);
    row(
        "plate-ocr: recognizer latency a plate, 1 thread (p50 / p95)",
        format!(
            "{p50:.2} ms / {:.2} ms",
            ours["latency_ms_p95"].as_f64().unwrap_or(0.0)
        ),
        "≤ 1 ms",
        &format!(
            "{:.0} plates/s over the whole run (PNG decoding included)",
            count / wall
        ),
    );

    let tesseract = python(
        "tesseract_plates.py",
        &[
            "--labels",
            &labels.to_string_lossy(),
            "--dir",
            &plates.to_string_lossy(),
        ],
    )?;
    let t_accuracy = tesseract["accuracy"].as_f64().unwrap_or(0.0);
    let t_ms = tesseract["wall_ms_per_crop"].as_f64().unwrap_or(0.0);
    row(
        "Tesseract 5 (crop grey and scaled ×3, `--psm 6`, plate characters whitelisted), same crops",
        format!("{:.1} %", 100.0 * t_accuracy),
        "",
        &format!(
            "character error rate {:.0} %; {t_ms:.1} ms a crop ({} ms CPU), {} plates/s",
            100.0 * tesseract["cer"].as_f64().unwrap_or(0.0),
            tesseract["cpu_ms_per_crop"],
            tesseract["plates_per_s"]
        ),
    );
    row(
        "plate-ocr against Tesseract: whole plates right, time a plate",
        format!(
            "{:.1} % against {:.1} %; {:.0}× faster",
            100.0 * accuracy,
            100.0 * t_accuracy,
            t_ms / p50.max(1e-9)
        ),
        "",
        "recognizer latency against Tesseract's time a crop",
    );
    Ok(())
}
