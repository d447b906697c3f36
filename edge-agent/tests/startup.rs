//! Bad configuration and bad parts fail clearly; a bad camera never stops the others.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use edge_agent::config::{CameraConfig, Config, SignalConfig};
use protocol::ids::CameraId;
use sim::{Renderer, ScenarioSpec, World};

fn run_binary(config: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edge.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_edge-agent"))
        .arg("--config")
        .arg(&path)
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn manifest() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../models/manifest.toml").to_owned()
}

#[test]
fn a_malformed_config_names_the_field_and_exits_2() {
    let (code, err) = run_binary("[mqtt]\nurl = \"tcp://nowhere\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("mqtt.url"), "{err}");
    let (code, err) = run_binary("[device]\nid = \"box-1\"\ncolour = \"blue\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("colour"), "{err}");
    let (code, err) = run_binary(
        "[[cameras]]\nid = \"cam-1\"\nsource = \"rtsp://127.0.0.1/x\"\ndetect_fps = 0\nsite = { name = \"a\", latitude = 1.0, longitude = 1.0, address = \"b\", direction = \"c\" }\n",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cameras[0].detect_fps"), "{err}");
}

#[test]
fn a_missing_onnx_runtime_library_is_an_error_that_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edge.toml");
    std::fs::write(
        &path,
        format!(
            "[models]\nmanifest = \"{}\"\n[[cameras]]\nid = \"cam-1\"\nsource = \"rtsp://127.0.0.1:9/x\"\nsite = {{ name = \"a\", latitude = 1.0, longitude = 1.0, address = \"b\", direction = \"c\" }}\n",
            manifest()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_edge-agent"))
        .arg("--config")
        .arg(&path)
        .current_dir(dir.path())
        .env("ORT_DYLIB_PATH", dir.path().join("no-libonnxruntime.so"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("loading the onnx runtime library"), "{err}");
    assert!(err.contains("ORT_DYLIB_PATH"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_default_config_prints_and_reads_back() {
    let out = Command::new(env!("CARGO_BIN_EXE_edge-agent"))
        .arg("--print-default-config")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let config: Config = toml::from_str(&text).unwrap();
    assert_eq!(config, Config::default());
}

#[test]
fn a_missing_model_and_a_wrong_model_format_are_named() {
    // Models are loaded for cameras: each configuration has one.
    let camera = "[[cameras]]\nid = \"cam-1\"\nsource = \"rtsp://127.0.0.1:9/x\"\nsite = { name = \"a\", latitude = 1.0, longitude = 1.0, address = \"b\", direction = \"c\" }\n";
    let (code, err) = run_binary(&format!(
        "[models]\nmanifest = \"{}\"\nvehicle_detector = \"no_such_model\"\n{camera}",
        manifest()
    ));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("models.vehicle_detector `no_such_model`"),
        "{err}"
    );

    // A detector described with a format the agent does not read.
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(manifest()).unwrap();
    let models = std::path::Path::new(&manifest())
        .parent()
        .unwrap()
        .to_owned();
    let entry = shipped
        .split("[[model]]")
        .find(|m| m.contains("name = \"vehicle_det\""))
        .unwrap()
        .lines()
        .map(|line| {
            if line.starts_with("format = ") {
                "format = \"ssd\""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace(
            "file = \"vehicle_det.onnx\"",
            &format!("file = \"{}/vehicle_det.onnx\"", models.display()),
        );
    let extra = dir.path().join("detector.toml");
    std::fs::write(&extra, format!("[[model]]{entry}")).unwrap();
    let (code, err) = run_binary(&format!(
        "[models]\nmanifest = \"{}\"\ndetector_manifest = \"{}\"\n{camera}",
        manifest(),
        extra.display()
    ));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("unknown detector format `ssd`"), "{err}");
}

#[test]
fn the_sims_camera_table_reads_as_a_camera_of_the_agent() {
    let spec = ScenarioSpec::named("red-light").unwrap();
    let world = World::simulate(&spec, 1);
    let text = sim::setup::camera_toml(&Renderer::new(&world), "cam-7", "rtsp://127.0.0.1:8554/x")
        .unwrap();
    let config: Config = toml::from_str(&text).unwrap();
    service_kit::Settings::validate(&config).unwrap();
    let camera = &config.cameras[0];
    assert_eq!(camera.id.as_str(), "cam-7");
    assert_eq!(camera.signal, SignalConfig::Lamps);
    assert!(camera.geometry.stop_line.is_some() && camera.geometry.lanes.len() == 3);
}

#[test]
fn the_public_key_is_made_once_and_kept_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edge.toml");
    std::fs::write(&path, "[device]\nkey_path = \"keys/device.key\"\n").unwrap();
    let key = || {
        let out = Command::new(env!("CARGO_BIN_EXE_edge-agent"))
            .args(["--config", path.to_str().unwrap(), "public-key"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let first = key();
    assert_eq!(first, key(), "the same key on the second call");
    assert!(protocol::DevicePublicKey::from_base64(&first).is_ok());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("keys/device.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let folder = std::fs::metadata(dir.path().join("keys")).unwrap();
    assert_eq!(
        folder.permissions().mode() & 0o777,
        0o700,
        "its folder, too"
    );
    // A key others may read is no device's secret: refused, with what to do about it.
    let file = dir.path().join("keys/device.key");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_edge-agent"))
        .args(["--config", path.to_str().unwrap(), "public-key"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn camera(id: &str, source: String, decoder: &str) -> CameraConfig {
    CameraConfig {
        decoder: decoder.into(),
        detect_fps: 5.0,
        ..common::camera(id, source)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_camera_and_a_missing_decoder_leave_the_other_camera_running() {
    let server = common::serve_scenario("normal-flow", 10, 6.0, 2);
    let dir = tempfile::tempdir().unwrap();
    let device = common::device_id("edge-start");
    let mut config = common::agent_config(
        dir.path(),
        &device,
        &common::mosquitto_url(),
        "http://127.0.0.1:9",
    );
    config.cameras = vec![
        camera("gone", "rtsp://127.0.0.1:9/nothing".into(), "auto"),
        camera("no-decoder", server.url("cam"), "nosuchdec264"),
        camera("good", server.url("cam"), "auto"),
    ];
    let agent = common::RunningAgent::start(config).await;
    let addr = agent.addr.clone();
    let until = Instant::now() + Duration::from_secs(20);
    let mut status = serde_json::Value::Null;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(500)).await;
        status = common::status(&addr).await.unwrap();
        if status["cameras"][2]["frames"].as_u64().unwrap_or(0) > 10
            && status["cameras"][0]["reconnects"].as_u64().unwrap_or(0) >= 2
        {
            break;
        }
    }
    println!("{status}");
    let cams = &status["cameras"];
    assert_eq!(cams[2]["state"], "streaming");
    assert!(cams[2]["frames"].as_u64().unwrap() > 10);
    assert_eq!(cams[0]["state"], "reconnecting");
    assert!(cams[0]["reconnects"].as_u64().unwrap() >= 2);
    assert_eq!(cams[1]["state"], "down");
    assert!(
        cams[1]["error"].as_str().unwrap().contains("nosuchdec264"),
        "{}",
        cams[1]
    );
    agent.stop().await;
}

/// With `device.status_token` set, the box's state and its cameras' pictures answer only the
/// bearer of that token; off loopback the token is required.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_snapshots_answer_only_the_bearer_of_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let device = common::device_id("edge-token");
    let mut config = common::agent_config(
        dir.path(),
        &device,
        &common::mosquitto_url(),
        "http://127.0.0.1:9",
    );
    config.cameras = vec![camera("gone", "rtsp://127.0.0.1:9/nothing".into(), "auto")];
    let mut open = config.clone();
    open.http.bind = "0.0.0.0:0".parse().unwrap();
    let e = service_kit::config::Settings::validate(&open).expect_err("refused off loopback");
    assert!(e.to_string().contains("device.status_token"), "{e}");
    open.device.status_token = Some("short".into());
    let e = service_kit::config::Settings::validate(&open).expect_err("too short a token");
    assert!(e.to_string().contains("device.status_token"), "{e}");

    let token = "a token of the box's own, long enough";
    config.device.status_token = Some(token.into());
    let agent = common::RunningAgent::start(config).await;
    let http = reqwest::Client::new();
    for path in ["/status", "/cameras/gone/snapshot.jpg"] {
        let url = format!("http://{}{path}", agent.addr);
        for bad in [None, Some("Bearer a guess"), Some(token)] {
            let mut r = http.get(&url);
            if let Some(b) = bad {
                r = r.header("authorization", b);
            }
            let status = r.send().await.unwrap().status();
            assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED, "{path} {bad:?}");
        }
        let status = http
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status();
        assert_ne!(status, reqwest::StatusCode::UNAUTHORIZED, "{path}");
    }
    // Health stays open for the supervisor of the box.
    let health = http
        .get(format!("http://{}/healthz", agent.addr))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controllers_signed_phase_feed_reaches_its_camera_and_nothing_else_does() {
    let server = common::serve_scenario("normal-flow", 10, 8.0, 2);
    let dir = tempfile::tempdir().unwrap();
    let device = common::device_id("edge-signal");
    let mut config = common::agent_config(
        dir.path(),
        &device,
        &common::mosquitto_url(),
        "http://127.0.0.1:9",
    );
    let controller = protocol::DeviceKey::from_seed([0x51; 32]);
    config.cameras = vec![CameraConfig {
        signal: SignalConfig::Mqtt {
            controller_key: controller.public_key().to_base64(),
        },
        ..camera("cam-1", server.url("cam"), "auto")
    }];
    let agent = common::RunningAgent::start(config).await;
    let addr = agent.addr.clone();
    // The signal controller, on the same broker, and someone else who is not.
    let (host, port) = protocol::topic::parse_broker_url(&common::mosquitto_url()).unwrap();
    let (client, mut eventloop) = rumqttc::AsyncClient::new(
        rumqttc::MqttOptions::new(format!("controller-{device}"), host, port),
        16,
    );
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    let red = |key: &protocol::DeviceKey| {
        let phase = protocol::SignalPhase {
            device: device.clone(),
            camera: CameraId::parse("cam-1").unwrap(),
            phase: protocol::messages::SignalState::Red,
            changed_at: protocol::UtcTimestamp::now(),
            source: protocol::messages::SignalSource::Controller,
        };
        protocol::wire::encode_signed(&phase, key).unwrap()
    };
    let topic =
        protocol::Topic::Signal(device.clone(), CameraId::parse("cam-1").unwrap()).to_string();
    let forger = protocol::DeviceKey::from_seed([0x66; 32]);
    let mut seen = serde_json::Value::Null;
    let mut forged = 0;
    let until = Instant::now() + Duration::from_secs(25);
    while Instant::now() < until {
        let s = common::status(&addr).await.unwrap();
        seen = s["cameras"][0]["signal"].clone();
        if seen == "red" {
            break;
        }
        if s["broker_connected"] == true && s["cameras"][0]["frames"].as_u64().unwrap_or(0) > 0 {
            // A red signed by a key the camera does not name, until the box has refused three:
            // it never shows.
            let refused = s["control_refused"].as_u64().unwrap_or(0);
            let payload = if refused < 3 {
                forged += 1;
                red(&forger)
            } else {
                assert_ne!(seen, "red", "a forged phase was taken");
                red(&controller)
            };
            client
                .publish(&topic, rumqttc::QoS::AtLeastOnce, false, payload)
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(forged >= 3, "forged phases sent: {forged}");
    assert_eq!(seen, "red", "the camera's signal follows its controller");
    agent.stop().await;
}
