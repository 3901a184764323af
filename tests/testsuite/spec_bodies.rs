//! Every request body the emulator accepts for a create (or a PATCH) validates against the
//! matching request schema in Adobe's OpenAPI specs (`../shared/specs`), or differs from it only
//! by a deviation that docs/aep-api.md#disagreements documents (the live service's form). Checked on a table of
//! the documented forms and on property-generated mutations of them.
//!
//! Without the specs the test is skipped, except under `CI=true`, where that is a failure.

use crate::support;

use std::path::PathBuf;
use std::sync::Arc;

use jsonschema::{Draft, Validator};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{json, Map, Value};
use support::*;

/// `$PROVISION_SPECS_DIR`, else `../shared/specs` from the repository root (or from one level
/// up, for a git worktree under the project directory).
fn specs_dir() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = match std::env::var_os("PROVISION_SPECS_DIR") {
        Some(dir) => vec![PathBuf::from(dir)],
        None => vec![
            root.join("../shared/specs"),
            root.join("../../shared/specs"),
        ],
    };
    if let Some(dir) = candidates
        .iter()
        .find(|d| d.join("flow-service.yaml").is_file())
    {
        return Some(dir.clone());
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the OpenAPI specs are missing from {}; CI must have them",
        candidates[0].display()
    );
    eprintln!(
        "skipped: the OpenAPI specs are not at {}",
        candidates[0].display()
    );
    None
}

/// YAML to JSON, with non-string keys (Catalog's `200:`) as strings.
fn yaml_to_json(value: serde_yaml::Value) -> Value {
    match value {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => serde_json::to_value(&n).unwrap_or(Value::Null),
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(items) => {
            Value::Array(items.into_iter().map(yaml_to_json).collect())
        }
        serde_yaml::Value::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        serde_yaml::Value::String(s) => s,
                        other => serde_yaml::to_string(&other)
                            .unwrap_or_default()
                            .trim()
                            .to_owned(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        serde_yaml::Value::Tagged(tagged) => yaml_to_json(tagged.value),
    }
}

/// OpenAPI 3.0 schema to JSON Schema: `$ref`s into `$defs`, `nullable` into a `null` type, and
/// annotations (which the specs sometimes fill with `null`) dropped.
fn convert(schema: &Value) -> Value {
    let Some(map) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        match key.as_str() {
            "$ref" => {
                let target = value
                    .as_str()
                    .unwrap_or_default()
                    .replace("#/components/schemas/", "#/$defs/");
                out.insert(key.clone(), json!(target));
            }
            "properties" => {
                let props = value
                    .as_object()
                    .map(|p| p.iter().map(|(k, v)| (k.clone(), convert(v))).collect());
                out.insert(key.clone(), Value::Object(props.unwrap_or_default()));
            }
            "items" | "additionalProperties" | "not" => {
                out.insert(
                    key.clone(),
                    if value.is_object() {
                        convert(value)
                    } else {
                        value.clone()
                    },
                );
            }
            "allOf" | "anyOf" | "oneOf" => {
                out.insert(
                    key.clone(),
                    json!(value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(convert)
                        .collect::<Vec<_>>()),
                );
            }
            "example" | "examples" | "description" | "title" | "xml" | "externalDocs"
            | "discriminator" | "nullable" => {}
            k if k.starts_with("x-") => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if map.get("nullable") == Some(&Value::Bool(true)) {
        if let Some(kind) = out.get("type").cloned() {
            out.insert("type".into(), json!([kind, "null"]));
        }
    }
    Value::Object(out)
}

struct Spec {
    doc: Value,
}

impl Spec {
    fn load(dir: &std::path::Path, file: &str) -> Self {
        let text = std::fs::read_to_string(dir.join(file)).expect("the spec is readable");
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("the spec is YAML");
        Self {
            doc: yaml_to_json(yaml),
        }
    }

    /// A validator for `schema` (an OpenAPI schema object) with every component in `$defs`.
    fn validator_for(&self, schema: &Value) -> Validator {
        let defs: Map<String, Value> = self.doc["components"]["schemas"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), convert(v))).collect())
            .unwrap_or_default();
        let mut root = convert(schema);
        root["$defs"] = Value::Object(defs);
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(false)
            .build(&root)
            .expect("the converted schema is valid JSON Schema")
    }

    /// The request schema of `method path`.
    fn request(&self, path: &str, method: &str) -> Validator {
        let schema = &self.doc["paths"][path][method]["requestBody"]["content"]["application/json"]
            ["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} has a JSON request body in the spec"
        );
        self.validator_for(schema)
    }

    fn response(&self, path: &str, method: &str, status: &str) -> Validator {
        let schema = &self.doc["paths"][path][method]["responses"][status]["content"]
            ["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} has a {status} JSON response in the spec"
        );
        self.validator_for(schema)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Connection,
    Source,
    Target,
    Flow,
    Dataset,
    MappingSet,
    FlowPatch,
    ConnectionPatch,
}

