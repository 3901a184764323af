//! Colour (`--color auto|always|never`, `NO_COLOR`): actions in the plan are coloured (+ create
//! green, ~ update yellow, -/+ replace magenta, - delete red), only on a terminal unless
//! `--color always`. Escapes are shown as `␛` in the snapshot.

use crate::support;

use support::cli::{one_change_of_each, Harness, THREE_MODULES};

const ESC: char = '\u{1b}';

#[tokio::test(flavor = "multi_thread")]
async fn the_plan_is_coloured_by_action_with_color_always_and_plain_otherwise() {
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    h.provision("apply", &profile, &["--yes", "-q"])
        .await
        .assert_exit(0);
    let changed = h.profile("changed.toml", &one_change_of_each());

    let coloured = h.provision("plan", &changed, &["--color", "always"]).await;
    coloured.assert_exit(0);
    let mut s = support::snapshot_settings();
    s.add_filter(
        &support::regex_escape(&h.dir.path().display().to_string()),
        "[dir]",
    );
    support::id_filters(&mut s);
    s.add_filter(r"\b[0-9a-f]{24}\b", "[dataset-id]");
    let shown = coloured.stdout.replace(ESC, "␛");
    s.bind(|| insta::assert_snapshot!("plan_changes_color", shown));

    // A pipe gets no escapes by default or with --color never; --color always wins over NO_COLOR.
    for args in [&[][..], &["--color", "never"][..]] {
        let plain = h.provision("plan", &changed, args).await;
        assert!(!plain.stdout.contains(ESC), "{args:?}: {}", plain.stdout);
        assert_eq!(
            plain.stdout,
            strip(&coloured.stdout),
            "the same text without colour"
        );
    }
    let forced = h
        .run_env(
            &["plan", changed.to_str().unwrap(), "--color", "always"],
            &[("NO_COLOR", "1")],
        )
        .await;
    assert_eq!(forced.stdout, coloured.stdout);
    let auto = h
        .run_env(&["plan", changed.to_str().unwrap()], &[("NO_COLOR", "1")])
        .await;
    assert!(!auto.stdout.contains(ESC));
}

/// The text without its SGR escapes (`ESC [ ... m`).
fn strip(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == ESC {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn log_lines_follow_color_too() {
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    let profile = profile.to_str().unwrap();
    let forced = h.run(&["plan", profile, "-v", "--color", "always"]).await;
    assert!(forced.stderr.contains(ESC), "{}", forced.stderr);
    for colour in ["auto", "never"] {
        let plain = h.run(&["plan", profile, "-v", "--color", colour]).await;
        assert!(!plain.stderr.contains(ESC), "{colour}: {}", plain.stderr);
        assert!(!plain.stderr.is_empty(), "-v logs something");
    }
}
