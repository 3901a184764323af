//! `provision check`: the real binary against an in-process emulator, on `profiles/local.toml`
//! (and variants of it), with the seeded secrets and every URL pointed at the emulator.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use provision::api::connections::{self, AuthParams, NewConnection};
use provision::api::{AepClient, HttpOptions};
use provision::emulator::{spawn, EmulatorConfig, Faults, RunningEmulator, ZohoSpec};

use crate::support::cli::arrived;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

const SECRETS: [(&str, &str); 3] = [
    ("AEP_CLIENT_SECRET", "local-adobe-secret"),
    ("ZOHO_CLIENT_SECRET", "local-zoho-secret"),
    ("ZOHO_REFRESH_TOKEN", "1000.local.refresh"),
];
const LOCAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/local.toml");
const DEPRECATED: &str = "Adobe has deprecated or removed the Zoho CRM source for this org";

async fn emulator(zoho_spec: ZohoSpec) -> RunningEmulator {
    spawn_with(Faults {
        zoho_spec,
        ..Faults::default()
    })
    .await
}

async fn spawn_with(faults: Faults) -> RunningEmulator {
    spawn(EmulatorConfig {
        faults,
        ..EmulatorConfig::default()
    })
    .await
    .expect("the emulator starts")
}

fn overrides(emulator: &RunningEmulator) -> Vec<(String, String)> {
    let url = emulator.url();
    [
        "PROVISION_ADOBE__IMS_URL",
        "PROVISION_ADOBE__PLATFORM_URL",
        "PROVISION_ZOHO__ACCOUNTS_URL",
        "PROVISION_ZOHO__API_URL",
    ]
    .into_iter()
    .map(|var| (var.to_owned(), url.clone()))
    .chain(SECRETS.map(|(k, v)| (k.to_owned(), v.to_owned())))
    .collect()
}

fn check(emulator: &RunningEmulator, profile: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("provision").expect("binary");
    cmd.env_clear()
        .envs(overrides(emulator))
        .args(extra)
        .arg("check")
        .arg(profile)
        .timeout(std::time::Duration::from_secs(90));
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

/// `check --output json` as name -> (status, detail), after asserting docs/cli.md#json-output's shape.
async fn json_checks(cmd: Command) -> (Option<i32>, BTreeMap<String, (String, String)>) {
    let mut cmd = cmd;
    cmd.args(["--output", "json"]);
    let output = run(cmd).await;
    let (stdout, stderr) = text(&output);
    let doc: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("one JSON document ({e}):\n{stdout}\n{stderr}"));
    let checks = doc["checks"].as_array().expect("checks is an array");
    let mut out = BTreeMap::new();
    for check in checks {
        let name = check["name"].as_str().expect("name is a string");
        let ok = check["ok"].as_bool().expect("ok is a boolean");
        let status = check["status"].as_str().expect("status");
        let detail = check["detail"].as_str().expect("detail is a string");
        assert!(!detail.is_empty(), "{name} has no detail");
        assert_eq!(ok, status != "fail", "{name}: ok and status agree");
        out.insert(name.to_owned(), (status.to_owned(), detail.to_owned()));
    }
    (output.status.code(), out)
}

fn failed(checks: &BTreeMap<String, (String, String)>) -> Vec<&str> {
    checks
        .iter()
        .filter(|(_, (status, _))| status == "fail")
        .map(|(name, _)| name.as_str())
        .collect()
}

/// `profiles/local.toml` with `edits` applied (each `(from, to)` must match).
fn variant(dir: &Path, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(LOCAL).expect("local profile");
    for (from, to) in edits {
        assert!(text.contains(from), "`{from}` is in profiles/local.toml");
        text = text.replace(from, to);
    }
    let path = dir.join("variant.toml");
    std::fs::write(&path, text).expect("write");
    path
}

