//! The signal phase a camera's red-light rule sees: observed phases on the camera clock, from
//! the colour of the signal head's lamps in each frame, the controller's MQTT feed, or a
//! fixed-time plan. The red-light rule asks for the phase at a moment and how long it had held.
//!
//! A phase whose start was not seen (the agent started, or the stream came back, in the middle
//! of it) has no known age: the rule cannot prove time into red then, and flags nothing.

use image::RgbImage;
use protocol::{camera::SignalHeadSpec, messages::SignalState};

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

    /// The phase at `t` and seconds since it began, when its start was seen.
    pub fn at(&self, t: f64) -> Option<(SignalState, f64)> {
        let i = self.changes.iter().rposition(|c| c.0 <= t)?;
        let (start, state, seen) = self.changes[i];
        (seen && state != SignalState::Off && t <= self.last_seen + 5.0)
            .then_some((state, t - start))
    }

    /// The phase last seen.
    pub fn current(&self) -> Option<SignalState> {
        self.changes.last().map(|c| c.1)
    }
}

impl Signal for Timeline {
    fn at(&self, t: f64) -> Option<(SignalState, f64)> {
        Timeline::at(self, t)
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

/// Which lamp of the head is lit: the brightest by far, when one is.
pub fn classify_lamps(frame: &RgbImage, head: &SignalHeadSpec) -> Option<SignalState> {
    let r = (head.radius_px * 0.7).max(1.0);
    let level = |c: [f32; 2]| -> Option<f32> {
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
    };
    let levels = [
        (SignalState::Red, level(head.red)?),
        (SignalState::Amber, level(head.amber)?),
        (SignalState::Green, level(head.green)?),
    ];
    let (best, lit) = levels.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1))?;
    let second = levels
        .iter()
        .filter(|l| l.0 != best)
        .map(|l| l.1)
        .fold(0.0f32, f32::max);
    (lit > 110.0 && lit > second * 1.6).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_into_red_is_known_only_when_red_was_seen_to_begin() {
        let mut tl = Timeline::new(60.0);
        let mut look = |from: f64, to: f64, s: SignalState| {
            let mut t = from;
            while t < to {
                tl.observe(t, Some(s));
                t += 0.5;
            }
        };
        // Started in the middle of red: its age is unknown.
        look(0.0, 2.0, SignalState::Red);
        look(2.0, 5.0, SignalState::Green);
        look(5.0, 8.0, SignalState::Amber);
        look(8.0, 10.0, SignalState::Red);
        assert_eq!(tl.at(0.5), None);
        // Changes are placed half way between the last look at one phase and the first at
        // the next.
        assert_eq!(tl.at(3.0), Some((SignalState::Green, 1.25)));
        assert_eq!(tl.at(8.75), Some((SignalState::Red, 1.0)));
        // The head hidden for a moment: the phase goes on.
        tl.observe(10.0, None);
        tl.observe(10.5, Some(SignalState::Red));
        assert_eq!(tl.at(10.5), Some((SignalState::Red, 2.75)));
        // A long gap in what was seen: the red after it has no known start.
        tl.observe(20.0, Some(SignalState::Red));
        tl.observe(20.5, Some(SignalState::Red));
        assert_eq!(tl.at(20.2), None);
    }

    #[test]
    fn the_plan_gives_phases_and_their_age() {
        let plan = FixedPlan {
            green_s: 20.0,
            amber_s: 3.0,
            red_s: 17.0,
            offset_s: 5.0,
        };
        assert_eq!(plan.at(5.0), (SignalState::Green, 0.0));
        assert_eq!(plan.at(30.0), (SignalState::Red, 2.0));
        let mut tl = Timeline::new(60.0);
        tl.observe_plan(100.0, 30.0, &plan);
        assert_eq!(tl.at(100.5), Some((SignalState::Red, 2.5)));
    }

    #[test]
    fn the_lit_lamp_is_found_and_a_dark_head_gives_nothing() {
        let head = SignalHeadSpec {
            red: [10.0, 10.0],
            amber: [10.0, 30.0],
            green: [10.0, 50.0],
            radius_px: 5.0,
        };
        let mut img = RgbImage::from_pixel(20, 60, image::Rgb([45, 45, 45]));
        assert_eq!(classify_lamps(&img, &head), None);
        for y in 25..35 {
            for x in 5..15 {
                img.put_pixel(x, y, image::Rgb([255, 185, 20]));
            }
        }
        assert_eq!(classify_lamps(&img, &head), Some(SignalState::Amber));
    }
}
