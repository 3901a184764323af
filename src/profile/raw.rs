//! Step 3 of loading: the file and the valid environment overrides, layered by `config` and
//! deserialized into these structs. Every key here is a [`Field`](super::schema) of the schema.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProfile {
    #[serde(default)]
    pub(super) adobe: RawAdobe,
    #[serde(default)]
    pub(super) zoho: RawZoho,
    #[serde(default)]
    pub(super) connection: RawConnection,
    #[serde(default)]
    pub(super) defaults: RawDefaults,
    #[serde(default)]
    pub(super) dataflows: Vec<RawDataflow>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdobe {
    pub(super) org_id: Option<String>,
    pub(super) sandbox: Option<String>,
    pub(super) client_id: Option<String>,
    pub(super) client_secret: Option<SecretString>,
    #[serde(default, deserialize_with = "list_or_csv")]
    pub(super) scopes: Option<Vec<String>>,
    pub(super) ims_url: Option<String>,
    pub(super) platform_url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawZoho {
    pub(super) region: Option<String>,
    pub(super) client_id: Option<String>,
    pub(super) client_secret: Option<SecretString>,
    pub(super) refresh_token: Option<SecretString>,
    pub(super) accounts_url: Option<String>,
    pub(super) api_url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConnection {
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub(super) schema_id: Option<String>,
    pub(super) mapping_prefix: Option<String>,
    pub(super) delta_column: Option<String>,
    pub(super) schedule: Option<RawSchedule>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDataflow {
    pub(super) module: Option<String>,
    pub(super) dataset: Option<RawDataset>,
    pub(super) delta_column: Option<String>,
    pub(super) schema_id: Option<String>,
    pub(super) mapping_prefix: Option<String>,
    pub(super) mapping: Option<RawMapping>,
    pub(super) schedule: Option<RawSchedule>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDataset {
    pub(super) create: Option<bool>,
    pub(super) name: Option<String>,
    pub(super) id: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawMapping {
    Keyword(String),
    Rules(Vec<RawRule>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub(super) source: Option<String>,
    pub(super) destination: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    pub(super) frequency: Option<String>,
    pub(super) interval: Option<i64>,
    pub(super) start: Option<String>,
    pub(super) backfill: Option<bool>,
}

/// An array of strings from the file, or a comma-separated list from the environment.
pub(super) fn list_or_csv<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCsv {
        List(Vec<String>),
        Csv(String),
    }
    Ok(Option::<ListOrCsv>::deserialize(d)?.map(|v| match v {
        ListOrCsv::List(list) => list,
        ListOrCsv::Csv(csv) => csv.split(',').map(|s| s.trim().to_owned()).collect(),
    }))
}

/// File, then environment, through `config`.
pub(super) fn layer(
    text: &str,
    overrides: BTreeMap<String, String>,
) -> Result<RawProfile, config::ConfigError> {
    let source: config::Map<String, String> = overrides.into_iter().collect();
    config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix("PROVISION")
                .prefix_separator("_")
                .separator("__")
                .source(Some(source)),
        )
        .build()?
        .try_deserialize()
}
