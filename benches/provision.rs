//! `make bench` (issue 8): how fast `provision apply` and `status` are against the emulator with
//! 50 ms of latency per request, and how many requests they send, for 10, 50 and 200 modules.
//!
//! Method (docs/performance.md has the figures and the reasoning):
//! - The emulator runs in this process on its own Tokio runtime; `provision` is the release
//!   binary (`CARGO_BIN_EXE_provision`, built by `cargo bench` with the release profile) run as a
//!   child process, so nothing timed shares a runtime or a core budget with the bench's code
//!   beyond the emulator itself. While a child runs, this process only waits in `wait4`.
//! - Each size gets a fresh emulator (`extra_modules = n`), so no run sees another's objects. The
//!   profile has `n` custom modules, each with a created dataset and an explicit mapping.
//! - Per size: fresh `apply`, no-op re-`apply`, `status`; then the emulator's own overhead. The
//!   sequential baseline is a fresh `apply --concurrency 1` at 50 modules on another emulator.
//! - Requests are counted from the emulator's request log, cleared before each run; only the
//!   child talks to the emulated services while it runs (this process uses the in-process API).
//!   Peak RSS is the child's own `VmHWM`, sampled from `/proc` (see [`PeakRss`] for why not
//!   `ru_maxrss`), so the emulator's memory is not in it.
//! - The lower bound is `max(critical path x latency, requests x latency / concurrency)`; the
//!   critical path per command is `support::critical_path`, explained there.
//!
//! Output: a table on stdout, the figures as JSON in `target/bench/results.json`, each child's
//! stdout/stderr and profile in `target/bench/logs/`. `BENCH_SIZES=10,50` limits the sizes.
//!
//! Issue 19 adds one rate-limited row ([`rate_limited`]): a fresh apply of 20 modules against
//! the emulator limited to 2 requests per second, with its wall time and share of 429s.

mod support;

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use provision::emulator::{spawn, EmulatorConfig, Faults, RunningEmulator};
use serde::Serialize;
use serde_json::{json, Value};
use support::{
    arrivals_ms, bytes_down, count, critical_path, levels, lower_bound_ms, profile_toml, vm_hwm_kb,
    Counts, Step, BASELINE_SIZE, DEFAULT_CONCURRENCY, FLOW_SERVICE_PAGE, LATENCY_MS, SIZES,
};

const SANDBOX: &str = "prod";
const ZOHO_SPEC: &str = "929e4450-0237-4ed2-9404-b7e1e0a00309";

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// One measured `provision` invocation.
#[derive(Debug, Serialize)]
struct Run {
    label: String,
    step: Step,
    modules: usize,
    concurrency: usize,
    exit_code: i32,
    wall_ms: f64,
    #[serde(flatten)]
    counts: Counts,
    critical_path: usize,
    lower_bound_ms: f64,
    ratio: f64,
    /// Latencies deep the run was as executed (`support::levels`).
    levels: usize,
    peak_rss_kb: i64,
    cpu_ms: f64,
    /// CPU this process (the emulator, nearly all of it) used while the child ran.
    emulator_cpu_ms: f64,
    /// The `summary` of `--output json`, when the command printed one.
    summary: Value,
    /// Response bodies downloaded, bytes (`support::bytes_down`).
    bytes_down: u64,
}

/// The emulator's own cost per request, measured from a client in this process.
#[derive(Debug, Serialize)]
struct Overhead {
    modules: usize,
    /// Round trip minus the injected latency, milliseconds: (what, median, p95, max).
    samples: Vec<OverheadSample>,
}

#[derive(Debug, Serialize)]
struct OverheadSample {
    what: String,
    requests: usize,
    median_ms: f64,
    p95_ms: f64,
    max_ms: f64,
}

#[derive(Debug, Serialize)]
struct Check {
    figure: String,
    target: String,
    measured: String,
    ok: bool,
}

struct Bench {
    bin: PathBuf,
    out: PathBuf,
    runtime: tokio::runtime::Runtime,
}

