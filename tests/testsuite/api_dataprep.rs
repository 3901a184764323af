//! Data Prep mapping sets (docs/aep-api.md#mapping-set).

use crate::support::api as api_support;

use api_support::*;
use provision::api::dataprep::{
    create_mapping_set, get_mapping_set, list_mapping_sets, validate_mapping_set, NewMapping,
    NewMappingSet,
};
use provision::api::MappingSetId;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

const SCHEMA: &str = "https://ns.adobe.com/acme/schemas/zoho_crm";
const MAPPING: &str = "e7c80e4c0d8f4a98a7d400b4e178b635";

fn new_set() -> NewMappingSet {
    let mut new = NewMappingSet::new(
        SCHEMA,
        vec![
            NewMapping::attribute("Email", "personalEmail.address"),
            NewMapping::attribute("First_Name", "person.name.firstName"),
        ],
    );
    new.name = Some("zoho-crm-prod / Leads / mapping".into());
    new.description = Some("managed by provision: zoho-crm-prod".into());
    new
}

fn expected_body() -> serde_json::Value {
    json!({
        "name": "zoho-crm-prod / Leads / mapping",
        "outputSchema": {"schemaRef": {
            "id": SCHEMA, "contentType": "application/vnd.adobe.xed-full+json;version=1"
        }},
        "mappings": [
            {"sourceType": "ATTRIBUTE", "source": "Email", "destination": "personalEmail.address"},
            {"sourceType": "ATTRIBUTE", "source": "First_Name", "destination": "person.name.firstName"}
        ],
        "tags": [{"name": "description", "values": ["managed by provision: zoho-crm-prod"]}]
    })
}

#[tokio::test]
async fn create_sends_the_current_format_and_reads_id_and_version() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("{DATAPREP}/mappingSets")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": MAPPING, "version": 0, "createdDate": 1_614_901_254_724_i64,
            "modifiedDate": 1_614_901_254_724_i64, "createdBy": "{CREATED_BY}", "modifiedBy": "{MODIFIED_BY}"
        })))
        .expect(1)
        .mount(&server)
        .await;

    let created = create_mapping_set(&client, &new_set()).await.unwrap();

    assert_eq!(created.id, MappingSetId::from(MAPPING));
    assert_eq!(created.version, 0);
    let request = only_request(&server).await;
    assert_platform_headers(&request);
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    let sent = body(&request);
    assert_eq!(sent, expected_body());
    assert_valid_against_spec("data-prep.yaml", "MappingSet", &sent);
}

#[tokio::test]
async fn a_minimal_set_sends_no_name_and_no_tags() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("{DATAPREP}/mappingSets")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": MAPPING, "version": "3"})),
        )
        .mount(&server)
        .await;
    let created = create_mapping_set(
        &client,
        &NewMappingSet::new(SCHEMA, vec![NewMapping::attribute("id", "_id")]),
    )
    .await
    .unwrap();
    assert_eq!(created.version, 3);
    let sent = body(&only_request(&server).await);
    assert!(
        sent.get("name").is_none() && sent.get("tags").is_none(),
        "{sent}"
    );
    assert_valid_against_spec("data-prep.yaml", "MappingSet", &sent);
}

#[tokio::test]
async fn validate_posts_the_same_body() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("{DATAPREP}/mappingSets/validate")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"validationResponse": [
            {"status": "SUCCESS", "errors": null},
            {"status": "FAILED", "errors": [{"source": "First_Name", "destination": "person.name.firstName",
                                              "exception": "path not in schema"}]}
        ]})))
        .expect(1)
        .mount(&server)
        .await;

    let outcome = validate_mapping_set(&client, &new_set()).await.unwrap();

    assert!(!outcome.is_valid());
    assert_eq!(outcome.validation_response[1].errors.len(), 1);
    let request = only_request(&server).await;
    assert_platform_headers(&request);
    assert_eq!(body(&request), expected_body());
}

fn stored_set(id: &str) -> serde_json::Value {
    json!({
        "id": id, "version": 1, "name": "zoho-crm-prod / Leads / mapping",
        "createdDate": 1_582_250_953_000_i64, "modifiedDate": 1_582_251_156_000_i64,
        "outputSchema": {"id": "1956affc", "version": 0,
                         "schemaRef": {"id": SCHEMA, "contentType": "application/vnd.adobe.xed-full+json;version=1"}},
        "mappings": [
            {"id": "af80", "version": 0, "sourceType": "text/x.schema-path", "source": "Email",
             "destination": "personalEmail.address", "identity": false,
             "sourceAttribute": "Email", "destinationXdmPath": "personalEmail.address"}
        ],
        "tags": [{"name": "description", "values": ["managed by provision: zoho-crm-prod"]}]
    })
}

