//! The emulator's in-memory state. One [`Shared`] per emulator: the clock, the seeded Zoho org,
//! and behind one mutex the services' data ([`Data`]), with one [`Sandbox`] per AEP sandbox so
//! that objects created in `dev` are invisible in `prod`. Handlers hold the lock only while they
//! read or write, never across an `.await`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Map, Value};

use super::clock::Clock;
use super::faults::{Faults, RateWindow};
use super::ims::ImsState;
use super::recorder::{RecordedRequest, LOG_CAPACITY};
use super::runs::{RunStore, Schedule};
use super::seed::{self, ZohoOrg};
use super::zoho::ZohoState;

pub type AppState = std::sync::Arc<Shared>;

pub struct Shared {
    pub clock: Clock,
    pub started: Instant,
    pub org: ZohoOrg,
    /// `http://127.0.0.1:PORT`, set once the listener is bound (Zoho's `api_domain`).
    pub base_url: OnceLock<String>,
    data: Mutex<Data>,
    faults: Mutex<Faults>,
    log: Mutex<VecDeque<RecordedRequest>>,
    rng: Mutex<StdRng>,
    limiter: Mutex<RateWindow>,
}

/// A poisoned lock only means another request panicked; the data is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub fn new(time_scale: f64, faults: Faults, seed: Option<u64>, extra_modules: usize) -> Self {
        let clock = Clock::new(time_scale);
        let now = clock.now_ms();
        let sandboxes = seed::SANDBOXES
            .iter()
            .map(|name| ((*name).to_owned(), Sandbox::seeded(name, now)))
            .collect();
        let rng = match seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Self {
            clock,
            started: Instant::now(),
            org: ZohoOrg::new(extra_modules),
            base_url: OnceLock::new(),
            data: Mutex::new(Data {
                sandboxes,
                ims: ImsState::default(),
                zoho: ZohoState::seeded(),
            }),
            faults: Mutex::new(faults),
            log: Mutex::new(VecDeque::new()),
            rng: Mutex::new(rng),
            limiter: Mutex::new(RateWindow::default()),
        }
    }

    pub fn data(&self) -> MutexGuard<'_, Data> {
        lock(&self.data)
    }

    pub fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = faults;
    }

    pub fn rng(&self) -> MutexGuard<'_, StdRng> {
        lock(&self.rng)
    }

    pub fn limiter(&self) -> MutexGuard<'_, RateWindow> {
        lock(&self.limiter)
    }

    pub fn push_request(&self, entry: RecordedRequest) {
        let mut log = lock(&self.log);
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(entry);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.log).iter().cloned().collect()
    }

    pub fn clear_requests(&self) {
        lock(&self.log).clear();
    }

    pub fn base_url(&self) -> String {
        self.base_url
            .get()
            .cloned()
            .unwrap_or_else(|| "http://127.0.0.1".to_owned())
    }
}

pub struct Data {
    pub sandboxes: BTreeMap<String, Sandbox>,
    pub ims: ImsState,
    pub zoho: ZohoState,
}

/// A Flow Service object: server-kept metadata, the client's fields as validated (`doc`), and
/// the typed relations derived from them (`rel`) that dependency rules and runs use.
#[derive(Debug, Clone)]
pub struct Entity<R> {
    pub id: String,
    pub etag: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub doc: Value,
    pub rel: R,
}

impl<R> Entity<R> {
    pub fn new(doc: Value, rel: R, now: i64) -> Self {
        Self {
            id: new_uuid(),
            etag: new_etag(),
            created_at: now,
            updated_at: now,
            doc,
            rel,
        }
    }

    /// Replaces the document after a successful PATCH; every write changes the etag.
    pub fn update(&mut self, doc: Value, rel: R, now: i64) {
        self.doc = doc;
        self.rel = rel;
        self.etag = new_etag();
        self.updated_at = now.max(self.created_at);
    }
}

#[derive(Debug, Clone)]
pub struct ConnectionRel {
    pub spec_id: String,
}

