//! The end-to-end harness: an in-process emulator, a profile in a temporary directory, and the
//! real `provision` binary run against them with the seed secrets and URL overrides set, the way
//! a release pipeline runs it. Readers of the emulator's request log and state make assertions
//! about what was sent and what exists afterwards.
//!
//! ```ignore
//! use crate::support;
//! use support::cli::{Harness, THREE_MODULES};
//!
//! #[tokio::test(flavor = "multi_thread")]
//! async fn apply_then_plan() {
//!     let h = Harness::start().await;
//!     let profile = h.profile("p.toml", THREE_MODULES);
//!     h.run(&["apply", "--yes", profile.to_str().unwrap()]).await.assert_exit(0);
//!     assert!(h.writes().len() > 0);
//! }
//! ```
//!
//! Tests must use a multi-threaded runtime: the emulator serves from the test's runtime while
//! the binary runs (on a blocking thread).
//!
//! The `status` and `explore` tests use the same harness through [`Harness::managing`], which
//! writes one profile managing given modules (see `support::status`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use chrono::{DateTime, Utc};
use provision::emulator::{EmulatorConfig, RecordedRequest, RunningEmulator};
use serde_json::{json, Value};
use tempfile::TempDir;

use super::profile::emulator_profile;
use super::{Env, SANDBOX_PROD, SEEDED_MODULES};

/// The prefix (`connection.name`) of the profiles [`Harness::profile`] writes.
pub const PREFIX: &str = "zoho-crm-test";

/// Three modules: an explicit mapping into a new dataset, an explicit mapping into the seeded
/// dataset, and `mapping = "auto"` into a new dataset.
pub const THREE_MODULES: &str = r#"
[[dataflows]]
module  = "Leads"
dataset = { create = true, name = "Zoho Leads" }
mapping = [
  { source = "Email",      destination = "personalEmail.address" },
  { source = "First_Name", destination = "person.name.firstName" },
]

[[dataflows]]
module  = "Contacts"
dataset = { id = "6889f4f89b982b2b90bc1208" }
mapping = [
  { source = "Email", destination = "personalEmail.address" },
]

[[dataflows]]
module  = "Deals"
dataset = { create = true, name = "Zoho Deals" }
mapping = "auto"
"#;

/// Ten modules: datasets created and the seeded one, explicit and `"auto"` mappings, and several
/// modules mapping the same rules (each must still get its own mapping set).
pub const TEN_MODULES: &str = r#"
[[dataflows]]
module  = "Leads"
dataset = { create = true, name = "Zoho Leads" }
mapping = [
  { source = "Email",      destination = "personalEmail.address" },
  { source = "First_Name", destination = "person.name.firstName" },
]

[[dataflows]]
module  = "Contacts"
dataset = { id = "6889f4f89b982b2b90bc1208" }
mapping = [ { source = "Email", destination = "personalEmail.address" } ]

[[dataflows]]
module  = "Accounts"
dataset = { create = true, name = "Zoho Accounts" }
mapping = "auto"

[[dataflows]]
module  = "Deals"
dataset = { create = true, name = "Zoho Deals" }
mapping = "auto"

[[dataflows]]
module  = "Campaigns"
dataset = { id = "6889f4f89b982b2b90bc1208" }
mapping = "auto"

[[dataflows]]
module  = "Tasks"
dataset = { create = true, name = "Zoho Tasks" }
mapping = [ { source = "Owner", destination = "_acme.zoho.Owner" } ]

[[dataflows]]
module  = "Events"
dataset = { id = "6889f4f89b982b2b90bc1208" }
mapping = [ { source = "Owner", destination = "_acme.zoho.Owner" } ]

[[dataflows]]
module  = "Calls"
dataset = { create = true, name = "Zoho Calls" }
mapping = [ { source = "Owner", destination = "_acme.zoho.Owner" } ]

[[dataflows]]
module  = "Products"
dataset = { id = "6889f4f89b982b2b90bc1208" }
mapping = "auto"

[[dataflows]]
module  = "Quotes"
dataset = { create = true, name = "Zoho Quotes" }
mapping = "auto"
"#;

