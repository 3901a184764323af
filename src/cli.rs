//! Command-line definitions only: no logic lives here (see `lib.rs` for dispatch).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use url::Url;

use crate::profile::{check_url, ZohoRegion};

#[derive(Debug, Parser)]
#[command(
    name = "provision",
    version = VERSION,
    about = "Connect Zoho CRM to Adobe Experience Platform, declaratively and safely re-runnable",
    long_about = "provision reads one TOML profile (Zoho OAuth credentials, Adobe IMS settings, which Zoho \
modules go to which dataset, mapping, schedule) and converges Adobe Experience Platform on it: the Zoho CRM \
base connection, then per module the source connection, dataset, target connection, mapping set and dataflow.\n\n\
The profile is the positional PROFILE argument, else $PROVISION_PROFILE, else profiles/default.toml.",
    after_help = "Exit codes:
  0   success (plan --detailed-exitcode: no changes)
  1   the command ran and failed (API error, auth failure, a failed run under status --wait)
  2   plan --detailed-exitcode: changes pending
  64  usage error (bad flags)
  78  invalid profile (nothing was sent)
  130 interrupted by SIGINT (143: SIGTERM); writes in flight were let finish

Environment:
  PROVISION_PROFILE           the profile when none is given
  PROVISION_<SECTION>__<KEY>  overrides a profile key, e.g. PROVISION_ADOBE__SANDBOX=dev
  RUST_LOG                    log filter on stderr; overrides -v/-q (e.g. RUST_LOG=provision=debug)
  PROVISION_NO_TOKEN_CACHE    1: like --no-token-cache
  NO_COLOR                    no colour with --color auto (the default)

Start with `provision check PROFILE`, then `provision plan` and `provision apply`."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// The version `--version` prints: the package version, plus the git commit and build date when
/// the binary was built from a checkout (see build.rs).
pub const VERSION: &str = env!("PROVISION_VERSION");

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Output format on stdout: `human` tables or exactly one JSON document.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,

    /// More log detail on stderr (-v: one line per request, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Colour on stdout and stderr: `auto` on a terminal unless NO_COLOR is set.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,

    /// Do not read or write Zoho access tokens in the user's cache directory (each command then
    /// asks Zoho for a new one).
    #[arg(
        long,
        global = true,
        env = "PROVISION_NO_TOKEN_CACHE",
        value_parser = clap::builder::FalseyValueParser::new(),
        hide_env_values = true
    )]
    pub no_token_cache: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ZohoSpecState {
    Listed,
    Unlisted,
    Removed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the base connection and, per module, the source connection, dataset,
    /// target connection, mapping set and dataflow. Prints the plan, then the result.
    #[command(after_help = "Examples:
  provision apply profiles/prod.toml            # show the plan, ask, then converge
  provision apply --yes --output json           # in a pipeline, with $PROVISION_PROFILE
  provision apply profiles/prod.toml --plan prod.plan.json   # exactly the plan saved by plan --out")]
    Apply(ApplyArgs),
    /// Show what `apply` would change, without writing anything.
    #[command(after_help = "Examples:
  provision plan profiles/prod.toml
  provision plan --detailed-exitcode    # exit 0: no changes, 2: changes pending, 1: error
  provision plan profiles/prod.toml --out prod.plan.json   # then: apply --plan prod.plan.json")]
    Plan(PlanArgs),
    /// Delete what the profile manages, in reverse dependency order: dataflows, then source and
    /// target connections, then the base connection. Datasets only with --include-datasets.
    #[command(after_help = "Example:
  provision destroy profiles/staging.toml --yes")]
    Destroy(DestroyArgs),
    /// Adopt a Zoho CRM base connection made in Adobe's UI (or by a script) and every dataflow
    /// built on it: mark them as managed by this profile, without recreating anything, and append
    /// one [[dataflows]] entry per dataflow to PROFILE.
    #[command(after_help = "Examples:
  provision import profiles/prod.toml --base-connection 9e7d0b5c-...       # show, ask, adopt, append
  provision import profiles/prod.toml --base-connection 9e7d0b5c-... --yes --print   # entries on stdout

The profile's Zoho credentials are sent to the adopted base connection (AEP cannot show the ones
it holds), after a refresh proves they work. Off a terminal, --yes is required (else exit 64).")]
    Import(ImportArgs),
    /// List the Zoho modules the base connection sees, or one module's columns and sample rows.
    #[command(after_help = "Examples:
  provision explore profiles/prod.toml               # the modules (tables)
  provision explore profiles/prod.toml Leads         # the columns of Leads and their XDM types
  provision explore Leads --preview 5                # with $PROVISION_PROFILE, plus 5 sample rows")]
    Explore(ExploreArgs),
    /// Show each managed dataflow's state, schedule and last runs; `--wait` blocks until they finish.
    #[command(after_help = "Examples:
  provision status profiles/prod.toml --runs 5
  provision status --wait --timeout 20m     # exit 1 if a run failed or the time ran out")]
    Status(StatusArgs),
    /// Start an on-demand run of each selected dataflow scheduled `once` (`POST /runs`); a
    /// dataflow on a recurring schedule is refused with the reason.
    #[command(after_help = "Examples:
  provision run profiles/prod.toml --module Leads --wait
  provision run --wait --timeout 20m --output json   # exit 1 if a run failed or the time ran out")]
    Run(RunArgs),
    /// Re-trigger the newest run of each selected dataflow when it failed
    /// (`POST /runs/{id}/action?op=re-trigger`); dataflows whose newest run did not fail are
    /// left alone and reported.
    #[command(after_help = "Example:
  provision retry profiles/prod.toml --wait")]
    Retry(RunArgs),
    /// Preflight without writes: profile valid, IMS token, org and sandbox accepted, Zoho connection
    /// spec present and allowed by the CRMToAEP flow spec, Zoho refresh token valid in its data
    /// centre, target schema and datasets present.
    #[command(after_help = "Example:
  provision check profiles/prod.toml --output json")]
    Check(ProfileArg),
    /// Write a starting profile from what the accounts hold: Zoho's modules and fields, the XDM
    /// schema's fields, a proposed mapping per module, a delta column and an hourly schedule.
    #[command(
        after_help = "Asks for what the flags and PROVISION_<SECTION>__<KEY> variables do not give when
