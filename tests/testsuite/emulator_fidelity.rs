//! Fidelity of the emulator to the live services, driven the way other clients drive it (issue
//! 17): Adobe's tutorial requests sent as written over a raw TCP socket (raw `"`, `<`, `>` in the
//! request line, as curl sends them), the documented filters that must select something, the
//! lenient forms the spec and the docs allow, the shapes other clients read, and the run actions
//! (on-demand runs, retries, enable/disable).

use crate::support;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// An answer read off the socket.
struct Raw {
    status: u16,
    body: Value,
}

/// Sends `method target` exactly as written (no encoding) with the five platform headers, and
/// reads the answer until the server closes the connection.
async fn raw(env: &Env, method: &str, target: &str, body: Option<&Value>) -> Raw {
    let mut stream = tokio::net::TcpStream::connect(env.emulator.addr())
        .await
        .expect("the emulator accepts connections");
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nx-api-key: {CLIENT_ID}\r\nx-gw-ims-org-id: {ORG}\r\nx-sandbox-name: prod\r\nConnection: close\r\n",
        env.emulator.addr(),
        env.token
    );
    if !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream
        .write_all(format!("{head}{body}").as_bytes())
        .await
        .expect("the request is sent");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the emulator answers within 10 s")
        .expect("the answer is read");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| serde_json::from_str(b).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    Raw { status, body }
}

fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect()
}

/// A pipeline whose mapping reads a column Leads lacks, so each run fails (`MAPPER-3700-400`).
async fn failing_pipeline(env: &Env) -> Pipeline {
    let start = env.emulator.now_ms() / 1000;
    env.pipeline("Leads", &["Email", "Deal_Name"], hourly(start))
        .await
}

async fn runs_of(env: &Env, flow: &str) -> Vec<Value> {
    env.list_all(&format!(
        "{FS}/runs?property=flowId=={flow}&orderby=createdAt"
    ))
    .await
    .0
}

// Finding 2: raw quotes and angle brackets in the request line.

#[tokio::test]
async fn the_crm_tutorial_runs_as_written_over_a_raw_socket() {
    let env = Env::start().await;
    let url = env.emulator.url();

    // The flow spec lookup, with the quotes the tutorial writes.
    let spec = raw(
        &env,
        "GET",
        &format!("{FS}/flowSpecs?property=name==\"CRMToAEP\""),
        None,
    )
    .await;
    assert_eq!(spec.status, 200, "{}", spec.body);
    assert_eq!(ids(&spec.body["items"]), [CRM_FLOW_SPEC]);
    let logged = env.emulator.requests();
    let lookup = logged
        .iter()
        .find(|r| r.path.ends_with("/flowSpecs"))
        .expect("the quoted request is logged like any other");
    assert_eq!(lookup.status, 200);
    assert!(
        lookup
            .query
            .as_deref()
            .unwrap_or_default()
            .contains("CRMToAEP"),
        "{:?}",
        lookup.query
    );

    // Base connection, explore, source, dataset, target, mapping, flow: every call raw.
    let base = raw(
        &env,
        "POST",
        &format!("{FS}/connections"),
        Some(&base_connection_body("Zoho CRM base connection", &url)),
    )
    .await;
    assert_eq!(base.status, 201, "{}", base.body);
    let base = base.body["id"].as_str().unwrap_or_default().to_owned();
    let root = raw(
        &env,
        "GET",
        &format!("{FS}/connections/{base}/explore?objectType=root"),
        None,
    )
    .await;
    assert_eq!(root.status, 200);
    assert!(root.body.as_array().is_some_and(|t| !t.is_empty()));
    let source = raw(
        &env,
        "POST",
        &format!("{FS}/sourceConnections"),
        Some(&source_body(&base, "Leads", None)),
    )
    .await;
    assert_eq!(source.status, 201, "{}", source.body);
    let dataset = raw(
        &env,
        "POST",
        &format!("{CATALOG}/dataSets?requestDataSource=true"),
        Some(&dataset_body("ACME Target Dataset")),
    )
    .await;
    assert_eq!(dataset.status, 201, "{}", dataset.body);
    let dataset_id = dataset.body[0]
        .as_str()
        .and_then(|s| s.strip_prefix("@/dataSets/"))
        .unwrap_or_default()
        .to_owned();
    let target = raw(
        &env,
        "POST",
        &format!("{FS}/targetConnections"),
        Some(&target_body(&dataset_id)),
    )
    .await;
    assert_eq!(target.status, 201, "{}", target.body);
    let mapping = raw(
        &env,
        "POST",
        &format!("{PREP}/mappingSets"),
        Some(&mapping_body(&["Email"])),
    )
    .await;
    assert_eq!(mapping.status, 200, "{}", mapping.body);
    let mut flow = flow_body(
        source.body["id"].as_str().unwrap_or_default(),
        target.body["id"].as_str().unwrap_or_default(),
        mapping.body["id"].as_str().unwrap_or_default(),
        json!({"startTime": "1612310466", "frequency": "minute", "interval": "15", "backfill": "true"}),
    );
    flow["name"] = json!("CRM dataflow");
    let flow = raw(&env, "POST", &format!("{FS}/flows"), Some(&flow)).await;
    assert_eq!(flow.status, 201, "{}", flow.body);
    let flow_id = flow.body["id"].as_str().unwrap_or_default().to_owned();

    // Lookups with raw quotes find what was created.
    let by_name = raw(
        &env,
        "GET",
        &format!("{FS}/flows?property=name==\"CRM%20dataflow\""),
        None,
    )
    .await;
    assert_eq!(by_name.status, 200, "{}", by_name.body);
    assert_eq!(ids(&by_name.body["items"]), [flow_id.as_str()]);
    let dataset_by_name = raw(
        &env,
        "GET",
        &format!("{CATALOG}/dataSets?property=name==\"ACME%20Target%20Dataset\""),
        None,
    )
    .await;
    assert_eq!(dataset_by_name.status, 200, "{}", dataset_by_name.body);
    assert_eq!(
        dataset_by_name
            .body
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec![dataset_id])
    );
}

