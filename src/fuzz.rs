//! What every fuzz engine's target calls (libFuzzer, AFL, honggfuzz), so that a crash file from
//! one engine replays byte for byte through the others and through `iommufuzz replay`.
//!
//! Configuration comes from the environment, because engines pass no arguments to a target:
//! - `IOMMUFUZZ_VARIANT`: variant the `vtd` target runs (default: the newest upstream).
//! - `IOMMUFUZZ_SUPPRESSIONS`: a suppressions file (`class:function:cause` per line) added to
//!   the built-in ones; matching violations do not crash. When it is unset, a file named
//!   `iommufuzz.supp` next to the fuzz binary is used if there is one: OSS-Fuzz and
//!   ClusterFuzzLite cannot set environment variables, but ship every file of `$OUT`.
//! - `IOMMUFUZZ_ONLY`: crash only on violations matching these signatures (same syntax, `;` or
//!   newline separated); time-to-bug measurements use it to wait for one particular bug.
//!
//! A bad value is a configuration error, not a finding: the process prints one line and exits
//! with code 2 instead of panicking, so no engine records it as a crash.

use crate::cli::replay::report;
use crate::oracle::Suppressions;
use crate::vtd::scenario::Runner;
use crate::vtd::variants::{self, Variant, VARIANTS};
use std::cell::RefCell;
use std::path::Path;

/// Environment variable naming the variant of the `vtd` target.
pub const ENV_VARIANT: &str = "IOMMUFUZZ_VARIANT";
/// Environment variable naming an extra suppressions file.
pub const ENV_SUPPRESSIONS: &str = "IOMMUFUZZ_SUPPRESSIONS";
/// Environment variable restricting crashes to matching signatures.
pub const ENV_ONLY: &str = "IOMMUFUZZ_ONLY";

/// A fuzz target's state: one runner reused across executions, plus its configuration.
pub struct Target {
    runner: Runner,
    variant: &'static Variant,
    only: Option<Suppressions>,
}

fn config_error(msg: String) -> ! {
    eprintln!("iommufuzz fuzz target: {msg}");
    std::process::exit(2)
}

impl Target {
    /// Reads the configuration from the environment (see the module documentation).
    pub fn from_env() -> Self {
        let beside = std::env::current_exe()
            .ok()
            .map(|p| p.with_file_name("iommufuzz.supp"))
            .filter(|p| p.is_file())
            .map(|p| p.to_string_lossy().to_string());
        let supp = std::env::var(ENV_SUPPRESSIONS).ok().or(beside);
        Self::configure(
            std::env::var(ENV_VARIANT).ok().as_deref(),
            supp.as_deref(),
            std::env::var(ENV_ONLY).ok().as_deref(),
        )
        .unwrap_or_else(|e| config_error(e))
    }

    /// Builds a target from explicit settings (`None` = default).
    pub fn configure(
        variant: Option<&str>,
        suppressions: Option<&str>,
        only: Option<&str>,
    ) -> Result<Self, String> {
        let variant = match variant.filter(|s| !s.is_empty()) {
            Some(n) => variants::by_name(n)
                .ok_or_else(|| format!("{ENV_VARIANT}={n:?} is not a known variant"))?,
            None => variants::newest(),
        };
        let mut text = crate::DEFAULT_SUPPRESSIONS.to_string();
        if let Some(p) = suppressions.filter(|s| !s.is_empty()) {
            let s =
                std::fs::read_to_string(p).map_err(|e| format!("{ENV_SUPPRESSIONS}={p}: {e}"))?;
            text.push_str(&s);
        }
        let mut runner = Runner::default();
        runner.sup = Suppressions::parse(&text).map_err(|e| format!("suppressions: {e}"))?;
        let only = match only.filter(|s| !s.is_empty()) {
            Some(o) => Some(
                Suppressions::parse(&o.replace(';', "\n"))
                    .map_err(|e| format!("{ENV_ONLY}: {e}"))?,
            ),
            None => None,
        };
        Ok(Target {
            runner,
            variant,
            only,
        })
    }

