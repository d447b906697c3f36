//! Plate cameras. An overview camera sees the whole junction, but its plates are a few pixels
//! wide; a plate camera on the same pole, zoomed on the lanes, sees the same vehicles large.
//! The overview's rules judge. When one of its vehicles violates, the plate camera's view of
//! that vehicle is found by where both cameras put it on the road at the same moments — each
//! camera's ground calibration maps its pixels to road metres in one frame of reference, and
//! both cameras' frames are timed by this box's clock — and the plate is read there.
//!
//! A match must be near (a median distance under [`MAX_DISTANCE_M`] over at least
//! [`MIN_MOMENTS`] common moments) and unambiguous (every other vehicle seen at the same time at
//! least [`MARGIN_M`] farther, and twice as far): a vehicle that cannot be told from its neighbour gets no plate
//! from the plate camera, never its neighbour's. Near matches seen at other times are the same
//! vehicle, its track broken in two by the plate camera's tracker: their views are joined.

use std::{collections::HashMap, sync::Arc};

use image::RgbImage;
use protocol::{VehicleClass, geometry::Point};
use vision::{BoxF, Picture};

/// Unix ms and the road point (metres) where the vehicle met the road then.
pub type RoadPath = Vec<(i64, Point)>;

/// The farthest two cameras' positions of one vehicle may lie apart (median over the common
/// moments): the bottom of a box is not exactly the same point of the vehicle in two views.
pub const MAX_DISTANCE_M: f32 = 2.0;
/// How much farther than the best a vehicle seen at the same time must be — and at least twice
/// as far.
pub const MARGIN_M: f32 = 0.5;
/// Common moments a match needs.
pub const MIN_MOMENTS: usize = 3;
/// How far apart the two cameras' clocks may be, and the step the offsets are tried at.
pub const MAX_CLOCK_OFFSET_MS: i64 = 400;
const CLOCK_STEP_MS: usize = 25;
/// Points of a path farther apart in time are not interpolated between.
const MAX_GAP_MS: i64 = 700;
/// How long a plate camera's vehicle is kept after it was last seen.
pub const KEEP_MS: i64 = 60_000;
/// The largest views kept of each vehicle.
pub const VIEWS: usize = 5;

/// A vehicle crop (its box grown 15 %) with the vehicle's box within it.
#[derive(Debug, Clone)]
pub struct View {
    pub area: f32,
    pub crop: RgbImage,
    pub bbox: BoxF,
}

/// Offers the vehicle at `bbox` in `image` as one of its largest views; a box cut by the
/// frame's edge may have lost the plate and is not kept. Returns whether it was kept.
pub fn offer_view(views: &mut Vec<View>, image: &Picture, bbox: BoxF) -> bool {
    let (w, h) = image.dimensions();
    let area = bbox.width() * bbox.height();
    let whole =
        bbox.x0 > 2.0 && bbox.y0 > 2.0 && bbox.x1 < w as f32 - 2.0 && bbox.y1 < h as f32 - 2.0;
    if !whole || (views.len() >= VIEWS && views.iter().all(|v| v.area >= area)) {
        return false;
    }
    let grown = bbox.grown(0.15, w, h);
    let Some(crop) = crop_image(image, &grown) else {
        return false;
    };
    let inner = BoxF {
        x0: bbox.x0 - grown.x0.floor(),
        y0: bbox.y0 - grown.y0.floor(),
        x1: bbox.x1 - grown.x0.floor(),
        y1: bbox.y1 - grown.y0.floor(),
    };
    views.push(View {
        area,
        crop,
        bbox: inner,
    });
    views.sort_by(|a, b| b.area.total_cmp(&a.area));
    views.truncate(VIEWS);
    true
}

/// The part of `img` inside `b`, when it is more than a pixel each way.
pub fn crop_image(img: &Picture, b: &BoxF) -> Option<RgbImage> {
    let (x0, y0) = (b.x0.max(0.0).floor() as u32, b.y0.max(0.0).floor() as u32);
    let (x1, y1) = (
        (b.x1.ceil() as u32).min(img.width()),
        (b.y1.ceil() as u32).min(img.height()),
    );
    (x1 > x0 + 1 && y1 > y0 + 1).then(|| img.crop_rgb(x0, y0, x1 - x0, y1 - y0))
}

