//! Dataflow runs (docs/aep-api.md#runs).

use crate::support::api as api_support;

use api_support::*;
use provision::api::runs::{list_recent_runs, list_runs, list_runs_query};
use provision::api::{Etag, FlowId, Query, RunId};
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

const F1: &str = "f00c8762-df2f-432b-a7d7-38999fef5e8e";
const F2: &str = "3abea21c-7e36-4be1-bec1-d3bad0e3e0de";

/// A successful run in the docs' spelling.
fn docs_run(id: &str, flow: &str) -> serde_json::Value {
    json!({
        "id": id, "flowId": flow,
        "createdAt": 1_607_520_228_894_i64, "updatedAt": 1_607_520_276_948_i64,
        "etag": "\"560266dc-0000-0200-0000-5fd0d0140000\"",
        "metrics": {
            "durationSummary": {"startedAtUTC": 1_607_520_205_922_i64, "completedAtUTC": 1_607_520_262_413_i64},
            "sizeSummary": {"inputBytes": 87885, "outputBytes": 56730},
            "recordSummary": {"inputRecordCount": 26758, "outputRecordCount": 26758, "failedRecordCount": 0},
            "fileSummary": {"inputFileCount": 11, "outputFileCount": 11, "activityRefs": ["37b34f84"]},
            "statusSummary": {"status": "success"}
        },
        "activities": [
            {"id": "a1", "name": "Copy Activity", "durationSummary": {}, "recordSummary": {},
             "statusSummary": {"status": "success"}},
            {"id": "a2", "name": "Promotion Activity",
             "fileSummary": {"extensions": {"manifest": {"fileInfo": "https://platform.adobe.io/x"}}}}
        ]
    })
}

/// A failed run in the OpenAPI spelling (`activites`, `eTag`), status capitalised.
fn spec_run(id: &str, flow: &str) -> serde_json::Value {
    json!({
        "id": id, "flowId": flow,
        "createdAt": 1_607_520_300_000_i64,
        "eTag": "\"e-spec\"",
        "metrics": {
            "durationSummary": {"startedAtUTC": 1_607_520_300_000_i64},
            "recordSummary": {"inputRecordCount": 10, "outputRecordCount": 7, "failedRecordCount": 3},
            "statusSummary": {"status": "Failed", "errors": [
                {"code": "CONNECTOR-2001-500", "message": "Something went wrong"}
            ]}
        },
        "activites": [
            {"id": "b1", "name": "Copy Activity", "statusSummary": {"status": "failed", "extensions": {
                "errors": [{"code": "MAPPER-3700-400", "message": "bad value", "recordCount": 3}]
            }}}
        ]
    })
}

#[tokio::test]
async fn one_filtered_query_lists_the_runs_of_many_flows_across_pages() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/runs")))
        .and(query_param("continuationToken", "next-page"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [docs_run("r3", F1)], "_links": {}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/runs")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [docs_run("r1", F1), spec_run("r2", F2)],
            "_links": {"next": {"href": "/runs?continuationToken=next-page"}}
        })))
        .expect(1)
        .mount(&server)
        .await;

    let runs = list_runs(
        &client,
        &[FlowId::from(F1), FlowId::from(F2)],
        Some(10),
        Some("-createdAt"),
    )
    .await
    .unwrap();

    let requests = api_requests(&server).await;
    assert_eq!(requests.len(), 2);
    assert_platform_headers(&requests[0]);
    assert_eq!(
        query_sorted(&requests[0]),
        pairs(&[
            ("property", &format!("flowId=={F1},{F2}")),
            ("orderby", "-createdAt"),
            ("limit", "10")
        ])
    );
    let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["r1", "r2", "r3"]);

    let ok = &runs[0];
    assert_eq!(ok.status(), Some("success"));
    assert!(ok.is_finished() && !ok.is_failed());
    assert_eq!(
        ok.etag,
        Some(Etag::from("\"560266dc-0000-0200-0000-5fd0d0140000\""))
    );
    assert_eq!(ok.metrics.record_summary.input_record_count, Some(26758));
    assert_eq!(ok.started_at(), Some(1_607_520_205_922));
    assert_eq!(ok.completed_at(), Some(1_607_520_262_413));
    assert_eq!(ok.activities.len(), 2);
    assert!(ok.errors().is_empty());

    let failed = &runs[1];
    assert_eq!(failed.id, RunId::from("r2"));
    assert_eq!(failed.flow_id, FlowId::from(F2));
    assert_eq!(failed.status(), Some("failed"));
    assert!(failed.is_finished() && failed.is_failed());
    assert_eq!(failed.etag, Some(Etag::from("\"e-spec\"")));
    assert_eq!(failed.completed_at(), None);
    assert_eq!(failed.metrics.record_summary.failed_record_count, Some(3));
    assert_eq!(failed.activities.len(), 1);
    let codes: Vec<&str> = failed
        .errors()
        .iter()
        .filter_map(|e| e.code.as_deref())
        .collect();
    assert_eq!(codes, ["CONNECTOR-2001-500", "MAPPER-3700-400"]);
}

