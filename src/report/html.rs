//! The report as one self-contained HTML page (`replay --format html`), for a bug tracker or a
//! mail to the list: the verdict, the whole timeline as a table with one column per CPU plus the
//! hardware's, queue-state rows across the table where they happened, and the reproduce command.
//! No script and no external file: it opens the same in any browser, offline.

use super::json::{actor_name, Parts};
use super::timeline::{column, fold, Line};
use crate::oracle::Violation;
use crate::sim::clock::Secs;
use std::fmt::Write;

const STYLE: &str = "body{font:14px/1.4 sans-serif;margin:1.5em}\
table{border-collapse:collapse;font:12px/1.3 monospace}\
th,td{border:1px solid #ccc;padding:2px 6px;vertical-align:top;white-space:nowrap}\
th{background:#eee;position:sticky;top:0}\
td.t{text-align:right;color:#666}\
tr.q td{background:#f4f4ff;color:#335}\
td.irq{background:#fff3e0}\
.bad{color:#b00}.ok{color:#070}\
code{background:#f4f4f4;padding:1px 4px}";

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

fn violation_line(o: &mut String, tag: &str, v: &Violation) {
    let _ = writeln!(
        o,
        "<{tag}><b>{}</b> at t={} s, cpu{}: {}</{tag}>",
        esc(&v.signature()),
        Secs(v.time),
        v.cpu.unwrap_or(0),
        esc(&v.msg)
    );
}

fn head(o: &mut String, p: &Parts) {
    let v = p.verdict;
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
         <title>iommufuzz {} {}</title><style>{STYLE}</style></head><body>",
        esc(p.model),
        esc(p.variant)
    );
    match &v.violation {
        Some(x) => {
            let _ = writeln!(
                o,
                "<h1 class=\"bad\">VIOLATION {} on {}</h1>",
                esc(&x.class.to_string()),
                esc(p.variant)
            );
            violation_line(o, "p", x);
        }
        None => {
            let _ = writeln!(o, "<h1 class=\"ok\">PASS on {}</h1>", esc(p.variant));
        }
    }
    if let Some(m) = p.meaning {
        let _ = writeln!(o, "<p>Meaning: {}</p>", esc(m));
    }
    if !v.suppressed.is_empty() {
        let _ = writeln!(o, "<p>Suppressed (known signatures):</p><ul>");
        for s in &v.suppressed {
            violation_line(o, "li", s);
        }
        let _ = writeln!(o, "</ul>");
    }
    let _ = writeln!(
        o,
        "<p>{} steps, virtual time {} s, trace {:016x}</p>",
        v.steps,
        Secs(v.end_time),
        v.trace_hash
    );
}

fn table(o: &mut String, lines: &[Line], ncpus: usize, hw: &str) {
    let _ = write!(o, "<table>\n<tr><th>time (s)</th>");
    for c in 0..ncpus {
        let _ = write!(o, "<th>CPU{c}</th>");
    }
    let _ = writeln!(o, "<th>{}</th></tr>", esc(hw));
    for (l, n) in fold(lines) {
        match l {
            Line::Wide(s) => {
                let _ = writeln!(
                    o,
                    "<tr class=\"q\"><td></td><td colspan=\"{}\">{}</td></tr>",
                    ncpus + 1,
                    esc(&s)
                );
            }
            Line::Cell { t, who, text } => {
                let col = column(who, ncpus);
                let irq = matches!(who, crate::sim::trace::Actor::Irq(_));
                let text = if n > 1 {
                    format!("{text} (x{n})")
                } else {
                    text
                };
                let _ = write!(o, "<tr><td class=\"t\">{}</td>", Secs(t));
                for c in 0..=ncpus {
                    if c != col {
                        let _ = write!(o, "<td></td>");
                    } else {
                        let _ = write!(
                            o,
                            "<td{} title=\"{}\">{}</td>",
                            if irq { " class=\"irq\"" } else { "" },
                            esc(&actor_name(who)),
                            esc(&text)
                        );
                    }
                }
                let _ = writeln!(o, "</tr>");
            }
        }
    }
    let _ = writeln!(o, "</table>");
}

/// Renders the report as one HTML page; `ncpus` and `hw` give the timeline's columns.
pub fn render(p: &Parts, ncpus: usize, hw: &str) -> String {
    let mut o = String::new();
    head(&mut o, p);
    table(&mut o, p.lines, ncpus, hw);
    let _ = writeln!(
        o,
        "<p>Queue state at the end: <code>{}</code></p>\n<p>Reproduce: <code>{}</code></p>\n</body></html>",
        esc(p.state),
        esc(p.again)
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::outcome::Verdict;
    use crate::sim::trace::Actor;

    #[test]
    fn escapes_text_and_puts_cells_in_their_columns() {
        let lines = vec![
            Line::Cell {
                t: 5,
                who: Actor::Cpu(1),
                text: "s[3] := <ABORT>".into(),
            },
            Line::Wide("IQH=1 & IQT=2".into()),
        ];
        let v = Verdict {
            violation: None,
            suppressed: Vec::new(),
            steps: 3,
            end_time: 5,
            trace_hash: 1,
        };
        let p = Parts {
            model: "vtd",
            variant: "linux-7.0",
            verdict: &v,
            meaning: None,
            lines: &lines,
            state: "IQH=1",
            again: "iommufuzz replay \"x\"",
        };
        let h = render(&p, 2, "HW");
        assert!(h.contains("<h1 class=\"ok\">PASS on linux-7.0</h1>"));
        // CPU1's cell is the third cell after the time: empty CPU0 cell first.
        assert!(h.contains("<td></td><td title=\"cpu1\">s[3] := &lt;ABORT&gt;</td><td></td></tr>"));
        assert!(h.contains("<td colspan=\"3\">IQH=1 &amp; IQT=2</td>"));
        assert!(h.contains("iommufuzz replay &quot;x&quot;"));
        assert!(!h.contains("<ABORT>"));
    }
}
