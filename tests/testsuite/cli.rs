//! The command surface: help, usage errors (64), a command that cannot reach its service never
//! succeeds silently, and no command at any verbosity ever prints a secret: not on success
//! against the emulator, not with wrong credentials, not when the services fail.

use crate::support;

use std::path::Path;

use assert_cmd::Command;
use serde_json::json;
use support::cli::{Harness, THREE_MODULES};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const COMMANDS: [&str; 14] = [
    "apply",
    "plan",
    "destroy",
    "import",
    "explore",
    "status",
    "run",
    "retry",
    "check",
    "init",
    "completions",
    "zoho",
    "emulator",
    "profile-schema",
];

/// The commands that read a profile, with the flags each needs besides it.
const PROFILE_COMMANDS: [&[&str]; 9] = [
    &["apply"],
    &["plan"],
    &["destroy"],
    &["explore"],
    &["status"],
    &["check"],
    &["run"],
    &["retry"],
    &["import", "--base-connection", "c0ffee"],
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
    let top: Vec<&[&str]> = COMMANDS.iter().map(std::slice::from_ref).collect();
    let zoho: [&[&str]; 2] = [&["zoho", "token"], &["zoho", "modules"]];
    for args in top.into_iter().chain(zoho) {
        let output = provision().args(args).arg("--help").output().expect("run");
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("Usage: provision"), "{args:?}: {help}");
        assert!(help.len() > 200, "{args:?} has too little help: {help}");
    }
}

#[test]
fn usage_errors_exit_64() {
    let cases: [&[&str]; 10] = [
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
        &["status", "--timeout", "5m"],
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
    for command in PROFILE_COMMANDS {
        let output = provision()
            .args(command)
            .arg(&profile)
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(78), "{command:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("p.toml:2:1: adobe.org_idd"),
            "{command:?}: {stderr}"
        );
    }
}

/// A valid profile with distinctive secrets, every URL at `url`.
fn secret_profile(dir: &Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("secret.toml");
    let text = include_str!("../../profiles/local.toml").replace("http://127.0.0.1:8080", url);
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

/// -q, the default, -v, -vv, -vv with JSON output, and `RUST_LOG=trace` (which overrides the
/// flags and shows every dependency's logs too).
const VERBOSITY: [(&[&str], Option<&str>); 6] = [
    (&["-q"], None),
    (&[], None),
    (&["-v"], None),
    (&["-vv"], None),
    (&["-vv", "--output", "json"], None),
    (&[], Some("trace")),
];

/// Zoho's window for counting a refresh token's refreshes (docs/zoho-oauth.md#limits), and a bit.
const ZOHO_REFRESH_WINDOW: std::time::Duration = std::time::Duration::from_secs(601);

/// Every IMS access token the emulator issues starts with this JWT header.
const EMULATOR_IMS_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsIng1dSI6Imltc19uYTEta2V5LWF0LTEuY2VyIn0.";

/// The first Zoho credential in `text` shaped like those the emulator issues (grant codes,
/// access and refresh tokens): `1000.`, 32 hex digits, a dot, 32 hex digits.
fn zoho_token_in(text: &str) -> Option<&str> {
    let hex = |s: &str| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
    text.match_indices("1000.").find_map(|(at, _)| {
        let candidate = text.get(at..at + 70)?;
        let rest = &candidate[5..];
        (hex(&rest[..32]) && &rest[32..33] == "." && hex(&rest[33..])).then_some(candidate)
    })
}

/// Fails when stdout or stderr holds one of `secrets`, an IMS token or a Zoho token.
fn assert_no_secret(run: &str, out: &support::cli::Output, secrets: &[&str]) {
    let shown = format!("{}\n{}", out.stdout, out.stderr);
    for secret in secrets {
        assert!(
            !shown.contains(secret),
            "{run} printed {secret:?}:\n{shown}"
        );
    }
    assert!(
        !shown.contains(EMULATOR_IMS_TOKEN),
        "{run} printed an IMS token:\n{shown}"
    );
    if let Some(token) = zoho_token_in(&shown) {
        panic!("{run} printed the Zoho token {token}:\n{shown}");
    }
}

/// A file a command wrote, as an [`assert_no_secret`] input: it must not hold one either.
fn as_printed(path: &Path) -> support::cli::Output {
    let text = std::fs::read_to_string(path).expect("the file is written");
    support::cli::Output {
        code: 0,
        stdout: text,
        stderr: String::new(),
    }
}

/// The runs of one pass: the flags, then the command's arguments.
fn runs<'a>(flags: &[&'a str], commands: &[Vec<&'a str>]) -> Vec<Vec<&'a str>> {
    commands
        .iter()
        .map(|args| flags.iter().chain(args).copied().collect())
        .collect()
}

/// The environment of one run: the `wrong` credentials, and `RUST_LOG` when given.
fn env<'a>(wrong: &[(&'a str, &'a str)], rust_log: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    wrong
        .iter()
        .copied()
        .chain(rust_log.map(|l| ("RUST_LOG", l)))
        .collect()
}

