//! Each test makes its own world: a fresh PostgreSQL database or SQLite file.

use citizen_notify::db::MIGRATIONS;
use protocol::{
    CitizenId, EventId, FineNotice, PlateColour, UtcTimestamp, VehicleClass, ViolationKind,
};
pub use service_kit::db_testing::TestDb;

pub async fn postgres() -> TestDb {
    TestDb::postgres(&MIGRATIONS).await
}

pub async fn sqlite() -> TestDb {
    TestDb::sqlite(&MIGRATIONS).await
}

/// Runs async test bodies once on PostgreSQL and once on SQLite, as two tests each.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        service_kit::on_both_engines!(crate::helpers::postgres, crate::helpers::sqlite; $($name),*);
    };
}
pub(crate) use on_both_engines;

/// A red-light fine of 19 000 000 ₫ for citizen 079203012345, with a fresh fine id.
pub fn notice() -> FineNotice {
    let at = UtcTimestamp::from_unix_ms(1_764_146_096_250).unwrap();
    FineNotice {
        fine_id: uuid::Uuid::now_v7(),
        decision_number: "000001/QĐ-XPVPHC/2025".into(),
        event_id: EventId::new(),
        citizen_id: CitizenId::parse("079203012345").unwrap(),
        plate: "51F-123.45".into(),
        plate_colour: PlateColour::White,
        vehicle_class: VehicleClass::Car,
        kind: ViolationKind::RedLight,
        occurred_at: at,
        place: "Ngã tư Hàng Xanh".into(),
        address: "Bình Thạnh, TP.HCM".into(),
        amount_vnd: 19_000_000,
        points: 4,
        legal_reference: "Nghị định 168/2024/NĐ-CP, Điều 6, khoản 9, điểm b".into(),
        notice_due: UtcTimestamp::from_unix_ms(at.unix_ms() + 10 * 86_400_000).unwrap(),
        issued_at: at,
        issuing_unit: "Phòng CSGT".into(),
    }
}
