//! Property tests of the plate grammar: every plate the rules allow prints and parses back to
//! itself, in every form; no text makes the parser panic.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use proptest::prelude::*;
use protocol::plate::{self, Plate, PlateCategory, PlateLayout, province, series};

fn letters() -> Vec<char> {
    series::rules().letters.chars().collect()
}

fn province_code() -> impl Strategy<Value = u8> {
    let codes: Vec<u8> = (10..=99).filter(|&c| province::is_known(c)).collect();
    proptest::sample::select(codes)
}

fn serial() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u32..100_000).prop_map(|n| format!("{n:05}")),
        (1u32..10_000).prop_map(|n| format!("{n:04}")),
    ]
}

/// Series of each category, as the rules allow them.
fn series_of(category: PlateCategory) -> BoxedStrategy<String> {
    let l = letters();
    let specials: Vec<String> = series::rules()
        .special
        .iter()
        .map(|s| s.code.clone())
        .collect();
    match category {
        PlateCategory::Car => prop_oneof![
            proptest::sample::select(l).prop_map(String::from),
            Just("R".to_owned()),
            proptest::sample::select(specials),
        ]
        .boxed(),
        PlateCategory::Motorbike => prop_oneof![
            (proptest::sample::select(l.clone()), 1u8..=9).prop_map(|(c, d)| format!("{c}{d}")),
            (
                proptest::sample::select(l.clone()),
                proptest::sample::select(l)
            )
                .prop_map(|(a, b)| format!("{a}{b}")),
            (proptest::sample::select(specials), 1u8..=9).prop_map(|(s, d)| format!("{s}{d}")),
        ]
        .boxed(),
        PlateCategory::Military => {
            let first: Vec<char> = series::rules().military.first_letters.chars().collect();
            (proptest::sample::select(first), proptest::sample::select(l))
                .prop_map(|(a, b)| format!("{a}{b}"))
                .boxed()
        }
    }
}

fn any_plate() -> impl Strategy<Value = Plate> {
    let civil = (
        prop_oneof![Just(PlateCategory::Car), Just(PlateCategory::Motorbike)],
        province_code(),
    )
        .prop_flat_map(|(category, code)| {
            (series_of(category), serial()).prop_map(move |(series, serial)| {
                Plate::from_parts(Some(code), &series, &serial, category)
                    .unwrap_or_else(|e| panic!("{code} {series} {serial} {category:?}: {e}"))
            })
        });
    let military = (series_of(PlateCategory::Military), 1u32..10_000).prop_map(|(series, n)| {
        Plate::from_parts(None, &series, &format!("{n:04}"), PlateCategory::Military).unwrap()
    });
    prop_oneof![4 => civil, 1 => military]
}

proptest! {
    #[test]
    fn display_parses_back_to_the_same_plate(plate in any_plate()) {
        prop_assert_eq!(Plate::parse(&plate.display()).unwrap(), plate.clone());
        prop_assert_eq!(Plate::parse(&plate.display().to_lowercase()).unwrap(), plate);
    }

    #[test]
    fn canonical_text_keeps_the_characters(plate in any_plate()) {
        let canonical = plate.canonical();
        prop_assert!(canonical.chars().all(|c| c.is_ascii_alphanumeric() || c == 'Đ'));
        prop_assert!(canonical.chars().count() <= plate::MAX_PLATE_CHARS);
        let again = Plate::parse_as(&canonical, plate.category()).unwrap();
        prop_assert_eq!(again.canonical(), canonical);
    }

    #[test]
    fn two_line_form_parses_back(plate in any_plate()) {
        for &layout in plate.layouts() {
            let lines = plate.lines(layout);
            prop_assert_eq!(lines.len(), if layout == PlateLayout::OneLine { 1 } else { 2 });
            let joined = lines.join("\n");
            let parsed = Plate::parse_as(&joined, plate.category()).unwrap();
            prop_assert_eq!(parsed, plate.clone());
        }
    }

    #[test]
    fn current_province_holds_the_code(plate in any_plate()) {
        if let Some(code) = plate.province_code() {
            let holder = plate.province().unwrap();
            prop_assert!(holder.codes.contains(&code) && holder.is_current());
        }
    }

    #[test]
    fn no_text_makes_the_parser_panic(text in "\\PC{0,24}") {
        let _ = Plate::parse(&text);
    }

    #[test]
    fn plate_like_noise_never_panics(text in "[0-9A-ZĐđ .\\-\n]{0,16}") {
        if let Ok(plate) = Plate::parse(&text) {
            // Whatever is accepted prints in a form that is accepted again.
            prop_assert_eq!(Plate::parse(&plate.display()).unwrap(), plate);
        }
    }
}