struct Schemas {
    validators: Vec<(Kind, Validator)>,
    create_response: Validator,
    dataset_response: Validator,
}

impl Schemas {
    fn load(dir: &std::path::Path) -> Self {
        let flow = Spec::load(dir, "flow-service.yaml");
        let catalog = Spec::load(dir, "catalog.yaml");
        let prep = Spec::load(dir, "data-prep.yaml");
        // docs/aep-api.md#disagreements #6: the docs (and the live service) take an array of patch instructions for
        // connections too, where the spec declares a single object.
        let patch_array =
            json!({"type": "array", "items": {"$ref": "#/components/schemas/PatchInstruction"}});
        Self {
            validators: vec![
                (Kind::Connection, flow.request("/connections", "post")),
                (Kind::Source, flow.request("/sourceConnections", "post")),
                (Kind::Target, flow.request("/targetConnections", "post")),
                (Kind::Flow, flow.request("/flows", "post")),
                (Kind::Dataset, catalog.request("/dataSets", "post")),
                (Kind::MappingSet, prep.request("/mappingSets", "post")),
                (Kind::FlowPatch, flow.request("/flows/{FLOW_ID}", "patch")),
                (Kind::ConnectionPatch, flow.validator_for(&patch_array)),
            ],
            create_response: flow.response("/connections", "post", "201"),
            dataset_response: catalog.response("/dataSets", "post", "201"),
        }
    }

    fn validator(&self, kind: Kind) -> &Validator {
        &self
            .validators
            .iter()
            .find(|(k, _)| *k == kind)
            .expect("a validator per kind")
            .1
    }

    /// `Ok` when `body` validates, or validates once the docs/aep-api.md#disagreements deviations it uses are undone.
    fn conforms(&self, kind: Kind, body: &Value) -> Result<(), String> {
        let validator = self.validator(kind);
        if validator.is_valid(body) {
            return Ok(());
        }
        let undone = undo_documented_deviations(kind, body);
        if undone != *body && validator.is_valid(&undone) {
            return Ok(());
        }
        let errors: Vec<String> = validator
            .iter_errors(&undone)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        Err(format!("{kind:?} body {body} breaks the spec: {errors:?}"))
    }
}

