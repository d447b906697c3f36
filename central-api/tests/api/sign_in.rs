//! Sign-in under attack: a username that failed too often waits before its next attempt
//! (registered or not, alike), an officer's account failed too often in a row is locked until
//! an administrator unlocks it, one client address trying many usernames waits too, passwords
//! are checked only so many at a time, every failure at an officer's account is in the audit
//! log with its address, and a session left idle ends.

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use central_api::{
    audit::AuditLog,
    auth::Role,
    config::ReviewSettings,
    db::officers,
    sealed::{SealingKey, is_sealed},
};
use serde_json::json;
use service_kit::http::ClientAddr;
use tower::ServiceExt;

use crate::{
    helpers::{TestDb, on_both_engines, raw},
    review::{PASSWORD, World, json_request, world_with},
};

/// A sign-in attempt: its status, error code and `Retry-After`.
async fn attempt(w: &World, username: &str, password: &str) -> (StatusCode, String, Option<u64>) {
    attempt_from(w, None, username, password).await
}

/// A sign-in attempt from `client`, as the server marks each request it serves with the
/// address it came from.
async fn attempt_from(
    w: &World,
    client: Option<&str>,
    username: &str,
    password: &str,
) -> (StatusCode, String, Option<u64>) {
    let mut request = json_request(
        "POST",
        "/api/v1/session",
        json!({ "username": username, "password": password }),
    );
    if let Some(client) = client {
        request
            .extensions_mut()
            .insert(ClientAddr(client.parse().unwrap()));
    }
    send(w, request).await
}

/// Sends a sign-in request: its status, error code and `Retry-After`.
async fn send(w: &World, request: Request<Body>) -> (StatusCode, String, Option<u64>) {
    let response = w.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let retry = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let code = serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default()["error"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    (status, code, retry)
}

async fn actions(w: &World, username: &str) -> Vec<String> {
    AuditLog::new(w.db.clone())
        .for_subject(&format!("officer:{username}"))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

const WRONG: &str = "not the password at all";

async fn a_name_that_failed_too_often_waits_known_or_not(t: &TestDb) {
    let w = world_with(
        t,
        ReviewSettings {
            sign_in_free_attempts: 2,
            sign_in_delay_s: 60,
            ..ReviewSettings::default()
        },
    )
    .await;
    for name in ["reviewer", "nobody"] {
        for _ in 0..2 {
            let (status, code, _) = attempt(&w, name, WRONG).await;
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::UNAUTHORIZED, "bad_credentials")
            );
        }
        // The third attempt waits, even with the right password, and says how long.
        let (status, code, retry) = attempt(&w, name, PASSWORD).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            "{name}"
        );
        assert!(
            retry.is_some_and(|s| (1..=60).contains(&s)),
            "{name}: {retry:?}"
        );
    }
    // Another officer is not held up by them.
    let (status, _, _) = attempt(&w, "supervisor", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    // Each failure at a real account is audited; the throttled attempt checked nothing.
    let audited = actions(&w, "reviewer").await;
    let failed = audited
        .iter()
        .filter(|a| *a == "officer.sign_in_failed")
        .count();
    assert_eq!(failed, 2, "{audited:?}");
    assert!(
        !audited.iter().any(|a| a == "officer.signed_in"),
        "{audited:?}"
    );
}

async fn an_address_trying_many_names_waits_whatever_name_it_tries_next(t: &TestDb) {
    let w = world_with(
        t,
        ReviewSettings {
            sign_in_free_attempts: 3,
            sign_in_address_free_attempts: 4,
            sign_in_delay_s: 60,
            ..ReviewSettings::default()
        },
    )
    .await;
    let sprayer = Some("203.0.113.66");
    // One guess at each of four names: no name has failed twice, the address four times.
    for name in ["reviewer", "supervisor", "admin", "nobody"] {
        let (status, code, _) = attempt_from(&w, sprayer, name, WRONG).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNAUTHORIZED, "bad_credentials"),
            "{name}"
        );
    }
    // The next attempt from that address waits, at any name, even with the right password.
    let (status, code, retry) = attempt_from(&w, sprayer, "auditor", PASSWORD).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
    );
    assert!(retry.is_some_and(|s| (1..=60).contains(&s)), "{retry:?}");
    // An officer at another address signs in as ever, at a name the sprayer tried too.
    let (status, _, _) = attempt_from(&w, Some("198.51.100.20"), "reviewer", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    // The failure at a real account is audited with the address it came from.
    let entries = AuditLog::new(w.db.clone())
        .for_subject("officer:supervisor")
        .await
        .unwrap();
    let failed = entries
        .iter()
        .find(|e| e.action == "officer.sign_in_failed")
        .expect("audited");
    assert_eq!(
        failed.details["address"], "203.0.113.66",
        "{:?}",
        failed.details
    );
}

