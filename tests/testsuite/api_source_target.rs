//! Source connections (docs/aep-api.md#source-connection) and target connections (docs/aep-api.md#target-connection).

use crate::support::api as api_support;

use api_support::*;
use provision::api::explore::Column;
use provision::api::source::{
    create_source_connection, delete_source_connection, get_source_connection,
    list_source_connections, list_source_connections_of, NewSourceConnection,
};
use provision::api::specs::{SpecRef, DATA_LAKE_SPEC_ID, ZOHO_CRM_SPEC_ID};
use provision::api::target::{
    create_target_connection, delete_target_connection, get_target_connection,
    list_target_connections_by_dataset, list_target_connections_by_ids, NewTargetConnection,
};
use provision::api::{
    ConnectionId, DatasetId, Etag, Query, SourceConnectionId, TargetConnectionId,
};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const BASE: &str = "6990abad-977d-41b9-a85d-17ea8cf1c0e4";
const SOURCE: &str = "b7581b59-c603-4df1-a689-d23d7ac440f3";
const TARGET: &str = "4ee890c7-519c-4291-bd20-d64186b62da8";
const SCHEMA: &str = "https://ns.adobe.com/acme/schemas/zoho_crm";
const DATASET: &str = "6889f4f89b982b2b90bc1207";

fn explored_columns() -> serde_json::Value {
    json!([
        {"name": "id", "type": "string", "xdm": {"type": "string"}},
        {"name": "Modified_Time", "type": "string", "meta:xdmType": "date-time",
         "xdm": {"type": "string", "format": "date-time"}},
        {"name": "Owner", "type": "string", "meta": {"originalType": "String"}}
    ])
}

#[tokio::test]
async fn source_create_copies_explored_columns_verbatim() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("{FLOW}/sourceConnections")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": SOURCE, "etag": "\"ef05d265-0000-0200-0000-6019e0080000\""
        })))
        .expect(1)
        .mount(&server)
        .await;
    let columns: Vec<Column> = serde_json::from_value(explored_columns()).unwrap();

    let created = create_source_connection(
        &client,
        &NewSourceConnection {
            name: "zoho-crm-prod / Leads / source".into(),
            description: Some("managed by provision: zoho-crm-prod".into()),
            base_connection_id: ConnectionId::from(BASE),
            table_name: "Leads".into(),
            columns,
            connection_spec: SpecRef::zoho_crm(),
        },
    )
    .await
    .unwrap();

    assert_eq!(created.id, SourceConnectionId::from(SOURCE));
    let request = only_request(&server).await;
    assert_platform_headers(&request);
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    let sent = body(&request);
    assert_eq!(
        sent,
        json!({
            "name": "zoho-crm-prod / Leads / source",
            "description": "managed by provision: zoho-crm-prod",
            "baseConnectionId": BASE,
            "data": {"format": "tabular"},
            "params": {"tableName": "Leads", "columns": explored_columns()},
            "connectionSpec": {"id": ZOHO_CRM_SPEC_ID, "version": "1.0"}
        })
    );
    assert_valid_against_spec("flow-service.yaml", "CreateSourceConnectionRequest", &sent);
}

#[tokio::test]
async fn sources_of_a_base_connection_are_listed_in_one_query() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/sourceConnections")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [
            {"id": SOURCE, "name": "zoho-crm-prod / Leads / source", "baseConnectionId": BASE,
             "state": "enabled", "data": {"format": "tabular"},
             "params": {"tableName": "Leads", "columns": explored_columns()},
             "connectionSpec": {"id": ZOHO_CRM_SPEC_ID, "version": "1.0"},
             "etag": "\"e1\"", "createdAt": 1, "updatedAt": 2},
            {"id": "other", "name": "x", "baseConnectionId": BASE,
             "params": {"tableName": "Contacts", "columns": null}}
        ]})))
        .expect(1)
        .mount(&server)
        .await;

    let sources = list_source_connections_of(&client, &ConnectionId::from(BASE))
        .await
        .unwrap();

    let request = only_request(&server).await;
    assert_platform_headers(&request);
    assert_eq!(
        query(&request),
        [("property".into(), format!("baseConnectionId=={BASE}"))]
    );
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[0].params.table_name.as_deref(), Some("Leads"));
    assert_eq!(sources[0].params.columns.len(), 3);
    assert_eq!(sources[0].etag, Some(Etag::from("\"e1\"")));
    assert_eq!(
        sources[0].base_connection_id,
        Some(ConnectionId::from(BASE))
    );
    assert!(sources[1].params.columns.is_empty());
}

#[tokio::test]
async fn source_get_list_by_query_and_delete() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/sourceConnections/{SOURCE}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [
            {"id": SOURCE, "name": "s", "params": {"tableName": "Leads"}}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/sourceConnections")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{FLOW}/sourceConnections/{SOURCE}")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let id = SourceConnectionId::from(SOURCE);
    let got = get_source_connection(&client, &id).await.unwrap().unwrap();
    assert_eq!(got.params.table_name.as_deref(), Some("Leads"));
    let listed = list_source_connections(
        &client,
        &Query::new()
            .property_eq("baseConnectionId", &[BASE])
            .property_eq("params.tableName", &["Leads"]),
    )
    .await
    .unwrap();
    assert!(listed.is_empty());
    delete_source_connection(&client, &id).await.unwrap();

    let requests = api_requests(&server).await;
    assert_eq!(
        query(&requests[1]),
        [
            ("property".into(), format!("baseConnectionId=={BASE}")),
            ("property".into(), "params.tableName==Leads".into())
        ]
    );
    assert_eq!(requests[2].method.as_str(), "DELETE");
}

