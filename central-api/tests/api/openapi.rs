//! The OpenAPI document: served without sign-in, every operation it describes is a route the
//! service answers, every reference resolves, and the wire messages are protocol's schemas.

use std::collections::BTreeSet;

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use protocol::{EventId, Sha256Digest};
use serde_json::Value;
use tower::ServiceExt;

use crate::{
    helpers::{TestDb, on_both_engines},
    review::world,
};

fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r);
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

async fn the_document_describes_the_api_as_served(t: &TestDb) {
    let w = world(t).await;
    let response = w
        .app
        .clone()
        .oneshot(
            Request::get("/api/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(doc["info"]["title"], "central-api");

    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations.insert(format!("{} {path}", method.to_uppercase()));
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path}: no tag"
            );
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|code| code.starts_with('2')),
                "{method} {path}: no success response"
            );
            // The route is there: whatever the handler answers, the router does not refuse it.
            let uri = path
                .replace("{id}", &EventId::new().to_string())
                .replace("{sha256}", &Sha256Digest::of(b"x").to_hex());
            let request = Request::builder()
                .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
                .uri(uri)
                .body(Body::empty())
                .unwrap();
            let response = w.app.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(
                !(status == StatusCode::NOT_FOUND && body.is_empty()),
                "{method} {path} is described but not routed"
            );
        }
    }
    let expected = [
        "DELETE /api/v1/devices/{id}",
        "DELETE /api/v1/officers/{username}",
        "DELETE /api/v1/session",
        "DELETE /api/v1/violations/{id}/legal-hold",
        "GET /api/v1/devices/{id}/cameras",
        "GET /api/v1/fine-schedule",
        "GET /api/v1/officers",
        "POST /api/v1/devices",
        "POST /api/v1/fine-schedule",
        "POST /api/v1/officers",
        "POST /api/v1/officers/{username}/unlock",
        "GET /api/v1/audit/verify",
        "GET /api/v1/citizens/{citizen_id}/licence-points",
        "GET /api/v1/corrections",
        "POST /api/v1/corrections",
        "POST /api/v1/corrections/{id}/acknowledge",
        "POST /api/v1/corrections/{id}/answer",
        "POST /api/v1/corrections/{id}/extend",
        "GET /api/v1/devices",
        "GET /api/v1/disputes",
        "GET /api/v1/requests",
        "POST /api/v1/requests/{id}/confirm",
        "POST /api/v1/requests/{id}/refuse",
        "GET /api/v1/stats",
        "GET /api/v1/stats.csv",
        "GET /api/v1/violations",
        "GET /api/v1/violations/{id}",
        "GET /api/v1/violations/{id}/notice.pdf",
        "GET /evidence/{sha256}",
        "POST /api/v1/fine-updates",
        "POST /api/v1/session",
        "POST /api/v1/violations/{id}/approve",
        "POST /api/v1/violations/{id}/decision",
        "POST /api/v1/violations/{id}/plate",
        "POST /api/v1/violations/{id}/reject",
        "POST /api/v1/violations/{id}/resolve",
        "POST /api/v1/violations/{id}/reverse",
        "PUT /api/v1/answer-documents/{sha256}",
        "PUT /api/v1/devices/{id}/cameras/{camera}",
        "PUT /api/v1/evidence/{sha256}",
        "PUT /api/v1/violations/{id}/legal-hold",
    ];
    assert_eq!(operations, expected.iter().map(|s| s.to_string()).collect());

    // Every reference resolves inside the document.
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 20);
    for r in found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r} points outside the components"));
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{r} does not resolve"
        );
    }
    // The wire messages are protocol's own schemas.
    let event = &doc["components"]["schemas"]["ViolationEvent"];
    assert!(
        event["required"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "signature")
    );
    assert!(doc["components"]["schemas"]["EvidenceItem"].is_object());
    assert!(doc["components"]["securitySchemes"]["device"].is_object());
}

on_both_engines!(the_document_describes_the_api_as_served);
