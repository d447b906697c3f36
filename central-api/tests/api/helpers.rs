//! Each test makes its own world (a fresh PostgreSQL database or SQLite file, from
//! `service_kit::db_testing`), and the registry most tests start from.

use central_api::{
    audit::AuditLog,
    db::{
        Db, MIGRATIONS, devices,
        fines::{load_schedule, seed_missing},
        review::approve,
    },
    fines::FineSchedule,
    ingest::{Ingest, IngestMetrics},
    owners::{RegistryTable, process_pending},
    sealed::SealingKey,
};
use protocol::{DeviceId, DeviceKey, EventId, Topic, ViolationEvent, wire};
pub use service_kit::db_testing::TestDb;

/// Runs `sql` on `db` as it is, around the service's own queries.
pub async fn raw(db: &Db, sql: &str) -> Result<(), sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match db {
        Db::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        Db::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
    }
}

/// The one number `sql` selects.
pub async fn count(db: &Db, sql: &str) -> i64 {
    service_kit::on_pool!(db, pool => {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

/// Makes every audit append fail (`up` false) or work again (`up` true): the log's table
/// unwritable, as a full disk or a lost connection would leave it.
pub async fn audit_writable(db: &Db, up: bool) {
    let sql = match (db, up) {
        (Db::Postgres(_), false) => {
            "CREATE FUNCTION audit_down() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit down'; END; $$ LANGUAGE plpgsql;
             CREATE TRIGGER audit_down BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_down();"
        }
        (Db::Sqlite(_), false) => {
            "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit down'); END;"
        }
        (Db::Postgres(_), true) => "DROP TRIGGER audit_down ON audit_log; DROP FUNCTION audit_down();",
        (Db::Sqlite(_), true) => "DROP TRIGGER audit_down",
    };
    // A pooled SQLite connection whose transaction just failed rolls back as it is next used,
    // and until then reads the schema as it was: wait (at most a second) for the change to
    // take on whichever connection runs it.
    for attempt in 0.. {
        match raw(db, sql).await {
            Ok(()) => return,
            Err(e) if matches!(db, Db::Sqlite(_)) && attempt < 100 => {
                tracing::debug!(error = %e, "audit trigger change retried");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Err(e) => panic!("{sql}: {e}"),
        }
    }
}

pub async fn postgres() -> TestDb {
    TestDb::postgres(&MIGRATIONS).await
}

pub async fn sqlite() -> TestDb {
    TestDb::sqlite(&MIGRATIONS).await
}

/// The citizen every test registry knows.
pub fn owner() -> protocol::CitizenId {
    protocol::CitizenId::parse("079203012345").unwrap()
}

/// [`owner`] as the population database knows them.
pub fn owner_citizen() -> central_api::db::owners::Citizen {
    central_api::db::owners::Citizen {
        id: owner(),
        full_name: "Nguyễn Văn An".into(),
        address: "12 Võ Văn Tần, TP.HCM".into(),
        phone: Some("0901234567".into()),
        email: None,
    }
}

/// Registers the white plate 51F-123.45 (a Toyota Vios) to [`owner`].
pub async fn seed_registry(db: &Db) {
    use central_api::db::owners::{Citizen, Registration, upsert_citizen, upsert_registration};
    upsert_citizen(
        db,
        None,
        &Citizen {
            id: owner(),
            full_name: "Nguyễn Văn An".into(),
            address: "12 Võ Văn Tần, Phường Xuân Hòa, TP.HCM".into(),
            phone: Some("0901234567".into()),
            email: None,
        },
    )
    .await
    .unwrap();
    upsert_registration(
        db,
        &Registration {
            plate_text: "51F12345".into(),
            plate_colour: protocol::PlateColour::White,
            vehicle_class: protocol::VehicleClass::Car,
            make: "Toyota".into(),
            model: "Vios".into(),
            colour: "trắng".into(),
            owner: owner(),
            organisation: None,
        },
    )
    .await
    .unwrap();
}

/// Runs async test bodies once on PostgreSQL and once on SQLite, as two tests each.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        service_kit::on_both_engines!(crate::helpers::postgres, crate::helpers::sqlite; $($name),*);
    };
}
pub(crate) use on_both_engines;

/// One approved violation: its fine's notice waits in the outbox.
pub async fn issue_one(t: &TestDb) -> EventId {
    issue_one_sealed(t, None).await
}

/// [`issue_one`], the owner's contact and the notice sealed under `sealing`, as a configured
/// `review.secrets_key_file` has them.
pub async fn issue_one_sealed(t: &TestDb, sealing: Option<&SealingKey>) -> EventId {
    let db = &t.db;
    seed_registry(db).await;
    seed_missing(db, &FineSchedule::shipped().unwrap())
        .await
        .unwrap();
    let device = DeviceId::parse("hcm-q1-001").unwrap();
    let key = DeviceKey::from_seed([51; 32]);
    devices::register(db, &device, &key.public_key(), "")
        .await
        .unwrap();
    let event = ViolationEvent::example_now(device.clone(), EventId::new());
    Ingest::new(db.clone(), IngestMetrics::default())
        .handle(
            &Topic::Violation(device).to_string(),
            &wire::encode_signed(&event, &key).unwrap(),
        )
        .await
        .unwrap();
    process_pending(
        db,
        &AuditLog::new(db.clone()),
        &RegistryTable::new(db.clone(), None),
        10,
    )
    .await
    .unwrap();
    let schedule = load_schedule(db).await.unwrap();
    approve(
        db,
        &AuditLog::new(db.clone()),
        &event.event_id,
        ("reviewer", "officer:reviewer"),
        &schedule,
        ("Phòng CSGT", sealing),
    )
    .await
    .unwrap()
    .unwrap();
    event.event_id
}

/// Reports `change` about case `fine_id` as citizen-notify would.
pub async fn report(db: &Db, fine_id: uuid::Uuid, change: protocol::FineChange) {
    report_sealed(db, fine_id, change, None).await;
}

/// [`report`], the update kept sealed under `key`; gives the update's id.
pub async fn report_sealed(
    db: &Db,
    fine_id: uuid::Uuid,
    change: protocol::FineChange,
    key: Option<&SealingKey>,
) -> uuid::Uuid {
    let update = protocol::FineUpdate {
        update_id: uuid::Uuid::now_v7(),
        fine_id,
        at: protocol::UtcTimestamp::now(),
        change,
        documents: Vec::new(),
    };
    let payload = String::from_utf8(wire::encode(&update).unwrap()).unwrap();
    let audit = AuditLog::new(db.clone());
    central_api::db::fine_updates::apply(db, &audit, &update, (&payload, key))
        .await
        .unwrap();
    update.update_id
}

/// The actions of a violation's audit trail, as `GET /api/v1/violations/{id}` gives them.
pub fn audit_actions(violation: &serde_json::Value) -> Vec<&str> {
    violation["audit"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e["action"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// The settings of a camera at Hàng Xanh with no geometry: a 60 km/h road, half a second's
/// grace after red.
pub fn camera_settings(camera: &str) -> protocol::CameraSettings {
    protocol::CameraSettings {
        camera: protocol::CameraId::parse(camera).unwrap(),
        site: protocol::Site {
            name: "Ngã tư Hàng Xanh".into(),
            latitude: 10.8013,
            longitude: 106.7115,
            address: String::new(),
            direction: String::new(),
        },
        geometry: Default::default(),
        speed_limit_kmh: 60.0,
        speed_limits_kmh: Default::default(),
        red_grace_s: 0.5,
        signal_plan: None,
    }
}

/// The message queued in the outbox under idempotency key `key` (a case's notice by its id, a
/// decision by its id), decoded.
pub async fn queued<M: protocol::Message + serde::de::DeserializeOwned>(db: &Db, key: &str) -> M {
    let outbox = central_api::db::review::outbox_pending(db).await.unwrap();
    let (_, _, payload) = outbox
        .iter()
        .find(|(_, k, _)| k == key)
        .unwrap_or_else(|| panic!("{key} waits in the outbox"));
    wire::decode(payload.as_bytes()).unwrap()
}

/// Records citizen `id` in the population database mirror, in the clear.
pub async fn seed_citizen(db: &Db, id: &str, full_name: &str, address: &str, phone: &str) {
    central_api::db::owners::upsert_citizen(
        db,
        None,
        &central_api::db::owners::Citizen {
            id: protocol::CitizenId::parse(id).unwrap(),
            full_name: full_name.into(),
            address: address.into(),
            phone: Some(phone.into()),
            email: None,
        },
    )
    .await
    .unwrap();
}