const EXPECTED: [&str; 19] = [
    "profile",
    "ims_token",
    "org_sandbox",
    "zoho_connection_spec",
    "zoho_flow_spec",
    "base_connection",
    "zoho_refresh",
    "zoho_api",
    "module:Leads",
    "columns:Leads",
    "destinations:Leads",
    "module:Contacts",
    "columns:Contacts",
    "destinations:Contacts",
    "module:Deals",
    "columns:Deals",
    "destinations:Deals",
    "dataset:6889f4f89b982b2b90bc1208",
    "schema:https://ns.adobe.com/acme/schemas/zoho_crm",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_profile_passes_every_check_without_a_write_or_a_secret() {
    let emulator = emulator(ZohoSpec::Listed).await;
    let output = run(check(&emulator, Path::new(LOCAL), &["-vv"])).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");

    let rows: Vec<(&str, &str)> = stdout
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let mut cols = l.split_whitespace();
            (cols.next().unwrap_or(""), cols.next().unwrap_or(""))
        })
        .collect();
    let names: Vec<&str> = rows.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, EXPECTED, "{stdout}");
    // Before the first apply there is no base connection: the modules' columns come from Zoho's
    // CRM API, so every check runs.
    for (name, result) in &rows {
        assert_eq!(*result, "ok", "{name}:\n{stdout}");
    }
    assert!(
        stdout.contains("19 passed, 0 failed, 0 skipped"),
        "{stdout}"
    );
    assert!(
        stdout.contains("`zoho-crm-local` does not exist yet; `provision apply` creates it"),
        "{stdout}"
    );

    // No writes at all: only GETs, besides the two token requests that authenticate them.
    let requests = emulator.requests();
    for r in &requests {
        let token =
            r.method == "POST" && (r.path == "/ims/token/v3" || r.path == "/oauth/v2/token");
        assert!(
            r.method == "GET" || token,
            "a write: {} {}",
            r.method,
            r.path
        );
    }
    let refreshes = requests
        .iter()
        .filter(|r| r.path == "/oauth/v2/token")
        .count();
    assert_eq!(refreshes, 1, "one Zoho refresh, reused for the CRM call");
    for path in [
        "/data/foundation/flowservice/connectionSpecs/929e4450-0237-4ed2-9404-b7e1e0a00309",
        "/data/foundation/flowservice/flowSpecs",
        "/data/foundation/flowservice/connections",
        "/data/foundation/catalog/dataSets/6889f4f89b982b2b90bc1208",
        "/data/foundation/schemaregistry/tenant/schemas/https%3A%2F%2Fns.adobe.com%2Facme%2Fschemas%2Fzoho_crm",
        "/crm/v8/settings/modules",
    ] {
        assert!(requests.iter().any(|r| r.path == path), "{path} not asked");
    }

    for (_, secret) in SECRETS {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a secret was printed:\n{stdout}{stderr}"
        );
    }
    // Tokens the emulator issued (Zoho's look like 1000.<32 hex>.<32 hex>) are not printed either.
    let issued = regex_lite_zoho_token(&format!("{stdout}{stderr}"));
    assert!(issued.is_none(), "an issued token was printed: {issued:?}");
}

