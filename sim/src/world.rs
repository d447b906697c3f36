//! The traffic simulation behind a scenario: paths, road users following the Intelligent
//! Driver Model, the signal, and the violations that truly happened.
//!
//! The simulation starts before t = 0 so the road is already busy on the first frame, and it
//! steps at the frame rate, so positions at each frame time are exact.
//!
//! One file because one step moves everything together: each road user's car-following and
//! lane choice, the signal, and the ground truth of each violation as it happens read and
//! write the same state in the same order.

use protocol::ViolationKind;
use serde::{Deserialize, Serialize};

use crate::{
    camera::{Camera, CameraSpec},
    geom::Vec3,
    plate::{PlateSpec, random_plate},
    rng::Rng,
    scenario::{ActorSpec, Behaviour, Direction, Phase, ScenarioSpec},
    vehicle::{self, ObjectClass, Shape},
};

/// Seconds simulated before the first frame.
const WARMUP_S: f32 = 25.0;
/// Random traffic keeps this far below each class's limit (km/h), so only scripted speeders
/// speed.
const LIMIT_MARGIN_KMH: f32 = 8.0;
/// Measured speed above the limit that counts as speeding (the first band of the fine
/// schedule starts at 5 km/h over).
pub const SPEEDING_TOLERANCE_KMH: f32 = 5.0;

/// Which signal a path obeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignalRole {
    None,
    Main,
    Cross,
}

/// A line a road user follows: from `origin` along `dir` for `length` metres.
#[derive(Debug, Clone)]
struct Path {
    origin: [f32; 2],
    dir: [f32; 2],
    length: f32,
    /// Path coordinate of the stop line, for the front of a vehicle.
    stop_s: Option<f32>,
    signal: SignalRole,
    /// The main-road lane, and whether the path runs against its direction.
    lane: Option<usize>,
    against: bool,
}

impl Path {
    fn point(&self, s: f32, lateral: f32) -> [f32; 2] {
        // Lateral offset is to the right of the direction of travel.
        let right = [self.dir[1], -self.dir[0]];
        [
            self.origin[0] + self.dir[0] * s + right[0] * lateral,
            self.origin[1] + self.dir[1] * s + right[1] * lateral,
        ]
    }
}

/// One road user for its whole life.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: u32,
    pub class: ObjectClass,
    pub shape: Shape,
    pub plate: Option<PlateSpec>,
    pub helmets: Vec<bool>,
    pub scripted: bool,
    /// Seed of the actor's own look (plate wear, colours).
    pub look_seed: u64,
    path: usize,
    lateral: f32,
    behaviour: Behaviour,
    desired_mps: f32,
    stop_at_s: Option<f32>,
    dwell_s: f32,
    spawn_t: f32,
    spawn_s: f32,
}

/// Where an actor is at one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed {
    /// Index into [`World::actors`].
    pub actor: usize,
    /// Centre of the footprint on the road.
    pub pos: Vec3,
    /// Unit direction of travel on the road.
    pub heading: [f32; 2],
    pub speed_mps: f32,
    pub lane: Option<usize>,
}

/// The state of the world at one frame.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub t: f32,
    pub phase: Option<(Phase, f32)>,
    pub placed: Vec<Placed>,
}

/// A violation that truly happened, from the simulation (not from any detector).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrueViolation {
    pub kind: ViolationKind,
    pub track_id: u32,
    pub class: ObjectClass,
    pub plate: Option<String>,
    pub plate_canonical: Option<String>,
    /// The frame at which it happened and its time.
    pub frame: usize,
    pub t_s: f32,
    /// Speed measured over the trap (km/h), seconds into red, seconds stopped; by kind.
    pub value: Option<f32>,
    /// The limit the value broke (km/h, seconds), where there is one.
    pub limit: Option<f32>,
    pub lane: Option<usize>,
}

/// A simulated scenario.
#[derive(Debug, Clone)]
pub struct World {
    pub spec: ScenarioSpec,
    pub seed: u64,
    pub camera: Camera,
    pub actors: Vec<Actor>,
    pub frames: Vec<Snapshot>,
    pub violations: Vec<TrueViolation>,
}

