//! What a model (VT-d, SMMUv3) hands to the code every model shares: its world and scenario
//! types, its variants, the raw decoder's head, how a run starts, and its decision labels.
//!
//! The runner, the scenario file and the campaign commands are written once against this trait.
//! It is implemented by a marker type per model and used only through generics, so each model
//! still gets its own monomorphic executor loop: nothing is dispatched dynamically per step.

use super::choice::Step;
use super::cpu::Cx;
use super::executor::World;
use super::scenario::{Program, Scenario};
use crate::oracle::Suppressions;
use arbitrary::{Result as AResult, Unstructured};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::future::Future;

/// A named kernel version or patch of a model's driver.
pub trait Variant: Debug + Sync + 'static {
    /// Name used on the command line and in scenario files.
    fn name(&self) -> &'static str;
    /// Commits it reflects.
    fn commits(&self) -> &'static str;
    /// One line.
    fn desc(&self) -> &'static str;
    /// True for the variant that models current upstream.
    fn upstream(&self) -> bool;
}

/// Implements [`Variant`] for a model's variant struct, whose fields `name`, `commits`, `desc`
/// and `upstream` say it all.
#[macro_export]
macro_rules! impl_variant {
    ($t:ty) => {
        impl $crate::sim::model::Variant for $t {
            fn name(&self) -> &'static str {
                self.name
            }
            fn commits(&self) -> &'static str {
                self.commits
            }
            fn desc(&self) -> &'static str {
                self.desc
            }
            fn upstream(&self) -> bool {
                self.upstream
            }
        }
    };
}

/// Bounds every element type of a scenario meets: cloned by the minimizer, compared by tests,
/// and written to and read from JSON scenario files.
pub trait Part: Clone + Debug + PartialEq + Eq + Serialize + DeserializeOwned {}
impl<T: Clone + Debug + PartialEq + Eq + Serialize + DeserializeOwned> Part for T {}

/// One model, as the shared runner and tools see it.
pub trait Model: Copy + Debug + Default + PartialEq + Eq + Send + Sync + 'static {
    /// Name on the command line and in scenario files.
    const NAME: &'static str;
    /// Shared state of one run.
    type World: World;
    /// Named kernel versions.
    type Variant: Variant;
    /// Per-run configuration.
    type Config: Part + Default;
    /// One operation of a CPU's program.
    type Op: Part;
    /// A fault the decisions may inject.
    type Fault: Part + Copy;
    /// An environment event the decisions may fire.
    type Env: Part + Copy;

    /// Every variant, in the order `list` prints them.
    fn variants() -> &'static [Self::Variant];
    /// A world to reuse across runs (each run resets it).
    fn world() -> Self::World;
    /// Signatures a runner suppresses unless told otherwise, as suppressions-file text: the
    /// command line adds a user's file to it and `--no-default-suppressions` leaves it out.
    const SUPPRESSIONS: &'static str;

    /// The built-in suppressions, parsed.
    fn default_suppressions() -> Suppressions {
        Suppressions::parse(Self::SUPPRESSIONS).expect("built-in suppressions parse")
    }
    /// Decodes the head of a raw input (everything before the decisions).
    fn head(u: &mut Unstructured) -> AResult<ScenarioOf<Self>>;
    /// Checks a scenario (from JSON or hand-written) against the model's limits.
    fn validate(sc: &ScenarioOf<Self>) -> Result<(), String>;
    /// Resets `w` for a run of `sc` on `v` with `ncpus` CPUs, its faults and events listed.
    fn start(w: &mut Self::World, sc: &ScenarioOf<Self>, v: &'static Self::Variant, ncpus: u8);
    /// A CPU's whole program.
    fn cpu_main<'a>(
        cx: Cx<'a, Self::World>,
        prog: &'a Program<Self::Op>,
    ) -> impl Future<Output = ()> + 'a;
    /// Hash of the trace the last run left in `w`.
    fn trace_hash(w: &Self::World) -> u64;
    /// Switches the recording of `w`'s trace on or off (see [`crate::sim::trace::Trace`]).
    fn set_tracing(w: &mut Self::World, on: bool);
    /// Renders a decision label (`cpu1`, `fault:iqe`, ...).
    fn step_label(s: &Step<Act<Self>>) -> String;
    /// Parses a decision label.
    fn parse_step(s: &str) -> Option<Step<Act<Self>>>;
}

/// A model's actions: what its decision labels name besides CPUs.
pub type Act<M> = <<M as Model>::World as World>::Action;

/// A model's scenario.
pub type ScenarioOf<M> =
    Scenario<<M as Model>::Config, <M as Model>::Op, <M as Model>::Fault, <M as Model>::Env>;

/// The variant that models current upstream.
pub fn newest<M: Model>() -> &'static M::Variant {
    M::variants()
        .iter()
        .find(|v| v.upstream())
        .expect("one variant is marked upstream")
}

/// Looks a variant up by name.
pub fn by_name<M: Model>(name: &str) -> Option<&'static M::Variant> {
    M::variants().iter().find(|v| v.name() == name)
}

/// Decodes raw fuzzer bytes: the one decoder every front end uses. The head comes first, every
/// remaining byte is one scheduling decision.
pub fn decode<M: Model>(data: &[u8]) -> ScenarioOf<M> {
    let mut u = Unstructured::new(data);
    // Decoding never fails: arbitrary yields the smallest choice when bytes run out.
    match M::head(&mut u) {
        Ok(mut sc) => {
            sc.decisions = u.take_rest().to_vec();
            sc
        }
        Err(_) => Scenario {
            config: M::Config::default(),
            cpus: vec![Program::default()],
            faults: Vec::new(),
            env: Vec::new(),
            decisions: Vec::new(),
        },
    }
}
