//! Administration from the command line, for the first officer and for scripts: officers,
//! devices and registry records. Each command opens the configured database (migrating it) and
//! writes one record, in the audit log too.

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use protocol::{CitizenId, DeviceId, DevicePublicKey, Plate, PlateColour, VehicleClass};
use serde_json::json;

use crate::{
    Config,
    audit::AuditLog,
    auth::{Officer, Role, hash_password},
    db::{self, devices, officers, owners},
};

/// What `central-api` does; without a command it serves.
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
        /// reviewer, supervisor, admin or auditor.
        #[arg(long)]
        role: String,
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
    /// Add a record to the registry mirror: a plate, its vehicle and its owner.
    RegistryAdd(RegistryRecord),
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
    /// The owner's 12-digit citizen id.
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

/// Runs one administrative command (not `Serve`).
pub async fn run(config: Config, command: Command) -> anyhow::Result<()> {
    let db = db::connect(&config.database)
        .await
        .with_context(|| format!("opening database.url {}", config.database.url))?;
    let audit = AuditLog::new(db.clone());
    match command {
        Command::Serve => bail!("`serve` is not an administrative command"),
        Command::OfficerAdd {
            username,
            full_name,
            role,
        } => {
            let role = Role::parse(&role).with_context(|| {
                format!("--role `{role}`: reviewer, supervisor, admin or auditor")
            })?;
            let password = password()?;
            if password.chars().count() < 12 {
                bail!("the password must have at least 12 characters");
            }
            let hash = hash_password(&password)?;
            let officer = Officer {
                username: username.clone(),
                full_name,
                role,
            };
            officers::upsert(&db, &officer, &hash).await?;
            audit
                .append(
                    "admin:cli",
                    "officer.saved",
                    &officer.actor(),
                    json!({ "role": role.as_str() }),
                )
                .await?;
            println!("officer {username} saved as {}", role.as_str());
        }
        Command::DeviceAdd {
            id,
            public_key,
            name,
        } => {
            let id = DeviceId::parse(id).context("--id")?;
            let key = DevicePublicKey::from_base64(&public_key).context("--public-key")?;
            devices::register(&db, &id, &key, &name).await?;
            audit
                .append(
                    "admin:cli",
                    "device.registered",
                    &format!("device:{id}"),
                    json!({ "public_key": key.to_base64() }),
                )
                .await?;
            println!("device {id} registered");
        }
        Command::RegistryAdd(r) => {
            let class =
                VehicleClass::parse(&r.class).with_context(|| format!("--class `{}`", r.class))?;
            let plate = Plate::parse_as(&r.plate, class.plate_category()).context("--plate")?;
            let colour = PlateColour::parse(&r.colour)
                .with_context(|| format!("--colour `{}`", r.colour))?;
            let citizen = CitizenId::parse(&r.citizen_id).context("--citizen-id")?;
            owners::upsert_citizen(
                &db,
                &owners::Citizen {
                    id: citizen.clone(),
                    full_name: r.full_name,
                    address: r.address,
                    phone: r.phone,
                    email: r.email,
                },
            )
            .await?;
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
                },
            )
            .await?;
            audit
                .append(
                    "admin:cli",
                    "registry.saved",
                    &format!("plate:{}", plate.canonical()),
                    json!({ "colour": colour.as_str(), "owner": citizen.masked() }),
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