#[tokio::test]
async fn unknown_and_in_progress_statuses_are_kept_and_not_finished() {
    let (server, client) = setup().await;
    let mut running = docs_run("r1", F1);
    running["metrics"]["statusSummary"]["status"] = json!("inProgress");
    let mut odd = docs_run("r2", F1);
    odd["metrics"]["statusSummary"]["status"] = json!("SOMETHING_NEW");
    let mut bare = docs_run("r3", F1);
    bare["metrics"] = json!(null);
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/runs")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"items": [running, odd, bare]})),
        )
        .mount(&server)
        .await;
    let runs = list_runs(&client, &[FlowId::from(F1)], None, None)
        .await
        .unwrap();
    assert_eq!(runs[0].status(), Some("in_progress"));
    assert_eq!(runs[1].status(), Some("something_new"));
    assert_eq!(runs[2].status(), None);
    assert!(runs.iter().all(|r| !r.is_finished()));
    assert_eq!(
        query(&only_request(&server).await),
        [("property".into(), format!("flowId=={F1}"))]
    );
}

#[tokio::test]
async fn a_malformed_run_is_a_decode_error_naming_it() {
    let (server, client) = setup().await;
    let mut broken = docs_run("r-bad", F1);
    broken["metrics"]["recordSummary"]["inputRecordCount"] = json!("many");
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/runs")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"items": [docs_run("r1", F1), broken]})),
        )
        .mount(&server)
        .await;
    let err = list_runs(&client, &[FlowId::from(F1)], None, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind, provision::api::error::ApiErrorKind::Decode);
    assert!(err.message.contains("run #1 (id r-bad)"), "{}", err.message);
    assert!(err.to_string().starts_with("GET /runs failed"), "{err}");
}

#[tokio::test]
async fn many_flows_are_split_into_queries_whose_id_list_fits_in_4_kib() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/runs")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": []})))
        .expect(3)
        .mount(&server)
        .await;
    // Flow ids are UUIDs: 36 characters, 37 with the comma, so 110 fit in 4 KiB.
    let flows: Vec<FlowId> = (0..250)
        .map(|i| FlowId::from(format!("{i:08x}-1111-4222-8333-444455556666")))
        .collect();
    list_runs(&client, &flows, None, None).await.unwrap();
    let requests = api_requests(&server).await;
    let lists: Vec<String> = requests
        .iter()
        .map(|r| query(r)[0].1.trim_start_matches("flowId==").to_owned())
        .collect();
    let sizes: Vec<usize> = lists.iter().map(|l| l.split(',').count()).collect();
    assert_eq!(sizes, [110, 110, 30]);
    assert!(lists.iter().all(|l| l.len() <= 4096), "{sizes:?}");
}

#[tokio::test]
async fn no_flows_means_no_request() {
    let (server, client) = setup().await;
    assert!(list_runs(&client, &[], None, None)
        .await
        .unwrap()
        .is_empty());
    assert!(list_recent_runs(&client, &[], 3).await.unwrap().is_empty());
    assert!(api_requests(&server).await.is_empty());
}

#[tokio::test]
async fn recent_runs_stop_paging_once_every_flow_has_enough() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/runs")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [docs_run("a1", F1), docs_run("b1", F2), docs_run("a2", F1), docs_run("a3", F1)],
            "_links": {"next": {"href": "/runs?continuationToken=older"}}
        })))
        .expect(1)
        .mount(&server)
        .await;

    let runs = list_recent_runs(&client, &[FlowId::from(F1), FlowId::from(F2)], 1)
        .await
        .unwrap();

    let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["a1", "b1"]);
    let request = only_request(&server).await;
    assert_eq!(
        query_sorted(&request),
        pairs(&[
            ("orderby", "-createdAt"),
            ("limit", "2"),
            ("property", &format!("flowId=={F1},{F2}")),
        ])
    );
}

#[tokio::test]
async fn recent_runs_follow_pages_while_a_flow_is_short() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/runs")))
        .and(query_param("continuationToken", "older"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [docs_run("b1", F2)], "_links": {"next": {"href": "/runs?continuationToken=oldest"}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/runs")))
        .and(query_param("property", format!("flowId=={F1},{F2}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [docs_run("a1", F1), docs_run("a2", F1)],
            "_links": {"next": {"href": "/runs?continuationToken=older"}}
        })))
        .expect(1)
        .mount(&server)
        .await;

    let runs = list_recent_runs(&client, &[FlowId::from(F1), FlowId::from(F2)], 1)
        .await
        .unwrap();

    let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["a1", "b1"]);
    assert_eq!(api_requests(&server).await.len(), 2);
}

#[tokio::test]
async fn custom_run_queries_pass_through() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOW}/runs")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"items": [spec_run("r", F1)]})),
        )
        .mount(&server)
        .await;
    let query_in = Query::new().property_eq("flowId", &[F1]).param(
        "property",
        "metrics.durationSummary.startedAtUTC>1593134665781",
    );
    let runs = list_runs_query(&client, &query_in).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        query(&only_request(&server).await),
        [
            ("property".into(), format!("flowId=={F1}")),
            (
                "property".into(),
                "metrics.durationSummary.startedAtUTC>1593134665781".into()
            )
        ]
    );
}
