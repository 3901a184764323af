//! `provision explore`: what the profile's Zoho base connection sees (docs/aep-api.md#explore). Without a
//! module, the tables (Zoho modules); with one, its columns (flagging date-time columns, the
//! candidates for `delta_column`) and, with `--preview N`, up to N sample rows. Read only,
//! except that `--create-connection` creates the base connection when it is missing.

use anyhow::{anyhow, Context};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::api::explore::{explore_root, explore_table, Column, ExploreItem};
use crate::api::http::HttpOptions;
use crate::api::{AepClient, ConnectionId};
use crate::engine::desired::{self, nearest};
use crate::engine::kinds::base::create as create_base_connection;
use crate::engine::observe;
use crate::profile::Profile;

/// What to explore.
#[derive(Debug, Clone, Default)]
pub struct ExploreOptions {
    /// A module's explore `path`; `None` lists the modules.
    pub module: Option<String>,
    /// Add up to this many sample rows.
    pub preview: Option<u32>,
    /// Create the base connection first if it is missing.
    pub create_connection: bool,
}

/// The result of `explore`, as docs/cli.md#json-output shapes its JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ExploreReport {
    Modules(ModuleList),
    Table(TableReport),
}

/// `{"modules": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModuleList {
    pub modules: Vec<ModuleEntry>,
    /// The base connection explored (not part of the JSON).
    #[serde(skip)]
    pub connection: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModuleEntry {
    pub name: String,
    pub path: String,
    pub can_preview: bool,
    pub can_fetch_schema: bool,
    /// Whether the profile has a `[[dataflows]]` entry for this module.
    pub in_profile: bool,
}

/// `{"module": "...", "columns": [...], "rows": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableReport {
    /// The module's explore path.
    pub module: String,
    pub columns: Vec<ColumnEntry>,
    /// Sample rows, column name to value; empty without `--preview`.
    pub rows: Vec<Map<String, Value>>,
    /// Why no rows were shown although `--preview` asked for them (not part of the JSON; a
    /// warning on stderr).
    #[serde(skip)]
    pub preview_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnEntry {
    pub name: String,
    /// The source type: explore's `type`, else the legacy `meta.originalType`.
    #[serde(rename = "type")]
    pub source_type: Option<String>,
    pub xdm_type: Option<String>,
    pub format: Option<String>,
    /// A date-time column, usable as the profile's `delta_column`.
    pub delta_column_candidate: bool,
}

impl From<&Column> for ColumnEntry {
    fn from(column: &Column) -> Self {
        Self {
            name: column.name.clone(),
            source_type: column
                .kind
                .clone()
                .or_else(|| column.meta.as_ref().and_then(|m| m.original_type.clone())),
            xdm_type: column.xdm_type().map(str::to_owned),
            format: column.format().map(str::to_owned),
            delta_column_candidate: column.is_date_time(),
        }
    }
}

/// What `explore` found, and whether it had to create the base connection first.
#[derive(Debug, Clone, PartialEq)]
pub struct Explored {
    pub report: ExploreReport,
    /// The base connection `--create-connection` created.
    pub created_connection: Option<ConnectionId>,
}

/// Runs `explore` for `profile`.
pub async fn explore(profile: &Profile, options: &ExploreOptions) -> anyhow::Result<Explored> {
    let client = crate::clients::aep(profile, HttpOptions::default())?;
    let (connection, created) =
        base_connection(&client, profile, options.create_connection).await?;
    let report = explore_with(&client, profile, options, &connection).await?;
    Ok(Explored {
        report,
        created_connection: created.then_some(connection),
    })
}

async fn explore_with(
    client: &AepClient,
    profile: &Profile,
    options: &ExploreOptions,
    connection: &ConnectionId,
) -> anyhow::Result<ExploreReport> {
    let name = &profile.connection.name;
    let tables = explore_root(client, connection)
        .await
        .with_context(|| format!("listing the Zoho modules of base connection `{name}`"))?;
    let Some(wanted) = &options.module else {
        let modules = tables
            .into_iter()
            .map(|t| ModuleEntry {
                in_profile: profile.dataflows.iter().any(|d| d.module == t.path),
                name: t.name,
                path: t.path,
                can_preview: t.can_preview,
                can_fetch_schema: t.can_fetch_schema,
            })
            .collect();
        return Ok(ExploreReport::Modules(ModuleList {
            modules,
            connection: name.clone(),
        }));
    };
    let table = find_table(&tables, wanted).map_err(|suggestion| {
        anyhow!(
            "Zoho module `{wanted}` is not among the {} modules base connection `{name}` sees{}; \
             modules are named by their explore path, which is case-sensitive: `provision \
             explore {}` lists them",
            tables.len(),
            suggestion
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default(),
            profile.path.display()
        )
    })?;
    if !table.can_fetch_schema {
        return Err(anyhow!(
            "Zoho module `{}` cannot be explored: the service reports canFetchSchema = false for \
             it, so it cannot be the module of a dataflow either",
            table.path
        ));
    }
    let wanted_rows = options.preview.unwrap_or(0) as usize;
    let preview = wanted_rows > 0 && table.can_preview;
    let details = explore_table(client, connection, &table.path, preview)
        .await
        .with_context(|| format!("exploring Zoho module `{}`", table.path))?;
    let preview_note = (wanted_rows > 0 && !table.can_preview).then(|| {
        format!(
            "module `{}` cannot be previewed (canPreview = false); showing its columns only",
            table.path
        )
    });
    Ok(ExploreReport::Table(TableReport {
        module: table.path.clone(),
        columns: details.columns.iter().map(ColumnEntry::from).collect(),
        rows: details.data.into_iter().take(wanted_rows).collect(),
        preview_note,
    }))
}

