//! `provision init FILE`: write a starting profile from what the accounts hold.
//!
//! 1. Settings come from the flags, then `PROVISION_<SECTION>__<KEY>`, then (on a terminal only)
//!    a prompt; off a terminal a missing one is a usage error (64) naming its flag, before any
//!    request. An existing FILE is kept unless `--force`.
//! 2. Zoho: a refresh-token grant, then the modules (`/crm/v8/settings/modules`, the pick list)
//!    and each chosen module's fields (`/crm/v8/settings/fields?module=`), so no base connection
//!    is needed. Adobe: an IMS token and the target schema in its resolved form. Nothing is written
//!    to either account.
//! 3. Per module, a mapping proposed from column names to schema fields ([`propose`]), the
//!    date-time column Zoho sets on every edit as `delta_column`, a dataset to create, and an
//!    hourly schedule starting at the next full hour.
//! 4. The text is loaded as any profile would be before it is written, so what `init` writes
//!    always loads.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{anyhow, Context};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::api::crm::{ZohoField, ZohoModule};
use crate::api::schemas::{full_schema, XdmField, XdmSchema};
use crate::cli::{InitArgs, OutputFormat};
use crate::clients::Clients;
use crate::engine::desired::nearest;
use crate::error::{CliError, CliResult, Exit};
use crate::output;
use crate::profile::{self, Env, Profile, ZohoRegion};
use crate::transport::HttpOptions;
use crate::zoho_setup::{self, ZohoFailure};

/// Everything `init` needs to know before it asks the accounts anything.
#[derive(Debug, Clone, Default)]
pub struct InitSettings {
    pub org_id: String,
    pub sandbox: String,
    pub adobe_client_id: String,
    /// `None` when `PROVISION_ZOHO__ACCOUNTS_URL` names the accounts server instead.
    pub region: Option<ZohoRegion>,
    pub zoho_client_id: String,
    pub connection_name: String,
    pub schema_id: String,
    /// Zoho module API names; empty means "ask" (only on a terminal).
    pub modules: Vec<String>,
    /// Service URLs given through `PROVISION_*` variables, written into the profile so that it
    /// works without them: `(section, key, value)`.
    pub urls: Vec<(&'static str, &'static str, String)>,
}

/// One flag, its override variable and its prompt.
struct Setting {
    flag: &'static str,
    section: &'static str,
    key: &'static str,
    prompt: &'static str,
    default: Option<&'static str>,
}

const SETTINGS: [Setting; 7] = [
    Setting {
        flag: "--org-id",
        section: "adobe",
        key: "org_id",
        prompt: "Adobe organization id (…@AdobeOrg)",
        default: None,
    },
    Setting {
        flag: "--sandbox",
        section: "adobe",
        key: "sandbox",
        prompt: "Adobe Experience Platform sandbox",
        default: Some("prod"),
    },
    Setting {
        flag: "--adobe-client-id",
        section: "adobe",
        key: "client_id",
        prompt: "Adobe OAuth server-to-server client id (API key)",
        default: None,
    },
    Setting {
        flag: "--region",
        section: "zoho",
        key: "region",
        prompt: "Zoho data centre (us eu in au jp cn ca sa uk)",
        default: Some("us"),
    },
    Setting {
        flag: "--zoho-client-id",
        section: "zoho",
        key: "client_id",
        prompt: "Zoho client id (1000.…)",
        default: None,
    },
    Setting {
        flag: "--connection-name",
        section: "connection",
        key: "name",
        prompt: "Base connection name (also the prefix of every managed name)",
        default: Some("zoho-crm"),
    },
    Setting {
        flag: "--schema",
        section: "defaults",
        key: "schema_id",
        prompt: "Target XDM schema $id (https://ns.adobe.com/<tenant>/schemas/<id>)",
        default: None,
    },
];

const URL_KEYS: [(&str, &str); 4] = [
    ("adobe", "ims_url"),
    ("adobe", "platform_url"),
    ("zoho", "accounts_url"),
    ("zoho", "api_url"),
];

fn env_name(section: &str, key: &str) -> String {
    format!(
        "PROVISION_{}__{}",
        section.to_ascii_uppercase(),
        key.to_ascii_uppercase()
    )
}