    /// The variant the `vtd` target runs.
    pub fn variant(&self) -> &'static Variant {
        self.variant
    }

    /// Runs `data` on `var`; returns the report of a violation that should crash.
    pub fn check_on(&mut self, var: &'static Variant, data: &[u8]) -> Option<String> {
        let v = crate::run_raw(&mut self.runner, var, data);
        let x = v.violation.as_ref()?;
        if self.only.as_ref().is_some_and(|o| !o.matches(x)) {
            return None;
        }
        Some(report(
            &self.runner,
            &v,
            var,
            Path::new("<crash-file>"),
            false,
        ))
    }

    /// The `vtd` target: the whole input is one raw scenario on the configured variant.
    pub fn check(&mut self, data: &[u8]) -> Option<String> {
        self.check_on(self.variant, data)
    }

    /// The `vtd_any` target: the first byte picks the variant, the rest is the raw scenario.
    pub fn check_any(&mut self, data: &[u8]) -> Option<String> {
        let (var, rest) = split_any(data);
        let r = self.check_on(var, rest)?;
        // The whole file, variant byte included, is what replays.
        Some(r.replace(&format!("--variant {}\n", var.name), "--any\n"))
    }
}

/// Splits a `vtd_any` input into its variant (first byte modulo the number of variants) and the
/// raw scenario. An empty input runs the first variant with an empty scenario.
pub fn split_any(data: &[u8]) -> (&'static Variant, &[u8]) {
    match data.split_first() {
        Some((b, rest)) => (&VARIANTS[*b as usize % VARIANTS.len()], rest),
        None => (&VARIANTS[0], data),
    }
}

/// The byte that makes a `vtd_any` input select `v`.
pub fn any_byte(v: &Variant) -> u8 {
    variants::index_of(v) as u8
}

thread_local! {
    // Engines call the target on one thread; the runner's buffers are reused across calls.
    static TARGET: RefCell<Option<Target>> = const { RefCell::new(None) };
}

fn with_target<R>(f: impl FnOnce(&mut Target) -> R) -> R {
    TARGET.with(|t| {
        let mut t = t.borrow_mut();
        f(t.get_or_insert_with(Target::from_env))
    })
}

fn crash(report: Option<String>) {
    if let Some(r) = report {
        // The panic is the crash every engine records; its message is the whole report.
        panic!("iommufuzz found a violation\n{r}");
    }
}

/// Body of the `vtd` fuzz target: panics with the report when a violation is found.
pub fn vtd(data: &[u8]) {
    crash(with_target(|t| t.check(data)));
}

/// Body of the `vtd_any` fuzz target: like [`vtd`], the first byte choosing the variant.
pub fn vtd_any(data: &[u8]) {
    crash(with_target(|t| t.check_any(data)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_reported_not_panicked() {
        assert!(Target::configure(Some("linux-9.9"), None, None)
            .err()
            .unwrap()
            .contains("not a known variant"));
        assert!(Target::configure(None, Some("/nonexistent/x.supp"), None).is_err());
        assert!(Target::configure(None, None, Some("bogus")).is_err());
        let t = Target::configure(None, None, None).unwrap();
        assert_eq!(t.variant().name, variants::newest().name);
    }

    #[test]
    fn any_byte_selects_every_variant() {
        for v in VARIANTS {
            let data = [any_byte(v), 9, 9];
            let (w, rest) = split_any(&data);
            assert_eq!(w.name, v.name);
            assert_eq!(rest, &[9, 9]);
        }
    }

    #[test]
    fn only_filter_lets_other_violations_pass() {
        // Find an input that violates on the newest variant, then check the filter on it.
        let mut t = Target::configure(None, None, None).unwrap();
        let input = crate::bench_inputs(64)
            .into_iter()
            .map(|sc| crate::vtd::encode::encode(&sc, &sc.decisions).unwrap())
            .find(|raw| t.check(raw).is_some())
            .expect("the benchmark workload has violations on the newest variant");
        let v = crate::run_raw(&mut t.runner, t.variant, &input);
        let sig = v.violation.unwrap().signature();
        let mut same = Target::configure(
            None,
            None,
            Some(&format!("lost-completion:nope:nope;{sig}")),
        )
        .unwrap();
        assert!(same.check(&input).unwrap().contains(&sig));
        let mut other = Target::configure(None, None, Some("false-success:nope:*")).unwrap();
        assert!(other.check(&input).is_none());
    }
}