stdin is a terminal; otherwise a missing value is a usage error (exit 64) naming its flag.
The secrets are read from AEP_CLIENT_SECRET, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN and
written as ${...} placeholders. Nothing is created in either account.

Example:
  provision init profiles/prod.toml --org-id 5C13...@AdobeOrg --sandbox prod \\
      --adobe-client-id 0123abcd --region eu --zoho-client-id 1000.ABC \\
      --connection-name zoho-crm-prod --schema https://ns.adobe.com/acme/schemas/0123abcd \\
      --module Leads --module Contacts
  provision plan profiles/prod.toml"
    )]
    Init(InitArgs),
    /// Print shell completions for bash, zsh, fish, powershell or elvish.
    #[command(after_help = "Examples:
  provision completions bash > ~/.local/share/bash-completion/completions/provision
  provision completions zsh > \"${fpath[1]}/_provision\"
  provision completions fish > ~/.config/fish/completions/provision.fish")]
    Completions(CompletionsArgs),
    /// Print the man page (roff), generated from these same definitions (`make man`).
    #[command(hide = true)]
    Man,
    /// Zoho OAuth helpers: exchange a grant token, list modules straight from Zoho.
    #[command(subcommand)]
    Zoho(ZohoCommand),
    /// Run a local, in-memory stand-in for IMS, Zoho and the AEP APIs (for demos and tests).
    #[command(after_help = "Example:
  provision emulator --listen 127.0.0.1:0 --time-scale 3600   # prints its address first
  provision check profiles/local.toml                         # with the URLs pointed at it")]
    Emulator(EmulatorArgs),
    /// Print the profile's JSON Schema (every key, its type, allowed values, default and
    /// description), for editors and for checking profiles. Always JSON; reads no profile.
    #[command(after_help = "Example:
  provision profile-schema > profile.schema.json
  # then, first line of a profile:  #:schema ./profile.schema.json")]
    ProfileSchema,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ProfileArg {
    /// The profile (TOML). Default: $PROVISION_PROFILE, then profiles/default.toml.
    pub profile: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub profile: ProfileArg,
    /// Do not ask for confirmation (a prompt is shown only when stdin is a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// How many modules to converge at the same time.
    #[arg(
        long,
        default_value_t = crate::validate::CONCURRENCY as u16,
        value_parser = clap::value_parser!(u16).range(1..=64)
    )]
    pub concurrency: u16,
    /// Also delete the datasets of modules removed from the profile (kept by default).
    #[arg(long, conflicts_with = "plan")]
    pub include_datasets: bool,
    /// Only this module's objects (repeatable); the base connection is still ensured. Not with
    /// --plan: a saved plan is applied whole.
    #[arg(long = "module", value_name = "M", conflicts_with = "plan")]
    pub modules: Vec<String>,
    /// While another apply of the same profile holds its lease, wait this long for it, then
    /// give up (exit 1) naming that run (e.g. 30s, 10m).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5m")]
    pub lock_timeout: Duration,
    /// Apply exactly the plan `provision plan --out FILE` saved; refused (exit 1, nothing
    /// written) when the profile or any object the plan read has changed since.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub profile: ProfileArg,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan the deletion of datasets of modules removed from the profile, as `apply --include-datasets` would.
    #[arg(long)]
    pub include_datasets: bool,
    /// Only this module's objects (repeatable); the base connection is still ensured. Not with
    /// --out: a saved plan covers the whole profile.
    #[arg(long = "module", value_name = "M", conflicts_with = "out")]
    pub modules: Vec<String>,
    /// Also save the plan to FILE (JSON, no secrets), for `provision apply --plan FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub profile: ProfileArg,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also delete datasets that provision created.
    #[arg(long)]
    pub include_datasets: bool,
    /// Only this module's objects (repeatable); the base connection is kept.
    #[arg(long = "module", value_name = "M")]
    pub modules: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub profile: ProfileArg,
    /// The id of the Zoho CRM base connection to adopt (Sources > Accounts in Adobe's UI).
    #[arg(long, value_name = "ID")]
    pub base_connection: String,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print the [[dataflows]] entries on stdout instead of appending them to PROFILE.
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// The profile, then optionally a module. A single argument that is not a file (and does not end
    /// in .toml) is taken as MODULE, with the default profile.
    #[arg(value_name = "PROFILE|MODULE", num_args = 0..=2)]
    pub args: Vec<String>,
    /// Add up to N sample rows (only for modules that can be previewed).
    #[arg(long, value_name = "N")]
    pub preview: Option<u32>,
    /// Create the base connection first if it does not exist yet (nothing else is created).
    #[arg(long)]
    pub create_connection: bool,
    /// List the target XDM schema's leaf fields (what a mapping destination may name) instead:
    /// the given schema, else the profile's `defaults.schema_id`.
    #[arg(long, value_name = "SCHEMA_ID", num_args = 0..=1, default_missing_value = "")]
    pub schema: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The profile to write (kept when it exists, unless --force).
    pub file: PathBuf,
    /// Adobe organization id (…@AdobeOrg).
    #[arg(long, value_name = "ID")]
    pub org_id: Option<String>,
    /// Adobe Experience Platform sandbox.
    #[arg(long, value_name = "NAME")]
    pub sandbox: Option<String>,
    /// Adobe OAuth server-to-server client id (also the API key).
    #[arg(long, value_name = "ID")]
    pub adobe_client_id: Option<String>,
    /// Zoho data centre: us eu in au jp cn ca sa uk.
    #[arg(long, value_name = "DC")]
    pub region: Option<String>,
    /// Zoho client id.
    #[arg(long, value_name = "ID")]
    pub zoho_client_id: Option<String>,
    /// Base connection name; also the prefix of every managed resource's name.
    #[arg(long, value_name = "NAME")]
    pub connection_name: Option<String>,
    /// Target XDM schema `$id`.
    #[arg(long, value_name = "SCHEMA_ID")]
    pub schema: Option<String>,
    /// A Zoho module (API name) to sync; repeat for more. On a terminal, a pick list when absent.
    #[arg(long = "module", value_name = "M")]
    pub modules: Vec<String>,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub profile: ProfileArg,
    /// Show each dataflow's newest N runs with their records and errors (default: one line per
    /// dataflow; `--output json` lists 3 runs).
    #[arg(long, value_name = "N")]
    pub runs: Option<u32>,
    /// Block until every dataflow's newest run has finished; exit 1 if any failed.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long (e.g. 90s, 30m).
    #[arg(long, requires = "wait", value_parser = humantime::parse_duration, default_value = "30m")]
    pub timeout: Duration,
    /// Only this module's dataflow (repeatable).
    #[arg(long = "module", value_name = "M")]
    pub modules: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub profile: ProfileArg,
    /// Only this module's dataflow (repeatable); default: every dataflow of the profile.
    #[arg(long = "module", value_name = "M")]
    pub modules: Vec<String>,
    /// Block until the started runs have finished; exit 1 if any failed.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long (e.g. 90s, 30m).
    #[arg(long, requires = "wait", value_parser = humantime::parse_duration, default_value = "30m")]
    pub timeout: Duration,
}