#[tokio::test]
async fn get_reads_the_stored_set_and_404_is_none() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{DATAPREP}/mappingSets/{MAPPING}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(stored_set(MAPPING)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{DATAPREP}/mappingSets/gone")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"title": "Not found"})))
        .expect(1)
        .mount(&server)
        .await;

    let set = get_mapping_set(&client, &MappingSetId::from(MAPPING))
        .await
        .unwrap()
        .expect("found");
    assert_eq!(set.version, 1);
    assert_eq!(set.schema_id(), Some(SCHEMA));
    assert_eq!(set.rules(), [("Email", "personalEmail.address")]);
    assert_eq!(
        set.description(),
        Some("managed by provision: zoho-crm-prod")
    );
    assert_eq!(set.reference().id, MappingSetId::from(MAPPING));
    assert!(get_mapping_set(&client, &MappingSetId::from("gone"))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn legacy_sets_are_read_too() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{DATAPREP}/mappingSets/{MAPPING}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "version": 0, "xdmSchema": SCHEMA, "xdmVersion": "1.0", "id": MAPPING,
            "mappings": [{"destinationXdmPath": "person.name.firstName", "sourceAttribute": "first_name",
                          "identity": false, "identityGroup": null, "namespaceCode": null, "version": 0}]
        })))
        .mount(&server)
        .await;
    let set = get_mapping_set(&client, &MappingSetId::from(MAPPING))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(set.schema_id(), Some(SCHEMA));
    assert_eq!(set.rules(), [("first_name", "person.name.firstName")]);
}

#[tokio::test]
async fn list_asks_for_large_pages_and_reads_on_when_the_service_applies_a_smaller_one() {
    let (server, client) = setup().await;
    let full: Vec<serde_json::Value> = (0..50).map(|i| stored_set(&format!("m{i:02}"))).collect();
    Mock::given(method("GET"))
        .and(path(format!("{DATAPREP}/mappingSets")))
        .and(query_param("start", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": full, "_page": {"count": 50, "limit": 50}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{DATAPREP}/mappingSets")))
        .and(query_param("start", "50"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [stored_set("m50")], "_page": {"count": 1, "limit": 50}
        })))
        .expect(1)
        .mount(&server)
        .await;

    let sets = list_mapping_sets(&client, Some("zoho-crm-prod / Leads / mapping"))
        .await
        .unwrap();

    assert_eq!(sets.len(), 51);
    let requests = api_requests(&server).await;
    assert_eq!(requests.len(), 2);
    for (request, start) in requests.iter().zip(["0", "50"]) {
        assert_platform_headers(request);
        assert_eq!(
            query_sorted(request),
            pairs(&[
                ("name", "zoho-crm-prod / Leads / mapping"),
                ("limit", "1000"),
                ("start", start)
            ])
        );
    }
}

#[tokio::test]
async fn list_accepts_the_specs_single_object_data() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{DATAPREP}/mappingSets")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": stored_set(MAPPING), "_page": {"count": 1, "limit": 50}
        })))
        .mount(&server)
        .await;
    let sets = list_mapping_sets(&client, None).await.unwrap();
    assert_eq!(sets.len(), 1);
    assert_eq!(
        query_sorted(&only_request(&server).await),
        pairs(&[("limit", "1000"), ("start", "0")])
    );
}

#[tokio::test]
async fn a_page_shorter_than_the_limit_asked_ends_the_list_without_page_info() {
    let (server, client) = setup().await;
    let sets: Vec<serde_json::Value> = (0..3).map(|i| stored_set(&format!("m{i:02}"))).collect();
    Mock::given(method("GET"))
        .and(path(format!("{DATAPREP}/mappingSets")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": sets})))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(list_mapping_sets(&client, None).await.unwrap().len(), 3);
}

#[tokio::test]
async fn update_puts_the_full_body_and_reads_the_new_version() {
    let (server, client) = setup().await;
    let mut updated = stored_set(MAPPING);
    updated["version"] = json!(2);
    Mock::given(method("PUT"))
        .and(path(format!("{DATAPREP}/mappingSets/{MAPPING}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(updated))
        .expect(1)
        .mount(&server)
        .await;

    let set = provision::api::dataprep::update_mapping_set(
        &client,
        &MappingSetId::from(MAPPING),
        &new_set(),
    )
    .await
    .unwrap();

    assert_eq!(set.reference().version, 2);
    let request = only_request(&server).await;
    assert_platform_headers(&request);
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    let sent = body(&request);
    assert_eq!(sent, expected_body());
    assert_valid_against_spec("data-prep.yaml", "MappingSet", &sent);
}
