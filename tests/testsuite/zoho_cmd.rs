//! `provision zoho token` and `provision zoho modules`: the real binary against an in-process
//! emulator (Zoho's home data centre `us` at its root, the others under `/dc/{region}`).

#[cfg(unix)]
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use provision::emulator::{spawn, EmulatorConfig, RunningEmulator};
use serde_json::Value;

const AEP_SECRET: &str = "local-adobe-secret";
const ZOHO_SECRET: &str = "local-zoho-secret";
const ZOHO_REFRESH: &str = "1000.local.refresh";
const PROFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/local.toml");

async fn emulator() -> RunningEmulator {
    spawn(EmulatorConfig::default())
        .await
        .expect("the emulator starts")
}

/// The binary with a clean environment: the client secret (never the refresh token: `zoho
/// token` runs before the user has one) and every URL pointed at the emulator.
fn provision(emulator: &RunningEmulator) -> Command {
    let url = emulator.url();
    let mut cmd = Command::cargo_bin("provision").expect("binary");
    cmd.env_clear()
        .env("ZOHO_CLIENT_SECRET", ZOHO_SECRET)
        .env("PROVISION_ADOBE__IMS_URL", &url)
        .env("PROVISION_ADOBE__PLATFORM_URL", &url)
        .env("PROVISION_ZOHO__ACCOUNTS_URL", &url)
        .env("PROVISION_ZOHO__API_URL", &url)
        .timeout(std::time::Duration::from_secs(60));
    cmd
}

/// Runs the command off the runtime, so that the in-process emulator keeps answering.
async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("the binary runs"))
        .await
        .expect("join")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn token_requests(emulator: &RunningEmulator) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/oauth/v2/token"))
        .count()
}

