//! What central tells a device about its cameras, retained on `tve/v1/{device}/config`: each
//! camera's site, calibrated geometry and limits, as the operations centre keeps them. A device
//! applies a configuration newer than the one it has, to the cameras it runs; what it is not
//! told here — its streams, decoders, models — stays in its own configuration file. Central
//! signs each configuration with its control key, and a device applies only one that a key it
//! pins verifies.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    camera::CameraGeometry,
    event::{Site, VehicleClass},
    ids::{CameraId, DeviceId},
    time::UtcTimestamp,
    wire::{Invalid, Validate},
};

/// A device's camera settings, version `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    pub device: DeviceId,
    /// Grows with every change; a device ignores a version not newer than its own. Central
    /// issues the later of the last version + 1 and its clock in milliseconds since 1970, so a
    /// central restored from an older backup still issues newer versions.
    pub version: u64,
    pub issued_at: UtcTimestamp,
    pub cameras: Vec<CameraSettings>,
}

/// One camera's settings as central keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraSettings {
    pub camera: CameraId,
    /// Where it stands, as its evidence says.
    pub site: Site,
    /// Stop line, speed trap, lanes, no-stopping zones, signal head, in the image's pixels.
    #[serde(default)]
    pub geometry: CameraGeometry,
    /// The speed limit of the road, km/h.
    pub speed_limit_kmh: f64,
    /// Lower limits for some classes, km/h.
    #[serde(default)]
    pub speed_limits_kmh: BTreeMap<VehicleClass, f64>,
    /// Seconds after red before a crossing counts.
    pub red_grace_s: f64,
    /// The junction's fixed-time signal plan, where the box judges red by the plan (its signal
    /// head out of view, no controller feed): replaces the signal source of the box's file.
    /// Left out: the box reads the signal as its file says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_plan: Option<SignalPlan>,
}

/// A fixed-time signal plan: green, amber, red, repeating, the cycle starting (green) at whole
/// multiples of its length plus `offset_s` seconds past the Unix epoch. Central works the offset
/// out from a moment an installer saw red begin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalPlan {
    pub green_s: f64,
    pub amber_s: f64,
    pub red_s: f64,
    pub offset_s: f64,
}

/// The longest signal cycle a plan may have, seconds.
pub const MAX_CYCLE_S: f64 = 600.0;

impl SignalPlan {
    /// The plan of phases `green_s`, `amber_s`, `red_s` in which red begins at Unix time
    /// `red_began_s`.
    pub fn with_red_at(green_s: f64, amber_s: f64, red_s: f64, red_began_s: f64) -> Self {
        let cycle = green_s + amber_s + red_s;
        Self {
            green_s,
            amber_s,
            red_s,
            offset_s: (red_began_s - green_s - amber_s).rem_euclid(cycle.max(1e-9)),
        }
    }

    /// Checks the phases: green and red above 0, amber 0 or more, the cycle at most
    /// [`MAX_CYCLE_S`], the offset within the cycle.
    pub fn validate(&self) -> Result<(), Invalid> {
        let cycle = self.green_s + self.amber_s + self.red_s;
        let ok = self.green_s > 0.0
            && self.amber_s >= 0.0
            && self.red_s > 0.0
            && cycle <= MAX_CYCLE_S
            && (0.0..cycle).contains(&self.offset_s);
        if ok {
            Ok(())
        } else {
            Err(Invalid::new(
                "signal_plan",
                format!(
                    "green and red above 0 s, amber 0 s or more, a cycle of at most {MAX_CYCLE_S} s, the offset within it"
                ),
            ))
        }
    }
}

impl Validate for DeviceConfig {
    fn validate(&self) -> Result<(), Invalid> {
        Invalid::check_safe_integer("version", Some(self.version))?;
        if self.version == 0 {
            return Err(Invalid::new("version", "starts at 1"));
        }
        if self.cameras.len() > 64 {
            return Err(Invalid::new("cameras", "holds more than 64"));
        }
        for (i, c) in self.cameras.iter().enumerate() {
            let field = |f: &str| format!("cameras[{i}].{f}");
            if self.cameras[..i].iter().any(|o| o.camera == c.camera) {
                return Err(Invalid::new(field("camera"), "is given twice"));
            }
            c.validate_as(&field)?;
        }
        Ok(())
    }
}

impl DeviceConfig {
    /// The settings of camera `id`, when this configuration names it.
    pub fn camera(&self, id: &CameraId) -> Option<&CameraSettings> {
        self.cameras.iter().find(|s| &s.camera == id)
    }
}

