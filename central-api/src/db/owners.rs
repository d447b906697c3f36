//! The registry mirror and citizens, and the owner recorded on each violation.

use protocol::{CitizenId, EventId, PlateColour, VehicleClass};
use sqlx::Row;
use time::OffsetDateTime;

use super::{Db, DbError, on_pool, violations::Status};
use crate::audit::{AuditLog, append_in};

/// A citizen as the population database knows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Citizen {
    pub id: CitizenId,
    pub full_name: String,
    pub address: String,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// A vehicle registration: the plate (with its colour) and the vehicle it is issued to.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub plate_text: String,
    pub plate_colour: PlateColour,
    pub vehicle_class: VehicleClass,
    pub make: String,
    pub model: String,
    pub colour: String,
    pub owner: CitizenId,
}

pub async fn upsert_citizen(db: &Db, c: &Citizen) -> Result<(), DbError> {
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO citizens (citizen_id, full_name, address, phone, email) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (citizen_id) DO UPDATE SET full_name = $2, address = $3, phone = $4, email = $5",
        )
        .bind(c.id.as_str())
        .bind(&c.full_name)
        .bind(&c.address)
        .bind(c.phone.as_deref())
        .bind(c.email.as_deref())
        .execute(pool)
        .await?;
    });
    Ok(())
}

pub async fn upsert_registration(db: &Db, r: &Registration) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO vehicle_registrations
               (plate_text, plate_colour, vehicle_class, make, model, colour, owner_citizen_id, registered_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (plate_text, plate_colour) DO UPDATE SET
               vehicle_class = $3, make = $4, model = $5, colour = $6, owner_citizen_id = $7",
        )
        .bind(&r.plate_text)
        .bind(r.plate_colour.as_str())
        .bind(r.vehicle_class.as_str())
        .bind(&r.make)
        .bind(&r.model)
        .bind(&r.colour)
        .bind(r.owner.as_str())
        .bind(now)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// A citizen as last recorded from the population database.
pub async fn citizen(db: &Db, id: &CitizenId) -> Result<Option<Citizen>, DbError> {
    on_pool!(db, pool => {
        sqlx::query(
            "SELECT full_name, address, phone, email FROM citizens WHERE citizen_id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(pool)
        .await?
        .map(|row| {
            Ok(Citizen {
                id: id.clone(),
                full_name: row.try_get("full_name")?,
                address: row.try_get("address")?,
                phone: row.try_get("phone")?,
                email: row.try_get("email")?,
            })
        })
        .transpose()
    })
}

/// The owner registered for a plate of this colour, with the vehicle.
pub async fn find(
    db: &Db,
    plate_text: &str,
    colour: PlateColour,
) -> Result<Option<(Citizen, Registration)>, DbError> {
    let row = on_pool!(db, pool => {
        match sqlx::query(
            "SELECT r.vehicle_class, r.make, r.model, r.colour, c.citizen_id, c.full_name, c.address,
                    c.phone, c.email
             FROM vehicle_registrations r JOIN citizens c ON c.citizen_id = r.owner_citizen_id
             WHERE r.plate_text = $1 AND r.plate_colour = $2",
        )
        .bind(plate_text)
        .bind(colour.as_str())
        .fetch_optional(pool)
        .await?
        {
            None => None,
            Some(row) => Some((
                row.try_get::<String, _>("vehicle_class")?,
                row.try_get::<String, _>("make")?,
                row.try_get::<String, _>("model")?,
                row.try_get::<String, _>("colour")?,
                row.try_get::<String, _>("citizen_id")?,
                row.try_get::<String, _>("full_name")?,
                row.try_get::<String, _>("address")?,
                row.try_get::<Option<String>, _>("phone")?,
                row.try_get::<Option<String>, _>("email")?,
            )),
        }
    });
    let Some((class, make, model, vcolour, id, full_name, address, phone, email)) = row else {
        return Ok(None);
    };
    // A row that no longer parses is the registry's fault: report it, do not guess.
    let corrupt = |what: &str| DbError::Corrupt(format!("registration of {plate_text}: {what}"));
    let id = CitizenId::parse(&id).map_err(|e| corrupt(&e.to_string()))?;
    let vehicle_class = VehicleClass::parse(&class).ok_or_else(|| corrupt("vehicle class"))?;
    Ok(Some((
        Citizen {
            id: id.clone(),
            full_name,
            address,
            phone,
            email,
        },
        Registration {
            plate_text: plate_text.to_owned(),
            plate_colour: colour,
            vehicle_class,
            make,
            model,
            colour: vcolour,
            owner: id,
        },
    )))
}

/// What the owner lookup concluded for a violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupResult {
    Found(CitizenId),
    NotRegistered,
    NoPlate,
    /// The registry could not answer; the violation stays `received` and is tried again.
    Failed,
}

impl LookupResult {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Found(_) => "found",
            Self::NotRegistered => "not_registered",
            Self::NoPlate => "no_plate",
            Self::Failed => "failed",
        }
    }
}

/// Records the lookup; a conclusive one moves the violation into the review queue, with its
/// `owner.lookup` audit entry in the same transaction (the owner's citizen id masked in it).
/// Only a violation still `received` changes, so two replicas never both move it.
pub async fn record_lookup(
    db: &Db,
    audit: &AuditLog,
    event: &EventId,
    result: &LookupResult,
) -> Result<bool, DbError> {
    let now = OffsetDateTime::now_utc();
    let owner = match result {
        LookupResult::Found(id) => Some(id.as_str()),
        _ => None,
    };
    let status = match result {
        LookupResult::Failed => Status::Received,
        _ => Status::PendingReview,
    };
    let details = serde_json::json!({
        "result": result.as_str(),
        "owner": match result {
            LookupResult::Found(id) => Some(id.masked()),
            _ => None,
        },
    });
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
    let changed = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE violations SET owner_lookup = $1, owner_citizen_id = $2, owner_looked_up_at = $3,
                    status = $4
             WHERE event_id = $5 AND status = $6",
        )
        .bind(result.as_str())
        .bind(owner)
        .bind(now)
        .bind(status.as_str())
        .bind(*event.as_uuid())
        .bind(Status::Received.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 && *result != LookupResult::Failed {
            append_in!(
                tx,
                postgres,
                "system",
                "owner.lookup",
                &format!("violation:{event}"),
                &details
            );
        }
        tx.commit().await?;
        changed
    });
    Ok(changed == 1)
}

/// Violations waiting for their owner lookup, oldest first: (event id, plate text, plate colour).
pub async fn awaiting_lookup(
    db: &Db,
    limit: i64,
) -> Result<Vec<(EventId, Option<String>, Option<String>)>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query(
            "SELECT event_id, plate_text, plate_colour FROM violations
             WHERE status = $1 ORDER BY received_at LIMIT $2",
        )
        .bind(Status::Received.as_str())
        .bind(limit)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|row| {
            Ok::<_, sqlx::Error>((
                row.try_get::<uuid::Uuid, _>("event_id")?,
                row.try_get::<Option<String>, _>("plate_text")?,
                row.try_get::<Option<String>, _>("plate_colour")?,
            ))
        })
        .collect::<Result<Vec<_>, _>>()?
    });
    Ok(rows
        .into_iter()
        .filter_map(|(id, plate, colour)| EventId::from_uuid(id).ok().map(|id| (id, plate, colour)))
        .collect())
}
