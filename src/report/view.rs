//! What a model shows of itself on screen, so `list`, `replay` and the fuzz targets' crash
//! reports are written once for every model: its title, the width of its variant names, the
//! notes under a verdict, its timeline and its queue state in the driver's words.

use super::timeline::Line;
use crate::sim::model::Model;

/// How a model's runs and variants read.
pub trait View: Model {
    /// What `list` says the model is: the hardware queue and the driver file.
    const TITLE: &'static str;
    /// Column `list` pads variant names to.
    const NAME_WIDTH: usize;
    /// Title of the timeline's last column (hardware, devices, environment).
    const HW_COLUMN: &'static str;

    /// Lines under the verdict on what the driver printed meanwhile (each ends in a newline).
    fn notes(w: &Self::World, o: &mut String);
    /// The trace of the last run as timeline lines.
    fn lines(w: &Self::World) -> Vec<Line>;
    /// The queue state now.
    fn state_now(w: &Self::World) -> String;
}