#[derive(Debug, Subcommand)]
pub enum ZohoCommand {
    /// Exchange a Zoho grant token (authorization code) for access and refresh tokens.
    #[command(
        after_help = "The client secret is read from the environment (never a flag):
  export ZOHO_CLIENT_SECRET=...
  provision zoho token profiles/prod.toml --code 1000.xxxx --write ~/.config/provision/zoho.token
  provision zoho token --region eu --client-id 1000.ABC --client-secret-env ZOHO_CLIENT_SECRET \\
      --code 1000.xxxx --show
Each exchange creates a new refresh token; Zoho keeps 20 per user and client and deletes the oldest."
    )]
    Token(Box<ZohoTokenArgs>),
    /// Refresh the access token and list modules straight from Zoho's API.
    Modules(ProfileArg),
}

#[derive(Debug, Args)]
pub struct ZohoTokenArgs {
    /// Profile to read the Zoho client id/secret and region from (optional).
    pub profile: Option<PathBuf>,
    /// The grant token, or the whole redirect URL Zoho sent you to (its data centre is then used).
    #[arg(long)]
    pub code: String,
    /// Zoho data centre: us eu in au jp cn ca sa uk.
    #[arg(long, conflicts_with = "accounts_url", value_parser = parse_region)]
    pub region: Option<ZohoRegion>,
    /// Zoho accounts server, e.g. https://accounts.zoho.eu (https, or http to a loopback host).
    #[arg(long, value_parser = parse_url)]
    pub accounts_url: Option<Url>,
    /// Zoho client id (default: the profile's zoho.client_id).
    #[arg(long)]
    pub client_id: Option<String>,
    /// Name of the environment variable that holds the client secret (secrets are never flags).
    #[arg(long, value_name = "VAR")]
    pub client_secret_env: Option<String>,
    /// Redirect URI registered for a web client; omit it for a Self Client.
    #[arg(long)]
    pub redirect_uri: Option<String>,
    /// Write the refresh token to FILE (mode 0600).
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Overwrite FILE given to --write.
    #[arg(long, requires = "write")]
    pub force: bool,
    /// Print the refresh token on stdout.
    #[arg(long)]
    pub show: bool,
}

