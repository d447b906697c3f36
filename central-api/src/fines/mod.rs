//! Fines: the schedule in force at the violation's time decides the range, the licence points
//! and the legal reference; the proposed amount is the middle of the range, as the Law on
//! Handling Administrative Violations sets for a violation without mitigating or aggravating
//! circumstances (the officer deciding may move it within the range, with a stated
//! circumstance: [`process::decided_amount`]). [`process`] holds the periods of a case,
//! [`calendar`] the working days some of them are counted in, and [`points`] the licence
//! points a decision deducts.
//!
//! The schedule is data (`central-api/data/fine_schedule.toml` seeds the `fine_schedule` table):
//! an amendment is new rows with a later `effective_from`, never an edit.

pub mod calendar;
pub mod points;
pub mod process;
pub mod schedule;

pub use schedule::{Assessment, FineRule, FineSchedule, NoFine, VehicleCategory};
