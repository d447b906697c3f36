//! Multi-object tracking per camera, in the manner of ByteTrack (Zhang et al., 2022): a
//! constant-velocity Kalman filter per track, association by IoU in two passes — confident
//! detections first, then the weak ones, which keep tracks alive through partial occlusion —
//! and explicit birth and death rules, so ids stay stable through short occlusions.
//!
//! The filter's state is centre, size and their velocities; process and measurement noise
//! scale with the box height as in ByteTrack. With that block structure the 8-dimensional
//! filter separates exactly into four 2-state filters, which is what is computed here.
//!
//! ByteTrack assumes frames at a steady rate. A camera thread does not see them so: it takes
//! the newest frame when it is free, and on a busy box it skips a few, or stalls for most of a
//! second. Each prediction therefore runs over the time that passed ([`Tracker::update_at`]),
//! in frames of the camera's rate: a motorbike unseen for 0.7 s is looked for 0.7 s further up
//! the road, not one frame's way on, where the next motorbike of the stream now rides.

use crate::detect::Detection;
use vision::BoxF;

/// Tracker thresholds; defaults follow ByteTrack's published settings.
#[derive(Debug, Clone, Copy)]
pub struct TrackerOptions {
    /// Detections at or above this score are confident (first pass).
    pub high_score: f32,
    /// Detections below this are ignored; between the two they serve the second pass.
    pub low_score: f32,
    /// A confident detection no track claims starts a track when at least this sure.
    pub new_track_score: f32,
    /// Smallest IoU of a match in the first pass, the second pass, and for unconfirmed tracks.
    pub match_iou: f32,
    pub low_match_iou: f32,
    pub unconfirmed_iou: f32,
    /// Frames a track survives without a detection.
    pub max_lost_frames: u32,
    /// A track lost for more than two frames is found again only in a box of its own shape:
    /// width and height each within this factor of the track's. A vehicle reappearing from
    /// behind another keeps its size; a car entering where a motorbike was lost is another
    /// vehicle, not the motorbike.
    pub refind_shape_ratio: f32,
    /// Seconds between frames at the camera's rate: the filter's unit of time.
    pub frame_s: f64,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        Self {
            high_score: 0.5,
            low_score: 0.1,
            new_track_score: 0.6,
            match_iou: 0.2,
            low_match_iou: 0.5,
            unconfirmed_iou: 0.3,
            max_lost_frames: 30,
            refind_shape_ratio: 1.5,
            frame_s: 1.0 / 8.0,
        }
    }
}

/// One coordinate and its velocity, with covariance.
#[derive(Debug, Clone, Copy)]
struct Axis {
    x: f32,
    v: f32,
    p: [[f32; 2]; 2],
}

impl Axis {
    fn new(x: f32, sigma_x: f32, sigma_v: f32) -> Self {
        Self {
            x,
            v: 0.0,
            p: [[sigma_x * sigma_x, 0.0], [0.0, sigma_v * sigma_v]],
        }
    }

    /// Advances `dt` frames: x += v·dt, P = F P Fᵀ + Q·dt with F = [[1, dt], [0, 1]] (the
    /// per-frame noise accrues over the frames that passed; at dt = 1, ByteTrack's step).
    fn predict(&mut self, dt: f32, q_x: f32, q_v: f32) {
        self.x += self.v * dt;
        let p = self.p;
        self.p = [
            [
                p[0][0] + dt * (p[0][1] + p[1][0]) + dt * dt * p[1][1] + q_x * q_x * dt,
                p[0][1] + dt * p[1][1],
            ],
            [p[1][0] + dt * p[1][1], p[1][1] + q_v * q_v * dt],
        ];
    }

    fn update(&mut self, z: f32, r: f32) {
        let s = self.p[0][0] + r * r;
        let (k0, k1) = (self.p[0][0] / s, self.p[1][0] / s);
        let y = z - self.x;
        self.x += k0 * y;
        self.v += k1 * y;
        let p = self.p;
        self.p = [
            [(1.0 - k0) * p[0][0], (1.0 - k0) * p[0][1]],
            [p[1][0] - k1 * p[0][0], p[1][1] - k1 * p[0][1]],
        ];
    }
}

