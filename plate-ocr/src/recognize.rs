//! Recognition: the rectified plate goes to a fixed-slot model (each slot a distribution over
//! the pad class and the characters, two-line plates read top line first), and the readings the
//! plate grammar accepts are searched for among the likely ones, best first.

use image::RgbImage;
use protocol::{
    Plate, PlateCategory, PlateLayout,
    geometry::{Point, widen_quad},
};

use vision::{
    Engine, ModelError,
    pixels::{rectify, to_tensor},
};

/// The confidence under which a plate is reported unread, unless configured otherwise (the
/// edge agent's `models.min_plate_confidence`, `plate-ocr eval --min-confidence`). Chosen on
/// real crops (models/README.md): of the 360 checked plates of `vn-plates-dev` the reader
/// reports 88 at 0.53, none of them misread (3 counted wrong against labels that are wrong),
/// and 113 at 0.5, one misread. A confidence is a product of slot probabilities that label
/// smoothing keeps under about 0.62: plates read surely sit between 0.55 and 0.62.
pub const MIN_CONFIDENCE: f32 = 0.53;

/// A reading the grammar accepts, with the model's probability of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Candidate {
    /// Canonical text (`51F12345`).
    pub text: String,
    /// Display form (`51F-123.45`).
    pub display: String,
    pub confidence: f32,
}

/// What is known of a plate before its characters are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hint {
    /// The category the vehicle implies: where the text could be either (`59X11234`, a car's
    /// `59X-112.34` or a motorbike's `59-X1 1234`) it decides, but a text only the other
    /// category has is still taken (a vehicle class can be wrong).
    pub category: Option<PlateCategory>,
    /// The layout the plate's shape shows: a reading whose plate is never made that way is not
    /// taken (a one-line plate is never a motorbike's, whose plates are 190×140 mm). Where the
    /// vehicle is taken for a motorbike and the plate looks one-line, one of the two is wrong
    /// (a steep view shortens a plate's height), so the layout rules nothing out.
    pub layout: Option<PlateLayout>,
}

impl Hint {
    /// The vehicle's category alone.
    pub fn vehicle(category: Option<PlateCategory>) -> Self {
        Self {
            category,
            layout: None,
        }
    }

    /// The plate the grammar reads in `text` under this hint, if any.
    fn parse(&self, text: &str) -> Option<Plate> {
        let layout = self.layout.filter(|&l| {
            !(l == PlateLayout::OneLine && self.category == Some(PlateCategory::Motorbike))
        });
        let fits = |p: &Plate| layout.is_none_or(|l| p.layouts().contains(&l));
        let first = match self.category {
            Some(category) => Plate::parse_as(text, category).or_else(|_| Plate::parse(text)),
            None => Plate::parse(text),
        };
        // A text the grammar refuses is refused whatever the category (the hint only chooses
        // between valid readings), so only a valid plate of the wrong shape is read again.
        let plate = first.ok()?;
        if fits(&plate) {
            return Some(plate);
        }
        // The same text read as another category's plate may fit the plate's shape.
        [
            PlateCategory::Car,
            PlateCategory::Military,
            PlateCategory::Motorbike,
        ]
        .into_iter()
        .filter(|&c| c != plate.category())
        .filter_map(|c| Plate::parse_as(text, c).ok())
        .find(fits)
    }
}

/// What the recognizer made of one plate.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reading {
    /// The most likely character of each slot, up to the first pad: what an unconstrained
    /// reader would say.
    pub raw: String,
    /// Valid readings, best first (empty when none is likely).
    pub candidates: Vec<Candidate>,
    /// Per slot, the probability of the pad class and of each character.
    #[serde(skip)]
    pub slots: Vec<Vec<f32>>,
}

impl Reading {
    pub fn best(&self) -> Option<&Candidate> {
        self.candidates.first()
    }
}

/// The plate recognizer (`fixed_slot` format).
#[derive(Debug)]
pub struct Recognizer {
    engine: Engine,
    alphabet: Vec<char>,
    size: (u32, u32),
    margin: f32,
}

/// Alternatives kept per slot and readings kept while searching.
const PER_SLOT: usize = 4;
const BEAM: usize = 96;

