//! Oracles: what counts as a violation.
//!
//! Each property is one file with a one-line contract. Oracles never panic; they return a
//! [`Violation`]. Fuzz targets turn a violation into a panic so every engine sees a crash.
//! Classes can be switched off per run and known signatures suppressed (a suppressions file,
//! as sanitizers have); suppressed findings are still counted and listed.

pub mod completion;
pub mod false_success;
pub mod progress;
pub mod watchdog;

use crate::sim::clock::Time;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// The property a violation breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// A CPU can never leave its loop, interrupts off.
    HardLockup,
    /// A CPU can never leave its loop, interrupts on.
    SoftLockup,
    /// A CPU had interrupts off past the hard-lockup threshold (it may finish later).
    WatchdogHardLockup,
    /// A CPU did not schedule past the soft-lockup threshold.
    WatchdogSoftLockup,
    /// A CPU did not pass a quiescent state past the RCU stall timeout.
    RcuStall,
    /// A completion did not reach its owner, or reached someone else.
    LostCompletion,
    /// A slot was freed, reused or overwritten while its owner or the hardware needed it.
    SlotReuse,
    /// A submission returned success for an invalidation the hardware never ran.
    FalseSuccess,
    /// A register or pointer invariant broke.
    QueueIntegrity,
    /// The reboot did not complete within its bound.
    RebootHang,
    /// A lock waiter was bypassed again and again (no bound on its wait).
    Starvation,
}

/// Every class, in report order.
pub const ALL_CLASSES: [Class; 11] = [
    Class::HardLockup,
    Class::SoftLockup,
    Class::WatchdogHardLockup,
    Class::WatchdogSoftLockup,
    Class::RcuStall,
    Class::LostCompletion,
    Class::SlotReuse,
    Class::FalseSuccess,
    Class::QueueIntegrity,
    Class::RebootHang,
    Class::Starvation,
];

impl Class {
    /// The kebab-case name used in files and signatures.
    pub fn name(self) -> &'static str {
        match self {
            Class::HardLockup => "hard-lockup",
            Class::SoftLockup => "soft-lockup",
            Class::WatchdogHardLockup => "watchdog-hard-lockup",
            Class::WatchdogSoftLockup => "watchdog-soft-lockup",
            Class::RcuStall => "rcu-stall",
            Class::LostCompletion => "lost-completion",
            Class::SlotReuse => "slot-reuse",
            Class::FalseSuccess => "false-success",
            Class::QueueIntegrity => "queue-integrity",
            Class::RebootHang => "reboot-hang",
            Class::Starvation => "starvation",
        }
    }

    /// Parses a class name.
    pub fn parse(s: &str) -> Option<Class> {
        ALL_CLASSES.iter().copied().find(|c| c.name() == s)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A broken property, with everything a report needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Which property.
    pub class: Class,
    /// The CPU involved, if any.
    pub cpu: Option<u8>,
    /// The kernel function involved (a name the model knows statically; a file's own text when
    /// read back from JSON).
    pub func: Cow<'static, str>,
    /// A short machine-readable cause (e.g. `ats-timeout`, `odd-walk`), part of the signature.
    pub cause: Cow<'static, str>,
    /// Virtual time in ns.
    pub time: Time,
    /// One-paragraph explanation.
    pub msg: String,
}

impl Violation {
    /// A queue-integrity violation: invariant `why` (its first word is the cause) failed at
    /// virtual time `time`.
    pub fn integrity(why: &'static str, time: Time) -> Self {
        Violation {
            class: Class::QueueIntegrity,
            cpu: None,
            func: "invariant".into(),
            cause: why.split(' ').next().unwrap_or("").into(),
            time,
            msg: why.into(),
        }
    }

    /// `class:function:cause`, what suppressions and triage match on.
    pub fn signature(&self) -> String {
        format!("{}:{}:{}", self.class.name(), self.func, self.cause)
    }
}

/// Which oracle classes are on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OracleMask(u16);

impl Default for OracleMask {
    fn default() -> Self {
        OracleMask(u16::MAX)
    }
}

