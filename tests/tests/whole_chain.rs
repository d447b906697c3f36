//! The whole chain as separate processes over loopback, as `make demo` runs it but on Mosquitto
//! and PostgreSQL: the simulated junction streams over RTSP (`sim serve`: its overview camera
//! and its plate camera), the edge agent finds its red-light runners, reads their plates on the
//! plate camera's view, and sends their signed events and evidence through Mosquitto and HTTP,
//! central-api stores them in PostgreSQL and finds the owner, an officer confirms through the
//! API, citizen-notify pushes the notice of violation to the app sandbox and mails it through
//! the relay sandbox, and the owner — in headless Chromium — signs in through the identity
//! sandbox, sees the notice and its evidence, and names the person who was driving; the case
//! moves to that person, who signs in, sees the notice sent to them and explains; a supervisor
//! does not accept the explanation, the officer with sanctioning authority decides against the
//! driver, and the driver pays the decision at the gateway sandbox; central ends up showing it
//! paid, each step in the violation's audit trail.
//! The kind, vehicle and plate match the scenario's ground truth, and every evidence file
//! central holds hashes to what the device signed.
//!
//! Long because it is one scenario followed across every process of the chain, with the
//! processes' set-up beside it.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeSet;

use fantoccini::Locator;
use protocol::{Sha256Digest, ViolationKind};
use tests::{
    Database, Running, Service, browser::Browser, central_admin, edge_box, eventually, free_port,
    unique,
};

const SECRET: &str = "the secret the services of this test share";
const OWNER: &str = "079203012345";
/// The person the owner names as the driver: in the population database, owning no vehicle.
const DRIVER: &str = "079095001234";
// Not the name of any officer of `tests::central` (their names are in the audit trail).
const DRIVER_NAME: &str = "Võ Thị Hạnh";
const LICENCE: &str = "790123456789";