/// Rewrites only what docs/aep-api.md#disagreements says the live service takes differently from the spec.
fn undo_documented_deviations(kind: Kind, body: &Value) -> Value {
    let mut body = body.clone();
    match kind {
        Kind::Flow => {
            if let Some(schedule) = body
                .get_mut("scheduleParams")
                .and_then(Value::as_object_mut)
            {
                // #8: interval is an integer for the flow spec, a string for OpenAPI.
                if let Some(interval) = schedule.get_mut("interval").filter(|v| v.is_number()) {
                    *interval = json!(interval.to_string());
                }
                // #9: the docs send startTime and backfill as strings.
                if let Some(start) = schedule.get_mut("startTime") {
                    if let Some(n) = start.as_str().and_then(|s| s.parse::<i64>().ok()) {
                        *start = json!(n);
                    }
                }
                if let Some(backfill) = schedule.get_mut("backfill") {
                    if let Some(b) = backfill.as_str().and_then(|s| s.parse::<bool>().ok()) {
                        *backfill = json!(b);
                    }
                }
            }
            // #10: the docs send mappingVersion as an integer.
            for transformation in body
                .get_mut("transformations")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(version) = transformation
                    .pointer_mut("/params/mappingVersion")
                    .filter(|v| v.is_number())
                {
                    *version = json!(version.to_string());
                }
            }
        }
        // flow-service.yaml's createConnection prose: an omitted connectionSpec.version
        // "will default to the most recent version" (1.0), though SpecInfoDTO requires it.
        Kind::Connection
            if body
                .get("connectionSpec")
                .is_some_and(|s| s.is_object() && s.get("version").is_none()) =>
        {
            body["connectionSpec"]["version"] = json!("1.0");
        }
        // #11: the legacy xdmSchema form sends "id": null.
        Kind::MappingSet
            if body.get("xdmSchema").is_some() && body.get("id") == Some(&Value::Null) =>
        {
            body.as_object_mut().map(|b| b.remove("id"));
        }
        Kind::FlowPatch | Kind::ConnectionPatch => {
            for op in body.as_array_mut().into_iter().flatten() {
                // #5: lower-case ops in the docs, upper case in the spec's enum.
                if let Some(name) = op.get_mut("op") {
                    if let Some(upper) = name.as_str().map(str::to_ascii_uppercase) {
                        *name = json!(upper);
                    }
                }
                // #7: the docs' values are strings, numbers and objects; the spec says object.
                if let Some(value) = op.get_mut("value").filter(|v| !v.is_object()) {
                    *value = json!({"value": value.clone()});
                }
            }
        }
        _ => {}
    }
    body
}

/// The emulator with the objects every kind of body refers to.
struct Fixture {
    env: Env,
    base: String,
    source: String,
    target: String,
    mapping: String,
    flow: String,
}

impl Fixture {
    async fn new() -> Self {
        let env = Env::start().await;
        let base = env.base_connection("spec").await;
        let source = env
            .source_connection(
                &base,
                "Leads",
                Some(&["Email", "First_Name", "Modified_Time"]),
            )
            .await;
        let target = env.target_connection(SEED_DATASET).await;
        let mapping = env.mapping_set(&["Email"]).await;
        let flow = env
            .create(
                &format!("{FS}/flows"),
                &flow_body(&source, &target, &mapping, hourly(1_900_000_000)),
            )
            .await;
        Self {
            env,
            base,
            source,
            target,
            mapping,
            flow,
        }
    }

