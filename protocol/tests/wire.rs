//! The wire contract: round trips, and a distinct error for each way a payload can be wrong.
//!
//! Long because it is a table in code: one case for each way each message can be wrong, each
//! with the error it must get.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use proptest::prelude::*;
use protocol::{
    Ack, CameraId, CameraState, CameraStatus, DeviceId, DeviceKey, DeviceState, DeviceStatus,
    EventId, PlateCandidate, SignalPhase, SignalSource, SignalState, UtcTimestamp, ViolationEvent,
    ViolationKind, WireError, wire,
};
use serde_json::{Value, json};

fn device() -> DeviceId {
    DeviceId::parse("hcm-q1-001").unwrap()
}

fn key() -> DeviceKey {
    DeviceKey::from_seed([42; 32])
}

fn event() -> ViolationEvent {
    ViolationEvent::example(device(), EventId::from_parts(1_764_146_096_250, [3; 10]))
}

fn signed_bytes() -> Vec<u8> {
    wire::encode_signed(&event(), &key()).unwrap()
}

/// Edits the JSON of a signed event and writes it back in canonical form, so the decoder gets
/// past the canonical-form check and reaches the field it is meant to refuse.
fn tampered(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(&signed_bytes()).unwrap();
    edit(value.as_object_mut().unwrap());
    serde_json_canonicalizer::to_vec(&value).unwrap()
}

fn decode(bytes: &[u8]) -> Result<ViolationEvent, WireError> {
    wire::decode_signed::<ViolationEvent>(bytes)?
        .verify_with(|d| (d == &device()).then(|| key().public_key()))
}

