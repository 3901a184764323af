//! The one validation behind docs/cli.md's safety rule "plan tells the whole truth": what `check`
//! reports as named checks, and what `plan` and `apply` run before their first write.
//!
//! The facts come in with few requests, never one per column or per mapping rule:
//!
//! | fact | request |
//! |---|---|
//! | a module's columns, base connection present | `GET /connections/{id}/explore?objectType=table&object={module}` per module |
//! | a module's columns, no base connection yet | `GET /crm/v8/settings/modules` once, `GET /crm/v8/settings/fields?module=` per module |
//! | a dataset | `GET /dataSets/{id}` per distinct dataset id |
//! | a schema and its fields | `GET /tenant/schemas/{$id}` (resolved form) per distinct schema |
//!
//! The checks themselves are pure ([`module_checks`], [`dataset_check`], [`schema_check`]) and
//! named: `module:{M}`, `columns:{M}`, `destinations:{M}`, `dataset:{id}`, `schema:{id}`, next to
//! the credential and spec checks of [`crate::check`]. [`Class`] orders them: `plan` stops at the
//! first class that has a failure and lists every failure of it.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt};
use tokio::sync::Semaphore;

use crate::api::catalog::{self, Dataset};
use crate::api::crm::ZohoField;
use crate::api::explore::Column;
use crate::api::schemas::{self, XdmField, XdmSchema};
use crate::api::{AepClient, DatasetId};
use crate::auth::zoho::{ZohoOAuth, ZohoToken};
use crate::check::Check;
use crate::engine::desired::{missing_columns, nearest};
use crate::profile::{Dataflow, DatasetTarget, Mapping, Profile, ZohoSettings};
use crate::zoho_setup::{self, ModuleList, ZohoFailure};

/// Requests of one kind sent at the same time by the commands without `--concurrency` (`check`,
/// `plan`, `destroy`, `run`, `retry`, `init`), and the default of `apply --concurrency`.
pub const CONCURRENCY: usize = 8;

/// The classes of problems, in the order `plan` and `apply` report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// The profile, IMS, the org and sandbox, Zoho's refresh token and API, the base connection.
    Credentials,
    /// The Zoho CRM connection spec and the CRMToAEP flow spec.
    Source,
    /// Modules, mapping sources and delta columns.
    Modules,
    /// Datasets and schemas.
    Targets,
    /// Mapping destinations against the schema.
    Destinations,
}

impl Class {
    /// The class of a named check.
    pub fn of(check: &str) -> Class {
        match check.split(':').next().unwrap_or_default() {
            "zoho_connection_spec" | "zoho_flow_spec" => Class::Source,
            "module" | "columns" => Class::Modules,
            "dataset" | "schema" => Class::Targets,
            "destinations" => Class::Destinations,
            _ => Class::Credentials,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Class::Credentials => "credentials",
            Class::Source => "the Zoho CRM source",
            Class::Modules => "modules and columns",
            Class::Targets => "datasets and schemas",
            Class::Destinations => "mapping destinations",
        }
    }
}

/// One source column as the validation types it: a Zoho field (from Zoho's API, or made from
/// explore's column types), so that [`crate::api::schemas::XdmField::accepts`] decides. Explore
/// types every text-like Zoho field (email, phone, URL, picklist) as a plain string, so a string
/// column from explore (`loose`) may fill any string field but a date or date-time.
#[derive(Debug, Clone)]
pub struct Col(pub ZohoField, bool);

impl Col {
    /// A column of explore's answer, typed as Zoho would type it.
    pub fn from_explore(column: &Column) -> Col {
        let source = column.kind.as_deref().unwrap_or_default();
        let data_type = if column.is_date_time() {
            "datetime"
        } else if column.format() == Some("date") {
            "date"
        } else {
            match (column.xdm_type(), source) {
                (Some("boolean"), _) | (None, "boolean") => "boolean",
                (Some("number"), _) | (None, "double" | "float") => "double",
                (Some("integer"), _) | (None, "long" | "integer") => "bigint",
                _ => "text",
            }
        };
        let loose = data_type == "text";
        let field = ZohoField {
            api_name: column.name.clone(),
            data_type: data_type.to_owned(),
            json_type: None,
            display_label: None,
            field_label: None,
            read_only: None,
            system_mandatory: None,
            length: None,
            id: None,
        };
        Col(field, loose)
    }

