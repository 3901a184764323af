//! Catalog datasets, Data Prep mapping sets and the Schema Registry lookup.

use crate::support;

use reqwest::Method;
use serde_json::{json, Value};
use support::*;

#[tokio::test]
async fn datasets_are_created_as_references_and_read_keyed_by_id() {
    let env = Env::start().await;
    let created = env
        .post(&format!("{CATALOG}/dataSets"), &dataset_body("Zoho Leads"))
        .await;
    assert_eq!(created.code(), 201);
    let reference = created.body[0].as_str().unwrap_or_default().to_owned();
    assert!(reference.starts_with("@/dataSets/"), "{}", created.body);
    let id = reference.trim_start_matches("@/dataSets/").to_owned();
    assert_eq!(id.len(), 24);
    assert_eq!(
        created.header("location"),
        Some(format!("{CATALOG}/dataSets/{id}"))
    );

    let got = env.get(&format!("{CATALOG}/dataSets/{id}")).await;
    let dataset = &got.body[&id];
    assert_eq!(dataset["name"], "Zoho Leads");
    assert_eq!(dataset["schemaRef"]["id"], SCHEMA);
    assert_eq!(dataset["imsOrg"], ORG);
    assert!(dataset["created"].as_i64().is_some());
    let trimmed = env
        .get(&format!(
            "{CATALOG}/dataSets/{id}?properties=name,schemaRef"
        ))
        .await;
    let keys: Vec<&String> = trimmed.body[&id]
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["name", "schemaRef"]);

    let seeded = env.get(&format!("{CATALOG}/dataSets/{SEED_DATASET}")).await;
    assert_eq!(
        seeded.body[SEED_DATASET]["name"],
        "Zoho Contacts (existing)"
    );
    let missing = env
        .get(&format!("{CATALOG}/dataSets/000000000000000000000000"))
        .await;
    assert_eq!(
        (missing.code(), missing.error_type()),
        (404, "CAT-1439-404".to_owned())
    );

    // Names are not unique; lookups compare schema too.
    env.dataset("Zoho Leads").await;
    let by_name = env
        .get(&format!(
            "{CATALOG}/dataSets?name=Zoho%20Leads&properties=name,schemaRef"
        ))
        .await;
    let found = by_name.body.as_object().cloned().unwrap_or_default();
    assert_eq!(found.len(), 2);
    assert!(found
        .values()
        .all(|d| d["schemaRef"]["id"] == SCHEMA && d.get("created").is_none()));
    let by_property = env
        .get(&format!("{CATALOG}/dataSets?property=name==Zoho%20Leads"))
        .await;
    assert_eq!(by_property.body.as_object().map(|o| o.len()), Some(2));
    let wildcard = env.get(&format!("{CATALOG}/dataSets?name=Zoho*")).await;
    assert_eq!(wildcard.body.as_object().map(|o| o.len()), Some(3));
    let regex = env
        .get(&format!("{CATALOG}/dataSets?property=name~%5EZoho%20C"))
        .await;
    assert_eq!(
        regex
            .body
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec![SEED_DATASET.to_owned()])
    );
    let negated = env
        .get(&format!("{CATALOG}/dataSets?name=!Zoho%20Leads"))
        .await;
    assert_eq!(negated.body.as_object().map(|o| o.len()), Some(1));
    assert_eq!(
        env.get(&format!("{CATALOG}/dataSets?property=!description"))
            .await
            .body
            .as_object()
            .map(|o| o.len()),
        Some(2)
    );

    let deleted = env.delete(&format!("{CATALOG}/dataSets/{id}")).await;
    assert_eq!(deleted.code(), 200);
    assert_eq!(
        env.get(&format!("{CATALOG}/dataSets/{id}")).await.code(),
        404
    );
}

