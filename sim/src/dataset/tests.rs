use super::*;

#[test]
fn car_boost_changes_training_scenes_only() {
    let plain = DatasetOptions::default();
    let boosted = DatasetOptions {
        train_car_boost: 2.5,
        ..DatasetOptions::default()
    };
    let cars = |s: &ScenarioSpec| s.flow.per_minute[&ObjectClass::Car];
    let (mut train, mut val) = (0, 0);
    for index in 0..20 {
        let (split, a, _) = scene_spec(&plain, index);
        let (split_b, b, _) = scene_spec(&boosted, index);
        assert_eq!(split, split_b);
        if split == "val" {
            val += 1;
            assert_eq!(a, b, "scene {index}");
        } else {
            train += 1;
            assert!((cars(&b) - 2.5 * cars(&a)).abs() < 1e-4, "scene {index}");
            assert_eq!(
                a.camera, b.camera,
                "scene {index}: only the traffic changes"
            );
        }
    }
    assert_eq!((train, val), (18, 2));
    let negative = DatasetOptions {
        train_car_boost: -1.0,
        scenes: 0,
        ..DatasetOptions::default()
    };
    let err = export(&negative).unwrap_err().to_string();
    assert!(err.contains("train_car_boost"), "{err}");
}

#[test]
fn plate_face_and_loose_plate_crops_are_options() {
    let count = |dir: &Path, suffix: &str| {
        ["train", "val"]
            .iter()
            .filter_map(|split| std::fs::read_dir(dir.join("plate-detect").join(split)).ok())
            .flatten()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(suffix))
            })
            .count()
    };
    let run = |loose: bool| {
        let dir = tempfile::tempdir().unwrap();
        let opts = DatasetOptions {
            out: dir.path().to_path_buf(),
            scenes: 2,
            frames_per_scene: 4,
            plate_frames_per_scene: 0,
            plate_face: PlateFace::Stroke,
            loose_plates: loose,
            ..DatasetOptions::default()
        };
        assert_eq!(scene_spec(&opts, 0).1.plate_face, PlateFace::Stroke);
        export(&opts).unwrap();
        (count(dir.path(), "_p.jpg"), count(dir.path(), ".jpg"))
    };
    let (loose, all) = run(true);
    assert!(loose > 0 && loose < all, "{loose} loose of {all}");
    assert_eq!(run(false).0, 0);
}