/// Reads a line from the terminal after showing `prompt` on stderr.
pub trait Prompter {
    fn ask(&mut self, prompt: &str) -> anyhow::Result<String>;
}

/// Prompts on stderr, answers from stdin (used only when stdin is a terminal).
pub struct TerminalPrompter;

impl Prompter for TerminalPrompter {
    fn ask(&mut self, prompt: &str) -> anyhow::Result<String> {
        let mut err = std::io::stderr().lock();
        write!(err, "{prompt}: ")?;
        err.flush()?;
        let mut line = String::new();
        let read = std::io::stdin().lock().read_line(&mut line)?;
        if read == 0 {
            return Err(anyhow!("no answer (end of input)"));
        }
        Ok(line.trim().to_owned())
    }
}

/// The settings from flags, then `PROVISION_*` variables, then the prompter (when there is one).
/// Without a prompter, every missing setting is listed in one usage error, by flag.
pub fn resolve_settings(
    args: &InitArgs,
    env: &Env,
    mut prompter: Option<&mut dyn Prompter>,
) -> Result<InitSettings, CliError> {
    let flags = [
        args.org_id.clone(),
        args.sandbox.clone(),
        args.adobe_client_id.clone(),
        args.region.clone(),
        args.zoho_client_id.clone(),
        args.connection_name.clone(),
        args.schema.clone(),
    ];
    let urls: Vec<(&'static str, &'static str, String)> = URL_KEYS
        .iter()
        .filter_map(|&(section, key)| {
            let value = env.get(&env_name(section, key))?.trim();
            (!value.is_empty()).then(|| (section, key, value.to_owned()))
        })
        .collect();
    let accounts_url_given = urls.iter().any(|(_, key, _)| *key == "accounts_url");
    let mut values: Vec<Option<String>> = Vec::new();
    let mut missing = Vec::new();
    for (setting, flag) in SETTINGS.iter().zip(flags) {
        let from_env = env
            .get(&env_name(setting.section, setting.key))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        let mut value = flag.or(from_env);
        if value.is_none() && setting.key == "region" && accounts_url_given {
            values.push(None);
            continue;
        }
        if value.is_none() {
            if let Some(prompter) = prompter.as_deref_mut() {
                value = Some(ask(prompter, setting)?);
            }
        }
        if value.is_none() {
            missing.push(format!(
                "{} (or {})",
                setting.flag,
                env_name(setting.section, setting.key)
            ));
        }
        values.push(value);
    }
    if args.modules.is_empty() && prompter.is_none() {
        missing.push("--module (one per Zoho module, e.g. --module Leads)".to_owned());
    }
    if !missing.is_empty() {
        return Err(CliError::usage(format!(
            "provision init needs {} when stdin is not a terminal; pass {}",
            if missing.len() == 1 {
                "a value"
            } else {
                "these values"
            },
            missing.join(", ")
        )));
    }
    let mut values = values.into_iter();
    let mut next = || values.next().flatten().unwrap_or_default();
    let org_id = next();
    let sandbox = next();
    let adobe_client_id = next();
    let region = match values_region(next())? {
        Some(region) => Some(region),
        None if accounts_url_given => None,
        None => {
            return Err(CliError::usage(format!(
                "--region is empty; use one of {}",
                ZohoRegion::list()
            )))
        }
    };
    Ok(InitSettings {
        org_id,
        sandbox,
        adobe_client_id,
        region,
        zoho_client_id: next(),
        connection_name: next(),
        schema_id: next(),
        modules: args.modules.clone(),
        urls,
    })
}

fn values_region(value: String) -> Result<Option<ZohoRegion>, CliError> {
    if value.is_empty() {
        return Ok(None);
    }
    ZohoRegion::parse(&value.to_ascii_lowercase())
        .map(Some)
        .ok_or_else(|| {
            CliError::usage(format!(
                "--region {value}: not a Zoho data centre; use one of {}",
                ZohoRegion::list()
            ))
        })
}

