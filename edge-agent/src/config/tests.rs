use super::*;

#[test]
fn no_secret_shows_in_a_printed_configuration() {
    let mut c = Config::default();
    let secret = "a-secret-that-must-not-show";
    c.mqtt.password = Some(secret.into());
    c.device.status_token = Some(secret.into());
    let shown = format!("{c:?}");
    assert!(!shown.contains(secret), "{shown}");
}

fn camera(id: &str) -> CameraConfig {
    toml::from_str(&format!(
        r#"
            id = "{id}"
            source = "rtsp://127.0.0.1:8554/cam"
            site = {{ name = "Ngã tư", latitude = 10.8, longitude = 106.7, address = "Q1", direction = "bắc" }}
            "#
    ))
    .expect("camera")
}

#[test]
fn centrals_signal_plan_replaces_the_files_signal_source_and_only_when_given() {
    let mut cam = camera("cam-1");
    cam.signal = SignalConfig::Lamps;
    let mut settings = protocol::CameraSettings {
        camera: cam.id.clone(),
        site: cam.site.clone(),
        geometry: cam.geometry.clone(),
        speed_limit_kmh: 50.0,
        speed_limits_kmh: Default::default(),
        red_grace_s: 0.5,
        signal_plan: None,
    };
    assert_eq!(cam.with_settings(&settings).signal, SignalConfig::Lamps);
    settings.signal_plan = Some(protocol::device_config::SignalPlan {
        green_s: 40.0,
        amber_s: 3.0,
        red_s: 37.0,
        offset_s: 12.5,
    });
    assert_eq!(
        cam.with_settings(&settings).signal,
        SignalConfig::Fixed {
            green_s: 40.0,
            amber_s: 3.0,
            red_s: 37.0,
            offset_s: 12.5
        }
    );
}

#[test]
fn errors_name_the_field() {
    let mut c = Config {
        cameras: vec![camera("cam-1"), camera("cam-1")],
        ..Config::default()
    };
    let err = |c: &Config| match c.validate() {
        Err(ConfigError::Invalid { field, .. }) => field,
        other => panic!("expected an invalid field, got {other:?}"),
    };
    assert_eq!(err(&c), "cameras[1].id");
    c.cameras.pop();
    assert!(c.validate().is_ok());
    // Lamps not placed yet: a camera being installed runs (its signal a fault meanwhile).
    c.cameras[0].signal = SignalConfig::Lamps;
    assert!(c.validate().is_ok());
    c.cameras[0].signal = SignalConfig::Mqtt {
        controller_key: "not a key".into(),
    };
    assert_eq!(err(&c), "cameras[0].signal.controller_key");
    c.cameras[0].signal = SignalConfig::None;
    c.central.control_keys = vec![
        protocol::DeviceKey::from_seed([7; 32])
            .public_key()
            .to_base64(),
    ];
    assert!(c.validate().is_ok());
    c.central.control_keys.push("AAAA".into());
    assert_eq!(err(&c), "central.control_keys[1]");
    c.central.control_keys.pop();
    c.cameras[0].detect_fps = 0.0;
    assert_eq!(err(&c), "cameras[0].detect_fps");
    c.cameras[0].detect_fps = 5.0;
    c.mqtt.url = "tcp://x".into();
    assert_eq!(err(&c), "mqtt.url");
    c.mqtt.url = "mqtt://broker.csgt.example.vn".into();
    assert_eq!(err(&c), "mqtt.url", "in the clear across the network");
    c.mqtt.url = "mqtt://127.0.0.1:1883".into();
    c.mqtt.ca_file = Some("ca.pem".into());
    assert_eq!(err(&c), "mqtt.ca_file");
    c.mqtt.url = "mqtts://broker".into();
    assert!(c.validate().is_ok());
    c.mqtt.username = Some("hcm-q1-001".into());
    assert_eq!(err(&c), "mqtt.password");
    c.mqtt.password = Some("secret".into());
    assert!(c.validate().is_ok());
}

#[test]
fn a_plate_camera_and_the_camera_taking_its_plates_fit_together() {
    let ground = CameraGeometry {
        speed: Some(protocol::camera::SpeedTrapSpec::Homography([
            [10.0, 0.0, 640.0],
            [0.0, -10.0, 700.0],
            [0.0, 0.01, 1.0],
        ])),
        ..CameraGeometry::default()
    };
    let mut overview = camera("overview");
    overview.plate_camera = Some(CameraId::parse("plates").expect("id"));
    let mut plates = camera("plates");
    plates.role = CameraRole::Plates;
    let mut c = Config {
        cameras: vec![overview, plates],
        ..Config::default()
    };
    let err = |c: &Config| match c.validate() {
        Err(ConfigError::Invalid { field, .. }) => field,
        other => panic!("expected an invalid field, got {other:?}"),
    };
    // Neither is calibrated to the road: vehicles could not be matched.
    assert_eq!(err(&c), "cameras[0].geometry.speed");
    c.cameras[0].geometry = ground.clone();
    assert_eq!(err(&c), "cameras[1].geometry.speed");
    c.cameras[1].geometry = ground;
    assert!(c.validate().is_ok());
    // The plate camera must be one of this box's, with the plates role.
    c.cameras[1].role = CameraRole::Violations;
    assert_eq!(err(&c), "cameras[0].plate_camera");
    c.cameras[1].role = CameraRole::Plates;
    c.cameras[0].plate_camera = Some(CameraId::parse("elsewhere").expect("id"));
    assert_eq!(err(&c), "cameras[0].plate_camera");
    // A plate camera takes no plates from another.
    c.cameras[0].plate_camera = Some(CameraId::parse("plates").expect("id"));
    c.cameras[1].plate_camera = Some(CameraId::parse("plates").expect("id"));
    assert_eq!(err(&c), "cameras[1].plate_camera");
}
