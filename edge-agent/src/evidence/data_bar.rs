//! The data bar: the three lines of text stamped below each evidence image — place, kind and
//! measurement, plate, camera, device and position — in Vietnamese, as the Circular on camera
//! evidence asks an image to show them.

use protocol::{
    DeviceId, ViolationKind,
    event::{Measurement, PlateRead},
    messages::SignalState,
};

use crate::config::CameraConfig;

pub(crate) fn data_bar(
    camera: &CameraConfig,
    device: &DeviceId,
    kind: ViolationKind,
    m: &Measurement,
    plate: Option<&PlateRead>,
) -> Vec<String> {
    let site = &camera.site;
    let mut first = format!("{} · {}", site.name, site.address);
    if !site.direction.is_empty() {
        first.push_str(&format!(" · {}", site.direction));
    }
    let mut second = format!("Vi phạm: {}", kind.label_vi());
    if let (Some(v), Some(l)) = (m.speed_kmh, m.limit_kmh) {
        second.push_str(&format!(" · Tốc độ {v:.0} km/h, giới hạn {l:.0} km/h"));
    }
    if let Some(s) = &m.signal {
        let phase = match s.phase {
            SignalState::Red => "đỏ",
            SignalState::Amber => "vàng",
            SignalState::Green => "xanh",
            _ => "không rõ",
        };
        second.push_str(&format!(" · Đèn {phase}"));
        if let Some(ms) = s.time_into_red_ms {
            // "≥": red's start was not seen; this is the least it can have been.
            let at_least = if s.red_start_unseen { " ≥" } else { "" };
            second.push_str(&format!("{at_least} {:.1} s", ms as f64 / 1000.0).replace('.', ","));
        }
    }
    if let Some(ms) = m.dwell_ms {
        second.push_str(&format!(" · Dừng {:.0} s", ms as f64 / 1000.0));
    }
    if let Some(case) = m.zone_case {
        second.push_str(&format!(" {}", case.name_vi()));
    }
    let third = format!(
        "Biển số: {} · Camera {} · Thiết bị {device} · {:.5}, {:.5}",
        plate.map_or("chưa đọc được", |p| p.display.as_str()),
        camera.id,
        site.latitude,
        site.longitude
    );
    vec![first, second, third]
}
