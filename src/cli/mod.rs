//! The `iommufuzz` command line: list, replay, explore, check, regress, convert, bench, and the
//! campaign tools corpus, triage, minimize, ttb.
//! Exit codes: 0 no violation, 1 violation, 2 bad usage or unreadable input.

pub mod bench;
pub mod campaign;
pub mod check;
pub mod corpus;
pub mod digest;
pub mod explore;
pub mod input;
pub mod list;
pub mod minimize;
pub mod out;
pub mod regress;
pub mod replay;
pub mod triage;
pub mod ttb;

use crate::sim::model::Model;
use crate::sim::runner::Runner;
use crate::smmuv3::model::Smmuv3Model;
use crate::vtd::model::VtdModel;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Deterministic fault-injection fuzzing harness for IOMMU invalidation queues.
#[derive(Parser, Debug)]
#[command(name = "iommufuzz", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// Oracle options shared by the commands that run scenarios.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OracleArgs {
    /// Extra suppressions file (`class:function:cause` per line).
    #[arg(long)]
    pub suppressions: Option<PathBuf>,
    /// Do not apply the built-in suppressions (ATS-timeout watchdogs).
    #[arg(long)]
    pub no_default_suppressions: bool,
    /// Turn an oracle class off (repeatable), e.g. `--disable rcu-stall`.
    #[arg(long)]
    pub disable: Vec<String>,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Print the variants of each model with their commits.
    List {
        /// Also print each variant's knobs (what a new variant copies and changes).
        #[arg(long)]
        knobs: bool,
    },
    /// Replay a reproducer (raw bytes or JSON) and print the verdict and timeline.
    Replay {
        /// Reproducer file.
        file: PathBuf,
        /// Variant (default: the file's, else the newest upstream).
        #[arg(long)]
        variant: Option<String>,
        /// Print the whole timeline.
        #[arg(long)]
        full: bool,
        /// Report format: text (columns), json (one document) or html (one page); json and
        /// html hold the whole timeline.
        #[arg(long, value_enum, default_value_t = replay::Format::Text)]
        format: replay::Format,
        /// Write the run as a JSON scenario file.
        #[arg(long)]
        json_out: Option<PathBuf>,
        /// The raw file is a `vtd_any` input: its first byte selects the variant.
        #[arg(long, conflicts_with = "variant")]
        any: bool,
        /// Model of a raw input (JSON files name their own): vtd or smmuv3.
        #[arg(long)]
        model: Option<String>,
        /// Oracle options.
        #[command(flatten)]
        oracle: OracleArgs,
    },
    /// Seeded exploration through the fuzz decoder.
    Explore(explore::Args),
    /// Run every schedule of one scenario within a bound (exhaustive, delay-bounded).
    Check(check::Args),
    /// Replay every reproducer in DIR against its expectation file.
    Regress {
        /// Directory of `<bug>/scenario.json` + `<bug>/expect.json`.
        dir: PathBuf,
    },
    /// Convert a raw input into a JSON scenario file.
    Convert {
        /// Raw or JSON input.
        file: PathBuf,
        /// Output JSON path.
        #[arg(long)]
        out: PathBuf,
        /// Variant to record the decisions on.
        #[arg(long)]
        variant: Option<String>,
        /// Model of a raw input (JSON files name their own): vtd or smmuv3.
        #[arg(long)]
        model: Option<String>,
    },
    /// Executions per second on the standard workload.
    Bench(bench::Args),
    /// One hash per variant of what a fixed sample of runs decides (compare before and after
    /// a change meant to leave behaviour alone).
    Digest(digest::Args),
    /// Write the seed corpus (one seed per operation, fault and event), the same every time.
    Corpus {
        /// Output directory, e.g. corpus/vtd.
        #[arg(long)]
        out: PathBuf,
        /// Seeds for the `vtd_any` target (a variant byte first).
        #[arg(long)]
        any: bool,
        /// Variant the seeds must pass on (default: the newest upstream).
        #[arg(long, conflicts_with = "any")]
        variant: Option<String>,
        /// Also write the libFuzzer/AFL dictionary (scenario heads of the seeds) here.
        #[arg(long)]
        dict: Option<PathBuf>,
        /// Model of the seeds: vtd (default) or smmuv3 (corpus/smmuv3, fuzz/smmuv3.dict).
        #[arg(long)]
        model: Option<String>,
        /// Oracle options.
        #[command(flatten)]
        oracle: OracleArgs,
    },
    /// Group crash files by bug signature; one line per distinct bug with its smallest file.
    Triage {
        /// Directory of crash files (raw or JSON), searched recursively.
        dir: PathBuf,
        /// Variant for the files of `--model` (default: a JSON file's own, else the newest
        /// upstream of the model).
        #[arg(long)]
        variant: Option<String>,
        /// Raw files are `vtd_any` inputs (first byte selects the variant).
        #[arg(long, conflicts_with = "variant")]
        any: bool,
        /// Model of raw files: vtd (default) or smmuv3; JSON files name their own.
        #[arg(long)]
        model: Option<String>,
        /// Oracle options.
        #[command(flatten)]
        oracle: OracleArgs,
    },
    /// Shrink a reproducer by meaning while its violation signature persists.
    Minimize {
        /// Reproducer (raw or JSON).
        file: PathBuf,
        /// Variant (default: the file's, else the newest upstream).
        #[arg(long)]
        variant: Option<String>,
        /// The raw file is a `vtd_any` input (first byte selects the variant).
        #[arg(long, conflicts_with = "variant")]
        any: bool,
        /// Output path without extension (default: FILE's stem + `.min`); writes .json and .raw.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Model of a raw file: vtd (default) or smmuv3; JSON files name their own.
        #[arg(long)]
        model: Option<String>,
        /// Oracle options.
        #[command(flatten)]
        oracle: OracleArgs,
    },
    /// Time-to-bug benchmark over the known bugs in crashes/ for each available engine.
    Ttb(ttb::Args),
}

