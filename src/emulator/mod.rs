//! `provision emulator`: a local, in-memory stand-in for IMS, Zoho Accounts/CRM and the Flow
//! Service, Catalog, Data Prep and Schema Registry APIs (docs/emulator.md), on one port. It behaves as
//! `docs/aep-api.md` and `docs/zoho-oauth.md` describe the live services,
//! produces dataflow runs over (optionally accelerated) time, and injects faults on demand.
//!
//! In-process use (tests):
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use provision::emulator::{spawn, EmulatorConfig};
//! let emulator = spawn(EmulatorConfig::default()).await?;
//! let base = emulator.url(); // http://127.0.0.1:PORT: IMS, Zoho and platform URL at once
//! # let _ = base;
//! emulator.advance_clock(std::time::Duration::from_secs(3600));
//! let requests = emulator.requests();
//! # let _ = requests;
//! # Ok(()) }
//! ```
//!
//! The same controls are served over HTTP under `/_emulator/` (no auth; not logged, faulted
//! or rate limited):
//!
//! | endpoint | what it does |
//! |---|---|
//! | `GET /_emulator/health` | `{"status": "ok", "url": "http://127.0.0.1:PORT"}` |
//! | `GET /_emulator/requests` | the request log: `[{method, path, query, status, body, headers, time, request_id}]`, oldest first, secrets redacted |
//! | `DELETE /_emulator/requests` | clears the log (204) |
//! | `GET /_emulator/faults` | the fault settings (see [`Faults`]) |
//! | `PUT /_emulator/faults` | replaces them; omitted fields take their fault-free defaults |
//! | `PATCH /_emulator/faults` | changes only the fields given |
//! | `GET /_emulator/clock` | `{now_ms, now, wall_ms, time_scale}` |
//! | `POST /_emulator/clock/advance` | `{"seconds": 3600}`, `{"by": "1h"}` or `?by=1h`; answers the clock |
//! | `POST /_emulator/zoho/grant-codes` | optional `{"redirect_uri", "scope"}`; answers `{code, redirect_url, location, accounts_server, expires_in}` |
//! | `GET /_emulator/state[?sandbox=prod]` | `{"sandboxes": {"prod": {connections, sourceConnections, targetConnections, flows, runs, dataSets, mappingSets}}}` |
//!
//! Choices where docs/aep-api.md is silent (each documented at its module):
//! - Flow Service lists page at 20 items (`limit` up to the page cap, 1000 unless `page_cap`
//!   says otherwise: the spec sets no maximum) with an opaque `continuationToken` in
//!   `_links.next.href` (`/flows?continuationToken=...`, relative to the service base); Catalog
//!   lists at 20 (`limit` 1-100, as catalog.yaml says, `start`); Data Prep pages are the `limit`
//!   asked up to the same cap, reported in `_page.limit`; GET answers secret auth params masked.
//! - Error codes docs/aep-api.md does not name: `1402-400` for a body that breaks the schema,
//!   `1405-400` for a reference to a missing object, `1406-400` when Zoho refuses a base
//!   connection's credentials (explore, test); gateway `429050` (rate limit, `Retry-After: 1`),
//!   `502000`; Catalog and Data Prep use `CAT-`/`MAPPER-` prefixes in the Flow Service shape.
//! - Runs follow the emulated clock (`time_scale`); credentials (IMS `token_ttl`, Zoho codes
//!   and tokens, refresh throttling) follow real time; `advance_clock` moves both. A new flow
//!   backfills at most its 3 latest slots; each flow keeps its 100 newest runs.
//! - Objects are per sandbox (`prod`, `dev`); the seeded dataset exists in both.
//! - Raw `"`, `<`, `>` in a request line are percent-encoded before routing (`requestline.rs`).
//!
//! docs/emulator.md lists every such choice for users, with the known differences from the
//! live services; keep it current with the code.

mod catalog;
mod clock;
mod control;
mod dataprep;
mod errors;
mod faults;
mod filter;
mod flowservice;
mod gateway;
mod ims;
mod patch;
mod recorder;
mod requestline;
mod router;
mod runs;
mod schemaregistry;
pub mod seed;
mod state;
mod validate;
mod zoho;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{Faults, ZohoSpec, DEFAULT_TOKEN_TTL};
pub use recorder::RecordedRequest;

use crate::cli::EmulatorArgs;
use state::{AppState, Shared};

/// Every knob of the emulator. `Default` is a normal, fault-free emulator on `127.0.0.1:0`.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// How much faster than real time dataflow schedules run (3600: an hour per second).
    pub time_scale: f64,
    /// Faults and service knobs, changeable later with [`RunningEmulator::set_faults`].
    pub faults: Faults,
    /// Seed of the random faults; `None` picks one.
    pub seed: Option<u64>,
    /// Custom modules added to the seeded Zoho org (`CustomModule1`, ...).
    pub extra_modules: usize,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            time_scale: 1.0,
            faults: Faults::default(),
            seed: None,
            extra_modules: 0,
        }
    }
}