impl Recognizer {
    pub fn new(engine: Engine) -> Result<Self, ModelError> {
        let entry = engine.entry();
        let bad = |reason: String| ModelError::Format {
            model: entry.name.clone(),
            reason,
        };
        if entry.format != "fixed_slot" {
            return Err(bad(format!(
                "a plate recognizer must be format fixed_slot, not {}",
                entry.format
            )));
        }
        if entry.labels.first().map(String::as_str) != Some("<pad>") {
            return Err(bad("labels must start with <pad>".into()));
        }
        let alphabet = entry.labels[1..]
            .iter()
            .map(|l| {
                let mut chars = l.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Ok(c),
                    _ => Err(bad(format!("label `{l}` is not one character"))),
                }
            })
            .collect::<Result<Vec<char>, _>>()?;
        let (h, w) = entry.input_hw()?;
        if !(0.0..=0.5).contains(&entry.crop_margin) {
            return Err(bad(format!(
                "crop_margin {} is not a share of the plate's width from 0 to 0.5",
                entry.crop_margin
            )));
        }
        let margin = entry.crop_margin;
        Ok(Self {
            engine,
            alphabet,
            size: (w as u32, h as u32),
            margin,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Width and height of the rectified crop the model reads.
    pub fn input_size(&self) -> (u32, u32) {
        self.size
    }

    /// The crop this model reads for a plate with `corners` (top-left, top-right,
    /// bottom-right, bottom-left) in `frame`: the plate widened by the model's margin,
    /// rectified to the input size.
    pub fn crop(&self, frame: &RgbImage, corners: &[Point; 4]) -> Option<RgbImage> {
        let (w, h) = self.size;
        rectify(frame, &widen_quad(corners, self.margin), w, h)
    }

    pub fn alphabet(&self) -> &[char] {
        &self.alphabet
    }

    /// Reads rectified plates (each of [`Self::input_size`]); `hint` is what is known of them
    /// (the vehicle's category, the plate's layout).
    pub fn recognize(&self, crops: &[&RgbImage], hint: Hint) -> Result<Vec<Reading>, ModelError> {
        if crops.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(c) = crops.iter().find(|c| c.dimensions() != self.size) {
            return Err(ModelError::Format {
                model: self.engine.entry().name.clone(),
                reason: format!(
                    "crop is {:?}, the model reads {:?}",
                    c.dimensions(),
                    self.size
                ),
            });
        }
        let out = self.engine.run(&to_tensor(crops))?;
        let probs = &out[0];
        let classes = self.alphabet.len() + 1;
        if probs.ndim() != 3 || probs.shape()[2] != classes || probs.shape()[0] != crops.len() {
            return Err(ModelError::Format {
                model: self.engine.entry().name.clone(),
                reason: format!(
                    "output shape {:?} is not [N, slots, {classes}]",
                    probs.shape()
                ),
            });
        }
        Ok((0..crops.len())
            .map(|n| {
                let slots: Vec<Vec<f32>> = (0..probs.shape()[1])
                    .map(|s| (0..classes).map(|c| probs[[n, s, c]]).collect())
                    .collect();
                self.reading(slots, hint)
            })
            .collect())
    }

    /// The reading of per-slot distributions (also used on votes across frames).
    pub fn reading(&self, slots: Vec<Vec<f32>>, hint: Hint) -> Reading {
        let raw = slots
            .iter()
            .map(|p| argmax(p))
            .take_while(|&i| i > 0)
            .map(|i| self.alphabet[i - 1])
            .collect();
        let candidates = candidates(&slots, &self.alphabet, hint, 5);
        Reading {
            raw,
            candidates,
            slots,
        }
    }
}

fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// The `n` most likely texts the grammar accepts. Slot distributions hold the pad class at 0
/// and `alphabet[i - 1]` at `i`; a text ends at its first pad and every later slot must be pad.
pub fn candidates(slots: &[Vec<f32>], alphabet: &[char], hint: Hint, n: usize) -> Vec<Candidate> {
    let ln = |p: f32| p.max(1e-9).ln();
    // (text, log probability, ended)
    let mut beam: Vec<(String, f32, bool)> = vec![(String::new(), 0.0, false)];
    for p in slots {
        let mut order: Vec<usize> = (1..p.len()).collect();
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
        let mut next = Vec::with_capacity(beam.len() * (PER_SLOT + 1));
        for (text, lp, ended) in &beam {
            next.push((text.clone(), lp + ln(p[0]), true));
            if !ended {
                for &c in order.iter().take(PER_SLOT) {
                    let mut t = text.clone();
                    t.push(alphabet[c - 1]);
                    next.push((t, lp + ln(p[c]), false));
                }
            }
        }
        next.sort_by(|a, b| b.1.total_cmp(&a.1));
        next.truncate(BEAM);
        beam = next;
    }
    // (candidate, log probability with the plate's prior)
    let mut out: Vec<(Candidate, f32)> = Vec::new();
    for (text, lp, _) in beam {
        // The beam comes best first and a prior never raises a reading: once `n` are kept, one
        // no likelier than the `n`th kept cannot enter.
        if out.len() >= n {
            out.sort_by(|a, b| b.1.total_cmp(&a.1));
            out.truncate(n);
            if out.last().is_some_and(|(_, worst)| lp <= *worst) {
                break;
            }
        }
        let Some(plate) = hint.parse(&text) else {
            continue;
        };
        if out.iter().any(|(c, _)| c.text == text) {
            continue;
        }
        out.push((
            Candidate {
                display: plate.display(),
                text,
                confidence: lp.exp(),
            },
            lp + prior(&plate).ln(),
        ));
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out.into_iter().take(n).map(|(c, _)| c).collect()
}

/// How much more likely a plate of this shape is on the street than among the plates the
/// recognizer learnt from, relative to the others: the correction of a classifier's learnt
/// prior (Saerens et al., "Adjusting the outputs of a classifier to new a priori
/// probabilities", 2002), applied to the ranking of readings, not to their confidence.
///
/// The one shape it moves is a motorbike's two-letter series (`29-AA 123.45`): the series of
/// mopeds under 50 cm³ (Circular 15/2014/TT-BCA, Annex 4, 2.1.2, kept by Circular 79/2024),
/// a small part of the fleet, which the rendered training plates give 22 % of motorbike plates
/// (`sim::plate::random_plate`: letter and digit 72 %, two letters 22 %, special 6 %). Taking
/// about 5 % on the street, a two-letter reading weighs (0.05 / 0.22) / (0.89 / 0.72) ≈ 0.18 of
/// a letter-and-digit one: a `1` seen as a `T` after the series letter (`59-XT`) no longer
/// outranks the `59-X1` the plate says, while a plain two-letter plate, read surely, still wins.
fn prior(plate: &Plate) -> f32 {
    let two_letters = plate.category() == PlateCategory::Motorbike
        && plate.special_series().is_none()
        && plate.series().chars().count() == 2
        && plate.series().chars().all(|c| c.is_alphabetic());
    if two_letters {
        TWO_LETTER_SERIES_PRIOR
    } else {
        1.0
    }
}

/// The weight of a motorbike's two-letter series against its other shapes (see `prior`).
pub const TWO_LETTER_SERIES_PRIOR: f32 = 0.18;

#[cfg(test)]
mod tests {
    use super::*;

    const ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZĐ";

    /// Slots that read `text` with probability `p` per character, then pad.
    fn slots_for(text: &str, p: f32) -> Vec<Vec<f32>> {
        let alphabet: Vec<char> = ALPHABET.chars().collect();
        let classes = alphabet.len() + 1;
        let mut chars = text.chars();
        (0..10)
            .map(|_| {
                let mut s = vec![(1.0 - p) / (classes - 1) as f32; classes];
                let i = chars.next().map_or(0, |c| {
                    1 + alphabet.iter().position(|a| *a == c).expect("in alphabet")
                });
                s[i] = p;
                s
            })
            .collect()
    }

    fn index(c: char) -> usize {
        1 + ALPHABET.chars().position(|a| a == c).expect("in alphabet")
    }

    /// Slots that read `text`, but slot `at` torn between two characters.
    fn torn(text: &str, at: usize, (a, pa): (char, f32), (b, pb): (char, f32)) -> Vec<Vec<f32>> {
        let mut slots = slots_for(text, 0.97);
        slots[at] = vec![0.0; ALPHABET.chars().count() + 1];
        slots[at][index(a)] = pa;
        slots[at][index(b)] = pb;
        slots
    }

    #[test]
    fn a_clear_reading_is_its_own_best_candidate() {
        let alphabet: Vec<char> = ALPHABET.chars().collect();
        let c = candidates(&slots_for("51F12345", 0.98), &alphabet, Hint::default(), 3);
        assert_eq!(c[0].text, "51F12345");
        assert_eq!(c[0].display, "51F-123.45");
        assert!(c[0].confidence > 0.8);
    }

    #[test]
    fn the_grammar_overrules_the_argmax() {
        let alphabet: Vec<char> = ALPHABET.chars().collect();
        // Slot 2 looks more like `0` than `F`, but no series is a digit there.
        let slots = torn("51F12345", 2, ('0', 0.55), ('F', 0.45));
        let c = candidates(&slots, &alphabet, Hint::default(), 3);
        assert_eq!(c[0].text, "51F12345");
        // The letter O is never used in a series: the reading falls back to a valid one.
        let slots = torn("59X112345", 2, ('O', 0.6), ('X', 0.4));
        assert_eq!(
            candidates(&slots, &alphabet, Hint::default(), 1)[0].text,
            "59X112345"
        );
    }

    #[test]
    fn a_two_letter_motorbike_series_needs_more_than_a_slight_lead() {
        let alphabet: Vec<char> = ALPHABET.chars().collect();
        // The series digit `1` looks a little more like `T`: the letter-and-digit series the
        // street mostly has wins, with its own (lower) confidence.
        let slots = torn("59X123456", 3, ('T', 0.6), ('1', 0.35));
        let c = candidates(&slots, &alphabet, Hint::default(), 2);
        assert_eq!(c[0].display, "59-X1 234.56");
        assert_eq!(c[1].text, "59XT23456");
        assert!(c[0].confidence < c[1].confidence);
        // A two-letter series read surely is read as it is.
        let slots = torn("29AA12345", 3, ('A', 0.9), ('4', 0.08));
        assert_eq!(
            candidates(&slots, &alphabet, Hint::default(), 1)[0].display,
            "29-AA 123.45"
        );
        // A car's special series is no motorbike's two-letter series.
        let slots = torn("51LD12345", 3, ('D', 0.6), ('0', 0.35));
        assert_eq!(
            candidates(&slots, &alphabet, Hint::default(), 1)[0].text,
            "51LD12345"
        );
    }

    #[test]
    fn nothing_valid_gives_no_candidate() {
        let alphabet: Vec<char> = ALPHABET.chars().collect();
        assert!(
            candidates(&slots_for("QQQQQQQQ", 0.999), &alphabet, Hint::default(), 3).is_empty()
        );
    }

    #[test]
    fn the_vehicle_decides_an_ambiguous_split() {
        let alphabet: Vec<char> = ALPHABET.chars().collect();
        // `59X11234` is a car `59X-112.34` or a motorbike `59-X1 1234`.
        let slots = slots_for("59X11234", 0.98);
        let bike = candidates(
            &slots,
            &alphabet,
            Hint::vehicle(Some(PlateCategory::Motorbike)),
            1,
        );
        assert_eq!(bike[0].display, "59-X1 1234");
        let car = candidates(
            &slots,
            &alphabet,
            Hint::vehicle(Some(PlateCategory::Car)),
            1,
        );
        assert_eq!(car[0].display, "59X-112.34");
        // A one-line plate is a car's...
        let one_line = Hint {
            category: None,
            layout: Some(PlateLayout::OneLine),
        };
        assert_eq!(
            candidates(&slots, &alphabet, one_line, 1)[0].display,
            "59X-112.34"
        );
        // ... but on a vehicle taken for a motorbike the two disagree, and the layout yields.
        let steep = Hint {
            category: Some(PlateCategory::Motorbike),
            layout: Some(PlateLayout::OneLine),
        };
        assert_eq!(
            candidates(&slots, &alphabet, steep, 1)[0].display,
            "59-X1 1234"
        );
    }

    #[test]
    fn a_one_line_plate_is_never_read_as_a_motorbike_series() {
        let alphabet: Vec<char> = ALPHABET.chars().collect();
        // The car special series `TĐ`, its `Đ` taken surely for a `D`: `51TD3047` would be a
        // motorbike's two-letter series, which no one-line plate carries.
        let slots = torn("51TĐ3047", 3, ('D', 0.9), ('Đ', 0.1));
        let unknown = candidates(&slots, &alphabet, Hint::default(), 1);
        assert_eq!(unknown[0].text, "51TD3047");
        let one_line = Hint {
            category: None,
            layout: Some(PlateLayout::OneLine),
        };
        let read = candidates(&slots, &alphabet, one_line, 3);
        assert_eq!(read[0].display, "51TĐ-3047");
        assert!(read.iter().all(|c| c.text != "51TD3047"), "{read:?}");
        // Two lines fit both, so the likelier reading stands.
        let two_line = Hint {
            category: None,
            layout: Some(PlateLayout::TwoLine),
        };
        assert_eq!(
            candidates(&slots, &alphabet, two_line, 1)[0].text,
            "51TD3047"
        );
    }
}
