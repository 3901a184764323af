//! Flow Service list semantics (docs/aep-api.md#filters): `property=` filters (`==` with comma
//! OR, repeated for AND, dotted paths, `[]` array members, `>`/`<`/`>=`/`<=` on numbers;
//! `status` and `state` values compare without regard to case),
//! `orderby`, `limit`, `count`, and `continuationToken` paging through `_links.next.href`.
//!
//! Pages are [`DEFAULT_LIMIT`] items unless `limit` says otherwise (at most the page cap,
//! [`super::faults::Faults::page_cap`]), so a client that ignores `_links.next` misses items as
//! soon as a list grows.

use std::borrow::Cow;
use std::cmp::Ordering;

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};

use super::errors::{ApiError, Service, INVALID_BODY};

pub const DEFAULT_LIMIT: usize = 20;

/// What a collection allows: its path (for `_links.next.href`), sortable fields and filter
/// aliases (documented filter names that are not fields of the object).
pub struct Collection {
    pub path: &'static str,
    pub orderable: &'static [&'static str],
    pub aliases: &'static [(&'static str, &'static str)],
}

const COMMON_ORDER: &[&str] = &["createdAt", "updatedAt", "name", "id", "state"];

pub const CONNECTIONS: Collection = Collection {
    path: "/connections",
    orderable: COMMON_ORDER,
    aliases: &[],
};
pub const SOURCE_CONNECTIONS: Collection = Collection {
    path: "/sourceConnections",
    orderable: COMMON_ORDER,
    aliases: &[],
};
pub const TARGET_CONNECTIONS: Collection = Collection {
    path: "/targetConnections",
    orderable: COMMON_ORDER,
    aliases: &[],
};
pub const FLOWS: Collection = Collection {
    path: "/flows",
    orderable: COMMON_ORDER,
    aliases: &[],
};
pub const CONNECTION_SPECS: Collection = Collection {
    path: "/connectionSpecs",
    orderable: &["name", "id"],
    aliases: &[],
};
pub const FLOW_SPECS: Collection = Collection {
    path: "/flowSpecs",
    orderable: &["name", "id"],
    aliases: &[],
};
pub const RUNS: Collection = Collection {
    path: "/runs",
    orderable: &[
        "createdAt",
        "updatedAt",
        "id",
        "flowId",
        "metrics.durationSummary.startedAtUTC",
        "metrics.durationSummary.completedAtUTC",
    ],
    // sort-and-filter.md lists `state` as a runs filter; a run's state lives in its status summary.
    aliases: &[("state", "metrics.statusSummary.status")],
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Gt,
    Lt,
    Ge,
    Le,
}

#[derive(Debug, Clone)]
struct Segment {
    key: String,
    members: bool,
}

#[derive(Debug, Clone)]
pub struct Filter {
    path: String,
    segments: Vec<Segment>,
    op: Op,
    values: Vec<String>,
}

impl Filter {
    fn parse(expr: &str, aliases: &[(&str, &str)]) -> Result<Self, ApiError> {
        let (index, op_text) = find_operator(expr).ok_or_else(|| {
            ApiError::flow(
                StatusCode::BAD_REQUEST,
                INVALID_BODY,
                "Bad Request",
                &format!("The property filter '{expr}' has no operator; use e.g. name==value."),
            )
        })?;
        let raw_path = expr[..index].trim();
        let value = &expr[index + op_text.len()..];
        if raw_path.is_empty() || raw_path.starts_with('!') {
            let message = format!("The property filter '{expr}' is not valid.");
            return Err(ApiError::flow(
                StatusCode::BAD_REQUEST,
                INVALID_BODY,
                "Bad Request",
                &message,
            ));
        }
        let op = match op_text {
            "==" => Op::Eq,
            ">" => Op::Gt,
            "<" => Op::Lt,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            other => {
                let message = format!("Operator '{other}' is not implemented.");
                return Err(ApiError::flow(
                    StatusCode::BAD_REQUEST,
                    1440,
                    "Not Implemented",
                    &message,
                ));
            }
        };
        let values = split_values(value);
        if matches!(op, Op::Ge | Op::Le) && values.len() > 1 {
            let message = format!("Operator '{op_text}' is not allowed for multiple values");
            return Err(ApiError::flow(
                StatusCode::BAD_REQUEST,
                1443,
                "Bad Request",
                &message,
            ));
        }
        if op != Op::Eq && values.iter().any(|v| v.parse::<f64>().is_err()) {
            let message = format!("Operator {op_text} not supported for field {raw_path}");
            return Err(ApiError::flow(
                StatusCode::BAD_REQUEST,
                1448,
                "Bad Request",
                &message,
            ));
        }
        let path = aliases
            .iter()
            .find(|(alias, _)| *alias == raw_path)
            .map_or(raw_path, |(_, real)| real)
            .to_owned();
        let segments = path
            .split('.')
            .map(|s| match s.strip_suffix("[]") {
                Some(key) => Segment {
                    key: key.to_owned(),
                    members: true,
                },
                None => Segment {
                    key: s.to_owned(),
                    members: false,
                },
            })
            .collect();
        Ok(Self {
            path,
            segments,
            op,
            values,
        })
    }

