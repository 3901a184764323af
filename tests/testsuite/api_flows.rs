//! Dataflows (docs/aep-api.md#dataflow, #reading-a-flow, #etags, #deleting).

use crate::support::api as api_support;

use api_support::*;
use chrono::{DateTime, Utc};
use provision::api::dataprep::MappingSetRef;
use provision::api::flows::{
    create_flow, delete_flow, get_flow, list_flows, list_flows_by_ids, list_flows_by_names,
    list_flows_by_spec, mapping_transformation, patch_flow, DeltaColumn, IntervalEncoding, NewFlow,
    ScheduleParams,
};
use provision::api::specs::{SpecRef, CRM_TO_AEP_FLOW_SPEC_ID};
use provision::api::{
    Etag, FlowId, FlowSpecId, MappingSetId, PatchOp, Query, RunId, SourceConnectionId,
    TargetConnectionId,
};
use provision::profile::{Frequency, Schedule};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const FLOW_ID: &str = "ae0a9777-b322-4ac1-b0ed-48ae9e497c7e";
const ETAG: &str = "\"770029f8-0000-0200-0000-6019e7d40000\"";
const SOURCE: &str = "b7581b59-c603-4df1-a689-d23d7ac440f3";
const TARGET: &str = "320f119a-5ac1-4ab1-88ea-eb19e674ea2e";
const MAPPING: &str = "93ddfa69c4864d978832b1e5ef6ec3b9";
/// 2026-12-01T00:00:00Z
const START: i64 = 1_796_083_200;

fn schedule(frequency: Frequency, interval: Option<u32>, backfill: Option<bool>) -> Schedule {
    Schedule {
        frequency,
        interval,
        start: DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        backfill,
    }
}

fn new_flow(schedule: &Schedule, encoding: IntervalEncoding) -> NewFlow {
    NewFlow {
        name: "zoho-crm-prod / Leads / flow".into(),
        description: Some("managed by provision: zoho-crm-prod".into()),
        flow_spec: SpecRef::crm_to_aep(),
        source_connection_ids: vec![SourceConnectionId::from(SOURCE)],
        target_connection_ids: vec![TargetConnectionId::from(TARGET)],
        delta_column: DeltaColumn::named("Modified_Time"),
        mapping: MappingSetRef {
            id: MappingSetId::from(MAPPING),
            version: 0,
        },
        schedule: ScheduleParams::from(schedule),
        interval_encoding: encoding,
    }
}

async fn created_body(new: &NewFlow) -> serde_json::Value {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("{FLOW}/flows")))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"id": FLOW_ID, "etag": ETAG})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let created = create_flow(&client, new).await.unwrap();
    assert_eq!(created.id, FlowId::from(FLOW_ID));
    assert_eq!(created.etag, Some(Etag::from(ETAG)));
    let request = only_request(&server).await;
    assert_platform_headers(&request);
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    body(&request)
}

#[tokio::test]
async fn create_sends_integer_start_and_interval_boolean_backfill_and_string_mapping_version() {
    let sent = created_body(&new_flow(
        &schedule(Frequency::Minute, Some(15), Some(true)),
        IntervalEncoding::default(),
    ))
    .await;

    assert_eq!(
        sent,
        json!({
            "name": "zoho-crm-prod / Leads / flow",
            "description": "managed by provision: zoho-crm-prod",
            "flowSpec": {"id": CRM_TO_AEP_FLOW_SPEC_ID, "version": "1.0"},
            "sourceConnectionIds": [SOURCE],
            "targetConnectionIds": [TARGET],
            "transformations": [
                {"name": "Copy", "params": {"deltaColumn": {"name": "Modified_Time"}}},
                {"name": "Mapping", "params": {"mappingId": MAPPING, "mappingVersion": "0"}}
            ],
            "scheduleParams": {"startTime": START, "frequency": "minute", "interval": 15, "backfill": true}
        })
    );
    // The OpenAPI spec types `interval` as a string where the flow spec (the server-side
    // validator) says integer (docs/aep-api.md#disagreements #8): that must be the only disagreement.
    if let Some(errors) = spec_errors("flow-service.yaml", "CreateFlowRequest", &sent) {
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("/scheduleParams/interval"),
            "{errors:?}"
        );
    }
}

#[tokio::test]
async fn the_string_interval_setting_matches_the_openapi_spec() {
    let sent = created_body(&new_flow(
        &schedule(Frequency::Hour, Some(2), Some(false)),
        IntervalEncoding::String,
    ))
    .await;
    assert_eq!(
        sent["scheduleParams"],
        json!({"startTime": START, "frequency": "hour", "interval": "2", "backfill": false})
    );
    assert_valid_against_spec("flow-service.yaml", "CreateFlowRequest", &sent);
}