fn run() -> anyhow::Result<bool> {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_provision"));
    // CARGO_BIN_EXE_provision is target/release/provision (or target/<triple>/release/...):
    // results go next to the profile directory, under target/bench.
    let target = bin
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "target"))
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"));
    let out = target.join("bench");
    std::fs::create_dir_all(out.join("logs"))
        .with_context(|| format!("could not create {}", out.display()))?;
    let sizes = sizes()?;
    // The emulator gets both cores' worth of workers; it is the only async work in this process.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("emulator")
        .enable_all()
        .build()?;
    let bench = Bench { bin, out, runtime };

    let started = Instant::now();
    let load_before = load_average();
    let mut runs = Vec::new();
    let mut overheads = Vec::new();
    for &n in &sizes {
        let emulator = bench.emulator(n)?;
        let profile = bench.profile(&emulator, n, &format!("bench-{n}"))?;
        let apply = [
            "apply",
            "--yes",
            "--output",
            "json",
            profile.to_str().context("a UTF-8 path")?,
        ];
        runs.push(bench.measure(
            &emulator,
            &format!("apply n={n}"),
            Step::FreshApply,
            n,
            DEFAULT_CONCURRENCY,
            &apply,
        )?);
        runs.push(bench.measure(
            &emulator,
            &format!("re-apply n={n}"),
            Step::NoopApply,
            n,
            DEFAULT_CONCURRENCY,
            &apply,
        )?);
        let status = [
            "status",
            "--output",
            "json",
            profile.to_str().context("a UTF-8 path")?,
        ];
        runs.push(bench.measure(
            &emulator,
            &format!("status n={n}"),
            Step::Status,
            n,
            DEFAULT_CONCURRENCY,
            &status,
        )?);
        overheads.push(bench.overhead(&emulator, n)?);
        bench.stop(emulator)?;
    }
    if sizes.contains(&BASELINE_SIZE) {
        let n = BASELINE_SIZE;
        let emulator = bench.emulator(n)?;
        let profile = bench.profile(&emulator, n, &format!("bench-seq-{n}"))?;
        runs.push(bench.measure(
            &emulator,
            &format!("apply n={n} --concurrency 1"),
            Step::FreshApply,
            n,
            1,
            &[
                "apply",
                "--yes",
                "--output",
                "json",
                "--concurrency",
                "1",
                profile.to_str().context("a UTF-8 path")?,
            ],
        )?);
        bench.stop(emulator)?;
    }

    let rate_limited = rate_limited::measure(&bench)?;
    let mut checks = checks(&runs, &overheads);
    checks.extend(request_floor_checks(&runs));
    print_report(&runs, &overheads, &checks);
    print_request_floor(&runs);
    rate_limited::print(&rate_limited);
    println!(
        "\nload average (1 min) before {:.2}, after {:.2} on {} CPUs: figures are skewed when it exceeds the CPU count",
        load_before,
        load_average(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    let results = json!({
        "latency_ms": LATENCY_MS,
        "default_concurrency": DEFAULT_CONCURRENCY,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "measured_at": chrono::Utc::now().to_rfc3339(),
        "elapsed_s": started.elapsed().as_secs_f64(),
        // Other work on the machine skews wall times; the 1-minute load average says how much.
        "load_average": {"before": load_before, "after": load_average()},
        "runs": runs,
        "emulator_overhead": overheads,
        "checks": checks,
        "rate_limited": rate_limited,
    });
    let path = bench.out.join("results.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&results)?)
        .with_context(|| format!("could not write {}", path.display()))?;
    println!("\nfigures written to {}", path.display());

    let failed: Vec<_> = runs
        .iter()
        .chain(std::iter::once(&rate_limited.run))
        .filter(|r| r.exit_code != 0)
        .collect();
    for run in &failed {
        eprintln!(
            "error: `{}` exited with {}; see {}",
            run.label,
            run.exit_code,
            bench.log_path(&run.label, "stderr").display()
        );
    }
    Ok(failed.is_empty())
}

/// `BENCH_SIZES=10,50` measures only those sizes (for a quick look); all of them by default.
fn sizes() -> anyhow::Result<Vec<usize>> {
    match std::env::var("BENCH_SIZES") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<usize>()
                    .with_context(|| format!("BENCH_SIZES: {s:?} is not a module count"))
            })
            .collect(),
        _ => Ok(SIZES.to_vec()),
    }
}

