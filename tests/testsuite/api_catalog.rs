//! Catalog datasets (docs/aep-api.md#dataset) and the Schema Registry existence check.

use crate::support::api as api_support;

use api_support::*;
use provision::api::catalog::{
    create_dataset, delete_dataset, get_dataset, list_datasets_by_name, NewDataset,
};
use provision::api::schemas::schema_exists;
use provision::api::DatasetId;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

const SCHEMA: &str = "https://ns.adobe.com/acme/schemas/zoho_crm";
const DATASET: &str = "6889f4f89b982b2b90bc1207";

#[tokio::test]
async fn create_sends_name_description_and_schema_ref_and_strips_the_id_prefix() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("{CATALOG}/dataSets")))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!([format!("@/dataSets/{DATASET}")])),
        )
        .expect(1)
        .mount(&server)
        .await;

    let mut new = NewDataset::new("Zoho Leads", SCHEMA);
    new.description = Some("managed by provision: zoho-crm-prod".into());
    let id = create_dataset(&client, &new).await.unwrap();

    assert_eq!(id, DatasetId::from(DATASET));
    let request = only_request(&server).await;
    assert_platform_headers(&request);
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    assert!(query(&request).is_empty());
    let sent = body(&request);
    assert_eq!(
        sent,
        json!({
            "name": "Zoho Leads",
            "description": "managed by provision: zoho-crm-prod",
            "schemaRef": {"id": SCHEMA, "contentType": "application/vnd.adobe.xed+json;version=1"}
        })
    );
    assert_valid_against_spec("catalog.yaml", "dataSetRequest", &sent);
}

#[tokio::test]
async fn tags_are_sent_only_when_asked_for() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("{CATALOG}/dataSets")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!(["@/dataSets/abc"])))
        .mount(&server)
        .await;
    let mut new = NewDataset::new("Zoho Leads", SCHEMA);
    new.tags
        .insert("unifiedProfile".into(), vec!["enabled: true".into()]);
    create_dataset(&client, &new).await.unwrap();
    let sent = body(&only_request(&server).await);
    assert_eq!(sent["tags"], json!({"unifiedProfile": ["enabled: true"]}));
    assert_valid_against_spec("catalog.yaml", "dataSetRequest", &sent);
}

#[tokio::test]
async fn a_create_answer_without_a_reference_is_a_clear_error() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("{CATALOG}/dataSets")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!([])))
        .mount(&server)
        .await;
    let err = create_dataset(&client, &NewDataset::new("n", SCHEMA))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("look it up by name"),
        "{}",
        err.message
    );
}

fn dataset(name: &str, schema: &str) -> serde_json::Value {
    json!({
        "name": name, "description": "d",
        "schemaRef": {"id": schema, "contentType": "application/vnd.adobe.xed+json;version=1"},
        "tags": {"adobe/pqs/table": ["zoho_leads"], "odd": "not a list"},
        "created": 1_521_828_048_923_i64, "updated": 1_521_828_208_046_i64
    })
}

