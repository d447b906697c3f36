//! The camera form as an administrator posts it, read into the camera's settings: the site,
//! limits, the geometry drawn on the picture (pixels) and the speed calibration (four road
//! points and their distances in metres), each part validated with the field it came from.

use serde::Deserialize;

use crate::{admin, routes::ApiError, state::AppState};

use super::*;

/// The camera form, as sent or as filled in from the settings.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CameraForm {
    #[serde(default)]
    pub(super) csrf: String,
    pub(super) device: String,
    pub(super) camera: String,
    pub(super) site_name: String,
    #[serde(default)]
    pub(super) address: String,
    #[serde(default)]
    pub(super) direction: String,
    pub(super) latitude: String,
    pub(super) longitude: String,
    pub(super) speed_limit_kmh: String,
    #[serde(default)]
    pub(super) limit_car: String,
    #[serde(default)]
    pub(super) limit_motorbike: String,
    #[serde(default)]
    pub(super) limit_bus: String,
    #[serde(default)]
    pub(super) limit_truck: String,
    pub(super) red_grace_s: String,
    #[serde(default)]
    pub(super) geometry: String,
    /// Four points of the road clicked on the picture and their places in road metres:
    /// `{"image": [[x, y] ×4], "road": [[x, y] ×4]}`, kept as the geometry's `calibration`
    /// (the drawing tool writes them there; this field is for a form without it). The speed is
    /// then measured through the homography they make.
    #[serde(default)]
    pub(super) calibration: String,
    /// The picture from the camera the set-up was drawn on.
    #[serde(default)]
    pub(super) snapshot: String,
    /// The camera's revision the form was opened on.
    #[serde(default)]
    pub(super) base: String,
    /// A fixed-time signal plan: the phases in seconds (all blank: none) ...
    #[serde(default)]
    pub(super) plan_green_s: String,
    #[serde(default)]
    pub(super) plan_amber_s: String,
    #[serde(default)]
    pub(super) plan_red_s: String,
    /// ... and when red was seen to begin, `HH:MM:SS[.s]` in Vietnam's time, the last 24 hours
    /// (blank: the offset saved before, `plan_offset_s`, stands).
    #[serde(default)]
    pub(super) plan_red_at: String,
    #[serde(default)]
    pub(super) plan_offset_s: String,
    /// The device's other cameras calibrated on four road points, with those points: a second
    /// camera of the same road (a plate camera) is calibrated on the same ones.
    #[serde(skip)]
    pub(super) neighbours: Vec<(String, protocol::camera::GroundPoints)>,
}

impl CameraForm {
    pub(super) async fn for_camera(state: &AppState, q: &CameraQuery) -> Result<Self, ApiError> {
        let id = protocol::DeviceId::parse(&q.device)
            .map_err(|e| ServiceError::bad_request("device", e))?;
        let cameras = crate::db::cameras::of_device(&state.db, &id).await?;
        let saved = cameras.iter().find(|c| c.camera.as_str() == q.camera);
        let mut form = match saved {
            Some(s) => Self::from_settings(s),
            None => Self {
                speed_limit_kmh: "50".into(),
                red_grace_s: "0.5".into(),
                geometry: "{}".into(),
                ..Self::default()
            },
        };
        form.device = q.device.clone();
        form.camera = q.camera.clone();
        form.neighbours = calibrated_besides(&cameras, &q.camera);
        form.base = crate::db::cameras::revision(&state.db, &q.device, &q.camera)
            .await?
            .to_string();
        Ok(form)
    }

    /// The form with what the page shows beside it: the neighbours' road points.
    pub(super) async fn with_neighbours(mut self, state: &AppState) -> Self {
        if let Ok(id) = protocol::DeviceId::parse(&self.device)
            && let Ok(cameras) = crate::db::cameras::of_device(&state.db, &id).await
        {
            self.neighbours = calibrated_besides(&cameras, &self.camera);
        }
        self
    }

