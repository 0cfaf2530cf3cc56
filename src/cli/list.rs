//! `iommufuzz list`: the variants of each model with their commits.

use super::campaign::{say, Campaign};
use crate::report::view::View;
use crate::sim::model::Variant as _;
use crate::smmuv3::model::Smmuv3Model;
use crate::vtd::model::VtdModel;

/// `iommufuzz list`.
pub fn list() {
    model::<VtdModel>();
    model::<Smmuv3Model>();
}

/// The lines of one model: what it is, then each variant with its commits.
fn model<M: Campaign + View>() {
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
    }
}
