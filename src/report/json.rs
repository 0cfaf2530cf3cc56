//! The report as one JSON document, for tools that triage crashes (a bot that files a bug, a CI
//! step that compares signatures): the same verdict, timeline, queue state and reproduce command
//! as the text report, with times in nanoseconds and actors named as the timeline names them.

use super::timeline::Line;
use crate::oracle::Violation;
use crate::sim::outcome::Verdict;
use crate::sim::trace::Actor;
use serde::Serialize;

/// One timeline entry: an actor's event, or a full-width queue-state line.
#[derive(Serialize)]
#[serde(untagged)]
enum Event<'a> {
    Act {
        t_ns: u64,
        who: String,
        text: &'a str,
    },
    Queue {
        queue: &'a str,
    },
}

/// A violation with its signature spelled out.
#[derive(Serialize)]
struct Found<'a> {
    signature: String,
    #[serde(flatten)]
    v: &'a Violation,
}

impl<'a> Found<'a> {
    fn of(v: &'a Violation) -> Self {
        Found {
            signature: v.signature(),
            v,
        }
    }
}

/// The whole report.
#[derive(Serialize)]
struct Report<'a> {
    model: &'a str,
    variant: &'a str,
    verdict: &'static str,
    violation: Option<Found<'a>>,
    meaning: Option<&'static str>,
    suppressed: Vec<Found<'a>>,
    steps: u64,
    end_time_ns: u64,
    trace_hash: String,
    timeline: Vec<Event<'a>>,
    queue_state: &'a str,
    reproduce: &'a str,
}

/// How the timeline names an actor.
pub fn actor_name(who: Actor) -> String {
    match who {
        Actor::Cpu(c) => format!("cpu{c}"),
        Actor::Hw => "hw".into(),
        Actor::Dev(d) => format!("dev{d}"),
        Actor::Irq(c) => format!("irq@cpu{c}"),
        Actor::Env => "env".into(),
    }
}

/// What a report says, gathered by the caller from the run.
pub struct Parts<'a> {
    /// Model name.
    pub model: &'a str,
    /// Variant name.
    pub variant: &'a str,
    /// The run's verdict.
    pub verdict: &'a Verdict,
    /// What the violation's class means, if there is one.
    pub meaning: Option<&'static str>,
    /// The timeline of the whole run.
    pub lines: &'a [Line],
    /// The queue state at the end.
    pub state: &'a str,
    /// The command that reproduces the run.
    pub again: &'a str,
}

/// Renders the report as pretty-printed JSON followed by a newline.
pub fn render(p: &Parts) -> String {
    let v = p.verdict;
    let r = Report {
        model: p.model,
        variant: p.variant,
        verdict: if v.violation.is_some() {
            "violation"
        } else {
            "pass"
        },
        violation: v.violation.as_ref().map(Found::of),
        meaning: p.meaning,
        suppressed: v.suppressed.iter().map(Found::of).collect(),
        steps: v.steps,
        end_time_ns: v.end_time,
        trace_hash: format!("{:016x}", v.trace_hash),
        timeline: p
            .lines
            .iter()
            .map(|l| match l {
                Line::Cell { t, who, text } => Event::Act {
                    t_ns: *t,
                    who: actor_name(*who),
                    text,
                },
                Line::Wide(s) => Event::Queue { queue: s },
            })
            .collect(),
        queue_state: p.state,
        reproduce: p.again,
    };
    serde_json::to_string_pretty(&r).expect("a report always serialises") + "\n"
}
