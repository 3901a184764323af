//! Exploring a base connection (docs/aep-api.md#explore).

use crate::support::api as api_support;

use api_support::*;
use provision::api::explore::{explore_root, explore_table};
use provision::api::ConnectionId;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

const CONN: &str = "6990abad-977d-41b9-a85d-17ea8cf1c0e4";

#[tokio::test]
async fn root_sends_lower_case_object_type_and_reads_the_bare_array() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/connections/{CONN}/explore")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"type": "table", "name": "Leads", "path": "Leads", "canPreview": true, "canFetchSchema": true},
            {"type": "table", "name": "Contacts", "path": "Contacts", "canPreview": false, "canFetchSchema": true}
        ])))
        .expect(1)
        .mount(&server)
        .await;

    let tables = explore_root(&client, &ConnectionId::from(CONN))
        .await
        .unwrap();

    let request = only_request(&server).await;
    assert_platform_headers(&request);
    assert_eq!(query(&request), [("objectType".into(), "root".into())]);
    assert_eq!(tables.len(), 2);
    assert_eq!(tables[0].kind, "table");
    assert_eq!(tables[0].path, "Leads");
    assert!(tables[0].can_preview && tables[0].can_fetch_schema);
    assert!(!tables[1].can_preview);
}

#[tokio::test]
async fn table_reads_both_column_shapes_and_keeps_them_verbatim() {
    let (server, client) = setup().await;
    let columns = json!([
        {"name": "id", "type": "string", "xdm": {"type": "string"}},
        {"name": "Modified_Time", "type": "string", "meta:xdmType": "date-time",
         "xdm": {"type": "string", "format": "date-time"}},
        {"name": "Owner", "type": "string", "meta": {"originalType": "String"}},
        {"name": "Amount", "type": "double", "xdm": {"type": "number"}, "precision": 2}
    ]);
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/connections/{CONN}/explore")))
        .and(query_param("objectType", "table"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "format": "flat", "schema": {"columns": columns}
        })))
        .expect(1)
        .mount(&server)
        .await;

    let table = explore_table(&client, &ConnectionId::from(CONN), "Deals", false)
        .await
        .unwrap();

    let request = only_request(&server).await;
    assert_eq!(
        query(&request),
        [
            ("objectType".into(), "table".into()),
            ("object".into(), "Deals".into())
        ]
    );
    assert_eq!(table.format.as_deref(), Some("flat"));
    assert!(table.data.is_empty());
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "Modified_Time", "Owner", "Amount"]);
    assert!(table.columns[1].is_date_time());
    assert!(!table.columns[0].is_date_time());
    assert_eq!(table.columns[1].format(), Some("date-time"));
    assert_eq!(table.columns[3].xdm_type(), Some("number"));
    assert_eq!(
        table.columns[2]
            .meta
            .as_ref()
            .and_then(|m| m.original_type.as_deref()),
        Some("String")
    );
    assert_eq!(serde_json::to_value(&table.columns).unwrap(), columns);
}

#[tokio::test]
async fn preview_asks_for_rows_and_encodes_the_table_path() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/connections/{CONN}/explore")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "format": "flat",
            "schema": {"columns": [{"name": "Email", "type": "string", "xdm": {"type": "string"}}]},
            "data": [{"Email": "a@example.com"}, {"Email": null}]
        })))
        .expect(1)
        .mount(&server)
        .await;

    let table = explore_table(&client, &ConnectionId::from(CONN), "Custom Module&1", true)
        .await
        .unwrap();

    let request = only_request(&server).await;
    assert_eq!(
        query(&request),
        [
            ("objectType".into(), "table".into()),
            ("object".into(), "Custom Module&1".into()),
            ("preview".into(), "true".into())
        ]
    );
    assert_eq!(table.data.len(), 2);
    assert_eq!(table.data[0]["Email"], "a@example.com");
}

#[tokio::test]
async fn an_unexpected_root_answer_is_a_decode_error() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/connections/{CONN}/explore")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([{"type": "table", "name": "no path"}])),
        )
        .mount(&server)
        .await;
    let err = explore_root(&client, &ConnectionId::from(CONN))
        .await
        .unwrap_err();
    assert_eq!(err.kind, provision::api::error::ApiErrorKind::Decode);
    assert!(err.message.contains("explore entry #0"), "{}", err.message);
    assert!(err.message.contains("path"), "{}", err.message);
}
