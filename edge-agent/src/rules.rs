//! Violation rules: pure functions over one track's history, the camera's calibrated geometry
//! and, for red light, the signal. No I/O, no clocks: the easiest code of the agent to test.
//!
//! A track is followed by the bottom-centre of its box — where the vehicle meets the road —
//! which the ground-plane homography maps to metres when the camera is calibrated.

use std::collections::HashSet;

use protocol::{
    VehicleClass, ViolationKind,
    camera::{CameraGeometry, LineSpec, SpeedTrapSpec},
    geometry::{Homography, Point, point_in_polygon},
    messages::SignalState,
};
use vision::BoxF;

/// One observation of a track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Seconds on the camera's clock.
    pub t: f64,
    pub bbox: BoxF,
    /// Whether the detector was sure of the box (a confident detection: at least
    /// [`SURE_SCORE`] and the detector's own operating point). A weak one keeps the track of a road user partly hidden alive — that is ByteTrack's
    /// premise — and its box is the part in view: its bottom edge is where the hiding begins,
    /// not where the vehicle meets the road. Rules that measure where a road user is on the
    /// road (a line crossed, the way travelled in a lane) go by sure sightings only.
    pub sure: bool,
    /// Frames the camera judged without seeing the track just before this sighting (0 when it
    /// was seen in the frame before). One found again after more than [`MAX_UNSEEN_FRAMES`]
    /// may have been taken up by another road user of its shape.
    pub unseen: u32,
}

/// The least detection score of a sure sighting, whatever lower operating point a detector
/// has (the real-street one finds at 0.35): ByteTrack's confident threshold
/// ([`crate::detect::VehicleDetector::sure`]). A motorbike the
/// detector scored 0.85 in full view scores about 0.4 with its lower half behind a car.
pub const SURE_SCORE: f32 = 0.5;

/// The most frames a track may go unseen between two sightings that are taken for one road
/// user's movement: where the tracker's own shape gate begins.
pub const MAX_UNSEEN_FRAMES: u32 = crate::track::REFIND_GATE_AFTER;

impl Sample {
    /// A sure sighting of a track seen in the frame before.
    pub fn seen(t: f64, bbox: BoxF) -> Self {
        Self {
            t,
            bbox,
            sure: true,
            unseen: 0,
        }
    }

    /// Whether this sighting continues the one before it as the same road user's movement:
    /// the track was not lost in between, and not for longer than [`FOLLOW_MAX_GAP_S`].
    pub fn follows(&self, before: &Sample) -> bool {
        self.unseen <= MAX_UNSEEN_FRAMES && self.t - before.t <= FOLLOW_MAX_GAP_S
    }

    /// Where the vehicle meets the road, pixels.
    pub fn foot(&self) -> Point {
        foot(&self.bbox)
    }
}

/// Where the vehicle in `bbox` meets the road: the bottom centre, pixels.
pub fn foot(bbox: &BoxF) -> Point {
    [(bbox.x0 + bbox.x1) / 2.0, bbox.y1]
}

/// A track's history, oldest first.
#[derive(Debug, Clone)]
pub struct History {
    pub track: u64,
    /// The class most of the track's detections gave (score-weighted votes) ...
    pub class: VehicleClass,
    /// ... and the share of those votes each class they gave holds; empty when all agreed on
    /// `class`. A rule that judges by class gives the track the benefit of the doubt among the
    /// classes it may be ([`History::may_be`]).
    pub class_votes: Vec<(VehicleClass, f32)>,
    pub samples: Vec<Sample>,
}

impl History {
    /// The classes the track may be: its own and any other holding at least
    /// [`Limits::class_doubt_share`] of its detections' votes. A motorbike the detector called
    /// a car now and then may be a car; it is not surely one in a motorbike lane.
    pub fn may_be<'a>(&'a self, limits: &Limits) -> impl Iterator<Item = VehicleClass> + 'a {
        let doubt = limits.class_doubt_share;
        std::iter::once(self.class).chain(
            self.class_votes
                .iter()
                .filter(move |(c, share)| *c != self.class && *share >= doubt)
                .map(|(c, _)| *c),
        )
    }
}