impl OracleMask {
    /// True when `c` is checked.
    #[inline]
    pub fn on(self, c: Class) -> bool {
        self.0 & c.bit() != 0
    }
    /// Turns `c` off.
    pub fn without(self, c: Class) -> Self {
        OracleMask(self.0 & !c.bit())
    }
}

/// Known signatures that do not stop a run: `class:function:cause`, `*` matches any field.
#[derive(Clone, Debug, Default)]
pub struct Suppressions {
    rules: Vec<[String; 3]>,
}

impl Suppressions {
    /// Parses a suppressions file: one signature per line, `#` comments.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let parts: Vec<&str> = line.split(':').collect();
            if parts.len() != 3 {
                return Err(format!(
                    "line {}: expected class:function:cause, got {:?}",
                    n + 1,
                    line
                ));
            }
            if parts[0] != "*" && Class::parse(parts[0]).is_none() {
                return Err(format!("line {}: unknown class {:?}", n + 1, parts[0]));
            }
            rules.push([
                parts[0].to_string(),
                parts[1].to_string(),
                parts[2].to_string(),
            ]);
        }
        Ok(Suppressions { rules })
    }

    /// True when `v` matches a rule.
    pub fn matches(&self, v: &Violation) -> bool {
        let f = |p: &str, s: &str| p == "*" || p == s;
        self.rules
            .iter()
            .any(|r| f(&r[0], v.class.name()) && f(&r[1], &v.func) && f(&r[2], &v.cause))
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// What a run found: the first violation that stops it, and the suppressed ones.
#[derive(Clone, Debug, Default)]
pub struct Findings {
    /// The first unsuppressed violation; the run stops on it.
    pub violation: Option<Violation>,
    /// Suppressed violations, in order.
    pub suppressed: Vec<Violation>,
}

impl Findings {
    /// Files `v`: suppressed, ignored (class off), or the run's verdict. Returns true to stop.
    pub fn file(&mut self, v: Violation, mask: OracleMask, sup: &Suppressions) -> bool {
        if !mask.on(v.class) {
            return false;
        }
        if sup.matches(&v) {
            if self.suppressed.len() < 64 {
                self.suppressed.push(v);
            }
            return false;
        }
        if self.violation.is_none() {
            self.violation = Some(v);
        }
        true
    }

    /// Forget everything (reused across executions).
    pub fn clear(&mut self) {
        self.violation = None;
        self.suppressed.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(class: Class, func: &'static str, cause: &'static str) -> Violation {
        Violation {
            class,
            cpu: Some(0),
            func: func.into(),
            cause: cause.into(),
            time: 0,
            msg: String::new(),
        }
    }

    #[test]
    fn suppressions_match_by_field_with_wildcards() {
        let s =
            Suppressions::parse("# c\nwatchdog-hard-lockup:qi_submit_sync:ats-timeout\n*:foo:*\n")
                .unwrap();
        assert_eq!(s.len(), 2);
        assert!(s.matches(&v(
            Class::WatchdogHardLockup,
            "qi_submit_sync",
            "ats-timeout"
        )));
        assert!(!s.matches(&v(Class::HardLockup, "qi_submit_sync", "ats-timeout")));
        assert!(s.matches(&v(Class::FalseSuccess, "foo", "x")));
        assert!(Suppressions::parse("nope:a:b").is_err());
        assert!(Suppressions::parse("a:b").is_err());
    }

    #[test]
    fn findings_stop_only_on_unsuppressed_enabled_classes() {
        let s = Suppressions::parse("rcu-stall:*:*").unwrap();
        let mut f = Findings::default();
        assert!(!f.file(v(Class::RcuStall, "x", "y"), OracleMask::default(), &s));
        assert_eq!(f.suppressed.len(), 1);
        let mask = OracleMask::default().without(Class::SlotReuse);
        assert!(!f.file(v(Class::SlotReuse, "x", "y"), mask, &s));
        assert!(f.file(v(Class::HardLockup, "x", "y"), mask, &s));
        assert_eq!(f.violation.as_ref().unwrap().class, Class::HardLockup);
    }
}
