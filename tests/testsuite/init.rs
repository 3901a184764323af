//! `provision init`, `explore --schema`, `completions` and the man page, through the real binary
//! against the emulator (the snapshot calls the library with a fixed clock).

use crate::support;

use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Utc};
use provision::api::crm::ZohoModule;
use provision::commands::init::{generate, InitSettings};
use provision::emulator::RecordedRequest;
use provision::error::CliError;
use provision::profile::{self, Mapping, ZohoRegion};
use reqwest::Method;
use serde_json::Value;
use support::cli::{spread_ms, Harness, Output};

const SCHEMA: &str = "https://ns.adobe.com/acme/schemas/zoho_crm";

/// Every flag `init` needs, for the emulator's seeded accounts.
pub(crate) fn flags<'a>(file: &'a str, modules: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "init",
        file,
        "--org-id",
        "0000000000000000000000AA@AdobeOrg",
        "--sandbox",
        "prod",
        "--adobe-client-id",
        "provision-local",
        "--region",
        "us",
        "--zoho-client-id",
        "1000.LOCALCLIENT",
        "--connection-name",
        "zoho-init",
        "--schema",
        SCHEMA,
    ];
    for module in modules {
        args.extend(["--module", module]);
    }
    args
}

/// The emulator's schema in the resolved form, read the way Adobe documents it.
async fn resolved_schema(h: &Harness) -> Value {
    let path = format!(
        "/data/foundation/schemaregistry/tenant/schemas/{}",
        url::form_urlencoded::byte_serialize(SCHEMA.as_bytes()).collect::<String>()
    );
    let reply = h
        .env
        .send(
            h.env
                .adobe(Method::GET, &path)
                .header("accept", "application/vnd.adobe.xed-full+json; version=1"),
        )
        .await;
    assert_eq!(reply.code(), 200, "{:?}", reply.body);
    reply.body
}

/// The node at a dotted path of a resolved schema, if it is a leaf (has a non-object type).
fn leaf<'a>(schema: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = schema;
    for segment in path.split('.') {
        node = node.get("properties")?.get(segment)?;
    }
    (node.get("type")?.as_str()? != "object").then_some(node)
}