// ByteTrack's noise weights, relative to the box height.
const STD_POS: f32 = 1.0 / 20.0;
const STD_VEL: f32 = 1.0 / 160.0;

/// Whether a track has earned its id yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackState {
    /// Born this frame from one detection: not reported until it is seen again.
    Tentative,
    Confirmed,
    /// Not seen in the last frames; kept for `max_lost_frames`.
    Lost,
}

/// A tracked object as of the last update.
#[derive(Debug, Clone)]
pub struct Track {
    pub id: u64,
    pub state: TrackState,
    pub bbox: BoxF,
    pub class: usize,
    pub score: f32,
    /// Frames since it was last matched (0 when seen this frame).
    pub missed: u32,
    /// Frames it went unmatched before its latest match: a track found again after more than
    /// a couple may have been taken up by another road user of its shape.
    pub unseen: u32,
    /// Time since its latest match, in frames at the camera's rate (a stall counts).
    since_seen: f32,
    pub hits: u32,
    axes: [Axis; 4],
    class_votes: Vec<f32>,
}

impl Track {
    fn new(id: u64, d: &Detection) -> Self {
        let (cx, cy, w, h) = centre(&d.bbox);
        let sp = 2.0 * STD_POS * h;
        let sv = 10.0 * STD_VEL * h;
        let mut class_votes = vec![0.0; d.class + 1];
        class_votes[d.class] = d.score;
        Self {
            id,
            state: TrackState::Tentative,
            bbox: d.bbox,
            class: d.class,
            score: d.score,
            missed: 0,
            unseen: 0,
            since_seen: 0.0,
            hits: 1,
            axes: [
                Axis::new(cx, sp, sv),
                Axis::new(cy, sp, sv),
                Axis::new(w, sp, sv),
                Axis::new(h, sp, sv),
            ],
            class_votes,
        }
    }

    fn predict(&mut self, dt: f32) {
        self.since_seen += dt;
        let h = self.axes[3].x.max(1.0);
        for a in &mut self.axes {
            a.predict(dt, STD_POS * h, STD_VEL * h);
        }
        self.bbox = self.predicted();
    }

    fn predicted(&self) -> BoxF {
        let [cx, cy, w, h] = self.axes.map(|a| a.x);
        let (w, h) = (w.max(1.0), h.max(1.0));
        BoxF {
            x0: cx - w / 2.0,
            y0: cy - h / 2.0,
            x1: cx + w / 2.0,
            y1: cy + h / 2.0,
        }
    }

    fn update(&mut self, d: &Detection) {
        let (cx, cy, w, h) = centre(&d.bbox);
        let r = STD_POS * h;
        for (a, z) in self.axes.iter_mut().zip([cx, cy, w, h]) {
            a.update(z, r);
        }
        self.bbox = d.bbox;
        self.score = d.score;
        self.unseen = self.missed;
        self.missed = 0;
        self.since_seen = 0.0;
        self.hits += 1;
        if self.class_votes.len() <= d.class {
            self.class_votes.resize(d.class + 1, 0.0);
        }
        self.class_votes[d.class] += d.score;
        self.class = self
            .class_votes
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(d.class, |(c, _)| c);
    }

    /// Each class the track's detections gave, with its share of their score-weighted votes.
    pub fn class_shares(&self) -> impl Iterator<Item = (usize, f32)> + '_ {
        let total: f32 = self.class_votes.iter().sum();
        self.class_votes
            .iter()
            .enumerate()
            .filter(move |(_, v)| **v > 0.0 && total > 0.0)
            .map(move |(c, v)| (c, v / total))
    }

    /// Velocity of the box centre, pixels per frame.
    pub fn velocity(&self) -> [f32; 2] {
        [self.axes[0].v, self.axes[1].v]
    }
}

fn centre(b: &BoxF) -> (f32, f32, f32, f32) {
    (
        (b.x0 + b.x1) / 2.0,
        (b.y0 + b.y1) / 2.0,
        b.width(),
        b.height(),
    )
}

