//! The registry mirror and citizens, and the owner recorded on each violation.
//!
//! A citizen's name, address, phone and e-mail are kept sealed (ChaCha20-Poly1305 under the
//! deployment's `review.secrets_key_file`, [`crate::sealed`]), each bound to the citizen's
//! number and the field, so a copied disk, a backup or a replica names no one and a value moved
//! to another row or column does not open. The number stays in the clear: it joins the tables
//! (violations, cases, transfers) and is what the population database answers for. Rows kept
//! in the clear by an earlier version are read as they are, and those and the values sealed
//! under a key since rotated are sealed under the current key at the next start
//! ([`reseal_citizens`]).

use protocol::{CitizenId, EnterpriseCode, EventId, Organisation, PlateColour, VehicleClass};
use time::OffsetDateTime;

use super::{Db, DbError, on_pool, violations::Status};
use crate::{
    audit::{AuditLog, NewEntry, append_all_in},
    sealed::{self, ResealCount, SealingKey},
};

/// The sealed fields of a citizen, in the order [`seal_fields`] gives them.
const FIELDS: [&str; 4] = ["full_name", "address", "phone", "email"];

fn bound_to(id: &str, field: &str) -> String {
    format!("citizen:{id}:{field}")
}

/// `value` as the table keeps it: sealed for citizen `id`'s `field` under `key`, or as it is
/// without one.
fn seal_one(
    key: Option<&SealingKey>,
    id: &str,
    field: &str,
    value: &str,
) -> Result<String, DbError> {
    sealed::stored(key, value, &bound_to(id, field))
        .map_err(|e| DbError::Corrupt(format!("sealing a citizen's {field}: {e}")))
}

/// What the table keeps of citizen `id`'s `field`, opened (a value from before sealing, as it
/// is).
fn open_one(
    key: Option<&SealingKey>,
    id: &str,
    field: &str,
    stored: String,
) -> Result<String, DbError> {
    sealed::opened(key, stored, &bound_to(id, field))
        .map_err(|e| DbError::Corrupt(format!("citizen {id}'s {field}: {e}")))
}

fn open_optional(
    key: Option<&SealingKey>,
    id: &str,
    field: &str,
    stored: Option<String>,
) -> Result<Option<String>, DbError> {
    stored.map(|v| open_one(key, id, field, v)).transpose()
}

/// A citizen's name, address, phone and e-mail as the table keeps them.
fn seal_fields(
    key: Option<&SealingKey>,
    c: &Citizen,
) -> Result<(String, String, Option<String>, Option<String>), DbError> {
    let id = c.id.as_str();
    Ok((
        seal_one(key, id, FIELDS[0], &c.full_name)?,
        seal_one(key, id, FIELDS[1], &c.address)?,
        c.phone
            .as_deref()
            .map(|v| seal_one(key, id, FIELDS[2], v))
            .transpose()?,
        c.email
            .as_deref()
            .map(|v| seal_one(key, id, FIELDS[3], v))
            .transpose()?,
    ))
}

/// The phone and e-mail of citizen `id` as stored, opened: the contact a notice goes to.
pub fn open_contact(
    key: Option<&SealingKey>,
    id: &str,
    phone: Option<String>,
    email: Option<String>,
) -> Result<(Option<String>, Option<String>), DbError> {
    Ok((
        open_optional(key, id, FIELDS[2], phone)?,
        open_optional(key, id, FIELDS[3], email)?,
    ))
}

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
    /// The person named; for a vehicle an organisation owns, the one who answers for it.
    pub owner: CitizenId,
    /// The organisation the registration names, when it names one: the vehicle's owner.
    pub organisation: Option<EnterpriseCode>,
}

/// Who owns a vehicle: a person, or an organisation and the person who answers for it (its
/// legal representative), to whom its notices go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub citizen: CitizenId,
    pub organisation: Option<EnterpriseCode>,
}

impl Owner {
    /// A person owning the vehicle themselves.
    pub fn person(citizen: CitizenId) -> Self {
        Self {
            citizen,
            organisation: None,
        }
    }
}

