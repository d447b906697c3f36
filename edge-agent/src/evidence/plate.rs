//! The plate of a violating vehicle, read for its evidence: each of the track's largest views
//! read, the readings voted into one, and the result judged against the device's confidence
//! floor.
//!
//! Above the floor the plate is *read* and names the vehicle; under it the plate stays
//! *unread*, and the reader's guesses travel with the event for the officer, who reads the plate
//! from the close-up (a wrong plate names a wrong citizen, so a guess never looks up an owner
//! by itself). Either way the close-up is the view in which the plate was found surest.

use image::RgbImage;
use plate_ocr::PlateReader;
use protocol::{
    PlateCategory, PlateColour, PlateLayout, UnreadPlate,
    event::{PlateCandidate, PlateRead, limits},
};

use crate::pairing::View;

/// What the views of one vehicle gave.
#[derive(Debug, Default)]
pub struct PlateOutcome {
    /// The plate, read surely.
    pub read: Option<PlateRead>,
    /// A plate seen but not read surely, with the reader's guesses.
    pub unread: Option<UnreadPlate>,
    /// The plate seen straight on, with its caption.
    pub closeup: Option<(RgbImage, String)>,
}

impl PlateOutcome {
    /// Whether a plate was found in any view.
    pub fn seen(&self) -> bool {
        self.closeup.is_some()
    }
}

/// Reads the plate on the track's views and votes; the close-up is the surest single view.
pub fn read_plate(
    reader: &PlateReader,
    views: &[View],
    hint: Option<PlateCategory>,
    min_confidence: f64,
) -> anyhow::Result<PlateOutcome> {
    let mut reads = Vec::new();
    for View { crop, bbox, .. } in views {
        if let Some(Some(r)) = reader.read(crop, &[(*bbox, hint)])?.pop() {
            tracing::debug!(
                raw = %r.reading.raw,
                best = ?r.reading.best().map(|c| (&c.text, c.confidence)),
                score = r.detection.score,
                width = r.detection.width_px(),
                "plate read"
            );
            reads.push(r);
        }
    }
    let refs: Vec<&plate_ocr::reader::PlateRead> = reads.iter().collect();
    let Some(reading) = reader.vote(&refs, hint) else {
        return Ok(PlateOutcome::default());
    };
    let top = reads
        .iter()
        .max_by(|a, b| a.detection.score.total_cmp(&b.detection.score));
    let (layout, colour) = top.map_or((PlateLayout::OneLine, PlateColour::White), |r| {
        (r.layout, r.colour)
    });
    let candidates = |skip: usize| -> Vec<PlateCandidate> {
        reading
            .candidates
            .iter()
            .skip(skip)
            .take(limits::CANDIDATES)
            .map(|c| PlateCandidate {
                text: c.text.clone(),
                confidence: f64::from(c.confidence).clamp(0.0, 1.0),
            })
            .collect()
    };
    let Some(best) = reading
        .best()
        .filter(|b| f64::from(b.confidence) >= min_confidence)
    else {
        return Ok(PlateOutcome {
            read: None,
            unread: Some(UnreadPlate {
                layout,
                colour,
                candidates: candidates(0),
            }),
            closeup: top.map(|r| (r.crop.clone(), "Biển số: chưa đọc được".to_owned())),
        });
    };
    Ok(PlateOutcome {
        read: Some(PlateRead {
            text: best.text.clone(),
            display: best.display.clone(),
            layout,
            colour,
            confidence: f64::from(best.confidence).clamp(0.0, 1.0),
            candidates: candidates(1),
        }),
        unread: None,
        closeup: top.map(|r| (r.crop.clone(), format!("Biển số: {}", best.display))),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a panic is the failure report

    use std::path::PathBuf;

    use plate_ocr::reader::ReaderOptions;
    use sim::{Renderer, ScenarioSpec, World};
    use vision::BoxF;

    use super::*;
    use crate::pairing::offer_view;

    /// The largest views of the red-light car (`51F-123.45`) as a zoomed plate camera sees it.
    fn car_views() -> Vec<View> {
        let mut spec = ScenarioSpec::named("red-light").unwrap();
        spec.camera.focal_px = 2400.0;
        spec.camera.tilt_deg = 20.0;
        let world = World::simulate(&spec, 1);
        let renderer = Renderer::new(&world);
        let mut views = Vec::new();
        for i in (0..world.frames.len()).step_by(3) {
            let frame = renderer.render(i);
            let picture = vision::Picture::from_rgb(frame.image.clone());
            for o in &frame.truth.objects {
                if o.plate.as_ref().is_some_and(|p| p.text == "51F-123.45") && o.visible > 0.9 {
                    let b = BoxF {
                        x0: o.bbox.x0,
                        y0: o.bbox.y0,
                        x1: o.bbox.x1,
                        y1: o.bbox.y1,
                    };
                    offer_view(&mut views, &picture, b);
                }
            }
        }
        views
    }

    fn reader() -> PlateReader {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/manifest.toml");
        PlateReader::load(&manifest, ReaderOptions::default()).unwrap()
    }

    #[test]
    fn a_plate_under_the_floor_stays_unread_with_its_guesses_for_the_officer() {
        let reader = reader();
        let views = car_views();
        assert!(views.len() >= 3, "{} views", views.len());
        let hint = Some(PlateCategory::Car);

        let sure = read_plate(&reader, &views, hint, 0.5).unwrap();
        let read = sure.read.as_ref().expect("read above the floor");
        assert_eq!(read.display, "51F-123.45");
        assert!(sure.unread.is_none());
        assert_eq!(sure.closeup.as_ref().unwrap().1, "Biển số: 51F-123.45");

        // The same views judged against a floor the reading does not reach.
        let floor = read.confidence + 0.01;
        let unsure = read_plate(&reader, &views, hint, floor).unwrap();
        assert!(unsure.read.is_none());
        let unread = unsure.unread.as_ref().expect("seen, not read");
        assert_eq!(unread.layout, PlateLayout::OneLine);
        assert_eq!(unread.colour, read.colour);
        // The best guess first, then the sure reading's own alternatives.
        assert_eq!(unread.candidates[0].text, "51F12345");
        assert!((unread.candidates[0].confidence - read.confidence).abs() < 1e-9);
        let n = unread.candidates.len() - 1;
        assert_eq!(unread.candidates[1..], read.candidates[..n]);
        assert_eq!(unsure.closeup.as_ref().unwrap().1, "Biển số: chưa đọc được");
        assert!(unsure.seen());

        // Nothing seen, nothing guessed.
        let none = read_plate(&reader, &[], hint, 0.5).unwrap();
        assert!(none.read.is_none() && none.unread.is_none() && !none.seen());
    }
}
