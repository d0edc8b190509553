//! Synthetic trichoscopy photos with exact ground truth.
//!
//! Every accuracy figure of this crate is measured on images from this generator,
//! on seeds the analysis was not tuned on. The scene is modelled in micrometres and
//! converted with the image's µm/px; see [`truth`] for the coordinate convention.

pub mod truth;

pub use truth::{PairTruth, Truth};