/// Records organisation `o` as the business registration holds it.
pub async fn upsert_organisation(db: &Db, o: &Organisation) -> Result<(), DbError> {
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO organisations (enterprise_code, name, address) VALUES ($1, $2, $3)
             ON CONFLICT (enterprise_code) DO UPDATE SET name = $2, address = $3",
        )
        .bind(o.enterprise_code.as_str())
        .bind(&o.name)
        .bind(&o.address)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// The organisation with enterprise code `$code` (a `&str`) as last recorded, read through
/// `$ex` (a pool or a transaction, of either engine): `Result<Option<Organisation>, DbError>`.
macro_rules! organisation_in {
    ($ex:expr, $code:expr) => {{
        let code: &str = $code;
        match sqlx::query_as::<_, (String, String)>(
            "SELECT name, address FROM organisations WHERE enterprise_code = $1",
        )
        .bind(code)
        .fetch_optional($ex)
        .await
        {
            Err(e) => Err($crate::db::DbError::from(e)),
            Ok(None) => Ok(None),
            Ok(Some((name, address))) => protocol::EnterpriseCode::parse(code)
                .map_err(|e| $crate::db::DbError::Corrupt(format!("organisation {code}: {e}")))
                .map(|enterprise_code| {
                    Some(protocol::Organisation {
                        enterprise_code,
                        name,
                        address,
                    })
                }),
        }
    }};
}
pub(crate) use organisation_in;

/// The organisation with enterprise code `code`, as last recorded.
pub async fn organisation(db: &Db, code: &str) -> Result<Option<Organisation>, DbError> {
    on_pool!(db, pool => organisation_in!(pool, code))
}

/// Records citizen `c`, sealed under `key` (as it is without one).
pub async fn upsert_citizen(db: &Db, key: Option<&SealingKey>, c: &Citizen) -> Result<(), DbError> {
    let (full_name, address, phone, email) = seal_fields(key, c)?;
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO citizens (citizen_id, full_name, address, phone, email) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (citizen_id) DO UPDATE SET full_name = $2, address = $3, phone = $4, email = $5",
        )
        .bind(c.id.as_str())
        .bind(&full_name)
        .bind(&address)
        .bind(phone.as_deref())
        .bind(email.as_deref())
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// A citizen's fields as stored, unopened, as [`reseal_citizens`] reads them.
#[derive(sqlx::FromRow)]
struct ResealRow {
    citizen_id: String,
    full_name: Option<String>,
    address: Option<String>,
    phone: Option<String>,
    email: Option<String>,
}

/// Brings every citizen's sealed fields under the current `key`: rows an earlier version kept
/// in the clear, and values sealed under a former key. Run at start, before anyone reads them.
///
/// With former keys configured every row is read; without, the first batch is read whole (a
/// key that opens none of it is counted there: the wrong key, or a lost one replaced) and after
/// it only rows with a field in the clear, so a start does not read the whole table.
pub async fn reseal_citizens(db: &Db, key: &SealingKey) -> Result<ResealCount, DbError> {
    const BATCH: i64 = 500;
    const ALL: &str = "SELECT citizen_id, full_name, address, phone, email FROM citizens
         WHERE citizen_id > $1 ORDER BY citizen_id LIMIT $2";
    const CLEAR: &str = "SELECT citizen_id, full_name, address, phone, email FROM citizens
         WHERE citizen_id > $1 AND (full_name NOT LIKE 'v1:%' OR address NOT LIKE 'v1:%'
                                    OR phone NOT LIKE 'v1:%' OR email NOT LIKE 'v1:%')
         ORDER BY citizen_id LIMIT $2";
    let mut count = ResealCount::default();
    let mut after = String::new();
    let mut first = true;
    loop {
        let query = if first || key.has_former() {
            ALL
        } else {
            CLEAR
        };
        first = false;
        let rows: Vec<ResealRow> = on_pool!(db, pool => {
            sqlx::query_as(query)
                .bind(&after)
                .bind(BATCH)
                .fetch_all(pool)
                .await?
        });
        let Some(last) = rows.last() else {
            return Ok(count);
        };
        after = last.citizen_id.clone();
        for ResealRow {
            citizen_id: id,
            full_name,
            address,
            phone,
            email,
        } in rows
        {
            let stored = [full_name, address, phone, email];
            let mut changed = false;
            let mut values = stored.clone();
            for (value, field) in values.iter_mut().zip(FIELDS) {
                let Some(v) = value.as_deref() else { continue };
                let again = count
                    .record(key.reseal(v, &bound_to(&id, field)))
                    .map_err(|e| DbError::Corrupt(format!("sealing a citizen's {field}: {e}")))?;
                if let Some(sealed) = again {
                    *value = Some(sealed.as_str().to_owned());
                    changed = true;
                }
            }
            if !changed {
                continue;
            }
            let [full_name, address, phone, email] = values;
            // Only the row as read: a registry answer recorded meanwhile is sealed already.
            on_pool!(db, pool => {
                sqlx::query(
                    "UPDATE citizens SET full_name = $1, address = $2, phone = $3, email = $4
                     WHERE citizen_id = $5 AND full_name = $6",
                )
                .bind(full_name.as_deref())
                .bind(address.as_deref())
                .bind(phone.as_deref())
                .bind(email.as_deref())
                .bind(&id)
                .bind(stored[0].as_deref())
                .execute(pool)
                .await?;
            });
        }
    }
}