fn ask(prompter: &mut dyn Prompter, setting: &Setting) -> Result<String, CliError> {
    loop {
        let prompt = match setting.default {
            Some(default) => format!("{} [{default}]", setting.prompt),
            None => setting.prompt.to_owned(),
        };
        let answer = prompter.ask(&prompt).map_err(|e| {
            CliError::usage(format!(
                "{}: {e}; pass {} instead",
                setting.prompt, setting.flag
            ))
        })?;
        match (answer.is_empty(), setting.default) {
            (false, _) => return Ok(answer),
            (true, Some(default)) => return Ok(default.to_owned()),
            (true, None) => continue,
        }
    }
}

/// What `init` found and wrote, for the summary on stdout.
#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    pub profile: String,
    pub schema: String,
    pub dataflows: Vec<ModuleReport>,
    /// The profile text (not part of the JSON).
    #[serde(skip)]
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModuleReport {
    pub module: String,
    pub dataset: String,
    pub delta_column: String,
    pub mapping: Vec<ProposedRule>,
    /// Columns with no type-compatible field of a matching name.
    pub unmatched: Vec<String>,
}

/// One proposed mapping rule and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProposedRule {
    pub source: String,
    pub destination: String,
    /// `exact` or `normalised`.
    #[serde(rename = "match")]
    pub matched: &'static str,
}

/// `provision init FILE`.
pub async fn command(args: &InitArgs, format: OutputFormat) -> CliResult {
    let path = args.file.clone();
    if path.exists() && !args.force {
        return Err(CliError::usage(format!(
            "{} already exists; it was left unchanged. Pass --force to replace it, or choose another FILE",
            path.display()
        )));
    }
    let env = profile::process_env();
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let mut prompter = TerminalPrompter;
    let prompter: Option<&mut dyn Prompter> = if terminal { Some(&mut prompter) } else { None };
    let settings = resolve_settings(args, &env, prompter)?;
    let mut pick = |modules: &[ZohoModule]| pick_modules(modules);
    let report = generate(&settings, &path, &env, Utc::now(), &mut pick).await?;
    write_file(&path, &report.text, args.force)?;
    let human = render(&report);
    output::print(format, &report, &human)?;
    Ok(Exit::Ok)
}

/// Asks which modules to read, from a numbered list (terminal only).
fn pick_modules(modules: &[ZohoModule]) -> Result<Vec<String>, CliError> {
    let mut list = String::from("Zoho CRM modules:\n");
    for (i, m) in modules.iter().enumerate() {
        let label = m.plural_label.as_deref().unwrap_or(&m.api_name);
        list.push_str(&format!("  {:>3}  {:<24} {label}\n", i + 1, m.api_name));
    }
    eprint!("{list}");
    let mut prompter = TerminalPrompter;
    loop {
        let answer = prompter
            .ask("Modules to sync (numbers or names, comma-separated)")
            .map_err(|e| CliError::usage(format!("no modules chosen ({e}); pass --module")))?;
        let mut chosen = Vec::new();
        let mut bad = Vec::new();
        for item in answer.split([',', ' ']).filter(|s| !s.is_empty()) {
            let found = item
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| modules.get(i))
                .or_else(|| {
                    modules
                        .iter()
                        .find(|m| m.api_name.eq_ignore_ascii_case(item))
                });
            match found {
                Some(m) if !chosen.contains(&m.api_name) => chosen.push(m.api_name.clone()),
                Some(_) => {}
                None => bad.push(item.to_owned()),
            }
        }
        if bad.is_empty() && !chosen.is_empty() {
            return Ok(chosen);
        }
        if !bad.is_empty() {
            eprintln!("not in the list: {}", bad.join(", "));
        }
    }
}

/// Chooses modules from Zoho's list (the terminal pick list).
pub type ModulePicker<'a> = dyn FnMut(&[ZohoModule]) -> Result<Vec<String>, CliError> + 'a;