/// A line in the image, with the side vehicles come from: `before` is a point on that side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DirectedLine {
    pub a: Point,
    pub b: Point,
    pub before: Point,
}

impl DirectedLine {
    /// Signed distance in pixels of `p` from the line, positive on the `before` side.
    fn side(&self, p: Point) -> f32 {
        let cross = |p: Point| {
            (self.b[0] - self.a[0]) * (p[1] - self.a[1])
                - (self.b[1] - self.a[1]) * (p[0] - self.a[0])
        };
        let len = ((self.b[0] - self.a[0]).powi(2) + (self.b[1] - self.a[1]).powi(2))
            .sqrt()
            .max(1e-6);
        let s = cross(p) / len;
        if cross(self.before) >= 0.0 { s } else { -s }
    }

    /// When the foot goes from the `before` side to the other, interpolated at the line.
    ///
    /// Only sure sightings count ([`Sample::sure`]): the box of a vehicle half hidden behind
    /// the one queued behind it ends where the hiding begins, and that edge can lie past the
    /// line while the vehicle stands before it. Both sides must be seen clearly — a tenth of the
    /// box's height away from the line (at least 2 px) — so a vehicle standing on the line,
    /// whose box jitters by a few pixels from frame to frame, never "crosses" it. The far side
    /// must be seen twice running, by a box of the shape seen on the near side
    /// ([`same_shape`]): one misplaced box (a queued motorbike half hidden, boxed once a few
    /// metres up the road) or a track that jumps to another road user (a car of the cross
    /// traffic) is not a crossing. And the track must be seen all the way, from its last
    /// sighting on the near side to its second on the far side ([`Sample::follows`]): a track
    /// lost behind a bus and then taken up by whatever came by has not been seen crossing.
    /// Until the second sighting the answer is `None`; the rules run again on the next frame.
    pub fn crossing(&self, h: &History) -> Option<f64> {
        // Runs on every track every frame: the sure sightings are walked by index, not copied.
        let samples = &h.samples;
        let sure = |from: usize, to: usize| (from..=to).filter(|&k| samples[k].sure);
        let steps = |from: usize, to: usize| sure(from, to).zip(sure(from, to).skip(1));
        let margin = |s: &Sample| (0.1 * s.bbox.height()).max(2.0);
        let after = |s: &Sample| self.side(s.foot()) < -margin(s);
        let mut clearly_before: Option<usize> = None;
        for i in sure(0, samples.len().checked_sub(1)?) {
            let s = &samples[i];
            let d = self.side(s.foot());
            if d > margin(s) {
                clearly_before = Some(i);
            } else if d < -margin(s)
                && let Some(b) = clearly_before
            {
                let n = sure(i + 1, samples.len() - 1).next()?;
                let next = &samples[n];
                if !steps(b, n).all(|(j, k)| samples[k].follows(&samples[j])) {
                    clearly_before = None;
                    continue;
                }
                let near = &samples[b].bbox;
                if !(after(next) && same_shape(near, &s.bbox) && same_shape(near, &next.bbox)) {
                    continue;
                }
                // The last step over the line between the two clear sightings.
                let (j, k, s0, s1) = steps(b, i)
                    .filter_map(|(j, k)| {
                        let (s0, s1) = (self.side(samples[j].foot()), self.side(samples[k].foot()));
                        (s0 > 0.0 && s1 <= 0.0).then_some((j, k, s0, s1))
                    })
                    .last()?;
                let f = f64::from(s0 / (s0 - s1));
                return Some(samples[j].t + f * (samples[k].t - samples[j].t));
            }
        }
        None
    }
}

