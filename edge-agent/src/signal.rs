//! The signal phase a camera's red-light rule sees: observed phases on the camera clock, from
//! the colour of the signal head's lamps in each frame, the controller's MQTT feed, or a
//! fixed-time plan. The red-light rule asks for the phase at a moment and how long it had held.
//!
//! A phase whose start was not seen (the agent started, or the stream came back, in the middle
//! of it) is dated from when it was first seen: its true age is at least that, so a vehicle
//! crossing later than the grace after the first sight of red crossed later than the grace
//! after red began. The event says so ([`PhaseAt::start_seen`]).
//!
//! A signal that shows no change for longer than any signal cycle (`signal_max_cycle_s`) is a
//! fault — a lamp position knocked out of place, a controller feed gone quiet, a plan that no
//! longer matches — reported on `/status`, in the metrics and to central, never a quiet
//! junction.

use image::RgbImage;
use protocol::{camera::SignalHeadSpec, messages::SignalState};
use vision::Picture;

use crate::rules::Signal;

/// Phase changes on the camera clock, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// (time the phase was first seen, phase, whether its start was seen).
    changes: Vec<(f64, SignalState, bool)>,
    last_seen: f64,
    keep_s: f64,
}

impl Timeline {
    pub fn new(keep_s: f64) -> Self {
        Self {
            keep_s,
            ..Self::default()
        }
    }

    /// Records that `state` was showing at `t`; `None` (the head hidden by a passing truck,
    /// a lamp unreadable) tells nothing. A change is placed half way between the last look
    /// at the old phase and the first at the new one; when those looks are more than a
    /// second apart its start is unknown, and so is the phase's age.
    pub fn observe(&mut self, t: f64, state: Option<SignalState>) {
        let Some(state) = state else { return };
        let previous = self.last_seen;
        let gap = t - previous;
        self.last_seen = t;
        match self.changes.last() {
            // The same phase on both sides of a short blind spell held through it: no signal
            // cycles through green and amber and back to red in five seconds.
            Some(&(_, last, _)) if last == state && gap <= 5.0 => {}
            last => {
                let start_seen = gap <= 1.0 && last.is_some();
                let at = if start_seen { (previous + t) / 2.0 } else { t };
                self.changes.push((at, state, start_seen));
            }
        }
        let horizon = t - self.keep_s;
        while self.changes.len() > 2 && self.changes[1].0 < horizon {
            self.changes.remove(0);
        }
    }

    /// Observes the phase a fixed-time plan gives at `t` (UTC seconds at camera time `t`).
    pub fn observe_plan(&mut self, t: f64, unix_s: f64, plan: &FixedPlan) {
        let (state, into) = plan.at(unix_s);
        // A plan knows when each phase began: place the change exactly.
        let start = t - into;
        match self.changes.last() {
            Some(&(_, last, _)) if last == state => {}
            _ => self.changes.push((start, state, true)),
        }
        self.last_seen = t;
    }

    /// A phase change reported by the controller, which knows when it happened.
    pub fn change(&mut self, t: f64, state: SignalState) {
        let at = self
            .changes
            .iter()
            .rposition(|c| c.0 <= t)
            .map_or(0, |i| i + 1);
        self.changes.insert(at, (t, state, true));
        self.last_seen = self.last_seen.max(t);
    }

    /// The feed was live at `t` (the phase last reported still holds).
    pub fn seen(&mut self, t: f64) {
        self.last_seen = self.last_seen.max(t);
    }

    /// The phase at `t`, how long it had held, and whether its start was seen (when it was
    /// not, the age counts from its first sight and is a lower bound).
    pub fn phase_at(&self, t: f64) -> Option<PhaseAt> {
        let i = self.changes.iter().rposition(|c| c.0 <= t)?;
        let (start, state, start_seen) = self.changes[i];
        (state != SignalState::Off && t <= self.last_seen + 5.0).then_some(PhaseAt {
            state,
            since: t - start,
            start_seen,
        })
    }

    /// The phase at `t` and seconds since it began (at least).
    pub fn at(&self, t: f64) -> Option<(SignalState, f64)> {
        self.phase_at(t).map(|p| (p.state, p.since))
    }

    /// The phase last seen.
    pub fn current(&self) -> Option<SignalState> {
        self.changes.last().map(|c| c.1)
    }

    /// When the phase last changed (or was first seen), on the camera clock.
    pub fn last_change(&self) -> Option<f64> {
        self.changes.last().map(|c| c.0)
    }
}

/// The phase at a moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseAt {
    pub state: SignalState,
    /// Seconds it had held: exactly, when its start was seen, else since it was first seen.
    pub since: f64,
    pub start_seen: bool,
}

impl Signal for Timeline {
    fn at(&self, t: f64) -> Option<(SignalState, f64)> {
        Timeline::at(self, t)
    }
}

