//! Reading reproducers of any model: raw fuzzer bytes or a JSON scenario file, with one-line
//! reasons for everything that cannot be read; and telling which model a file is for.

use super::campaign::{tag, Campaign};
use super::Usage;
use crate::sim::choice::Step;
use crate::sim::model::{self, Act, Model, ScenarioOf};
use crate::sim::outcome::Source;
use crate::sim::scenario::ScenarioFile;
use crate::smmuv3::model::Smmuv3Model;
use crate::vtd::model::VtdModel;
use std::path::Path;

/// Largest input accepted (libFuzzer's default -max_len is far below this).
pub const MAX_INPUT: u64 = 1 << 20;

/// A reproducer of model `M`, decoded.
pub struct Loaded<M: Model> {
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
pub fn looks_like_json(b: &[u8]) -> bool {
    let first = b.iter().find(|c| !c.is_ascii_whitespace());
    matches!(first, Some(b'{') | Some(b'[')) && std::str::from_utf8(b).is_ok()
}

/// The `model` field of a JSON scenario file, if `bytes` is one.
pub fn json_model(bytes: &[u8]) -> Option<String> {
    let first = bytes.iter().find(|c| !c.is_ascii_whitespace());
    if first != Some(&b'{') {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    v.get("model")?.as_str().map(str::to_string)
}

/// The model a reproducer file is for: its JSON `model` field, else the flag, else vtd.
pub fn model_of(path: &Path, flag: Option<&str>) -> Result<String, Usage> {
    let bytes = std::fs::read(path).map_err(|e| Usage(format!("{}: {e}", path.display())))?;
    let m = json_model(&bytes).or(flag.map(str::to_string));
    let m = m.unwrap_or_else(|| VtdModel::NAME.into());
    if m != VtdModel::NAME && m != Smmuv3Model::NAME {
        return Err(Usage(format!(
            "model {m:?} is not supported (known: vtd, smmuv3)"
        )));
    }
    Ok(m)
}

/// The bytes of a reproducer file, refused if it is no file, too large or empty.
fn read<M: Campaign>(path: &Path) -> Result<Vec<u8>, String> {
    let p = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{p}: {e}"))?;
    if let Some(why) = M::unfit(&meta) {
        return Err(format!("{p}: {why}"));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{p}: {e}"))?;
    if bytes.is_empty() {
        return Err(format!("{p}: empty file"));
    }
    Ok(bytes)
}

/// Reads and decodes a reproducer file of model `M` (JSON scenario file or raw bytes).
pub fn load<M: Campaign>(path: &Path) -> Result<Loaded<M>, String> {
    let bytes = read::<M>(path)?;
    if M::is_json(&bytes) {
        return load_json(&bytes).map_err(|e| format!("{}: {e}", path.display()));
    }
    Ok(Loaded {
        scenario: model::decode::<M>(&bytes),
        variant: None,
        labels: None,
        raw: Some(bytes),
    })
}

fn load_json<M: Campaign>(bytes: &[u8]) -> Result<Loaded<M>, String> {
    let f: ScenarioFile<M> = serde_json::from_slice(bytes)
        .map_err(|e| format!("not an iommufuzz {}scenario file: {e}", tag::<M>(" ")))?;
    if f.model != M::NAME {
        return Err(format!(
            "model {:?} is not supported (known: {})",
            f.model,
            M::NAME
        ));
    }
    M::validate(&f.scenario)?;
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
pub fn variant<M: Campaign>(
    flag: Option<&str>,
    file: Option<&str>,
) -> Result<&'static M::Variant, String> {
    match flag.or(file) {
        Some(n) => model::by_name::<M>(n).ok_or_else(|| {
            format!(
                "unknown {}variant {n:?} (see `iommufuzz list`)",
                tag::<M>(" ")
            )
        }),
        None => Ok(model::newest::<M>()),
    }
}

/// Reads a reproducer; with `any`, a raw file is a `vtd_any` input whose first byte names the
/// variant (as the `vtd_any` fuzz target reads it).
pub fn load_as<M: Campaign>(path: &Path, any: bool) -> Result<Loaded<M>, String> {
    let mut l = load::<M>(path)?;
    if any {
        if let Some(raw) = &l.raw {
            let (v, rest) = crate::fuzz::split_any::<M>(raw);
            l.scenario = model::decode::<M>(rest);
            l.variant = Some(crate::sim::model::Variant::name(v).to_string());
        }
    }
    Ok(l)
}