/// The profile's base connection, and whether it was created now (only when it was missing
/// and `create` is set).
async fn base_connection(
    client: &AepClient,
    profile: &Profile,
    create: bool,
) -> anyhow::Result<(ConnectionId, bool)> {
    let name = &profile.connection.name;
    if let Some(found) = observe::base_connection(client, name).await? {
        return Ok((found.id, false));
    }
    if !create {
        let path = profile.path.display();
        return Err(anyhow!(
            "base connection `{name}` does not exist yet in sandbox `{}`; run `provision apply \
             {path}` to create it with the dataflows, or `provision explore {path} \
             --create-connection` to create only the base connection",
            profile.adobe.sandbox
        ));
    }
    // Created exactly as `apply` creates it, so that a later apply finds nothing to change.
    let desired = desired::build(profile)?;
    let preflight = observe::preflight(client).await?;
    let id = create_base_connection(client, profile, &desired.base, &preflight.connection_spec)
        .await
        .with_context(|| format!("creating base connection `{name}`"))?;
    Ok((id, true))
}

/// The table whose `path` is `wanted`; otherwise the nearest path, if one is close.
fn find_table<'a>(
    tables: &'a [ExploreItem],
    wanted: &str,
) -> Result<&'a ExploreItem, Option<&'a str>> {
    if let Some(table) = tables.iter().find(|t| t.path == wanted) {
        return Ok(table);
    }
    Err(nearest(wanted, tables.iter().map(|t| t.path.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MODULES: [&str; 6] = ["Leads", "Contacts", "Accounts", "Deals", "Tasks", "Cases"];

    #[test]
    fn an_unknown_module_gets_the_nearest_path() {
        let tables: Vec<ExploreItem> = MODULES
            .iter()
            .map(|m| {
                serde_json::from_value(json!({"type": "table", "name": m, "path": m})).unwrap()
            })
            .collect();
        assert_eq!(find_table(&tables, "Deals").unwrap().path, "Deals");
        assert_eq!(find_table(&tables, "deals").unwrap_err(), Some("Deals"));
        assert_eq!(find_table(&tables, "Lead").unwrap_err(), Some("Leads"));
        assert_eq!(
            find_table(&tables, "Contcts").unwrap_err(),
            Some("Contacts")
        );
        assert_eq!(find_table(&tables, "Opportunities").unwrap_err(), None);
    }

    #[test]
    fn columns_of_both_explore_shapes_are_reported() {
        let modern: Column = serde_json::from_value(json!({
            "name": "Modified_Time", "type": "string", "meta:xdmType": "date-time",
            "xdm": {"type": "string", "format": "date-time"}
        }))
        .unwrap();
        assert_eq!(
            ColumnEntry::from(&modern),
            ColumnEntry {
                name: "Modified_Time".into(),
                source_type: Some("string".into()),
                xdm_type: Some("string".into()),
                format: Some("date-time".into()),
                delta_column_candidate: true,
            }
        );
        let legacy: Column =
            serde_json::from_value(json!({"name": "Owner", "meta": {"originalType": "String"}}))
                .unwrap();
        let entry = ColumnEntry::from(&legacy);
        assert_eq!(entry.source_type.as_deref(), Some("String"));
        assert_eq!((entry.xdm_type, entry.format), (None, None));
        assert!(!entry.delta_column_candidate);
    }
}

/// `explore --schema [SCHEMA_ID]`: `{"schema": "...", "fields": [{"path", "type", "format"}]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemaReport {
    pub schema: String,
    pub fields: Vec<crate::api::schemas::XdmField>,
}

/// The leaf fields of `schema_id`, or of the profile's schema (`defaults.schema_id`, as its
/// dataflows carry it) when none is given. Read only; no base connection needed.
pub async fn schema_fields(
    profile: &Profile,
    schema_id: Option<&str>,
) -> Result<SchemaReport, crate::error::CliError> {
    use crate::error::CliError;
    let id = match schema_id.filter(|s| !s.is_empty()) {
        Some(id) => id.to_owned(),
        None => {
            let mut ids: Vec<&str> = profile
                .dataflows
                .iter()
                .map(|d| d.schema_id.as_str())
                .collect();
            ids.dedup();
            match ids.as_slice() {
                [one] => (*one).to_owned(),
                [] => {
                    return Err(CliError::usage(format!(
                        "{} has no [[dataflows]], so no schema to list; pass one: \
                         `provision explore PROFILE --schema SCHEMA_ID`",
                        profile.path.display()
                    )))
                }
                several => {
                    return Err(CliError::usage(format!(
                        "{} targets several schemas ({}); pass one: `--schema SCHEMA_ID`",
                        profile.path.display(),
                        several.join(", ")
                    )))
                }
            }
        }
    };
    let client = crate::clients::aep(profile, HttpOptions::default())?;
    let schema = crate::api::schemas::full_schema(&client, &id)
        .await?
        .ok_or_else(|| {
            CliError::failed(anyhow!(
                "schema {id} was not found in the tenant container of sandbox `{}`; check the \
                 schema's $id (or its meta:altId) and the sandbox",
                profile.adobe.sandbox
            ))
        })?;
    Ok(SchemaReport {
        schema: schema.id,
        fields: schema.fields,
    })
}