pub async fn upsert_registration(db: &Db, r: &Registration) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO vehicle_registrations
               (plate_text, plate_colour, vehicle_class, make, model, colour, owner_citizen_id,
                registered_at, owner_organisation)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (plate_text, plate_colour) DO UPDATE SET
               vehicle_class = $3, make = $4, model = $5, colour = $6, owner_citizen_id = $7,
               owner_organisation = $9",
        )
        .bind(&r.plate_text)
        .bind(r.plate_colour.as_str())
        .bind(r.vehicle_class.as_str())
        .bind(&r.make)
        .bind(&r.model)
        .bind(&r.colour)
        .bind(r.owner.as_str())
        .bind(now)
        .bind(r.organisation.as_ref().map(EnterpriseCode::as_str))
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// A citizen as last recorded from the population database, opened under `key`.
pub async fn citizen(
    db: &Db,
    key: Option<&SealingKey>,
    id: &CitizenId,
) -> Result<Option<Citizen>, DbError> {
    let row: Option<CitizenRow> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT full_name, address, phone, email FROM citizens WHERE citizen_id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(pool)
        .await?
    });
    row.map(|r| r.opened(key, id.clone())).transpose()
}

/// A citizen's fields as stored (sealed, or in the clear from before sealing).
#[derive(sqlx::FromRow)]
struct CitizenRow {
    full_name: String,
    address: String,
    phone: Option<String>,
    email: Option<String>,
}

impl CitizenRow {
    /// Citizen `id` from their stored fields, opened under `key`.
    fn opened(self, key: Option<&SealingKey>, id: CitizenId) -> Result<Citizen, DbError> {
        let n = id.as_str();
        let (phone, email) = open_contact(key, n, self.phone, self.email)?;
        Ok(Citizen {
            full_name: open_one(key, n, FIELDS[0], self.full_name)?,
            address: open_one(key, n, FIELDS[1], self.address)?,
            phone,
            email,
            id,
        })
    }
}

/// A registration with its owner as stored, as [`find`] reads it.
#[derive(sqlx::FromRow)]
struct RegisteredRow {
    vehicle_class: String,
    make: String,
    model: String,
    colour: String,
    owner_organisation: Option<String>,
    citizen_id: String,
    #[sqlx(flatten)]
    citizen: CitizenRow,
}

