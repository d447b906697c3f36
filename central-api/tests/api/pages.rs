//! The review pages through the router: sign-in, the queue and its filters, a violation with its
//! evidence, owner and proposed fine, the decisions by form (CSRF checked, roles checked), the
//! next-item flow, the language switch, and what every page is sent with.

use axum::{
    body::Body,
    http::{HeaderMap, Request, StatusCode, header},
};
use central_api::{
    auth::Role,
    db::{devices, review::fine_of, violations},
};
use protocol::{
    EventId, PlateCandidate, PlateColour, PlateLayout, Sha256Digest, UnreadPlate, ViolationEvent,
};
use tower::ServiceExt;

use crate::{
    helpers::{TestDb, on_both_engines},
    review::{PASSWORD, Session, World, world},
};

/// A response as a browser sees it.
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

async fn send(w: &World, request: Request<Body>) -> Page {
    let response = w.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 8 << 20)
        .await
        .unwrap();
    Page {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn get(session: Option<&Session>, uri: &str) -> Request<Body> {
    let mut r = Request::get(uri);
    if let Some(s) = session {
        r = r.header(header::COOKIE, format!("tve_session={}", s.token));
    }
    r.body(Body::empty()).unwrap()
}

fn form(session: Option<&Session>, uri: &str, fields: &[(&str, &str)]) -> Request<Body> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut r =
        Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(s) = session {
        r = r.header(header::COOKIE, format!("tve_session={}", s.token));
    }
    r.body(Body::from(body)).unwrap()
}

/// Signs in through the form and returns the session the cookie holds, with the CSRF token the
/// pages carry.
async fn sign_in(w: &World, role: Role) -> Session {
    sign_in_as(w, role.as_str()).await
}

/// [`sign_in`] as officer `username` of the world.
async fn sign_in_as(w: &World, username: &str) -> Session {
    let page = send(
        w,
        form(
            None,
            "/review/login",
            &[
                ("username", username),
                ("password", PASSWORD),
                ("next", "/review"),
            ],
        ),
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), "/review");
    let cookie = page
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let token = cookie
        .strip_prefix("tve_session=")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let mut session = Session {
        token,
        csrf: String::new(),
    };
    let queue = send(w, get(Some(&session), "/review")).await;
    session.csrf = csrf_of(&queue.body);
    session
}

fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with the CSRF token")
        + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

