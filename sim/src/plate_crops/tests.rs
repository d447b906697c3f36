use super::*;

#[test]
fn crops_are_the_recognizers_size_and_come_from_the_seed() {
    let a = plate_crop(&mut Rng::stream(5, 1), PlateFace::Stroke).unwrap();
    let b = plate_crop(&mut Rng::stream(5, 1), PlateFace::Stroke).unwrap();
    assert_eq!(a.1.dimensions(), CROP_SIZE);
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    let c = plate_crop(&mut Rng::stream(5, 2), PlateFace::Stroke).unwrap();
    assert_ne!(a.1, c.1);
}

#[test]
fn crops_vary_as_street_crops_do() {
    // Over many crops: dark night ones and bright ones, blurred and sharp ones, both
    // layouts, and every crop still has the plate's contrast somewhere in it.
    let mut means = Vec::new();
    let mut layouts = std::collections::BTreeSet::new();
    for i in 0..120 {
        let (spec, crop) = plate_crop(&mut Rng::stream(9, i), PlateFace::Stroke).unwrap();
        layouts.insert(format!("{:?}", spec.layout));
        let luma: Vec<f32> = crop
            .pixels()
            .map(|p| 0.3 * f32::from(p.0[0]) + 0.59 * f32::from(p.0[1]) + 0.11 * f32::from(p.0[2]))
            .collect();
        let mean = luma.iter().sum::<f32>() / luma.len() as f32;
        let spread = luma.iter().map(|v| (v - mean).abs()).sum::<f32>() / luma.len() as f32;
        assert!(spread > 4.0, "crop {i} ({}) is flat: {spread}", spec.text);
        means.push(mean);
    }
    assert_eq!(layouts.len(), 2);
    let dark = means.iter().filter(|&&m| m < 90.0).count();
    let bright = means.iter().filter(|&&m| m > 150.0).count();
    assert!(dark >= 5 && bright >= 20, "dark {dark}, bright {bright}");
}

#[test]
fn export_writes_both_splits_with_labels() {
    let dir = tempfile::tempdir().unwrap();
    let opts = CropOptions {
        seed: 3,
        count: 20,
        detect_count: 10,
        val_every: 5,
        stroke_share: 0.5,
    };
    let written = export(&opts, dir.path()).unwrap();
    assert_eq!(
        written,
        Written {
            plates_train: 16,
            plates_val: 4,
            detect_train: 8,
            detect_val: 2
        }
    );
    let labels = fs::read_to_string(dir.path().join("plates/val/labels.tsv")).unwrap();
    for line in labels.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 4, "{line}");
        assert!(dir.path().join("plates/val").join(cols[0]).exists());
        protocol::plate::Plate::parse(cols[1]).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
}

#[test]
fn loose_crops_hold_the_plate_where_their_corners_say() {
    for i in 0..40 {
        let mut rng = Rng::stream(4, i);
        let (spec, crop, corners) = loose_crop(&mut rng, PlateFace::Stroke).unwrap();
        assert_eq!(crop.dimensions(), (DETECT_SIZE, DETECT_SIZE));
        // Corners in reading order, inside the crop (a loose crop never cuts its plate).
        let [tl, tr, br, bl] = corners;
        assert!(tl[0] < tr[0] && bl[0] < br[0], "{}: {corners:?}", spec.text);
        assert!(tl[1] < bl[1] && tr[1] < br[1], "{}: {corners:?}", spec.text);
        for c in corners.iter().flatten() {
            assert!((-0.05..1.05).contains(c), "{}: {corners:?}", spec.text);
        }
    }
}
