//! Flow Service: specs, connections (create, get, list, PATCH with If-Match, delete), explore,
//! source and target connections, flows, references and dependency rules, filters and paging.

use crate::support;

use provision::emulator::{EmulatorConfig, Faults, ZohoSpec};
use reqwest::Method;
use serde_json::{json, Value};
use support::*;

fn etag_of(reply: &Reply) -> String {
    reply.body["etag"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_zoho_spec_and_crm_flow_spec_are_served() {
    let env = Env::start().await;
    let spec = env.get(&format!("{FS}/connectionSpecs/{ZOHO_SPEC}")).await;
    assert_eq!(spec.code(), 200);
    let item = &spec.body["items"][0];
    assert_eq!(item["id"], ZOHO_SPEC);
    assert_eq!(item["version"], "1.0");
    let auth = &item["authSpec"][0];
    assert_eq!(auth["name"], "Basic Authentication");
    let required: Vec<&str> = auth["spec"]["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for param in [
        "endpoint",
        "accountsUrl",
        "clientId",
        "clientSecret",
        "refreshToken",
    ] {
        assert!(required.contains(&param), "{param} required");
    }
    assert!(auth["spec"]["properties"]["accessToken"].is_object());

    let by_filter = env
        .get(&format!("{FS}/connectionSpecs?property=id=={ZOHO_SPEC}"))
        .await;
    assert_eq!(by_filter.body["items"].as_array().map(Vec::len), Some(1));
    let lake = env
        .get(&format!("{FS}/connectionSpecs/{DATA_LAKE_SPEC}"))
        .await;
    assert_eq!(lake.code(), 200);

    let flow_specs = env
        .get(&format!("{FS}/flowSpecs?property=name==%22CRMToAEP%22"))
        .await;
    let crm = &flow_specs.body["items"][0];
    assert_eq!(flow_specs.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(crm["id"], CRM_FLOW_SPEC);
    assert!(crm["sourceConnectionSpecIds"]
        .as_array()
        .is_some_and(|ids| ids.contains(&json!(ZOHO_SPEC))));
    assert_eq!(crm["targetConnectionSpecIds"], json!([DATA_LAKE_SPEC]));
    assert_eq!(
        crm["scheduleSpec"]["spec"]["properties"]["frequency"]["enum"],
        json!(["once", "minute", "hour", "day", "week"])
    );
    let transformations: Vec<&str> = crm["transformationSpecs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(transformations, ["Copy", "Mapping"]);
    assert!(crm["optionSpec"]["spec"]["properties"]["errorDiagnosticsEnabled"].is_object());
}

#[tokio::test]
async fn the_zoho_spec_can_be_unlisted_or_removed() {
    let env = Env::with(EmulatorConfig {
        faults: Faults {
            zoho_spec: ZohoSpec::Unlisted,
            ..Faults::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    assert_eq!(
        env.get(&format!("{FS}/connectionSpecs/{ZOHO_SPEC}"))
            .await
            .code(),
        200
    );
    let crm = env.get(&format!("{FS}/flowSpecs/{CRM_FLOW_SPEC}")).await;
    assert!(!crm.body["items"][0]["sourceConnectionSpecIds"]
        .as_array()
        .is_some_and(|ids| ids.contains(&json!(ZOHO_SPEC))));

    // A flow from a Zoho source is then refused.
    let base = env.base_connection("zoho").await;
    let source = env.source_connection(&base, "Leads", None).await;
    let target = env.target_connection(SEED_DATASET).await;
    let mapping = env.mapping_set(&["Email"]).await;
    let flow = env
        .post(
            &format!("{FS}/flows"),
            &flow_body(&source, &target, &mapping, hourly(1_900_000_000)),
        )
        .await;
    assert_eq!(flow.code(), 400);
    assert_eq!(flow.error_type(), "FLOW-1413-400");
    assert!(flow.body["report"]["detailed-message"]
        .as_str()
        .is_some_and(|m| m.contains(ZOHO_SPEC)));

    env.emulator.set_faults(Faults {
        zoho_spec: ZohoSpec::Removed,
        ..Faults::default()
    });
    let gone = env.get(&format!("{FS}/connectionSpecs/{ZOHO_SPEC}")).await;
    assert_eq!(
        (gone.code(), gone.error_type()),
        (404, "FLOW-1439-404".to_owned())
    );
    let listed = env
        .get(&format!("{FS}/connectionSpecs?property=id=={ZOHO_SPEC}"))
        .await;
    assert_eq!(listed.body["items"], json!([]));
    let create = env
        .post(
            &format!("{FS}/connections"),
            &base_connection_body("after", &env.emulator.url()),
        )
        .await;
    assert_eq!(
        (create.code(), create.error_type()),
        (400, "FLOW-1413-400".to_owned())
    );
    // Connections made before the withdrawal remain readable, secrets still masked.
    let existing = env.get(&format!("{FS}/connections/{base}")).await;
    assert_eq!(
        existing.body["items"][0]["auth"]["params"]["clientSecret"],
        "********"
    );
    let explore = env
        .get(&format!("{FS}/connections/{base}/explore?objectType=root"))
        .await;
    assert_eq!(explore.code(), 400);
}

#[tokio::test]
async fn base_connections_are_created_read_and_listed_without_unique_names() {
    let env = Env::start().await;
    let body = base_connection_body("zoho-crm-prod", &env.emulator.url());
    let created = env.post(&format!("{FS}/connections"), &body).await;
    assert_eq!(created.code(), 201);
    let id = created.body["id"].as_str().unwrap_or_default().to_owned();
    let etag = etag_of(&created);
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 30,
        "{etag}"
    );
    assert_eq!(
        created.header("location"),
        Some(format!("{FS}/connections/{id}"))
    );

    let got = env.get(&format!("{FS}/connections/{id}")).await;
    let item = &got.body["items"][0];
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["name"], "zoho-crm-prod");
    assert_eq!(item["state"], "enabled");
    assert_eq!(item["etag"], etag.as_str());
    assert_eq!(
        item["connectionSpec"],
        json!({"id": ZOHO_SPEC, "version": "1.0"})
    );
    assert_eq!(item["auth"]["params"]["clientId"], ZOHO_CLIENT_ID);
    assert_eq!(item["auth"]["params"]["clientSecret"], "********");
    assert_eq!(item["auth"]["params"]["refreshToken"], "********");
    assert!(item["createdAt"]
        .as_i64()
        .is_some_and(|ms| ms > 1_600_000_000_000));
    assert_eq!(item["imsOrgId"], ORG);
    assert_eq!(item["sandboxName"], "prod");

    // The live service does not enforce unique names (docs/aep-api.md#find-before-create).
    assert_eq!(
        env.post(&format!("{FS}/connections"), &body).await.code(),
        201
    );
    let named = env
        .get(&format!("{FS}/connections?property=name==zoho-crm-prod"))
        .await;
    assert_eq!(named.body["items"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn invalid_connection_bodies_are_refused_with_flow_errors() {
    let env = Env::start().await;
    let url = env.emulator.url();
    let path = format!("{FS}/connections");
    let mut no_spec = base_connection_body("x", &url);
    no_spec.as_object_mut().map(|b| b.remove("connectionSpec"));
    let reply = env.post(&path, &no_spec).await;
    assert_eq!(
        (reply.code(), reply.error_type()),
        (400, "FLOW-1402-400".to_owned())
    );
    assert!(reply.body["report"]["detailed-message"]
        .as_str()
        .is_some_and(|m| m.contains("connectionSpec")));

    let mut unknown_spec = base_connection_body("x", &url);
    unknown_spec["connectionSpec"]["id"] = json!("00000000-0000-0000-0000-000000000000");
    assert_eq!(
        env.post(&path, &unknown_spec).await.error_type(),
        "FLOW-1413-400"
    );

    let mut wrong_auth = base_connection_body("x", &url);
    wrong_auth["auth"]["specName"] = json!("OAuth 2 Refresh Code");
    let reply = env.post(&path, &wrong_auth).await;
    assert_eq!(reply.error_type(), "FLOW-1415-400");

    let mut missing_param = base_connection_body("x", &url);
    missing_param["auth"]["params"]
        .as_object_mut()
        .map(|p| p.remove("refreshToken"));
    let reply = env.post(&path, &missing_param).await;
    assert_eq!(reply.code(), 400);
    assert!(reply.body["report"]["detailed-message"]
        .as_str()
        .is_some_and(|m| m.contains("auth.params.refreshToken")));

    let not_json_object = env.post(&path, &json!([1, 2])).await;
    assert_eq!(not_json_object.code(), 400);
    let broken = env
        .send(
            env.adobe(Method::POST, &path)
                .header("content-type", "application/json")
                .body("{"),
        )
        .await;
    assert_eq!(broken.error_type(), "FLOW-1402-400");
    assert!(env.emulator.connections("prod").is_empty());
}

#[tokio::test]
async fn patch_needs_the_current_etag_and_changes_it() {
    let env = Env::start().await;
    let created = env
        .post(
            &format!("{FS}/connections"),
            &base_connection_body("old", &env.emulator.url()),
        )
        .await;
    let id = created.body["id"].as_str().unwrap_or_default().to_owned();
    let first = etag_of(&created);
    let path = format!("{FS}/connections/{id}");
    let rename = json!([{"op": "replace", "path": "/name", "value": "new"}]);

    let no_if_match = env
        .send(env.adobe(Method::PATCH, &path).json(&rename))
        .await;
    assert_eq!(
        (no_if_match.code(), no_if_match.error_type()),
        (400, "FLOW-1403-400".to_owned())
    );
    let stale = env
        .patch(&path, "\"00000000-0000-0200-0000-000000000000\"", &rename)
        .await;
    assert_eq!(
        (stale.code(), stale.error_type()),
        (412, "FLOW-1404-412".to_owned())
    );
    assert!(stale.body["errorMessage"]
        .as_str()
        .is_some_and(|m| m.starts_with("Supplied version=")));

    let ok = env.patch(&path, &first, &rename).await;
    assert_eq!(ok.code(), 200);
    assert_eq!(ok.body["id"], id.as_str());
    let second = etag_of(&ok);
    assert_ne!(second, first, "every write changes the etag");
    assert_eq!(env.get(&path).await.body["items"][0]["name"], "new");
    assert_eq!(
        env.patch(&path, &first, &rename).await.code(),
        412,
        "the old etag is stale now"
    );

    // Upper-case ops (the spec's enum), an unquoted etag (update.md) and the trailing-slash path.
    let rotate =
        json!([{"op": "REPLACE", "path": "/auth/params/refreshToken", "value": "1000.rotated"}]);
    let unquoted = second.trim_matches('"').to_owned();
    let ok = env.patch(&format!("{path}/"), &unquoted, &rotate).await;
    assert_eq!(ok.code(), 200, "{}", ok.body);

    let second_last = etag_of(&ok);
    // flow-service.yaml's form: one PatchInstruction object instead of an array (issue 17).
    let single_object = env
        .patch(
            &path,
            &second_last,
            &json!({"op": "replace", "path": "/name", "value": "x"}),
        )
        .await;
    assert_eq!(single_object.code(), 200, "{}", single_object.body);
    assert_eq!(env.get(&path).await.body["items"][0]["name"], "x");
    let third = etag_of(&single_object);
    let protected = env
        .patch(
            &path,
            &third,
            &json!([{"op": "replace", "path": "/connectionSpec/id", "value": "x"}]),
        )
        .await;
    assert_eq!(protected.code(), 400);
    let invalid_result = env
        .patch(
            &path,
            &third,
            &json!([{"op": "remove", "path": "/auth/params/clientId"}]),
        )
        .await;
    assert_eq!(
        invalid_result.code(),
        400,
        "the patched connection is validated again"
    );
    let missing = env
        .patch(&format!("{FS}/connections/nope"), &third, &rename)
        .await;
    assert_eq!(missing.error_type(), "FLOW-1439-404");
}

#[tokio::test]
async fn explore_lists_modules_columns_and_rows() {
    let env = Env::start().await;
    let base = env.base_connection("explore").await;
    let explore_path = |query: &str| format!("{FS}/connections/{base}/explore?{query}");

    let root = env.get(&explore_path("objectType=root")).await;
    let tables = root.body.as_array().cloned().unwrap_or_default();
    assert!(tables.len() >= 14, "{}", root.body);
    for table in &tables {
        assert_eq!(table["type"], "table");
        assert_eq!(table["name"], table["path"]);
        assert_eq!(table["canPreview"], true);
        assert_eq!(table["canFetchSchema"], true);
    }
    assert_eq!(
        env.get(&explore_path("objectType=ROOT"))
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(tables.len())
    );

    let deals = env
        .get(&explore_path("objectType=table&object=Deals"))
        .await;
    assert_eq!(deals.body["format"], "flat");
    let columns = deals.body["schema"]["columns"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let column = |name: &str| {
        columns
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        column("Amount"),
        json!({"name": "Amount", "type": "double", "xdm": {"type": "number"}})
    );
    assert_eq!(
        column("Closing_Date")["xdm"],
        json!({"type": "string", "format": "date"})
    );
    assert_eq!(
        column("Modified_Time"),
        json!({"name": "Modified_Time", "type": "string", "meta:xdmType": "date-time", "xdm": {"type": "string", "format": "date-time"}})
    );
    for name in [
        "id",
        "Owner",
        "Created_Time",
        "Deal_Name",
        "Stage",
        "Account_Name",
    ] {
        assert!(column(name).is_object(), "{name}");
    }
    assert!(
        deals.body.get("data").is_none(),
        "rows only with preview=true"
    );

    let preview = env
        .get(&explore_path("objectType=table&object=Leads&preview=true"))
        .await;
    let rows = preview.body["data"].as_array().cloned().unwrap_or_default();
    assert!((20..=50).contains(&rows.len()), "{} rows", rows.len());
    assert!(rows[0]["Email"].as_str().is_some_and(|e| e.contains('@')));
    assert!(rows[0]["Modified_Time"]
        .as_str()
        .is_some_and(|t| t.contains('T')));
    assert_eq!(
        env.get(&explore_path("objectType=table&object=Leads&preview=true"))
            .await
            .body["data"],
        json!(rows),
        "rows are stable"
    );

    assert_eq!(
        env.get(&explore_path("objectType=table&object=Nope"))
            .await
            .code(),
        404
    );
    assert_eq!(env.get(&explore_path("objectType=table")).await.code(), 400);
    assert_eq!(env.get(&explore_path("")).await.code(), 400);
    assert_eq!(
        env.get(&format!("{FS}/connections/{base}/test")).await.body,
        json!({"result": true})
    );

    // A base connection whose refresh token Zoho does not know cannot explore.
    let etag = env.get(&format!("{FS}/connections/{base}")).await.body["items"][0]["etag"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let rotate =
        json!([{"op": "replace", "path": "/auth/params/refreshToken", "value": "1000.revoked"}]);
    assert_eq!(
        env.patch(&format!("{FS}/connections/{base}"), &etag, &rotate)
            .await
            .code(),
        200
    );
    let refused = env.get(&explore_path("objectType=root")).await;
    assert_eq!(
        (refused.code(), refused.error_type()),
        (400, "FLOW-1406-400".to_owned())
    );
    assert!(refused.body["report"]["detailed-message"]
        .as_str()
        .is_some_and(|m| m.contains("invalid_code")));
}

#[tokio::test]
async fn source_and_target_connections_must_reference_existing_objects() {
    let env = Env::start().await;
    let path = format!("{FS}/sourceConnections");
    let missing_base = env
        .post(
            &path,
            &source_body("6990abad-977d-41b9-a85d-17ea8cf1c0e4", "Leads", None),
        )
        .await;
    assert_eq!(
        (missing_base.code(), missing_base.error_type()),
        (400, "FLOW-1405-400".to_owned())
    );

    let base = env.base_connection("base").await;
    let mut no_table = source_body(&base, "Leads", None);
    no_table["params"] = json!({});
    assert!(
        env.post(&path, &no_table).await.body["report"]["detailed-message"]
            .as_str()
            .is_some_and(|m| m.contains("tableName"))
    );
    let mut not_tabular = source_body(&base, "Leads", None);
    not_tabular["data"]["format"] = json!("delimited");
    assert_eq!(env.post(&path, &not_tabular).await.code(), 400);
    let mut no_name = source_body(&base, "Leads", None);
    no_name.as_object_mut().map(|b| b.remove("name"));
    assert_eq!(env.post(&path, &no_name).await.code(), 400);

    let source = env
        .source_connection(&base, "Leads", Some(&["Email", "Modified_Time"]))
        .await;
    let got = env.get(&format!("{path}/{source}")).await;
    let item = &got.body["items"][0];
    assert_eq!(item["baseConnectionId"], base.as_str());
    assert_eq!(item["params"]["tableName"], "Leads");
    assert_eq!(
        item["inheritedAttributes"]["baseConnection"]["id"],
        base.as_str()
    );
    assert_eq!(
        item["inheritedAttributes"]["baseConnection"]["connectionSpec"]["id"],
        ZOHO_SPEC
    );

    let targets = format!("{FS}/targetConnections");
    let unknown_dataset = env
        .post(&targets, &target_body("000000000000000000000000"))
        .await;
    assert_eq!(unknown_dataset.error_type(), "FLOW-1405-400");
    let mut other_schema = target_body(SEED_DATASET);
    other_schema["data"]["schema"]["id"] = json!("https://ns.adobe.com/acme/schemas/other");
    assert_eq!(
        env.post(&targets, &other_schema).await.error_type(),
        "FLOW-1425-400"
    );
    let mut not_a_target = target_body(SEED_DATASET);
    not_a_target["connectionSpec"]["id"] = json!(ZOHO_SPEC);
    assert_eq!(
        env.post(&targets, &not_a_target).await.error_type(),
        "FLOW-1413-400"
    );
    let target = env.target_connection(SEED_DATASET).await;
    assert_eq!(
        env.get(&format!("{targets}/{target}")).await.body["items"][0]["params"]["dataSetId"],
        SEED_DATASET
    );
}

#[tokio::test]
async fn flows_are_validated_against_the_flow_spec_and_their_references() {
    let env = Env::start().await;
    let base = env.base_connection("base").await;
    let source = env.source_connection(&base, "Leads", None).await;
    let target = env.target_connection(SEED_DATASET).await;
    let mapping = env.mapping_set(&["Email", "First_Name"]).await;
    let path = format!("{FS}/flows");
    let good = flow_body(&source, &target, &mapping, hourly(1_900_000_000));
    let refused = |mutate: &dyn Fn(&mut Value)| {
        let mut body = good.clone();
        mutate(&mut body);
        let env = &env;
        let path = path.clone();
        async move { env.post(&path, &body).await }
    };

    assert_eq!(
        refused(&|b| b["state"] = json!("enabled"))
            .await
            .error_type(),
        "FLOW-1410-400"
    );
    assert_eq!(
        refused(&|b| b["flowSpec"]["id"] = json!("9753525b-0000-0000-0000-000000000000"))
            .await
            .error_type(),
        "FLOW-1413-400"
    );
    // CloudStorageToAEP does not take CRM sources.
    assert_eq!(
        refused(&|b| b["flowSpec"]["id"] = json!("9753525b-82c7-4dce-8a9b-5ccfce2b9876"))
            .await
            .error_type(),
        "FLOW-1413-400"
    );
    assert_eq!(
        refused(&|b| {
            b.as_object_mut().map(|o| o.remove("flowSpec"));
        })
        .await
        .error_type(),
        "FLOW-1402-400"
    );
    assert_eq!(
        refused(&|b| b["sourceConnectionIds"] = json!(["nope"]))
            .await
            .error_type(),
        "FLOW-1405-400"
    );
    assert_eq!(
        refused(&|b| b["targetConnectionIds"] = json!([]))
            .await
            .error_type(),
        "FLOW-1402-400"
    );
    assert_eq!(
        refused(&|b| b["transformations"][1]["params"]["mappingId"] = json!("0123"))
            .await
            .error_type(),
        "FLOW-1405-400"
    );
    assert_eq!(
        refused(&|b| b["transformations"][1]["params"]["mappingVersion"] = json!("3"))
            .await
            .error_type(),
        "FLOW-1412-400"
    );
    assert_eq!(
        refused(&|b| b["transformations"][0]["params"] = json!({}))
            .await
            .error_type(),
        "FLOW-1402-400"
    );
    assert_eq!(
        refused(&|b| b["transformations"][0]["name"] = json!("Explode"))
            .await
            .error_type(),
        "FLOW-1402-400"
    );
    for schedule in [
        json!({"startTime": 1_900_000_000, "frequency": "minute", "interval": 5}),
        json!({"startTime": 1_900_000_000, "frequency": "hour", "interval": 0}),
        json!({"startTime": 1_900_000_000, "frequency": "hour"}),
        json!({"startTime": 1_900_000_000, "frequency": "once", "interval": 1}),
        json!({"startTime": 1_900_000_000, "frequency": "once", "backfill": true}),
        json!({"frequency": "day", "interval": 1}),
        json!({"startTime": 1_900_000_000, "frequency": "monthly", "interval": 1}),
    ] {
        let reply = refused(&|b| b["scheduleParams"] = schedule.clone()).await;
        assert_eq!(reply.error_type(), "FLOW-1402-400", "{schedule}");
    }
    // Another dataset of the same schema is a valid target for the same mapping.
    let dataset = env.dataset("other").await;
    let other_target = env.target_connection(&dataset).await;
    assert_eq!(
        refused(&|b| b["targetConnectionIds"] = json!([other_target]))
            .await
            .code(),
        201,
        "same schema is fine"
    );
    assert!(env.emulator.flows("prod").len() == 1);

    // Integers and strings are both accepted (docs/aep-api.md#disagreements #8-#10), and GET answers strings.
    let mut docs_form = good.clone();
    docs_form["scheduleParams"] = json!({"startTime": "1900000000", "frequency": "minute", "interval": "15", "backfill": "true"});
    docs_form["transformations"][1]["params"]["mappingVersion"] = json!(0);
    let created = env.post(&path, &docs_form).await;
    assert_eq!(created.code(), 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap_or_default().to_owned();
    let flow = env.get(&format!("{path}/{id}")).await.body["items"][0].clone();
    assert_eq!(
        flow["scheduleParams"],
        json!({"startTime": "1900000000", "frequency": "minute", "interval": "15", "backfill": "true"})
    );
    assert_eq!(flow["transformations"][1]["params"]["mappingVersion"], "0");
    assert_eq!(flow["state"], "enabled");
    assert_eq!(flow["flowSpec"]["id"], CRM_FLOW_SPEC);
    let inherited = &flow["inheritedAttributes"]["sourceConnections"][0];
    assert_eq!(inherited["id"], source.as_str());
    assert_eq!(inherited["baseConnection"]["id"], base.as_str());
    assert_eq!(
        flow["inheritedAttributes"]["targetConnections"][0]["id"],
        target.as_str()
    );
    assert!(
        flow.get("lastRunDetails").is_none(),
        "no run before the start time"
    );

    // PATCH: schedule change with If-Match; startTime may change only before it has passed.
    let etag = flow["etag"].as_str().unwrap_or_default().to_owned();
    let daily = json!([{"op": "replace", "path": "/scheduleParams/frequency", "value": "day"}, {"op": "replace", "path": "/scheduleParams/interval", "value": 1}]);
    let patched = env.patch(&format!("{path}/{id}"), &etag, &daily).await;
    assert_eq!(patched.code(), 200, "{}", patched.body);
    let after = env.get(&format!("{path}/{id}")).await.body["items"][0].clone();
    assert_eq!(after["scheduleParams"]["frequency"], "day");
    assert_ne!(after["etag"], json!(etag));
    let bad = env
        .patch(
            &format!("{path}/{id}"),
            after["etag"].as_str().unwrap_or_default(),
            &json!([{"op": "replace", "path": "/scheduleParams/interval", "value": 0}]),
        )
        .await;
    assert_eq!(bad.code(), 400);

    let started = env
        .create(
            &path,
            &flow_body(&source, &target, &mapping, hourly(1_600_000_000)),
        )
        .await;
    let etag = env.get(&format!("{path}/{started}")).await.body["items"][0]["etag"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let move_start =
        json!([{"op": "replace", "path": "/scheduleParams/startTime", "value": 1_950_000_000}]);
    let refused_start = env
        .patch(&format!("{path}/{started}"), &etag, &move_start)
        .await;
    assert_eq!(refused_start.code(), 400);
    assert!(refused_start.body["report"]["detailed-message"]
        .as_str()
        .is_some_and(|m| m.contains("startTime")));
}

#[tokio::test]
async fn deletes_follow_the_dependency_rules() {
    let env = Env::start().await;
    let p = env
        .pipeline("Contacts", &["Email"], hourly(1_900_000_000))
        .await;
    let base_delete = env.delete(&format!("{FS}/connections/{}", p.base)).await;
    assert_eq!(
        (base_delete.code(), base_delete.error_type()),
        (400, "FLOW-1418-400".to_owned())
    );
    let source_delete = env
        .delete(&format!("{FS}/sourceConnections/{}", p.source))
        .await;
    assert_eq!(source_delete.error_type(), "FLOW-1447-400");
    assert!(source_delete.body["report"]["detailed-message"]
        .as_str()
        .is_some_and(|m| m.contains(&p.flow)));
    assert_eq!(
        env.delete(&format!("{FS}/targetConnections/{}", p.target))
            .await
            .error_type(),
        "FLOW-1447-400"
    );

    let flow_delete = env.delete(&format!("{FS}/flows/{}", p.flow)).await;
    assert_eq!(flow_delete.code(), 204);
    assert_eq!(flow_delete.body, Value::Null);
    assert_eq!(env.get(&format!("{FS}/flows/{}", p.flow)).await.code(), 404);
    assert_eq!(
        env.delete(&format!("{FS}/flows/{}", p.flow)).await.code(),
        404
    );
    assert_eq!(
        env.delete(&format!("{FS}/sourceConnections/{}", p.source))
            .await
            .code(),
        204
    );
    assert_eq!(
        env.delete(&format!("{FS}/targetConnections/{}/", p.target))
            .await
            .code(),
        204
    );
    assert_eq!(
        env.delete(&format!("{FS}/connections/{}/", p.base))
            .await
            .code(),
        204
    );
    assert!(env.emulator.connections("prod").is_empty());
    assert!(env.emulator.source_connections("prod").is_empty());
}

#[tokio::test]
async fn lists_filter_sort_count_and_page() {
    let env = Env::start().await;
    let mut ids = Vec::new();
    for i in 0..45 {
        ids.push(env.base_connection(&format!("conn-{i:02}")).await);
    }
    let path = format!("{FS}/connections");
    let first = env.get(&path).await;
    assert_eq!(
        first.body["items"].as_array().map(Vec::len),
        Some(20),
        "pages of 20 by default"
    );
    let next = first.body["_links"]["next"]["href"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        next.starts_with("/connections?continuationToken="),
        "{next}"
    );
    let (all, pages) = env.list_all(&path).await;
    assert_eq!((all.len(), pages), (45, 3));
    let mut seen: Vec<&str> = all.iter().filter_map(|c| c["id"].as_str()).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 45, "no item twice across pages");

    // Paging keeps the filters and the order.
    let (filtered, _) = env
        .list_all(&format!(
            "{path}?property=connectionSpec.id=={ZOHO_SPEC}&orderby=-name&limit=7"
        ))
        .await;
    let names: Vec<&str> = filtered.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names.len(), 45);
    assert_eq!((names[0], names[44]), ("conn-44", "conn-00"));

    let one = env.get(&format!("{path}?property=name==conn-07")).await;
    assert_eq!(one.body["items"][0]["id"], ids[7].as_str());
    let or = env
        .get(&format!("{path}?property=name==conn-01,conn-02,missing"))
        .await;
    assert_eq!(or.body["items"].as_array().map(Vec::len), Some(2));
    let and = env
        .get(&format!(
            "{path}?property=name==conn-01,conn-02&property=id=={}",
            ids[2]
        ))
        .await;
    assert_eq!(and.body["items"].as_array().map(Vec::len), Some(1));
    let quoted = env
        .get(&format!("{path}?property=name%3D%3D%22conn-03%22"))
        .await;
    assert_eq!(quoted.body["items"][0]["id"], ids[3].as_str());

    assert_eq!(
        env.get(&format!("{path}?count=true")).await.body,
        json!({"count": 45})
    );
    assert_eq!(
        env.get(&format!("{path}?count=true&property=name==conn-01"))
            .await
            .body,
        json!({"count": 1})
    );
    assert_eq!(
        env.get(&format!("{path}?count=true&limit=5"))
            .await
            .error_type(),
        "FLOW-1401-400"
    );
    assert_eq!(
        env.get(&format!("{path}?orderby=colour"))
            .await
            .error_type(),
        "FLOW-1432-400"
    );
    assert_eq!(
        env.get(&format!("{path}?property=name~conn"))
            .await
            .error_type(),
        "FLOW-1440-400"
    );
    assert_eq!(env.get(&format!("{path}?limit=0")).await.code(), 400);
    let created_at = env
        .get(&format!("{path}?orderby=createdAt&limit=1"))
        .await
        .body["items"][0]["createdAt"]
        .as_i64();
    let later = env
        .get(&format!(
            "{path}?property=createdAt>{}",
            created_at.unwrap_or_default() - 1
        ))
        .await;
    assert!(later.body["items"]
        .as_array()
        .is_some_and(|i| !i.is_empty()));

    // Array members and nested params on the other collections.
    let source = env.source_connection(&ids[0], "Deals", None).await;
    let by_table = env
        .get(&format!(
            "{FS}/sourceConnections?property=baseConnectionId=={}&property=params.tableName==Deals",
            ids[0]
        ))
        .await;
    assert_eq!(by_table.body["items"][0]["id"], source.as_str());
    let target = env.target_connection(SEED_DATASET).await;
    let by_dataset = env
        .get(&format!(
            "{FS}/targetConnections?property=params.dataSetId=={SEED_DATASET}"
        ))
        .await;
    assert_eq!(by_dataset.body["items"][0]["id"], target.as_str());
    let mapping = env.mapping_set(&["Amount"]).await;
    let flow = env
        .create(
            &format!("{FS}/flows"),
            &flow_body(&source, &target, &mapping, hourly(1_900_000_000)),
        )
        .await;
    let by_member = env
        .get(&format!(
            "{FS}/flows?property=sourceConnectionIds[]=={source}"
        ))
        .await;
    assert_eq!(by_member.body["items"][0]["id"], flow.as_str());
    let by_spec = env
        .get(&format!(
            "{FS}/flows?property=flowSpec.id=={CRM_FLOW_SPEC}&property=state==enabled"
        ))
        .await;
    assert_eq!(by_spec.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        env.get(&format!("{FS}/flows?property=sourceConnectionIds[]==other"))
            .await
            .body["items"],
        json!([])
    );
}
