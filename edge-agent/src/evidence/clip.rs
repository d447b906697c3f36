//! The violation's clip: the camera's own H.264 remuxed into an MP4 for the police, and a masked
//! copy for eyes outside the police.
//!
//! The masked copy is decoded from the same access units, each frame's other vehicles and
//! people pixelated ([`evidence::mask`]) where the detector found them, and encoded again
//! (x264). The detector runs at the camera's detect rate, not at every frame the camera sends:
//! a frame between two processed frames hides what both found, each followed vehicle at its
//! place interpolated between the two; a frame farther than [`MAX_GAP_S`] from the detections
//! on either side (the worker fell behind, a reconnect) is hidden whole. What each frame hid is
//! written beside the copy (`protocol::event::MaskedFrames`), so the police can say what a
//! citizen was shown and why.
//!
//! The people detector of the masked copies ([`crate::detect::PeopleDetector`]) looks at the
//! decoded clip itself, every [`PEOPLE_EVERY_S`]: a frame is masked once the looks on either
//! side of it are made (the frames between two looks wait, a fifth of a second of them), and
//! hides the people both found beside what the vehicle detector found.

use std::{collections::VecDeque, path::Path};

use anyhow::{Context, anyhow};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use image::RgbImage;
use protocol::{VehicleBox, event::MaskedFrame};
use vision::BoxF;

use crate::{
    evidence::{self, Shape},
    ingest::{AccessUnit, init},
};

/// What the detector and the tracker saw in one processed frame, the offender left out: what
/// the masked clip hides around that moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameBoxes {
    /// Camera clock, seconds.
    pub t: f64,
    /// The followed vehicles, by track: placed between two processed frames by interpolation.
    pub tracks: Vec<(u64, BoxF, Shape)>,
    /// Every detection (vehicles and people).
    pub found: Vec<(BoxF, Shape)>,
    /// The offender's own box, when it was seen: its riders are not hidden.
    pub offender: Option<BoxF>,
}

/// A frame this far (seconds) from the processed frames on either side of it is hidden whole:
/// where anyone was in it is not known.
pub const MAX_GAP_S: f64 = 1.0;

/// How often (seconds of the clip) the people detector looks at its frames.
pub const PEOPLE_EVERY_S: f64 = 0.2;

/// The people in a decoded frame of the clip at `t` (camera seconds), the offender's riders
/// left out: what the people detector of the masked copies finds.
pub type FindPeople<'a> = dyn FnMut(&RgbImage, f64) -> anyhow::Result<Vec<(BoxF, Shape)>> + 'a;

/// The offender's box at `t`, from the processed frames `seen` (in time order): between two
/// that saw it, where it had got to; else the nearer one's within half of [`MAX_GAP_S`].
pub fn offender_at(seen: &[FrameBoxes], t: f64) -> Option<BoxF> {
    let next = seen.partition_point(|f| f.t < t);
    let sighting = |f: &FrameBoxes| Some((f.t, f.offender?));
    let before = seen[..next].iter().rev().find_map(sighting);
    let after = seen[next..].iter().find_map(sighting);
    match (before, after) {
        (Some((tb, b)), Some((ta, a))) if ta - tb <= MAX_GAP_S => Some(if ta - tb < 1e-9 {
            a
        } else {
            lerp(b, a, ((t - tb) / (ta - tb)) as f32)
        }),
        (Some((tb, b)), _) if t - tb <= MAX_GAP_S / 2.0 => Some(b),
        (_, Some((ta, a))) if ta - t <= MAX_GAP_S / 2.0 => Some(a),
        _ => None,
    }
}

/// The masked copy is encoded at most this wide (a copy to look at, not the evidence itself).
pub const MASKED_MAX_WIDTH: u32 = 1280;

