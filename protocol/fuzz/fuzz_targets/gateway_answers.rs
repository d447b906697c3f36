//! Any text a payment gateway or an identity provider could send the citizen portal: the
//! VNPay return and IPN query strings and its query API's answer, the provider's key set and an
//! ID token. Checking never panics, and no token verifies without a key.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use gateways::{oidc, vnpay};

const SECRET: &[u8] = b"the merchant's hash secret, 32 b";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // A return or IPN query string, split as the portal's extractor does.
    let params: BTreeMap<String, String> = text
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let _ = vnpay::verify(SECRET, &params);
    if let Some(time) = params.get("vnp_PayDate") {
        let _ = vnpay::parse_time(time);
    }
    if let Ok(answer) = serde_json::from_slice::<vnpay::QueryResponse>(data) {
        let _ = answer.verify(SECRET);
    }
    // A key set and a token against it.
    if let Ok(keys) = serde_json::from_slice::<oidc::JwkSet>(data) {
        let _ = oidc::verify::<serde_json::Value>("e30.e30.e30", &keys);
    }
    let keys = oidc::JwkSet { keys: Vec::new() };
    assert!(oidc::verify::<serde_json::Value>(&text, &keys).is_err(), "no key, no token");
});