/// A command's failure: exit code 2 with a one-line reason.
pub struct Usage(pub String);

impl From<String> for Usage {
    fn from(s: String) -> Self {
        Usage(s)
    }
}

/// Checks a `--model` flag: vtd (the default) or smmuv3.
pub fn model_flag(m: Option<&str>) -> Result<&'static str, Usage> {
    match m.unwrap_or("vtd") {
        "vtd" => Ok("vtd"),
        Smmuv3Model::NAME => Ok(Smmuv3Model::NAME),
        x => Err(Usage(format!(
            "model {x:?} is not supported (known: vtd, smmuv3)"
        ))),
    }
}

/// The VT-d runner with the oracle flags applied (what `explore` runs).
pub fn runner(o: &OracleArgs) -> Result<crate::Runner, Usage> {
    runner_for::<VtdModel>(o)
}

/// Why `--any` is refused for SMMUv3 files: only the `vtd_any` target prefixes a variant byte.
pub const NO_SMMU_ANY: &str = "--any is for vtd_any inputs; raw smmuv3 files have no variant byte";

/// A runner of model `M` with the oracle flags applied: the model's built-in suppressions
/// unless `--no-default-suppressions`, then the user's file, then the disabled classes.
pub fn runner_for<M: Model>(o: &OracleArgs) -> Result<Runner<M>, Usage> {
    let mut r = Runner::<M>::default();
    let mut text = String::new();
    if !o.no_default_suppressions {
        text.push_str(M::SUPPRESSIONS);
    }
    if let Some(p) = &o.suppressions {
        let s = std::fs::read_to_string(p).map_err(|e| Usage(format!("{}: {e}", p.display())))?;
        text.push_str(&s);
    }
    r.sup = crate::Suppressions::parse(&text).map_err(|e| Usage(format!("suppressions: {e}")))?;
    for d in &o.disable {
        let c =
            crate::Class::parse(d).ok_or_else(|| Usage(format!("unknown oracle class {d:?}")))?;
        r.mask = r.mask.without(c);
    }
    Ok(r)
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    if std::env::args_os().len() <= 1 {
        eprintln!("iommufuzz: a subcommand is required (list, replay, explore, regress, convert, bench); see --help");
        return 2;
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.use_stderr() => {
            // One line: clap's first line, without its usage block.
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("bad usage")
                .trim_start_matches("error: ");
            eprintln!("iommufuzz: {first}; see --help");
            return 2;
        }
        Err(e) => {
            let _ = e.print();
            return 0;
        }
    };
    let r = match cli.cmd {
        Cmd::List { knobs } => {
            list::list(knobs);
            Ok(0)
        }
        Cmd::Replay {
            file,
            variant,
            full,
            format,
            json_out,
            any,
            model,
            oracle,
        } => match input::model_of(&file, model.as_deref()) {
            // Raw SMMUv3 inputs carry no variant byte: `--any` is for vtd_any files.
            Ok(m) if m == Smmuv3Model::NAME && any => Err(Usage(NO_SMMU_ANY.into())),
            Ok(m) if m == Smmuv3Model::NAME => replay::replay::<Smmuv3Model>(
                &file,
                variant.as_deref(),
                false,
                (full, format),
                json_out.as_deref(),
                &oracle,
            ),
            Ok(_) => replay::replay::<VtdModel>(
                &file,
                variant.as_deref(),
                any,
                (full, format),
                json_out.as_deref(),
                &oracle,
            ),
            Err(e) => Err(e),
        },
        Cmd::Explore(a) => explore::explore(&a),
        Cmd::Check(a) => check::check(&a),
        Cmd::Regress { dir } => regress::regress(&dir),
        Cmd::Convert {
            file,
            out,
            variant,
            model,
        } => match input::model_of(&file, model.as_deref()) {
            Ok(m) if m == Smmuv3Model::NAME => {
                replay::convert::<Smmuv3Model>(&file, &out, variant.as_deref())
            }
            Ok(_) => replay::convert::<VtdModel>(&file, &out, variant.as_deref()),
            Err(e) => Err(e),
        },
        Cmd::Bench(a) => bench::bench(&a),
        Cmd::Digest(a) => digest::digest(&a),
        Cmd::Corpus {
            out,
            any,
            variant,
            dict,
            model,
            oracle,
        } => model_flag(model.as_deref()).and_then(|m| {
            corpus::corpus(&out, any, m, variant.as_deref(), dict.as_deref(), &oracle)
        }),
        Cmd::Triage {
            dir,
            variant,
            any,
            model,
            oracle,
        } => triage::triage(&dir, variant.as_deref(), any, model.as_deref(), &oracle),
        Cmd::Minimize {
            file,
            variant,
            any,
            out,
            model,
            oracle,
        } => minimize::minimize(
            &file,
            variant.as_deref(),
            any,
            model.as_deref(),
            out.as_deref(),
            &oracle,
        ),
        Cmd::Ttb(a) => ttb::ttb(&a),
    };
    match r {
        Ok(code) => code,
        Err(Usage(msg)) => {
            eprintln!("iommufuzz: {msg}");
            2
        }
    }
}
