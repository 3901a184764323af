//! Wire-level helpers shared by the resource modules: the `{"items": [...]}` wrapper, create
//! acknowledgements, item-by-item decoding with errors that name the item, id-list chunking and
//! the offset paging of Catalog and Data Prep. Lenient field decoders live in [`de`].

use std::collections::HashSet;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::{AepClient, ApiError, Etag, Query, Service};

/// How long the value list of one `property=field==a,b,c` filter may be, percent-encoded, so
/// that URLs stay well below the 8 KiB that gateways commonly accept: about 100 UUIDs (37 bytes
/// each with the comma), fewer long names. Bounding bytes rather than a count keeps ids cheap
/// (`status` for 100 flows is one runs query, not two) and names safe.
pub const MAX_FILTER_BYTES: usize = 4 * 1024;

/// Splits `values` into consecutive groups whose `a,b,c` list (of `text(value)`), percent-encoded
/// as [`Query`] sends it, fits in [`MAX_FILTER_BYTES`]. A value too long on its own gets a group
/// of its own.
pub fn filter_chunks<T>(values: &[T], text: impl Fn(&T) -> &str) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, value) in values.iter().enumerate() {
        let len = super::http::encoded_len(text(value));
        if i > start && bytes + 1 + len > MAX_FILTER_BYTES {
            chunks.push(&values[start..i]);
            (start, bytes) = (i, len);
        } else {
            bytes += len + usize::from(i > start);
        }
    }
    if start < values.len() {
        chunks.push(&values[start..]);
    }
    chunks
}

/// The acknowledgement of a create or a PATCH: `{"id": "...", "etag": "\"...\""}` (docs/aep-api.md#common-conventions).
/// The etag is optional because a create that succeeded must not be reported as failed only
/// because the service left it out.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Created<I> {
    pub id: I,
    #[serde(flatten, deserialize_with = "de::etag")]
    pub etag: Option<Etag>,
}

/// Decodes each element of `items` as `T`; a malformed element becomes a decode error that names
/// its position and id, so one bad item never looks like an empty list.
pub(crate) fn decode_items<T: DeserializeOwned>(
    call: &str,
    what: &str,
    items: Vec<Value>,
) -> Result<Vec<T>, ApiError> {
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| decode_item(call, what, index, item))
        .collect()
}

fn decode_item<T: DeserializeOwned>(
    call: &str,
    what: &str,
    index: usize,
    item: Value,
) -> Result<T, ApiError> {
    let id = item
        .get("id")
        .and_then(Value::as_str)
        .map(|id| format!(" (id {id})"))
        .unwrap_or_default();
    serde_json::from_value(item).map_err(|e| {
        ApiError::decode(
            call,
            format!("{what} #{index}{id} in the response could not be read: {e}"),
        )
    })
}

/// The list inside a GET-by-id answer: `{"items": [...]}`, or, leniently, a bare array or the
/// bare object itself.
pub(crate) fn unwrap_items(call: &str, value: Value) -> Result<Vec<Value>, ApiError> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(mut map) => match map.remove("items") {
            Some(Value::Array(items)) => Ok(items),
            Some(Value::Null) | None if map.is_empty() => Ok(Vec::new()),
            Some(Value::Null) | None => Ok(vec![Value::Object(map)]),
            Some(other) => Err(ApiError::decode(
                call,
                format!("expected `items` to be a list, got {}", kind_of(&other)),
            )),
        },
        Value::Null => Ok(Vec::new()),
        other => Err(ApiError::decode(
            call,
            format!("expected an object or a list, got {}", kind_of(&other)),
        )),
    }
}

/// GET `{path}` and decode the first element of its `items` (Flow Service GET by id); 404 and an
/// empty list are `None`.
pub(crate) async fn get_first<T: DeserializeOwned>(
    client: &AepClient,
    service: Service,
    path: &str,
    what: &str,
) -> Result<Option<T>, ApiError> {
    let call = format!("GET {path}");
    let Some(value) = client
        .get_opt::<Value>(service, path, &Query::new())
        .await?
    else {
        return Ok(None);
    };
    let first = unwrap_items(&call, value)?.into_iter().next();
    first
        .map(|item| decode_item(&call, what, 0, item))
        .transpose()
}

/// Every item of a Flow Service collection matching `query`, following `_links.next.href`.
pub(crate) async fn list<T: DeserializeOwned>(
    client: &AepClient,
    path: &str,
    query: &Query,
    what: &str,
) -> Result<Vec<T>, ApiError> {
    let items: Vec<Value> = client.list_all(Service::FlowService, path, query).await?;
    decode_items(&format!("GET {path}"), what, items)
}

