//! The profile every emulator-backed test and the benchmark write: the seeded Adobe and Zoho
//! clients, every URL on the emulator, secrets read from the environment. Plain `std` so that
//! `benches/support` can include this file too (`#[path]`).

/// The `[adobe]`, `[zoho]`, `[connection]` and `[defaults]` tables of a profile for the emulator
/// at `url`: connection name `prefix` with `description`, the seeded schema, and hourly
/// schedules from `schedule_start` (RFC 3339) with backfill. `[defaults]` is the last table, so
/// a caller may append more `[defaults]` keys before its `[[dataflows]]`.
pub fn emulator_profile(
    url: &str,
    prefix: &str,
    description: &str,
    schedule_start: &str,
) -> String {
    format!(
        r#"[adobe]
org_id        = "0000000000000000000000AA@AdobeOrg"
sandbox       = "prod"
client_id     = "provision-local"
client_secret = "${{AEP_CLIENT_SECRET}}"
ims_url       = "{url}"
platform_url  = "{url}"

[zoho]
region        = "us"
client_id     = "1000.LOCALCLIENT"
client_secret = "${{ZOHO_CLIENT_SECRET}}"
refresh_token = "${{ZOHO_REFRESH_TOKEN}}"
accounts_url  = "{url}"
api_url       = "{url}"

[connection]
name        = "{prefix}"
description = "{description}"

[defaults]
schema_id      = "https://ns.adobe.com/acme/schemas/zoho_crm"
mapping_prefix = "_acme.zoho"
schedule       = {{ frequency = "hour", interval = 1, start = "{schedule_start}", backfill = true }}
"#
    )
}
