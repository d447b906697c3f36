//! Statistics for the operations centre: counts grouped by the database on both engines, by
//! Vietnamese day and hour, kind, camera and status; the JSON, the CSV export and the page.

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use central_api::auth::Role;
use protocol::{EventId, UtcTimestamp, ViolationEvent, ViolationKind};
use serde_json::Value;
use tower::ServiceExt;

use crate::{
    helpers::{TestDb, on_both_engines},
    review::{World, world},
};

/// A violation of `kind` at `at` (UTC), pending review.
async fn at(w: &World, kind: ViolationKind, at: &str) {
    let mut event = ViolationEvent::example(w.device.clone(), EventId::new());
    event.kind = kind;
    if kind == ViolationKind::Speeding {
        event.measurement.speed_kmh = Some(72.0);
        event.measurement.limit_kmh = Some(50.0);
    }
    event.occurred_at = UtcTimestamp::parse(at).unwrap();
    w.pending_event(event).await;
}

async fn body(w: &World, token: &str, uri: &str) -> (StatusCode, String, String) {
    let response = w
        .app
        .clone()
        .oneshot(
            Request::get(uri)
                .header(header::COOKIE, format!("tve_session={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let ct = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, ct, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn counts_by_day_hour_kind_and_camera(t: &TestDb) {
    let w = world(t).await;
    // 23:30 UTC on the 25th is 06:30 on the 26th in Hồ Chí Minh City.
    at(&w, ViolationKind::RedLight, "2025-11-25T23:30:00.000Z").await;
    at(&w, ViolationKind::RedLight, "2025-11-26T00:10:00.000Z").await;
    at(&w, ViolationKind::Speeding, "2025-11-26T10:00:00.500Z").await;
    // 16:59:59 UTC on the 27th is the last second of the 27th there; 17:00 is the 28th.
    at(&w, ViolationKind::WrongWay, "2025-11-27T16:59:59.999Z").await;
    at(&w, ViolationKind::WrongWay, "2025-11-27T17:00:00.000Z").await;
    let auditor = w.sign_in(Role::Auditor).await;

    let (status, _, json) = body(
        &w,
        &auditor.token,
        "/api/v1/stats?from=2025-11-26&to=2025-11-27",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let s: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(s["total"], 4);
    assert_eq!(
        s["by_day"][0],
        serde_json::json!({ "day": "2025-11-26", "count": 3 })
    );
    assert_eq!(
        s["by_day"][1],
        serde_json::json!({ "day": "2025-11-27", "count": 1 })
    );
    assert_eq!(s["by_hour"][6], 1);
    assert_eq!(s["by_hour"][7], 1);
    assert_eq!(s["by_hour"][17], 1);
    assert_eq!(s["by_hour"][23], 1);
    assert_eq!(
        s["by_kind"][0],
        serde_json::json!({ "kind": "red_light", "count": 2 })
    );
    assert_eq!(s["by_status"]["pending_review"], 4);
    assert_eq!(s["by_camera"][0]["camera_id"], "north");
    assert_eq!(s["by_camera"][0]["total"], 4);

    // The queue's day filters count the same Vietnamese days.
    let (_, _, queue) = body(
        &w,
        &auditor.token,
        "/api/v1/violations?status=all&from=2025-11-26&to=2025-11-26",
    )
    .await;
    let queue: Value = serde_json::from_str(&queue).unwrap();
    assert_eq!(queue["total"], 3, "{queue}");

    let (status, ct, csv) = body(
        &w,
        &auditor.token,
        "/api/v1/stats.csv?from=2025-11-26&to=2025-11-27",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, "text/csv; charset=utf-8");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "hour_local,device_id,device_name,camera_id,kind,status,count"
    );
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[1].starts_with("2025-11-26 06,hcm-q1-001,"), "{csv}");
    assert!(
        lines[1].ends_with(",north,red_light,pending_review,1"),
        "{csv}"
    );
    assert!(lines[4].starts_with("2025-11-27 23,"), "{csv}");

    let (status, _, _) = body(
        &w,
        &auditor.token,
        "/api/v1/stats?from=2025-11-27&to=2025-11-26",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, ct, page) = body(
        &w,
        &auditor.token,
        "/review/stats?from=2025-11-26&to=2025-11-27",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/html"));
    assert!(page.contains("id=\"total\">4<"), "{page}");
    assert!(page.contains("<svg"));
    assert!(page.contains("<title>26: 3</title>"), "{page}");
    assert!(page.contains("Vượt đèn đỏ"));
    assert!(page.contains("/api/v1/stats.csv?from=2025-11-26&amp;to=2025-11-27"));
}

on_both_engines!(counts_by_day_hour_kind_and_camera);