/// Runs `commands` at `verbosity` with the right credentials: each exits 0 and prints none of
/// `secrets`.
async fn succeed(
    h: &Harness,
    (flags, rust_log): (&[&str], Option<&str>),
    commands: &[Vec<&str>],
    secrets: &[&str],
) {
    for args in runs(flags, commands) {
        let out = h.run_env(&args, &env(&[], rust_log)).await;
        let run = format!("{args:?} RUST_LOG={rust_log:?}");
        assert_eq!(out.code, 0, "{run}\n{}{}", out.stdout, out.stderr);
        assert_no_secret(&run, &out, secrets);
    }
}

/// Runs `commands` at `verbosity` with the `wrong` credentials: each exits 1 and prints none of
/// `secrets`.
async fn fail(
    h: &Harness,
    (flags, rust_log): (&[&str], Option<&str>),
    commands: &[Vec<&str>],
    wrong: &[(&str, &str)],
    secrets: &[&str],
) {
    for args in runs(flags, commands) {
        let out = h.run_env(&args, &env(wrong, rust_log)).await;
        let run = format!("{args:?} with {wrong:?} RUST_LOG={rust_log:?}");
        assert_eq!(out.code, 1, "{run}\n{}{}", out.stdout, out.stderr);
        assert_no_secret(&run, &out, secrets);
    }
}

/// [`THREE_MODULES`] with Leads scheduled `once`, so that `run --module Leads` starts a run.
fn leads_once() -> String {
    let leads = "module  = \"Leads\"";
    THREE_MODULES.replacen(leads, &format!("{leads}\n{}", crate::operate::ONCE), 1)
}

