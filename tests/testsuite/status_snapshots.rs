//! What users read from `provision status`: a healthy flow, a failing one and a module without a
//! flow, in human and JSON form, as insta snapshots. Ids, times and durations (they follow the
//! clock) are replaced by placeholders.

use crate::support::status as status_support;

use chrono::{Timelike, Utc};
use provision::emulator::EmulatorConfig;
use status_support::{text, Harness};

fn settings() -> insta::Settings {
    let mut s = crate::support::snapshot_settings();
    crate::support::id_filters(&mut s);
    s.add_filter(r"\b[0-9a-f]{8}\b", "[run]");
    s.add_filter(
        r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?( UTC|Z)",
        "[time]",
    );
    // With the padding after it, which varies with the duration's width.
    s.add_filter(r"\b\d+m \d+s +", "[duration]  ");
    s.add_filter(r#""duration_seconds": \d+"#, r#""duration_seconds": [n]"#);
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn status_output() {
    let h = Harness::managing(
        EmulatorConfig::default(),
        &["Leads", "Deals", "Tasks"],
        Utc::now(),
    )
    .await;
    let start = (h.now() - chrono::Duration::minutes(150))
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .expect("a valid time");
    h.create_managed_flows(&["Leads"], &["Email", "Deal_Name"], start)
        .await;
    h.create_managed_flows(&["Deals"], &["Owner", "Modified_Time"], start)
        .await;
    let run = |args: &[&str]| {
        let output = h
            .binary()
            .args(["status", h.profile_arg()])
            .args(args)
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        text(&output.stdout)
    };
    let s = settings();
    let human = run(&["--runs", "3"]);
    s.bind(|| insta::assert_snapshot!("status_human", human));
    let compact = run(&[]);
    s.bind(|| insta::assert_snapshot!("status_compact", compact));
    let json = run(&["--runs", "1", "--output", "json"]);
    s.bind(|| insta::assert_snapshot!("status_json", json));
}