    pub fn matches<I: Item + ?Sized>(&self, item: &I) -> bool {
        let Some((first, rest)) = self.segments.split_first() else {
            return false;
        };
        let Some(top) = item.top(&first.key) else {
            return false;
        };
        let mut found = Vec::new();
        match top.as_ref() {
            Value::Array(members) if first.members => {
                members.iter().for_each(|m| values_at(m, rest, &mut found));
            }
            _ if first.members => {}
            value => values_at(value, rest, &mut found),
        }
        found
            .iter()
            .any(|v| self.values.iter().any(|expected| self.compare(v, expected)))
    }

    /// Status and state values are enumerations whose casing the documentation mixes
    /// (`statusSummary.status==Failed` in sort-and-filter.md, `failed` in the runs it lists), so
    /// they compare without regard to case; every other string compares exactly.
    fn case_insensitive(&self) -> bool {
        self.segments
            .last()
            .is_some_and(|s| matches!(s.key.as_str(), "status" | "state"))
    }

    fn compare(&self, actual: &Value, expected: &str) -> bool {
        if self.op == Op::Eq {
            return match actual {
                Value::String(s) if self.case_insensitive() => s.eq_ignore_ascii_case(expected),
                Value::String(s) => s == expected,
                Value::Number(n) => expected.parse::<f64>().ok() == n.as_f64(),
                Value::Bool(b) => expected == if *b { "true" } else { "false" },
                Value::Null => expected == "null",
                _ => false,
            };
        }
        let actual = match actual {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.parse::<f64>().ok(),
            _ => None,
        };
        let (Some(actual), Ok(expected)) = (actual, expected.parse::<f64>()) else {
            return false;
        };
        match self.op {
            Op::Gt => actual > expected,
            Op::Lt => actual < expected,
            Op::Ge => actual >= expected,
            Op::Le => actual <= expected,
            Op::Eq => false,
        }
    }
}

fn find_operator(expr: &str) -> Option<(usize, &'static str)> {
    const OPS: [&str; 7] = ["==", "!=", ">=", "<=", "~", ">", "<"];
    (0..expr.len())
        .filter(|i| expr.is_char_boundary(*i))
        .find_map(|i| {
            OPS.iter()
                .find(|op| expr[i..].starts_with(*op))
                .map(|op| (i, *op))
        })
}

/// Splits `a,"b,c",d` on commas outside double quotes and strips the quotes.
fn split_values(value: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => values.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    values.push(current);
    values
}

fn values_at<'a>(value: &'a Value, segments: &[Segment], out: &mut Vec<&'a Value>) {
    let Some((first, rest)) = segments.split_first() else {
        out.push(value);
        return;
    };
    let Some(child) = value.get(&first.key) else {
        return;
    };
    if first.members {
        if let Value::Array(items) = child {
            items.iter().for_each(|item| values_at(item, rest, out));
        }
    } else {
        values_at(child, rest, out);
    }
}

/// An object a list holds, seen as the API renders it. Lists filter and sort on these views and
/// render only the page they answer, so a list costs O(n) cheap lookups plus one page of renders.
pub trait Item {
    /// The top-level field `key`, borrowed where the view holds it and computed otherwise.
    fn top(&self, key: &str) -> Option<Cow<'_, Value>>;
}

impl Item for Value {
    fn top(&self, key: &str) -> Option<Cow<'_, Value>> {
        self.get(key).map(Cow::Borrowed)
    }
}

/// The value at a dotted path, cloned (sort keys are scalars).
fn field<I: Item + ?Sized>(item: &I, path: &str) -> Option<Value> {
    let mut keys = path.split('.');
    let top = item.top(keys.next()?)?;
    keys.try_fold(top.as_ref(), |v, key| v.get(key)).cloned()
}

#[derive(Debug, Clone)]
struct Order {
    path: String,
    descending: bool,
}

/// A parsed list request.
#[derive(Debug)]
pub struct ListQuery {
    pub filters: Vec<Filter>,
    order: Option<Order>,
    count: bool,
    limit: usize,
    offset: usize,
    /// The query that defines the list, kept in the continuation token.
    defining: Vec<(String, String)>,
}