/// Long enough in emulated time for a run started now to have finished.
const RUN_TIME: std::time::Duration = std::time::Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread")]
async fn no_command_prints_a_secret_on_success_at_any_verbosity() {
    let h = Harness::start().await;
    // The shapes looked for are the shapes the emulator really issues.
    assert!(h.env.token.starts_with(EMULATOR_IMS_TOKEN));
    assert!(zoho_token_in(&h.emulator().mint_grant_code()).is_some());
    let profile = h.profile("profile.toml", &leads_once());
    let profile = profile.to_str().expect("a UTF-8 path");
    let token_file = h.dir.path().join("zoho.token");
    let token_file = token_file.to_str().expect("a UTF-8 path");
    let init_file = h.dir.path().join("init.toml");
    let mut init = crate::init::flags(init_file.to_str().expect("a UTF-8 path"), &["Leads"]);
    init.push("--force");
    let seed_secrets = [
        support::CLIENT_SECRET,
        support::ZOHO_SECRET,
        support::ZOHO_REFRESH,
    ];
    for verbosity in VERBOSITY {
        // Zoho allows about 10 refreshes per refresh token per 10 minutes; each pass makes a few.
        h.emulator().advance_clock(ZOHO_REFRESH_WINDOW);
        let code = h.emulator().mint_grant_code();
        // A full cycle at each verbosity, so creates and deletes are logged at each.
        let commands = vec![
            vec!["apply", profile, "--yes"],
            vec!["plan", profile],
            vec!["explore", profile],
            vec!["explore", profile, "Leads", "--preview", "2"],
            vec!["check", profile],
            vec!["zoho", "modules", profile],
            vec![
                "zoho", "token", profile, "--code", &code, "--write", token_file, "--force",
            ],
        ];
        succeed(&h, verbosity, &commands, &seed_secrets).await;
        // Zoho refuses the token the base connection now holds: the run started fails, so
        // that `status` shows a run's errors and `retry` re-triggers it.
        h.set_base_refresh_token("1000.revoked").await;
        let run = vec!["run", profile, "--module", "Leads"];
        succeed(&h, verbosity, &[run], &seed_secrets).await;
        h.emulator().advance_clock(RUN_TIME);
        h.clear_requests();
        let commands = vec![
            vec!["status", profile],
            vec!["retry", profile],
            init.clone(),
            vec!["destroy", profile, "--yes"],
        ];
        succeed(&h, verbosity, &commands, &seed_secrets).await;
        let retriggered = h
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.query.as_deref() == Some("op=re-trigger"));
        assert!(retriggered, "retry left the failed run alone");
        // The refresh token went to the file (and the check above would have caught it).
        let written = std::fs::read_to_string(token_file).expect("the token file");
        assert!(zoho_token_in(&written).is_some(), "{written}");
        // init writes the secrets as ${...} placeholders, never their values.
        assert_no_secret("init's profile", &as_printed(&init_file), &seed_secrets);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_command_prints_a_secret_when_credentials_are_wrong() {
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    let profile = profile.to_str().expect("a UTF-8 path");
    let token_file = h.dir.path().join("zoho.token");
    let token_file = token_file.to_str().expect("a UTF-8 path");
    let init_file = h.dir.path().join("init.toml");
    let init = crate::init::flags(init_file.to_str().expect("a UTF-8 path"), &["Leads"]);
    let wrong_adobe = [SECRETS[0]];
    let wrong_zoho = [SECRETS[1], SECRETS[2]];
    let secrets: Vec<&str> = SECRETS
        .iter()
        .map(|(_, v)| *v)
        .chain([GRANT, support::ZOHO_REFRESH])
        .collect();
    for (flags, rust_log) in VERBOSITY {
        h.emulator().advance_clock(ZOHO_REFRESH_WINDOW);
        let code = h.emulator().mint_grant_code();
        let token = |code| {
            vec![
                "zoho", "token", profile, "--code", code, "--write", token_file, "--force",
            ]
        };
        // IMS refuses the Adobe secret: every AEP command fails before its first call, init
        // when it reads the schema.
        let adobe = [
            vec!["apply", profile, "--yes"],
            vec!["plan", profile],
            vec!["destroy", profile, "--yes"],
            vec!["explore", profile],
            vec!["explore", profile, "Leads", "--preview", "2"],
            vec!["status", profile],
            vec!["check", profile],
            vec!["run", profile],
            vec!["retry", profile],
            init.clone(),
        ];
        // Zoho refuses the client secret (and would the refresh token): apply gets as far as
        // building the base connection. `run` and `retry` never ask Zoho.
        let zoho = [
            vec!["zoho", "modules", profile],
            vec!["check", profile],
            vec!["apply", profile, "--yes"],
            init.clone(),
            token(&code),
        ];
        let verbosity = (flags, rust_log);
        fail(&h, verbosity, &adobe, &wrong_adobe, &secrets).await;
        fail(&h, verbosity, &zoho, &wrong_zoho, &secrets).await;
        // A grant code that was never issued, with the right client secret.
        fail(&h, verbosity, &[token(GRANT)], &[], &secrets).await;
    }
    assert!(
        h.writes().iter().all(|w| w.status >= 400),
        "nothing was written"
    );
    assert!(!init_file.exists(), "init wrote a profile");
}

#[tokio::test(flavor = "multi_thread")]
async fn import_prints_no_secret_with_right_or_wrong_credentials_at_any_verbosity() {
    let needles: Vec<&str> = SECRETS
        .iter()
        .map(|(_, v)| *v)
        .chain([
            support::CLIENT_SECRET,
            support::ZOHO_SECRET,
            support::ZOHO_REFRESH,
        ])
        .collect();
    for (flags, rust_log) in VERBOSITY {
        // A base connection is adopted once: each pass gets an emulator of its own holding
        // the dataflows built in Adobe's UI.
        let (h, base) = crate::import::setup().await;
        let (profile, before) = crate::import::fresh_profile(&h);
        let path = profile.to_str().expect("a UTF-8 path");
        let import = [vec!["import", path, "--base-connection", &base, "--yes"]];
        let verbosity = (flags, rust_log);
        // IMS refuses the Adobe secret at the first call; Zoho refuses the refresh import makes
        // before its first write (the one that sends the credentials to the base connection).
        for wrong in [&SECRETS[..1], &SECRETS[1..]] {
            fail(&h, verbosity, &import, wrong, &needles).await;
        }
        assert!(h.writes().is_empty(), "a refused import wrote");
        assert_eq!(std::fs::read_to_string(&profile).expect("read"), before);

        succeed(&h, verbosity, &import, &needles).await;
        // The entries were appended, and no credential with them.
        let written = as_printed(&profile);
        assert!(written.stdout.len() > before.len(), "nothing was appended");
        assert_no_secret("import's profile", &written, &needles);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_command_prints_a_secret_when_the_services_fail() {
    // Services that fail every call after the tokens (one 503 first at -vv and trace, so retries
    // are logged too), with distinctive tokens issued by the mock services.
    let server = MockServer::start().await;
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
    let needles: Vec<&str> = SECRETS
        .iter()
        .map(|(_, v)| *v)
        .chain(ISSUED)
        .chain([GRANT])
        .collect();
    for (flags, rust_log) in VERBOSITY {
        let verbose = rust_log.is_some() || flags.contains(&"-vv");
        for args in runs(flags, &commands) {
            mount_failing_services(&server, verbose).await;
            let mut cmd = provision();
            cmd.envs(SECRETS)
                .args(&args)
                .timeout(std::time::Duration::from_secs(60));
            if let Some(level) = rust_log {
                cmd.env("RUST_LOG", level);
            }
            let output = cmd.output().expect("run");
            let out = support::cli::Output {
                code: output.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            };
            let run = format!("{args:?} RUST_LOG={rust_log:?}");
            assert!(matches!(out.code, 0 | 1), "{run}: exit {}", out.code);
            assert_no_secret(&run, &out, &needles);
        }
    }
}

/// Token endpoints that issue [`ISSUED`]; then, for everything else, one 503 (when `retry`) and
/// 403s.
async fn mount_failing_services(server: &MockServer, retry: bool) {
    server.reset().await;
    Mock::given(path("/ims/token/v3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ISSUED[0], "token_type": "bearer", "expires_in": 86399
        })))
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(path("/oauth/v2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ISSUED[1], "refresh_token": ISSUED[2], "api_domain": server.uri(),
            "token_type": "Bearer", "expires_in": 3600
        })))
        .with_priority(1)
        .mount(server)
        .await;
    if retry {
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(503).set_body_json(json!({
                "error_code": "1103-503", "message": "mock: unavailable"
            })))
            .up_to_n_times(1)
            .with_priority(5)
            .mount(server)
            .await;
    }
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "error_code": "403025", "message": "mock: Profile is not valid"
        })))
        .with_priority(10)
        .mount(server)
        .await;
}

