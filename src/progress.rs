//! Progress of `apply` and `destroy` on stderr: on a terminal, one line per resource with a
//! spinner while its request is in flight; in a pipe (CI logs), one plain line when a change
//! starts and one when it ends. Nothing with `-q`. `status --wait` shows its polling the same
//! way ([`WaitProgress`]).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::plan::{Action, Change};

#[derive(Clone)]
pub struct Progress {
    mode: Mode,
}

#[derive(Clone)]
enum Mode {
    Quiet,
    Lines,
    Spinners(MultiProgress),
}

/// One change in progress; finish it with [`Step::done`] or [`Step::failed`].
pub struct Step {
    label: String,
    action: Action,
    bar: Option<ProgressBar>,
    lines: bool,
}

impl Progress {
    /// Spinners when stderr is a terminal, plain lines otherwise, nothing when `quiet`.
    pub fn new(quiet: bool) -> Self {
        let mode = match shown_as(quiet) {
            Shown::Nothing => Mode::Quiet,
            Shown::Lines => Mode::Lines,
            Shown::Live => {
                Mode::Spinners(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
            }
        };
        Self { mode }
    }

    pub fn quiet() -> Self {
        Self { mode: Mode::Quiet }
    }

    /// Announces that `change` starts.
    pub fn start(&self, change: &Change) -> Step {
        let label = format!("{} {}", change.kind, change.name);
        let verb = ongoing(change.action);
        match &self.mode {
            Mode::Quiet => Step {
                label,
                action: change.action,
                bar: None,
                lines: false,
            },
            Mode::Lines => {
                eprintln!("{verb} {label}");
                Step {
                    label,
                    action: change.action,
                    bar: None,
                    lines: true,
                }
            }
            Mode::Spinners(multi) => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(format!("{verb} {label}"));
                bar.enable_steady_tick(Duration::from_millis(100));
                Step {
                    label,
                    action: change.action,
                    bar: Some(bar),
                    lines: false,
                }
            }
        }
    }

    /// Ends the display: on a terminal, moves below the last spinner line so that what follows
    /// starts on a line of its own.
    pub fn finish(&self) {
        if let Mode::Spinners(multi) = &self.mode {
            let _ = multi.clear();
            eprintln!();
        }
    }

    /// A message that belongs to no single change (e.g. "exploring 3 modules").
    pub fn note(&self, message: &str) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => eprintln!("{message}"),
            Mode::Spinners(multi) => {
                let _ = multi.println(message);
            }
        }
    }
}

impl Step {
    pub fn done(self, id: Option<&str>) {
        let id = id.map(|i| format!(" (id {i})")).unwrap_or_default();
        let text = format!("{} {}{id}", finished(self.action), self.label);
        self.finish(format!("✓ {text}"), text);
    }

    /// The step failed; its error is printed once, with the result (not here as well).
    pub fn failed(self) {
        let text = format!("failed to {} {}", verb(self.action), self.label);
        self.finish(format!("✗ {text}"), text);
    }

    fn finish(self, fancy: String, plain: String) {
        if let Some(bar) = self.bar {
            bar.finish_with_message(fancy);
        } else if self.lines {
            eprintln!("{plain}");
        }
    }
}

/// How progress shows on stderr: live on a terminal, plain lines in a pipe, nothing with `-q`.
enum Shown {
    Nothing,
    Lines,
    Live,
}

fn shown_as(quiet: bool) -> Shown {
    if quiet {
        Shown::Nothing
    } else if std::io::stderr().is_terminal() {
        Shown::Live
    } else {
        Shown::Lines
    }
}

/// `status --wait`'s polling: one live line on a terminal; in a pipe, a plain line each time
/// what the flows are doing changes (not at every poll).
pub enum WaitProgress {
    Quiet,
    Lines { last: String },
    Live(ProgressBar),
}

impl WaitProgress {
    pub fn new(quiet: bool) -> Self {
        match shown_as(quiet) {
            Shown::Nothing => WaitProgress::Quiet,
            Shown::Lines => WaitProgress::Lines {
                last: String::new(),
            },
            Shown::Live => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.enable_steady_tick(Duration::from_millis(120));
                WaitProgress::Live(bar)
            }
        }
    }

    /// `flows`: module, whether its newest run has finished, and what it is doing.
    pub fn update(
        &mut self,
        flows: &[(String, bool, String)],
        elapsed: Duration,
        timeout: Duration,
    ) {
        let done = flows.iter().filter(|(_, finished, _)| *finished).count();
        let pending: Vec<String> = flows
            .iter()
            .filter(|(_, finished, _)| !finished)
            .map(|(module, _, detail)| format!("{module} ({detail})"))
            .collect();
        let state = format!(
            "{done} of {} dataflows finished{}{}",
            flows.len(),
            if pending.is_empty() {
                ""
            } else {
                "; waiting for "
            },
            pending.join(", ")
        );
        let clock = format!(
            "[{} of {}]",
            humantime::format_duration(Duration::from_secs(elapsed.as_secs())),
            humantime::format_duration(timeout)
        );
        match self {
            WaitProgress::Quiet => {}
            WaitProgress::Live(bar) => bar.set_message(format!("{clock} {state}")),
            WaitProgress::Lines { last } => {
                if *last != state {
                    eprintln!("status --wait {clock}: {state}");
                    *last = state;
                }
            }
        }
    }

    pub fn finish(&mut self) {
        if let WaitProgress::Live(bar) = self {
            bar.finish_and_clear();
        }
    }
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "delete",
        Action::Noop => "check",
    }
}

fn ongoing(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "deleting",
        Action::Noop => "checking",
    }
}

fn finished(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "deleted",
        Action::Noop => "checked",
    }
}