    /// Sends `body` as `kind`; `Some(response body)` when the emulator accepted it.
    async fn send(&self, kind: Kind, body: &Value) -> Option<Value> {
        let env = &self.env;
        let reply = match kind {
            Kind::Connection => env.post(&format!("{FS}/connections"), body).await,
            Kind::Source => env.post(&format!("{FS}/sourceConnections"), body).await,
            Kind::Target => env.post(&format!("{FS}/targetConnections"), body).await,
            Kind::Flow => env.post(&format!("{FS}/flows"), body).await,
            Kind::Dataset => env.post(&format!("{CATALOG}/dataSets"), body).await,
            Kind::MappingSet => env.post(&format!("{PREP}/mappingSets"), body).await,
            Kind::FlowPatch | Kind::ConnectionPatch => {
                let path = match kind {
                    Kind::FlowPatch => format!("{FS}/flows/{}", self.flow),
                    _ => format!("{FS}/connections/{}", self.base),
                };
                let etag = env.get(&path).await.body["items"][0]["etag"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                env.send(
                    env.adobe(Method::PATCH, &path)
                        .header("If-Match", etag)
                        .json(body),
                )
                .await
            }
        };
        assert!(reply.code() < 500, "{kind:?} {body}: {}", reply.body);
        reply.status.is_success().then_some(reply.body)
    }

    /// Each kind's bodies in the forms the docs and docs/aep-api.md show.
    fn documented_forms(&self) -> Vec<(Kind, Value)> {
        let url = self.env.emulator.url();
        let (source, target, mapping) = (&self.source, &self.target, &self.mapping);
        let mut with_access_token = base_connection_body("docs form", &url);
        with_access_token["auth"]["params"]["accessToken"] = json!("1000.access");
        let mut docs_flow = flow_body(
            source,
            target,
            mapping,
            json!({"startTime": "1612310466", "frequency": "minute", "interval": "15", "backfill": "true"}),
        );
        docs_flow["transformations"][1]["params"]["mappingVersion"] = json!(0);
        let spec_flow = flow_body(
            source,
            target,
            mapping,
            json!({"startTime": 1_900_000_000, "frequency": "day", "interval": "1", "backfill": false}),
        );
        let once = flow_body(
            source,
            target,
            mapping,
            json!({"startTime": 1_900_000_000, "frequency": "once"}),
        );
        let mut with_options = flow_body(source, target, mapping, hourly(1_900_000_000));
        with_options["options"] =
            json!({"errorDiagnosticsEnabled": true, "partialIngestionPercent": 10});
        let mut profile_dataset = dataset_body("Profile dataset");
        profile_dataset["tags"] = json!({"unifiedProfile": ["enabled: true"]});
        let mut notext_dataset = dataset_body("Older crm.md dataset");
        notext_dataset["schemaRef"]["contentType"] =
            json!("application/vnd.adobe.xed-full-notext+json; version=1");
        let mut named_mapping = mapping_body(&["Email", "First_Name"]);
        named_mapping["name"] = json!("zoho-leads");
        named_mapping["mappings"][0]["name"] = json!("email");
        named_mapping["mappings"][0]["description"] = json!("the lead's email");
        let legacy_mapping = json!({
            "version": 0, "xdmSchema": SCHEMA, "xdmVersion": "1.0", "id": null,
            "mappings": [{"destinationXdmPath": "person.name.firstName", "sourceAttribute": "First_Name", "identity": false, "identityGroup": null, "namespaceCode": null, "version": 0}],
        });
        let explored_columns = json!({
            "name": "Leads with explored columns",
            "baseConnectionId": self.base,
            "description": "columns copied from explore",
            "data": {"format": "tabular"},
            "params": {"tableName": "Leads", "columns": [
                {"name": "Email", "type": "string", "xdm": {"type": "string"}},
                {"name": "Modified_Time", "type": "string", "meta:xdmType": "date-time", "xdm": {"type": "string", "format": "date-time"}},
            ]},
            "connectionSpec": {"id": ZOHO_SPEC, "version": "1.0"},
        });
        vec![
            (Kind::Connection, base_connection_body("helper form", &url)),
            (Kind::Connection, with_access_token),
            (Kind::Source, source_body(&self.base, "Deals", None)),
            (Kind::Source, explored_columns),
            (Kind::Target, target_body(SEED_DATASET)),
            (
                Kind::Target,
                json!({"data": {"format": "parquet"}, "params": {"dataSetId": SEED_DATASET}, "connectionSpec": {"id": DATA_LAKE_SPEC}}),
            ),
            (
                Kind::Flow,
                flow_body(source, target, mapping, hourly(1_900_000_000)),
            ),
            (Kind::Flow, docs_flow),
            (Kind::Flow, spec_flow),
            (Kind::Flow, once),
            (Kind::Flow, with_options),
            (Kind::Dataset, dataset_body("Zoho Leads")),
            (Kind::Dataset, profile_dataset),
            (Kind::Dataset, notext_dataset),
            (Kind::MappingSet, named_mapping),
            (Kind::MappingSet, legacy_mapping),
            (
                Kind::MappingSet,
                json!({"outputSchema": {"schemaRef": {"id": SCHEMA, "contentType": "application/vnd.adobe.xed-full+json;version=1"}}, "mappings": [
                    {"sourceType": "EXPRESSION", "source": "concat(First_Name, \" \", Last_Name)", "destination": "person.name.fullName"},
                    {"sourceType": "STATIC", "source": "zoho", "destination": "_acme.zoho.Lead_Source"},
                ]}),
            ),
            (
                Kind::FlowPatch,
                json!([{"op": "replace", "path": "/name", "value": "renamed"}, {"op": "replace", "path": "/scheduleParams/frequency", "value": "day"}]),
            ),
            (
                Kind::FlowPatch,
                json!([{"op": "ADD", "path": "/description", "value": "the spec's upper-case op"}]),
            ),
            (
                Kind::FlowPatch,
                json!([{"op": "replace", "path": "/transformations/1", "value": {"name": "Mapping", "params": {"mappingId": mapping, "mappingVersion": 0}}}]),
            ),
            (
                Kind::ConnectionPatch,
                json!([{"op": "replace", "path": "/auth/params", "value": {
                    "endpoint": url, "accountsUrl": url, "clientId": ZOHO_CLIENT_ID, "clientSecret": ZOHO_SECRET, "refreshToken": ZOHO_REFRESH,
                }}]),
            ),
            (
                Kind::ConnectionPatch,
                json!([{"op": "replace", "path": "/description", "value": "rotated tokens"}]),
            ),
        ]
    }
}

#[test]
fn documented_forms_are_accepted_and_conform_to_the_spec_or_to_section_13() {
    let Some(dir) = specs_dir() else {
        return;
    };
    let schemas = Schemas::load(&dir);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let fixture = Fixture::new().await;
        for (kind, body) in fixture.documented_forms() {
            let response = fixture.send(kind, &body).await;
            let response = response.unwrap_or_else(|| {
                panic!("the emulator refused the documented {kind:?} form {body}")
            });
            schemas
                .conforms(kind, &body)
                .unwrap_or_else(|e| panic!("{e}"));
            match kind {
                Kind::Connection | Kind::Source | Kind::Target | Kind::Flow => {
                    assert!(
                        schemas.create_response.is_valid(&response),
                        "{kind:?} response {response}"
                    );
                }
                Kind::Dataset => {
                    assert!(schemas.dataset_response.is_valid(&response), "{response}")
                }
                _ => {}
            }
        }
        // The bodies the support helpers (and so the other tests) send conform too.
        let helper_bodies = [
            (
                Kind::Connection,
                base_connection_body("x", "http://127.0.0.1:1"),
            ),
            (Kind::Source, source_body("b", "Leads", Some(&["Email"]))),
            (Kind::Target, target_body(SEED_DATASET)),
            (Kind::Flow, flow_body("s", "t", "m", hourly(1))),
            (Kind::Dataset, dataset_body("d")),
            (Kind::MappingSet, mapping_body(&["Email"])),
        ];
        for (kind, body) in helper_bodies {
            schemas
                .conforms(kind, &body)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        // And the check has teeth: a spec violation that docs/aep-api.md#disagreements does not excuse is caught.
        let mut wrong = flow_body("s", "t", "m", hourly(1));
        wrong["flowSpec"] = json!("CRMToAEP");
        assert!(schemas.conforms(Kind::Flow, &wrong).is_err());
        assert!(schemas
            .conforms(
                Kind::MappingSet,
                &json!({"mappings": [{"sourceType": "attribute"}]})
            )
            .is_err());
        assert!(schemas
            .conforms(
                Kind::ConnectionPatch,
                &json!({"op": "replace", "path": "/name", "value": {}})
            )
            .is_err());
    });
}

