//! Administration: officers, devices, cameras and the fine schedule, from the JSON API and the
//! pages (administrators) and the command line (the first officer, scripts) through the same
//! functions here, and registry records from the command line. Each change is written to the
//! audit log with who made it. The command line's own parts (its commands, `assess`, the
//! registry records, the calendar listing) are in `cli`.

mod cli;

pub use cli::{AssessOutput, CitizenRecord, Command, RegistryRecord, assess, calendar_lines, run};

use protocol::{CameraSettings, DeviceId, DevicePublicKey, ViolationKind, time::VIETNAM};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::{
    audit::AuditLog,
    auth::{Officer, Role, hash_password},
    db::{
        self, devices,
        fines::NotAmended,
        officers,
        requests::{self, Kind, Request},
    },
    fines::{FineRule, VehicleCategory},
};

/// Why an administrative change was refused: the field at fault and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("`{0}`: {1}")]
    Invalid(&'static str, String),
    /// What the change is about is not there (a device not registered, or revoked).
    #[error("{0}")]
    NotFound(String),
    /// Something changed meanwhile; the change may be tried again.
    #[error("{0}")]
    Conflict(String),
    /// A request for the same change waits for a second officer.
    #[error("{0}")]
    Waiting(String),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("{0}")]
    Other(#[from] anyhow::Error),
}

fn invalid(field: &'static str, message: impl Into<String>) -> Refused {
    Refused::Invalid(field, message.into())
}

/// The officer a form or command describes, checked, and their password's hash.
fn officer_of(
    username: &str,
    full_name: &str,
    role: &str,
    password: &str,
) -> Result<(Officer, String), Refused> {
    let username_ok = (3..=64).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !username_ok {
        return Err(invalid(
            "username",
            "3-64 characters of a-z, 0-9, '.', '_' or '-'",
        ));
    }
    let full_name = full_name.trim();
    if full_name.is_empty() || full_name.chars().count() > 200 {
        return Err(invalid("full_name", "1-200 characters"));
    }
    let role = Role::parse(role).ok_or_else(|| {
        invalid(
            "role",
            "reviewer, supervisor, sanctioning, admin or auditor",
        )
    })?;
    if let Some(why) = crate::auth::password_weakness(password, username) {
        return Err(invalid("password", why));
    }
    let officer = Officer {
        username: username.to_owned(),
        full_name: full_name.to_owned(),
        role,
    };
    let hash = hash_password(password).map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    Ok((officer, hash))
}

/// Creates an officer, or changes one's name, role and password (and enables a disabled one),
/// as `actor`, at once: the command line's way (the server's operator).
pub async fn save_officer(
    db: &db::Db,
    audit: &AuditLog,
    actor: &str,
    username: &str,
    full_name: &str,
    role: &str,
    password: &str,
) -> Result<Officer, Refused> {
    let (officer, hash) = officer_of(username, full_name, role, password)?;
    officers::save(db, audit, actor, &officer, &hash, None).await?;
    Ok(officer)
}

/// Asks, as officer `requester` (username, actor), to create an officer or change one's name,
/// role and password: another administrator confirms it ([`crate::four_eyes`]).
pub async fn request_officer(
    db: &db::Db,
    audit: &AuditLog,
    requester: (&str, &str),
    username: &str,
    full_name: &str,
    role: &str,
    password: &str,
) -> Result<Request, Refused> {
    let (officer, password_hash) = officer_of(username, full_name, role, password)?;
    let change = crate::four_eyes::OfficerChange {
        username: officer.username.clone(),
        full_name: officer.full_name.clone(),
        role: officer.role.as_str().to_owned(),
        password_hash,
    };
    let change = serde_json::to_value(change).map_err(anyhow::Error::from)?;
    open_request(
        db,
        audit,
        requester,
        Kind::OfficerSave,
        &officer.actor(),
        &change,
    )
    .await
}

async fn open_request(
    db: &db::Db,
    audit: &AuditLog,
    requester: (&str, &str),
    kind: Kind,
    subject: &str,
    change: &serde_json::Value,
) -> Result<Request, Refused> {
    requests::open(db, audit, kind, subject, change, requester)
        .await?
        .map_err(|e| Refused::Waiting(e.to_string()))
}

