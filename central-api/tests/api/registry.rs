//! Owner lookup through the vehicle registry service over HTTP (the sandbox in the national
//! registry's role): answers recorded and cached, transient failures tried again, timeouts, a
//! wrong key not retried, and the circuit breaker that leaves a failing registry alone.

use std::time::Duration;

use central_api::{
    audit::AuditLog,
    config::RegistrySettings,
    db::{
        devices,
        owners::{Owner, find},
    },
    ingest::{Ingest, IngestMetrics},
    owners::{HttpRegistry, Lookup, LookupError, OwnerLookup, process_pending},
    sealed::SealingKey,
};
use protocol::{
    DeviceId, DeviceKey, EventId, PlateColour, Topic, VehicleClass, ViolationEvent,
    registry::{RegisteredOwner, RegisteredVehicle, Registration},
    wire,
};
use sandbox::registry::VehicleRegistry;
use sqlx::Row;

use crate::helpers::{TestDb, on_both_engines, owner};

const KEY: &str = "the registry's api key for central";

async fn registry() -> (VehicleRegistry, sandbox::Running) {
    let r = VehicleRegistry::new(
        KEY,
        [
            Registration {
                plate: "51F12345".into(),
                colour: PlateColour::White,
                vehicle: RegisteredVehicle {
                    class: VehicleClass::Car,
                    make: "Toyota".into(),
                    model: "Vios".into(),
                    colour: "trắng".into(),
                },
                owner: RegisteredOwner {
                    citizen_id: owner(),
                    full_name: "Nguyễn Văn An".into(),
                    address: "12 Võ Văn Tần, TP.HCM".into(),
                    phone: Some("0901234567".into()),
                    email: None,
                },
                organisation: None,
            },
            Registration {
                plate: "51G67890".into(),
                colour: PlateColour::White,
                vehicle: RegisteredVehicle {
                    class: VehicleClass::Car,
                    make: "Hyundai".into(),
                    model: "Solati".into(),
                    colour: "bạc".into(),
                },
                owner: RegisteredOwner {
                    citizen_id: protocol::CitizenId::parse("079080005678").unwrap(),
                    full_name: "Phạm Minh Châu".into(),
                    address: "8 Nguyễn Huệ, TP.HCM".into(),
                    phone: None,
                    email: None,
                },
                organisation: Some(protocol::Organisation {
                    enterprise_code: protocol::EnterpriseCode::parse("0312345678").unwrap(),
                    name: "Công ty TNHH Vận tải Thử Nghiệm".into(),
                    address: "100 Điện Biên Phủ, TP.HCM".into(),
                }),
            },
        ],
    );
    let running = sandbox::serve(
        "127.0.0.1:0".parse().unwrap(),
        sandbox::registry::router(r.clone()),
    )
    .await
    .unwrap();
    (r, running)
}

fn settings(url: String) -> RegistrySettings {
    RegistrySettings {
        url,
        api_key: KEY.into(),
        timeout_ms: 300,
        retries: 2,
        retry_backoff_ms: 10,
        breaker_failures: 2,
        breaker_open_s: 60,
        ..RegistrySettings::default()
    }
}

/// The citizen `id`'s name, address, phone and e-mail as the table holds them.
async fn stored(t: &TestDb, id: &protocol::CitizenId) -> [Option<String>; 4] {
    service_kit::on_pool!(&t.db, pool => {
        let row = sqlx::query(
            "SELECT full_name, address, phone, email FROM citizens WHERE citizen_id = $1",
        )
        .bind(id.as_str())
        .fetch_one(pool)
        .await
        .unwrap();
        ["full_name", "address", "phone", "email"].map(|c| row.get::<Option<String>, _>(c))
    })
}

