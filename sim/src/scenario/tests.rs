use super::*;

#[test]
fn every_library_scenario_is_valid() {
    for (name, _) in LIBRARY {
        let spec = ScenarioSpec::named(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&spec.name, name);
    }
}

#[test]
fn errors_name_the_field() {
    let mut spec = ScenarioSpec::named("red-light").unwrap();
    spec.actors[0].at_s = 0.5;
    let e = spec.validate().unwrap_err().to_string();
    assert!(e.starts_with("actor[0].at_s"), "{e}");
    let e = ScenarioSpec::from_toml("name = \"x\"\nroad = { lanes = [] }\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("road.lanes"), "{e}");
    let e = ScenarioSpec::from_toml("name = \"x\"\nbogus = 1\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("bogus"), "{e}");
}

#[test]
fn only_a_plate_camera_stands_elsewhere_or_looks_back() {
    let spec = ScenarioSpec::named("wrong-way").unwrap();
    let plates = spec.plate_camera.unwrap();
    assert_eq!(plates.facing, Facing::Back);
    let refused = |spec: ScenarioSpec| spec.validate().unwrap_err().to_string();
    let mut s = spec.clone();
    s.camera.facing = Facing::Back;
    assert!(refused(s).starts_with("camera.facing"));
    let mut s = spec.clone();
    s.camera.position_m = 5.0;
    assert!(refused(s).starts_with("camera.position_m"));
    let mut s = spec.clone();
    s.plate_camera = Some(CameraSpec {
        position_m: 4.0,
        ..plates
    });
    assert!(refused(s).starts_with("plate_camera.position_m"));
    let mut s = spec.clone();
    s.plate_camera = Some(CameraSpec {
        position_m: spec.road.far_m + 1.0,
        ..plates
    });
    assert!(refused(s).starts_with("plate_camera.position_m"));
    // A plate camera on the overview's pole, looking along, is the usual kind.
    let mut s = spec;
    s.plate_camera = Some(CameraSpec {
        position_m: 0.0,
        facing: Facing::Along,
        ..plates
    });
    s.validate().unwrap();
}

#[test]
fn the_signal_plan_cycles() {
    let plan = SignalPlan {
        green_s: 10.0,
        amber_s: 3.0,
        red_s: 12.0,
        offset_s: 0.0,
    };
    assert_eq!(plan.phase_at(5.0).0, Phase::Green);
    assert_eq!(plan.phase_at(11.0).0, Phase::Amber);
    let (phase, into) = plan.phase_at(15.0);
    assert_eq!(phase, Phase::Red);
    assert!((into - 2.0).abs() < 1e-4);
    assert_eq!(plan.phase_at(26.0).0, Phase::Green);
    assert!((plan.remaining_at(11.0) - 2.0).abs() < 1e-4);
}