async fn an_officer_signs_in_and_works_the_queue(t: &TestDb) {
    let w = world(t).await;
    // Seen at 20:00 UTC yesterday: 03:00 today in Vietnam, where the queue counts its days.
    let yesterday = time::OffsetDateTime::now_utc()
        .date()
        .previous_day()
        .unwrap();
    let seen =
        protocol::UtcTimestamp::from_datetime(yesterday.with_hms(20, 0, 0).unwrap().assume_utc());
    let at_seen = |mut e: ViolationEvent| {
        e.occurred_at = seen;
        for item in &mut e.evidence {
            item.captured_at = seen;
        }
        e
    };
    let mut event = at_seen(ViolationEvent::example_now(
        w.device.clone(),
        EventId::new(),
    ));
    event.site.name = "<script>alert('x')</script> Ngã tư".into();
    let first = w.pending_event(event.clone()).await;
    let second = w
        .pending_event(at_seen(ViolationEvent::example_now(
            w.device.clone(),
            EventId::new(),
        )))
        .await;

    // Without a session every page sends the browser to sign in, and back afterwards.
    let away = send(&w, get(None, &format!("/review/violations/{first}"))).await;
    assert_eq!(away.status, StatusCode::SEE_OTHER);
    assert_eq!(
        away.location(),
        format!("/review/login?next=%2Freview%2Fviolations%2F{first}")
    );
    let wrong = send(
        &w,
        form(
            None,
            "/review/login",
            &[("username", "reviewer"), ("password", "not it")],
        ),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Sai tên đăng nhập hoặc mật khẩu"));
    assert!(wrong.headers.get(header::SET_COOKIE).is_none());
    let mut cross_site = form(
        None,
        "/review/login",
        &[("username", "reviewer"), ("password", PASSWORD)],
    );
    cross_site
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert_eq!(send(&w, cross_site).await.status, StatusCode::FORBIDDEN);

    let reviewer = sign_in(&w, Role::Reviewer).await;
    let queue = send(&w, get(Some(&reviewer), "/review")).await;
    assert_eq!(queue.status, StatusCode::OK);
    let csp = queue.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(queue.headers[header::CACHE_CONTROL], "no-store");
    assert!(queue.body.contains("Hàng đợi duyệt vi phạm"));
    assert!(queue.body.contains("51F-123.45"));
    assert!(queue.body.contains(&format!("/review/violations/{first}")));
    assert!(queue.body.contains(&format!("/review/violations/{second}")));
    assert!(queue.body.contains("1–2 / 2"));
    let filtered = send(&w, get(Some(&reviewer), "/review?plate=30A-999.99")).await;
    assert!(
        filtered.body.contains("id=\"queue-empty\""),
        "{}",
        filtered.body
    );
    // Days are Vietnamese days: both were seen today there, yesterday in UTC.
    let today = yesterday.next_day().unwrap();
    let that_day = send(
        &w,
        get(Some(&reviewer), &format!("/review?from={today}&to={today}")),
    )
    .await;
    assert!(that_day.body.contains("1–2 / 2"), "{}", that_day.body);
    let utc_day = send(
        &w,
        get(
            Some(&reviewer),
            &format!("/review?from={yesterday}&to={yesterday}"),
        ),
    )
    .await;
    assert!(
        utc_day.body.contains("id=\"queue-empty\""),
        "{}",
        utc_day.body
    );
    let next_day = send(
        &w,
        get(
            Some(&reviewer),
            &format!("/review?from={}", today.next_day().unwrap()),
        ),
    )
    .await;
    assert!(next_day.body.contains("id=\"queue-empty\""));
    let bad = send(&w, get(Some(&reviewer), "/review?kind=flying")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("role=\"alert\""));

    // The violation: its images served to the officer, the owner, the fine approval would issue,
    // and the values of the signed event escaped.
    let page = send(
        &w,
        get(Some(&reviewer), &format!("/review/violations/{first}")),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script>alert"));
    assert!(page.body.contains("&lt;script&gt;alert"));
    assert!(page.body.contains("Nguyễn Văn An"));
    assert!(
        page.body.contains("18.000.000–20.000.000 ₫"),
        "the range, not an amount: {}",
        page.body
    );
    let image = event
        .evidence
        .iter()
        .find(|i| i.content_type == "image/jpeg")
        .unwrap();
    let src = format!("/review/evidence/{}", image.sha256.to_hex());
    assert!(page.body.contains(&src));
    let blob = send(&w, get(Some(&reviewer), &src)).await;
    assert_eq!(blob.status, StatusCode::OK);
    assert_eq!(blob.headers[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(blob.body, image.name);
    // Sandboxed, not under the pages' own policy: evidence is never a page of central's.
    assert_eq!(
        blob.headers[header::CONTENT_SECURITY_POLICY],
        "sandbox; default-src 'none'"
    );
    assert_eq!(
        send(&w, get(None, &src)).await.status,
        StatusCode::SEE_OTHER
    );
    let unknown = format!("/review/evidence/{}", Sha256Digest::of(b"nothing").to_hex());
    assert_eq!(
        send(&w, get(Some(&reviewer), &unknown)).await.status,
        StatusCode::NOT_FOUND
    );

    // A form without the session's CSRF token changes nothing.
    let approve = format!("/review/violations/{first}/approve");
    let forged = send(&w, form(Some(&reviewer), &approve, &[("csrf", "guess")])).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(fine_of(&w.db, &first).await.unwrap().is_none());

    // Confirmation issues the notice and goes on to the next violation pending review.
    let done = send(
        &w,
        form(Some(&reviewer), &approve, &[("csrf", &reviewer.csrf)]),
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let fine = fine_of(&w.db, &first).await.unwrap().unwrap();
    assert_eq!(
        (fine.status.as_str(), fine.decision_number),
        ("issued", None)
    );
    assert_eq!(done.location(), format!("/review/violations/{second}"));
    // The next page says once what was done, from a cookie it then clears.
    let flash = done.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        flash.starts_with("tve_flash=") && flash.contains("Max-Age=60"),
        "{flash}"
    );
    let flash = flash.split(';').next().unwrap();
    let mut next = get(Some(&reviewer), done.location());
    next.headers_mut().insert(
        header::COOKIE,
        format!("tve_session={}; {flash}", reviewer.token)
            .parse()
            .unwrap(),
    );
    let next_page = send(&w, next).await;
    assert!(
        next_page.body.contains("id=\"flash\""),
        "{}",
        next_page.body
    );
    assert!(next_page.body.contains("thông báo vi phạm được gửi"));
    assert!(
        next_page.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .starts_with("tve_flash=;")
    );
    let again = send(&w, get(Some(&reviewer), done.location())).await;
    assert!(!again.body.contains("id=\"flash\""));

    // Rejecting for `other` needs a note: the page says so and nothing changes.
    let reject = format!("/review/violations/{second}/reject");
    let refused = send(
        &w,
        form(
            Some(&reviewer),
            &reject,
            &[("csrf", &reviewer.csrf), ("reason", "other"), ("note", " ")],
        ),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("Dữ liệu nhập không hợp lệ"));
    let rejected = send(
        &w,
        form(
            Some(&reviewer),
            &reject,
            &[("csrf", &reviewer.csrf), ("reason", "emergency_vehicle")],
        ),
    )
    .await;
    assert_eq!(rejected.status, StatusCode::SEE_OTHER);
    assert_eq!(rejected.location(), "/review");
    let stored = violations::get(&w.db, &second).await.unwrap().unwrap();
    assert_eq!(stored.reject_reason.as_deref(), Some("emergency_vehicle"));
    let approved_page = send(
        &w,
        get(Some(&reviewer), &format!("/review/violations/{first}")),
    )
    .await;
    assert!(!approved_page.body.contains("id=\"approve\""));
    assert!(approved_page.body.contains("id=\"fine-status\""));
    assert!(
        !approved_page.body.contains("id=\"decision-form\""),
        "a reviewer holds no sanctioning authority"
    );

    // Signing out ends the session.
    let out = send(
        &w,
        form(
            Some(&reviewer),
            "/review/logout",
            &[("csrf", &reviewer.csrf)],
        ),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        send(&w, get(Some(&reviewer), "/review")).await.status,
        StatusCode::SEE_OTHER
    );
}

async fn a_misread_plate_is_corrected_from_the_page(t: &TestDb) {
    let w = world(t).await;
    let id = w.pending("51F12846").await;
    let reviewer = sign_in(&w, Role::Reviewer).await;
    let page = send(
        &w,
        get(Some(&reviewer), &format!("/review/violations/{id}")),
    )
    .await;
    assert!(page.body.contains("Biển số chưa đăng ký"));
    // The camera's candidates are offered as one-click corrections.
    assert!(page.body.contains("value=\"51F12346\""));

    let approve = format!("/review/violations/{id}/approve");
    let no_owner = send(
        &w,
        form(Some(&reviewer), &approve, &[("csrf", &reviewer.csrf)]),
    )
    .await;
    assert_eq!(no_owner.status, StatusCode::CONFLICT);
    assert!(no_owner.body.contains("Chưa xác định được chủ phương tiện"));

    let plate = format!("/review/violations/{id}/plate");
    let bad = send(
        &w,
        form(
            Some(&reviewer),
            &plate,
            &[("csrf", &reviewer.csrf), ("plate", "ABC")],
        ),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let fixed = send(
        &w,
        form(
            Some(&reviewer),
            &plate,
            &[
                ("csrf", &reviewer.csrf),
                ("plate", "51F-123.45"),
                ("colour", "white"),
            ],
        ),
    )
    .await;
    assert_eq!(fixed.status, StatusCode::SEE_OTHER, "{}", fixed.body);
    assert_eq!(fixed.location(), format!("/review/violations/{id}"));
    let page = send(
        &w,
        get(Some(&reviewer), &format!("/review/violations/{id}")),
    )
    .await;
    assert!(
        page.body.contains("id=\"owner-name\">Nguyễn Văn An"),
        "{}",
        page.body
    );
    assert!(page.body.contains("plate.corrected"));
    // The officer who corrected the plate does not also confirm the violation.
    let own = send(
        &w,
        form(Some(&reviewer), &approve, &[("csrf", &reviewer.csrf)]),
    )
    .await;
    assert_eq!(own.status, StatusCode::CONFLICT);
    assert!(
        own.body.contains("một cán bộ khác xác nhận vi phạm"),
        "{}",
        own.body
    );
    let supervisor = sign_in(&w, Role::Supervisor).await;
    let confirmed = send(
        &w,
        form(Some(&supervisor), &approve, &[("csrf", &supervisor.csrf)]),
    )
    .await;
    assert_eq!(
        confirmed.status,
        StatusCode::SEE_OTHER,
        "{}",
        confirmed.body
    );
}

/// A supervisor holds a case from the page; a reviewer sees the hold but cannot lift it.
async fn a_supervisor_holds_a_case_from_the_page(t: &TestDb) {
    let w = world(t).await;
    let id = w.pending("51F12345").await;
    let supervisor = sign_in(&w, Role::Supervisor).await;
    let reviewer = sign_in(&w, Role::Reviewer).await;
    let here = format!("/review/violations/{id}");
    let hold = format!("{here}/hold");
    let before = send(&w, get(Some(&reviewer), &here)).await;
    assert!(
        !before.body.contains("id=\"legal-hold\""),
        "nothing to show a reviewer"
    );

    let refused = send(
        &w,
        form(
            Some(&reviewer),
            &hold,
            &[("csrf", &reviewer.csrf), ("reason", "Khiếu nại 7/KN")],
        ),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let held = send(
        &w,
        form(
            Some(&supervisor),
            &hold,
            &[("csrf", &supervisor.csrf), ("reason", "Khiếu nại 7/KN")],
        ),
    )
    .await;
    assert_eq!(held.status, StatusCode::SEE_OTHER, "{}", held.body);
    assert_eq!(held.location(), here);
    let seen = send(&w, get(Some(&reviewer), &here)).await;
    assert!(seen.body.contains("Khiếu nại 7/KN"), "{}", seen.body);
    assert!(!seen.body.contains("id=\"hold-lift\""));
    assert!(seen.body.contains("legal_hold.set"));

    let lifted = send(
        &w,
        form(
            Some(&supervisor),
            &hold,
            &[("csrf", &supervisor.csrf), ("lift", "1")],
        ),
    )
    .await;
    assert_eq!(lifted.status, StatusCode::SEE_OTHER);
    let page = send(&w, get(Some(&supervisor), &here)).await;
    assert!(page.body.contains("id=\"hold-form\""));
    assert!(page.body.contains("legal_hold.lifted"));
}

async fn a_supervisor_records_and_answers_a_correction_request_from_the_page(t: &TestDb) {
    let w = world(t).await;
    let supervisor = sign_in(&w, Role::Supervisor).await;
    let here = "/review/corrections";
    let asked = [
        ("csrf", supervisor.csrf.as_str()),
        ("citizen_id", "079203012345"),
        ("event_id", ""),
        ("channel", "in_person"),
        ("request", "Tên chủ xe ghi thiếu chữ lót."),
    ];
    let forged = send(
        &w,
        form(Some(&supervisor), here, &{
            let mut f = asked;
            f[0].1 = "not the token";
            f
        }),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let recorded = send(&w, form(Some(&supervisor), here, &asked)).await;
    assert_eq!(recorded.status, StatusCode::SEE_OTHER, "{}", recorded.body);
    assert_eq!(recorded.location(), here);
    let page = send(&w, get(Some(&supervisor), here)).await;
    assert!(
        page.body.contains("Tên chủ xe ghi thiếu chữ lót."),
        "{}",
        page.body
    );
    let id = page
        .body
        .split("data-id=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let answered = send(
        &w,
        form(
            Some(&supervisor),
            &format!("{here}/{id}/answer"),
            &[
                ("csrf", &supervisor.csrf),
                ("outcome", "corrected"),
                ("answer", "Đã sửa theo căn cước công dân."),
            ],
        ),
    )
    .await;
    assert_eq!(answered.status, StatusCode::SEE_OTHER, "{}", answered.body);
    let page = send(&w, get(Some(&supervisor), here)).await;
    assert!(
        page.body.contains("id=\"corrections-empty\""),
        "{}",
        page.body
    );
}

async fn an_auditor_reads_but_cannot_decide_and_english_is_one_click_away(t: &TestDb) {
    let w = world(t).await;
    let id = w.pending("51F12345").await;
    let auditor = sign_in(&w, Role::Auditor).await;
    let page = send(&w, get(Some(&auditor), &format!("/review/violations/{id}"))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("id=\"approve\""));
    assert!(!page.body.contains("id=\"correct-plate\""));
    let approve = format!("/review/violations/{id}/approve");
    let refused = send(
        &w,
        form(Some(&auditor), &approve, &[("csrf", &auditor.csrf)]),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("Vai trò của bạn không được phép"));
    assert!(fine_of(&w.db, &id).await.unwrap().is_none());

    let here = format!("/review/violations/{id}");
    let switch = send(
        &w,
        get(Some(&auditor), &format!("/review/lang/en?back={here}")),
    )
    .await;
    assert_eq!(switch.status, StatusCode::SEE_OTHER);
    assert_eq!(switch.location(), here);
    let lang = switch.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(lang.starts_with("tve_lang=en"));
    let mut english = get(Some(&auditor), &here);
    english.headers_mut().insert(
        header::COOKIE,
        format!("tve_session={}; tve_lang=en", auditor.token)
            .parse()
            .unwrap(),
    );
    let page = send(&w, english).await;
    assert!(page.body.contains("<html lang=\"en\">"));
    assert!(page.body.contains("Red light"));
    assert!(page.body.contains("Audit trail"));
    // Away from the review pages is never a place to go back to.
    let away = send(
        &w,
        get(Some(&auditor), "/review/lang/en?back=https://evil.example/"),
    )
    .await;
    assert_eq!(away.location(), "/review");
}

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

/// A plate the camera saw but could not read surely reaches the officer as the camera's
/// guesses, never as a reading: no owner is looked up until the officer chooses one.
async fn a_plate_the_camera_could_not_read_is_chosen_from_its_guesses(t: &TestDb) {
    let w = world(t).await;
    let mut event = ViolationEvent::example_now(w.device.clone(), EventId::new());
    event.plate = None;
    event.plate_unread = Some(UnreadPlate {
        layout: PlateLayout::OneLine,
        colour: PlateColour::White,
        candidates: vec![
            PlateCandidate {
                text: "51F12845".into(),
                confidence: 0.44,
            },
            PlateCandidate {
                text: "51F12345".into(),
                confidence: 0.31,
            },
        ],
    });
    let id = w.pending_event(event).await;
    let stored = violations::get(&w.db, &id).await.unwrap().unwrap();
    assert_eq!(stored.plate_text(), None, "a guess is not a plate");
    assert_eq!(stored.owner_citizen_id, None);

    let reviewer = sign_in(&w, Role::Reviewer).await;
    let url = format!("/review/violations/{id}");
    let page = send(&w, get(Some(&reviewer), &url)).await;
    assert!(
        page.body.contains("id=\"plate\">chưa đọc được"),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"plate-unread\""));
    let first = page
        .body
        .find("value=\"51F12845\"")
        .expect("the best guess offered");
    let second = page
        .body
        .find("value=\"51F12345\"")
        .expect("the next guess offered");
    assert!(first < second, "the guesses best first");

    // One click on the second guess makes it the plate and finds its owner.
    let chosen = send(
        &w,
        form(
            Some(&reviewer),
            &format!("{url}/plate"),
            &[
                ("csrf", &reviewer.csrf),
                ("plate", "51F12345"),
                ("colour", "white"),
            ],
        ),
    )
    .await;
    assert_eq!(chosen.status, StatusCode::SEE_OTHER, "{}", chosen.body);
    let page = send(&w, get(Some(&reviewer), &url)).await;
    assert!(
        page.body.contains("id=\"owner-name\">Nguyễn Văn An"),
        "{}",
        page.body
    );
}

async fn an_administrator_sees_the_cameras_picture_asked_through_the_broker(t: &TestDb) {
    use central_api::{
        audit::AuditLog,
        db::{cameras, evidence, retention, snapshots},
        ingest::{Ingest, IngestMetrics},
    };
    use protocol::{CameraId, DeviceKey, Topic, UtcTimestamp, snapshot::Snapshot, wire};
    let w = world(t).await;
    let admin = sign_in(&w, Role::Admin).await;
    let reviewer = sign_in(&w, Role::Reviewer).await;
    let camera = CameraId::parse("hang-xanh-2").unwrap();
    let audit = AuditLog::new(w.db.clone());
    cameras::save(
        &w.db,
        &audit,
        &w.device,
        &protocol::CameraSettings {
            geometry: serde_json::from_str(
                r#"{ "stop_line": { "a": [200, 700], "b": [1700, 700], "before": [960, 900] } }"#,
            )
            .unwrap(),
            ..crate::helpers::camera_settings("hang-xanh-2")
        },
        "admin",
    )
    .await
    .unwrap()
    .unwrap();
    let page_uri = "/review/admin/camera?device=hcm-q1-001&camera=hang-xanh-2";
    let ask = |session: &Session, camera: &str| {
        form(
            Some(session),
            "/review/admin/camera/snapshot",
            &[
                ("csrf", session.csrf.as_str()),
                ("device", "hcm-q1-001"),
                ("camera", camera),
            ],
        )
    };
    // Only an administrator asks a box for a picture of the street, and only of a camera
    // central keeps.
    assert_eq!(
        send(&w, ask(&reviewer, "hang-xanh-2")).await.status,
        StatusCode::FORBIDDEN
    );
    let unknown = send(&w, ask(&admin, "no-such-camera")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    let asked = send(&w, ask(&admin, "hang-xanh-2")).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.body);
    assert_eq!(asked.location(), format!("{page_uri}#snapshot"));
    let now = time::OffsetDateTime::now_utc();
    let request = only_request(&w, now).await;
    assert_eq!((&request.device, &request.camera), (&w.device, &camera));
    assert!(request.expires_at.unix_ms() - request.requested_at.unix_ms() <= 120_000);
    let waiting = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        waiting.body.contains("data-state=\"waiting\""),
        "{}",
        waiting.body
    );
    snapshots::published(&w.db, &request.request_id, now)
        .await
        .unwrap();
    assert!(snapshots::to_publish(&w.db, now).await.unwrap().is_empty());
    // Who asked is in the audit log.
    let audited = crate::helpers::count(
        &w.db,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'camera.snapshot_requested' AND actor = 'officer:admin'",
    )
    .await;
    assert_eq!(audited, 1);

    // The device answers: its signed snapshot first, then the file.
    let jpeg = b"\xff\xd8\xff\xe0 the junction as the camera sees it".to_vec();
    let answer = Snapshot {
        request_id: request.request_id.clone(),
        device: w.device.clone(),
        camera: camera.clone(),
        taken_at: UtcTimestamp::now(),
        width: 64,
        height: 48,
        sha256: Sha256Digest::of(&jpeg),
        bytes: jpeg.len() as u64,
        seq: 0,
        judged: None,
        duration_ms: 0,
    };
    let ingest = Ingest::new(w.db.clone(), IngestMetrics::default());
    let topic = Topic::Snapshot(w.device.clone()).to_string();
    let take = |snapshot: &Snapshot, key: &DeviceKey| {
        let payload = wire::encode_signed(snapshot, key).unwrap();
        let (ingest, topic) = (ingest.clone(), topic.clone());
        async move { ingest.snapshot(&topic, &payload).await.unwrap() }
    };
    // Signed by anyone but the device, or for a camera not asked: refused.
    let forger = DeviceKey::from_seed([0x66; 32]);
    assert_eq!(take(&answer, &forger).await, "snapshot_refused");
    let other_camera = Snapshot {
        camera: CameraId::parse("hang-xanh-1").unwrap(),
        ..answer.clone()
    };
    assert_eq!(take(&other_camera, &w.key).await, "snapshot_refused");
    assert_eq!(take(&answer, &w.key).await, "snapshot");
    assert_eq!(
        take(&answer, &w.key).await,
        "snapshot_refused",
        "one answer to a request"
    );
    assert!(evidence::named(&w.db, &answer.sha256).await.unwrap());
    let arriving = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        arriving.body.contains("data-state=\"arriving\""),
        "{}",
        arriving.body
    );
    let uploaded = send(&w, as_device(&w, &answer.sha256, jpeg.clone())).await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);

    // The page draws the geometry over the picture, and says when it was taken.
    let shown = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        shown.body.contains("data-state=\"taken\""),
        "{}",
        shown.body
    );
    let picture_uri = format!("/review/admin/snapshots/{}", request.request_id);
    assert!(
        shown
            .body
            .contains(&format!("id=\"snapshot-picture\" href=\"{picture_uri}\"")),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("viewBox=\"0 0 64 48\""));
    let picture = w
        .app
        .clone()
        .oneshot(get(Some(&admin), &picture_uri))
        .await
        .unwrap();
    assert_eq!(picture.status(), StatusCode::OK);
    assert_eq!(picture.headers()[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(
        picture.headers()[header::CACHE_CONTROL],
        "private, no-store"
    );
    let bytes = axum::body::to_bytes(picture.into_body(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), jpeg.as_slice());
    assert_eq!(
        send(&w, get(Some(&reviewer), &picture_uri)).await.status,
        StatusCode::FORBIDDEN
    );

    // Ten seconds of the camera's video: asked from the page, answered with one MP4 and its
    // length; a picture sent for it refused.
    let clip_asked = send(&w, ask_view(&admin, "clip")).await;
    assert_eq!(
        clip_asked.status,
        StatusCode::SEE_OTHER,
        "{}",
        clip_asked.body
    );
    assert_eq!(clip_asked.location(), format!("{page_uri}#clip"));
    let clip = only_request(&w, now).await;
    assert_eq!(
        (clip.view, clip.clip_s, clip.frames),
        (protocol::snapshot::SnapshotView::Clip, 10, 1)
    );
    snapshots::published(&w.db, &clip.request_id, now)
        .await
        .unwrap();
    let recording = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        recording
            .body
            .contains("id=\"clip-state\" data-state=\"waiting\""),
        "{}",
        recording.body
    );
    let mp4 = b"\0\0\0\x18ftypisom the junction moving".to_vec();
    let as_picture = Snapshot {
        request_id: clip.request_id.clone(),
        ..answer.clone()
    };
    assert_eq!(take(&as_picture, &w.key).await, "snapshot_refused");
    let clip_answer = Snapshot {
        request_id: clip.request_id.clone(),
        sha256: Sha256Digest::of(&mp4),
        bytes: mp4.len() as u64,
        duration_ms: 10_040,
        ..answer.clone()
    };
    assert_eq!(take(&clip_answer, &w.key).await, "snapshot");
    let upload = as_device(&w, &clip_answer.sha256, mp4.clone());
    let uploaded = send(&w, crate::evidence::retyped(upload, Some("video/mp4"))).await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);
    let shown = send(&w, get(Some(&admin), page_uri)).await;
    let clip_uri = format!("/review/admin/snapshots/{}", clip.request_id);
    assert!(
        shown
            .body
            .contains("id=\"clip-state\" data-state=\"taken\"")
            && shown.body.contains("10.0 s")
            && shown.body.contains(&format!(
                "id=\"clip-video\" controls preload=\"metadata\" src=\"{clip_uri}\""
            )),
        "{}",
        shown.body
    );
    assert!(
        shown
            .body
            .contains(&format!("id=\"snapshot-picture\" href=\"{picture_uri}\"")),
        "the picture drawn on is still the frame, not the clip"
    );
    let served = w
        .app
        .clone()
        .oneshot(get(Some(&admin), &clip_uri))
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()[header::CONTENT_TYPE], "video/mp4");

    // A request the device never answered expires, and says so.
    let late = ask_frame(&w, &audit, &camera, now).await;
    crate::helpers::raw(
        &w.db,
        &format!(
            "UPDATE snapshots SET expires_at = requested_at WHERE id = '{}'",
            late.request_id
        ),
    )
    .await
    .unwrap();
    assert!(
        snapshots::to_publish(&w.db, time::OffsetDateTime::now_utc())
            .await
            .unwrap()
            .is_empty(),
        "an expired request is not sent"
    );
    let late_answer = Snapshot {
        request_id: late.request_id,
        ..answer.clone()
    };
    assert_eq!(take(&late_answer, &w.key).await, "snapshot_refused");
    let expired = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        expired.body.contains("data-state=\"expired\""),
        "{}",
        expired.body
    );
    // The picture that came stays drawn on.
    assert!(expired.body.contains("id=\"snapshot-picture\""));

    // Thirty days on, the pictures are deleted, the file with them.
    let store = central_api::evidence_store::EvidenceStore::open(w.dir.path()).unwrap();
    assert!(store.read(&answer.sha256).await.unwrap().is_some());
    let swept = retention::sweep(
        &w.db,
        &audit,
        &store,
        &retention::RetentionSettings::default(),
        now + time::Duration::days(31),
    )
    .await
    .unwrap();
    assert_eq!(swept.snapshots_deleted, 3);
    assert_eq!(swept.blobs_deleted, 2);
    assert!(store.read(&answer.sha256).await.unwrap().is_none());
    assert!(store.read(&clip_answer.sha256).await.unwrap().is_none());
    assert!(
        snapshots::get(&w.db, &request.request_id)
            .await
            .unwrap()
            .is_none()
    );
}