/// What a plate camera has seen of one vehicle.
#[derive(Debug, Clone)]
pub struct Sighting {
    pub class: VehicleClass,
    pub path: RoadPath,
    pub views: Vec<View>,
    /// The whole frame in which the vehicle was largest: its time (Unix ms), the picture and
    /// the vehicle's box in it.
    pub frame: Option<(i64, Arc<Picture>, BoxF)>,
    last_ms: i64,
}

/// The vehicles a plate camera has seen lately, by track.
#[derive(Debug, Default)]
pub struct Sightings {
    tracks: HashMap<u64, Sighting>,
    /// Unix ms of the newest frame the plate camera has processed.
    upto_ms: Option<i64>,
}

impl Sightings {
    /// Records track `track` seen at `at_ms`, at `road` on the road when the foot of its box is
    /// below the horizon of the calibration, with `image` in case this is its largest view.
    pub fn seen(
        &mut self,
        track: u64,
        class: VehicleClass,
        at_ms: i64,
        road: Option<Point>,
        image: &Arc<Picture>,
        bbox: BoxF,
    ) {
        let s = self.tracks.entry(track).or_insert_with(|| Sighting {
            class,
            path: Vec::new(),
            views: Vec::new(),
            frame: None,
            last_ms: at_ms,
        });
        s.class = class;
        s.last_ms = at_ms;
        if let Some(p) = road {
            s.path.push((at_ms, p));
        }
        if offer_view(&mut s.views, image, bbox)
            && s.views
                .first()
                .is_some_and(|v| v.area <= bbox.width() * bbox.height())
        {
            s.frame = Some((at_ms, image.clone(), bbox));
        }
    }

    /// Notes that the plate camera has processed its frame of `at_ms`, vehicles or none.
    pub fn frame_done(&mut self, at_ms: i64) {
        self.upto_ms = Some(self.upto_ms.map_or(at_ms, |u| u.max(at_ms)));
    }

    /// Whether the plate camera has processed its frames up to `ms`: until then a vehicle
    /// that passed it by `ms` may not be among its sightings yet.
    pub fn seen_upto(&self, ms: i64) -> bool {
        self.upto_ms.is_some_and(|u| u >= ms)
    }

    /// Forgets the vehicles last seen before `ms`.
    pub fn forget_before(&mut self, ms: i64) {
        self.tracks.retain(|_, s| s.last_ms >= ms);
    }

    pub fn len(&self) -> usize {
        self.tracks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }

    /// The vehicle that followed `path` (the overview's track of a `class` vehicle), its
    /// tracks' views joined, with the median distance between the two; `None` when none is
    /// near enough or two are alike.
    pub fn find(&self, class: VehicleClass, path: &[(i64, Point)]) -> Option<(Sighting, f32)> {
        let candidates = self
            .tracks
            .iter()
            .filter(|(_, s)| two_wheels(s.class) == two_wheels(class))
            .map(|(id, s)| (*id, s.path.as_slice()));
        let found = best_match(path, candidates)?;
        let mut parts = found.tracks.iter().filter_map(|id| self.tracks.get(id));
        let mut joined = parts.next()?.clone();
        let largest = |s: &Sighting| s.views.first().map(|v| v.area);
        let mut top = largest(&joined);
        for part in parts {
            joined.path.extend_from_slice(&part.path);
            joined.views.extend(part.views.iter().cloned());
            if largest(part) > top {
                top = largest(part);
                joined.frame.clone_from(&part.frame);
            }
        }
        joined.path.sort_by_key(|p| p.0);
        joined.views.sort_by(|a, b| b.area.total_cmp(&a.area));
        joined.views.truncate(VIEWS);
        Some((joined, found.distance_m))
    }
}

/// Two classes can be one vehicle seen twice unless one has two wheels and the other more (a
/// bus taken for a truck by one camera is still the same vehicle; a motorbike never is).
fn two_wheels(class: VehicleClass) -> bool {
    class == VehicleClass::Motorbike
}