async fn answers_are_recorded_and_cached(t: &TestDb) {
    let (r, running) = registry().await;
    let key = SealingKey::generate().unwrap();
    let http = HttpRegistry::new(t.db.clone(), Some(key.clone()), settings(running.url())).unwrap();
    assert_eq!(
        http.lookup("51F12345", PlateColour::White).await.unwrap(),
        Lookup::Owner(Owner::person(owner()))
    );
    // The owner and the vehicle as the registry gave them, for the pages and the notice.
    let (citizen, vehicle) = find(&t.db, Some(&key), "51F12345", PlateColour::White)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(citizen.full_name, "Nguyễn Văn An");
    assert_eq!(citizen.phone.as_deref(), Some("0901234567"));
    assert_eq!(vehicle.model, "Vios");
    // At rest the table names no one: each field sealed, and without the key none opens.
    for value in stored(t, &owner()).await.into_iter().flatten() {
        assert!(value.starts_with("v1:"), "{value}");
        assert!(!value.contains("Nguyễn") && !value.contains("0901234567"));
    }
    assert!(
        find(&t.db, None, "51F12345", PlateColour::White)
            .await
            .is_err()
    );
    assert_eq!(
        http.lookup("51F12345", PlateColour::Yellow).await.unwrap(),
        Lookup::NotRegistered
    );
    assert_eq!(r.requests(), 2);
    http.lookup("51F12345", PlateColour::White).await.unwrap();
    http.lookup("51F12345", PlateColour::Yellow).await.unwrap();
    assert_eq!(r.requests(), 2, "answers come from the cache");

    // A vehicle an organisation owns: the organisation and the person who answers for it.
    let representative = protocol::CitizenId::parse("079080005678").unwrap();
    let code = protocol::EnterpriseCode::parse("0312345678").unwrap();
    assert_eq!(
        http.lookup("51G67890", PlateColour::White).await.unwrap(),
        Lookup::Owner(Owner {
            citizen: representative.clone(),
            organisation: Some(code.clone()),
        })
    );
    let (citizen, vehicle) = find(&t.db, Some(&key), "51G67890", PlateColour::White)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (citizen.id, vehicle.organisation),
        (representative, Some(code))
    );
    let recorded = central_api::db::owners::organisation(&t.db, "0312345678")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded.name, "Công ty TNHH Vận tải Thử Nghiệm");
}

/// A citizen kept in the clear (by a version before sealing) reads as it is and is sealed at the
/// next start; a sealed value moved to another citizen's row or another field does not open.
async fn citizens_kept_in_the_clear_are_sealed_and_a_moved_value_does_not_open(t: &TestDb) {
    use central_api::{
        db::owners::{Citizen, citizen, reseal_citizens, upsert_citizen},
        sealed::ResealCount,
    };
    let key = SealingKey::generate().unwrap();
    let an = crate::helpers::owner_citizen();
    upsert_citizen(&t.db, None, &an).await.unwrap();
    assert_eq!(
        stored(t, &owner()).await[0].as_deref(),
        Some("Nguyễn Văn An")
    );
    assert_eq!(
        citizen(&t.db, Some(&key), &owner()).await.unwrap(),
        Some(an.clone())
    );
    let three = ResealCount {
        from_clear: 3,
        ..ResealCount::default()
    };
    assert_eq!(reseal_citizens(&t.db, &key).await.unwrap(), three);
    assert_eq!(
        reseal_citizens(&t.db, &key).await.unwrap(),
        ResealCount::default(),
        "once"
    );
    let [name, address, phone, email] = stored(t, &owner()).await;
    assert!(name.as_deref().unwrap().starts_with("v1:"));
    assert!(address.as_deref().unwrap().starts_with("v1:"));
    assert!(phone.as_deref().unwrap().starts_with("v1:"));
    assert_eq!(email, None);
    assert_eq!(
        citizen(&t.db, Some(&key), &owner()).await.unwrap(),
        Some(an.clone())
    );
    // Another key opens nothing.
    let other = SealingKey::generate().unwrap();
    assert!(citizen(&t.db, Some(&other), &owner()).await.is_err());
    // The name sealed for An, copied into Bình's row or into An's address: neither opens.
    let binh = Citizen {
        id: protocol::CitizenId::parse("079095001234").unwrap(),
        full_name: "Trần Thị Bình".into(),
        ..an.clone()
    };
    upsert_citizen(&t.db, Some(&key), &binh).await.unwrap();
    service_kit::on_pool!(&t.db, pool => {
        sqlx::query("UPDATE citizens SET full_name = $1 WHERE citizen_id = $2")
            .bind(name.as_deref())
            .bind(binh.id.as_str())
            .execute(pool)
            .await
            .unwrap();
        sqlx::query("UPDATE citizens SET address = $1 WHERE citizen_id = $2")
            .bind(name.as_deref())
            .bind(an.id.as_str())
            .execute(pool)
            .await
            .unwrap();
    });
    assert!(citizen(&t.db, Some(&key), &binh.id).await.is_err());
    assert!(citizen(&t.db, Some(&key), &an.id).await.is_err());
}

