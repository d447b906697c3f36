//! Any bytes one service could send another over HTTP about a case — a notice, a penalty
//! decision, an answer to an explanation (central → citizen-notify), a report on a fine
//! (citizen-notify → central): decoding never panics, and what it accepts encodes back to a
//! message that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::{FineResolution, FineUpdate, PenaltyDecision, ViolationNotice, wire};

fn round_trip<M: wire::Message + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(message) = wire::decode::<M>(data) {
        let again = wire::encode(&message).expect("an accepted message encodes");
        assert_eq!(wire::decode::<M>(&again).as_ref().ok(), Some(&message));
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<ViolationNotice>(data);
    round_trip::<PenaltyDecision>(data);
    round_trip::<FineResolution>(data);
    round_trip::<FineUpdate>(data);
});
