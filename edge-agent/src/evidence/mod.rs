//! Everything a violation's evidence is made of, from the camera's hand-over to the outbox:
//!
//! - [`stage`]: the evidence thread — takes each violation a camera hands over, journal
//!   entries first, and stores its signed package in the outbox, never dropping one;
//! - [`package`]: one violation's package and the signed event that lists it;
//! - [`plate`]: the plate read from the vehicle's largest views, voted, judged against the
//!   confidence floor;
//! - [`data_bar`]: the lines stamped below each image;
//! - [`images`]: stamping, outlining, masking, the close-up, JPEG;
//! - [`clip`]: the camera's own H.264 remuxed for the police, and its masked copy.

pub mod clip;
pub mod data_bar;
pub mod images;
pub mod package;
pub mod plate;
pub mod stage;

pub use images::{
    Capture, File, Shape, jpeg, local_time, mask, mask_in_place, mask_regions, others, outside,
    plate_closeup, stamp, whole,
};
pub(crate) use images::{draw_text, outline};
