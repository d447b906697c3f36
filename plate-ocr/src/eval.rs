//! Evaluation over a labelled folder: whole-plate accuracy, character error rate, accuracy by
//! layout and colour, the worst confusions, detection recall where boxes are labelled, and
//! recognition latency.
//!
//! Labels are `name<TAB>text[<TAB>layout<TAB>colour[<TAB>width_px<TAB>blur_px]]` (the sim's
//! `plates/*/labels.tsv`: the plate's width and its motion blur in the frame, pixels) or the
//! openalpr-benchmarks form `name<TAB>x<TAB>y<TAB>w<TAB>h<TAB>text`.

use std::{collections::BTreeMap, path::Path, time::Instant};

use protocol::{Plate, PlateColour, PlateLayout};
use serde::Serialize;

use vision::{BoxF, ModelError};

use crate::{
    detect::VISIBLE,
    reader::{PlateReader, layout_of},
    recognize::Hint,
};

/// One labelled image.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub name: String,
    /// Canonical text.
    pub text: String,
    /// The plate's layout (`one_line`, `two_line`) where labelled.
    pub layout: Option<String>,
    /// The plate's colour (`white`, `yellow`, …) where labelled; any other text in that column
    /// is not a colour and is left out (it may be the plate's own text, never to be reported).
    pub colour: Option<String>,
    /// A label of another kind in the layout's column (e.g. `grammar_ok`): a group of its own.
    pub group: Option<String>,
    /// The plate's motion blur as a share of its width (where labelled).
    pub blur: Option<f32>,
    pub plate_box: Option<BoxF>,
}

/// What the images are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Rectified plate crops of the recognizer's size: recognition only.
    Crops,
    /// Vehicle crops or photos: detection in the whole image, then recognition.
    Full,
}

/// Canonical characters of a label: the grammar's canonical form, or the letters and digits.
pub fn canonical(text: &str) -> String {
    Plate::parse(text).map_or_else(
        |_| {
            text.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_uppercase)
                .collect()
        },
        |p| p.canonical(),
    )
}

/// Parses a labels file; errors name the line.
pub fn parse_labels(text: &str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let numbers: Option<Vec<f32>> = f
            .get(1..5)
            .map(|n| n.iter().filter_map(|v| v.trim().parse().ok()).collect());
        let item = match (f.len(), numbers) {
            (6.., Some(n)) if n.len() == 4 => Item {
                name: f[0].to_owned(),
                text: canonical(f[5]),
                layout: None,
                colour: None,
                group: None,
                blur: None,
                plate_box: Some(BoxF {
                    x0: n[0],
                    y0: n[1],
                    x1: n[0] + n[2],
                    y1: n[1] + n[3],
                }),
            },
            (2.., _) => Item {
                name: f[0].to_owned(),
                text: canonical(f[1]),
                layout: f.get(2).filter(|s| is_layout(s)).map(|s| s.to_string()),
                colour: f
                    .get(3)
                    .filter(|s| PlateColour::parse(s).is_some())
                    .map(|s| s.to_string()),
                group: f
                    .get(2)
                    .filter(|s| !s.trim().is_empty() && !is_layout(s))
                    .map(|s| s.to_string()),
                blur: match (f.get(4), f.get(5)) {
                    (Some(w), Some(b)) => {
                        match (w.trim().parse::<f32>(), b.trim().parse::<f32>()) {
                            (Ok(w), Ok(b)) if w > 0.0 && b >= 0.0 => Some(b / w),
                            _ => {
                                return Err(format!(
                                    "line {}: width_px and blur_px must be numbers",
                                    i + 1
                                ));
                            }
                        }
                    }
                    _ => None,
                },
                plate_box: None,
            },
            _ => return Err(format!("line {}: expected name<TAB>text", i + 1)),
        };
        if item.text.is_empty() {
            return Err(format!("line {}: empty plate text", i + 1));
        }
        items.push(item);
    }
    Ok(items)
}

/// The items of `group` (all of them for `None`).
pub fn in_group(items: Vec<Item>, group: Option<&str>) -> Vec<Item> {
    match group {
        None => items,
        Some(g) => items
            .into_iter()
            .filter(|i| i.group.as_deref() == Some(g))
            .collect(),
    }
}

fn is_layout(name: &str) -> bool {
    serde_json::from_value::<PlateLayout>(name.into()).is_ok()
}

fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The confidence floors [`Report::by_floor`] counts at. A reading's confidence is the
/// product of its slots' probabilities, and the recognizer, trained with label smoothing, gives
/// no slot much more than 0.95: a whole plate's confidence stays under about 0.6, and the floors
/// that matter lie close together below it.
pub const FLOORS: [f32; 8] = [0.3, 0.4, 0.5, 0.53, 0.56, 0.58, 0.6, 0.7];

/// The plates a floor lets through, and the wrong ones among them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FloorCount {
    pub floor: f32,
    pub reported: usize,
    pub wrong: usize,
}