/// The device's upload of a JPEG `file` whose hash is `sha256`, signed now.
fn as_device(w: &World, sha256: &Sha256Digest, file: Vec<u8>) -> Request<Body> {
    crate::evidence::upload(
        sha256,
        file,
        &w.device,
        &w.key,
        protocol::UtcTimestamp::now(),
    )
}

/// An administrator's press of the button asking hang-xanh-2's device for `view`.
fn ask_view(session: &Session, view: &str) -> Request<Body> {
    form(
        Some(session),
        "/review/admin/camera/snapshot",
        &[
            ("csrf", session.csrf.as_str()),
            ("device", "hcm-q1-001"),
            ("camera", "hang-xanh-2"),
            ("view", view),
        ],
    )
}

/// The one request waiting to be published at `now`.
async fn only_request(w: &World, now: time::OffsetDateTime) -> protocol::snapshot::SnapshotRequest {
    let mut outgoing = central_api::db::snapshots::to_publish(&w.db, now)
        .await
        .unwrap();
    assert_eq!(outgoing.len(), 1, "{outgoing:?}");
    outgoing.remove(0)
}

/// A request for one frame of `camera` as it came, made by the administrator at `now`.
async fn ask_frame(
    w: &World,
    audit: &central_api::audit::AuditLog,
    camera: &protocol::CameraId,
    now: time::OffsetDateTime,
) -> protocol::snapshot::SnapshotRequest {
    central_api::db::snapshots::ask(
        &w.db,
        audit,
        (&w.device, camera),
        central_api::db::snapshots::Asked::picture(protocol::snapshot::SnapshotView::Frame),
        "officer:admin",
        now,
    )
    .await
    .unwrap()
    .unwrap()
}

