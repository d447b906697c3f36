//! Prints a signed sample violation event as it travels on `tve/v1/{device}/violation`, and the
//! public key that verifies it: a reference for other implementations and a fuzzing seed.

use std::io::Write;

use protocol::{DeviceId, DeviceKey, EventId, ViolationEvent, wire};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = DeviceKey::from_seed([7; 32]);
    let device = DeviceId::parse("hcm-q1-001")?;
    let event = ViolationEvent::example(device, EventId::from_parts(1_764_146_096_250, [1; 10]));
    let bytes = wire::encode_signed(&event, &key)?;
    eprintln!("public key: {}", key.public_key());
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    out.write_all(b"\n")?;
    Ok(())
}