#[derive(Debug, Args, Clone)]
pub struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free port. The address is the first line on stdout.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Speed up the emulator's clock for dataflow runs (e.g. 720 makes an hourly flow run every 5 s).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Added latency for every request, e.g. 50ms.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub latency: Option<Duration>,
    /// Answer 429 with Retry-After above this many requests per second.
    #[arg(long, value_name = "PER_SECOND")]
    pub rate_limit: Option<u32>,
    /// Share of requests (0.0-1.0) answered with a random 5xx.
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// For POSTs to this path (e.g. /data/foundation/flowservice/flows): commit the create, then
    /// answer 504. Repeatable.
    #[arg(long, value_name = "PATH")]
    pub fail_after_commit: Vec<String>,
    /// Lifetime of IMS access tokens, e.g. 2s (default 24h).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub token_ttl: Option<Duration>,
    /// The Zoho CRM connection spec: `listed` (present and allowed by CRMToAEP), `unlisted`
    /// (present, but missing from CRMToAEP's sources) or `removed` (as after Adobe's deprecation).
    #[arg(long, value_enum, default_value_t = ZohoSpecState::Listed)]
    pub zoho_spec: ZohoSpecState,
    /// The most items a Flow Service or Data Prep list page holds, whatever `limit` asks (their
    /// specs set no maximum; default 1000), e.g. 5 to test a client's paging. Catalog keeps its
    /// documented 100.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub page_cap: Option<u32>,
    /// Seed for the random faults, so a run can be reproduced.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Add this many custom modules (CustomModule1, ...) to the seeded Zoho org, e.g. for benchmarks.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub extra_modules: usize,
}

fn parse_region(value: &str) -> Result<ZohoRegion, String> {
    value.parse()
}

fn parse_url(value: &str) -> Result<Url, String> {
    check_url(value)
}
