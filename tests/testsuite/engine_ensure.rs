//! The create path of a leased apply (`engine::ensure::ensure_leased`): a create that may have
//! committed is looked up before it is sent again, as often as the retry policy of the caller's
//! client allows.

use crate::support::api as api_support;

use std::collections::BTreeSet;
use std::time::Duration;

use api_support::*;
use provision::api::http::HttpOptions;
use provision::api::target::NewTargetConnection;
use provision::api::{AepClient, DatasetId};
use provision::engine::ensure::ensure_leased;
use provision::engine::kinds::target::Draft;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TARGETS: &str = "/data/foundation/flowservice/targetConnections";

/// A client of `server` with `max_attempts`, an overall `deadline` per call and short waits.
async fn client(server: &MockServer, max_attempts: u32, deadline: Duration) -> AepClient {
    mock_ims(server).await;
    let options = HttpOptions {
        max_attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        deadline,
        ..HttpOptions::default()
    };
    let url = url::Url::parse(&server.uri()).unwrap();
    AepClient::new(&adobe_at(&url), options).unwrap()
}

fn draft() -> Draft<'static> {
    Draft {
        body: NewTargetConnection {
            name: "p / Leads / target".into(),
            description: Some("managed by provision: p".into()),
            schema_id: "https://ns.adobe.com/acme/schemas/zoho_crm".into(),
            dataset_id: DatasetId::from("6889f4f89b982b2b90bc1208"),
        },
        prefix: "p",
        seen: BTreeSet::new(),
    }
}

async fn count(server: &MockServer, verb: &str) -> usize {
    api_requests(server)
        .await
        .iter()
        .filter(|r| r.method.as_str() == verb && r.url.path() == TARGETS)
        .count()
}

#[tokio::test]
async fn a_create_that_may_have_committed_is_looked_up_before_each_resend_until_the_deadline() {
    let server = MockServer::start().await;
    // Few attempts but a deadline: once a look-up shows the object absent, a resend is as safe
    // as a read, so it is the policy's deadline, not its attempt count, that ends the retries.
    let client = client(&server, 2, Duration::from_millis(300)).await;
    Mock::given(method("POST"))
        .and(path(TARGETS))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"title": "busy"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(TARGETS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": []})))
        .mount(&server)
        .await;

    let error = ensure_leased(&client, &draft())
        .await
        .expect_err("every create fails");

    assert_eq!(error.status, Some(503));
    let creates = count(&server, "POST").await;
    assert!(
        creates > 2,
        "resent past max_attempts until the deadline: {creates}"
    );
    assert_eq!(
        count(&server, "GET").await,
        creates,
        "a look-up before each resend"
    );
}

#[tokio::test]
async fn a_create_that_committed_without_an_answer_is_found_and_not_sent_again() {
    let server = MockServer::start().await;
    let client = client(&server, 5, Duration::from_secs(30)).await;
    Mock::given(method("POST"))
        .and(path(TARGETS))
        .respond_with(ResponseTemplate::new(504).set_body_json(json!({"title": "timeout"})))
        .mount(&server)
        .await;
    let committed = json!({"items": [{
        "id": "320f119a-5ac1-4ab1-88ea-eb19e674ea2e",
        "name": "p / Leads / target",
        "description": "managed by provision: p",
        "createdAt": 1_764_000_000_000_i64,
        "connectionSpec": {"id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c", "version": "1.0"},
        "data": {"format": "parquet_xdm", "schema": {
            "id": "https://ns.adobe.com/acme/schemas/zoho_crm",
            "version": "application/vnd.adobe.xed-full+json;version=1"
        }},
        "params": {"dataSetId": "6889f4f89b982b2b90bc1208"}
    }]});
    Mock::given(method("GET"))
        .and(path(TARGETS))
        .respond_with(ResponseTemplate::new(200).set_body_json(committed))
        .mount(&server)
        .await;

    let id = ensure_leased(&client, &draft())
        .await
        .expect("the committed create is found");

    assert_eq!(id.as_str(), "320f119a-5ac1-4ab1-88ea-eb19e674ea2e");
    assert_eq!(count(&server, "POST").await, 1);
}