/// What a frame at `t` of a picture `size` hides, from the processed frames `seen` (in time
/// order): `None` for the whole frame.
pub fn frame_regions(size: (u32, u32), seen: &[FrameBoxes], t: f64) -> Option<Vec<VehicleBox>> {
    let next = seen.partition_point(|f| f.t < t);
    let after = seen.get(next);
    let before = next.checked_sub(1).and_then(|i| seen.get(i));
    let hide: Vec<(BoxF, Shape)> = match (before, after) {
        (_, Some(a)) if (a.t - t).abs() < 1e-6 => a.found.clone(),
        (Some(b), Some(a)) if a.t - b.t <= MAX_GAP_S => {
            let w = ((t - b.t) / (a.t - b.t)) as f32;
            let moved = b.tracks.iter().filter_map(|(id, from, shape)| {
                let (_, to, _) = a.tracks.iter().find(|(other, ..)| other == id)?;
                Some((lerp(*from, *to, w), *shape))
            });
            b.found
                .iter()
                .chain(&a.found)
                .copied()
                .chain(moved)
                .collect()
        }
        (Some(one), None) | (None, Some(one)) if (one.t - t).abs() <= MAX_GAP_S / 2.0 => {
            one.found.clone()
        }
        _ => return None,
    };
    let mut regions: Vec<VehicleBox> = Vec::new();
    add_regions(&mut regions, evidence::mask_regions(size, &hide));
    Some(regions)
}

/// Adds `more` to `regions`, each once (a still vehicle is found in both frames: one region).
fn add_regions(regions: &mut Vec<VehicleBox>, more: Vec<VehicleBox>) {
    for r in more {
        if !regions.contains(&r) {
            regions.push(r);
        }
    }
}

/// What a frame at `t` hides: what the vehicle detector found around it (`seen`) and, with a
/// people detector, the people its looks on either side found (`looks`); `None` for the whole
/// frame, where either does not know.
pub fn clip_regions(
    size: (u32, u32),
    seen: &[FrameBoxes],
    looks: Option<&[FrameBoxes]>,
    t: f64,
) -> Option<Vec<VehicleBox>> {
    let mut regions = frame_regions(size, seen, t)?;
    if let Some(looks) = looks {
        add_regions(&mut regions, frame_regions(size, looks, t)?);
    }
    Some(regions)
}

fn lerp(a: BoxF, b: BoxF, w: f32) -> BoxF {
    let at = |p: f32, q: f32| p + (q - p) * w;
    BoxF {
        x0: at(a.x0, b.x0),
        y0: at(a.y0, b.y0),
        x1: at(a.x1, b.x1),
        y1: at(a.y1, b.y1),
    }
}

