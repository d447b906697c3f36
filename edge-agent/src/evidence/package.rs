//! The evidence package of one violation: the plate read (the plate camera's views first),
//! the measurement, the timed images with their data bar and masked copies, the plate camera's
//! frame, the plate close-up, the clip and its masked copy — and the signed event that lists
//! them, each file hashed into its manifest.

use std::sync::atomic::Ordering;

use anyhow::Context;
use protocol::{
    EventId, UtcTimestamp, VehicleClass, ViolationEvent, ViolationKind,
    event::{ClockState, ClockSync, Measurement, Vehicle},
};
use tracing::warn;
use vision::BoxF;

use crate::{
    camera::{utc_at, vehicle_box},
    detect::PeopleDetector,
    evidence::{
        self, File, Shape,
        clip::{FindPeople, offender_at},
        data_bar::data_bar,
        plate::{PlateOutcome, read_plate},
        stage::{EvidenceModels, Job},
    },
    pipeline::Shared,
};

pub(crate) type Built = (ViolationEvent, Vec<File>, Option<String>);

pub(crate) fn build_event(
    job: &Job,
    models: &EvidenceModels,
    shared: &Shared,
    settings: &crate::config::EvidenceSettings,
    scratch: &std::path::Path,
) -> anyhow::Result<Built> {
    let due = &job.due;
    let camera = &job.camera;
    let reader = &models.reader;
    let two_wheeler = due.class == VehicleClass::Motorbike;
    let hint = Some(due.class.plate_category());
    // The plate camera's views first; the camera's own when it has none or they give no
    // reading.
    let min = shared.min_plate_confidence;
    let paired = match &job.paired {
        Some(p) => read_plate(reader, &p.sighting.views, hint, min)?,
        None => PlateOutcome::default(),
    };
    let PlateOutcome {
        read: plate,
        unread: plate_unread,
        closeup,
    } = if paired.read.is_some() {
        paired
    } else {
        let own = read_plate(reader, &job.views, hint, min)?;
        if own.read.is_some() || !paired.seen() {
            own
        } else {
            paired
        }
    };
    if plate.is_none() {
        shared
            .evidence
            .unread_plates
            .fetch_add(1, Ordering::Relaxed);
    }
    let occurred_at = utc_at(job.utc_of, due.finding.t);
    let measurement = Measurement {
        speed_kmh: (due.finding.kind == ViolationKind::Speeding)
            .then_some(due.finding.value)
            .flatten()
            .map(|v| (v * 10.0).round() / 10.0),
        limit_kmh: due.finding.limit,
        signal: due.signal.clone(),
        lane: due.finding.lane.clone(),
        dwell_ms: (due.finding.kind == ViolationKind::IllegalStopping)
            .then_some(due.finding.value)
            .flatten()
            .map(|v| (v * 1000.0).round().max(0.0) as u64),
        zone_case: due.finding.zone_case,
    };
    let lines = data_bar(
        camera,
        &shared.device,
        due.finding.kind,
        &measurement,
        plate.as_ref(),
    );
    let mut files = Vec::new();
    for (name, capture) in ["before.jpg", "at.jpg", "after.jpg"]
        .iter()
        .zip(&due.captures)
    {
        let Some(c) = capture else { continue };
        let mut lines = lines.clone();
        lines[0] = format!("{} · {}", evidence::local_time(&c.at), lines[0]);
        let img = evidence::stamp(c.image.rgb(), &lines, c.vehicle);
        files.push(File {
            name: (*name).into(),
            content_type: "image/jpeg",
            bytes: evidence::jpeg(&img, settings.jpeg_quality)?,
            captured_at: c.at,
            masking: None,
        });
        // The copy a citizen is shown: every other vehicle, with its plate and rider, and
        // everyone else hidden.
        let regions = match people_beside(models.people.as_ref(), &c.image, c.vehicle, two_wheeler)
        {
            Ok(people) => {
                let hide: Vec<_> = c.others.iter().copied().chain(people).collect();
                evidence::mask_regions(c.image.dimensions(), &hide)
            }
            Err(()) => vec![evidence::whole(c.image.dimensions())],
        };
        let masked = evidence::stamp(&evidence::mask(c.image.rgb(), &regions), &lines, c.vehicle);
        files.push(File {
            name: name.replace(".jpg", "-masked.jpg"),
            content_type: "image/jpeg",
            bytes: evidence::jpeg(&masked, settings.jpeg_quality)?,
            captured_at: c.at,
            masking: Some(protocol::Masking {
                of: (*name).into(),
                regions,
                frames: None,
            }),
        });
    }
    // The plate camera's frame in which the vehicle was largest.
    if let Some(p) = &job.paired
        && let Some((ms, image, bbox)) = &p.sighting.frame
    {
        let at = UtcTimestamp::from_unix_ms(*ms).unwrap_or(occurred_at);
        let mut lines = lines.clone();
        lines[0] = format!(
            "{} · camera biển số {} · {}",
            evidence::local_time(&at),
            p.camera,
            lines[0]
        );
        files.push(File {
            name: "plate-camera.jpg".into(),
            content_type: "image/jpeg",
            bytes: evidence::jpeg(
                &evidence::stamp(image.rgb(), &lines, Some(*bbox)),
                settings.jpeg_quality,
            )?,
            captured_at: at,
            masking: None,
        });
        // All but the vehicle, and anyone beside it.
        let mut regions = evidence::outside(image.dimensions(), *bbox);
        match people_beside(models.people.as_ref(), image, Some(*bbox), two_wheeler) {
            Ok(people) => regions.extend(evidence::mask_regions(image.dimensions(), &people)),
            Err(()) => regions = vec![evidence::whole(image.dimensions())],
        }
        files.push(File {
            name: "plate-camera-masked.jpg".into(),
            content_type: "image/jpeg",
            bytes: evidence::jpeg(
                &evidence::stamp(&evidence::mask(image.rgb(), &regions), &lines, Some(*bbox)),
                settings.jpeg_quality,
            )?,
            captured_at: at,
            masking: Some(protocol::Masking {
                of: "plate-camera.jpg".into(),
                regions,
                frames: None,
            }),
        });
    }
    if let Some((crop, text)) = closeup {
        files.push(File {
            name: "plate.jpg".into(),
            content_type: "image/jpeg",
            bytes: evidence::jpeg(
                &evidence::plate_closeup(&crop, &text),
                settings.jpeg_quality,
            )?,
            captured_at: occurred_at,
            masking: None,
        });
    }
    let mut clip_name = None;
    if job.clip.len() > 1 {
        let captured_at = utc_at(job.utc_of, job.clip[0].t);
        let path = scratch.join(format!("tve-clip-{}.mp4", EventId::new()));
        match crate::evidence::clip::remux_mp4(&job.clip, &path) {
            Ok(()) => {
                let bytes = std::fs::read(&path).context("reading the clip")?;
                let _ = std::fs::remove_file(&path);
                files.push(File {
                    name: CLIP.into(),
                    content_type: "video/mp4",
                    bytes,
                    captured_at,
                    masking: None,
                });
                clip_name = Some(CLIP.to_owned());
                files.extend(masked_clip(
                    job,
                    models.people.as_ref(),
                    scratch,
                    captured_at,
                ));
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                warn!(camera = %camera.id, error = %format!("{e:#}"), "clip not made; the images stand");
            }
        }
    }
    let event = ViolationEvent {
        event_id: due.event_id,
        device: shared.device.clone(),
        camera: camera.id.clone(),
        site: camera.site.clone(),
        kind: due.finding.kind,
        occurred_at,
        clock: shared.clock.clone(),
        vehicle: Vehicle {
            class: due.class,
            confidence: f64::from(due.score).clamp(0.0, 1.0),
            track_id: due.finding.track,
            bbox: vehicle_box(&due.bbox),
        },
        plate,
        plate_unread,
        measurement,
        evidence: files.iter().map(File::item).collect(),
        models: shared.models.clone(),
    };
    Ok((event, files, clip_name))
}