impl Bench {
    fn emulator(&self, n: usize) -> anyhow::Result<RunningEmulator> {
        let config = EmulatorConfig {
            faults: Faults {
                latency: Some(Duration::from_millis(LATENCY_MS)),
                ..Faults::default()
            },
            seed: Some(8),
            extra_modules: n,
            ..EmulatorConfig::default()
        };
        self.runtime.block_on(spawn(config))
    }

    fn stop(&self, emulator: RunningEmulator) -> anyhow::Result<()> {
        self.runtime.block_on(emulator.shutdown())
    }

    fn profile(
        &self,
        emulator: &RunningEmulator,
        n: usize,
        prefix: &str,
    ) -> anyhow::Result<PathBuf> {
        let path = self.out.join("logs").join(format!("{prefix}.toml"));
        let text = profile_toml(n, &emulator.url(), prefix, chrono::Utc::now());
        std::fs::write(&path, text)
            .with_context(|| format!("could not write {}", path.display()))?;
        Ok(path)
    }

    fn log_path(&self, label: &str, stream: &str) -> PathBuf {
        let name: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        self.out.join("logs").join(format!("{name}.{stream}"))
    }

    fn measure(
        &self,
        emulator: &RunningEmulator,
        label: &str,
        step: Step,
        n: usize,
        concurrency: usize,
        args: &[&str],
    ) -> anyhow::Result<Run> {
        eprintln!("bench: {label}: provision {}", args.join(" "));
        let stdout_path = self.log_path(label, "stdout");
        let stderr_path = self.log_path(label, "stderr");
        emulator.clear_requests();
        let cpu_before = self_cpu();
        let started = Instant::now();
        let child = Command::new(&self.bin)
            .args(args)
            .env_clear()
            // The emulator's seed credentials, passed the way real ones are.
            .env("AEP_CLIENT_SECRET", "local-adobe-secret")
            .env("ZOHO_CLIENT_SECRET", "local-zoho-secret")
            .env("ZOHO_REFRESH_TOKEN", "1000.local.refresh")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(File::create(&stdout_path)?)
            .stderr(File::create(&stderr_path)?)
            .spawn()
            .with_context(|| format!("could not start {}", self.bin.display()))?;
        let sampler = PeakRss::watch(child.id());
        let waited = wait_with_usage(child.id());
        let (peak_rss_kb, sampling_cpu) = sampler.stop();
        let waited = waited?;
        let wall = started.elapsed();
        let emulator_cpu = (self_cpu() - cpu_before).saturating_sub(sampling_cpu);
        let log = emulator.requests();
        let timeline: Vec<Value> = log
            .iter()
            .map(|r| json!([r.time, r.method, r.path, r.query, r.status]))
            .collect();
        let timeline_path = self.log_path(label, "requests.json");
        std::fs::write(&timeline_path, serde_json::to_vec(&timeline)?)
            .with_context(|| format!("could not write {}", timeline_path.display()))?;

        let counts = count(&log);
        let path = critical_path(step, n);
        let lower = lower_bound_ms(path, counts.requests, LATENCY_MS, concurrency);
        let wall_ms = wall.as_secs_f64() * 1000.0;
        let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
        let summary = serde_json::from_str::<Value>(&stdout)
            .map(|doc| doc["summary"].clone())
            .unwrap_or(Value::Null);
        let run = Run {
            label: label.to_owned(),
            step,
            modules: n,
            concurrency,
            exit_code: waited.exit_code,
            wall_ms,
            levels: levels(&arrivals_ms(&log), LATENCY_MS),
            counts,
            critical_path: path,
            lower_bound_ms: lower,
            ratio: if lower > 0.0 { wall_ms / lower } else { 0.0 },
            peak_rss_kb,
            cpu_ms: waited.cpu.as_secs_f64() * 1000.0,
            emulator_cpu_ms: emulator_cpu.as_secs_f64() * 1000.0,
            summary,
            bytes_down: bytes_down(&log),
        };
        eprintln!(
            "bench: {label}: exit {}, {:.2} s, {} requests ({} writes)",
            run.exit_code,
            wall.as_secs_f64(),
            run.counts.requests,
            run.counts.writes
        );
        Ok(run)
    }

