//! Any text an OCR engine or an officer could type: parsing never panics, and what it accepts
//! prints in a form that parses back to the same plate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::Plate;

fuzz_target!(|text: &str| {
    if let Ok(plate) = Plate::parse(text) {
        assert_eq!(Plate::parse(&plate.display()).as_ref(), Ok(&plate));
    }
});
