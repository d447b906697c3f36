use super::*;
use image::RgbImage;

/// The sampling gives what sampling each tensor pixel with `bilinear_rgb` gives.
#[test]
fn the_letterbox_samples_as_the_reference_bilinear_does() {
    let (fw, fh) = (173u32, 97u32);
    let mut seed = 7u32;
    let pixels: Vec<u8> = (0..fw * fh * 3)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 24) as u8
        })
        .collect();
    let frame = RgbImage::from_raw(fw, fh, pixels).unwrap();
    let (w, h) = (64usize, 64usize);
    let s = (w as f32 / fw as f32).min(h as f32 / fh as f32);
    let place = Letterbox {
        scale_x: s,
        scale_y: s,
        dx: (w as f32 - fw as f32 * s) / 2.0,
        dy: (h as f32 - fh as f32 * s) / 2.0,
    };
    for bgr in [false, true] {
        let mut fast = Array4::<f32>::from_elem((1, 3, h, w), -1.0);
        sample_into(Pixels::Rgb(&frame), &place, bgr, 1.0 / 255.0, &mut fast);
        let mut slow = Array4::<f32>::from_elem((1, 3, h, w), -1.0);
        let nw = ((fw as f32 * s).round() as usize).min(w);
        let nh = ((fh as f32 * s).round() as usize).min(h);
        let (ox, oy) = (place.dx.round() as usize, place.dy.round() as usize);
        for y in 0..nh {
            let sy = ((y as f32 + 0.5) / s - 0.5).clamp(0.0, fh as f32 - 1.0);
            for x in 0..nw {
                let sx = ((x as f32 + 0.5) / s - 0.5).clamp(0.0, fw as f32 - 1.0);
                let c = vision::pixels::bilinear_rgb(frame.as_raw(), fw, fh, sx, sy);
                if oy + y < h && ox + x < w {
                    for (ch, v) in c.iter().enumerate() {
                        let ch = if bgr { 2 - ch } else { ch };
                        slow[[0, ch, oy + y, ox + x]] = v * (1.0 / 255.0);
                    }
                }
            }
        }
        assert_eq!(fast, slow, "bgr {bgr}");
        assert_eq!(fast[[0, 0, 0, 0]], -1.0, "the padding stays");
    }
}

/// A 1080p junction frame (`scene`) through `videoconvert` as a camera's encoder would
/// make it: its I420 planes as a decoder gives them (`planes`), and the RGB that
/// `videoconvert` makes of those planes (`today`: what the agent used to take).
struct Converted {
    scene: RgbImage,
    planes: vision::Picture,
    today: RgbImage,
}

fn through_videoconvert() -> Converted {
    use gstreamer as gst;
    use gstreamer::prelude::*;
    use gstreamer_app as gst_app;
    crate::ingest::init().unwrap();
    let spec = sim::ScenarioSpec::named("red-light")
        .and_then(|s| s.resized(1920, 1080))
        .unwrap();
    let world = sim::World::simulate(&spec, 1);
    let scene = sim::Renderer::new(&world)
        .render(world.frames.len() / 2)
        .image;
    let (fw, fh) = scene.dimensions();
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time caps=video/x-raw,format=RGB,width={fw},height={fh},framerate=1/1 \
             ! videoconvert ! video/x-raw,format=I420,colorimetry=bt709 ! tee name=t \
             t. ! queue ! appsink name=planes sync=false \
             t. ! queue ! videoconvert ! video/x-raw,format=RGB ! appsink name=rgb sync=false"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let by = |name: &str| pipeline.by_name(name).unwrap();
    let sink = |name: &str| by(name).downcast::<gst_app::AppSink>().unwrap();
    let src = by("src").downcast::<gst_app::AppSrc>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut buffer = gst::Buffer::from_slice(scene.as_raw().clone());
    buffer.get_mut().unwrap().set_pts(gst::ClockTime::ZERO);
    src.push_buffer(buffer).unwrap();
    src.end_of_stream().unwrap();
    let (planes, _) =
        crate::ingest::picture_of(&sink("planes").pull_sample().unwrap()).expect("I420 planes");
    let rgb = sink("rgb").pull_sample().unwrap();
    let map = rgb.buffer().unwrap().map_readable().unwrap();
    // 1920 × 3 bytes a row: no padding.
    let today = RgbImage::from_raw(fw, fh, map.to_vec()).unwrap();
    pipeline.set_state(gst::State::Null).unwrap();
    Converted {
        scene,
        planes,
        today,
    }
}

