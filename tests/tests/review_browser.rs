//! The police review flow in a real browser: central-api runs as its own process, a device
//! publishes a signed red-light violation through Mosquitto and uploads its evidence (JPEG images
//! and an H.264 clip); an officer in headless Chromium signs in, opens the queue, opens the
//! violation, sees its images and clip, zooms, corrects the misread plate with the keyboard and
//! tries to confirm it — refused: another officer confirms a violation whose plate an officer
//! corrected — and a supervisor confirms it; the case exists afterwards, its notice issued and
//! nothing decided yet. The screenshots it takes are the README's.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{path::Path, process::Command};

use protocol::{DeviceId, EventId, EvidenceItem, Sha256Digest, ViolationEvent};
use tests::{
    Service, browser::Browser, eventually, publish_until_acked, seed_central, unique,
    upload_evidence,
};

/// A 960×540 JPEG: a road, a car, and its plate, tinted by `shade` so each image differs.
fn road_image(shade: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(960, 540, |x, y| {
        let in_car = (380..620).contains(&x) && (220..400).contains(&y);
        let in_plate = (450..550).contains(&x) && (350..380).contains(&y);
        if in_plate {
            image::Rgb([240, 240, 240])
        } else if in_car {
            image::Rgb([180, 30, shade])
        } else {
            let g = 60 + (y / 6) as u8;
            image::Rgb([g, g, g.saturating_add(shade / 4)])
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .unwrap();
    out
}

/// A three-second H.264 clip in MP4, made by GStreamer as the edge agent's remux makes them.
fn clip(dir: &Path) -> Vec<u8> {
    let path = dir.join("clip.mp4");
    let status = Command::new("gst-launch-1.0")
        .args([
            "-q",
            "videotestsrc",
            "num-buffers=36",
            "!",
            "video/x-raw,width=320,height=240,framerate=12/1",
            "!",
            "x264enc",
            "!",
            "video/x-h264,profile=constrained-baseline",
            "!",
            "mp4mux",
            "faststart=true",
            "!",
            "filesink",
        ])
        .arg(format!("location={}", path.display()))
        .status()
        .expect("gst-launch-1.0 (make deps installs gstreamer1.0-tools)");
    assert!(status.success(), "gst-launch-1.0 could not make the clip");
    std::fs::read(path).unwrap()
}

#[test]
fn an_officer_reviews_a_violation_in_the_browser_and_the_fine_is_issued() {
    let dir = std::env::temp_dir().join(unique("review-browser"));
    std::fs::create_dir_all(&dir).unwrap();
    let owned = tests::sqlite_central_env(&dir);
    let env = tests::env_refs(&owned);
    let device = DeviceId::parse(unique("dev")).unwrap();
    let key = seed_central(&env, &dir, &device);
    let central = Service::start("central-api", &[], &env, &dir).unwrap();

    // The event, read by the camera as 51F-128.46, with real evidence files.
    let mut event = ViolationEvent::example_now(device.clone(), EventId::new());
    event.plate.as_mut().unwrap().text = "51F12846".into();
    event.plate.as_mut().unwrap().display = "51F-128.46".into();
    let files: Vec<(&str, &str, Vec<u8>)> = vec![
        ("before.jpg", "image/jpeg", road_image(20)),
        ("at.jpg", "image/jpeg", road_image(120)),
        ("after.jpg", "image/jpeg", road_image(220)),
        ("clip.mp4", "video/mp4", clip(&dir)),
    ];
    event.evidence = files
        .iter()
        .map(|(name, ct, bytes)| EvidenceItem {
            name: (*name).into(),
            sha256: Sha256Digest::of(bytes),
            bytes: bytes.len() as u64,
            content_type: (*ct).into(),
            captured_at: event.occurred_at,
            masking: None,
        })
        .collect();
    for (_, ct, bytes) in &files {
        upload_evidence(&central, &device, &key, bytes, ct);
    }
    let control = tests::central_control_key(&env, &dir);
    publish_until_acked(&device, &key, &control, &event).unwrap();
    let id = event.event_id.to_string();
    let token = central.reviewer_token().unwrap();
    eventually(20, "the violation reaches the review queue", || {
        let queue = central.get_json("/api/v1/violations", &token).ok()?;
        queue.to_string().contains(&id).then_some(())
    })
    .unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let b = Browser::start().await.unwrap();
        // Any page sends the officer to sign in first.
        let sign_in = async |who: &str, page: &str| {
            b.sign_in(&central.url(page), who).await.unwrap();
        };
        sign_in("reviewer", "/review").await;

        // The queue, with the violation on it.
        let row = b
            .wait_for(&format!("#queue tr[data-href$='{id}']"), 10)
            .await
            .unwrap();
        assert!(row.text().await.unwrap().contains("51F-128.46"));
        b.screenshot("review-queue").await.unwrap();
        // The first row is selected; Enter opens it.
        b.keys("\u{E007}").await.unwrap();

        // The violation: every image loaded, the clip playable, zoom on a click.
        b.wait_for("#viewer", 10).await.unwrap();
        b.wait_until(
            "return [...document.querySelectorAll('.thumb img, #main-image')]\
               .every(i => i.complete && i.naturalWidth === 960)",
            10,
        )
        .await
        .unwrap();
        b.wait_until("return document.querySelector('#clip').readyState >= 1", 15)
            .await
            .unwrap();
        assert_eq!(
            b.eval("return document.querySelector('#clip').videoWidth")
                .await
                .unwrap(),
            320
        );
        b.keys("2").await.unwrap();
        b.wait_until(
            "return document.querySelector('#main-image').dataset.name === 'at.jpg'",
            5,
        )
        .await
        .unwrap();
        // The caption sits below the picture, clear of the data bar at the image's bottom.
        assert_eq!(
            b.eval(
                "const i = document.querySelector('#main-image').getBoundingClientRect();
                 const c = document.querySelector('#main-caption').getBoundingClientRect();
                 return c.top >= i.bottom - 0.5;"
            )
            .await
            .unwrap(),
            true
        );
        b.client
            .find(fantoccini::Locator::Css("#main-image"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert_eq!(
            b.eval("return document.querySelector('#viewer').classList.contains('zoomed')")
                .await
                .unwrap(),
            true
        );
        b.keys("z").await.unwrap();
        // The read plate has no registered owner: correct it from the keyboard.
        assert!(
            b.wait_for("#owner-none", 5)
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
                .contains("chưa đăng ký")
        );
        b.keys("p").await.unwrap();
        assert_eq!(
            b.eval("return document.activeElement.id").await.unwrap(),
            "plate-input"
        );
        b.keys("51F-123.45\u{E007}").await.unwrap();
        let owner = b.wait_for("#owner-name", 10).await.unwrap();
        assert_eq!(owner.text().await.unwrap(), "Nguyễn Văn An");
        assert!(
            b.wait_for("#proposed", 5)
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
                .contains("18.000.000–20.000.000")
        );
        b.screenshot("review-violation").await.unwrap();

        // `a` puts the focus on approval; Enter approves — but the plate this officer corrected
        // names the person fined, so another officer confirms the violation.
        b.keys("a").await.unwrap();
        assert_eq!(
            b.eval("return document.activeElement.id").await.unwrap(),
            "approve"
        );
        b.keys("\u{E007}").await.unwrap();
        b.wait_for(".alert[data-code='second_officer_needed']", 10)
            .await
            .unwrap();
        b.client
            .find(fantoccini::Locator::Css(
                "form[action='/review/logout'] button",
            ))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // Signed out: the sign-in page.
        b.wait_for("#username", 10).await.unwrap();
        // A supervisor opens it and confirms it. No violation is left: back to the queue, which
        // says what was done.
        sign_in("supervisor", "/review").await;
        b.wait_for("#queue", 10).await.unwrap();
        b.client
            .goto(&central.url(&format!("/review/violations/{id}")))
            .await
            .unwrap();
        b.wait_for("#approve", 10).await.unwrap();
        b.keys("a").await.unwrap();
        b.keys("\u{E007}").await.unwrap();
        let flash = b
            .wait_for("#flash", 10)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(flash.contains("thông báo vi phạm được gửi"), "{flash}");
        assert!(b.wait_for("#queue-empty", 5).await.is_ok());

        // The operations centre's counts include it, on the day it happened: the eleven days
        // to today in Vietnam.
        let today = time::OffsetDateTime::now_utc()
            .to_offset(protocol::time::VIETNAM)
            .date();
        let from = today - time::Duration::days(10);
        b.client
            .goto(&central.url(&format!("/review/stats?from={from}&to={today}")))
            .await
            .unwrap();
        assert_eq!(
            b.wait_for("#total", 5).await.unwrap().text().await.unwrap(),
            "1"
        );
        assert_eq!(
            b.eval("return document.querySelectorAll('svg.chart rect.bar').length")
                .await
                .unwrap(),
            11 + 24
        );
        b.screenshot("review-stats").await.unwrap();
        b.close().await.unwrap();
    });

    // The fine exists, on the corrected plate, and the audit trail holds each step.
    let one = central
        .get_json(&format!("/api/v1/violations/{id}"), &token)
        .unwrap();
    assert_eq!(one["status"], "approved");
    assert_eq!(one["plate"], "51F12345");
    assert_eq!(one["fine"]["status"], "issued", "a notice, not a decision");
    assert!(one["fine"]["decision_number"].is_null());
    assert_eq!(
        one["fine"]["issued_by"], "supervisor",
        "not the officer who corrected it"
    );
    let actions: Vec<&str> = one["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "violation.received",
            "owner.lookup",
            "plate.corrected",
            "violation.confirmed"
        ]
    );

    assert_eq!(central.stop().unwrap().code(), Some(0));
    std::fs::remove_dir_all(dir).unwrap();
}