    pub(super) fn from_settings(s: &protocol::CameraSettings) -> Self {
        use protocol::VehicleClass;
        let limit = |class| {
            s.speed_limits_kmh
                .get(&class)
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        Self {
            camera: s.camera.to_string(),
            site_name: s.site.name.clone(),
            address: s.site.address.clone(),
            direction: s.site.direction.clone(),
            latitude: s.site.latitude.to_string(),
            longitude: s.site.longitude.to_string(),
            speed_limit_kmh: s.speed_limit_kmh.to_string(),
            limit_car: limit(VehicleClass::Car),
            limit_motorbike: limit(VehicleClass::Motorbike),
            limit_bus: limit(VehicleClass::Bus),
            limit_truck: limit(VehicleClass::Truck),
            red_grace_s: s.red_grace_s.to_string(),
            geometry: serde_json::to_string_pretty(&s.geometry).unwrap_or_default(),
            plan_green_s: s
                .signal_plan
                .map(|p| p.green_s.to_string())
                .unwrap_or_default(),
            plan_amber_s: s
                .signal_plan
                .map(|p| p.amber_s.to_string())
                .unwrap_or_default(),
            plan_red_s: s
                .signal_plan
                .map(|p| p.red_s.to_string())
                .unwrap_or_default(),
            plan_offset_s: s
                .signal_plan
                .map(|p| format!("{:.3}", p.offset_s))
                .unwrap_or_default(),
            ..Self::default()
        }
    }

    /// The fixed-time plan the form says: none when its phases are blank; the offset from when
    /// red was seen to begin, else the one saved before.
    pub(super) fn signal_plan(
        &self,
        now: time::OffsetDateTime,
    ) -> Result<Option<protocol::device_config::SignalPlan>, admin::Refused> {
        use protocol::device_config::SignalPlan;
        let phases = [
            ("plan_green_s", &self.plan_green_s),
            ("plan_amber_s", &self.plan_amber_s),
            ("plan_red_s", &self.plan_red_s),
        ];
        if phases.iter().all(|(_, v)| v.trim().is_empty()) {
            return Ok(None);
        }
        let mut values = [0.0; 3];
        for (value, (field, text)) in values.iter_mut().zip(phases) {
            *value = required(field, text)?;
        }
        let [green_s, amber_s, red_s] = values;
        let plan = if !self.plan_red_at.trim().is_empty() {
            let red = red_began(self.plan_red_at.trim(), now).ok_or_else(|| {
                admin::Refused::Invalid(
                    "plan_red_at",
                    "expected the time red began, HH:MM:SS, in the last 24 hours".into(),
                )
            })?;
            SignalPlan::with_red_at(green_s, amber_s, red_s, red)
        } else if let Some(offset_s) = number::<f64>("plan_offset_s", &self.plan_offset_s)? {
            SignalPlan {
                green_s,
                amber_s,
                red_s,
                offset_s: offset_s.rem_euclid((green_s + amber_s + red_s).max(1e-9)),
            }
        } else {
            return Err(admin::Refused::Invalid(
                "plan_red_at",
                "mark when red begins: the plan is set by it".into(),
            ));
        };
        plan.validate()
            .map_err(|e| admin::Refused::Invalid("signal_plan", e.reason))?;
        Ok(Some(plan))
    }

    /// The settings the form says, or the field at fault; drawn on a picture (its size in pixels), every point of
    /// the geometry lies on it.
    pub(super) fn settings(
        &self,
        picture: Option<(u32, u32)>,
    ) -> Result<protocol::CameraSettings, admin::Refused> {
        use protocol::VehicleClass;
        let camera = protocol::CameraId::parse(&self.camera)
            .map_err(|e| admin::Refused::Invalid("camera", e.to_string()))?;
        let mut geometry: protocol::camera::CameraGeometry = if self.geometry.trim().is_empty() {
            protocol::camera::CameraGeometry::default()
        } else {
            serde_json::from_str(&self.geometry)
                .map_err(|e| admin::Refused::Invalid("geometry", e.to_string()))?
        };
        if !self.calibration.trim().is_empty() {
            geometry.calibration = Some(
                serde_json::from_str(&self.calibration)
                    .map_err(|e| admin::Refused::Invalid("calibration", e.to_string()))?,
            );
        }
        // The speed is measured through the homography the four points make: made here from
        // the points, whichever way they came (the drawing, the JSON edited by hand).
        if let Some(points) = &geometry.calibration {
            let h = points
                .homography()
                .map_err(|e| admin::Refused::Invalid("calibration", e.reason))?;
            geometry.speed = Some(protocol::camera::SpeedTrapSpec::Homography(h.0));
        }
        if let Some(size) = picture {
            on_picture(&geometry, size)?;
        }
        on_the_road(&geometry)?;
        let mut speed_limits_kmh = std::collections::BTreeMap::new();
        for (class, field, text) in [
            (VehicleClass::Car, "limit_car", &self.limit_car),
            (
                VehicleClass::Motorbike,
                "limit_motorbike",
                &self.limit_motorbike,
            ),
            (VehicleClass::Bus, "limit_bus", &self.limit_bus),
            (VehicleClass::Truck, "limit_truck", &self.limit_truck),
        ] {
            if let Some(limit) = number(field, text)? {
                speed_limits_kmh.insert(class, limit);
            }
        }
        Ok(protocol::CameraSettings {
            camera,
            site: protocol::Site {
                name: self.site_name.trim().to_owned(),
                latitude: required("latitude", &self.latitude)?,
                longitude: required("longitude", &self.longitude)?,
                address: self.address.trim().to_owned(),
                direction: self.direction.trim().to_owned(),
            },
            geometry,
            speed_limit_kmh: required("speed_limit_kmh", &self.speed_limit_kmh)?,
            speed_limits_kmh,
            red_grace_s: required("red_grace_s", &self.red_grace_s)?,
            signal_plan: self.signal_plan(time::OffsetDateTime::now_utc())?,
        })
    }
}

/// `HH:MM:SS.s` of `t` in Vietnam's time, as the signal plan's field takes it.
pub(super) fn clock_time(t: time::OffsetDateTime) -> String {
    t.to_offset(protocol::time::VIETNAM)
        .format(time::macros::format_description!(
            "[hour]:[minute]:[second].[subsecond digits:1]"
        ))
        .unwrap_or_default()
}

/// Unix seconds of `HH:MM:SS[.s]` in Vietnam's time, the latest such moment not after `now`
/// (give or take a minute of clocks apart).
pub(super) fn red_began(text: &str, now: time::OffsetDateTime) -> Option<f64> {
    let mut parts = text.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (h, m): (u8, u8) = (h.trim().parse().ok()?, m.trim().parse().ok()?);
    let s: f64 = s.trim().replace(',', ".").parse().ok()?;
    if h > 23 || m > 59 || !(0.0..60.0).contains(&s) {
        return None;
    }
    let local = now.to_offset(protocol::time::VIETNAM);
    let day_start = local.replace_time(time::Time::MIDNIGHT);
    let mut at =
        day_start.unix_timestamp() as f64 + f64::from(h) * 3600.0 + f64::from(m) * 60.0 + s;
    if at > now.unix_timestamp() as f64 + 60.0 {
        at -= 86_400.0;
    }
    Some(at)
}

/// The cameras among `cameras` other than `camera` calibrated on four road points, and those.
fn calibrated_besides(
    cameras: &[protocol::CameraSettings],
    camera: &str,
) -> Vec<(String, protocol::camera::GroundPoints)> {
    cameras
        .iter()
        .filter(|c| c.camera.as_str() != camera)
        .filter_map(|c| Some((c.camera.to_string(), c.geometry.calibration?)))
        .collect()
}

/// Whether the stop line lies across the road its lanes outline: a stop line crossing none of
/// them was drawn off the road (beside it, or across the far side of the junction), and would
/// judge nobody.
pub(super) fn on_the_road(g: &protocol::camera::CameraGeometry) -> Result<(), admin::Refused> {
    use protocol::geometry::segment_meets_polygon;
    match g.stop_line {
        Some(l)
            if !g.lanes.is_empty()
                && !g
                    .lanes
                    .iter()
                    .any(|lane| segment_meets_polygon(l.a, l.b, &lane.polygon)) =>
        {
            Err(admin::Refused::Invalid(
                "geometry",
                "stop_line: it crosses none of the lanes, so it is off the road: draw it across \
                 the lanes it governs"
                    .into(),
            ))
        }
        _ => Ok(()),
    }
}

/// Whether every point of `g` lies on `picture`: a stop line, lane or lamp off it was placed
/// on another camera's frame, or at another resolution.
pub(super) fn on_picture(
    g: &protocol::camera::CameraGeometry,
    (width, height): (u32, u32),
) -> Result<(), admin::Refused> {
    use protocol::camera::SpeedTrapSpec;
    let (w, h) = (width as f32, height as f32);
    let mut named: Vec<(&'static str, protocol::geometry::Point)> = Vec::new();
    if let Some(l) = g.stop_line {
        named.extend([
            ("stop_line", l.a),
            ("stop_line", l.b),
            ("stop_line", l.before),
        ]);
    }
    if let Some(SpeedTrapSpec::Lines { entry, exit, .. }) = &g.speed {
        named.extend(
            [entry, exit]
                .iter()
                .flat_map(|l| [("speed", l.a), ("speed", l.b)]),
        );
    }
    named.extend(
        g.lanes
            .iter()
            .flat_map(|l| l.polygon.iter().map(|p| ("lanes", *p))),
    );
    named.extend(
        g.no_stopping
            .iter()
            .flat_map(|z| z.polygon.iter().map(|p| ("no_stopping", *p))),
    );
    if let Some(c) = &g.calibration {
        named.extend(c.image.iter().map(|p| ("calibration", *p)));
    }
    if let Some(s) = g.signal_head {
        named.extend([
            ("signal_head", s.red),
            ("signal_head", s.amber),
            ("signal_head", s.green),
        ]);
    }
    match named
        .iter()
        .find(|(_, p)| !(0.0..=w).contains(&p[0]) || !(0.0..=h).contains(&p[1]))
    {
        Some((field, p)) => Err(admin::Refused::Invalid(
            "geometry",
            format!(
                "{field}: the point ({}, {}) is off the picture ({} × {} px)",
                p[0], p[1], width, height
            ),
        )),
        None => Ok(()),
    }
}