/// Frames a track may miss and still be found in a box of another shape: a detection missed
/// now and then in dense traffic, where boxes change shape fast as riders hide one another.
pub const REFIND_GATE_AFTER: u32 = 2;

/// Whether boxes `a` and `b` have the same shape: width and height each within `ratio`.
fn same_shape(a: &BoxF, b: &BoxF, ratio: f32) -> bool {
    let within = |x: f32, y: f32| x.max(1.0).max(y.max(1.0)) <= ratio * x.max(1.0).min(y.max(1.0));
    within(a.width(), b.width()) && within(a.height(), b.height())
}

/// Pairs (track, detection) so that the total IoU is as large as possible (the Hungarian
/// method on 1 − IoU), each at most once, keeping only pairs at `min_iou` or more — and, for a
/// track unseen for longer than [`REFIND_GATE_AFTER`] frames at the camera's rate, of its shape
/// (`refind_shape_ratio`).
fn associate(
    tracks: &[usize],
    all: &[Track],
    dets: &[usize],
    detections: &[Detection],
    min_iou: f32,
    refind_shape_ratio: f32,
) -> Vec<(usize, usize)> {
    if tracks.is_empty() || dets.is_empty() {
        return Vec::new();
    }
    const NO: f64 = 1e6;
    let iou = |t: usize, d: usize| {
        let (track, det) = (&all[t], &detections[d].bbox);
        // Unseen for more than the gate's frames at the camera's rate: missed frames, or a
        // stall of the camera thread over which the road user moved as far.
        let lost = track.since_seen > (REFIND_GATE_AFTER + 1) as f32;
        if lost && !same_shape(&track.bbox, det, refind_shape_ratio) {
            return 0.0;
        }
        track.bbox.iou(det)
    };
    let transpose = tracks.len() > dets.len();
    let (rows, cols) = if transpose {
        (dets.len(), tracks.len())
    } else {
        (tracks.len(), dets.len())
    };
    let cost: Vec<Vec<f64>> = (0..rows)
        .map(|r| {
            (0..cols)
                .map(|c| {
                    let (t, d) = if transpose {
                        (tracks[c], dets[r])
                    } else {
                        (tracks[r], dets[c])
                    };
                    let v = iou(t, d);
                    if v >= min_iou { 1.0 - f64::from(v) } else { NO }
                })
                .collect()
        })
        .collect();
    hungarian(&cost)
        .into_iter()
        .enumerate()
        .filter_map(|(r, c)| {
            let c = c?;
            (cost[r][c] < NO).then(|| {
                if transpose {
                    (tracks[c], dets[r])
                } else {
                    (tracks[r], dets[c])
                }
            })
        })
        .collect()
}