#[test]
fn a_red_light_runner_on_camera_ends_as_a_paid_fine() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = Database::create("tve_chain");
    let [
        rtsp,
        central_port,
        notify_port,
        oidc_port,
        vnpay_port,
        push_port,
        smtp_port,
        mailbox_port,
    ] = [(); 8].map(|_| free_port().unwrap());
    let central_url = format!("http://127.0.0.1:{central_port}");
    let notify_url = format!("http://127.0.0.1:{notify_port}");
    let oidc_url = format!("http://127.0.0.1:{oidc_port}");
    let vnpay_url = format!("http://127.0.0.1:{vnpay_port}");
    let push_url = format!("http://127.0.0.1:{push_port}");
    let mqtt = tests::mqtt_url();

    // The scenario's ground truth: the red-light runners and their plates.
    let world = sim::World::simulate(&sim::ScenarioSpec::named("red-light").unwrap(), 1);
    let truth: Vec<_> = world
        .violations
        .iter()
        .filter(|v| v.kind == ViolationKind::RedLight)
        .collect();
    assert!(!truth.is_empty());

    // Central: PostgreSQL, Mosquitto, the officer, and the owner of every true plate.
    let (client_id, group) = (unique("central"), unique("group"));
    let evidence_dir = dir.join("evidence");
    let central_env = [
        ("CENTRAL__HTTP__BIND", format!("127.0.0.1:{central_port}")),
        ("CENTRAL__DATABASE__URL", db.url.clone()),
        ("CENTRAL__MQTT__URL", mqtt.clone()),
        ("CENTRAL__MQTT__CLIENT_ID", client_id),
        ("CENTRAL__MQTT__SHARED_GROUP", group),
        ("CENTRAL__EVIDENCE__DIR", evidence_dir.display().to_string()),
        ("CENTRAL__EVIDENCE__LINK_SECRET", SECRET.into()),
        ("CENTRAL__NOTIFY__URL", notify_url.clone()),
        ("CENTRAL__NOTIFY__SHARED_SECRET", SECRET.into()),
    ];
    let central_env: Vec<(&str, &str)> =
        central_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (device, edge_config) = edge_box(
        &central_env,
        dir,
        "red-light",
        &format!("rtsp://127.0.0.1:{rtsp}/red-light"),
        &mqtt,
        &central_url,
    );
    let mut plates = BTreeSet::new();
    for v in &truth {
        let plate = v.plate_canonical.clone().unwrap();
        if plates.insert(plate.clone()) {
            let class = format!("{:?}", v.class).to_lowercase();
            central_admin(
                &central_env,
                dir,
                &[
                    "registry-add",
                    "--plate",
                    &plate,
                    "--class",
                    &class,
                    "--citizen-id",
                    OWNER,
                    "--full-name",
                    "Nguyễn Văn An",
                    "--address",
                    "12 Võ Văn Tần, TP.HCM",
                    "--email",
                    "nguyen.van.an@example.vn",
                ],
            );
        }
    }

    central_admin(
        &central_env,
        dir,
        &[
            "citizen-add",
            "--citizen-id",
            DRIVER,
            "--full-name",
            DRIVER_NAME,
            "--address",
            "45 Lê Lợi, TP.HCM",
            "--email",
            "tran.thi.binh@example.vn",
        ],
    );

    // The stand-ins, the camera, and the services.
    let _oidc = Running::binary(
        "sandbox",
        &[
            "oidc",
            "--bind",
            &format!("127.0.0.1:{oidc_port}"),
            "--issuer",
            &oidc_url,
            "--client-secret",
            SECRET,
            "--redirect-uri",
            &format!("{notify_url}/auth/callback"),
            "--citizen",
            &format!("{OWNER}=Nguyễn Văn An"),
            "--citizen",
            &format!("{DRIVER}={DRIVER_NAME}"),
        ],
        dir,
    );
    let _vnpay = Running::binary(
        "sandbox",
        &[
            "vnpay",
            "--bind",
            &format!("127.0.0.1:{vnpay_port}"),
            "--hash-secret",
            SECRET,
            "--ipn-url",
            &format!("{notify_url}/payment/vnpay/ipn"),
        ],
        dir,
    );
    let _push = Running::binary(
        "sandbox",
        &[
            "push",
            "--bind",
            &format!("127.0.0.1:{push_port}"),
            "--secret",
            SECRET,
        ],
        dir,
    );
    let _mail = Running::binary(
        "sandbox",
        &[
            "smtp",
            "--bind",
            &format!("127.0.0.1:{smtp_port}"),
            "--http",
            &format!("127.0.0.1:{mailbox_port}"),
            "--credentials",
            &format!("thongbao:{SECRET}"),
        ],
        dir,
    );
    let _camera = tests::serve_scenario("red-light", 1, rtsp, dir);
    let notify_env = [
        ("NOTIFY__HTTP__BIND", format!("127.0.0.1:{notify_port}")),
        (
            "NOTIFY__DATABASE__URL",
            format!("sqlite://{}/notify.db", dir.display()),
        ),
        ("NOTIFY__INTAKE__SHARED_SECRET", SECRET.into()),
        ("NOTIFY__PORTAL__ISSUER_URL", oidc_url.clone()),
        ("NOTIFY__PORTAL__CLIENT_SECRET", SECRET.into()),
        (
            "NOTIFY__PORTAL__REDIRECT_URL",
            format!("{notify_url}/auth/callback"),
        ),
        ("NOTIFY__PORTAL__EVIDENCE_URL", central_url.clone()),
        ("NOTIFY__PORTAL__EVIDENCE_LINK_SECRET", SECRET.into()),
        ("NOTIFY__PAYMENT__HASH_SECRET", SECRET.into()),
        (
            "NOTIFY__PAYMENT__GATEWAY_URL",
            format!("{vnpay_url}/paymentv2/vpcpay.html"),
        ),
        (
            "NOTIFY__PAYMENT__QUERY_URL",
            format!("{vnpay_url}/merchant_webapi/api/transaction"),
        ),
        (
            "NOTIFY__PAYMENT__RETURN_URL",
            format!("{notify_url}/payment/vnpay/return"),
        ),
        (
            "NOTIFY__DELIVERY__PUSH_URL",
            format!("{push_url}/api/v1/push"),
        ),
        ("NOTIFY__DELIVERY__PUSH_SECRET", SECRET.into()),
        (
            "NOTIFY__DELIVERY__SMTP_URL",
            format!("smtp://127.0.0.1:{smtp_port}"),
        ),
        ("NOTIFY__DELIVERY__SMTP_USERNAME", "thongbao".into()),
        ("NOTIFY__DELIVERY__SMTP_PASSWORD", SECRET.into()),
        ("NOTIFY__DELIVERY__PORTAL_URL", notify_url.clone()),
        ("NOTIFY__CENTRAL__URL", central_url.clone()),
    ];
    let notify_env: Vec<(&str, &str)> = notify_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let notify = Service::start("citizen-notify", &[], &notify_env, dir).unwrap();
    let central = Service::start("central-api", &[], &central_env, dir).unwrap();
    let edge = Service::start(
        "edge-agent",
        &["--config", edge_config.to_str().unwrap()],
        &[],
        dir,
    )
    .unwrap();

    // The first red-light runner whose plate the junction's plate camera read reaches the
    // review queue with its owner found (one it could not see unmistakably — hidden behind
    // another vehicle, or still being looked at on a loaded box — stays unread, and waits for
    // an officer like any other).
    let token = central.reviewer_token().unwrap();
    let mut seen = serde_json::Value::Null;
    let first = eventually(
        240,
        "a red-light violation with its plate read reaches the review queue",
        || {
            let queue = central.get_json("/api/v1/violations", &token).ok()?;
            let found = queue["items"]
                .as_array()?
                .iter()
                .find(|i| i["kind"] == "red_light" && i["plate"].is_string())
                .cloned();
            seen = queue;
            found
        },
    )
    .unwrap_or_else(|e| {
        let queue: Vec<String> = seen["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| format!("{} {} plate {}", i["kind"], i["vehicle_class"], i["plate"]))
            .collect();
        panic!(
            "{e:#}\nqueue: {queue:?}\nedge log:\n{}\ncentral log:\n{}",
            edge.log_tail(60),
            central.log_tail(20)
        )
    });
    let id = first["event_id"].as_str().unwrap().to_owned();
    // Every evidence file arrives, and each is the one the device hashed and signed.
    let one = eventually(60, "the evidence of the violation arrives", || {
        let one = central
            .get_json(&format!("/api/v1/violations/{id}"), &token)
            .ok()?;
        (one["evidence_missing"] == serde_json::json!([])).then_some(one)
    })
    .unwrap();
    let event = &one["event"];
    assert_eq!(event["device"], device.as_str());
    let files = event["evidence"].as_array().unwrap();
    let names: Vec<&str> = files.iter().filter_map(|f| f["name"].as_str()).collect();
    for name in [
        "before.jpg",
        "at.jpg",
        "after.jpg",
        "clip.mp4",
        "at-masked.jpg",
        "clip-masked.mp4",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    // What the owner must not be shown: the originals of the masked copies.
    let originals: Vec<String> = files
        .iter()
        .filter_map(|f| f["masking"]["of"].as_str())
        .filter_map(|of| files.iter().find(|f| f["name"] == of))
        .map(|f| f["sha256"].as_str().unwrap().to_owned())
        .collect();
    let masked_at = files
        .iter()
        .find(|f| f["name"] == "at-masked.jpg")
        .map(|f| f["sha256"].as_str().unwrap().to_owned())
        .unwrap();
    let masked_clip = files
        .iter()
        .find(|f| f["name"] == "clip-masked.mp4")
        .map(|f| f["sha256"].as_str().unwrap().to_owned())
        .unwrap();
    // The three images and the clip.
    assert!(originals.len() >= 4, "{names:?}");
    for f in files {
        let sha = f["sha256"].as_str().unwrap();
        // The store's layout, as docs/reference.md gives it: sha256/ab/abcd…, each file sealed
        // at rest (central's evidence key), so the disk holds no image as it was.
        let bytes = std::fs::read(evidence_dir.join("sha256").join(&sha[..2]).join(sha)).unwrap();
        assert!(
            bytes.starts_with(b"TVESEAL1"),
            "{} is not sealed",
            f["name"]
        );
        assert_ne!(Sha256Digest::of(&bytes).to_hex(), sha, "{}", f["name"]);
        assert!(bytes.len() as u64 > f["bytes"].as_u64().unwrap());
    }
    // The vehicle is of a class that ran the light; a plate the camera read is a true runner's.
    let classes: BTreeSet<String> = truth
        .iter()
        .map(|t| format!("{:?}", t.class).to_lowercase())
        .collect();
    assert!(
        classes.contains(event["vehicle"]["class"].as_str().unwrap()),
        "{} is not among {classes:?}",
        event["vehicle"]["class"]
    );
    // The junction's plate camera read the plate: a true runner's, and its owner found.
    let read = event["plate"]["text"].as_str().expect("the plate read");
    assert!(
        plates.contains(read),
        "{read} is not a true runner's plate: {plates:?}"
    );
    assert_eq!(one["owner_lookup"], "found");
    assert!(names.contains(&"plate-camera.jpg"), "{names:?}");

    // Confirmed; the notice of violation reaches the citizen app.
    let approved = central
        .post_json(
            &format!("/api/v1/violations/{id}/approve"),
            Some(&token),
            "{}",
        )
        .unwrap();
    let fine_id = approved["notice"]["fine_id"].as_str().unwrap().to_owned();
    eventually(60, "the notice is pushed to the citizen app", || {
        let got = tests::get_json_at(&format!("{push_url}/sandbox/push/received")).ok()?;
        got.to_string().contains(&fine_id).then_some(())
    })
    .unwrap();
    // And by e-mail, to the address on record, through the mail relay.
    let mail = eventually(60, "the notice is mailed to the owner", || {
        let got = tests::get_json_at(&format!(
            "http://127.0.0.1:{mailbox_port}/sandbox/smtp/received"
        ))
        .ok()?;
        got.as_array()?
            .iter()
            .find(|m| m["data"].as_str().is_some_and(|d| d.contains(&fine_id)))
            .cloned()
    })
    .unwrap();
    assert_eq!(mail["to"][0], "nguyen.van.an@example.vn");

    // The owner, in a browser: signs in, sees the notice and its evidence, and names the
    // person who was driving.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let b = runtime.block_on(async {
        let b = Browser::start().await.unwrap();
        sign_in_and_open(&b, &notify_url, OWNER, &fine_id).await;
        assert!(
            b.client.find(Locator::Css("#pay")).await.is_err(),
            "a notice is not paid"
        );
        b.wait_until(
            "const i = [...document.querySelectorAll('img')]; \
             return i.length > 0 && i.every(x => x.complete && x.naturalWidth > 0)",
            15,
        )
        .await
        .unwrap();
        b.screenshot("citizen-notice").await.unwrap();
        // The owner's images and clip are the masked copies; the officers' originals are not
        // linked.
        let shown = b
            .eval("return [...document.querySelectorAll('img, video')].map(x => x.src)")
            .await
            .unwrap();
        let shown: Vec<String> = serde_json::from_value(shown).unwrap();
        for copy in [&masked_at, &masked_clip] {
            assert!(shown.iter().any(|src| src.contains(copy)), "{shown:?}");
        }
        for original in &originals {
            assert!(shown.iter().all(|src| !src.contains(original)), "{shown:?}");
        }
        // What the owner's link serves is the file the device signed, opened from its seal.
        let link = shown.iter().find(|src| src.contains(&masked_at)).unwrap();
        let served = ureq::get(link)
            .call()
            .unwrap()
            .into_body()
            .read_to_vec()
            .unwrap();
        assert_eq!(Sha256Digest::of(&served).to_hex(), masked_at);
        for (field, value) in [
            ("driver_name", DRIVER_NAME),
            ("driver_id", DRIVER),
            ("licence_no", LICENCE),
        ] {
            b.client
                .find(Locator::Css(&format!("#driver-form input[name={field}]")))
                .await
                .unwrap()
                .send_keys(value)
                .await
                .unwrap();
        }
        b.client
            .find(Locator::Css("#name-driver"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        b.wait_for("#answer", 10).await.unwrap();
        b
    });

    // Central checks the person against the population database and moves the case to them:
    // a notice of their own, pushed and mailed to them.
    let driver_case = eventually(60, "the case moves to the driver the owner named", || {
        let one = central
            .get_json(&format!("/api/v1/violations/{id}"), &token)
            .ok()?;
        (one["fine"]["named"]["citizen_id"] == DRIVER).then(|| one["fine"].clone())
    })
    .unwrap();
    let driver_fine = driver_case["fine_id"].as_str().unwrap().to_owned();
    assert_ne!(driver_fine, fine_id);
    let mail = eventually(60, "the driver's notice is mailed to them", || {
        let got = tests::get_json_at(&format!(
            "http://127.0.0.1:{mailbox_port}/sandbox/smtp/received"
        ))
        .ok()?;
        got.as_array()?
            .iter()
            .find(|m| m["data"].as_str().is_some_and(|d| d.contains(&driver_fine)))
            .cloned()
    })
    .unwrap();
    assert_eq!(mail["to"][0], "tran.thi.binh@example.vn");

    // The driver signs in, sees the notice sent to them, and explains.
    runtime.block_on(async {
        b.client.goto(&notify_url).await.unwrap();
        b.wait_for("#sign-out", 10)
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        sign_in_and_open(&b, &notify_url, DRIVER, &driver_fine).await;
        b.wait_for("#named", 10).await.unwrap();
        assert!(
            b.client.find(Locator::Css("#driver-form")).await.is_err(),
            "the person named answers for themselves"
        );
        b.client
            .find(Locator::Css("textarea[name=reason]"))
            .await
            .unwrap()
            .send_keys("Đèn vàng chuyển đỏ khi xe tôi đã qua vạch dừng.")
            .await
            .unwrap();
        b.client
            .find(Locator::Css("#dispute"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        b.wait_for("#answer", 10).await.unwrap();
    });

    // The explanation reaches central; a supervisor does not accept it, and the officer with
    // sanctioning authority decides (the explanation heard, no period left to wait).
    eventually(60, "central hears the driver's explanation", || {
        let one = central
            .get_json(&format!("/api/v1/violations/{id}"), &token)
            .ok()?;
        (one["fine"]["status"] == "disputed").then_some(())
    })
    .unwrap();
    let supervisor = central.token_of("supervisor").unwrap();
    central
        .post_json(
            &format!("/api/v1/violations/{id}/resolve"),
            Some(&supervisor),
            r#"{"outcome":"upheld","answer":"Hình ảnh cho thấy đèn đỏ đã bật trước khi xe qua vạch."}"#,
        )
        .unwrap();
    let chief = central.token_of("chief").unwrap();
    let decision = central
        .post_json(
            &format!("/api/v1/violations/{id}/decision"),
            Some(&chief),
            "{}",
        )
        .unwrap();
    let number = decision["decision_number"].as_str().unwrap().to_owned();
    assert!(number.ends_with("/QĐ-XPHC"), "{decision}");
    assert_eq!(decision["citizen_id"], DRIVER, "{decision}");

    // The driver sees the decision and pays it.
    runtime.block_on(async {
        let page = format!("{notify_url}/fines/{driver_fine}");
        let mut tries = 0;
        while b.client.find(Locator::Css("#pay")).await.is_err() {
            tries += 1;
            assert!(tries < 60, "the decision never reached the portal");
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            b.client.goto(&page).await.unwrap();
        }
        let shown = b
            .client
            .find(Locator::Css("#decision"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(shown, number);
        b.screenshot("citizen-fine").await.unwrap();
        b.client
            .find(Locator::Css("#pay"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        b.wait_for("#approve", 10)
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        b.wait_for("#transaction", 15).await.unwrap();
        let result = b
            .wait_for("#result", 5)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(result.contains("Đã thanh toán"), "{result}");
        b.close().await.unwrap();
    });

    // Central hears of it: the fine is paid, and the trail holds every step.
    let paid = eventually(60, "central shows the fine paid", || {
        let one = central
            .get_json(&format!("/api/v1/violations/{id}"), &token)
            .ok()?;
        (one["fine"]["status"] == "paid").then_some(one)
    })
    .unwrap();
    let actions: Vec<&str> = paid["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for step in [
        "violation.received",
        "owner.lookup",
        "violation.confirmed",
        "fine.notice_delivered",
        "fine.driver_named",
        "fine.disputed",
        "fine.upheld",
        "fine.decided",
        "fine.paid",
    ] {
        assert!(actions.contains(&step), "{step} missing from {actions:?}");
    }

    // No log holds the personal data the chain carried: plates (as stored and as written on the
    // plate), the owner's name, citizen id, address and e-mail.
    let mut personal: Vec<String> = plates
        .iter()
        .flat_map(|p| {
            let written = protocol::plate::Plate::parse(p).map(|p| p.display());
            [Some(p.clone()), written.ok()]
        })
        .flatten()
        .collect();
    personal.extend(
        [
            OWNER,
            "Nguyễn Văn An",
            "12 Võ Văn Tần",
            "nguyen.van.an@example.vn",
            DRIVER,
            DRIVER_NAME,
            LICENCE,
            "tran.thi.binh@example.vn",
        ]
        .map(String::from),
    );
    for service in [&edge, &central, &notify] {
        let leaked = service.lines_with(&personal);
        assert!(
            leaked.is_empty(),
            "{} logged personal data:\n{}",
            service.name,
            leaked.join("\n")
        );
    }

    // Nor does central's database, as a backup would copy it: the owner's and the driver's
    // names, addresses, contacts and the driver's licence are sealed where central keeps them —
    // the registry copy, the notices sent, the answers reported, the case moved to the driver.
    let dump = db.dump();
    for contact in [
        "Nguyễn Văn An",
        "12 Võ Văn Tần",
        "nguyen.van.an@example.vn",
        DRIVER_NAME,
        LICENCE,
        "45 Lê Lợi",
        "tran.thi.binh@example.vn",
    ] {
        let holding = tables_holding(&dump, contact);
        assert!(
            holding.is_empty(),
            "central's database holds {contact} in {holding:?}"
        );
    }

    assert_eq!(edge.stop_within(tests::EDGE_STOP).unwrap().code(), Some(0));
    for service in [central, notify] {
        assert_eq!(service.stop().unwrap().code(), Some(0));
    }

    // Nor does citizen-notify's database, as its files lie on the disk once it has stopped:
    // the notices, the answers, the reports, the documents and the sessions are sealed.
    let mut disk = Vec::new();
    for file in ["notify.db", "notify.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.join(file)) {
            disk.extend(bytes);
        }
    }
    assert!(
        disk.len() > 4096,
        "citizen-notify's database is at {}",
        dir.display()
    );
    for personal in [
        "Nguyễn Văn An",
        "nguyen.van.an@example.vn",
        DRIVER_NAME,
        LICENCE,
        "tran.thi.binh@example.vn",
    ] {
        assert!(
            !disk
                .windows(personal.len())
                .any(|w| w == personal.as_bytes()),
            "citizen-notify's database holds {personal}"
        );
    }
}

/// The tables of a `pg_dump --data-only` whose rows hold `text`.
fn tables_holding(dump: &str, text: &str) -> Vec<String> {
    let mut table = "";
    let mut found = Vec::new();
    for line in dump.lines() {
        if let Some(copy) = line.strip_prefix("COPY ") {
            table = copy.split(' ').next().unwrap_or(copy);
        } else if line.contains(text) && !found.iter().any(|t| t == table) {
            found.push(table.to_owned());
        }
    }
    found
}

/// Signs `citizen` in at the portal through the identity sandbox and opens their notice
/// `fine_id` once it is listed.
async fn sign_in_and_open(b: &Browser, notify_url: &str, citizen: &str, fine_id: &str) {
    b.client.goto(notify_url).await.unwrap();
    b.wait_for("#sign-in", 10)
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for(&format!("#citizen-{citizen}"), 10)
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let link = format!("a[href='/fines/{fine_id}']");
    let mut tries = 0;
    while b.client.find(Locator::Css(&link)).await.is_err() {
        tries += 1;
        assert!(tries < 60, "notice {fine_id} never listed for {citizen}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        b.client.goto(notify_url).await.unwrap();
    }
    b.client
        .find(Locator::Css(&link))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for("#answer-due", 10).await.unwrap();
}
