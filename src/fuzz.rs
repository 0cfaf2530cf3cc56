//! What every fuzz engine's target calls (libFuzzer, AFL, honggfuzz), so that a crash file from
//! one engine replays byte for byte through the others and through `iommufuzz replay`.
//!
//! Configuration comes from the environment, because engines pass no arguments to a target:
//! - `IOMMUFUZZ_VARIANT`: variant the `vtd` or `smmuv3` target runs (default: the model's
//!   upstream variant).
//! - `IOMMUFUZZ_SUPPRESSIONS`: a suppressions file (`class:function:cause` per line) added to
//!   the built-in ones (VT-d only; SMMUv3 has none, as in `iommufuzz replay --model smmuv3`);
//!   matching violations do not crash. When it is unset, a file next to the fuzz binary is
//!   used if there is one, `iommufuzz.supp` for the VT-d targets and `iommufuzz-smmuv3.supp`
//!   for `smmuv3`: OSS-Fuzz and ClusterFuzzLite cannot set environment variables, but ship
//!   every file of `$OUT`.
//! - `IOMMUFUZZ_ONLY`: crash only on violations matching these signatures (same syntax, `;` or
//!   newline separated); time-to-bug measurements use it to wait for one particular bug.
//!
//! A bad value is a configuration error, not a finding: the process prints one line and exits
//! with code 2 instead of panicking, so no engine records it as a crash.

use crate::cli::campaign::{tag, Campaign};
use crate::cli::replay::report;
use crate::oracle::Suppressions;
use crate::report::view::View;
use crate::sim::model::{self, Model, Variant as _};
use crate::sim::outcome::Source;
use crate::sim::runner::Runner;
use crate::smmuv3::model::Smmuv3Model;
use crate::vtd::model::VtdModel;
use std::cell::RefCell;
use std::path::Path;
use std::thread::LocalKey;

/// Environment variable naming the variant of the `vtd` or `smmuv3` target.
pub const ENV_VARIANT: &str = "IOMMUFUZZ_VARIANT";
/// Environment variable naming an extra suppressions file.
pub const ENV_SUPPRESSIONS: &str = "IOMMUFUZZ_SUPPRESSIONS";
/// Environment variable restricting crashes to matching signatures.
pub const ENV_ONLY: &str = "IOMMUFUZZ_ONLY";

/// A fuzz target's state for model `M`: one runner reused across executions, plus its
/// configuration.
pub struct Target<M: Model> {
    runner: Runner<M>,
    variant: &'static M::Variant,
    only: Option<Suppressions>,
}

/// The `vtd` and `vtd_any` targets' state.
pub type VtdTarget = Target<VtdModel>;
/// The `smmuv3` target's state.
pub type SmmuTarget = Target<Smmuv3Model>;

fn config_error(msg: String) -> ! {
    eprintln!("iommufuzz fuzz target: {msg}");
    std::process::exit(2)
}

/// The suppressions file: `IOMMUFUZZ_SUPPRESSIONS`, else `beside` next to the binary if present.
fn env_suppressions(beside: &str) -> Option<String> {
    let next_to_binary = std::env::current_exe()
        .ok()
        .map(|p| p.with_file_name(beside))
        .filter(|p| p.is_file())
        .map(|p| p.to_string_lossy().to_string());
    std::env::var(ENV_SUPPRESSIONS).ok().or(next_to_binary)
}

/// Name of the suppressions file read beside the binary: `iommufuzz.supp` for VT-d, the first
/// model, `iommufuzz-<model>.supp` for the others, so one `$OUT` holds all of them.
fn beside_binary<M: Campaign>() -> String {
    if M::NAMED {
        format!("iommufuzz-{}.supp", M::NAME)
    } else {
        "iommufuzz.supp".into()
    }
}

/// Reads an extra suppressions file onto `text` and parses the whole.
fn suppressions(mut text: String, file: Option<&str>) -> Result<Suppressions, String> {
    if let Some(p) = file.filter(|s| !s.is_empty()) {
        let s = std::fs::read_to_string(p).map_err(|e| format!("{ENV_SUPPRESSIONS}={p}: {e}"))?;
        text.push_str(&s);
    }
    Suppressions::parse(&text).map_err(|e| format!("suppressions: {e}"))
}

/// Parses `IOMMUFUZZ_ONLY` (`;` or newline separated signatures).
fn only_filter(only: Option<&str>) -> Result<Option<Suppressions>, String> {
    match only.filter(|s| !s.is_empty()) {
        Some(o) => Suppressions::parse(&o.replace(';', "\n"))
            .map(Some)
            .map_err(|e| format!("{ENV_ONLY}: {e}")),
        None => Ok(None),
    }
}