/// Whether two boxes of one track can be the same road user a moment apart: their shapes
/// (width over height) within [`SHAPE_RATIO`] of each other. A vehicle's box keeps its shape
/// as it moves away or comes near (it scales as a whole); a motorbike's box does not become
/// a car's.
pub fn same_shape(a: &BoxF, b: &BoxF) -> bool {
    let aspect = |x: &BoxF| x.width().max(1e-3) / x.height().max(1e-3);
    let r = aspect(a) / aspect(b);
    (1.0 / SHAPE_RATIO..=SHAPE_RATIO).contains(&r)
}

/// How far a road user's box shape may change between two sightings of one crossing.
pub const SHAPE_RATIO: f32 = 1.6;

/// The longest a track followed over the road may go unseen, seconds: a camera thread sees a
/// road user several times a second. Over a longer gap — a detection missed, or a busy box's
/// camera thread stalled — the tracker's prediction may have been taken up by another: a
/// motorbike braking for the light, predicted on at its old speed, lands on one of the cross
/// traffic beyond the line.
pub const FOLLOW_MAX_GAP_S: f64 = 0.75;

/// A lane: its outline, the legal direction of travel (image units), who may use it.
#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    pub name: String,
    pub polygon: Vec<Point>,
    pub direction: [f32; 2],
    /// Classes allowed; empty means every class.
    pub allowed: Vec<VehicleClass>,
}

impl Lane {
    /// The track's passages through the lane: for each stretch of sure sightings that follow
    /// one another ([`Sample::follows`]: a track lost and found again may be another road user
    /// from there on), the sightings with the foot in the lane and how far the foot went along
    /// the lane's direction from the first of them to the last (pixels, negative against it).
    /// A passage is made of at least [`MIN_PASSAGE_SIGHTINGS`].
    pub fn travels<'a>(&self, h: &'a History) -> Vec<(Vec<&'a Sample>, f32)> {
        let mut runs: Vec<Vec<&Sample>> = Vec::new();
        let mut last: Option<&Sample> = None;
        for s in h.samples.iter().filter(|s| s.sure) {
            if last.is_none_or(|l| !s.follows(l)) {
                runs.push(Vec::new());
            }
            last = Some(s);
            if point_in_polygon(s.foot(), &self.polygon)
                && let Some(run) = runs.last_mut()
            {
                run.push(s);
            }
        }
        runs.into_iter()
            .filter(|within| within.len() >= MIN_PASSAGE_SIGHTINGS)
            .filter_map(|within| {
                let (a, b) = (within.first()?.foot(), within.last()?.foot());
                let along = (b[0] - a[0]) * self.direction[0] + (b[1] - a[1]) * self.direction[1];
                Some((within, along))
            })
            .collect()
    }
}

/// The fewest sure sightings a passage through a lane is judged on. A camera thread sees a
/// road user several times a second; a newly born track (its motion not yet known) that the
/// camera loses over a stall of half a second can be taken up by the next motorbike of a
/// stream, and its two sightings then seem to go backwards.
pub const MIN_PASSAGE_SIGHTINGS: usize = 4;

/// A no-stopping zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub polygon: Vec<Point>,
    pub max_dwell_s: f64,
    /// What the zone forbids, carried into the violation for the fine's legal point.
    pub case: Option<protocol::camera::ZoneCase>,
}

/// How speed is measured.
#[derive(Debug, Clone, PartialEq)]
pub enum SpeedTrap {
    /// Two lines a known distance apart.
    Lines {
        entry: DirectedLine,
        exit: DirectedLine,
        distance_m: f64,
    },
    /// Speed from the ground track, through the image → road map: the inverse of the road →
    /// image homography calibrated from four points, taken once when the geometry is built
    /// (the rule runs on every track every frame).
    Ground { to_road: Homography },
}

impl SpeedTrap {
    /// The ground trap of a road → image homography; `None` when it cannot be inverted.
    pub fn ground(to_image: &Homography) -> Option<Self> {
        Some(Self::Ground {
            to_road: to_image.inverse()?,
        })
    }
}

/// The camera's calibrated geometry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Geometry {
    pub stop_line: Option<DirectedLine>,
    pub speed: Option<SpeedTrap>,
    pub lanes: Vec<Lane>,
    pub no_stopping: Vec<Zone>,
}

