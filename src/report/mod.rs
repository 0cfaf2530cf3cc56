//! Reports: the per-CPU column timeline, kernel-log style, rendered from the trace, and what
//! each model shows of itself in it.

pub mod timeline;
pub mod view;
