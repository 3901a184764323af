//! Catalog datasets (docs/aep-api.md#dataset, Catalog's filter-data.md): create answers
//! `["@/dataSets/<id>"]`, lists and gets are objects keyed by id. Lists take simple filters
//! (`name=a,b`, `name=!a`, `*` wildcards in names), `property=` conditions on top-level fields
//! (exists, `!`, `~` regex, `==`, `!=`, `<`, `<=`, `>`, `>=`; a quoted value is compared without
//! its quotes), `tags={name}:{value},...` (AND, `*` wildcards in values), `createdAfter` and
//! `createdBefore` (epoch ms, exclusive), `orderBy`, `properties`, and `limit` (default 20,
//! 1 to 100 as documented, else 400) with `start`. Names are not unique, as in the live service. Datasets carry the fields Catalog adds itself:
//! `classification` (`dataBehavior` from the schema's class, `managedBy: CUSTOMER`) and the
//! system tags `adobe/pqs/table` and `adobe/siphon/table/format`.

use std::cmp::Ordering;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use regex::Regex;
use serde_json::{json, Map, Value};

use super::errors::{ApiError, ApiResult, Service, CATALOG_BASE};
use super::gateway::{query_pairs, query_param, Adobe, JsonBody};
use super::seed;
use super::state::{AppState, Dataset, Sandbox};
use super::validate::Fields;

const SERVICE: Service = Service::Catalog;
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;
/// Top-level fields the simple `{field}={value}` filters apply to.
const SIMPLE_FILTERS: &[&str] = &[
    "name",
    "description",
    "version",
    "createdClient",
    "createdUser",
    "updatedUser",
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(&format!("{CATALOG_BASE}/dataSets"), get(list).post(create))
        .route(
            &format!("{CATALOG_BASE}/dataSets/{{id}}"),
            get(get_one).delete(delete),
        )
}

/// The `$id` of a schema the Schema Registry knows (the seeded one), given its `$id` or
/// `meta:altId`, so that both spellings compare equal.
pub fn canonical_schema(id: &str) -> Option<&'static str> {
    (id == seed::SCHEMA_ID || id == seed::SCHEMA_ALT_ID).then_some(seed::SCHEMA_ID)
}

fn validate(body: &Value) -> Result<(Value, String), ApiError> {
    let f = Fields::body(SERVICE, body)?;
    f.string("name", true)?;
    f.string("description", false)?;
    f.boolean("enableErrorDiagnostics")?;
    f.object("observableSchema", false)?;
    f.object("fileDescription", false)?;
    f.string("schema", false)?;
    if let Some(tags) = f.object("tags", false)? {
        for (key, _) in body["tags"].as_object().into_iter().flatten() {
            tags.strings(key, true)?;
        }
    }
    let schema_ref = f
        .object("schemaRef", true)?
        .ok_or_else(|| f.error("schemaRef is required."))?;
    let given = schema_ref.string("id", true)?.unwrap_or_default();
    let content_type = schema_ref.string("contentType", true)?.unwrap_or_default();
    if !content_type.starts_with("application/vnd.adobe.xed") {
        return Err(f.error(format!(
            "schemaRef.contentType '{content_type}' is not an XDM content type; use application/vnd.adobe.xed+json;version=1."
        )));
    }
    let schema_id = canonical_schema(given).ok_or_else(|| {
        ApiError::bad_reference(
            SERVICE,
            format!("schemaRef.id {given} does not name a schema in the Schema Registry."),
        )
    })?;
    let mut doc = f.keep(&[
        "name",
        "description",
        "tags",
        "enableErrorDiagnostics",
        "observableSchema",
        "fileDescription",
        "schemaRef",
    ]);
    doc["schemaRef"] = body["schemaRef"].clone();
    Ok((doc, schema_id.to_owned()))
}

