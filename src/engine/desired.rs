//! The desired state: what the profile asks AEP to hold, as plain values the plan compares with
//! what [`crate::engine::observe`] found. Pure: no I/O. Columns of a module come from explore, which
//! needs the base connection, so they are resolved separately ([`DesiredModule::resolve`]).

use std::collections::{BTreeMap, BTreeSet};

use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::api::explore::Column;
use crate::api::flows::ScheduleParams;
use crate::engine::naming;
use crate::engine::Kind;
use crate::profile::{DatasetTarget, Mapping, MappingRule, Profile, ZohoSettings};

/// Everything the profile manages.
#[derive(Debug, Clone)]
pub struct Desired {
    /// `connection.name`: the base connection's name and the prefix of every other name.
    pub prefix: String,
    pub base: DesiredBase,
    pub modules: Vec<DesiredModule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredBase {
    pub name: String,
    /// The user's `connection.description`.
    pub user_description: Option<String>,
    /// [`auth_fingerprint`] of the profile's Zoho settings.
    pub fingerprint: String,
    /// The full description: user text, marker and fingerprint.
    pub description: String,
}

/// One `[[dataflows]]` entry, with every name it manages.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredModule {
    /// The explore `path` of the Zoho module; also the source connection's `params.tableName`.
    pub module: String,
    pub source_name: String,
    pub target_name: String,
    pub flow_name: String,
    /// The per-module name of the mapping set (carried in its description tag).
    pub mapping_name: String,
    pub dataset: DatasetTarget,
    pub schema_id: String,
    pub delta_column: String,
    pub mapping: Mapping,
    pub schedule: ScheduleParams,
    /// Whether the dataflow should be enabled (`POST /flows/{id}/action?op=enable|disable`).
    pub enabled: bool,
    /// With `mapping = "auto"` and `auto_unmapped = "skip"`: the columns the target schema has no
    /// `{prefix}.C` field for, found by [`crate::validate`]; they are ingested but not mapped.
    pub unmapped: BTreeSet<String>,
}

/// The source columns and mapping rules of a module once explore has answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The explore column objects to ingest, in explore's order.
    pub columns: Vec<Column>,
    pub rules: Vec<Rule>,
}

impl Resolved {
    /// The names of the columns, as the source connection's attributes and diff compare them
    /// (planning, and apply once a new module is explored).
    pub fn column_names(&self) -> BTreeSet<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }
}

/// One mapping: a source column to an XDM path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    pub source: String,
    pub destination: String,
}

/// A profile the managed names cannot be built from (exit 78).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DesiredError(pub String);

/// A mapped column or delta column that explore does not list (a plan-time error, exit 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ColumnError(pub String);

/// The desired state of `profile`.
pub fn build(profile: &Profile) -> Result<Desired, DesiredError> {
    let prefix = profile.connection.name.trim().to_owned();
    let file = profile.path.display();
    if prefix.is_empty() {
        return Err(DesiredError(format!(
            "{file}: connection.name is empty; it names the base connection and prefixes every \
             managed resource"
        )));
    }
    // A comma separates values in Flow Service filters (docs/aep-api.md#filters): a name holding one
    // could not be looked up.
    if prefix.contains(',') {
        return Err(DesiredError(format!(
            "{file}: connection.name {prefix:?} contains a comma, which Flow Service filters read \
             as a list separator; choose a name without commas"
        )));
    }
    let mut modules = Vec::with_capacity(profile.dataflows.len());
    let mut seen_modules = BTreeSet::new();
    let mut dataset_names: BTreeMap<&str, &str> = BTreeMap::new();
    for flow in &profile.dataflows {
        let module = flow.module.trim();
        if module.is_empty() || module.contains(',') || module.contains(" / ") {
            return Err(DesiredError(format!(
                "{file}: dataflows module {module:?} cannot be used in resource names (it is empty \
                 or holds a comma or \" / \"); use the module's explore path, e.g. \"Leads\""
            )));
        }
        if !seen_modules.insert(module.to_owned()) {
            return Err(DesiredError(format!(
                "{file}: module {module:?} appears in two [[dataflows]] entries; keep one entry per \
                 module"
            )));
        }
        if let DatasetTarget::Create { name } = &flow.dataset {
            if let Some(other) = dataset_names.insert(name.as_str(), &flow.module) {
                return Err(DesiredError(format!(
                    "{file}: dataflows {other:?} and {module:?} both create a dataset named \
                     {name:?}; give each its own name, or point one at the other's dataset id"
                )));
            }
        }
        modules.push(DesiredModule {
            module: module.to_owned(),
            source_name: naming::object_name(&prefix, module, Kind::SourceConnection),
            target_name: naming::object_name(&prefix, module, Kind::TargetConnection),
            flow_name: naming::object_name(&prefix, module, Kind::Dataflow),
            mapping_name: naming::object_name(&prefix, module, Kind::MappingSet),
            dataset: flow.dataset.clone(),
            schema_id: flow.schema_id.clone(),
            delta_column: flow.delta_column.clone(),
            mapping: flow.mapping.clone(),
            schedule: ScheduleParams::from(&flow.schedule),
            enabled: flow.enabled,
            unmapped: BTreeSet::new(),
        });
    }
    let fingerprint = auth_fingerprint(&profile.zoho);
    let user_description = profile
        .connection
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let description = crate::engine::kinds::base::description_with_auth(
        user_description.as_deref(),
        &prefix,
        &fingerprint,
    );
    Ok(Desired {
        base: DesiredBase {
            name: prefix.clone(),
            user_description,
            fingerprint,
            description,
        },
        prefix,
        modules,
    })
}