/// What [`best_match`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Match<K> {
    /// The best candidate, then the near candidates seen only at other times (the same vehicle
    /// under another track).
    pub tracks: Vec<K>,
    /// The best candidate's median distance, metres.
    pub distance_m: f32,
}

/// The candidate whose path follows `path` at the moments both were seen: the smallest median
/// distance, under [`MAX_DISTANCE_M`], over at least [`MIN_MOMENTS`] moments, with every other
/// candidate seen at the same time at least [`MARGIN_M`] farther and twice as far; with it, the
/// candidates
/// under [`MAX_DISTANCE_M`] never seen at the same time as it.
pub fn best_match<'a, K: Copy>(
    path: &[(i64, Point)],
    candidates: impl IntoIterator<Item = (K, &'a [(i64, Point)])>,
) -> Option<Match<K>> {
    let span = |p: &[(i64, Point)]| Some((p.first()?.0, p.last()?.0));
    let mut scored: Vec<(K, f32, (i64, i64))> = candidates
        .into_iter()
        .filter_map(|(k, other)| Some((k, median_distance(path, other)?, span(other)?)))
        .collect();
    scored.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (best, rest) = scored.split_first()?;
    if best.1 > MAX_DISTANCE_M {
        return None;
    }
    let together = |s: &(i64, i64)| s.0 <= best.2.1 && best.2.0 <= s.1;
    type Scored<K> = (K, f32, (i64, i64));
    let (rivals, others): (Vec<&Scored<K>>, Vec<&Scored<K>>) =
        rest.iter().partition(|c| together(&c.2));
    if rivals
        .iter()
        .any(|c| c.1 - best.1 < MARGIN_M || c.1 < 2.0 * best.1)
    {
        return None;
    }
    let mut tracks = vec![best.0];
    tracks.extend(others.iter().filter(|c| c.1 <= MAX_DISTANCE_M).map(|c| c.0));
    Some(Match {
        tracks,
        distance_m: best.1,
    })
}

