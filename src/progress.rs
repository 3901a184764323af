//! Progress of `apply` and `destroy` on stderr: on a terminal, one line per resource with a
//! spinner while its request is in flight; in a pipe (CI logs), one plain line when a change
//! starts and one when it ends. Nothing with `-q`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::plan::{Action, Change};

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
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Spinners(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        } else {
            Mode::Lines
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

    pub fn failed(self, error: &str) {
        let text = format!("failed to {} {}: {error}", verb(self.action), self.label);
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
