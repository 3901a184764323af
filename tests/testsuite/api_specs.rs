//! Connection spec and flow spec lookups (docs/aep-api.md#connection-specs, #flow-spec).

use crate::support::api as api_support;

use api_support::*;
use provision::api::specs::{
    self, connection_spec, flow_spec_by_name, CRM_TO_AEP_FLOW_SPEC_ID, DATA_LAKE_SPEC_ID,
    ZOHO_CRM_SPEC_ID,
};
use provision::api::ConnectionSpecId;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn connection_spec_is_read_from_the_items_wrapper() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/connectionSpecs/{ZOHO_CRM_SPEC_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [zoho_spec()]})))
        .expect(1)
        .mount(&server)
        .await;

    let spec = connection_spec(&client, &ConnectionSpecId::from(ZOHO_CRM_SPEC_ID))
        .await
        .unwrap()
        .expect("the spec exists");

    let request = only_request(&server).await;
    assert_platform_headers(&request);
    assert!(query(&request).is_empty());
    assert_eq!(spec.version.as_deref(), Some("1.0"));
    let basic = spec.basic_auth().expect("a Basic Authentication auth spec");
    assert_eq!(
        basic.required(),
        [
            "endpoint",
            "accountsUrl",
            "clientId",
            "clientSecret",
            "refreshToken"
        ]
    );
    assert!(basic.property_names().contains(&"accessToken"));
    assert_eq!(
        basic.property_description("endpoint"),
        Some("The endpoint of the Zoho CRM server")
    );
}

#[tokio::test]
async fn a_missing_connection_spec_is_none() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/connectionSpecs/{ZOHO_CRM_SPEC_ID}")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "type": "https://ns.adobe.com/aep/errors/FLOW-1101-404",
            "title": "Resource not found", "status": 404
        })))
        .expect(1)
        .mount(&server)
        .await;
    let spec = connection_spec(&client, &ConnectionSpecId::from(ZOHO_CRM_SPEC_ID))
        .await
        .unwrap();
    assert!(spec.is_none());
}

#[tokio::test]
async fn a_failing_connection_spec_lookup_is_an_error_not_absence() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/connectionSpecs/{ZOHO_CRM_SPEC_ID}")))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "type": "https://ns.adobe.com/aep/errors/FLOW-2120-403", "title": "Forbidden"
        })))
        .mount(&server)
        .await;
    let err = connection_spec(&client, &ConnectionSpecId::from(ZOHO_CRM_SPEC_ID))
        .await
        .unwrap_err();
    assert_eq!(err.status, Some(403));
    assert_eq!(err.code.as_deref(), Some("FLOW-2120-403"));
}

fn crm_to_aep(with_zoho: bool) -> serde_json::Value {
    let mut sources = vec![
        "3416976c-a9ca-4bba-901a-1f08f66978ff",
        "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5",
    ];
    if with_zoho {
        sources.push(ZOHO_CRM_SPEC_ID);
    }
    json!({
        "id": CRM_TO_AEP_FLOW_SPEC_ID,
        "name": "CRMToAEP",
        "providerId": "0ed90a81-07f4-4586-8190-b40eccef1c5a",
        "version": "1.0",
        "sourceConnectionSpecIds": sources,
        "targetConnectionSpecIds": [DATA_LAKE_SPEC_ID],
        "transformationSpecs": [{"name": "Copy", "spec": {"required": ["deltaColumn"]}},
                                {"name": "Mapping", "spec": {}}],
        "scheduleSpec": {"name": "PeriodicSchedule", "type": "Periodic",
                         "spec": {"properties": {"interval": {"type": "integer"}}}},
        "attributes": {"isSourceFlow": true}
    })
}

#[tokio::test]
async fn flow_spec_is_looked_up_by_name_in_both_answer_shapes() {
    for (answer, with_zoho) in [
        (json!({"items": [crm_to_aep(true)]}), true),
        (crm_to_aep(false), false),
    ] {
        let (server, client) = setup().await;
        Mock::given(method("GET"))
            .and(path(format!("{FLOW}/flowSpecs")))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer))
            .expect(1)
            .mount(&server)
            .await;

        let spec = flow_spec_by_name(&client, "CRMToAEP")
            .await
            .unwrap()
            .expect("CRMToAEP");

        let request = only_request(&server).await;
        assert_platform_headers(&request);
        assert_eq!(
            query(&request),
            [("property".into(), "name==CRMToAEP".into())]
        );
        assert_eq!(spec.id.as_str(), CRM_TO_AEP_FLOW_SPEC_ID);
        assert_eq!(
            spec.allows_source(&ConnectionSpecId::from(ZOHO_CRM_SPEC_ID)),
            with_zoho
        );
        assert!(spec.allows_target(&ConnectionSpecId::from(DATA_LAKE_SPEC_ID)));
        assert_eq!(spec.transformation_specs[0]["name"], "Copy");
        assert_eq!(spec.schedule_spec["name"], "PeriodicSchedule");
    }
}

#[tokio::test]
async fn a_flow_spec_with_another_name_is_not_taken() {
    let (server, client) = setup().await;
    let mut other = crm_to_aep(true);
    other["name"] = json!("CloudStorageToAEP");
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/flowSpecs")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [other]})))
        .mount(&server)
        .await;
    assert!(flow_spec_by_name(&client, "CRMToAEP")
        .await
        .unwrap()
        .is_none());
}

#[test]
fn fixed_ids_match_the_reference() {
    assert_eq!(
        specs::ZOHO_CRM_SPEC_ID,
        "929e4450-0237-4ed2-9404-b7e1e0a00309"
    );
    assert_eq!(
        specs::DATA_LAKE_SPEC_ID,
        "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
    );
    assert_eq!(
        specs::CRM_TO_AEP_FLOW_SPEC_ID,
        "14518937-270c-4525-bdec-c2ba7cce3860"
    );
    assert_eq!(specs::CRM_TO_AEP_FLOW_SPEC_NAME, "CRMToAEP");
}

#[test]
fn the_openapi_validator_rejects_what_the_specs_reject() {
    // Guards the validation the other api_* tests rely on: a body without the required
    // `connectionSpec`, and an interval of the wrong type, must be reported.
    if let Some(errors) = spec_errors(
        "flow-service.yaml",
        "CreateConnectionRequest",
        &json!({"name": "n"}),
    ) {
        assert_eq!(errors.len(), 1, "{errors:?}");
    }
    if let Some(errors) = spec_errors(
        "flow-service.yaml",
        "CreateFlowRequest",
        &json!({"flowSpec": {"id": "x"}, "scheduleParams": {"interval": 15}}),
    ) {
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("/scheduleParams/interval"),
            "{errors:?}"
        );
    }
}
