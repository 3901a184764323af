//! The fixed facts the emulator starts with (COMMON.md "Fixed facts"): credentials, the target
//! schema and dataset, and a Zoho org whose modules have realistic columns and deterministic rows.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

pub const IMS_CLIENT_ID: &str = "provision-local";
pub const IMS_CLIENT_SECRET: &str = "local-adobe-secret";
pub const ORG_ID: &str = "0000000000000000000000AA@AdobeOrg";
pub const SANDBOXES: [&str; 2] = ["prod", "dev"];

pub const ZOHO_CLIENT_ID: &str = "1000.LOCALCLIENT";
pub const ZOHO_CLIENT_SECRET: &str = "local-zoho-secret";
pub const ZOHO_REFRESH_TOKEN: &str = "1000.local.refresh";
/// The scopes the seeded refresh token was granted.
pub const ZOHO_SCOPES: &str =
    "ZohoCRM.settings.modules.READ ZohoCRM.settings.fields.READ ZohoCRM.modules.READ";

pub const SCHEMA_ID: &str = "https://ns.adobe.com/acme/schemas/zoho_crm";
pub const SCHEMA_ALT_ID: &str = "_acme.schemas.zoho_crm";
pub const DATASET_ID: &str = "6889f4f89b982b2b90bc1208";
pub const DATASET_NAME: &str = "Zoho Contacts (existing)";

pub const ZOHO_SPEC_ID: &str = "929e4450-0237-4ed2-9404-b7e1e0a00309";
pub const DATA_LAKE_SPEC_ID: &str = "c604ff05-7f1a-43c0-8e18-33bf874cb11c";
pub const SALESFORCE_SPEC_ID: &str = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5";
pub const S3_SPEC_ID: &str = "ecadc60c-7455-4d87-84dc-2a0e293d997b";
pub const CRM_FLOW_SPEC_ID: &str = "14518937-270c-4525-bdec-c2ba7cce3860";
pub const CLOUD_FLOW_SPEC_ID: &str = "9753525b-82c7-4dce-8a9b-5ccfce2b9876";
pub const PROVIDER_ID: &str = "0ed90a81-07f4-4586-8190-b40eccef1c5a";

/// How a column's values look, and so its source and XDM types.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Id,
    Owner,
    FirstName,
    LastName,
    FullName,
    Company,
    Email,
    Phone,
    City,
    Country,
    Website,
    Words(&'static [&'static str]),
    Pick(&'static [&'static str]),
    Double(u32, u32),
    Long(u32, u32),
    Boolean,
    Date,
    DateTime,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
}

impl Column {
    pub fn is_date_time(&self) -> bool {
        matches!(self.kind, Kind::DateTime)
    }