#[derive(Debug, Clone)]
enum Mutation {
    Remove,
    Replace(Value),
    Stringify,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => Just(Mutation::Remove),
        2 => Just(Mutation::Stringify),
        1 => Just(Mutation::Replace(Value::Null)),
        1 => Just(Mutation::Replace(json!(0))),
        1 => Just(Mutation::Replace(json!(15))),
        1 => Just(Mutation::Replace(json!(""))),
        1 => Just(Mutation::Replace(json!("x"))),
        1 => Just(Mutation::Replace(json!(true))),
        1 => Just(Mutation::Replace(json!([]))),
        1 => Just(Mutation::Replace(json!({}))),
        1 => Just(Mutation::Replace(json!(["x"]))),
    ]
}

/// JSON pointers to every value below the root.
fn pointers(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = format!("{prefix}/{}", key.replace('~', "~0").replace('/', "~1"));
                out.push(path.clone());
                pointers(child, &path, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let path = format!("{prefix}/{i}");
                out.push(path.clone());
                pointers(child, &path, out);
            }
        }
        _ => {}
    }
}

fn apply(body: &Value, index: prop::sample::Index, mutation: &Mutation) -> Value {
    let mut body = body.clone();
    let mut paths = Vec::new();
    pointers(&body, "", &mut paths);
    if paths.is_empty() {
        return body;
    }
    let path = index.get(&paths).clone();
    let (parent, last) = path.rsplit_once('/').unwrap_or(("", &path));
    let last = last.replace("~1", "/").replace("~0", "~");
    match mutation {
        Mutation::Remove => match body.pointer_mut(parent) {
            Some(Value::Object(map)) => {
                map.remove(&last);
            }
            Some(Value::Array(items)) => {
                if let Ok(i) = last.parse::<usize>() {
                    if i < items.len() {
                        items.remove(i);
                    }
                }
            }
            _ => {}
        },
        Mutation::Replace(value) => {
            if let Some(target) = body.pointer_mut(&path) {
                *target = value.clone();
            }
        }
        Mutation::Stringify => {
            if let Some(target) = body.pointer_mut(&path) {
                let flipped = match &*target {
                    Value::String(s) => s
                        .parse::<i64>()
                        .map(|n| json!(n))
                        .unwrap_or_else(|_| json!(s.len())),
                    other => json!(other.to_string()),
                };
                *target = flipped;
            }
        }
    }
    body
}