#[tokio::test]
async fn a_once_schedule_has_no_interval_or_backfill() {
    let mut new = new_flow(
        &schedule(Frequency::Once, None, None),
        IntervalEncoding::default(),
    );
    new.delta_column = DeltaColumn {
        name: "Modified_Time".into(),
        date_format: Some("yyyy-MM-dd HH:mm:ss".into()),
        timezone: Some("UTC".into()),
    };
    let sent = created_body(&new).await;
    assert_eq!(
        sent["scheduleParams"],
        json!({"startTime": START, "frequency": "once"})
    );
    assert_eq!(
        sent["transformations"][0]["params"]["deltaColumn"],
        json!({"name": "Modified_Time", "dateFormat": "yyyy-MM-dd HH:mm:ss", "timezone": "UTC"})
    );
    assert_valid_against_spec("flow-service.yaml", "CreateFlowRequest", &sent);
}

/// A flow as GET returns it: every schedule value a string (docs/aep-api.md#value-types).
fn flow_item(id: &str) -> serde_json::Value {
    json!({
        "id": id,
        "createdAt": 1_612_310_466_000_i64, "updatedAt": 1_612_310_467_000_i64,
        "name": "zoho-crm-prod / Leads / flow",
        "description": "managed by provision: zoho-crm-prod",
        "flowSpec": {"id": CRM_TO_AEP_FLOW_SPEC_ID, "version": "1.0"},
        "state": "enabled",
        "version": ETAG,
        "etag": ETAG,
        "sourceConnectionIds": [SOURCE],
        "targetConnectionIds": [TARGET],
        "inheritedAttributes": {"sourceConnections": [], "targetConnections": []},
        "scheduleParams": {"startTime": START.to_string(), "frequency": "hour", "interval": "1", "backfill": "true"},
        "transformations": [
            {"name": "Copy", "params": {"deltaColumn": {"name": "Modified_Time", "dateFormat": "YYYY-MM-DD", "timezone": "UTC"}}},
            {"name": "Mapping", "params": {"mappingId": MAPPING, "mappingVersion": "2"}}
        ],
        "runs": format!("/runs?property=flowId=={id}"),
        "lastOperation": {"operation": "create"},
        "lastRunDetails": {"id": "98fbed6e-f896-4b19-b279-b0d56d732d8d", "state": "Failed",
                           "startedAtUTC": 1_670_284_458_833_i64, "completedAtUTC": 1_670_284_518_048_i64}
    })
}

#[tokio::test]
async fn get_reads_string_schedule_values_into_the_typed_schedule() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/flows/{FLOW_ID}")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"items": [flow_item(FLOW_ID)]})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let flow = get_flow(&client, &FlowId::from(FLOW_ID))
        .await
        .unwrap()
        .expect("found");

    assert_platform_headers(&only_request(&server).await);
    assert_eq!(flow.etag, Some(Etag::from(ETAG)));
    assert!(flow.is_enabled());
    assert_eq!(
        flow.flow_spec.as_ref().map(|s| &s.id),
        Some(&FlowSpecId::from(CRM_TO_AEP_FLOW_SPEC_ID))
    );
    let actual = flow.schedule_params.clone().expect("a schedule");
    let desired = ScheduleParams::from(&schedule(Frequency::Hour, Some(1), Some(true)));
    assert_eq!(actual, desired);
    assert_eq!(
        Schedule::try_from(&actual).unwrap(),
        schedule(Frequency::Hour, Some(1), Some(true))
    );
    assert_eq!(flow.delta_column().unwrap().name, "Modified_Time");
    let (index, mapping) = flow.mapping().expect("a Mapping transformation");
    assert_eq!(index, 1);
    assert_eq!(mapping.id, MappingSetId::from(MAPPING));
    assert_eq!(mapping.version, 2);
    let last = flow.last_run_details.as_ref().unwrap();
    assert_eq!(last.state.as_deref(), Some("failed"));
    assert_eq!(
        last.id,
        Some(RunId::from("98fbed6e-f896-4b19-b279-b0d56d732d8d"))
    );
    assert_eq!(last.completed_at_utc, Some(1_670_284_518_048));
}

