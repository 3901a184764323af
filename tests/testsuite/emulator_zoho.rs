//! Zoho Accounts and CRM as docs/zoho-oauth.md describes them: HTTP 200 errors, single-use grant
//! codes that expire, refresh responses without a refresh token, throttling, data centres,
//! the 20-refresh-token cap, and `GET /crm/v8/settings/modules`.

use crate::support;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;

async fn token(env: &Env, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let reply = env.send(env.http.post(env.url(path)).form(form)).await;
    (reply.code(), reply.body)
}

async fn exchange(env: &Env, code: &str) -> (u16, Value) {
    token(
        env,
        "/oauth/v2/token",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", ZOHO_CLIENT_ID),
            ("client_secret", ZOHO_SECRET),
            ("code", code),
        ],
    )
    .await
}

async fn refresh(env: &Env, refresh_token: &str) -> (u16, Value) {
    token(
        env,
        "/oauth/v2/token",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", ZOHO_CLIENT_ID),
            ("client_secret", ZOHO_SECRET),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn modules(env: &Env, authorization: Option<&str>) -> support::Reply {
    let mut request = env.http.get(env.url("/crm/v8/settings/modules"));
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    env.send(request).await
}

#[tokio::test]
async fn a_grant_code_is_exchanged_once_for_access_and_refresh_tokens() {
    let env = Env::start().await;
    let code = env.emulator.mint_grant_code();
    let (status, body) = exchange(&env, &code).await;
    assert_eq!(status, 200);
    for key in ["access_token", "refresh_token", "scope"] {
        assert!(
            body[key].as_str().is_some_and(|v| !v.is_empty()),
            "{key} in {body}"
        );
    }
    assert_eq!(body["api_domain"], env.emulator.url());
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);

    assert_eq!(
        exchange(&env, &code).await,
        (200, json!({"error": "invalid_code"})),
        "codes are single use"
    );
    assert_eq!(
        exchange(&env, "1000.made.up").await,
        (200, json!({"error": "invalid_code"}))
    );

    let new_refresh = body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (status, refreshed) = refresh(&env, &new_refresh).await;
    assert_eq!(status, 200);
    assert!(refreshed["access_token"].is_string());
    assert!(
        refreshed.get("refresh_token").is_none(),
        "Zoho does not rotate refresh tokens: {refreshed}"
    );
}

#[tokio::test]
async fn grant_codes_expire_after_three_minutes() {
    let env = Env::start().await;
    let code = env.emulator.mint_grant_code();
    env.emulator.advance_clock(Duration::from_secs(181));
    assert_eq!(
        exchange(&env, &code).await,
        (200, json!({"error": "invalid_code"}))
    );
}

#[tokio::test]
async fn client_and_redirect_errors_are_http_200_with_an_error_key() {
    let env = Env::start().await;
    let code = env
        .emulator
        .mint_grant_code_for(Some("https://app.example/callback"), None);
    let base = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut form: Vec<(&str, &str)> = base.to_vec();
        form.extend_from_slice(extra);
        form
    };
    let wrong_secret = with(&[
        ("client_id", ZOHO_CLIENT_ID),
        ("client_secret", "bad"),
        ("redirect_uri", "https://app.example/callback"),
    ]);
    assert_eq!(
        token(&env, "/oauth/v2/token", &wrong_secret).await,
        (200, json!({"error": "invalid_client_secret"}))
    );
    let unknown_client = with(&[("client_id", "1000.OTHER"), ("client_secret", ZOHO_SECRET)]);
    assert_eq!(
        token(&env, "/oauth/v2/token", &unknown_client).await,
        (200, json!({"error": "invalid_client"}))
    );
    let other_redirect = with(&[
        ("client_id", ZOHO_CLIENT_ID),
        ("client_secret", ZOHO_SECRET),
        ("redirect_uri", "https://app.example/callback/"),
    ]);
    assert_eq!(
        token(&env, "/oauth/v2/token", &other_redirect).await,
        (200, json!({"error": "invalid_redirect_uri"}))
    );
    // The failed attempts did not use the code up.
    let right = with(&[
        ("client_id", ZOHO_CLIENT_ID),
        ("client_secret", ZOHO_SECRET),
        ("redirect_uri", "https://app.example/callback"),
    ]);
    let (status, body) = token(&env, "/oauth/v2/token", &right).await;
    assert_eq!(status, 200);
    assert!(body["refresh_token"].is_string(), "{body}");

    // The seeded client lives in the US data centre; other data centres do not know it.
    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("client_id", ZOHO_CLIENT_ID),
        ("client_secret", ZOHO_SECRET),
        ("refresh_token", ZOHO_REFRESH),
    ];
    assert_eq!(
        token(&env, "/dc/eu/oauth/v2/token", &refresh_form).await,
        (200, json!({"error": "invalid_client"}))
    );
    assert_eq!(
        token(&env, "/dc/us/oauth/v2/token", &refresh_form).await.0,
        200
    );
    assert_eq!(
        token(&env, "/dc/xx/oauth/v2/token", &refresh_form).await.0,
        404
    );
    assert_eq!(
        refresh(&env, "1000.unknown.token").await,
        (200, json!({"error": "invalid_code"}))
    );

    // Parameters may also come as a query string on a POST with an empty body.
    let query = format!(
        "/oauth/v2/token?grant_type=refresh_token&client_id={ZOHO_CLIENT_ID}&client_secret={ZOHO_SECRET}&refresh_token={ZOHO_REFRESH}"
    );
    let reply = env.send(env.http.post(env.url(&query))).await;
    assert!(reply.body["access_token"].is_string());
}

