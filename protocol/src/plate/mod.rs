//! The Vietnamese plate grammar (Circular 79/2024/TT-BCA; see DOMAIN.md).
//!
//! A plate is a province code, a series and a serial number:
//! - cars: `51F-123.45` (older `51F-1234`); special series `51LD-123.45`;
//! - motorbikes: `59-X1 123.45` (letter and digit), two-letter series since 2023 (`29-AA 123.45`),
//!   special series with a digit (`29-MĐ1 123.45`);
//! - military: two letters and four digits on a red plate, `KA-12-34`;
//! - foreign missions and organisations (`NG`, `QT`, `NN`, `CV`): province, three-digit country
//!   code, series, two-digit order, `29-636-NG-11`, or on older plates the series before the
//!   country, `29-NG-636-11`;
//! - older motorbike plates with a series retired since, `R` and a digit over four digits
//!   (`59-R1 2345`), which the text alone cannot tell from a trailer's `59R-123.45`.
//!
//! The canonical text is the characters alone (`51F12345`); the display form puts the
//! separators back. The same characters can be a car or a motorbike plate (`51LD12345`), so a
//! plate carries its [`PlateCategory`]: the display form says it, and text without separators
//! takes the category the series implies.

pub mod province;
pub mod series;

use std::{borrow::Cow, fmt};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::Date;

pub use province::Province;

/// Longest canonical plate text (`29MĐ112345`, ten characters) with a margin for foreign plates
/// read as free text.
pub const MAX_PLATE_CHARS: usize = 12;

/// Which kind of vehicle a plate number is issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlateCategory {
    /// Cars, buses, trucks, trailers: one-letter series or a car special series.
    Car,
    /// Motorbikes and mopeds: letter and digit, or two letters.
    Motorbike,
    /// Military vehicles: two letters, red plate.
    Military,
}

/// How the characters sit on the physical plate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlateLayout {
    /// The long car plate (520 × 110 mm): `51F-123.45` on one line.
    OneLine,
    /// The short car plate (330 × 165 mm) and every motorbike plate: series over serial.
    TwoLine,
}

/// Background and text colour; part of the legal identity of the plate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlateColour {
    /// White background, black text: private vehicles and most organisations.
    White,
    /// Yellow background, black text: commercial transport.
    Yellow,
    /// Blue background, white text: state bodies.
    Blue,
    /// Red background, white text: military.
    Red,
    /// White background, red text: diplomatic (`NG`) and international (`QT`) series.
    WhiteRedText,
}

impl PlateColour {
    pub const ALL: [Self; 5] = [
        Self::White,
        Self::Yellow,
        Self::Blue,
        Self::Red,
        Self::WhiteRedText,
    ];

    /// The colour of a snake_case name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The snake_case name used on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::White => "white",
            Self::Yellow => "yellow",
            Self::Blue => "blue",
            Self::Red => "red",
            Self::WhiteRedText => "white_red_text",
        }
    }
}

/// Why a plate text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlateError {
    #[error("plate text is empty")]
    Empty,
    #[error("plate text `{0}` has a character that no plate uses")]
    BadCharacter(String),
    #[error("plate text `{0}` has no known shape (province code, series, serial)")]
    UnknownShape(String),
    #[error("province code {0:02} was never issued")]
    UnknownProvince(u8),
    #[error("series `{0}` does not follow the series rules")]
    BadSeries(String),
    #[error("serial `{0}` must be four or five digits and not all zero")]
    BadSerial(String),
    #[error("plate `{plate}` is a {found:?} plate, not a {expected:?} plate")]
    WrongCategory {
        plate: String,
        found: PlateCategory,
        expected: PlateCategory,
    },
}

/// A plate number that follows the grammar.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Plate {
    /// Province code; `None` on military plates.
    province: Option<u8>,
    series: String,
    /// The serial; on a foreign plate the country code and the order (`63611`).
    serial: String,
    category: PlateCategory,
    foreign: Option<ForeignForm>,
}

/// How a foreign plate orders its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForeignForm {
    /// `29-636-NG-11`: the country code before the series.
    CountryFirst,
    /// `29-NG-636-11`: the series first, as older plates have it.
    SeriesFirst,
}

/// Separators accepted between the parts of a plate text.
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '\n' | '\r' | '\t' | '·' | '/' | '_')
}

fn normalise_char(c: char) -> char {
    match c {
        'đ' => 'Đ',
        other => other.to_ascii_uppercase(),
    }
}