    /// Round trips minus the injected latency, from a client on its own single-threaded runtime:
    /// a small GET, a full list page, and list pages with 8 in flight (apply's default).
    fn overhead(&self, emulator: &RunningEmulator, n: usize) -> anyhow::Result<Overhead> {
        let url = emulator.url();
        let client = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let samples = client.block_on(async {
            let http = reqwest::Client::new();
            let token = ims_token(&http, &url).await?;
            let spec = format!("{url}/data/foundation/flowservice/connectionSpecs/{ZOHO_SPEC}");
            let flows =
                format!("{url}/data/foundation/flowservice/flows?limit={FLOW_SERVICE_PAGE}");
            let mut samples = Vec::new();
            let mut small = Vec::new();
            for _ in 0..20 {
                small.push(round_trip(&http, &spec, &token).await?);
            }
            samples.push(summarize("GET connection spec, one at a time", small));
            let mut page = Vec::new();
            for _ in 0..20 {
                page.push(round_trip(&http, &flows, &token).await?);
            }
            samples.push(summarize(
                &format!(
                    "GET flows page ({} flows), one at a time",
                    n.min(FLOW_SERVICE_PAGE)
                ),
                page,
            ));
            let tasks = (0..DEFAULT_CONCURRENCY).map(|_| async {
                let mut times = Vec::new();
                for _ in 0..5 {
                    times.push(round_trip(&http, &flows, &token).await?);
                }
                anyhow::Ok(times)
            });
            let parallel = futures::future::try_join_all(tasks).await?;
            samples.push(summarize(
                &format!("GET flows page, {DEFAULT_CONCURRENCY} in flight"),
                parallel.into_iter().flatten().collect(),
            ));
            anyhow::Ok(samples)
        })?;
        Ok(Overhead {
            modules: n,
            samples,
        })
    }
}

async fn ims_token(http: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let body: Value = http
        .post(format!("{url}/ims/token/v3"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "provision-local"),
            ("client_secret", "local-adobe-secret"),
            ("scope", "openid,AdobeID,read_organizations"),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    match body["access_token"].as_str() {
        Some(token) => Ok(token.to_owned()),
        None => bail!("the emulator's IMS answered without an access_token"),
    }
}

/// One GET with the platform headers; its round trip less the injected latency.
async fn round_trip(http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let response = http
        .get(url)
        .bearer_auth(token)
        .header("x-api-key", "provision-local")
        .header("x-gw-ims-org-id", "0000000000000000000000AA@AdobeOrg")
        .header("x-sandbox-name", SANDBOX)
        .send()
        .await?
        .error_for_status()?;
    let _ = response.bytes().await?;
    Ok(started.elapsed().as_secs_f64() * 1000.0 - LATENCY_MS as f64)
}

fn summarize(what: &str, mut times: Vec<f64>) -> OverheadSample {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((times.len() as f64 - 1.0) * q).round() as usize;
        times.get(i).copied().unwrap_or(0.0)
    };
    OverheadSample {
        what: what.to_owned(),
        requests: times.len(),
        median_ms: at(0.5),
        p95_ms: at(0.95),
        max_ms: times.last().copied().unwrap_or(0.0),
    }
}

/// The child's peak RSS, sampled from `VmHWM` in `/proc/PID/status` every 5 ms while it runs.
///
/// Not `ru_maxrss`: Linux carries the parent's high-water mark into a forked child and keeps it
/// across `exec`, so a child of this process (which holds the emulator's state) would report at
/// least this process's RSS. `VmHWM` belongs to the address space the child got at `exec`.
struct PeakRss {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(i64, Duration)>,
}