/// Disables officer `username` as `actor`, ending their sessions. False when there is no such
/// active officer.
pub async fn disable_officer(
    db: &db::Db,
    audit: &AuditLog,
    actor: &str,
    username: &str,
) -> Result<bool, Refused> {
    Ok(officers::disable(db, audit, actor, username).await?)
}

/// Unlocks, as `actor`, an officer's account locked by failed sign-ins. False when it was not
/// locked.
pub async fn unlock_officer(
    db: &db::Db,
    audit: &AuditLog,
    actor: &str,
    username: &str,
) -> Result<bool, Refused> {
    Ok(officers::unlock(db, audit, actor, username).await?)
}

/// A device a form or command describes, checked.
fn device_of(id: &str, public_key: &str) -> Result<(DeviceId, DevicePublicKey), Refused> {
    let id = DeviceId::parse(id).map_err(|e| invalid("id", e.to_string()))?;
    let key = DevicePublicKey::from_base64(public_key.trim())
        .map_err(|e| invalid("public_key", e.to_string()))?;
    Ok((id, key))
}

/// Registers a device with the public key its events are signed with, or rotates the key of
/// one (a revoked device registered again is active again), as `actor`, at once: the command
/// line's way (the server's operator).
pub async fn register_device(
    db: &db::Db,
    audit: &AuditLog,
    actor: &str,
    id: &str,
    public_key: &str,
    name: &str,
) -> Result<DeviceId, Refused> {
    let (id, key) = device_of(id, public_key)?;
    devices::save(db, audit, actor, (&id, &key, name.trim()), None).await?;
    Ok(id)
}

/// Asks, as officer `requester` (username, actor), to register a device or give it a new key:
/// another administrator confirms it ([`crate::four_eyes`]).
pub async fn request_device(
    db: &db::Db,
    audit: &AuditLog,
    requester: (&str, &str),
    id: &str,
    public_key: &str,
    name: &str,
) -> Result<Request, Refused> {
    let (id, key) = device_of(id, public_key)?;
    let change = crate::four_eyes::DeviceChange {
        id: id.to_string(),
        public_key: key.to_base64(),
        name: name.trim().to_owned(),
    };
    let change = serde_json::to_value(change).map_err(anyhow::Error::from)?;
    let subject = format!("device:{id}");
    open_request(
        db,
        audit,
        requester,
        Kind::DeviceRegister,
        &subject,
        &change,
    )
    .await
}

/// Revokes a device as `actor`: its events are refused from now on. False when it was not
/// registered or already revoked.
pub async fn revoke_device(
    db: &db::Db,
    audit: &AuditLog,
    actor: &str,
    id: &str,
) -> Result<bool, Refused> {
    let id = DeviceId::parse(id).map_err(|e| invalid("id", e.to_string()))?;
    Ok(devices::revoke(db, audit, actor, &id).await?)
}

/// Saves the settings of a camera of device `device` as `actor`; the device's configuration gets a
/// new version, which goes out on its config topic. Returns that version.
pub async fn save_camera(
    db: &db::Db,
    audit: &AuditLog,
    actor: &str,
    device: &str,
    settings: &CameraSettings,
    edit: db::cameras::Edit<'_>,
) -> Result<u64, Refused> {
    let id = DeviceId::parse(device).map_err(|e| invalid("id", e.to_string()))?;
    if let Err(e) = settings.validate_as(&|f| f.to_owned()) {
        return Err(invalid("settings", format!("{}: {}", e.field, e.reason)));
    }
    let config = db::cameras::save_as(db, audit, &id, settings, actor, edit)
        .await?
        .map_err(|e| match e {
            db::cameras::NotSaved::NoDevice(_) => Refused::NotFound(e.to_string()),
            db::cameras::NotSaved::Stale { .. } => Refused::Conflict(e.to_string()),
            db::cameras::NotSaved::NoPicture(_) => invalid("snapshot", e.to_string()),
        })?;
    Ok(config.version)
}