#[test]
fn a_signed_event_round_trips_and_verifies() {
    let bytes = signed_bytes();
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(text.starts_with('{') && !text.contains('\n'));
    assert!(text.contains(r#""schema":"tve.violation""#) && text.contains(r#""schema_version":1"#));
    assert_eq!(decode(&bytes).unwrap(), event());
}

#[test]
fn the_signature_covers_everything_but_itself() {
    let signed = wire::decode_signed::<ViolationEvent>(&signed_bytes()).unwrap();
    let covered: Value = serde_json::from_slice(signed.signed_bytes()).unwrap();
    assert!(covered.get("signature").is_none());
    assert_eq!(covered["schema"], "tve.violation");
    assert_eq!(covered["plate"]["text"], "51F12345");
}

/// Central's control key, which devices pin.
fn central() -> DeviceKey {
    DeviceKey::from_seed([7; 32])
}

fn ack() -> Ack {
    Ack {
        device: device(),
        event_ids: vec![event().event_id],
        stored_at: UtcTimestamp::from_unix_ms(1_764_146_100_000).unwrap(),
    }
}

#[test]
fn control_messages_round_trip_signed_by_their_speakers() {
    let at = UtcTimestamp::from_unix_ms(1_764_146_100_000).unwrap();
    let pinned = [central().public_key()];
    let ack = ack();
    let bytes = wire::encode_signed(&ack, &central()).unwrap();
    assert!(
        std::str::from_utf8(&bytes)
            .unwrap()
            .contains(r#""schema_version":2"#)
    );
    assert_eq!(
        wire::decode_signed::<Ack>(&bytes)
            .unwrap()
            .verify_by(&pinned)
            .unwrap(),
        ack
    );

    let status = DeviceStatus {
        device: device(),
        state: DeviceState::Degraded,
        at: Some(at),
        software_version: Some("0.1.0".into()),
        cameras: vec![CameraStatus {
            camera: CameraId::parse("north").unwrap(),
            state: CameraState::Reconnecting,
            detect_fps: 4.5,
            signal_fault: None,
        }],
        outbox_depth: Some(12),
    };
    let device_key = |d: &DeviceId| (d == &device()).then(|| key().public_key());
    let bytes = wire::encode_signed(&status, &key()).unwrap();
    assert_eq!(
        wire::decode_signed::<DeviceStatus>(&bytes)
            .unwrap()
            .verify_with(device_key)
            .unwrap(),
        status
    );
    let will = DeviceStatus::offline(device(), at);
    let bytes = wire::encode_signed(&will, &key()).unwrap();
    assert_eq!(
        wire::decode_signed::<DeviceStatus>(&bytes)
            .unwrap()
            .verify_with(device_key)
            .unwrap(),
        will
    );

    let controller = DeviceKey::from_seed([9; 32]);
    let phase = SignalPhase {
        device: device(),
        camera: CameraId::parse("north").unwrap(),
        phase: SignalState::Red,
        changed_at: at,
        source: SignalSource::Controller,
    };
    let bytes = wire::encode_signed(&phase, &controller).unwrap();
    assert_eq!(
        wire::decode_signed::<SignalPhase>(&bytes)
            .unwrap()
            .verify_by(&[controller.public_key()])
            .unwrap(),
        phase
    );
}

#[test]
fn a_control_message_is_taken_only_under_a_pinned_key() {
    let forger = DeviceKey::from_seed([1; 32]);
    let forged = wire::encode_signed(&ack(), &forger).unwrap();
    let err = wire::decode_signed::<Ack>(&forged)
        .unwrap()
        .verify_by(&[central().public_key()])
        .unwrap_err();
    assert_eq!(err.code(), "bad_signature");
    assert_eq!(
        err.to_string(),
        "signature does not verify with the key of central"
    );
    // While central's key is rotated the device pins both, and either verifies.
    let genuine = wire::encode_signed(&ack(), &central()).unwrap();
    let both = [forger.public_key(), central().public_key()];
    assert!(
        wire::decode_signed::<Ack>(&genuine)
            .unwrap()
            .verify_by(&both)
            .is_ok()
    );
    // Nothing pinned: nothing verifies.
    assert!(
        wire::decode_signed::<Ack>(&genuine)
            .unwrap()
            .verify_by(&[])
            .is_err()
    );
    // An unsigned acknowledgement, as version 1 sent them, is refused before any key is tried.
    let unsigned = wire::encode(&ack()).unwrap();
    assert!(matches!(
        wire::decode_signed::<Ack>(&unsigned),
        Err(WireError::MissingField(ref f)) if f == "signature"
    ));
    let mut v1: Value = serde_json::from_slice(&unsigned).unwrap();
    v1["schema_version"] = json!(1);
    assert!(matches!(
        wire::decode_signed::<Ack>(&serde_json::to_vec(&v1).unwrap()),
        Err(WireError::UnsupportedVersion { .. })
    ));
}

#[test]
fn an_unsigned_message_with_a_signature_is_refused() {
    let ack = Ack {
        device: device(),
        event_ids: vec![event().event_id],
        stored_at: UtcTimestamp::now(),
    };
    let mut value: Value = serde_json::from_slice(&wire::encode(&ack).unwrap()).unwrap();
    value["signature"] = json!("AAAA");
    let bytes = serde_json::to_vec(&value).unwrap();
    assert!(
        matches!(wire::decode::<Ack>(&bytes), Err(WireError::UnknownField(ref f)) if f == "signature")
    );
}

#[test]
fn a_message_of_another_schema_is_refused() {
    let ack = Ack {
        device: device(),
        event_ids: vec![event().event_id],
        stored_at: UtcTimestamp::now(),
    };
    let bytes = wire::encode(&ack).unwrap();
    assert!(matches!(
        wire::decode_signed::<ViolationEvent>(&bytes),
        Err(WireError::WrongSchema { expected: "tve.violation", ref found }) if found == "tve.ack"
    ));
}

#[test]
fn each_fault_has_its_own_error() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("oversized", vec![b' '; 64 * 1024 + 1], "oversized"),
        ("not json", b"{\"schema\":".to_vec(), "malformed_json"),
        ("not an object", b"[1,2]".to_vec(), "not_an_object"),
        (
            "no schema",
            tampered(|o| {
                o.remove("schema");
            }),
            "missing_field",
        ),
        (
            "wrong schema",
            tampered(|o| {
                o.insert("schema".into(), json!("frigate/events"));
            }),
            "wrong_schema",
        ),
        (
            "no version",
            tampered(|o| {
                o.remove("schema_version");
            }),
            "missing_field",
        ),
        (
            "future version",
            tampered(|o| {
                o.insert("schema_version".into(), json!(2));
            }),
            "unsupported_version",
        ),
        (
            "text version",
            tampered(|o| {
                o.insert("schema_version".into(), json!("1"));
            }),
            "unsupported_version",
        ),
        (
            "no signature",
            tampered(|o| {
                o.remove("signature");
            }),
            "missing_field",
        ),
        (
            "signature not base64",
            tampered(|o| {
                o.insert("signature".into(), json!("%%%"));
            }),
            "malformed_signature",
        ),
        (
            "signature too short",
            tampered(|o| {
                o.insert("signature".into(), json!("AAAA"));
            }),
            "malformed_signature",
        ),
        (
            "missing kind",
            tampered(|o| {
                o.remove("kind");
            }),
            "missing_field",
        ),
        (
            "unknown field",
            tampered(|o| {
                o.insert("colour".into(), json!("red"));
            }),
            "unknown_field",
        ),
        (
            "non-UTC time",
            tampered(|o| {
                o.insert("occurred_at".into(), json!("2025-11-26T15:34:56.250+07:00"));
            }),
            "non_utc_time",
        ),
        (
            "latitude out of range",
            tampered(|o| {
                o["site"]["latitude"] = json!(91.0);
            }),
            "invalid_field",
        ),
        (
            "unknown kind",
            tampered(|o| {
                o.insert("kind".into(), json!("jaywalking"));
            }),
            "invalid_field",
        ),
        (
            "no evidence",
            tampered(|o| {
                o.insert("evidence".into(), json!([]));
            }),
            "invalid_field",
        ),
        (
            "bad digest",
            tampered(|o| {
                o["evidence"][0]["sha256"] = json!("ABC");
            }),
            "invalid_field",
        ),
        (
            "plate text not canonical",
            tampered(|o| {
                o["plate"]["text"] = json!("51F-123.45");
            }),
            "invalid_field",
        ),
        (
            "a plate both read and unread",
            tampered(|o| {
                o.insert(
                    "plate_unread".into(),
                    json!({"layout": "one_line", "colour": "white"}),
                );
            }),
            "invalid_field",
        ),
        (
            "changed after signing",
            tampered(|o| {
                o["plate"]["text"] = json!("51F12346");
            }),
            "bad_signature",
        ),
    ];
    for (what, bytes, code) in cases {
        match decode(&bytes) {
            Err(e) => assert_eq!(e.code(), code, "{what}: {e}"),
            Ok(_) => panic!("{what}: accepted"),
        }
    }
}

/// A plate seen but read under the device's floor travels as guesses for the officer, not as
/// a reading: its candidates are checked as a reading's are.
#[test]
fn an_unread_plate_carries_its_guesses() {
    let mut e = event();
    e.plate = None;
    e.plate_unread = Some(protocol::UnreadPlate {
        layout: protocol::PlateLayout::TwoLine,
        colour: protocol::PlateColour::Yellow,
        candidates: vec![
            PlateCandidate {
                text: "59X112345".into(),
                confidence: 0.41,
            },
            PlateCandidate {
                text: "59X112845".into(),
                confidence: 0.22,
            },
        ],
    });
    let bytes = wire::encode_signed(&e, &key()).unwrap();
    assert_eq!(decode(&bytes).unwrap(), e);
    let o: serde_json::Map<String, Value> = serde_json::from_slice(&bytes).unwrap();
    assert!(!o.contains_key("plate"));
    assert_eq!(o["plate_unread"]["candidates"][1]["text"], "59X112845");

    e.plate_unread.as_mut().unwrap().candidates[1].text = "59-X1 128.45".into();
    let refused = wire::encode_signed(&e, &key()).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("plate_unread.candidates[1].text"),
        "{refused}"
    );
}

