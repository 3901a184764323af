//! Source connections: one per module, named `{prefix} / {module} / source`, on the base
//! connection, with `params.tableName` the module and `params.columns` its explored columns.
//! Adobe documents no update for them, so any difference replaces the module's source
//! connection, target connection and dataflow together (see "What is updated in place, and what
//! is replaced" in `docs/pipeline.md`).

use std::collections::BTreeSet;

use serde_json::Value;

use super::{seen, Attributes, Diff};
use crate::api::connections::Connection;
use crate::api::explore::Column;
use crate::api::source::{self, NewSourceConnection, SourceConnection};
use crate::api::specs::SpecRef;
use crate::api::{AepClient, ApiError, ConnectionId, Etag, Query, SourceConnectionId, LIST_LIMIT};
use crate::engine::desired::DesiredModule;
use crate::engine::ensure::{Create, Found};
use crate::engine::{naming, Kind};

/// The source connections on the owned base connections: (owned, made by hand).
pub async fn observe(
    client: &AepClient,
    prefix: &str,
    bases: &[Connection],
) -> Result<(Vec<SourceConnection>, Vec<SourceConnection>), ApiError> {
    let ids: Vec<&str> = bases.iter().map(|b| b.id.as_str()).collect();
    if ids.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let query = Query::new()
        .property_eq("baseConnectionId", &ids)
        .param("limit", LIST_LIMIT.to_string());
    let all = source::list_source_connections(client, &query).await?;
    Ok(all
        .into_iter()
        .partition(|s| naming::is_owned(s.description.as_deref(), prefix)))
}

/// The column names of a source connection.
pub fn column_names(s: &SourceConnection) -> BTreeSet<String> {
    s.params.columns.iter().map(|c| c.name.clone()).collect()
}

/// Column lists longer than this are counted in reasons, not listed.
const LISTED_IN_REASON: usize = 3;

/// What a module's source connection must hold; `columns` is `None` while unknown (auto
/// mapping not yet explored), and then nothing matches.
pub struct Wanted<'a> {
    pub module: &'a str,
    pub columns: Option<&'a BTreeSet<String>>,
}

impl super::Wanted<SourceConnection> for Wanted<'_> {
    fn matches(&self, s: &SourceConnection) -> bool {
        s.params.table_name.as_deref() == Some(self.module)
            && self.columns.is_some_and(|want| &column_names(s) == want)
    }

    /// Why `s` does not match (`table: ...` or `columns: + added, - removed`).
    fn diff(&self, s: &SourceConnection) -> String {
        let table = s.params.table_name.as_deref().unwrap_or("");
        if table != self.module {
            return format!("table: {table:?} -> {:?}", self.module);
        }
        let Some(want) = self.columns else {
            return "columns: to be read from explore (mapping = \"auto\")".to_owned();
        };
        let have = column_names(s);
        let added: Vec<&str> = want.difference(&have).map(String::as_str).collect();
        let removed: Vec<&str> = have.difference(want).map(String::as_str).collect();
        // A long list is counted here; the row's `diff` lists every column.
        if added.len() + removed.len() > LISTED_IN_REASON {
            return format!("columns: {} added, {} removed", added.len(), removed.len());
        }
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("+ {}", added.join(", + ")));
        }
        if !removed.is_empty() {
            parts.push(format!("- {}", removed.join(", - ")));
        }
        format!("columns: {}", parts.join(", "))
    }

    fn entries(&self, s: &SourceConnection) -> Vec<Diff> {
        let table = s.params.table_name.as_deref();
        if table != Some(self.module) {
            return vec![Diff::new("table", table, self.module)];
        }
        let Some(want) = self.columns else {
            return Vec::new();
        };
        let have = column_names(s);
        let added = want.difference(&have);
        let removed = have.difference(want);
        added
            .map(|c| Diff::added("columns", c.as_str()))
            .chain(removed.map(|c| Diff::removed("columns", c.as_str())))
            .collect()
    }
}

