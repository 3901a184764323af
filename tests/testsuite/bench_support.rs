//! The benchmark's pure helpers (benches/support), which `cargo test` does not reach through the
//! bench target itself (harness = false runs the whole benchmark).

// It includes `support/profile.rs`, which this crate also has as `crate::support::profile`.
#[path = "../../benches/support/mod.rs"]
#[allow(dead_code, clippy::duplicate_mod)]
mod support;

use std::collections::HashMap;
use std::path::Path;

use chrono::TimeZone;
use provision::emulator::RecordedRequest;
use provision::profile::{Mapping, Schedule};
use support::*;

fn request(method: &str, path: &str, time: &str) -> RecordedRequest {
    RecordedRequest {
        method: method.into(),
        path: path.into(),
        query: None,
        status: 200,
        body: None,
        headers: Vec::new(),
        time: time.into(),
        request_id: String::new(),
        response_bytes: 0,
    }
}

#[test]
fn the_generated_profile_loads_with_one_explicitly_mapped_created_dataset_per_module() {
    let now = chrono::Utc
        .with_ymd_and_hms(2026, 11, 29, 17, 40, 0)
        .unwrap();
    let text = profile_toml(50, "http://127.0.0.1:4242", "bench-50", now);
    let env: HashMap<String, String> = [
        ("AEP_CLIENT_SECRET", "a"),
        ("ZOHO_CLIENT_SECRET", "z"),
        ("ZOHO_REFRESH_TOKEN", "r"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let profile = provision::profile::parse(&text, Path::new("bench-50.toml"), &env)
        .unwrap_or_else(|e| panic!("the bench profile is valid: {e}\n{text}"));

    assert_eq!(profile.connection.name, "bench-50");
    assert_eq!(profile.dataflows.len(), 50);
    let modules: Vec<_> = profile
        .dataflows
        .iter()
        .map(|d| d.module.as_str())
        .collect();
    assert_eq!(modules[0], "CustomModule1");
    assert_eq!(modules[49], "CustomModule50");
    for flow in &profile.dataflows {
        let Mapping::Explicit(rules) = &flow.mapping else {
            panic!("{} has no explicit mapping", flow.module);
        };
        let sources: Vec<_> = rules.iter().map(|r| r.source.as_str()).collect();
        assert_eq!(sources, ["Name", "Email", "Status", "Score"]);
        assert_eq!(flow.delta_column, "Modified_Time");
        assert!(
            matches!(&flow.dataset, provision::profile::DatasetTarget::Create { name } if name == &format!("bench-50 {}", flow.module)),
            "{:?}",
            flow.dataset
        );
        let Schedule { start, .. } = &flow.schedule;
        assert_eq!(*start, now - chrono::Duration::hours(2));
    }
}

#[test]
fn token_requests_and_validation_are_not_writes_but_creates_patches_and_deletes_are() {
    assert!(!is_write("POST", "/ims/token/v3"));
    assert!(!is_write("POST", "/oauth/v2/token"));
    assert!(!is_write(
        "POST",
        "/data/foundation/conversion/mappingSets/validate"
    ));
    assert!(!is_write("GET", "/data/foundation/flowservice/flows"));
    assert!(is_write("POST", "/data/foundation/flowservice/flows"));
    assert!(is_write("PATCH", "/data/foundation/flowservice/flows/abc"));
    assert!(is_write(
        "DELETE",
        "/data/foundation/flowservice/connections/abc"
    ));
    assert!(is_write("POST", "/data/foundation/catalog/dataSets"));
}

#[test]
fn counts_group_requests_by_endpoint_with_ids_replaced() {
    let log = [
        request("POST", "/ims/token/v3", "2026-01-01T00:00:00.000Z"),
        request(
            "GET",
            "/data/foundation/flowservice/flows/6d3a2b1c-1111-2222-3333-444455556666",
            "2026-01-01T00:00:00.000Z",
        ),
        request(
            "GET",
            "/data/foundation/flowservice/flows/0aa3a2b1c-1111-2222-3333-444455556666",
            "2026-01-01T00:00:00.000Z",
        ),
        request(
            "POST",
            "/data/foundation/flowservice/flows",
            "2026-01-01T00:00:00.000Z",
        ),
    ];
    let counts = count(&log);
    assert_eq!(counts.requests, 4);
    assert_eq!(counts.writes, 1);
    assert_eq!(counts.gets, 2);
    assert_eq!(
        counts.by_endpoint[0],
        ("GET /data/foundation/flowservice/flows/{id}".to_owned(), 2)
    );
    assert_eq!(
        endpoint("/data/foundation/schemaregistry/tenant/schemas/https%3A%2F%2Fns"),
        "/data/foundation/schemaregistry/tenant/schemas/{id}"
    );
}

#[test]
fn levels_count_requests_that_waited_for_an_answer_and_not_those_in_flight_together() {
    // Three at once, then two that followed them, then one more: 3 levels deep.
    let times = [0, 1, 2, 52, 53, 105];
    assert_eq!(levels(&times, 50), 3);
    // Strictly one after another: every request is a level.
    let sequential: Vec<i64> = (0..10).map(|i| i * 51).collect();
    assert_eq!(levels(&sequential, 50), 10);
    // Arrival order in the log does not matter; an empty log has no depth.
    assert_eq!(levels(&[105, 0, 52], 50), 3);
    assert_eq!(levels(&[], 50), 0);
}

#[test]
fn arrival_times_are_read_from_the_log() {
    let log = [
        request("GET", "/a", "2026-01-01T00:00:00.050Z"),
        request("GET", "/b", "not a time"),
    ];
    assert_eq!(
        arrivals_ms(&log),
        [chrono::Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .unwrap()
            .timestamp_millis()
            + 50]
    );
}

#[test]
fn the_lower_bound_is_the_longer_of_the_chain_and_the_throughput_limit() {
    // 6 requests deep, 310 requests at 8 in flight: throughput bound 1937.5 ms.
    assert_eq!(lower_bound_ms(6, 310, 50, 8), 1937.5);
    // 10 requests at 8 in flight cannot beat a 3-deep chain.
    assert_eq!(lower_bound_ms(3, 10, 50, 8), 150.0);
    // Sequential: every request waits.
    assert_eq!(lower_bound_ms(6, 310, 50, 1), 15_500.0);
}

#[test]
fn lists_longer_than_a_page_add_requests_to_the_chain() {
    // Continuation links: a page per 100; offsets: a short page ends the walk.
    assert_eq!(linked_pages(0, 100), 1);
    assert_eq!(linked_pages(100, 100), 1);
    assert_eq!(linked_pages(101, 100), 2);
    assert_eq!(offset_pages(99, 100), 1);
    assert_eq!(offset_pages(100, 100), 2);
    assert_eq!(offset_pages(200, 50), 5);
    // No-op: token, base connections, source connections while nothing pages.
    assert_eq!(critical_path(Step::NoopApply, 10), 3);
    // At 200 the 100-a-page dataset list (3 requests: two full pages, then an empty one) is
    // the longest chain; Flow Service and Data Prep lists fit in one page of 1000.
    assert_eq!(critical_path(Step::NoopApply, 200), 4);
    assert_eq!(
        critical_path(Step::FreshApply, 10),
        critical_path(Step::FreshApply, 200)
    );
    // Status: token, flows (one page at 200), runs of 110 + 90 flows at once (330 backfill
    // runs asked in one page).
    assert_eq!(critical_path(Step::Status, 200), 3);
    assert_eq!(critical_path(Step::Status, 10), 3);
}

#[test]
fn follow_up_pages_carry_a_continuation_token_or_an_offset() {
    assert!(is_follow_up_page(Some("continuationToken=7b22")));
    assert!(is_follow_up_page(Some("limit=100&start=100")));
    assert!(!is_follow_up_page(Some("limit=100&start=0")));
    assert!(!is_follow_up_page(Some("property=name==x&limit=100")));
    assert!(!is_follow_up_page(None));
    let mut page = request(
        "GET",
        "/data/foundation/flowservice/flows",
        "2026-01-01T00:00:00Z",
    );
    page.query = Some("continuationToken=abc".into());
    assert_eq!(count(&[page]).follow_up_pages, 1);
}

#[test]
fn peak_rss_is_read_from_proc_status_and_absent_for_a_zombie() {
    let status =
        "Name:\tprovision\nVmPeak:\t  123456 kB\nVmHWM:\t   14368 kB\nVmRSS:\t   12000 kB\n";
    assert_eq!(vm_hwm_kb(status), Some(14_368));
    assert_eq!(vm_hwm_kb("Name:\tprovision\nState:\tZ (zombie)\n"), None);
}
