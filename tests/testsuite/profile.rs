//! The profile loader: valid profiles resolve to the documented values, and every malformed
//! profile exits 78 with a message naming the key, variable or line, before any request is sent.

use std::collections::HashMap;
use std::path::Path;

use assert_cmd::Command;
use provision::profile::{
    self, DatasetTarget, Env, Frequency, Mapping, MappingRule, Profile, ZohoRegion,
};
use secrecy::ExposeSecret;
use wiremock::MockServer;

/// A valid profile whose every URL is `{URL}`.
const BASE: &str = r#"[adobe]
org_id        = "5C1328435BF324E90A49402A@AdobeOrg"
sandbox       = "prod"
client_id     = "0123456789abcdef0123456789abcdef"
client_secret = "${AEP_CLIENT_SECRET}"
ims_url       = "{URL}"
platform_url  = "{URL}"

[zoho]
region        = "eu"
client_id     = "1000.CLIENT"
client_secret = "${ZOHO_CLIENT_SECRET}"
refresh_token = "${ZOHO_REFRESH_TOKEN}"
accounts_url  = "{URL}"
api_url       = "{URL}"

[connection]
name        = "zoho-crm-test"
description = "test"

[defaults]
schema_id      = "https://ns.adobe.com/acme/schemas/zoho"
mapping_prefix = "_acme.zoho"
schedule       = { frequency = "hour", interval = 1, start = "2026-12-01T00:00:00Z", backfill = true }

[[dataflows]]
module  = "Leads"
dataset = { create = true, name = "Zoho Leads" }
mapping = [
  { source = "Email", destination = "personalEmail.address" },
]

[[dataflows]]
module  = "Contacts"
dataset = { id = "6889f4f89b982b2b90bc1208" }
mapping = "auto"
"#;

