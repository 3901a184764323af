//! Whatever text, bytes or environment the profile loader is given, it returns a profile or a
//! `ProfileError`; it never panics. Case counts are bounded so this runs in seconds in CI.

use std::path::Path;

use proptest::prelude::*;
use provision::profile::{self, Env, Frequency};

const VALID: &str = include_str!("../../profiles/local.toml");

fn env() -> Env {
    [
        ("AEP_CLIENT_SECRET", "a"),
        ("ZOHO_CLIENT_SECRET", "b"),
        ("ZOHO_REFRESH_TOKEN", "c"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Lines built from the profile's own vocabulary, so that generated documents get past the TOML
/// parser and exercise the schema walk and the value checks.
fn line() -> impl Strategy<Value = String> {
    let sections = prop_oneof![
        Just("[adobe]"),
        Just("[zoho]"),
        Just("[connection]"),
        Just("[defaults]"),
        Just("[defaults.schedule]"),
        Just("[[dataflows]]"),
        Just("[dataflows.dataset]"),
        Just("[[dataflows.mapping]]"),
        Just("[bogus]"),
    ]
    .prop_map(str::to_owned);
    let keys = prop_oneof![
        Just("org_id"),
        Just("sandbox"),
        Just("client_id"),
        Just("client_secret"),
        Just("scopes"),
        Just("ims_url"),
        Just("platform_url"),
        Just("region"),
        Just("refresh_token"),
        Just("accounts_url"),
        Just("api_url"),
        Just("name"),
        Just("description"),
        Just("schema_id"),
        Just("mapping_prefix"),
        Just("delta_column"),
        Just("schedule"),
        Just("module"),
        Just("dataset"),
        Just("mapping"),
        Just("frequency"),
        Just("interval"),
        Just("start"),
        Just("backfill"),
        Just("create"),
        Just("id"),
        Just("source"),
        Just("destination"),
        Just("adobe"),
        Just("dataflows"),
        Just("x.y"),
    ];
    let values = prop_oneof![
        Just("\"prod\"".to_owned()),
        Just("\"${AEP_CLIENT_SECRET}\"".to_owned()),
        Just("\"${NOPE}\"".to_owned()),
        Just("\"${\"".to_owned()),
        Just("\"http://127.0.0.1:1\"".to_owned()),
        Just("\"http://example.com\"".to_owned()),
        Just("\"https://example.com/a?b#c\"".to_owned()),
        Just("\"auto\"".to_owned()),
        Just("\"minute\"".to_owned()),
        Just("\"once\"".to_owned()),
        Just("\"2026-12-01T00:00:00Z\"".to_owned()),
        Just("2026-12-01T00:00:00".to_owned()),
        Just("[]".to_owned()),
        Just("[1, \"a\"]".to_owned()),
        Just("{ create = true, name = \"n\" }".to_owned()),
        Just("{ id = \"x\", create = false }".to_owned()),
        Just(
            "{ frequency = \"minute\", interval = 5, start = \"2026-12-01T00:00:00Z\" }".to_owned()
        ),
        Just("[{ source = \"a\", destination = \"b\" }, { source = \"\" }]".to_owned()),
        Just("true".to_owned()),
        Just("1.5".to_owned()),
        Just("99999999999999999999".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[a-z$,{}. ]{0,12}".prop_map(|s| format!("{s:?}")),
    ];
    prop_oneof![
        1 => sections,
        4 => (keys, values).prop_map(|(k, v)| format!("{k} = {v}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = profile::parse(&text, Path::new("p.toml"), &env());
    }

    #[test]
    fn edited_valid_profiles_never_panic(
        cut in 0..VALID.len(),
        len in 0usize..40,
        insert in "[\\[\\]{}=\"'$,.a-z0-9 \n]{0,8}",
    ) {
        let mut text = VALID.to_owned();
        let mut start = cut;
        while !text.is_char_boundary(start) { start -= 1; }
        let mut end = (start + len).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        text.replace_range(start..end, &insert);
        let _ = profile::parse(&text, Path::new("p.toml"), &env());
    }

    #[test]
    fn documents_from_the_vocabulary_never_panic_and_only_valid_schedules_pass(
        lines in prop::collection::vec(line(), 0..30),
    ) {
        let text = lines.join("\n");
        if let Ok(p) = profile::parse(&text, Path::new("p.toml"), &env()) {
            for flow in &p.dataflows {
                let s = &flow.schedule;
                match s.frequency {
                    Frequency::Once => prop_assert!(s.interval.is_none() && s.backfill.is_none()),
                    Frequency::Minute => prop_assert!(s.interval.unwrap_or(0) >= 15),
                    _ => prop_assert!(s.interval.unwrap_or(0) >= 1),
                }
            }
            for url in [&p.adobe.ims_url, &p.adobe.platform_url, &p.zoho.accounts_url, &p.zoho.api_url] {
                prop_assert!(url.scheme() == "https" || profile::is_loopback(url), "{url}");
            }
        }
    }

    #[test]
    fn schedules_that_load_obey_the_flow_spec(
        frequency in prop_oneof![Just("once"), Just("minute"), Just("hour"), Just("day"), Just("week"), Just("year")],
        interval in prop::option::of(-2i64..40),
        backfill in prop::option::of(any::<bool>()),
    ) {
        let interval = interval.map(|n| format!(", interval = {n}")).unwrap_or_default();
        let backfill = backfill.map(|b| format!(", backfill = {b}")).unwrap_or_default();
        let schedule = format!(
            "schedule = {{ frequency = \"{frequency}\"{interval}{backfill}, start = \"2026-01-01T00:00:00Z\" }}"
        );
        let text = VALID.replace(
            "schedule       = { frequency = \"hour\", interval = 1, start = \"2026-01-01T00:00:00Z\", backfill = true }",
            &schedule,
        );
        prop_assert!(text.contains(&schedule));
        match profile::parse(&text, Path::new("p.toml"), &env()) {
            Ok(p) => {
                let s = &p.dataflows[0].schedule;
                prop_assert_eq!(s.frequency.as_str(), frequency);
                match s.frequency {
                    Frequency::Once => prop_assert!(s.interval.is_none() && s.backfill.is_none()),
                    Frequency::Minute => prop_assert!(s.interval.unwrap_or(0) >= 15),
                    _ => prop_assert!(s.interval.unwrap_or(0) >= 1 && s.backfill.is_some()),
                }
            }
            Err(e) => prop_assert!(e.message.contains("defaults.schedule"), "{}", e.message),
        }
    }

    #[test]
    fn arbitrary_overrides_never_panic(
        vars in prop::collection::vec(("PROVISION_[A-Z_]{0,30}", ".{0,20}"), 0..6),
    ) {
        let mut env = env();
        env.extend(vars);
        let _ = profile::parse(VALID, Path::new("p.toml"), &env);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_in_a_file_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let path = dir.path().join("p.toml");
        std::fs::write(&path, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let _ = profile::load_with_env(Some(&path), &env());
    }
}