    /// A field of Zoho's `settings/fields` answer.
    pub fn from_zoho(field: ZohoField) -> Col {
        Col(field, false)
    }

    fn name(&self) -> &str {
        &self.0.api_name
    }

    /// Whether this column's values can land in `field`.
    fn fits(&self, field: &XdmField) -> bool {
        if self.1 {
            field.kind == "string" && !matches!(field.format.as_deref(), Some("date" | "date-time"))
        } else {
            field.accepts(&self.0)
        }
    }
}

/// What the validation knows of one module's columns.
#[derive(Debug, Clone)]
pub enum Columns {
    /// The module exists; `from` names who listed its columns.
    Listed { from: String, columns: Vec<Col> },
    /// The module does not exist: the message names it, the nearest module and what to do.
    Missing(String),
    /// The columns could not be read (the checks that need them are skipped), and why.
    Unknown(String),
}

/// Everything the pure checks read.
#[derive(Debug, Default)]
pub struct Facts {
    pub columns: BTreeMap<String, Columns>,
    pub datasets: BTreeMap<String, Result<Option<Dataset>, String>>,
    pub schemas: BTreeMap<String, Result<Option<XdmSchema>, String>>,
    /// Why the datasets and schemas were not read, when they were not.
    pub unread: Option<String>,
}

