//! Request-body checks that mirror the OpenAPI request schemas (required fields and their
//! types), answering 400 in the service's error shape with the field named.

use serde_json::{Map, Value};

use super::errors::{ApiError, Service};

/// A JSON object being validated, with the dotted path it sits at (for messages).
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    service: Service,
    path: &'a str,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// The request body, which must be a JSON object.
    pub fn body(service: Service, value: &'a Value) -> Result<Self, ApiError> {
        match value.as_object() {
            Some(map) => Ok(Self {
                service,
                path: "",
                map,
            }),
            None => Err(ApiError::invalid(
                service,
                "The request body must be a JSON object.",
            )),
        }
    }

    fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn error(&self, message: impl AsRef<str>) -> ApiError {
        ApiError::invalid(self.service, message)
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    fn required(&self, key: &str) -> ApiError {
        self.error(format!("{} is required.", self.name(key)))
    }

    fn wrong_type(&self, key: &str, expected: &str) -> ApiError {
        self.error(format!("{} must be {expected}.", self.name(key)))
    }

    /// A string field; `None` when absent and not `required`.
    pub fn string(&self, key: &str, required: bool) -> Result<Option<&'a str>, ApiError> {
        match self.map.get(key) {
            None if required => Err(self.required(key)),
            None => Ok(None),
            Some(Value::String(s)) if required && s.trim().is_empty() => {
                Err(self.error(format!("{} must not be empty.", self.name(key))))
            }
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong_type(key, "a string")),
        }
    }

    pub fn integer(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
            Some(_) => Err(self.wrong_type(key, "an integer")),
        }
    }

    pub fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.wrong_type(key, "a boolean")),
        }
    }

    /// A nested object field, validated in turn.
    pub fn object(&self, key: &'a str, required: bool) -> Result<Option<Fields<'a>>, ApiError> {
        match self.map.get(key) {
            None if required => Err(self.required(key)),
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields {
                service: self.service,
                // Leaking the nested path would be wasteful; the key alone names the field well
                // enough because nesting in these bodies is at most three levels deep.
                path: key,
                map,
            })),
            Some(_) => Err(self.wrong_type(key, "an object")),
        }
    }

    pub fn array(&self, key: &str, required: bool) -> Result<Option<&'a Vec<Value>>, ApiError> {
        match self.map.get(key) {
            None if required => Err(self.required(key)),
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(self.wrong_type(key, "an array")),
        }
    }

    /// An array of strings.
    pub fn strings(&self, key: &str, required: bool) -> Result<Option<Vec<&'a str>>, ApiError> {
        let Some(items) = self.array(key, required)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| self.wrong_type(key, "an array of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// `{id, version}` of a spec reference (`SpecInfoDTO`). Without `version_required`, an absent version is the
    /// latest, `1.0` for every spec the emulator serves (the connections API documents that an
    /// omitted `connectionSpec.version` defaults to the most recent version).
    pub fn spec_info(
        &self,
        key: &'a str,
        version_required: bool,
    ) -> Result<(String, String), ApiError> {
        let spec = self.object(key, true)?.ok_or_else(|| self.required(key))?;
        let id = spec.string("id", true)?.unwrap_or_default().to_owned();
        let version = spec
            .string("version", version_required)?
            .unwrap_or("1.0")
            .to_owned();
        Ok((id, version))
    }

    /// Keeps only `keys` (those present) in a new object.
    pub fn keep(&self, keys: &[&str]) -> Value {
        Value::Object(
            keys.iter()
                .filter_map(|k| self.map.get(*k).map(|v| ((*k).to_owned(), v.clone())))
                .collect(),
        )
    }
}
