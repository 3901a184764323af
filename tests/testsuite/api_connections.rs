//! Base connections (docs/aep-api.md#base-connection, #etags, #deleting).

use crate::support::api as api_support;

use api_support::*;
use provision::api::connections::{
    create_connection, delete_connection, get_connection, list_connections,
    list_connections_by_name, patch_connection, patch_connection_auth, test_connection, AuthParams,
    NewConnection,
};
use provision::api::specs::ZOHO_CRM_SPEC_ID;
use provision::api::{ConnectionId, ConnectionSpecId, Etag, PatchOp, Query};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const ID: &str = "2484f2df-c057-4ab5-84f2-dfc0577ab592";
const ETAG: &str = "\"10033e77-0000-0200-0000-5e96785b0000\"";

fn zoho_params() -> AuthParams {
    AuthParams::new()
        .plain("endpoint", "https://www.zohoapis.com")
        .plain("accountsUrl", "https://accounts.zoho.com")
        .plain("clientId", "1000.LOCALCLIENT")
        .secret("clientSecret", SecretString::from("local-zoho-secret"))
        .secret("accessToken", SecretString::from("1000.access.token"))
        .secret("refreshToken", SecretString::from("1000.local.refresh"))
}

fn connection_item() -> serde_json::Value {
    json!({
        "id": ID,
        "createdAt": 1_607_520_228_894_i64,
        "updatedAt": 1_607_520_276_948_i64,
        "name": "zoho-crm-prod",
        "description": "Zoho CRM production (managed by provision: zoho-crm-prod)",
        "connectionSpec": {"id": ZOHO_CRM_SPEC_ID, "version": "1.0"},
        "state": "enabled",
        "auth": {"specName": "Basic Authentication", "params": {
            "endpoint": "https://www.zohoapis.com", "clientId": "1000.LOCALCLIENT",
            "clientSecret": "{SECURE_STRING}", "refreshToken": "{SECURE_STRING}"
        }},
        "version": "\"10033e77-0000-0200-0000-5e96785b0000\"",
        "etag": ETAG
    })
}

#[tokio::test]
async fn create_sends_the_documented_body_with_the_secrets() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("{FLOW}/connections")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": ID, "etag": ETAG})))
        .expect(1)
        .mount(&server)
        .await;

    let new = NewConnection::zoho(
        "zoho-crm-prod",
        Some("Zoho CRM production".into()),
        zoho_params(),
    );
    let created = create_connection(&client, &new).await.unwrap();

    assert_eq!(created.id, ConnectionId::from(ID));
    assert_eq!(created.etag, Some(Etag::from(ETAG)));
    let request = only_request(&server).await;
    assert_platform_headers(&request);
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    let sent = body(&request);
    assert_eq!(
        sent,
        json!({
            "name": "zoho-crm-prod",
            "description": "Zoho CRM production",
            "auth": {
                "specName": "Basic Authentication",
                "params": {
                    "endpoint": "https://www.zohoapis.com",
                    "accountsUrl": "https://accounts.zoho.com",
                    "clientId": "1000.LOCALCLIENT",
                    "clientSecret": "local-zoho-secret",
                    "accessToken": "1000.access.token",
                    "refreshToken": "1000.local.refresh"
                }
            },
            "connectionSpec": {"id": ZOHO_CRM_SPEC_ID, "version": "1.0"}
        })
    );
    assert_valid_against_spec("flow-service.yaml", "CreateConnectionRequest", &sent);
    // The request value itself never shows a secret.
    assert!(!format!("{new:?}").contains("local-zoho-secret"));
}

#[tokio::test]
async fn get_reads_the_items_wrapper_and_404_is_none() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/connections/{ID}")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"items": [connection_item()]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/connections/gone")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "type": "https://ns.adobe.com/aep/errors/FLOW-1439-404", "title": "Resource not found"
        })))
        .expect(1)
        .mount(&server)
        .await;

    let conn = get_connection(&client, &ConnectionId::from(ID))
        .await
        .unwrap()
        .expect("found");
    assert_eq!(conn.name, "zoho-crm-prod");
    assert_eq!(conn.state.as_deref(), Some("enabled"));
    assert_eq!(conn.etag, Some(Etag::from(ETAG)));
    assert_eq!(
        conn.spec_id(),
        Some(&ConnectionSpecId::from(ZOHO_CRM_SPEC_ID))
    );
    assert_eq!(conn.created_at, Some(1_607_520_228_894));
    let auth = conn.auth.as_ref().unwrap();
    assert_eq!(auth.spec_name.as_deref(), Some("Basic Authentication"));
    assert_eq!(auth.param("clientId"), Some("1000.LOCALCLIENT"));
    assert!(!format!("{conn:?}").contains("SECURE_STRING"));

    assert!(get_connection(&client, &ConnectionId::from("gone"))
        .await
        .unwrap()
        .is_none());
    for request in api_requests(&server).await {
        assert_platform_headers(&request);
        assert!(request.body.is_empty());
    }
}