    /// The explore representation (docs/aep-api.md#explore-columns): `name`, source `type`, `xdm`, `meta:xdmType`.
    pub fn to_json(&self) -> Value {
        match self.kind {
            Kind::Double(..) => {
                json!({"name": self.name, "type": "double", "xdm": {"type": "number"}})
            }
            Kind::Long(..) => json!({"name": self.name, "type": "long", "xdm": {"type": "number"}}),
            Kind::Boolean => {
                json!({"name": self.name, "type": "boolean", "xdm": {"type": "boolean"}})
            }
            Kind::Date => json!({
                "name": self.name, "type": "string", "meta:xdmType": "date",
                "xdm": {"type": "string", "format": "date"}
            }),
            Kind::DateTime => json!({
                "name": self.name, "type": "string", "meta:xdmType": "date-time",
                "xdm": {"type": "string", "format": "date-time"}
            }),
            _ => json!({"name": self.name, "type": "string", "xdm": {"type": "string"}}),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Module {
    pub api_name: String,
    pub module_name: String,
    pub singular_label: String,
    pub plural_label: String,
    pub id: String,
    pub generated_type: &'static str,
    pub api_supported: bool,
    pub columns: Vec<Column>,
    pub rows: Vec<Map<String, Value>>,
}

impl Module {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The entry of `GET /crm/v8/settings/modules`.
    pub fn settings_json(&self, sequence: usize) -> Value {
        json!({
            "id": self.id,
            "api_name": self.api_name,
            "module_name": self.module_name,
            "singular_label": self.singular_label,
            "plural_label": self.plural_label,
            "api_supported": self.api_supported,
            "generated_type": self.generated_type,
            "creatable": self.api_supported,
            "editable": self.api_supported,
            "deletable": self.api_supported,
            "viewable": true,
            "visibility": 1,
            "status": "visible",
            "show_as_tab": true,
            "sequence_number": sequence + 1,
            "modified_time": "2025-01-15T10:00:00+00:00",
            "parent_module": {},
            "profiles": [{"name": "Administrator", "id": "5725767000000026011"}],
        })
    }
}

/// The seeded Zoho CRM org: API modules (explorable tables) and a few UI-only modules.
#[derive(Debug)]
pub struct ZohoOrg {
    pub modules: Vec<Module>,
    index: HashMap<String, usize>,
}

impl ZohoOrg {
    pub fn new(extra_modules: usize) -> Self {
        let mut modules: Vec<Module> = STANDARD
            .iter()
            .map(|def| {
                build_module(
                    def.api,
                    def.module,
                    def.singular,
                    def.plural,
                    "default",
                    def.fields,
                )
            })
            .collect();
        for n in 1..=extra_modules {
            let api = format!("CustomModule{n}");
            let plural = format!("Custom Records {n}");
            let singular = format!("Custom Record {n}");
            modules.push(build_module(
                &api,
                &api,
                &singular,
                &plural,
                "custom",
                CUSTOM_FIELDS,
            ));
        }
        for (api, label) in [
            ("Home", "Home"),
            ("Reports", "Reports"),
            ("Analytics", "Analytics"),
        ] {
            let mut module = build_module(api, api, label, label, "default", &[]);
            module.api_supported = false;
            module.columns.clear();
            module.rows.clear();
            modules.push(module);
        }
        let index = modules
            .iter()
            .enumerate()
            .map(|(i, m)| (m.api_name.clone(), i))
            .collect();
        Self { modules, index }
    }

    /// An API-supported module by its API name (the explore `path`).
    pub fn module(&self, api_name: &str) -> Option<&Module> {
        self.index
            .get(api_name)
            .map(|&i| &self.modules[i])
            .filter(|m| m.api_supported)
    }

    pub fn tables(&self) -> impl Iterator<Item = &Module> {
        self.modules.iter().filter(|m| m.api_supported)
    }
}

struct ModuleDef {
    api: &'static str,
    module: &'static str,
    singular: &'static str,
    plural: &'static str,
    fields: &'static [(&'static str, Kind)],
}

// The tables below read best one module (or one list) per line.
#[rustfmt::skip]
const LEAD_SOURCES: &[&str] = &["Advertisement", "Cold Call", "Employee Referral", "Online Store", "Partner", "Web Download", "Trade Show"];
#[rustfmt::skip]
const INDUSTRIES: &[&str] = &["Software", "Manufacturing", "Retail", "Healthcare", "Finance", "Education", "Logistics"];
const PRIORITIES: &[&str] = &["High", "Highest", "Low", "Lowest", "Normal"];
#[rustfmt::skip]
const SUBJECTS: &[&str] = &["Follow up", "Demo", "Renewal", "Pricing question", "Kick-off", "Quarterly review", "Onboarding"];
#[rustfmt::skip]
const PRODUCTS: &[&str] = &["Analytics Suite", "Edge Router", "Cloud Backup", "Support Plan", "Sensor Kit", "Mobile License"];
const DEAL_NAMES: &[&str] = &["Expansion", "New Business", "Renewal", "Upsell", "Pilot"];

#[rustfmt::skip]
const STANDARD: &[ModuleDef] = &[
    ModuleDef { api: "Leads", module: "Leads", singular: "Lead", plural: "Leads", fields: &[
        ("First_Name", Kind::FirstName), ("Last_Name", Kind::LastName), ("Email", Kind::Email),
        ("Company", Kind::Company), ("Phone", Kind::Phone), ("Lead_Source", Kind::Pick(LEAD_SOURCES)),
        ("Lead_Status", Kind::Pick(&["Attempted to Contact", "Contact in Future", "Contacted", "Junk Lead", "Lost Lead", "Not Contacted", "Pre-Qualified"])),
        ("Industry", Kind::Pick(INDUSTRIES)), ("Annual_Revenue", Kind::Double(10_000, 5_000_000)),
        ("No_of_Employees", Kind::Long(1, 5000)), ("Email_Opt_Out", Kind::Boolean),
    ]},
    ModuleDef { api: "Contacts", module: "Contacts", singular: "Contact", plural: "Contacts", fields: &[
        ("First_Name", Kind::FirstName), ("Last_Name", Kind::LastName), ("Email", Kind::Email),
        ("Account_Name", Kind::Company), ("Phone", Kind::Phone), ("Mailing_City", Kind::City),
        ("Mailing_Country", Kind::Country), ("Title", Kind::Words(&["CEO", "CTO", "VP Sales", "Engineer", "Buyer", "Analyst"])),
        ("Date_of_Birth", Kind::Date), ("Email_Opt_Out", Kind::Boolean),
    ]},
    ModuleDef { api: "Accounts", module: "Accounts", singular: "Account", plural: "Accounts", fields: &[
        ("Account_Name", Kind::Company), ("Website", Kind::Website), ("Phone", Kind::Phone),
        ("Industry", Kind::Pick(INDUSTRIES)), ("Annual_Revenue", Kind::Double(100_000, 90_000_000)),
        ("Employees", Kind::Long(5, 20_000)), ("Billing_City", Kind::City), ("Billing_Country", Kind::Country),
        ("Account_Type", Kind::Pick(&["Analyst", "Competitor", "Customer", "Distributor", "Investor", "Partner", "Prospect"])),
    ]},
    ModuleDef { api: "Deals", module: "Deals", singular: "Deal", plural: "Deals", fields: &[
        ("Deal_Name", Kind::Words(DEAL_NAMES)), ("Amount", Kind::Double(1_000, 250_000)),
        ("Stage", Kind::Pick(&["Qualification", "Needs Analysis", "Value Proposition", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"])),
        ("Closing_Date", Kind::Date), ("Account_Name", Kind::Company), ("Probability", Kind::Long(0, 100)),
        ("Lead_Source", Kind::Pick(LEAD_SOURCES)), ("Type", Kind::Pick(&["Existing Business", "New Business"])),
    ]},
    ModuleDef { api: "Campaigns", module: "Campaigns", singular: "Campaign", plural: "Campaigns", fields: &[
        ("Campaign_Name", Kind::Words(&["Spring Launch", "Summer Webinar", "Autumn Trade Show", "Winter Promo", "Partner Push"])),
        ("Type", Kind::Pick(&["Advertisement", "Banner Ads", "Conference", "Email", "Public Relations", "Webinar"])),
        ("Status", Kind::Pick(&["Planning", "Active", "Inactive", "Complete"])),
        ("Start_Date", Kind::Date), ("End_Date", Kind::Date),
        ("Budgeted_Cost", Kind::Double(500, 80_000)), ("Expected_Revenue", Kind::Double(1_000, 400_000)),
    ]},
    ModuleDef { api: "Tasks", module: "Tasks", singular: "Task", plural: "Tasks", fields: &[
        ("Subject", Kind::Words(SUBJECTS)), ("Due_Date", Kind::Date),
        ("Status", Kind::Pick(&["Not Started", "Deferred", "In Progress", "Completed", "Waiting for input"])),
        ("Priority", Kind::Pick(PRIORITIES)), ("What_Id", Kind::Company), ("Send_Notification_Email", Kind::Boolean),
    ]},
    ModuleDef { api: "Events", module: "Meetings", singular: "Meeting", plural: "Meetings", fields: &[
        ("Event_Title", Kind::Words(SUBJECTS)), ("Start_DateTime", Kind::DateTime), ("End_DateTime", Kind::DateTime),
        ("Venue", Kind::City), ("All_day", Kind::Boolean),
    ]},
    ModuleDef { api: "Calls", module: "Calls", singular: "Call", plural: "Calls", fields: &[
        ("Subject", Kind::Words(SUBJECTS)), ("Call_Type", Kind::Pick(&["Inbound", "Outbound", "Missed"])),
        ("Call_Start_Time", Kind::DateTime), ("Call_Duration_in_seconds", Kind::Long(15, 3600)),
        ("Call_Result", Kind::Pick(&["Interested", "Not interested", "No response", "Requested more info"])),
    ]},
    ModuleDef { api: "Products", module: "Products", singular: "Product", plural: "Products", fields: &[
        ("Product_Name", Kind::Words(PRODUCTS)), ("Product_Code", Kind::Words(&["AN-100", "ER-220", "CB-300", "SP-400", "SK-510", "ML-600"])),
        ("Unit_Price", Kind::Double(10, 9_000)), ("Qty_in_Stock", Kind::Double(0, 800)),
        ("Product_Active", Kind::Boolean), ("Product_Category", Kind::Pick(&["Hardware", "Software", "CRM Applications", "Services"])),
        ("Vendor_Name", Kind::Company),
    ]},
    ModuleDef { api: "Quotes", module: "Quotes", singular: "Quote", plural: "Quotes", fields: &[
        ("Subject", Kind::Words(SUBJECTS)),
        ("Quote_Stage", Kind::Pick(&["Draft", "Negotiation", "Delivered", "On Hold", "Confirmed", "Closed Won", "Closed Lost"])),
        ("Valid_Till", Kind::Date), ("Grand_Total", Kind::Double(500, 120_000)), ("Account_Name", Kind::Company),
        ("Deal_Name", Kind::Words(DEAL_NAMES)),
    ]},
    ModuleDef { api: "Invoices", module: "Invoices", singular: "Invoice", plural: "Invoices", fields: &[
        ("Subject", Kind::Words(SUBJECTS)), ("Invoice_Date", Kind::Date), ("Due_Date", Kind::Date),
        ("Status", Kind::Pick(&["Created", "Approved", "Delivered", "Paid", "Cancelled"])),
        ("Grand_Total", Kind::Double(500, 120_000)), ("Account_Name", Kind::Company),
    ]},
    ModuleDef { api: "Vendors", module: "Vendors", singular: "Vendor", plural: "Vendors", fields: &[
        ("Vendor_Name", Kind::Company), ("Email", Kind::Email), ("Phone", Kind::Phone), ("Website", Kind::Website),
        ("Category", Kind::Pick(&["Hardware", "Software", "Services", "Logistics"])), ("City", Kind::City),
    ]},
    ModuleDef { api: "Cases", module: "Cases", singular: "Case", plural: "Cases", fields: &[
        ("Subject", Kind::Words(&["Login issue", "Billing question", "Feature request", "Outage report", "Data import"])),
        ("Status", Kind::Pick(&["New", "On Hold", "Escalated", "Closed"])), ("Priority", Kind::Pick(&["High", "Medium", "Low"])),
        ("Case_Origin", Kind::Pick(&["Email", "Phone", "Web"])), ("Type", Kind::Pick(&["Question", "Problem", "Feature Request"])),
        ("Account_Name", Kind::Company), ("Reported_By", Kind::FullName),
    ]},
    ModuleDef { api: "Solutions", module: "Solutions", singular: "Solution", plural: "Solutions", fields: &[
        ("Solution_Title", Kind::Words(&["Reset a password", "Export a report", "Configure SSO", "Import contacts", "Set up webhooks"])),
        ("Status", Kind::Pick(&["Draft", "Reviewed", "Published"])),
        ("Question", Kind::Words(&["How do I start?", "Why does it fail?", "Where is the setting?"])),
        ("Answer", Kind::Words(&["See the admin guide.", "Contact support.", "Use the settings page."])),
        ("Published", Kind::Boolean), ("Product_Name", Kind::Words(PRODUCTS)),
    ]},
];

const CUSTOM_FIELDS: &[(&str, Kind)] = &[
    ("Name", Kind::FullName),
    ("Email", Kind::Email),
    ("Status", Kind::Pick(&["Open", "In Review", "Done"])),
    ("Score", Kind::Long(0, 100)),
    ("Due_Date", Kind::Date),
];

#[rustfmt::skip]
const FIRST: &[&str] = &["Ava", "Liam", "Mia", "Noah", "Zoe", "Ethan", "Ines", "Omar", "Yuki", "Lena", "Raj", "Sofia"];
#[rustfmt::skip]
const LAST: &[&str] = &["Smith", "Garcia", "Chen", "Müller", "Okafor", "Rossi", "Tanaka", "Novak", "Silva", "Dubois"];
#[rustfmt::skip]
const COMPANIES: &[&str] = &["Acme Corp", "Globex", "Initech", "Umbrella Ltd", "Stark Industries", "Wayne Enterprises", "Hooli", "Vandelay Imports"];
#[rustfmt::skip]
const CITIES: &[&str] = &["Austin", "Berlin", "Lisbon", "Osaka", "Toronto", "Nairobi", "Sydney", "Lyon"];
#[rustfmt::skip]
const COUNTRIES: &[&str] = &["United States", "Germany", "Portugal", "Japan", "Canada", "Kenya", "Australia", "France"];
const OWNERS: &[&str] = &["Patricia Boyle", "Kris Marrier", "Jordan Lee"];

fn build_module(
    api: &str,
    module_name: &str,
    singular: &str,
    plural: &str,
    generated_type: &'static str,
    fields: &[(&str, Kind)],
) -> Module {
    let mut columns = vec![Column {
        name: "id".into(),
        kind: Kind::Id,
    }];
    columns.extend(fields.iter().map(|(name, kind)| Column {
        name: (*name).into(),
        kind: *kind,
    }));
    columns.extend([
        Column {
            name: "Owner".into(),
            kind: Kind::Owner,
        },
        Column {
            name: "Created_Time".into(),
            kind: Kind::DateTime,
        },
        Column {
            name: "Modified_Time".into(),
            kind: Kind::DateTime,
        },
    ]);
    let hash = fnv(api);
    let module_id = format!("57257670000000{:05}", hash % 100_000);
    let row_count = 20 + (hash % 31) as usize;
    let rows = (0..row_count)
        .map(|i| generate_row(&columns, hash, i))
        .collect();
    Module {
        api_name: api.into(),
        module_name: module_name.into(),
        singular_label: singular.into(),
        plural_label: plural.into(),
        id: module_id,
        generated_type,
        api_supported: true,
        columns,
        rows,
    }
}

fn generate_row(columns: &[Column], module_hash: u64, index: usize) -> Map<String, Value> {
    let mut rng = SplitMix(module_hash ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let first = pick(&mut rng, FIRST);
    let last = pick(&mut rng, LAST);
    let company = pick(&mut rng, COMPANIES);
    // Two years of history from 2023-01-01; modified after created.
    let created = 1_672_531_200 + (rng.next() % (730 * 86_400)) as i64;
    let modified = created + (rng.next() % (90 * 86_400)) as i64;
    let mut row = Map::new();
    for column in columns {
        let value = match column.kind {
            Kind::Id => json!(format!(
                "5725767000{:09}",
                (module_hash % 1000) * 1_000_000 + index as u64
            )),
            Kind::Owner => json!(pick(&mut rng, OWNERS)),
            Kind::FirstName => json!(first),
            Kind::LastName => json!(last),
            Kind::FullName => json!(format!("{first} {last}")),
            Kind::Company => json!(company),
            Kind::Email => json!(format!(
                "{}.{}{}@example.com",
                ascii(first).to_lowercase(),
                ascii(last).to_lowercase(),
                index
            )),
            Kind::Phone => json!(format!("+1 555 01{:02}", rng.next() % 100)),
            Kind::City => json!(pick(&mut rng, CITIES)),
            Kind::Country => json!(pick(&mut rng, COUNTRIES)),
            Kind::Website => json!(format!(
                "https://www.{}.example",
                ascii(company).to_lowercase().replace(' ', "-")
            )),
            Kind::Words(words) | Kind::Pick(words) => json!(pick(&mut rng, words)),
            Kind::Double(min, max) => {
                let cents = u64::from(min) * 100 + rng.next() % (u64::from(max - min) * 100 + 1);
                json!(cents as f64 / 100.0)
            }
            Kind::Long(min, max) => json!(u64::from(min) + rng.next() % (u64::from(max - min) + 1)),
            Kind::Boolean => json!(rng.next().is_multiple_of(2)),
            Kind::Date => json!(date_time(created + (rng.next() % (365 * 86_400)) as i64)
                .format("%Y-%m-%d")
                .to_string()),
            Kind::DateTime => {
                let seconds = match column.name.as_str() {
                    "Created_Time" => created,
                    "Modified_Time" => modified,
                    _ => created + (rng.next() % (60 * 86_400)) as i64,
                };
                json!(date_time(seconds)
                    .format("%Y-%m-%dT%H:%M:%S+00:00")
                    .to_string())
            }
        };
        row.insert(column.name.clone(), value);
    }
    row
}

fn date_time(seconds: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

fn ascii(text: &str) -> String {
    text.replace('ü', "ue")
}

fn pick<'a>(rng: &mut SplitMix, items: &[&'a str]) -> &'a str {
    items[(rng.next() % items.len() as u64) as usize]
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A tiny deterministic generator, so the seeded rows never change between runs or versions of `rand`.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The seeded XDM schema, as the Schema Registry returns it.
pub fn schema_json() -> Value {
    json!({
        "$id": SCHEMA_ID,
        "meta:altId": SCHEMA_ALT_ID,
        "meta:resourceType": "schemas",
        "version": "1.0",
        "title": "Zoho CRM",
        "type": "object",
        "description": "Records ingested from Zoho CRM",
        "meta:class": "https://ns.adobe.com/xdm/context/profile",
        "meta:abstract": false,
        "meta:extensible": false,
        "meta:tenantNamespace": "_acme",
        "allOf": [
            {"$ref": "https://ns.adobe.com/xdm/context/profile", "type": "object", "meta:xdmType": "object"},
            {"$ref": "https://ns.adobe.com/acme/mixins/zoho_crm", "type": "object", "meta:xdmType": "object"}
        ],
        "meta:containerId": "tenant",
        "imsOrg": ORG_ID,
        "meta:xdmType": "object",
        "meta:registryMetadata": {
            "repo:createdDate": 1_735_689_600_000_i64,
            "repo:lastModifiedDate": 1_735_689_600_000_i64,
            "xdm:createdClientId": IMS_CLIENT_ID,
            "eTag": "\"6a3b2f00-0000-0200-0000-67750a000000\""
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_org_has_the_fixed_modules_with_common_columns_and_stable_rows() {
        let org = ZohoOrg::new(2);
        for name in [
            "Leads",
            "Contacts",
            "Accounts",
            "Deals",
            "Campaigns",
            "Tasks",
            "Events",
            "Calls",
            "Products",
            "Quotes",
            "Invoices",
            "Vendors",
            "Cases",
            "Solutions",
            "CustomModule2",
        ] {
            let module = org.module(name).unwrap_or_else(|| panic!("{name} missing"));
            for column in ["id", "Owner", "Created_Time", "Modified_Time"] {
                assert!(module.column(column).is_some(), "{name}.{column}");
            }
            assert!((20..=50).contains(&module.rows.len()), "{name} rows");
            assert_eq!(module.rows[0].len(), module.columns.len());
        }
        assert!(
            org.module("Home").is_none(),
            "UI-only modules are not tables"
        );
        let again = ZohoOrg::new(0);
        assert_eq!(
            org.module("Deals").map(|m| &m.rows),
            again.module("Deals").map(|m| &m.rows)
        );
        let deals = org
            .module("Deals")
            .map(|m| m.column("Amount").map(Column::to_json));
        assert_eq!(
            deals,
            Some(Some(
                json!({"name": "Amount", "type": "double", "xdm": {"type": "number"}})
            ))
        );
    }
}
