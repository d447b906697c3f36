//! The central chain as separate processes, over loopback: a device publishes a signed violation
//! through Mosquitto, central-api stores it and finds the owner, an officer confirms it through
//! the API, and the notice of violation (no amount, no decision) reaches citizen-notify.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use protocol::{DeviceId, EventId, ViolationEvent};
use tests::{Service, eventually, publish_until_acked, seed_central, unique, upload_evidence};
const SECRET: &str = "the secret central and notify share";

#[test]
fn a_published_violation_is_approved_and_its_notice_reaches_citizen_notify() {
    let dir = std::env::temp_dir().join(unique("chain"));
    std::fs::create_dir_all(&dir).unwrap();
    let notify_db = format!("sqlite://{}/notify.db", dir.display());
    let notify = Service::start(
        "citizen-notify",
        &[],
        &[
            ("NOTIFY__HTTP__BIND", "127.0.0.1:0"),
            ("NOTIFY__DATABASE__URL", &notify_db),
            ("NOTIFY__INTAKE__SHARED_SECRET", SECRET),
        ],
        &dir,
    )
    .unwrap();

    let central_db = format!("sqlite://{}/central.db", dir.display());
    let client_id = unique("central");
    let group = unique("group");
    let notify_url = notify.url("");
    let mqtt_url = tests::mqtt_url();
    let central_env = [
        ("CENTRAL__HTTP__BIND", "127.0.0.1:0"),
        ("CENTRAL__DATABASE__URL", central_db.as_str()),
        ("CENTRAL__MQTT__URL", mqtt_url.as_str()),
        ("CENTRAL__MQTT__CLIENT_ID", client_id.as_str()),
        ("CENTRAL__MQTT__SHARED_GROUP", group.as_str()),
        ("CENTRAL__NOTIFY__URL", notify_url.as_str()),
        ("CENTRAL__NOTIFY__SHARED_SECRET", SECRET),
    ];
    let device = DeviceId::parse(unique("dev")).unwrap();
    let key = seed_central(&central_env, &dir, &device);
    let central = Service::start("central-api", &[], &central_env, &dir).unwrap();

    // Seen now: a case is time-barred a year after its violation, and central's deadline sweep
    // would close one of the example's day.
    let event = ViolationEvent::example_now(device.clone(), EventId::new());
    // The example's files are their names; each arrives as the edge uploads it.
    for item in &event.evidence {
        upload_evidence(
            &central,
            &device,
            &key,
            item.name.as_bytes(),
            &item.content_type,
        );
    }
    let control = tests::central_control_key(&central_env, &dir);
    let ack = publish_until_acked(&device, &key, &control, &event).unwrap();
    assert_eq!(ack.event_ids, [event.event_id]);

    let token = central.reviewer_token().unwrap();
    let id = event.event_id.to_string();
    eventually(20, "the violation reaches the review queue", || {
        let queue = central.get_json("/api/v1/violations", &token).ok()?;
        queue["items"]
            .as_array()?
            .iter()
            .any(|i| i["event_id"] == id.as_str())
            .then_some(())
    })
    .unwrap();

    let approved = central
        .post_json(
            &format!("/api/v1/violations/{id}/approve"),
            Some(&token),
            "{}",
        )
        .unwrap();
    assert!(
        approved["notice"].get("amount_vnd").is_none(),
        "a notice decides nothing: {approved}"
    );

    let fine = eventually(30, "the notice reaches citizen-notify", || {
        let one = central
            .get_json(&format!("/api/v1/violations/{id}"), &token)
            .ok()?;
        (one["fine"]["status"] == "notice_sent").then(|| one["fine"].clone())
    })
    .unwrap();
    assert!(fine["decision_number"].is_null(), "{fine}");
    assert_eq!(fine["amount_vnd"], 19_000_000, "the proposal: {fine}");

    assert_eq!(central.stop().unwrap().code(), Some(0));
    assert_eq!(notify.stop().unwrap().code(), Some(0));
    std::fs::remove_dir_all(dir).unwrap();
}