impl<M: Campaign + View> Target<M> {
    /// Reads the configuration from the environment (see the module documentation).
    pub fn from_env() -> Self {
        Self::configure(
            std::env::var(ENV_VARIANT).ok().as_deref(),
            env_suppressions(&beside_binary::<M>()).as_deref(),
            std::env::var(ENV_ONLY).ok().as_deref(),
        )
        .unwrap_or_else(|e| config_error(e))
    }

    /// Builds a target from explicit settings (`None` = default: the model's upstream variant,
    /// its built-in suppressions, every violation crashes).
    pub fn configure(
        variant: Option<&str>,
        suppressions: Option<&str>,
        only: Option<&str>,
    ) -> Result<Self, String> {
        let variant = match variant.filter(|s| !s.is_empty()) {
            Some(n) => model::by_name::<M>(n).ok_or_else(|| {
                format!(
                    "{ENV_VARIANT}={n:?} is not a known {}variant",
                    tag::<M>(" ")
                )
            })?,
            None => model::newest::<M>(),
        };
        let mut runner = Runner::default();
        runner.sup = self::suppressions(M::SUPPRESSIONS.to_string(), suppressions)?;
        // Most inputs pass: their runs go untraced, and an input that crashes is run again
        // with its trace for the report.
        runner.set_tracing(false);
        let only = only_filter(only)?;
        Ok(Target {
            runner,
            variant,
            only,
        })
    }

    /// The variant the target runs.
    pub fn variant(&self) -> &'static M::Variant {
        self.variant
    }

    /// Runs `data` on `var` as `iommufuzz replay` decodes it; returns the report of a
    /// violation that should crash.
    pub fn check_on(&mut self, var: &'static M::Variant, data: &[u8]) -> Option<String> {
        let sc = model::decode::<M>(data);
        let v = self.runner.run(&sc, var, Source::Bytes(&sc.decisions));
        let x = v.violation.as_ref()?;
        if self.only.as_ref().is_some_and(|o| !o.matches(x)) {
            return None;
        }
        let sig = x.signature();
        self.runner.set_tracing(true);
        let v = self.runner.run(&sc, var, Source::Bytes(&sc.decisions));
        self.runner.set_tracing(false);
        assert_eq!(
            v.violation.as_ref().map(|x| x.signature()),
            Some(sig),
            "a traced run takes the same course as the untraced one"
        );
        Some(report(
            &self.runner,
            &v,
            var,
            Path::new("<crash-file>"),
            false,
        ))
    }

    /// The `vtd` and `smmuv3` targets: the whole input is one raw scenario on the configured
    /// variant.
    pub fn check(&mut self, data: &[u8]) -> Option<String> {
        self.check_on(self.variant, data)
    }

    /// The `vtd_any` target: the first byte picks the variant, the rest is the raw scenario.
    pub fn check_any(&mut self, data: &[u8]) -> Option<String> {
        let (var, rest) = split_any::<M>(data);
        let r = self.check_on(var, rest)?;
        // The whole file, variant byte included, is what replays.
        Some(r.replace(&format!("--variant {}\n", var.name()), "--any\n"))
    }
}

/// Splits a `vtd_any` input into its variant (first byte modulo the number of variants) and the
/// raw scenario. An empty input runs the first variant with an empty scenario.
pub fn split_any<M: Model>(data: &[u8]) -> (&'static M::Variant, &[u8]) {
    let vs = M::variants();
    match data.split_first() {
        Some((b, rest)) => (&vs[*b as usize % vs.len()], rest),
        None => (&vs[0], data),
    }
}

/// The byte that makes a `vtd_any` input select `v`.
pub fn any_byte<M: Model>(v: &M::Variant) -> u8 {
    M::variants()
        .iter()
        .position(|x| x.name() == v.name())
        .expect("variant is registered") as u8
}

thread_local! {
    // Engines call the target on one thread; the runner's buffers are reused across calls.
    static TARGET: RefCell<Option<VtdTarget>> = const { RefCell::new(None) };
    static SMMU_TARGET: RefCell<Option<SmmuTarget>> = const { RefCell::new(None) };
}