/// Accuracy within one group.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Group {
    pub accuracy: f64,
    pub count: usize,
    #[serde(skip)]
    correct: usize,
}

/// The evaluation report (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Whole-plate exact match, 0–1.
    pub accuracy: f64,
    /// Character error rate: edit distance over the labelled characters.
    pub cer: f64,
    pub count: usize,
    /// Images where the reader gave a valid reading at all.
    pub read: usize,
    /// The confidence floor under which the agent reports a plate unread.
    pub floor: f32,
    /// Plates whose reading reached the floor: the ones the agent would report.
    pub reported: usize,
    /// Of those, the ones reported wrong — a wrong plate names a wrong citizen.
    pub reported_wrong: usize,
    /// `reported` over the plates, and the exact-match rate among the reported.
    pub reported_share: f64,
    pub reported_precision: f64,
    /// What other floors would report: for each of [`FLOORS`], the plates reported and the
    /// wrong ones among them (the trade between plates read and plates misread).
    pub by_floor: Vec<FloorCount>,
    pub per_layout: BTreeMap<String, Group>,
    pub per_colour: BTreeMap<String, Group>,
    /// By the labels' own groups (a third column that is not a layout).
    pub per_group: BTreeMap<String, Group>,
    /// By layout and motion blur (a share of the plate's width), where labelled.
    pub per_blur: BTreeMap<String, Group>,
    /// Share of plates whose colour was named right (where labelled).
    pub colour_accuracy: Option<f64>,
    /// Share of labelled plate boxes found at IoU ≥ 0.5 (where boxes are labelled).
    pub detection_recall: Option<f64>,
    /// The most frequent character confusions, `truth→read` (same-length readings).
    pub confusions: Vec<(String, usize)>,
    pub latency_ms_p50: f64,
    pub latency_ms_p95: f64,
}

