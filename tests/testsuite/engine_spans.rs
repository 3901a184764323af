//! Concurrent module chains log under a span naming their module, so that interleaved `-v`
//! lines of `apply` and `destroy` can be told apart.

use crate::support;

use support::cli::{Harness, THREE_MODULES};

/// The modules named by the `module{module=...}` span of the stderr lines mentioning `path`.
fn modules_logging(stderr: &str, method: &str, path: &str) -> Vec<String> {
    let mut modules: Vec<String> = stderr
        .lines()
        .filter(|l| l.contains(&format!("{method} {path} ")))
        .filter_map(|l| {
            let rest = l.split("module{module=").nth(1)?;
            Some(rest.split('}').next()?.to_owned())
        })
        .collect();
    modules.sort();
    modules.dedup();
    modules
}

#[tokio::test(flavor = "multi_thread")]
async fn every_module_chain_of_apply_and_destroy_logs_under_its_module() {
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    let profile = profile.to_str().unwrap();

    let apply = h.run(&["-v", "apply", profile, "--yes"]).await;
    apply.assert_exit(0);
    let fs = "/data/foundation/flowservice";
    for path in ["sourceConnections", "targetConnections", "flows"] {
        assert_eq!(
            modules_logging(&apply.stderr, "POST", &format!("{fs}/{path}")),
            ["Contacts", "Deals", "Leads"],
            "POST {path}\n{}",
            apply.stderr
        );
    }

    let destroy = h.run(&["-v", "destroy", profile, "--yes"]).await;
    destroy.assert_exit(0);
    let deletes: Vec<&str> = destroy
        .stderr
        .lines()
        .filter(|l| l.contains(&format!("DELETE {fs}/flows/")))
        .collect();
    assert_eq!(deletes.len(), 3, "{}", destroy.stderr);
    for module in ["Contacts", "Deals", "Leads"] {
        assert_eq!(
            deletes
                .iter()
                .filter(|l| l.contains(&format!("delete{{module={module} kind=dataflow}}")))
                .count(),
            1,
            "{module}\n{}",
            destroy.stderr
        );
    }
}