/// Runs `f` on the thread's target of model `M`, configuring it on first use.
fn with_target<M: Campaign + View, R>(
    key: &'static LocalKey<RefCell<Option<Target<M>>>>,
    f: impl FnOnce(&mut Target<M>) -> R,
) -> R {
    key.with(|t| {
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
    crash(with_target(&TARGET, |t| t.check(data)));
}

/// Body of the `vtd_any` fuzz target: like [`vtd`], the first byte choosing the variant.
pub fn vtd_any(data: &[u8]) {
    crash(with_target(&TARGET, |t| t.check_any(data)));
}

/// Body of the `smmuv3` fuzz target: panics with the report when a violation is found.
pub fn smmuv3(data: &[u8]) {
    crash(with_target(&SMMU_TARGET, |t| t.check(data)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_reported_not_panicked() {
        assert!(VtdTarget::configure(Some("linux-9.9"), None, None)
            .err()
            .unwrap()
            .contains("not a known variant"));
        assert!(VtdTarget::configure(None, Some("/nonexistent/x.supp"), None).is_err());
        assert!(VtdTarget::configure(None, None, Some("bogus")).is_err());
        let t = VtdTarget::configure(None, None, None).unwrap();
        assert_eq!(t.variant().name, crate::vtd::variants::newest().name);
    }

    #[test]
    fn smmuv3_settings_default_to_upstream_and_bad_ones_are_reported() {
        let t = SmmuTarget::configure(None, None, None).unwrap();
        assert_eq!(t.variant().name, crate::smmuv3::variants::newest().name);
        let e = SmmuTarget::configure(Some("linux-7.0-typo"), None, None)
            .err()
            .unwrap();
        assert!(e.contains("not a known smmuv3 variant"), "{e}");
        // A VT-d variant name is not an SMMUv3 one.
        assert!(SmmuTarget::configure(Some("linux-5.8"), None, None).is_err());
        assert!(SmmuTarget::configure(None, Some("/nonexistent/x.supp"), None).is_err());
        assert!(SmmuTarget::configure(None, None, Some("bogus")).is_err());
        let t = SmmuTarget::configure(Some("rfc-syscore"), None, None).unwrap();
        assert_eq!(t.variant().name, "rfc-syscore");
    }

    #[test]
    fn smmuv3_check_is_replay_and_honours_suppressions_and_only() {
        // The first seeded random input that violates on upstream (explore finds one in a few
        // dozen runs).
        use rand::{Rng, SeedableRng};
        let mut t = SmmuTarget::configure(None, None, None).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let input = (0..20_000)
            .map(|_| {
                let mut b = vec![0u8; 200];
                rng.fill_bytes(&mut b);
                b
            })
            .find(|raw| t.check(raw).is_some())
            .expect("random inputs violate on upstream");
        let rep = t.check(&input).unwrap();
        assert!(rep.contains("--model smmuv3 --variant linux-7.0"), "{rep}");
        let sig = crate::smmuv3::scenario::run_raw(&mut t.runner, t.variant, &input)
            .violation
            .unwrap()
            .signature();
        assert!(rep.contains(&sig));
        let mut other = SmmuTarget::configure(None, None, Some("starvation:nope:*")).unwrap();
        assert!(other.check(&input).is_none());
        let mut same = SmmuTarget::configure(None, None, Some(&format!("x:y:z;{sig}")));
        assert!(same.is_err(), "an unknown class is a configuration error");
        same = SmmuTarget::configure(None, None, Some(&sig));
        assert!(same.unwrap().check(&input).is_some());
        let supp = std::env::temp_dir().join(format!("iommufuzz-fuzz-{}.supp", std::process::id()));
        std::fs::write(&supp, format!("{sig}\n")).unwrap();
        let mut quiet = SmmuTarget::configure(None, supp.to_str(), None).unwrap();
        let hidden = quiet.check(&input);
        std::fs::remove_file(&supp).unwrap();
        // Suppressed, the run goes on: it passes or stops on another signature.
        assert!(hidden.is_none_or(|r| !r.contains(&format!("(signature {sig})"))));
    }

    #[test]
    fn any_byte_selects_every_variant() {
        for v in crate::VARIANTS {
            let data = [any_byte::<VtdModel>(v), 9, 9];
            let (w, rest) = split_any::<VtdModel>(&data);
            assert_eq!(w.name, v.name);
            assert_eq!(rest, &[9, 9]);
        }
    }

    #[test]
    fn only_filter_lets_other_violations_pass() {
        // Find an input that violates on the newest variant, then check the filter on it.
        let mut t = VtdTarget::configure(None, None, None).unwrap();
        let input = crate::bench_inputs(64)
            .into_iter()
            .map(|sc| crate::vtd::encode::encode(&sc, &sc.decisions).unwrap())
            .find(|raw| t.check(raw).is_some())
            .expect("the benchmark workload has violations on the newest variant");
        let v = crate::run_raw(&mut t.runner, t.variant, &input);
        let sig = v.violation.unwrap().signature();
        let mut same = VtdTarget::configure(
            None,
            None,
            Some(&format!("lost-completion:nope:nope;{sig}")),
        )
        .unwrap();
        assert!(same.check(&input).unwrap().contains(&sig));
        let mut other = VtdTarget::configure(None, None, Some("false-success:nope:*")).unwrap();
        assert!(other.check(&input).is_none());
    }
}