impl From<LineSpec> for DirectedLine {
    fn from(l: LineSpec) -> Self {
        Self {
            a: l.a,
            b: l.b,
            before: l.before,
        }
    }
}

impl From<&CameraGeometry> for Geometry {
    fn from(spec: &CameraGeometry) -> Self {
        Self {
            stop_line: spec.stop_line.map(Into::into),
            speed: spec.speed.as_ref().and_then(|s| match s {
                SpeedTrapSpec::Lines {
                    entry,
                    exit,
                    distance_m,
                } => Some(SpeedTrap::Lines {
                    entry: (*entry).into(),
                    exit: (*exit).into(),
                    distance_m: *distance_m,
                }),
                SpeedTrapSpec::Homography(m) => SpeedTrap::ground(&Homography(*m)),
            }),
            lanes: spec
                .lanes
                .iter()
                .map(|l| Lane {
                    name: l.name.clone(),
                    polygon: l.polygon.clone(),
                    direction: l.direction,
                    allowed: l.allowed.clone(),
                })
                .collect(),
            no_stopping: spec
                .no_stopping
                .iter()
                .map(|z| Zone {
                    polygon: z.polygon.clone(),
                    max_dwell_s: z.max_dwell_s,
                    case: z.case,
                })
                .collect(),
        }
    }
}

impl Geometry {
    /// The lane the point `p` (a vehicle's foot) is in, the first drawn where lanes overlap.
    pub fn lane_at(&self, p: Point) -> Option<&Lane> {
        self.lanes.iter().find(|l| point_in_polygon(p, &l.polygon))
    }

    /// Where the vehicle in `bbox` meets the road, metres, when the camera has the ground
    /// calibration.
    pub fn to_road(&self, bbox: &BoxF) -> Option<Point> {
        match &self.speed {
            Some(SpeedTrap::Ground { to_road }) => to_road.apply(foot(bbox)),
            _ => None,
        }
    }
}

/// Limits and tolerances.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub speed_kmh: f64,
    /// Per-class limits where they differ.
    pub speed_kmh_by_class: Vec<(VehicleClass, f64)>,
    /// Measured speed above the limit that is reported (the first fine band starts at 5).
    pub speed_tolerance_kmh: f64,
    /// Ground speed is measured only where one pixel spans at most this much road, metres ...
    pub speed_max_m_per_px: f64,
    /// ... over at least this long, seconds.
    pub speed_min_s: f64,
    /// Crossing this soon after red began is forgiven (all-red grace).
    pub red_grace_s: f64,
    /// Sustained motion against the lane: at least this far (pixels) ...
    pub wrong_way_px: f32,
    /// ... and at least this long in the lane for a wrong-lane report, seconds.
    pub wrong_lane_s: f64,
    /// Below this foot speed (pixels per second) a vehicle is stopped.
    pub stopped_px_s: f32,
    /// A class holding this share of a track's detection votes is one the track may be: wrong
    /// lane needs every class it may be barred from the lane, no helmet needs it surely a
    /// motorbike, speeding takes the most lenient limit of them.
    pub class_doubt_share: f32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            speed_kmh: 50.0,
            speed_kmh_by_class: Vec::new(),
            speed_tolerance_kmh: 5.0,
            speed_max_m_per_px: 0.35,
            speed_min_s: 0.75,
            red_grace_s: 0.5,
            wrong_way_px: 60.0,
            wrong_lane_s: 1.0,
            stopped_px_s: 4.0,
            class_doubt_share: 0.2,
        }
    }
}

impl Limits {
    pub fn limit_for(&self, class: VehicleClass) -> f64 {
        self.speed_kmh_by_class
            .iter()
            .find(|(c, _)| *c == class)
            .map_or(self.speed_kmh, |(_, l)| *l)
    }