/// The key is rotated: what the former key sealed opens while it is named, a pass seals it
/// again under the new key, after which the former key is not needed; a value that opens under
/// no configured key is counted and left as it is.
async fn a_rotated_key_seals_every_citizen_again(t: &TestDb) {
    use central_api::{
        db::owners::{Citizen, citizen, reseal_citizens, upsert_citizen},
        sealed::ResealCount,
    };
    let old = SealingKey::generate().unwrap();
    let citizens: Vec<Citizen> = (0..3)
        .map(|i| Citizen {
            id: protocol::CitizenId::parse(&format!("07909500123{i}")).unwrap(),
            full_name: format!("Công dân {i}"),
            address: format!("{i} Lê Lợi, TP.HCM"),
            phone: (i != 1).then(|| format!("090123456{i}")),
            email: (i == 2).then(|| "cd2@example.vn".to_owned()),
        })
        .collect();
    for c in &citizens {
        upsert_citizen(&t.db, Some(&old), c).await.unwrap();
    }
    let before = stored(t, &citizens[0].id).await;
    let new = SealingKey::generate().unwrap();
    assert!(
        citizen(&t.db, Some(&new), &citizens[0].id).await.is_err(),
        "the new key alone opens nothing the old one sealed"
    );
    let rotated = new.clone().with_former(vec![old.clone()]);
    for c in &citizens {
        assert_eq!(
            citizen(&t.db, Some(&rotated), &c.id)
                .await
                .unwrap()
                .as_ref(),
            Some(c)
        );
    }
    // Three names, three addresses, two phones, one e-mail.
    let fields = ResealCount {
        from_former: 9,
        ..ResealCount::default()
    };
    assert_eq!(reseal_citizens(&t.db, &rotated).await.unwrap(), fields);
    assert_eq!(
        reseal_citizens(&t.db, &rotated).await.unwrap(),
        ResealCount::default(),
        "once"
    );
    let after = stored(t, &citizens[0].id).await;
    assert_ne!(before, after);
    for c in &citizens {
        assert_eq!(
            citizen(&t.db, Some(&new), &c.id).await.unwrap().as_ref(),
            Some(c),
            "the new key alone opens every citizen"
        );
        assert!(citizen(&t.db, Some(&old), &c.id).await.is_err());
    }
    // A key that sealed none of it: every value is counted and left.
    let stranger = SealingKey::generate().unwrap();
    let none = ResealCount {
        unsealable: 9,
        ..ResealCount::default()
    };
    assert_eq!(reseal_citizens(&t.db, &stranger).await.unwrap(), none);
    assert_eq!(stored(t, &citizens[0].id).await, after);
}

/// Without former keys a start reads the first batch whole (a wrong key shows there) and after
/// it only the rows with a field in the clear: a table of many citizens is not read whole.
async fn without_former_keys_only_rows_in_the_clear_are_read_past_the_first_batch(t: &TestDb) {
    use central_api::{
        db::owners::{Citizen, citizen, reseal_citizens, upsert_citizen},
        sealed::ResealCount,
    };
    let key = SealingKey::generate().unwrap();
    let person = |i: usize| Citizen {
        id: protocol::CitizenId::parse(&format!("079095{i:06}")).unwrap(),
        full_name: format!("Công dân {i}"),
        address: "Lê Lợi, TP.HCM".into(),
        phone: None,
        email: None,
    };
    for i in 0..520 {
        upsert_citizen(&t.db, Some(&key), &person(i)).await.unwrap();
    }
    // Past the first 500: one kept in the clear, one sealed under a key long gone.
    upsert_citizen(&t.db, None, &person(600)).await.unwrap();
    let gone = SealingKey::generate().unwrap();
    upsert_citizen(&t.db, Some(&gone), &person(601))
        .await
        .unwrap();
    let sealed_clear = ResealCount {
        from_clear: 2,
        ..ResealCount::default()
    };
    assert_eq!(reseal_citizens(&t.db, &key).await.unwrap(), sealed_clear);
    assert_eq!(
        citizen(&t.db, Some(&key), &person(600).id).await.unwrap(),
        Some(person(600))
    );
    // With a former key named, every row is read: the one no key opens is counted.
    let rotated = key
        .clone()
        .with_former(vec![SealingKey::generate().unwrap()]);
    let unopened = ResealCount {
        unsealable: 2,
        ..ResealCount::default()
    };
    assert_eq!(reseal_citizens(&t.db, &rotated).await.unwrap(), unopened);
}

async fn transient_failures_are_tried_again_and_a_wrong_key_is_not(t: &TestDb) {
    let (r, running) = registry().await;
    let http = HttpRegistry::new(t.db.clone(), None, settings(running.url())).unwrap();
    r.fail_next(2);
    assert_eq!(
        http.lookup("51F12345", PlateColour::White).await.unwrap(),
        Lookup::Owner(Owner::person(owner()))
    );
    assert_eq!(r.requests(), 3);
    // Slower than the timeout once: the second try answers.
    r.delay_next(1, Duration::from_millis(800));
    assert_eq!(
        http.lookup("51F12345", PlateColour::Yellow).await.unwrap(),
        Lookup::NotRegistered
    );
    assert_eq!(r.requests(), 5);

    let mut wrong = settings(running.url());
    wrong.api_key = "not the key".into();
    let wrong = HttpRegistry::new(t.db.clone(), None, wrong).unwrap();
    let refused = wrong.lookup("30A99999", PlateColour::White).await;
    assert!(
        matches!(&refused, Err(LookupError::Unavailable(e)) if e.contains("401")),
        "{refused:?}"
    );
    assert_eq!(r.requests(), 6, "a refusal is not retried");
}