impl From<&EmulatorArgs> for EmulatorConfig {
    fn from(args: &EmulatorArgs) -> Self {
        Self {
            listen: args.listen,
            time_scale: args.time_scale,
            faults: Faults {
                latency: args.latency.filter(|l| !l.is_zero()),
                rate_limit: args.rate_limit,
                fail_rate: args.fail_rate.clamp(0.0, 1.0),
                fail_after_commit: args.fail_after_commit.clone(),
                fail_before_commit: Vec::new(),
                outage: Vec::new(),
                refuse_datasets: Vec::new(),
                token_ttl: args.token_ttl.unwrap_or(DEFAULT_TOKEN_TTL),
                zoho_spec: args.zoho_spec.into(),
                page_cap: args.page_cap.map(|n| n as usize),
            },
            seed: args.seed,
            extra_modules: args.extra_modules,
        }
    }
}

/// A running emulator. Dropping it stops the server.
pub struct RunningEmulator {
    shared: AppState,
    addr: SocketAddr,
    url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// Starts an emulator in the current Tokio runtime.
pub async fn spawn(config: EmulatorConfig) -> anyhow::Result<RunningEmulator> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| {
            format!(
                "could not listen on {}; pick another --listen address",
                config.listen
            )
        })?;
    let addr = listener.local_addr()?;
    let host = if addr.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        addr.ip()
    };
    let url = format!("http://{}", SocketAddr::new(host, addr.port()));
    let shared = Arc::new(Shared::new(
        config.time_scale,
        config.faults,
        config.seed,
        config.extra_modules,
    ));
    let _ = shared.base_url.set(url.clone());
    let app = router::app(shared.clone());
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(requestline::Listener(listener), app)
            .with_graceful_shutdown(async {
                let _ = stop.await;
            })
            .await
    });
    Ok(RunningEmulator {
        shared,
        addr,
        url,
        shutdown: Some(shutdown),
        task: Some(task),
    })
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT`: the IMS URL, Zoho accounts and API URL, and platform URL.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request to the emulated services so far, oldest first (secrets redacted).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    pub fn clear_requests(&self) {
        self.shared.clear_requests();
    }

    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(faults);
    }

    /// Moves the emulated clock (runs) and the wall clock (credential lifetimes) forward.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// The emulated time, epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }

    /// A fresh Self Client grant code for the seeded Zoho client (single use, 3 minutes).
    pub fn mint_grant_code(&self) -> String {
        self.mint_grant_code_for(None, None)
    }

    /// A grant code bound to `redirect_uri` (web client) and/or limited to `scope`.
    pub fn mint_grant_code_for(&self, redirect_uri: Option<&str>, scope: Option<&str>) -> String {
        let minted = control::mint(
            &self.shared,
            redirect_uri.map(str::to_owned),
            scope.map(str::to_owned),
        );
        minted["code"].as_str().unwrap_or_default().to_owned()
    }

    /// Everything every sandbox holds: `{"sandboxes": {"prod": {"connections": [...], ...}}}`.
    pub fn state(&self) -> Value {
        control::dump(&self.shared, None)
    }

    fn objects(&self, sandbox: &str, kind: &str) -> Vec<Value> {
        let state = control::dump(&self.shared, Some(sandbox));
        state["sandboxes"][sandbox][kind]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Base connections of `sandbox` as `GET /connections` renders them.
    pub fn connections(&self, sandbox: &str) -> Vec<Value> {
        self.objects(sandbox, "connections")
    }

    pub fn source_connections(&self, sandbox: &str) -> Vec<Value> {
        self.objects(sandbox, "sourceConnections")
    }

    pub fn target_connections(&self, sandbox: &str) -> Vec<Value> {
        self.objects(sandbox, "targetConnections")
    }

    pub fn flows(&self, sandbox: &str) -> Vec<Value> {
        self.objects(sandbox, "flows")
    }

    /// Runs of `sandbox`, oldest first.
    pub fn runs(&self, sandbox: &str) -> Vec<Value> {
        self.objects(sandbox, "runs")
    }

    /// Datasets of `sandbox`, each with its `id`.
    pub fn datasets(&self, sandbox: &str) -> Vec<Value> {
        self.objects(sandbox, "dataSets")
    }

    pub fn mapping_sets(&self, sandbox: &str) -> Vec<Value> {
        self.objects(sandbox, "mappingSets")
    }

    /// Stops accepting requests and waits (up to 5 s) for those in flight.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(5), task).await {
                Ok(joined) => joined.context("the emulator task failed")??,
                Err(_) => {
                    tracing::warn!("the emulator did not stop within 5 s; leaving open connections")
                }
            }
        }
        Ok(())
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// `provision emulator`: prints the base URL as the first stdout line, then serves until
/// Ctrl-C or SIGTERM.
pub async fn run(args: EmulatorArgs) -> anyhow::Result<()> {
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        anyhow::bail!(
            "--time-scale must be a positive number (e.g. 720), not {}",
            args.time_scale
        );
    }
    if !(0.0..=1.0).contains(&args.fail_rate) {
        anyhow::bail!(
            "--fail-rate must be between 0.0 and 1.0, not {}",
            args.fail_rate
        );
    }
    let config = EmulatorConfig::from(&args);
    let time_scale = config.time_scale;
    let emulator = spawn(config).await?;
    crate::output::print_text(&emulator.url())?;
    std::io::Write::flush(&mut std::io::stdout())?;
    eprintln!(
        "provision emulator: serving IMS, Zoho and AEP at {} (time scale {time_scale}); control API under {}/_emulator/; Ctrl-C to stop",
        emulator.url(),
        emulator.url()
    );
    wait_for_stop().await;
    emulator.shutdown().await
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
