//! Setting a camera up in a real browser: central-api runs as its own process; an administrator
//! in headless Chromium asks the device for a picture from the camera's page; the device (this
//! test, on Mosquitto) takes central's signed request, answers with a signed snapshot and
//! uploads its JPEG; the page shows the picture; the administrator draws a stop line and a
//! motorbike lane on it by clicking, and saves; central keeps the set-up as the device's next
//! configuration. The screenshot it takes is the installer's guide's.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::Duration;

use protocol::{
    CameraId, DeviceId, Sha256Digest, Topic, UtcTimestamp,
    snapshot::{Snapshot, SnapshotRequest},
    wire,
};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tests::{Service, browser::Browser, eventually, seed_central, unique};

/// A 960×540 JPEG of a road: grey, lighter towards the camera, with a white stop line.
fn road_picture() -> Vec<u8> {
    let img = image::RgbImage::from_fn(960, 540, |_, y| {
        if (398..404).contains(&y) {
            image::Rgb([235, 235, 235])
        } else {
            let g = 50 + (y / 5) as u8;
            image::Rgb([g, g, g])
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .unwrap();
    out
}

/// Clicks on the picture at (`x`, `y`) in its own pixels, as the mouse would there.
fn click_at(x: u32, y: u32) -> String {
    format!(
        "const svg = document.getElementById('geometry-view');
         const p = svg.createSVGPoint(); p.x = {x}; p.y = {y};
         const s = p.matrixTransform(svg.getScreenCTM());
         svg.dispatchEvent(new MouseEvent('click', {{ clientX: s.x, clientY: s.y, bubbles: true }}));
         return 0;"
    )
}

#[test]
fn an_administrator_draws_a_cameras_set_up_on_its_picture() {
    let dir = std::env::temp_dir().join(unique("camera-setup"));
    std::fs::create_dir_all(&dir).unwrap();
    let owned = tests::sqlite_central_env(&dir);
    let env = tests::env_refs(&owned);
    let device = DeviceId::parse(unique("dev")).unwrap();
    let key = seed_central(&env, &dir, &device);
    tests::central_admin(
        &env,
        &dir,
        &[
            "officer-add",
            "--username",
            "admin",
            "--full-name",
            "Võ Thị Hạnh",
            "--role",
            "admin",
        ],
    );
    let control = tests::central_control_key(&env, &dir);
    let central = Service::start("central-api", &[], &env, &dir).unwrap();
    // The camera central keeps, its site named, no geometry yet.
    let token = central.token_of("admin").unwrap();
    let camera = CameraId::parse("hang-xanh-1").unwrap();
    let settings = serde_json::json!({
        "camera": camera,
        "site": { "name": "Ngã tư Hàng Xanh", "latitude": 10.8013, "longitude": 106.7115,
                  "address": "", "direction": "" },
        "speed_limit_kmh": 60.0,
        "red_grace_s": 0.5,
    });
    ureq::put(&central.url(&format!("/api/v1/devices/{device}/cameras/{camera}")))
        .header("authorization", &format!("Bearer {token}"))
        .header("content-type", "application/json")
        .send(settings.to_string().as_bytes())
        .unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // The box, listening on its request topic.
        let (host, port) = tests::mqtt_host_port().unwrap();
        let mut options = MqttOptions::new(unique("box"), host, port);
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut events) = AsyncClient::new(options, 16);
        client
            .subscribe(
                Topic::SnapshotRequest(device.clone()).to_string(),
                QoS::AtLeastOnce,
            )
            .await
            .unwrap();
        loop {
            if let Event::Incoming(Packet::SubAck(_)) = events.poll().await.unwrap() {
                break;
            }
        }

        let b = Browser::start().await.unwrap();
        let page = format!("/review/admin/camera?device={device}&camera={camera}");
        b.sign_in(&central.url(&page), "admin").await.unwrap();
        // No picture yet: the tools draw on a blank frame. Ask the box for one.
        b.wait_for("#geometry-editor", 10).await.unwrap();
        b.click("form[action='/review/admin/camera/snapshot'] button")
            .await
            .unwrap();
        b.wait_for("#snapshot-state[data-state='waiting']", 10)
            .await
            .unwrap();

        // Central's request arrives, signed by its control key; the box answers.
        let payload = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                if let Event::Incoming(Packet::Publish(p)) = events.poll().await.unwrap() {
                    return p.payload.to_vec();
                }
            }
        })
        .await
        .expect("central's request within 20 s");
        let request = wire::decode_signed::<SnapshotRequest>(&payload)
            .unwrap()
            .verify_by(std::slice::from_ref(&control))
            .unwrap();
        assert_eq!(request.camera, camera);
        let jpeg = road_picture();
        let snapshot = Snapshot {
            request_id: request.request_id,
            device: device.clone(),
            camera: camera.clone(),
            taken_at: UtcTimestamp::now(),
            width: 960,
            height: 540,
            sha256: Sha256Digest::of(&jpeg),
            bytes: jpeg.len() as u64,
        };
        client
            .publish(
                Topic::Snapshot(device.clone()).to_string(),
                QoS::AtLeastOnce,
                false,
                wire::encode_signed(&snapshot, &key).unwrap(),
            )
            .await
            .unwrap();
        loop {
            if let Event::Outgoing(rumqttc::Outgoing::Publish(_)) = events.poll().await.unwrap() {
                break;
            }
        }
        tests::upload_evidence(&central, &device, &key, &jpeg, "image/jpeg");

        // The page shows it once it has come.
        let mut shown = false;
        for _ in 0..40 {
            b.client.goto(&central.url(&page)).await.unwrap();
            if b.wait_for("#snapshot-state[data-state='taken']", 1)
                .await
                .is_ok()
            {
                shown = true;
                break;
            }
        }
        assert!(shown, "the picture shown within 40 s");
        b.wait_for("#snapshot-picture", 5).await.unwrap();
        assert_eq!(
            b.eval("return document.getElementById('geometry-editor').dataset.width")
                .await
                .unwrap(),
            "960"
        );

        // The stop line: its two ends on the painted line, then the side traffic comes from.
        let tool = async |name: &str| b.click(&format!("[data-tool='{name}']")).await.unwrap();
        tool("stop").await;
        for (x, y) in [(100, 400), (860, 400), (480, 500)] {
            b.eval(&click_at(x, y)).await.unwrap();
        }
        // A motorbike lane: four corners, done, then the way traffic goes (up the picture).
        tool("lane").await;
        b.click("input[name='allowed'][value='motorbike']")
            .await
            .unwrap();
        for (x, y) in [(100, 540), (400, 540), (420, 250), (250, 250)] {
            b.eval(&click_at(x, y)).await.unwrap();
        }
        b.click("[data-action='done']").await.unwrap();
        for (x, y) in [(250, 500), (250, 300)] {
            b.eval(&click_at(x, y)).await.unwrap();
        }
        let drawn = b
            .eval("return JSON.parse(document.querySelector('textarea[name=geometry]').value)")
            .await
            .unwrap();
        // Where each click landed, in the picture's pixels (a screen pixel is more than one of
        // the picture's at the page's scale: within 2).
        let near = |v: &serde_json::Value, x: f64, y: f64| {
            let (vx, vy) = (v[0].as_f64().unwrap(), v[1].as_f64().unwrap());
            assert!(
                (vx - x).abs() <= 2.0 && (vy - y).abs() <= 2.0,
                "{v} against ({x}, {y})"
            );
        };
        let stop = &drawn["stop_line"];
        near(&stop["a"], 100.0, 400.0);
        near(&stop["b"], 860.0, 400.0);
        near(&stop["before"], 480.0, 500.0);
        let lane = &drawn["lanes"][0];
        assert_eq!(lane["allowed"], serde_json::json!(["motorbike"]));
        assert_eq!(lane["polygon"].as_array().unwrap().len(), 4);
        near(&lane["polygon"][2], 420.0, 250.0);
        let direction = &lane["direction"];
        assert!(direction[0].as_f64().unwrap().abs() <= 2.0, "{direction}");
        assert!(
            (direction[1].as_f64().unwrap() + 200.0).abs() <= 2.0,
            "{direction}"
        );
        b.eval("document.querySelector('.tools').scrollIntoView(); return 0")
            .await
            .unwrap();
        b.screenshot("camera-setup").await.unwrap();

        b.click("#camera-form button.primary").await.unwrap();
        b.wait_for("#admin-devices", 10).await.unwrap();
        b.close().await.unwrap();
        let _ = client.disconnect().await;
    });

    // Central keeps the set-up as drawn, the device's next configuration, the picture beside it.
    let kept = eventually(10, "the set-up saved", || {
        let cameras = central
            .get_json(&format!("/api/v1/devices/{device}/cameras"), &token)
            .ok()?;
        let c = cameras["items"].as_array()?.first()?.clone();
        c["geometry"]["stop_line"].is_object().then_some(c)
    })
    .unwrap();
    let a = &kept["geometry"]["stop_line"]["a"];
    assert!((a[0].as_f64().unwrap() - 100.0).abs() <= 2.0, "{a}");
    assert_eq!(
        kept["geometry"]["lanes"][0]["allowed"],
        serde_json::json!(["motorbike"])
    );
    assert_eq!(central.stop().unwrap().code(), Some(0));
    std::fs::remove_dir_all(dir).unwrap();
}
