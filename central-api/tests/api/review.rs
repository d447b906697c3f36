//! The review flow through the JSON API: sign-in, the queue, a violation, plate correction,
//! approval issuing the fine (with its notice in the outbox), rejection, CSRF, and the role of
//! every caller checked on every decision.
//!
//! Long because each test walks one user's whole task through the service step by step, as
//! the user does it, and asserts at every step; a test cut into pieces would set the same
//! world up again for each and no longer show the task whole.

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
};
use central_api::{
    audit::AuditLog,
    auth::{Officer, Role, hash_password},
    config::{EvidenceSettings, ReviewSettings},
    db::{Db, devices, fines::seed_missing, officers, review::outbox_pending},
    evidence_store::EvidenceStore,
    fines::FineSchedule,
    ingest::{Ingest, IngestMetrics},
    owners::{RegistryTable, process_pending},
    routes::router,
    state::AppState,
};
use protocol::{
    DeviceId, DeviceKey, EventId, PlateColour, Topic, ViolationEvent, ViolationNotice, wire,
};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{TestDb, audit_actions, on_both_engines, seed_registry};

pub(crate) const PASSWORD: &str = "Mật-khẩu-thử-nghiệm-2025";

pub(crate) struct World {
    pub app: Router,
    pub db: Db,
    pub device: DeviceId,
    pub key: DeviceKey,
    pub dir: tempfile::TempDir,
}

/// The control key the world's audit anchors are signed with.
pub(crate) fn control_key() -> central_api::control::ControlKey {
    central_api::control::ControlKey::from_key(DeviceKey::from_seed([0x43; 32]))
}

/// Where the world's audit anchors are.
pub(crate) fn anchor_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("audit-anchors.jsonl")
}

/// A second supervisor and a second administrator of every world, who confirm what the first
/// asked for (four eyes).
pub(crate) const SECOND_SUPERVISOR: &str = "supervisor.b";
pub(crate) const SECOND_ADMIN: &str = "admin.b";

pub(crate) async fn world(t: &TestDb) -> World {
    world_with(t, ReviewSettings::default()).await
}

/// [`world`] with `review` as the review side's settings.
pub(crate) async fn world_with(t: &TestDb, review: ReviewSettings) -> World {
    let db = t.db.clone();
    seed_missing(&db, &FineSchedule::shipped().unwrap())
        .await
        .unwrap();
    seed_registry(&db).await;
    let hash = hash_password(PASSWORD).unwrap();
    for role in Role::ALL {
        let officer = Officer {
            username: role.as_str().into(),
            full_name: format!("Cán bộ {}", role.as_str()),
            role,
        };
        officers::upsert(&db, &officer, &hash).await.unwrap();
    }
    // The second officers four eyes need: another supervisor, another administrator.
    for (username, role) in [
        (SECOND_SUPERVISOR, Role::Supervisor),
        (SECOND_ADMIN, Role::Admin),
    ] {
        let officer = Officer {
            username: username.into(),
            full_name: format!("Cán bộ thứ hai {}", role.as_str()),
            role,
        };
        officers::upsert(&db, &officer, &hash).await.unwrap();
    }
    let device = DeviceId::parse("hcm-q1-001").unwrap();
    let key = DeviceKey::from_seed([41; 32]);
    devices::register(&db, &device, &key.public_key(), "")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut state = AppState::new(
        db.clone(),
        EvidenceStore::open(dir.path()).unwrap(),
        EvidenceSettings::default(),
        review,
    )
    .unwrap();
    state.anchors = Some(central_api::state::Anchors {
        file: anchor_file(&dir),
        keys: vec![control_key().public_key()],
    });
    let app = router(state);
    World {
        app,
        db,
        device,
        key,
        dir,
    }
}

impl World {
    /// Stores a red-light event read as `plate` and runs the owner lookup: it is then pending
    /// review.
    pub async fn pending(&self, plate: &str) -> EventId {
        let mut event = ViolationEvent::example_now(self.device.clone(), EventId::new());
        event.plate.as_mut().unwrap().text = plate.into();
        self.pending_event(event).await
    }

