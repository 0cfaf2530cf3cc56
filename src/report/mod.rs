//! Reports: the per-CPU column timeline, kernel-log style, rendered from the trace.

pub mod timeline;
