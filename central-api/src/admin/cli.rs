//! The command line of `central-api`: its commands, what `assess` answers, the registry and
//! population records an operator imports, and the calendar listing. Each command that changes
//! something goes through the same functions as the pages (the parent module).

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use protocol::{CitizenId, Plate, PlateColour, VehicleClass, ViolationKind, time::VIETNAM};
use serde_json::json;
use time::OffsetDateTime;

use crate::{
    Config,
    audit::AuditLog,
    db::{self, officers, owners},
    fines::process::{ORGANISATION_BASIS, Offender, middle},
};

use super::*;

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
        let key = crate::sealed::made(&config.review)?;
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
            let key = crate::sealed::made(&config.review)?;
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
mod tests;