    /// Confirms, as `reviewer`, a red light of 51F-123.45 (a car: 18–20 M, 4 points); returns
    /// the violation, the case id and the notice as the API answered.
    pub async fn confirmed(&self, reviewer: &Session) -> (EventId, uuid::Uuid, Value) {
        let id = self.pending("51F12345").await;
        self.approved(reviewer, id).await
    }

    /// Confirms violation `id`, pending review, as `reviewer`: the violation, the case id and
    /// the notice as the API answered.
    pub async fn approved(&self, reviewer: &Session, id: EventId) -> (EventId, uuid::Uuid, Value) {
        let (status, body) = self
            .call(reviewer.post(&format!("/api/v1/violations/{id}/approve"), json!({})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let fine_id = uuid::Uuid::parse_str(body["notice"]["fine_id"].as_str().unwrap()).unwrap();
        (id, fine_id, body["notice"].clone())
    }

    /// The error code of an approval of `id` by `reviewer` refused as a conflict (`None` if it
    /// was refused otherwise or not at all).
    pub async fn refused_approval(&self, reviewer: &Session, id: EventId) -> Option<String> {
        let (status, body) = self
            .call(reviewer.post(&format!("/api/v1/violations/{id}/approve"), json!({})))
            .await;
        (status == StatusCode::CONFLICT)
            .then(|| body["error"].as_str().map(str::to_owned))
            .flatten()
    }

    /// Stores the blob of each evidence item of `event` whose bytes are its name (as the example
    /// event's files are), as the device uploads them; a test that gives an event files of its
    /// own stores them itself.
    pub async fn store_evidence(&self, event: &ViolationEvent) {
        let store = EvidenceStore::open(self.dir.path()).unwrap();
        let named =
            |i: &&protocol::EvidenceItem| protocol::Sha256Digest::of(i.name.as_bytes()) == i.sha256;
        for item in event.evidence.iter().filter(named) {
            let bytes = bytes::Bytes::from(item.name.clone());
            let stream = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(bytes)]);
            let size = store
                .put(&item.sha256, stream, 1 << 20, "image/jpeg")
                .await
                .unwrap();
            central_api::db::evidence::insert(
                &self.db,
                central_api::db::evidence::NewBlob {
                    sha256: &item.sha256,
                    bytes: size,
                    content_type: &item.content_type,
                    storage_key: &EvidenceStore::key(&item.sha256),
                    device_id: self.device.as_str(),
                },
            )
            .await
            .unwrap();
        }
    }

    /// Stores `event` with all its evidence and runs the owner lookup.
    pub async fn pending_event(&self, event: ViolationEvent) -> EventId {
        self.store_evidence(&event).await;
        self.pending_without_evidence(event).await
    }

    /// Stores `event` and runs the owner lookup; its evidence files have not arrived.
    pub async fn pending_without_evidence(&self, event: ViolationEvent) -> EventId {
        Ingest::new(self.db.clone(), IngestMetrics::default())
            .handle(
                &Topic::Violation(self.device.clone()).to_string(),
                &wire::encode_signed(&event, &self.key).unwrap(),
            )
            .await
            .unwrap();
        process_pending(
            &self.db,
            &AuditLog::new(self.db.clone()),
            &RegistryTable::new(self.db.clone(), None),
            100,
        )
        .await
        .unwrap();
        event.event_id
    }

    /// The answer to `request`: status, headers and body as bytes.
    pub async fn call_bytes(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let body = axum::body::to_bytes(response.into_body(), 8 << 20)
            .await
            .unwrap();
        (status, headers, body.to_vec())
    }