fn secrets() -> Env {
    [
        ("AEP_CLIENT_SECRET", "aep-secret"),
        ("ZOHO_CLIENT_SECRET", "zoho-secret"),
        ("ZOHO_REFRESH_TOKEN", "1000.refresh"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn with_env(extra: &[(&str, &str)]) -> Env {
    let mut env = secrets();
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    env
}

fn parse(text: &str, env: &Env) -> Result<Profile, String> {
    profile::parse(text, Path::new("test.toml"), env).map_err(|e| e.message)
}

fn base(url: &str) -> String {
    BASE.replace("{URL}", url)
}

#[test]
fn a_valid_profile_resolves_defaults_and_interpolation() {
    let p = parse(&base("http://127.0.0.1:9"), &secrets()).expect("valid");
    assert_eq!(p.adobe.client_secret.expose_secret(), "aep-secret");
    assert_eq!(p.zoho.refresh_token.expose_secret(), "1000.refresh");
    assert_eq!(
        p.adobe.scopes,
        profile::DEFAULT_SCOPES.map(str::to_owned).to_vec()
    );
    assert_eq!(p.zoho.region, Some(ZohoRegion::Eu));
    assert_eq!(p.connection.name, "zoho-crm-test");
    assert_eq!(p.dataflows.len(), 2);

    let leads = &p.dataflows[0];
    assert_eq!(leads.module, "Leads");
    assert_eq!(
        leads.dataset,
        DatasetTarget::Create {
            name: "Zoho Leads".into()
        }
    );
    assert_eq!(leads.schema_id, "https://ns.adobe.com/acme/schemas/zoho");
    assert_eq!(leads.delta_column, "Modified_Time");
    assert_eq!(
        leads.mapping,
        Mapping::Explicit(vec![MappingRule {
            source: "Email".into(),
            destination: "personalEmail.address".into()
        }])
    );
    assert_eq!(leads.schedule.frequency, Frequency::Hour);
    assert_eq!(leads.schedule.interval, Some(1));
    assert_eq!(leads.schedule.backfill, Some(true));
    assert_eq!(
        leads.schedule.start.to_rfc3339(),
        "2026-12-01T00:00:00+00:00"
    );

    let contacts = &p.dataflows[1];
    assert_eq!(
        contacts.dataset,
        DatasetTarget::Existing {
            id: "6889f4f89b982b2b90bc1208".into()
        }
    );
    assert_eq!(
        contacts.mapping,
        Mapping::Auto {
            prefix: "_acme.zoho".into(),
            skip_unmapped: false,
        }
    );
}

#[test]
fn urls_default_to_the_real_services() {
    let text = base("x")
        .lines()
        .filter(|l| !l.contains("\"x\""))
        .collect::<Vec<_>>()
        .join("\n");
    let p = parse(&text, &secrets()).expect("valid");
    assert_eq!(p.adobe.ims_url.as_str(), "https://ims-na1.adobelogin.com/");
    assert_eq!(p.adobe.platform_url.as_str(), "https://platform.adobe.io/");
    assert_eq!(p.zoho.accounts_url.as_str(), "https://accounts.zoho.eu/");
    assert_eq!(p.zoho.api_url.as_str(), "https://www.zohoapis.eu/");
}

#[test]
fn every_region_sets_its_accounts_and_api_urls() {
    let expected = [
        (
            "us",
            "https://accounts.zoho.com/",
            "https://www.zohoapis.com/",
        ),
        (
            "eu",
            "https://accounts.zoho.eu/",
            "https://www.zohoapis.eu/",
        ),
        (
            "in",
            "https://accounts.zoho.in/",
            "https://www.zohoapis.in/",
        ),
        (
            "au",
            "https://accounts.zoho.com.au/",
            "https://www.zohoapis.com.au/",
        ),
        (
            "jp",
            "https://accounts.zoho.jp/",
            "https://www.zohoapis.jp/",
        ),
        (
            "cn",
            "https://accounts.zoho.com.cn/",
            "https://www.zohoapis.com.cn/",
        ),
        (
            "ca",
            "https://accounts.zohocloud.ca/",
            "https://www.zohoapis.ca/",
        ),
        (
            "sa",
            "https://accounts.zoho.sa/",
            "https://www.zohoapis.sa/",
        ),
        (
            "uk",
            "https://accounts.zoho.uk/",
            "https://www.zohoapis.uk/",
        ),
    ];
    for (region, accounts, api) in expected {
        let text = base("https://example.com")
            .replace("region        = \"eu\"", &format!("region = \"{region}\""))
            .replace("accounts_url  = \"https://example.com\"", "")
            .replace("api_url       = \"https://example.com\"", "");
        let p = parse(&text, &secrets()).unwrap_or_else(|e| panic!("{region}: {e}"));
        assert_eq!(p.zoho.accounts_url.as_str(), accounts, "{region}");
        assert_eq!(p.zoho.api_url.as_str(), api, "{region}");
        assert_eq!(p.zoho.region.map(|r| r.as_str()), Some(region));
    }
}

#[test]
fn accounts_url_alone_finds_its_region() {
    let text = base("https://example.com")
        .replace("region        = \"eu\"", "")
        .replace(
            "accounts_url  = \"https://example.com\"",
            "accounts_url = \"https://accounts.zohocloud.ca\"",
        )
        .replace("api_url       = \"https://example.com\"", "");
    let p = parse(&text, &secrets()).expect("valid");
    assert_eq!(p.zoho.region, Some(ZohoRegion::Ca));
    assert_eq!(p.zoho.api_url.as_str(), "https://www.zohoapis.ca/");
}

#[test]
fn environment_overrides_win_over_the_file() {
    let env = with_env(&[
        ("PROVISION_ADOBE__SANDBOX", "dev"),
        ("PROVISION_ADOBE__CLIENT_SECRET", "from-env"),
        ("PROVISION_ADOBE__SCOPES", "openid, AdobeID"),
        ("PROVISION_ZOHO__REGION", "in"),
        ("PROVISION_ZOHO__API_URL", "http://localhost:1234"),
        ("PROVISION_CONNECTION__NAME", "other"),
        ("PROVISION_DEFAULTS__SCHEDULE__FREQUENCY", "minute"),
        ("PROVISION_DEFAULTS__SCHEDULE__INTERVAL", "30"),
        ("PROVISION_DEFAULTS__SCHEDULE__BACKFILL", "false"),
        ("PROVISION_PROFILE", "ignored.toml"),
        ("PROVISION_SOMETHING", "ignored"),
    ]);
    let p = parse(&base("http://127.0.0.1:9"), &env).expect("valid");
    assert_eq!(p.adobe.sandbox, "dev");
    assert_eq!(p.adobe.client_secret.expose_secret(), "from-env");
    assert_eq!(p.adobe.scopes, vec!["openid", "AdobeID"]);
    assert_eq!(p.zoho.region, Some(ZohoRegion::In));
    assert_eq!(p.zoho.api_url.as_str(), "http://localhost:1234/");
    assert_eq!(p.connection.name, "other");
    let schedule = &p.dataflows[0].schedule;
    assert_eq!(schedule.frequency, Frequency::Minute);
    assert_eq!(schedule.interval, Some(30));
    assert_eq!(schedule.backfill, Some(false));
}

#[test]
fn an_override_replaces_a_missing_variable() {
    let mut env = with_env(&[("PROVISION_ADOBE__CLIENT_SECRET", "from-env")]);
    env.remove("AEP_CLIENT_SECRET");
    let p = parse(&base("http://127.0.0.1:9"), &env).expect("valid");
    assert_eq!(p.adobe.client_secret.expose_secret(), "from-env");
}

#[test]
fn dataflow_values_override_defaults() {
    let text = base("http://127.0.0.1:9").replace(
        "dataset = { id = \"6889f4f89b982b2b90bc1208\" }",
        "dataset = { id = \"6889f4f89b982b2b90bc1208\" }\nschema_id = \"https://ns.adobe.com/other\"\n\
         mapping_prefix = \"_other\"\ndelta_column = \"Created_Time\"\n\
         schedule = { frequency = \"once\", start = 2027-01-01T00:00:00Z }",
    );
    let p = parse(&text, &secrets()).expect("valid");
    let contacts = &p.dataflows[1];
    assert_eq!(contacts.schema_id, "https://ns.adobe.com/other");
    assert_eq!(
        contacts.mapping,
        Mapping::Auto {
            prefix: "_other".into(),
            skip_unmapped: false,
        }
    );
    assert_eq!(contacts.delta_column, "Created_Time");
    assert_eq!(contacts.schedule.frequency, Frequency::Once);
    assert_eq!(contacts.schedule.interval, None);
    assert_eq!(contacts.schedule.backfill, None);
}

#[test]
fn dollar_dollar_is_a_literal_dollar() {
    let text = base("http://127.0.0.1:9").replace(
        "description = \"test\"",
        "description = \"costs $$5 ${WHO}\"",
    );
    let p = parse(&text, &with_env(&[("WHO", "us")])).expect("valid");
    assert_eq!(p.connection.description.as_deref(), Some("costs $5 us"));
}

#[test]
fn debug_output_hides_every_secret() {
    let p = parse(&base("http://127.0.0.1:9"), &secrets()).expect("valid");
    let debug = format!("{p:?}");
    for secret in ["aep-secret", "zoho-secret", "1000.refresh"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    assert!(debug.contains("REDACTED"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = base("http://127.0.0.1:9")
        .replace("sandbox       = \"prod\"", "sandbox = \"Prod\"")
        .replace("interval = 1", "interval = 0");
    let message = parse(&text, &secrets()).expect_err("invalid");
    assert!(
        message.starts_with("2 problems in profile test.toml"),
        "{message}"
    );
    assert!(
        message.contains("test.toml:3:1: adobe.sandbox"),
        "{message}"
    );
    assert!(
        message.contains("defaults.schedule.interval: 0 is below the minimum of 1"),
        "{message}"
    );
}

#[test]
fn profile_path_resolution() {
    let env: Env = HashMap::new();
    assert_eq!(
        profile::resolve_path(None, &env).0,
        Path::new("profiles/default.toml")
    );
    let env: Env = [("PROVISION_PROFILE".to_owned(), "x.toml".to_owned())].into();
    assert_eq!(profile::resolve_path(None, &env).0, Path::new("x.toml"));
    assert_eq!(
        profile::resolve_path(Some(Path::new("y.toml")), &env).0,
        Path::new("y.toml")
    );
}

#[cfg(unix)]
#[test]
fn literal_secrets_need_a_private_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.toml");
    let text =
        base("http://127.0.0.1:9").replace("\"${AEP_CLIENT_SECRET}\"", "\"literal-secret-value\"");
    std::fs::write(&path, &text).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let error = profile::load_with_env(Some(&path), &secrets()).expect_err("readable by others");
    assert!(
        error.message.contains("adobe.client_secret"),
        "{}",
        error.message
    );
    assert!(error.message.contains("chmod 600"), "{}", error.message);
    assert!(
        !error.message.contains("literal-secret-value"),
        "{}",
        error.message
    );

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let p = profile::load_with_env(Some(&path), &secrets()).expect("private file");
    assert_eq!(
        p.adobe.client_secret.expose_secret(),
        "literal-secret-value"
    );
}

#[test]
fn the_shipped_profiles_are_valid() {
    for name in ["example", "local"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("profiles/{name}.toml"));
        let p = profile::load_with_env(Some(&path), &secrets())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!p.dataflows.is_empty(), "{name}");
    }
}

/// One malformed profile: how to make it from the valid one, extra environment, and what the
/// message must contain.
struct Case {
    name: &'static str,
    edit: fn(String) -> String,
    env: &'static [(&'static str, &'static str)],
    expect: &'static [&'static str],
}

fn replace(text: String, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the case's pattern `{from}` is not in the base profile"
    );
    text.replace(from, to)
}

const CASES: &[Case] = &[
    Case {
        name: "unknown key with a suggestion",
        edit: |t| replace(t, "client_secret = \"${AEP", "client_secrt = \"${AEP"),
        env: &[],
        expect: &[
            "p.toml:5:1:",
            "adobe.client_secrt",
            "did you mean `client_secret`",
        ],
    },
    Case {
        name: "unknown section",
        edit: |t| replace(t, "[connection]", "[conection]"),
        env: &[],
        expect: &["p.toml:17:2:", "conection", "did you mean `connection`"],
    },
    Case {
        name: "unknown key in a dataflow",
        edit: |t| replace(t, "module  = \"Leads\"", "modul = \"Leads\""),
        env: &[],
        expect: &[
            "p.toml:27:1:",
            "dataflows[0].modul",
            "did you mean `module`",
        ],
    },
    Case {
        name: "unknown key in the schedule",
        edit: |t| replace(t, "backfill = true", "backfil = true"),
        env: &[],
        expect: &[
            "p.toml:24:",
            "defaults.schedule.backfil",
            "did you mean `backfill`",
        ],
    },
    Case {
        name: "missing variable",
        edit: |t| replace(t, "${ZOHO_REFRESH_TOKEN}", "${ZOHO_TOKEN_MISSING}"),
        env: &[],
        expect: &[
            "p.toml:13:1:",
            "zoho.refresh_token",
            "ZOHO_TOKEN_MISSING is not set",
        ],
    },
    Case {
        name: "toml syntax error",
        edit: |t| replace(t, "sandbox       = \"prod\"", "sandbox = \"prod"),
        env: &[],
        expect: &["p.toml:3:", "TOML syntax error"],
    },
    Case {
        name: "duplicate key",
        edit: |t| {
            replace(
                t,
                "sandbox       = \"prod\"",
                "sandbox = \"prod\"\nsandbox = \"dev\"",
            )
        },
        env: &[],
        expect: &["p.toml:4:", "TOML syntax error", "duplicate key"],
    },
    Case {
        name: "http to a non-loopback host",
        edit: |t| {
            replace(
                t,
                "ims_url       = \"{URL}\"",
                "ims_url = \"http://ims.example.com\"",
            )
        },
        env: &[],
        expect: &["p.toml:6:1:", "adobe.ims_url", "http://", "https://"],
    },
    Case {
        name: "minute interval of 5",
        edit: |t| {
            replace(
                t,
                "frequency = \"hour\", interval = 1",
                "frequency = \"minute\", interval = 5",
            )
        },
        env: &[],
        expect: &["p.toml:24:", "defaults.schedule.interval", "minimum of 15"],
    },
    Case {
        name: "unknown region",
        edit: |t| replace(t, "region        = \"eu\"", "region = \"mars\""),
        env: &[],
        expect: &[
            "p.toml:10:1:",
            "zoho.region",
            "mars",
            "us, eu, in, au, jp, cn, ca, sa, uk",
        ],
    },
    Case {
        name: "wrong type for interval",
        edit: |t| replace(t, "interval = 1", "interval = \"1\""),
        env: &[],
        expect: &[
            "p.toml:24:",
            "defaults.schedule.interval",
            "expected a whole number, found string",
        ],
    },
    Case {
        name: "wrong type for scopes",
        edit: |t| replace(t, "ims_url       =", "scopes = \"openid\"\nims_url ="),
        env: &[],
        expect: &["p.toml:6:", "adobe.scopes", "expected an array of strings"],
    },
    Case {
        name: "duplicate module",
        edit: |t| replace(t, "module  = \"Contacts\"", "module  = \"Leads\""),
        env: &[],
        expect: &[
            "p.toml:34:",
            "dataflows[1].module",
            "duplicate module `Leads`",
            "line 27",
        ],
    },
    Case {
        name: "empty mapping",
        edit: |t| replace(t, "mapping = \"auto\"", "mapping = []"),
        env: &[],
        expect: &["p.toml:36:", "dataflows[1].mapping", "empty mapping"],
    },
    Case {
        name: "mapping keyword other than auto",
        edit: |t| replace(t, "mapping = \"auto\"", "mapping = \"all\""),
        env: &[],
        expect: &[
            "p.toml:36:",
            "dataflows[1].mapping",
            "`all` is not a mapping",
        ],
    },
    Case {
        name: "auto mapping without a prefix",
        edit: |t| replace(t, "mapping_prefix = \"_acme.zoho\"", ""),
        env: &[],
        expect: &["p.toml:36:", "dataflows[1].mapping", "mapping_prefix"],
    },
    Case {
        name: "interval given for once",
        edit: |t| replace(t, "frequency = \"hour\"", "frequency = \"once\""),
        env: &[],
        expect: &[
            "defaults.schedule.interval",
            "absent when frequency = \"once\"",
        ],
    },
    Case {
        name: "unknown frequency",
        edit: |t| replace(t, "frequency = \"hour\"", "frequency = \"monthly\""),
        env: &[],
        expect: &[
            "p.toml:24:",
            "defaults.schedule.frequency",
            "once, minute, hour, day, week",
        ],
    },
    Case {
        name: "start is not RFC 3339",
        edit: |t| {
            replace(
                t,
                "start = \"2026-12-01T00:00:00Z\"",
                "start = \"tomorrow\"",
            )
        },
        env: &[],
        expect: &["p.toml:24:", "defaults.schedule.start", "RFC 3339"],
    },
    Case {
        name: "start without a time zone",
        edit: |t| {
            replace(
                t,
                "start = \"2026-12-01T00:00:00Z\"",
                "start = 2026-12-01T00:00:00",
            )
        },
        env: &[],
        expect: &["defaults.schedule.start", "time zone"],
    },
    Case {
        name: "hour interval of 0",
        edit: |t| replace(t, "interval = 1", "interval = 0"),
        env: &[],
        expect: &["defaults.schedule.interval", "minimum of 1"],
    },
    Case {
        name: "negative interval",
        edit: |t| replace(t, "interval = 1", "interval = -3"),
        env: &[],
        expect: &["defaults.schedule.interval", "-3"],
    },
    Case {
        name: "comma in the connection name",
        edit: |t| replace(t, "name        = \"zoho-crm-test\"", "name = \"zoho,crm\""),
        env: &[],
        expect: &["p.toml:18:1:", "connection.name", "comma", "OR"],
    },
    Case {
        name: "comma in a module",
        edit: |t| replace(t, "module  = \"Leads\"", "module = \"Leads,Deals\""),
        env: &[],
        expect: &["p.toml:27:1:", "dataflows[0].module", "comma"],
    },
    Case {
        name: "missing connection name",
        edit: |t| replace(t, "name        = \"zoho-crm-test\"", ""),
        env: &[],
        expect: &["connection.name", "missing"],
    },
    Case {
        name: "dataset with both id and create",
        edit: |t| {
            replace(
                t,
                "dataset = { id = \"6889f4f89b982b2b90bc1208\" }",
                "dataset = { id = \"x\", create = true, name = \"y\" }",
            )
        },
        env: &[],
        expect: &["p.toml:35:", "dataflows[1].dataset", "not both"],
    },
    Case {
        name: "dataflow without a dataset",
        edit: |t| replace(t, "dataset = { id = \"6889f4f89b982b2b90bc1208\" }", ""),
        env: &[],
        expect: &["dataflows[1].dataset", "missing for module Contacts"],
    },
    Case {
        name: "org id without @AdobeOrg",
        edit: |t| {
            replace(
                t,
                "5C1328435BF324E90A49402A@AdobeOrg",
                "5C1328435BF324E90A49402A",
            )
        },
        env: &[],
        expect: &["p.toml:2:1:", "adobe.org_id", "@AdobeOrg"],
    },
    Case {
        name: "upper-case sandbox",
        edit: |t| replace(t, "sandbox       = \"prod\"", "sandbox = \"Prod\""),
        env: &[],
        expect: &["p.toml:3:1:", "adobe.sandbox", "lower case"],
    },
    Case {
        name: "unterminated variable reference",
        edit: |t| replace(t, "${ZOHO_CLIENT_SECRET}", "${ZOHO_CLIENT_SECRET"),
        env: &[],
        expect: &["p.toml:12:1:", "zoho.client_secret", "unterminated"],
    },
    Case {
        name: "neither region nor accounts_url",
        edit: |t| {
            replace(
                replace(t, "region        = \"eu\"", ""),
                "accounts_url  = \"{URL}\"",
                "",
            )
        },
        env: &[],
        expect: &["zoho.region", "missing"],
    },
    Case {
        name: "duplicate mapping destination",
        edit: |t| {
            replace(t, "  { source = \"Email\", destination = \"personalEmail.address\" },", "  { source = \"Email\", destination = \"a.b\" },\n  { source = \"Phone\", destination = \"a.b\" },")
        },
        env: &[],
        expect: &[
            "p.toml:31:",
            "dataflows[0].mapping[1].destination",
            "already the destination",
        ],
    },
    Case {
        name: "empty file",
        edit: |_| String::from("\n  \n"),
        env: &[],
        expect: &["p.toml: the profile is empty", "profiles/example.toml"],
    },
    Case {
        name: "unknown key in an override",
        edit: |t| t,
        env: &[("PROVISION_ADOBE__CLIENT_SECRT", "x")],
        expect: &[
            "PROVISION_ADOBE__CLIENT_SECRT",
            "adobe.client_secrt",
            "did you mean `client_secret`",
        ],
    },
    Case {
        name: "override with the wrong type",
        edit: |t| t,
        env: &[("PROVISION_DEFAULTS__SCHEDULE__INTERVAL", "hourly")],
        expect: &[
            "PROVISION_DEFAULTS__SCHEDULE__INTERVAL",
            "defaults.schedule.interval",
            "whole number",
        ],
    },
    Case {
        name: "override to a non-loopback http url",
        edit: |t| t,
        env: &[(
            "PROVISION_ZOHO__ACCOUNTS_URL",
            "http://accounts.example.com",
        )],
        expect: &[
            "PROVISION_ZOHO__ACCOUNTS_URL",
            "zoho.accounts_url",
            "https://",
        ],
    },
    Case {
        name: "override with a single underscore",
        edit: |t| t,
        env: &[("PROVISION_ADOBE_SANDBOX", "dev")],
        expect: &["PROVISION_ADOBE_SANDBOX", "PROVISION_ADOBE__SANDBOX"],
    },
];

/// Every case runs the real binary with `check`; the profile's URLs point at a mock server that
/// must see no request at all.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_profiles_exit_78_naming_the_problem_and_send_nothing() {
    assert!(CASES.len() >= 20);
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.toml");
    let mut failures = Vec::new();
    for case in CASES {
        let text = (case.edit)(BASE.to_owned()).replace("{URL}", &server.uri());
        std::fs::write(&path, text).expect("write profile");
        let mut cmd = Command::cargo_bin("provision").expect("binary");
        cmd.env_clear()
            .envs(secrets())
            .envs(case.env.iter().copied())
            .arg("check")
            .arg(&path);
        let output = cmd.output().expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() != Some(78) {
            failures.push(format!(
                "{}: exit {:?}, stderr: {stderr}",
                case.name,
                output.status.code()
            ));
            continue;
        }
        if !output.stdout.is_empty() {
            failures.push(format!("{}: wrote to stdout", case.name));
        }
        for needle in case.expect {
            if !stderr.contains(needle) {
                failures.push(format!("{}: `{needle}` not in: {stderr}", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let requests = server.received_requests().await.unwrap_or_default();
    assert!(requests.is_empty(), "requests were sent: {requests:?}");
}

#[test]
fn a_missing_profile_file_is_named() {
    let output = Command::cargo_bin("provision")
        .expect("binary")
        .env_clear()
        .args(["plan", "no/such/profile.toml"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no/such/profile.toml not found"),
        "{stderr}"
    );

    let output = Command::cargo_bin("provision")
        .expect("binary")
        .env_clear()
        .env("PROVISION_PROFILE", "from/env.toml")
        .arg("status")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("from/env.toml not found"), "{stderr}");
    assert!(stderr.contains("PROVISION_PROFILE"), "{stderr}");
}