/// Reads the accounts and renders the profile (nothing is written anywhere). `now` sets the
/// schedule's start (the next full hour) and the header's date; `pick` chooses modules when
/// `settings.modules` is empty.
pub async fn generate(
    settings: &InitSettings,
    path: &Path,
    env: &Env,
    now: DateTime<Utc>,
    pick: &mut ModulePicker<'_>,
) -> Result<InitReport, CliError> {
    // The accounts part of the profile, loaded as any profile is: `${VAR}` secrets, overrides,
    // URL rules. A missing secret is a profile error (78) naming its variable.
    let skeleton = render_accounts(settings);
    let accounts = profile::parse(&skeleton, path, env)?;

    let Clients {
        aep: client, zoho, ..
    } = Clients::from_profile(&accounts, HttpOptions::default())?;
    let zoho_failed = |e: ZohoFailure| CliError::failed(anyhow!("{}", zoho_setup::describe(&e)));
    let token = zoho_setup::refresh(&zoho, &accounts.zoho)
        .await
        .map_err(zoho_failed)?;
    // The token the list was read with: a cached one Zoho rejected has been replaced, and the
    // field lists below need the one that works.
    let zoho_setup::ModuleList {
        modules: all_modules,
        token,
        ..
    } = zoho_setup::list_modules(&zoho, &accounts.zoho, &token)
        .await
        .map_err(zoho_failed)?;
    let readable: Vec<ZohoModule> = all_modules
        .into_iter()
        .filter(|m| m.api_supported != Some(false))
        .collect();
    let modules = if settings.modules.is_empty() {
        pick(&readable)?
    } else {
        settings.modules.clone()
    };
    check_modules(&modules, &readable)?;

    let schema = full_schema(&client, &settings.schema_id)
        .await
        .with_context(|| format!("reading the XDM schema {}", settings.schema_id))?
        .ok_or_else(|| {
            CliError::failed(anyhow!(
                "--schema {}: no such schema in the tenant container of sandbox `{}`; pass the \
                 schema's $id (Adobe Experience Platform > Schemas, or GET \
                 /data/foundation/schemaregistry/tenant/schemas)",
                settings.schema_id,
                settings.sandbox
            ))
        })?;

    // One field list per module, read side by side (Zoho's 429s hold every call of the client
    // alike); `buffered` keeps them in the modules' order.
    let crm = zoho.crm();
    let field_lists: Vec<_> = stream::iter(&modules)
        .map(|module| {
            let crm = &crm;
            zoho_setup::with_token(
                &zoho,
                &accounts.zoho,
                &token,
                move |api, access| async move { crm.list_fields(&api, &access, module).await },
            )
        })
        .buffered(crate::validate::CONCURRENCY)
        .collect()
        .await;
    let mut dataflows = Vec::new();
    for (module, fields) in modules.iter().zip(field_lists) {
        let (fields, _) = fields.map_err(zoho_failed)?;
        dataflows.push(plan_module(module, &fields, &schema)?);
    }
    let text = render_profile(settings, &accounts, &schema, &dataflows, now);
    // What init writes must load: a failure here is a bug in init, reported as such.
    profile::parse(&text, path, env).map_err(|e| {
        CliError::failed(anyhow!(
            "the generated profile does not load ({e}); this is a bug in provision init"
        ))
    })?;
    Ok(InitReport {
        profile: path.display().to_string(),
        schema: schema.id.clone(),
        dataflows,
        text,
    })
}

fn check_modules(chosen: &[String], readable: &[ZohoModule]) -> Result<(), CliError> {
    for name in chosen {
        if !readable.iter().any(|m| &m.api_name == name) {
            let hint = nearest(name, readable.iter().map(|m| m.api_name.as_str()))
                .map(|n| format!("did you mean `{n}`? "))
                .unwrap_or_default();
            return Err(CliError::usage(format!(
                "--module {name}: Zoho has no module with that API name that the API can read; \
                 {hint}`provision zoho modules PROFILE` lists them"
            )));
        }
    }
    Ok(())
}