/// A masked copy names its original, which the citizen is then not shown; a copy of nothing,
/// of itself or of another copy is refused.
#[test]
fn a_masked_copy_names_its_original_and_replaces_it_for_citizens() {
    let mut e = event();
    let mut copy = e.evidence[0].clone();
    copy.name = "at-masked.jpg".into();
    copy.sha256 = protocol::Sha256Digest::of(b"masked");
    copy.masking = Some(protocol::Masking {
        of: e.evidence[0].name.clone(),
        regions: vec![protocol::VehicleBox {
            x: 10,
            y: 20,
            width: 300,
            height: 200,
        }],
        frames: None,
    });
    e.evidence.push(copy);
    let bytes = wire::encode_signed(&e, &key()).unwrap();
    assert_eq!(decode(&bytes).unwrap(), e);
    let shown = protocol::for_citizens(&e.evidence);
    let names: Vec<&str> = shown.iter().map(|i| i.name.as_str()).collect();
    assert!(names.contains(&"at-masked.jpg"), "{names:?}");
    assert!(!names.contains(&e.evidence[0].name.as_str()), "{names:?}");
    // The camera's own clip shows every face and plate that passed: it is never shown
    // outside the police until a masked copy of it is in the package.
    assert!(!names.contains(&"clip.mp4"), "{names:?}");
    assert_eq!(
        shown.len(),
        e.evidence.len() - 2,
        "only the original and the unmasked clip are held back"
    );

    // A masked clip names the file that lists what each of its frames hides.
    let clip = e.evidence.iter().find(|i| i.name == "clip.mp4").unwrap();
    let mut masked_clip = clip.clone();
    masked_clip.name = "clip-masked.mp4".into();
    masked_clip.sha256 = protocol::Sha256Digest::of(b"masked clip");
    masked_clip.masking = Some(protocol::Masking {
        of: "clip.mp4".into(),
        regions: Vec::new(),
        frames: Some("clip-masked.json".into()),
    });
    let mut frames = clip.clone();
    frames.name = "clip-masked.json".into();
    frames.sha256 = protocol::Sha256Digest::of(b"frames");
    frames.content_type = "application/json".into();
    let mut with_clip = e.clone();
    with_clip.evidence.extend([masked_clip, frames]);
    let bytes = wire::encode_signed(&with_clip, &key()).unwrap();
    assert_eq!(decode(&bytes).unwrap(), with_clip);
    let shown = protocol::for_citizens(&with_clip.evidence);
    let names: Vec<&str> = shown.iter().map(|i| i.name.as_str()).collect();
    assert!(names.contains(&"clip-masked.mp4"), "{names:?}");
    for held in ["clip.mp4", "clip-masked.json"] {
        assert!(!names.contains(&held), "{held} shown: {names:?}");
    }
    let mut no_frames = with_clip.clone();
    no_frames.evidence.pop();
    let refused = wire::encode_signed(&no_frames, &key()).unwrap_err();
    assert!(refused.to_string().contains("masking.frames"), "{refused}");

    for (of, why) in [
        ("no-such.jpg", "a copy of nothing"),
        ("at-masked.jpg", "a copy of itself"),
    ] {
        let mut bad = e.clone();
        bad.evidence
            .last_mut()
            .unwrap()
            .masking
            .as_mut()
            .unwrap()
            .of = of.into();
        let refused = wire::encode_signed(&bad, &key()).unwrap_err();
        assert!(
            refused.to_string().contains("masking.of"),
            "{why}: {refused}"
        );
    }
    let mut empty = e.clone();
    empty
        .evidence
        .last_mut()
        .unwrap()
        .masking
        .as_mut()
        .unwrap()
        .regions[0]
        .width = 0;
    let refused = wire::encode_signed(&empty, &key()).unwrap_err();
    assert!(refused.to_string().contains("masking.regions"), "{refused}");
}