impl Plate {
    /// Parses a plate from its display form (`51F-123.45`, `59-X1 123.45`, `59-X1\n123.45`) or
    /// its canonical text (`51F12345`). Case and separators are forgiven; the characters are not.
    pub fn parse(text: &str) -> Result<Self, PlateError> {
        let (chars, style) = normalise(text)?;
        // A foreign plate's dashes say nothing of the vehicle: its series does.
        if let Some(plate) = foreign_plate(&chars, None, series::rules())? {
            return Ok(plate);
        }
        parse_chars(&chars, style)
    }

    /// Parses a plate known to belong to `category` (from the vehicle class or the layout).
    pub fn parse_as(text: &str, category: PlateCategory) -> Result<Self, PlateError> {
        let (chars, _) = normalise(text)?;
        let plate = parse_chars(&chars, Some(category))?;
        if plate.category != category {
            return Err(PlateError::WrongCategory {
                plate: plate.display(),
                found: plate.category,
                expected: category,
            });
        }
        Ok(plate)
    }

    /// A plate from its parts, checked by the grammar: `from_parts(Some(59), "X1", "12345",
    /// PlateCategory::Motorbike)` is `59-X1 123.45`; military plates have no province.
    pub fn from_parts(
        province: Option<u8>,
        series: &str,
        serial: &str,
        category: PlateCategory,
    ) -> Result<Self, PlateError> {
        let text = match province {
            Some(code) if category == PlateCategory::Motorbike => {
                format!("{code:02}-{series} {serial}")
            }
            Some(code) => format!("{code:02}{series}-{serial}"),
            None => format!("{series}-{serial}"),
        };
        Self::parse_as(&text, category)
    }

    /// The characters without separators: `51F12345`, `59X112345`, `29636NG11`.
    pub fn canonical(&self) -> String {
        let mut out = String::with_capacity(MAX_PLATE_CHARS);
        if let Some(code) = self.province {
            out.push_str(&format!("{code:02}"));
        }
        if self.foreign == Some(ForeignForm::CountryFirst) {
            let (country, order) = self.serial.split_at(3);
            out.push_str(country);
            out.push_str(&self.series);
            out.push_str(order);
            return out;
        }
        out.push_str(&self.series);
        out.push_str(&self.serial);
        out
    }

    /// The form people read and write: `51F-123.45`, `59-X1 123.45`, `KA-12-34`,
    /// `29-636-NG-11`.
    pub fn display(&self) -> String {
        if let (Some(form), Some(code)) = (self.foreign, self.province) {
            let (country, order) = self.serial.split_at(3);
            return match form {
                ForeignForm::CountryFirst => format!("{code:02}-{country}-{}-{order}", self.series),
                ForeignForm::SeriesFirst => format!("{code:02}-{}-{country}-{order}", self.series),
            };
        }
        let serial = self.display_serial();
        match (self.category, self.province) {
            (PlateCategory::Military, _) | (_, None) => {
                let (a, b) = self.serial.split_at(2);
                format!("{}-{a}-{b}", self.series)
            }
            (PlateCategory::Car, Some(code)) => format!("{code:02}{}-{serial}", self.series),
            (PlateCategory::Motorbike, Some(code)) => {
                format!("{code:02}-{} {serial}", self.series)
            }
        }
    }

    /// The text of each line on a plate of `layout`: one line, or the series over the serial.
    pub fn lines(&self, layout: PlateLayout) -> Vec<String> {
        match layout {
            PlateLayout::OneLine => vec![self.display()],
            PlateLayout::TwoLine if self.foreign.is_some() => {
                let display = self.display();
                let cut = display.match_indices('-').nth(1).map_or(0, |(i, _)| i);
                let (head, tail) = display.split_at(cut);
                vec![head.to_owned(), tail[1..].to_owned()]
            }
            PlateLayout::TwoLine => {
                let head = match (self.category, self.province) {
                    (PlateCategory::Car, Some(code)) => format!("{code:02}{}", self.series),
                    (PlateCategory::Motorbike, Some(code)) => format!("{code:02}-{}", self.series),
                    _ => self.series.clone(),
                };
                vec![head, self.display_serial().into_owned()]
            }
        }
    }