/// What a new source connection is sent: the module (table) and its columns, or where they
/// will come from while unknown.
pub fn attributes(module: &str, columns: Option<&BTreeSet<String>>) -> Attributes {
    let columns = match columns {
        Some(columns) => Value::from(columns.iter().cloned().collect::<Vec<_>>()),
        None => Value::from("every column explore lists (mapping = \"auto\"), read at apply"),
    };
    Attributes::default()
        .with("table", module)
        .with("columns", columns)
}

/// A source connection to create, and what tells its twin.
pub struct Draft<'a> {
    pub body: NewSourceConnection,
    pub prefix: &'a str,
    /// The source connections observed before the plan.
    pub seen: BTreeSet<&'a SourceConnectionId>,
}

impl<'a> Draft<'a> {
    pub fn new(
        dm: &DesiredModule,
        prefix: &'a str,
        base: &ConnectionId,
        columns: &[Column],
        observed: &'a [SourceConnection],
    ) -> Self {
        Self {
            body: NewSourceConnection {
                name: dm.source_name.clone(),
                description: Some(naming::owner_marker(prefix)),
                base_connection_id: base.clone(),
                table_name: dm.module.clone(),
                columns: columns.to_vec(),
                connection_spec: SpecRef::zoho_crm(),
            },
            prefix,
            seen: seen(observed, |s| &s.id),
        }
    }
}

impl Create for Draft<'_> {
    type Id = SourceConnectionId;

    async fn create(&self, client: &AepClient) -> Result<Self::Id, ApiError> {
        source::create_source_connection(client, &self.body)
            .await
            .map(|c| c.id)
    }

    async fn lookup(&self, client: &AepClient) -> Result<Vec<Found<Self::Id>>, ApiError> {
        let body = &self.body;
        let query = Query::new()
            .property_eq("baseConnectionId", &[body.base_connection_id.as_str()])
            .property_eq("params.tableName", &[body.table_name.as_str()])
            .param("limit", LIST_LIMIT.to_string());
        let want: BTreeSet<&str> = body.columns.iter().map(|c| c.name.as_str()).collect();
        let all = source::list_source_connections(client, &query).await?;
        Ok(Found::among(
            all,
            |s| {
                s.name == body.name
                    && naming::is_owned(s.description.as_deref(), self.prefix)
                    && !self.seen.contains(&s.id)
                    && s.params
                        .columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<BTreeSet<_>>()
                        == want
            },
            |s| (s.id, s.created_at),
        ))
    }
}

pub async fn delete(client: &AepClient, id: &SourceConnectionId) -> Result<(), ApiError> {
    source::delete_source_connection(client, id).await
}

// Adoption (import).

/// The module (its `params.tableName`) of a source connection made elsewhere, and whether it
/// already carries this profile's marker; an error when another profile manages it or it names
/// no table.
pub fn adoptable(s: &SourceConnection, prefix: &str) -> Result<(String, bool), String> {
    let owned = super::claim(
        "source connection",
        s.id.as_str(),
        &s.name,
        s.description.as_deref(),
        prefix,
    )?;
    match s.params.table_name.as_deref() {
        Some(table) if !table.is_empty() => Ok((table.to_owned(), owned)),
        _ => Err(format!(
            "source connection {:?} (id {}) names no Zoho module (params.tableName is empty); \
             provision cannot tell which [[dataflows]] entry describes it",
            s.name, s.id
        )),
    }
}

/// Marks a source connection made elsewhere as the profile's: its managed name and the marker
/// as description (only these; what it reads is left as it is).
pub async fn adopt(
    client: &AepClient,
    s: &SourceConnection,
    prefix: &str,
    module: &str,
) -> Result<(), ApiError> {
    let object = super::Adoptee {
        kind: Kind::SourceConnection,
        id: s.id.as_str(),
        name: &s.name,
        description: s.description.as_deref(),
        etag: s.etag.as_ref(),
    };
    super::adopt_as(object, prefix, module, |etag: Etag, ops| async move {
        source::patch_source_connection(client, &s.id, &etag, &ops).await
    })
    .await
}