#[tokio::test]
async fn raw_angle_brackets_in_run_windows_and_catalog_versions_are_accepted() {
    let env = Env::start().await;
    let p = failing_pipeline(&env).await;
    env.emulator.advance_clock(HOUR + 10 * MINUTE);
    let now = env.emulator.now_ms();
    let window = raw(
        &env,
        "GET",
        &format!(
            "{FS}/runs?property=flowId=={}&property=metrics.durationSummary.startedAtUTC>{}&property=metrics.durationSummary.startedAtUTC<{}",
            p.flow,
            now - 2 * 3_600_000,
            now
        ),
        None,
    )
    .await;
    assert_eq!(window.status, 200, "{}", window.body);
    assert_eq!(
        ids(&window.body["items"]).len(),
        runs_of(&env, &p.flow).await.len()
    );
    let newer = raw(
        &env,
        "GET",
        &format!("{CATALOG}/dataSets?property=version>1.0.3"),
        None,
    )
    .await;
    assert_eq!(newer.status, 200, "{}", newer.body);
    assert_eq!(newer.body, json!({}), "every dataset is at version 1.0.0");
    let older = raw(
        &env,
        "GET",
        &format!("{CATALOG}/dataSets?property=version<1.0.3"),
        None,
    )
    .await;
    assert_eq!(older.status, 200);
    assert!(older.body.get(SEED_DATASET).is_some(), "{}", older.body);
}

// Finding 1: filters that must select something.

#[tokio::test]
async fn the_documented_source_and_destination_flow_filters_select() {
    let env = Env::start().await;
    let p = failing_pipeline(&env).await;
    let sources = env
        .get(&format!(
            "{FS}/flows?property=inheritedAttributes.properties.isSourceFlow==true"
        ))
        .await;
    assert_eq!(sources.code(), 200);
    assert_eq!(ids(&sources.body["items"]), [p.flow]);
    let destinations = env
        .get(&format!(
            "{FS}/flows?property=inheritedAttributes.properties.isDestinationFlow==true"
        ))
        .await;
    assert_eq!(destinations.code(), 200);
    assert_eq!(destinations.body["items"], json!([]));
}

#[tokio::test]
async fn run_status_filters_match_the_docs_capitalized_values() {
    let env = Env::start().await;
    let p = failing_pipeline(&env).await;
    env.emulator.advance_clock(10 * MINUTE);
    let runs = runs_of(&env, &p.flow).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["metrics"]["statusSummary"]["status"], "failed");
    // sort-and-filter.md's own example value is capitalized.
    let failed = env
        .get(&format!(
            "{FS}/runs?property=flowId=={}&property=metrics.statusSummary.status==Failed",
            p.flow
        ))
        .await;
    assert_eq!(ids(&failed.body["items"]), ids(&json!(runs)));
    let by_state = env
        .get(&format!(
            "{FS}/runs?property=flowId=={}&property=state==FAILED",
            p.flow
        ))
        .await;
    assert_eq!(ids(&by_state.body["items"]).len(), 1);
    let success = env
        .get(&format!(
            "{FS}/runs?property=flowId=={}&property=metrics.statusSummary.status==Success",
            p.flow
        ))
        .await;
    assert_eq!(success.body["items"], json!([]));
    // Names still compare exactly.
    let flow_name = env
        .get(&format!("{FS}/flows?property=name==ZOHO%20FLOW"))
        .await;
    assert_eq!(flow_name.body["items"], json!([]));
}

