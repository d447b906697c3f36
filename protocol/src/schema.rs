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

/// The schema of message `M` as it travels: its fields plus the schema tag and, when `signed`,
/// the signature.
pub fn message_schema<M: Message + JsonSchema>(signed: bool) -> Value {
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
                        "description": "Ed25519 by the device key over the canonical JSON (RFC 8785) of every other field."
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

/// Every schema document: file name and pretty-printed JSON (with a final newline).
pub fn all() -> Vec<(String, String)> {
    fn doc<M: Message + JsonSchema>(name: &str, signed: bool) -> (String, String) {
        let text = serde_json::to_string_pretty(&message_schema::<M>(signed))
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        (format!("{name}.v{}.schema.json", M::VERSION), text + "\n")
    }
    vec![
        doc::<ViolationEvent>("violation", true),
        doc::<Ack>("ack", false),
        doc::<DeviceStatus>("device_status", false),
        doc::<SignalPhase>("signal_phase", false),
        doc::<crate::device_config::DeviceConfig>("device_config", false),
        doc::<crate::notice::ViolationNotice>("violation_notice", false),
        doc::<crate::notice::PenaltyDecision>("penalty_decision", false),
        doc::<crate::notice::FineUpdate>("fine_update", false),
        doc::<crate::notice::FineResolution>("fine_resolution", false),
    ]
}
