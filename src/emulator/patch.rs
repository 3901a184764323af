//! `PATCH` with a JSON Patch array (or the spec's single operation object) and `If-Match`
//! (docs/aep-api.md#etags, #disagreements #5-#7, #18-#19): ops
//! `add`/`replace`/`remove` in either case, a missing `If-Match` is `1403-400` and a stale one
//! `1404-412`. Only the paths a resource allows may change; the resource re-validates the result.

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::errors::{ApiError, Service};

/// Checks `If-Match` against the current etag. The connection docs send it unquoted, the flow
/// docs quoted (docs/aep-api.md#disagreements #19), so both forms match.
pub fn check_if_match(
    headers: &HeaderMap,
    etag: &str,
    kind: &str,
    id: &str,
) -> Result<(), ApiError> {
    let Some(given) = headers.get("if-match").and_then(|v| v.to_str().ok()) else {
        return Err(ApiError::flow(
            StatusCode::BAD_REQUEST,
            1403,
            "Bad Request",
            "The If-Match header is required to update this resource. Send the resource's current etag.",
        ));
    };
    let bare = |s: &str| {
        s.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_owned()
    };
    if bare(given) != bare(etag) {
        let message = format!(
            "Supplied version=[{}] does not match the current version on entity=[{kind}:{id}]. Read the resource again and retry with its current etag.",
            given.trim()
        );
        return Err(ApiError::flow(
            StatusCode::PRECONDITION_FAILED,
            1404,
            "Precondition Failed",
            &message,
        ));
    }
    Ok(())
}

/// Applies `patch` to a copy of `doc`. `allowed` lists the path prefixes the resource lets
/// clients change (e.g. `/name`, `/auth/params`).
pub fn apply(doc: &Value, patch: &Value, allowed: &[&str]) -> Result<Value, ApiError> {
    let invalid = |m: String| ApiError::invalid(Service::Flow, m);
    // The docs send a JSON Patch array; flow-service.yaml declares one `PatchInstruction` object
    // as the body. Both are taken, the object as a one-operation patch.
    let single;
    let ops = match patch {
        Value::Array(ops) => ops,
        Value::Object(_) => {
            single = vec![patch.clone()];
            &single
        }
        _ => {
            return Err(invalid(
                "The PATCH body must be a JSON Patch array, e.g. [{\"op\": \"replace\", \"path\": \"/name\", \"value\": \"new\"}].".into(),
            ))
        }
    };
    if ops.is_empty() {
        return Err(invalid("The PATCH body has no operations.".into()));
    }
    let mut doc = doc.clone();
    for (i, op) in ops.iter().enumerate() {
        let kind = op
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let Some(path) = op.get("path").and_then(Value::as_str) else {
            return Err(invalid(format!("Operation {i} has no path.")));
        };
        let permitted = allowed.iter().any(|p| {
            path == *p
                || path
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.starts_with('/'))
        });
        if !permitted {
            return Err(invalid(format!(
                "The path '{path}' cannot be updated; updatable paths are {}.",
                allowed.join(", ")
            )));
        }
        let tokens: Vec<String> = path
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        match kind.as_str() {
            "add" | "replace" => {
                let Some(value) = op.get("value") else {
                    return Err(invalid(format!(
                        "Operation {i} ({kind} {path}) has no value."
                    )));
                };
                set(&mut doc, &tokens, value.clone(), kind == "add")
                    .map_err(|m| invalid(format!("Operation {i} ({kind} {path}): {m}")))?;
            }
            "remove" => remove(&mut doc, &tokens)
                .map_err(|m| invalid(format!("Operation {i} (remove {path}): {m}")))?,
            other => {
                return Err(invalid(format!(
                    "Operation {i} has op '{other}'; use add, replace or remove."
                )))
            }
        }
    }
    Ok(doc)
}

