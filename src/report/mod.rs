//! Reports: the per-CPU column timeline, kernel-log style, rendered from the trace, the same
//! report as JSON, and what each model shows of itself in them.

pub mod json;
pub mod timeline;
pub mod view;
