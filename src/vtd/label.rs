//! Labels of the VT-d model's steps: what a decision names in a scenario file (`hw:fetch`,
//! `fault:ite dev0`, ...), printed and parsed so that a recorded schedule replays by meaning.

use super::ops::{EnvEvent, Fault};
use crate::sim::choice::Step;
use crate::sim::choice::{label_num as num, split_label};
use std::fmt;

/// A labelled model action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Act {
    /// Fetch the descriptor at IQH.
    Fetch,
    /// Execute the fetched descriptor of this slot (a wait: its status write lands).
    Exec(u16),
    /// The endpoint answers the ATS request of this slot.
    Answer(u16),
    /// The ATS completion timer of this slot's request fires.
    Timeout(u16),
    /// A late answer to a timed-out request arrives from this device (ICE).
    LateAnswer(u8),
    /// Quirk: a wait aborted by ITE completes after all (its slot).
    Stale(u16),
    /// `dmar_fault()` runs on this CPU.
    Irq(u8),
    /// Inject a listed fault.
    Inject(Fault),
    /// Fire a listed environment event.
    Env(EnvEvent),
}

impl fmt::Display for Act {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Act::Fetch => write!(f, "hw:fetch"),
            Act::Exec(s) => write!(f, "hw:exec {s}"),
            Act::Answer(s) => write!(f, "dev:answer {s}"),
            Act::Timeout(s) => write!(f, "hw:timeout {s}"),
            Act::LateAnswer(d) => write!(f, "dev{d}:late-answer"),
            Act::Stale(s) => write!(f, "hw:stale-wait {s}"),
            Act::Irq(c) => write!(f, "irq:dmar_fault cpu{c}"),
            Act::Inject(Fault::Ite(d)) => write!(f, "fault:ite dev{d}"),
            Act::Inject(Fault::Iqe) => write!(f, "fault:iqe"),
            Act::Inject(Fault::Ice(d)) => write!(f, "fault:ice dev{d}"),
            Act::Env(EnvEvent::Hang(d)) => write!(f, "env:hang dev{d}"),
            Act::Env(EnvEvent::Recover(d)) => write!(f, "env:recover dev{d}"),
            Act::Env(EnvEvent::Remove(d)) => write!(f, "env:remove dev{d}"),
            Act::Env(EnvEvent::LinkDown(d)) => write!(f, "env:link-down dev{d}"),
        }
    }
}

/// Parses a step label (`cpu1`, `hw:fetch`, `fault:ite dev0`, ...).
pub fn parse_step(s: &str) -> Option<Step<Act>> {
    let (a, b) = match split_label(s) {
        Ok(cpu) => return Some(cpu),
        Err(parts) => parts,
    };
    let act = match a {
        "hw:fetch" => Act::Fetch,
        "hw:exec" => Act::Exec(b.parse().ok()?),
        "dev:answer" => Act::Answer(b.parse().ok()?),
        "hw:timeout" => Act::Timeout(b.parse().ok()?),
        "hw:stale-wait" => Act::Stale(b.parse().ok()?),
        "irq:dmar_fault" => Act::Irq(num(b, "cpu")?),
        "fault:ite" => Act::Inject(Fault::Ite(num(b, "dev")?)),
        "fault:iqe" => Act::Inject(Fault::Iqe),
        "fault:ice" => Act::Inject(Fault::Ice(num(b, "dev")?)),
        "env:hang" => Act::Env(EnvEvent::Hang(num(b, "dev")?)),
        "env:recover" => Act::Env(EnvEvent::Recover(num(b, "dev")?)),
        "env:remove" => Act::Env(EnvEvent::Remove(num(b, "dev")?)),
        "env:link-down" => Act::Env(EnvEvent::LinkDown(num(b, "dev")?)),
        x => {
            let d = x
                .strip_prefix("dev")?
                .strip_suffix(":late-answer")?
                .parse()
                .ok()?;
            Act::LateAnswer(d)
        }
    };
    Some(Step::Model(act))
}

/// Renders a step label.
pub fn step_label(s: &Step<Act>) -> String {
    match s {
        Step::Cpu(c) => format!("cpu{c}"),
        Step::Model(a) => a.to_string(),
    }
}