async fn a_live_check_shows_what_the_device_judged_frame_by_frame(t: &TestDb) {
    use central_api::{
        audit::AuditLog,
        db::{cameras, snapshots},
        ingest::{Ingest, IngestMetrics},
    };
    use protocol::{
        CameraId, Topic, UtcTimestamp, VehicleBox, VehicleClass,
        messages::SignalState,
        snapshot::{Judged, JudgedVehicle, Snapshot, SnapshotView},
        wire,
    };
    let w = world(t).await;
    let admin = sign_in(&w, Role::Admin).await;
    let audit = AuditLog::new(w.db.clone());
    let camera = CameraId::parse("hang-xanh-2").unwrap();
    let settings = crate::helpers::camera_settings("hang-xanh-2");
    cameras::save(&w.db, &audit, &w.device, &settings, "admin")
        .await
        .unwrap()
        .unwrap();
    let issued = cameras::config_version(&w.db, w.device.as_str())
        .await
        .unwrap()
        .expect("a configuration issued");
    let page_uri = "/review/admin/camera?device=hcm-q1-001&camera=hang-xanh-2";

    // The administrator asks to watch the device judge: fifteen judged frames, one a second.
    let asked = send(&w, ask_view(&admin, "judged")).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.body);
    assert_eq!(asked.location(), format!("{page_uri}#live"));
    let now = time::OffsetDateTime::now_utc();
    let request = only_request(&w, now).await;
    assert_eq!((request.view, request.frames), (SnapshotView::Judged, 15));
    assert!(
        request.expires_at.unix_ms() - request.requested_at.unix_ms() <= 120_000 + 14_000,
        "the first frame within two minutes, the burst's length more for the last"
    );
    let running = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        running.body.contains("data-running=\"1\"") && running.body.contains("0/15"),
        "{}",
        running.body
    );

    let ingest = Ingest::new(w.db.clone(), IngestMetrics::default());
    let topic = Topic::Snapshot(w.device.clone()).to_string();
    let take = |snapshot: &Snapshot| {
        let payload = wire::encode_signed(snapshot, &w.key).unwrap();
        let (ingest, topic) = (ingest.clone(), topic.clone());
        async move { ingest.snapshot(&topic, &payload).await.unwrap() }
    };
    let frame = |seq: u8, jpeg: &[u8], judged: Option<Judged>| Snapshot {
        request_id: request.request_id.clone(),
        device: w.device.clone(),
        camera: camera.clone(),
        taken_at: UtcTimestamp::now(),
        width: 64,
        height: 48,
        sha256: Sha256Digest::of(jpeg),
        bytes: jpeg.len() as u64,
        seq,
        judged,
        duration_ms: 0,
    };
    let judged = |version: u64| Judged {
        config_version: version,
        signal: Some(SignalState::Red),
        signal_fault: None,
        vehicles: vec![JudgedVehicle {
            track: 12,
            class: VehicleClass::Motorbike,
            bbox: VehicleBox {
                x: 10,
                y: 10,
                width: 8,
                height: 12,
            },
            speed_kmh: Some(42.4),
            lane: Some("Làn xe máy".into()),
        }],
    };
    let (first, second) = (b"\xff\xd8 judged 0".to_vec(), b"\xff\xd8 judged 1".to_vec());
    assert_eq!(
        take(&frame(0, &first, Some(judged(issued)))).await,
        "snapshot"
    );
    assert_eq!(
        take(&frame(1, &second, Some(judged(issued)))).await,
        "snapshot"
    );
    // Each frame once; none beyond those asked; none as it came for a judged request.
    for refused in [
        frame(1, &second, Some(judged(issued))),
        frame(15, b"late", Some(judged(issued))),
        frame(2, b"plain", None),
    ] {
        assert_eq!(
            take(&refused).await,
            "snapshot_refused",
            "frame {}",
            refused.seq
        );
    }
    for jpeg in [&first, &second] {
        let sha = Sha256Digest::of(jpeg);
        let uploaded = send(&w, as_device(&w, &sha, jpeg.clone())).await;
        assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);
    }

    // The page shows the latest frame, what the device judged in it, and that it judges by
    // the configuration saved last; the frame to draw on is not a judged one.
    let shown = send(&w, get(Some(&admin), page_uri)).await;
    let latest = format!("/review/admin/snapshots/{}.1", request.request_id);
    for expected in [
        format!("id=\"live-picture\" src=\"{latest}\""),
        "2/15".to_owned(),
        format!("data-version=\"{issued}\" data-current=\"yes\""),
        "data-signal=\"red\"".to_owned(),
        "#12".to_owned(),
        "Làn xe máy".to_owned(),
        "42 km/h".to_owned(),
    ] {
        assert!(shown.body.contains(&expected), "{expected}: {}", shown.body);
    }
    assert!(
        !shown.body.contains("id=\"snapshot-picture\""),
        "{}",
        shown.body
    );
    let picture = send(&w, get(Some(&admin), &latest)).await;
    assert_eq!(picture.status, StatusCode::OK);
    assert!(
        picture.body.ends_with(" judged 1"),
        "the second frame's file"
    );

    // A newer set-up saved: the frame shown was judged by the one before, and the page says so.
    cameras::save(
        &w.db,
        &audit,
        &w.device,
        &protocol::CameraSettings {
            speed_limit_kmh: 50.0,
            ..settings
        },
        "admin",
    )
    .await
    .unwrap()
    .unwrap();
    let stale = send(&w, get(Some(&admin), page_uri)).await;
    assert!(stale.body.contains("data-current=\"no\""), "{}", stale.body);

    // The burst's frames go with their request when it is deleted.
    snapshots::delete_before(&w.db, now + time::Duration::minutes(1), now)
        .await
        .unwrap();
    let left = crate::helpers::count(&w.db, "SELECT COUNT(*) FROM snapshots").await;
    assert_eq!(left, 0);
}