/// Remuxes access units into an MP4 (no re-encode), times from zero.
pub fn remux_mp4(units: &[AccessUnit], path: &Path) -> anyhow::Result<()> {
    init()?;
    let pipeline = launch(
        "appsrc name=src format=time caps=video/x-h264,stream-format=byte-stream,alignment=au ! h264parse ! mp4mux faststart=true ! filesink name=file",
    )?;
    set_location(&pipeline, path)?;
    pipeline
        .set_state(gst::State::Playing)
        .context("starting the clip muxer")?;
    let pushed = push_units(&appsrc(&pipeline)?, units);
    let result = pushed.and_then(|()| finish(&pipeline, "muxing the clip"));
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// A decoded frame waiting for the people detector's next look.
struct Decoded {
    image: RgbImage,
    pts: gst::ClockTime,
    duration: Option<gst::ClockTime>,
    t: f64,
}

/// Writes to `path` a copy of the clip `units` with every frame masked as [`clip_regions`]
/// says from `seen` and, with `people`, what it finds every [`PEOPLE_EVERY_S`]; returns what
/// each frame hid (pixels of the original). A failed look fails the copy: a frame is never
/// shown with people nobody looked for.
pub fn mask_mp4(
    units: &[AccessUnit],
    seen: &[FrameBoxes],
    mut people: Option<&mut FindPeople<'_>>,
    path: &Path,
) -> anyhow::Result<Vec<MaskedFrame>> {
    init()?;
    let (first, last) = match units {
        [first, .., last] => (first.t, last.t),
        _ => return Err(anyhow!("no video to mask")),
    };
    // The rate the encoder is told (its rate control needs one); each frame keeps its time.
    let fps = ((units.len() - 1) as f64 / (last - first).max(1e-3))
        .round()
        .clamp(1.0, 120.0) as u32;
    let decoder = launch(
        "appsrc name=src format=time caps=video/x-h264,stream-format=byte-stream,alignment=au ! h264parse ! decodebin ! videoconvert ! video/x-raw,format=RGB ! appsink name=raw sync=false max-buffers=2",
    )?;
    let raw = appsink(&decoder, "raw")?;
    decoder
        .set_state(gst::State::Playing)
        .context("starting the clip decoder")?;
    let mut encoder: Option<(gst::Pipeline, gst_app::AppSrc)> = None;
    let mut frames = Vec::new();
    let mut looks: Vec<FrameBoxes> = Vec::new();
    let mut waiting: VecDeque<Decoded> = VecDeque::new();
    let result = (|| {
        push_units(&appsrc(&decoder)?, units)?;
        let mut emit =
            |d: Decoded, looks: &[FrameBoxes], with_people: bool| -> anyhow::Result<()> {
                let Decoded {
                    mut image,
                    pts,
                    duration,
                    t,
                } = d;
                let size = image.dimensions();
                let regions = clip_regions(size, seen, with_people.then_some(looks), t);
                evidence::mask_in_place(
                    &mut image,
                    regions.as_deref().unwrap_or(&[evidence::whole(size)]),
                );
                frames.push(MaskedFrame {
                    t_ms: (pts.nseconds() + 500_000) / 1_000_000,
                    whole: regions.is_none(),
                    regions: regions.unwrap_or_default(),
                });
                if encoder.is_none() {
                    encoder = Some(start_encoder(size, fps, path)?);
                }
                let Some((_, src)) = &encoder else {
                    unreachable!("started above")
                };
                let mut buffer = gst::Buffer::from_mut_slice(padded(image));
                if let Some(b) = buffer.get_mut() {
                    b.set_pts(pts);
                    b.set_duration(duration);
                }
                src.push_buffer(buffer)
                    .map_err(|e| anyhow!("encoding the masked clip: {e:?}"))?;
                Ok(())
            };
        let with_people = people.is_some();
        while let Some(sample) = raw.try_pull_sample(gst::ClockTime::from_seconds(10)) {
            let (image, pts) =
                rgb_of(&sample).ok_or_else(|| anyhow!("a decoded frame that is not RGB"))?;
            let t = first + pts.nseconds() as f64 / 1e9;
            let duration = sample.buffer().and_then(gst::BufferRef::duration);
            // (Frame times are whole milliseconds: a look due is not put off by a rounding.)
            let look = people.is_some()
                && looks
                    .last()
                    .is_none_or(|l| t - l.t >= PEOPLE_EVERY_S - 1e-3);
            if let (true, Some(find)) = (look, people.as_mut()) {
                let found = find(&image, t).context("looking for people in the clip")?;
                looks.push(FrameBoxes {
                    t,
                    found,
                    ..FrameBoxes::default()
                });
            }
            waiting.push_back(Decoded {
                image,
                pts,
                duration,
                t,
            });
            // The frames up to a look have looks on both sides of them now.
            if look || !with_people {
                while let Some(d) = waiting.pop_front() {
                    emit(d, &looks, with_people)?;
                }
            }
        }
        while let Some(d) = waiting.pop_front() {
            emit(d, &looks, with_people)?;
        }
        if !raw.is_eos() {
            finish(&decoder, "decoding the clip")?;
            return Err(anyhow!("decoding the clip stalled"));
        }
        let (pipeline, src) = encoder
            .as_ref()
            .ok_or_else(|| anyhow!("the clip decoded to no frame"))?;
        src.end_of_stream()
            .map_err(|e| anyhow!("ending the masked clip: {e:?}"))?;
        finish(pipeline, "encoding the masked clip")
    })();
    let _ = decoder.set_state(gst::State::Null);
    if let Some((pipeline, _)) = &encoder {
        let _ = pipeline.set_state(gst::State::Null);
    }
    result.map(|()| frames)
}

/// The picture of an RGB sample and its time; rows of RGB are padded to 4 bytes by GStreamer.
fn rgb_of(sample: &gst::Sample) -> Option<(RgbImage, gst::ClockTime)> {
    let buffer = sample.buffer()?;
    let caps = sample.caps()?;
    let s = caps.structure(0)?;
    let (w, h) = (
        u32::try_from(s.get::<i32>("width").ok()?).ok()?,
        u32::try_from(s.get::<i32>("height").ok()?).ok()?,
    );
    let pts = buffer.pts()?;
    let map = buffer.map_readable().ok()?;
    let row = w as usize * 3;
    let stride = row.div_ceil(4) * 4;
    if h == 0 || map.len() < stride * (h as usize - 1) + row {
        return None;
    }
    let pixels = if stride == row {
        // Unpadded rows (widths divisible by 4): one copy.
        map[..row * h as usize].to_vec()
    } else {
        let mut pixels = Vec::with_capacity(row * h as usize);
        for y in 0..h as usize {
            pixels.extend_from_slice(&map[y * stride..y * stride + row]);
        }
        pixels
    };
    Some((RgbImage::from_raw(w, h, pixels)?, pts))
}

/// The encoder of the masked copy, for RGB frames of `size`: H.264 (x264, one thread, so the
/// copy never takes the detector's core), at most [`MASKED_MAX_WIDTH`] wide, in an MP4 a
/// browser plays.
fn start_encoder(
    size: (u32, u32),
    fps: u32,
    path: &Path,
) -> anyhow::Result<(gst::Pipeline, gst_app::AppSrc)> {
    let (w, h) = size;
    let scale = if w > MASKED_MAX_WIDTH {
        let out_h = ((u64::from(h) * u64::from(MASKED_MAX_WIDTH) / u64::from(w)) as u32 + 1) & !1;
        format!(" ! videoscale ! video/x-raw,width={MASKED_MAX_WIDTH},height={out_h}")
    } else {
        String::new()
    };
    let pipeline = launch(&format!(
        "appsrc name=src format=time block=true max-bytes={} caps=video/x-raw,format=RGB,width={w},height={h},framerate={fps}/1 \
         ! videoconvert{scale} ! video/x-raw,format=I420 \
         ! x264enc speed-preset=superfast threads=1 bframes=0 rc-lookahead=5 key-int-max={key} \
         ! video/x-h264,profile=high ! h264parse ! mp4mux faststart=true ! filesink name=file",
        u64::from(w) * u64::from(h) * 3 * 2,
        key = fps * 2,
    ))?;
    set_location(&pipeline, path)?;
    let src = appsrc(&pipeline)?;
    pipeline
        .set_state(gst::State::Playing)
        .context("starting the masked clip's encoder")?;
    Ok((pipeline, src))
}

/// The rows of `image` as GStreamer lays RGB out: each padded to 4 bytes.
fn padded(image: RgbImage) -> Vec<u8> {
    let row = image.width() as usize * 3;
    let stride = row.div_ceil(4) * 4;
    if stride == row {
        return image.into_raw();
    }
    let mut out = vec![0; stride * image.height() as usize];
    for (y, line) in image.as_raw().chunks_exact(row).enumerate() {
        out[y * stride..y * stride + row].copy_from_slice(line);
    }
    out
}

fn launch(line: &str) -> anyhow::Result<gst::Pipeline> {
    gst::parse::launch(line)
        .with_context(|| format!("building `{line}`"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| anyhow!("not a pipeline"))
}

fn set_location(pipeline: &gst::Pipeline, path: &Path) -> anyhow::Result<()> {
    let location = path
        .to_str()
        .ok_or_else(|| anyhow!("path {} is not UTF-8", path.display()))?;
    pipeline
        .by_name("file")
        .ok_or_else(|| anyhow!("no filesink"))?
        .set_property("location", location);
    Ok(())
}

fn appsink(pipeline: &gst::Pipeline, name: &str) -> anyhow::Result<gst_app::AppSink> {
    pipeline
        .by_name(name)
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| anyhow!("no appsink `{name}`"))
}

fn appsrc(pipeline: &gst::Pipeline) -> anyhow::Result<gst_app::AppSrc> {
    pipeline
        .by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .ok_or_else(|| anyhow!("no appsrc"))
}

/// Pushes the access units, times from the first, then the end of the stream.
fn push_units(src: &gst_app::AppSrc, units: &[AccessUnit]) -> anyhow::Result<()> {
    let first = units.first().ok_or_else(|| anyhow!("no video"))?.t;
    for (i, u) in units.iter().enumerate() {
        let mut buffer = gst::Buffer::from_slice(u.data.to_vec());
        let next = units.get(i + 1).map_or(u.t + 0.04, |n| n.t);
        if let Some(b) = buffer.get_mut() {
            let pts = gst::ClockTime::from_nseconds(((u.t - first).max(0.0) * 1e9).round() as u64);
            b.set_pts(pts);
            b.set_dts(pts);
            b.set_duration(gst::ClockTime::from_nseconds(
                ((next - u.t).max(0.001) * 1e9).round() as u64,
            ));
            if !u.keyframe {
                b.set_flags(gst::BufferFlags::DELTA_UNIT);
            }
        }
        src.push_buffer(buffer)
            .map_err(|e| anyhow!("pushing the clip: {e:?}"))?;
    }
    src.end_of_stream()
        .map_err(|e| anyhow!("ending the clip: {e:?}"))?;
    Ok(())
}

/// Waits for the end of the stream (or its error) on `pipeline`'s bus.
fn finish(pipeline: &gst::Pipeline, what: &str) -> anyhow::Result<()> {
    let bus = pipeline.bus().ok_or_else(|| anyhow!("no bus"))?;
    match bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(30),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    ) {
        Some(msg) => match msg.view() {
            gst::MessageView::Error(e) => Err(anyhow!("{what}: {}", e.error())),
            _ => Ok(()),
        },
        None => Err(anyhow!("{what} timed out")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a panic is the failure report

    use super::*;

    fn b(x0: f32, y0: f32, x1: f32, y1: f32) -> BoxF {
        BoxF { x0, y0, x1, y1 }
    }

    #[test]
    fn a_frame_between_detections_hides_both_and_each_vehicle_where_it_had_got_to() {
        let seen = [
            FrameBoxes {
                t: 1.0,
                tracks: vec![(7, b(0.0, 0.0, 80.0, 80.0), Shape::Vehicle)],
                found: vec![(b(0.0, 0.0, 80.0, 80.0), Shape::Vehicle)],
                offender: None,
            },
            FrameBoxes {
                t: 1.2,
                tracks: vec![(7, b(160.0, 0.0, 240.0, 80.0), Shape::Vehicle)],
                found: vec![
                    (b(160.0, 0.0, 240.0, 80.0), Shape::Vehicle),
                    (b(400.0, 100.0, 420.0, 160.0), Shape::Person),
                ],
                offender: None,
            },
        ];
        let size = (640, 480);
        // On a processed frame: what was found there.
        assert_eq!(frame_regions(size, &seen, 1.2).unwrap().len(), 2);
        // Half way: both frames' findings, and car 7 half way between them.
        let mid = frame_regions(size, &seen, 1.1).unwrap();
        assert_eq!(mid.len(), 4);
        let still = FrameBoxes {
            t: 1.4,
            ..seen[1].clone()
        };
        let kept = frame_regions(size, &[seen[1].clone(), still], 1.3).unwrap();
        assert_eq!(kept.len(), 2, "one region for what stood still: {kept:?}");
        assert!(
            mid.iter().any(|r| r.x == 70 && r.width == 100),
            "the car at x 80–160: {mid:?}"
        );
        // Just past the last detection: its findings; far past or before: the whole frame.
        assert_eq!(frame_regions(size, &seen, 1.5).unwrap().len(), 2);
        assert_eq!(frame_regions(size, &seen, 1.8), None);
        assert_eq!(frame_regions(size, &seen, 0.3), None);
        // A gap in the detections longer than MAX_GAP_S: hidden whole.
        let gap = [
            seen[0].clone(),
            FrameBoxes {
                t: 2.5,
                ..seen[1].clone()
            },
        ];
        assert_eq!(frame_regions(size, &gap, 1.8), None);
        assert_eq!(frame_regions(size, &[], 1.0), None);
    }

    #[test]
    fn the_offender_is_placed_between_the_frames_that_saw_it() {
        let at = |t: f64, offender: Option<BoxF>| FrameBoxes {
            t,
            offender,
            ..FrameBoxes::default()
        };
        let seen = [
            at(1.0, Some(b(0.0, 0.0, 100.0, 100.0))),
            at(1.4, Some(b(40.0, 0.0, 140.0, 100.0))),
            at(1.6, None),
            at(3.0, Some(b(0.0, 0.0, 10.0, 10.0))),
        ];
        assert_eq!(offender_at(&seen, 1.2), Some(b(20.0, 0.0, 120.0, 100.0)));
        assert_eq!(offender_at(&seen, 1.4), Some(b(40.0, 0.0, 140.0, 100.0)));
        // Not seen in the next frame: where it was last, for half the gap.
        assert_eq!(offender_at(&seen, 1.8), Some(b(40.0, 0.0, 140.0, 100.0)));
        assert_eq!(offender_at(&seen, 2.2), None);
        assert_eq!(offender_at(&seen, 2.7), Some(b(0.0, 0.0, 10.0, 10.0)));
        assert_eq!(offender_at(&seen, 0.4), None);
        assert_eq!(offender_at(&[], 1.0), None);
    }

    /// Every sample the pipeline `line` gives its appsink `out`.
    fn samples(line: &str) -> Vec<gst::Sample> {
        init().unwrap();
        let pipeline = launch(line).unwrap();
        let sink = appsink(&pipeline, "out").unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let mut samples = Vec::new();
        while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(10)) {
            samples.push(sample);
        }
        pipeline.set_state(gst::State::Null).unwrap();
        samples
    }

    /// A clip of 8-pixel checkers, `n` frames at 10 per second, as the camera's ring holds it.
    fn checkers(width: u32, n: u32) -> Vec<AccessUnit> {
        samples(&format!(
            "videotestsrc num-buffers={n} pattern=checkers-8 ! video/x-raw,format=I420,width={width},height=240,framerate=10/1 \
             ! x264enc key-int-max=10 bframes=0 ! h264parse config-interval=-1 \
             ! video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=out sync=false"
        ))
        .iter()
        .enumerate()
        .map(|(i, sample)| {
            let buffer = sample.buffer().unwrap();
            // Camera time: the encoder's own times start at an offset of its choosing.
            AccessUnit {
                t: 5.0 + i as f64 / 10.0,
                keyframe: !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
                data: buffer.map_readable().unwrap().as_slice().into(),
            }
        })
        .collect()
    }

    /// The frames of an MP4, decoded.
    fn decode(path: &Path) -> Vec<RgbImage> {
        samples(&format!(
            "filesrc location={} ! qtdemux ! h264parse ! decodebin ! videoconvert ! video/x-raw,format=RGB ! appsink name=out sync=false",
            path.display()
        ))
        .iter()
        .map(|sample| rgb_of(sample).unwrap().0)
        .collect()
    }

    /// Sharp edges (a step of more than 100 in red) along row `y` from `x0` to `x1`.
    fn edges(image: &RgbImage, y: u32, x0: u32, x1: u32) -> usize {
        (x0..x1)
            .filter(|&x| {
                let (p, q) = (image.get_pixel(x, y).0[0], image.get_pixel(x + 1, y).0[0]);
                p.abs_diff(q) > 100
            })
            .count()
    }

    #[test]
    fn the_masked_clip_hides_what_was_found_frame_by_frame_and_the_rest_plays_as_it_was() {
        // 322 pixels wide: RGB rows padded to 4 bytes on the way in and out.
        let units = checkers(322, 20);
        assert_eq!(units.len(), 20);
        // The detector ran on every other frame of the first second, then stopped.
        let seen: Vec<FrameBoxes> = (0..5)
            .map(|k| FrameBoxes {
                t: 5.0 + 0.2 * f64::from(k),
                tracks: Vec::new(),
                found: vec![(b(64.0, 48.0, 160.0, 144.0), Shape::Vehicle)],
                offender: None,
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("masked.mp4");
        let frames = mask_mp4(&units, &seen, None, &path).unwrap();
        assert_eq!(frames.len(), 20);
        assert_eq!(frames[0].t_ms, 0);
        assert_eq!(frames[19].t_ms, 1900);
        let hidden = VehicleBox {
            x: 52,
            y: 36,
            width: 120,
            height: 120,
        };
        // Within half the gap of the last detection (t 0.8 s): its findings; after: all of it.
        for f in &frames[..14] {
            assert_eq!(
                (f.whole, f.regions.as_slice()),
                (false, &[hidden][..]),
                "{f:?}"
            );
        }
        for f in &frames[14..] {
            assert!(f.whole && f.regions.is_empty(), "{f:?}");
        }

        let decoded = decode(&path);
        assert_eq!(decoded.len(), 20);
        let first = &decoded[0];
        assert_eq!(first.dimensions(), (322, 240));
        // Inside the region the checkers are gone; beside it they are as the camera sent them.
        assert_eq!(edges(first, 96, 60, 164), 0);
        assert!(
            edges(first, 200, 60, 164) >= 10,
            "{}",
            edges(first, 200, 60, 164)
        );
        assert!(edges(first, 96, 180, 300) >= 10);
        // Hidden whole: no checker edge anywhere.
        let last = &decoded[19];
        assert!((0..240).step_by(7).all(|y| edges(last, y, 0, 321) == 0));
        // The police's copy is the camera's own stream, untouched.
        let remuxed = dir.path().join("clip.mp4");
        remux_mp4(&units, &remuxed).unwrap();
        let original = decode(&remuxed);
        assert_eq!(original.len(), 20);
        assert!(edges(&original[0], 96, 60, 164) >= 10);
    }

    #[test]
    fn the_people_detector_looks_at_the_clip_five_times_a_second_and_its_people_are_hidden() {
        let units = checkers(320, 20);
        // The vehicle detector saw the whole second: a car on the left.
        let seen: Vec<FrameBoxes> = (0..11)
            .map(|k| FrameBoxes {
                t: 5.0 + 0.2 * f64::from(k),
                found: vec![(b(8.0, 8.0, 56.0, 56.0), Shape::Vehicle)],
                ..FrameBoxes::default()
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("masked.mp4");
        // Someone on foot walks right, 100 px a second; the detector finds them where they are.
        let mut looked = Vec::new();
        let mut find = |image: &RgbImage, t: f64| -> anyhow::Result<Vec<(BoxF, Shape)>> {
            assert_eq!(image.dimensions(), (320, 240));
            looked.push(t);
            let x = 120.0 + 100.0 * (t - 5.0) as f32;
            Ok(vec![(b(x, 100.0, x + 64.0, 196.0), Shape::Person)])
        };
        let frames = mask_mp4(&units, &seen, Some(&mut find), &path).unwrap();
        // A look every fifth of a second of the clip (each 0.1 s frame, every other one).
        assert_eq!(looked.len(), 10, "{looked:?}");
        assert!(looked.windows(2).all(|w| (w[1] - w[0] - 0.2).abs() < 1e-6));
        assert_eq!(frames.len(), 20);
        for (i, f) in frames.iter().enumerate() {
            assert!(!f.whole, "{f:?}");
            // The car's region, and the person as found on each side of the frame: between
            // two looks, wherever they were in between (the last frame, after the last look,
            // hides where that look found them).
            assert!(f.regions.iter().any(|r| r.x == 2 && r.width == 60), "{f:?}");
            let person_x = 120 + 10 * i.min(18) as u32;
            let covered = |x: u32| {
                f.regions.iter().any(|r| {
                    (r.x..r.x + r.width).contains(&x) && (r.y..r.y + r.height).contains(&150)
                })
            };
            assert!(
                (person_x..(person_x + 64).min(320)).all(covered),
                "frame {i}: {f:?}"
            );
        }
        // Where the person stood, the checkers are gone; beside them, they are there.
        let decoded = decode(&path);
        assert_eq!(decoded.len(), 20);
        assert_eq!(edges(&decoded[10], 150, 224, 280), 0);
        assert!(edges(&decoded[10], 150, 70, 200) >= 10);
        assert!(edges(&decoded[0], 150, 200, 318) >= 10);

        // A look that fails fails the copy: nothing is shown with people nobody looked for.
        let mut broken = |_: &RgbImage, _: f64| -> anyhow::Result<Vec<(BoxF, Shape)>> {
            Err(anyhow!("the model failed"))
        };
        let e = mask_mp4(&units, &seen, Some(&mut broken), &path).unwrap_err();
        assert!(format!("{e:#}").contains("looking for people"), "{e:#}");
    }
}