fn render(sandbox: &Sandbox, dataset: &Dataset) -> Value {
    let mut value = dataset.doc.as_object().cloned().unwrap_or_default();
    let user = format!("{}@AdobeID", seed::IMS_CLIENT_ID);
    let extra = json!({
        "version": "1.0.0",
        "imsOrg": seed::ORG_ID,
        "sandboxId": sandbox.id,
        "created": dataset.created,
        "updated": dataset.updated,
        "createdClient": seed::IMS_CLIENT_ID,
        "createdUser": user,
        "updatedUser": user,
        "viewId": format!("{}0000", &dataset.id[..20.min(dataset.id.len())]),
        "files": format!("@/dataSetFiles?dataSetId={}", dataset.id),
        "persistence": {},
        "state": "DRAFT",
        // The seeded schema is of the XDM Individual Profile class: record data.
        "classification": {"dataBehavior": "record", "managedBy": "CUSTOMER"},
    });
    for (key, v) in extra.as_object().into_iter().flatten() {
        value.entry(key.clone()).or_insert_with(|| v.clone());
    }
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let system_tags = json!({
        "adobe/pqs/table": [query_table_name(name)],
        "adobe/siphon/table/format": ["parquet"],
    });
    let tags = value.entry("tags").or_insert_with(|| json!({}));
    if let Some(tags) = tags.as_object_mut() {
        for (key, v) in system_tags.as_object().into_iter().flatten() {
            tags.entry(key.clone()).or_insert_with(|| v.clone());
        }
    }
    Value::Object(value)
}

/// The Query Service table name Catalog derives from a dataset name: lower case, with every
/// character other than a letter or digit turned into `_`.
fn query_table_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `properties=a,b` keeps only those top-level fields.
fn project(value: Value, properties: Option<&str>) -> Value {
    let Some(properties) = properties.filter(|p| !p.trim().is_empty()) else {
        return value;
    };
    let keep: Vec<&str> = properties.split(',').map(str::trim).collect();
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| keep.contains(&k.as_str()))
                .collect(),
        ),
        other => other,
    }
}

async fn create(
    State(shared): State<AppState>,
    adobe: Adobe,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let (doc, schema_id) = validate(&body)?;
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let id: String = uuid::Uuid::new_v4().simple().to_string()[..24].to_owned();
        let dataset = Dataset {
            id: id.clone(),
            created: cx.now,
            updated: cx.now,
            schema_id: Some(schema_id),
            doc,
        };
        cx.sandbox.datasets.insert(id.clone(), dataset);
        let location = format!("{CATALOG_BASE}/dataSets/{id}");
        Ok((
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            Json(json!([format!("@/dataSets/{id}")])),
        )
            .into_response())
    })
}

async fn get_one(
    State(shared): State<AppState>,
    adobe: Adobe,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let pairs = query_pairs(query.as_deref());
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let dataset = cx.sandbox.datasets.get(&id).ok_or_else(|| not_found(&id))?;
        let value = project(
            render(cx.sandbox, dataset),
            query_param(&pairs, "properties"),
        );
        Ok(Json(json!({ id.clone(): value })).into_response())
    })
}

fn not_found(id: &str) -> ApiError {
    ApiError::problem(
        SERVICE,
        StatusCode::NOT_FOUND,
        1439,
        "Not Found",
        &format!("The dataset {id} was not found. Verify the dataset ID before trying again."),
    )
    .report("id", id)
}

async fn delete(State(shared): State<AppState>, adobe: Adobe, Path(id): Path<String>) -> ApiResult {
    shared.with_sandbox(&adobe.sandbox, |cx| {
        cx.sandbox
            .datasets
            .remove(&id)
            .ok_or_else(|| not_found(&id))?;
        Ok(Json(json!([format!("@/dataSets/{id}")])).into_response())
    })
}

