//! Issue 13's validation rows, end to end: each profile problem makes `plan` exit 1 naming the
//! problem (module or id, key, the nearest valid value), makes `check` fail the same named check,
//! and makes `apply` exit 1 without a single POST, PATCH, PUT or DELETE.

use crate::support;

use std::path::Path;

use support::cli::{Harness, THREE_MODULES};

/// Runs plan, check and apply on `profile` and asserts the refusal: `check_name` failed with
/// `problem` in its detail, and the request log holds no write.
async fn refused(h: &Harness, profile: &Path, check_name: &str, problem: &str) {
    h.clear_requests();
    let plan = h.provision("plan", profile, &[]).await;
    plan.assert_exit(1);
    assert!(
        plan.stderr.contains(&format!("{check_name}: ")) && plan.stderr.contains(problem),
        "plan:\n{}",
        plan.stderr
    );
    assert!(plan.stdout.is_empty(), "{}", plan.stdout);

    let check = h.provision("check", profile, &["--output", "json"]).await;
    check.assert_exit(1);
    let doc = check.json();
    let found = doc["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == check_name)
        .unwrap_or_else(|| panic!("no check named {check_name}: {doc:#}"))
        .clone();
    assert_eq!(found["status"], "fail", "{found:#}");
    let detail = found["detail"].as_str().expect("detail");
    assert!(detail.contains(problem), "{detail}");

    let apply = h.provision("apply", profile, &["--yes"]).await;
    apply.assert_exit(1);
    assert!(apply.stderr.contains(problem), "apply:\n{}", apply.stderr);
    assert!(h.writes().is_empty(), "writes: {:#?}", h.writes());
}

fn edited(h: &Harness, from: &str, to: &str) -> std::path::PathBuf {
    assert!(THREE_MODULES.contains(from), "{from}");
    h.profile("edited.toml", &THREE_MODULES.replacen(from, to, 1))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dataset_id_that_does_not_exist() {
    let h = Harness::start().await;
    let profile = edited(
        &h,
        "dataset = { id = \"6889f4f89b982b2b90bc1208\" }",
        "dataset = { id = \"000000000000000000000000\" }",
    );
    refused(
        &h,
        &profile,
        "dataset:000000000000000000000000",
        "dataset 000000000000000000000000 (used by Contacts) does not exist in sandbox prod",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schema_id_that_does_not_exist() {
    let h = Harness::start().await;
    let profile = edited(
        &h,
        "dataset = { create = true, name = \"Zoho Deals\" }",
        "dataset = { create = true, name = \"Zoho Deals\" }\nschema_id = \"https://ns.adobe.com/acme/schemas/zoho_crn\"",
    );
    refused(
        &h,
        &profile,
        "schema:https://ns.adobe.com/acme/schemas/zoho_crn",
        "(used by Deals) is not in the tenant container of sandbox prod",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_typo_on_the_first_run() {
    let h = Harness::start().await;
    let profile = edited(&h, "module  = \"Contacts\"", "module  = \"Contacs\"");
    refused(
        &h,
        &profile,
        "module:Contacs",
        "Zoho's CRM API lists no module `Contacs` (did you mean `Contacts`?)",
    )
    .await;
    // Not even the base connection was created.
    assert!(h.objects("connections").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delta_column_that_is_not_a_date_time() {
    // Applied first, so the columns come from explore through the base connection.
    let h = Harness::start().await;
    let good = h.profile("profile.toml", THREE_MODULES);
    h.provision("apply", &good, &["--yes"]).await.assert_exit(0);
    let profile = edited(
        &h,
        "dataset = { create = true, name = \"Zoho Leads\" }",
        "dataset = { create = true, name = \"Zoho Leads\" }\ndelta_column = \"Phone\"",
    );
    refused(
        &h,
        &profile,
        "columns:Leads",
        "delta_column \"Phone\" is not a date-time column (explore lists it as text)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_destination_that_is_not_in_the_schema() {
    let h = Harness::start().await;
    let profile = edited(
        &h,
        "{ source = \"Email\",      destination = \"personalEmail.address\" }",
        "{ source = \"Email\",      destination = \"personalEmail.adress\" }",
    );
    refused(
        &h,
        &profile,
        "destinations:Leads",
        "destination `personalEmail.adress` (from `Email`) is not a field of the schema (did you \
         mean `personalEmail.address`?)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_mapping_with_columns_the_schema_has_no_field_for() {
    let h = Harness::start().await;
    let profile = edited(
        &h,
        "mapping = \"auto\"",
        "mapping = \"auto\"\nmapping_prefix = \"_acme.crm\"",
    );
    refused(
        &h,
        &profile,
        "destinations:Deals",
        "mapping = \"auto\": the schema has no `_acme.crm.C` field for 12 of 12 columns",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mapping_source_typo_fails_check_too() {
    let h = Harness::start().await;
    let profile = edited(&h, "{ source = \"First_Name\"", "{ source = \"FirstName\"");
    refused(
        &h,
        &profile,
        "columns:Leads",
        "Zoho's CRM API does not list mapping source \"FirstName\" (did you mean \"First_Name\"?)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_unmapped_skip_ingests_the_columns_without_mapping_them() {
    let h = Harness::start().await;
    // Only `_acme.zoho.C` fields exist: under `person`, no Deals column has a field.
    let profile = edited(
        &h,
        "mapping = \"auto\"",
        "mapping = \"auto\"\nmapping_prefix = \"person.name\"\nauto_unmapped = \"skip\"",
    );
    let plan = h.provision("plan", &profile, &[]).await;
    plan.assert_exit(0);
    let check = h.provision("check", &profile, &["--output", "json"]).await;
    let doc = check.json();
    let deals = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "destinations:Deals")
        .unwrap()
        .clone();
    assert_eq!(deals["status"], "ok", "{deals:#}");
    assert!(
        deals["detail"]
            .as_str()
            .unwrap()
            .contains("12 columns unmapped (auto_unmapped = \"skip\")"),
        "{deals:#}"
    );
}

/// The emulator's Data Prep refuses what the live service refuses: a mapping set whose destination
/// is not a field of the output schema (docs/emulator.md).
#[tokio::test]
async fn data_prep_refuses_a_destination_that_is_not_in_the_schema() {
    let env = support::Env::start().await;
    let mut body = support::mapping_body(&["Email", "First_Name"]);
    body["mappings"][1]["destination"] = serde_json::json!("person.name.firstNam");
    let path = format!("{}/mappingSets", support::PREP);
    let refused = env.post(&path, &body).await;
    assert_eq!(refused.code(), 400, "{}", refused.body);
    assert_eq!(refused.error_type(), "MAPPER-1402-400", "{}", refused.body);
    let message = refused.body["report"]["detailed-message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("mappings[1].destination 'person.name.firstNam' is not a field"),
        "{message}"
    );
    assert!(env.emulator.mapping_sets("prod").is_empty());

    body["mappings"][1]["destination"] = serde_json::json!("person.name.firstName");
    assert_eq!(env.post(&path, &body).await.code(), 200);
}