    /// The limit a track is held to: the most lenient of the classes it may be.
    pub fn limit_for_track(&self, h: &History) -> f64 {
        h.may_be(self)
            .map(|c| self.limit_for(c))
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

/// A rule's finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: ViolationKind,
    pub track: u64,
    /// When it happened (camera clock, seconds).
    pub t: f64,
    /// Measured speed (km/h), seconds into red, seconds stopped; by kind.
    pub value: Option<f64>,
    pub limit: Option<f64>,
    pub lane: Option<String>,
    /// Illegal stopping: what the zone forbids.
    pub zone_case: Option<protocol::camera::ZoneCase>,
}

fn finding(kind: ViolationKind, h: &History, t: f64) -> Finding {
    Finding {
        kind,
        track: h.track,
        t,
        value: None,
        limit: None,
        lane: None,
        zone_case: None,
    }
}

/// The signal as the rule needs it: the state at a time and how long it has held.
pub trait Signal {
    fn at(&self, t: f64) -> Option<(SignalState, f64)>;
}

impl<F: Fn(f64) -> Option<(SignalState, f64)>> Signal for F {
    fn at(&self, t: f64) -> Option<(SignalState, f64)> {
        self(t)
    }
}

/// Red light: the foot crosses the stop line in the direction of travel while the signal is
/// red, more than the grace after red began. Vehicles past the line when red began crossed on
/// green or amber and are not flagged.
pub fn red_light(
    h: &History,
    g: &Geometry,
    signal: &dyn Signal,
    limits: &Limits,
) -> Option<Finding> {
    let t = g.stop_line?.crossing(h)?;
    let (state, since) = signal.at(t)?;
    (state == SignalState::Red && since > limits.red_grace_s).then(|| Finding {
        value: Some(since),
        ..finding(ViolationKind::RedLight, h, t)
    })
}

/// The track's speed as the camera's trap measures it, km/h, with the time of the measurement:
/// between the two lines once it crossed both, or over the ground; `None` where there is no
/// measurement a fine could rest on.
pub fn measured_speed(h: &History, g: &Geometry, limits: &Limits) -> Option<(f64, f64)> {
    match g.speed.as_ref()? {
        SpeedTrap::Lines {
            entry,
            exit,
            distance_m,
        } => {
            let (t0, t1) = (entry.crossing(h)?, exit.crossing(h)?);
            (t1 > t0).then(|| (distance_m / (t1 - t0) * 3.6, t1))
        }
        SpeedTrap::Ground { to_road } => ground_speed(h, to_road, limits),
    }
}

/// Speeding, by two lines or by the ground-plane homography.
pub fn speeding(h: &History, g: &Geometry, limits: &Limits) -> Option<Finding> {
    let (kmh, t) = measured_speed(h, g, limits)?;
    let limit = limits.limit_for_track(h);
    (kmh > limit + limits.speed_tolerance_kmh).then(|| Finding {
        value: Some(kmh),
        limit: Some(limit),
        ..finding(ViolationKind::Speeding, h, t)
    })
}

/// Speed over the ground from the track's feet mapped to the road, in km/h, with the time of
/// the last sample used; `None` when the track does not support a measurement a fine can rest
/// on.
///
/// Only feet where one pixel spans at most `speed_max_m_per_px` of road count (far away, a
/// pixel of box jitter is metres). The slope is Theil–Sen's (the median of the pairwise
/// speeds), which a few bad boxes do not move; and the ground track must be straight motion at
/// that speed — nine feet in ten within three pixels, a metre or 5 % of the distance covered of
/// the fitted line — or there is no measurement: a track whose identity passed from one vehicle to another,
/// or that jumped over dropped frames onto something else, is not one vehicle's speed.
/// The most feet a ground speed is fitted over: four seconds at 8 frames/s.
const GROUND_SPEED_SAMPLES: usize = 32;

fn ground_speed(h: &History, to_road: &Homography, limits: &Limits) -> Option<(f64, f64)> {
    let metres =
        |p: Point, q: Point| f64::from(((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt());
    // (time, road point, metres per pixel there) of the latest resolved feet, newest last: the
    // fit is quadratic in their number and runs on every track every frame (a car queued at a
    // light holds hundreds of samples), so at most `GROUND_SPEED_SAMPLES` of them.
    // Sure sightings only: a half-hidden box's bottom edge is not the vehicle's foot.
    let mut pts: Vec<(f64, Point, f64)> = h
        .samples
        .iter()
        .rev()
        .filter(|s| s.sure)
        .filter_map(|s| {
            let foot = s.foot();
            let road = to_road.apply(foot)?;
            let per_px = metres(road, to_road.apply([foot[0], foot[1] + 1.0])?);
            (per_px <= limits.speed_max_m_per_px).then_some((s.t, road, per_px))
        })
        .take(GROUND_SPEED_SAMPLES)
        .collect();
    pts.reverse();
    let (first, last) = (pts.first()?, pts.last()?);
    if pts.len() < 6 || last.0 - first.0 < limits.speed_min_s {
        return None;
    }
    // Distance along the way travelled, from the first foot.
    let along: Vec<(f64, f64)> = pts
        .iter()
        .map(|(t, p, _)| (*t, metres(*p, first.1)))
        .collect();
    let mut slopes: Vec<f64> = Vec::with_capacity(along.len() * along.len() / 2);
    for (i, a) in along.iter().enumerate() {
        for b in &along[i + 1..] {
            if b.0 - a.0 >= 0.2 {
                slopes.push((b.1 - a.1) / (b.0 - a.0));
            }
        }
    }
    let slope = median(&mut slopes)?;
    let mut offsets: Vec<f64> = along.iter().map(|(t, d)| d - slope * t).collect();
    let offset = median(&mut offsets)?;
    // A foot may be off by three pixels of box, a metre, or 5 % of the way measured.
    let covered = slope * (last.0 - first.0);
    let inliers = along
        .iter()
        .zip(&pts)
        .filter(|((t, d), (_, _, per_px))| {
            let tolerance = (3.0 * per_px).max(0.05 * covered).max(1.0);
            (d - (slope * t + offset)).abs() <= tolerance
        })
        .count();
    (inliers as f64 >= 0.9 * along.len() as f64).then_some((slope * 3.6, last.0))
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

/// Wrong way: inside a lane, the foot moves against the lane's direction by at least
/// `wrong_way_px` over one passage seen without losing the track ([`Lane::travels`]): a
/// motorbike taken up a second later by the next one coming up the road has not gone backwards.
pub fn wrong_way(h: &History, g: &Geometry, limits: &Limits) -> Option<Finding> {
    g.lanes.iter().find_map(|lane| {
        lane.travels(h).into_iter().find_map(|(within, along)| {
            let last = within.last()?;
            (along <= -limits.wrong_way_px).then(|| Finding {
                lane: Some(lane.name.clone()),
                ..finding(ViolationKind::WrongWay, h, last.t)
            })
        })
    })
}

/// Wrong lane: travelling in a lane that no class it may be ([`History::may_be`]) may use,
/// for at least `wrong_lane_s`. Travelling: its foot moves along the lane at least its own
/// box's height (as drawn there) — a vehicle standing still is not driving in the lane (that
/// is for the stopping rule), and neither is a shadow or a road marking a detector boxed.
pub fn wrong_lane(h: &History, g: &Geometry, limits: &Limits) -> Option<Finding> {
    g.lanes
        .iter()
        .filter(|l| !l.allowed.is_empty() && h.may_be(limits).all(|c| !l.allowed.contains(&c)))
        .find_map(|lane| {
            lane.travels(h).into_iter().find_map(|(within, along)| {
                let (first, last) = (within.first()?, within.last()?);
                let height =
                    within.iter().map(|s| s.bbox.height()).sum::<f32>() / within.len() as f32;
                (last.t - first.t >= limits.wrong_lane_s && along >= height).then(|| Finding {
                    lane: Some(lane.name.clone()),
                    ..finding(ViolationKind::WrongLane, h, last.t)
                })
            })
        })
}

/// Illegal stopping: stopped inside a no-stopping zone longer than it allows.
pub fn illegal_stopping(h: &History, g: &Geometry, limits: &Limits) -> Option<Finding> {
    // Speed over the last second, not frame to frame: a detector's box jitters by a pixel or
    // two each frame, which at 8 frames a second looks like motion.
    let moving = |i: usize| -> Option<bool> {
        let s = &h.samples[i];
        let back = h.samples[..i].iter().rev().find(|p| s.t - p.t >= 1.0)?;
        let (a, b) = (back.foot(), s.foot());
        let dist = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
        let per_s = dist / (s.t - back.t) as f32;
        Some(per_s >= limits.stopped_px_s.max(0.08 * s.bbox.height()))
    };
    // Only a vehicle seen arriving is judged: something standing still since it was first
    // seen (a parked car before the camera started, a bollard taken for a motorbike) has no
    // known dwell.
    let first = h.samples.first()?.foot();
    g.no_stopping.iter().find_map(|zone| {
        let mut since: Option<f64> = None;
        let mut arrived = false;
        for (i, s) in h.samples.iter().enumerate() {
            let p = s.foot();
            arrived |= ((p[0] - first[0]).powi(2) + (p[1] - first[1]).powi(2)).sqrt()
                >= (0.5 * s.bbox.height()).max(20.0);
            let inside = point_in_polygon(p, &zone.polygon);
            match (inside, moving(i)) {
                (true, Some(false)) if arrived => {
                    let from = *since.get_or_insert(s.t - 1.0);
                    let dwell = s.t - from;
                    if dwell > zone.max_dwell_s {
                        return Some(Finding {
                            value: Some(dwell),
                            limit: Some(zone.max_dwell_s),
                            zone_case: zone.case,
                            ..finding(ViolationKind::IllegalStopping, h, s.t)
                        });
                    }
                }
                (true, None | Some(false)) => {}
                _ => since = None,
            }
        }
        None
    })
}

/// No helmet, from the helmet classifier's probabilities of "no helmet" on the track's rider
/// crops. `None` input means no classifier is configured: the rule is off.
pub fn no_helmet(h: &History, no_helmet_probs: Option<&[f32]>, limits: &Limits) -> Option<Finding> {
    let probs = no_helmet_probs?;
    if !h.may_be(limits).all(|c| c == VehicleClass::Motorbike) || probs.len() < 3 {
        return None;
    }
    let mean = probs.iter().sum::<f32>() / probs.len() as f32;
    (mean >= 0.7).then(|| Finding {
        value: Some(f64::from(mean)),
        ..finding(
            ViolationKind::NoHelmet,
            h,
            h.samples.last().map_or(0.0, |s| s.t),
        )
    })
}

/// Every rule on one track: the violations it shows now. Each rule runs on every track every
/// frame, but one that has fired for the track (in `fired`) is not run for it again, so a
/// vehicle is reported once for each kind. `no_helmet_probs` is `None` when no helmet
/// classifier is configured (the rule is off).
pub fn judge(
    h: &History,
    g: &Geometry,
    signal: &dyn Signal,
    limits: &Limits,
    no_helmet_probs: Option<&[f32]>,
    fired: &HashSet<ViolationKind>,
) -> Vec<Finding> {
    let open = |kind| !fired.contains(&kind);
    [
        open(ViolationKind::RedLight)
            .then(|| red_light(h, g, signal, limits))
            .flatten(),
        open(ViolationKind::Speeding)
            .then(|| speeding(h, g, limits))
            .flatten(),
        open(ViolationKind::WrongWay)
            .then(|| wrong_way(h, g, limits))
            .flatten(),
        open(ViolationKind::WrongLane)
            .then(|| wrong_lane(h, g, limits))
            .flatten(),
        open(ViolationKind::IllegalStopping)
            .then(|| illegal_stopping(h, g, limits))
            .flatten(),
        open(ViolationKind::NoHelmet)
            .then(|| no_helmet(h, no_helmet_probs, limits))
            .flatten(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests;