impl PeakRss {
    fn watch(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let path = format!("/proc/{pid}/status");
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                if let Some(kb) = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|s| vm_hwm_kb(&s))
                {
                    peak = peak.max(kb);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (peak, thread_cpu())
        });
        Self { stop, thread }
    }

    /// The highest `VmHWM` seen, in kB (0 when none could be read), and the CPU time the
    /// sampling took (this process's, not the emulator's).
    fn stop(self) -> (i64, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or((0, Duration::ZERO))
    }
}

struct Waited {
    exit_code: i32,
    cpu: Duration,
}

/// Reaps the child with `wait4`, which answers the CPU time of that process alone
/// (RUSAGE_CHILDREN would mix in every child reaped so far).
fn wait_with_usage(pid: u32) -> anyhow::Result<Waited> {
    let pid = libc::pid_t::try_from(pid).context("a child pid")?;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for the child we spawned and have not
    // reaped (std's Child is never waited on afterwards).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals, a pid we own.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error).context("wait4 on the provision child");
        }
    }
    let exit_code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    Ok(Waited {
        exit_code,
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
    })
}

/// The 1-minute load average from `/proc/loadavg` (0 when unreadable).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(0.0)
}

/// CPU time (user + system) of this process so far.
fn self_cpu() -> Duration {
    cpu_of(libc::RUSAGE_SELF)
}

/// CPU time (user + system) of the calling thread so far.
fn thread_cpu() -> Duration {
    cpu_of(libc::RUSAGE_THREAD)
}

fn cpu_of(who: libc::c_int) -> Duration {
    // SAFETY: as above, rusage is plain old data filled by getrusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a local.
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
}

/// Issue 8's figures, each with what was measured.
fn checks(runs: &[Run], overheads: &[Overhead]) -> Vec<Check> {
    let mut checks = Vec::new();
    let find = |step: Step, n: usize, concurrency: usize| {
        runs.iter()
            .find(|r| r.step == step && r.modules == n && r.concurrency == concurrency)
    };
    if let Some(fresh) = find(Step::FreshApply, BASELINE_SIZE, DEFAULT_CONCURRENCY) {
        checks.push(Check {
            figure: format!("fresh apply, n={BASELINE_SIZE}: wall / lower bound"),
            target: "<= 1.3".into(),
            measured: format!("{:.2}", fresh.ratio),
            ok: fresh.exit_code == 0 && fresh.ratio <= 1.3,
        });
        if let Some(seq) = find(Step::FreshApply, BASELINE_SIZE, 1) {
            checks.push(speedup_check(fresh, seq, 6.0));
        }
    }
    for run in runs.iter().filter(|r| r.step == Step::NoopApply) {
        let c = &run.counts;
        checks.push(Check {
            figure: format!("no-op re-apply, n={}: requests, writes", run.modules),
            target: "<= 12, 0 writes".into(),
            measured: format!(
                "{} ({} + {} follow-up pages), {} writes",
                c.requests,
                c.requests - c.follow_up_pages,
                c.follow_up_pages,
                c.writes
            ),
            ok: run.exit_code == 0 && c.requests <= 12 && c.writes == 0,
        });
    }
    for run in runs.iter().filter(|r| r.step == Step::Status) {
        // "5 requests plus list paging": follow-up pages are not counted against the 5.
        let c = &run.counts;
        checks.push(Check {
            figure: format!("status, n={}: requests less follow-up pages", run.modules),
            target: "<= 5 + pages".into(),
            measured: format!(
                "{} + {} pages",
                c.requests - c.follow_up_pages,
                c.follow_up_pages
            ),
            ok: run.exit_code == 0 && c.requests - c.follow_up_pages <= 5,
        });
    }
    if let Some(big) = runs
        .iter()
        .filter(|r| r.step == Step::FreshApply && r.concurrency == DEFAULT_CONCURRENCY)
        .max_by_key(|r| r.modules)
    {
        checks.push(Check {
            figure: format!("fresh apply, n={}: peak RSS", big.modules),
            target: "<= 50 MB".into(),
            measured: format!("{:.1} MB", big.peak_rss_kb as f64 / 1024.0),
            ok: big.exit_code == 0 && big.peak_rss_kb <= 50 * 1024,
        });
    }
    // The emulator's CPU per request over each whole run is its overhead on the request mix
    // provision sends: on average a fifth of the latency at most, since a run made of a few
    // pages of hundreds of items (status, re-apply at 200 modules) pays 2-10 ms a page on 2
    // shared cores. The round trip of a small GET adds what the network stack and timer cost:
    // a tenth.
    let limit = LATENCY_MS as f64 / 10.0;
    let mix_limit = LATENCY_MS as f64 / 5.0;
    if let Some(worst) = runs
        .iter()
        .filter(|r| r.counts.requests > 0)
        .map(|r| (r, r.emulator_cpu_ms / r.counts.requests as f64))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    {
        checks.push(Check {
            figure: format!("emulator CPU per request (worst run: {})", worst.0.label),
            target: format!("<= {mix_limit} ms (20% of latency)"),
            measured: format!("{:.2} ms", worst.1),
            ok: worst.1 <= mix_limit,
        });
    }
    let small = overheads
        .iter()
        .filter_map(|o| o.samples.first())
        .map(|s| s.median_ms)
        .fold(None, |worst: Option<f64>, m| {
            Some(worst.map_or(m, |w| w.max(m)))
        });
    if let Some(small) = small {
        checks.push(Check {
            figure: "emulator round trip - latency, small GET (median)".into(),
            target: format!("<= {limit} ms (10% of latency)"),
            measured: format!("{small:.2} ms"),
            ok: small <= limit,
        });
    }
    checks
}