async fn list(
    State(shared): State<AppState>,
    adobe: Adobe,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let pairs = query_pairs(query.as_deref());
    let conditions = pairs
        .iter()
        .filter_map(|(key, value)| match key.as_str() {
            "property" => Some(Condition::parse(value)),
            "tags" => Some(Condition::tags(value)),
            "createdAfter" => Some(Condition::created(">", value)),
            "createdBefore" => Some(Condition::created("<", value)),
            key if SIMPLE_FILTERS.contains(&key) => Some(Condition::simple(key, value)),
            _ => None,
        })
        .collect::<Result<Vec<_>, _>>()?;
    let limit = match query_param(&pairs, "limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .trim()
            .parse::<usize>()
            .ok()
            // filter-data.md gives `limit` the range 1 to 100 and answers an invalid one with a
            // 400 "that outlines proper ranges".
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                ApiError::invalid(
                    SERVICE,
                    format!("limit must be between 1 and {MAX_LIMIT}, not '{raw}'."),
                )
            })?,
    };
    let start = match query_param(&pairs, "start") {
        None => 0,
        Some(raw) => raw.trim().parse::<usize>().map_err(|_| {
            ApiError::invalid(
                SERVICE,
                format!("start must be a non-negative integer, not '{raw}'."),
            )
        })?,
    };
    let order = query_param(&pairs, "orderBy")
        .map(parse_order_by)
        .unwrap_or_default();
    let properties = query_param(&pairs, "properties");
    let body = shared.with_sandbox(&adobe.sandbox, |cx| {
        let mut matching: Vec<(String, Value)> = cx
            .sandbox
            .datasets
            .values()
            .map(|d| (d.id.clone(), render(cx.sandbox, d)))
            .filter(|(_, d)| conditions.iter().all(|c| c.matches(d)))
            .collect();
        matching.sort_by(|(_, a), (_, b)| {
            order
                .iter()
                .map(|(field, descending)| {
                    let ordering = compare(a.get(field), b.get(field));
                    if *descending {
                        ordering.reverse()
                    } else {
                        ordering
                    }
                })
                .find(|o| *o != Ordering::Equal)
                .unwrap_or_else(|| compare(a.get("created"), b.get("created")))
        });
        let page: Map<String, Value> = matching
            .into_iter()
            .skip(start)
            .take(limit)
            .map(|(id, d)| (id, project(d, properties)))
            .collect();
        Ok(Value::Object(page))
    })?;
    Ok(Json(body).into_response())
}