/// One module's dataflow: delta column, dataset and mapping.
fn plan_module(
    module: &str,
    fields: &[ZohoField],
    schema: &XdmSchema,
) -> Result<ModuleReport, CliError> {
    let delta = delta_column(fields).ok_or_else(|| {
        CliError::failed(anyhow!(
            "module {module}: Zoho reports no date-time column that it updates on every edit \
             (Modified_Time); such a module cannot be synced incrementally, so leave it out"
        ))
    })?;
    let (mapping, unmatched) = propose(fields, schema);
    if mapping.is_empty() {
        return Err(CliError::failed(anyhow!(
            "module {module}: none of its {} columns matches a field of the schema {} by name \
             and type; add fields for them to the schema (e.g. under its tenant namespace), or \
             leave the module out",
            fields.len(),
            schema.id
        )));
    }
    Ok(ModuleReport {
        module: module.to_owned(),
        dataset: format!("Zoho {module}"),
        delta_column: delta,
        mapping,
        unmatched,
    })
}

/// The date-time column Zoho sets on every edit: `Modified_Time` on every module, else a
/// read-only date-time field whose name says "modified".
pub fn delta_column(fields: &[ZohoField]) -> Option<String> {
    let date_times = || fields.iter().filter(|f| f.is_date_time());
    date_times()
        .find(|f| f.api_name == profile::DEFAULT_DELTA_COLUMN)
        .or_else(|| {
            date_times().find(|f| {
                f.read_only == Some(true) && f.api_name.to_ascii_lowercase().contains("modified")
            })
        })
        .map(|f| f.api_name.clone())
}

/// Proposes one rule per column that has a type-compatible schema field of a matching name, and
/// lists the rest. Candidates are tried in this order, each in path order, and a field is used
/// once: the same name outside the tenant namespace (the standard field groups), then a
/// normalised name there (`First_Name` ~ `person.name.firstName`, `Email` ~
/// `personalEmail.address`), then the same name in the tenant namespace, then a normalised one.
pub fn propose(fields: &[ZohoField], schema: &XdmSchema) -> (Vec<ProposedRule>, Vec<String>) {
    let mut used: Vec<&str> = Vec::new();
    let mut rules = Vec::new();
    let mut unmatched = Vec::new();
    for column in fields {
        let compatible: Vec<&XdmField> = schema
            .fields
            .iter()
            .filter(|f| !used.contains(&f.path.as_str()) && f.accepts(column))
            .collect();
        let tiers = [
            (false, "exact"),
            (false, "normalised"),
            (true, "exact"),
            (true, "normalised"),
        ];
        let found = tiers.iter().find_map(|&(tenant, how)| {
            compatible
                .iter()
                .filter(|f| schema.is_tenant_field(&f.path) == tenant)
                .find(|f| match how {
                    "exact" => last_segment(&f.path) == column.api_name,
                    _ => normalised_match(&column.api_name, &f.path),
                })
                .map(|f| (*f, how))
        });
        match found {
            Some((field, how)) => {
                used.push(&field.path);
                rules.push(ProposedRule {
                    source: column.api_name.clone(),
                    destination: field.path.clone(),
                    matched: how,
                });
            }
            None => unmatched.push(column.api_name.clone()),
        }
    }
    (rules, unmatched)
}

