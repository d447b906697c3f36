//! The citizen portal in the way a phone's browser uses it: sign in through the identity
//! provider (the sandbox's, over HTTP, PKCE and a signed ID token), see one's fines, confirm or
//! dispute, pay through the gateway. Another citizen's fine is a 404 on every route.
//!
//! Long because each test walks one user's whole task through the service step by step, as
//! the user does it, and asserts at every step; a test cut into pieces would set the same
//! world up again for each and no longer show the task whole.

use citizen_notify::db::{self, Answer};

use crate::helpers::{
    EVIDENCE_URL, LINK_SECRET, OTHER, OWNER, TestDb, World, at_gateway, decide, decision, fine,
    key, notice, noticed, on_both_engines, world, world_signing,
};

/// A browser: keeps the portal's session cookie and the cookie of a sign-in in flight, follows
/// nothing by itself.
struct Browser<'a> {
    w: &'a World,
    cookie: Option<String>,
    signing_in: Option<String>,
}

/// Status, `Location`, body.
type Answered = (u16, String, String);

impl<'a> Browser<'a> {
    fn new(w: &'a World) -> Self {
        Self {
            w,
            cookie: None,
            signing_in: None,
        }
    }

    async fn send(&mut self, r: reqwest::RequestBuilder) -> Answered {
        let jar: Vec<&str> = [&self.cookie, &self.signing_in]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let r = if jar.is_empty() {
            r
        } else {
            r.header("cookie", jar.join("; "))
        };
        let response = r.send().await.unwrap();
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
            let kept = (!pair.ends_with('=')).then_some(pair.clone());
            if pair.starts_with("tve_sign_in=") {
                self.signing_in = kept;
            } else {
                self.cookie = kept;
            }
        }
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (
            response.status().as_u16(),
            location,
            response.text().await.unwrap(),
        )
    }

    async fn get(&mut self, url: &str) -> Answered {
        let url = self.absolute(url);
        self.send(self.w.http.get(url)).await
    }

    async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Answered {
        let url = self.absolute(url);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.send(
            self.w
                .http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }

    /// Posts `fields` and `files` (name, bytes) as `multipart/form-data`, as a browser sends a
    /// form with a file input.
    async fn post_multipart(
        &mut self,
        url: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &[u8])],
    ) -> Answered {
        let boundary = "----tve-test-boundary-7d41";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        for (file_name, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"document_file\"; \
                     filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let url = self.absolute(url);
        self.send(
            self.w
                .http
                .post(url)
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body),
        )
        .await
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.w.notify)
        }
    }

    /// Through the provider's sign-in page as `citizen`; returns the callback URL it sent the
    /// browser to.
    async fn sign_in(&mut self, citizen: &str) -> String {
        let callback = self.through_provider(citizen).await;
        let (status, home, body) = self.get(&callback).await;
        assert_eq!((status, home.as_str()), (303, "/"), "{body}");
        assert!(self.cookie.is_some(), "a session cookie");
        assert!(self.signing_in.is_none(), "the sign-in's cookie removed");
        callback
    }

    /// Begins a sign-in and signs in at the provider as `citizen`: the callback URL the
    /// provider sends the browser back to, not yet opened.
    async fn through_provider(&mut self, citizen: &str) -> String {
        let (status, to_idp, _) = self.get("/login").await;
        assert_eq!(status, 303);
        assert!(to_idp.contains("code_challenge_method=S256"), "{to_idp}");
        let (status, _, page) = self.get(&to_idp).await;
        assert_eq!(status, 200, "{page}");
        let request = value_of(&page, "request");
        let idp = to_idp.split("/authorize").next().unwrap().to_owned();
        let (status, callback, _) = self
            .post(
                &format!("{idp}/authorize/login"),
                &[("request", &request), ("citizen", citizen)],
            )
            .await;
        assert_eq!(status, 302);
        assert!(callback.starts_with(&format!("{}/auth/callback", self.w.notify)));
        callback
    }
}

/// Asking to pay `id` leads back to its page, and no payment is started.
async fn pay_is_refused(b: &mut Browser<'_>, t: &TestDb, id: &str, csrf: &str) {
    let (status, to, _) = b.post(&format!("/fines/{id}/pay"), &[("csrf", csrf)]).await;
    assert_eq!(
        (status, to.as_str()),
        (303, format!("/fines/{id}").as_str())
    );
    let soon = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    assert!(
        db::pending_payments(&t.db, soon).await.unwrap().is_empty(),
        "no payment was started"
    );
}

/// The value of the form field `name` in a page.
fn value_of(page: &str, name: &str) -> String {
    page.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no field {name} in {page}"))
        .to_owned()
}

