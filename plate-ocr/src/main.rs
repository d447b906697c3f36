//! `plate-ocr`: read plates from images, or evaluate the reader over a labelled folder.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use plate_ocr::{
    PlateReader, ReaderOptions,
    eval::{self, Mode},
};
use vision::BoxF;

#[derive(Debug, Parser)]
#[command(
    name = "plate-ocr",
    version,
    about = "Read Vietnamese plates: detection, rectification, recognition constrained by the plate grammar"
)]
struct Cli {
    /// The model manifest.
    #[arg(long, global = true, default_value = "models/manifest.toml")]
    models: PathBuf,
    /// Intra-op threads per model.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Reads the plate of each image (a vehicle crop, or a photo of one vehicle).
    Read {
        #[arg(required = true)]
        images: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Evaluates over a folder of labelled images.
    Eval {
        /// `name<TAB>text[<TAB>layout<TAB>colour]` or the openalpr-benchmarks form.
        #[arg(long)]
        labels: PathBuf,
        dir: PathBuf,
        /// The images are rectified plate crops (recognition only).
        #[arg(long)]
        crops: bool,
        /// The confidence under which a plate is reported unread (the edge agent's
        /// `models.min_plate_confidence`, 0.53 by default).
        #[arg(long, default_value_t = plate_ocr::recognize::MIN_CONFIDENCE)]
        min_confidence: f32,
        /// Only the labels of this group (a third column that is no layout, e.g. `grammar_ok`).
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let opts = ReaderOptions {
        threads: cli.threads,
        ..ReaderOptions::default()
    };
    let reader = match PlateReader::load(&cli.models, opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Read { images, json } => {
            let mut failed = false;
            for path in images {
                let img = match image::open(&path) {
                    Ok(i) => i.to_rgb8(),
                    Err(e) => {
                        eprintln!("error: {}: {e}", path.display());
                        failed = true;
                        continue;
                    }
                };
                let whole = BoxF::whole(img.width(), img.height());
                match reader.read(&img, &[(whole, None)]) {
                    Ok(mut reads) => {
                        let read = reads.pop().flatten();
                        let best = read.as_ref().and_then(|r| r.reading.best().cloned());
                        if json {
                            let value = serde_json::json!({
                                "image": path.display().to_string(),
                                "plate": best.as_ref().map(|c| &c.display),
                                "confidence": best.as_ref().map(|c| c.confidence),
                                "raw": read.as_ref().map(|r| &r.reading.raw),
                                "candidates": read.as_ref().map(|r| &r.reading.candidates),
                                "colour": read.as_ref().map(|r| r.colour.as_str()),
                                "corners": read.as_ref().map(|r| r.detection.corners),
                            });
                            println!("{value}");
                        } else {
                            match (&read, &best) {
                                (Some(r), Some(c)) => println!(
                                    "{}\t{}\t{:.3}\t{}",
                                    path.display(),
                                    c.display,
                                    c.confidence,
                                    r.colour.as_str()
                                ),
                                (Some(r), None) => println!(
                                    "{}\tunreadable (raw {})",
                                    path.display(),
                                    r.reading.raw
                                ),
                                (None, _) => println!("{}\tno plate", path.display()),
                            }
                        }
                    }
                    Err(e) => {
                        eprintln!("error: {}: {e}", path.display());
                        failed = true;
                    }
                }
            }
            if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Eval {
            labels,
            dir,
            crops,
            min_confidence,
            group,
            json,
        } => {
            let text = match std::fs::read_to_string(&labels) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: {}: {e}", labels.display());
                    return ExitCode::from(2);
                }
            };
            let items = match eval::parse_labels(&text) {
                Ok(i) => eval::in_group(i, group.as_deref()),
                Err(e) => {
                    eprintln!("error: {}: {e}", labels.display());
                    return ExitCode::from(2);
                }
            };
            let mode = if crops { Mode::Crops } else { Mode::Full };
            match eval::evaluate(&reader, &dir, &items, mode, min_confidence) {
                Ok(report) if json => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&report).unwrap_or_default()
                    );
                    ExitCode::SUCCESS
                }
                Ok(r) => {
                    println!(
                        "plates {}  read {}  accuracy {:.4}  cer {:.4}",
                        r.count, r.read, r.accuracy, r.cer
                    );
                    println!(
                        "  reported (confidence ≥ {:.2}): {} ({:.4} of the plates), exact {:.4} of those, {} wrong",
                        r.floor,
                        r.reported,
                        r.reported_share,
                        r.reported_precision,
                        r.reported_wrong
                    );
                    let floors: Vec<String> = r
                        .by_floor
                        .iter()
                        .map(|f| format!("{:.2}: {} ({} wrong)", f.floor, f.reported, f.wrong))
                        .collect();
                    println!("  reported at other floors: {}", floors.join(", "));
                    for (k, g) in &r.per_layout {
                        println!("  layout {k}: {:.4} of {}", g.accuracy, g.count);
                    }
                    for (k, g) in &r.per_colour {
                        println!("  colour {k}: {:.4} of {}", g.accuracy, g.count);
                    }
                    for (k, g) in &r.per_group {
                        println!("  group {k}: {:.4} of {}", g.accuracy, g.count);
                    }
                    for (k, g) in &r.per_blur {
                        println!("  {k}: {:.4} of {}", g.accuracy, g.count);
                    }
                    if let Some(c) = r.colour_accuracy {
                        println!("  colour named right: {c:.4}");
                    }
                    if let Some(d) = r.detection_recall {
                        println!("  plate boxes found (IoU ≥ 0.5): {d:.4}");
                    }
                    let worst: Vec<String> = r
                        .confusions
                        .iter()
                        .map(|(k, n)| format!("{k} ×{n}"))
                        .collect();
                    println!("  worst confusions: {}", worst.join(", "));
                    println!(
                        "  recognition latency: p50 {:.3} ms, p95 {:.3} ms",
                        r.latency_ms_p50, r.latency_ms_p95
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