async fn a_set_up_drawn_on_the_picture_is_checked_and_a_stale_save_refused(t: &TestDb) {
    use central_api::{
        audit::AuditLog,
        db::{retention, snapshots},
    };
    use protocol::{CameraId, UtcTimestamp, camera::SpeedTrapSpec, snapshot::Snapshot};
    let w = world(t).await;
    let admin = sign_in(&w, Role::Admin).await;
    let other = sign_in_as(&w, crate::review::SECOND_ADMIN).await;
    let audit = AuditLog::new(w.db.clone());
    let camera = CameraId::parse("hang-xanh-2").unwrap();
    // A picture from the camera, 1280 × 720, to draw on (the camera is not set up yet: asking
    // needs its row, so the picture is recorded as the device would answer).
    central_api::db::cameras::save(
        &w.db,
        &audit,
        &w.device,
        &crate::helpers::camera_settings("hang-xanh-2"),
        "officer:admin",
    )
    .await
    .unwrap()
    .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let asked = ask_frame(&w, &audit, &camera, now).await;
    let picture = Snapshot {
        request_id: asked.request_id.clone(),
        device: w.device.clone(),
        camera: camera.clone(),
        taken_at: UtcTimestamp::now(),
        width: 1280,
        height: 720,
        sha256: Sha256Digest::of(b"picture"),
        bytes: 7,
        seq: 0,
        judged: None,
        duration_ms: 0,
    };
    snapshots::answer(&w.db, &picture, now)
        .await
        .unwrap()
        .unwrap();

    // Both administrators open the page on revision 1.
    let page_uri = "/review/admin/camera?device=hcm-q1-001&camera=hang-xanh-2";
    for s in [&admin, &other] {
        let page = send(&w, get(Some(s), page_uri)).await;
        assert!(
            page.body.contains("name=\"base\" value=\"1\""),
            "{}",
            page.body
        );
        assert!(page.body.contains("id=\"geometry-editor\""));
        assert!(page.body.contains("src=\"/review/assets/camera.js\""));
    }
    let script = send(&w, get(Some(&admin), "/review/assets/camera.js")).await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.body.contains("geometry-editor"));

    let image = [
        [400.0, 700.0],
        [880.0, 700.0],
        [760.0, 400.0],
        [520.0, 400.0],
    ];
    let road = [[0.0, 0.0], [7.0, 0.0], [7.0, 30.0], [0.0, 30.0]];
    let calibration = serde_json::json!({ "image": image, "road": road }).to_string();
    let geometry =
        r#"{ "stop_line": { "a": [300, 600], "b": [1000, 600], "before": [640, 700] } }"#;
    let fields = |s: &Session, base: &str, geometry: &str, calibration: &str, name: &str| {
        let owned: Vec<(String, String)> = [
            ("csrf", s.csrf.as_str()),
            ("device", "hcm-q1-001"),
            ("camera", "hang-xanh-2"),
            ("base", base),
            ("snapshot", asked.request_id.as_str()),
            ("calibration", calibration),
            ("site_name", name),
            ("latitude", "10.8013"),
            ("longitude", "106.7115"),
            ("speed_limit_kmh", "60"),
            ("red_grace_s", "0.5"),
            ("geometry", geometry),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        owned
    };
    let post = |owned: Vec<(String, String)>, s: &Session| {
        let pairs: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        form(Some(s), "/review/admin/camera", &pairs)
    };
    // A stop line beside the lanes, off the road: refused, saying so.
    let beside = r#"{ "stop_line": { "a": [900, 200], "b": [1200, 200], "before": [1000, 300] },
        "lanes": [{ "name": "1", "polygon": [[300, 700], [700, 700], [650, 300], [350, 300]],
                    "direction": [0, -1] }] }"#;
    let refused = send(&w, post(fields(&admin, "1", beside, "", "A"), &admin)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("off the road"), "{}", refused.body);
    // Drawn off the picture, or calibrated on three points in a line: refused, saying where.
    let off = r#"{ "stop_line": { "a": [300, 600], "b": [1900, 600], "before": [640, 700] } }"#;
    let refused = send(&w, post(fields(&admin, "1", off, "", "A"), &admin)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body.contains("off the picture (1280 × 720 px)"),
        "{}",
        refused.body
    );
    let in_a_line = serde_json::json!({
        "image": [[400.0, 700.0], [500.0, 700.0], [600.0, 700.0], [520.0, 400.0]],
        "road": [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 30.0]],
    })
    .to_string();
    let refused = send(
        &w,
        post(fields(&admin, "1", geometry, &in_a_line, "A"), &admin),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("calibration"), "{}", refused.body);

    // The first saves: the speed is measured through the homography the four points make.
    let saved = send(
        &w,
        post(
            fields(&admin, "1", geometry, &calibration, "Hàng Xanh A"),
            &admin,
        ),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let cameras = central_api::db::cameras::of_device(&w.db, &w.device)
        .await
        .unwrap();
    let Some(SpeedTrapSpec::Homography(m)) = &cameras[0].geometry.speed else {
        panic!("a homography: {:?}", cameras[0].geometry.speed);
    };
    let h = protocol::geometry::Homography(*m);
    for (r, i) in road.iter().zip(&image) {
        let p = h.apply([r[0] as f32, r[1] as f32]).unwrap();
        assert!(
            (p[0] - i[0] as f32).abs() < 0.5 && (p[1] - i[1] as f32).abs() < 0.5,
            "{p:?} {i:?}"
        );
    }
    let kept = crate::helpers::count(
        &w.db,
        &format!(
            "SELECT COUNT(*) FROM cameras WHERE revision = 2 AND snapshot_id = '{}'",
            asked.request_id
        ),
    )
    .await;
    assert_eq!(kept, 1, "the picture it was drawn on named beside it");
    // Drawn back: the road grid the calibration implies.
    let drawn = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        drawn.body.contains("id=\"road-grid\"><polyline"),
        "{}",
        drawn.body
    );
    // The four points are kept beside the homography they made, drawn back with their places
    // on the road, and offered to the device's next camera (a plate camera) to be calibrated
    // on the same points.
    assert_eq!(
        cameras[0].geometry.calibration.map(|c| c.road),
        Some(road.map(|p| p.map(|v| v as f32)))
    );
    assert!(drawn.body.contains("P3 (7, 30 m)"), "{}", drawn.body);
    let next = send(
        &w,
        get(
            Some(&admin),
            "/review/admin/camera?device=hcm-q1-001&camera=hang-xanh-3",
        ),
    )
    .await;
    assert!(
        next.body.contains(
            "<option value=\"hang-xanh-2\" data-road=\"[[0.0,0.0],[7.0,0.0],[7.0,30.0],[0.0,30.0]]\">"
        ),
        "{}",
        next.body
    );
    let alone = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        !alone.body.contains("name=\"shared_points\""),
        "no other camera to share with"
    );

    // The second administrator saves on the revision they opened: refused, their form kept,
    // and told whose set-up stands.
    let stale = send(
        &w,
        post(fields(&other, "1", geometry, "", "Hàng Xanh B"), &other),
    )
    .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert!(stale.body.contains("officer:admin"), "{}", stale.body);
    assert!(
        stale.body.contains("value=\"Hàng Xanh B\""),
        "what they typed is kept"
    );
    assert!(
        stale.body.contains("name=\"base\" value=\"2\""),
        "{}",
        stale.body
    );
    let cameras = central_api::db::cameras::of_device(&w.db, &w.device)
        .await
        .unwrap();
    assert_eq!(cameras[0].site.name, "Hàng Xanh A");
    // Sent again, having been told: theirs stands now.
    let again = send(
        &w,
        post(fields(&other, "2", geometry, "", "Hàng Xanh B"), &other),
    )
    .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);

    // A fixed-time plan, anchored on when the installer saw red begin ten seconds ago.
    let seen = time::OffsetDateTime::now_utc() - time::Duration::seconds(10);
    let local = seen.to_offset(time::UtcOffset::from_hms(7, 0, 0).unwrap());
    let red_at = format!(
        "{:02}:{:02}:{:02}.{}",
        local.hour(),
        local.minute(),
        local.second(),
        local.millisecond() / 100
    );
    let with_plan = |red_at: &str| {
        let mut f = fields(&admin, "3", geometry, "", "Hàng Xanh B");
        for (k, v) in [
            ("plan_green_s", "40"),
            ("plan_amber_s", "3"),
            ("plan_red_s", "37"),
            ("plan_red_at", red_at),
        ] {
            f.push((k.to_owned(), v.to_owned()));
        }
        f
    };
    let refused = send(&w, post(with_plan("half past seven"), &admin)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("plan_red_at"), "{}", refused.body);
    let planned = send(&w, post(with_plan(&red_at), &admin)).await;
    assert_eq!(planned.status, StatusCode::SEE_OTHER, "{}", planned.body);
    let cameras = central_api::db::cameras::of_device(&w.db, &w.device)
        .await
        .unwrap();
    let plan = cameras[0].signal_plan.expect("the plan saved");
    assert_eq!((plan.green_s, plan.amber_s, plan.red_s), (40.0, 3.0, 37.0));
    // Red began at `seen` (to the tenth): so the cycle's green began 43 s before, modulo 80 s.
    let red = (seen.unix_timestamp_nanos() / 100_000_000) as f64 / 10.0;
    let expected = (red - 43.0).rem_euclid(80.0);
    let apart = (plan.offset_s - expected).abs();
    assert!(
        apart.min(80.0 - apart) < 0.05,
        "{plan:?} against {expected}"
    );
    let shown = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        shown
            .body
            .contains("name=\"plan_red_s\" inputmode=\"decimal\" value=\"37\"")
            && shown.body.contains("id=\"plan-saved\""),
        "{}",
        shown.body
    );

    // The calibration as the geometry field gives it (the drawing tool writes it there, or a
    // hand): the homography made from its points, whatever `speed` said; points given out of
    // order, which would fold the road over the horizon, refused.
    let by_hand = |image: &[[f64; 2]; 4]| {
        let geometry = serde_json::json!({
            "speed": { "homography": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]] },
            "calibration": { "image": image, "road": road },
        });
        post(
            fields(&admin, "4", &geometry.to_string(), "", "Hàng Xanh B"),
            &admin,
        )
    };
    let mut folded = image;
    folded.swap(2, 3);
    let refused = send(&w, by_hand(&folded)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body.contains("one view of the road"),
        "{}",
        refused.body
    );
    let saved = send(&w, by_hand(&image)).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let cameras = central_api::db::cameras::of_device(&w.db, &w.device)
        .await
        .unwrap();
    let Some(SpeedTrapSpec::Homography(m)) = &cameras[0].geometry.speed else {
        panic!("a homography: {:?}", cameras[0].geometry.speed);
    };
    let far = protocol::geometry::Homography(*m)
        .apply([7.0, 30.0])
        .unwrap();
    assert!(
        (far[0] - 760.0).abs() < 0.5 && (far[1] - 400.0).abs() < 0.5,
        "{far:?}"
    );

    // The picture a set-up names outlives the snapshots' retention.
    let store = central_api::evidence_store::EvidenceStore::open(w.dir.path()).unwrap();
    let swept = retention::sweep(
        &w.db,
        &audit,
        &store,
        &retention::RetentionSettings::default(),
        now + time::Duration::days(31),
    )
    .await
    .unwrap();
    assert_eq!(swept.snapshots_deleted, 0);
    assert!(
        snapshots::get(&w.db, &asked.request_id)
            .await
            .unwrap()
            .is_some()
    );
}

on_both_engines!(
    a_live_check_shows_what_the_device_judged_frame_by_frame,
    a_set_up_drawn_on_the_picture_is_checked_and_a_stale_save_refused,
    an_administrator_sees_the_cameras_picture_asked_through_the_broker,
    an_administrator_keeps_officers_and_devices_from_the_pages,
    an_administrator_sets_up_a_camera_and_amends_the_schedule_from_the_pages,
    an_officer_signs_in_and_works_the_queue,
    a_misread_plate_is_corrected_from_the_page,
    a_supervisor_holds_a_case_from_the_page,
    a_supervisor_records_and_answers_a_correction_request_from_the_page,
    a_plate_the_camera_could_not_read_is_chosen_from_its_guesses,
    an_auditor_reads_but_cannot_decide_and_english_is_one_click_away,
);