fn parse_order_by(value: &str) -> Vec<(String, bool)> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.split_once(':') {
            Some((direction, field)) => (field.to_owned(), direction.eq_ignore_ascii_case("desc")),
            None => (s.to_owned(), false),
        })
        .collect()
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => compare_text(x, y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// Numbers and dotted versions (`1.0.10` > `1.0.9`) compare by their numeric parts.
fn compare_text(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| {
        s.split('.')
            .map(|p| p.parse::<u64>().ok())
            .collect::<Option<Vec<_>>>()
    };
    match (parts(a), parts(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

enum Test {
    /// `tags={name}:{pattern},...`: every named tag has a value matching its pattern.
    Tags(Vec<(String, Regex)>),
    Exists,
    Missing,
    Regex(Regex),
    AnyOf(Vec<Regex>),
    NoneOf(Vec<Regex>),
    Compare(&'static str, String),
}

struct Condition {
    field: String,
    test: Test,
}

/// `"X"` as `X`: the Flow Service docs quote filter values (`name=="CRMToAEP"`), and clients
/// carry the habit over to Catalog. Whether live Catalog strips them is not documented; the
/// emulator does.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// A Catalog name pattern: `*` is a wildcard, `**` a literal asterisk.
fn wildcard(pattern: &str) -> Result<Regex, ApiError> {
    let mut regex = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '*' {
            if chars.peek() == Some(&'*') {
                chars.next();
                regex.push_str("\\*");
            } else {
                regex.push_str(".*");
            }
        } else {
            regex.push_str(&regex::escape(&c.to_string()));
        }
    }
    regex.push('$');
    Regex::new(&regex)
        .map_err(|e| ApiError::invalid(SERVICE, format!("invalid filter '{pattern}': {e}")))
}

impl Condition {
    fn simple(field: &str, value: &str) -> Result<Self, ApiError> {
        let (negated, list) = match value.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        let patterns = list
            .split(',')
            .map(|v| {
                if field == "name" {
                    wildcard(v)
                } else {
                    wildcard(&v.replace('*', "**"))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let test = if negated {
            Test::NoneOf(patterns)
        } else {
            Test::AnyOf(patterns)
        };
        Ok(Self {
            field: field.to_owned(),
            test,
        })
    }

    fn tags(value: &str) -> Result<Self, ApiError> {
        let tags = value
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|tag| {
                let (name, pattern) = tag.split_once(':').unwrap_or((tag, "*"));
                Ok((name.trim().to_owned(), wildcard(pattern.trim())?))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(Self {
            field: "tags".into(),
            test: Test::Tags(tags),
        })
    }

    fn created(op: &'static str, value: &str) -> Result<Self, ApiError> {
        let bound = value.trim();
        if bound.parse::<i64>().is_err() {
            return Err(ApiError::invalid(
                SERVICE,
                format!("created bounds are epoch milliseconds, not '{value}'."),
            ));
        }
        Ok(Self {
            field: "created".into(),
            test: Test::Compare(op, bound.to_owned()),
        })
    }

    fn parse(expr: &str) -> Result<Self, ApiError> {
        let invalid = || {
            ApiError::invalid(
                SERVICE,
                format!("The property condition '{expr}' is not valid."),
            )
        };
        if let Some(field) = expr.strip_prefix('!') {
            return Ok(Self {
                field: field.to_owned(),
                test: Test::Missing,
            });
        }
        let Some(index) = expr.find(['=', '!', '~', '<', '>']) else {
            return Ok(Self {
                field: expr.to_owned(),
                test: Test::Exists,
            });
        };
        let field = expr[..index].to_owned();
        if field.is_empty() || field.contains('.') {
            return Err(invalid());
        }
        let rest = &expr[index..];
        let test = if let Some(pattern) = rest.strip_prefix('~') {
            Test::Regex(Regex::new(pattern).map_err(|_| invalid())?)
        } else if let Some(value) = rest.strip_prefix("==") {
            Test::AnyOf(vec![wildcard(&unquote(value).replace('*', "**"))?])
        } else if let Some(value) = rest.strip_prefix("!=") {
            Test::NoneOf(vec![wildcard(&unquote(value).replace('*', "**"))?])
        } else {
            let op = ["<=", ">=", "<", ">"]
                .into_iter()
                .find(|op| rest.starts_with(op))
                .ok_or_else(invalid)?;
            Test::Compare(op, rest[op.len()..].to_owned())
        };
        Ok(Self { field, test })
    }

    fn matches(&self, item: &Value) -> bool {
        let value = item.get(&self.field);
        let text = value.map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        match &self.test {
            Test::Tags(tags) => tags.iter().all(|(name, pattern)| {
                value
                    .and_then(|t| t.get(name))
                    .and_then(Value::as_array)
                    .is_some_and(|values| {
                        values
                            .iter()
                            .filter_map(Value::as_str)
                            .any(|v| pattern.is_match(v))
                    })
            }),
            Test::Exists => value.is_some(),
            Test::Missing => value.is_none(),
            Test::Regex(re) => text.is_some_and(|t| re.is_match(&t)),
            Test::AnyOf(patterns) => text.is_some_and(|t| patterns.iter().any(|p| p.is_match(&t))),
            Test::NoneOf(patterns) => {
                !text.is_some_and(|t| patterns.iter().any(|p| p.is_match(&t)))
            }
            Test::Compare(op, bound) => text.is_some_and(|t| {
                let ordering = match (t.parse::<f64>(), bound.parse::<f64>()) {
                    (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
                    _ => compare_text(&t, bound),
                };
                match *op {
                    "<" => ordering == Ordering::Less,
                    "<=" => ordering != Ordering::Greater,
                    ">" => ordering == Ordering::Greater,
                    _ => ordering != Ordering::Less,
                }
            }),
        }
    }
}

/// Used by the control API's state dump.
pub fn dump(sandbox: &Sandbox) -> Vec<Value> {
    sandbox
        .datasets
        .values()
        .map(|d| {
            let mut value = render(sandbox, d);
            value["id"] = json!(d.id);
            value
        })
        .collect()
}
