//! Reports: the per-CPU column timeline, kernel-log style, rendered from the trace, the same
//! report as JSON or as one self-contained HTML page, and what each model shows of itself in them.

pub mod html;
pub mod json;
pub mod timeline;
pub mod view;