/// Asks `device` for what `asked` says of its `camera` (pictures, or a clip) as `actor`
/// (audited); the request, which the MQTT worker publishes signed and the device answers within
/// [`db::snapshots::ANSWER_WITHIN`].
pub async fn ask_snapshot(
    db: &db::Db,
    audit: &AuditLog,
    actor: &str,
    (device, camera): (&str, &str),
    asked: db::snapshots::Asked,
) -> Result<protocol::snapshot::SnapshotRequest, Refused> {
    let id = DeviceId::parse(device).map_err(|e| invalid("device", e.to_string()))?;
    let camera = protocol::CameraId::parse(camera).map_err(|e| invalid("camera", e.to_string()))?;
    asked.view.check(asked.frames, asked.clip_s).map_err(|e| {
        invalid(
            if e.field == "frames" {
                "frames"
            } else {
                "clip_s"
            },
            e.reason,
        )
    })?;
    let now = OffsetDateTime::now_utc();
    db::snapshots::ask(db, audit, (&id, &camera), asked, actor, now)
        .await?
        .map_err(|e| Refused::NotFound(e.to_string()))
}

/// One rule of an amendment to the fine schedule; it is in force from the amendment's day.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRule {
    /// `red_light`, `speeding`, `wrong_way`, `wrong_lane`, `illegal_stopping`, `no_helmet`.
    #[schema(value_type = String)]
    pub kind: ViolationKind,
    /// `car` or `motorbike`.
    #[schema(value_type = String)]
    pub vehicle: VehicleCategory,
    /// Speeding only: the band of km/h over the limit, from its lower bound to its upper one.
    pub over_kmh_from: Option<u32>,
    pub over_kmh_to: Option<u32>,
    /// Whether the lower bound belongs to the band ("từ": yes, the default; "trên": no).
    #[serde(default = "included")]
    pub over_kmh_from_included: bool,
    /// Whether the upper bound belongs to the band ("đến": yes; "dưới": no, the default).
    #[serde(default)]
    pub over_kmh_to_included: bool,
    /// Illegal stopping only: what the zone forbids (`no_stopping_sign`, `no_parking_sign`,
    /// `junction`, `pedestrian_crossing`, `pick_up_point`, `bridge`, `tunnel`, `pavement`,
    /// `expressway`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub zone_case: Option<protocol::camera::ZoneCase>,
    pub min_vnd: u64,
    pub max_vnd: u64,
    pub points: u8,
    /// Article, clause and point of the decree.
    pub reference: String,
}

fn included() -> bool {
    true
}

/// Amends the fine schedule as `actor`: `rules` in force from `effective_from` (a coming day in
/// Vietnam, `2026-07-01`), ending the rules they replace on that day, so every violation is fined
/// by the rules of its own day. Returns how many rules were added and how many ended.
pub async fn amend_schedule(
    db: &db::Db,
    audit: &AuditLog,
    actor: &str,
    effective_from: &str,
    rules: &[NewRule],
) -> Result<(usize, usize), Refused> {
    let from = protocol::time::parse_day(effective_from)
        .map_err(|_| invalid("effective_from", "expected a day, 2026-07-01"))?;
    let today = OffsetDateTime::now_utc().to_offset(VIETNAM).date();
    if from <= today {
        return Err(invalid(
            "effective_from",
            "must be a coming day: violations already seen keep the rules of their day",
        ));
    }
    let rules: Vec<FineRule> = rules
        .iter()
        .map(|r| FineRule {
            kind: r.kind,
            vehicle: r.vehicle,
            over_kmh_from: r.over_kmh_from,
            over_kmh_to: r.over_kmh_to,
            over_kmh_from_included: r.over_kmh_from_included,
            over_kmh_to_included: r.over_kmh_to_included,
            zone_case: r.zone_case,
            min_vnd: r.min_vnd,
            max_vnd: r.max_vnd,
            points: r.points,
            reference: r.reference.trim().to_owned(),
            effective_from: from,
            effective_to: None,
            verify: false,
        })
        .collect();
    if rules.iter().any(|r| r.reference.is_empty()) {
        return Err(invalid("rules", "each rule needs its legal reference"));
    }
    let ended = match db::fines::amend(db, audit, actor, from, &rules).await? {
        Ok(ended) => ended,
        Err(NotAmended::Invalid(e)) => return Err(invalid("rules", e)),
        Err(e @ NotAmended::Changed) => return Err(Refused::Conflict(e.to_string())),
    };
    Ok((rules.len(), ended))
}