/// The modules of [`TEN_MODULES`] (the first ten seeded ones), and the datasets it creates.
pub const TEN_MODULE_NAMES: [&str; 10] = {
    let mut names = [""; 10];
    let mut i = 0;
    while i < names.len() {
        names[i] = SEEDED_MODULES[i];
        i += 1;
    }
    names
};
pub const TEN_MODULE_DATASETS: [&str; 6] = [
    "Zoho Leads",
    "Zoho Accounts",
    "Zoho Deals",
    "Zoho Tasks",
    "Zoho Calls",
    "Zoho Quotes",
];

/// `n` custom modules of the emulator's org (start it with `extra_modules: n`), each with an
/// explicit mapping into the seeded dataset (so no explore is needed).
pub fn custom_dataflows(n: usize) -> String {
    (1..=n)
        .map(|i| {
            format!(
                "\n[[dataflows]]\nmodule = \"CustomModule{i}\"\ndataset = {{ id = \"6889f4f89b982b2b90bc1208\" }}\nmapping = [ {{ source = \"Owner\", destination = \"_acme.zoho.Owner\" }} ]\n"
            )
        })
        .collect()
}

/// [`THREE_MODULES`] without its Deals entry.
pub fn without_deals() -> String {
    THREE_MODULES
        .split("[[dataflows]]")
        .filter(|block| !block.contains("\"Deals\""))
        .collect::<Vec<_>>()
        .join("[[dataflows]]")
}

/// [`THREE_MODULES`] changed so that a plan against it applied has one change of each kind:
/// Deals removed (deletes), a daily schedule for Contacts (an update), a new column for Leads
/// (replaces, and a new mapping set).
pub fn one_change_of_each() -> String {
    without_deals()
        .replacen(
            "module  = \"Contacts\"",
            "module  = \"Contacts\"\nschedule = { frequency = \"day\", interval = 1, start = \"2027-01-01T00:00:00Z\", backfill = false }",
            1,
        )
        .replacen(
            "  { source = \"First_Name\", destination = \"person.name.firstName\" },",
            "  { source = \"First_Name\", destination = \"person.name.firstName\" },\n  { source = \"Phone\", destination = \"mobilePhone.number\" },",
            1,
        )
}