    /// The layouts this plate can be made in: motorbike plates have two lines; car plates come
    /// long (one line) or short (two lines).
    pub fn layouts(&self) -> &'static [PlateLayout] {
        match self.category {
            PlateCategory::Motorbike => &[PlateLayout::TwoLine],
            PlateCategory::Car | PlateCategory::Military => {
                &[PlateLayout::OneLine, PlateLayout::TwoLine]
            }
        }
    }

    pub fn category(&self) -> PlateCategory {
        self.category
    }

    /// How a foreign plate orders its parts; `None` on every other plate.
    pub fn foreign_form(&self) -> Option<ForeignForm> {
        self.foreign
    }

    pub fn province_code(&self) -> Option<u8> {
        self.province
    }

    pub fn series(&self) -> &str {
        &self.series
    }

    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The province holding this plate's code on `day`.
    pub fn province_on(&self, day: Date) -> Option<&'static Province> {
        province::holder(self.province?, day)
    }

    /// The province holding this plate's code today.
    pub fn province(&self) -> Option<&'static Province> {
        province::current(self.province?)
    }

    /// The special series this plate belongs to, if any.
    pub fn special_series(&self) -> Option<&'static series::SpecialSeries> {
        let code: String = self.series.chars().take(2).collect();
        series::rules().special(&code)
    }

    /// Whether the trailer letter `R` marks a trailer or semi-trailer.
    pub fn is_trailer(&self) -> bool {
        self.category == PlateCategory::Car
            && self.series.as_str() == series::rules().trailer_letter.to_string()
    }

    /// The colours this plate may legally have, where its series fixes them.
    pub fn required_colour(&self) -> Option<PlateColour> {
        match self.category {
            PlateCategory::Military => Some(series::rules().military.colour),
            _ => self.special_series().and_then(|s| s.colour),
        }
    }

    fn display_serial(&self) -> Cow<'_, str> {
        if self.serial.len() == 5 {
            let (a, b) = self.serial.split_at(3);
            Cow::Owned(format!("{a}.{b}"))
        } else {
            Cow::Borrowed(&self.serial)
        }
    }
}

impl fmt::Display for Plate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

/// Upper-cases, drops separators and reads the category the form of the text implies: a
/// separator right after the two-digit province code is motorbike style (`59-X1 123.45`), a
/// first separator after the series is car style (`51LD-123.45`); no separator implies nothing.
fn normalise(text: &str) -> Result<(Vec<char>, Option<PlateCategory>), PlateError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(PlateError::Empty);
    }
    let mut chars = Vec::with_capacity(MAX_PLATE_CHARS);
    let mut style = None;
    for c in trimmed.chars() {
        if is_separator(c) {
            let civil = chars.len() >= 2 && chars[..2].iter().all(char::is_ascii_digit);
            if style.is_none() && civil {
                style = Some(if chars.len() == 2 {
                    PlateCategory::Motorbike
                } else {
                    PlateCategory::Car
                });
            }
            continue;
        }
        let c = normalise_char(c);
        if !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == 'Đ') {
            return Err(PlateError::BadCharacter(text.to_owned()));
        }
        chars.push(c);
        if chars.len() > MAX_PLATE_CHARS {
            return Err(PlateError::UnknownShape(text.to_owned()));
        }
    }
    Ok((chars, style))
}

fn is_letter(c: char) -> bool {
    c.is_ascii_uppercase() || c == 'Đ'
}