impl ListQuery {
    /// Parses a list request whose pages hold at most `page_cap` items.
    pub fn parse(
        pairs: &[(String, String)],
        collection: &Collection,
        page_cap: usize,
    ) -> Result<Self, ApiError> {
        let (defining, offset) = match pairs.iter().find(|(k, _)| k == "continuationToken") {
            Some((_, token)) => decode_token(token)?,
            None => (pairs.to_vec(), 0),
        };
        let mut query = Self {
            filters: Vec::new(),
            order: None,
            count: false,
            limit: DEFAULT_LIMIT.min(page_cap),
            offset,
            defining: Vec::new(),
        };
        let mut limit_given = false;
        for (key, value) in &defining {
            match key.as_str() {
                "property" => query
                    .filters
                    .push(Filter::parse(value, collection.aliases)?),
                "orderby" => query.order = Some(parse_order(value, collection)?),
                "limit" => {
                    limit_given = true;
                    query.limit = value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|l| *l > 0)
                        .ok_or_else(|| {
                            let message =
                                format!("limit must be a positive integer, not '{value}'.");
                            ApiError::invalid(Service::Flow, message)
                        })?
                        .min(page_cap);
                }
                "count" => query.count = value.trim().eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        if query.count && limit_given {
            return Err(ApiError::flow(
                StatusCode::BAD_REQUEST,
                1401,
                "Bad Request",
                "The count and limit parameters cannot be combined. Remove limit to count, or count to list.",
            ));
        }
        query.defining = defining;
        Ok(query)
    }

    /// The values of an `==` filter on `path`, to narrow a list through an index.
    pub fn equal_values(&self, path: &str) -> Option<&[String]> {
        self.filters
            .iter()
            .find(|f| f.path == path && f.op == Op::Eq)
            .map(|f| f.values.as_slice())
    }

    /// Filters, counts or sorts and pages `items`, rendering only the page, into the response
    /// body.
    pub fn respond<T: Item, S: Serialize>(
        &self,
        items: impl IntoIterator<Item = T>,
        render: impl Fn(&T) -> S,
        collection: &Collection,
    ) -> ListBody<S> {
        let items = items
            .into_iter()
            .filter(|item| self.filters.iter().all(|f| f.matches(item)));
        if self.count {
            return ListBody::Count {
                count: items.count(),
            };
        }
        let order_path = self.order.as_ref().map(|o| o.path.as_str());
        let mut keyed: Vec<([Option<Value>; 3], T)> = items
            .map(|item| {
                let keys = [
                    order_path.and_then(|p| field(&item, p)),
                    field(&item, "createdAt"),
                    field(&item, "id"),
                ];
                (keys, item)
            })
            .collect();
        let descending = self.order.as_ref().is_some_and(|o| o.descending);
        keyed.sort_by(|(a, _), (b, _)| {
            let primary = compare_values(a[0].as_ref(), b[0].as_ref());
            let primary = if descending {
                primary.reverse()
            } else {
                primary
            };
            primary
                .then_with(|| compare_values(a[1].as_ref(), b[1].as_ref()))
                .then_with(|| compare_values(a[2].as_ref(), b[2].as_ref()))
        });
        let total = keyed.len();
        let end = (self.offset + self.limit).min(total);
        let page: Vec<S> = keyed[self.offset.min(total)..end]
            .iter()
            .map(|(_, item)| render(item))
            .collect();
        let links = if end < total {
            let token = encode_token(&self.defining, end);
            json!({"next": {"href": format!("{}?continuationToken={token}", collection.path)}})
        } else {
            json!({})
        };
        ListBody::Page { items: page, links }
    }
}

/// The body of a Flow Service list: `{"count": n}` when counting, else a page of rendered items
/// with `_links` (`next` while more remain).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ListBody<S> {
    Count {
        count: usize,
    },
    Page {
        items: Vec<S>,
        #[serde(rename = "_links")]
        links: Value,
    },
}

fn parse_order(value: &str, collection: &Collection) -> Result<Order, ApiError> {
    // `+name` arrives as ` name` when the client did not encode the plus sign.
    let value = value.trim();
    let (path, descending) = match value.strip_prefix('-') {
        Some(rest) => (rest, true),
        None => (value.strip_prefix('+').unwrap_or(value), false),
    };
    if !collection.orderable.contains(&path) {
        let message = format!(
            "orderby field '{path}' is not supported; use one of {}.",
            collection.orderable.join(", ")
        );
        return Err(ApiError::flow(
            StatusCode::BAD_REQUEST,
            1432,
            "Bad Request",
            &message,
        ));
    }
    Ok(Order {
        path: path.to_owned(),
        descending,
    })
}

fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// The token is opaque to clients: hex of the defining query and the next offset.
fn encode_token(defining: &[(String, String)], offset: usize) -> String {
    let query: Vec<&(String, String)> = defining
        .iter()
        .filter(|(k, _)| k != "continuationToken")
        .collect();
    let raw = json!({"q": query, "o": offset}).to_string();
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_token(token: &str) -> Result<(Vec<(String, String)>, usize), ApiError> {
    let invalid = || {
        ApiError::invalid(
            Service::Flow,
            "The continuationToken is not valid. Follow _links.next.href as returned.",
        )
    };
    if !token.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    let value: Value = bytes
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(invalid)?;
    let query: Vec<(String, String)> = value
        .get("q")
        .cloned()
        .and_then(|q| serde_json::from_value(q).ok())
        .ok_or_else(invalid)?;
    let offset = value
        .get("o")
        .and_then(Value::as_u64)
        .and_then(|o| usize::try_from(o).ok())
        .ok_or_else(invalid)?;
    Ok((query, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    fn to_value(body: ListBody<Value>) -> Value {
        serde_json::to_value(body).unwrap_or_default()
    }

    fn items() -> Vec<Value> {
        vec![
            json!({"id": "a", "name": "CRMToAEP", "createdAt": 3, "state": "enabled", "sourceConnectionIds": ["s1", "s2"], "params": {"tableName": "Leads"}}),
            json!({"id": "b", "name": "x,y", "createdAt": 1, "state": "disabled", "sourceConnectionIds": ["s3"], "params": {"tableName": "Deals"}}),
            json!({"id": "c", "name": "other", "createdAt": 2, "state": "enabled", "sourceConnectionIds": [], "params": {"tableName": "Leads"}}),
        ]
    }

    fn ids(query: &str) -> Vec<String> {
        let q =
            ListQuery::parse(&pairs(query), &FLOWS, 100).unwrap_or_else(|e| panic!("{:?}", e.body));
        let body = to_value(q.respond(items(), Value::clone, &FLOWS));
        body["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn filters_combine_or_within_and_across() {
        assert_eq!(ids("property=name%3D%3D%22CRMToAEP%22"), ["a"]);
        assert_eq!(ids("property=id==a,b"), ["b", "a"]);
        assert_eq!(ids("property=id==a,b&property=state==enabled"), ["a"]);
        assert_eq!(ids("property=sourceConnectionIds[]==s2"), ["a"]);
        assert_eq!(
            ids("property=params.tableName==Leads&orderby=-createdAt"),
            ["a", "c"]
        );
        assert_eq!(ids("property=name==%22x,y%22"), ["b"]);
        assert_eq!(ids("property=createdAt>1&property=createdAt<3"), ["c"]);
        assert_eq!(ids("orderby=%2Bname"), ["a", "c", "b"]);
    }

    #[test]
    fn paging_follows_the_token_with_the_original_filters() {
        let q = ListQuery::parse(
            &pairs("property=state==enabled,disabled&limit=2"),
            &FLOWS,
            100,
        );
        let body = q
            .map(|q| to_value(q.respond(items(), Value::clone, &FLOWS)))
            .map_err(|e| e.body);
        let body = body.unwrap_or_default();
        assert_eq!(body["items"].as_array().map(Vec::len), Some(2));
        let href = body["_links"]["next"]["href"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(href.starts_with("/flows?continuationToken="), "{href}");
        let next = pairs(href.split_once('?').map(|(_, q)| q).unwrap_or_default());
        let page = ListQuery::parse(&next, &FLOWS, 100)
            .map(|q| to_value(q.respond(items(), Value::clone, &FLOWS)));
        let page = page.map_err(|e| e.body).unwrap_or_default();
        assert_eq!(page["items"][0]["id"], "a");
        assert_eq!(page["_links"], json!({}));
    }

    #[test]
    fn errors_carry_the_documented_codes() {
        let code = |query: &str| {
            ListQuery::parse(&pairs(query), &FLOWS, 100)
                .err()
                .and_then(|e| e.body["type"].as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        assert!(code("property=name~^x").ends_with("FLOW-1440-400"));
        assert!(code("count=true&limit=3").ends_with("FLOW-1401-400"));
        assert!(code("orderby=bogus").ends_with("FLOW-1432-400"));
        assert!(code("property=createdAt<=1,2").ends_with("FLOW-1443-400"));
        assert!(code("property=id>=abc").ends_with("FLOW-1448-400"));
        assert!(code("continuationToken=zz").ends_with("FLOW-1402-400"));
    }
}
