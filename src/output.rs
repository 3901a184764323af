//! The only module that writes to stdout: human tables and the JSON documents of contract §4.
#![allow(clippy::print_stdout)]

use std::io::Write;

use serde::Serialize;

use crate::cli::OutputFormat;

/// Prints exactly one JSON document on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints human text on stdout as is.
pub fn print_text(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(())
}

/// Prints `value` as JSON or `human` as text, per `--output`.
pub fn print<T: Serialize>(format: OutputFormat, value: &T, human: &str) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => print_json(value),
        OutputFormat::Human => print_text(human),
    }
}

/// `check`: one row per check and a summary line, or `{"checks": [...]}` (contract §4).
pub fn print_check(format: OutputFormat, report: &crate::check::Report) -> anyhow::Result<()> {
    print(format, report, &render_check(report))
}

fn render_check(report: &crate::check::Report) -> String {
    use crate::check::Status;
    let width = report
        .checks
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0)
        .max("CHECK".len());
    let mut out = format!("{:<width$}  {:<7}  DETAIL\n", "CHECK", "RESULT");
    for check in &report.checks {
        let result = match check.status {
            Status::Ok => "ok",
            Status::Fail => "FAIL",
            Status::Skipped => "skipped",
        };
        out.push_str(&format!(
            "{:<width$}  {result:<7}  {}\n",
            check.name, check.detail
        ));
    }
    out.push_str(&format!(
        "\n{} passed, {} failed, {} skipped\n",
        report.count(Status::Ok),
        report.count(Status::Fail),
        report.count(Status::Skipped)
    ));
    out
}

/// `zoho token`: the data centre, API domain, scopes, where the refresh token went, the next
/// steps and the warnings. The refresh token itself only when `--show` put it in `outcome`.
pub fn print_zoho_token(
    format: OutputFormat,
    outcome: &crate::zoho_cmd::TokenOutcome,
) -> anyhow::Result<()> {
    print(format, outcome, &render_zoho_token(outcome))
}

fn render_zoho_token(outcome: &crate::zoho_cmd::TokenOutcome) -> String {
    use secrecy::ExposeSecret;
    let mut out = String::from("Zoho grant token exchanged.\n");
    let centre = match &outcome.data_centre {
        Some(region) => format!("{region} ({})", outcome.accounts_url),
        None => outcome.accounts_url.clone(),
    };
    out.push_str(&format!("  data centre    {centre}\n"));
    out.push_str(&format!(
        "  API domain     {}\n",
        outcome
            .api_domain
            .as_deref()
            .unwrap_or("(Zoho did not say; use the data centre's default)")
    ));
    let scopes = if outcome.scopes.is_empty() {
        "(Zoho did not list them)".to_owned()
    } else {
        outcome.scopes.join(", ")
    };
    out.push_str(&format!("  scopes         {scopes}\n"));
    if let Some(file) = &outcome.written_to {
        out.push_str(&format!("  refresh token  written to {file} (mode 0600)\n"));
    }
    if let Some(token) = &outcome.refresh_token {
        out.push_str(&format!("  refresh token  {}\n", token.expose_secret()));
    }
    out.push_str("\nNext:\n");
    for (i, step) in outcome.next_steps.iter().enumerate() {
        out.push_str(&format!("  {}. {step}\n", i + 1));
    }
    for warning in &outcome.warnings {
        out.push_str(&format!("\nwarning: {warning}\n"));
    }
    out
}

/// `zoho modules`: api_name, module_name and api_supported per module.
pub fn print_zoho_modules(
    format: OutputFormat,
    outcome: &crate::zoho_cmd::ModulesOutcome,
) -> anyhow::Result<()> {
    print(format, outcome, &render_zoho_modules(outcome))
}

fn render_zoho_modules(outcome: &crate::zoho_cmd::ModulesOutcome) -> String {
    let width = outcome
        .modules
        .iter()
        .map(|m| m.api_name.chars().count())
        .max()
        .unwrap_or(0)
        .max("API_NAME".len());
    let name_width = outcome
        .modules
        .iter()
        .map(|m| m.module_name.as_deref().unwrap_or("-").chars().count())
        .max()
        .unwrap_or(0)
        .max("MODULE_NAME".len());
    let mut out = format!(
        "{:<width$}  {:<name_width$}  API_SUPPORTED  IN_PROFILE\n",
        "API_NAME", "MODULE_NAME"
    );
    for m in &outcome.modules {
        let supported = match m.api_supported {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        out.push_str(&format!(
            "{:<width$}  {:<name_width$}  {supported:<13}  {}\n",
            m.api_name,
            m.module_name.as_deref().unwrap_or("-"),
            if m.in_profile { "yes" } else { "" }
        ));
    }
    out.push_str(&format!(
        "\n{} modules from {}\n",
        outcome.modules.len(),
        outcome.api_domain
    ));
    if !outcome.missing.is_empty() {
        out.push_str(&format!(
            "not listed by Zoho: {} (a profile module must be a Zoho module's api_name)\n",
            outcome.missing.join(", ")
        ));
    }
    out
}