/// A short, one-way fingerprint (12 hex characters of SHA-256) of the Zoho settings a base
/// connection is built from. Zoho secrets cannot be read back from AEP; comparing fingerprints
/// tells whether the profile's credentials changed since the connection was written.
pub fn auth_fingerprint(zoho: &ZohoSettings) -> String {
    let mut hash = Sha256::new();
    for part in [
        "provision zoho auth v1",
        zoho.accounts_url.as_str(),
        zoho.api_url.as_str(),
        zoho.client_id.as_str(),
        zoho.client_secret.expose_secret(),
        zoho.refresh_token.expose_secret(),
    ] {
        // Length-prefixed, so that moving characters between fields changes the hash.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Desired {
    pub fn module(&self, module: &str) -> Option<&DesiredModule> {
        self.modules.iter().find(|m| m.module == module)
    }
}

impl DesiredModule {
    /// The name of the dataset provision creates for this module; `None` for an existing one.
    pub fn created_dataset(&self) -> Option<&str> {
        match &self.dataset {
            DatasetTarget::Create { name } => Some(name),
            DatasetTarget::Existing { .. } => None,
        }
    }
}

impl DesiredModule {
    /// The column names the source connection must carry, when known without explore.
    pub fn column_names(&self) -> Option<BTreeSet<String>> {
        match &self.mapping {
            Mapping::Auto { .. } => None,
            Mapping::Explicit(rules) => Some(
                rules
                    .iter()
                    .map(|r| r.source.clone())
                    .chain(std::iter::once(self.delta_column.clone()))
                    .collect(),
            ),
        }
    }

    /// The mapping rules, sorted, when known without explore.
    pub fn rules(&self) -> Option<Vec<Rule>> {
        match &self.mapping {
            Mapping::Auto { .. } => None,
            Mapping::Explicit(rules) => {
                let mut out: Vec<Rule> = rules
                    .iter()
                    .map(|r| Rule {
                        source: r.source.clone(),
                        destination: r.destination.clone(),
                    })
                    .collect();
                out.sort();
                out.dedup();
                Some(out)
            }
        }
    }

    /// The columns to ingest and the mapping rules, given what explore lists for the module.
    /// A mapped column or delta column explore does not list is an error naming the module and
    /// the column, with the nearest listed column suggested.
    pub fn resolve(&self, explored: &[Column]) -> Result<Resolved, ColumnError> {
        let listed: BTreeSet<&str> = explored.iter().map(|c| c.name.as_str()).collect();
        let wanted: BTreeSet<String> = match &self.mapping {
            Mapping::Auto { .. } => listed.iter().map(|s| s.to_string()).collect(),
            Mapping::Explicit(_) => self.column_names().unwrap_or_default(),
        };
        let missing = missing_columns(&self.delta_column, &self.mapping, &listed);
        if !missing.is_empty() {
            return Err(ColumnError(format!(
                "module {:?}: explore does not list {}; fix the profile (see `provision explore {}` \
                 for its columns)",
                self.module,
                missing.join(", "),
                self.module
            )));
        }
        let columns: Vec<Column> = explored
            .iter()
            .filter(|c| wanted.contains(&c.name))
            .cloned()
            .collect();
        let rules = match &self.mapping {
            Mapping::Auto { prefix, .. } => {
                let mut rules: Vec<Rule> = columns
                    .iter()
                    .filter(|c| !self.unmapped.contains(&c.name))
                    .map(|c| Rule {
                        source: c.name.clone(),
                        destination: format!("{prefix}.{}", c.name),
                    })
                    .collect();
                rules.sort();
                rules.dedup();
                rules
            }
            Mapping::Explicit(_) => self.rules().unwrap_or_default(),
        };
        Ok(Resolved { columns, rules })
    }
}

/// The delta column and the mapping sources that a module's `listed` column names lack, each
/// as `delta_column "X"` or `mapping source "Y"` with the nearest listed column suggested
/// ([`did_you_mean`]). A name is reported once, in the first role it has (the delta column comes
/// before the mapping sources): one missing column is one thing to fix, however often it is used.
pub fn missing_columns(
    delta_column: &str,
    mapping: &Mapping,
    listed: &BTreeSet<&str>,
) -> Vec<String> {
    let sources: &[MappingRule] = match mapping {
        Mapping::Auto { .. } => &[],
        Mapping::Explicit(rules) => rules,
    };
    let mut reported = BTreeSet::new();
    std::iter::once(("delta_column", delta_column))
        .chain(
            sources
                .iter()
                .map(|r| ("mapping source", r.source.as_str())),
        )
        .filter(|(_, name)| !listed.contains(name) && reported.insert(*name))
        .map(|(role, name)| {
            format!(
                "{role} {name:?}{}",
                did_you_mean(name, listed.iter().copied())
            )
        })
        .collect()
}

/// `" (did you mean \"X\"?)"` for the candidate nearest to `name` ([`nearest`]), when one is
/// close enough; else nothing.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(name, candidates)
        .map(|c| format!(" (did you mean {c:?}?)"))
        .unwrap_or_default()
}