fn print_report(runs: &[Run], overheads: &[Overhead], checks: &[Check]) {
    println!(
        "\nprovision benchmark: {LATENCY_MS} ms latency per request, default --concurrency {DEFAULT_CONCURRENCY}\n"
    );
    println!(
        "{:<30} {:>4} {:>4} {:>8} {:>8} {:>6} {:>6} {:>4} {:>8} {:>6} {:>6} {:>7} {:>6}",
        "run",
        "n",
        "conc",
        "wall s",
        "requests",
        "pages",
        "writes",
        "path",
        "bound s",
        "ratio",
        "levels",
        "rss MB",
        "cpu s"
    );
    for r in runs {
        let failed = if r.exit_code == 0 {
            String::new()
        } else {
            format!("  (exit {})", r.exit_code)
        };
        println!(
            "{:<30} {:>4} {:>4} {:>8.2} {:>8} {:>6} {:>6} {:>4} {:>8.2} {:>6.2} {:>6} {:>7.1} {:>6.2}{failed}",
            r.label,
            r.modules,
            r.concurrency,
            r.wall_ms / 1000.0,
            r.counts.requests,
            r.counts.follow_up_pages,
            r.counts.writes,
            r.critical_path,
            r.lower_bound_ms / 1000.0,
            r.ratio,
            r.levels,
            r.peak_rss_kb as f64 / 1024.0,
            r.cpu_ms / 1000.0,
        );
    }
    println!("\nemulator overhead per request (round trip - {LATENCY_MS} ms):");
    for o in overheads {
        for s in &o.samples {
            println!(
                "  n={:<4} {:<44} median {:>6.2} ms  p95 {:>6.2} ms  max {:>6.2} ms",
                o.modules, s.what, s.median_ms, s.p95_ms, s.max_ms
            );
        }
    }
    let emulator_cpu: Vec<String> = runs
        .iter()
        .filter(|r| r.counts.requests > 0)
        .map(|r| {
            format!(
                "{} {:.2} ms",
                r.label,
                r.emulator_cpu_ms / r.counts.requests as f64
            )
        })
        .collect();
    println!(
        "  emulator CPU per request during the runs: {}",
        emulator_cpu.join(", ")
    );
    println!("\nissue 8 figures:");
    for c in checks {
        println!(
            "  [{}] {:<52} target {:<26} measured {}",
            if c.ok { " ok " } else { "MISS" },
            c.figure,
            c.target,
            c.measured
        );
    }
}

