//! Step 4 of loading: `${VAR}` interpolation, defaults and every value check (URLs, region,
//! schedule rules, ...), turning the layered values ([`Node`]) into the public, typed [`Profile`].

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::raw::{Node, RawMapping};
use super::regions::ZohoRegion;
use super::report::{At, Report, Sites};
use super::types::*;
use super::walk::ENV_PREFIX;

pub(super) struct Resolve<'a> {
    pub(super) env: &'a Env,
    pub(super) sites: &'a Sites,
    pub(super) report: Report<'a>,
}

impl Resolve<'_> {
    pub(super) fn problem(&mut self, key: &str, message: impl Into<String>) {
        let at = self.sites.at(key);
        self.report.add(key, at, message);
    }

    /// Expands `${VAR}` (and `$$` to `$`); `None` after reporting a problem.
    pub(super) fn expand(&mut self, key: &str, value: &str, secret: bool) -> Option<String> {
        self.expand_noting_blank(key, value, secret)
            .map(|(out, _)| out)
    }

    /// [`Self::expand`], and the first `${NAME}` it replaced with a blank value (for [`Self::empty`]).
    fn expand_noting_blank(
        &mut self,
        key: &str,
        value: &str,
        secret: bool,
    ) -> Option<(String, Option<String>)> {
        let mut out = String::with_capacity(value.len());
        let mut blank = None;
        let mut rest = value;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if let Some(body) = after.strip_prefix('{') {
                let Some(end) = body.find('}') else {
                    self.problem(
                        key,
                        "unterminated `${`: write ${NAME}, or $$ for a literal $",
                    );
                    return None;
                };
                let name = &body[..end];
                let valid = !name.is_empty()
                    && !name.starts_with(|c: char| c.is_ascii_digit())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    let shown = if secret { "" } else { name };
                    self.problem(
                        key,
                        format!(
                            "`${{{shown}}}` is not a valid variable reference; names are letters, \
                             digits and _ (write $$ for a literal $)"
                        ),
                    );
                    return None;
                }
                match self.env.get(name) {
                    Some(v) => {
                        if blank.is_none() && v.trim().is_empty() {
                            blank = Some(name.to_owned());
                        }
                        out.push_str(v);
                    }
                    None => {
                        self.problem(
                            key,
                            format!(
                                "environment variable {name} is not set; export {name}=... \
                                 before running provision"
                            ),
                        );
                        return None;
                    }
                }
                rest = &body[end + 1..];
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
        Some((out, blank))
    }

    /// An optional string, interpolated.
    pub(super) fn text(&mut self, key: &str, value: Option<String>) -> Option<String> {
        let value = value?;
        self.expand(key, &value, false)
    }

    /// A required, non-empty string, interpolated.
    pub(super) fn required(
        &mut self,
        key: &str,
        value: Option<String>,
        hint: &str,
    ) -> Option<String> {
        match value {
            None => {
                self.problem(key, format!("missing; {hint}"));
                None
            }
            Some(raw) => {
                let (v, blank) = self.expand_noting_blank(key, &raw, false)?;
                if v.trim().is_empty() {
                    let message = self.empty(key, blank, format!("must not be empty; {hint}"));
                    self.problem(key, message);
                    return None;
                }
                Some(v)
            }
        }
    }

    pub(super) fn secret(
        &mut self,
        key: &str,
        value: Option<SecretString>,
        var: &str,
    ) -> Option<SecretString> {
        let hint = format!(
            "set it to \"${{{var}}}\" and export {var}, or set {ENV_PREFIX}{}",
            key.replace('.', "__").to_ascii_uppercase()
        );
        let Some(value) = value else {
            self.problem(key, format!("missing; {hint}"));
            return None;
        };
        let (expanded, blank) = self.expand_noting_blank(key, value.expose_secret(), true)?;
        if expanded.trim().is_empty() {
            let message = self.empty(key, blank, format!("is empty; {hint}"));
            self.problem(key, message);
            return None;
        }
        Some(SecretString::from(expanded))
    }

    /// Why `key` came out empty: a `${NAME}` (`blank`, as [`Self::expand_noting_blank`] found it)
    /// or `PROVISION_…` variable that is set but empty is named as such; otherwise `otherwise`
    /// (the value itself is empty).
    fn empty(&self, key: &str, blank: Option<String>, otherwise: String) -> String {
        if let Some(name) = blank {
            return empty_variable(&name, key);
        }
        match self.sites.at(key) {
            At::Env(var) => empty_variable(&var, key),
            _ => otherwise,
        }
    }

    pub(super) fn url(
        &mut self,
        key: &str,
        value: Option<String>,
        default: Option<&str>,
    ) -> Option<Url> {
        let value = match value {
            Some(v) => self.expand(key, &v, false)?,
            None => default?.to_owned(),
        };
        match check_url(&value) {
            Ok(url) => Some(url),
            Err(message) => {
                self.problem(key, message);
                None
            }
        }
    }

    pub(super) fn profile(&mut self, raw: Node, path: &Path) -> Option<Profile> {
        let adobe = self.adobe(raw.section("adobe"));
        let zoho = self.zoho(raw.section("zoho"));
        let connection = self.connection(raw.section("connection"));
        let defaults = self.defaults(raw.section("defaults"));
        let dataflows = self.dataflows(raw.tables("dataflows"), &defaults);
        Some(Profile {
            path: path.to_owned(),
            adobe: adobe?,
            zoho: zoho?,
            connection: connection?,
            dataflows: dataflows?,
        })
    }

    pub(super) fn adobe(&mut self, raw: Node) -> Option<AdobeSettings> {
        let org_id = self.required(
            "adobe.org_id",
            raw.str("org_id"),
            "copy the Organization ID (…@AdobeOrg) from the Adobe Developer Console project",
        );
        let org_id = org_id.and_then(|org| {
            if org.ends_with("@AdobeOrg") && !org.contains(char::is_whitespace) {
                Some(org)
            } else {
                self.problem(
                    "adobe.org_id",
                    format!(
                        "`{org}` is not an IMS organization id; it looks like \
                         5C1328435BF324E90A49402A@AdobeOrg (Developer Console → project → credential)"
                    ),
                );
                None
            }
        });
        let sandbox = self
            .required(
                "adobe.sandbox",
                raw.str("sandbox"),
                "name the sandbox, e.g. \"prod\"",
            )
            .and_then(|s| {
                let ok = s
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                if ok {
                    Some(s)
                } else {
                    self.problem(
                        "adobe.sandbox",
                        format!(
                            "`{s}` is not a sandbox name; sandbox names are lower case letters, \
                             digits and hyphens (e.g. \"prod\")"
                        ),
                    );
                    None
                }
            });
        let client_id = self.required(
            "adobe.client_id",
            raw.str("client_id"),
            "copy the OAuth Server-to-Server client id from the Developer Console",
        );
        let client_secret = self.secret(
            "adobe.client_secret",
            raw.secret("client_secret"),
            "AEP_CLIENT_SECRET",
        );
        let scopes = match raw.list("scopes") {
            None => Some(DEFAULT_SCOPES.map(str::to_owned).to_vec()),
            Some(scopes) => self.scopes(scopes),
        };
        let ims_url = self.url("adobe.ims_url", raw.str("ims_url"), Some(DEFAULT_IMS_URL));
        let platform_url = self.url(
            "adobe.platform_url",
            raw.str("platform_url"),
            Some(DEFAULT_PLATFORM_URL),
        );
        Some(AdobeSettings {
            org_id: org_id?,
            sandbox: sandbox?,
            client_id: client_id?,
            client_secret: client_secret?,
            scopes: scopes?,
            ims_url: ims_url?,
            platform_url: platform_url?,
        })
    }

    pub(super) fn scopes(&mut self, scopes: Vec<String>) -> Option<Vec<String>> {
        let mut out = Vec::with_capacity(scopes.len());
        for (i, scope) in scopes.into_iter().enumerate() {
            let key = format!("adobe.scopes[{i}]");
            let scope = self.expand("adobe.scopes", &scope, false)?;
            if scope.is_empty() || scope.contains([',', ' ']) {
                self.problem(
                    &key,
                    format!("`{scope}` is not a scope; give one scope per string"),
                );
                return None;
            }
            out.push(scope);
        }
        if out.is_empty() {
            self.problem(
                "adobe.scopes",
                "must list at least one scope; remove the key to use the AEP defaults",
            );
            return None;
        }
        Some(out)
    }

    pub(super) fn zoho(&mut self, raw: Node) -> Option<ZohoSettings> {
        let (region, accounts_url, api_url) = self.zoho_endpoints(
            raw.str("region"),
            raw.str("accounts_url"),
            raw.str("api_url"),
            true,
        );
        let client_id = self.required(
            "zoho.client_id",
            raw.str("client_id"),
            "copy the client id (1000.…) from the Zoho API console",
        );
        let client_secret = self.secret(
            "zoho.client_secret",
            raw.secret("client_secret"),
            "ZOHO_CLIENT_SECRET",
        );
        let refresh_token = self.secret(
            "zoho.refresh_token",
            raw.secret("refresh_token"),
            "ZOHO_REFRESH_TOKEN",
        );
        Some(ZohoSettings {
            region,
            client_id: client_id?,
            client_secret: client_secret?,
            refresh_token: refresh_token?,
            accounts_url: accounts_url?,
            api_url: api_url?,
        })
    }

    /// `[zoho]` without the refresh token, for `zoho token` (see [`ZohoClientNeeds`]).
    pub(super) fn zoho_client(
        &mut self,
        raw: Node,
        needs: ZohoClientNeeds,
        path: &Path,
    ) -> Option<ZohoClientSettings> {
        let given = raw.str("region").is_some()
            || raw.str("accounts_url").is_some()
            || raw.str("api_url").is_some();
        let (region, accounts_url, api_url) = if given || needs.data_centre {
            self.zoho_endpoints(
                raw.str("region"),
                raw.str("accounts_url"),
                raw.str("api_url"),
                needs.data_centre,
            )
        } else {
            (None, None, None)
        };
        let client_id = (raw.str("client_id").is_some() || needs.client_id).then(|| {
            self.required(
                "zoho.client_id",
                raw.str("client_id"),
                "copy the client id (1000.…) from the Zoho API console, or pass --client-id",
            )
        });
        let client_secret = needs.client_secret.then(|| {
            self.secret(
                "zoho.client_secret",
                raw.secret("client_secret"),
                "ZOHO_CLIENT_SECRET",
            )
        });
        // Every problem is already reported; `None` only stops the value from being used.
        let client_id = client_id.map(|v| v.ok_or(())).transpose().ok()?;
        let client_secret = client_secret.map(|v| v.ok_or(())).transpose().ok()?;
        Some(ZohoClientSettings {
            path: path.to_owned(),
            region,
            client_id,
            client_secret,
            accounts_url,
            api_url,
        })
    }

    /// The data centre: `region`, `accounts_url` and `api_url`, each defaulting from the others.
    /// A missing data centre is a problem only when `required`.
    pub(super) fn zoho_endpoints(
        &mut self,
        region: Option<String>,
        accounts_url: Option<String>,
        api_url: Option<String>,
        required: bool,
    ) -> (Option<ZohoRegion>, Option<Url>, Option<Url>) {
        let region = match self.text("zoho.region", region) {
            None => None,
            Some(name) => match ZohoRegion::parse(&name) {
                Some(region) => Some(Some(region)),
                None => {
                    self.problem(
                        "zoho.region",
                        format!(
                            "unknown Zoho data centre `{name}`; valid regions are {} \
                             (or set accounts_url and api_url)",
                            ZohoRegion::list()
                        ),
                    );
                    Some(None)
                }
            },
        };
        let bad_region = matches!(region, Some(None));
        let region = region.flatten();
        let explicit_accounts = accounts_url.is_some();
        let accounts_url = self.url(
            "zoho.accounts_url",
            accounts_url,
            region.map(ZohoRegion::accounts_url),
        );
        if accounts_url.is_none() && !explicit_accounts && !bad_region && required {
            self.problem(
                "zoho.region",
                format!(
                    "missing; set region to one of {} (or set accounts_url and api_url)",
                    ZohoRegion::list()
                ),
            );
        }
        let region = region.or_else(|| {
            accounts_url
                .as_ref()
                .and_then(ZohoRegion::from_accounts_url)
        });
        let explicit_api = api_url.is_some();
        let api_url = self.url("zoho.api_url", api_url, region.map(ZohoRegion::api_url));
        if api_url.is_none() && !explicit_api && accounts_url.is_some() {
            self.problem(
                "zoho.api_url",
                "missing; accounts_url is not a known Zoho accounts server, so set api_url too \
                 (e.g. https://www.zohoapis.eu)",
            );
        }
        (region, accounts_url, api_url)
    }

    pub(super) fn connection(&mut self, raw: Node) -> Option<ConnectionSettings> {
        let name = self.required(
            "connection.name",
            raw.str("name"),
            "name the base connection, e.g. \"zoho-crm-prod\"",
        );
        let name = name.and_then(|name| {
            if name.contains(',') {
                self.problem(
                    "connection.name",
                    format!(
                        "`{name}` contains a comma; names are looked up with Flow Service property \
                         filters, where a comma means OR, so choose a name without commas"
                    ),
                );
                None
            } else if name.trim() != name {
                self.problem(
                    "connection.name",
                    format!("`{name}` has leading or trailing spaces; remove them"),
                );
                None
            } else {
                Some(name)
            }
        });
        let description = self.text("connection.description", raw.str("description"));
        Some(ConnectionSettings {
            name: name?,
            description,
        })
    }

    /// `auto_unmapped`: `true` for "skip", `false` for "fail" (the default) or an invalid value.
    fn auto_unmapped(&mut self, key: &str, value: Option<String>) -> bool {
        match self.text(key, value).as_deref() {
            None | Some("fail") => false,
            Some("skip") => true,
            Some(other) => {
                self.problem(
                    key,
                    format!("`{other}` is not a choice; write \"fail\" or \"skip\""),
                );
                false
            }
        }
    }

    pub(super) fn defaults(&mut self, raw: Node) -> Defaults {
        let schedule = raw
            .table("schedule")
            .map(|s| self.schedule("defaults.schedule", s));
        Defaults {
            schema_id: self.text("defaults.schema_id", raw.str("schema_id")),
            mapping_prefix: self.text("defaults.mapping_prefix", raw.str("mapping_prefix")),
            auto_unmapped: self.auto_unmapped("defaults.auto_unmapped", raw.str("auto_unmapped")),
            delta_column: self.text("defaults.delta_column", raw.str("delta_column")),
            schedule,
        }
    }

    pub(super) fn dataflows(
        &mut self,
        raw: Vec<Node>,
        defaults: &Defaults,
    ) -> Option<Vec<Dataflow>> {
        let mut flows = Vec::with_capacity(raw.len());
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut ok = true;
        for (i, entry) in raw.into_iter().enumerate() {
            let prefix = format!("dataflows[{i}]");
            let module = self.module(&prefix, entry.str("module"));
            if let Some(module) = &module {
                let key = format!("{prefix}.module");
                match seen.get(&module.to_ascii_lowercase()) {
                    Some(first) => {
                        let first_at = match self.sites.at(first) {
                            At::File(pos) => format!(" (first at line {})", pos.line),
                            _ => String::new(),
                        };
                        self.problem(
                            &key,
                            format!(
                                "duplicate module `{module}`{first_at}; each Zoho module can have \
                                 one dataflow, so merge or remove one entry"
                            ),
                        );
                    }
                    None => {
                        seen.insert(module.to_ascii_lowercase(), key);
                    }
                }
            }
            let flow = self.dataflow(&prefix, module, entry, defaults);
            match flow {
                Some(flow) => flows.push(flow),
                None => ok = false,
            }
        }
        ok.then_some(flows)
    }

    pub(super) fn module(&mut self, prefix: &str, module: Option<String>) -> Option<String> {
        let key = format!("{prefix}.module");
        let module = self.required(&key, module, "name the Zoho module, e.g. \"Leads\"")?;
        if module.contains(',') {
            self.problem(
                &key,
                format!(
                    "`{module}` contains a comma; module names are used in Flow Service property \
                     filters, where a comma means OR"
                ),
            );
            return None;
        }
        Some(module)
    }

    pub(super) fn dataflow(
        &mut self,
        prefix: &str,
        module: Option<String>,
        raw: Node,
        defaults: &Defaults,
    ) -> Option<Dataflow> {
        let what = module
            .as_deref()
            .map(|m| format!(" for module {m}"))
            .unwrap_or_default();
        let dataset = self.dataset(prefix, raw.table("dataset"), &what);
        let delta_column = match raw.str("delta_column") {
            Some(v) => self.required(
                &format!("{prefix}.delta_column"),
                Some(v),
                "name a date-time column",
            ),
            None => Some(
                defaults
                    .delta_column
                    .clone()
                    .unwrap_or_else(|| DEFAULT_DELTA_COLUMN.to_owned()),
            ),
        };
        let schema_id = match raw.str("schema_id") {
            Some(v) => self.required(
                &format!("{prefix}.schema_id"),
                Some(v),
                "give the target XDM schema $id",
            ),
            None => defaults.schema_id.clone().or_else(|| {
                self.problem(
                    &format!("{prefix}.schema_id"),
                    format!("missing{what}; set schema_id here or in [defaults]"),
                );
                None
            }),
        };
        let mapping_prefix = match raw.str("mapping_prefix") {
            Some(v) => self.required(
                &format!("{prefix}.mapping_prefix"),
                Some(v),
                "give the XDM path under which auto mappings go, e.g. \"_acme.zoho\"",
            ),
            None => defaults.mapping_prefix.clone(),
        };
        let skip_unmapped = match raw.str("auto_unmapped") {
            Some(v) => self.auto_unmapped(&format!("{prefix}.auto_unmapped"), Some(v)),
            None => defaults.auto_unmapped,
        };
        let mapping = self.mapping(
            prefix,
            raw.mapping("mapping"),
            mapping_prefix,
            skip_unmapped,
            &what,
        );
        let schedule = match raw.table("schedule") {
            Some(s) => self.schedule(&format!("{prefix}.schedule"), s),
            None => match &defaults.schedule {
                Some(s) => s.clone(),
                None => {
                    self.problem(
                        &format!("{prefix}.schedule"),
                        format!(
                            "missing{what}; set schedule here or in [defaults], e.g. \
                             {{ frequency = \"hour\", interval = 1, start = \"2026-12-01T00:00:00Z\" }}"
                        ),
                    );
                    None
                }
            },
        };
        Some(Dataflow {
            module: module?,
            dataset: dataset?,
            delta_column: delta_column?,
            schema_id: schema_id?,
            mapping: mapping?,
            schedule: schedule?,
            enabled: raw.bool("enabled").unwrap_or(true),
        })
    }

    pub(super) fn dataset(
        &mut self,
        prefix: &str,
        raw: Option<Node>,
        what: &str,
    ) -> Option<DatasetTarget> {
        let key = format!("{prefix}.dataset");
        let example = "write { create = true, name = \"...\" } or { id = \"...\" }";
        let Some(raw) = raw else {
            self.problem(&key, format!("missing{what}; {example}"));
            return None;
        };
        match (raw.bool("create"), raw.str("name"), raw.str("id")) {
            (Some(true), Some(name), None) => {
                let name = self.required(&format!("{key}.name"), Some(name), "name the dataset")?;
                Some(DatasetTarget::Create { name })
            }
            (None | Some(false), None, Some(id)) => {
                let id = self.required(
                    &format!("{key}.id"),
                    Some(id),
                    "give the id of an existing dataset",
                )?;
                Some(DatasetTarget::Existing { id })
            }
            (Some(true), None, None) => {
                self.problem(
                    &format!("{key}.name"),
                    format!("missing; a created dataset needs a name: {example}"),
                );
                None
            }
            (Some(true), _, Some(_)) | (_, Some(_), Some(_)) => {
                self.problem(
                    &key,
                    format!("give either create/name or id, not both; {example}"),
                );
                None
            }
            (Some(false), _, None) => {
                self.problem(
                    &format!("{key}.create"),
                    format!("create = false needs an existing dataset id instead; {example}"),
                );
                None
            }
            (None, Some(_), None) => {
                self.problem(
                    &key,
                    format!("add create = true to create a dataset with this name; {example}"),
                );
                None
            }
            (None, None, None) => {
                self.problem(&key, format!("empty; {example}"));
                None
            }
        }
    }

    pub(super) fn mapping(
        &mut self,
        prefix: &str,
        raw: Option<RawMapping>,
        mapping_prefix: Option<String>,
        skip_unmapped: bool,
        what: &str,
    ) -> Option<Mapping> {
        let key = format!("{prefix}.mapping");
        match raw {
            None => {
                self.problem(
                    &key,
                    format!(
                        "missing{what}; write mapping = \"auto\" or a list of \
                         {{ source = \"Email\", destination = \"personalEmail.address\" }}"
                    ),
                );
                None
            }
            Some(RawMapping::Keyword(word)) => {
                let word = self.expand(&key, &word, false)?;
                if word != "auto" {
                    self.problem(
                        &key,
                        format!(
                            "`{word}` is not a mapping; write \"auto\" or a list of \
                             {{ source = \"...\", destination = \"...\" }}"
                        ),
                    );
                    return None;
                }
                match mapping_prefix {
                    Some(prefix) => Some(Mapping::Auto {
                        prefix,
                        skip_unmapped,
                    }),
                    None => {
                        self.problem(
                            &key,
                            "mapping = \"auto\" needs a mapping_prefix (the XDM path the columns go \
                             under, e.g. \"_acme.zoho\"); set it here or in [defaults]",
                        );
                        None
                    }
                }
            }
            Some(RawMapping::Rules(rules)) => {
                if rules.is_empty() {
                    self.problem(
                        &key,
                        format!(
                            "empty mapping{what}: a dataflow needs at least one \
                             {{ source, destination }} rule, or mapping = \"auto\""
                        ),
                    );
                    return None;
                }
                let mut out = Vec::with_capacity(rules.len());
                let mut destinations: HashMap<String, usize> = HashMap::new();
                let mut ok = true;
                for (i, rule) in rules.into_iter().enumerate() {
                    let rule_key = format!("{key}[{i}]");
                    let source = self.required(
                        &format!("{rule_key}.source"),
                        rule.str("source"),
                        "name the Zoho column",
                    );
                    let destination = self.required(
                        &format!("{rule_key}.destination"),
                        rule.str("destination"),
                        "give the XDM path",
                    );
                    match (source, destination) {
                        (Some(source), Some(destination)) => {
                            if let Some(first) = destinations.insert(destination.clone(), i) {
                                self.problem(
                                    &format!("{rule_key}.destination"),
                                    format!(
                                        "`{destination}` is already the destination of rule {first}; \
                                         each XDM path can be mapped once"
                                    ),
                                );
                                ok = false;
                            }
                            out.push(MappingRule {
                                source,
                                destination,
                            });
                        }
                        _ => ok = false,
                    }
                }
                ok.then_some(Mapping::Explicit(out))
            }
        }
    }

    pub(super) fn schedule(&mut self, key: &str, raw: Node) -> Option<Schedule> {
        let frequency = self.frequency(key, &raw);
        let start = self.start(key, &raw);
        let frequency = frequency?;
        let (interval, backfill) = if frequency == Frequency::Once {
            self.once_has_no_repeat(key, &raw).then_some((None, None))?
        } else {
            let interval = self.interval(key, &raw, frequency)?;
            (Some(interval), Some(raw.bool("backfill").unwrap_or(true)))
        };
        Some(Schedule {
            frequency,
            interval,
            start: start?,
            backfill,
        })
    }

    fn frequency(&mut self, key: &str, raw: &Node) -> Option<Frequency> {
        let key = format!("{key}.frequency");
        let Some(f) = self.text(&key, raw.str("frequency")) else {
            self.problem(&key, "missing; one of once, minute, hour, day, week");
            return None;
        };
        Frequency::parse(&f).or_else(|| {
            self.problem(
                &key,
                format!("`{f}` is not a frequency; use one of once, minute, hour, day, week"),
            );
            None
        })
    }

    fn start(&mut self, key: &str, raw: &Node) -> Option<DateTime<Utc>> {
        let key = format!("{key}.start");
        let Some(s) = self.text(&key, raw.str("start")) else {
            self.problem(
                &key,
                "missing; give the first run's time in RFC 3339, e.g. \"2026-12-01T00:00:00Z\"",
            );
            return None;
        };
        match DateTime::parse_from_rfc3339(s.trim()) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                self.problem(
                    &key,
                    format!(
                        "`{s}` is not an RFC 3339 date-time with a time zone; write e.g. \
                         \"2026-12-01T00:00:00Z\""
                    ),
                );
                None
            }
        }
    }

    /// `frequency = "once"` takes neither `interval` nor `backfill` (the CRMToAEP flow spec
    /// rejects them); `false` when either is there.
    fn once_has_no_repeat(&mut self, key: &str, raw: &Node) -> bool {
        let mut ok = true;
        for field in ["interval", "backfill"] {
            let given = match field {
                "interval" => raw.int(field).is_some(),
                _ => raw.bool(field).is_some(),
            };
            if given {
                self.problem(
                    &format!("{key}.{field}"),
                    "must be absent when frequency = \"once\" (the CRMToAEP flow spec rejects it)",
                );
                ok = false;
            }
        }
        ok
    }

    /// A repeating schedule's interval: present, and at least the flow spec's minimum.
    fn interval(&mut self, key: &str, raw: &Node, frequency: Frequency) -> Option<u32> {
        let key = format!("{key}.interval");
        let min = if frequency == Frequency::Minute {
            MIN_MINUTE_INTERVAL
        } else {
            1
        };
        match raw.int("interval") {
            None => {
                self.problem(
                    &key,
                    format!(
                        "missing; frequency = \"{}\" needs an interval of at least {min}",
                        frequency.as_str()
                    ),
                );
                None
            }
            Some(n) if n < min => {
                self.problem(
                    &key,
                    format!(
                        "{n} is below the minimum of {min} for frequency = \"{}\" \
                         (the CRMToAEP flow spec's rule); use {min} or more",
                        frequency.as_str()
                    ),
                );
                None
            }
            Some(n) => u32::try_from(n).ok().or_else(|| {
                self.problem(&key, format!("{n} is too large"));
                None
            }),
        }
    }
}

