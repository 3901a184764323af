//! Killing `apply` at any point and running it again converges on the same objects as an
//! uninterrupted apply, with no duplicate: the platform is the only state.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use provision::emulator::{EmulatorConfig, Faults};
use serde_json::{json, Value};
use support::cli::{calls, flow_mapping, Harness, THREE_MODULES};

/// Every object in the sandbox, described without ids (which differ between runs) but with
/// its links, so that two runs can be compared and a duplicate shows up as an extra entry.
fn shape(h: &Harness) -> Value {
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
            .map(|s| {
                json!([
                    s["name"],
                    s["params"]["tableName"],
                    support::cli::column_names(s)
                ])
            })
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

/// Writes the platform carried out (answered 2xx).
fn done_writes(h: &Harness) -> usize {
    h.writes().iter().filter(|w| w.status < 300).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_killed_after_each_of_its_first_ten_writes_converges_without_duplicates() {
    let reference = Harness::start().await;
    let profile = reference.profile("profile.toml", THREE_MODULES);
    reference
        .provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    let expected = shape(&reference);
    let total = done_writes(&reference);
    assert_eq!(total, 15, "{:#?}", calls(&reference.writes()));

    for n in 1..=10 {
        // With one request in flight at a time and 60 ms before each answer, the run can be
        // stopped right after its n-th write, before the next one is carried out.
        let h = Harness::with(EmulatorConfig {
            faults: Faults {
                latency: Some(Duration::from_millis(60)),
                ..Faults::default()
            },
            ..EmulatorConfig::default()
        })
        .await;
        let profile = h.profile("profile.toml", THREE_MODULES);
        let path = profile.to_str().unwrap();
        let mut child = h.spawn(&["apply", path, "--yes", "--concurrency", "1"]);
        let started = Instant::now();
        loop {
            if done_writes(&h) >= n {
                child.kill().expect("the apply can be killed");
                break;
            }
            if let Some(status) = child.try_wait().expect("the apply's status") {
                panic!("the apply ended ({status}) before its write {n}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "write {n} never came"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let _ = child.wait();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let at_kill = done_writes(&h);
        assert!(
            (n..total).contains(&at_kill),
            "killed after write {n}, yet {at_kill} writes were made"
        );

        h.emulator().set_faults(Faults::default());
        let again = h.provision("apply", &profile, &["--yes"]).await;
        again.assert_exit(0);
        assert_eq!(
            shape(&h),
            expected,
            "killed after write {n}: the re-run did not converge on the uninterrupted result\n{}",
            again.stderr
        );
        h.provision("plan", &profile, &["--detailed-exitcode"])
            .await
            .assert_exit(0);
    }
}
