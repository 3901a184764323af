//! The command surface: help, usage errors (64), commands not implemented yet (1, never a silent
//! success), and that no command at any verbosity ever prints a secret.

use std::path::Path;

use assert_cmd::Command;
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const COMMANDS: [&str; 8] = [
    "apply", "plan", "destroy", "explore", "status", "check", "zoho", "emulator",
];

fn provision() -> Command {
    let mut cmd = Command::cargo_bin("provision").expect("binary");
    cmd.env_clear();
    cmd
}

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let output = provision().arg("--help").output().expect("run");
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for command in COMMANDS {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(command)),
            "`{command}` missing from:\n{help}"
        );
    }
    for text in [
        "--output",
        "--verbose",
        "--quiet",
        "RUST_LOG",
        "78  invalid profile",
        "64  usage error",
        "PROVISION_PROFILE",
    ] {
        assert!(help.contains(text), "`{text}` missing from:\n{help}");
    }
}

#[test]
fn every_command_has_help() {
    let commands: [&[&str]; 9] = [
        &["apply"],
        &["plan"],
        &["destroy"],
        &["explore"],
        &["status"],
        &["check"],
        &["zoho", "token"],
        &["zoho", "modules"],
        &["emulator"],
    ];
    for args in commands {
        let output = provision().args(args).arg("--help").output().expect("run");
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("Usage: provision"), "{args:?}: {help}");
        assert!(help.len() > 200, "{args:?} has too little help: {help}");
    }
}

#[test]
fn usage_errors_exit_64() {
    let cases: [&[&str]; 9] = [
        &["--bogus"],
        &["zoho", "token", "--code", "x", "--region", "mars"],
        &[
            "zoho",
            "token",
            "--code",
            "x",
            "--accounts-url",
            "http://accounts.example.com",
        ],
        &["apply", "--concurrency", "0"],
        &["plan", "--output", "yaml"],
        &["status", "--timeout", "soon"],
        &["zoho", "token"],
        &["nope"],
        &["-v", "-q", "plan"],
    ];
    for args in cases {
        let output = provision().args(args).output().expect("run");
        assert_eq!(
            output.status.code(),
            Some(64),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    let output = provision().output().expect("run");
    assert_eq!(
        output.status.code(),
        Some(64),
        "no command is a usage error"
    );
}

#[test]
fn version_exits_0() {
    let output = provision().arg("--version").output().expect("run");
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("provision "));
}

#[test]
fn a_profile_error_comes_before_anything_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("p.toml");
    std::fs::write(&profile, "[adobe]\norg_idd = \"x\"\n").expect("write");
    for command in ["apply", "plan", "destroy", "explore", "status", "check"] {
        let output = provision()
            .arg(command)
            .arg(&profile)
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(78), "{command}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("p.toml:2:1: adobe.org_idd"),
            "{command}: {stderr}"
        );
    }
}

/// A valid profile with distinctive secrets, every URL at `url`.
fn secret_profile(dir: &Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("secret.toml");
    let text = include_str!("../profiles/local.toml").replace("http://127.0.0.1:8080", url);
    std::fs::write(&path, text).expect("write");
    path
}

const SECRETS: [(&str, &str); 3] = [
    ("AEP_CLIENT_SECRET", "AEPSECRET-7f3a9c-do-not-print"),
    ("ZOHO_CLIENT_SECRET", "ZOHOSECRET-51bd2e-do-not-print"),
    (
        "ZOHO_REFRESH_TOKEN",
        "1000.REFRESHSECRET-c0ffee-do-not-print",
    ),
];
/// Tokens the mock services hand out; they must not be printed either.
const ISSUED: [&str; 3] = [
    "IMSACCESS-9d8e7f-do-not-print",
    "ZOHOACCESS-a1b2c3-do-not-print",
    "1000.ISSUEDREFRESH-ddee11-do-not-print",
];
const GRANT: &str = "1000.GRANTCODE-445566-do-not-print";

#[tokio::test(flavor = "multi_thread")]
async fn no_command_prints_a_secret_at_any_verbosity() {
    let server = MockServer::start().await;
    Mock::given(path("/ims/token/v3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ISSUED[0], "token_type": "bearer", "expires_in": 86399
        })))
        .mount(&server)
        .await;
    Mock::given(path("/oauth/v2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ISSUED[1], "refresh_token": ISSUED[2], "api_domain": server.uri(),
            "token_type": "Bearer", "expires_in": 3600
        })))
        .mount(&server)
        .await;
    // Everything else fails loudly, so commands that are implemented go through error paths too.
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "error_code": "1102-500", "message": "mock: no such endpoint"
        })))
        .with_priority(10)
        .mount(&server)
        .await;

    let dir = tempfile::tempdir().expect("tempdir");
    let profile = secret_profile(dir.path(), &server.uri());
    let profile = profile.to_str().expect("utf8 path");
    let token_file = dir.path().join("zoho.token");
    let token_file = token_file.to_str().expect("utf8 path");
    let commands: Vec<Vec<&str>> = vec![
        vec!["apply", profile, "--yes"],
        vec!["plan", profile],
        vec!["destroy", profile, "--yes"],
        vec!["explore", profile],
        vec!["explore", profile, "Leads", "--preview", "2"],
        vec!["status", profile],
        vec!["check", profile],
        vec!["zoho", "modules", profile],
        vec![
            "zoho",
            "token",
            profile,
            "--code",
            GRANT,
            "--client-secret-env",
            "ZOHO_CLIENT_SECRET",
            "--write",
            token_file,
            "--force",
        ],
    ];
    let verbosity: [(&[&str], Option<&str>); 6] = [
        (&["-q"], None),
        (&[], None),
        (&["-v"], None),
        (&["-vv"], None),
        (&["-vv", "--output", "json"], None),
        (&[], Some("trace")),
    ];
    let needles: Vec<&str> = SECRETS
        .iter()
        .map(|(_, v)| *v)
        .chain(ISSUED)
        .chain([GRANT])
        .collect();
    for args in &commands {
        for (flags, rust_log) in verbosity {
            let mut cmd = provision();
            cmd.envs(SECRETS)
                .args(flags)
                .args(args)
                .timeout(std::time::Duration::from_secs(60));
            if let Some(level) = rust_log {
                cmd.env("RUST_LOG", level);
            }
            let output = cmd.output().expect("run");
            let shown = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            let code = output.status.code();
            assert!(
                matches!(code, Some(0..=2)),
                "{args:?} {flags:?}: unexpected exit {code:?}: {shown}"
            );
            for needle in &needles {
                // `zoho token --show` is the one place a refresh token may be printed.
                assert!(
                    !shown.contains(needle),
                    "{args:?} {flags:?} RUST_LOG={rust_log:?} printed a secret:\n{shown}"
                );
            }
        }
    }
}

#[test]
fn commands_not_implemented_yet_fail_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = secret_profile(dir.path(), "http://127.0.0.1:9");
    let output = provision()
        .envs(SECRETS)
        .arg("plan")
        .arg(&profile)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("not implemented yet") {
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(output.stdout.is_empty());
    } else {
        // Once `plan` exists it must not succeed silently against an unreachable service.
        assert_ne!(output.status.code(), Some(0), "{stderr}");
    }
}