async fn a_failing_registry_is_left_alone_and_violations_wait(t: &TestDb) {
    let (r, running) = registry().await;
    let mut s = settings(running.url());
    s.retries = 0;
    let http = HttpRegistry::new(t.db.clone(), None, s).unwrap();
    r.fail_next(100);
    for _ in 0..2 {
        assert!(http.lookup("51F12345", PlateColour::White).await.is_err());
    }
    assert_eq!(r.requests(), 2);
    let open = http.lookup("51F12345", PlateColour::White).await;
    assert!(
        matches!(&open, Err(LookupError::Unavailable(e)) if e.contains("circuit open")),
        "{open:?}"
    );
    assert_eq!(
        r.requests(),
        2,
        "the open circuit does not call the registry"
    );

    // A violation seen meanwhile stays `received`, to be looked up when the registry is back.
    let device = DeviceId::parse("hcm-q1-001").unwrap();
    let key = DeviceKey::from_seed([7; 32]);
    devices::register(&t.db, &device, &key.public_key(), "")
        .await
        .unwrap();
    let event = ViolationEvent::example_now(device.clone(), EventId::new());
    Ingest::new(t.db.clone(), IngestMetrics::default())
        .handle(
            &Topic::Violation(device).to_string(),
            &wire::encode_signed(&event, &key).unwrap(),
        )
        .await
        .unwrap();
    let audit = AuditLog::new(t.db.clone());
    assert_eq!(process_pending(&t.db, &audit, &http, 10).await.unwrap(), 0);
    r.fail_next(0);
    let back = HttpRegistry::new(t.db.clone(), None, settings(running.url())).unwrap();
    assert_eq!(process_pending(&t.db, &audit, &back, 10).await.unwrap(), 1);
    let stored = central_api::db::violations::get(&t.db, &event.event_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.owner_lookup.as_deref(), Some("found"));
}

/// The population database beside the registry: a person who owns no vehicle is found and
/// recorded (the notice to them reads the record), a number nobody has is `None`, and a
/// database that cannot answer says so (the answer naming the driver is tried again later).
async fn the_population_database_answers_for_one_citizen(t: &TestDb) {
    let (r, running) = registry().await;
    let driver = protocol::CitizenId::parse("079095001234").unwrap();
    r.add_resident(RegisteredOwner {
        citizen_id: driver.clone(),
        full_name: "Trần Thị Bình".into(),
        address: "45 Lê Lợi, TP.HCM".into(),
        phone: Some("0912345678".into()),
        email: None,
    });
    let http = HttpRegistry::new(t.db.clone(), None, settings(running.url())).unwrap();
    let found = http.resident(&driver).await.unwrap().unwrap();
    assert_eq!(found.full_name, "Trần Thị Bình");
    let recorded = central_api::db::owners::citizen(&t.db, None, &driver)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded, found);
    // Owners are residents too.
    assert!(http.resident(&owner()).await.unwrap().is_some());
    let nobody = protocol::CitizenId::parse("079095009999").unwrap();
    assert_eq!(http.resident(&nobody).await.unwrap(), None);
    r.fail_next(10);
    assert!(matches!(
        http.resident(&driver).await,
        Err(LookupError::Unavailable(_))
    ));
}

/// A registry (or whatever answers at its address) that sends more than any record could be
/// is not read to the end: the answer is refused at the cap, and not asked again.
async fn an_answer_too_large_to_be_a_record_is_refused_unread(t: &TestDb) {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let huge = axum::Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        async { ([("content-type", "application/json")], "[".repeat(4 << 20)) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, huge).await });
    let http = HttpRegistry::new(t.db.clone(), None, settings(url)).unwrap();
    let refused = http.lookup("51F12345", PlateColour::White).await;
    assert!(
        matches!(&refused, Err(LookupError::Unavailable(e)) if e.contains("larger than")),
        "{refused:?}"
    );
    assert_eq!(asked.load(Ordering::Relaxed), 1, "not tried again");
}

on_both_engines!(
    an_answer_too_large_to_be_a_record_is_refused_unread,
    the_population_database_answers_for_one_citizen,
    answers_are_recorded_and_cached,
    citizens_kept_in_the_clear_are_sealed_and_a_moved_value_does_not_open,
    a_rotated_key_seals_every_citizen_again,
    without_former_keys_only_rows_in_the_clear_are_read_past_the_first_batch,
    transient_failures_are_tried_again_and_a_wrong_key_is_not,
    a_failing_registry_is_left_alone_and_violations_wait,
);
