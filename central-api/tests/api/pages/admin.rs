//! The administration pages: officers and devices kept, a camera set up and the fine schedule
//! amended, each by form with its CSRF token and role checked.

use super::*;

async fn an_administrator_keeps_officers_and_devices_from_the_pages(t: &TestDb) {
    let w = world(t).await;
    let reviewer = sign_in(&w, Role::Reviewer).await;
    let admin = sign_in(&w, Role::Admin).await;
    let queue = send(&w, get(Some(&reviewer), "/review")).await;
    assert!(
        !queue.body.contains("href=\"/review/admin\""),
        "no link for reviewers"
    );
    let page = send(&w, get(Some(&reviewer), "/review/admin")).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let csrf = reviewer.csrf.clone();
    let refused = send(
        &w,
        form(
            Some(&reviewer),
            "/review/admin/devices/hcm-q1-001/revoke",
            &[("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let page = send(&w, get(Some(&admin), "/review/admin")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("href=\"/review/admin\""));
    for id in ["officers", "admin-devices", "officer-form", "device-form"] {
        assert!(page.body.contains(&format!("id=\"{id}\"")), "{id}");
    }
    // A form without the session's token changes nothing.
    let forged = send(
        &w,
        form(
            Some(&admin),
            "/review/admin/devices/hcm-q1-001/revoke",
            &[("csrf", "not-the-token")],
        ),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let saved = send(
        &w,
        form(
            Some(&admin),
            "/review/admin/officers",
            &[
                ("csrf", &admin.csrf),
                ("username", "lan.tt"),
                ("full_name", "Trần Thị Lan"),
                ("role", "supervisor"),
                ("password", "một mật khẩu đủ dài"),
            ],
        ),
    )
    .await;
    assert_eq!(
        (saved.status, saved.location()),
        (StatusCode::SEE_OTHER, "/review/admin")
    );
    let short = send(
        &w,
        form(
            Some(&admin),
            "/review/admin/officers",
            &[
                ("csrf", &admin.csrf),
                ("username", "hoa.pt"),
                ("full_name", "Phạm Thị Hoa"),
                ("role", "reviewer"),
                ("password", "ngắn"),
            ],
        ),
    )
    .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert!(short.body.contains("role=\"alert\""), "the page says why");
    let key = protocol::DeviceKey::from_seed([5; 32])
        .public_key()
        .to_base64();
    let registered = send(
        &w,
        form(
            Some(&admin),
            "/review/admin/devices",
            &[
                ("csrf", &admin.csrf),
                ("id", "hcm-q7-002"),
                ("name", "Cầu Kênh Tẻ"),
                ("public_key", &key),
            ],
        ),
    )
    .await;
    assert_eq!(
        registered.status,
        StatusCode::SEE_OTHER,
        "{}",
        registered.body
    );
    // Both wait for a second administrator: the one who asked may only withdraw them.
    let page = send(&w, get(Some(&admin), "/review/admin")).await;
    assert!(page.body.contains("id=\"requests\""), "{}", page.body);
    assert_eq!(
        page.body.matches("class=\"inline refuse-request\"").count(),
        2
    );
    assert!(!page.body.contains("confirm-request"));
    assert!(
        !page.body.contains("data-officer=\"lan.tt\""),
        "not saved yet"
    );
    let second = sign_in_as(&w, crate::review::SECOND_ADMIN).await;
    let page = send(&w, get(Some(&second), "/review/admin")).await;
    let ids: Vec<String> = page
        .body
        .split("data-request=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2, "{}", page.body);
    for id in &ids {
        let own = send(
            &w,
            form(
                Some(&admin),
                &format!("/review/requests/{id}/confirm"),
                &[("csrf", &admin.csrf)],
            ),
        )
        .await;
        assert_eq!(own.status, StatusCode::CONFLICT, "{}", own.body);
        let confirmed = send(
            &w,
            form(
                Some(&second),
                &format!("/review/requests/{id}/confirm"),
                &[("csrf", &second.csrf)],
            ),
        )
        .await;
        assert_eq!(
            (confirmed.status, confirmed.location()),
            (StatusCode::SEE_OTHER, "/review/admin"),
            "{}",
            confirmed.body
        );
    }
    let revoked = send(
        &w,
        form(
            Some(&admin),
            "/review/admin/devices/hcm-q7-002/revoke",
            &[("csrf", &admin.csrf)],
        ),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    central_api::db::cameras::save(
        &w.db,
        &central_api::audit::AuditLog::new(w.db.clone()),
        &protocol::DeviceId::parse("hcm-q1-001").unwrap(),
        &protocol::CameraSettings {
            camera: protocol::CameraId::parse("hang-xanh-1").unwrap(),
            site: protocol::Site {
                name: "Ngã tư Hàng Xanh".into(),
                latitude: 10.8,
                longitude: 106.7,
                address: String::new(),
                direction: String::new(),
            },
            geometry: Default::default(),
            speed_limit_kmh: 60.0,
            speed_limits_kmh: Default::default(),
            red_grace_s: 0.5,
            signal_plan: None,
        },
        "officer:admin",
    )
    .await
    .unwrap()
    .unwrap();
    let page = send(&w, get(Some(&admin), "/review/admin")).await;
    assert!(
        page.body
            .contains("hang-xanh-1</code></a> · Ngã tư Hàng Xanh · 60 km/h")
    );
    assert!(page.body.contains("id=\"schedule\""));
    assert!(
        page.body.matches("class=\"rule\"").count() > 10,
        "the schedule in force"
    );
    assert!(page.body.contains("data-officer=\"lan.tt\""));
    assert!(!page.body.contains("data-officer=\"hoa.pt\""));
    let row = page
        .body
        .split("data-device=\"hcm-q7-002\"")
        .nth(1)
        .unwrap();
    let row = row.split("</tr>").next().unwrap();
    assert!(
        row.contains("Cầu Kênh Tẻ") && row.contains("status rejected"),
        "{row}"
    );
    assert!(
        devices::active_key(&w.db, &protocol::DeviceId::parse("hcm-q7-002").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

async fn an_administrator_sets_up_a_camera_and_amends_the_schedule_from_the_pages(t: &TestDb) {
    let w = world(t).await;
    let admin = sign_in(&w, Role::Admin).await;
    let reviewer = sign_in(&w, Role::Reviewer).await;
    let device = protocol::DeviceId::parse("hcm-q1-001").unwrap();
    let page_uri = "/review/admin/camera?device=hcm-q1-001&camera=hang-xanh-2";

    // A camera central has nothing for yet: blanks, with the usual limit and grace.
    let blank = send(&w, get(Some(&admin), page_uri)).await;
    assert_eq!(blank.status, StatusCode::OK, "{}", blank.body);
    assert!(blank.body.contains("id=\"camera-form\""));
    assert!(
        blank
            .body
            .contains("name=\"speed_limit_kmh\" required inputmode=\"decimal\" value=\"50\"")
    );
    assert_eq!(
        send(&w, get(Some(&reviewer), page_uri)).await.status,
        StatusCode::FORBIDDEN
    );

    let geometry = r#"{
        "stop_line": { "a": [200, 700], "b": [1700, 700], "before": [960, 900] },
        "lanes": [ { "name": "làn 1", "polygon": [[200, 1080], [900, 1080], [900, 500], [500, 500]],
                     "direction": [0, -1], "allowed": ["motorbike"] } ]
    }"#;
    let fields = |csrf: &'static str, latitude: &'static str, geometry: &'static str| {
        vec![
            ("csrf", csrf),
            ("device", "hcm-q1-001"),
            ("camera", "hang-xanh-2"),
            ("site_name", "Ngã tư Hàng Xanh (hướng Bình Thạnh)"),
            ("address", "Xô Viết Nghệ Tĩnh, Bình Thạnh"),
            ("direction", "hướng Điện Biên Phủ"),
            ("latitude", latitude),
            ("longitude", "106.7115"),
            ("speed_limit_kmh", "60"),
            ("limit_motorbike", "40"),
            ("limit_car", ""),
            ("limit_bus", ""),
            ("limit_truck", ""),
            ("red_grace_s", "0.8"),
            ("geometry", geometry),
        ]
    };
    let csrf: &'static str = admin.csrf.clone().leak();
    let reviewer_csrf: &'static str = reviewer.csrf.clone().leak();
    let by_reviewer = send(
        &w,
        form(
            Some(&reviewer),
            "/review/admin/camera",
            &fields(reviewer_csrf, "10.8013", geometry),
        ),
    )
    .await;
    assert_eq!(by_reviewer.status, StatusCode::FORBIDDEN);
    for (latitude, geometry, at_fault) in [
        ("10.8013", "{ \"stop_line\": ", "geometry"),
        ("10.8013", "{ \"stop_lines\": {} }", "geometry"),
        ("north", geometry, "latitude"),
        ("100.5", geometry, "latitude"),
    ] {
        let refused = send(
            &w,
            form(
                Some(&admin),
                "/review/admin/camera",
                &fields(csrf, latitude, geometry),
            ),
        )
        .await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{at_fault}: {}",
            refused.body
        );
        assert!(refused.body.contains("role=\"alert\""), "the page says why");
        assert!(
            refused.body.contains(at_fault),
            "{at_fault} named: {}",
            refused.body
        );
        assert!(
            refused
                .body
                .contains("value=\"Ngã tư Hàng Xanh (hướng Bình Thạnh)\""),
            "what was typed is kept"
        );
    }
    assert!(
        central_api::db::cameras::of_device(&w.db, &device)
            .await
            .unwrap()
            .is_empty(),
        "nothing saved by a refused form"
    );

    let saved = send(
        &w,
        form(
            Some(&admin),
            "/review/admin/camera",
            &fields(csrf, "10.8013", geometry),
        ),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location(), "/review/admin#admin-devices");
    let cameras = central_api::db::cameras::of_device(&w.db, &device)
        .await
        .unwrap();
    assert_eq!(cameras.len(), 1);
    let camera = &cameras[0];
    assert_eq!(camera.site.name, "Ngã tư Hàng Xanh (hướng Bình Thạnh)");
    assert_eq!(camera.speed_limit_kmh, 60.0);
    assert_eq!(
        camera
            .speed_limits_kmh
            .get(&protocol::VehicleClass::Motorbike),
        Some(&40.0)
    );
    assert_eq!(camera.red_grace_s, 0.8);
    let stop = camera.geometry.stop_line.unwrap();
    assert_eq!((stop.a, stop.b), ([200.0, 700.0], [1700.0, 700.0]));
    assert_eq!(
        camera.geometry.lanes[0].allowed,
        [protocol::VehicleClass::Motorbike]
    );
    // The device's configuration goes out with it.
    let outgoing = central_api::db::cameras::to_publish(&w.db, false)
        .await
        .unwrap();
    assert_eq!(outgoing.len(), 1);
    assert_eq!(outgoing[0].0.as_str(), "hcm-q1-001");
    assert!(outgoing[0].1 > 0, "a version");
    assert!(outgoing[0].2.contains("hang-xanh-2"));

    // Listed on the administration page, and the page again holds what was saved, drawn.
    let admin_page = send(&w, get(Some(&admin), "/review/admin")).await;
    assert!(
        admin_page
            .body
            .contains("href=\"/review/admin/camera?device=hcm-q1-001&amp;camera=hang-xanh-2\"")
    );
    let again = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        again
            .body
            .contains("name=\"limit_motorbike\" inputmode=\"decimal\" value=\"40\"")
    );
    assert!(
        again.body.contains("&quot;before&quot;: ["),
        "the geometry as saved"
    );
    // Each shape closed: in HTML, an SVG element left open swallows the ones after it.
    let svg = again
        .body
        .split("<svg")
        .nth(1)
        .unwrap()
        .split("</svg>")
        .next()
        .unwrap();
    assert!(svg.contains(
        "<line x1=\"200\" y1=\"700\" x2=\"1700\" y2=\"700\" stroke=\"#ff4040\" stroke-width=\"6\"></line>"
    ));
    assert!(svg.contains("<polygon points=\"200,1080 900,1080 900,500 500,500\""));
    for shape in ["rect", "polygon", "line", "circle"] {
        assert_eq!(
            svg.matches(&format!("<{shape} ")).count(),
            svg.matches(&format!("</{shape}>")).count(),
            "every <{shape}> closed: {svg}"
        );
    }

    // The fine schedule: red light on a motorbike from a coming day.
    let today = time::OffsetDateTime::now_utc()
        .to_offset(protocol::time::VIETNAM)
        .date();
    let from = (today + time::Duration::days(30)).to_string();
    let rule = |csrf: &str, from: &str, min: &str| {
        let fields = [
            ("csrf", csrf),
            ("effective_from", from),
            ("kind", "red_light"),
            ("vehicle", "motorbike"),
            ("over_kmh_from", ""),
            ("over_kmh_to", ""),
            ("min_vnd", min),
            ("max_vnd", "7000000"),
            ("points", "4"),
            ("reference", "Điểm c khoản 9 Điều 7 (sửa đổi)"),
        ];
        form(Some(&admin), "/review/admin/fine-schedule", &fields)
    };
    let today_text = today.to_string();
    for (request, at_fault) in [
        (rule(csrf, &today_text, "6000000"), "effective_from"),
        (rule(csrf, &from, "sáu triệu"), "min_vnd"),
        (rule(csrf, &from, "8000000"), "rules"),
    ] {
        let refused = send(&w, request).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{at_fault}: {}",
            refused.body
        );
        assert!(
            refused.body.contains(at_fault),
            "{at_fault}: {}",
            refused.body
        );
    }
    let forged = send(&w, rule("not-the-token", &from, "6000000")).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let amended = send(&w, rule(csrf, &from, "6000000")).await;
    assert_eq!(amended.status, StatusCode::SEE_OTHER, "{}", amended.body);
    let schedule = central_api::db::fines::load_schedule(&w.db).await.unwrap();
    let red_motorbike: Vec<_> = schedule
        .rules
        .iter()
        .filter(|r| {
            r.kind == protocol::ViolationKind::RedLight
                && r.vehicle == central_api::fines::VehicleCategory::Motorbike
        })
        .collect();
    let from_day = protocol::time::parse_day(&from).unwrap();
    assert!(
        red_motorbike
            .iter()
            .any(|r| r.effective_from == from_day && r.min_vnd == 6_000_000 && r.points == 4),
        "{red_motorbike:?}"
    );
    assert!(
        red_motorbike
            .iter()
            .any(|r| r.effective_from < from_day && r.effective_to == Some(from_day)),
        "the rule it replaces ends that day: {red_motorbike:?}"
    );
    let page = send(&w, get(Some(&admin), "/review/admin")).await;
    assert!(page.body.contains("id=\"schedule-form\""));
    assert!(page.body.contains("Điểm c khoản 9 Điều 7 (sửa đổi)"));
}

on_both_engines!(
    an_administrator_keeps_officers_and_devices_from_the_pages,
    an_administrator_sets_up_a_camera_and_amends_the_schedule_from_the_pages,
);
