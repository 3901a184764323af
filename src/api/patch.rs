//! JSON Patch operations (RFC 6902) for `PATCH /flows/{id}` and `PATCH /connections/{id}`.
//! The body is always an array and `op` is lower case: the docs' form, which the live service
//! takes, rather than the OpenAPI spec's single upper-case object (docs/aep-api.md#disagreements #5, #6).

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchKind {
    Add,
    Replace,
    Remove,
}

/// One operation: `{"op": "replace", "path": "/name", "value": ...}`; `remove` has no value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchOp {
    pub op: PatchKind,
    /// A JSON Pointer, e.g. `/scheduleParams/frequency` or `/transformations/1`.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

impl PatchOp {
    pub fn add(path: impl Into<String>, value: impl Into<Value>) -> Self {
        Self {
            op: PatchKind::Add,
            path: path.into(),
            value: Some(value.into()),
        }
    }

    pub fn replace(path: impl Into<String>, value: impl Into<Value>) -> Self {
        Self {
            op: PatchKind::Replace,
            path: path.into(),
            value: Some(value.into()),
        }
    }

    pub fn remove(path: impl Into<String>) -> Self {
        Self {
            op: PatchKind::Remove,
            path: path.into(),
            value: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ops_serialise_in_lower_case_and_remove_has_no_value() {
        let ops = vec![
            PatchOp::replace("/scheduleParams/frequency", "day"),
            PatchOp::add("/description", json!("d")),
            PatchOp::remove("/description"),
        ];
        assert_eq!(
            serde_json::to_value(&ops).unwrap(),
            json!([
                {"op": "replace", "path": "/scheduleParams/frequency", "value": "day"},
                {"op": "add", "path": "/description", "value": "d"},
                {"op": "remove", "path": "/description"}
            ])
        );
    }
}
