//! Each test makes its own world: a fresh PostgreSQL database or SQLite file.

use std::{collections::BTreeMap, sync::Arc};

use citizen_notify::{
    config::{DeliverySettings, IntakeSettings, PaymentSettings, PortalSettings},
    db::MIGRATIONS,
    routes::{AppState, router},
    signin::Oidc,
};
use protocol::{
    CitizenId, EventId, PenaltyDecision, PlateColour, UtcTimestamp, VehicleClass, ViolationKind,
    ViolationNotice as FineNotice,
};
use sandbox::{
    oidc::{Citizen, Client, IdentityProvider},
    vnpay::{Gateway, Merchant},
};
pub use service_kit::db_testing::TestDb;
use service_kit::sealed::SealingKey;

/// The key the tests' services seal the citizens' data under.
pub fn key() -> &'static SealingKey {
    static KEY: std::sync::LazyLock<SealingKey> =
        std::sync::LazyLock::new(|| SealingKey::generate().expect("a random key"));
    &KEY
}

pub async fn postgres() -> TestDb {
    TestDb::postgres(&MIGRATIONS).await
}

pub async fn sqlite() -> TestDb {
    TestDb::sqlite(&MIGRATIONS).await
}

/// Runs async test bodies once on PostgreSQL and once on SQLite, as two tests each.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        service_kit::on_both_engines!(crate::helpers::postgres, crate::helpers::sqlite; $($name),*);
    };
}
pub(crate) use on_both_engines;

/// A notice of a car's red light to its owner, citizen 079203012345, with a fresh case id: the
/// violation on 26/11/2025, the notice issued now, to be answered within 20 days.
pub fn notice() -> FineNotice {
    let at = UtcTimestamp::from_unix_ms(1_764_146_096_250).unwrap();
    let days = |n: i64| UtcTimestamp::from_unix_ms(at.unix_ms() + n * 86_400_000).unwrap();
    let now = UtcTimestamp::now();
    let from_now = |n: i64| UtcTimestamp::from_unix_ms(now.unix_ms() + n * 86_400_000).unwrap();
    FineNotice {
        fine_id: uuid::Uuid::now_v7(),
        event_id: EventId::new(),
        citizen_id: CitizenId::parse("079203012345").unwrap(),
        plate: "51F-123.45".into(),
        plate_colour: PlateColour::White,
        vehicle_class: VehicleClass::Car,
        kind: ViolationKind::RedLight,
        occurred_at: at,
        place: "Ngã tư Hàng Xanh".into(),
        address: "Bình Thạnh, TP.HCM".into(),
        measurement: protocol::Measurement::default(),
        legal_reference: "Điểm b khoản 9 Điều 6 Nghị định số 168/2024/NĐ-CP".into(),
        notice_due: days(10),
        answer_due: from_now(20),
        issued_at: now,
        issuing_unit: "Phòng CSGT".into(),
        evidence: [("at.jpg", "image/jpeg"), ("clip.mp4", "video/mp4")]
            .into_iter()
            .map(|(name, content_type)| protocol::EvidenceItem {
                name: name.into(),
                sha256: protocol::Sha256Digest::of(name.as_bytes()),
                bytes: 1000,
                content_type: content_type.into(),
                captured_at: at,
                masking: None,
            })
            .collect(),
        contact: Some(protocol::Contact {
            phone: Some("0901234567".into()),
            email: None,
        }),
        named_as: None,
        organisation: None,
    }
}

/// Where the portal links citizens' browsers for evidence, and the secret that signs the links.
pub const EVIDENCE_URL: &str = "https://evidence.csgt.example.vn";
pub const LINK_SECRET: &str = "the link secret shared with central";

/// The gateway's hash secret for this merchant.
pub const PAYMENT_SECRET: &str = "the merchant's hash secret from the gateway";
/// The owner of [`notice`]'s fine, and another citizen.
pub const OWNER: &str = "079203012345";
pub const OTHER: &str = "001099000001";

/// citizen-notify's routes, the payment gateway and the identity provider, each on its own
/// port, configured for each other as a deployment would be.
pub struct World {
    pub settings: PaymentSettings,
    pub gateway: Gateway,
    pub notify: String,
    /// A client that does not follow redirects (the tests follow them).
    pub http: reqwest::Client,
    _servers: [sandbox::Running; 3],
}

pub async fn world(t: &TestDb) -> World {
    world_signing(t, sandbox::oidc::Algorithm::Rs256).await
}