/// What one run of the binary printed and how it exited.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Asserts the exit code, showing both streams when it differs.
    pub fn assert_exit(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// stdout as the one JSON document `--output json` prints.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e})\n--- stdout\n{}\n--- stderr\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// An emulator, a scratch directory for profiles, and the binary.
pub struct Harness {
    /// The emulator plus an HTTP client with a token, for creating objects by hand.
    pub env: Env,
    pub dir: TempDir,
    /// `profile.toml` in `dir`: the profile [`Harness::managing`] writes.
    pub managed: PathBuf,
}

impl Harness {
    pub async fn start() -> Self {
        Self::with(EmulatorConfig::default()).await
    }

    pub async fn with(config: EmulatorConfig) -> Self {
        Self::around(Env::with(config).await)
    }

    /// An emulator that waits `ms` before answering each request (so that runs overlap).
    pub async fn with_latency(ms: u64) -> Self {
        let faults = provision::emulator::Faults {
            latency: Some(std::time::Duration::from_millis(ms)),
            ..Default::default()
        };
        Self::with(EmulatorConfig {
            faults,
            ..EmulatorConfig::default()
        })
        .await
    }

    /// The harness around a started emulator, with an empty scratch directory.
    pub fn around(env: Env) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let managed = dir.path().join("profile.toml");
        Self { env, dir, managed }
    }

    pub fn emulator(&self) -> &RunningEmulator {
        &self.env.emulator
    }

    /// The emulator's base URL (IMS, Zoho and platform at once).
    pub fn url(&self) -> String {
        self.env.emulator.url()
    }

    /// Writes a profile named `name` whose `[[dataflows]]` are `dataflows`, with every URL on the
    /// emulator, the seed credentials read from the environment, the prefix [`PREFIX`], and
    /// hourly schedules starting 2027-01-01 (in the future, so schedules can be patched).
    pub fn profile(&self, name: &str, dataflows: &str) -> PathBuf {
        self.profile_text(name, &profile_text(&self.url(), PREFIX, dataflows))
    }

    /// Writes `text` as the profile `name` and returns its path.
    pub fn profile_text(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("the profile is written");
        path
    }

    /// The user cache directory (`XDG_CACHE_HOME`) of every command this harness runs: inside
    /// its scratch directory, shared by its runs as a user's is, never the real one.
    pub fn cache_home(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// The binary with a clean environment: the seed secrets and URL overrides pointing at the
    /// emulator (so `profiles/local.toml` works too) and [`Harness::cache_home`], nothing else.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("provision"));
        let url = self.url();
        cmd.env_clear()
            .env("XDG_CACHE_HOME", self.cache_home())
            .env("AEP_CLIENT_SECRET", super::CLIENT_SECRET)
            .env("ZOHO_CLIENT_SECRET", super::ZOHO_SECRET)
            .env("ZOHO_REFRESH_TOKEN", super::ZOHO_REFRESH)
            .env("PROVISION_ADOBE__IMS_URL", &url)
            .env("PROVISION_ADOBE__PLATFORM_URL", &url)
            .env("PROVISION_ZOHO__ACCOUNTS_URL", &url)
            .env("PROVISION_ZOHO__API_URL", &url)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs the binary with `args` to completion (off the async threads, so the emulator keeps
    /// serving).
    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[]).await
    }

    /// Like [`Harness::run`], with extra environment variables (set after the defaults, so they
    /// can override a URL or a secret).
    pub async fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command();
        cmd.args(args);
        cmd.envs(env.iter().copied());
        let output = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("the blocking task runs")
            .expect("the binary starts");
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs `provision {command} {profile} {extra...}`.
    pub async fn provision(&self, command: &str, profile: &Path, extra: &[&str]) -> Output {
        let mut args = vec![command, profile.to_str().expect("a UTF-8 path")];
        args.extend_from_slice(extra);
        self.run(&args).await
    }

    /// Starts the binary without waiting (to kill it mid-run).
    pub fn spawn(&self, args: &[&str]) -> Child {
        let mut cmd = self.command();
        cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
        cmd.spawn().expect("the binary starts")
    }

    /// Writes the platform carried out (answered 2xx).
    pub fn done_writes(&self) -> usize {
        self.writes().iter().filter(|w| w.status < 300).count()
    }

    /// Waits until `n` writes were carried out; panics if `child` ends first or after a minute.
    pub async fn wait_for_writes(&self, child: &mut Child, n: usize) {
        let started = std::time::Instant::now();
        while self.done_writes() < n {
            if let Some(status) = child.try_wait().expect("the child's status") {
                panic!("the run ended ({status}) before its write {n}");
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "write {n} never came"
            );
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    /// Every request the emulated services answered, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.env.emulator.requests()
    }

    pub fn clear_requests(&self) {
        self.env.emulator.clear_requests();
    }

    /// The Zoho token requests (`POST /oauth/v2/token`) in the emulator's request log.
    pub fn zoho_refreshes(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/oauth/v2/token")
            .count()
    }

    /// The writes (POST, PUT, PATCH, DELETE) sent to the platform services, whatever their
    /// status. Token requests to IMS and Zoho are not writes.
    pub fn writes(&self) -> Vec<RecordedRequest> {
        writes(&self.requests())
    }

    /// [`Harness::writes`] without the apply lease's take and release ([`without_lease`]).
    pub fn work_writes(&self) -> Vec<RecordedRequest> {
        without_lease(self.writes())
    }

    /// Writes `description` on the profile's base connection, as another run would.
    pub async fn set_base_description(&self, description: &str) {
        self.patch_base(json!([{"op": "replace", "path": "/description", "value": description}]))
            .await;
    }

    /// Puts `token` in the profile's base connection, as an edit in Adobe's UI would: the runs
    /// started while Zoho refuses it fail.
    pub async fn set_base_refresh_token(&self, token: &str) {
        self.patch_base(
            json!([{"op": "replace", "path": "/auth/params/refreshToken", "value": token}]),
        )
        .await;
    }

    /// Applies the JSON Patch `ops` to the profile's base connection, with its current etag.
    async fn patch_base(&self, ops: Value) {
        let base = self.one("connections", PREFIX);
        let path = format!(
            "{}/connections/{}",
            super::FS,
            base["id"].as_str().unwrap_or_default()
        );
        let etag = base["etag"].as_str().unwrap_or_default();
        let reply = self.env.patch(&path, etag, &ops).await;
        assert_eq!(reply.code(), 200, "{}", reply.body);
    }

    /// Lets the lease a killed run left on the base connection expire (time passing).
    pub async fn expire_lease(&self) {
        let base = self.one("connections", PREFIX);
        let description = base["description"].as_str().unwrap_or_default();
        if let Some((head, _)) = description.rsplit_once(" until ") {
            self.set_base_description(&format!("{head} until 2020-01-01T00:00:00Z)"))
                .await;
        }
    }

    /// Objects of one kind in the `prod` sandbox, as the service lists them: `connections`,
    /// `sourceConnections`, `targetConnections`, `flows`, `dataSets`, `mappingSets`.
    pub fn objects(&self, kind: &str) -> Vec<Value> {
        let e = &self.env.emulator;
        match kind {
            "connections" => e.connections(SANDBOX_PROD),
            "sourceConnections" => e.source_connections(SANDBOX_PROD),
            "targetConnections" => e.target_connections(SANDBOX_PROD),
            "flows" => e.flows(SANDBOX_PROD),
            "dataSets" => e.datasets(SANDBOX_PROD),
            "mappingSets" => e.mapping_sets(SANDBOX_PROD),
            other => panic!("unknown kind {other}"),
        }
    }

    /// The objects of `kind` whose `name` is `name`.
    pub fn named(&self, kind: &str, name: &str) -> Vec<Value> {
        self.objects(kind)
            .into_iter()
            .filter(|o| o["name"] == name)
            .collect()
    }

    /// The one object of `kind` named `name`; panics when there are none or several.
    pub fn one(&self, kind: &str, name: &str) -> Value {
        let mut found = self.named(kind, name);
        assert_eq!(
            found.len(),
            1,
            "expected exactly one {kind} named {name:?}, found {found:#?}"
        );
        found.remove(0)
    }
}

/// Whether `w` writes only the base connection's description, with (`leased`) or without an
/// apply's lease in it.
fn lease_patch(w: &RecordedRequest, leased: bool) -> bool {
    let Some(body) = &w.body else {
        return false;
    };
    w.method == "PATCH"
        && w.path.contains("/flowservice/connections/")
        && body.as_array().is_some_and(|ops| ops.len() == 1)
        && body[0]["path"] == "/description"
        && body[0]["value"]
            .as_str()
            .is_some_and(|v| v.contains("; lease ") == leased)
}

/// `writes` without the apply lease's take (the first write: the base connection's description
/// gains `; lease <run> until <time>`) and release (the last: the description loses it).
pub fn without_lease(mut writes: Vec<RecordedRequest>) -> Vec<RecordedRequest> {
    if writes.last().is_some_and(|w| lease_patch(w, false)) {
        writes.pop();
    }
    if writes.first().is_some_and(|w| lease_patch(w, true)) {
        writes.remove(0);
    }
    writes
}

/// The writes among `requests`: POST, PUT, PATCH and DELETE to `/data/...` paths.
pub fn writes(requests: &[RecordedRequest]) -> Vec<RecordedRequest> {
    requests
        .iter()
        .filter(|r| matches!(r.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE"))
        .filter(|r| r.path.starts_with("/data/"))
        .cloned()
        .collect()
}

/// When the emulator received `request` (its log keeps milliseconds, truncated).
pub fn arrived(request: &RecordedRequest) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&request.time)
        .unwrap_or_else(|e| panic!("request time {:?}: {e}", request.time))
        .with_timezone(&Utc)
}

/// Milliseconds from the first to the last arrival of `requests`: a few for requests sent
/// together, at least the emulator's latency for requests sent one after another.
pub fn spread_ms(requests: &[&RecordedRequest]) -> i64 {
    let first = requests.iter().map(|r| arrived(r)).min().expect("requests");
    let last = requests.iter().map(|r| arrived(r)).max().expect("requests");
    (last - first).num_milliseconds()
}

/// `METHOD /path` of each request, for readable assertion messages.
pub fn calls(requests: &[RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
        .collect()
}

/// A whole profile for the emulator at `url`.
pub fn profile_text(url: &str, prefix: &str, dataflows: &str) -> String {
    let tables = emulator_profile(
        url,
        prefix,
        "Zoho CRM in the test emulator",
        "2027-01-01T00:00:00Z",
    );
    format!("{tables}{dataflows}")
}

/// The changes of a plan/apply/destroy JSON document that are not `noop`, as
/// `(action, kind, name)`.
pub fn changed(doc: &Value) -> Vec<(String, String, String)> {
    doc["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] != "noop")
        .map(|c| {
            (
                c["action"].as_str().unwrap_or_default().to_owned(),
                c["kind"].as_str().unwrap_or_default().to_owned(),
                c["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// A flow's mapping transformation `(mappingId, mappingVersion)`.
pub fn flow_mapping(flow: &Value) -> (String, String) {
    let mapping = flow["transformations"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "Mapping"))
        .expect("a Mapping transformation");
    let version = match &mapping["params"]["mappingVersion"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    (
        mapping["params"]["mappingId"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        version,
    )
}

/// A source connection's column names, sorted.
pub fn column_names(source: &Value) -> Vec<String> {
    let mut names: Vec<String> = source["params"]["columns"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every object in the sandbox, described without ids (which differ between runs) but with
/// its links, so that two runs can be compared and a duplicate shows up as an extra entry.
pub fn shape(h: &Harness) -> Value {
    let by_id = |kind: &str| -> BTreeMap<String, Value> {
        h.objects(kind)
            .into_iter()
            .map(|o| (o["id"].as_str().unwrap_or_default().to_owned(), o))
            .collect()
    };
    let datasets = by_id("dataSets");
    let sources = by_id("sourceConnections");
    let targets = by_id("targetConnections");
    let sets = by_id("mappingSets");
    let name = |map: &BTreeMap<String, Value>, id: &Value| -> Value {
        map.get(id.as_str().unwrap_or_default())
            .map(|o| o["name"].clone())
            .unwrap_or(Value::Null)
    };
    let rules = |set: &Value| -> Vec<String> {
        let mut r: Vec<String> = set["mappings"]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|m| format!("{} -> {}", m["source"], m["destination"]))
                    .collect()
            })
            .unwrap_or_default();
        r.sort();
        r
    };
    let mut out = BTreeMap::new();
    let mut add = |kind: &str, mut items: Vec<Value>| {
        items.sort_by_key(|v| v.to_string());
        out.insert(kind.to_owned(), Value::Array(items));
    };
    add(
        "connections",
        h.objects("connections")
            .iter()
            // The credentials' fingerprint covers the URLs, which differ between emulators.
            .map(|c| {
                let description = c["description"].as_str().unwrap_or_default();
                let without = description.split("; auth ").next().unwrap_or_default();
                json!([c["name"], without])
            })
            .collect(),
    );
    add(
        "dataSets",
        datasets
            .values()
            .map(|d| json!([d["name"], d["description"]]))
            .collect(),
    );
    add(
        "sourceConnections",
        sources
            .values()
            .map(|s| json!([s["name"], s["params"]["tableName"], column_names(s)]))
            .collect(),
    );
    add(
        "targetConnections",
        targets
            .values()
            .map(|t| json!([t["name"], name(&datasets, &t["params"]["dataSetId"])]))
            .collect(),
    );
    add(
        "mappingSets",
        sets.values().map(|s| json!(rules(s))).collect(),
    );
    add(
        "flows",
        h.objects("flows")
            .iter()
            .map(|f| {
                let (mapping, _) = flow_mapping(f);
                json!([
                    f["name"],
                    name(&sources, &f["sourceConnectionIds"][0]),
                    name(&targets, &f["targetConnectionIds"][0]),
                    sets.get(&mapping).map(rules),
                    f["scheduleParams"],
                ])
            })
            .collect(),
    );
    serde_json::to_value(out).unwrap_or_default()
}
