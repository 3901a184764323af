//! The Schema Registry, read only: whether the target XDM schema exists (`check`, `apply`).

use serde::de::IgnoredAny;

use super::specs::XED_CONTENT_TYPE;
use super::{AepClient, ApiError, Query, Service};

/// `GET /tenant/schemas/{url-encoded $id}` with `Accept: application/vnd.adobe.xed+json;version=1`;
/// `false` on 404. Only tenant schemas are looked up: a dataflow target is always one.
pub async fn schema_exists(client: &AepClient, schema_id: &str) -> Result<bool, ApiError> {
    let path = format!("/tenant/schemas/{}", encode_segment(schema_id));
    let found: Option<IgnoredAny> = client
        .get_opt_accept(
            Service::SchemaRegistry,
            &path,
            &Query::new(),
            XED_CONTENT_TYPE,
        )
        .await?;
    Ok(found.is_some())
}

/// Percent-encodes everything but unreserved characters, so a `$id` URI (`https://...`) is one
/// path segment.
fn encode_segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        // form encoding writes a space as `+`; a literal `+` is already `%2B`.
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_ids_become_one_path_segment() {
        assert_eq!(
            encode_segment("https://ns.adobe.com/acme/schemas/zoho crm+1"),
            "https%3A%2F%2Fns.adobe.com%2Facme%2Fschemas%2Fzoho%20crm%2B1"
        );
    }
}
