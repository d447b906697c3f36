//! ONNX Runtime loads from the library `make deps` extracted from the pinned wheel (through
//! `ORT_DYLIB_PATH`) and runs a real detector from the shared data.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use ndarray::Array4;
use ort::{session::Session, value::Tensor};

#[test]
fn runs_the_shared_yolox_nano_detector() {
    let Some(data) = tests::shared_data("runs_the_shared_yolox_nano_detector") else {
        return;
    };
    let environment = ort::init().with_name("tests").build().unwrap();
    let mut session = Session::builder(&environment)
        .unwrap()
        .with_intra_threads(1)
        .unwrap()
        .commit_from_file(data.join("models/yolox_nano_416.onnx"))
        .unwrap();
    assert_eq!(session.inputs()[0].name(), "images");
    let input = Tensor::from_array(Array4::<f32>::zeros((1, 3, 416, 416))).unwrap();
    let outputs = session.run(ort::inputs![input]).unwrap();
    let grid = outputs[0].try_extract_array::<f32>().unwrap();
    // YOLOX raw grid: 52² + 26² + 13² anchors, each 4 box + 1 objectness + 80 COCO classes.
    assert_eq!(grid.shape(), &[1, 3549, 85]);
    assert!(grid.iter().all(|v| v.is_finite()));
}
