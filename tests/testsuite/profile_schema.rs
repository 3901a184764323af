//! `provision profile-schema` (issue 16): the JSON Schema it prints accepts the shipped profiles
//! and the profiles the tests write, and rejects a misspelt key, so an editor pointed at it
//! flags the same mistakes the loader does.

use crate::support;

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn schema() -> Value {
    let output = Command::cargo_bin("provision")
        .expect("binary")
        .arg("profile-schema")
        .env_remove("PROVISION_PROFILE")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "exit code");
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON document")
}

/// TOML as the JSON an editor validates: date-times become their RFC 3339 strings.
fn to_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(to_json).collect()),
        toml::Value::Table(table) => {
            Value::Object(table.into_iter().map(|(k, v)| (k, to_json(v))).collect())
        }
    }
}

fn document(text: &str) -> Value {
    to_json(toml::Value::Table(text.parse().expect("valid TOML")))
}

/// The schema's complaints about `text`, as `path: message` lines.
fn errors(validator: &jsonschema::Validator, text: &str) -> Vec<String> {
    let instance = document(text);
    validator
        .iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect()
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&schema()).expect("a valid JSON Schema")
}

#[test]
fn shipped_profiles_and_test_profiles_validate() {
    let validator = validator();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["profiles/example.toml", "profiles/local.toml"] {
        let text = std::fs::read_to_string(root.join(name)).expect("profile exists");
        assert_eq!(errors(&validator, &text), Vec::<String>::new(), "{name}");
    }
    for dataflows in [support::cli::THREE_MODULES, support::cli::TEN_MODULES, ""] {
        let text =
            support::cli::profile_text("http://127.0.0.1:8080", support::cli::PREFIX, dataflows);
        assert_eq!(errors(&validator, &text), Vec::<String>::new(), "{text}");
    }
    // `${VAR}` in a key with a fixed set of values, and a TOML date-time, are accepted too, as
    // the loader accepts them.
    let text = r#"
[zoho]
region = "${ZOHO_REGION}"

[defaults]
schedule = { frequency = "once", start = 2026-12-01T00:00:00Z }
"#;
    assert_eq!(errors(&validator, text), Vec::<String>::new());
}

#[test]
fn misspelt_keys_and_wrong_values_fail() {
    let validator = validator();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join("profiles/example.toml")).expect("exists");

    let misspelt = example.replacen("client_secret", "client_secrt", 1);
    assert_ne!(misspelt, example);
    let found = errors(&validator, &misspelt);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("client_secrt"), "{found:?}");

    let text = "[zoho]\nregion = \"de\"\n\n[defaults]\nschedule = { frequency = \"hourly\", interval = \"1\" }\n";
    let found = errors(&validator, text);
    let mut paths: Vec<&str> = found
        .iter()
        .map(|e| e.split(':').next().unwrap_or(""))
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/defaults/schedule/frequency",
            "/defaults/schedule/interval",
            "/zoho/region"
        ],
        "{found:?}"
    );
}

#[test]
fn schema_describes_keys_defaults_and_values() {
    let schema = schema();
    let adobe = &schema["properties"]["adobe"]["properties"];
    assert_eq!(
        adobe["platform_url"]["default"],
        "https://platform.adobe.io"
    );
    assert_eq!(adobe["client_secret"]["writeOnly"], true);
    assert!(adobe["org_id"]["description"]
        .as_str()
        .is_some_and(|d| d.contains("@AdobeOrg")));
    let schedule = &schema["properties"]["defaults"]["properties"]["schedule"]["properties"];
    assert_eq!(
        schedule["frequency"]["anyOf"][0]["enum"],
        serde_json::json!(["once", "minute", "hour", "day", "week"])
    );
    assert_eq!(schedule["backfill"]["default"], true);
    let dataflow = &schema["properties"]["dataflows"]["items"];
    assert_eq!(dataflow["additionalProperties"], false);
    assert_eq!(dataflow["properties"]["delta_column"]["type"], "string");
}