async fn a_citizen_signs_in_answers_the_notice_and_pays_the_decision(t: &TestDb) {
    let w = world(t).await;
    let (n, id) = noticed(t).await;
    let mut b = Browser::new(&w);
    let (_, _, landing) = b.get("/").await;
    assert!(landing.contains("/login"), "{landing}");
    b.sign_in(OWNER).await;

    let (status, _, home) = b.get("/").await;
    assert_eq!(status, 200);
    assert!(home.contains("Nguyễn Văn An"), "{home}");
    assert!(home.contains(&format!("/fines/{id}")), "{home}");
    assert!(
        !home.contains("19.000.000"),
        "a notice names no amount: {home}"
    );

    // The notice: what was seen, the provision, by when to answer; nothing to pay.
    let (status, _, page) = b.get(&format!("/fines/{id}")).await;
    assert_eq!(status, 200);
    for shown in [
        "Thông báo vi phạm hành chính về trật tự, an toàn giao thông đường bộ",
        "51F-123.45",
        "Không chấp hành hiệu lệnh",
        "Ngã tư Hàng Xanh",
        "26/11/2025 15:34:56",
        "Điểm b khoản 9 Điều 6",
        "Thời hạn đến giải quyết",
        "Tôi là người điều khiển",
    ] {
        assert!(page.contains(shown), "{shown} in {page}");
    }
    for absent in ["19.000.000", "QĐ-XPHC", "id=\"pay\""] {
        assert!(!page.contains(absent), "a notice shows no {absent}: {page}");
    }
    // The evidence: each file through a signed link that opens only it.
    let img = page
        .split("<img src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    let at_jpg = &n.evidence[0];
    assert!(
        img.starts_with(&format!("{EVIDENCE_URL}/evidence/{}?", at_jpg.sha256)),
        "{img}"
    );
    let q: std::collections::BTreeMap<String, String> =
        form_urlencoded::parse(img.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(
        protocol::evidence_link::verify(
            LINK_SECRET.as_bytes(),
            &at_jpg.sha256,
            &q["ct"],
            q["exp"].parse().unwrap(),
            &q["sig"],
            protocol::UtcTimestamp::now(),
        ),
        Ok(())
    );
    assert!(page.contains("<video controls"), "{page}");
    let csrf = value_of(&page, "csrf");
    // A notice is never paid.
    pay_is_refused(&mut b, t, &id, &csrf).await;
    let (status, to, _) = b
        .post(&format!("/fines/{id}/confirm"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        (status, to.as_str()),
        (303, format!("/fines/{id}").as_str())
    );
    assert_eq!(
        db::answer_of(&t.db, key(), &id).await.unwrap().map(|a| a.0),
        Some(Answer::Confirmed)
    );

    // The officer with sanctioning authority decides: now there is an amount, and a payment.
    let d = decision(&n);
    decide(t, &d).await;
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    for shown in [
        "Quyết định xử phạt vi phạm hành chính",
        "000001/QĐ-XPHC",
        "19.000.000",
        "Số điểm GPLX bị trừ",
        "id=\"pay\"",
    ] {
        assert!(page.contains(shown), "{shown} in {page}");
    }
    let (status, to_gateway, _) = b
        .post(&format!("/fines/{id}/pay"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    assert!(
        to_gateway.starts_with(&w.settings.gateway_url),
        "{to_gateway}"
    );
    let paid = at_gateway(&w, &to_gateway, "approve").await;
    assert!(paid.page.1.contains("Đã thanh toán"), "{}", paid.page.1);
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    assert!(page.contains("id=\"paid\""), "{page}");
    assert!(!page.contains("id=\"pay\""), "no second payment: {page}");

    // Signing out ends the session; the old cookie opens nothing.
    let old = b.cookie.clone();
    let (status, _, _) = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert_eq!(b.cookie, None);
    b.cookie = old;
    let (status, to, _) = b.get(&format!("/fines/{id}")).await;
    assert_eq!((status, to.as_str()), (303, "/login"));
}

/// An explanation with a document attached: the file taken for what its bytes are, kept with
/// the answer and named in its report to central; a file that is no PDF, JPEG or PNG refused
/// with the reason, nothing answered.
async fn an_explanation_goes_with_its_document_and_a_disguised_file_is_refused(t: &TestDb) {
    let w = world(t).await;
    let (_, id) = noticed(t).await;
    let mut b = Browser::new(&w);
    // Without a session the body is not read at all: sent to sign in, whatever it holds.
    let (status, to, _) = b
        .send(
            w.http
                .post(format!("{}/fines/{id}/dispute", w.notify))
                .header("content-type", "multipart/form-data; boundary=x")
                .body("not multipart at all"),
        )
        .await;
    assert_eq!((status, to.as_str()), (303, "/login"));
    b.sign_in(OWNER).await;
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    assert!(page.contains("enctype=\"multipart/form-data\""), "{page}");
    assert!(page.contains("name=\"document_file\""), "{page}");
    let csrf = value_of(&page, "csrf");
    let fields = [
        ("csrf", csrf.as_str()),
        ("reason", "Tôi đã bán xe trước ngày vi phạm."),
    ];
    let dispute = format!("/fines/{id}/dispute");

    let (status, _, refused) = b
        .post_multipart(
            &dispute,
            &fields,
            &[("hop-dong.pdf", b"<html><script>x</script>")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(refused.contains("PDF, JPEG hoặc PNG"), "{refused}");
    assert_eq!(db::answer_of(&t.db, key(), &id).await.unwrap(), None);

    // An empty file input beside the document is no document.
    let pdf = b"%PDF-1.4\n% hop dong\n%%EOF\n";
    let (status, _, _) = b
        .post_multipart(
            &dispute,
            &fields,
            &[("", b""), ("C:\\Scan\\hop-dong.pdf", pdf)],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        db::answer_of(&t.db, key(), &id).await.unwrap().map(|a| a.0),
        Some(Answer::Disputed)
    );
    let documents = db::documents_of_answer(&t.db, &id).await.unwrap();
    assert_eq!(documents.len(), 1);
    assert_eq!(
        (
            documents[0].name.as_str(),
            documents[0].content_type.as_str()
        ),
        ("hop-dong.pdf", "application/pdf")
    );
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    assert!(page.contains("Tài liệu đính kèm: hop-dong.pdf"), "{page}");
    // What the portal holds about the citizen names it.
    let (status, _, data) = b.get("/my-data.json").await;
    assert_eq!(status, 200);
    let data: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(data["fines"][0]["documents"][0]["name"], "hop-dong.pdf");
}

/// A notice to an organisation, answered by the person who answers for it: the organisation is
/// named as the owner, told it must name the driver, and its acknowledgement without one reads
/// as that; its decision names it and deducts no points.
async fn an_organisation_is_told_to_name_its_driver_and_its_decision_takes_no_points(t: &TestDb) {
    let w = world(t).await;
    let organisation = protocol::Organisation {
        enterprise_code: protocol::EnterpriseCode::parse("0312345678").unwrap(),
        name: "Công ty TNHH Vận tải Thử Nghiệm".into(),
        address: "100 Điện Biên Phủ, TP.HCM".into(),
    };
    let n = protocol::ViolationNotice {
        organisation: Some(organisation.clone()),
        ..notice()
    };
    let body = protocol::wire::encode(&n).unwrap();
    db::store_notice(&t.db, key(), &n, &body, &[])
        .await
        .unwrap();
    let id = n.fine_id.hyphenated().to_string();
    let mut b = Browser::new(&w);
    b.sign_in(OWNER).await;
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    for shown in [
        "id=\"organisation\"",
        "Công ty TNHH Vận tải Thử Nghiệm",
        "0312345678",
        "Tổ chức có nghĩa vụ xác định người đã điều khiển phương tiện",
        "Điểm b khoản 8 Điều 47",
        "không xác định người điều khiển",
        "Người điều khiển phương tiện của tổ chức",
    ] {
        assert!(page.contains(shown), "{shown} in {page}");
    }
    assert!(
        !page.contains("Tôi là người điều khiển"),
        "an organisation does not drive: {page}"
    );
    let csrf = value_of(&page, "csrf");
    let (status, _, _) = b
        .post(&format!("/fines/{id}/confirm"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    assert!(
        page.contains("Tổ chức đã thừa nhận vi phạm và không xác định người điều khiển"),
        "{page}"
    );
    let d = protocol::PenaltyDecision {
        amount_vnd: 38_000_000,
        points: 0,
        points_left: 12,
        organisation: Some(organisation),
        ..decision(&n)
    };
    decide(t, &d).await;
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    for shown in [
        "id=\"sanctioned\"",
        "38.000.000",
        "Không áp dụng (tổ chức không có giấy phép lái xe)",
    ] {
        assert!(page.contains(shown), "{shown} in {page}");
    }
    assert!(!page.contains("/12)"), "no licence points: {page}");
}

async fn an_explanation_gets_its_answer_and_a_closed_case_is_not_paid(t: &TestDb) {
    let w = world(t).await;
    let (n, id) = noticed(t).await;
    let mut b = Browser::new(&w);
    b.sign_in(OWNER).await;
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    let csrf = value_of(&page, "csrf");
    b.post(
        &format!("/fines/{id}/dispute"),
        &[("csrf", &csrf), ("reason", "Hôm đó xe tôi ở Đà Nẵng.")],
    )
    .await;
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    assert!(
        !page.contains("id=\"pay\""),
        "no payment while disputed: {page}"
    );

    let answer = |outcome, text: &str| protocol::FineResolution {
        resolution_id: uuid::Uuid::now_v7(),
        fine_id: n.fine_id,
        decided_at: protocol::UtcTimestamp::now(),
        outcome,
        answer: text.into(),
        ground: protocol::ResolutionGround::Dispute,
    };
    let upheld = answer(
        protocol::DisputeOutcome::Upheld,
        "Ảnh cho thấy rõ xe <b>của bạn</b> vượt đèn đỏ.",
    );
    db::store_resolution(&t.db, key(), &upheld, b"{}")
        .await
        .unwrap();
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    assert!(page.contains("id=\"resolution\""), "{page}");
    assert!(page.contains("không chấp nhận giải trình"), "{page}");
    assert!(
        page.contains("&lt;b&gt;của bạn&lt;/b&gt;"),
        "the answer is escaped: {page}"
    );
    assert!(
        !page.contains("id=\"pay\""),
        "nothing to pay before the decision: {page}"
    );
    decide(t, &decision(&n)).await;
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    assert!(page.contains("id=\"pay\""), "a decision is paid: {page}");

    // Reconsidered a second later: the latest answer stands.
    let mut cancelled = answer(
        protocol::DisputeOutcome::Cancelled,
        "Sau khi xác minh, quyết định được hủy.",
    );
    cancelled.decided_at =
        protocol::UtcTimestamp::from_unix_ms(upheld.decided_at.unix_ms() + 1_000).unwrap();
    db::store_resolution(&t.db, key(), &cancelled, b"{}")
        .await
        .unwrap();
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    assert!(page.contains("không phải nộp phạt"), "{page}");
    assert!(!page.contains("id=\"pay\""), "{page}");
    let (_, _, home) = b.get("/").await;
    assert!(home.contains("Đã hủy"), "{home}");
    pay_is_refused(&mut b, t, &id, &csrf).await;
}

/// A case central closed itself (time-barred undecided, or moved to the person the owner
/// named) is shown closed, with why, asks for no answer and takes none.
async fn a_case_central_closed_is_shown_closed_and_takes_no_answer(t: &TestDb) {
    let w = world(t).await;
    let (n, id) = noticed(t).await;
    let mut b = Browser::new(&w);
    b.sign_in(OWNER).await;
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    assert!(
        page.contains("id=\"dispute\""),
        "the notice asks for an answer: {page}"
    );
    let csrf = value_of(&page, "csrf");
    let barred = protocol::FineResolution {
        resolution_id: uuid::Uuid::now_v7(),
        fine_id: n.fine_id,
        decided_at: protocol::UtcTimestamp::now(),
        outcome: protocol::DisputeOutcome::Cancelled,
        answer: "Vụ việc đã hết thời hiệu xử phạt vi phạm hành chính.".into(),
        ground: protocol::ResolutionGround::TimeBarred,
    };
    let bytes = protocol::wire::encode(&barred).unwrap();
    db::store_resolution(&t.db, key(), &barred, &bytes)
        .await
        .unwrap();
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    assert!(page.contains("hết thời hiệu xử phạt"), "{page}");
    assert!(
        !page.contains("Kết quả xem xét giải trình"),
        "no explanation was made: {page}"
    );
    for form in [
        "id=\"dispute\"",
        "id=\"confirm\"",
        "id=\"driver-form\"",
        "id=\"pay\"",
    ] {
        assert!(!page.contains(form), "{form} on a closed case: {page}");
    }
    let (status, _, refused) = b
        .post(
            &format!("/fines/{id}/dispute"),
            &[("csrf", &csrf), ("reason", "Tôi không vi phạm.")],
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused.contains("Vụ việc đã kết thúc"), "{refused}");
    assert_eq!(
        db::answer_of(&t.db, key(), &id).await.unwrap(),
        None,
        "no answer taken"
    );
    let (_, _, home) = b.get("/").await;
    assert!(home.contains("Đã hủy"), "{home}");
}

async fn another_citizen_finds_nothing_on_any_route(t: &TestDb) {
    let w = world(t).await;
    let (_, id) = fine(t).await;
    let mut b = Browser::new(&w);
    b.sign_in(OTHER).await;
    let (_, _, home) = b.get("/").await;
    assert!(!home.contains(&id), "{home}");
    let (_, _, own_home) = b.get("/").await;
    let csrf = value_of(&own_home, "csrf");
    let (status, _, missing) = b.get("/fines/no-such-fine").await;
    assert_eq!(status, 404);
    let (status, _, theirs) = b.get(&format!("/fines/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(theirs, missing, "another's fine reads as no fine at all");
    for action in ["confirm", "dispute", "pay"] {
        let (status, _, body) = b
            .post(
                &format!("/fines/{id}/{action}"),
                &[("csrf", &csrf), ("reason", "không phải xe của tôi")],
            )
            .await;
        assert_eq!(status, 404, "{action}");
        assert_eq!(body, missing, "{action}");
    }
    assert_eq!(db::answer_of(&t.db, key(), &id).await.unwrap(), None);
    assert!(db::paid_payment_of(&t.db, &id).await.unwrap().is_none());
}

async fn forms_need_a_session_its_csrf_token_and_a_reason(t: &TestDb) {
    let w = world(t).await;
    let (_, id) = noticed(t).await;
    let mut anonymous = Browser::new(&w);
    let (status, to, _) = anonymous
        .post(&format!("/fines/{id}/confirm"), &[("csrf", "x")])
        .await;
    assert_eq!((status, to.as_str()), (303, "/login"));

    let mut b = Browser::new(&w);
    b.sign_in(OWNER).await;
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    let csrf = value_of(&page, "csrf");
    let (status, _, _) = b
        .post(
            &format!("/fines/{id}/confirm"),
            &[("csrf", "not the token")],
        )
        .await;
    assert_eq!(status, 403);
    let (status, _, _) = b
        .post(
            &format!("/fines/{id}/dispute"),
            &[("csrf", &csrf), ("reason", "  ")],
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(db::answer_of(&t.db, key(), &id).await.unwrap(), None);

    let reason = "<script>alert(1)</script> Tôi đã bán xe này";
    let (status, _, _) = b
        .post(
            &format!("/fines/{id}/dispute"),
            &[("csrf", &csrf), ("reason", reason)],
        )
        .await;
    assert_eq!(status, 303);
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt; Tôi đã bán xe này"),
        "{page}"
    );
    assert!(!page.contains("<script>"), "escaped: {page}");
    // Answered once: a confirmation after the dispute changes nothing.
    b.post(&format!("/fines/{id}/confirm"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        db::answer_of(&t.db, key(), &id).await.unwrap().map(|a| a.0),
        Some(Answer::Disputed)
    );
}

/// (With a provider signing EdDSA; the other tests' provider signs RS256.)
async fn a_callback_is_good_once_and_only_with_its_own_code(t: &TestDb) {
    let w = world_signing(t, sandbox::oidc::Algorithm::EdDsa).await;
    let mut b = Browser::new(&w);
    let callback = b.sign_in(OWNER).await;
    let mut replay = Browser::new(&w);
    let (status, _, _) = replay.get(&callback).await;
    assert_eq!(status, 400, "a used state is not a sign-in");
    assert_eq!(replay.cookie, None);

    let (status, _, _) = replay
        .get("/auth/callback?code=made-up&state=made-up")
        .await;
    assert_eq!(status, 400);
    // A fresh sign-in whose code is swapped for a made-up one: the provider refuses it.
    let (_, to_idp, _) = replay.get("/login").await;
    let state = to_idp
        .split("state=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .unwrap()
        .to_owned();
    let (status, _, _) = replay
        .get(&format!("/auth/callback?code=made-up&state={state}"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(replay.cookie, None);
}

/// Login CSRF: a callback address made in one browser (someone's own sign-in, slipped to a
/// citizen in a link) signs nobody in in another; the browser that began it still can.
async fn a_sign_in_finishes_only_in_the_browser_that_began_it(t: &TestDb) {
    let w = world(t).await;
    let mut attacker = Browser::new(&w);
    let callback = attacker.through_provider(OTHER).await;
    let mut victim = Browser::new(&w);
    let (status, _, page) = victim.get(&callback).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("not begun in this browser"), "{page}");
    assert_eq!(victim.cookie, None, "no session in the victim's browser");
    // A sign-in begun in the victim's browser does not stand for another one either.
    let (status, _, _) = victim.get("/login").await;
    assert_eq!(status, 303);
    assert!(victim.signing_in.is_some());
    let (status, _, _) = victim.get(&callback).await;
    assert_eq!(status, 400);
    assert_eq!(victim.cookie, None);
    // The browser that began it finishes it.
    let (status, home, body) = attacker.get(&callback).await;
    assert_eq!((status, home.as_str()), (303, "/"), "{body}");
    assert!(attacker.cookie.is_some());
}

async fn the_owner_names_the_driver_and_a_refused_declaration_is_made_again(t: &TestDb) {
    let w = world(t).await;
    let (_, id) = noticed(t).await;
    let mut b = Browser::new(&w);
    b.sign_in(OWNER).await;
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    assert!(page.contains("id=\"driver-form\""), "{page}");
    let csrf = value_of(&page, "csrf");
    let driver = |name: &'static str, id: &'static str, licence: &'static str| {
        [
            ("driver_name", name),
            ("driver_id", id),
            ("licence_no", licence),
        ]
    };
    // Written wrong: refused by the portal itself, nothing answered.
    for wrong in [
        driver("", "079095001234", "790123456789"),
        driver("Trần Thị Bình", "79095001234", "790123456789"),
        driver("Trần Thị Bình", "079095001234", "AB0123456789"),
    ] {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(wrong);
        let (status, _, _) = b.post(&format!("/fines/{id}/driver"), &form).await;
        assert_eq!(status, 422, "{wrong:?}");
    }
    assert_eq!(db::answer_of(&t.db, key(), &id).await.unwrap(), None);

    let mut form = vec![("csrf", csrf.as_str())];
    form.extend(driver(" Trần  Thị Bình ", "079095001234", "790123456789"));
    let (status, _, _) = b.post(&format!("/fines/{id}/driver"), &form).await;
    assert_eq!(status, 303);
    assert_eq!(
        db::answer_of(&t.db, key(), &id).await.unwrap(),
        Some((Answer::DriverNamed, "Trần Thị Bình".to_owned()))
    );
    assert_eq!(
        db::reports_of(&t.db, &id).await.unwrap(),
        [("driver_named".to_owned(), "pending".to_owned())]
    );
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    assert!(page.contains("Bạn đã khai báo người điều khiển"), "{page}");
    assert!(!page.contains("id=\"confirm\""), "answered once: {page}");
    let (_, _, home) = b.get("/").await;
    assert!(home.contains("đã khai báo người điều khiển"), "{home}");
    assert!(!home.contains("trả lời trước"), "{home}");

    // Central refuses it (the population database knows no such person): the answer is taken
    // back, the owner is told why and may answer again.
    db::answer_refused(&t.db, &id, "driver_named", "unknown_citizen")
        .await
        .unwrap();
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    assert!(page.contains("id=\"refused\""), "{page}");
    assert!(page.contains("Cơ sở dữ liệu quốc gia về dân cư"), "{page}");
    assert!(page.contains("id=\"confirm\""), "{page}");
    let (status, _, _) = b
        .post(&format!("/fines/{id}/confirm"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        db::answer_of(&t.db, key(), &id).await.unwrap().map(|a| a.0),
        Some(Answer::Confirmed)
    );
}

/// Naming people the population database does not know, over and over, is asking it
/// questions: after three refusals the owner names a person in person; other answers stay open.
async fn naming_people_online_stops_after_three_refusals(t: &TestDb) {
    let w = world(t).await;
    let (_, id) = noticed(t).await;
    let mut b = Browser::new(&w);
    b.sign_in(OWNER).await;
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    let csrf = value_of(&page, "csrf");
    let name = async |b: &mut Browser| {
        b.post(
            &format!("/fines/{id}/driver"),
            &[
                ("csrf", csrf.as_str()),
                ("driver_name", "Trần Thị Bình"),
                ("driver_id", "079095001234"),
                ("licence_no", "790123456789"),
            ],
        )
        .await
        .0
    };
    for _ in 0..3 {
        assert_eq!(name(&mut b).await, 303);
        db::answer_refused(&t.db, &id, "driver_named", "unknown_citizen")
            .await
            .unwrap();
    }
    assert_eq!(name(&mut b).await, 422, "a fourth naming online");
    assert_eq!(db::answer_of(&t.db, key(), &id).await.unwrap(), None);
    let (status, _, _) = b
        .post(&format!("/fines/{id}/confirm"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 303, "the owner may still answer as the driver");
}

async fn the_person_named_answers_for_themselves_and_nobody_answers_late(t: &TestDb) {
    let w = world(t).await;
    let mut b = Browser::new(&w);
    b.sign_in(OWNER).await;
    let store = |n: protocol::ViolationNotice| async move {
        let body = protocol::wire::encode(&n).unwrap();
        db::store_notice(&t.db, key(), &n, &body, &[])
            .await
            .unwrap();
        n.fine_id.hyphenated().to_string()
    };

    // A notice to a person the owner named as the driver: no naming another in turn.
    let mut named = notice();
    named.named_as = Some(protocol::NamedAs::Driver);
    let id = store(named).await;
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    assert!(page.contains("id=\"named\""), "{page}");
    assert!(!page.contains("id=\"driver-form\""), "{page}");
    assert!(page.contains("id=\"confirm\""), "{page}");
    let csrf = value_of(&page, "csrf");
    let (status, _, _) = b
        .post(
            &format!("/fines/{id}/driver"),
            &[
                ("csrf", &csrf),
                ("driver_name", "Nguyễn Văn An"),
                ("driver_id", "001099000001"),
                ("licence_no", "790123456789"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(db::answer_of(&t.db, key(), &id).await.unwrap(), None);

    // A notice whose time to answer has passed: come in person; nothing is taken online.
    let mut late = notice();
    let now = protocol::UtcTimestamp::now().unix_ms();
    late.issued_at = protocol::UtcTimestamp::from_unix_ms(now - 30 * 86_400_000).unwrap();
    late.answer_due = protocol::UtcTimestamp::from_unix_ms(now - 10 * 86_400_000).unwrap();
    let id = store(late).await;
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    assert!(page.contains("id=\"late\""), "{page}");
    assert!(!page.contains("id=\"confirm\""), "{page}");
    for action in ["confirm", "dispute"] {
        let (status, _, _) = b
            .post(
                &format!("/fines/{id}/{action}"),
                &[("csrf", &csrf), ("reason", "Tôi không đi qua đó")],
            )
            .await;
        assert_eq!(status, 422, "{action}");
    }
    assert_eq!(db::answer_of(&t.db, key(), &id).await.unwrap(), None);
}

async fn the_owner_declares_the_vehicle_sold_or_stolen_and_a_buyer_may_name_the_driver(t: &TestDb) {
    let w = world(t).await;
    let mut b = Browser::new(&w);
    b.sign_in(OWNER).await;
    let (_, sold_id) = noticed(t).await;
    let (_, _, page) = b.get(&format!("/fines/{sold_id}")).await;
    for form in ["sold-form", "stolen-form", "driver-form"] {
        assert!(page.contains(&format!("id=\"{form}\"")), "{form}: {page}");
    }
    let csrf = value_of(&page, "csrf");
    let sale = |day: &'static str| {
        [
            ("driver_name", "Trần Thị Bình"),
            ("driver_id", "079095001234"),
            ("day", day),
            ("document", "Hợp đồng số 1234/2026, công chứng Quận 1"),
        ]
    };
    // A day in the future, or none: refused here.
    for day in ["2999-01-01", ""] {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(sale(day));
        let (status, _, _) = b.post(&format!("/fines/{sold_id}/sold"), &form).await;
        assert_eq!(status, 422, "{day}");
    }
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend(sale("2026-01-15"));
    let (status, _, _) = b.post(&format!("/fines/{sold_id}/sold"), &form).await;
    assert_eq!(status, 303);
    assert_eq!(
        db::answer_of(&t.db, key(), &sold_id).await.unwrap(),
        Some((Answer::VehicleSold, "Trần Thị Bình (2026-01-15)".to_owned()))
    );

    let (_, stolen_id) = noticed(t).await;
    let (status, _, _) = b
        .post(
            &format!("/fines/{stolen_id}/stolen"),
            &[
                ("csrf", &csrf),
                ("day", "2026-11-30"),
                ("document", "Công an phường Bến Thành, biên bản số 45/BB"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, _, page) = b.get(&format!("/fines/{stolen_id}")).await;
    assert!(page.contains("xe bị mất cắp"), "{page}");

    // The buyer's notice: they may name the driver, not declare the sale or a theft.
    let mut to_buyer = notice();
    to_buyer.named_as = Some(protocol::NamedAs::Buyer);
    let body = protocol::wire::encode(&to_buyer).unwrap();
    db::store_notice(&t.db, key(), &to_buyer, &body, &[])
        .await
        .unwrap();
    let buyer_id = to_buyer.fine_id.hyphenated().to_string();
    let (_, _, page) = b.get(&format!("/fines/{buyer_id}")).await;
    assert!(page.contains("đã bán xe cho bạn"), "{page}");
    assert!(page.contains("id=\"driver-form\""), "{page}");
    assert!(!page.contains("id=\"sold-form\""), "{page}");
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend(sale("2026-01-15"));
    let (status, _, _) = b.post(&format!("/fines/{buyer_id}/sold"), &form).await;
    assert_eq!(status, 422);
    assert_eq!(db::answer_of(&t.db, key(), &buyer_id).await.unwrap(), None);
}

/// The citizen takes away what the portal holds about them (Law 91/2025/QH15, Article 4): their
/// notices with the decision, their answer and payments; nothing of another citizen's; each
/// export recorded and listed in the next.
async fn a_citizen_downloads_what_the_portal_holds_about_them(t: &TestDb) {
    let w = world(t).await;
    let (n, id) = fine(t).await;
    let mut others = notice();
    others.citizen_id = protocol::CitizenId::parse(OTHER).unwrap();
    let body = protocol::wire::encode(&others).unwrap();
    db::store_notice(&t.db, key(), &others, &body, &[])
        .await
        .unwrap();
    let mut b = Browser::new(&w);
    let (status, to, _) = b.get("/my-data.json").await;
    assert_eq!((status, to.as_str()), (303, "/login"), "signed in only");

    b.sign_in(OWNER).await;
    let (_, _, home) = b.get("/").await;
    assert!(home.contains("href=\"/my-data.json\""), "{home}");
    assert!(home.contains("href=\"/my-data.pdf\""), "{home}");
    let (_, _, page) = b.get(&format!("/fines/{id}")).await;
    let csrf = value_of(&page, "csrf");
    let (status, _, _) = b
        .post(
            &format!("/fines/{id}/dispute"),
            &[("csrf", &csrf), ("reason", "Tôi không đi qua ngã tư này")],
        )
        .await;
    assert_eq!(status, 303);

    let (status, _, first) = b.get("/my-data.json").await;
    assert_eq!(status, 200, "{first}");
    let (status, _, second) = b.get("/my-data.json").await;
    assert_eq!(status, 200);
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    let v: serde_json::Value = serde_json::from_str(&second).unwrap();
    assert_eq!(v["citizen_id"], OWNER);
    assert_eq!(v["name"], "Nguyễn Văn An");
    assert!(v["about"].as_str().unwrap().contains("91/2025/QH15"));
    let fines = v["fines"].as_array().unwrap();
    assert_eq!(fines.len(), 1, "only their own: {v}");
    let fine = &fines[0];
    assert_eq!(fine["notice"]["fine_id"], id);
    assert_eq!(fine["notice"]["plate"], n.plate);
    assert_eq!(fine["decision"]["decision_number"], "000001/QĐ-XPHC");
    assert_eq!(fine["answer"]["kind"], "disputed");
    assert_eq!(fine["answer"]["text"], "Tôi không đi qua ngã tư này");
    assert!(fine["payments"].as_array().unwrap().is_empty());
    assert!(
        !v.to_string()
            .contains(&others.fine_id.hyphenated().to_string())
    );
    assert_eq!(first["exports"].as_array().unwrap().len(), 1);
    let exports = v["exports"].as_array().unwrap();
    assert_eq!(exports.len(), 2, "each export recorded: {v}");
    assert!(exports.iter().all(|e| e["format"] == "json"));

    // The same on A4 paper, recorded too.
    let response = w
        .http
        .get(format!("{}/my-data.pdf", w.notify))
        .header("cookie", b.cookie.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".pdf")
    );
    let pdf = response.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    if let Ok(dump) = std::env::var("TVE_DUMP") {
        let _ = std::fs::write(format!("{dump}/my-data.pdf"), &pdf);
    }
    assert!(pdf.len() > 2_000);
    // However long a case's history, none of it runs off the page: 80 payment attempts take a
    // second page.
    for i in 0..80 {
        db::insert_payment(
            &t.db,
            &db::Payment {
                txn_ref: format!("TVE{i:05}"),
                fine_id: id.clone(),
                citizen_id: OWNER.into(),
                amount_vnd: 19_000_000,
                create_date: "20261205100000".into(),
                created_at: time::OffsetDateTime::now_utc(),
                state: db::PaymentState::Pending,
                transaction_no: None,
                pay_date: None,
            },
        )
        .await
        .unwrap();
    }
    let long = w
        .http
        .get(format!("{}/my-data.pdf", w.notify))
        .header("cookie", b.cookie.clone().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&long);
    let pages: usize = text
        .split("/Count ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(pages >= 2, "{pages} page(s)");
    // Every line starts inside the page's bottom margin (`x y Td` in the content streams).
    let lowest = text
        .split(" Td")
        .filter_map(|before| before.split_whitespace().last()?.parse::<f32>().ok())
        .fold(f32::MAX, f32::min);
    assert!(lowest >= 40.0, "a line at y = {lowest}");
    let (_, _, third) = b.get("/my-data.json").await;
    let third: serde_json::Value = serde_json::from_str(&third).unwrap();
    let formats: Vec<&str> = third["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["format"].as_str().unwrap())
        .collect();
    assert_eq!(formats, ["json", "json", "pdf", "pdf", "json"]);
}

on_both_engines!(
    an_explanation_goes_with_its_document_and_a_disguised_file_is_refused,
    an_organisation_is_told_to_name_its_driver_and_its_decision_takes_no_points,
    naming_people_online_stops_after_three_refusals,
    a_citizen_downloads_what_the_portal_holds_about_them,
    a_sign_in_finishes_only_in_the_browser_that_began_it,
    the_owner_declares_the_vehicle_sold_or_stolen_and_a_buyer_may_name_the_driver,
    the_owner_names_the_driver_and_a_refused_declaration_is_made_again,
    the_person_named_answers_for_themselves_and_nobody_answers_late,
    an_explanation_gets_its_answer_and_a_closed_case_is_not_paid,
    a_case_central_closed_is_shown_closed_and_takes_no_answer,
    a_citizen_signs_in_answers_the_notice_and_pays_the_decision,
    another_citizen_finds_nothing_on_any_route,
    forms_need_a_session_its_csrf_token_and_a_reason,
    a_callback_is_good_once_and_only_with_its_own_code,
    every_page_runs_no_script_is_never_framed_and_is_kept_by_no_cache,
);

/// The portal's pages, a citizen's fine included: a policy that runs no script and lets
/// images and clips come only from the portal and central's evidence links, forms go only to
/// the portal and the payment gateway; never framed, sniffed or cached.
async fn every_page_runs_no_script_is_never_framed_and_is_kept_by_no_cache(t: &TestDb) {
    let w = world(t).await;
    let (_, id) = fine(t).await;
    let mut b = Browser::new(&w);
    b.sign_in(OWNER).await;
    let gateway = reqwest::Url::parse(&w.settings.gateway_url).unwrap();
    let gateway = gateway.origin().ascii_serialization();
    for path in [
        "/".to_owned(),
        format!("/fines/{id}"),
        "/no-such-page".into(),
    ] {
        let mut r = w.http.get(format!("{}{path}", w.notify));
        if let Some(c) = &b.cookie {
            r = r.header("cookie", c);
        }
        let response = r.send().await.unwrap();
        let h = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let csp = h("content-security-policy");
        assert!(csp.starts_with("default-src 'none';"), "{path}: {csp}");
        assert!(!csp.contains("script-src"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            csp.contains(&format!("img-src 'self' {EVIDENCE_URL};")),
            "{path}: {csp}"
        );
        assert!(
            csp.contains(&format!("form-action 'self' {gateway};")),
            "{path}: {csp}"
        );
        assert_eq!(h("x-frame-options"), "DENY", "{path}");
        assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(h("cache-control"), "no-store", "{path}");
        // Styles come from the portal's own stylesheet: no inline style, in the policy or
        // the page.
        assert!(csp.contains("style-src 'self';"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        let page = response.text().await.unwrap();
        assert!(
            !page.contains("<style") && !page.contains("style=\""),
            "{path}: {page}"
        );
        assert!(
            page.contains(r#"href="/assets/portal.css""#),
            "{path}: {page}"
        );
    }
    let css = w
        .http
        .get(format!("{}/assets/portal.css", w.notify))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(css.text().await.unwrap().contains("font-family"));
}