// ---- issue 14 and issue 19 item 4: the request floor of a fresh apply, and bytes downloaded ----

/// The fresh applies at the default concurrency, smallest first.
fn fresh_applies(runs: &[Run]) -> Vec<&Run> {
    let mut fresh: Vec<&Run> = runs
        .iter()
        .filter(|r| r.step == Step::FreshApply && r.concurrency == DEFAULT_CONCURRENCY)
        .collect();
    fresh.sort_by_key(|r| r.modules);
    fresh
}

/// Issue 14's targets: at most 6n + 15 requests and wall <= 1.3 x the lower bound at every size,
/// and n = 50 at least 7x faster than `--concurrency 1`. Issue 19's: bytes per module of a fresh
/// apply do not grow with n (within 1.5x of the smallest size's).
fn request_floor_checks(runs: &[Run]) -> Vec<Check> {
    let mut checks = Vec::new();
    let fresh = fresh_applies(runs);
    for run in &fresh {
        let n = run.modules;
        checks.push(Check {
            figure: format!("fresh apply, n={n}: requests"),
            target: format!("<= 6n + 15 = {}", 6 * n + 15),
            measured: format!("{} ({:.2} a module)", run.counts.requests, per_module(run)),
            ok: run.exit_code == 0 && run.counts.requests <= 6 * n + 15,
        });
        // The first run's validation reads each module's columns from Zoho before anything is
        // written (docs/performance.md, "Fresh apply"): shown apart, so that the rest of the
        // floor is still measured.
        let besides = run.counts.requests - run.counts.zoho_field_lists;
        checks.push(Check {
            figure: format!("fresh apply, n={n}: requests besides Zoho field lists"),
            target: format!("<= 6n + 15 = {}", 6 * n + 15),
            measured: format!("{besides} (+ {} field lists)", run.counts.zoho_field_lists),
            ok: run.exit_code == 0 && besides <= 6 * n + 15,
        });
        checks.push(Check {
            figure: format!("fresh apply, n={n}: wall / lower bound"),
            target: "<= 1.3".into(),
            measured: format!("{:.2}", run.ratio),
            ok: run.exit_code == 0 && run.ratio <= 1.3,
        });
    }
    let at = |n: usize, c: usize| {
        runs.iter()
            .find(|r| r.step == Step::FreshApply && r.modules == n && r.concurrency == c)
    };
    if let (Some(fast), Some(seq)) = (at(BASELINE_SIZE, DEFAULT_CONCURRENCY), at(BASELINE_SIZE, 1))
    {
        checks.push(speedup_check(fast, seq, 7.0));
    }
    if let (Some(small), Some(big)) = (fresh.first(), fresh.last()) {
        let per = |r: &Run| r.bytes_down as f64 / r.modules as f64;
        let growth = per(big) / per(small);
        checks.push(Check {
            figure: format!(
                "fresh apply: bytes a module, n={} / n={}",
                big.modules, small.modules
            ),
            target: "<= 1.5 (linear in n)".into(),
            measured: format!("{growth:.2}"),
            ok: big.modules == small.modules || growth <= 1.5,
        });
    }
    checks
}

/// How much faster the default concurrency made a fresh apply than `--concurrency 1`.
fn speedup_check(fast: &Run, seq: &Run, target: f64) -> Check {
    let speedup = seq.wall_ms / fast.wall_ms;
    Check {
        figure: format!("fresh apply, n={}: --concurrency 1 / default", fast.modules),
        target: format!(">= {target}x"),
        measured: format!("{speedup:.1}x"),
        ok: fast.exit_code == 0 && seq.exit_code == 0 && speedup >= target,
    }
}

fn per_module(run: &Run) -> f64 {
    run.counts.requests as f64 / run.modules.max(1) as f64
}

