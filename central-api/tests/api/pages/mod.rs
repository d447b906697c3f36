//! The review pages through the router: sign-in, the queue and its filters, a violation with its
//! evidence, owner and proposed fine, the decisions by form (CSRF checked, roles checked), the
//! next-item flow, the language switch, and what every page is sent with.
//!
//! Long because each test walks one user's whole task through the service step by step, as
//! the user does it, and asserts at every step; a test cut into pieces would set the same
//! world up again for each and no longer show the task whole.
//! Administration pages are tested in `admin`, a camera's pictures and set-up in `camera`.

mod admin;
mod camera;

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
    assert!(fine_of(&w.db, None, &first).await.unwrap().is_none());

    // Confirmation issues the notice and goes on to the next violation pending review.
    let done = send(
        &w,
        form(Some(&reviewer), &approve, &[("csrf", &reviewer.csrf)]),
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let fine = fine_of(&w.db, None, &first).await.unwrap().unwrap();
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
    assert!(fine_of(&w.db, None, &id).await.unwrap().is_none());

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

on_both_engines!(
    an_officer_signs_in_and_works_the_queue,
    a_misread_plate_is_corrected_from_the_page,
    a_supervisor_holds_a_case_from_the_page,
    a_supervisor_records_and_answers_a_correction_request_from_the_page,
    a_plate_the_camera_could_not_read_is_chosen_from_its_guesses,
    an_auditor_reads_but_cannot_decide_and_english_is_one_click_away,
);