#[tokio::test]
async fn dataset_lists_page_with_limit_and_start() {
    let env = Env::start().await;
    for i in 0..24 {
        env.dataset(&format!("ds-{i:02}")).await;
    }
    let default_page = env.get(&format!("{CATALOG}/dataSets")).await;
    assert_eq!(
        default_page.body.as_object().map(|o| o.len()),
        Some(20),
        "Catalog answers 20 by default"
    );
    let ordered = env
        .get(&format!(
            "{CATALOG}/dataSets?orderBy=desc:name&limit=3&start=1&properties=name"
        ))
        .await;
    let mut names: Vec<String> = ordered
        .body
        .as_object()
        .map(|o| {
            o.values()
                .filter_map(|d| d["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    // Descending by name: ds-23, ds-22, ..., ds-00, then the seeded "Zoho Contacts" (upper case
    // sorts before lower case); skip one, take three.
    assert_eq!(names, ["ds-20", "ds-21", "ds-22"]);
    assert_eq!(
        env.get(&format!("{CATALOG}/dataSets?limit=0")).await.code(),
        400
    );
    assert_eq!(
        env.get(&format!("{CATALOG}/dataSets?limit=101"))
            .await
            .code(),
        400
    );
}

#[tokio::test]
async fn dataset_bodies_need_a_known_schema() {
    let env = Env::start().await;
    let path = format!("{CATALOG}/dataSets");
    let mut unknown = dataset_body("x");
    unknown["schemaRef"]["id"] = json!("https://ns.adobe.com/acme/schemas/missing");
    let reply = env.post(&path, &unknown).await;
    assert_eq!(
        (reply.code(), reply.error_type()),
        (400, "CAT-1405-400".to_owned())
    );
    let mut no_ref = dataset_body("x");
    no_ref.as_object_mut().map(|b| b.remove("schemaRef"));
    assert_eq!(env.post(&path, &no_ref).await.error_type(), "CAT-1402-400");
    let mut bad_tags = dataset_body("x");
    bad_tags["tags"] = json!({"unifiedProfile": "enabled: true"});
    assert_eq!(env.post(&path, &bad_tags).await.code(), 400);
    let mut wrong_type = dataset_body("x");
    wrong_type["schemaRef"]["contentType"] = json!("application/json");
    assert_eq!(env.post(&path, &wrong_type).await.code(), 400);
    // The older crm.md content type is accepted (docs/aep-api.md#disagreements #12), and so are profile tags.
    let mut full_notext = dataset_body("x");
    full_notext["schemaRef"]["contentType"] =
        json!("application/vnd.adobe.xed-full-notext+json; version=1");
    full_notext["tags"] = json!({"unifiedProfile": ["enabled: true"]});
    assert_eq!(
        env.post(&format!("{path}?requestDataSource=true"), &full_notext)
            .await
            .code(),
        201
    );
    assert_eq!(env.emulator.datasets("prod").len(), 2);
}

#[tokio::test]
async fn mapping_sets_are_created_with_200_and_read_back() {
    let env = Env::start().await;
    let path = format!("{PREP}/mappingSets");
    let mut body = mapping_body(&["Email", "First_Name"]);
    body["name"] = json!("zoho-leads-v1");
    let created = env.post(&path, &body).await;
    assert_eq!(created.code(), 200, "Data Prep answers 200, not 201");
    let id = created.body["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(created.body["version"], 0);
    assert!(created.body["createdDate"].as_i64().is_some());

    let got = env.get(&format!("{path}/{id}")).await;
    assert_eq!(got.body["id"], id.as_str());
    assert_eq!(got.body["name"], "zoho-leads-v1");
    assert_eq!(got.body["outputSchema"]["schemaRef"]["id"], SCHEMA);
    let mapping = &got.body["mappings"][0];
    assert_eq!(
        (
            mapping["sourceType"].clone(),
            mapping["source"].clone(),
            mapping["destination"].clone()
        ),
        (
            json!("ATTRIBUTE"),
            json!("Email"),
            json!("_acme.zoho.Email")
        )
    );
    assert_eq!(env.get(&format!("{path}/{id}?version=0")).await.code(), 200);
    assert_eq!(env.get(&format!("{path}/{id}?version=1")).await.code(), 404);
    assert_eq!(env.get(&format!("{path}/0123")).await.code(), 404);

    // The legacy form of crm.md (docs/aep-api.md#disagreements #11).
    let legacy = json!({
        "version": 0, "xdmSchema": SCHEMA, "xdmVersion": "1.0", "id": null,
        "mappings": [{"destinationXdmPath": "person.name.firstName", "sourceAttribute": "First_Name", "identity": false, "identityGroup": null, "namespaceCode": null, "version": 0}]
    });
    let created = env.post(&path, &legacy).await;
    assert_eq!(created.code(), 200, "{}", created.body);
    let legacy_id = created.body["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        env.get(&format!("{path}/{legacy_id}")).await.body["mappings"][0]["source"],
        "First_Name"
    );

    // limit and start take data-prep.yaml's defaults (10, 0) when left out (issue 17); name filters.
    let defaults = env.get(&path).await;
    assert_eq!(defaults.code(), 200, "{}", defaults.body);
    assert_eq!(defaults.body["_page"]["limit"], 10);
    let named = env
        .get(&format!("{path}?limit=10&start=0&name=zoho-leads-v1"))
        .await;
    assert_eq!(named.body["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(named.body["_page"], json!({"count": 1, "limit": 10}));
    // data-prep.yaml sets no maximum; the emulator caps pages and says so in `_page.limit`.
    let capped = env.get(&format!("{path}?limit=5000&start=0")).await;
    assert_eq!(capped.body["_page"]["limit"], 1000);
    let paged = env.get(&format!("{path}?limit=1&start=0")).await;
    assert_eq!(paged.body["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        paged.body["_links"]["next"]["href"],
        "/mappingSets?limit=1&start=1"
    );
    assert_eq!(env.emulator.mapping_sets("prod").len(), 2);
}

#[tokio::test]
async fn invalid_mapping_sets_are_refused() {
    let env = Env::start().await;
    let path = format!("{PREP}/mappingSets");
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"mappings": [{"sourceType": "ATTRIBUTE", "source": "a", "destination": "b"}]}),
            "outputSchema",
        ),
        (
            json!({"outputSchema": {"schemaRef": {"id": "https://ns.adobe.com/acme/schemas/missing"}}, "mappings": [{"sourceType": "ATTRIBUTE", "source": "a", "destination": "b"}]}),
            "does not exist",
        ),
        (
            json!({"outputSchema": {"schemaRef": {"id": SCHEMA}}, "mappings": []}),
            "at least one",
        ),
        (
            json!({"outputSchema": {"schemaRef": {"id": SCHEMA}}, "mappings": [{"sourceType": "attribute", "source": "a", "destination": "b"}]}),
            "sourceType",
        ),
        (
            json!({"outputSchema": {"schemaRef": {"id": SCHEMA}}, "mappings": [{"sourceType": "ATTRIBUTE", "source": "a", "destination": ""}]}),
            "destination",
        ),
        (
            json!({"outputSchema": {"schemaRef": {"id": SCHEMA}}, "mappings": [{"sourceType": "ATTRIBUTE", "source": "a"}]}),
            "destination",
        ),
    ];
    for (body, needle) in cases {
        let reply = env.post(&path, &body).await;
        assert_eq!(reply.code(), 400, "{body}");
        assert!(
            reply.error_type().starts_with("MAPPER-14"),
            "{}",
            reply.body
        );
        let message = reply.body["report"]["detailed-message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(needle), "{needle} in {message}");
    }
    assert!(env.emulator.mapping_sets("prod").is_empty());
}

#[tokio::test]
async fn mapped_columns_are_validated_against_an_input_schema() {
    let env = Env::start().await;
    let mut body = mapping_body(&["Email", "Nickname"]);
    body["inputSchema"] = json!({"jsonSchema": {"type": "object", "properties": {"Email": {"type": "string"}, "First_Name": {"type": "string"}}}});
    let validated = env
        .post(&format!("{PREP}/mappingSets/validate"), &body)
        .await;
    assert_eq!(validated.code(), 200);
    let results = validated.body["validationResponse"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results[0], json!({"status": "SUCCESS", "errors": null}));
    assert_eq!(results[1]["status"], "FAILED");
    assert_eq!(results[1]["errors"][0]["source"], "Nickname");
    let refused = env.post(&format!("{PREP}/mappingSets"), &body).await;
    assert_eq!(refused.code(), 400);
    assert!(refused.body["report"]["detailed-message"]
        .as_str()
        .is_some_and(|m| m.contains("Nickname")));
    assert!(
        env.emulator.mapping_sets("prod").is_empty(),
        "validate never stores"
    );
}

#[tokio::test]
async fn the_schema_registry_knows_the_seeded_schema() {
    let env = Env::start().await;
    let encoded: String = url::form_urlencoded::byte_serialize(SCHEMA.as_bytes()).collect();
    let path = format!("/data/foundation/schemaregistry/tenant/schemas/{encoded}");
    let accept = "application/vnd.adobe.xed+json;version=1";
    let found = env
        .send(env.adobe(Method::GET, &path).header("Accept", accept))
        .await;
    assert_eq!(found.code(), 200);
    assert_eq!(found.body["$id"], SCHEMA);
    assert_eq!(found.body["meta:altId"], "_acme.schemas.zoho_crm");
    let by_alt = env
        .send(
            env.adobe(
                Method::GET,
                "/data/foundation/schemaregistry/tenant/schemas/_acme.schemas.zoho_crm",
            )
            .header("Accept", accept),
        )
        .await;
    assert_eq!(by_alt.code(), 200);
    let other: String =
        url::form_urlencoded::byte_serialize(b"https://ns.adobe.com/acme/schemas/other").collect();
    let missing = env
        .send(
            env.adobe(
                Method::GET,
                &format!("/data/foundation/schemaregistry/tenant/schemas/{other}"),
            )
            .header("Accept", accept),
        )
        .await;
    assert_eq!(missing.code(), 404);
    let no_accept = env.get(&path).await;
    assert_eq!(no_accept.code(), 406);
    let no_auth = env
        .send(env.http.get(env.url(&path)).header("Accept", accept))
        .await;
    assert_eq!(no_auth.body["error_code"], "403010");
}
