//! `zoho token` and `zoho modules`.

use super::Render;
use crate::zoho_setup::{ModulesOutcome, TokenOutcome};

/// The data centre, API domain, scopes, where the refresh token went, the next steps and the
/// warnings. The refresh token itself only when `--show` put it in the outcome.
impl Render for TokenOutcome {
    fn human(&self) -> String {
        render_zoho_token(self)
    }
}

/// api_name, module_name and api_supported per module.
impl Render for ModulesOutcome {
    fn human(&self) -> String {
        render_zoho_modules(self)
    }
}

fn render_zoho_token(outcome: &TokenOutcome) -> String {
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

fn render_zoho_modules(outcome: &ModulesOutcome) -> String {
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