#[tokio::test]
async fn target_create_sends_the_data_lake_body() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("{FLOW}/targetConnections")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": TARGET, "etag": "\"2a007aa8-0000-0200-0000-5e597aaf0000\""
        })))
        .expect(1)
        .mount(&server)
        .await;

    let created = create_target_connection(
        &client,
        &NewTargetConnection {
            name: "zoho-crm-prod / Leads / target".into(),
            description: Some("managed by provision: zoho-crm-prod".into()),
            schema_id: SCHEMA.into(),
            dataset_id: DatasetId::from(DATASET),
        },
    )
    .await
    .unwrap();

    assert_eq!(created.id, TargetConnectionId::from(TARGET));
    let request = only_request(&server).await;
    assert_platform_headers(&request);
    let sent = body(&request);
    assert_eq!(
        sent,
        json!({
            "name": "zoho-crm-prod / Leads / target",
            "description": "managed by provision: zoho-crm-prod",
            "data": {"schema": {"id": SCHEMA, "version": "application/vnd.adobe.xed-full+json;version=1"}},
            "params": {"dataSetId": DATASET},
            "connectionSpec": {"id": DATA_LAKE_SPEC_ID, "version": "1.0"}
        })
    );
    assert_valid_against_spec("flow-service.yaml", "CreateTargetConnectionRequest", &sent);
}

fn target_item(id: &str) -> serde_json::Value {
    json!({
        "id": id, "name": "t", "state": "enabled",
        "data": {"schema": {"id": SCHEMA, "version": "application/vnd.adobe.xed-full+json;version=1"}},
        "params": {"dataSetId": DATASET},
        "connectionSpec": {"id": DATA_LAKE_SPEC_ID, "version": "1.0"},
        "etag": "\"t1\""
    })
}

#[tokio::test]
async fn targets_by_ids_are_chunked_into_few_queries_sent_together() {
    let (server, client) = setup().await;
    // Each answer takes a second: the two queries sent together take about that, one after the
    // other at least two (a second of margin: a loaded machine may stall this test's thread).
    let delay = std::time::Duration::from_secs(1);
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/targetConnections")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"items": [target_item(TARGET)]}))
                .set_delay(delay),
        )
        .expect(2)
        .mount(&server)
        .await;
    // Ids are UUIDs: 37 bytes with the comma, so 110 fit in the 4 KiB a filter may take.
    let uuid = |i: usize| format!("{i:08x}-1111-4222-8333-444455556666");
    let ids: Vec<TargetConnectionId> = (0..130)
        .map(|i| TargetConnectionId::from(uuid(i)))
        .chain([TargetConnectionId::from(uuid(0))])
        .collect();

    let started = std::time::Instant::now();
    let found = list_target_connections_by_ids(&client, &ids).await.unwrap();
    let took = started.elapsed();

    assert_eq!(found.len(), 2);
    assert_eq!(found[0].dataset_id(), Some(&DatasetId::from(DATASET)));
    assert_eq!(found[0].schema_id(), Some(SCHEMA));
    assert!(
        took < delay * 2,
        "the queries took {took:?}: one after the other"
    );
    // Sent together, they may arrive in either order.
    let mut queries: Vec<_> = api_requests(&server).await.iter().map(query).collect();
    queries.sort();
    let first: Vec<String> = (0..110).map(uuid).collect();
    let second: Vec<String> = (110..130).map(uuid).collect();
    assert_eq!(
        queries,
        [
            [("property".into(), format!("id=={}", first.join(",")))],
            [("property".into(), format!("id=={}", second.join(",")))],
        ]
    );
}

#[tokio::test]
async fn no_ids_means_no_request() {
    let (server, client) = setup().await;
    assert!(list_target_connections_by_ids(&client, &[])
        .await
        .unwrap()
        .is_empty());
    assert!(api_requests(&server).await.is_empty());
}

#[tokio::test]
async fn target_by_dataset_get_and_delete() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/targetConnections")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"items": [target_item(TARGET)]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/targetConnections/{TARGET}")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"items": [target_item(TARGET)]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{FLOW}/targetConnections/{TARGET}")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let by_dataset = list_target_connections_by_dataset(&client, &DatasetId::from(DATASET))
        .await
        .unwrap();
    assert_eq!(by_dataset.len(), 1);
    let id = TargetConnectionId::from(TARGET);
    let got = get_target_connection(&client, &id).await.unwrap().unwrap();
    assert_eq!(got.etag, Some(Etag::from("\"t1\"")));
    delete_target_connection(&client, &id).await.unwrap();

    let requests = api_requests(&server).await;
    assert_eq!(
        query(&requests[0]),
        [
            (
                "property".into(),
                format!("connectionSpec.id=={DATA_LAKE_SPEC_ID}")
            ),
            ("property".into(), format!("params.dataSetId=={DATASET}"))
        ]
    );
}