/// The candidate most like `name` (case-insensitive Jaro-Winkler), when it is close enough to be
/// a likely typo.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::profile::{
        AdobeSettings, ConnectionSettings, Dataflow, Frequency, MappingRule, Schedule,
    };
    use chrono::{TimeZone, Utc};
    use secrecy::SecretString;
    use serde_json::json;
    use url::Url;

    pub fn profile(dataflows: Vec<Dataflow>) -> Profile {
        let url = Url::parse("http://127.0.0.1:8080").unwrap();
        Profile {
            path: "profiles/test.toml".into(),
            adobe: AdobeSettings {
                org_id: "0000000000000000000000AA@AdobeOrg".into(),
                sandbox: "prod".into(),
                client_id: "provision-local".into(),
                client_secret: SecretString::from("local-adobe-secret"),
                scopes: vec!["openid".into()],
                ims_url: url.clone(),
                platform_url: url.clone(),
            },
            zoho: ZohoSettings {
                region: None,
                client_id: "1000.LOCALCLIENT".into(),
                client_secret: SecretString::from("local-zoho-secret"),
                refresh_token: SecretString::from("1000.local.refresh"),
                accounts_url: url.clone(),
                api_url: url,
            },
            connection: ConnectionSettings {
                name: "p".into(),
                description: Some("Zoho CRM".into()),
            },
            dataflows,
        }
    }

    pub fn dataflow(module: &str, mapping: &[(&str, &str)]) -> Dataflow {
        Dataflow {
            module: module.into(),
            dataset: DatasetTarget::Create {
                name: format!("Zoho {module}"),
            },
            delta_column: "Modified_Time".into(),
            schema_id: "https://ns.adobe.com/acme/schemas/zoho_crm".into(),
            mapping: Mapping::Explicit(
                mapping
                    .iter()
                    .map(|(s, d)| MappingRule {
                        source: s.to_string(),
                        destination: d.to_string(),
                    })
                    .collect(),
            ),
            schedule: Schedule {
                frequency: Frequency::Hour,
                interval: Some(1),
                start: Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
                backfill: Some(true),
            },
            enabled: true,
        }
    }

    pub fn columns(names: &[&str]) -> Vec<Column> {
        names
            .iter()
            .map(|n| {
                serde_json::from_value(
                    json!({"name": n, "type": "string", "xdm": {"type": "string"}}),
                )
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn names_follow_the_prefix_and_module() {
        let d = build(&profile(vec![dataflow("Leads", &[("Email", "e")])])).unwrap();
        let m = &d.modules[0];
        assert_eq!(m.source_name, "p / Leads / source");
        assert_eq!(m.flow_name, "p / Leads / flow");
        assert_eq!(d.base.name, "p");
        assert!(d
            .base
            .description
            .starts_with("Zoho CRM (managed by provision: p; auth "));
        assert_eq!(
            m.column_names().unwrap().into_iter().collect::<Vec<_>>(),
            ["Email", "Modified_Time"]
        );
    }

    #[test]
    fn the_fingerprint_changes_with_any_credential_and_hides_them() {
        let p = profile(vec![]);
        let a = auth_fingerprint(&p.zoho);
        assert_eq!(a.len(), 12);
        assert_eq!(a, auth_fingerprint(&p.zoho));
        let mut rotated = p.zoho.clone();
        rotated.refresh_token = SecretString::from("1000.local.refresh2");
        assert_ne!(a, auth_fingerprint(&rotated));
        let mut other = p.zoho.clone();
        other.client_secret = SecretString::from("other");
        assert_ne!(a, auth_fingerprint(&other));
        assert!(!a.contains("local"));
    }

    #[test]
    fn duplicate_modules_and_shared_dataset_names_are_refused() {
        let err = build(&profile(vec![
            dataflow("Leads", &[]),
            dataflow("Leads", &[]),
        ]))
        .unwrap_err();
        assert!(err.0.contains("\"Leads\" appears in two"), "{err}");
        let mut b = dataflow("Contacts", &[]);
        b.dataset = DatasetTarget::Create {
            name: "Zoho Leads".into(),
        };
        let err = build(&profile(vec![dataflow("Leads", &[]), b])).unwrap_err();
        assert!(
            err.0.contains("both create a dataset named \"Zoho Leads\""),
            "{err}"
        );
        let mut p = profile(vec![]);
        p.connection.name = "a,b".into();
        assert!(build(&p).unwrap_err().0.contains("comma"));
    }

    #[test]
    fn explicit_columns_resolve_in_explore_order_and_unknown_ones_get_a_suggestion() {
        let d = build(&profile(vec![dataflow(
            "Leads",
            &[
                ("Email", "personalEmail.address"),
                ("First_Name", "person.name.firstName"),
            ],
        )]))
        .unwrap();
        let m = &d.modules[0];
        let explored = columns(&["id", "First_Name", "Email", "Phone", "Modified_Time"]);
        let resolved = m.resolve(&explored).unwrap();
        let names: Vec<&str> = resolved.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["First_Name", "Email", "Modified_Time"]);
        assert_eq!(resolved.rules.len(), 2);

        let err = m
            .resolve(&columns(&["First_Name", "E_mail", "Modified_Time"]))
            .unwrap_err();
        assert_eq!(
            err.0,
            "module \"Leads\": explore does not list mapping source \"Email\" (did you mean \
             \"E_mail\"?); fix the profile (see `provision explore Leads` for its columns)"
        );
        let err = m
            .resolve(&columns(&["First_Name", "Email", "Modified_Tme"]))
            .unwrap_err();
        assert!(
            err.0
                .contains("delta_column \"Modified_Time\" (did you mean \"Modified_Tme\"?)"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_column_is_named_once_whatever_other_names_contain() {
        let d = build(&profile(vec![dataflow(
            "Leads",
            &[
                ("Modified_Time", "a"),
                ("Email", "b"),
                ("Email", "c"),
                ("Nick\"Name", "d"),
                ("Name", "e"),
            ],
        )]))
        .unwrap();
        let err = d.modules[0].resolve(&columns(&["id"])).unwrap_err();
        // The delta column is also mapped and Email twice: each is one column to fix. "Name" is
        // missing too, although the text of "Nick\"Name" holds it in quotes.
        assert_eq!(
            err.0,
            "module \"Leads\": explore does not list delta_column \"Modified_Time\", mapping \
             source \"Email\", mapping source \"Nick\\\"Name\", mapping source \"Name\"; fix \
             the profile (see `provision explore Leads` for its columns)"
        );
    }

    #[test]
    fn auto_mapping_takes_every_explored_column() {
        let mut flow = dataflow("Deals", &[]);
        flow.mapping = Mapping::Auto {
            prefix: "_acme.zoho".into(),
            skip_unmapped: false,
        };
        let d = build(&profile(vec![flow])).unwrap();
        let m = &d.modules[0];
        assert!(m.column_names().is_none() && m.rules().is_none());
        let resolved = m.resolve(&columns(&["Amount", "Modified_Time"])).unwrap();
        assert_eq!(resolved.columns.len(), 2);
        assert_eq!(
            resolved.rules,
            vec![
                Rule {
                    source: "Amount".into(),
                    destination: "_acme.zoho.Amount".into()
                },
                Rule {
                    source: "Modified_Time".into(),
                    destination: "_acme.zoho.Modified_Time".into()
                },
            ]
        );
    }
}