/// Watches a camera's signal for a fault: no phase change for longer than any cycle of the
/// junction (`max_cycle_s`), or no phase at all for as long.
#[derive(Debug, Clone)]
pub struct SignalWatch {
    max_cycle_s: f64,
    started: Option<f64>,
}

impl SignalWatch {
    pub fn new(max_cycle_s: f64) -> Self {
        Self {
            max_cycle_s,
            started: None,
        }
    }

    /// The fault at camera time `t`, in words, when there is one.
    pub fn fault(&mut self, t: f64, timeline: &Timeline) -> Option<String> {
        let started = *self.started.get_or_insert(t);
        let limit = self.max_cycle_s;
        match (timeline.current(), timeline.last_change()) {
            (Some(state), Some(changed)) if t - changed.max(started) > limit => Some(format!(
                "signal {} for {:.0} s without a change (a cycle is at most {limit:.0} s)",
                format!("{state:?}").to_lowercase(),
                t - changed.max(started)
            )),
            (None, _) if t - started > limit => {
                Some(format!("no signal phase read for {:.0} s", t - started))
            }
            _ => None,
        }
    }
}

/// A fixed-time plan: green, amber, red, repeating from `offset_s` past the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedPlan {
    pub green_s: f64,
    pub amber_s: f64,
    pub red_s: f64,
    pub offset_s: f64,
}

impl FixedPlan {
    /// The phase at `unix_s` and seconds into it.
    pub fn at(&self, unix_s: f64) -> (SignalState, f64) {
        let cycle = self.green_s + self.amber_s + self.red_s;
        let c = (unix_s - self.offset_s).rem_euclid(cycle);
        if c < self.green_s {
            (SignalState::Green, c)
        } else if c < self.green_s + self.amber_s {
            (SignalState::Amber, c - self.green_s)
        } else {
            (SignalState::Red, c - self.green_s - self.amber_s)
        }
    }
}

/// The light of a lamp (or of a box around a signal head): the bright, saturated pixels' hue,
/// as the weighted median (degrees, −60 to 300: magenta-reds are negative), and how their weight
/// splits between warm hues (red to yellow, below 75°) and cool ones (green to cyan, 80–210°).
/// Each pixel weighs its saturation times its brightness; bright means at least half as bright as
/// the brightest pixel there. A lamp's own core is often saturated to white (no hue); its halo
/// carries the colour.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Light {
    pub median_hue: f32,
    pub weight: f32,
    pub warm: f32,
    pub cool: f32,
}

/// The least weight of coloured light that names a colour: about two fully lit, fully saturated
/// pixels.
pub const MIN_LIGHT: f32 = 1.5;

/// The share of the light's weight that must be warm (or cool) for it to name a warm (cool)
/// colour, or to contradict a lamp of the other family.
pub const FAMILY_SHARE: f32 = 0.75;

impl Light {
    /// The colour the light names clearly: green (median hue 100–210°: signal greens are
    /// blue-green, foliage is yellow-green), red (below 8°) or amber (38–75°), each with
    /// [`FAMILY_SHARE`] of the weight in its family. Between red's hues and amber's (8–38°) a
    /// red lamp that looks orange and an amber one look alike: neither is named. Measured on
    /// the signal lamps of the vn-street set (`edge-agent eval-detect`, models/README.md).
    pub fn colour(&self) -> Option<SignalState> {
        let total = self.warm + self.cool;
        if self.weight < MIN_LIGHT || total <= 0.0 {
            return None;
        }
        let h = self.median_hue;
        if (100.0..210.0).contains(&h) && self.cool >= FAMILY_SHARE * total {
            return Some(SignalState::Green);
        }
        if h < 75.0 && self.warm >= FAMILY_SHARE * total {
            if h < 8.0 {
                return Some(SignalState::Red);
            }
            if h >= 38.0 {
                return Some(SignalState::Amber);
            }
        }
        None
    }

    /// Whether the light says clearly that a lamp showing `state` is not what is lit: a green
    /// lamp whose light is warm, a red or amber one whose light is cool. A red lamp that looks
    /// orange does not contradict its place in the head.
    pub fn contradicts(&self, state: SignalState) -> bool {
        let total = self.warm + self.cool;
        if self.weight < MIN_LIGHT || total <= 0.0 {
            return false;
        }
        match state {
            SignalState::Green => self.warm >= FAMILY_SHARE * total,
            SignalState::Red | SignalState::Amber => self.cool >= FAMILY_SHARE * total,
            _ => false,
        }
    }
}