#[derive(Debug, Clone)]
pub struct SourceRel {
    pub spec_id: String,
    pub base_connection_id: Option<String>,
    pub table: Option<String>,
    /// `params.columns[].name`, when the client chose columns.
    pub columns: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct TargetRel {
    pub spec_id: String,
    pub dataset_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FlowRel {
    pub flow_spec_id: String,
    pub source_ids: Vec<String>,
    pub target_ids: Vec<String>,
    pub mapping: Option<(String, i64)>,
    pub delta_column: Option<String>,
    pub schedule: Option<Schedule>,
}

/// Per-flow state that is not part of the flow's document.
#[derive(Debug, Clone)]
pub struct FlowRuntime {
    pub enabled: bool,
    /// Runs exist for every schedule slot up to this emulated time (epoch ms).
    pub runs_until: Option<i64>,
    pub last_operation: &'static str,
}

#[derive(Debug, Clone)]
pub struct Dataset {
    pub id: String,
    pub created: i64,
    pub updated: i64,
    pub schema_id: Option<String>,
    pub doc: Value,
}

#[derive(Debug, Clone)]
pub struct MappingSet {
    pub id: String,
    pub version: i64,
    pub created: i64,
    pub name: Option<String>,
    pub schema_id: String,
    /// The columns the mapping reads (`ATTRIBUTE` sources).
    pub sources: Vec<String>,
    /// The stored representation returned by GET.
    pub doc: Value,
}

pub struct Sandbox {
    pub name: String,
    pub id: String,
    pub connections: BTreeMap<String, Entity<ConnectionRel>>,
    pub source_connections: BTreeMap<String, Entity<SourceRel>>,
    pub target_connections: BTreeMap<String, Entity<TargetRel>>,
    pub flows: BTreeMap<String, (Entity<FlowRel>, FlowRuntime)>,
    pub runs: RunStore,
    pub datasets: BTreeMap<String, Dataset>,
    pub mapping_sets: BTreeMap<String, MappingSet>,
}

impl Sandbox {
    fn seeded(name: &str, now: i64) -> Self {
        let mut sandbox = Self {
            name: name.to_owned(),
            id: new_uuid(),
            connections: BTreeMap::new(),
            source_connections: BTreeMap::new(),
            target_connections: BTreeMap::new(),
            flows: BTreeMap::new(),
            runs: RunStore::default(),
            datasets: BTreeMap::new(),
            mapping_sets: BTreeMap::new(),
        };
        let created = now - 30 * 86_400_000;
        let doc = json!({
            "name": seed::DATASET_NAME,
            "description": "Contacts ingested before provision managed this org",
            "schemaRef": {"id": seed::SCHEMA_ID, "contentType": "application/vnd.adobe.xed+json;version=1"},
            "tags": {"adobe/pqs/table": ["zoho_contacts_existing"]},
        });
        sandbox.datasets.insert(
            seed::DATASET_ID.to_owned(),
            Dataset {
                id: seed::DATASET_ID.to_owned(),
                created,
                updated: created,
                schema_id: Some(seed::SCHEMA_ID.to_owned()),
                doc,
            },
        );
        sandbox
    }

    /// The fields every Flow Service object carries besides its own.
    pub fn meta<R>(&self, entity: &Entity<R>) -> Map<String, Value> {
        META_FIELDS
            .iter()
            .filter_map(|key| self.meta_field(entity, key).map(|v| ((*key).to_owned(), v)))
            .collect()
    }

    /// One of [`META_FIELDS`] of `entity` (`version` is its etag, as the live service shows).
    pub fn meta_field<R>(&self, entity: &Entity<R>, key: &str) -> Option<Value> {
        let client = seed::IMS_CLIENT_ID;
        Some(match key {
            "id" => json!(entity.id),
            "createdAt" => json!(entity.created_at),
            "updatedAt" => json!(entity.updated_at),
            "createdBy" | "updatedBy" => json!(format!("{client}@AdobeID")),
            "createdClient" | "updatedClient" => json!(client),
            "sandboxId" => json!(self.id),
            "sandboxName" => json!(self.name),
            "imsOrgId" => json!(seed::ORG_ID),
            "etag" | "version" => json!(entity.etag),
            _ => return None,
        })
    }
}

pub const META_FIELDS: &[&str] = &[
    "id",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "createdClient",
    "updatedClient",
    "sandboxId",
    "sandboxName",
    "imsOrgId",
    "etag",
    "version",
];

pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A quoted etag in the live format, e.g. `"\"10033e77-0000-0200-0000-5e96785b0000\""`.
pub fn new_etag() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("\"{}-0000-0200-0000-{}\"", &hex[..8], &hex[8..20])
}

/// A stored document as the API shows it: its fields, with `extra` (metadata, computed fields)
/// added or replacing them. It serializes without copying the document, since a list page
/// renders hundreds of them.
pub struct Rendered<'a> {
    doc: &'a Value,
    extra: Map<String, Value>,
}

