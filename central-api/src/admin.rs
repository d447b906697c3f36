//! Administration: officers, devices, cameras and the fine schedule, from the JSON API and the
//! pages (administrators) and the command line (the first officer, scripts) through the same
//! functions here, and registry records from the command line. Each change is written to the
//! audit log with who made it.

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use protocol::{
    CameraSettings, CitizenId, DeviceId, DevicePublicKey, Plate, PlateColour, VehicleClass,
    ViolationKind, time::VIETNAM,
};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::{
    Config,
    audit::AuditLog,
    auth::{Officer, Role, hash_password},
    db::{
        self, devices,
        fines::NotAmended,
        officers, owners,
        requests::{self, Kind, Request},
    },
    fines::{
        FineRule, VehicleCategory,
        process::{ORGANISATION_BASIS, Offender, middle},
    },
};

/// What `central-api` does; without a command it serves.
// Parsed once from the command line and matched at once: the size of a variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Add an officer or change one's name, role or password. The password is read from
    /// TVE_OFFICER_PASSWORD, or from the first line of standard input.
    OfficerAdd {
        #[arg(long)]
        username: String,
        #[arg(long)]
        full_name: String,
        /// reviewer, supervisor, sanctioning, admin or auditor.
        #[arg(long)]
        role: String,
    },
    /// Disable an officer: their sessions end and they can no longer sign in (`officer-add`
    /// again enables them, with a new password).
    OfficerDisable {
        #[arg(long)]
        username: String,
    },
    /// Unlock an officer's account locked by failed sign-ins.
    OfficerUnlock {
        #[arg(long)]
        username: String,
    },
    /// Register a device and the public key its events are signed with (or rotate the key).
    DeviceAdd {
        #[arg(long)]
        id: String,
        /// Ed25519 public key, base64.
        #[arg(long)]
        public_key: String,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Print the public half of central's control key (made on first use in
    /// mqtt.control_key_file): every device pins it as `central.control_keys`, and takes no
    /// acknowledgement or configuration it did not sign.
    ControlKey,
    /// Add a record to the registry mirror: a plate, its vehicle and its owner.
    RegistryAdd(RegistryRecord),
    /// Give an officer a second factor (a TOTP secret for an authenticator app: the `otpauth://`
    /// address and its QR code are printed once), or take it away (`--remove`).
    OfficerTotp {
        #[arg(long)]
        username: String,
        #[arg(long)]
        remove: bool,
    },
    /// Add a citizen to the population database mirror (a person an owner may name as the
    /// driver, who need own no vehicle).
    CitizenAdd(CitizenRecord),
    /// What the fine schedule in force on a day says for one case: the fine range, the amount a
    /// decision proposes (the middle of the range), the licence points, the legal reference and
    /// the violation code.
    Assess {
        /// red_light, speeding, wrong_way, wrong_lane, illegal_stopping or no_helmet.
        #[arg(long)]
        kind: String,
        /// car (cars, buses, trucks) or motorbike.
        #[arg(long)]
        vehicle: String,
        /// Speeding: km/h over the limit, as measured (e.g. 20 or 20.5).
        #[arg(long)]
        over_kmh: Option<f64>,
        /// Illegal stopping: what the zone forbids — no_stopping_sign, no_parking_sign,
        /// junction, pedestrian_crossing, pick_up_point, bridge, tunnel, pavement, expressway.
        #[arg(long)]
        zone_case: Option<String>,
        /// The day of the violation, Vietnam time (default: today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        on: Option<String>,
        /// For an organisation that owns the vehicle and named no driver: twice an individual's
        /// range, no licence points (Decree 168/2024/NĐ-CP, Article 47 clause 8 point b; Law
        /// 15/2012/QH13, Article 3 clause 1 point e).
        #[arg(long)]
        organisation: bool,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Record a day against the week's rule, from the year's official announcement: a weekday
    /// off (`--off`: the lunar New Year, the day next to National Day, the Hùng Kings' day, a
    /// day off in place of a holiday that fell on a weekend) or a weekend day worked
    /// (`--worked`, in exchange for a day off); or take back what was recorded (`--remove`).
    /// The periods counted in working days (an explanation before a decision) count by them.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["off", "worked", "remove"])))]
    CalendarDay {
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: String,
        #[arg(long)]
        off: bool,
        #[arg(long)]
        worked: bool,
        #[arg(long)]
        remove: bool,
        /// What the day is, as the announcement names it (e.g. "Tết Nguyên đán").
        #[arg(long, required_unless_present = "remove")]
        name: Option<String>,
        /// The announcement that sets it (e.g. "Thông báo số …/TB-BNV").
        #[arg(long, required_unless_present = "remove")]
        reference: Option<String>,
    },
    /// The days off on weekdays and the weekend days worked of a year (default: this year):
    /// the Labour Code's holidays of fixed date and the days recorded.
    Calendar {
        #[arg(long)]
        year: Option<i32>,
    },
    /// The messages citizen-notify refused (a notice, a decision, an answer to an explanation:
    /// not sent again by themselves, each in its case's audit trail); with `--id` (repeated) or
    /// `--all`, send them again at the relay's next pass, once the cause is fixed.
    OutboxRetry {
        #[arg(long)]
        id: Vec<i64>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

/// What `central-api assess` prints with `--json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AssessOutput {
    pub min_vnd: u64,
    pub max_vnd: u64,
    pub amount_vnd: u64,
    pub points: u8,
    pub reference: String,
    pub code: Option<String>,
    pub in_force_from: String,
    pub verify: bool,
}

/// The schedule's answer for one case (see [`Command::Assess`]).
pub fn assess(
    schedule: &crate::fines::FineSchedule,
    (kind, vehicle): (&str, &str),
    (over_kmh, zone_case): (Option<f64>, Option<&str>),
    on: Option<&str>,
) -> anyhow::Result<AssessOutput> {
    let kind: ViolationKind = kind
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--kind: {e}"))?;
    let class = match vehicle {
        "car" => VehicleClass::Car,
        "motorbike" => VehicleClass::Motorbike,
        other => bail!("--vehicle `{other}`: car or motorbike"),
    };
    let day = match on {
        Some(text) => protocol::time::parse_day(text)
            .map_err(|_| anyhow::anyhow!("--on `{text}`: expected a day, 2026-07-01"))?,
        None => OffsetDateTime::now_utc().to_offset(VIETNAM).date(),
    };
    // Noon in Vietnam: the whole day is under one schedule.
    let at = day
        .with_hms(12, 0, 0)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .assume_offset(VIETNAM);
    let (speed, limit) = match over_kmh {
        Some(over) if over.is_finite() => (Some(over), Some(0.0)),
        Some(_) => bail!("--over-kmh must be a number"),
        None => (None, None),
    };
    let case = zone_case
        .map(str::parse::<protocol::camera::ZoneCase>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--zone-case: {e}"))?;
    let a = schedule
        .assess_in(kind, class, case, (speed, limit), at)
        .map_err(|e| anyhow::anyhow!("no fine: {e}"))?;
    Ok(AssessOutput {
        min_vnd: a.rule.min_vnd,
        max_vnd: a.rule.max_vnd,
        amount_vnd: a.amount_vnd,
        points: a.rule.points,
        code: a.rule.code(),
        reference: a.rule.reference,
        in_force_from: a.rule.effective_from.to_string(),
        verify: a.rule.verify,
    })
}

impl AssessOutput {
    /// The answer for an organisation that owns the vehicle and named no driver: its range
    /// (twice an individual's), no points, and the provisions that say so beside the act's.
    pub fn for_organisation(self) -> Self {
        let ((min_vnd, max_vnd), points) =
            Offender::Organisation.fine((self.min_vnd, self.max_vnd), self.points);
        Self {
            min_vnd,
            max_vnd,
            amount_vnd: middle(min_vnd, max_vnd),
            points,
            reference: format!("{}; {ORGANISATION_BASIS}", self.reference),
            ..self
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct RegistryRecord {
    /// The plate in any written form, e.g. 51F-123.45.
    #[arg(long)]
    pub plate: String,
    /// white, yellow, blue, red or white_red_text.
    #[arg(long, default_value = "white")]
    pub colour: String,
    /// car, motorbike, bus or truck.
    #[arg(long)]
    pub class: String,
    #[arg(long, default_value = "")]
    pub make: String,
    #[arg(long, default_value = "")]
    pub model: String,
    #[arg(long, default_value = "")]
    pub vehicle_colour: String,
    /// The owner; for a vehicle an organisation owns, the person who answers for it (its
    /// legal representative).
    #[command(flatten)]
    pub owner: CitizenRecord,
    /// The organisation the registration names, by its enterprise code (10 digits, or 10, a
    /// hyphen and 3 for a branch), when it names one.
    #[arg(long, requires_all = ["organisation_name", "organisation_address"])]
    pub organisation: Option<String>,
    /// The organisation's registered name.
    #[arg(long, requires = "organisation")]
    pub organisation_name: Option<String>,
    /// The address of its head office.
    #[arg(long, requires = "organisation")]
    pub organisation_address: Option<String>,
}

/// A citizen as the population database holds them.
#[derive(Debug, Clone, Args)]
pub struct CitizenRecord {
    /// The 12-digit citizen id.
    #[arg(long)]
    pub citizen_id: String,
    #[arg(long)]
    pub full_name: String,
    #[arg(long)]
    pub address: String,
    #[arg(long)]
    pub phone: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
}

impl CitizenRecord {
    /// Records the citizen in the population database mirror, sealed under the deployment's
    /// `review.secrets_key_file` (made there if there is none yet, as the service would).
    async fn save(self, db: &db::Db, config: &Config) -> anyhow::Result<CitizenId> {
        let id = CitizenId::parse(&self.citizen_id).context("--citizen-id")?;
        let key = crate::sealed::SealingKey::made(&config.review)?;
        owners::upsert_citizen(
            db,
            Some(&key),
            &owners::Citizen {
                id: id.clone(),
                full_name: self.full_name,
                address: self.address,
                phone: self.phone,
                email: self.email,
            },
        )
        .await?;
        Ok(id)
    }
}

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

fn password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("TVE_OFFICER_PASSWORD") {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// The actor the command line writes into the audit log.
const CLI: &str = "admin:cli";

/// The days of `year` that are not as the week has them, in order, as lines: the Labour Code's
/// holidays of fixed date on weekdays and the days recorded (which override them); the last
/// line says so when no day of the year is recorded.
pub async fn calendar_lines(db: &db::Db, year: i32) -> anyhow::Result<Vec<String>> {
    use crate::fines::calendar::fixed_holiday;
    use time::{Date, Month, Weekday};
    let first = Date::from_calendar_date(year, Month::January, 1).context("--year")?;
    let last = Date::from_calendar_date(year, Month::December, 31).context("--year")?;
    let recorded = db::calendar::between(db, first, last).await?;
    let mut days: std::collections::BTreeMap<Date, String> = std::collections::BTreeMap::new();
    let mut day = first;
    while day <= last {
        if let Some(name) = fixed_holiday(day) {
            let line = if matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
                format!("{day}  weekend  {name}: the day off in its place is recorded as announced")
            } else {
                format!("{day}  off      {name}")
            };
            days.insert(day, line);
        }
        day = day.next_day().context("the year's last day")?;
    }
    for d in &recorded {
        let what = if d.off { "off    " } else { "worked " };
        days.insert(
            d.day,
            format!("{}  {what}  {} ({})", d.day, d.name, d.reference),
        );
    }
    let mut lines: Vec<String> = days.into_values().collect();
    if recorded.is_empty() {
        lines.push(format!(
            "no day of {year} is recorded: its lunar New Year, the day next to National Day and \
             the Hùng Kings' day are working days until recorded (`central-api calendar-day`)"
        ));
    }
    Ok(lines)
}

/// Runs one administrative command (not `Serve`).
pub async fn run(config: Config, command: Command) -> anyhow::Result<()> {
    let db = db::connect(&config.database)
        .await
        .with_context(|| format!("opening database.url {}", config.database.redacted_url()))?;
    let audit = AuditLog::new(db.clone());
    match command {
        Command::Serve => bail!("`serve` is not an administrative command"),
        Command::CalendarDay {
            date,
            off,
            worked: _,
            remove,
            name,
            reference,
        } => {
            let day = protocol::time::parse_day(&date)
                .map_err(|_| anyhow::anyhow!("--date `{date}`: expected a day, 2027-02-08"))?;
            if remove {
                if !db::calendar::remove(&db, &audit, CLI, day).await? {
                    bail!("nothing is recorded for {day}");
                }
                println!("{day}: as the week and the Labour Code have it");
            } else {
                let entry = crate::fines::calendar::CalendarDay {
                    day,
                    off,
                    name: name.unwrap_or_default(),
                    reference: reference.unwrap_or_default(),
                };
                if entry.name.trim().is_empty() || entry.reference.trim().is_empty() {
                    bail!(
                        "--name and --reference say what the day is and which announcement sets it"
                    );
                }
                db::calendar::record(&db, &audit, CLI, &entry).await?;
                let what = if off { "a day off" } else { "a working day" };
                println!("{day}: {what} ({}, {})", entry.name, entry.reference);
            }
        }
        Command::Calendar { year } => {
            let year = year.unwrap_or_else(|| OffsetDateTime::now_utc().to_offset(VIETNAM).year());
            for line in calendar_lines(&db, year).await? {
                println!("{line}");
            }
        }
        Command::OutboxRetry { id, all } => {
            let refused = crate::relay::refused(&db).await?;
            let chosen: Vec<i64> = if all {
                refused.iter().map(|r| r.id).collect()
            } else {
                id
            };
            if chosen.is_empty() {
                for r in &refused {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        r.id,
                        r.kind,
                        r.key,
                        protocol::UtcTimestamp::from_datetime(r.refused_at),
                        r.error
                    );
                }
                println!("{} refused", refused.len());
            }
            for n in chosen {
                if !crate::relay::retry_refused(&db, &audit, CLI, n).await? {
                    bail!("no refused message {n}: `central-api outbox-retry` lists them");
                }
                println!("{n} sent again at the next pass");
            }
        }
        Command::ControlKey => {
            let key = crate::control::ControlKey::load(&config.mqtt.control_key_file, true)?
                .context("mqtt.control_key_file")?;
            println!("{}", key.public_key());
        }
        Command::Assess {
            kind,
            vehicle,
            over_kmh,
            zone_case,
            on,
            organisation,
            json,
        } => {
            let shipped =
                crate::fines::FineSchedule::shipped().context("the shipped fine schedule")?;
            db::fines::seed_missing(&db, &shipped).await?;
            let schedule = db::fines::load_schedule(&db).await?;
            let mut out = assess(
                &schedule,
                (&kind, &vehicle),
                (over_kmh, zone_case.as_deref()),
                on.as_deref(),
            )?;
            if organisation {
                out = out.for_organisation();
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "{} – {} ₫ (đề xuất {} ₫), trừ {} điểm GPLX; {}{}",
                    protocol::vi::vnd(out.min_vnd),
                    protocol::vi::vnd(out.max_vnd),
                    protocol::vi::vnd(out.amount_vnd),
                    out.points,
                    out.reference,
                    out.code
                        .as_deref()
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default()
                );
            }
        }
        Command::OfficerAdd {
            username,
            full_name,
            role,
        } => {
            let password = password()?;
            let officer =
                save_officer(&db, &audit, CLI, &username, &full_name, &role, &password).await?;
            println!("officer {username} saved as {}", officer.role.as_str());
        }
        Command::OfficerDisable { username } => {
            if !disable_officer(&db, &audit, CLI, &username).await? {
                bail!("no active officer {username}");
            }
            println!("officer {username} disabled; their sessions ended");
        }
        Command::OfficerUnlock { username } => {
            if !unlock_officer(&db, &audit, CLI, &username).await? {
                bail!("officer {username} is not locked");
            }
            println!("officer {username} unlocked");
        }
        Command::DeviceAdd {
            id,
            public_key,
            name,
        } => {
            let id = register_device(&db, &audit, CLI, &id, &public_key, &name).await?;
            println!("device {id} registered");
            // What the device must pin to take central's acknowledgements and configurations.
            if let Some(control) =
                crate::control::ControlKey::load(&config.mqtt.control_key_file, false)?
            {
                println!(
                    "pin central's control key on the device: central.control_keys = [\"{}\"]",
                    control.public_key()
                );
            }
        }
        Command::OfficerTotp { username, remove } => {
            let secret = if remove {
                None
            } else {
                Some(crate::totp::new_secret().context("a random secret")?)
            };
            let key = crate::sealed::SealingKey::made(&config.review)?;
            let sealed = secret
                .as_deref()
                .map(|s| key.seal(s, &officers::totp_owner(&username)))
                .transpose()
                .context("sealing the secret")?;
            if !officers::set_totp(&db, &username, sealed.as_ref()).await? {
                bail!("no active officer `{username}`");
            }
            let action = if remove {
                "officer.totp_removed"
            } else {
                "officer.totp_enrolled"
            };
            audit
                .append(CLI, action, &format!("officer:{username}"), json!({}))
                .await?;
            match secret {
                None => println!("{username}: second factor removed"),
                Some(secret) => {
                    let uri = crate::totp::provisioning_uri("CSGT TVE", &username, &secret);
                    let code = qrcode::QrCode::new(uri.as_bytes()).context("the QR code")?;
                    println!("{}", crate::totp::terminal_qr(&code));
                    println!("{uri}");
                    println!(
                        "{username}: scan the code (or enter the secret {secret}) in an authenticator app; it is shown only now"
                    );
                }
            }
        }
        Command::CitizenAdd(c) => {
            let citizen = c.save(&db, &config).await?;
            audit
                .append(
                    CLI,
                    "citizen.saved",
                    &format!("citizen:{}", citizen.masked()),
                    json!({}),
                )
                .await?;
            println!("citizen {} recorded", citizen.masked());
        }
        Command::RegistryAdd(r) => {
            let class =
                VehicleClass::parse(&r.class).with_context(|| format!("--class `{}`", r.class))?;
            let plate = Plate::parse_as(&r.plate, class.plate_category()).context("--plate")?;
            let colour = PlateColour::parse(&r.colour)
                .with_context(|| format!("--colour `{}`", r.colour))?;
            let organisation = match &r.organisation {
                None => None,
                Some(code) => {
                    let o = protocol::Organisation {
                        enterprise_code: protocol::EnterpriseCode::parse(code)
                            .with_context(|| format!("--organisation `{code}`"))?,
                        name: r.organisation_name.clone().unwrap_or_default(),
                        address: r.organisation_address.clone().unwrap_or_default(),
                    };
                    o.validate("organisation").map_err(|e| {
                        anyhow::anyhow!("--{}: {}", e.field.replace('.', "-"), e.reason)
                    })?;
                    owners::upsert_organisation(&db, &o).await?;
                    Some(o.enterprise_code)
                }
            };
            let citizen = r.owner.save(&db, &config).await?;
            owners::upsert_registration(
                &db,
                &owners::Registration {
                    plate_text: plate.canonical(),
                    plate_colour: colour,
                    vehicle_class: class,
                    make: r.make,
                    model: r.model,
                    colour: r.vehicle_colour,
                    owner: citizen.clone(),
                    organisation: organisation.clone(),
                },
            )
            .await?;
            audit
                .append(
                    CLI,
                    "registry.saved",
                    &format!("plate:{}", plate.canonical()),
                    json!({
                        "colour": colour.as_str(),
                        "owner": citizen.masked(),
                        "organisation": organisation.as_ref().map(|o| o.as_str()),
                    }),
                )
                .await?;
            println!(
                "{} ({}) registered to {}",
                plate.display(),
                colour.as_str(),
                citizen.masked()
            );
        }
    }
    db.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assess_answers_for_one_case_as_the_decree_writes_it() {
        let s = crate::fines::FineSchedule::shipped().expect("shipped");
        let car = |over| {
            assess(
                &s,
                ("speeding", "car"),
                (Some(over), None),
                Some("2025-06-01"),
            )
        };
        // Exactly 35 over is "trên 20 km/h đến 35 km/h"; a little more is "trên 35 km/h".
        let at_35 = car(35.0).expect("a rule");
        assert_eq!(
            (at_35.min_vnd, at_35.max_vnd, at_35.amount_vnd, at_35.points),
            (6_000_000, 8_000_000, 7_000_000, 4)
        );
        assert_eq!(
            at_35.reference,
            "Điểm a khoản 6 Điều 6 Nghị định số 168/2024/NĐ-CP"
        );
        assert_eq!(at_35.code.as_deref(), Some("16824.6.6.a"));
        assert_eq!(car(35.5).expect("a rule").points, 6);
        let helmet = assess(
            &s,
            ("no_helmet", "motorbike"),
            (None, None),
            Some("2025-06-01"),
        )
        .expect("a rule");
        assert_eq!(helmet.code.as_deref(), Some("16824.7.2.h"));
        // An organisation that named no driver: twice the range, no points, the act's code
        // kept and the provisions that make it so cited after the act's.
        let red =
            assess(&s, ("red_light", "car"), (None, None), Some("2025-06-01")).expect("a rule");
        let org = red.clone().for_organisation();
        assert_eq!(
            (org.min_vnd, org.max_vnd, org.amount_vnd, org.points),
            (36_000_000, 40_000_000, 38_000_000, 0)
        );
        assert_eq!(org.code, red.code);
        assert_eq!(
            org.reference,
            "Điểm b khoản 9 Điều 6 Nghị định số 168/2024/NĐ-CP; Điểm b khoản 8 Điều 47 \
             Nghị định số 168/2024/NĐ-CP; Điểm e khoản 1 Điều 3 Luật Xử lý vi phạm hành chính \
             số 15/2012/QH13"
        );
        // Illegal stopping, by what the zone forbids: a car on a bridge, a motorbike at a
        // junction; a zone whose case is not set up has no fine to propose.
        let stopping = |vehicle, case| {
            assess(
                &s,
                ("illegal_stopping", vehicle),
                (None, case),
                Some("2025-06-01"),
            )
        };
        let bridge = stopping("car", Some("bridge")).expect("a rule");
        assert_eq!(
            (bridge.min_vnd, bridge.max_vnd, bridge.points),
            (2_000_000, 3_000_000, 2)
        );
        assert_eq!(bridge.code.as_deref(), Some("16824.6.4.b"));
        let junction = stopping("motorbike", Some("junction")).expect("a rule");
        assert_eq!(
            (junction.min_vnd, junction.max_vnd, junction.points),
            (400_000, 600_000, 0)
        );
        assert_eq!(junction.code.as_deref(), Some("16824.7.2.e"));
        let unset = stopping("car", None).unwrap_err().to_string();
        assert!(unset.contains("does not say what it forbids"), "{unset}");
        let unknown = stopping("car", Some("roof")).unwrap_err().to_string();
        assert!(unknown.contains("--zone-case"), "{unknown}");
        assert!(
            stopping("motorbike", Some("expressway")).is_err(),
            "no motorbike row for an expressway"
        );
        // Clear refusals.
        let before =
            assess(&s, ("red_light", "car"), (None, None), Some("2024-12-31")).unwrap_err();
        assert!(before.to_string().contains("no rule"), "{before}");
        let below = car(4.0).unwrap_err();
        assert!(
            below.to_string().contains("below the first band"),
            "{below}"
        );
        assert!(
            assess(&s, ("speeding", "car"), (None, None), None).is_err(),
            "speeding needs --over-kmh"
        );
        assert!(
            assess(&s, ("parking", "car"), (None, None), None)
                .unwrap_err()
                .to_string()
                .contains("--kind")
        );
        assert!(
            assess(&s, ("red_light", "bus"), (None, None), None)
                .unwrap_err()
                .to_string()
                .contains("--vehicle")
        );
        assert!(
            assess(&s, ("red_light", "car"), (None, None), Some("1/6/2025"))
                .unwrap_err()
                .to_string()
                .contains("--on")
        );
    }
}