/// The YOLOv8 letterbox of a 1080p frame into 640 × 640, values 0–255.
fn letterbox_640(pixels: Pixels<'_>) -> Array4<f32> {
    let (w, h) = (640usize, 640usize);
    let (fw, fh) = pixels.dimensions();
    let (fw, fh) = (fw as f32, fh as f32);
    let s = (w as f32 / fw).min(h as f32 / fh);
    let place = Letterbox {
        scale_x: s,
        scale_y: s,
        dx: (w as f32 - fw * s) / 2.0,
        dy: (h as f32 - fh * s) / 2.0,
    };
    let mut t = Array4::<f32>::from_elem((1, 3, h, w), 114.0);
    sample_into(pixels, &place, false, 1.0, &mut t);
    t
}

/// Mean and largest absolute difference, and the share of values more than 2 levels apart.
fn apart(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
    let d: Vec<f32> = a.iter().zip(b).map(|(p, q)| (p - q).abs()).collect();
    let n = d.len() as f32;
    (
        d.iter().sum::<f32>() / n,
        d.iter().copied().fold(0.0, f32::max),
        d.iter().filter(|&&v| v > 2.0).count() as f32 / n,
    )
}

/// Frames come as the decoder's planes, and the detector samples its input from them: what
/// it gets is the letterbox of the frame made RGB first, within rounding, and no farther
/// from the camera's picture than what `videoconvert`'s RGB gave it before.
#[test]
fn the_letterbox_from_planes_is_the_letterbox_of_the_frame_made_rgb() {
    let Converted {
        scene,
        planes,
        today,
    } = through_videoconvert();
    assert!(matches!(planes.pixels(), Pixels::Yuv(_)));
    assert_eq!(planes.dimensions(), today.dimensions());
    let direct = letterbox_640(planes.pixels());
    assert!(!planes.has_rgb(), "sampled without an RGB copy");
    assert_eq!(direct[[0, 0, 0, 0]], 114.0, "the padding stays padding");
    let raw = |t: &Array4<f32>| t.as_slice().unwrap().to_vec();

    // The same planes made RGB whole, then letterboxed as every frame used to be.
    let whole = letterbox_640(Pixels::Rgb(planes.rgb()));
    let (mean, worst, share) = apart(&raw(&direct), &raw(&whole));
    eprintln!("planes vs whole RGB: mean {mean:.3}, worst {worst:.1}, {share:.5} over 2");
    assert!(
        worst <= 1.0 && mean <= 0.3,
        "mean {mean}, worst {worst}, {share} over 2 levels"
    );

    // Against `videoconvert`'s RGB of the same planes: its integer matrix puts studio white
    // (Y′ 235) at 253 where BT.709 says 255, so values differ by a level or two
    // throughout; the camera's own picture is nearer the planes' colours than to its.
    let before = letterbox_640(Pixels::Rgb(&today));
    let (mean, worst, _) = apart(&raw(&direct), &raw(&before));
    eprintln!("planes vs videoconvert RGB: mean {mean:.3}, worst {worst:.1}");
    assert!(mean <= 2.0, "mean {mean} levels from videoconvert's");
    let camera = letterbox_640(Pixels::Rgb(&scene));
    let (from_planes, ..) = apart(&raw(&direct), &raw(&camera));
    let (from_videoconvert, ..) = apart(&raw(&before), &raw(&camera));
    eprintln!(
        "from the camera's picture: planes {from_planes:.3}, videoconvert {from_videoconvert:.3}"
    );
    assert!(
        from_planes <= from_videoconvert,
        "{from_planes} against {from_videoconvert}"
    );
}