/// The hue (degrees, −60 to 300) and weight of a pixel, when it is coloured and not dark.
fn hue_of(r: f32, g: f32, b: f32) -> Option<(f32, f32)> {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let chroma = max - min;
    if max < 60.0 || chroma <= 0.0 || chroma < 0.25 * max {
        return None;
    }
    let hue = if max == r {
        60.0 * ((g - b) / chroma).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / chroma + 2.0)
    } else {
        60.0 * ((r - g) / chroma + 4.0)
    };
    let hue = if hue >= 300.0 { hue - 360.0 } else { hue };
    Some((hue, (chroma / 255.0) * (max / 255.0)))
}

/// The light of `frame` inside the box `[x0, y0, x1, y1]` (pixels) and, when given, the disc
/// `(centre, radius)`.
pub fn light(frame: &RgbImage, bounds: [f32; 4], disc: Option<([f32; 2], f32)>) -> Light {
    let (w, h) = (i64::from(frame.width()), i64::from(frame.height()));
    let x0 = (bounds[0].floor() as i64).clamp(0, w);
    let y0 = (bounds[1].floor() as i64).clamp(0, h);
    let x1 = (bounds[2].ceil() as i64).clamp(0, w);
    let y1 = (bounds[3].ceil() as i64).clamp(0, h);
    let inside = |x: i64, y: i64| {
        disc.is_none_or(|(c, r)| {
            let (dx, dy) = (x as f32 + 0.5 - c[0], y as f32 + 0.5 - c[1]);
            dx * dx + dy * dy <= r * r
        })
    };
    let pixels = || {
        (y0..y1)
            .flat_map(move |y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| inside(x, y))
            .map(|(x, y)| frame.get_pixel(x as u32, y as u32).0.map(f32::from))
    };
    let peak = pixels()
        .map(|p| p[0].max(p[1]).max(p[2]))
        .fold(0.0f32, f32::max);
    let mut hues: Vec<(f32, f32)> = pixels()
        .filter(|p| p[0].max(p[1]).max(p[2]) >= 0.5 * peak)
        .filter_map(|p| hue_of(p[0], p[1], p[2]))
        .collect();
    let weight: f32 = hues.iter().map(|h| h.1).sum();
    let warm = hues.iter().filter(|h| h.0 < 75.0).map(|h| h.1).sum();
    let cool = hues
        .iter()
        .filter(|h| (80.0..210.0).contains(&h.0))
        .map(|h| h.1)
        .sum();
    hues.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut acc = 0.0;
    let median_hue = hues
        .iter()
        .find(|h| {
            acc += h.1;
            acc >= weight / 2.0
        })
        .map_or(0.0, |h| h.0);
    Light {
        median_hue,
        weight,
        warm,
        cool,
    }
}

/// The lit colour of a signal head or lamp seen in the box `[x0, y0, x1, y1]`, when its light
/// says so clearly; `None` ("unknown") otherwise.
pub fn lit_colour(frame: &RgbImage, bounds: [f32; 4]) -> Option<SignalState> {
    light(frame, bounds, None).colour()
}

/// What a lamp reader has learned of one lamp of its camera: its brightness when dark and when
/// lit (moving averages of the frames judged so), and how often it was seen each way.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Lamp {
    dark: f32,
    lit: f32,
    seen_dark: u32,
    seen_lit: u32,
}

impl Lamp {
    /// Learned once it has been seen dark and lit often enough, and the two differ clearly.
    fn threshold(&self) -> Option<f32> {
        (self.seen_dark >= LEARN_FRAMES
            && self.seen_lit >= LEARN_FRAMES
            && self.lit - self.dark >= MIN_CONTRAST)
            .then(|| (self.lit + self.dark) / 2.0)
    }

    fn learn(&mut self, level: f32, lit: bool) {
        let (mean, n) = if lit {
            (&mut self.lit, &mut self.seen_lit)
        } else {
            (&mut self.dark, &mut self.seen_dark)
        };
        // The first frames set the level; then it follows slowly (dusk, a cloud, the
        // camera's own exposure).
        let k = if *n < LEARN_FRAMES {
            1.0 / (*n as f32 + 1.0)
        } else {
            0.02
        };
        *mean += (level - *mean) * k;
        *n = n.saturating_add(1);
    }
}

/// Frames a lamp must be seen dark and lit before its own threshold is used.
const LEARN_FRAMES: u32 = 5;

/// The least difference in brightness (0–255) between a lit lamp and the darkest of the
/// others, or between a lamp's learned lit and dark levels.
const MIN_CONTRAST: f32 = 20.0;

/// Reads which lamp of a signal head is lit, frame after frame, with thresholds learned from
/// this camera's own frames rather than constants: at first a lamp is lit when it is clearly
/// the brightest of the three (its brightness at least 1.3 times the next and 20 levels above
/// the darkest); each lamp's dark and lit brightness are learned from the frames so judged,
/// and once each lamp has been seen both ways, a lamp is lit when it is brighter than half-way
/// between its own two levels — and it must be the only one. Either way the light's colour
/// around the lamp must not say otherwise: a red lamp whose light is green (a reflection, a
/// lamp position set wrong) is "unknown", never red. Unknown is `None`.
#[derive(Debug, Clone, Default)]
pub struct LampReader {
    lamps: [Lamp; 3],
    /// Frames whose lit lamp's colour disagreed with its position.
    pub colour_disagreements: u64,
}