#[test]
fn errors_name_the_field() {
    let err = decode(&tampered(|o| {
        o["vehicle"].as_object_mut().unwrap().remove("class");
    }))
    .unwrap_err();
    assert!(
        matches!(err, WireError::MissingField(ref f) if f == "vehicle.class"),
        "{err}"
    );

    let err = decode(&tampered(|o| {
        o["site"]["heading"] = json!(90);
    }))
    .unwrap_err();
    assert!(
        matches!(err, WireError::UnknownField(ref f) if f == "site.heading"),
        "{err}"
    );

    let err = decode(&tampered(|o| {
        o["evidence"][1]["captured_at"] = json!("2025-11-26T08:34:56.250-01:00");
    }))
    .unwrap_err();
    assert!(
        matches!(err, WireError::NonUtcTime { ref field, .. } if field == "evidence[1].captured_at"),
        "{err}"
    );

    let err = decode(&tampered(|o| {
        o["plate"]["confidence"] = json!(1.5);
    }))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `plate.confidence` 1.5 is outside 0–1"
    );

    let err = decode(&tampered(|o| {
        o.insert("schema_version".into(), json!(7));
    }))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported version 7 of schema `tve.violation`: this build reads version 1"
    );
}

#[test]
fn a_signed_event_must_arrive_in_canonical_form() {
    let value: Value = serde_json::from_slice(&signed_bytes()).unwrap();
    let pretty = serde_json::to_vec_pretty(&value).unwrap();
    assert!(matches!(decode(&pretty), Err(WireError::NotCanonical)));
}

#[test]
fn unknown_devices_and_foreign_keys_are_refused() {
    let bytes = signed_bytes();
    let err = wire::decode_signed::<ViolationEvent>(&bytes)
        .unwrap()
        .verify_with(|_| None)
        .unwrap_err();
    assert!(matches!(err, WireError::UnknownDevice(ref d) if d == &device()));

    let forger = DeviceKey::from_seed([1; 32]);
    let forged = wire::encode_signed(&event(), &forger).unwrap();
    assert!(matches!(
        decode(&forged),
        Err(WireError::BadSignature { .. })
    ));
}