#[tokio::test]
async fn get_accepts_numbers_e_tag_and_a_missing_flow() {
    let (server, client) = setup().await;
    let mut item = flow_item(FLOW_ID);
    item.as_object_mut().unwrap().remove("etag");
    item["eTag"] = json!("\"e2\"");
    item["scheduleParams"] = json!({"startTime": START, "frequency": "once"});
    item["transformations"][1]["params"]["mappingVersion"] = json!(0);
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/flows/{FLOW_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [item]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/flows/gone")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "type": "https://ns.adobe.com/aep/errors/FLOW-1439-404", "title": "Resource not found"
        })))
        .mount(&server)
        .await;

    let flow = get_flow(&client, &FlowId::from(FLOW_ID))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(flow.etag, Some(Etag::from("\"e2\"")));
    assert_eq!(
        flow.schedule_params,
        Some(ScheduleParams::from(&schedule(Frequency::Once, None, None)))
    );
    assert_eq!(flow.mapping().unwrap().1.version, 0);
    assert!(get_flow(&client, &FlowId::from("gone"))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_flow_without_a_start_time_is_a_decode_error_naming_the_flow() {
    let (server, client) = setup().await;
    let mut item = flow_item(FLOW_ID);
    item["scheduleParams"] = json!({"frequency": "hour", "interval": "one"});
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/flows")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [item]})))
        .mount(&server)
        .await;
    let err = list_flows(&client, &Query::new()).await.unwrap_err();
    assert_eq!(err.kind, provision::api::error::ApiErrorKind::Decode);
    assert!(err.message.contains(FLOW_ID), "{}", err.message);
}

#[tokio::test]
async fn list_helpers_send_the_documented_filters() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/flows")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"items": [flow_item(FLOW_ID)]})),
        )
        .expect(3)
        .mount(&server)
        .await;

    let spec = FlowSpecId::from(CRM_TO_AEP_FLOW_SPEC_ID);
    assert_eq!(list_flows_by_spec(&client, &spec).await.unwrap().len(), 1);
    let names = [
        "zoho-crm-prod / Leads / flow",
        "zoho-crm-prod / Deals / flow",
    ];
    assert_eq!(
        list_flows_by_names(&client, &spec, &names)
            .await
            .unwrap()
            .len(),
        1
    );
    list_flows_by_ids(&client, &[FlowId::from("a"), FlowId::from("b")])
        .await
        .unwrap();

    let requests = api_requests(&server).await;
    let spec_filter = (
        "property".to_string(),
        format!("flowSpec.id=={CRM_TO_AEP_FLOW_SPEC_ID}"),
    );
    assert_eq!(query(&requests[0]), std::slice::from_ref(&spec_filter));
    assert_eq!(
        query(&requests[1]),
        [
            spec_filter,
            ("property".into(), format!("name=={}", names.join(",")))
        ]
    );
    assert_eq!(query(&requests[2]), [("property".into(), "id==a,b".into())]);
}

#[tokio::test]
async fn patch_sends_a_json_patch_array_with_if_match_verbatim() {
    let (server, client) = setup().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{FLOW}/flows/{FLOW_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": FLOW_ID, "etag": "\"50014cc8-0000-0200-0000-6036eb720000\""
        })))
        .expect(1)
        .mount(&server)
        .await;

    let current = ScheduleParams::from(&schedule(Frequency::Hour, Some(1), Some(true)));
    let desired = ScheduleParams::from(&schedule(Frequency::Day, Some(1), Some(true)));
    let mut ops = current.patch_to(&desired, IntervalEncoding::Integer);
    ops.push(PatchOp::replace(
        "/transformations/1",
        mapping_transformation(&MappingSetRef {
            id: MappingSetId::from("c5f22f04e09f44498e528901546a83b1"),
            version: 2,
        }),
    ));
    let updated = patch_flow(&client, &FlowId::from(FLOW_ID), &Etag::from(ETAG), &ops)
        .await
        .unwrap();

    assert_eq!(
        updated.etag,
        Some(Etag::from("\"50014cc8-0000-0200-0000-6036eb720000\""))
    );
    let request = only_request(&server).await;
    assert_platform_headers(&request);
    assert_eq!(header(&request, "if-match"), Some(ETAG));
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    assert_eq!(
        body(&request),
        json!([
            {"op": "replace", "path": "/scheduleParams/frequency", "value": "day"},
            {"op": "replace", "path": "/transformations/1", "value": {"name": "Mapping", "params": {
                "mappingId": "c5f22f04e09f44498e528901546a83b1", "mappingVersion": "2"}}}
        ])
    );
}

#[tokio::test]
async fn delete_uses_the_flow_path() {
    let (server, client) = setup().await;
    Mock::given(method("DELETE"))
        .and(path(format!("{FLOW}/flows/{FLOW_ID}")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    delete_flow(&client, &FlowId::from(FLOW_ID)).await.unwrap();
    let request = only_request(&server).await;
    assert_platform_headers(&request);
    assert!(request.body.is_empty());
}
