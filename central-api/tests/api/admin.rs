//! Administration through the API: administrators save officers and register and revoke
//! devices, every change in the audit log; nobody else may, on any of these routes.

use axum::http::StatusCode;
use central_api::{
    auth::Role,
    ingest::{Ingest, IngestMetrics, Outcome},
};
use protocol::{DeviceId, DeviceKey, EventId, Topic, ViolationEvent, wire};
use serde_json::json;

use crate::{
    helpers::{TestDb, on_both_engines},
    review::{SECOND_ADMIN, confirmed_by, world},
};

async fn administrators_save_officers_and_register_and_revoke_devices(t: &TestDb) {
    let w = world(t).await;
    let admin = w.sign_in(Role::Admin).await;
    let second = w.sign_in_as(SECOND_ADMIN).await;

    // Every admin route refuses every other role.
    let key = DeviceKey::from_seed([77; 32]);
    let device = json!({
        "id": "hcm-q3-007",
        "public_key": key.public_key().to_base64(),
        "name": "Ngã sáu Phù Đổng",
    });
    let officer = json!({
        "username": "tuan.nv",
        "full_name": "Nguyễn Văn Tuấn",
        "role": "reviewer",
        "password": "một mật khẩu đủ dài",
    });
    for role in [Role::Reviewer, Role::Supervisor, Role::Auditor] {
        let s = w.sign_in(role).await;
        for request in [
            s.get("/api/v1/officers"),
            s.post("/api/v1/officers", officer.clone()),
            s.post("/api/v1/devices", device.clone()),
            s.send("DELETE", "/api/v1/devices/hcm-q1-001", json!({})),
        ] {
            let what = format!("{} {}", request.method(), request.uri());
            let (status, body) = w.call(request).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (StatusCode::FORBIDDEN, Some("forbidden")),
                "{role:?}: {what}"
            );
        }
    }

    // Officers: a bad field is named; a saved officer signs in.
    for (field, bad) in [
        ("username", json!({ "username": "Tuấn" })),
        ("role", json!({ "role": "chief" })),
        ("password", json!({ "password": "short" })),
        ("full_name", json!({ "full_name": " " })),
    ] {
        let mut body = officer.clone();
        for (k, v) in bad.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, reply) = w.call(admin.post("/api/v1/officers", body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
        assert!(
            reply["message"].as_str().unwrap().contains(field),
            "{reply}"
        );
    }
    let asked = w.call(admin.post("/api/v1/officers", officer)).await;
    assert_eq!(asked.1["change"]["password"], "set", "{}", asked.1);
    assert!(asked.1["change"].get("password_hash").is_none());
    let saved = confirmed_by(&w, &second, asked).await;
    assert_eq!(saved["role"], "reviewer");
    assert!(saved.get("password").is_none());
    let (status, session) = w
        .call(
            axum::http::Request::post("/api/v1/session")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    json!({ "username": "tuan.nv", "password": "một mật khẩu đủ dài" }).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let (_, list) = w.call(admin.get("/api/v1/officers")).await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["username"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"tuan.nv"), "{names:?}");

    // Devices: registered, its events taken; revoked, refused.
    let (status, reply) = w
        .call(admin.post(
            "/api/v1/devices",
            json!({ "id": "hcm-q3-007", "public_key": "not a key" }),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    let asked = w.call(admin.post("/api/v1/devices", device)).await;
    confirmed_by(&w, &second, asked).await;
    let id = DeviceId::parse("hcm-q3-007").unwrap();
    let ingest = Ingest::new(w.db.clone(), IngestMetrics::default());
    let send = async |ingest: &Ingest| {
        let event = ViolationEvent::example_now(id.clone(), EventId::new());
        ingest
            .handle(
                &Topic::Violation(id.clone()).to_string(),
                &wire::encode_signed(&event, &key).unwrap(),
            )
            .await
            .unwrap()
    };
    assert!(matches!(send(&ingest).await, Outcome::Stored(_)));
    let revoke = admin.send("DELETE", "/api/v1/devices/hcm-q3-007", json!({}));
    assert_eq!(w.call(revoke).await.0, StatusCode::NO_CONTENT);
    assert!(
        matches!(send(&ingest).await, Outcome::Refused { .. }),
        "a revoked device is not heard"
    );
    let again = admin.send("DELETE", "/api/v1/devices/hcm-q3-007", json!({}));
    assert_eq!(w.call(again).await.0, StatusCode::NOT_FOUND);

    // Each change is in the audit log under the names of who asked and who confirmed.
    let entries = central_api::audit::AuditLog::new(w.db.clone())
        .for_subject("device:hcm-q3-007")
        .await
        .unwrap();
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("officer:admin", "device.register.requested"),
            ("officer:admin.b", "device.registered"),
            ("officer:admin", "device.revoked")
        ]
    );
}