#[test]
fn invalid_messages_cannot_be_sent() {
    let mut e = event();
    e.site.latitude = f64::NAN;
    assert!(
        matches!(wire::encode_signed(&e, &key()), Err(WireError::InvalidField { ref field, .. }) if field == "site.latitude")
    );
    let mut e = event();
    e.evidence.push(e.evidence[0].clone());
    assert!(
        matches!(wire::encode_signed(&e, &key()), Err(WireError::InvalidField { ref field, .. }) if field == "evidence[5].name")
    );
}

#[test]
fn integers_json_cannot_carry_exactly_are_refused() {
    let mut e = event();
    e.vehicle.track_id = wire::MAX_SAFE_INTEGER + 1;
    assert!(
        matches!(wire::encode_signed(&e, &key()), Err(WireError::InvalidField { ref field, .. }) if field == "vehicle.track_id")
    );
    e.vehicle.track_id = wire::MAX_SAFE_INTEGER;
    assert_eq!(
        decode(&wire::encode_signed(&e, &key()).unwrap()).unwrap(),
        e
    );
}

fn arbitrary_event() -> impl Strategy<Value = ViolationEvent> {
    (
        0..=wire::MAX_SAFE_INTEGER,
        proptest::sample::select(ViolationKind::ALL.to_vec()),
        0.0f64..=1.0,
        proptest::option::of(0.0f64..=300.0),
        1u64..10_000_000,
        "[A-Za-zÀ-ỹ][A-Za-zÀ-ỹ0-9 ,.]{0,39}",
        (-90.0f64..=90.0, -180.0f64..=180.0),
        0i64..4_000_000_000_000,
    )
        .prop_map(|(track, kind, conf, speed, bytes, name, (lat, lon), ms)| {
            let mut e = event();
            e.event_id = EventId::from_parts(ms as u64, [track as u8; 10]);
            e.vehicle.track_id = track;
            e.kind = kind;
            e.vehicle.confidence = conf;
            e.measurement.speed_kmh = speed;
            e.evidence[0].bytes = bytes;
            e.site.name = name;
            e.site.latitude = lat;
            e.site.longitude = lon;
            e.occurred_at = UtcTimestamp::from_unix_ms(ms).unwrap();
            e
        })
}

proptest! {
    #[test]
    fn sign_serialize_parse_verify_round_trips(e in arbitrary_event(), seed in any::<[u8; 32]>()) {
        let key = DeviceKey::from_seed(seed);
        let bytes = wire::encode_signed(&e, &key).unwrap();
        let signed = wire::decode_signed::<ViolationEvent>(&bytes).unwrap();
        signed.verify(&key.public_key()).unwrap();
        prop_assert_eq!(signed.message, e);
    }

    #[test]
    fn any_single_byte_change_fails(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let original = signed_bytes();
        let mut bytes = original.clone();
        let i = index.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        prop_assert!(decode(&bytes).is_err(), "byte {} changed to {:#04x} was accepted", i, byte);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = wire::decode_signed::<ViolationEvent>(&bytes);
        let _ = wire::decode_signed::<Ack>(&bytes);
        let _ = wire::decode_signed::<DeviceStatus>(&bytes);
        let _ = wire::decode_signed::<SignalPhase>(&bytes);
        let _ = wire::decode_signed::<protocol::DeviceConfig>(&bytes);
    }
}

#[test]
fn storage_names_match_the_wire_names() {
    use protocol::{PlateColour, VehicleClass};
    let name = |v: Value| v.as_str().unwrap().to_owned();
    for kind in ViolationKind::ALL {
        assert_eq!(name(serde_json::to_value(kind).unwrap()), kind.as_str());
        assert_eq!(kind.as_str().parse::<ViolationKind>(), Ok(kind));
    }
    for class in [
        VehicleClass::Car,
        VehicleClass::Motorbike,
        VehicleClass::Bus,
        VehicleClass::Truck,
    ] {
        assert_eq!(name(serde_json::to_value(class).unwrap()), class.as_str());
    }
    for colour in PlateColour::ALL {
        assert_eq!(name(serde_json::to_value(colour).unwrap()), colour.as_str());
        assert_eq!(PlateColour::parse(colour.as_str()), Some(colour));
    }
}
