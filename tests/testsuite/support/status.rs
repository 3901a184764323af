//! Helpers for the `explore*` and `status*` tests, on the shared [`Harness`]:
//! [`Harness::managing`] (an in-process emulator and one profile pointing at it), the real
//! binary with the seed secrets, and `create_managed_flows`, which builds what `apply` would
//! (base connection, then per module a source connection, target connection, mapping set and a
//! dataflow with the managed name and ownership marker) through the API layer, so that `status`
//! can be tested on its own.

use std::time::Duration;

use assert_cmd::Command;
use chrono::{DateTime, Utc};
use provision::api::connections::list_connections_by_name;
use provision::api::dataprep::{create_mapping_set, NewMapping, NewMappingSet};
use provision::api::explore::explore_table;
use provision::api::flows::{create_flow, DeltaColumn, IntervalEncoding, NewFlow, ScheduleParams};
use provision::api::http::HttpOptions;
use provision::api::source::{create_source_connection, NewSourceConnection};
use provision::api::specs::{SpecRef, ZOHO_CRM_SPEC_ID};
use provision::api::target::{create_target_connection, NewTargetConnection};
use provision::api::{AepClient, ConnectionId, ConnectionSpecId, DatasetId, FlowId};
use provision::emulator::{EmulatorConfig, RecordedRequest};
use provision::engine::desired;
use provision::engine::kinds::base::create as create_base_connection;
use provision::engine::naming::{object_name, owner_marker};
use provision::engine::observe;
use provision::engine::Kind;
use provision::profile::{self, Profile};
use serde_json::Value;

// What the status and explore tests import from here; tests/emulator_faults.rs, a binary of its
// own, compiles this module too and uses none of it.
#[allow(unused_imports)]
pub use super::cli::{Harness, PREFIX};
use super::profile::emulator_profile;
#[allow(unused_imports)]
pub use super::{Env, FS, SCHEMA, SEEDED_MODULES, SEED_DATASET};
use super::{CLIENT_SECRET, ZOHO_REFRESH, ZOHO_SECRET};

const SECRETS: [(&str, &str); 3] = [
    ("AEP_CLIENT_SECRET", CLIENT_SECRET),
    ("ZOHO_CLIENT_SECRET", ZOHO_SECRET),
    ("ZOHO_REFRESH_TOKEN", ZOHO_REFRESH),
];

impl Harness {
    /// An emulator that has answered no request yet and a profile (`managed`) managing
    /// `modules`, hourly from `start`.
    pub async fn managing(config: EmulatorConfig, modules: &[&str], start: DateTime<Utc>) -> Self {
        let h = Self::around(Env::without_token(config).await);
        std::fs::write(&h.managed, profile_text(&h.url(), modules, start))
            .expect("the profile is written");
        h
    }