fn last_segment(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// Lower case, letters and digits only: `First_Name` and `firstName` are both `firstname`.
fn normalise(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A column matches a path when its normalised name equals the normalised last segment, or the
/// last two segments together (`Mobile_Phone_Number` ~ `mobilePhone.number`), or, for the value
/// leaf of a standard contact object (`address`, `number`), when the object's name ends with it
/// (`Email` ~ `personalEmail.address`, `Phone` ~ `mobilePhone.number`).
fn normalised_match(column: &str, path: &str) -> bool {
    let column = normalise(column);
    let mut segments = path.rsplit('.');
    let last = segments.next().unwrap_or_default();
    let parent = segments.next().unwrap_or_default();
    column == normalise(last)
        || (!parent.is_empty() && column == normalise(&format!("{parent}{last}")))
        || (matches!(last, "address" | "number")
            && !parent.is_empty()
            && normalise(parent).ends_with(&column))
}

/// The `[adobe]`, `[zoho]` and `[connection]` sections (what the accounts are read with).
fn render_accounts(settings: &InitSettings) -> String {
    let q = quote;
    let mut out = String::new();
    out.push_str("[adobe]\n");
    out.push_str(&format!("org_id        = {}\n", q(&settings.org_id)));
    out.push_str(&format!("sandbox       = {}\n", q(&settings.sandbox)));
    out.push_str(&format!(
        "client_id     = {}   # also sent as x-api-key\n",
        q(&settings.adobe_client_id)
    ));
    out.push_str("client_secret = \"${AEP_CLIENT_SECRET}\"   # read from the environment\n");
    url_lines(&mut out, settings, "adobe");
    out.push_str("\n[zoho]\n");
    if let Some(region) = settings.region {
        out.push_str(&format!(
            "region        = {}   # us eu in au jp cn ca sa uk\n",
            q(region.as_str())
        ));
    }
    out.push_str(&format!(
        "client_id     = {}\n",
        q(&settings.zoho_client_id)
    ));
    out.push_str("client_secret = \"${ZOHO_CLIENT_SECRET}\"\n");
    out.push_str(
        "refresh_token = \"${ZOHO_REFRESH_TOKEN}\"   # `provision zoho token` makes one\n",
    );
    url_lines(&mut out, settings, "zoho");
    out.push_str("\n[connection]\n");
    out.push_str(&format!(
        "name        = {}   # the base connection; also the prefix of every managed name\n",
        q(&settings.connection_name)
    ));
    out.push_str("description = \"Zoho CRM, set up with provision init\"\n");
    out
}

fn url_lines(out: &mut String, settings: &InitSettings, section: &str) {
    for (s, key, value) in &settings.urls {
        if *s == section {
            out.push_str(&format!(
                "{key:<13} = {}   # from ${}\n",
                quote(value),
                env_name(s, key)
            ));
        }
    }
}

fn quote(value: &str) -> String {
    toml::Value::String(value.to_owned()).to_string()
}

/// The whole profile.
pub fn render_profile(
    settings: &InitSettings,
    accounts: &Profile,
    schema: &XdmSchema,
    dataflows: &[ModuleReport],
    now: DateTime<Utc>,
) -> String {
    let start = next_hour(now);
    let modules: Vec<&str> = dataflows.iter().map(|d| d.module.as_str()).collect();
    let mut out = String::new();
    out.push_str(&format!(
        "# Written by `provision init` on {} from what the accounts hold: the Zoho CRM modules\n\
         # {} and their fields, and the XDM schema {}.\n\
         # Review the mappings, then run `provision plan {}` and `provision apply`.\n\
         # Secrets are read from the environment: AEP_CLIENT_SECRET, ZOHO_CLIENT_SECRET,\n\
         # ZOHO_REFRESH_TOKEN. Any key can be overridden as PROVISION_<SECTION>__<KEY>.\n\n",
        now.format("%Y-%m-%d"),
        modules.join(", "),
        schema.id,
        accounts.path.display(),
    ));
    out.push_str(&render_accounts(settings));
    out.push_str("\n[defaults]\n");
    let title = schema
        .title
        .as_deref()
        .map(|t| format!("   # \"{t}\""))
        .unwrap_or_default();
    out.push_str(&format!("schema_id = {}{title}\n", quote(&schema.id)));
    out.push_str(&format!(
        "schedule  = {{ frequency = \"hour\", interval = 1, start = \"{}\", backfill = true }}   # hourly from the next full hour\n",
        start.format("%Y-%m-%dT%H:%M:%SZ")
    ));
    for flow in dataflows {
        out.push('\n');
        out.push_str(&format!(
            "# {}: {} of {} columns mapped by name ({} exact, {} normalised).\n",
            flow.module,
            flow.mapping.len(),
            flow.mapping.len() + flow.unmatched.len(),
            flow.mapping.iter().filter(|r| r.matched == "exact").count(),
            flow.mapping.iter().filter(|r| r.matched != "exact").count(),
        ));
        if !flow.unmatched.is_empty() {
            out.push_str(&wrap_comment(
                "Not mapped (no type-compatible schema field of that name): ",
                &flow.unmatched,
            ));
        }
        out.push_str("[[dataflows]]\n");
        out.push_str(&format!("module       = {}\n", quote(&flow.module)));
        out.push_str(&format!(
            "dataset      = {{ create = true, name = {} }}\n",
            quote(&flow.dataset)
        ));
        out.push_str(&format!(
            "delta_column = {}   # the date-time column Zoho updates on every edit\n",
            quote(&flow.delta_column)
        ));
        out.push_str("mapping      = [\n");
        let width = flow
            .mapping
            .iter()
            .map(|r| quote(&r.source).len())
            .max()
            .unwrap_or(0);
        for rule in &flow.mapping {
            let source = format!("{},", quote(&rule.source));
            let note = if rule.matched == "exact" {
                String::new()
            } else {
                "   # normalised name".to_owned()
            };
            out.push_str(&format!(
                "  {{ source = {source:<w$} destination = {} }},{note}\n",
                quote(&rule.destination),
                w = width + 1
            ));
        }
        out.push_str("]\n");
    }
    out
}

fn wrap_comment(lead: &str, items: &[String]) -> String {
    let mut out = String::new();
    let mut line = format!("# {lead}");
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 == items.len() {
            format!("{item}.")
        } else {
            format!("{item}, ")
        };
        if line.len() + piece.len() > 100 {
            out.push_str(line.trim_end());
            out.push('\n');
            line = "#   ".to_owned();
        }
        line.push_str(&piece);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// The next full hour strictly after `now`.
pub fn next_hour(now: DateTime<Utc>) -> DateTime<Utc> {
    let hour = TimeDelta::hours(1);
    now.duration_trunc(hour).unwrap_or(now) + hour
}

/// Writes the profile: a new file unless `force` (so a file created meanwhile is not replaced).
fn write_file(path: &Path, text: &str, force: bool) -> Result<(), CliError> {
    let result = if force {
        std::fs::write(path, text)
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
    };
    result.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::usage(format!(
                "{} already exists; it was left unchanged. Pass --force to replace it",
                path.display()
            ))
        } else {
            CliError::failed(anyhow!("writing {}: {e}", path.display()))
        }
    })
}

