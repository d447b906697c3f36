use super::*;

#[track_caller]
fn parsed(text: &str) -> Plate {
    Plate::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn car_plates() {
    let p = parsed("51F-123.45");
    assert_eq!(p.canonical(), "51F12345");
    assert_eq!(p.display(), "51F-123.45");
    assert_eq!(p.category(), PlateCategory::Car);
    assert_eq!(p.lines(PlateLayout::TwoLine), ["51F", "123.45"]);
    assert_eq!(p.province().unwrap().name, "Thành phố Hồ Chí Minh");
    assert_eq!(parsed("51f12345"), p);
    assert_eq!(parsed("51F-1234").display(), "51F-1234");
    assert!(parsed("51R-012.34").is_trailer());
}

#[test]
fn motorbike_plates() {
    let p = parsed("59-X1 123.45");
    assert_eq!(p.canonical(), "59X112345");
    assert_eq!(p.display(), "59-X1 123.45");
    assert_eq!(p.category(), PlateCategory::Motorbike);
    assert_eq!(p.lines(PlateLayout::TwoLine), ["59-X1", "123.45"]);
    assert_eq!(p.layouts(), [PlateLayout::TwoLine]);
    assert_eq!(parsed("59X112345"), p);
    assert_eq!(parsed("59-x1\n123.45"), p);
    assert_eq!(parsed("29-B1 1234").display(), "29-B1 1234");
    assert_eq!(parsed("29-AA 123.45").category(), PlateCategory::Motorbike);
    assert_eq!(parsed("29-MĐ1 123.45").display(), "29-MĐ1 123.45");
    assert_eq!(parsed("29-mđ1 123.45").canonical(), "29MĐ112345");
}

#[test]
fn special_series_take_their_category_from_the_form() {
    let car = parsed("51LD-123.45");
    assert_eq!(car.category(), PlateCategory::Car);
    assert_eq!(car.display(), "51LD-123.45");
    assert_eq!(parsed("51LD12345").category(), PlateCategory::Car);
    let bike = parsed("51-LD 123.45");
    assert_eq!(bike.category(), PlateCategory::Motorbike);
    assert_eq!(bike.canonical(), car.canonical());
    assert_ne!(bike, car);
    assert_eq!(
        parsed("80LD-123.45").special_series().unwrap().code,
        "LD".to_string()
    );
}

#[test]
fn foreign_plates_in_both_orders() {
    let p = parsed("29-636-NG-11");
    assert_eq!(p.canonical(), "29636NG11");
    assert_eq!(p.display(), "29-636-NG-11");
    assert_eq!(p.foreign_form(), Some(ForeignForm::CountryFirst));
    assert_eq!(p.required_colour(), Some(PlateColour::WhiteRedText));
    assert_eq!(p.category(), PlateCategory::Car);
    assert_eq!(parsed("29636NG11"), p);
    assert_eq!(p.lines(PlateLayout::TwoLine), ["29-636", "NG-11"]);
    let old = parsed("29-NG-636-11");
    assert_eq!(old.canonical(), "29NG63611");
    assert_eq!(old.display(), "29-NG-636-11");
    assert_eq!(old.foreign_form(), Some(ForeignForm::SeriesFirst));
    assert_ne!(old, p, "the two forms are different plates");
    for series in ["QT", "NN", "CV"] {
        let text = format!("80-123-{series}-45");
        assert_eq!(parsed(&text).display(), text);
    }
    assert_eq!(
        Plate::parse("29-636-NG-00"),
        Err(PlateError::BadSerial("00".into()))
    );
    assert_eq!(
        Plate::parse("10-636-NG-11"),
        Err(PlateError::UnknownProvince(10))
    );
    // A special series that is not foreign keeps the car shape.
    assert_eq!(parsed("29LD63611").display(), "29LD-636.11");
}

#[test]
fn older_motorbike_plates_with_an_r_series() {
    // The form says motorbike: `R1` over four digits.
    let p = parsed("59-R1 2345");
    assert_eq!(p.category(), PlateCategory::Motorbike);
    assert_eq!(p.display(), "59-R1 2345");
    assert!(!p.is_trailer());
    assert_eq!(Plate::parse_as("59R12345", PlateCategory::Motorbike), Ok(p));
    // The same characters without a form: the trailer's five-digit reading.
    let trailer = parsed("59R12345");
    assert!(trailer.is_trailer());
    assert_eq!(trailer.display(), "59R-123.45");
    // `R` and a digit never has five digits after it.
    assert!(Plate::parse_as("59R112345", PlateCategory::Motorbike).is_err());
}

#[test]
fn series_added_to_the_table() {
    assert_eq!(parsed("29CD-123.45").special_series().unwrap().code, "CD");
    assert!(
        parsed("29TĐ-123.45")
            .special_series()
            .unwrap()
            .meaning
            .contains("thí điểm")
    );
    assert_eq!(parsed("CV-12-34").category(), PlateCategory::Military);
    assert_eq!(parsed("VA-12-34").category(), PlateCategory::Military);
}

#[test]
fn military_plates() {
    let p = parsed("KA-12-34");
    assert_eq!(p.category(), PlateCategory::Military);
    assert_eq!(p.canonical(), "KA1234");
    assert_eq!(p.display(), "KA-12-34");
    assert_eq!(p.province(), None);
    assert_eq!(p.required_colour(), Some(PlateColour::Red));
}

#[test]
fn refusals_name_the_problem() {
    use PlateError::*;
    assert_eq!(Plate::parse("  "), Err(Empty));
    assert!(matches!(Plate::parse("51F-123.4$"), Err(BadCharacter(_))));
    assert!(matches!(Plate::parse("ABC"), Err(UnknownShape(_))));
    assert_eq!(Plate::parse("10F-123.45"), Err(UnknownProvince(10)));
    assert_eq!(Plate::parse("51I-123.45"), Err(BadSeries("I".into())));
    assert_eq!(Plate::parse("51O-123.45"), Err(BadSeries("O".into())));
    assert_eq!(Plate::parse("51-W1 123.45"), Err(BadSeries("W1".into())));
    assert_eq!(Plate::parse("51-X0 123.45"), Err(BadSeries("X0".into())));
    assert_eq!(Plate::parse("51F-000.00"), Err(BadSerial("00000".into())));
    assert!(matches!(Plate::parse("51F-123"), Err(UnknownShape(_))));
    assert!(matches!(
        Plate::parse_as("59-X1 123.45", PlateCategory::Car),
        Err(WrongCategory { .. })
    ));
    assert!(matches!(Plate::parse("ZZ-12-34"), Err(BadSeries(_))));
}

#[test]
fn merged_province_codes_keep_their_history() {
    use time::macros::date;
    let p = parsed("72A-123.45");
    assert_eq!(
        p.province_on(date!(2024 - 12 - 31)).unwrap().name,
        "Bà Rịa - Vũng Tàu"
    );
    assert_eq!(p.province().unwrap().name, "Thành phố Hồ Chí Minh");
}
