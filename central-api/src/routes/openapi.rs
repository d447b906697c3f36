//! The OpenAPI 3.1 document of the JSON API, served at `/api/openapi.json`. The operations come
//! from the handlers' own annotations (each route is registered and described in one place, see
//! [`super::api`]); the wire messages (`ViolationEvent`, `ViolationNotice`, `PenaltyDecision`, `FineUpdate`) are the JSON
//! Schemas `protocol` generates, so the document cannot drift from the types.

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::{OpenApi, ToSchema};

/// The body of every error: a stable code and a message for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// `bad_request`, `unauthenticated`, `forbidden`, `csrf`, `not_found`, `not_pending`,
    /// `no_owner`, `no_fine`, `registry`, `bad_signature`, … or `internal`.
    pub error: String,
    pub message: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "central-api",
        description = "Violation ingest, evidence, the police review queue, fines and statistics.",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "session", description = "Officers' sign-in"),
        (name = "review", description = "The review queue and the decisions on it"),
        (name = "stats", description = "Counts for the operations centre"),
        (name = "devices", description = "The roadside devices and their health"),
        (name = "admin", description = "Officers and devices, for administrators"),
        (name = "evidence", description = "Evidence files from devices, and to citizens on signed links"),
        (name = "citizen-notify", description = "What citizen-notify reports of each fine"),
    ),
    components(schemas(ErrorBody))
)]
#[derive(Debug)]
pub struct ApiDoc;

/// The wire messages the operations carry, from `protocol`'s JSON Schemas.
fn wire_schemas() -> Vec<(&'static str, Value)> {
    use protocol::schema::message_schema;
    vec![
        (
            "ViolationEvent",
            message_schema::<protocol::ViolationEvent>(Some(protocol::schema::DEVICE)),
        ),
        (
            "ViolationNotice",
            message_schema::<protocol::ViolationNotice>(None),
        ),
        (
            "PenaltyDecision",
            message_schema::<protocol::PenaltyDecision>(None),
        ),
        ("FineUpdate", message_schema::<protocol::FineUpdate>(None)),
        (
            "FineResolution",
            message_schema::<protocol::FineResolution>(None),
        ),
    ]
}

/// Points `$ref`s to a schema's own `$defs` at the document's components instead.
fn rebase(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some(name) = r.strip_prefix("#/$defs/")
            {
                *r = format!("#/components/schemas/{name}");
            }
            map.values_mut().for_each(rebase);
        }
        Value::Array(items) => items.iter_mut().for_each(rebase),
        _ => {}
    }
}

/// The finished document: the annotated operations, the wire messages' schemas, and how each
/// caller authenticates.
pub fn document(api: utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(&api).unwrap_or_else(|_| json!({}));
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    let components = doc
        .as_object_mut()
        .map(|d| d.entry("components").or_insert_with(|| json!({})));
    let Some(Value::Object(components)) = components else {
        return doc;
    };
    let schemas = components
        .entry("schemas")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(schemas) = schemas {
        for (name, mut schema) in wire_schemas() {
            if let Value::Object(s) = &mut schema {
                s.remove("$schema");
                s.remove("$id");
                if let Some(Value::Object(defs)) = s.remove("$defs") {
                    for (def, mut body) in defs {
                        rebase(&mut body);
                        schemas.entry(def).or_insert(body);
                    }
                }
            }
            rebase(&mut schema);
            schemas.insert(name.into(), schema);
        }
    }
    components.insert(
        "securitySchemes".into(),
        json!({
            "session": {
                "type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE,
                "description": "The officer's session from POST /api/v1/session; requests that change something also send the session's CSRF token in x-csrf-token."
            },
            "bearer": {
                "type": "http", "scheme": "bearer",
                "description": "The session token from POST /api/v1/session, for API clients."
            },
            "device": {
                "type": "apiKey", "in": "header", "name": protocol::evidence::SIGNATURE_HEADER,
                "description": "Ed25519 by the device key over the file's SHA-256, the device id and the time (x-tve-device, x-tve-timestamp)."
            },
            "service": {
                "type": "apiKey", "in": "header", "name": "x-tve-signature",
                "description": "HMAC-SHA256 over the time and the body with the secret central and citizen-notify share (t=…,v1=…)."
            }
        }),
    );
    doc
}

/// A `$ref` to a wire message's schema, for the operations that carry one.
pub fn wire_ref(name: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::Ref::from_schema_name(name).into()
}

/// Stands for a wire message in the annotations: a reference to its schema, which [`document`]
/// fills in from `protocol`.
macro_rules! wire_type {
    ($ty:ident, $name:literal) => {
        #[doc = concat!("The `", $name, "` wire message, as `protocol` defines it.")]
        #[derive(Debug)]
        pub struct $ty;

        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                wire_ref($name)
            }
        }

        impl ToSchema for $ty {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed($name)
            }
        }
    };
}

wire_type!(WireViolationEvent, "ViolationEvent");
wire_type!(WireViolationNotice, "ViolationNotice");
wire_type!(WirePenaltyDecision, "PenaltyDecision");
wire_type!(WireFineUpdate, "FineUpdate");
wire_type!(WireFineResolution, "FineResolution");