#[tokio::test]
async fn get_reads_the_object_keyed_by_id_and_404_is_none() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{CATALOG}/dataSets/{DATASET}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({DATASET: dataset("Zoho Leads", SCHEMA)})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{CATALOG}/dataSets/missing")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"title": "Not found"})))
        .expect(1)
        .mount(&server)
        .await;

    let found = get_dataset(&client, &DatasetId::from(DATASET))
        .await
        .unwrap()
        .expect("found");
    assert_eq!(found.id, DatasetId::from(DATASET));
    assert_eq!(found.name.as_deref(), Some("Zoho Leads"));
    assert_eq!(found.schema_id(), Some(SCHEMA));
    assert_eq!(found.tags["adobe/pqs/table"], ["zoho_leads"]);
    assert!(!found.tags.contains_key("odd"));
    assert_eq!(found.created, Some(1_521_828_048_923));
    assert!(get_dataset(&client, &DatasetId::from("missing"))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn list_by_name_pages_with_limit_and_start_until_a_short_page() {
    let (server, client) = setup().await;
    let full_page: serde_json::Map<String, serde_json::Value> = (0..100)
        .map(|i| (format!("ds{i:03}"), dataset("Zoho Leads", SCHEMA)))
        .collect();
    Mock::given(method("GET"))
        .and(path(format!("{CATALOG}/dataSets")))
        .and(query_param("start", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(full_page))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{CATALOG}/dataSets")))
        .and(query_param("start", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ds100": dataset("Zoho Leads", "https://ns.adobe.com/acme/schemas/other")
        })))
        .expect(1)
        .mount(&server)
        .await;

    let found = list_datasets_by_name(&client, "Zoho Leads").await.unwrap();

    assert_eq!(found.len(), 101);
    assert_eq!(found[100].id, DatasetId::from("ds100"));
    assert_eq!(
        found[100].schema_id(),
        Some("https://ns.adobe.com/acme/schemas/other")
    );
    let requests = api_requests(&server).await;
    assert_eq!(requests.len(), 2);
    for (request, start) in requests.iter().zip(["0", "100"]) {
        assert_platform_headers(request);
        assert_eq!(
            query_sorted(request),
            pairs(&[
                ("property", "name==Zoho Leads"),
                ("properties", "name,description,schemaRef,tags"),
                ("limit", "100"),
                ("start", start),
            ])
        );
    }
}

#[tokio::test]
async fn a_service_that_ignores_start_does_not_loop_forever() {
    let (server, client) = setup().await;
    let full_page: serde_json::Map<String, serde_json::Value> = (0..100)
        .map(|i| (format!("ds{i:03}"), dataset("n", SCHEMA)))
        .collect();
    Mock::given(method("GET"))
        .and(path(format!("{CATALOG}/dataSets")))
        .respond_with(ResponseTemplate::new(200).set_body_json(full_page))
        .mount(&server)
        .await;
    let found = list_datasets_by_name(&client, "n").await.unwrap();
    assert_eq!(found.len(), 100);
    assert_eq!(api_requests(&server).await.len(), 2);
}

#[tokio::test]
async fn delete_uses_the_catalog_path() {
    let (server, client) = setup().await;
    Mock::given(method("DELETE"))
        .and(path(format!("{CATALOG}/dataSets/{DATASET}")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([format!("@/dataSets/{DATASET}")])),
        )
        .expect(1)
        .mount(&server)
        .await;
    delete_dataset(&client, &DatasetId::from(DATASET))
        .await
        .unwrap();
    assert_platform_headers(&only_request(&server).await);
}

#[tokio::test]
async fn schema_exists_gets_the_url_encoded_id_with_an_xdm_accept_header() {
    let (server, client) = setup().await;
    let encoded = "https%3A%2F%2Fns.adobe.com%2Facme%2Fschemas%2Fzoho_crm";
    Mock::given(method("GET"))
        .and(path(format!("{SCHEMAREGISTRY}/tenant/schemas/{encoded}")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"$id": SCHEMA, "title": "Zoho CRM"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "{SCHEMAREGISTRY}/tenant/schemas/https%3A%2F%2Fns.adobe.com%2Facme%2Fschemas%2Fnope"
        )))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"title": "Not Found"})))
        .expect(1)
        .mount(&server)
        .await;

    assert!(schema_exists(&client, SCHEMA).await.unwrap());
    assert!(
        !schema_exists(&client, "https://ns.adobe.com/acme/schemas/nope")
            .await
            .unwrap()
    );

    for request in api_requests(&server).await {
        assert_platform_headers(&request);
        assert_eq!(
            header(&request, "accept"),
            Some("application/vnd.adobe.xed+json;version=1")
        );
    }
}

#[tokio::test]
async fn a_forbidden_schema_lookup_is_an_error() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "{SCHEMAREGISTRY}/tenant/schemas/https%3A%2F%2Fns.adobe.com%2Facme%2Fschemas%2Fzoho_crm"
        )))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"title": "Forbidden"})))
        .mount(&server)
        .await;
    let err = schema_exists(&client, SCHEMA).await.unwrap_err();
    assert_eq!(err.status, Some(403));
}
