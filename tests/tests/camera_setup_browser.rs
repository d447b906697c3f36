//! Setting a camera up in a real browser: central-api runs as its own process; an administrator
//! in headless Chromium asks the device for a picture from the camera's page; the device (this
//! test, on Mosquitto) takes central's signed request, answers with a signed snapshot and
//! uploads its JPEG; the page shows the picture; the administrator draws a stop line and a
//! motorbike lane on it by clicking, and saves; central keeps the set-up as the device's next
//! configuration. The screenshot it takes is the installer's guide's.
//!
//! Then the whole installation on a running box: a real edge agent on a simulated junction's
//! RTSP stream, started with no set-up for its camera; the administrator takes its picture,
//! draws the stop line, the lanes, a four-point calibration and the signal head's lamps by
//! clicking, saves, watches the box judge by the new configuration, and a red-light runner
//! judged by the set-up drawn reaches the review queue.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{sync::Mutex, time::Duration};

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

/// Central's administrator `admin`, who sets cameras up.
fn add_administrator(env: &[(&str, &str)], dir: &std::path::Path) {
    tests::central_admin(
        env,
        dir,
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

/// The browser tests of this file one at a time: each drives a Chromium, and the second a box
/// detecting at eight frames a second on a simulated stream.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn an_administrator_draws_a_cameras_set_up_on_its_picture() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(unique("camera-setup"));
    std::fs::create_dir_all(&dir).unwrap();
    let owned = tests::sqlite_central_env(&dir);
    let env = tests::env_refs(&owned);
    let device = DeviceId::parse(unique("dev")).unwrap();
    let key = seed_central(&env, &dir, &device);
    add_administrator(&env, &dir);
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
            seq: 0,
            judged: None,
            duration_ms: 0,
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
        // A no-stopping zone drawn by mistake, taken back with «Undo»: the lane stays.
        tool("zone").await;
        for (x, y) in [(600, 300), (700, 300), (700, 400)] {
            b.eval(&click_at(x, y)).await.unwrap();
        }
        b.click("[data-action='done']").await.unwrap();
        let geometry = "return JSON.parse(document.querySelector('textarea[name=geometry]').value)";
        assert_eq!(
            b.eval(geometry).await.unwrap()["no_stopping"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        b.click("[data-action='undo']").await.unwrap();
        let undone = b.eval(geometry).await.unwrap();
        assert!(undone.get("no_stopping").is_none(), "{undone}");
        assert_eq!(undone["lanes"], drawn["lanes"]);
        // Four road points and their places on the road: kept in the geometry as the
        // calibration, the homography made from them when saved.
        tool("calibrate").await;
        for (i, ((x, y), (rx, ry))) in CALIBRATION.iter().enumerate() {
            b.eval(&click_at(*x, *y)).await.unwrap();
            b.eval(&type_into(&format!("road_x{}", i + 1), &rx.to_string()))
                .await
                .unwrap();
            b.eval(&type_into(&format!("road_y{}", i + 1), &ry.to_string()))
                .await
                .unwrap();
        }
        let calibrated = b.eval(geometry).await.unwrap();
        let road: [[f64; 2]; 4] =
            serde_json::from_value(calibrated["calibration"]["road"].clone()).unwrap();
        assert_eq!(road[2], [7.0, 20.0]);
        near(&calibrated["calibration"]["image"][2], 600.0, 300.0);
        // "Red just began" marks the moment in Vietnam's time (the plan's phases left blank:
        // no plan is saved).
        b.click("#red-now").await.unwrap();
        let marked = b
            .eval("return document.getElementById('plan-red-at').value")
            .await
            .unwrap();
        let marked = marked.as_str().unwrap();
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let hour = (unix / 3600 + 7) % 24;
        let hours = [hour, (hour + 23) % 24].map(|h| format!("{h:02}:"));
        assert!(
            marked.len() == 10 && hours.iter().any(|h| marked.starts_with(h.as_str())),
            "{marked}"
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
    assert!(
        kept["geometry"]["no_stopping"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "undone: {kept}"
    );
    assert!(kept["geometry"]["speed"]["homography"].is_array(), "{kept}");
    assert_eq!(
        kept["geometry"]["calibration"]["road"][3],
        serde_json::json!([0.0, 20.0])
    );

    // The plate camera of the same approach: calibrated on the same road points, their places
    // on the road taken from the overview camera's set-up, the installer clicking them again
    // on this camera's picture.
    let plates = CameraId::parse("hang-xanh-1-plates").unwrap();
    ureq::put(&central.url(&format!("/api/v1/devices/{device}/cameras/{plates}")))
        .header("authorization", &format!("Bearer {token}"))
        .header("content-type", "application/json")
        .send(
            {
                let mut s = settings.clone();
                s["camera"] = serde_json::json!(plates);
                s.to_string().into_bytes()
            }
            .as_slice(),
        )
        .unwrap();
    runtime.block_on(async {
        let b = Browser::start().await.unwrap();
        let page = format!("/review/admin/camera?device={device}&camera={plates}");
        b.sign_in(&central.url(&page), "admin").await.unwrap();
        b.wait_for("#geometry-editor", 10).await.unwrap();
        b.click("[data-tool='calibrate']").await.unwrap();
        b.eval(
            "const s = document.querySelector('#geometry-editor [name=shared_points]');
             s.value = 'hang-xanh-1'; s.dispatchEvent(new Event('change', { bubbles: true }));
             return 0;",
        )
        .await
        .unwrap();
        let road = b
            .eval(
                "return [1, 2, 3, 4].map((i) => ['x', 'y'].map((a) =>
                   Number(document.querySelector(`#geometry-editor [name=road_${a}${i}]`).value)));",
            )
            .await
            .unwrap();
        let road: Vec<[f64; 2]> = serde_json::from_value(road).unwrap();
        let expected: Vec<[f64; 2]> = CALIBRATION.iter().map(|(_, r)| [r.0, r.1]).collect();
        assert_eq!(road, expected);
        b.close().await.unwrap();
    });
    assert_eq!(central.stop().unwrap().code(), Some(0));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Four road points of the test's picture (pixels) and their places on the road (metres).
const CALIBRATION: [((u32, u32), (f64, f64)); 4] = [
    ((300, 520), (0.0, 0.0)),
    ((700, 520), (7.0, 0.0)),
    ((600, 300), (7.0, 20.0)),
    ((380, 300), (0.0, 20.0)),
];

/// Sets the editor's input `name` to `value`, as typing there would.
fn type_into(name: &str, value: &str) -> String {
    format!(
        "const i = document.querySelector('#geometry-editor [name={name}]');
         i.value = '{value}'; i.dispatchEvent(new Event('input', {{ bubbles: true }}));
         i.dispatchEvent(new Event('change', {{ bubbles: true }})); return 0;"
    )
}

#[test]
fn an_installer_sets_a_running_box_up_and_watches_it_judge_a_red_light_runner() {
    use protocol::{camera::CameraGeometry, geometry::Homography};
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(unique("camera-install"));
    std::fs::create_dir_all(&dir).unwrap();
    let owned = tests::sqlite_central_env(&dir);
    let env = tests::env_refs(&owned);
    add_administrator(&env, &dir);
    let central = Service::start("central-api", &[], &env, &dir).unwrap();

    // The box on the junction: its camera streams, its signal read from the lamps; the set-up
    // (lines, lanes, calibration, the lamps' places) is what the installer will draw. The
    // simulator's own set-up is kept aside, to click where it says.
    let rtsp = tests::free_port().unwrap();
    let camera = CameraId::parse("hang-xanh-1").unwrap();
    let source = format!("rtsp://127.0.0.1:{rtsp}/red-light");
    let mut table: toml::Table = toml::from_str(&tests::overview_camera(
        "red-light",
        camera.as_str(),
        &source,
    ))
    .unwrap();
    let cameras = table["cameras"].as_array_mut().unwrap();
    let first = cameras[0].as_table_mut().unwrap();
    let truth: CameraGeometry = first.remove("geometry").unwrap().try_into().unwrap();
    let speed_limit = first["speed_limit_kmh"].as_float().unwrap();
    let cameras_toml = toml::to_string(&table).unwrap();
    let (device, edge_config) = tests::edge_box_with(
        &env,
        &dir,
        &cameras_toml,
        &tests::mqtt_url(),
        &central.url(""),
    );
    let token = central.token_of("admin").unwrap();
    let settings = serde_json::json!({
        "camera": camera,
        "site": { "name": "Ngã tư Hàng Xanh", "latitude": 10.8016, "longitude": 106.7111,
                  "address": "Bình Thạnh, TP. Hồ Chí Minh", "direction": "hướng Điện Biên Phủ" },
        "speed_limit_kmh": speed_limit,
        "red_grace_s": 0.5,
    });
    ureq::put(&central.url(&format!("/api/v1/devices/{device}/cameras/{camera}")))
        .header("authorization", &format!("Bearer {token}"))
        .header("content-type", "application/json")
        .send(settings.to_string().as_bytes())
        .unwrap();
    let _stream = tests::serve_scenario("red-light", 1, rtsp, &dir);
    let edge = Service::start(
        "edge-agent",
        &["--config", edge_config.to_str().unwrap()],
        &[],
        &dir,
    )
    .unwrap();
    // Streaming (the simulated camera encodes its scene first), with no signal it can read.
    let status = eventually(180, "the box's camera streaming", || {
        let s = tests::get_json_at(&edge.url("/status")).ok()?;
        (s["cameras"][0]["processed"].as_u64()? > 0).then_some(s)
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", edge.log_tail(30)));
    assert!(
        status["cameras"][0]["signal_fault"]
            .as_str()
            .is_some_and(|f| f.contains("not set up")),
        "{status}"
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let b = Browser::start().await.unwrap();
        let page = central.url(&format!(
            "/review/admin/camera?device={device}&camera={camera}"
        ));
        b.sign_in(&page, "admin").await.unwrap();
        b.wait_for("#geometry-editor", 10).await.unwrap();
        b.click("form[action='/review/admin/camera/snapshot'] button")
            .await
            .unwrap();
        // The request recorded (the form's answer shown) before the page is loaded again: a
        // reload while the form is still being sent would cancel it.
        b.wait_for("#snapshot-state", 10).await.unwrap();
        let mut shown = false;
        for _ in 0..60 {
            b.client.goto(&page).await.unwrap();
            if b.wait_for("#snapshot-state[data-state='taken']", 1)
                .await
                .is_ok()
            {
                shown = true;
                break;
            }
        }
        assert!(
            shown,
            "the box's picture within 60 s\nedge:\n{}\ncentral:\n{}",
            edge.log_tail(20),
            central.log_tail(20)
        );
        b.wait_for("#snapshot-picture", 5).await.unwrap();

        let tool = async |name: &str| b.click(&format!("[data-tool='{name}']")).await.unwrap();
        let click = async |p: [f32; 2]| {
            b.eval(&click_at(p[0].round() as u32, p[1].round() as u32))
                .await
                .unwrap();
        };
        // The stop line: its ends, then the side traffic comes from.
        let stop = truth.stop_line.unwrap();
        tool("stop").await;
        for p in [stop.a, stop.b, stop.before] {
            click(p).await;
        }
        // Each lane: its name and classes, four corners, done, then the way traffic goes.
        for lane in &truth.lanes {
            tool("lane").await;
            b.eval(&type_into("lane_name", &lane.name)).await.unwrap();
            b.eval(&format!(
                "document.querySelectorAll('#geometry-editor [name=allowed]').forEach((c) =>
                   c.checked = {:?}.includes(c.value)); return 0;",
                lane.allowed.iter().map(|c| c.as_str()).collect::<Vec<_>>()
            ))
            .await
            .unwrap();
            for p in &lane.polygon {
                click(*p).await;
            }
            b.click("[data-action='done']").await.unwrap();
            let n = lane.polygon.len() as f32;
            let c = lane
                .polygon
                .iter()
                .fold([0.0, 0.0], |s, p| [s[0] + p[0] / n, s[1] + p[1] / n]);
            let d = lane.direction;
            let len = d[0].hypot(d[1]).max(1e-3);
            click(c).await;
            click([c[0] + d[0] / len * 60.0, c[1] + d[1] / len * 60.0]).await;
        }
        // Four road points: where the outer lanes' corners lie, and their places on the road
        // in metres as a tape would give them.
        let Some(protocol::camera::SpeedTrapSpec::Homography(m)) = truth.speed else {
            panic!("the scenario's camera is calibrated: {:?}", truth.speed);
        };
        let to_road = Homography(m).inverse().unwrap();
        let (left, right) = (
            &truth.lanes[0].polygon,
            &truth.lanes[truth.lanes.len() - 1].polygon,
        );
        let image = [left[0], right[1], right[2], left[3]];
        tool("calibrate").await;
        for (i, p) in image.iter().enumerate() {
            click(*p).await;
            let road = to_road.apply(*p).unwrap();
            b.eval(&type_into(
                &format!("road_x{}", i + 1),
                &format!("{:.2}", road[0]),
            ))
            .await
            .unwrap();
            b.eval(&type_into(
                &format!("road_y{}", i + 1),
                &format!("{:.2}", road[1]),
            ))
            .await
            .unwrap();
        }
        // The signal head: red, amber, green.
        let head = truth.signal_head.unwrap();
        tool("signal").await;
        for p in [head.red, head.amber, head.green] {
            click(p).await;
        }
        b.click("#camera-form button.primary").await.unwrap();
        b.wait_for("#admin-devices", 10).await.unwrap();

        // Watching the box judge: the frames come as it judges them, by the configuration
        // just saved, the signal read from the lamps placed.
        b.client.goto(&page).await.unwrap();
        b.click("#live form button").await.unwrap();
        b.wait_for("#live[data-running]", 10).await.unwrap();
        b.wait_for("#live-version[data-current='yes']", 90)
            .await
            .unwrap_or_else(|e| panic!("{e:#}\n{}", edge.log_tail(30)));
        b.wait_until(
            "const s = document.getElementById('live-signal');
             return !!s && ['red', 'amber', 'green'].includes(s.dataset.signal);",
            60,
        )
        .await
        .unwrap();
        b.eval("document.getElementById('live').scrollIntoView(); return 0")
            .await
            .unwrap();
        b.screenshot("camera-live").await.unwrap();
        b.close().await.unwrap();
    });

    // The box judges by the set-up drawn: a red-light runner reaches the review queue.
    let status = tests::get_json_at(&edge.url("/status")).unwrap();
    assert!(status["config_version"].as_u64().unwrap() > 0, "{status}");
    let reviewer = central.reviewer_token().unwrap();
    eventually(240, "a red-light runner judged by the drawn set-up", || {
        let queue = central.get_json("/api/v1/violations", &reviewer).ok()?;
        queue["items"]
            .as_array()?
            .iter()
            .find(|i| i["kind"] == "red_light")
            .cloned()
    })
    .unwrap_or_else(|e| panic!("{e:#}\nedge log:\n{}", edge.log_tail(40)));
    drop(edge);
    assert_eq!(central.stop().unwrap().code(), Some(0));
}