async fn an_account_failed_too_often_is_locked_until_an_administrator_unlocks_it(t: &TestDb) {
    let w = world_with(
        t,
        ReviewSettings {
            sign_in_free_attempts: 100,
            sign_in_lock_after: 3,
            ..ReviewSettings::default()
        },
    )
    .await;
    let admin = w.sign_in(Role::Admin).await;
    for _ in 0..3 {
        assert_eq!(
            attempt(&w, "reviewer", WRONG).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked: the right password is refused as a wrong one is, telling nothing more.
    let (status, code, _) = attempt(&w, "reviewer", PASSWORD).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "bad_credentials")
    );
    let audited = actions(&w, "reviewer").await;
    assert!(
        audited.contains(&"officer.locked".to_owned()),
        "{audited:?}"
    );
    // Only an administrator unlocks it.
    let supervisor = w.sign_in(Role::Supervisor).await;
    let (status, _) = w
        .call(supervisor.post("/api/v1/officers/reviewer/unlock", json!({})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = w
        .call(admin.post("/api/v1/officers/reviewer/unlock", json!({})))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = w
        .call(admin.post("/api/v1/officers/reviewer/unlock", json!({})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not locked any more");
    assert_eq!(attempt(&w, "reviewer", PASSWORD).await.0, StatusCode::OK);
    // The count starts again: one failure does not lock it again.
    assert_eq!(
        attempt(&w, "reviewer", WRONG).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(attempt(&w, "reviewer", PASSWORD).await.0, StatusCode::OK);
    let audited = actions(&w, "reviewer").await;
    assert!(
        audited.contains(&"officer.unlocked".to_owned()),
        "{audited:?}"
    );
}

async fn passwords_beyond_the_cap_are_refused_at_once(t: &TestDb) {
    let w = world_with(
        t,
        ReviewSettings {
            sign_in_max_concurrent: 1,
            ..ReviewSettings::default()
        },
    )
    .await;
    let tries = Role::ALL.map(|role| {
        let app = w.app.clone();
        let request = Request::post("/api/v1/session")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({ "username": role.as_str(), "password": PASSWORD }).to_string(),
            ))
            .unwrap();
        async move { app.oneshot(request).await.unwrap() }
    });
    let responses = futures_util::future::join_all(tries).await;
    let statuses: Vec<StatusCode> = responses.iter().map(|r| r.status()).collect();
    assert!(statuses.contains(&StatusCode::OK), "{statuses:?}");
    let busy: Vec<_> = responses
        .iter()
        .filter(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!busy.is_empty(), "{statuses:?}");
    assert!(
        busy.iter()
            .all(|r| r.headers().contains_key(header::RETRY_AFTER))
    );
}

async fn a_session_left_idle_ends_and_one_in_use_goes_on(t: &TestDb) {
    let w = world_with(
        t,
        ReviewSettings {
            session_idle_s: 2,
            ..ReviewSettings::default()
        },
    )
    .await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let queue = || reviewer.get("/api/v1/violations");
    // Used every 1.2 s, it outlives the 2 s idle limit ...
    for _ in 0..3 {
        assert_eq!(w.call(queue()).await.0, StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    }
    assert_eq!(w.call(queue()).await.0, StatusCode::OK);
    // ... and left alone longer than that, it has ended.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(w.call(queue()).await.0, StatusCode::UNAUTHORIZED);
}

/// A world whose sealing key is in a file of its own (kept while the `TempDir` lives), with
/// `roles` signing in only with a second factor.
async fn world_with_key(t: &TestDb, roles: Vec<String>) -> (World, SealingKey, tempfile::TempDir) {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("secrets.key");
    let key = SealingKey::load(&key_file, true).unwrap().unwrap();
    let w = world_with(
        t,
        ReviewSettings {
            second_factor_roles: roles,
            secrets_key_file: key_file,
            ..ReviewSettings::default()
        },
    )
    .await;
    (w, key, keys)
}

/// A sign-in with the right password and `otp`: status and error code.
async fn attempt_with(w: &World, username: &str, otp: Option<&str>) -> (StatusCode, String) {
    let request = json_request(
        "POST",
        "/api/v1/session",
        json!({ "username": username, "password": PASSWORD, "otp": otp }),
    );
    let (status, code, _) = send(w, request).await;
    (status, code)
}

/// An officer with a second factor signs in only with the code their app shows now, and each
/// code once; a role that requires one refuses an officer without it; every refusal is audited.
async fn a_second_factor_is_asked_of_those_who_have_one_and_each_code_is_good_once(t: &TestDb) {
    let (w, key, _keys) = world_with_key(t, vec!["admin".into()]).await;
    // An administrator without a second factor: the right password is not enough.
    assert_eq!(
        attempt_with(&w, "admin", None).await,
        (StatusCode::FORBIDDEN, "second_factor_not_enrolled".into())
    );
    let secret = central_api::totp::new_secret().unwrap();
    let sealed = key
        .seal(&secret, &officers::totp_owner("supervisor"))
        .unwrap();
    assert!(
        officers::set_totp(&w.db, "supervisor", Some(&sealed))
            .await
            .unwrap()
    );
    let bytes = central_api::totp::from_base32(&secret).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let code_at = |unix: i64| {
        format!(
            "{:06}",
            central_api::totp::code(&bytes, central_api::totp::step_of(unix), 6)
        )
    };
    let unauthorized = (StatusCode::UNAUTHORIZED, "bad_credentials".to_owned());
    assert_eq!(attempt_with(&w, "supervisor", None).await, unauthorized);
    assert_eq!(
        attempt_with(&w, "supervisor", Some(&code_at(now - 600))).await,
        unauthorized,
        "a code of ten minutes ago"
    );
    let code = code_at(now);
    assert_eq!(
        attempt_with(&w, "supervisor", Some(&code)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        attempt_with(&w, "supervisor", Some(&code)).await,
        unauthorized,
        "the same code again"
    );
    let failures: Vec<String> = actions(&w, "supervisor")
        .await
        .into_iter()
        .filter(|a| a == "officer.sign_in_failed")
        .collect();
    assert_eq!(failures.len(), 3);
    assert!(
        actions(&w, "admin")
            .await
            .contains(&"officer.sign_in_failed".to_owned())
    );
    // Without one, the others sign in as before.
    assert_eq!(attempt_with(&w, "reviewer", None).await.0, StatusCode::OK);
}

/// The database never holds a second factor's secret in the clear: whoever reads a backup
/// cannot make an officer's codes. A secret kept in the clear by an earlier version is sealed
/// at start; a sealed one moved to another officer's row opens for nobody (another key opens
/// nothing either: `central_api::sealed`'s tests).
async fn second_factor_secrets_are_sealed_at_rest_and_open_only_in_their_own_row(t: &TestDb) {
    let (w, key, _keys) = world_with_key(t, Vec::new()).await;
    let secret = central_api::totp::new_secret().unwrap();
    let stored = |username: &'static str| {
        let db = w.db.clone();
        async move {
            officers::find(&db, username)
                .await
                .unwrap()
                .unwrap()
                .totp_secret
                .unwrap()
        }
    };
    // As an earlier version kept it: in the clear.
    raw(
        &w.db,
        &format!("UPDATE officers SET totp_secret = '{secret}' WHERE username = 'supervisor'"),
    )
    .await
    .unwrap();
    assert_eq!(
        officers::reseal_totp(&w.db, &key).await.unwrap().from_clear,
        1
    );
    assert_eq!(
        officers::reseal_totp(&w.db, &key).await.unwrap(),
        Default::default()
    );
    let sealed = stored("supervisor").await;
    assert!(is_sealed(&sealed) && !sealed.contains(&secret), "{sealed}");
    let bytes = central_api::totp::from_base32(&secret).unwrap();
    let code_now = || {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let step = central_api::totp::step_of(now);
        format!("{:06}", central_api::totp::code(&bytes, step, 6))
    };
    assert_eq!(
        attempt_with(&w, "supervisor", Some(&code_now())).await.0,
        StatusCode::OK
    );
    // The supervisor's sealed secret copied into the administrator's row opens there for
    // nobody: the administrator cannot sign in with the supervisor's codes.
    raw(
        &w.db,
        &format!("UPDATE officers SET totp_secret = '{sealed}' WHERE username = 'admin'"),
    )
    .await
    .unwrap();
    assert_eq!(
        attempt_with(&w, "admin", Some(&code_now())).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "second_factor_unavailable".to_owned()
        )
    );
}

/// The sealing key is rotated: a second factor sealed under the former key still opens while
/// that key is named in `review.old_secrets_key_files`, and once sealed again under the new key
/// it opens without it.
async fn a_second_factor_sealed_under_a_rotated_key_still_opens(t: &TestDb) {
    let keys = tempfile::tempdir().unwrap();
    let (old_file, new_file) = (keys.path().join("old.key"), keys.path().join("new.key"));
    let old = SealingKey::load(&old_file, true).unwrap().unwrap();
    let new = SealingKey::load(&new_file, true).unwrap().unwrap();
    let settings = ReviewSettings {
        secrets_key_file: new_file,
        old_secrets_key_files: vec![old_file],
        ..ReviewSettings::default()
    };
    let w = world_with(t, settings.clone()).await;
    let secret = central_api::totp::new_secret().unwrap();
    let sealed = old
        .seal(&secret, &officers::totp_owner("supervisor"))
        .unwrap();
    raw(
        &w.db,
        &format!(
            "UPDATE officers SET totp_secret = '{}' WHERE username = 'supervisor'",
            sealed.as_str()
        ),
    )
    .await
    .unwrap();
    let bytes = central_api::totp::from_base32(&secret).unwrap();
    let code_at = |offset: i64| {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let step = central_api::totp::step_of(now) + offset;
        format!("{:06}", central_api::totp::code(&bytes, step, 6))
    };
    assert_eq!(
        attempt_with(&w, "supervisor", Some(&code_at(0))).await.0,
        StatusCode::OK
    );
    let rotated = central_api::sealed::configured(&settings, false)
        .unwrap()
        .unwrap();
    assert_eq!(
        officers::reseal_totp(&w.db, &rotated)
            .await
            .unwrap()
            .from_former,
        1
    );
    // The former key dropped from the settings: the new key alone opens it (the next step's
    // code, as each code is good once).
    let w = world_with(
        t,
        ReviewSettings {
            old_secrets_key_files: Vec::new(),
            ..settings
        },
    )
    .await;
    let stored = officers::find(&w.db, "supervisor")
        .await
        .unwrap()
        .unwrap()
        .totp_secret
        .unwrap();
    assert_eq!(
        new.open(&stored, &officers::totp_owner("supervisor"))
            .unwrap(),
        secret
    );
    assert_eq!(
        attempt_with(&w, "supervisor", Some(&code_at(1))).await.0,
        StatusCode::OK
    );
}

on_both_engines!(
    a_second_factor_is_asked_of_those_who_have_one_and_each_code_is_good_once,
    second_factor_secrets_are_sealed_at_rest_and_open_only_in_their_own_row,
    a_second_factor_sealed_under_a_rotated_key_still_opens,
    a_session_left_idle_ends_and_one_in_use_goes_on,
    a_name_that_failed_too_often_waits_known_or_not,
    an_address_trying_many_names_waits_whatever_name_it_tries_next,
    an_account_failed_too_often_is_locked_until_an_administrator_unlocks_it,
    passwords_beyond_the_cap_are_refused_at_once,
);