/// Reads the datasets and schemas `flows` use: one request per distinct id, a few at a time.
pub async fn read_targets(client: &AepClient, flows: &[&Dataflow], facts: &mut Facts) {
    let datasets: BTreeSet<&str> = flows
        .iter()
        .filter_map(|f| match &f.dataset {
            DatasetTarget::Existing { id } => Some(id.as_str()),
            DatasetTarget::Create { .. } => None,
        })
        .collect();
    let schemas: BTreeSet<&str> = flows.iter().map(|f| f.schema_id.as_str()).collect();
    let read_datasets = stream::iter(datasets)
        .map(|id| async move {
            let found = catalog::get_dataset(client, &DatasetId::from(id)).await;
            (id.to_owned(), found.map_err(|e| e.to_string()))
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>();
    let read_schemas = stream::iter(schemas)
        .map(|id| async move {
            let found = schemas::full_schema(client, id).await;
            (id.to_owned(), found.map_err(|e| e.to_string()))
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>();
    let (datasets, schemas) = tokio::join!(read_datasets, read_schemas);
    facts.datasets.extend(datasets);
    facts.schemas.extend(schemas);
}

/// At most this many calls to Zoho's CRM API at once, whatever `--concurrency` allows: Zoho lets
/// each app of an org make 10 concurrent calls on its Standard edition (5 on Free, up to 25
/// above), with about 10 on its heavier APIs (docs/zoho-oauth.md, "CRM limits"). A 429 beyond an
/// org's limit is retried after a back-off like any other read.
pub const ZOHO_MAX_CONCURRENCY: usize = 10;

/// The columns of `modules` from Zoho's CRM API (no base connection to explore through): the
/// module list (unless `listed` has it already) and each module's fields, read side by side,
/// `concurrency` + 1 calls at a time (the list beside `concurrency` field lists; at most
/// [`ZOHO_MAX_CONCURRENCY`]; with `concurrency` 1, one call at a time). A module the list lacks
/// is reported missing, whatever its field list said; with the list already in hand, its field
/// list is not asked for.
pub async fn zoho_columns(
    zoho: &ZohoOAuth,
    profile: &Profile,
    modules: &[&str],
    concurrency: usize,
    listed: Option<ModuleList>,
) -> BTreeMap<String, Columns> {
    let unknown = |why: String| {
        modules
            .iter()
            .map(|m| (m.to_string(), Columns::Unknown(why.clone())))
            .collect()
    };
    if modules.is_empty() {
        return BTreeMap::new();
    }
    let settings = &profile.zoho;
    // The token that read the module list, else the cached or a refreshed one.
    let token = match &listed {
        Some(list) => list.token.clone(),
        None => match zoho_setup::refresh(zoho, settings).await {
            Ok(token) => token,
            Err(e) => {
                return unknown(format!(
                    "no Zoho access token: {}",
                    zoho_setup::describe(&e)
                ))
            }
        },
    };
    // The module list and the field lists share `concurrency` + 1 calls in flight (one at a time
    // with `concurrency` 1): the field lists take the list's place once it has answered.
    let slots = match concurrency {
        0 | 1 => 1,
        n => (n + 1).min(ZOHO_MAX_CONCURRENCY),
    };
    let calls = Semaphore::new(slots);
    let to_read: Vec<&str> = match &listed {
        Some(list) => modules
            .iter()
            .copied()
            .filter(|m| list.modules.iter().any(|l| l.api_name == *m))
            .collect(),
        None => modules.to_vec(),
    };
    let list = async {
        if let Some(listed) = listed {
            return Ok(listed);
        }
        let _call = calls.acquire().await;
        zoho_setup::list_modules(zoho, settings, &token).await
    };
    let fields = read_fields(zoho, settings, &token, &to_read, &calls);
    let (listed, mut fields) = tokio::join!(list, fields);
    let ModuleList {
        modules: listed, ..
    } = match listed {
        Ok(found) => found,
        Err(e) => {
            return unknown(format!(
                "Zoho's module list failed: {}",
                zoho_setup::describe(&e)
            ))
        }
    };
    let names = || listed.iter().map(|m| m.api_name.as_str());
    modules
        .iter()
        .map(|&module| {
            let columns = match fields.remove(module) {
                _ if !listed.iter().any(|m| m.api_name == module) => Columns::Missing(format!(
                    "Zoho's CRM API lists no module `{module}`{}; fix `module` in its \
                     [[dataflows]] entry (`provision zoho modules` lists them)",
                    backticked_suggestion(nearest(module, names()))
                )),
                Some(Ok(fields)) => Columns::Listed {
                    from: "Zoho's CRM API".to_owned(),
                    columns: fields.into_iter().map(Col::from_zoho).collect(),
                },
                Some(Err(e)) => Columns::Unknown(format!("Zoho's field list failed: {e}")),
                None => Columns::Unknown("Zoho's field list was not read".to_owned()),
            };
            (module.to_owned(), columns)
        })
        .collect()
}

/// `GET /crm/v8/settings/fields?module=` of each of `modules`, each holding one of `calls`
/// ([`zoho_setup::with_token`]: a rejected token is refreshed once for all of them).
async fn read_fields(
    zoho: &ZohoOAuth,
    settings: &ZohoSettings,
    token: &ZohoToken,
    modules: &[&str],
    calls: &Semaphore,
) -> BTreeMap<String, Result<Vec<ZohoField>, ZohoFailure>> {
    let crm = zoho.crm();
    stream::iter(modules.iter().copied())
        .map(|module| {
            let crm = &crm;
            async move {
                let _call = calls.acquire().await;
                let fields =
                    zoho_setup::with_token(zoho, settings, token, |api, access| async move {
                        crm.list_fields(&api, &access, module).await
                    })
                    .await
                    .map(|(fields, _)| fields);
                (module.to_owned(), fields)
            }
        })
        .buffer_unordered(ZOHO_MAX_CONCURRENCY)
        .collect()
        .await
}

/// The columns explore listed for a module, or explore's message naming it (which already holds
/// the nearest table and what to do).
pub fn explored_columns(result: Result<&[Column], &str>) -> Columns {
    match result {
        Ok(columns) => Columns::Listed {
            from: "explore".to_owned(),
            columns: columns.iter().map(Col::from_explore).collect(),
        },
        Err(message) => Columns::Missing(message.to_owned()),
    }
}

/// `" (did you mean `X`?)"`: Zoho's and XDM's names in backticks, as this module's messages
/// write them ([`crate::engine::desired::did_you_mean`] quotes profile values instead).
fn backticked_suggestion(near: Option<&str>) -> String {
    near.map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default()
}

/// `module:{M}`, `columns:{M}` and `destinations:{M}` of one dataflow.
pub fn module_checks(flow: &Dataflow, facts: &Facts) -> Vec<Check> {
    let module = &flow.module;
    let names = [
        format!("module:{module}"),
        format!("columns:{module}"),
        format!("destinations:{module}"),
    ];
    let [module_name, columns_name, destinations_name] = names;
    let (from, columns) = match facts.columns.get(module) {
        Some(Columns::Listed { from, columns }) => (from, columns),
        Some(Columns::Missing(message)) => {
            let why = format!("module `{module}` does not exist (see {module_name})");
            return vec![
                Check::fail(module_name, message.clone()),
                Check::skip(columns_name, why.clone()),
                Check::skip(destinations_name, why),
            ];
        }
        Some(Columns::Unknown(why)) => {
            return vec![
                Check::skip(module_name, why.clone()),
                Check::skip(columns_name, why.clone()),
                Check::skip(destinations_name, why.clone()),
            ]
        }
        None => {
            let why = "its columns were not read";
            return vec![
                Check::skip(module_name, why),
                Check::skip(columns_name, why),
                Check::skip(destinations_name, why),
            ];
        }
    };
    let exists = Check::pass(
        module_name,
        format!("{from} lists `{module}` with {} columns", columns.len()),
    );
    let column_check = match column_problems(flow, from, columns) {
        problems if problems.is_empty() => Check::pass(
            columns_name,
            format!(
                "delta_column `{}` is a date-time column{}",
                flow.delta_column,
                match &flow.mapping {
                    Mapping::Auto { .. } => String::new(),
                    Mapping::Explicit(rules) => {
                        format!("; the {} mapping sources exist", rules.len())
                    }
                }
            ),
        ),
        problems => Check::fail(
            columns_name,
            format!(
                "module {module:?}: {}; fix the [[dataflows]] entry (`provision explore {module}` \
                 lists its columns)",
                problems.join("; ")
            ),
        ),
    };
    let destination_check = destination_check(destinations_name, flow, columns, facts);
    vec![exists, column_check, destination_check]
}

/// The mapping sources and the delta column that the module lacks, and a delta column that is not
/// a date-time.
fn column_problems(flow: &Dataflow, from: &str, columns: &[Col]) -> Vec<String> {
    let listed: BTreeSet<&str> = columns.iter().map(Col::name).collect();
    let missing = missing_columns(&flow.delta_column, &flow.mapping, &listed);
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("{from} does not list {}", missing.join(", ")));
    }
    let delta = columns.iter().find(|c| c.name() == flow.delta_column);
    if let Some(column) = delta.filter(|c| !c.0.is_date_time()) {
        let dated: Vec<&str> = columns
            .iter()
            .filter(|c| c.0.is_date_time())
            .map(Col::name)
            .collect();
        problems.push(format!(
            "delta_column {:?} is not a date-time column ({} lists it as {}), so every run \
             would fail (CONNECTOR-2001-500); use a date-time column{}",
            flow.delta_column,
            from,
            if column.0.data_type.is_empty() {
                "untyped"
            } else {
                &column.0.data_type
            },
            if dated.is_empty() {
                String::new()
            } else {
                format!(" such as {}", quoted(&dated))
            }
        ));
    }
    problems
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .take(3)
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every mapping destination against the resolved schema: present, and of a type its source
/// column fills; for `mapping = "auto"`, the columns without a `{prefix}.C` field.
fn destination_check(name: String, flow: &Dataflow, columns: &[Col], facts: &Facts) -> Check {
    let schema = match facts.schemas.get(&flow.schema_id) {
        Some(Ok(Some(schema))) => schema,
        _ => {
            return Check::skip(
                name,
                format!(
                    "schema {} was not read (see schema:{})",
                    flow.schema_id, flow.schema_id
                ),
            )
        }
    };
    let paths = || schema.fields.iter().map(|f| f.path.as_str());
    let mut problems = Vec::new();
    let pairs: Vec<(&str, String)> = match &flow.mapping {
        Mapping::Explicit(rules) => rules
            .iter()
            .map(|r| (r.source.as_str(), r.destination.clone()))
            .collect(),
        Mapping::Auto { prefix, .. } => columns
            .iter()
            .map(|c| (c.name(), format!("{prefix}.{}", c.name())))
            .collect(),
    };
    let mut unmapped = Vec::new();
    for (source, destination) in &pairs {
        let column = columns.iter().find(|c| c.name() == *source);
        match (schema.field(destination), column) {
            (None, _) if matches!(flow.mapping, Mapping::Auto { .. }) => unmapped.push(*source),
            (None, _) => problems.push(format!(
                "destination `{destination}` (from `{source}`) is not a field of the schema{}",
                backticked_suggestion(nearest(destination, paths()))
            )),
            (Some(field), Some(column)) if !column.fits(field) => {
                let fits: Vec<&str> = schema
                    .fields
                    .iter()
                    .filter(|f| column.fits(f))
                    .map(|f| f.path.as_str())
                    .collect();
                problems.push(format!(
                    "destination `{destination}` is a {}{} field, which the {} column `{source}` \
                     cannot fill{}",
                    field.kind,
                    field
                        .format
                        .as_deref()
                        .map(|f| format!(" ({f})"))
                        .unwrap_or_default(),
                    column.0.data_type,
                    backticked_suggestion(nearest(destination, fits.iter().copied()))
                ));
            }
            _ => {}
        }
    }
    if let Mapping::Auto {
        prefix,
        skip_unmapped,
    } = &flow.mapping
    {
        if !unmapped.is_empty() && !skip_unmapped {
            problems.push(format!(
                "mapping = \"auto\": the schema has no `{prefix}.C` field for {} of {} columns: \
                 {}; add the fields to the schema, map the columns explicitly, or set \
                 auto_unmapped = \"skip\" to ingest them unmapped",
                unmapped.len(),
                pairs.len(),
                unmapped.join(", ")
            ));
        }
    }
    let mapped = pairs.len() - unmapped.len();
    verdict(name, flow, schema, &problems, mapped, unmapped.len())
}

/// The `destinations:{M}` check from its problems: `mapped` destinations checked, `unmapped`
/// columns skipped.
fn verdict(
    name: String,
    flow: &Dataflow,
    schema: &XdmSchema,
    problems: &[String],
    mapped: usize,
    unmapped: usize,
) -> Check {
    let module = &flow.module;
    let title = schema.title.as_deref().unwrap_or(&schema.id);
    if problems.is_empty() {
        let skipped = if unmapped == 0 {
            String::new()
        } else {
            format!("; {unmapped} columns unmapped (auto_unmapped = \"skip\")")
        };
        Check::pass(
            name,
            format!(
                "{mapped} destinations are fields of \"{title}\" of a type their column fills{skipped}"
            ),
        )
    } else {
        Check::fail(
            name,
            format!(
                "module `{module}` into schema \"{title}\": {}; fix `mapping` in its [[dataflows]] \
                 entry (`provision explore --schema` lists the schema's fields)",
                problems.join("; ")
            ),
        )
    }
}

/// The columns `mapping = "auto"` with `auto_unmapped = "skip"` leaves unmapped.
pub fn unmapped(flow: &Dataflow, facts: &Facts) -> BTreeSet<String> {
    let (
        Mapping::Auto {
            prefix,
            skip_unmapped: true,
        },
        Some(Columns::Listed { columns, .. }),
        Some(Ok(Some(schema))),
    ) = (
        &flow.mapping,
        facts.columns.get(&flow.module),
        facts.schemas.get(&flow.schema_id),
    )
    else {
        return BTreeSet::new();
    };
    columns
        .iter()
        .filter(|c| schema.field(&format!("{prefix}.{}", c.name())).is_none())
        .map(|c| c.name().to_owned())
        .collect()
}

/// The modules of `flows`, for "used by ...".
fn modules_of(flows: &[&Dataflow]) -> String {
    flows
        .iter()
        .map(|f| f.module.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `dataset:{id}`: exists, and holds the schema of every dataflow writing to it.
pub fn dataset_check(profile: &Profile, id: &str, flows: &[&Dataflow], facts: &Facts) -> Check {
    let name = format!("dataset:{id}");
    let sandbox = &profile.adobe.sandbox;
    let modules = modules_of(flows);
    match facts.datasets.get(id) {
        None => Check::skip(name, facts.unread.as_deref().unwrap_or("not read")),
        Some(Err(e)) => Check::fail(name, e.clone()),
        Some(Ok(None)) => Check::fail(
            name,
            format!(
                "dataset {id} (used by {modules}) does not exist in sandbox {sandbox}; fix \
                 dataset = {{ id = \"...\" }} in their [[dataflows]] entries, or write dataset = \
                 {{ create = true, name = \"...\" }}"
            ),
        ),
        Some(Ok(Some(dataset))) => {
            let label = dataset
                .name
                .as_deref()
                .map(|n| format!("\"{n}\""))
                .unwrap_or_else(|| id.to_owned());
            let actual = dataset.schema_id().unwrap_or("no schema");
            match flows.iter().find(|f| f.schema_id != actual) {
                Some(flow) => Check::fail(
                    name,
                    format!(
                        "dataset {label} uses schema {actual}, but the {} dataflow targets {}; \
                         choose a dataset of that schema or set schema_id = \"{actual}\"",
                        flow.module, flow.schema_id
                    ),
                ),
                None => Check::pass(
                    name,
                    format!("dataset {label} exists with schema {actual} (used by {modules})"),
                ),
            }
        }
    }
}

/// `schema:{id}`: the Schema Registry has it.
pub fn schema_check(profile: &Profile, id: &str, flows: &[&Dataflow], facts: &Facts) -> Check {
    let name = format!("schema:{id}");
    let modules = modules_of(flows);
    match facts.schemas.get(id) {
        None => Check::skip(name, facts.unread.as_deref().unwrap_or("not read")),
        Some(Err(e)) => Check::fail(name, e.clone()),
        Some(Ok(None)) => Check::fail(
            name,
            format!(
                "schema {id} (used by {modules}) is not in the tenant container of sandbox {}; \
                 fix schema_id (`provision init` lists the sandbox's schemas), or create it",
                profile.adobe.sandbox
            ),
        ),
        Some(Ok(Some(schema))) => Check::pass(
            name,
            format!(
                "the Schema Registry has it{} with {} fields (used by {modules})",
                schema
                    .title
                    .as_deref()
                    .map(|t| format!(" (\"{t}\")"))
                    .unwrap_or_default(),
                schema.fields.len()
            ),
        ),
    }
}

/// Every target check of `flows`: one per distinct dataset id, then one per distinct schema.
pub fn target_checks(profile: &Profile, flows: &[&Dataflow], facts: &Facts) -> Vec<Check> {
    let mut datasets: BTreeMap<&str, Vec<&Dataflow>> = BTreeMap::new();
    let mut schemas: BTreeMap<&str, Vec<&Dataflow>> = BTreeMap::new();
    for flow in flows {
        if let DatasetTarget::Existing { id } = &flow.dataset {
            datasets.entry(id).or_default().push(flow);
        }
        schemas.entry(&flow.schema_id).or_default().push(flow);
    }
    let datasets = datasets
        .iter()
        .map(|(id, users)| dataset_check(profile, id, users, facts));
    let schemas = schemas
        .iter()
        .map(|(id, users)| schema_check(profile, id, users, facts));
    datasets.chain(schemas).collect()
}

/// The failed checks of the first class that has any, as the error `plan` and `apply` stop with.
pub fn first_failures(checks: &[Check]) -> Option<String> {
    let class = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| Class::of(&c.name))
        .min()?;
    let failed: Vec<&Check> = checks
        .iter()
        .filter(|c| !c.ok && Class::of(&c.name) == class)
        .collect();
    let lines: Vec<String> = failed
        .iter()
        .map(|c| format!("  {}: {}", c.name, c.detail))
        .collect();
    Some(format!(
        "validation failed ({}): {} problem{} before any change; nothing was changed\n{}",
        class.describe(),
        failed.len(),
        if failed.len() == 1 { "" } else { "s" },
        lines.join("\n")
    ))
}

/// What `plan` and `apply` run before any write, for the modules they will create, replace or
/// update (`scope`): Zoho's refresh token (IMS, the org and the specs are proven by observing), and
/// every module, dataset, schema and destination check of those modules. Columns come from
/// `explored` (explore's answer or message per module) and, for modules explore was not asked
/// about, from Zoho's CRM API. Returns the columns `auto_unmapped = "skip"` leaves unmapped, per
/// module, or the failures of the first class that has any.
///
/// Zoho is asked only when something will be written with it: a module in `scope`, or the base
/// connection's credentials (`writes_credentials`: created or rotated). A plan with neither
/// (a no-op, deletes, a description change) sends Zoho nothing.
pub async fn before_write(
    client: &AepClient,
    profile: &Profile,
    scope: &BTreeSet<String>,
    explored: &BTreeMap<String, Result<Vec<Column>, String>>,
    writes_credentials: bool,
    concurrency: usize,
) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let flows: Vec<&Dataflow> = profile
        .dataflows
        .iter()
        .filter(|f| scope.contains(&f.module))
        .collect();
    if flows.is_empty() && !writes_credentials {
        return Ok(BTreeMap::new());
    }
    let zoho = crate::clients::zoho(client.options().clone()).map_err(|e| e.to_string())?;
    if let Err(failure) = zoho_setup::refresh(&zoho, &profile.zoho).await {
        return Err(
            first_failures(&[Check::fail("zoho_refresh", zoho_setup::describe(&failure))])
                .unwrap_or_default(),
        );
    }
    if flows.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut facts = Facts::default();
    let unexplored: Vec<&str> = flows
        .iter()
        .map(|f| f.module.as_str())
        .filter(|m| !explored.contains_key(*m))
        .collect();
    let (zoho_columns, ()) = tokio::join!(
        zoho_columns(&zoho, profile, &unexplored, concurrency, None),
        read_targets(client, &flows, &mut facts)
    );
    facts.columns = zoho_columns;
    for (module, result) in explored {
        let result = result.as_deref().map_err(String::as_str);
        facts
            .columns
            .insert(module.clone(), explored_columns(result));
    }
    let mut checks: Vec<Check> = flows
        .iter()
        .flat_map(|f| module_checks(f, &facts))
        .collect();
    checks.extend(target_checks(profile, &flows, &facts));
    match first_failures(&checks) {
        Some(failures) => Err(failures),
        None => Ok(flows
            .iter()
            .map(|f| (f.module.clone(), unmapped(f, &facts)))
            .filter(|(_, u)| !u.is_empty())
            .collect()),
    }
}
