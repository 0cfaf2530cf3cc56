//! The per-CPU column timeline, drawn the way kernel mailing-list posts draw races: one column
//! per CPU plus one for the hardware, devices and environment, time on the left. Full-width
//! lines (queue state) interleave where they happened. Consecutive repeats are folded.

use crate::sim::clock::fmt_time;
use crate::sim::trace::Actor;
use std::fmt::Write;

/// Width of one column.
pub const COL: usize = 34;

/// One line of a timeline.
#[derive(Clone, Debug)]
pub enum Line {
    /// Text in the column of an actor.
    Cell {
        /// Virtual time.
        t: u64,
        /// Who.
        who: Actor,
        /// What.
        text: String,
    },
    /// A full-width line (queue state).
    Wide(String),
}

/// The column of an actor: its CPU's (interrupt handlers run on a CPU), else the last one.
pub fn column(who: Actor, ncpus: usize) -> usize {
    match who {
        Actor::Cpu(c) | Actor::Irq(c) => c as usize,
        _ => ncpus,
    }
}

fn trunc(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(w - 1).collect();
        t.push('~');
        t
    }
}

/// Renders lines into columns; keeps at most `max` lines (the last ones) when `max > 0`.
pub fn render(lines: &[Line], ncpus: usize, hw_name: &str, max: usize) -> String {
    let folded = fold(lines);
    let skip = if max > 0 && folded.len() > max {
        folded.len() - max
    } else {
        0
    };
    let mut out = String::new();
    let _ = write!(out, "{:>13} ", "time (s)");
    for c in 0..ncpus {
        let _ = write!(out, "| {:<w$}", format!("CPU{c}"), w = COL);
    }
    let _ = writeln!(out, "| {hw_name}");
    let _ = writeln!(out, "{}", "-".repeat(14 + (ncpus + 1) * (COL + 2)));
    if skip > 0 {
        let _ = writeln!(
            out,
            "              ({skip} earlier lines not shown; --full shows all)"
        );
    }
    for (l, n) in &folded[skip..] {
        match l {
            Line::Wide(s) => {
                let _ = writeln!(out, "{:>13} : {s}", "");
            }
            Line::Cell { t, who, text } => {
                let col = column(*who, ncpus);
                let text = if *n > 1 {
                    format!("{text} (x{n})")
                } else {
                    text.clone()
                };
                let _ = write!(out, "{:>13} ", fmt_time(*t));
                for c in 0..=ncpus {
                    let cell = if c == col {
                        trunc(&text, COL)
                    } else {
                        String::new()
                    };
                    if c == ncpus {
                        let _ = write!(out, "| {cell}");
                    } else {
                        let _ = write!(out, "| {cell:<w$}", w = COL);
                    }
                }
                let _ = writeln!(out);
            }
        }
    }
    out
}

/// Folds consecutive identical cells of one actor into one line with a count.
pub fn fold(lines: &[Line]) -> Vec<(Line, usize)> {
    let mut out: Vec<(Line, usize)> = Vec::new();
    for l in lines {
        if let (
            Some((
                Line::Cell {
                    who: pw, text: pt, ..
                },
                n,
            )),
            Line::Cell { who, text, .. },
        ) = (out.last_mut(), l)
        {
            if pw == who && pt == text {
                *n += 1;
                continue;
            }
        }
        out.push((l.clone(), 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_land_in_their_columns_and_repeats_fold() {
        let c = |t, who, s: &str| Line::Cell {
            t,
            who,
            text: s.into(),
        };
        let lines = vec![
            c(0, Actor::Cpu(1), "a"),
            c(1, Actor::Hw, "fetch"),
            c(2, Actor::Cpu(0), "poll"),
            c(3, Actor::Cpu(0), "poll"),
            Line::Wide("IQH=1".into()),
        ];
        let s = render(&lines, 2, "HW", 0);
        let rows: Vec<&str> = s.lines().collect();
        assert!(rows[0].contains("CPU0") && rows[0].contains("CPU1") && rows[0].ends_with("HW"));
        assert_eq!(rows[2].find('a'), rows[0].find("CPU1"));
        assert!(rows[4].contains("poll (x2)"));
        assert!(rows[5].contains("IQH=1"));
        assert_eq!(rows.len(), 6);
    }
}
