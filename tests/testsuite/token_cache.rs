//! Zoho access tokens reused across commands (issue 18): the emulator throttles a refresh token
//! after ten refreshes in ten minutes, as Zoho does, so back-to-back commands must share one
//! token through the user's cache directory, which the harness points at its scratch directory.

use std::path::PathBuf;
use std::time::Duration;

use crate::support;
use support::cli::{Harness, Output, THREE_MODULES};

/// The files in the harness's token cache directory.
fn cache_files(h: &Harness) -> Vec<PathBuf> {
    match std::fs::read_dir(h.cache_home().join("provision")) {
        Ok(entries) => entries.map(|e| e.expect("an entry").path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn only_cache_file(h: &Harness) -> PathBuf {
    let files = cache_files(h);
    assert_eq!(files.len(), 1, "one cached token: {files:?}");
    files[0].clone()
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// A harness and the path of a three-module profile on it.
async fn started() -> (Harness, String) {
    let h = Harness::start().await;
    let profile = h.profile("p.toml", THREE_MODULES);
    let profile = profile.to_str().expect("a UTF-8 path").to_owned();
    (h, profile)
}

async fn check(h: &Harness, profile: &str, env: &[(&str, &str)]) -> Output {
    let out = h.run_env(&["check", profile], env).await;
    out.assert_exit(0);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn fifteen_commands_share_one_zoho_token_until_zoho_rejects_it() {
    let (h, profile) = started().await;
    let profile = profile.as_str();

    // More commands than Zoho allows refreshes in ten minutes: all succeed on one token.
    for i in 0..15 {
        let command = if i % 2 == 0 { "check" } else { "plan" };
        h.run(&[command, profile]).await.assert_exit(0);
    }
    assert_eq!(h.zoho_refreshes(), 1, "one refresh for fifteen commands");
    let out = check(&h, profile, &[]).await;
    assert!(
        out.stdout
            .contains("an access token the refresh token made in the us data centre"),
        "check says the token was cached: {}",
        out.stdout
    );

    let file = only_cache_file(&h);
    #[cfg(unix)]
    {
        assert_eq!(mode(&file), 0o600, "the token file is its owner's only");
        assert_eq!(mode(file.parent().expect("a directory")), 0o700);
    }
    let text = std::fs::read_to_string(&file).expect("the cache file");
    for secret in [
        support::ZOHO_REFRESH,
        support::ZOHO_SECRET,
        support::CLIENT_SECRET,
    ] {
        assert!(
            !text.contains(secret),
            "the cache file holds a secret: {text}"
        );
    }
    let entry: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let first_token = entry["access_token"].as_str().expect("a token").to_owned();
    assert!(entry["expires_at"].is_u64(), "{entry}");

    // An hour later the emulator no longer accepts the token: the CRM call's 401 drops it and
    // one refresh replaces it.
    h.emulator().advance_clock(Duration::from_secs(3601));
    h.clear_requests();
    check(&h, profile, &[]).await;
    let calls = support::cli::calls(&h.requests());
    assert_eq!(h.zoho_refreshes(), 1, "{calls:#?}");
    assert!(
        calls
            .iter()
            .any(|c| c == "GET /crm/v8/settings/modules -> 401"),
        "the old token was tried first: {calls:#?}"
    );
    let entry: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(only_cache_file(&h)).expect("read"))
            .expect("JSON");
    assert_ne!(
        entry["access_token"],
        first_token.as_str(),
        "a new token is cached"
    );
    h.clear_requests();
    check(&h, profile, &[]).await;
    assert_eq!(h.zoho_refreshes(), 0, "the new token is reused");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cache_can_be_turned_off_and_zoho_then_throttles() {
    let (h, profile) = started().await;
    let profile = profile.as_str();

    check(&h, profile, &[("PROVISION_NO_TOKEN_CACHE", "1")]).await;
    h.run(&["check", "--no-token-cache", profile])
        .await
        .assert_exit(0);
    assert_eq!(h.zoho_refreshes(), 2, "a refresh per command");
    assert!(cache_files(&h).is_empty(), "nothing written");

    // `PROVISION_NO_TOKEN_CACHE=0` keeps the cache on.
    check(&h, profile, &[("PROVISION_NO_TOKEN_CACHE", "0")]).await;
    check(&h, profile, &[]).await;
    assert_eq!(h.zoho_refreshes(), 3);
    assert_eq!(cache_files(&h).len(), 1);

    // Without the cache the eleventh refresh in ten minutes is refused, as Zoho refuses it.
    let mut last = None;
    for _ in 0..8 {
        last = Some(
            h.run(&["check", "--no-token-cache", profile, "--output", "json"])
                .await,
        );
    }
    let last = last.expect("a run");
    assert_eq!(last.code, 1, "{}", last.stderr);
    assert!(
        last.stdout.contains("throttling token requests"),
        "{}",
        last.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_or_shared_cache_file_is_ignored_and_replaced() {
    let (h, profile) = started().await;
    let profile = profile.as_str();
    check(&h, profile, &[]).await;
    let file = only_cache_file(&h);

    std::fs::write(&file, "{ not json").expect("write");
    check(&h, profile, &[]).await;
    assert_eq!(h.zoho_refreshes(), 2, "a broken file is ignored");
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.contains("access_token"), "and replaced: {text}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        check(&h, profile, &[]).await;
        assert_eq!(
            h.zoho_refreshes(),
            3,
            "a file others may read is not trusted"
        );
        assert_eq!(mode(&file), 0o600, "and is replaced by a private one");
    }

    // Another refresh token (another Zoho user of the same client) does not reuse the token.
    let out = h
        .run_env(
            &["check", profile],
            &[("ZOHO_REFRESH_TOKEN", "1000.someone.else")],
        )
        .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains("rejected zoho.refresh_token"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_home_no_cache_is_kept() {
    let (h, profile) = started().await;
    let profile = profile.as_str();
    for _ in 0..2 {
        let mut cmd = h.command();
        cmd.env_remove("XDG_CACHE_HOME").args(["check", profile]);
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("joins")
            .expect("runs");
        assert_eq!(out.status.code(), Some(0));
    }
    assert_eq!(h.zoho_refreshes(), 2, "no cache directory, no reuse");
    assert!(cache_files(&h).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_whose_cached_token_zoho_rejects_refreshes_once_for_all_its_crm_calls() {
    let (h, profile) = started().await;
    let profile = profile.as_str();
    h.run(&["plan", profile]).await.assert_exit(0);
    // An hour later the cached token is rejected by the module list and the three field lists,
    // which go out together: one refresh serves them all, and each is read once more.
    h.emulator().advance_clock(Duration::from_secs(3601));
    h.clear_requests();
    let out = h.run(&["plan", profile]).await;
    out.assert_exit(0);
    let calls = support::cli::calls(&h.requests());
    assert_eq!(h.zoho_refreshes(), 1, "{calls:#?}");
    let count = |call: &str| calls.iter().filter(|c| *c == call).count();
    assert_eq!(count("GET /crm/v8/settings/fields -> 401"), 3, "{calls:#?}");
    assert_eq!(count("GET /crm/v8/settings/fields -> 200"), 3, "{calls:#?}");
    assert_eq!(
        count("GET /crm/v8/settings/modules -> 200"),
        1,
        "{calls:#?}"
    );
    assert!(out.stdout.contains("Leads"), "{}", out.stdout);
}
