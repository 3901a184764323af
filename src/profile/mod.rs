//! The profile: its schema, loading (file, `${VAR}`, `PROVISION_<SECTION>__<KEY>`), validation
//! and the resolved, typed form the commands use. The only module that reads the environment for
//! configuration.
//!
//! Loading happens in four steps, all before any request is sent:
//! 1. the file is parsed with `toml`'s spanned parser, so that syntax errors carry a line and
//!    column ([`load`]);
//! 2. every key and value type is checked against the schema ([`schema`]; unknown keys get the
//!    nearest valid key suggested), and every `PROVISION_*__*` override is checked the same way
//!    (`walk`);
//! 3. the overrides are laid over the file's values (`raw`);
//! 4. `${VAR}` is interpolated and every value is checked (URLs, region, schedule rules, ...)
//!    (`validate`).
//!
//! Every problem found is reported at once (`report`), each with the file, line and column (or
//! the environment variable) it came from and the key it concerns. Values of secret keys are
//! never echoed.
//!
//! | file | holds |
//! |---|---|
//! | `types.rs` | the public, resolved types and the default values |
//! | `regions.rs` | Zoho's data centres |
//! | `schema.rs` | every key, its type, default and description; `provision profile-schema` |
//! | `load.rs` | finding, reading and parsing the file; the pipeline |
//! | `walk.rs` | the key and type check of the file and of the environment overrides |
//! | `raw.rs` | the file's values with the overrides laid over them |
//! | `validate.rs` | interpolation, defaults and value checks |
//! | `report.rs` | problems and their positions |
//! | `aep.rs` | a schedule to and from Flow Service's `scheduleParams` |
//! | `append.rs` | the `[[dataflows]]` entries `import` appends to a profile file (`toml_edit`) |

mod aep;
pub mod append;
mod load;
mod raw;
mod regions;
mod report;
mod schema;
mod types;
mod validate;
mod walk;

pub use aep::UnsupportedSchedule;
pub use load::{
    load, load_with_env, load_zoho_client, parse, process_env, resolve_path, secret_from_env,
    zoho_client_profile,
};
pub use regions::ZohoRegion;
pub use schema::json_schema;
pub use types::*;
pub use validate::{check_url, is_loopback};

#[cfg(test)]
mod tests {
    use url::Url;

    use super::report::{line_starts, nearest, position, Pos};
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "a = 1\nbé = 2\n";
        let lines = line_starts(text);
        assert_eq!(position(text, &lines, 0), Pos { line: 1, column: 1 });
        assert_eq!(position(text, &lines, 6), Pos { line: 2, column: 1 });
        assert_eq!(position(text, &lines, 10), Pos { line: 2, column: 4 });
        // Inside the two bytes of `é`: the character's own column.
        assert_eq!(position(text, &lines, 8), Pos { line: 2, column: 2 });
        assert_eq!(position(text, &lines, 999), Pos { line: 3, column: 1 });
        assert_eq!(
            position("", &line_starts(""), 0),
            Pos { line: 1, column: 1 }
        );
    }

    #[test]
    fn nearest_key_suggests_typos_only() {
        let keys = ["client_id", "client_secret", "scopes", "ims_url"];
        assert_eq!(
            nearest("client_secrt", keys.into_iter()),
            Some("client_secret")
        );
        assert_eq!(nearest("Client_ID", keys.into_iter()), Some("client_id"));
        assert_eq!(nearest("scope", keys.into_iter()), Some("scopes"));
        assert_eq!(nearest("zzz", keys.into_iter()), None);
    }

    #[test]
    fn loopback_rule() {
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        assert!(check_url("http://[::1]:1").is_ok());
        assert!(check_url("http://localhost").is_ok());
        assert!(check_url("https://platform.adobe.io").is_ok());
        assert!(check_url("http://platform.adobe.io").is_err());
        assert!(check_url("http://10.0.0.1").is_err());
        assert!(check_url("ftp://example.com").is_err());
        assert!(check_url("https://user:pw@example.com").is_err());
    }

    #[test]
    fn every_region_maps_to_its_servers() {
        for region in ZohoRegion::ALL {
            let accounts = Url::parse(region.accounts_url()).expect("valid url");
            assert_eq!(ZohoRegion::from_accounts_url(&accounts), Some(region));
            assert_eq!(ZohoRegion::parse(region.as_str()), Some(region));
            assert!(region.api_url().starts_with("https://www.zohoapis."));
        }
        assert_eq!(
            ZohoRegion::Ca.accounts_url(),
            "https://accounts.zohocloud.ca"
        );
        assert_eq!(ZohoRegion::parse("EU"), Some(ZohoRegion::Eu));
        assert_eq!(ZohoRegion::parse("de"), None);
    }
}
