use super::*;

fn b(x0: f32, y0: f32, x1: f32, y1: f32) -> BoxF {
    BoxF { x0, y0, x1, y1 }
}

#[test]
fn a_vehicle_counts_as_hidden_by_the_share_of_it_the_regions_cover() {
    let region = |x, y, width, height| protocol::VehicleBox {
        x,
        y,
        width,
        height,
    };
    let car = b(100.0, 100.0, 200.0, 160.0);
    assert_eq!(covered(&car, &[region(90, 90, 120, 80)]), 1.0);
    let half = covered(&car, &[region(90, 90, 60, 80)]);
    assert!((half - 0.5).abs() < 0.05, "{half}");
    let two = covered(&car, &[region(90, 90, 60, 80), region(150, 90, 60, 80)]);
    assert_eq!(two, 1.0, "the union counts");
    assert_eq!(covered(&car, &[]), 0.0);
}

#[test]
fn names_are_read_in_every_yaml_form() {
    let inline = "train: train/images\nnc: 3\nnames: ['car', 'green_light', \"motobike\"]\n";
    assert_eq!(
        parse_names(inline).unwrap(),
        ["car", "green_light", "motobike"]
    );
    let block = "names:\n  - car\n  - motorcycle # two wheels\nnc: 2\n";
    assert_eq!(parse_names(block).unwrap(), ["car", "motorcycle"]);
    let map = "path: .\nnames:\n  0: person\n  2: car\n";
    assert_eq!(parse_names(map).unwrap(), ["person", "", "car"]);
    assert!(parse_names("nc: 2\n").is_err());
}

#[test]
fn dataset_names_map_to_the_agents_classes() {
    assert_eq!(vehicle_of_label("motobike"), Some(VehicleClass::Motorbike));
    assert_eq!(
        vehicle_of_label("Motorcycle"),
        Some(VehicleClass::Motorbike)
    );
    assert_eq!(vehicle_of_label("car"), Some(VehicleClass::Car));
    assert_eq!(vehicle_of_label("red_light"), None);
    assert_eq!(vehicle_of_label("bicycle"), None);
}

#[test]
fn labels_become_boxes_in_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.txt");
    std::fs::write(
        &path,
        "0 0.5 0.5 0.25 0.5\n1 0.1 0.1 0.1 0.1\n\n2 0.5 0.25 0.5 0.5\n",
    )
    .unwrap();
    let names = [Some(VehicleClass::Car), None, Some(VehicleClass::Motorbike)];
    let t = read_truth(&path, &names, 400.0, 200.0).unwrap();
    assert_eq!(t.len(), 2, "the lamp is not a vehicle");
    assert_eq!(t[0].bbox, b(150.0, 50.0, 250.0, 150.0));
    assert_eq!(t[1].class, VehicleClass::Motorbike);
    assert!(
        read_truth(&dir.path().join("none.txt"), &names, 1.0, 1.0)
            .unwrap()
            .is_empty()
    );
    std::fs::write(&path, "0 0.5 x 0.25 0.5\n").unwrap();
    assert!(read_truth(&path, &names, 1.0, 1.0).is_err());
}

#[test]
fn lamp_readings_are_counted_right_unknown_or_wrong() {
    let mut f = LampFigures::default();
    f.add(SignalState::Red, Some(SignalState::Red));
    f.add(SignalState::Red, None);
    f.add(SignalState::Green, Some(SignalState::Green));
    f.add(SignalState::Amber, Some(SignalState::Red));
    assert_eq!((f.count, f.correct, f.unknown), (4, 2, 1));
    assert_eq!(f.wrong.get("amber_as_red"), Some(&1));
    assert!((f.accuracy_read - 2.0 / 3.0).abs() < 1e-9);
    assert!((f.accuracy - 0.5).abs() < 1e-9);
    assert_eq!(lamp_of_label("yellow_light"), Some(SignalState::Amber));
    assert_eq!(lamp_of_label("stop_line"), None);
}

#[test]
fn a_split_is_found_in_either_layout() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.yaml");
    assert!(split_files(&data, "val").is_err(), "no split at all");
    // Ultralytics: images/val, labels/val.
    for d in ["images/val", "labels/val"] {
        std::fs::create_dir_all(dir.path().join(d)).unwrap();
    }
    std::fs::write(dir.path().join("images/val/a.jpg"), b"").unwrap();
    std::fs::write(dir.path().join("images/val/notes.txt"), b"").unwrap();
    let files = split_files(&data, "valid").unwrap();
    assert_eq!(
        files,
        [(
            dir.path().join("images/val/a.jpg"),
            dir.path().join("labels/val/a.txt")
        )]
    );
    // Roboflow's valid/images comes first where both are.
    std::fs::create_dir_all(dir.path().join("valid/images")).unwrap();
    std::fs::write(dir.path().join("valid/images/b.png"), b"").unwrap();
    let files = split_files(&data, "val").unwrap();
    assert_eq!(files[0].1, dir.path().join("valid/labels/b.txt"));
}

#[test]
fn an_image_is_dense_from_five_labelled_motorbikes() {
    let at = |class, x: f32| Truth {
        class,
        bbox: b(x, 0.0, x + 10.0, 20.0),
    };
    let mut truth: Vec<Truth> = (0..4)
        .map(|k| at(VehicleClass::Motorbike, 20.0 * k as f32))
        .collect();
    // Cars do not make it dense.
    truth.extend((0..6).map(|k| at(VehicleClass::Car, 200.0 + 20.0 * k as f32)));
    assert!(!is_dense(&truth));
    truth.push(at(VehicleClass::Motorbike, 100.0));
    assert!(is_dense(&truth));
}

#[test]
fn ap_precision_and_recall_count_what_they_should() {
    let car = |bbox| Truth {
        class: VehicleClass::Car,
        bbox,
    };
    let det = |score, bbox| Found {
        class: VehicleClass::Car,
        score,
        bbox,
    };
    let truth = [
        car(b(0.0, 0.0, 40.0, 40.0)),
        car(b(100.0, 0.0, 120.0, 20.0)),
        car(b(200.0, 0.0, 260.0, 60.0)),
    ];
    let found = [
        det(0.9, b(1.0, 1.0, 41.0, 41.0)),
        // A second box on the same car: a false positive.
        det(0.8, b(2.0, 2.0, 40.0, 40.0)),
        det(0.7, b(101.0, 0.0, 121.0, 20.0)),
        det(0.3, b(500.0, 0.0, 540.0, 40.0)),
    ];
    let mut t = Tally::default();
    t.add(&found, &truth, 0.5);
    let f = t.figures(0.5);
    assert_eq!(f.count, 3);
    assert_eq!(f.count_tall, 2);
    assert_eq!(f.detections, 3);
    assert!((f.precision - 2.0 / 3.0).abs() < 1e-9);
    assert!((f.recall - 2.0 / 3.0).abs() < 1e-9);
    assert!(
        (f.recall_tall - 0.5).abs() < 1e-9,
        "one of the two tall cars"
    );
    // Recall 1/3 at precision 1, 2/3 at precision 2/3: AP = 1/3 + 1/3 * 2/3.
    assert!(
        (f.ap50 - (1.0 / 3.0 + 2.0 / 9.0)).abs() < 1e-9,
        "{}",
        f.ap50
    );
    // Nothing found: AP 0.
    let mut none = Tally::default();
    none.add(&[], &truth, 0.5);
    assert_eq!(none.figures(0.5).ap50, 0.0);
}
