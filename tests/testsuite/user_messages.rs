//! Issue 18's wording and log fixes, as a user sees them: a wrong org is blamed on `adobe.org_id`,
//! an empty variable is called empty, and every `-v` request line names each field once.

use std::collections::BTreeMap;

use crate::support;
use support::cli::{Harness, THREE_MODULES};

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_org_id_is_blamed_on_adobe_org_id() {
    let h = Harness::start().await;
    let profile = h.profile("p.toml", THREE_MODULES);
    let out = h
        .run_env(
            &["check", profile.to_str().expect("a UTF-8 path")],
            &[(
                "PROVISION_ADOBE__ORG_ID",
                "1111111111111111111111AA@AdobeOrg",
            )],
        )
        .await;
    out.assert_exit(1);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("org_sandbox"))
        .unwrap_or_else(|| panic!("an org_sandbox line: {}", out.stdout));
    assert!(line.contains("403025"), "{line}");
    // The hint starts with the key to fix, before anything about the Developer Console.
    let hint = line
        .split_once("); ")
        .expect("a hint after the request id")
        .1;
    assert!(hint.starts_with("check adobe.org_id: "), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_variable_set_but_empty_is_called_empty() {
    let h = Harness::start().await;
    let profile = h.profile("p.toml", THREE_MODULES);
    let profile = profile.to_str().expect("a UTF-8 path");
    h.clear_requests();
    for (var, key) in [
        ("AEP_CLIENT_SECRET", "adobe.client_secret"),
        ("ZOHO_REFRESH_TOKEN", "zoho.refresh_token"),
    ] {
        let out = h.run_env(&["plan", profile], &[(var, "")]).await;
        out.assert_exit(78);
        assert!(
            out.stderr.contains(&format!(
                "{key}: environment variable {var} is set but empty; export {var} with the value"
            )),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("set it to"), "{}", out.stderr);
        assert!(h.requests().is_empty(), "nothing sent");
    }
    // An override set but empty is named too.
    let out = h
        .run_env(&["plan", profile], &[("PROVISION_ADOBE__SANDBOX", "")])
        .await;
    out.assert_exit(78);
    assert!(
        out.stderr.contains(
            "adobe.sandbox: environment variable PROVISION_ADOBE__SANDBOX is set but empty"
        ),
        "{}",
        out.stderr
    );
    // A value written empty in the file is still "empty", with the way to fill it.
    let text = std::fs::read_to_string(profile)
        .expect("read")
        .replace("client_id     = \"1000.LOCALCLIENT\"", "client_id = \"\"");
    let literal = h.profile_text("literal.toml", &text);
    let out = h
        .run(&["plan", literal.to_str().expect("a UTF-8 path")])
        .await;
    out.assert_exit(78);
    assert!(
        out.stderr.contains("zoho.client_id: must not be empty"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verbose_request_lines_name_each_field_once() {
    let h = Harness::start().await;
    let profile = h.profile("p.toml", THREE_MODULES);
    let profile = profile.to_str().expect("a UTF-8 path");
    // check calls IMS, Zoho's token endpoint and CRM API and the platform; apply writes. The
    // second run finds the Zoho token in the cache, so the first one must log the refresh.
    let mut stderr = String::new();
    for args in [
        ["-v", "check", profile, ""],
        ["-v", "apply", "--yes", profile],
    ] {
        let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
        let out = h.run(&args).await;
        out.assert_exit(0);
        stderr.push_str(&out.stderr);
    }
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(" INFO ") && l.contains("status="))
        .collect();
    for service in [
        "/oauth/v2/token",
        "/ims/token/v3",
        "/crm/v8/settings",
        "/data/foundation/",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(service)),
            "no -v line for {service}: {stderr}"
        );
    }
    for line in &lines {
        let mut seen = BTreeMap::new();
        for word in [
            "status=",
            "elapsed_ms=",
            "request_id=",
            "method=",
            "path=",
            "attempt=",
        ] {
            seen.insert(word, line.matches(word).count());
        }
        assert!(seen.values().all(|n| *n <= 1), "a repeated field: {line}");
        let path = line
            .split_whitespace()
            // The call's path (its query may hold `=`), not a `field=` carrying a slash.
            .find(|w| w.contains('/') && !w.split('/').next().unwrap_or("").contains('='))
            .unwrap_or_else(|| panic!("the call: {line}"));
        assert_eq!(line.matches(path).count(), 1, "the path twice: {line}");
    }
}
