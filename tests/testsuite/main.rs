//! The integration tests, one test binary (the layout of cargo's own `tests/testsuite`): every
//! file here is a module of this crate, so `cargo test` links the `provision` library into one
//! test executable instead of one per file. Shared helpers live in [`support`]: the emulator
//! harness, the emulator profile, the seeded module list and the insta settings.
//!
//! Run one file's tests with `cargo test --test testsuite apply_etag::` (a module path prefix
//! filters), one test with its full name. insta snapshots are in `snapshots/` beside this file.
//!
//! A new test file goes next to this one and gets a `mod` line below. A test that needs a
//! process of its own (it sets process-wide environment variables, installs a global tracing
//! subscriber, changes the current directory, or bounds wall time tightly) must instead stay a
//! separate `tests/*.rs` binary: the tests here share one process and run on several threads.
//! `tests/emulator_faults.rs` is one (its latency test bounds the emulator's own overhead); it
//! reaches this support module with `#[path = "testsuite/support/mod.rs"] mod support;`.

mod support;

mod api_catalog;
mod api_connections;
mod api_dataprep;
mod api_explore;
mod api_flows;
mod api_runs;
mod api_source_target;
mod api_specs;
mod apply;
mod apply_concurrent;
mod apply_etag;
mod apply_interrupted;
mod apply_lease;
mod apply_scale;
mod apply_snapshots;
mod base_patch;
mod bench_support;
mod check;
mod cli;
mod destroy;
mod emulator_catalog_dataprep;
mod emulator_fidelity;
mod emulator_flowservice;
mod emulator_gateway;
mod emulator_runs;
mod emulator_zoho;
mod engine_ensure;
mod engine_spans;
mod explore;
mod explore_snapshots;
mod failures_json;
mod http;
mod import;
mod init;
mod interrupts;
mod operate;
mod output_color;
mod patience;
mod plan_saved;
mod profile;
mod profile_proptest;
mod profile_schema;
mod reliability;
mod reliability_http;
mod spec_bodies;
mod status;
mod status_snapshots;
mod status_wait;
mod token_cache;
mod user_messages;
mod validate;
mod zoho_auth;
mod zoho_cmd;