fn profile_env(h: &Harness) -> profile::Env {
    let url = h.url();
    [
        ("AEP_CLIENT_SECRET", support::CLIENT_SECRET),
        ("ZOHO_CLIENT_SECRET", support::ZOHO_SECRET),
        ("ZOHO_REFRESH_TOKEN", support::ZOHO_REFRESH),
        ("PROVISION_ADOBE__IMS_URL", &url),
        ("PROVISION_ADOBE__PLATFORM_URL", &url),
        ("PROVISION_ZOHO__ACCOUNTS_URL", &url),
        ("PROVISION_ZOHO__API_URL", &url),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn init_with_flags_writes_a_profile_that_plans_and_converges() {
    let h = Harness::start().await;
    let file = h.dir.path().join("zoho.toml");
    let file_arg = file.to_str().expect("utf-8");
    h.run(&flags(file_arg, &["Leads", "Contacts", "Deals"]))
        .await
        .assert_exit(0);
    assert!(
        h.writes().is_empty(),
        "init writes nothing to AEP: {:?}",
        support::cli::calls(&h.writes())
    );
    assert_eq!(
        h.zoho_refreshes(),
        1,
        "one Zoho token for the module list and every field list: {:#?}",
        support::cli::calls(&h.requests())
    );
    let text = std::fs::read_to_string(&file).expect("the profile is written");
    for secret in [
        "${AEP_CLIENT_SECRET}",
        "${ZOHO_CLIENT_SECRET}",
        "${ZOHO_REFRESH_TOKEN}",
    ] {
        assert!(
            text.contains(secret),
            "{secret} placeholder missing:\n{text}"
        );
    }
    assert!(!text.contains(support::CLIENT_SECRET) && !text.contains(support::ZOHO_REFRESH));

    let loaded = profile::load_with_env(Some(&file), &profile_env(&h)).expect("the profile loads");
    let schema = resolved_schema(&h).await;
    let modules: Vec<&str> = loaded.dataflows.iter().map(|d| d.module.as_str()).collect();
    assert_eq!(modules, ["Leads", "Contacts", "Deals"]);
    for flow in &loaded.dataflows {
        assert_eq!(flow.delta_column, "Modified_Time");
        assert_eq!(flow.schema_id, SCHEMA);
        let Mapping::Explicit(rules) = &flow.mapping else {
            panic!("{}: an explicit mapping is proposed", flow.module)
        };
        assert!(!rules.is_empty(), "{}: no mapping", flow.module);
        for rule in rules {
            assert!(
                leaf(&schema, &rule.destination).is_some(),
                "{}: {} -> {} is not a field of the emulator's schema",
                flow.module,
                rule.source,
                rule.destination
            );
        }
    }
    let leads = &loaded.dataflows[0];
    let Mapping::Explicit(rules) = &leads.mapping else {
        unreachable!()
    };
    let email = rules.iter().find(|r| r.source == "Email").expect("Email");
    assert_eq!(email.destination, "personalEmail.address");

    let plan = h.run(&["plan", file_arg, "--detailed-exitcode"]).await;
    assert!(
        plan.code == 0 || plan.code == 2,
        "plan exit {}\n{}",
        plan.code,
        plan.stderr
    );
    h.run(&["apply", "--yes", file_arg]).await.assert_exit(0);
    assert_eq!(h.objects("flows").len(), 3);
    h.run(&["plan", file_arg, "--detailed-exitcode"])
        .await
        .assert_exit(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn init_replaces_a_rejected_cached_zoho_token_with_one_refresh() {
    let h = Harness::start().await;
    let file = h.dir.path().join("zoho.toml");
    let file_arg = file.to_str().expect("utf-8");
    h.run(&flags(file_arg, &["Leads", "Contacts"]))
        .await
        .assert_exit(0);
    // An hour later the cached token is no longer accepted: the module list's 401 drops it, one
    // refresh replaces it, and the field lists are read with the new token.
    h.emulator()
        .advance_clock(std::time::Duration::from_secs(3601));
    h.clear_requests();
    let mut args = flags(file_arg, &["Leads", "Contacts"]);
    args.push("--force");
    h.run(&args).await.assert_exit(0);
    let calls = support::cli::calls(&h.requests());
    assert_eq!(h.zoho_refreshes(), 1, "{calls:#?}");
    let crm: Vec<&String> = calls.iter().filter(|c| c.contains(" /crm/")).collect();
    assert_eq!(
        crm,
        [
            "GET /crm/v8/settings/modules -> 401",
            "GET /crm/v8/settings/modules -> 200",
            "GET /crm/v8/settings/fields -> 200",
            "GET /crm/v8/settings/fields -> 200",
        ],
        "{calls:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn init_reads_the_field_lists_together_and_writes_modules_in_the_order_asked() {
    // 250 ms an answer: field lists sent together arrive within a few milliseconds of each
    // other, one after another at least 250 ms apart.
    let latency_ms = 250;
    let h = Harness::with_latency(latency_ms).await;
    let file = h.dir.path().join("zoho.toml");
    let file_arg = file.to_str().expect("utf-8");
    h.run(&flags(file_arg, &["Leads", "Contacts", "Deals"]))
        .await
        .assert_exit(0);

    let requests = h.requests();
    let arrivals: Vec<&RecordedRequest> = requests
        .iter()
        .filter(|r| r.path == "/crm/v8/settings/fields")
        .collect();
    assert_eq!(arrivals.len(), 3, "one field list per module");
    let spread = spread_ms(&arrivals);
    assert!(
        spread < latency_ms as i64,
        "the field lists arrived over {spread} ms: they were read one after another"
    );
    let text = std::fs::read_to_string(&file).expect("the profile is written");
    let modules: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("module       = "))
        .collect();
    assert_eq!(
        modules,
        ["\"Leads\"", "\"Contacts\"", "\"Deals\""],
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn init_keeps_an_existing_file_without_force() {
    let h = Harness::start().await;
    let file = h.dir.path().join("zoho.toml");
    let file_arg = file.to_str().expect("utf-8");
    std::fs::write(&file, "# mine\n").expect("written");
    h.clear_requests();
    let out = h.run(&flags(file_arg, &["Leads"])).await;
    out.assert_exit(64);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "# mine\n");
    assert!(h.requests().is_empty(), "nothing is asked before the check");

    let mut args = flags(file_arg, &["Leads"]);
    args.push("--force");
    h.run(&args).await.assert_exit(0);
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.contains("module       = \"Leads\""), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_flag_off_a_terminal_is_a_usage_error_naming_it() {
    let h = Harness::start().await;
    let file = h.dir.path().join("zoho.toml");
    let file_arg = file.to_str().expect("utf-8");
    h.clear_requests();
    let mut args = flags(file_arg, &["Leads"]);
    let at = args
        .iter()
        .position(|a| *a == "--schema")
        .expect("--schema");
    args.drain(at..at + 2);
    let out = h.run(&args).await;
    out.assert_exit(64);
    assert!(out.stderr.contains("--schema"), "{}", out.stderr);
    assert!(!out.stderr.contains("--org-id"), "{}", out.stderr);

    let out = h.run(&flags(file_arg, &[])).await;
    out.assert_exit(64);
    assert!(out.stderr.contains("--module"), "{}", out.stderr);
    assert!(!file.exists());
    assert!(
        h.requests().is_empty(),
        "no request before the flags are complete"
    );

    // A value from PROVISION_<SECTION>__<KEY> stands in for its flag.
    let out = h
        .run_env(&args, &[("PROVISION_DEFAULTS__SCHEMA_ID", SCHEMA)])
        .await;
    out.assert_exit(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn init_names_an_unknown_module_and_schema() {
    let h = Harness::start().await;
    let file = h.dir.path().join("zoho.toml");
    let file_arg = file.to_str().expect("utf-8");
    let out = h.run(&flags(file_arg, &["Leeds"])).await;
    out.assert_exit(64);
    assert!(
        out.stderr.contains("Leeds") && out.stderr.contains("Leads"),
        "{}",
        out.stderr
    );

    let mut args = flags(file_arg, &["Leads"]);
    let at = args.iter().position(|a| *a == SCHEMA).expect("schema");
    args[at] = "https://ns.adobe.com/acme/schemas/nope";
    let out = h.run(&args).await;
    out.assert_exit(1);
    assert!(out.stderr.contains("schemas/nope"), "{}", out.stderr);
    assert!(!file.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_generated_profile_snapshot() {
    let h = Harness::start().await;
    let settings = InitSettings {
        org_id: "0000000000000000000000AA@AdobeOrg".into(),
        sandbox: "prod".into(),
        adobe_client_id: "provision-local".into(),
        region: Some(ZohoRegion::Us),
        zoho_client_id: "1000.LOCALCLIENT".into(),
        connection_name: "zoho-crm-local".into(),
        schema_id: SCHEMA.into(),
        modules: Vec::new(),
        urls: ["ims_url", "platform_url"]
            .map(|k| ("adobe", k, h.url()))
            .into_iter()
            .chain(["accounts_url", "api_url"].map(|k| ("zoho", k, h.url())))
            .collect(),
    };
    let now: DateTime<Utc> = "2026-12-06T07:42:10Z".parse().expect("time");
    let mut offered = Vec::new();
    let mut pick = |modules: &[ZohoModule]| -> Result<Vec<String>, CliError> {
        offered = modules.iter().map(|m| m.api_name.clone()).collect();
        Ok(vec!["Leads".into(), "Deals".into()])
    };
    let report = generate(
        &settings,
        Path::new("profiles/zoho.toml"),
        &profile_env(&h),
        now,
        &mut pick,
    )
    .await
    .expect("generated");
    assert!(offered.contains(&"Leads".to_owned()));
    assert!(
        !offered.contains(&"Home".to_owned()),
        "modules the API cannot read are not offered"
    );
    let url = regex_escape(&h.url());
    insta::with_settings!({filters => vec![(url.as_str(), "[EMULATOR]")]}, {
        insta::assert_snapshot!("init_profile", report.text);
    });
}

fn regex_escape(text: &str) -> String {
    regex::escape(text)
}

#[tokio::test(flavor = "multi_thread")]
async fn explore_schema_lists_leaf_fields_as_a_table_and_json() {
    let h = Harness::start().await;
    let profile = h.profile("p.toml", support::cli::THREE_MODULES);
    let profile_arg = profile.to_str().expect("utf-8");
    let out = h
        .run(&["explore", profile_arg, "--schema", "--output", "json"])
        .await;
    out.assert_exit(0);
    let doc = out.json();
    assert_eq!(doc["schema"], SCHEMA);
    let fields = doc["fields"].as_array().expect("fields");
    let find = |path: &str| {
        fields
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{path} missing from {fields:?}"))
    };
    assert_eq!(find("personalEmail.address")["format"], "email");
    assert_eq!(find("person.name.firstName")["type"], "string");
    assert_eq!(find("person.name.firstName")["format"], Value::Null);
    assert_eq!(find("_acme.zoho.Modified_Time")["format"], "date-time");
    assert_eq!(find("_acme.zoho.Annual_Revenue")["type"], "number");
    assert!(
        !fields
            .iter()
            .any(|f| f["path"] == "person" || f["path"] == "_acme.zoho"),
        "objects are not leaves"
    );

    let out: Output = h.run(&["explore", profile_arg, "--schema", SCHEMA]).await;
    out.assert_exit(0);
    let header = out.stdout.lines().nth(1).unwrap_or_default();
    assert!(
        header.contains("PATH") && header.contains("TYPE") && header.contains("FORMAT"),
        "{}",
        out.stdout
    );
    let row = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("personalEmail.address "))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(row.contains("string") && row.contains("email"), "{row}");

    let out = h
        .run(&[
            "explore",
            profile_arg,
            "--schema",
            "https://ns.adobe.com/acme/schemas/nope",
        ])
        .await;
    out.assert_exit(1);
    assert!(out.stderr.contains("schemas/nope"), "{}", out.stderr);
}

fn binary() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("provision"))
}

#[test]
fn bash_completions_load_and_complete_subcommands() {
    let out = binary()
        .args(["completions", "bash"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let dir = tempfile::tempdir().expect("dir");
    let script = dir.path().join("provision.bash");
    std::fs::write(&script, &out.stdout).expect("written");
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    // Drive the completion function the way bash does on `provision <TAB>` and `provision in<TAB>`.
    let drive = |words: &str, cword: usize| {
        let program = format!(
            "source {}; f=$(complete -p provision | sed -E 's/.* -F ([^ ]+) .*/\\1/'); \
             COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}; \
             \"$f\" provision \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = Command::new("bash")
            .args(["-c", &program])
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let all = drive("provision ''", 1);
    for command in ["init", "plan", "apply", "explore", "completions"] {
        assert!(
            all.iter().any(|w| w == command),
            "{command} missing: {all:?}"
        );
    }
    assert_eq!(drive("provision in", 1), ["init"]);
    let flags = drive("provision init x.toml --sch", 3);
    assert_eq!(flags, ["--schema"]);
}

#[test]
fn every_shell_gets_a_script() {
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = binary()
            .args(["completions", shell])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("init") && text.contains("explore"), "{shell}");
    }
    let out = binary()
        .args(["completions", "tcsh"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn the_man_page_renders() {
    if Command::new("man").arg("--version").output().is_err() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "man is missing on CI; install man-db"
        );
        eprintln!("skipping: `man` is not installed (apt-get install man-db)");
        return;
    }
    // What `make man` writes to target/man/provision.1.
    let out = binary().arg("man").output().expect("runs");
    assert!(out.status.success());
    let dir = tempfile::tempdir().expect("dir");
    let page = dir.path().join("provision.1");
    std::fs::write(&page, &out.stdout).expect("written");
    let rendered = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man runs");
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(text.contains("NAME"), "{text}");
    assert!(text.contains("provision"), "{text}");
    assert!(
        text.contains("init") && text.contains("completions"),
        "{text}"
    );
    let makefile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Makefile"))
        .expect("Makefile");
    assert!(
        makefile.contains("provision man >target/man/provision.1"),
        "make man writes what this test renders"
    );
}

#[test]
fn version_names_the_build() {
    let out = binary().arg("--version").output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!("provision {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    let in_checkout = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success());
    if in_checkout.is_some() {
        // `(commit YYYY-MM-DD)`: the commit the binary was built from, and the day.
        let re = regex::Regex::new(r"\([0-9a-f]{12} \d{4}-\d{2}-\d{2}\)").expect("regex");
        assert!(re.is_match(&text), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn zoho_fields_come_with_zohos_data_types() {
    use provision::api::http::HttpOptions;
    use provision::auth::zoho::ZohoOAuth;

    let h = Harness::start().await;
    let loaded = profile::parse(
        &support::cli::profile_text(&h.url(), "p", ""),
        Path::new("p.toml"),
        &profile_env(&h),
    )
    .expect("profile");
    let zoho = ZohoOAuth::new(HttpOptions::default()).expect("client");
    let token = zoho.token(&loaded.zoho).await.expect("token");
    let api = token.api_domain_or(&loaded.zoho.api_url);
    let fields = zoho
        .crm()
        .list_fields(&api, &token.access_token, "Leads")
        .await
        .expect("fields");
    let data_type = |name: &str| {
        fields
            .iter()
            .find(|f| f.api_name == name)
            .map(|f| f.data_type.as_str())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(data_type("Modified_Time"), "datetime");
    assert_eq!(data_type("Created_Time"), "datetime");
    assert_eq!(data_type("Email"), "email");
    assert_eq!(data_type("Phone"), "phone");
    assert_eq!(data_type("Lead_Source"), "picklist");
    assert_eq!(data_type("Annual_Revenue"), "double");
    assert_eq!(data_type("Email_Opt_Out"), "boolean");
    assert_eq!(data_type("Owner"), "ownerlookup");
    let request = h
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/crm/v8/settings/fields")
        .expect("the fields call was sent");
    assert_eq!(request.method, "GET");
    assert_eq!(request.query.as_deref(), Some("module=Leads"));
    assert!(request.headers.iter().any(|h| h == "authorization"));

    let error = zoho
        .crm()
        .list_fields(&api, &token.access_token, "Leeds")
        .await
        .expect_err("no such module");
    let message = error.to_string();
    assert!(
        message.contains("INVALID_MODULE") && message.contains("module=Leeds"),
        "{message}"
    );
    assert!(!message.contains(support::ZOHO_REFRESH), "{message}");
}