/// The refresh token must reach Zoho: refreshing with it gives an access token.
async fn refresh_works(emulator: &RunningEmulator, refresh_token: &str) -> bool {
    let body: Value = reqwest::Client::new()
        .post(format!("{}/oauth/v2/token", emulator.url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "1000.LOCALCLIENT"),
            ("client_secret", ZOHO_SECRET),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .expect("zoho answers")
        .json()
        .await
        .expect("json");
    body["access_token"].is_string()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("file").permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_exchange_writes_a_private_file_and_prints_no_secret() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("zoho.token");
    let code = emulator.mint_grant_code();
    let mut cmd = provision(&emulator);
    cmd.args(["-vv", "zoho", "token", PROFILE, "--code", &code, "--write"])
        .arg(&file);
    let output = run(cmd).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");

    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    let token = std::fs::read_to_string(&file).expect("the token file");
    let token = token.trim_end_matches('\n');
    assert!(token.starts_with("1000.") && token.len() > 40, "{token}");
    assert!(
        refresh_works(&emulator, token).await,
        "the written token works"
    );

    for secret in [token, code.as_str(), ZOHO_SECRET] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a secret was printed:\n{stdout}{stderr}"
        );
    }
    let url = emulator.url();
    for expected in [
        &format!("data centre    us ({url})"),
        &format!("API domain     {url}"),
        "ZohoCRM.settings.modules.READ, ZohoCRM.settings.fields.READ, ZohoCRM.modules.READ",
        &format!("written to {} (mode 0600)", file.display()),
        &format!(
            "set ZOHO_REFRESH_TOKEN from {} in your CI secret store",
            file.display()
        ),
        "refresh_token = \"${ZOHO_REFRESH_TOKEN}\"",
        "Zoho keeps at most 20 per user and client and silently deletes the oldest",
    ] {
        assert!(stdout.contains(expected), "`{expected}` missing:\n{stdout}");
    }
    // Exactly one exchange, as a form body with the grant type Zoho documents.
    let exchanges: Vec<_> = emulator
        .requests()
        .into_iter()
        .filter(|r| {
            r.path == "/oauth/v2/token"
                && r.body
                    .as_ref()
                    .is_some_and(|b| b["grant_type"] == "authorization_code")
        })
        .collect();
    assert_eq!(exchanges.len(), 1);
    let body = exchanges[0].body.clone().expect("a form body");
    assert_eq!(body["client_id"], "1000.LOCALCLIENT");
    assert!(exchanges[0].query.is_none(), "credentials go in the body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_grant_code_fails_with_its_own_message() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let code = emulator.mint_grant_code();
    let exchange = |name: &str| {
        let mut cmd = provision(&emulator);
        cmd.args(["zoho", "token", PROFILE, "--code", &code, "--write"])
            .arg(dir.path().join(name));
        cmd
    };
    let first = run(exchange("first.token")).await;
    assert_eq!(first.status.code(), Some(0), "{:?}", text(&first));

    let second = run(exchange("second.token")).await;
    let (stdout, stderr) = text(&second);
    assert_eq!(second.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("rejected the grant token (invalid_code)")
            && stderr.contains("works only once")
            && stderr.contains("generate a new one"),
        "{stderr}"
    );
    assert!(!stderr.contains(&code), "{stderr}");
    assert!(!dir.path().join("second.token").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_data_centre_fails_and_names_the_right_one() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = emulator.url();
    let code = emulator.mint_grant_code();
    let mut cmd = provision(&emulator);
    cmd.args(["zoho", "token", PROFILE, "--code", &code, "--accounts-url"])
        .arg(format!("{url}/dc/eu"))
        .arg("--write")
        .arg(dir.path().join("zoho.token"));
    let output = run(cmd).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "the Zoho accounts server at {url}/dc/eu does not know client id `1000.LOCALCLIENT` (invalid_client)"
        )),
        "{stderr}"
    );
    // The other data centres were asked with the client id only, and the home one knows it.
    assert!(
        stderr.contains(&format!(
            "asked the 8 other data centres' accounts servers with the client id only (no secret): \
             client `1000.LOCALCLIENT` is registered in us ({url}/dc/us)"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("use region \"us\""), "{stderr}");
    let probes: Vec<_> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/dc/") && r.path != "/dc/eu/oauth/v2/token")
        .collect();
    assert_eq!(probes.len(), 8, "one probe per other data centre");
    for probe in &probes {
        let body = probe.body.clone().expect("form");
        assert_eq!(body["client_id"], "1000.LOCALCLIENT");
    }
    assert!(!dir.path().join("zoho.token").exists());

    // The grant was not spent: in its own data centre it still works.
    let mut cmd = provision(&emulator);
    cmd.args(["zoho", "token", PROFILE, "--code", &code, "--write"])
        .arg(dir.path().join("zoho.token"));
    let output = run(cmd).await;
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_redirect_url_names_the_data_centre() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = emulator.url();
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();

    // The grant says eu: the exchange goes there, whatever the profile says.
    let code = emulator.mint_grant_code();
    let pasted = format!(
        "https://app.example.com/callback?code={code}&location=eu&accounts-server={}",
        encode(&format!("{url}/dc/eu"))
    );
    let mut cmd = provision(&emulator);
    cmd.args(["zoho", "token", PROFILE, "--code", &pasted, "--write"])
        .arg(dir.path().join("eu.token"));
    let output = run(cmd).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("(invalid_client)"), "{stderr}");
    assert!(
        emulator
            .requests()
            .iter()
            .any(|r| r.path == "/dc/eu/oauth/v2/token"),
        "the exchange went to the pasted accounts server"
    );

    // A flag that contradicts the grant's data centre is refused before anything is sent.
    let before = token_requests(&emulator);
    let mut cmd = provision(&emulator);
    cmd.args([
        "zoho", "token", PROFILE, "--code", &pasted, "--region", "us", "--show",
    ]);
    let output = run(cmd).await;
    assert_eq!(output.status.code(), Some(64), "{:?}", text(&output));
    assert!(text(&output).1.contains("drop --region/--accounts-url"));
    assert_eq!(token_requests(&emulator), before);

    // The grant's own data centre (the emulator root) takes it; the code is never echoed.
    let pasted = format!(
        "https://app.example.com/callback?code={code}&location=us&accounts-server={}",
        encode(&url)
    );
    let mut cmd = provision(&emulator);
    cmd.args(["zoho", "token", PROFILE, "--code", &pasted, "--write"])
        .arg(dir.path().join("us.token"));
    let output = run(cmd).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("data centre    us ({url})")),
        "{stdout}"
    );
    assert!(!stdout.contains(&code) && !stderr.contains(&code));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_sent_when_the_token_would_have_nowhere_to_go() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let existing = dir.path().join("existing.token");
    std::fs::write(&existing, "old\n").expect("write");
    let code = emulator.mint_grant_code();

    let mut cmd = provision(&emulator);
    cmd.args(["zoho", "token", PROFILE, "--code", &code]);
    let output = run(cmd).await;
    assert_eq!(output.status.code(), Some(64), "{:?}", text(&output));
    assert!(text(&output).1.contains("--write FILE"));

    let mut cmd = provision(&emulator);
    cmd.args(["zoho", "token", PROFILE, "--code", &code, "--write"])
        .arg(&existing);
    let output = run(cmd).await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already exists; pass --force"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&existing).expect("read"), "old\n");

    let mut cmd = provision(&emulator);
    cmd.args(["zoho", "token", PROFILE, "--code", &code, "--write"])
        .arg(dir.path().join("missing-dir/zoho.token"));
    let output = run(cmd).await;
    assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
    assert_eq!(token_requests(&emulator), 0, "the grant was not spent");

    // --force replaces the file, still private.
    let mut cmd = provision(&emulator);
    cmd.args([
        "zoho", "token", PROFILE, "--code", &code, "--force", "--write",
    ])
    .arg(&existing);
    let output = run(cmd).await;
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    let token = std::fs::read_to_string(&existing).expect("read");
    assert!(token.starts_with("1000."), "{token}");
    #[cfg(unix)]
    assert_eq!(mode(&existing), 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_prints_the_token_and_json_carries_it() {
    let emulator = emulator().await;
    let code = emulator.mint_grant_code();
    let mut cmd = provision(&emulator);
    cmd.args([
        "zoho", "token", PROFILE, "--code", &code, "--show", "--output", "json",
    ]);
    let output = run(cmd).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    let doc: Value = serde_json::from_str(&stdout).expect("one JSON document");
    let token = doc["refresh_token"].as_str().expect("the token, as asked");
    assert!(refresh_works(&emulator, token).await);
    assert_eq!(doc["data_centre"], "us");
    assert_eq!(doc["api_domain"], emulator.url());
    assert_eq!(doc["written_to"], Value::Null);
    assert_eq!(doc["scopes"].as_array().map(Vec::len), Some(3));
    assert!(doc["warnings"][0]
        .as_str()
        .is_some_and(|w| w.contains("at most 20")));
    assert!(!stderr.contains(token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_profile_the_flags_and_a_named_variable_suffice() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let code = emulator.mint_grant_code();
    let mut cmd = provision(&emulator);
    cmd.current_dir(dir.path())
        .env("MY_ZOHO_SECRET", ZOHO_SECRET)
        .args([
            "zoho",
            "token",
            "--code",
            &code,
            "--client-id",
            "1000.LOCALCLIENT",
            "--client-secret-env",
            "MY_ZOHO_SECRET",
            "--accounts-url",
            &emulator.url(),
            "--write",
            "zoho.token",
        ]);
    let output = run(cmd).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(dir.path().join("zoho.token").is_file());
    assert!(stdout.contains("provision check PROFILE"), "{stdout}");

    // No data centre anywhere is a usage error, before any request.
    let before = token_requests(&emulator);
    let mut cmd = provision(&emulator);
    cmd.current_dir(dir.path())
        .env("MY_ZOHO_SECRET", ZOHO_SECRET)
        .args([
            "zoho",
            "token",
            "--code",
            "1000.x",
            "--client-id",
            "1000.LOCALCLIENT",
            "--client-secret-env",
            "MY_ZOHO_SECRET",
            "--show",
        ]);
    let output = run(cmd).await;
    assert_eq!(output.status.code(), Some(64), "{:?}", text(&output));
    assert!(text(&output).1.contains("no Zoho data centre"));
    assert_eq!(token_requests(&emulator), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_uri_mismatch_has_its_own_message() {
    let emulator = emulator().await;
    let code = emulator.mint_grant_code_for(Some("https://app.example.com/callback"), None);
    let mut cmd = provision(&emulator);
    cmd.args([
        "zoho",
        "token",
        PROFILE,
        "--code",
        &code,
        "--redirect-uri",
        "https://app.example.com/callback/",
        "--show",
    ]);
    let output = run(cmd).await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "rejected the redirect URI `https://app.example.com/callback/` (invalid_redirect_uri)"
        ) && stderr.contains("trailing slash"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_secret_has_its_own_message() {
    let emulator = emulator().await;
    let code = emulator.mint_grant_code();
    let mut cmd = provision(&emulator);
    cmd.env("ZOHO_CLIENT_SECRET", "not-the-secret")
        .args(["zoho", "token", PROFILE, "--code", &code, "--show"]);
    let output = run(cmd).await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "rejected the client secret of client `1000.LOCALCLIENT` (invalid_client_secret)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-secret"), "{stderr}");
}

/// A profile whose refresh token is `refresh_token`, for `zoho modules`.
fn modules_cmd(emulator: &RunningEmulator, refresh_token: &str, extra: &[&str]) -> Command {
    let mut cmd = provision(emulator);
    cmd.env("AEP_CLIENT_SECRET", AEP_SECRET)
        .env("ZOHO_REFRESH_TOKEN", refresh_token)
        .args(extra)
        .args(["zoho", "modules", PROFILE]);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_are_listed_straight_from_zoho() {
    let emulator = emulator().await;
    let output = run(modules_cmd(&emulator, ZOHO_REFRESH, &["-vv"])).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    let header = stdout.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("API_NAME")
            && header.contains("MODULE_NAME")
            && header.contains("API_SUPPORTED"),
        "{stdout}"
    );
    let events = stdout
        .lines()
        .find(|l| l.starts_with("Events "))
        .expect("Events is listed");
    assert!(
        events.contains("Meetings") && events.contains("yes"),
        "{events}"
    );
    assert!(
        stdout.contains(&format!("modules from {}", emulator.url())),
        "{stdout}"
    );
    for secret in [ZOHO_REFRESH, ZOHO_SECRET, AEP_SECRET] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{stdout}{stderr}"
        );
    }
    let requests = emulator.requests();
    let modules = requests
        .iter()
        .find(|r| r.path == "/crm/v8/settings/modules")
        .expect("the CRM call");
    assert!(modules.headers.contains(&"authorization".to_owned()));
    // Zoho only: no AEP call at all.
    assert!(requests
        .iter()
        .all(|r| !r.path.starts_with("/data/") && r.path != "/ims/token/v3"));

    let output = run(modules_cmd(&emulator, ZOHO_REFRESH, &["--output", "json"])).await;
    let doc: Value = serde_json::from_slice(&output.stdout).expect("json");
    let leads = doc["modules"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["api_name"] == "Leads"))
        .expect("Leads");
    assert_eq!(leads["module_name"], "Leads");
    assert_eq!(leads["api_supported"], true);
    assert_eq!(leads["in_profile"], true);
    assert_eq!(doc["missing"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_tell_a_scope_problem_from_a_credential_problem() {
    let emulator = emulator().await;
    // A refresh token granted only ZohoCRM.modules.READ: it refreshes, but cannot list modules.
    let code = emulator.mint_grant_code_for(None, Some("ZohoCRM.modules.READ"));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("narrow.token");
    let mut cmd = provision(&emulator);
    cmd.args(["zoho", "token", PROFILE, "--code", &code, "--write"])
        .arg(&file);
    let output = run(cmd).await;
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout.contains("warning: the grant has no ZohoCRM.settings.* scope"),
        "{stdout}"
    );
    let narrow = std::fs::read_to_string(&file).expect("token");

    let output = run(modules_cmd(&emulator, narrow.trim(), &[])).await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Zoho scope problem (the credentials are valid)")
            && stderr.contains("OAUTH_SCOPE_MISMATCH")
            && stderr.contains("ZohoCRM.settings.modules.READ"),
        "{stderr}"
    );

    let output = run(modules_cmd(&emulator, "1000.revoked.token", &[])).await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Zoho credential problem")
            && stderr.contains("rejected zoho.refresh_token (invalid_code)")
            && stderr.contains("20 refresh tokens per client"),
        "{stderr}"
    );
    assert!(!stderr.contains("1000.revoked.token"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_in_the_wrong_data_centre_name_the_right_one() {
    let emulator = emulator().await;
    let mut cmd = modules_cmd(&emulator, ZOHO_REFRESH, &[]);
    cmd.env("PROVISION_ZOHO__REGION", "eu").env(
        "PROVISION_ZOHO__ACCOUNTS_URL",
        format!("{}/dc/eu", emulator.url()),
    );
    let output = run(cmd).await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Zoho credential problem"), "{stderr}");
    assert!(stderr.contains("(invalid_client)"), "{stderr}");
    assert!(
        stderr.contains(&format!("registered in us ({}/dc/us)", emulator.url())),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_zoho_client_settings_of_the_profile_are_read() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");

    // The profile's client secret is not needed when a variable is named: an unset
    // ${ZOHO_CLIENT_SECRET} (like the unset ${ZOHO_REFRESH_TOKEN} and ${AEP_CLIENT_SECRET}) is fine.
    let code = emulator.mint_grant_code();
    let mut cmd = provision(&emulator);
    cmd.env_remove("ZOHO_CLIENT_SECRET")
        .env("OTHER_SECRET", ZOHO_SECRET)
        .args([
            "zoho",
            "token",
            PROFILE,
            "--code",
            &code,
            "--client-secret-env",
            "OTHER_SECRET",
        ])
        .arg("--write")
        .arg(dir.path().join("zoho.token"));
    let output = run(cmd).await;
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));

    // Without it, the profile's secret is needed, and its variable is named (exit 78).
    let mut cmd = provision(&emulator);
    cmd.env_remove("ZOHO_CLIENT_SECRET")
        .args(["zoho", "token", PROFILE, "--code", "1000.x", "--show"]);
    let output = run(cmd).await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("zoho.client_secret: environment variable ZOHO_CLIENT_SECRET is not set"),
        "{stderr}"
    );
    assert!(!stderr.contains("ZOHO_REFRESH_TOKEN"), "{stderr}");

    // The whole file is still checked: an unknown key anywhere is an error with its position.
    let broken = dir.path().join("broken.toml");
    let edited = std::fs::read_to_string(PROFILE).expect("profile").replace(
        "sandbox       = \"prod\"",
        "sandbox       = \"prod\"\nsandbx = \"x\"",
    );
    std::fs::write(&broken, edited).expect("write");
    let mut cmd = provision(&emulator);
    cmd.args(["zoho", "token", "--code", "1000.x", "--show"])
        .arg(&broken);
    let output = run(cmd).await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("broken.toml:16:1: adobe.sandbx"),
        "{stderr}"
    );
    assert_eq!(
        token_requests(&emulator),
        1,
        "only the first exchange was sent"
    );

    // A profile named by $PROVISION_PROFILE must exist.
    let mut cmd = provision(&emulator);
    cmd.env("PROVISION_PROFILE", dir.path().join("missing.toml"))
        .args(["zoho", "token", "--code", "1000.x", "--show"]);
    let output = run(cmd).await;
    assert_eq!(output.status.code(), Some(78), "{:?}", text(&output));
}

/// The answers the emulator never gives, from a mock accounts server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_token_endpoint_answers_have_their_own_messages() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let cases: [(ResponseTemplate, i32, &[&str]); 4] = [
        (
            // docs/zoho-oauth.md#failure-modes #10: an exchange without access_type=offline.
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "access_token": "1000.ACCESS-do-not-print", "api_domain": "https://www.zohoapis.com",
                "token_type": "Bearer", "expires_in": 3600
            })),
            1,
            &["returned no refresh token", "access_type=offline&prompt=consent"],
        ),
        (
            // docs/zoho-oauth.md#token-errors: throttling, recognised by `status: failure`, not by the `error` string.
            ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "error_description": "You have made too many requests continuously. Please try again after some time.",
                "error": "Access Denied", "status": "failure"
            })),
            1,
            &["is throttling token requests", "wait up to 10 minutes"],
        ),
        (
            // An outage is not a credential problem.
            ResponseTemplate::new(503)
                .set_body_string("<html><head><title>Service Unavailable</title></head></html>"),
            1,
            &["is unavailable", "not a credential problem"],
        ),
        (
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"error": "access_denied"})),
            1,
            &["denied the request (access_denied)"],
        ),
    ];
    for (answer, code, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/oauth/v2/token"))
            .respond_with(answer)
            .mount(&server)
            .await;
        let mut cmd = Command::cargo_bin("provision").expect("binary");
        cmd.env_clear()
            .env("ZOHO_CLIENT_SECRET", ZOHO_SECRET)
            .env("PROVISION_ZOHO__ACCOUNTS_URL", server.uri())
            .env("PROVISION_ZOHO__API_URL", server.uri())
            .args([
                "zoho",
                "token",
                PROFILE,
                "--code",
                "1000.GRANT-do-not-print",
                "--show",
            ])
            .timeout(std::time::Duration::from_secs(60));
        let output = run(cmd).await;
        let (stdout, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(code), "{expected:?}: {stderr}");
        for text in expected {
            assert!(stderr.contains(text), "`{text}` missing: {stderr}");
        }
        assert!(stdout.is_empty(), "{stdout}");
        assert!(!stderr.contains("do-not-print"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_refreshes_are_reported_as_throttling() {
    let emulator = emulator().await;
    // Zoho allows 10 access tokens per refresh token in 10 minutes; each run refreshes once.
    for _ in 0..10 {
        let output = run(modules_cmd(&emulator, ZOHO_REFRESH, &[])).await;
        assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    }
    let output = run(modules_cmd(&emulator, ZOHO_REFRESH, &[])).await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Zoho could not be asked")
            && stderr.contains("is throttling token requests"),
        "{stderr}"
    );
}
