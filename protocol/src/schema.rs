//! JSON Schema documents of every wire message, generated from the types.
//!
//! The committed copies under `protocol/schema/` are what other implementations read; a test
//! fails when they are stale. Regenerate with `make schema`.

use schemars::JsonSchema;
use serde_json::{Value, json};

use crate::{
    event::ViolationEvent,
    messages::{Ack, DeviceStatus, SignalPhase},
    wire::{Message, SCHEMA_FIELD, SIGNATURE_FIELD, VERSION_FIELD},
};

/// The schema of message `M` as it travels: its fields plus the schema tag and, when it is
/// signed, the signature, by `signer` (whose key: "the device's key", "central's control key").
pub fn message_schema<M: Message + JsonSchema>(signer: Option<&str>) -> Value {
    let signed = signer.is_some();
    let mut schema = schemars::schema_for!(M).to_value();
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "$id".into(),
            Value::from(format!("urn:tve:schema:{}:v{}", M::SCHEMA, M::VERSION)),
        );
        if let Some(Value::Object(properties)) = object.get_mut("properties") {
            properties.insert(
                SCHEMA_FIELD.into(),
                json!({ "const": M::SCHEMA, "description": "The schema id." }),
            );
            properties.insert(
                VERSION_FIELD.into(),
                json!({ "const": M::VERSION, "description": "The schema version." }),
            );
            if signed {
                properties.insert(
                    SIGNATURE_FIELD.into(),
                    json!({
                        "$ref": "#/$defs/Signature",
                        "description": format!(
                            "Ed25519 by {} over the canonical JSON (RFC 8785) of every other field.",
                            signer.unwrap_or_default()
                        )
                    }),
                );
            }
        }
        if signed {
            let defs = object
                .entry("$defs")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Value::Object(defs) = defs {
                let mut generator = schemars::SchemaGenerator::default();
                defs.insert(
                    "Signature".into(),
                    crate::signing::Signature::json_schema(&mut generator).to_value(),
                );
            }
        }
        if let Some(Value::Array(required)) = object.get_mut("required") {
            required.push(Value::from(SCHEMA_FIELD));
            required.push(Value::from(VERSION_FIELD));
            if signed {
                required.push(Value::from(SIGNATURE_FIELD));
            }
            required.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
    schema
}

/// Who signs what, as the schema documents say it.
pub const DEVICE: &str = "the device's key";
pub const CENTRAL: &str = "central's control key, which the device pins (`central.control_keys`)";
pub const CONTROLLER: &str =
    "the signal controller's key, which the camera's configuration names (`signal.controller_key`)";

/// Every schema document: file name and pretty-printed JSON (with a final newline).
pub fn all() -> Vec<(String, String)> {
    fn doc<M: Message + JsonSchema>(name: &str, signer: Option<&str>) -> (String, String) {
        let text = serde_json::to_string_pretty(&message_schema::<M>(signer))
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        (format!("{name}.v{}.schema.json", M::VERSION), text + "\n")
    }
    vec![
        doc::<ViolationEvent>("violation", Some(DEVICE)),
        doc::<Ack>("ack", Some(CENTRAL)),
        doc::<DeviceStatus>("device_status", Some(DEVICE)),
        doc::<SignalPhase>("signal_phase", Some(CONTROLLER)),
        doc::<crate::device_config::DeviceConfig>("device_config", Some(CENTRAL)),
        doc::<crate::snapshot::SnapshotRequest>("snapshot_request", Some(CENTRAL)),
        doc::<crate::snapshot::Snapshot>("snapshot", Some(DEVICE)),
        doc::<crate::notice::ViolationNotice>("violation_notice", None),
        doc::<crate::notice::PenaltyDecision>("penalty_decision", None),
        doc::<crate::notice::FineUpdate>("fine_update", None),
        doc::<crate::notice::FineResolution>("fine_resolution", None),
    ]
}
