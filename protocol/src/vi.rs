//! How values are written for people in Vietnam, on notices, pages and messages: amounts in
//! đồng with dots between thousands, times in Vietnam's time, and the Vietnamese names of plate
//! colours and vehicle classes.

use crate::{PlateColour, UtcTimestamp, VehicleClass};

/// `19000000` → `19.000.000`.
pub fn vnd(amount: u64) -> String {
    let digits = amount.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// `dd/mm/yyyy HH:MM:SS` in Vietnam's time (GMT+7).
pub fn local_time(at: UtcTimestamp) -> String {
    at.as_datetime()
        .to_offset(crate::time::VIETNAM)
        .format(time::macros::format_description!(
            "[day]/[month]/[year] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default()
}

/// What a camera measured, as a notice states it: (an id for pages, the label, the value) for
/// the speed and its limit, the time into red, the lane — those measured.
pub fn measurement(m: &crate::Measurement) -> Vec<(&'static str, &'static str, String)> {
    let mut out = Vec::new();
    if let (Some(speed), Some(limit)) = (m.speed_kmh, m.limit_kmh) {
        out.push((
            "speed",
            "Tốc độ",
            format!("{speed:.0} km/h (tốc độ tối đa cho phép {limit:.0} km/h)"),
        ));
    }
    if let Some(red) = m.signal.as_ref().and_then(|s| s.time_into_red_ms) {
        out.push((
            "into-red",
            "Đèn đỏ đã bật",
            format!("{:.1} giây", red as f64 / 1000.0),
        ));
    }
    if let Some(lane) = &m.lane {
        out.push(("lane", "Làn đường", lane.clone()));
    }
    out
}

/// A plate colour as the registration certificate names it.
pub fn plate_colour(colour: PlateColour) -> &'static str {
    match colour {
        PlateColour::White => "nền trắng, chữ đen",
        PlateColour::Yellow => "nền vàng, chữ đen",
        PlateColour::Blue => "nền xanh, chữ trắng",
        PlateColour::Red => "nền đỏ, chữ trắng",
        PlateColour::WhiteRedText => "nền trắng, chữ đỏ",
    }
}

/// A vehicle class in everyday Vietnamese.
pub fn vehicle_class(class: VehicleClass) -> &'static str {
    match class {
        VehicleClass::Car => "Ô tô",
        VehicleClass::Motorbike => "Xe mô tô, xe gắn máy",
        VehicleClass::Bus => "Xe khách",
        VehicleClass::Truck => "Xe tải",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_times_are_written_the_vietnamese_way() {
        assert_eq!(vnd(19_000_000), "19.000.000");
        assert_eq!(vnd(800_000), "800.000");
        assert_eq!(vnd(5), "5");
        assert_eq!(vnd(0), "0");
        let at = UtcTimestamp::from_unix_ms(1_764_146_096_250).unwrap_or_else(UtcTimestamp::now);
        // 08:34:56 UTC is 15:34:56 in Hồ Chí Minh City.
        assert_eq!(local_time(at), "26/11/2025 15:34:56");
    }
}
