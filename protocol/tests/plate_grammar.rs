//! The plate grammar, by property and by example: every plate the grammar can describe
//! round-trips between its canonical and display forms; what breaks a rule is refused with
//! the rule it broke; real plates of every shape parse to what they mean.

use proptest::prelude::*;
use protocol::{
    Plate, PlateCategory, PlateError,
    plate::{province, series},
};

fn province_code() -> impl Strategy<Value = u8> {
    let codes: Vec<u8> = (0..=99u8).filter(|c| province::is_known(*c)).collect();
    proptest::sample::select(codes)
}

fn unknown_code() -> impl Strategy<Value = u8> {
    let codes: Vec<u8> = (0..=99u8).filter(|c| !province::is_known(*c)).collect();
    proptest::sample::select(codes)
}

fn series_letter() -> impl Strategy<Value = char> {
    proptest::sample::select(series::rules().letters.chars().collect::<Vec<_>>())
}

fn serial() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9]{5}", "[0-9]{4}"].prop_filter("not all zero", |s| s.chars().any(|c| c != '0'))
}

/// Any plate the grammar describes: (province, series, serial, category).
fn valid_plate() -> impl Strategy<Value = (Option<u8>, String, String, PlateCategory)> {
    let car = (province_code(), series_letter(), serial())
        .prop_map(|(p, l, s)| (Some(p), l.to_string(), s, PlateCategory::Car));
    let bike_digit = (province_code(), series_letter(), 1..=9u8, serial())
        .prop_map(|(p, l, d, s)| (Some(p), format!("{l}{d}"), s, PlateCategory::Motorbike));
    let bike_letters = (province_code(), series_letter(), series_letter(), serial())
        .prop_filter("not a special series", |(_, a, b, _)| {
            series::rules().special(&format!("{a}{b}")).is_none()
        })
        .prop_map(|(p, a, b, s)| (Some(p), format!("{a}{b}"), s, PlateCategory::Motorbike));
    let military = (
        proptest::sample::select(
            series::rules()
                .military
                .first_letters
                .chars()
                .collect::<Vec<_>>(),
        ),
        series_letter(),
        "[0-9]{4}".prop_filter("not all zero", |s| s != "0000"),
    )
        .prop_map(|(a, b, s)| (None, format!("{a}{b}"), s, PlateCategory::Military));
    prop_oneof![car, bike_digit, bike_letters, military]
}

proptest! {
    #[test]
    fn every_valid_plate_round_trips((province, series, serial, category) in valid_plate()) {
        let plate = Plate::from_parts(province, &series, &serial, category).expect("a valid plate");
        let display = plate.display();
        let canonical = plate.canonical();
        prop_assert_eq!(Plate::parse(&display).expect("display parses"), plate.clone());
        prop_assert_eq!(Plate::parse(&display).expect("display parses").display(), display.clone());
        prop_assert_eq!(Plate::parse_as(&canonical, category).expect("canonical parses"), plate.clone());
        prop_assert!(canonical.chars().all(|c| c.is_ascii_alphanumeric() || c == 'Đ'));
        // Case and separators are forgiven.
        prop_assert_eq!(Plate::parse(&display.to_lowercase()).expect("lower case parses"), plate);
    }

    #[test]
    fn unknown_provinces_are_refused(code in unknown_code(), letter in series_letter(), serial in serial()) {
        let text = format!("{code:02}{letter}-{serial}");
        prop_assert_eq!(Plate::parse(&text), Err(PlateError::UnknownProvince(code)));
    }

    #[test]
    fn letters_no_series_uses_are_refused(code in province_code(), bad in proptest::sample::select(vec!['I', 'J', 'O', 'Q', 'W']), serial in serial()) {
        let text = format!("{code:02}{bad}-{serial}");
        prop_assert!(matches!(Plate::parse(&text), Err(PlateError::BadSeries(_))), "{}", text);
    }

    #[test]
    fn serials_too_short_or_too_long_are_refused(code in province_code(), letter in series_letter(), serial in prop_oneof!["[1-9]{1,3}", "[1-9]{8,9}"]) {
        let text = format!("{code:02}{letter}-{serial}");
        prop_assert!(Plate::parse(&text).is_err(), "{}", text);
    }
}

#[test]
fn real_plates_parse_to_what_they_mean() {
    // (as written, category, canonical, display, province holding the code today)
    let table: &[(&str, PlateCategory, &str, &str, Option<&str>)] = &[
        (
            "51F-123.45",
            PlateCategory::Car,
            "51F12345",
            "51F-123.45",
            Some("Thành phố Hồ Chí Minh"),
        ),
        (
            "51F-1234",
            PlateCategory::Car,
            "51F1234",
            "51F-1234",
            Some("Thành phố Hồ Chí Minh"),
        ),
        (
            "30A 999.99",
            PlateCategory::Car,
            "30A99999",
            "30A-999.99",
            Some("Hà Nội"),
        ),
        (
            "43A-456.78",
            PlateCategory::Car,
            "43A45678",
            "43A-456.78",
            None,
        ),
        (
            "72A-123.45",
            PlateCategory::Car,
            "72A12345",
            "72A-123.45",
            Some("Thành phố Hồ Chí Minh"),
        ),
        (
            "59-X1 234.56",
            PlateCategory::Motorbike,
            "59X123456",
            "59-X1 234.56",
            Some("Thành phố Hồ Chí Minh"),
        ),
        (
            "29-B1 1234",
            PlateCategory::Motorbike,
            "29B11234",
            "29-B1 1234",
            Some("Hà Nội"),
        ),
        (
            "29-AA 123.45",
            PlateCategory::Motorbike,
            "29AA12345",
            "29-AA 123.45",
            Some("Hà Nội"),
        ),
        (
            "29-MĐ1 123.45",
            PlateCategory::Motorbike,
            "29MĐ112345",
            "29-MĐ1 123.45",
            Some("Hà Nội"),
        ),
        (
            "51LD-012.34",
            PlateCategory::Car,
            "51LD01234",
            "51LD-012.34",
            Some("Thành phố Hồ Chí Minh"),
        ),
        (
            "80-NG-123-45",
            PlateCategory::Car,
            "80NG12345",
            "80-NG-123-45",
            None,
        ),
        (
            "29-636-NG-11",
            PlateCategory::Car,
            "29636NG11",
            "29-636-NG-11",
            Some("Hà Nội"),
        ),
        (
            "59-R1 2345",
            PlateCategory::Motorbike,
            "59R12345",
            "59-R1 2345",
            Some("Thành phố Hồ Chí Minh"),
        ),
        (
            "51R-012.34",
            PlateCategory::Car,
            "51R01234",
            "51R-012.34",
            Some("Thành phố Hồ Chí Minh"),
        ),
        (
            "KA-12-34",
            PlateCategory::Military,
            "KA1234",
            "KA-12-34",
            None,
        ),
    ];
    for (text, category, canonical, display, province) in table {
        let p = Plate::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(p.category(), *category, "{text}");
        assert_eq!(p.canonical(), *canonical, "{text}");
        assert_eq!(p.display(), *display, "{text}");
        if let Some(name) = province {
            assert_eq!(p.province().map(|p| p.name.as_str()), Some(*name), "{text}");
        }
    }
}