/// Requests and bytes per module of each fresh apply.
fn print_request_floor(runs: &[Run]) {
    println!(
        "
fresh apply, per module (issue 14 floor: 6 requests a module + 15):"
    );
    for r in runs.iter().filter(|r| r.step == Step::FreshApply) {
        println!(
            "  n={:<4} conc={:<2} requests {:>5} ({:>5.2} a module, {:>4} of them Zoho field lists, lower bound {:>6.2} s)  downloaded {:>9} B ({:>6.0} B a module)",
            r.modules,
            r.concurrency,
            r.counts.requests,
            per_module(r),
            r.counts.zoho_field_lists,
            r.lower_bound_ms / 1000.0,
            r.bytes_down,
            r.bytes_down as f64 / r.modules.max(1) as f64
        );
    }
}

/// Issue 19: pacing under a rate limit. A fresh apply of [`rate_limited::MODULES`] modules against
/// an emulator that answers 429 (`Retry-After: 1`) above [`rate_limited::PER_SECOND`] requests a
/// second, counted over every service; the figure is the share of requests refused (target
/// under 10%) and the wall time (at least requests / limit).
mod rate_limited {
    use super::*;

    pub const MODULES: usize = 20;
    pub const PER_SECOND: u32 = 2;
    /// The share of 429s the pacing must stay under.
    const TARGET: f64 = 0.10;

    #[derive(Debug, Serialize)]
    pub struct RateLimited {
        pub run: Run,
        pub limit_per_second: u32,
        pub throttled: usize,
        pub throttled_share: f64,
        /// requests / limit: no run can be faster.
        pub floor_s: f64,
        pub ok: bool,
    }

    pub fn measure(bench: &Bench) -> anyhow::Result<RateLimited> {
        let config = EmulatorConfig {
            faults: Faults {
                latency: Some(Duration::from_millis(LATENCY_MS)),
                rate_limit: Some(PER_SECOND),
                ..Faults::default()
            },
            seed: Some(8),
            extra_modules: MODULES,
            ..EmulatorConfig::default()
        };
        let emulator = bench.runtime.block_on(spawn(config))?;
        let profile = bench.profile(&emulator, MODULES, &format!("bench-limited-{MODULES}"))?;
        let run = bench.measure(
            &emulator,
            &format!("apply n={MODULES} at {PER_SECOND} req/s"),
            Step::FreshApply,
            MODULES,
            DEFAULT_CONCURRENCY,
            &[
                "apply",
                "--yes",
                "--output",
                "json",
                profile.to_str().context("a UTF-8 path")?,
            ],
        )?;
        let throttled = emulator
            .requests()
            .iter()
            .filter(|r| r.status == 429)
            .count();
        bench.stop(emulator)?;
        let requests = run.counts.requests.max(1);
        let throttled_share = throttled as f64 / requests as f64;
        Ok(RateLimited {
            limit_per_second: PER_SECOND,
            throttled,
            throttled_share,
            floor_s: requests as f64 / f64::from(PER_SECOND),
            ok: run.exit_code == 0 && throttled_share < TARGET,
            run,
        })
    }

    pub fn print(r: &RateLimited) {
        let failed = if r.run.exit_code == 0 {
            String::new()
        } else {
            format!(" (exit {})", r.run.exit_code)
        };
        println!(
            "\nissue 19 figures (emulator limited to {} req/s, n={}):",
            r.limit_per_second, r.run.modules
        );
        println!(
            "  wall {:.1} s (floor requests / limit {:.1} s), {} requests, {} answered 429{failed}",
            r.run.wall_ms / 1000.0,
            r.floor_s,
            r.run.counts.requests,
            r.throttled
        );
        println!(
            "  [{}] {:<52} target {:<26} measured {:.1}%",
            if r.ok { " ok " } else { "MISS" },
            "fresh apply under the rate limit: share of 429s",
            format!("< {:.0}%", TARGET * 100.0),
            r.throttled_share * 100.0
        );
    }
}