#[tokio::test]
async fn more_than_ten_refreshes_in_ten_minutes_are_throttled() {
    let env = Env::start().await;
    for _ in 0..10 {
        assert!(refresh(&env, ZOHO_REFRESH).await.1["access_token"].is_string());
    }
    let (status, body) = refresh(&env, ZOHO_REFRESH).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "error_description": "You have made too many requests continuously. Please try again after some time.",
            "error": "Access Denied",
            "status": "failure",
        })
    );
    env.emulator.advance_clock(Duration::from_secs(601));
    assert!(
        refresh(&env, ZOHO_REFRESH).await.1["access_token"].is_string(),
        "the window has passed"
    );
}

#[tokio::test]
async fn the_twenty_first_refresh_token_evicts_the_oldest() {
    let env = Env::start().await;
    let mut tokens = Vec::new();
    for _ in 0..20 {
        let (_, body) = exchange(&env, &env.emulator.mint_grant_code()).await;
        tokens.push(
            body["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    // The seeded token was the oldest of 21.
    assert_eq!(
        refresh(&env, ZOHO_REFRESH).await.1,
        json!({"error": "invalid_code"})
    );
    assert!(refresh(&env, &tokens[0]).await.1["access_token"].is_string());
}

#[tokio::test]
async fn crm_modules_need_a_zoho_oauthtoken_with_the_right_scope() {
    let env = Env::start().await;
    let (_, body) = refresh(&env, ZOHO_REFRESH).await;
    let access = body["access_token"].as_str().unwrap_or_default().to_owned();

    let listed = modules(&env, Some(&format!("Zoho-oauthtoken {access}"))).await;
    assert_eq!(listed.code(), 200);
    let all = listed.body["modules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let api: Vec<&str> = all
        .iter()
        .filter(|m| m["api_supported"] == true)
        .filter_map(|m| m["api_name"].as_str())
        .collect();
    for module in SEEDED_MODULES {
        assert!(api.contains(&module), "{module} in {api:?}");
    }
    assert!(
        all.iter().any(|m| m["api_supported"] == false),
        "UI-only modules are listed too"
    );
    let events = all
        .iter()
        .find(|m| m["api_name"] == "Events")
        .cloned()
        .unwrap_or_default();
    assert_eq!(events["module_name"], "Meetings");
    for key in ["id", "singular_label", "plural_label", "generated_type"] {
        assert!(events[key].is_string(), "{key}");
    }

    let missing = modules(&env, None).await;
    assert_eq!(
        (missing.code(), missing.body["code"].clone()),
        (401, json!("AUTHENTICATION_FAILURE"))
    );
    let invalid = modules(&env, Some("Zoho-oauthtoken 1000.nope")).await;
    assert_eq!(invalid.code(), 401);
    assert_eq!(
        invalid.body,
        json!({"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"})
    );
    let bearer = modules(&env, Some(&format!("Bearer {access}"))).await;
    assert_eq!(
        bearer.body["code"], "INVALID_TOKEN",
        "the documented prefix is Zoho-oauthtoken"
    );

    env.emulator.advance_clock(Duration::from_secs(3601));
    let expired = modules(&env, Some(&format!("Zoho-oauthtoken {access}"))).await;
    assert_eq!(
        expired.body["code"], "INVALID_TOKEN",
        "access tokens live one hour"
    );

    // A grant without the settings scope mints tokens that the modules API refuses.
    let code = env
        .emulator
        .mint_grant_code_for(None, Some("ZohoCRM.modules.READ"));
    let (_, body) = exchange(&env, &code).await;
    let narrow = body["access_token"].as_str().unwrap_or_default().to_owned();
    let mismatch = modules(&env, Some(&format!("Zoho-oauthtoken {narrow}"))).await;
    assert_eq!(mismatch.code(), 401);
    assert_eq!(mismatch.body["code"], "OAUTH_SCOPE_MISMATCH");
}

#[tokio::test]
async fn revoking_a_refresh_token_makes_it_invalid() {
    let env = Env::start().await;
    let revoke = env
        .send(
            env.http
                .post(env.url("/oauth/v2/token/revoke"))
                .form(&[("token", ZOHO_REFRESH)]),
        )
        .await;
    assert_eq!(
        (revoke.code(), revoke.body.clone()),
        (200, json!({"status": "success"}))
    );
    assert_eq!(
        refresh(&env, ZOHO_REFRESH).await.1,
        json!({"error": "invalid_code"})
    );
    let again = env
        .send(
            env.http
                .post(env.url("/oauth/v2/token/revoke"))
                .form(&[("token", ZOHO_REFRESH)]),
        )
        .await;
    assert_eq!(again.code(), 400);
}