/// The median distance between `other`'s points and `path` at the same moments, when they
/// share at least [`MIN_MOMENTS`].
///
/// The two cameras' clocks may differ by up to [`MAX_CLOCK_OFFSET_MS`] (each stream's frames
/// are timed from when its first one arrived): the distance is the least over the offsets in
/// that range. A vehicle following so closely that an offset makes it look like the one ahead
/// is then a rival at the same time, and the match is refused as ambiguous.
fn median_distance(path: &[(i64, Point)], other: &[(i64, Point)]) -> Option<f32> {
    let at_offset = |offset: i64| {
        let mut d: Vec<f32> = other
            .iter()
            .filter_map(|&(ms, q)| {
                let p = position_at(path, ms + offset)?;
                Some(((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt())
            })
            .collect();
        if d.len() < MIN_MOMENTS {
            return None;
        }
        d.sort_by(f32::total_cmp);
        Some(d[d.len() / 2])
    };
    (-MAX_CLOCK_OFFSET_MS..=MAX_CLOCK_OFFSET_MS)
        .step_by(CLOCK_STEP_MS)
        .filter_map(at_offset)
        .min_by(f32::total_cmp)
}

/// Where `path` (in time order) was at `ms`, between two of its points no more than
/// `MAX_GAP_MS` apart.
fn position_at(path: &[(i64, Point)], ms: i64) -> Option<Point> {
    let i = path.partition_point(|p| p.0 < ms);
    let after = path.get(i)?;
    if after.0 == ms {
        return Some(after.1);
    }
    let before = path.get(i.checked_sub(1)?)?;
    let span = after.0 - before.0;
    if span > MAX_GAP_MS {
        return None;
    }
    let k = (ms - before.0) as f32 / span as f32;
    Some([
        before.1[0] + (after.1[0] - before.1[0]) * k,
        before.1[1] + (after.1[1] - before.1[1]) * k,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vehicle driving away at `speed` m/s in lane position `x`, sampled every `step` ms from
    /// `from` ms for `n` samples, starting `y0` metres out.
    fn drive(x: f32, y0: f32, speed: f32, from: i64, step: i64, n: usize) -> RoadPath {
        (0..n)
            .map(|i| {
                let ms = from + step * i as i64;
                (ms, [x, y0 + speed * (ms - from) as f32 / 1000.0])
            })
            .collect()
    }

    #[test]
    fn the_vehicle_in_the_same_place_at_the_same_moments_is_chosen() {
        // The overview at 8 frames/s; the plate camera at its own moments, 60 ms later, from
        // the same start (its clock behind by as much), the vehicle 10 m/s.
        let overview = drive(0.0, 15.0, 10.0, 0, 125, 30);
        let same: RoadPath = drive(0.0, 15.0, 10.0, 60, 125, 20);
        let next_lane = drive(3.5, 15.0, 10.0, 60, 125, 20);
        let behind = drive(0.0, 6.0, 10.0, 60, 125, 20);
        let candidates = [
            ("next lane", next_lane.as_slice()),
            ("same", same.as_slice()),
            ("behind", behind.as_slice()),
        ];
        let m = best_match(&overview, candidates).expect("a match");
        assert_eq!(m.tracks, ["same"]);
        assert!(m.distance_m < 0.2, "{}", m.distance_m);
    }

    #[test]
    fn cameras_whose_clocks_differ_still_find_a_fast_vehicle() {
        // 27 m/s (98 km/h); the plate camera's clock 300 ms behind the overview's: 8 m apart
        // at "the same" moment, but the same vehicle.
        let overview = drive(0.0, 15.0, 27.0, 0, 125, 16);
        let late = drive(0.0, 15.0 - 27.0 * 0.3, 27.0, 0, 125, 10);
        let m = best_match(&overview, [(1, late.as_slice())]).expect("a match");
        assert!(m.distance_m < 0.2, "{}", m.distance_m);
        // With the clocks in step, a rider 0.2 s behind in the same lane is as good a match
        // (through an offset): refused.
        let same = drive(0.0, 15.0, 27.0, 0, 125, 10);
        let close_behind = drive(0.0, 15.0 - 27.0 * 0.2, 27.0, 0, 125, 10);
        assert_eq!(
            best_match(
                &overview,
                [(1, same.as_slice()), (2, close_behind.as_slice())]
            ),
            None
        );
    }

    #[test]
    fn a_vehicle_whose_track_broke_in_two_is_one_vehicle() {
        // The plate camera lost the vehicle for a moment: two tracks, one after the other.
        let overview = drive(0.0, 15.0, 10.0, 0, 125, 30);
        let first = drive(0.0, 15.0, 10.0, 30, 125, 12);
        let resumed = 30 + 13 * 125;
        let second = drive(0.0, 15.3 + resumed as f32 / 100.0, 10.0, resumed, 125, 12);
        let m = best_match(&overview, [(1, first.as_slice()), (2, second.as_slice())])
            .expect("a match");
        assert_eq!(m.tracks, [1, 2]);
    }

    #[test]
    fn two_vehicles_side_by_side_are_told_apart_only_with_a_clear_margin() {
        let overview = drive(0.0, 15.0, 8.0, 0, 125, 30);
        // A motorbike 0.6 m beside the true one: too alike to choose.
        let a = drive(0.2, 15.0, 8.0, 30, 125, 20);
        let b = drive(-0.4, 15.0, 8.0, 30, 125, 20);
        assert_eq!(
            best_match(&overview, [(1, a.as_slice()), (2, b.as_slice())]),
            None
        );
        // Both off by a metre or so: not twice as near is not clear.
        let a = drive(1.0, 15.0, 8.0, 30, 125, 20);
        let b = drive(-1.6, 15.0, 8.0, 30, 125, 20);
        assert_eq!(
            best_match(&overview, [(1, a.as_slice()), (2, b.as_slice())]),
            None
        );
        // 1 m beside a near-exact match (a stopped motorbike and a ghost box beside it): the
        // near one.
        let a = drive(0.05, 15.0, 8.0, 30, 125, 20);
        let b = drive(-1.0, 15.0, 8.0, 30, 125, 20);
        assert_eq!(
            best_match(&overview, [(1, a.as_slice()), (2, b.as_slice())]).map(|m| m.tracks),
            Some(vec![1])
        );
        let a = drive(0.2, 15.0, 8.0, 30, 125, 20);
        let b = drive(-1.6, 15.0, 8.0, 30, 125, 20);
        assert_eq!(
            best_match(&overview, [(1, a.as_slice()), (2, b.as_slice())]).map(|m| m.tracks),
            Some(vec![1])
        );
    }

    #[test]
    fn a_far_or_brief_candidate_is_no_match() {
        let overview = drive(0.0, 15.0, 10.0, 0, 125, 30);
        // The next lane, 2.5 m off: too far.
        let far = drive(2.5, 15.0, 10.0, 0, 125, 30);
        assert_eq!(best_match(&overview, [(1, far.as_slice())]), None);
        // Seen at two moments only.
        let brief = drive(0.0, 15.0, 10.0, 500, 125, 2);
        assert_eq!(best_match(&overview, [(1, brief.as_slice())]), None);
        // Seen after the overview lost the vehicle: no common moments.
        let later = drive(0.0, 60.0, 10.0, 4_000, 125, 20);
        assert_eq!(best_match(&overview, [(1, later.as_slice())]), None);
    }

    #[test]
    fn positions_are_interpolated_only_across_short_gaps() {
        let path = vec![(0, [0.0, 0.0]), (500, [0.0, 5.0]), (2_000, [0.0, 20.0])];
        assert_eq!(position_at(&path, 250), Some([0.0, 2.5]));
        assert_eq!(position_at(&path, 500), Some([0.0, 5.0]));
        assert_eq!(position_at(&path, 1_000), None, "a gap of 1.5 s");
        assert_eq!(position_at(&path, -1), None);
        assert_eq!(position_at(&path, 2_001), None);
    }

    #[test]
    fn sightings_keep_the_largest_views_and_forget_old_vehicles() {
        let image = Arc::new(Picture::from_rgb(RgbImage::new(200, 100)));
        let mut s = Sightings::default();
        for (i, w) in [10.0f32, 30.0, 20.0].into_iter().enumerate() {
            let bbox = BoxF {
                x0: 50.0,
                y0: 20.0,
                x1: 50.0 + w,
                y1: 60.0,
            };
            s.seen(
                7,
                VehicleClass::Car,
                1_000 * i as i64,
                Some([0.0, i as f32]),
                &image,
                bbox,
            );
        }
        // A box at the frame's edge is no view.
        let edge = BoxF {
            x0: 0.0,
            y0: 20.0,
            x1: 80.0,
            y1: 60.0,
        };
        s.seen(7, VehicleClass::Car, 3_000, None, &image, edge);
        let seen = &s.tracks[&7];
        assert_eq!(seen.path.len(), 3);
        assert_eq!(seen.views.len(), 3);
        assert_eq!(seen.views[0].bbox.width(), 30.0);
        assert_eq!(
            seen.frame.as_ref().map(|f| f.0),
            Some(1_000),
            "largest at 1 s"
        );
        s.forget_before(3_001);
        assert!(s.is_empty());
    }

    #[test]
    fn a_plate_camera_has_seen_up_to_its_newest_frame_only() {
        let mut s = Sightings::default();
        assert!(!s.seen_upto(0), "no frame processed yet");
        s.frame_done(2_000);
        // A frame handed back late does not move it back.
        s.frame_done(1_500);
        assert!(s.seen_upto(2_000));
        assert!(!s.seen_upto(2_001));
    }

    #[test]
    fn a_motorbike_is_never_matched_with_a_car() {
        let image = Arc::new(Picture::from_rgb(RgbImage::new(200, 100)));
        let mut s = Sightings::default();
        let overview = drive(0.0, 15.0, 10.0, 0, 125, 30);
        for &(ms, p) in &overview {
            let bbox = BoxF {
                x0: 50.0,
                y0: 20.0,
                x1: 90.0,
                y1: 60.0,
            };
            s.seen(1, VehicleClass::Car, ms, Some(p), &image, bbox);
        }
        assert!(s.find(VehicleClass::Motorbike, &overview).is_none());
        assert!(s.find(VehicleClass::Bus, &overview).is_some());
    }
}