impl Actor {
    /// A road user of the random traffic: complies, enters just before its path begins.
    #[allow(clippy::too_many_arguments)]
    fn flow(
        id: u32,
        class: ObjectClass,
        shape: Shape,
        plate: Option<PlateSpec>,
        helmets: Vec<bool>,
        look_seed: u64,
        path: usize,
        lateral: f32,
        desired_mps: f32,
        spawn_t: f32,
    ) -> Self {
        let spawn_s = if class == ObjectClass::Person {
            0.0
        } else {
            -shape.length / 2.0 - 1.0
        };
        Self {
            id,
            class,
            spawn_s,
            shape,
            plate,
            helmets,
            scripted: false,
            look_seed,
            path,
            lateral,
            behaviour: Behaviour::Comply,
            desired_mps,
            stop_at_s: None,
            dwell_s: 0.0,
            spawn_t,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct State {
    s: f32,
    v: f32,
    go_on_amber: Option<bool>,
    stopped_for: f32,
    stop_done: bool,
    zone_dwell: f32,
    reported: [bool; 6],
    trap_enter: Option<f32>,
    wrong_way_from: Option<f32>,
}

#[derive(Debug, Clone)]
struct Pending {
    actor: Actor,
}

impl World {
    /// Runs the scenario with `seed`; the same inputs give the same world.
    pub fn simulate(spec: &ScenarioSpec, seed: u64) -> Self {
        let camera = Camera::new(spec.camera);
        let road = &spec.road;
        let near_y = camera.near_ground_y();
        let start_y = (near_y - 8.0).max(1.0);
        let span = road.far_m - start_y;
        let mut paths = Vec::new();
        for (i, lane) in road.lanes.iter().enumerate() {
            let x = road.lane_centre_x(i);
            for against in [false, true] {
                let away = (lane.direction == Direction::Away) != against;
                let (origin, dir) = if away {
                    ([x, start_y], [0.0, 1.0])
                } else {
                    ([x, road.far_m], [0.0, -1.0])
                };
                let signal = if away && !against && road.stop_line_m.is_some() {
                    SignalRole::Main
                } else {
                    SignalRole::None
                };
                paths.push(Path {
                    origin,
                    dir,
                    length: span,
                    stop_s: road
                        .stop_line_m
                        .filter(|_| signal == SignalRole::Main)
                        .map(|y| y - start_y),
                    signal,
                    lane: Some(i),
                    against,
                });
            }
        }
        let main_paths = paths.len();
        if let Some((y0, y1)) = road.junction_span() {
            let lanes = ((y1 - y0) / 3.5).floor() as usize;
            let half = road.width_m() / 2.0 + 2.0;
            for k in 0..lanes {
                let y = y0 + 3.5 * (k as f32 + 0.5);
                let east = k >= lanes / 2;
                let (origin, dir) = if east {
                    ([-90.0, y], [1.0, 0.0])
                } else {
                    ([90.0, y], [-1.0, 0.0])
                };
                paths.push(Path {
                    origin,
                    dir,
                    length: 180.0,
                    stop_s: Some(90.0 - half),
                    signal: SignalRole::Cross,
                    lane: None,
                    against: false,
                });
            }
        }
        let cross_paths = paths.len();
        let pavement_x = road.width_m() / 2.0 + 1.6;
        for (x, dir) in [
            (-pavement_x, 1.0),
            (pavement_x, -1.0),
            (pavement_x + 1.0, 1.0),
        ] {
            let origin = if dir > 0.0 {
                [x, start_y]
            } else {
                [x, road.far_m.min(90.0)]
            };
            paths.push(Path {
                origin,
                dir: [0.0, dir],
                length: road.far_m.min(90.0) - start_y,
                stop_s: None,
                signal: SignalRole::None,
                lane: None,
                against: false,
            });
        }

        let mut next_id = 1u32;
        let mut pending: Vec<Pending> = Vec::new();
        let dt = 1.0 / spec.fps as f32;

        // Scripted actors first: their ids are stable whatever the flow does.
        let mut reserved: Vec<(usize, f32, f32)> = Vec::new();
        for (i, a) in spec.actors.iter().enumerate() {
            let lane_dir = road.lanes[a.lane].direction;
            let against = a.behaviour == Behaviour::WrongWay;
            let path = 2 * a.lane + usize::from(against);
            let mut rng = Rng::stream(seed, 1_000_000 + i as u64);
            let actor = scripted_actor(a, next_id, path, &mut rng, seed);
            next_id += 1;
            let v = a.speed_kmh / 3.6;
            let spawn_s = -actor.shape.length / 2.0 - 1.0;
            let (spawn_t, spawn_s) = match a.behaviour {
                Behaviour::RunRed => {
                    let stop = paths[path].stop_s.unwrap_or(0.0);
                    let cross_s = stop - actor.shape.length / 2.0;
                    let t0 = a.at_s - (cross_s - spawn_s) / v;
                    if t0 < -WARMUP_S {
                        (-WARMUP_S, cross_s - v * (a.at_s + WARMUP_S))
                    } else {
                        (t0, spawn_s)
                    }
                }
                _ => (a.at_s, spawn_s),
            };
            let window = match (a.behaviour, spec.signal) {
                // Nobody may be queued at the line in the runner's lane when it arrives: keep
                // the lane free of arrivals since the green before it, so the queue of the red
                // before has left.
                (Behaviour::RunRed, Some(plan)) => {
                    let red_since = plan.phase_at(a.at_s).1;
                    (
                        a.at_s - red_since - plan.amber_s - plan.green_s - 3.0,
                        a.at_s + 2.0,
                    )
                }
                (Behaviour::WrongWay, _) => (spawn_t - 25.0, spawn_t + 25.0),
                // A speeder must not catch up with anyone in view: the lane is kept clear of
                // those who entered while the slowest could still be on the road.
                _ if a.speed_kmh > road.limit_kmh(a.class) => {
                    let slowest = (spec.flow.speed_kmh[0] / 3.6).max(2.0);
                    (spawn_t - paths[path].length / slowest - 2.0, spawn_t + 3.0)
                }
                _ => (spawn_t - 10.0, spawn_t + 3.0),
            };
            reserved.push((a.lane, window.0, window.1));
            let _ = lane_dir;
            pending.push(Pending {
                actor: Actor {
                    spawn_t,
                    spawn_s,
                    ..actor
                },
            });
        }

        // Random traffic: Poisson arrivals per lane and class, and pedestrians.
        let mut flow_rng = Rng::stream(seed, 1);
        for (i, lane) in road.lanes.iter().enumerate() {
            for (&class, &rate) in &spec.flow.per_minute {
                if rate <= 0.0 || !lane.allows(class) || class == ObjectClass::Person {
                    continue;
                }
                let mut t = -WARMUP_S;
                loop {
                    t = next_arrival(&mut flow_rng, t, rate);
                    if t >= spec.duration_s {
                        break;
                    }
                    if reserved.iter().any(|&(l, a, b)| l == i && t >= a && t <= b) {
                        continue;
                    }
                    let limit = road.limit_kmh(class) - LIMIT_MARGIN_KMH;
                    let [lo, hi] = spec.flow.speed_kmh;
                    let kmh = flow_rng.range(lo.min(limit), hi.min(limit)).max(5.0);
                    let mut rng = Rng::stream(seed, 2_000_000 + u64::from(next_id));
                    let passenger =
                        class == ObjectClass::Motorbike && rng.chance(spec.flow.passenger_rate);
                    let riders = if passenger { 2 } else { 1 };
                    let helmets = if class == ObjectClass::Motorbike {
                        (0..riders)
                            .map(|_| !rng.chance(spec.flow.no_helmet_rate))
                            .collect()
                    } else {
                        Vec::new()
                    };
                    let plate = Some(random_plate(&mut rng, class));
                    let shape = vehicle::build(class, &mut rng, plate.as_ref(), &helmets);
                    let lateral = if class == ObjectClass::Motorbike {
                        rng.range(-1.0, 1.0)
                    } else {
                        rng.range(-0.2, 0.2)
                    };
                    let look_seed = rng.next_u64();
                    pending.push(Pending {
                        actor: Actor::flow(
                            next_id,
                            class,
                            shape,
                            plate,
                            helmets,
                            look_seed,
                            2 * i,
                            lateral,
                            kmh / 3.6,
                            t,
                        ),
                    });
                    next_id += 1;
                }
            }
        }
        for p in main_paths..cross_paths {
            for (&class, &rate) in &spec.flow.per_minute {
                if rate <= 0.0 || class == ObjectClass::Person {
                    continue;
                }
                let mut t = -WARMUP_S;
                loop {
                    t = next_arrival(&mut flow_rng, t, rate * 0.6);
                    if t >= spec.duration_s {
                        break;
                    }
                    let mut rng = Rng::stream(seed, 2_000_000 + u64::from(next_id));
                    let helmets = if class == ObjectClass::Motorbike {
                        vec![true]
                    } else {
                        Vec::new()
                    };
                    let plate = Some(random_plate(&mut rng, class));
                    let shape = vehicle::build(class, &mut rng, plate.as_ref(), &helmets);
                    let look_seed = rng.next_u64();
                    let lateral = if class == ObjectClass::Motorbike {
                        rng.range(-1.0, 1.0)
                    } else {
                        0.0
                    };
                    let desired_mps = flow_rng.range(25.0, 40.0) / 3.6;
                    pending.push(Pending {
                        actor: Actor::flow(
                            next_id,
                            class,
                            shape,
                            plate,
                            helmets,
                            look_seed,
                            p,
                            lateral,
                            desired_mps,
                            t,
                        ),
                    });
                    next_id += 1;
                }
            }
        }
        if spec.flow.pedestrians_per_minute > 0.0 {
            for p in cross_paths..paths.len() {
                let mut t = -WARMUP_S * 3.0;
                loop {
                    t = next_arrival(&mut flow_rng, t, spec.flow.pedestrians_per_minute / 3.0);
                    if t >= spec.duration_s {
                        break;
                    }
                    let mut rng = Rng::stream(seed, 2_000_000 + u64::from(next_id));
                    let shape = vehicle::build(ObjectClass::Person, &mut rng, None, &[]);
                    let look_seed = rng.next_u64();
                    let lateral = rng.range(-0.4, 0.4);
                    let desired_mps = rng.range(1.0, 1.7);
                    pending.push(Pending {
                        actor: Actor::flow(
                            next_id,
                            ObjectClass::Person,
                            shape,
                            None,
                            Vec::new(),
                            look_seed,
                            p,
                            lateral,
                            desired_mps,
                            t,
                        ),
                    });
                    next_id += 1;
                }
            }
        }
        pending.sort_by(|a, b| {
            a.actor
                .spawn_t
                .total_cmp(&b.actor.spawn_t)
                .then(a.actor.id.cmp(&b.actor.id))
        });

        // Step.
        let mut actors: Vec<Actor> = Vec::new();
        let mut states: Vec<Option<State>> = Vec::new();
        let mut frames = Vec::with_capacity(spec.frame_count());
        let mut violations = Vec::new();
        let warm_steps = (WARMUP_S * spec.fps as f32).round() as i64;
        let total = spec.frame_count() as i64;
        let mut next_pending = 0;
        let mut waiting: Vec<Pending> = Vec::new();
        let trap = road.speed_zone_m;
        for step in -warm_steps..total {
            let t = step as f32 * dt;
            // Arrivals: into the path when its entry is clear, otherwise they wait.
            while next_pending < pending.len() && pending[next_pending].actor.spawn_t <= t {
                waiting.push(pending[next_pending].clone());
                next_pending += 1;
            }
            let mut still = Vec::new();
            for p in waiting.drain(..) {
                let a = &p.actor;
                let lane = paths[a.path].lane;
                if !a.scripted
                    && reserved
                        .iter()
                        .any(|&(l, from, to)| Some(l) == lane && t >= from && t <= to)
                {
                    continue;
                }
                let clear = actors.iter().zip(&states).all(|(b, st)| {
                    let Some(st) = st else { return true };
                    b.path != a.path
                        || !overlaps_laterally(a, b)
                        || st.s - b.shape.length / 2.0 > a.spawn_s + a.shape.length / 2.0 + 1.5
                        || a.class == ObjectClass::Person
                });
                if clear || a.scripted {
                    let mut actor = p.actor.clone();
                    // Arrive at the speed of a close leader; scripted road users at their own.
                    let lead_v = leader(&actors, &states, &actor, actor.spawn_s)
                        .filter(|(gap, _)| *gap < 40.0 && !actor.scripted)
                        .map(|(_, v)| v);
                    let v = lead_v.map_or(actor.desired_mps, |lv| lv.min(actor.desired_mps));
                    if actor.behaviour == Behaviour::Stop {
                        actor.stop_at_s = actor.stop_at_s.map(|y| along(&paths[actor.path], y));
                    }
                    states.push(Some(State {
                        s: actor.spawn_s,
                        v,
                        go_on_amber: None,
                        stopped_for: 0.0,
                        stop_done: false,
                        zone_dwell: 0.0,
                        reported: [false; 6],
                        trap_enter: None,
                        wrong_way_from: None,
                    }));
                    actors.push(actor);
                } else if t - p.actor.spawn_t < 20.0 {
                    still.push(p);
                }
            }
            waiting = still;

            // Amber decisions, once per amber: go when the stop line is reached before red.
            let phase_main = spec.signal.map(|plan| plan.phase_at(t));
            for (i, actor) in actors.iter().enumerate() {
                let Some(st) = states[i].as_mut() else {
                    continue;
                };
                let path = &paths[actor.path];
                let (Some(stop_s), Some(plan)) = (path.stop_s, spec.signal.as_ref()) else {
                    continue;
                };
                let (phase, remaining) = signal_for(path.signal, plan, t);
                let front = st.s + actor.shape.length / 2.0;
                match phase {
                    Phase::Green => st.go_on_amber = None,
                    Phase::Amber if st.go_on_amber.is_none() && front < stop_s => {
                        st.go_on_amber =
                            Some(st.v > 1.0 && (stop_s - front) / st.v < remaining - 0.4);
                    }
                    _ => {}
                }
            }

            // Accelerations from the state at the start of the step.
            let mut accel = vec![0.0f32; actors.len()];
            for (i, actor) in actors.iter().enumerate() {
                let Some(st) = states[i] else { continue };
                if actor.class == ObjectClass::Person {
                    continue;
                }
                let path = &paths[actor.path];
                let front = st.s + actor.shape.length / 2.0;
                let mut ahead = leader(&actors, &states, actor, st.s);
                let mut obstacle = |gap: f32| {
                    if ahead.is_none_or(|(g, _)| gap < g) {
                        ahead = Some((gap, 0.0));
                    }
                };
                if let (Some(stop_s), Some(plan)) = (path.stop_s, spec.signal.as_ref())
                    && actor.behaviour != Behaviour::RunRed
                    && front < stop_s + 0.05
                {
                    let must_stop = match signal_for(path.signal, plan, t).0 {
                        Phase::Green => false,
                        Phase::Amber => st.go_on_amber != Some(true),
                        Phase::Red => true,
                    };
                    if must_stop {
                        obstacle(stop_s - 0.3 - front);
                    }
                }
                if actor.behaviour == Behaviour::Stop
                    && !st.stop_done
                    && let Some(stop_at) = actor.stop_at_s
                {
                    obstacle(stop_at - front + 0.5);
                }
                accel[i] = idm(actor, st.v, ahead);
            }

            // Move, record violations, retire those past the end of their path.
            for (i, actor) in actors.iter().enumerate() {
                let Some(mut st) = states[i] else { continue };
                let path = &paths[actor.path];
                let prev_front = st.s + actor.shape.length / 2.0;
                let prev_s = st.s;
                if actor.class == ObjectClass::Person {
                    st.s += actor.desired_mps * dt;
                    st.v = actor.desired_mps;
                } else {
                    st.v = (st.v + accel[i] * dt).max(0.0);
                    st.s += st.v * dt;
                }
                if actor.behaviour == Behaviour::Stop
                    && !st.stop_done
                    && st.v < 0.2
                    && actor
                        .stop_at_s
                        .is_some_and(|y| (y - (st.s + actor.shape.length / 2.0)).abs() < 3.0)
                {
                    st.stopped_for += dt;
                    if st.stopped_for >= actor.dwell_s {
                        st.stop_done = true;
                    }
                }
                let front = st.s + actor.shape.length / 2.0;
                let pos = path.point(st.s, actor.lateral);
                let in_time = step >= 0;
                let frame = step.max(0) as usize;
                let mut report = |st: &mut State,
                                  kind: ViolationKind,
                                  value: Option<f32>,
                                  limit: Option<f32>| {
                    let k = ViolationKind::ALL
                        .iter()
                        .position(|x| *x == kind)
                        .unwrap_or(0);
                    if in_time && !st.reported[k] {
                        violations.push(TrueViolation {
                            kind,
                            track_id: actor.id,
                            class: actor.class,
                            plate: actor.plate.as_ref().map(|p| p.text.clone()),
                            plate_canonical: actor.plate.as_ref().map(|p| p.canonical.clone()),
                            frame,
                            t_s: t,
                            value,
                            limit,
                            lane: path.lane,
                        });
                    }
                    st.reported[k] = true;
                };
                if let (SignalRole::Main, Some(stop_s), Some(plan)) =
                    (path.signal, path.stop_s, spec.signal)
                    && prev_front < stop_s
                    && front >= stop_s
                {
                    let (phase, into) = plan.phase_at(t);
                    if phase == Phase::Red {
                        report(&mut st, ViolationKind::RedLight, Some(into), None);
                    }
                }
                if let (Some([y1, y2]), Some(lane)) = (trap, path.lane) {
                    let (a, b) = if path.dir[1] > 0.0 {
                        (y1, y2)
                    } else {
                        (y2, y1)
                    };
                    let y_prev = path.point(prev_s, 0.0)[1];
                    let crossed =
                        |line: f32| (y_prev - line) * (pos[1] - line) <= 0.0 && y_prev != pos[1];
                    if crossed(a) {
                        st.trap_enter = Some(t);
                    }
                    if crossed(b)
                        && let Some(t0) = st.trap_enter.filter(|t0| *t0 < t)
                    {
                        let kmh = (y2 - y1).abs() / (t - t0) * 3.6;
                        let limit = road.limit_kmh(actor.class);
                        if kmh > limit + SPEEDING_TOLERANCE_KMH {
                            report(&mut st, ViolationKind::Speeding, Some(kmh), Some(limit));
                        }
                    }
                    let _ = lane;
                }
                let visible_y = near_y + 3.0..near_y + 45.0;
                if path.against && visible_y.contains(&pos[1]) {
                    let from = *st.wrong_way_from.get_or_insert(pos[1]);
                    if (from - pos[1]).abs() >= 10.0 {
                        report(&mut st, ViolationKind::WrongWay, None, None);
                    }
                }
                if let Some(lane) = path.lane {
                    if !road.lanes[lane].allows(actor.class) && visible_y.contains(&pos[1]) {
                        report(&mut st, ViolationKind::WrongLane, None, None);
                    }
                    let in_zone = road
                        .no_stopping
                        .iter()
                        .find(|z| z.lane == lane && (z.from_m..=z.to_m).contains(&pos[1]));
                    // Held in a queue is not stopping: only a stop with the road ahead clear.
                    let chose_to_stop = st.v < 0.3
                        && leader(&actors, &states, actor, st.s).is_none_or(|(gap, _)| gap > 6.0);
                    if let Some(zone) = in_zone.filter(|_| chose_to_stop) {
                        st.zone_dwell += dt;
                        if st.zone_dwell > zone.max_dwell_s {
                            let dwell = st.zone_dwell;
                            report(
                                &mut st,
                                ViolationKind::IllegalStopping,
                                Some(dwell),
                                Some(zone.max_dwell_s),
                            );
                        }
                    } else {
                        st.zone_dwell = 0.0;
                    }
                }
                if actor.helmets.iter().any(|h| !h)
                    && (near_y + 3.0..near_y + 30.0).contains(&pos[1])
                {
                    report(&mut st, ViolationKind::NoHelmet, None, None);
                }
                states[i] = if st.s - actor.shape.length / 2.0 > path.length {
                    None
                } else {
                    Some(st)
                };
            }

            if step >= 0 {
                let placed = actors
                    .iter()
                    .enumerate()
                    .filter_map(|(i, a)| {
                        let st = states[i]?;
                        let path = &paths[a.path];
                        let p = path.point(st.s, a.lateral);
                        Some(Placed {
                            actor: i,
                            pos: Vec3::new(p[0], p[1], 0.0),
                            heading: path.dir,
                            speed_mps: st.v,
                            lane: path.lane,
                        })
                    })
                    .collect();
                frames.push(Snapshot {
                    t,
                    phase: phase_main,
                    placed,
                });
            }
        }
        violations.sort_by(|a, b| a.frame.cmp(&b.frame).then(a.track_id.cmp(&b.track_id)));
        Self {
            spec: spec.clone(),
            seed,
            camera,
            actors,
            frames,
            violations,
        }
    }

    /// The same traffic seen through another camera: only the projection changes, so two
    /// cameras of one scenario see each road user at the same moments and places.
    pub fn seen_through(&self, camera: CameraSpec) -> World {
        World {
            camera: Camera::new(camera),
            ..self.clone()
        }
    }

    /// The scenario's plate camera's view of this world, when the scenario has one.
    pub fn plate_view(&self) -> Option<World> {
        self.spec.plate_camera.map(|c| self.seen_through(c))
    }
}

/// The time of the next Poisson arrival after `t` at `per_minute`.
fn next_arrival(rng: &mut Rng, t: f32, per_minute: f32) -> f32 {
    t - (1.0 - rng.f32()).ln() * 60.0 / per_minute
}

/// The phase a path's signal shows at `t` and the seconds it has left.
fn signal_for(role: SignalRole, plan: &crate::scenario::SignalPlan, t: f32) -> (Phase, f32) {
    match role {
        SignalRole::Cross => cross_phase(plan, t),
        _ => (plan.phase_at(t).0, plan.remaining_at(t)),
    }
}

/// The crossing road's phase: green while the main road is red, less two seconds of all-red
/// at each end.
fn cross_phase(plan: &crate::scenario::SignalPlan, t: f32) -> (Phase, f32) {
    let (phase, into) = plan.phase_at(t);
    match phase {
        Phase::Red if into >= 2.0 && into < plan.red_s - 5.0 => {
            (Phase::Green, plan.red_s - 5.0 - into)
        }
        Phase::Red if into >= plan.red_s - 5.0 && into < plan.red_s - 2.0 => {
            (Phase::Amber, plan.red_s - 2.0 - into)
        }
        _ => (Phase::Red, 1.0),
    }
}

/// The path coordinate of road distance `y` on a main-road path.
fn along(path: &Path, y: f32) -> f32 {
    if path.dir[1] > 0.0 {
        y - path.origin[1]
    } else {
        path.origin[1] - y
    }
}

fn overlaps_laterally(a: &Actor, b: &Actor) -> bool {
    let (_, wa, _) = a.class.size_m();
    let (_, wb, _) = b.class.size_m();
    (a.lateral - b.lateral).abs() < (wa + wb) / 2.0 + 0.3
}

/// The gap to the nearest road user ahead on the same path and its speed.
fn leader(actors: &[Actor], states: &[Option<State>], me: &Actor, s: f32) -> Option<(f32, f32)> {
    let front = s + me.shape.length / 2.0;
    actors
        .iter()
        .zip(states)
        .filter(|(b, st)| {
            b.id != me.id && b.path == me.path && st.is_some() && overlaps_laterally(me, b)
        })
        .filter_map(|(b, st)| {
            let st = st.as_ref()?;
            let rear = st.s - b.shape.length / 2.0;
            (st.s > s).then_some((rear - front, st.v))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
}

/// The Intelligent Driver Model (Treiber, Hennecke, Helbing 2000).
fn idm(actor: &Actor, v: f32, ahead: Option<(f32, f32)>) -> f32 {
    let (a_max, b, t_headway, s0): (f32, f32, f32, f32) = match actor.class {
        ObjectClass::Motorbike => (2.0, 3.0, 0.8, 0.8),
        ObjectClass::Bus | ObjectClass::Truck => (1.0, 2.0, 1.5, 2.5),
        _ => (1.5, 2.5, 1.2, 2.0),
    };
    let v0 = actor.desired_mps.max(0.1);
    let free = 1.0 - (v / v0).powi(4);
    let interaction = match ahead {
        Some((gap, v_lead)) => {
            let s_star =
                s0 + (v * t_headway + v * (v - v_lead) / (2.0 * (a_max * b).sqrt())).max(0.0);
            (s_star / gap.max(0.05)).powi(2)
        }
        None => 0.0,
    };
    (a_max * (free - interaction)).clamp(-9.0, a_max)
}

fn scripted_actor(a: &ActorSpec, id: u32, path: usize, rng: &mut Rng, seed: u64) -> Actor {
    let plate = match &a.plate {
        Some(text) => PlateSpec::parse(text, a.class, a.layout, a.colour).ok(),
        None => Some(random_plate(rng, a.class)),
    };
    let helmets = match (a.class, &a.helmets) {
        (ObjectClass::Motorbike, Some(h)) => h.clone(),
        (ObjectClass::Motorbike, None) => vec![true],
        _ => Vec::new(),
    };
    let shape = vehicle::build(a.class, rng, plate.as_ref(), &helmets);
    Actor {
        id,
        class: a.class,
        shape,
        plate,
        helmets,
        scripted: true,
        look_seed: rng.next_u64() ^ seed,
        path,
        lateral: 0.0,
        behaviour: a.behaviour,
        desired_mps: a.speed_kmh / 3.6,
        stop_at_s: a.stop_at_m,
        dwell_s: a.dwell_s.unwrap_or(0.0),
        spawn_t: a.at_s,
        spawn_s: 0.0,
    }
}