#[test]
fn mutated_bodies_the_emulator_accepts_still_conform() {
    let Some(dir) = specs_dir() else {
        return;
    };
    let schemas = Arc::new(Schemas::load(&dir));
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let fixture = runtime.block_on(Fixture::new());
    let seeds = fixture.documented_forms();
    // The runner takes an `Fn`; the counts live in cells.
    let accepted = std::cell::RefCell::new(vec![0_usize; seeds.len()]);
    let refused = std::cell::Cell::new(0_usize);
    let mut runner = TestRunner::new(Config {
        cases: 1500,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        0..seeds.len(),
        prop::collection::vec((any::<prop::sample::Index>(), mutation()), 1..=3),
    );
    let outcome = runner.run(&strategy, |(seed, mutations)| {
        let (kind, base) = &seeds[seed];
        let body = mutations
            .iter()
            .fold(base.clone(), |body, (index, m)| apply(&body, *index, m));
        match runtime.block_on(fixture.send(*kind, &body)) {
            Some(_) => {
                accepted.borrow_mut()[seed] += 1;
                schemas
                    .conforms(*kind, &body)
                    .map_err(TestCaseError::fail)?;
            }
            None => refused.set(refused.get() + 1),
        }
        Ok(())
    });
    if let Err(error) = outcome {
        panic!("{error}");
    }
    // Both outcomes happened, so the property was exercised on accepted bodies.
    let (accepted, refused) = (accepted.into_inner(), refused.get());
    assert!(refused > 50, "refused {refused}");
    assert!(accepted.iter().sum::<usize>() > 50, "accepted {accepted:?}");
}
