//! `iommufuzz list [--knobs]`: the variants of each model with their commits, and with
//! `--knobs` the value of each of their knobs.

use super::campaign::{say, Campaign};
use crate::report::view::View;
use crate::sim::model::Variant as _;
use crate::smmuv3::model::Smmuv3Model;
use crate::vtd::model::VtdModel;

/// `iommufuzz list`.
pub fn list(knobs: bool) {
    model::<VtdModel>(knobs);
    model::<Smmuv3Model>(knobs);
}

/// The lines of one model: what it is, then each variant with its commits.
fn model<M: Campaign + View>(knobs: bool) {
    say::<M>(&format!("model {} ({})\n", M::NAME, M::TITLE));
    for v in M::variants() {
        let up = if v.upstream() { " [upstream]" } else { "" };
        say::<M>(&format!(
            "  {:<w$} {}{up}\n  {:<w$} commits: {}\n",
            v.name(),
            v.desc(),
            "",
            v.commits(),
            w = M::NAME_WIDTH
        ));
        if knobs {
            say::<M>(&format!(
                "  {:<w$} knobs: {}\n",
                "",
                knob_list(v),
                w = M::NAME_WIDTH
            ));
        }
    }
}

/// The knobs of a variant as `field=value` pairs, from its pretty `Debug` form: every field but
/// the name, commits, description and upstream flag, which the lines above show. A knob that
/// is itself a struct keeps its fields in braces (`design=Spinlock { msidata_in_lock=false }`).
fn knob_list(v: &impl std::fmt::Debug) -> String {
    let all = format!("{v:#?}");
    let mut out: Vec<String> = Vec::new();
    // Depth 1 holds the variant's own fields; depth 2 those of a struct-valued knob.
    let mut depth = 0usize;
    for line in all.lines().map(str::trim) {
        if line.starts_with('}') {
            if depth == 2 {
                if let Some(last) = out.last_mut() {
                    last.push_str(" }");
                }
            }
            depth = depth.saturating_sub(1);
            continue;
        }
        let Some((k, val)) = line.split_once(": ") else {
            depth += usize::from(line.ends_with('{'));
            continue;
        };
        let val = val.trim_end_matches(',');
        let opens = val.ends_with('{');
        let val = val.trim_end_matches(" {");
        match depth {
            1 if matches!(k, "name" | "commits" | "desc" | "upstream") => {}
            1 => out.push(format!("{k}={val}{}", if opens { " {" } else { "" })),
            _ => {
                if let Some(last) = out.last_mut() {
                    last.push_str(&format!(" {k}={val}"));
                }
            }
        }
        depth += usize::from(opens);
    }
    out.join(" ")
}