#[test]
fn secrets_cannot_be_given_as_flags() {
    // A flag would put the secret in the shell history and the process list: the profile's
    // ${VAR}, the environment or a 0600 file are the only ways in.
    const VALUE: &str = "FLAGSECRET-0b1e2c";
    let others: [&[&str]; 3] = [
        &["init"],
        &["zoho", "modules"],
        &["zoho", "token", "--code", "x"],
    ];
    for command in PROFILE_COMMANDS.into_iter().chain(others) {
        for flag in [
            "--client-secret",
            "--refresh-token",
            "--access-token",
            "--token",
            "--secret",
        ] {
            let output = provision()
                .args(command)
                .args([flag, VALUE])
                .output()
                .expect("run");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(64),
                "{command:?} {flag}: {stderr}"
            );
            assert!(
                !stderr.contains(VALUE),
                "{command:?} {flag} echoed the value: {stderr}"
            );
            // Refused for the flag itself, not for some other mistake such as a missing FILE.
            assert!(
                stderr.contains(&format!("unexpected argument '{flag}'")),
                "{command:?} {flag} was not refused as a flag: {stderr}"
            );
        }
    }
}

#[test]
fn a_command_that_cannot_reach_its_service_fails_naming_the_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = secret_profile(dir.path(), "http://127.0.0.1:9");
    let output = provision()
        .envs(SECRETS)
        .arg("plan")
        .arg(&profile)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.contains("POST /ims/token/v3") && stderr.contains("could not connect"),
        "{stderr}"
    );
}