#[tokio::test]
async fn list_by_name_filters_on_name_and_spec_and_follows_next_links() {
    let (server, client) = setup().await;
    let mut second = connection_item();
    second["id"] = json!("second-id");
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/connections")))
        .and(wiremock::matchers::query_param(
            "continuationToken",
            "page2",
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"items": [second], "_links": {}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/connections")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [connection_item()],
            "_links": {"next": {"href": "/connections?continuationToken=page2"}}
        })))
        .expect(1)
        .mount(&server)
        .await;

    let found = list_connections_by_name(
        &client,
        "zoho-crm-prod",
        &ConnectionSpecId::from(ZOHO_CRM_SPEC_ID),
    )
    .await
    .unwrap();

    let ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [ID, "second-id"]);
    let requests = api_requests(&server).await;
    assert_eq!(requests.len(), 2);
    assert_eq!(
        query(&requests[0]),
        [
            ("property".into(), "name==zoho-crm-prod".into()),
            (
                "property".into(),
                format!("connectionSpec.id=={ZOHO_CRM_SPEC_ID}")
            ),
        ]
    );
    assert_eq!(
        query(&requests[1]),
        [("continuationToken".into(), "page2".into())]
    );
}

#[tokio::test]
async fn names_with_reserved_characters_are_encoded() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/connections")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": []})))
        .mount(&server)
        .await;
    let query_in = Query::new().property_eq("name", &["Zoho & Co + 1"]);
    let found = list_connections(&client, &query_in).await.unwrap();
    assert!(found.is_empty());
    let request = only_request(&server).await;
    assert_eq!(
        query(&request),
        [("property".into(), "name==Zoho & Co + 1".into())]
    );
}

#[tokio::test]
async fn patch_sends_a_lower_case_json_patch_array_with_the_etag_verbatim() {
    let (server, client) = setup().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{FLOW}/connections/{ID}")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": ID, "etag": "\"new\""})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let updated = patch_connection(
        &client,
        &ConnectionId::from(ID),
        &Etag::from(ETAG),
        &[PatchOp::replace("/description", "new text")],
    )
    .await
    .unwrap();

    assert_eq!(updated.etag, Some(Etag::from("\"new\"")));
    let request = only_request(&server).await;
    assert_platform_headers(&request);
    // The docs' path: no trailing slash (docs/aep-api.md#disagreements #20).
    assert_eq!(request.url.path(), format!("{FLOW}/connections/{ID}"));
    assert_eq!(header(&request, "if-match"), Some(ETAG));
    assert_eq!(
        body(&request),
        json!([{"op": "replace", "path": "/description", "value": "new text"}])
    );
}

#[tokio::test]
async fn auth_rotation_replaces_auth_params_with_the_secrets() {
    let (server, client) = setup().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{FLOW}/connections/{ID}")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": ID, "etag": "\"new\""})),
        )
        .expect(1)
        .mount(&server)
        .await;
    // An unquoted etag (as in update.md's connection example) goes out unchanged too.
    patch_connection_auth(
        &client,
        &ConnectionId::from(ID),
        &Etag::from("1a0037e4-0000"),
        &zoho_params(),
    )
    .await
    .unwrap();
    let request = only_request(&server).await;
    assert_eq!(header(&request, "if-match"), Some("1a0037e4-0000"));
    let sent = body(&request);
    assert_eq!(sent[0]["op"], "replace");
    assert_eq!(sent[0]["path"], "/auth/params");
    assert_eq!(sent[0]["value"]["refreshToken"], "1000.local.refresh");
    assert_eq!(sent[0]["value"]["clientId"], "1000.LOCALCLIENT");
    assert_eq!(sent.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_stale_etag_is_reported_as_412() {
    let (server, client) = setup().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{FLOW}/connections/{ID}")))
        .respond_with(ResponseTemplate::new(412).set_body_json(json!({
            "type": "https://ns.adobe.com/aep/errors/FLOW-1404-412",
            "errorMessage": "Supplied version=[x] does not match the current version on entity=[y]"
        })))
        .mount(&server)
        .await;
    let err = patch_connection(
        &client,
        &ConnectionId::from(ID),
        &Etag::from("\"x\""),
        &[PatchOp::replace("/name", "n")],
    )
    .await
    .unwrap_err();
    assert_eq!(err.status, Some(412));
    assert_eq!(err.code.as_deref(), Some("FLOW-1404-412"));
}

#[tokio::test]
async fn delete_and_test_use_the_documented_paths() {
    let (server, client) = setup().await;
    Mock::given(method("DELETE"))
        .and(path(format!("{FLOW}/connections/{ID}")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/connections/{ID}/test")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": true})))
        .expect(1)
        .mount(&server)
        .await;

    assert!(test_connection(&client, &ConnectionId::from(ID))
        .await
        .unwrap());
    delete_connection(&client, &ConnectionId::from(ID))
        .await
        .unwrap();
    for request in api_requests(&server).await {
        assert_platform_headers(&request);
    }
}

#[tokio::test]
async fn deleting_a_connection_in_use_surfaces_the_service_message() {
    let (server, client) = setup().await;
    Mock::given(method("DELETE"))
        .and(path(format!("{FLOW}/connections/{ID}")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "type": "https://ns.adobe.com/aep/errors/FLOW-1418-400",
            "title": "Bad request",
            "report": {"detailed-message": "The connection cannot be deleted because the base connection is being used in one or more flows"}
        })))
        .mount(&server)
        .await;
    let err = delete_connection(&client, &ConnectionId::from(ID))
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("FLOW-1418-400"));
    assert!(err.message.contains("used in one or more flows"));
}
