//! The confirmation prompt of `apply`, `destroy` and `import`, on stderr.

use std::io::IsTerminal;

use crate::error::CliError;

/// Asks on stderr when stdin is a terminal; a pipe proceeds (prompts only on a TTY without
/// `--yes`, see `docs/architecture.md`).
pub async fn confirm(command: &str) -> Result<bool, CliError> {
    if !std::io::stdin().is_terminal() {
        return Ok(true);
    }
    let question =
        format!("\nDo you want to {command} these changes? Only 'yes' will be accepted: ");
    let answer = tokio::task::spawn_blocking(move || {
        eprint!("{question}");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|e| CliError::failed(anyhow::anyhow!("could not read the answer: {e}")))?
    .map_err(|e| CliError::failed(anyhow::anyhow!("could not read the answer: {e}")))?;
    Ok(answer.trim() == "yes")
}

/// `destroy` and `import` change objects only with consent: off a terminal (a pipe, a CI job,
/// `</dev/null`) there is no one to ask, so `--yes` must say it. Without it: a usage error
/// (exit 64), to be checked before any request. `changes` says what the command would do
/// (`deletes objects`), `nothing` what did not happen (`nothing was deleted`).
pub fn require_yes_off_terminal(
    yes: bool,
    command: &str,
    changes: &str,
    nothing: &str,
) -> Result<(), CliError> {
    if yes || std::io::stdin().is_terminal() {
        return Ok(());
    }
    Err(CliError::usage(format!(
        "{command} {changes} and stdin is not a terminal, so it cannot ask for \
         confirmation; {nothing}. Run it again with --yes to confirm"
    )))
}

/// Goes on when `yes` or the user answers `yes`; else the error `cancelled` (exit 1).
pub async fn confirm_or_cancel(yes: bool, command: &str, cancelled: &str) -> Result<(), CliError> {
    if yes || confirm(command).await? {
        Ok(())
    } else {
        Err(CliError::failed(anyhow::anyhow!("{cancelled}")))
    }
}