#[tokio::test]
async fn catalog_filters_by_tags_creation_time_and_quoted_names() {
    let env = Env::start().await;
    let mut tagged = dataset_body("tagged");
    tagged["tags"] = json!({"sampleTag": ["123456"], "secondTag": ["anything"]});
    let tagged = env.create(&format!("{CATALOG}/dataSets"), &tagged).await;
    let mut other = dataset_body("other");
    other["tags"] = json!({"sampleTag": ["654321"]});
    env.emulator.advance_clock(Duration::from_secs(5));
    let cutoff = env.emulator.now_ms();
    env.emulator.advance_clock(Duration::from_secs(5));
    let other = env.create(&format!("{CATALOG}/dataSets"), &other).await;
    let keys = |body: &Value| {
        let mut keys: Vec<String> = body
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    };

    let both_tags = env
        .get(&format!(
            "{CATALOG}/dataSets?tags=sampleTag:123456,secondTag:*"
        ))
        .await;
    assert_eq!(both_tags.code(), 200);
    assert_eq!(keys(&both_tags.body), [tagged.as_str()]);
    let wildcard = env
        .get(&format!("{CATALOG}/dataSets?tags=sampleTag:*"))
        .await;
    let mut expected = vec![tagged.clone(), other.clone()];
    expected.sort();
    assert_eq!(keys(&wildcard.body), expected);

    let after = env
        .get(&format!("{CATALOG}/dataSets?createdAfter={cutoff}"))
        .await;
    assert_eq!(keys(&after.body), [other.as_str()]);
    let before = env
        .get(&format!("{CATALOG}/dataSets?createdBefore={cutoff}"))
        .await;
    assert!(!keys(&before.body).contains(&other), "{}", before.body);
    assert!(keys(&before.body).contains(&tagged));

    let quoted = env
        .get(&format!("{CATALOG}/dataSets?property=name==%22tagged%22"))
        .await;
    assert_eq!(keys(&quoted.body), [tagged]);
}

// Finding 3: no stricter than documented.