pub(crate) async fn administrators_amend_the_fine_schedule_from_a_coming_day(t: &TestDb) {
    use central_api::db::fines::load_schedule;
    use protocol::{VehicleClass, ViolationKind, time::VIETNAM};
    use time::{Duration, OffsetDateTime};

    let w = world(t).await;
    let admin = w.sign_in(Role::Admin).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let (status, before) = w.call(reviewer.get("/api/v1/fine-schedule")).await;
    assert_eq!(status, StatusCode::OK);
    let rows = before["rules"].as_array().unwrap().len();
    assert!(rows > 10, "the shipped schedule");

    let now = OffsetDateTime::now_utc().to_offset(VIETNAM);
    let day = |d: i64| (now.date() + Duration::days(d)).to_string();
    let amendment = |from: String| {
        json!({
            "effective_from": from,
            "rules": [{
                "kind": "red_light", "vehicle": "car", "min_vnd": 20_000_000,
                "max_vnd": 22_000_000, "points": 6,
                "reference": "Điểm a khoản 10 Điều 6 (sửa đổi)"
            }]
        })
    };
    let (status, body) = w
        .call(reviewer.post("/api/v1/fine-schedule", amendment(day(30))))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    for (from, field) in [
        (day(0), "effective_from"),
        ("1 tháng 7".into(), "effective_from"),
    ] {
        let (status, body) = w
            .call(admin.post("/api/v1/fine-schedule", amendment(from)))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["message"].as_str().unwrap().contains(field), "{body}");
    }
    let mut overlapping = amendment(day(30));
    let rule = overlapping["rules"][0].clone();
    overlapping["rules"].as_array_mut().unwrap().push(rule);
    let (status, body) = w
        .call(admin.post("/api/v1/fine-schedule", overlapping))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "two rules for one case: {body}"
    );

    let (status, body) = w
        .call(admin.post("/api/v1/fine-schedule", amendment(day(30))))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (body["added"].as_u64(), body["ended"].as_u64()),
        (Some(1), Some(1))
    );
    // Violations up to the day before keep the old fine; from the day on, the new one.
    let schedule = load_schedule(&w.db).await.unwrap();
    let fine_on = |d: i64| {
        schedule
            .assess(
                ViolationKind::RedLight,
                VehicleClass::Car,
                None,
                None,
                now + Duration::days(d),
            )
            .unwrap()
    };
    assert_eq!(fine_on(29).amount_vnd, 19_000_000);
    assert_eq!(fine_on(30).amount_vnd, 21_000_000);
    assert_eq!(fine_on(30).rule.points, 6);
    // The same day again: the rule now starts then, so it is refused.
    let (status, _) = w
        .call(admin.post("/api/v1/fine-schedule", amendment(day(30))))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let entries = central_api::audit::AuditLog::new(w.db.clone())
        .for_subject("fine_schedule")
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].actor.as_str(), entries[0].action.as_str()),
        ("officer:admin", "fine_schedule.amended")
    );
}