impl CameraSettings {
    /// Checks the settings, naming fields through `field`.
    pub fn validate_as(&self, field: &dyn Fn(&str) -> String) -> Result<(), Invalid> {
        let s = &self.site;
        if s.name.trim().is_empty() || s.name.len() > 200 {
            return Err(Invalid::new(field("site.name"), "must be 1–200 bytes"));
        }
        if !(-90.0..=90.0).contains(&s.latitude) || !(-180.0..=180.0).contains(&s.longitude) {
            return Err(Invalid::new(field("site"), "is not a place on Earth"));
        }
        if s.address.len() > 500 || s.direction.len() > 200 {
            return Err(Invalid::new(field("site"), "address or direction too long"));
        }
        let limit = |v: f64| (5.0..=200.0).contains(&v);
        if !limit(self.speed_limit_kmh) {
            return Err(Invalid::new(field("speed_limit_kmh"), "must be 5–200"));
        }
        if !self.speed_limits_kmh.values().all(|v| limit(*v)) {
            return Err(Invalid::new(field("speed_limits_kmh"), "must be 5–200"));
        }
        if !(0.0..=5.0).contains(&self.red_grace_s) {
            return Err(Invalid::new(field("red_grace_s"), "must be 0–5 s"));
        }
        if let Some(plan) = &self.signal_plan {
            plan.validate().map_err(|e| Invalid {
                field: field(&e.field),
                reason: e.reason,
            })?;
        }
        self.geometry.validate().map_err(|e| Invalid {
            field: field(&format!("geometry.{}", e.field)),
            reason: e.reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire;

    fn config() -> DeviceConfig {
        DeviceConfig {
            device: DeviceId::parse("hcm-q1-001").unwrap_or_else(|e| panic!("{e}")),
            version: 3,
            issued_at: UtcTimestamp::now(),
            cameras: vec![CameraSettings {
                camera: CameraId::parse("hang-xanh-1").unwrap_or_else(|e| panic!("{e}")),
                site: Site {
                    name: "Ngã tư Hàng Xanh".into(),
                    latitude: 10.8013,
                    longitude: 106.7115,
                    address: "Xô Viết Nghệ Tĩnh, Bình Thạnh, TP.HCM".into(),
                    direction: "hướng Điện Biên Phủ".into(),
                },
                geometry: CameraGeometry::default(),
                speed_limit_kmh: 50.0,
                speed_limits_kmh: BTreeMap::from([(VehicleClass::Truck, 40.0)]),
                red_grace_s: 0.5,
                signal_plan: None,
            }],
        }
    }

    #[test]
    fn a_device_config_round_trips_and_bad_settings_are_named() {
        let c = config();
        let central = crate::DeviceKey::from_seed([5; 32]);
        let bytes = wire::encode_signed(&c, &central).unwrap_or_else(|e| panic!("{e}"));
        let read = wire::decode_signed::<DeviceConfig>(&bytes)
            .and_then(|s| s.verify_by(&[central.public_key()]));
        assert_eq!(read.ok(), Some(c.clone()));
        let field = |c: &DeviceConfig| c.validate().err().map(|e| e.field);
        let mut bad = c.clone();
        bad.cameras[0].speed_limit_kmh = 0.0;
        assert_eq!(field(&bad).as_deref(), Some("cameras[0].speed_limit_kmh"));
        let mut bad = c.clone();
        bad.cameras[0].site.latitude = 123.0;
        assert_eq!(field(&bad).as_deref(), Some("cameras[0].site"));
        let mut bad = c.clone();
        bad.cameras.push(c.cameras[0].clone());
        assert_eq!(field(&bad).as_deref(), Some("cameras[1].camera"));
        let mut bad = c;
        bad.version = 0;
        assert_eq!(field(&bad).as_deref(), Some("version"));
    }

    #[test]
    fn a_plan_is_anchored_on_the_moment_red_was_seen_to_begin() {
        // 40 s green, 3 s amber, 37 s red (an 80 s cycle); red seen to begin at 1 000 083 s.
        let plan = SignalPlan::with_red_at(40.0, 3.0, 37.0, 1_000_083.0);
        assert!(plan.validate().is_ok());
        // Green began 43 s before: 1 000 040 s, which is 40 s into an 80 s cycle from 1970.
        assert!((plan.offset_s - 40.0).abs() < 1e-6, "{plan:?}");
        let bad = |p: SignalPlan| p.validate().unwrap_err().field;
        assert_eq!(bad(SignalPlan { red_s: 0.0, ..plan }), "signal_plan");
        assert_eq!(
            bad(SignalPlan {
                green_s: 700.0,
                ..plan
            }),
            "signal_plan"
        );
        assert_eq!(
            bad(SignalPlan {
                offset_s: 80.0,
                ..plan
            }),
            "signal_plan"
        );
    }
}