#[tokio::test]
async fn what_the_spec_leaves_optional_is_optional() {
    let env = Env::start().await;
    // connectionSpec.version "will default to the most recent version".
    let mut body = base_connection_body("no version", &env.emulator.url());
    body["connectionSpec"] = json!({"id": ZOHO_SPEC});
    let created = env.post(&format!("{FS}/connections"), &body).await;
    assert_eq!(created.code(), 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap_or_default().to_owned();
    let path = format!("{FS}/connections/{id}");
    let got = env.get(&path).await;
    assert_eq!(
        got.body["items"][0]["connectionSpec"],
        json!({"id": ZOHO_SPEC, "version": "1.0"})
    );

    // flow-service.yaml's PATCH body: one PatchInstruction object.
    let etag = got.body["items"][0]["etag"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let patched = env
        .patch(
            &path,
            &etag,
            &json!({"op": "replace", "path": "/name", "value": "renamed"}),
        )
        .await;
    assert_eq!(patched.code(), 200, "{}", patched.body);
    assert_eq!(env.get(&path).await.body["items"][0]["name"], "renamed");

    // Mapping set lists: `start` (default 0) and `limit` (default 10) may be left out.
    let mapping = env.mapping_set(&["Email"]).await;
    for query in ["", "?limit=50", "?start=0"] {
        let listed = env.get(&format!("{PREP}/mappingSets{query}")).await;
        assert_eq!(listed.code(), 200, "{query}: {}", listed.body);
        assert_eq!(ids(&listed.body["data"]), [mapping.as_str()], "{query}");
    }

    // Catalog documents limit 1 to 100 and a 400 outlining the range otherwise.
    assert_eq!(
        env.get(&format!("{CATALOG}/dataSets?limit=100"))
            .await
            .code(),
        200
    );
    let over = env.get(&format!("{CATALOG}/dataSets?limit=101")).await;
    assert_eq!(over.code(), 400);
    assert!(over.body.to_string().contains("100"), "{}", over.body);
}

// Finding 4: shapes other clients read.

#[tokio::test]
async fn datasets_carry_classification_and_system_tags() {
    let env = Env::start().await;
    env.dataset("ACME Target Dataset").await;
    let listed = env.get(&format!("{CATALOG}/dataSets?limit=100")).await;
    let datasets = listed.body.as_object().cloned().unwrap_or_default();
    assert_eq!(datasets.len(), 2);
    for (id, dataset) in &datasets {
        // What aepp's getDataSets reads without a fallback.
        assert!(
            dataset["classification"]["dataBehavior"].is_string(),
            "{id}: {dataset}"
        );
        assert!(dataset["tags"]["adobe/pqs/table"][0].is_string(), "{id}");
    }
    let created = datasets
        .values()
        .find(|d| d["name"] == "ACME Target Dataset")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        created["tags"]["adobe/pqs/table"],
        json!(["acme_target_dataset"])
    );
    assert_eq!(created["classification"]["managedBy"], "CUSTOMER");
}

#[tokio::test]
async fn schedule_params_come_back_as_sent() {
    let env = Env::start().await;
    let start = env.emulator.now_ms() / 1000 + 86_400;
    let p = env.pipeline("Leads", &["Email"], hourly(start)).await;
    let flow = env.get(&format!("{FS}/flows/{}", p.flow)).await;
    assert_eq!(
        flow.body["items"][0]["scheduleParams"],
        json!({"startTime": start, "frequency": "hour", "interval": 1, "backfill": true})
    );
}

// Finding 5: on-demand runs, retries, enable/disable.

async fn once_pipeline(env: &Env, start_s: i64) -> Pipeline {
    env.pipeline(
        "Leads",
        &["Email"],
        json!({"startTime": start_s, "frequency": "once"}),
    )
    .await
}

#[tokio::test]
async fn an_on_demand_run_of_a_once_flow_runs_as_the_tutorial_shows() {
    let env = Env::start().await;
    let now_s = env.emulator.now_ms() / 1000;
    let p = once_pipeline(&env, now_s + 86_400).await;
    assert!(runs_of(&env, &p.flow).await.is_empty());

    // The tutorial's body: strings, an 11-digit window end, the flow's own delta column.
    let body = json!({
        "flowId": p.flow,
        "params": {
            "startTime": now_s.to_string(),
            "windowStartTime": "1651584991",
            "windowEndTime": "16515859567",
            "deltaColumn": {"name": "Modified_Time"},
        },
    });
    let created = env.post(&format!("{FS}/runs"), &body).await;
    assert_eq!(created.code(), 201, "{}", created.body);
    let item = &created.body["items"][0];
    let run_id = item["id"].as_str().unwrap_or_default().to_owned();
    assert!(item["etag"].as_str().is_some_and(|e| e.starts_with('"')));
    let run = env.get(&format!("{FS}/runs/{run_id}")).await;
    assert_eq!(run.code(), 200);
    assert_eq!(run.body["items"][0]["flowId"], p.flow.as_str());
    env.emulator.advance_clock(10 * MINUTE);
    let run = env.get(&format!("{FS}/runs/{run_id}")).await;
    assert_eq!(
        run.body["items"][0]["metrics"]["statusSummary"]["status"],
        "success"
    );
    assert!(
        run.body["items"][0]["metrics"]["recordSummary"]["outputRecordCount"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );

    // The docs' `POST /runs/` form, integers, no delta column: the flow's is used.
    let again = env
        .post(
            &format!("{FS}/runs/"),
            &json!({"flowId": p.flow, "params": {"startTime": now_s, "windowStartTime": 0, "windowEndTime": now_s}}),
        )
        .await;
    assert_eq!(again.code(), 201, "{}", again.body);
    assert_eq!(runs_of(&env, &p.flow).await.len(), 2);

    // A different delta column is refused, as is a flow not scheduled once or a missing one.
    let mut other_delta = body.clone();
    other_delta["params"]["deltaColumn"] = json!({"name": "DOB"});
    assert_eq!(
        env.post(&format!("{FS}/runs"), &other_delta).await.code(),
        400
    );
    let hourly_flow = env.pipeline("Contacts", &["Email"], hourly(now_s)).await;
    let mut not_once = body.clone();
    not_once["flowId"] = json!(hourly_flow.flow);
    assert_eq!(env.post(&format!("{FS}/runs"), &not_once).await.code(), 400);
    let mut missing = body.clone();
    missing["flowId"] = json!("00000000-0000-0000-0000-000000000000");
    assert_eq!(env.post(&format!("{FS}/runs"), &missing).await.code(), 400);
    let mut no_window = body;
    if let Some(params) = no_window["params"].as_object_mut() {
        params.remove("windowEndTime");
    }
    assert_eq!(
        env.post(&format!("{FS}/runs"), &no_window).await.code(),
        400
    );
}

#[tokio::test]
async fn a_failed_run_is_retried_as_a_new_run() {
    let env = Env::start().await;
    let p = failing_pipeline(&env).await;
    env.emulator.advance_clock(10 * MINUTE);
    let failed = runs_of(&env, &p.flow).await;
    assert_eq!(failed.len(), 1);
    let failed_id = failed[0]["id"].as_str().unwrap_or_default().to_owned();

    let retried = env
        .post(
            &format!("{FS}/runs/{failed_id}/action?op=re-trigger"),
            &json!({}),
        )
        .await;
    assert_eq!(retried.code(), 200, "{}", retried.body);
    let new_id = retried.body["id"].as_str().unwrap_or_default().to_owned();
    assert!(!new_id.is_empty() && new_id != failed_id);
    assert!(retried.body["etag"].is_string());
    let runs = runs_of(&env, &p.flow).await;
    assert_eq!(runs.len(), 2);
    assert!(ids(&json!(runs)).contains(&new_id));
    let new_run = env.get(&format!("{FS}/runs/{new_id}")).await;
    assert_eq!(new_run.body["items"][0]["flowId"], p.flow.as_str());

    // A run still in progress, or a successful one with records, is not retried.
    let in_progress = env
        .post(
            &format!("{FS}/runs/{new_id}/action?op=re-trigger"),
            &json!({}),
        )
        .await;
    assert_eq!(in_progress.code(), 400);
    let ok = env
        .pipeline("Contacts", &["Email"], hourly(env.emulator.now_ms() / 1000))
        .await;
    env.emulator.advance_clock(10 * MINUTE);
    let succeeded = runs_of(&env, &ok.flow).await;
    let succeeded_id = succeeded[0]["id"].as_str().unwrap_or_default();
    assert_eq!(
        succeeded[0]["metrics"]["statusSummary"]["status"],
        "success"
    );
    let refused = env
        .post(
            &format!("{FS}/runs/{succeeded_id}/action?op=re-trigger"),
            &json!({}),
        )
        .await;
    assert_eq!(refused.code(), 400);
    let unknown = env
        .post(
            &format!("{FS}/runs/00000000-0000-0000-0000-000000000000/action?op=re-trigger"),
            &json!({}),
        )
        .await;
    assert_eq!(unknown.code(), 404);
    // The spec's spelling of the op.
    let spec_form = env
        .post(
            &format!("{FS}/runs/{failed_id}/action?op=RE_TRIGGER"),
            &json!({}),
        )
        .await;
    assert_eq!(spec_form.code(), 200, "{}", spec_form.body);
}

#[tokio::test]
async fn flows_are_disabled_and_enabled_by_action() {
    let env = Env::start().await;
    let p = env
        .pipeline("Leads", &["Email"], hourly(env.emulator.now_ms() / 1000))
        .await;
    let path = format!("{FS}/flows/{}", p.flow);
    let etag = env.get(&path).await.body["items"][0]["etag"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let disabled = env
        .send(env.adobe(reqwest::Method::POST, &format!("{path}/action?op=disable")))
        .await;
    assert_eq!(disabled.code(), 200, "{}", disabled.body);
    assert_eq!(disabled.body["id"], p.flow.as_str());
    assert_ne!(disabled.body["etag"], etag.as_str());
    assert_eq!(env.get(&path).await.body["items"][0]["state"], "disabled");
    let runs_before = runs_of(&env, &p.flow).await.len();
    env.emulator.advance_clock(3 * HOUR);
    assert_eq!(runs_of(&env, &p.flow).await.len(), runs_before);

    // An If-Match, optional in the spec, is checked when sent.
    let stale = env
        .send(
            env.adobe(reqwest::Method::POST, &format!("{path}/action?op=ENABLE"))
                .header("If-Match", &etag),
        )
        .await;
    assert_eq!(stale.code(), 412, "{}", stale.body);
    let enabled = env
        .send(env.adobe(reqwest::Method::POST, &format!("{path}/action?op=ENABLE")))
        .await;
    assert_eq!(enabled.code(), 200);
    assert_eq!(env.get(&path).await.body["items"][0]["state"], "enabled");
}