/// The first `1000.<32 hex>` in `text`, if any.
fn regex_lite_zoho_token(text: &str) -> Option<String> {
    text.match_indices("1000.").find_map(|(i, _)| {
        let tail: String = text[i + 5..].chars().take(32).collect();
        (tail.len() == 32 && tail.chars().all(|c| c.is_ascii_hexdigit()))
            .then(|| format!("1000.{tail}"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_is_the_contract_document() {
    let emulator = emulator(ZohoSpec::Listed).await;
    let mut cmd = check(&emulator, Path::new(LOCAL), &[]);
    cmd.args(["--output", "json"]);
    let output = run(cmd).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).expect("exactly one JSON document");
    let checks = doc["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), EXPECTED.len());
    for check in checks {
        let keys: Vec<&str> = check
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        for key in ["name", "ok", "detail"] {
            assert!(keys.contains(&key), "{key} missing in {check}");
        }
        assert!(check["ok"].is_boolean());
    }
    let url = regex_escape(&emulator.url());
    let repo = regex_escape(env!("CARGO_MANIFEST_DIR"));
    insta::with_settings!({filters => vec![
        (url.as_str(), "[EMULATOR]"),
        (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "[UUID]"),
        (repo.as_str(), "[REPO]"),
    ]}, {
        insta::assert_snapshot!(stdout);
    });
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_zoho_spec_fails_that_one_check_with_the_deprecation_message() {
    let emulator = emulator(ZohoSpec::Removed).await;
    let (code, checks) = json_checks(check(&emulator, Path::new(LOCAL), &[])).await;
    assert_eq!(code, Some(1));
    assert_eq!(failed(&checks), ["zoho_connection_spec"], "{checks:#?}");
    let (_, detail) = &checks["zoho_connection_spec"];
    assert!(detail.starts_with(DEPRECATED), "{detail}");
    assert_eq!(checks["zoho_flow_spec"].0, "skipped");

    // The same in the table, and nothing on stdout but the table.
    let output = run(check(&emulator, Path::new(LOCAL), &[])).await;
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    let row = stdout
        .lines()
        .find(|l| l.starts_with("zoho_connection_spec"))
        .expect("row");
    assert!(row.contains(&format!("FAIL     {DEPRECATED}")), "{row}");
    assert!(stdout.contains("1 failed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlisted_zoho_spec_fails_the_flow_spec_check() {
    let emulator = emulator(ZohoSpec::Unlisted).await;
    let (code, checks) = json_checks(check(&emulator, Path::new(LOCAL), &[])).await;
    assert_eq!(code, Some(1));
    assert_eq!(failed(&checks), ["zoho_flow_spec"], "{checks:#?}");
    let (_, detail) = &checks["zoho_flow_spec"];
    assert!(detail.starts_with(DEPRECATED), "{detail}");
    assert!(detail.contains("CRMToAEP"), "{detail}");
}

/// Creates the base connection `apply` would, through the library (the check must only read).
async fn create_base_connection(emulator: &RunningEmulator) {
    let env: provision::profile::Env = overrides(emulator).into_iter().collect();
    let profile = provision::profile::load_with_env(Some(Path::new(LOCAL)), &env).expect("profile");
    let client = AepClient::new(&profile.adobe, HttpOptions::default()).expect("client");
    let zoho = &profile.zoho;
    let params = AuthParams::new()
        .plain("endpoint", zoho.api_url.as_str())
        .plain("accountsUrl", zoho.accounts_url.as_str())
        .plain("clientId", zoho.client_id.as_str())
        .secret(
            "clientSecret",
            SecretString::from(zoho.client_secret.expose_secret().to_owned()),
        )
        .secret("refreshToken", zoho.refresh_token.clone());
    let name = &profile.connection.name;
    let description = provision::engine::kinds::base::description(
        profile.connection.description.as_deref(),
        name,
    );
    connections::create_connection(
        &client,
        &NewConnection::zoho(name, Some(description), params),
    )
    .await
    .expect("the base connection is created");
}

/// `check` of the local profile with its `Contacts` module written `contacts` (requests logged
/// from here on): it fails that module's check alone.
async fn check_with_contacts_misspelt(
    emulator: &RunningEmulator,
) -> BTreeMap<String, (String, String)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = variant(
        dir.path(),
        &[("module  = \"Contacts\"", "module  = \"contacts\"")],
    );
    emulator.clear_requests();
    let (code, checks) = json_checks(check(emulator, &profile, &[])).await;
    assert_eq!(code, Some(1));
    assert_eq!(failed(&checks), ["module:contacts"], "{checks:#?}");
    checks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_are_looked_up_in_explore_once_the_base_connection_exists() {
    let emulator = emulator(ZohoSpec::Listed).await;
    create_base_connection(&emulator).await;
    let checks = check_with_contacts_misspelt(&emulator).await;
    assert!(checks["module:contacts"]
        .1
        .contains("explore lists no table with this path (did you mean \"Contacts\"?)"));
    assert_eq!(checks["module:Leads"].0, "ok");
    assert_eq!(checks["module:Deals"].0, "ok");
    assert!(checks["base_connection"]
        .1
        .contains("exists and explore lists"));
    let explores: Vec<_> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/explore"))
        .collect();
    // One root listing finds the modules; each module that exists is explored once for its
    // columns (the validation's one request per module); a module the root does not list costs none.
    let roots = explores
        .iter()
        .filter(|r| r.query.as_deref() == Some("objectType=root"))
        .count();
    assert_eq!(roots, 1, "one root listing serves every module");
    let mut tables: Vec<&str> = explores
        .iter()
        .filter_map(|r| r.query.as_deref())
        .filter(|q| q.starts_with("objectType=table"))
        .collect();
    tables.sort_unstable();
    assert_eq!(
        tables,
        [
            "objectType=table&object=Deals",
            "objectType=table&object=Leads"
        ],
        "{explores:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_base_connection_a_module_zoho_does_not_list_is_named_and_its_fields_not_asked() {
    let emulator = emulator(ZohoSpec::Listed).await;
    let checks = check_with_contacts_misspelt(&emulator).await;
    assert!(
        checks["module:contacts"]
            .1
            .contains("Zoho's CRM API lists no module `contacts` (did you mean `Contacts`?)"),
        "{checks:#?}"
    );
    // `check` had Zoho's module list already: a module it lacks needs no field list.
    let asked: Vec<String> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.path == "/crm/v8/settings/fields")
        .filter_map(|r| r.query)
        .collect();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(
        asked.iter().all(|q| !q.contains("module=contacts")),
        "{asked:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datasets_and_schemas_are_read_beside_the_specs_not_after_zoho() {
    // 400 ms an answer: requests sent together arrive within a few milliseconds of each other;
    // after the Zoho side (a refresh, the module list, then the field lists) they would arrive
    // at least 400 ms after the field lists. The
    // margin of half a latency keeps a loaded test machine's scheduling delays from counting.
    let latency = std::time::Duration::from_millis(400);
    let emulator = spawn_with(Faults {
        latency: Some(latency),
        ..Faults::default()
    })
    .await;
    let (code, checks) = json_checks(check(&emulator, Path::new(LOCAL), &[])).await;
    assert_eq!(code, Some(0), "{checks:#?}");
    let requests = emulator.requests();
    let arrival = |path: &str| {
        requests
            .iter()
            .find(|r| r.path.starts_with(path))
            .unwrap_or_else(|| panic!("{path} not asked"))
    };
    let spec = arrival("/data/foundation/flowservice/connectionSpecs/");
    // The Zoho side ends with the field lists, sent after the module list.
    let zoho_fields = arrival("/crm/v8/settings/fields");
    let half = latency.as_millis() as i64 / 2;
    for path in [
        "/data/foundation/catalog/dataSets/",
        "/data/foundation/schemaregistry/tenant/schemas/",
    ] {
        let read = arrival(path);
        let apart = crate::support::cli::spread_ms(&[read, spec]);
        assert!(
            apart < half,
            "{path} arrived {apart} ms from the connection spec's read: not sent together"
        );
        let after_zoho = (arrived(read) - arrived(zoho_fields)).num_milliseconds();
        assert!(
            after_zoho < half,
            "{path} arrived {after_zoho} ms after Zoho's field lists: sent after the Zoho side"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_zoho_data_centre_is_named_with_the_right_one() {
    let emulator = emulator(ZohoSpec::Listed).await;
    let mut cmd = check(&emulator, Path::new(LOCAL), &[]);
    cmd.env("PROVISION_ZOHO__REGION", "eu").env(
        "PROVISION_ZOHO__ACCOUNTS_URL",
        format!("{}/dc/eu", emulator.url()),
    );
    let (code, checks) = json_checks(cmd).await;
    assert_eq!(code, Some(1));
    assert_eq!(failed(&checks), ["zoho_refresh"], "{checks:#?}");
    let (_, detail) = &checks["zoho_refresh"];
    assert!(detail.starts_with("Zoho credential problem"), "{detail}");
    assert!(detail.contains("(invalid_client)"), "{detail}");
    assert!(
        detail.contains(&format!(
            "asked the 8 other data centres' accounts servers with the client id only (no secret): \
             client `1000.LOCALCLIENT` is registered in us ({}/dc/us)",
            emulator.url()
        )),
        "{detail}"
    );
    assert_eq!(checks["zoho_api"].0, "skipped");
    // The probes carried no real secret.
    for r in emulator
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/dc/"))
    {
        assert!(!format!("{:?}", r.body).contains("local-zoho-secret"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_datasets_and_schemas_and_a_schema_mismatch_fail_by_name() {
    let emulator = emulator(ZohoSpec::Listed).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = variant(
        dir.path(),
        &[
            (
                "dataset = { id = \"6889f4f89b982b2b90bc1208\" }\n",
                "dataset = { id = \"6889f4f89b982b2b90bc1208\" }\n\
                 schema_id = \"https://ns.adobe.com/acme/schemas/nope\"\n",
            ),
            (
                "[[dataflows]]\nmodule  = \"Deals\"",
                "[[dataflows]]\nmodule = \"Accounts\"\n\
                 dataset = { id = \"0000000000000000000000ff\" }\nmapping = \"auto\"\n\n\
                 [[dataflows]]\nmodule  = \"Deals\"",
            ),
        ],
    );
    let (code, checks) = json_checks(check(&emulator, &profile, &[])).await;
    assert_eq!(code, Some(1));
    assert_eq!(
        failed(&checks),
        [
            "dataset:0000000000000000000000ff",
            "dataset:6889f4f89b982b2b90bc1208",
            "schema:https://ns.adobe.com/acme/schemas/nope",
        ],
        "{checks:#?}"
    );
    assert!(checks["dataset:0000000000000000000000ff"]
        .1
        .contains("(used by Accounts) does not exist in sandbox prod"));
    assert!(checks["dataset:6889f4f89b982b2b90bc1208"].1.contains(
        "uses schema https://ns.adobe.com/acme/schemas/zoho_crm, but the Contacts dataflow targets \
         https://ns.adobe.com/acme/schemas/nope"
    ));
    assert!(checks["schema:https://ns.adobe.com/acme/schemas/nope"]
        .1
        .contains("is not in the tenant container of sandbox prod"));
    assert_eq!(
        checks["schema:https://ns.adobe.com/acme/schemas/zoho_crm"].0,
        "ok"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_ims_token_the_aep_checks_are_skipped_and_zoho_still_checked() {
    let emulator = emulator(ZohoSpec::Listed).await;
    let mut cmd = check(&emulator, Path::new(LOCAL), &["-vv"]);
    cmd.env("AEP_CLIENT_SECRET", "WRONG-adobe-secret-do-not-print");
    let output = run(cmd).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(!stdout.contains("WRONG-adobe-secret") && !stderr.contains("WRONG-adobe-secret"));

    let mut cmd = check(&emulator, Path::new(LOCAL), &[]);
    cmd.env("AEP_CLIENT_SECRET", "WRONG-adobe-secret-do-not-print");
    let (_, checks) = json_checks(cmd).await;
    assert_eq!(failed(&checks), ["ims_token"], "{checks:#?}");
    for name in [
        "org_sandbox",
        "zoho_connection_spec",
        "zoho_flow_spec",
        "base_connection",
        "module:Leads",
        "dataset:6889f4f89b982b2b90bc1208",
        "schema:https://ns.adobe.com/acme/schemas/zoho_crm",
    ] {
        assert_eq!(checks[name].0, "skipped", "{name}");
        assert!(checks[name].1.contains("no IMS token"), "{name}");
    }
    assert_eq!(checks["zoho_refresh"].0, "ok");
    assert_eq!(checks["zoho_api"].0, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_sandbox_fails_the_org_sandbox_check() {
    let emulator = emulator(ZohoSpec::Listed).await;
    let mut cmd = check(&emulator, Path::new(LOCAL), &[]);
    cmd.env("PROVISION_ADOBE__SANDBOX", "nope");
    let (code, checks) = json_checks(cmd).await;
    assert_eq!(code, Some(1));
    assert_eq!(failed(&checks), ["org_sandbox"], "{checks:#?}");
    assert!(checks["org_sandbox"]
        .1
        .contains("sandbox nope not confirmed"));
    assert_eq!(checks["zoho_connection_spec"].0, "skipped");
}
