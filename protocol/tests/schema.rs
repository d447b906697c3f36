//! The committed JSON Schema documents match the types. Run `make schema` after changing a type.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::Path;

#[test]
fn committed_schemas_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
    let mut stale = Vec::new();
    for (name, generated) in protocol::schema::all() {
        match std::fs::read_to_string(dir.join(&name)) {
            Ok(committed) if committed == generated => {}
            _ => stale.push(name),
        }
    }
    assert!(
        stale.is_empty(),
        "stale or missing schema files {stale:?} in protocol/schema: run `make schema` and commit"
    );
    let committed = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(
        committed,
        protocol::schema::all().len(),
        "protocol/schema holds extra files"
    );
}

#[test]
fn the_violation_schema_requires_the_envelope() {
    let schema = protocol::schema::message_schema::<protocol::ViolationEvent>(Some(
        protocol::schema::DEVICE,
    ));
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for field in [
        "schema",
        "schema_version",
        "signature",
        "event_id",
        "occurred_at",
        "evidence",
    ] {
        assert!(
            required.contains(&field),
            "{field} not required: {required:?}"
        );
    }
    assert_eq!(schema["properties"]["schema_version"]["const"], 1);
    assert_eq!(schema["additionalProperties"], false);
}