fn parent<'a>(doc: &'a mut Value, tokens: &[String]) -> Result<&'a mut Value, String> {
    tokens.iter().try_fold(doc, |node, token| match node {
        Value::Object(map) => map
            .get_mut(token)
            .ok_or_else(|| format!("'{token}' does not exist")),
        Value::Array(items) => token
            .parse::<usize>()
            .ok()
            .and_then(move |i| items.get_mut(i))
            .ok_or_else(|| format!("index '{token}' does not exist")),
        _ => Err(format!("'{token}' is not inside an object or array")),
    })
}

fn set(doc: &mut Value, tokens: &[String], value: Value, add: bool) -> Result<(), String> {
    let Some((last, init)) = tokens.split_last() else {
        return Err("the whole document cannot be replaced".into());
    };
    match parent(doc, init)? {
        Value::Object(map) => {
            if !add && !map.contains_key(last) {
                return Err(format!("'{last}' does not exist; use add"));
            }
            map.insert(last.clone(), value);
        }
        Value::Array(items) => {
            if add && last == "-" {
                items.push(value);
                return Ok(());
            }
            let index: usize = last
                .parse()
                .map_err(|_| format!("'{last}' is not an index"))?;
            match (add, index.cmp(&items.len())) {
                (true, std::cmp::Ordering::Greater)
                | (false, std::cmp::Ordering::Equal | std::cmp::Ordering::Greater) => {
                    return Err(format!("index {index} is out of range"))
                }
                (true, _) => items.insert(index, value),
                (false, _) => items[index] = value,
            }
        }
        _ => return Err("the parent is not an object or array".into()),
    }
    Ok(())
}

fn remove(doc: &mut Value, tokens: &[String]) -> Result<(), String> {
    let Some((last, init)) = tokens.split_last() else {
        return Err("the whole document cannot be removed".into());
    };
    match parent(doc, init)? {
        Value::Object(map) => map
            .remove(last)
            .map(drop)
            .ok_or_else(|| format!("'{last}' does not exist")),
        Value::Array(items) => match last.parse::<usize>() {
            Ok(i) if i < items.len() => {
                items.remove(i);
                Ok(())
            }
            _ => Err(format!("index '{last}' does not exist")),
        },
        _ => Err("the parent is not an object or array".into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn patches_apply_in_either_case_and_stay_inside_allowed_paths() {
        let doc = json!({"name": "a", "scheduleParams": {"interval": "1"}, "transformations": [{"name": "Copy"}]});
        let patch = json!([
            {"op": "replace", "path": "/name", "value": "b"},
            {"op": "REPLACE", "path": "/scheduleParams/interval", "value": 2},
            {"op": "add", "path": "/transformations/-", "value": {"name": "Mapping"}},
            {"op": "add", "path": "/description", "value": "d"},
        ]);
        let out = apply(
            &doc,
            &patch,
            &[
                "/name",
                "/description",
                "/scheduleParams",
                "/transformations",
            ],
        );
        assert_eq!(
            out.map_err(|e| e.body).ok(),
            Some(
                json!({"name": "b", "description": "d", "scheduleParams": {"interval": 2}, "transformations": [{"name": "Copy"}, {"name": "Mapping"}]})
            )
        );
        assert!(apply(
            &doc,
            &json!([{"op": "replace", "path": "/id", "value": "x"}]),
            &["/name"]
        )
        .is_err());
        // flow-service.yaml's form: one operation object (issue 17).
        assert_eq!(
            apply(
                &doc,
                &json!({"op": "replace", "path": "/name", "value": "x"}),
                &["/name"]
            )
            .map_err(|e| e.body)
            .ok()
            .map(|d| d["name"].clone()),
            Some(json!("x"))
        );
        assert!(apply(&doc, &json!("replace"), &["/name"]).is_err());
        assert!(apply(
            &doc,
            &json!([{"op": "replace", "path": "/nameX", "value": "x"}]),
            &["/name"]
        )
        .is_err());
        assert!(apply(
            &doc,
            &json!([{"op": "move", "path": "/name", "from": "/x"}]),
            &["/name"]
        )
        .is_err());
    }
}