    /// The emulator's clock, as a time.
    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.emulator().now_ms()).expect("a valid time")
    }

    /// The real binary with the seed secrets and [`Harness::cache_home`], nothing else from the
    /// environment (the profile `managing` wrote carries the emulator's URLs).
    pub fn binary(&self) -> Command {
        let mut cmd = Command::cargo_bin("provision").expect("the binary");
        cmd.env_clear()
            .env("XDG_CACHE_HOME", self.cache_home())
            .envs(SECRETS)
            .timeout(Duration::from_secs(120));
        cmd
    }

    /// The path of the profile [`Harness::managing`] wrote.
    pub fn profile_arg(&self) -> &str {
        self.managed.to_str().expect("a UTF-8 path")
    }

    pub fn load_profile(&self) -> Profile {
        let env: std::collections::HashMap<String, String> = SECRETS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        profile::load_with_env(Some(&self.managed), &env).expect("the profile loads")
    }

    pub fn client(&self) -> AepClient {
        AepClient::new(&self.load_profile().adobe, HttpOptions::default()).expect("a client")
    }

    /// The profile's base connection, created by the code `apply` creates it with.
    pub async fn base_connection(&self) -> ConnectionId {
        let profile = self.load_profile();
        let client = self.client();
        let spec = ConnectionSpecId::from(ZOHO_CRM_SPEC_ID);
        let existing = list_connections_by_name(&client, PREFIX, &spec)
            .await
            .expect("connections are listed");
        if let Some(found) = existing.into_iter().next() {
            return found.id;
        }
        let desired = desired::build(&profile).expect("a desired state");
        let preflight = observe::preflight(&client).await.expect("the specs");
        create_base_connection(&client, &profile, &desired.base, &preflight.connection_spec)
            .await
            .expect("the base connection is created")
    }

    /// For each module: a source connection with its explored columns, a target connection on
    /// the seeded dataset, a mapping set reading `sources` and a dataflow named and marked as
    /// provision names and marks it, hourly from `start`. Returns the flow ids in order.
    pub async fn create_managed_flows(
        &self,
        modules: &[&str],
        sources: &[&str],
        start: DateTime<Utc>,
    ) -> Vec<FlowId> {
        self.create_flows(modules, sources, start, Some(owner_marker(PREFIX)))
            .await
    }

    /// Like [`Harness::create_managed_flows`], with `description` on every object instead of
    /// the ownership marker (`None`: no description, as someone else's objects might have).
    pub async fn create_flows(
        &self,
        modules: &[&str],
        sources: &[&str],
        start: DateTime<Utc>,
        description: Option<String>,
    ) -> Vec<FlowId> {
        let client = self.client();
        let base = self.base_connection().await;
        let marker = description;
        let mapping = create_mapping_set(
            &client,
            &NewMappingSet::new(
                SCHEMA,
                sources
                    .iter()
                    .map(|s| NewMapping::attribute(*s, format!("_acme.zoho.{s}")))
                    .collect(),
            ),
        )
        .await
        .expect("the mapping set is created");
        let mut ids = Vec::new();
        for module in modules {
            let columns = explore_table(&client, &base, module, false)
                .await
                .expect("the module is explored")
                .columns;
            let source = create_source_connection(
                &client,
                &NewSourceConnection {
                    name: object_name(PREFIX, module, Kind::SourceConnection),
                    description: marker.clone(),
                    base_connection_id: base.clone(),
                    table_name: module.to_string(),
                    columns,
                    connection_spec: SpecRef::zoho_crm(),
                },
            )
            .await
            .expect("the source connection is created");
            let target = create_target_connection(
                &client,
                &NewTargetConnection {
                    name: object_name(PREFIX, module, Kind::TargetConnection),
                    description: marker.clone(),
                    schema_id: SCHEMA.into(),
                    dataset_id: DatasetId::from(SEED_DATASET),
                },
            )
            .await
            .expect("the target connection is created");
            let flow = create_flow(
                &client,
                &NewFlow {
                    name: object_name(PREFIX, module, Kind::Dataflow),
                    description: marker.clone(),
                    flow_spec: SpecRef::crm_to_aep(),
                    source_connection_ids: vec![source.id],
                    target_connection_ids: vec![target.id],
                    delta_column: DeltaColumn::named("Modified_Time"),
                    mapping: mapping.clone(),
                    schedule: ScheduleParams {
                        start_time: start.timestamp(),
                        frequency: "hour".into(),
                        interval: Some(1),
                        backfill: Some(true),
                    },
                    interval_encoding: IntervalEncoding::Integer,
                },
            )
            .await
            .expect("the flow is created");
            ids.push(flow.id);
        }
        ids
    }
}

/// `CustomModule1..n` after the 14 seeded modules: how the emulator names extra modules.
pub fn module_names(extra: usize) -> Vec<String> {
    let mut names: Vec<String> = SEEDED_MODULES.iter().map(|s| s.to_string()).collect();
    names.extend((1..=extra).map(|n| format!("CustomModule{n}")));
    names
}

fn profile_text(url: &str, modules: &[&str], start: DateTime<Utc>) -> String {
    let start = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut text = emulator_profile(url, PREFIX, "Zoho CRM for the status tests", &start);
    for module in modules {
        text.push_str(&format!(
            "\n[[dataflows]]\nmodule  = \"{module}\"\ndataset = {{ id = \"{SEED_DATASET}\" }}\nmapping = \"auto\"\n"
        ));
    }
    text
}

/// Parses a command's stdout as one JSON document.
pub fn json_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The requests to `path` (exact) with method `method`.
pub fn calls<'a>(
    requests: &'a [RecordedRequest],
    method: &str,
    path: &str,
) -> Vec<&'a RecordedRequest> {
    requests
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .collect()
}