    pub async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
        let (status, _, body) = self.call_bytes(request).await;
        let value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap()
        };
        (status, value)
    }

    pub async fn sign_in(&self, role: Role) -> Session {
        self.sign_in_as(role.as_str()).await
    }

    /// The answer to signing `username` in with `password`.
    pub async fn try_sign_in(&self, username: &str, password: &str) -> (StatusCode, Value) {
        self.call(json_request(
            "POST",
            "/api/v1/session",
            json!({ "username": username, "password": password }),
        ))
        .await
    }

    /// Signs officer `username` of the world in.
    pub async fn sign_in_as(&self, username: &str) -> Session {
        let (status, body) = self.try_sign_in(username, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Session {
            token: body["token"].as_str().unwrap().into(),
            csrf: body["csrf_token"].as_str().unwrap().into(),
        }
    }
}

/// Confirms, as `second`, the request a change was answered with (`asked`: 202 and the
/// request): the change's result as the confirmation answered it.
pub(crate) async fn confirmed_by(w: &World, second: &Session, asked: (StatusCode, Value)) -> Value {
    let (status, request) = asked;
    assert_eq!(status, StatusCode::ACCEPTED, "{request}");
    assert_eq!(request["status"], "pending", "{request}");
    let id = request["request_id"].as_str().unwrap();
    let (status, confirmed) = w
        .call(second.post(&format!("/api/v1/requests/{id}/confirm"), json!({})))
        .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["request"]["status"], "confirmed", "{confirmed}");
    confirmed["result"].clone()
}

/// A signed-in browser: the cookie, and the CSRF token the page holds.
pub(crate) struct Session {
    pub token: String,
    pub csrf: String,
}

impl Session {
    pub fn get(&self, uri: &str) -> Request<Body> {
        Request::get(uri)
            .header(header::COOKIE, format!("tve_session={}", self.token))
            .body(Body::empty())
            .unwrap()
    }

    pub fn post(&self, uri: &str, body: Value) -> Request<Body> {
        self.send("POST", uri, body)
    }

    /// A request with a JSON body, the session cookie and the CSRF token.
    pub fn send(&self, method: &str, uri: &str, body: Value) -> Request<Body> {
        let mut r = json_request(method, uri, body);
        r.headers_mut().insert(
            header::COOKIE,
            format!("tve_session={}", self.token).parse().unwrap(),
        );
        r.headers_mut()
            .insert("x-csrf-token", self.csrf.parse().unwrap());
        r
    }
}