/// The owner registered for a plate of this colour, with the vehicle; the owner opened under
/// `key`.
pub async fn find(
    db: &Db,
    key: Option<&SealingKey>,
    plate_text: &str,
    colour: PlateColour,
) -> Result<Option<(Citizen, Registration)>, DbError> {
    let row: Option<RegisteredRow> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT r.vehicle_class, r.make, r.model, r.colour, r.owner_organisation, c.citizen_id,
                    c.full_name, c.address, c.phone, c.email
             FROM vehicle_registrations r JOIN citizens c ON c.citizen_id = r.owner_citizen_id
             WHERE r.plate_text = $1 AND r.plate_colour = $2",
        )
        .bind(plate_text)
        .bind(colour.as_str())
        .fetch_optional(pool)
        .await?
    });
    let Some(RegisteredRow {
        vehicle_class: class,
        make,
        model,
        colour: vcolour,
        owner_organisation: organisation,
        citizen_id: id,
        citizen,
    }) = row
    else {
        return Ok(None);
    };
    // A row that no longer parses is the registry's fault: report it, do not guess.
    let corrupt = |what: &str| DbError::Corrupt(format!("registration of {plate_text}: {what}"));
    let id = CitizenId::parse(&id).map_err(|e| corrupt(&e.to_string()))?;
    let vehicle_class = VehicleClass::parse(&class).ok_or_else(|| corrupt("vehicle class"))?;
    let organisation = organisation
        .map(|code| EnterpriseCode::parse(&code).map_err(|e| corrupt(&e.to_string())))
        .transpose()?;
    Ok(Some((
        citizen.opened(key, id.clone())?,
        Registration {
            plate_text: plate_text.to_owned(),
            plate_colour: colour,
            vehicle_class,
            make,
            model,
            colour: vcolour,
            owner: id,
            organisation,
        },
    )))
}

/// What the owner lookup concluded for a violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupResult {
    Found(Owner),
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

/// Records lookups, each of a violation by its event id; a conclusive one moves the violation
/// into the review queue, with its `owner.lookup` audit entry (the owner's citizen id masked in
/// it), all in one transaction whose entries are one step of the chain. Only a violation still
/// `received` changes, so two replicas never both move it. Returns, in order, whether each
/// changed.
pub async fn record_lookups(
    db: &Db,
    audit: &AuditLog,
    results: &[(EventId, LookupResult)],
) -> Result<Vec<bool>, DbError> {
    if results.is_empty() {
        return Ok(Vec::new());
    }
    let now = OffsetDateTime::now_utc();
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
    let changed = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let mut changed = Vec::with_capacity(results.len());
        let mut written = Vec::new();
        for (event, result) in results {
            let (owner, organisation) = match result {
                LookupResult::Found(o) => (
                    Some(o.citizen.as_str()),
                    o.organisation.as_ref().map(EnterpriseCode::as_str),
                ),
                _ => (None, None),
            };
            let status = match result {
                LookupResult::Failed => Status::Received,
                _ => Status::PendingReview,
            };
            let rows = sqlx::query(
                "UPDATE violations SET owner_lookup = $1, owner_citizen_id = $2, owner_looked_up_at = $3,
                        status = $4, owner_organisation = $7
                 WHERE event_id = $5 AND status = $6",
            )
            .bind(result.as_str())
            .bind(owner)
            .bind(now)
            .bind(status.as_str())
            .bind(*event.as_uuid())
            .bind(Status::Received.as_str())
            .bind(organisation)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            changed.push(rows == 1);
            if rows == 1 && *result != LookupResult::Failed {
                written.push((
                    format!("violation:{event}"),
                    serde_json::json!({
                        "result": result.as_str(),
                        "owner": match result {
                            LookupResult::Found(o) => Some(o.citizen.masked()),
                            _ => None,
                        },
                        "organisation": organisation,
                    }),
                ));
            }
        }
        let entries: Vec<NewEntry<'_>> = written
            .iter()
            .map(|(subject, details)| NewEntry {
                actor: "system",
                action: "owner.lookup",
                subject,
                details,
            })
            .collect();
        append_all_in!(tx, postgres, &entries);
        tx.commit().await?;
        changed
    });
    Ok(changed)
}

/// Violations waiting for their owner lookup, oldest first: (event id, plate text, plate colour).
pub async fn awaiting_lookup(
    db: &Db,
    limit: i64,
) -> Result<Vec<(EventId, Option<String>, Option<String>)>, DbError> {
    let rows: Vec<AwaitingRow> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT event_id, plate_text, plate_colour FROM violations
             WHERE status = $1 ORDER BY received_at LIMIT $2",
        )
        .bind(Status::Received.as_str())
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let id = EventId::from_uuid(r.event_id).ok()?;
            Some((id, r.plate_text, r.plate_colour))
        })
        .collect())
}

/// A violation waiting for its owner lookup, as [`awaiting_lookup`] reads it.
#[derive(sqlx::FromRow)]
struct AwaitingRow {
    event_id: uuid::Uuid,
    plate_text: Option<String>,
    plate_colour: Option<String>,
}