/// The minimum-cost assignment of each row to a distinct column (rows ≤ columns), by the
/// Hungarian method with potentials, O(rows² · columns).
fn hungarian(cost: &[Vec<f64>]) -> Vec<Option<usize>> {
    let n = cost.len();
    let m = cost.first().map_or(0, Vec::len);
    // 1-based arrays as in the classic formulation; column 0 is a sentinel.
    let (mut u, mut v) = (vec![0.0f64; n + 1], vec![0.0f64; m + 1]);
    let (mut p, mut way) = (vec![0usize; m + 1], vec![0usize; m + 1]);
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let (mut delta, mut j1) = (f64::INFINITY, 0);
            for j in 1..=m {
                if !used[j] {
                    let cur = cost[i0 - 1][j - 1] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut rows = vec![None; n];
    for j in 1..=m {
        if p[j] > 0 {
            rows[p[j] - 1] = Some(j - 1);
        }
    }
    rows
}

/// The tracker of one camera.
#[derive(Debug)]
pub struct Tracker {
    opts: TrackerOptions,
    tracks: Vec<Track>,
    next_id: u64,
    /// The camera time of the last frame, for [`Tracker::update_at`].
    last_t: Option<f64>,
}

/// The most frames one prediction spans: a stream that comes back after a long outage finds
/// its old tracks dead by then anyway (`max_lost_frames`).
const MAX_STEP_FRAMES: f64 = 30.0;

impl Tracker {
    pub fn new(opts: TrackerOptions) -> Self {
        Self {
            opts,
            tracks: Vec::new(),
            next_id: 1,
            last_t: None,
        }
    }

    /// Advances to the frame at camera time `t` (seconds) with its detections, the tracks
    /// predicted over the time since the last frame; returns the confirmed tracks seen in it.
    pub fn update_at(&mut self, t: f64, detections: &[Detection]) -> Vec<&Track> {
        let frames = self.last_t.map_or(1.0, |last| {
            ((t - last) / self.opts.frame_s.max(1e-3)).clamp(0.1, MAX_STEP_FRAMES)
        });
        self.last_t = Some(t);
        self.step(frames as f32, detections)
    }

    /// Advances one frame at the camera's rate with its detections; returns the confirmed
    /// tracks seen this frame.
    pub fn update(&mut self, detections: &[Detection]) -> Vec<&Track> {
        self.step(1.0, detections)
    }

    fn step(&mut self, frames: f32, detections: &[Detection]) -> Vec<&Track> {
        let o = self.opts;
        for t in &mut self.tracks {
            t.predict(frames);
        }
        let high: Vec<usize> = (0..detections.len())
            .filter(|&i| detections[i].score >= o.high_score)
            .collect();
        let low: Vec<usize> = (0..detections.len())
            .filter(|&i| (o.low_score..o.high_score).contains(&detections[i].score))
            .collect();
        let established: Vec<usize> = (0..self.tracks.len())
            .filter(|&i| self.tracks[i].state != TrackState::Tentative)
            .collect();
        let tentative: Vec<usize> = (0..self.tracks.len())
            .filter(|&i| self.tracks[i].state == TrackState::Tentative)
            .collect();
        let mut matched_t = Vec::new();

        // First pass: established tracks take the confident detections.
        let first = associate(
            &established,
            &self.tracks,
            &high,
            detections,
            o.match_iou,
            o.refind_shape_ratio,
        );
        let mut high_left: Vec<usize> = high.clone();
        for &(t, d) in &first {
            self.tracks[t].update(&detections[d]);
            self.tracks[t].state = TrackState::Confirmed;
            matched_t.push(t);
            high_left.retain(|&x| x != d);
        }
        // Second pass: those still unmatched take the weak detections (partly hidden objects).
        let waiting: Vec<usize> = established
            .iter()
            .copied()
            .filter(|t| !matched_t.contains(t))
            .collect();
        for (t, d) in associate(
            &waiting,
            &self.tracks,
            &low,
            detections,
            o.low_match_iou,
            o.refind_shape_ratio,
        ) {
            self.tracks[t].update(&detections[d]);
            self.tracks[t].state = TrackState::Confirmed;
            matched_t.push(t);
        }
        // Tracks born last frame are confirmed by a confident detection now, or die.
        for (t, d) in associate(
            &tentative,
            &self.tracks,
            &high_left,
            detections,
            o.unconfirmed_iou,
            o.refind_shape_ratio,
        ) {
            self.tracks[t].update(&detections[d]);
            self.tracks[t].state = TrackState::Confirmed;
            matched_t.push(t);
            high_left.retain(|&x| x != d);
        }
        for (i, t) in self.tracks.iter_mut().enumerate() {
            if !matched_t.contains(&i) {
                t.missed += 1;
                if t.state == TrackState::Confirmed {
                    t.state = TrackState::Lost;
                }
            }
        }
        let max_lost = o.max_lost_frames;
        self.tracks.retain(|t| match t.state {
            TrackState::Tentative => t.missed == 0,
            _ => t.missed <= max_lost,
        });
        // Births.
        for d in high_left {
            if detections[d].score >= o.new_track_score {
                self.tracks.push(Track::new(self.next_id, &detections[d]));
                self.next_id += 1;
            }
        }
        self.tracks
            .iter()
            .filter(|t| t.state == TrackState::Confirmed && t.missed == 0)
            .collect()
    }

    /// Every live track, lost ones included.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }
}

#[cfg(test)]
mod tests;