fn parse_chars(chars: &[char], hint: Option<PlateCategory>) -> Result<Plate, PlateError> {
    let text: String = chars.iter().collect();
    let rules = series::rules();
    let shape = || PlateError::UnknownShape(text.clone());

    // Military: two letters then four digits.
    if chars.len() == 6 && is_letter(chars[0]) && is_letter(chars[1]) {
        let series: String = chars[..2].iter().collect();
        let serial: String = chars[2..].iter().collect();
        if !chars[2..].iter().all(char::is_ascii_digit) {
            return Err(shape());
        }
        if !rules.military.first_letters.contains(chars[0]) || !rules.is_series_letter(chars[1]) {
            return Err(PlateError::BadSeries(series));
        }
        return Ok(Plate {
            province: None,
            series,
            serial,
            category: PlateCategory::Military,
            foreign: None,
        });
    }

    if let Some(plate) = foreign_plate(chars, hint, rules)? {
        return Ok(plate);
    }

    // Civil: two digits, series, four or five digits.
    if chars.len() < 2 + 1 + 4 || !chars[..2].iter().all(char::is_ascii_digit) {
        return Err(shape());
    }
    let code = (chars[0] as u8 - b'0') * 10 + (chars[1] as u8 - b'0');
    if !province::is_known(code) {
        return Err(PlateError::UnknownProvince(code));
    }
    let trailing_digits = chars
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if trailing_digits < 4 || chars.len() - trailing_digits < 3 {
        return Err(shape());
    }
    // The serial is five digits, or four on older plates. Where the series ends in a digit the
    // split is ambiguous (`59X11234` is `59X-112.34` or `59-X1 1234`): the five-digit reading
    // wins unless the form of the text asked for a category only the other reading gives.
    let mut first_error = None;
    let mut fallback = None;
    for serial_len in [5, 4].into_iter().filter(|&n| n <= trailing_digits) {
        let series_chars = &chars[2..chars.len() - serial_len];
        let serial: String = chars[chars.len() - serial_len..].iter().collect();
        let category = match series_category(series_chars, hint, serial_len == 4, rules) {
            Ok(category) => category,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        if serial.chars().all(|c| c == '0') {
            first_error.get_or_insert(PlateError::BadSerial(serial));
            continue;
        }
        let plate = Plate {
            province: Some(code),
            series: series_chars.iter().collect(),
            serial,
            category,
            foreign: None,
        };
        if hint.is_none_or(|hint| hint == category) {
            return Ok(plate);
        }
        fallback.get_or_insert(plate);
    }
    match (fallback, first_error) {
        (Some(plate), _) => Ok(plate),
        (None, Some(e)) => Err(e),
        (None, None) => Err(shape()),
    }
}

/// A foreign plate: province, three-digit country code, a foreign series (`NG`, `QT`, `NN`,
/// `CV`), two-digit order — or the series first, as older plates have it. `None` when the
/// characters do not have either shape.
fn foreign_plate(
    chars: &[char],
    hint: Option<PlateCategory>,
    rules: &series::SeriesRules,
) -> Result<Option<Plate>, PlateError> {
    let digits = |r: std::ops::Range<usize>| chars[r].iter().all(char::is_ascii_digit);
    let foreign = |r: std::ops::Range<usize>| {
        let code: String = chars[r].iter().collect();
        rules.special(&code).filter(|s| s.foreign)
    };
    if chars.len() != 9 || !digits(0..2) {
        return Ok(None);
    }
    let (form, series_at, country) = if digits(2..5) && foreign(5..7).is_some() && digits(7..9) {
        (ForeignForm::CountryFirst, 5..7, 2..5)
    } else if foreign(2..4).is_some() && digits(4..9) {
        (ForeignForm::SeriesFirst, 2..4, 4..7)
    } else {
        return Ok(None);
    };
    let code = (chars[0] as u8 - b'0') * 10 + (chars[1] as u8 - b'0');
    if !province::is_known(code) {
        return Err(PlateError::UnknownProvince(code));
    }
    let order: String = chars[chars.len() - 2..].iter().collect();
    if order == "00" {
        return Err(PlateError::BadSerial(order));
    }
    let special = foreign(series_at.clone()).map(|s| s.vehicle);
    Ok(Some(Plate {
        province: Some(code),
        series: chars[series_at].iter().collect(),
        serial: chars[country]
            .iter()
            .chain(order.chars().collect::<Vec<_>>().iter())
            .collect(),
        category: hint
            .filter(|h| *h != PlateCategory::Military)
            .or(special)
            .unwrap_or(PlateCategory::Car),
        foreign: Some(form),
    }))
}

/// The category a series implies, or an error when it breaks the series rules.
fn series_category(
    series: &[char],
    hint: Option<PlateCategory>,
    old_serial: bool,
    rules: &series::SeriesRules,
) -> Result<PlateCategory, PlateError> {
    let bad = || PlateError::BadSeries(series.iter().collect());
    let letter = |c: char| rules.is_series_letter(c);
    let special = |a: char, b: char| rules.special(&[a, b].iter().collect::<String>());
    match *series {
        // One letter: a car (R: a trailer).
        [a] if letter(a) || a == rules.trailer_letter => Ok(PlateCategory::Car),
        // Letter and digit: a motorbike; `R` and a digit only on the older plates with a
        // four-digit serial (the trailer letter is a car series on its own).
        [a, d] if letter(a) && d.is_ascii_digit() && d != '0' => Ok(PlateCategory::Motorbike),
        [a, d] if a == rules.trailer_letter && d.is_ascii_digit() && d != '0' && old_serial => {
            Ok(PlateCategory::Motorbike)
        }
        // Two letters: a special series, or a motorbike two-letter series.
        [a, b] => match special(a, b) {
            Some(s) => Ok(hint.unwrap_or(s.vehicle)),
            None if letter(a) && letter(b) => Ok(PlateCategory::Motorbike),
            None => Err(bad()),
        },
        // A special series with a digit: a motorbike (`MĐ1`).
        [a, b, d] if special(a, b).is_some() && d.is_ascii_digit() && d != '0' => {
            Ok(PlateCategory::Motorbike)
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests;
