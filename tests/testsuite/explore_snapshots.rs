//! What users read from `provision explore`: the module list and one module's columns and sample
//! rows (the emulator's seeded org is deterministic), as insta snapshots.

use crate::support::status as status_support;

use provision::emulator::EmulatorConfig;
use status_support::{text, Harness};

fn settings() -> insta::Settings {
    crate::support::snapshot_settings()
}

#[tokio::test(flavor = "multi_thread")]
async fn explore_output() {
    let h = Harness::managing(
        EmulatorConfig::default(),
        &["Leads", "Deals"],
        chrono::Utc::now(),
    )
    .await;
    h.base_connection().await;
    let run = |args: &[&str]| {
        let output = h
            .binary()
            .args(["explore", h.profile_arg()])
            .args(args)
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        text(&output.stdout)
    };
    let s = settings();
    let modules = run(&[]);
    s.bind(|| insta::assert_snapshot!("explore_modules_human", modules));
    let deals = run(&["Deals", "--preview", "3"]);
    s.bind(|| insta::assert_snapshot!("explore_deals_preview_human", deals));
    let json = run(&["Deals", "--preview", "2", "--output", "json"]);
    s.bind(|| insta::assert_snapshot!("explore_deals_preview_json", json));
}