/// Lists the items whose `field` is one of `ids`, one query per [`filter_chunks`] group, each
/// added to `base` as `property={field}=={a},{b},...`. The groups are queried at once (the
/// client bounds what is in flight) and their items come back in the groups' order. No request
/// is made for an empty list.
pub(crate) async fn list_by_ids<T: DeserializeOwned>(
    client: &AepClient,
    path: &str,
    base: &Query,
    field: &str,
    ids: &[&str],
    what: &str,
) -> Result<Vec<T>, ApiError> {
    let mut seen = HashSet::new();
    let unique: Vec<&str> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    let queries = filter_chunks(&unique, |id| id).into_iter().map(|chunk| {
        let query = base.clone().property_eq(field, chunk);
        async move { list::<T>(client, path, &query, what).await }
    });
    let groups = futures::future::try_join_all(queries).await?;
    Ok(groups.into_iter().flatten().collect())
}

/// One page of an offset-paged collection: its items, and the page size the service says it
/// applied (Data Prep's `_page.limit`), when it says one.
pub(crate) struct OffsetPage {
    pub items: Vec<Value>,
    pub page_limit: Option<usize>,
}

/// Pages through an offset-paged collection (`limit` and `start`, as Catalog and Data Prep take
/// them) until a page comes back shorter than the page size: the `limit` asked, or the smaller
/// one the service reports having applied (a service that caps pages below what was asked must
/// not end the walk early). `extract` turns one page's body into its items; items are
/// de-duplicated by `id`, and a page with nothing new ends the walk, so a service that ignores
/// `start` cannot make this loop forever.
pub(crate) async fn offset_pages(
    client: &AepClient,
    service: Service,
    path: &str,
    base: &Query,
    limit: usize,
    extract: impl Fn(&str, Value) -> Result<OffsetPage, ApiError>,
) -> Result<Vec<Value>, ApiError> {
    let call = format!("GET {path}");
    let limit = limit.max(1);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut start = 0usize;
    loop {
        let query = base
            .clone()
            .param("limit", limit.to_string())
            .param("start", start.to_string());
        let page: Value = client.get(service, path, &query).await?;
        let OffsetPage { items, page_limit } = extract(&call, page)?;
        let page_size = page_limit
            .filter(|&l| l > 0)
            .map_or(limit, |l| l.min(limit));
        let count = items.len();
        let mut fresh = 0usize;
        for item in items {
            let key = item.get("id").map(Value::to_string);
            if key.as_ref().is_none_or(|k| seen.insert(k.clone())) {
                fresh += 1;
                out.push(item);
            }
        }
        if count < page_size || fresh == 0 {
            return Ok(out);
        }
        start += count;
    }
}

pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Lenient field decoders for values the services send in more than one form (docs/aep-api.md#value-types,
/// #runs, #disagreements #8-#10, #16).
pub mod de {
    use super::*;

    /// An integer sent as a number (`15`, `15.0`) or a string (`"15"`); absent or null is `None`.
    pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let value = Option::<Value>::deserialize(d)?;
        value
            .as_ref()
            .filter(|v| !v.is_null())
            .map(|v| int_of(v).ok_or_else(|| invalid(v, "an integer")))
            .transpose()
    }

    /// Like [`opt_i64`], for counts and versions that cannot be negative.
    pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let value = opt_i64(d)?;
        value
            .map(|n| {
                u64::try_from(n).map_err(|_| {
                    serde::de::Error::custom(format!("expected a non-negative integer, got {n}"))
                })
            })
            .transpose()
    }

    /// Like [`opt_u64`], for values that fit in 32 bits (schedule intervals, mapping versions).
    pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        let value = opt_i64(d)?;
        value
            .map(|n| {
                u32::try_from(n).map_err(|_| {
                    serde::de::Error::custom(format!(
                        "expected a small non-negative integer, got {n}"
                    ))
                })
            })
            .transpose()
    }

    /// A required integer, as a number or a string.
    pub fn i64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        opt_i64(d)?.ok_or_else(|| serde::de::Error::custom("expected an integer, got null"))
    }

    /// A required non-negative 32-bit integer, as a number or a string.
    pub fn u32_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        opt_u32(d)?.ok_or_else(|| serde::de::Error::custom("expected an integer, got null"))
    }

    /// A boolean sent as `true` or as `"true"` (any case); absent or null is `None`.
    pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let value = Option::<Value>::deserialize(d)?;
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => Err(invalid(&other, "a boolean")),
        }
    }

    /// A string that some responses send as a number (error codes, versions).
    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let value = Option::<Value>::deserialize(d)?;
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(other) => Err(invalid(&other, "a string")),
        }
    }

    /// A list that may be absent or null (`[]` then).
    pub fn vec_or_null<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }

    /// A nested object that may be absent or null (its `Default` then).
    pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de> + Default,
    {
        Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
    }

    /// `etag` (docs) or `eTag` (OpenAPI), whichever is present; use with `#[serde(flatten)]`.
    pub fn etag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Etag>, D::Error> {
        #[derive(Deserialize)]
        struct Either {
            #[serde(default)]
            etag: Option<Etag>,
            #[serde(default, rename = "eTag")]
            e_tag: Option<Etag>,
        }
        let either = Either::deserialize(d)?;
        Ok(either.etag.or(either.e_tag))
    }

    fn int_of(value: &Value) -> Option<i64> {
        match value {
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            }),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn invalid<E: serde::de::Error>(value: &Value, expected: &str) -> E {
        E::custom(format!("expected {expected}, got {value}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filter_chunks_keep_each_encoded_value_list_within_the_budget() {
        let ids: Vec<String> = (0..250)
            .map(|i| format!("{i:08x}-0000-4000-8000-000000000000"))
            .collect();
        let chunks = filter_chunks(&ids, String::as_str);
        // 37 bytes per UUID with its comma: 110 fit in 4 KiB.
        assert_eq!(
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>(),
            [110, 110, 30]
        );
        assert_eq!(chunks.concat(), ids);
        for chunk in &chunks {
            let encoded = Query::new().property_eq("id", chunk).encode();
            assert!(encoded.len() - "property=id%3D%3D".len() <= MAX_FILTER_BYTES);
        }
        // Names with spaces and slashes cost their encoded length; one too long still goes.
        let names = ["a b / c".repeat(400), "short".to_owned()];
        assert_eq!(filter_chunks(&names, String::as_str).len(), 2);
        assert!(filter_chunks::<&str>(&[], |s| s).is_empty());
    }

    #[derive(Debug, Deserialize)]
    struct Sample {
        #[serde(default, deserialize_with = "de::opt_i64")]
        n: Option<i64>,
        #[serde(default, deserialize_with = "de::opt_bool")]
        b: Option<bool>,
        #[serde(flatten, deserialize_with = "de::etag")]
        etag: Option<Etag>,
    }

    #[test]
    fn numbers_and_booleans_are_read_from_strings_too() {
        let s: Sample = serde_json::from_value(json!({"n": "15", "b": "TRUE"})).unwrap();
        assert_eq!((s.n, s.b), (Some(15), Some(true)));
        let s: Sample = serde_json::from_value(json!({"n": 15, "b": false})).unwrap();
        assert_eq!((s.n, s.b), (Some(15), Some(false)));
        let s: Sample = serde_json::from_value(json!({})).unwrap();
        assert_eq!((s.n, s.b, s.etag), (None, None, None));
        assert!(serde_json::from_value::<Sample>(json!({"n": "fifteen"})).is_err());
        assert!(serde_json::from_value::<Sample>(json!({"b": "yes"})).is_err());
    }

    #[test]
    fn etag_is_read_from_either_spelling() {
        let s: Sample = serde_json::from_value(json!({"eTag": "\"a\""})).unwrap();
        assert_eq!(s.etag, Some(Etag::from("\"a\"")));
        let s: Sample = serde_json::from_value(json!({"etag": "\"b\"", "eTag": "\"c\""})).unwrap();
        assert_eq!(s.etag, Some(Etag::from("\"b\"")));
    }

    #[test]
    fn items_are_unwrapped_from_every_shape() {
        let call = "GET /x";
        assert_eq!(
            unwrap_items(call, json!({"items": [1, 2]})).unwrap().len(),
            2
        );
        assert_eq!(unwrap_items(call, json!([1])).unwrap().len(), 1);
        assert_eq!(unwrap_items(call, json!({"id": "a"})).unwrap().len(), 1);
        assert!(unwrap_items(call, json!({})).unwrap().is_empty());
        assert!(unwrap_items(call, json!({"items": 3})).is_err());
    }

    #[test]
    fn a_malformed_item_is_named_in_the_error() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Item {
            id: String,
            n: u32,
        }
        let err = decode_items::<Item>(
            "GET /runs",
            "run",
            vec![json!({"id": "a", "n": 1}), json!({"id": "b", "n": "x"})],
        )
        .unwrap_err();
        assert!(err.message.contains("run #1 (id b)"), "{}", err.message);
    }
}