/// The people the people detector finds in `image`, the riders of the offender (its box
/// `vehicle` there, when it was seen) left out: none without a people detector; `Err` (the
/// copy is hidden whole) where it fails.
fn people_beside(
    people: Option<&PeopleDetector>,
    image: &vision::Picture,
    vehicle: Option<BoxF>,
    two_wheeler: bool,
) -> Result<Vec<(BoxF, Shape)>, ()> {
    let Some(people) = people else {
        return Ok(Vec::new());
    };
    match people.detect(image.pixels()) {
        Ok(found) => Ok(evidence::others(&found, vehicle, two_wheeler)),
        Err(e) => {
            warn!(error = %e, "the people detector failed: the masked image is hidden whole");
            Err(())
        }
    }
}

/// The clip's name in the package.
pub(crate) const CLIP: &str = "clip.mp4";

/// The clip's masked copy (the other vehicles and the people in it pixelated, frame by frame)
/// and the list of what each frame hides; none where it cannot be made, and then the clip is
/// not shown outside the police at all.
pub(crate) fn masked_clip(
    job: &Job,
    people: Option<&PeopleDetector>,
    scratch: &std::path::Path,
    captured_at: UtcTimestamp,
) -> Vec<File> {
    let path = scratch.join(format!("tve-clip-masked-{}.mp4", EventId::new()));
    let two_wheeler = job.due.class == VehicleClass::Motorbike;
    let mut find = people.map(|p| {
        move |image: &image::RgbImage, t: f64| -> anyhow::Result<Vec<(BoxF, Shape)>> {
            let found = p.detect(image)?;
            let offender = offender_at(&job.clip_boxes, t);
            Ok(evidence::others(&found, offender, two_wheeler))
        }
    });
    let made = crate::evidence::clip::mask_mp4(
        &job.clip,
        &job.clip_boxes,
        find.as_mut().map(|f| f as &mut FindPeople<'_>),
        &path,
    )
    .and_then(|frames| {
        let bytes = std::fs::read(&path).context("reading the masked clip")?;
        let list = serde_json::to_vec(&protocol::event::MaskedFrames {
            of: CLIP.into(),
            frames,
        })?;
        Ok((bytes, list))
    });
    let _ = std::fs::remove_file(&path);
    match made {
        Ok((bytes, list)) => vec![
            File {
                name: "clip-masked.mp4".into(),
                content_type: "video/mp4",
                bytes,
                captured_at,
                masking: Some(protocol::Masking {
                    of: CLIP.into(),
                    regions: Vec::new(),
                    frames: Some("clip-masked.json".into()),
                }),
            },
            File {
                name: "clip-masked.json".into(),
                content_type: "application/json",
                bytes: list,
                captured_at,
                masking: None,
            },
        ],
        Err(e) => {
            warn!(camera = %job.camera.id, error = %format!("{e:#}"), "masked clip not made; the clip is shown to the police only");
            Vec::new()
        }
    }
}

/// The clock state the events carry.
pub fn clock(source: Option<&str>) -> ClockSync {
    match source {
        Some(s) => ClockSync {
            state: ClockState::Synced,
            source: Some(s.to_owned()),
            offset_ms: None,
        },
        None => ClockSync {
            state: ClockState::Unsynced,
            source: None,
            offset_ms: None,
        },
    }
}