/// [`world`] with an identity provider that signs its ID tokens with `algorithm`.
pub async fn world_signing(t: &TestDb, algorithm: sandbox::oidc::Algorithm) -> World {
    let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
    let (notify_at, gateway_at, idp_at) = (
        bind().await.unwrap(),
        bind().await.unwrap(),
        bind().await.unwrap(),
    );
    let url = |l: &tokio::net::TcpListener| format!("http://{}", l.local_addr().unwrap());
    let (notify, gateway_url, issuer) = (url(&notify_at), url(&gateway_at), url(&idp_at));
    let settings = PaymentSettings {
        gateway_url: format!("{gateway_url}/paymentv2/vpcpay.html"),
        query_url: format!("{gateway_url}/merchant_webapi/api/transaction"),
        tmn_code: "TVETEST1".into(),
        hash_secret: PAYMENT_SECRET.into(),
        return_url: format!("{notify}/payment/vnpay/return"),
        reconcile_after_s: 0,
        ..PaymentSettings::default()
    };
    let portal = PortalSettings {
        issuer_url: issuer.clone(),
        client_id: "citizen-portal".into(),
        client_secret: "the portal's client secret".into(),
        redirect_url: format!("{notify}/auth/callback"),
        evidence_url: EVIDENCE_URL.into(),
        evidence_link_secret: LINK_SECRET.into(),
        ..PortalSettings::default()
    };
    let gateway = Gateway::new(Merchant {
        tmn_code: settings.tmn_code.clone(),
        hash_secret: PAYMENT_SECRET.into(),
        ipn_url: format!("{notify}/payment/vnpay/ipn"),
    });
    let idp = IdentityProvider::signing_with(
        algorithm,
        &issuer,
        vec![Client {
            client_id: portal.client_id.clone(),
            client_secret: portal.client_secret.expose().to_owned(),
            redirect_uris: vec![portal.redirect_url.clone()],
        }],
        vec![
            Citizen {
                id: OWNER.into(),
                name: "Nguyễn Văn An".into(),
            },
            Citizen {
                id: OTHER.into(),
                name: "Trần Thị Bình".into(),
            },
        ],
    )
    .unwrap();
    let routes = router(AppState {
        db: t.db.clone(),
        sealing: key().clone(),
        intake: IntakeSettings::default(),
        payment: settings.clone(),
        oidc: Arc::new(Oidc::new(portal)),
        delivery: DeliverySettings::default(),
    });
    World {
        _servers: [
            sandbox::serve_on(notify_at, routes).unwrap(),
            sandbox::serve_on(gateway_at, sandbox::vnpay::router(gateway.clone())).unwrap(),
            sandbox::serve_on(idp_at, sandbox::oidc::router(idp)).unwrap(),
        ],
        settings,
        gateway,
        notify,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

pub struct Paid {
    /// The signed result parameters the gateway sent back (the IPN carries the same).
    pub result: BTreeMap<String, String>,
    /// The return page: status and text.
    pub page: (u16, String),
}

/// The citizen at the gateway: opens the payment URL, presses `outcome`, follows the redirect.
pub async fn at_gateway(w: &World, url: &str, outcome: &str) -> Paid {
    let page = w.http.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200, "the gateway accepts the signed request");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("19000000"),
        "the gateway shows the amount: {html}"
    );
    let ticket = html
        .split("name=\"ticket\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    let decide = w.settings.gateway_url.replace("vpcpay.html", "decide");
    let redirect = w
        .http
        .post(decide)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("ticket={ticket}&outcome={outcome}"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 302);
    let to = redirect.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with(&w.settings.return_url), "{to}");
    let result = form_params(to.split_once('?').unwrap().1);
    let back = w.http.get(&to).send().await.unwrap();
    let page = (back.status().as_u16(), back.text().await.unwrap());
    Paid { result, page }
}

pub fn form_params(query: &str) -> BTreeMap<String, String> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// The penalty decision on `n`: 19 000 000 ₫ and 4 points, decided now, to be paid in 10 days.
pub fn decision(n: &FineNotice) -> PenaltyDecision {
    let now = UtcTimestamp::now();
    PenaltyDecision {
        decision_id: uuid::Uuid::now_v7(),
        fine_id: n.fine_id,
        decision_number: "000001/QĐ-XPHC".into(),
        citizen_id: n.citizen_id.clone(),
        amount_vnd: 19_000_000,
        points: 4,
        points_left: 8,
        legal_reference: n.legal_reference.clone(),
        circumstance: None,
        organisation: None,
        decided_by: "Trung tá Lê Văn Bình, Trưởng phòng CSGT".into(),
        decided_at: now,
        pay_by: UtcTimestamp::from_unix_ms(now.unix_ms() + 10 * 86_400_000).unwrap(),
    }
}

/// The person an owner names as the driver in these tests.
pub fn named_driver() -> protocol::NamedDriver {
    protocol::NamedDriver {
        full_name: "Trần Thị Bình".into(),
        citizen_id: protocol::CitizenId::parse("079095009999").unwrap(),
        licence_no: "790123456789".into(),
    }
}

/// A stored notice, not decided yet, and its id.
pub async fn noticed(t: &TestDb) -> (FineNotice, String) {
    let n = notice();
    let body = protocol::wire::encode(&n).unwrap();
    citizen_notify::db::store_notice(&t.db, key(), &n, &body, &[])
        .await
        .unwrap();
    let id = n.fine_id.hyphenated().to_string();
    (n, id)
}

/// Stores `d`, the decision on a stored notice.
pub async fn decide(t: &TestDb, d: &PenaltyDecision) {
    let body = protocol::wire::encode(d).unwrap();
    let stored = citizen_notify::db::store_decision(&t.db, key(), d, &body)
        .await
        .unwrap();
    assert_eq!(stored, Some(citizen_notify::db::Stored::New));
}

/// A stored notice with its penalty decision of 19 000 000 ₫, and its id.
pub async fn fine(t: &TestDb) -> (FineNotice, String) {
    let (n, id) = noticed(t).await;
    decide(t, &decision(&n)).await;
    (n, id)
}