fn bump(map: &mut BTreeMap<String, Group>, key: &str, correct: bool) {
    let g = map.entry(key.to_owned()).or_default();
    g.count += 1;
    g.correct += usize::from(correct);
    g.accuracy = g.correct as f64 / g.count as f64;
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Evaluates the reader on `items`, images read from `dir`.
pub fn evaluate(
    reader: &PlateReader,
    dir: &Path,
    items: &[Item],
    mode: Mode,
    floor: f32,
) -> Result<Report, ModelError> {
    let (w, h) = reader.recognizer().input_size();
    let (mut correct, mut read, mut edits, mut chars) = (0usize, 0usize, 0usize, 0usize);
    let (mut reported, mut reported_wrong) = (0usize, 0usize);
    let (mut colour_right, mut colour_known) = (0usize, 0usize);
    let (mut found, mut boxed) = (0usize, 0usize);
    let mut per_layout = BTreeMap::new();
    let mut per_colour = BTreeMap::new();
    let mut per_group = BTreeMap::new();
    let mut per_blur = BTreeMap::new();
    let mut confusions: BTreeMap<String, usize> = BTreeMap::new();
    let mut latencies = Vec::with_capacity(items.len());
    let mut by_floor = FLOORS.map(|floor| FloorCount {
        floor,
        reported: 0,
        wrong: 0,
    });
    for item in items {
        let path = dir.join(&item.name);
        let img = image::open(&path)
            .map_err(|e| ModelError::Io {
                path: path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?
            .to_rgb8();
        // The plate's layout: in crops mode the label's stands for the one the reader takes
        // from the shape of the plate it found, which a rectified crop no longer shows.
        let mut layout = match mode {
            Mode::Crops => item
                .layout
                .as_deref()
                .and_then(|l| serde_json::from_value::<PlateLayout>(l.into()).ok()),
            Mode::Full => None,
        };
        let crop = match mode {
            Mode::Crops if img.dimensions() == (w, h) => Some(img),
            Mode::Crops => image_ops_resize(&img, w, h),
            Mode::Full => {
                let whole = BoxF::whole(img.width(), img.height());
                let d = reader.detector().detect(&img, &[whole])?.pop().flatten();
                if let Some(b) = item.plate_box {
                    boxed += 1;
                    if d.is_some_and(|d| {
                        d.score >= VISIBLE && BoxF::around(&d.corners).iou(&b) >= 0.5
                    }) {
                        found += 1;
                    }
                }
                let d = d.filter(|d| d.score >= VISIBLE);
                layout = d.as_ref().map(layout_of);
                d.and_then(|d| reader.recognizer().crop(&img, &d.corners))
            }
        };
        let started = Instant::now();
        let reading = match &crop {
            Some(c) => reader
                .recognizer()
                .recognize(
                    &[c],
                    Hint {
                        category: None,
                        layout,
                    },
                )?
                .pop(),
            None => None,
        };
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        let best = reading.as_ref().and_then(|r| r.best());
        read += usize::from(best.is_some());
        let got = best.map(|c| c.text.clone()).unwrap_or_default();
        let ok = got == item.text;
        correct += usize::from(ok);
        if best.is_some_and(|c| c.confidence >= floor) {
            reported += 1;
            reported_wrong += usize::from(!ok);
        }
        if let Some(c) = best {
            for f in by_floor.iter_mut().filter(|f| c.confidence >= f.floor) {
                f.reported += 1;
                f.wrong += usize::from(!ok);
            }
        }
        let (truth, seen): (Vec<char>, Vec<char>) =
            (item.text.chars().collect(), got.chars().collect());
        edits += edit_distance(&truth, &seen);
        chars += truth.len();
        if truth.len() == seen.len() {
            for (t, s) in truth.iter().zip(&seen).filter(|(t, s)| t != s) {
                *confusions.entry(format!("{t}→{s}")).or_default() += 1;
            }
        }
        bump(
            &mut per_layout,
            item.layout.as_deref().unwrap_or("unlabelled"),
            ok,
        );
        if let Some(group) = &item.group {
            bump(&mut per_group, group, ok);
        }
        if let Some(blur) = item.blur {
            let layout = item.layout.as_deref().unwrap_or("unlabelled");
            bump(
                &mut per_blur,
                &format!("{layout}, {}", blur_bucket(blur)),
                ok,
            );
        }
        if let Some(colour) = &item.colour {
            bump(&mut per_colour, colour, ok);
            if let Some(c) = &crop {
                colour_known += 1;
                colour_right += usize::from(crate::colour::classify(c).as_str() == colour);
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let mut confusions: Vec<(String, usize)> = confusions.into_iter().collect();
    confusions.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    confusions.truncate(10);
    let n = items.len().max(1) as f64;
    Ok(Report {
        accuracy: correct as f64 / n,
        cer: edits as f64 / chars.max(1) as f64,
        count: items.len(),
        read,
        floor,
        reported,
        reported_wrong,
        reported_share: reported as f64 / n,
        reported_precision: if reported == 0 {
            0.0
        } else {
            (reported - reported_wrong) as f64 / reported as f64
        },
        by_floor: by_floor.to_vec(),
        per_layout,
        per_colour,
        per_group,
        per_blur,
        colour_accuracy: (colour_known > 0).then(|| colour_right as f64 / colour_known as f64),
        detection_recall: (boxed > 0).then(|| found as f64 / boxed as f64),
        confusions,
        latency_ms_p50: percentile(&latencies, 0.5),
        latency_ms_p95: percentile(&latencies, 0.95),
    })
}

/// The blur group of a plate whose motion blur is `share` of its width.
fn blur_bucket(share: f32) -> &'static str {
    match share {
        s if s < 0.05 => "blur 0–5 % of its width",
        s if s < 0.10 => "blur 5–10 % of its width",
        _ => "blur ≥ 10 % of its width",
    }
}

fn image_ops_resize(img: &image::RgbImage, w: u32, h: u32) -> Option<image::RgbImage> {
    vision::pixels::crop_resize(img, &BoxF::whole(img.width(), img.height()), w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_label_forms_parse() {
        let items =
            parse_labels("a.png\t51F12345\tone_line\twhite\nb.jpg\t10\t20\t30\t15\tABC 123\n\n")
                .unwrap();
        assert_eq!(items[0].text, "51F12345");
        assert_eq!(items[0].layout.as_deref(), Some("one_line"));
        assert_eq!(items[1].text, "ABC123");
        assert_eq!(
            items[1].plate_box,
            Some(BoxF {
                x0: 10.0,
                y0: 20.0,
                x1: 40.0,
                y1: 35.0
            })
        );
        assert_eq!(
            parse_labels("x.png\t59-X1 123.45\n").unwrap()[0].text,
            "59X112345"
        );
        assert!(parse_labels("lonely\n").unwrap_err().starts_with("line 1"));
        // A third column that is no layout is a group of the labels' own; a fourth that is no
        // colour (here the labelling engine's raw text) is nobody's business.
        let other = parse_labels("d.png\t51F12345\tgrammar_ok\t51F-123.45\n").unwrap();
        assert_eq!(other[0].layout, None);
        assert_eq!(other[0].group.as_deref(), Some("grammar_ok"));
        assert_eq!(other[0].colour, None);
        // The sim's labels also give the plate's width and motion blur in the frame.
        let sim = parse_labels("c.png\t51F12345\tone_line\twhite\t80.0\t6.0\n").unwrap();
        assert_eq!(sim[0].blur, Some(0.075));
        assert_eq!(sim[0].plate_box, None);
        assert_eq!(blur_bucket(0.075), "blur 5–10 % of its width");
        assert!(
            parse_labels("c.png\t51F12345\tone_line\twhite\twide\t6\n")
                .unwrap_err()
                .contains("blur_px")
        );
    }

    #[test]
    fn edit_distance_counts_characters() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(edit_distance(&c("51F12345"), &c("51F12345")), 0);
        assert_eq!(edit_distance(&c("51F12345"), &c("51F12845")), 1);
        assert_eq!(edit_distance(&c("51F12345"), &c("51F1234")), 1);
        assert_eq!(edit_distance(&c(""), &c("ABC")), 3);
    }
}
