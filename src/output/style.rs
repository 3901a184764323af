//! Colour on a terminal: the styles of actions, health and errors, as ANSI escapes that
//! [`anstream`] passes through to a terminal and strips everywhere else (a pipe, a file,
//! `--color never`, `NO_COLOR`). The renderers only wrap a word in a style; which stream gets
//! colour is decided once, in [`set_choice`].

use anstyle::{AnsiColor, Style};

use crate::cli::ColorWhen;
use crate::engine::plan::Action;
use crate::status::HealthStatus;

/// Applies `--color`: `auto` colours a terminal unless `NO_COLOR` is set (or `CLICOLOR=0`,
/// `TERM=dumb`), `always` colours even a pipe, `never` never does.
pub fn set_choice(when: ColorWhen) {
    let choice = match when {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
}

fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

fn fg(color: AnsiColor) -> Style {
    Style::new().fg_color(Some(color.into()))
}

/// A plan or result symbol: `+` create green, `~` update yellow, `-/+` replace magenta,
/// `-` delete red.
pub fn action(action: Action, text: &str) -> String {
    match action {
        Action::Create => paint(fg(AnsiColor::Green), text),
        Action::Update => paint(fg(AnsiColor::Yellow), text),
        Action::Replace => paint(fg(AnsiColor::Magenta), text),
        Action::Delete => paint(fg(AnsiColor::Red), text),
        Action::Noop => text.to_owned(),
    }
}

/// An error or a failure marker, bold red.
pub fn error(text: &str) -> String {
    paint(fg(AnsiColor::Red).bold(), text)
}

/// A note that something was not done (not attempted, interrupted), yellow.
pub fn warning(text: &str) -> String {
    paint(fg(AnsiColor::Yellow), text)
}

/// A dataflow's health: healthy green, degraded yellow, failing red.
pub fn health(status: HealthStatus, text: &str) -> String {
    match status {
        HealthStatus::Healthy => paint(fg(AnsiColor::Green), text),
        HealthStatus::Degraded => paint(fg(AnsiColor::Yellow), text),
        HealthStatus::Failing => paint(fg(AnsiColor::Red), text),
        HealthStatus::Running
        | HealthStatus::Waiting
        | HealthStatus::Disabled
        | HealthStatus::NotCreated => text.to_owned(),
    }
}