impl<'a> Rendered<'a> {
    pub fn new(doc: &'a Value, extra: Map<String, Value>) -> Self {
        Self { doc, extra }
    }

    pub fn insert(&mut self, key: &str, value: Value) {
        self.extra.insert(key.to_owned(), value);
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.extra.get(key).or_else(|| self.doc.get(key))
    }
}

impl Serialize for Rendered<'_> {
    /// The fields in key order, as a merged `Value` would list them.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut doc = (self.doc.as_object().into_iter().flatten())
            .filter(|(key, _)| !self.extra.contains_key(*key))
            .peekable();
        let mut extra = self.extra.iter().peekable();
        let mut map = serializer.serialize_map(None)?;
        loop {
            let from_doc = match (doc.peek(), extra.peek()) {
                (Some((a, _)), Some((b, _))) => a < b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if from_doc { doc.next() } else { extra.next() };
            if let Some((key, value)) = next {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// What a handler sees of the state while it holds the lock: its sandbox (runs already brought
/// up to date), Zoho's credential state, the org, and the emulated time.
pub struct Ctx<'a> {
    pub sandbox: &'a mut Sandbox,
    pub zoho: &'a ZohoState,
    pub org: &'a ZohoOrg,
    pub now: i64,
    pub zoho_spec: super::faults::ZohoSpec,
}

impl Shared {
    /// Runs `f` on sandbox `name` under the lock.
    pub fn with_sandbox<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut Ctx<'_>) -> Result<T, super::errors::ApiError>,
    ) -> Result<T, super::errors::ApiError> {
        let zoho_spec = self.faults().zoho_spec;
        let now = self.clock.now_ms();
        let mut data = self.data();
        let Data {
            sandboxes, zoho, ..
        } = &mut *data;
        let Some(sandbox) = sandboxes.get_mut(name) else {
            return Err(super::errors::ApiError::flow(
                axum::http::StatusCode::NOT_FOUND,
                2103,
                "Sandbox not found",
                &format!("Sandbox {name} is not found."),
            ));
        };
        super::runs::materialize(sandbox, &self.org, zoho, now);
        f(&mut Ctx {
            sandbox,
            zoho,
            org: &self.org,
            now,
            zoho_spec,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_document_lists_its_fields_in_key_order_with_extras_winning() {
        let doc = json!({"a": 1, "c": 3, "state": "stored", "z": {"nested": true}});
        let mut rendered = Rendered::new(&doc, Map::new());
        rendered.insert("state", json!("enabled"));
        rendered.insert("b", json!(2));
        assert_eq!(rendered.get("state"), Some(&json!("enabled")));
        assert_eq!(rendered.get("a"), Some(&json!(1)));
        assert_eq!(
            serde_json::to_string(&rendered).unwrap_or_default(),
            r#"{"a":1,"b":2,"c":3,"state":"enabled","z":{"nested":true}}"#
        );
    }
}
