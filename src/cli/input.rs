//! Reading reproducers: raw fuzzer bytes or a JSON scenario file, with one-line reasons for
//! everything that cannot be read.

use crate::sim::choice::Step;
use crate::sim::model::{Act, Model, ScenarioOf};
use crate::sim::outcome::Source;
use crate::vtd::model::VtdModel;
use crate::vtd::scenario::{decode, ScenarioFile};
use crate::vtd::variants::{self, Variant};
use std::path::Path;

/// Largest input accepted (libFuzzer's default -max_len is far below this).
pub const MAX_INPUT: u64 = 1 << 20;

/// A reproducer of model `M` (VT-d unless named), decoded.
pub struct Loaded<M: Model = VtdModel> {
    /// The scenario.
    pub scenario: ScenarioOf<M>,
    /// Variant named in the file (JSON only).
    pub variant: Option<String>,
    /// Labelled decisions and heal point (JSON), or none (raw: the scenario's bytes).
    pub labels: Option<(Vec<Step<Act<M>>>, usize)>,
    /// The raw bytes, for raw inputs.
    pub raw: Option<Vec<u8>>,
}

impl<M: Model> Loaded<M> {
    /// Decision source for a run.
    pub fn source(&self) -> Source<'_, Act<M>> {
        match &self.labels {
            Some((log, h)) => Source::Replay(log.clone(), *h),
            None => Source::Bytes(&self.scenario.decisions),
        }
    }
}

/// True when the bytes look like a JSON document.
fn looks_like_json(b: &[u8]) -> bool {
    let first = b.iter().find(|c| !c.is_ascii_whitespace());
    matches!(first, Some(b'{') | Some(b'[')) && std::str::from_utf8(b).is_ok()
}

/// Reads and decodes a reproducer file.
pub fn load(path: &Path) -> Result<Loaded, String> {
    let p = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{p}: {e}"))?;
    if meta.is_dir() {
        return Err(format!("{p}: is a directory, expected a file"));
    }
    if meta.len() > MAX_INPUT {
        return Err(format!(
            "{p}: {} bytes is larger than the {MAX_INPUT}-byte limit",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{p}: {e}"))?;
    if bytes.is_empty() {
        return Err(format!("{p}: empty file"));
    }
    if looks_like_json(&bytes) {
        return load_json(&bytes).map_err(|e| format!("{p}: {e}"));
    }
    let scenario = decode(&bytes);
    Ok(Loaded {
        scenario,
        variant: None,
        labels: None,
        raw: Some(bytes),
    })
}

fn load_json(bytes: &[u8]) -> Result<Loaded, String> {
    let f: ScenarioFile = serde_json::from_slice(bytes)
        .map_err(|e| format!("not an iommufuzz scenario file: {e}"))?;
    if f.model != "vtd" {
        return Err(format!("model {:?} is not supported (known: vtd)", f.model));
    }
    f.scenario.validate()?;
    let log = f.steps()?;
    if f.heal_at > log.len() {
        return Err(format!(
            "heal_at {} is past the {} decisions",
            f.heal_at,
            log.len()
        ));
    }
    Ok(Loaded {
        scenario: f.scenario,
        variant: Some(f.variant),
        labels: Some((log, f.heal_at)),
        raw: None,
    })
}

/// Resolves a variant name: the flag, else the file's, else the newest upstream.
pub fn variant(flag: Option<&str>, file: Option<&str>) -> Result<&'static Variant, String> {
    match flag.or(file) {
        Some(n) => variants::by_name(n)
            .ok_or_else(|| format!("unknown variant {n:?} (see `iommufuzz list`)")),
        None => Ok(variants::newest()),
    }
}

/// Reads a reproducer; with `any`, a raw file is a `vtd_any` input whose first byte names the
/// variant (as the `vtd_any` fuzz target reads it).
pub fn load_as(path: &Path, any: bool) -> Result<Loaded, String> {
    let mut l = load(path)?;
    if any {
        if let Some(raw) = &l.raw {
            let (v, rest) = crate::fuzz::split_any(raw);
            l.scenario = decode(rest);
            l.variant = Some(v.name.to_string());
        }
    }
    Ok(l)
}