/// `[defaults]`, resolved; `schedule` is `Some(None)` when it was given but invalid.
pub(super) struct Defaults {
    pub(super) schema_id: Option<String>,
    pub(super) mapping_prefix: Option<String>,
    /// `auto_unmapped = "skip"`.
    pub(super) auto_unmapped: bool,
    pub(super) delta_column: Option<String>,
    pub(super) schedule: Option<Option<Schedule>>,
}

/// Accepts `https://` anywhere and `http://` only to loopback hosts (the emulator, tests).
pub fn check_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value.trim()).map_err(|e| format!("`{value}` is not a URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the URL must not carry a user name or password; secrets go in their own keys".into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{value}` must be a base URL without ?query or #fragment"
        ));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "`{value}` uses http:// to a host that is not loopback; use https:// (plain http is \
             allowed only for 127.0.0.1, ::1 and localhost)"
        )),
        _ => Err(format!("`{value}` must be an https:// URL")),
    }
}

/// Whether the URL's host is on this machine.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The problem of a `${NAME}` that is set but empty: the variable, not the profile, needs fixing.
fn empty_variable(name: &str, key: &str) -> String {
    format!(
        "environment variable {name} is set but empty; export {name} with the value of {key} \
         (check the command or CI secret that sets it)"
    )
}