fn det(class: usize, score: f32, x: f32) -> Detection {
    Detection {
        class,
        score,
        bbox: BoxF {
            x0: x,
            y0: 0.0,
            x1: x + 10.0,
            y1: 10.0,
        },
    }
}

#[test]
fn nms_keeps_the_best_of_overlapping_boxes_per_class() {
    let kept = nms(
        vec![
            det(0, 0.5, 0.0),
            det(0, 0.9, 1.0),
            det(1, 0.6, 1.0),
            det(0, 0.4, 50.0),
        ],
        0.5,
    );
    assert_eq!(kept.len(), 3);
    assert_eq!(kept[0].score, 0.9);
    assert!(kept.iter().any(|d| d.class == 1));
    assert!(kept.iter().any(|d| d.bbox.x0 == 50.0));
}

#[test]
fn one_vehicle_under_several_classes_is_one_detection() {
    // A DETR export's outputs for one car: car 0.86, truck 0.12 on nearly the same box;
    // a motorbike beside it; a person (not followed) on the motorbike.
    let b = |x0: f32, y0: f32, x1: f32, y1: f32| BoxF { x0, y0, x1, y1 };
    let found = vec![
        Detection {
            class: 7,
            score: 0.12,
            bbox: b(101.0, 52.0, 300.0, 201.0),
        },
        Detection {
            class: 2,
            score: 0.86,
            bbox: b(100.0, 50.0, 300.0, 200.0),
        },
        Detection {
            class: 3,
            score: 0.7,
            bbox: b(290.0, 120.0, 340.0, 210.0),
        },
        Detection {
            class: 0,
            score: 0.9,
            bbox: b(295.0, 100.0, 335.0, 180.0),
        },
        // The same motorbike as a bicycle, and a second car further on.
        Detection {
            class: 1,
            score: 0.3,
            bbox: b(291.0, 121.0, 340.0, 211.0),
        },
        Detection {
            class: 2,
            score: 0.6,
            bbox: b(400.0, 50.0, 600.0, 200.0),
        },
    ];
    let group = |c: usize| match c {
        2 | 5 | 7 => Some(0),
        1 | 3 => Some(1),
        _ => None,
    };
    let kept = merge_classes(found, group, 0.5);
    let classes: Vec<usize> = kept.iter().map(|d| d.class).collect();
    assert_eq!(classes, [2, 3, 2]);
    assert_eq!(kept[0].score, 0.86);
    // Different kinds overlapping only as a rider beside a car does stay apart.
    let beside = vec![
        Detection {
            class: 2,
            score: 0.9,
            bbox: b(0.0, 0.0, 100.0, 100.0),
        },
        Detection {
            class: 3,
            score: 0.8,
            bbox: b(40.0, 20.0, 100.0, 100.0),
        },
    ];
    assert_eq!(merge_classes(beside, group, 0.5).len(), 2);
}

#[test]
fn letterbox_maps_back_to_the_frame() {
    let lb = Letterbox {
        scale_x: 0.325,
        scale_y: 0.325,
        dx: 0.0,
        dy: 91.0,
    };
    let p = lb.to_frame(208.0, 208.0);
    assert!(
        (p[0] - 640.0).abs() < 0.01 && (p[1] - 360.0).abs() < 0.01,
        "{p:?}"
    );
}

#[test]
fn formats_are_named() {
    assert_eq!("yolov8".parse::<Format>(), Ok(Format::Yolov8));
    assert_eq!("detr".parse::<Format>(), Ok(Format::Detr));
    assert!(
        "ssd"
            .parse::<Format>()
            .unwrap_err()
            .contains("unknown detector format")
    );
}