pub(crate) fn json_request(method: &str, uri: &str, body: Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub(crate) async fn a_reviewer_approves_and_the_fine_is_issued(t: &TestDb) {
    let w = world(t).await;
    let id = w.pending("51F12345").await;
    let reviewer = w.sign_in(Role::Reviewer).await;

    let (status, queue) = w.call(reviewer.get("/api/v1/violations")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(queue["items"][0]["event_id"], id.to_string());
    assert_eq!(queue["items"][0]["plate"], "51F12345");
    let (_, plate_filtered) = w
        .call(reviewer.get("/api/v1/violations?plate=51F-123.45"))
        .await;
    assert_eq!(plate_filtered["items"].as_array().unwrap().len(), 1);
    let (_, other_kind) = w
        .call(reviewer.get("/api/v1/violations?kind=speeding"))
        .await;
    assert!(other_kind["items"].as_array().unwrap().is_empty());

    let (status, one) = w
        .call(reviewer.get(&format!("/api/v1/violations/{id}")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["owner_lookup"], "found");
    assert_eq!(one["event"]["plate"]["candidates"][0]["text"], "51F12346");

    // The cookie alone is not enough to change anything: the CSRF token must come too.
    let mut forged = reviewer.post(&format!("/api/v1/violations/{id}/approve"), json!({}));
    forged.headers_mut().remove("x-csrf-token");
    let (status, body) = w.call(forged).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("csrf"))
    );

    let (status, body) = w
        .call(reviewer.post(&format!("/api/v1/violations/{id}/approve"), json!({})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let notice = &body["notice"];
    assert_eq!(notice["citizen_id"], "079203012345");
    assert_eq!(notice["plate"], "51F-123.45");
    assert!(
        notice.get("amount_vnd").is_none(),
        "a notice decides nothing"
    );

    // The notice waits in the outbox, committed with the case.
    let outbox = outbox_pending(&w.db).await.unwrap();
    assert_eq!(outbox.len(), 1);
    let notice = wire::decode::<ViolationNotice>(outbox[0].2.as_bytes()).unwrap();
    assert_eq!(notice.event_id, id);
    assert_eq!(outbox[0].1, notice.fine_id.to_string());

    let (status, body) = w
        .call(reviewer.post(&format!("/api/v1/violations/{id}/approve"), json!({})))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("not_pending"))
    );

    let (_, one) = w
        .call(reviewer.get(&format!("/api/v1/violations/{id}")))
        .await;
    assert_eq!(one["status"], "approved");
    let actions = audit_actions(&one);
    assert_eq!(
        actions,
        ["violation.received", "owner.lookup", "violation.confirmed"]
    );

    let auditor = w.sign_in(Role::Auditor).await;
    let (status, verified) = w.call(auditor.get("/api/v1/audit/verify")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(verified["ok"], true);
}

/// An event that carries a masked copy of its image (the other vehicles hidden): the owner's
/// notice names the copy, never the original; the officers' page shows the original, and the
/// owner's view only on asking, which is audited.
async fn the_owner_is_shown_the_masked_copy_and_the_officer_the_original(t: &TestDb) {
    let w = world(t).await;
    let mut event = ViolationEvent::example_now(w.device.clone(), EventId::new());
    let mut copy = event.evidence[1].clone();
    assert_eq!(copy.name, "at.jpg");
    copy.name = "at-masked.jpg".into();
    copy.sha256 = protocol::Sha256Digest::of(b"at-masked.jpg");
    copy.masking = Some(protocol::Masking {
        of: "at.jpg".into(),
        regions: vec![protocol::VehicleBox {
            x: 40,
            y: 300,
            width: 260,
            height: 220,
        }],
        frames: None,
    });
    event.evidence.push(copy);
    let id = w.pending_event(event).await;
    let reviewer = w.sign_in(Role::Reviewer).await;

    let page = |view: &str| reviewer.get(&format!("/review/violations/{id}{view}"));
    let (status, _, officers) = w.call_bytes(page("")).await;
    assert_eq!(status, StatusCode::OK);
    let officers = String::from_utf8(officers).unwrap();
    assert!(officers.contains("data-name=\"at.jpg\""), "{officers}");
    assert!(!officers.contains("at-masked.jpg"));
    let (_, _, owners) = w.call_bytes(page("?as=citizen")).await;
    let owners = String::from_utf8(owners).unwrap();
    assert!(owners.contains("data-name=\"at-masked.jpg\""), "{owners}");
    assert!(!owners.contains("data-name=\"at.jpg\""));
    assert!(
        owners.contains("data-name=\"before.jpg\""),
        "what has no copy is shown as is"
    );

    let (_, _, notice) = w.approved(&reviewer, id).await;
    let names: Vec<&str> = notice["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"at-masked.jpg"), "{names:?}");
    assert!(!names.contains(&"at.jpg"), "{names:?}");
    // The camera's clip has no masked copy here: it shows every face and plate that passed,
    // and is not sent to the owner.
    assert!(!names.contains(&"clip.mp4"), "{names:?}");
    assert_eq!(names.len(), 4);
    let (_, one) = w
        .call(reviewer.get(&format!("/api/v1/violations/{id}")))
        .await;
    assert!(audit_actions(&one).contains(&"evidence.viewed_masked"));
}

/// A rejection and its audit entry commit together (retention purges a rejected case from its
/// review on, so who rejected it and why must be on record): while the entry cannot be written
/// the case stays pending.
async fn a_rejection_is_made_only_with_its_audit_entry(t: &TestDb) {
    let w = world(t).await;
    let id = w.pending("51F12345").await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let reject = || {
        reviewer.post(
            &format!("/api/v1/violations/{id}/reject"),
            json!({ "reason": "duplicate" }),
        )
    };
    crate::helpers::audit_writable(&w.db, false).await;
    let (status, _) = w.call(reject()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    crate::helpers::audit_writable(&w.db, true).await;
    let (_, one) = w
        .call(reviewer.get(&format!("/api/v1/violations/{id}")))
        .await;
    assert_eq!(one["status"], "pending_review", "not rejected unaudited");

    let (status, _) = w.call(reject()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, one) = w
        .call(reviewer.get(&format!("/api/v1/violations/{id}")))
        .await;
    assert_eq!(one["status"], "rejected");
    assert!(audit_actions(&one).contains(&"violation.rejected"));
}

async fn a_misread_plate_is_corrected_and_a_bad_case_rejected(t: &TestDb) {
    let w = world(t).await;
    let misread = w.pending("51F12846").await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    assert_eq!(
        w.refused_approval(&reviewer, misread).await,
        Some("no_owner".into())
    );

    let (status, body) = w
        .call(reviewer.post(
            &format!("/api/v1/violations/{misread}/plate"),
            json!({ "plate": "51F-12" }),
        ))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (status, body) = w
        .call(reviewer.post(
            &format!("/api/v1/violations/{misread}/plate"),
            json!({ "plate": "51F-123.45" }),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["owner_lookup"], "found");
    // Four eyes: the officer who corrected the plate — which names the person fined — does not
    // also confirm the violation; another officer does.
    assert_eq!(
        w.refused_approval(&reviewer, misread).await,
        Some("second_officer_needed".into())
    );
    let supervisor = w.sign_in(Role::Supervisor).await;
    let (status, _) = w
        .call(supervisor.post(&format!("/api/v1/violations/{misread}/approve"), json!({})))
        .await;
    assert_eq!(status, StatusCode::OK);

    let doubtful = w.pending("51F12345").await;
    let uri = format!("/api/v1/violations/{doubtful}/reject");
    let (status, _) = w
        .call(reviewer.post(&uri, json!({ "reason": "other" })))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = w
        .call(reviewer.post(&uri, json!({ "reason": "because" })))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = w
        .call(reviewer.post(
            &uri,
            json!({ "reason": "emergency_vehicle", "note": "xe cứu thương" }),
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, one) = w
        .call(reviewer.get(&format!("/api/v1/violations/{doubtful}")))
        .await;
    assert_eq!(one["status"], "rejected");
    assert_eq!(outbox_pending(&w.db).await.unwrap().len(), 1);
}

/// The plate's colour is part of its legal identity: a colour the officer corrects is the one
/// the owner is found by and the one the notice names.
async fn a_corrected_plate_colour_is_the_one_the_notice_names(t: &TestDb) {
    let w = world(t).await;
    // Read at night as a yellow (commercial) plate; registered white.
    let mut event = ViolationEvent::example_now(w.device.clone(), EventId::new());
    event.plate.as_mut().unwrap().colour = PlateColour::Yellow;
    let id = w.pending_event(event).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    assert_eq!(
        w.refused_approval(&reviewer, id).await,
        Some("no_owner".into())
    );
    let (status, body) = w
        .call(reviewer.post(
            &format!("/api/v1/violations/{id}/plate"),
            json!({ "plate": "51F-123.45", "colour": "white" }),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["owner_lookup"], "found");
    let (_, queue) = w.call(reviewer.get("/api/v1/violations")).await;
    assert_eq!(queue["items"][0]["plate_colour"], "white", "{queue}");
    let supervisor = w.sign_in(Role::Supervisor).await;
    let (_, _, notice) = w.approved(&supervisor, id).await;
    assert_eq!(notice["plate_colour"], "white", "{notice}");
}

async fn every_decision_checks_the_role(t: &TestDb) {
    let w = world(t).await;
    let id = w.pending("51F12345").await;
    let decisions = [
        (format!("/api/v1/violations/{id}/approve"), json!({})),
        (
            format!("/api/v1/violations/{id}/reject"),
            json!({ "reason": "duplicate" }),
        ),
        (
            format!("/api/v1/violations/{id}/plate"),
            json!({ "plate": "51F-123.45" }),
        ),
    ];
    for role in [Role::Auditor, Role::Admin] {
        let session = w.sign_in(role).await;
        for (uri, body) in &decisions {
            let (status, reply) = w.call(session.post(uri, body.clone())).await;
            assert_eq!(
                (status, reply["error"].as_str()),
                (StatusCode::FORBIDDEN, Some("forbidden")),
                "{role:?} {uri}"
            );
        }
        // Reading is open to every role.
        let (status, _) = w
            .call(session.get(&format!("/api/v1/violations/{id}")))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let reviewer = w.sign_in(Role::Reviewer).await;
    let (status, _) = w.call(reviewer.get("/api/v1/audit/verify")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for role in [Role::Auditor, Role::Supervisor, Role::Admin] {
        let (status, _) = w
            .call(w.sign_in(role).await.get("/api/v1/audit/verify"))
            .await;
        assert_eq!(status, StatusCode::OK, "{role:?}");
    }

    // No session, a wrong password, an unknown officer.
    let (status, _) = w
        .call(
            Request::get("/api/v1/violations")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for (username, password) in [("reviewer", "wrong"), ("nobody", PASSWORD)] {
        let (status, body) = w
            .call(json_request(
                "POST",
                "/api/v1/session",
                json!({ "username": username, "password": password }),
            ))
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("bad_credentials"))
        );
    }

    // An API client with the bearer token needs no CSRF token; a supervisor may decide.
    let supervisor = w.sign_in(Role::Supervisor).await;
    let mut request = json_request(
        "POST",
        &format!("/api/v1/violations/{id}/approve"),
        json!({}),
    );
    request.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {}", supervisor.token).parse().unwrap(),
    );
    let (status, body) = w.call(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Signed out, the session no longer works.
    let signed_out = Request::delete("/api/v1/session")
        .header(header::COOKIE, format!("tve_session={}", supervisor.token))
        .header("x-csrf-token", supervisor.csrf.clone())
        .body(Body::empty())
        .unwrap();
    let (status, _) = w.call(signed_out).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = w.call(supervisor.get("/api/v1/violations")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Nothing is confirmed on part of the evidence: the approval waits for every file.
async fn a_violation_is_confirmed_only_with_all_its_evidence(t: &TestDb) {
    let w = world(t).await;
    let event = ViolationEvent::example_now(w.device.clone(), EventId::new());
    let id = w.pending_without_evidence(event.clone()).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    assert_eq!(
        w.refused_approval(&reviewer, id).await.as_deref(),
        Some("evidence_missing")
    );
    let (_, _, page) = w
        .call_bytes(reviewer.get(&format!("/review/violations/{id}")))
        .await;
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("id=\"approve-waits\"") && !page.contains("id=\"approve-form\""));
    let fine = central_api::db::review::fine_of(&w.db, None, &id)
        .await
        .unwrap();
    assert!(fine.is_none(), "no case opened");
    w.store_evidence(&event).await;
    w.approved(&reviewer, id).await;
}

/// A violation past the year in which it may be sanctioned opens no case: confirming it is
/// refused, naming the bar; one a day inside the year is confirmed.
async fn a_violation_past_its_time_bar_is_not_confirmed(t: &TestDb) {
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let days_ago = |days: i64| {
        let mut event = ViolationEvent::example_now(w.device.clone(), EventId::new());
        event.occurred_at = protocol::UtcTimestamp::from_datetime(
            time::OffsetDateTime::now_utc() - time::Duration::days(days),
        );
        event
    };
    let old = w.pending_event(days_ago(367)).await;
    let (status, body) = w
        .call(reviewer.post(&format!("/api/v1/violations/{old}/approve"), json!({})))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("time_barred"))
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Article 6 clause 1 point a"),
        "{body}"
    );
    assert!(
        central_api::db::review::fine_of(&w.db, None, &old)
            .await
            .unwrap()
            .is_none()
    );
    let recent = w.pending_event(days_ago(363)).await;
    w.approved(&reviewer, recent).await;
}

/// Illegal stopping is fined by the point of the decree its zone's sign or place falls under;
/// a zone set up without saying which is reviewed, but no fine can be proposed for it.
async fn illegal_stopping_is_fined_by_what_its_zone_forbids(t: &TestDb) {
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let stood = |case| {
        let mut event = ViolationEvent::example_now(w.device.clone(), EventId::new());
        event.kind = protocol::ViolationKind::IllegalStopping;
        event.measurement = protocol::event::Measurement {
            dwell_ms: Some(95_000),
            zone_case: case,
            ..Default::default()
        };
        event
    };
    let unset = w.pending_event(stood(None)).await;
    let (status, body) = w
        .call(reviewer.post(&format!("/api/v1/violations/{unset}/approve"), json!({})))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("no_fine"))
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("does not say what it forbids"),
        "{body}"
    );
    // A car at a junction: Decree 168 Điều 6 khoản 3 điểm đ, 800,000–1,000,000 ₫, no points.
    let junction = w
        .pending_event(stood(Some(protocol::camera::ZoneCase::Junction)))
        .await;
    w.approved(&reviewer, junction).await;
    let fine = central_api::db::review::fine_of(&w.db, None, &junction)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (fine.min_vnd, fine.max_vnd, fine.amount_vnd, fine.points),
        (Some(800_000), Some(1_000_000), 900_000, 0)
    );
    assert_eq!(
        fine.legal_reference,
        "Điểm đ khoản 3 Điều 6 Nghị định số 168/2024/NĐ-CP"
    );
}

/// The queue's page holds only what the filter asks for, oldest first; its total counts up to a
/// cap, past which it says there are more, and a page past the end still says how many there are.
async fn the_queue_counts_up_to_its_cap(t: &TestDb) {
    use central_api::db::{
        review::{QueueFilter, list_counting},
        violations::Status,
    };
    let w = world(t).await;
    let mut ids = Vec::new();
    for plate in ["51F11111", "51F22222", "51F33333"] {
        ids.push(w.pending(plate).await);
    }
    let pending = QueueFilter {
        status: Some(Status::PendingReview),
        limit: 2,
        ..QueueFilter::default()
    };
    let first = list_counting(&w.db, &pending, 10).await.unwrap();
    assert_eq!((first.total, first.total_exact), (3, true));
    assert_eq!(first.items.len(), 2);
    assert!(first.items[0].occurred_at <= first.items[1].occurred_at);
    let capped = list_counting(&w.db, &pending, 2).await.unwrap();
    assert_eq!((capped.total, capped.total_exact), (2, false));
    let past = QueueFilter {
        offset: 5,
        ..pending.clone()
    };
    let past = list_counting(&w.db, &past, 10).await.unwrap();
    assert!(past.items.is_empty());
    assert_eq!(past.total, 3);
    // Each filter narrows it: a plate, and a status none of them has.
    let plate = QueueFilter {
        plate: Some("51F22222".into()),
        ..pending.clone()
    };
    let found = list_counting(&w.db, &plate, 10).await.unwrap();
    assert_eq!(found.total, 1);
    assert_eq!(found.items[0].event_id, ids[1].to_string());
    let approved = QueueFilter {
        status: Some(Status::Approved),
        ..pending
    };
    assert_eq!(list_counting(&w.db, &approved, 10).await.unwrap().total, 0);
}

on_both_engines!(
    the_queue_counts_up_to_its_cap,
    illegal_stopping_is_fined_by_what_its_zone_forbids,
    a_violation_past_its_time_bar_is_not_confirmed,
    a_violation_is_confirmed_only_with_all_its_evidence,
    a_reviewer_approves_and_the_fine_is_issued,
    a_misread_plate_is_corrected_and_a_bad_case_rejected,
    a_rejection_is_made_only_with_its_audit_entry,
    the_owner_is_shown_the_masked_copy_and_the_officer_the_original,
    a_corrected_plate_colour_is_the_one_the_notice_names,
    every_decision_checks_the_role,
);