const HEAD_ORDER: [SignalState; 3] = [SignalState::Red, SignalState::Amber, SignalState::Green];

impl LampReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// [`Self::read`] on a decoded frame: only the part of the frame around the head is made
    /// RGB, the same pixels `read` looks at.
    pub fn read_picture(&mut self, frame: &Picture, head: &SignalHeadSpec) -> Option<SignalState> {
        let centres = [head.red, head.amber, head.green];
        // `read` looks within 1.4 radii of a lamp's centre; a pixel more for rounding.
        let reach = head.radius_px.max(1.0) * 1.4 + 2.0;
        let bounds = |axis: usize| {
            let lo = centres.iter().map(|c| c[axis]).fold(f32::MAX, f32::min) - reach;
            let hi = centres.iter().map(|c| c[axis]).fold(f32::MIN, f32::max) + reach;
            (lo.floor().max(0.0) as u32, hi.ceil().max(0.0) as u32)
        };
        let ((x0, x1), (y0, y1)) = (bounds(0), bounds(1));
        let part = frame.crop_rgb(x0, y0, x1.saturating_sub(x0), y1.saturating_sub(y0));
        let shift = |c: protocol::geometry::Point| [c[0] - x0 as f32, c[1] - y0 as f32];
        let local = SignalHeadSpec {
            red: shift(head.red),
            amber: shift(head.amber),
            green: shift(head.green),
            radius_px: head.radius_px,
        };
        self.read(&part, &local)
    }

    /// The lit lamp of `head` in `frame`, learning from it.
    pub fn read(&mut self, frame: &RgbImage, head: &SignalHeadSpec) -> Option<SignalState> {
        let centres = [head.red, head.amber, head.green];
        let r = (head.radius_px * 0.7).max(1.0);
        let mut levels = [0.0f32; 3];
        for (level, c) in levels.iter_mut().zip(centres) {
            *level = disc_level(frame, c, r)?;
        }
        let learned: Option<Vec<f32>> = self.lamps.iter().map(Lamp::threshold).collect();
        let lit = match learned {
            Some(thresholds) => {
                let on: Vec<usize> = (0..3).filter(|&i| levels[i] > thresholds[i]).collect();
                match on.as_slice() {
                    [one] => Some(*one),
                    _ => None,
                }
            }
            None => by_contrast(&levels),
        }?;
        let state = HEAD_ORDER[lit];
        // The colour of the light around the lit lamp must not contradict it.
        let c = centres[lit];
        let rr = head.radius_px * 1.4;
        let around = light(
            frame,
            [c[0] - rr, c[1] - rr, c[0] + rr, c[1] + rr],
            Some((c, rr)),
        );
        if around.contradicts(state) {
            self.colour_disagreements += 1;
            return None;
        }
        for (i, lamp) in self.lamps.iter_mut().enumerate() {
            lamp.learn(levels[i], i == lit);
        }
        Some(state)
    }
}

/// The lamp clearly brighter than the others, by their brightness alone.
fn by_contrast(levels: &[f32; 3]) -> Option<usize> {
    let (best, lit) = levels
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let second = (0..3)
        .filter(|&i| i != best)
        .map(|i| levels[i])
        .fold(0.0f32, f32::max);
    let darkest = levels.iter().copied().fold(f32::MAX, f32::min);
    (lit >= second * 1.3 && lit - darkest >= MIN_CONTRAST).then_some(best)
}

/// The mean brightness (the largest of R, G, B) over a disc; `None` when it lies outside the
/// frame.
fn disc_level(frame: &RgbImage, c: [f32; 2], r: f32) -> Option<f32> {
    let (x0, y0) = ((c[0] - r).floor() as i64, (c[1] - r).floor() as i64);
    let (x1, y1) = ((c[0] + r).ceil() as i64, (c[1] + r).ceil() as i64);
    let (mut sum, mut n) = (0.0f32, 0u32);
    for y in y0.max(0)..=y1.min(i64::from(frame.height()) - 1) {
        for x in x0.max(0)..=x1.min(i64::from(frame.width()) - 1) {
            let (dx, dy) = (x as f32 + 0.5 - c[0], y as f32 + 0.5 - c[1]);
            if dx * dx + dy * dy <= r * r {
                let p = frame.get_pixel(x as u32, y as u32).0;
                sum += f32::from(p[0].max(p[1]).max(p[2]));
                n += 1;
            }
        }
    }
    (n > 0).then(|| sum / n as f32)
}

#[cfg(test)]
mod tests;