fn render(report: &InitReport) -> String {
    let mut out = format!(
        "Wrote {}: {} dataflow{} into schema {}\n",
        report.profile,
        report.dataflows.len(),
        if report.dataflows.len() == 1 { "" } else { "s" },
        report.schema
    );
    let width = report
        .dataflows
        .iter()
        .map(|d| d.module.len())
        .max()
        .unwrap_or(0);
    for flow in &report.dataflows {
        out.push_str(&format!(
            "  {:<width$}  {} of {} columns mapped, delta column {}\n",
            flow.module,
            flow.mapping.len(),
            flow.mapping.len() + flow.unmatched.len(),
            flow.delta_column
        ));
    }
    out.push_str(&format!(
        "Next: review the mappings, then `provision plan {}`\n",
        report.profile
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, data_type: &str, json_type: &str) -> ZohoField {
        serde_json::from_value(serde_json::json!({
            "api_name": name, "data_type": data_type, "json_type": json_type,
            "read_only": name.ends_with("_Time"),
        }))
        .expect("a field")
    }

    fn leaf(path: &str, kind: &str, format: Option<&str>) -> XdmField {
        XdmField {
            path: path.into(),
            kind: kind.into(),
            format: format.map(str::to_owned),
        }
    }

    fn schema() -> XdmSchema {
        XdmSchema {
            id: "https://ns.adobe.com/acme/schemas/x".into(),
            title: None,
            tenant_namespace: Some("_acme".into()),
            fields: vec![
                leaf("_acme.zoho.Email", "string", None),
                leaf("_acme.zoho.First_Name", "string", None),
                leaf("_acme.zoho.Modified_Time", "string", Some("date-time")),
                leaf("_acme.zoho.Phone", "number", None),
                leaf("mobilePhone.number", "string", None),
                leaf("person.name.firstName", "string", None),
                leaf("personalEmail.address", "string", Some("email")),
            ],
        }
    }

    #[test]
    fn standard_fields_win_then_the_tenant_namespace_and_types_must_fit() {
        let fields = [
            field("Email", "email", "string"),
            field("First_Name", "text", "string"),
            field("Phone", "phone", "string"),
            field("Modified_Time", "datetime", "string"),
            field("Owner", "ownerlookup", "jsonobject"),
            field("Annual_Revenue", "double", "double"),
        ];
        let (rules, unmatched) = propose(&fields, &schema());
        let pairs: Vec<(&str, &str, &str)> = rules
            .iter()
            .map(|r| (r.source.as_str(), r.destination.as_str(), r.matched))
            .collect();
        assert_eq!(
            pairs,
            [
                ("Email", "personalEmail.address", "normalised"),
                ("First_Name", "person.name.firstName", "normalised"),
                ("Phone", "mobilePhone.number", "normalised"),
                ("Modified_Time", "_acme.zoho.Modified_Time", "exact"),
            ]
        );
        assert_eq!(unmatched, ["Owner", "Annual_Revenue"]);
    }

    #[test]
    fn a_field_is_proposed_once_and_dates_need_their_format() {
        let fields = [
            field("Email", "email", "string"),
            field("EMAIL", "email", "string"),
            field("Created_Time", "date", "string"),
        ];
        let (rules, unmatched) = propose(&fields, &schema());
        assert_eq!(rules.len(), 2, "{rules:?}");
        assert_eq!(rules[1].destination, "_acme.zoho.Email");
        assert_eq!(unmatched, ["Created_Time"]);
    }

    #[test]
    fn the_delta_column_is_the_one_zoho_updates_on_edit() {
        let fields = [
            field("Created_Time", "datetime", "string"),
            field("Modified_Time", "datetime", "string"),
        ];
        assert_eq!(delta_column(&fields).as_deref(), Some("Modified_Time"));
        let custom = [
            field("Created_Time", "datetime", "string"),
            field("Last_Modified_Time", "datetime", "string"),
        ];
        assert_eq!(delta_column(&custom).as_deref(), Some("Last_Modified_Time"));
        assert_eq!(delta_column(&custom[..1]), None);
    }

    #[test]
    fn the_schedule_starts_at_the_next_full_hour() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).expect("time").to_utc();
        assert_eq!(
            next_hour(at("2026-12-06T07:42:10Z")),
            at("2026-12-06T08:00:00Z")
        );
        assert_eq!(
            next_hour(at("2026-12-06T23:00:00Z")),
            at("2026-12-07T00:00:00Z")
        );
    }

    struct Answers(Vec<&'static str>);

    impl Prompter for Answers {
        fn ask(&mut self, _: &str) -> anyhow::Result<String> {
            Ok(self.0.remove(0).to_owned())
        }
    }

    fn args(extra: &[&str]) -> InitArgs {
        use clap::Parser;
        let mut argv = vec!["provision", "init", "x.toml"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::parse_from(argv).command {
            crate::cli::Command::Init(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn off_a_terminal_every_missing_flag_is_named() {
        let env = Env::from([(
            "PROVISION_ADOBE__ORG_ID".to_owned(),
            "o@AdobeOrg".to_owned(),
        )]);
        let error = resolve_settings(&args(&["--sandbox", "prod"]), &env, None).expect_err("64");
        assert_eq!(error.exit, Exit::Usage);
        let message = error.to_string();
        for flag in [
            "--adobe-client-id",
            "--region",
            "--zoho-client-id",
            "--schema",
            "--module",
        ] {
            assert!(message.contains(flag), "{message}");
        }
        assert!(!message.contains("--org-id"), "{message}");
        assert!(!message.contains("--sandbox"), "{message}");
    }

    #[test]
    fn on_a_terminal_missing_values_are_asked_with_defaults() {
        let mut answers = Answers(vec!["o@AdobeOrg", "", "key", "EU", "1000.X", "", "s"]);
        let settings = resolve_settings(
            &args(&["--module", "Leads"]),
            &Env::new(),
            Some(&mut answers),
        )
        .expect("settings");
        assert_eq!(settings.sandbox, "prod");
        assert_eq!(settings.region, Some(ZohoRegion::Eu));
        assert_eq!(settings.connection_name, "zoho-crm");
        assert_eq!(settings.schema_id, "s");
        assert!(answers.0.is_empty());
    }
}