async fn administrators_configure_cameras_and_each_change_is_a_new_version(t: &TestDb) {
    let w = world(t).await;
    let admin = w.sign_in(Role::Admin).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let settings = |camera: &str, limit: f64| {
        json!({
            "camera": camera,
            "site": {
                "name": "Ngã tư Hàng Xanh", "latitude": 10.8013, "longitude": 106.7115,
                "address": "Xô Viết Nghệ Tĩnh, Bình Thạnh", "direction": "hướng Điện Biên Phủ"
            },
            "geometry": {},
            "speed_limit_kmh": limit,
            "speed_limits_kmh": { "truck": 40.0 },
            "red_grace_s": 0.5
        })
    };
    let put =
        |s: &crate::review::Session, uri: &str, body: serde_json::Value| s.send("PUT", uri, body);
    let uri = "/api/v1/devices/hcm-q1-001/cameras/cam-1";
    let (status, _) = w.call(put(&reviewer, uri, settings("cam-1", 50.0))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (body, uri) in [
        (settings("cam-2", 50.0), uri),
        (settings("cam-1", 500.0), uri),
        (json!({ "camera": "cam-1" }), uri),
    ] {
        let (status, reply) = w.call(put(&admin, uri, body)).await;
        assert!(
            status.is_client_error() && status != StatusCode::FORBIDDEN,
            "{status} {reply}"
        );
    }
    let (status, reply) = w
        .call(put(
            &admin,
            "/api/v1/devices/hcm-q9-404/cameras/cam-1",
            settings("cam-1", 50.0),
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{reply}");
    // Each change a new version, above every one before; versions carry central's clock, so
    // a central restored from an older backup still issues versions the device takes.
    let mut last = 0;
    for camera in ["cam-1", "cam-2", "cam-1"] {
        let (status, reply) = w
            .call(put(
                &admin,
                &format!("/api/v1/devices/hcm-q1-001/cameras/{camera}"),
                settings(camera, 60.0),
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        let version = reply["version"].as_u64().unwrap();
        assert!(version > last, "{version} after {last}");
        last = version;
    }
    crate::helpers::raw(&w.db, "UPDATE device_configs SET version = 2")
        .await
        .unwrap();
    let (_, reply) = w.call(put(&admin, uri, settings("cam-1", 60.0))).await;
    assert!(reply["version"].as_u64().unwrap() > last, "{reply}");
    let (status, list) = w
        .call(reviewer.get("/api/v1/devices/hcm-q1-001/cameras"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let cameras: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["camera"].as_str().unwrap())
        .collect();
    assert_eq!(cameras, ["cam-1", "cam-2"]);
    assert_eq!(list["items"][0]["speed_limits_kmh"]["truck"], 40.0);
}

/// A changed password or role ends the officer's sessions and tokens at once; a disabled
/// officer's too, and they cannot sign in again until saved anew. Each in the audit log.
async fn a_changed_or_disabled_officer_is_signed_out_everywhere(t: &TestDb) {
    let w = world(t).await;
    let admin = w.sign_in(Role::Admin).await;
    let second = w.sign_in_as(SECOND_ADMIN).await;
    let save = |password: &str, role: &str| {
        admin.post(
            "/api/v1/officers",
            json!({ "username": "lan.tt", "full_name": "Trần Thị Lan", "role": role, "password": password }),
        )
    };
    let sign_in = |password: &str| {
        axum::http::Request::post("/api/v1/session")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                json!({ "username": "lan.tt", "password": password }).to_string(),
            ))
            .unwrap()
    };
    let queue = |token: &str| {
        axum::http::Request::get("/api/v1/violations")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let first = "mật khẩu đầu tiên của Lan";
    confirmed_by(&w, &second, w.call(save(first, "supervisor")).await).await;
    let (status, session) = w.call(sign_in(first)).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let token = session["token"].as_str().unwrap().to_owned();
    assert_eq!(w.call(queue(&token)).await.0, StatusCode::OK);

    // Demoted with a new password: the old token is dead at once, the old password too.
    let new = "mật khẩu thứ hai của Lan";
    confirmed_by(&w, &second, w.call(save(new, "reviewer")).await).await;
    assert_eq!(w.call(queue(&token)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(w.call(sign_in(first)).await.0, StatusCode::UNAUTHORIZED);
    let (status, session) = w.call(sign_in(new)).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let token = session["token"].as_str().unwrap().to_owned();
    assert_eq!(session["role"], "reviewer", "{session}");

    // Disabled: signed out, no sign-in; disabling twice finds nobody.
    let disable = || admin.send("DELETE", "/api/v1/officers/lan.tt", json!({}));
    assert_eq!(w.call(disable()).await.0, StatusCode::NO_CONTENT);
    assert_eq!(w.call(queue(&token)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(w.call(sign_in(new)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(w.call(disable()).await.0, StatusCode::NOT_FOUND);
    // Only administrators disable officers.
    let supervisor = w.sign_in(Role::Supervisor).await;
    let (status, _) = w
        .call(supervisor.send("DELETE", "/api/v1/officers/admin", json!({})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let actions: Vec<String> = central_api::audit::AuditLog::new(w.db.clone())
        .for_subject("officer:lan.tt")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "officer.save.requested",
            "officer.saved",
            "officer.signed_in",
            "officer.save.requested",
            "officer.saved",
            "officer.sign_in_failed",
            "officer.signed_in",
            "officer.disabled"
        ]
    );
}

on_both_engines!(
    a_changed_or_disabled_officer_is_signed_out_everywhere,
    administrators_configure_cameras_and_each_change_is_a_new_version,
    administrators_save_officers_and_register_and_revoke_devices,
    administrators_amend_the_fine_schedule_from_a_coming_day,
);
