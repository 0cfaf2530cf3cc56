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

/// The knobs of a variant as `field=value` pairs, from its `Debug` form: every field but the
/// name, commits, description and upstream flag, which the lines above show.
fn knob_list(v: &impl std::fmt::Debug) -> String {
    let all = format!("{v:#?}");
    let fields = all.lines().filter_map(|l| {
        let (k, val) = l.trim().split_once(": ")?;
        let skip = matches!(k, "name" | "commits" | "desc" | "upstream");
        (!skip).then(|| format!("{k}={}", val.trim_end_matches(',')))
    });
    fields.collect::<Vec<_>>().join(" ")
}
