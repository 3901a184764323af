//! SIGINT and SIGTERM at the edge of the program (docs/cli.md#safety-rules, "Interrupts").
//!
//! [`run`] listens for both while a command runs. A command that writes (`apply`, `destroy`,
//! `import`) holds a [`Protection`] from [`protect_writes`] around its writes and hands its
//! [`Cancel`] to the engine: the first signal then cancels it, so no new write starts and the
//! ones in flight get [`Cancel::grace`] to finish; the command prints what was done and what was
//! not, and exits 130 (SIGINT) or 143 (SIGTERM) ([`Protection::interrupted`]). Outside a
//! protection a signal ends the command at once with the same exit code, and so does a second
//! signal.

use std::future::Future;
use std::sync::{Mutex, MutexGuard};

use crate::engine::cancel::Cancel;
use crate::error::{CliError, CliResult, Exit};

/// What the signals have done so far in this process.
struct State {
    /// The first signal received.
    received: Option<Exit>,
    /// The cancel of the writes being protected, if any.
    protected: Option<Cancel>,
}

static STATE: Mutex<State> = Mutex::new(State {
    received: None,
    protected: None,
});

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// `SIGINT` or `SIGTERM`, for messages.
pub fn signal_name(exit: Exit) -> &'static str {
    match exit {
        Exit::Terminated => "SIGTERM",
        _ => "SIGINT",
    }
}

/// Writes protected from being cut off by the first signal; dropping it ends the protection.
pub struct Protection {
    cancel: Cancel,
}

/// Starts protecting a command's writes: the first signal now cancels the returned
/// [`Protection::cancel`] instead of ending the program.
pub fn protect_writes() -> Protection {
    let cancel = Cancel::default();
    state().protected = Some(cancel.clone());
    Protection { cancel }
}

impl Protection {
    /// The token to hand the engine.
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    /// The signal that cancelled the writes (130 or 143), if one did.
    pub fn interrupted(&self) -> Option<Exit> {
        if !self.cancel.is_cancelled() {
            return None;
        }
        state().received.or(Some(Exit::Interrupted))
    }
}

impl Drop for Protection {
    fn drop(&mut self) {
        state().protected = None;
    }
}

/// Runs `command` with SIGINT and SIGTERM handled as the module documentation says. When the
/// handlers cannot be installed, the command runs with the default behaviour.
pub async fn run(command: impl Future<Output = CliResult>) -> CliResult {
    let Some(mut signals) = Signals::listen() else {
        return command.await;
    };
    tokio::pin!(command);
    loop {
        tokio::select! {
            result = &mut command => return result,
            exit = signals.next() => {
                if let Some(error) = received(exit) {
                    return Err(error);
                }
            }
        }
    }
}

/// Records one signal: `None` when it cancelled protected writes (the command goes on to
/// finish them), else the error that ends the command now.
fn received(exit: Exit) -> Option<CliError> {
    let mut state = state();
    let first = state.received.is_none();
    let name = signal_name(exit);
    if first {
        state.received = Some(exit);
        if let Some(cancel) = &state.protected {
            cancel.cancel();
            eprintln!(
                "{name} received: no new change starts; waiting up to {}s for the requests in \
                 flight, then printing what was done (send it again to stop at once)",
                cancel.grace().as_secs()
            );
            return None;
        }
        return Some(CliError::new(
            exit,
            anyhow::anyhow!("interrupted by {name}"),
        ));
    }
    Some(CliError::new(
        exit,
        anyhow::anyhow!(
            "stopped at once by a second {name}: requests in flight may have been carried out; \
             run the command again, it continues from what was done"
        ),
    ))
}

/// SIGINT and SIGTERM as one stream of exit codes.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn listen() -> Option<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Some(Self {
            interrupt: signal(SignalKind::interrupt()).ok()?,
            terminate: signal(SignalKind::terminate()).ok()?,
        })
    }

    #[cfg(not(unix))]
    fn listen() -> Option<Self> {
        None
    }

    #[cfg(unix)]
    async fn next(&mut self) -> Exit {
        tokio::select! {
            _ = self.interrupt.recv() => Exit::Interrupted,
            _ = self.terminate.recv() => Exit::Terminated,
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> Exit {
        std::future::pending().await
    }
}
