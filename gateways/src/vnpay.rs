//! The VNPay payment gateway protocol, version 2.1.0, as both sides speak it: the merchant
//! (citizen-notify) and the gateway (the sandbox that stands in for VNPay in tests and the
//! demo). No I/O here, only the messages and their checksums.
//!
//! - Payment URL, return URL and IPN: the `vnp_*` parameters sorted by name, each
//!   `name=value` with the value form-urlencoded (space as `+`), joined by `&`; the checksum
//!   `vnp_SecureHash` is the hex HMAC-SHA512 of that string under the merchant's hash secret.
//!   Empty values take no part.
//! - Query (`querydr`) and its answer: JSON, the checksum over named fields joined by `|`.
//! - Amounts are in VND times 100; times are `yyyyMMddHHmmss` in Vietnam's time (GMT+7).

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha512;
use time::{PrimitiveDateTime, macros::format_description};

use protocol::time::{UtcTimestamp, VIETNAM};

pub const VERSION: &str = "2.1.0";
pub const SECURE_HASH: &str = "vnp_SecureHash";
pub const SECURE_HASH_TYPE: &str = "vnp_SecureHashType";
/// `vnp_ResponseCode` and `vnp_TransactionStatus` of a successful payment.
pub const SUCCESS: &str = "00";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VnpayError {
    #[error("`vnp_SecureHash` is missing")]
    MissingChecksum,
    #[error("checksum does not verify")]
    BadChecksum,
    #[error("`{0}` is missing or malformed")]
    Field(&'static str),
}

fn hmac(secret: &[u8], data: &[u8]) -> Hmac<Sha512> {
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(data);
    mac
}

/// The string the checksum is taken over: sorted, form-urlencoded, the checksum fields left out.
pub fn hash_data(params: &BTreeMap<String, String>) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        if k != SECURE_HASH && k != SECURE_HASH_TYPE && !v.is_empty() {
            out.append_pair(k, v);
        }
    }
    out.finish()
}

/// The hex HMAC-SHA512 checksum of `params`.
pub fn checksum(secret: &[u8], params: &BTreeMap<String, String>) -> String {
    hex::encode(
        hmac(secret, hash_data(params).as_bytes())
            .finalize()
            .into_bytes(),
    )
}

/// The query string of `params` with its checksum: what follows `?` in a payment, return or
/// IPN URL.
pub fn signed_query(secret: &[u8], params: &BTreeMap<String, String>) -> String {
    let sum = checksum(secret, params);
    let mut query = hash_data(params);
    query.push('&');
    query.push_str(SECURE_HASH);
    query.push('=');
    query.push_str(&sum);
    query
}

/// Checks `vnp_SecureHash` of received parameters (in constant time).
pub fn verify(secret: &[u8], params: &BTreeMap<String, String>) -> Result<(), VnpayError> {
    let given = params.get(SECURE_HASH).ok_or(VnpayError::MissingChecksum)?;
    let tag = hex::decode(given).map_err(|_| VnpayError::BadChecksum)?;
    hmac(secret, hash_data(params).as_bytes())
        .verify_slice(&tag)
        .map_err(|_| VnpayError::BadChecksum)
}

/// The hex HMAC-SHA512 of `fields` joined by `|`: the checksum of the query API's messages.
pub fn line_checksum(secret: &[u8], fields: &[&str]) -> String {
    hex::encode(
        hmac(secret, fields.join("|").as_bytes())
            .finalize()
            .into_bytes(),
    )
}

fn line_verify(secret: &[u8], fields: &[&str], given: &str) -> Result<(), VnpayError> {
    let tag = hex::decode(given).map_err(|_| VnpayError::BadChecksum)?;
    hmac(secret, fields.join("|").as_bytes())
        .verify_slice(&tag)
        .map_err(|_| VnpayError::BadChecksum)
}

/// `yyyyMMddHHmmss` in GMT+7.
pub fn format_time(at: UtcTimestamp) -> String {
    let local = at.as_datetime().to_offset(VIETNAM);
    local
        .format(format_description!(
            "[year][month][day][hour][minute][second]"
        ))
        .unwrap_or_default()
}

/// Reads `yyyyMMddHHmmss` in GMT+7.
pub fn parse_time(text: &str) -> Option<UtcTimestamp> {
    let at = PrimitiveDateTime::parse(
        text,
        format_description!("[year][month][day][hour][minute][second]"),
    )
    .ok()?
    .assume_offset(VIETNAM);
    Some(UtcTimestamp::from_datetime(at))
}

/// VND as the gateway writes it (times 100).
pub fn amount(vnd: u64) -> String {
    (u128::from(vnd) * 100).to_string()
}

/// The merchant's answer to an IPN call, as JSON `{"RspCode": …, "Message": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpnReply {
    #[serde(rename = "RspCode")]
    pub code: String,
    #[serde(rename = "Message")]
    pub message: String,
}

impl IpnReply {
    fn new(code: &str, message: &str) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
    /// The result was recorded (a payment or a failed attempt).
    pub fn confirmed() -> Self {
        Self::new("00", "Confirm Success")
    }
    pub fn order_not_found() -> Self {
        Self::new("01", "Order not found")
    }
    /// The order's result was recorded before; nothing changes.
    pub fn already_confirmed() -> Self {
        Self::new("02", "Order already confirmed")
    }
    pub fn invalid_amount() -> Self {
        Self::new("04", "invalid amount")
    }
    pub fn invalid_checksum() -> Self {
        Self::new("97", "Invalid signature")
    }
    pub fn unknown_error() -> Self {
        Self::new("99", "Unknown error")
    }
}

/// A `querydr` request: the state of one payment, asked of the gateway. (The fields keep the
/// gateway's names, so they read as its documentation does.)
#[allow(non_snake_case)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryRequest {
    pub vnp_RequestId: String,
    pub vnp_Version: String,
    pub vnp_Command: String,
    pub vnp_TmnCode: String,
    pub vnp_TxnRef: String,
    pub vnp_OrderInfo: String,
    /// When the payment was created (its `vnp_CreateDate`).
    pub vnp_TransactionDate: String,
    /// When this request is made.
    pub vnp_CreateDate: String,
    pub vnp_IpAddr: String,
    pub vnp_SecureHash: String,
}

impl QueryRequest {
    fn fields(&self) -> [&str; 9] {
        [
            &self.vnp_RequestId,
            &self.vnp_Version,
            &self.vnp_Command,
            &self.vnp_TmnCode,
            &self.vnp_TxnRef,
            &self.vnp_TransactionDate,
            &self.vnp_CreateDate,
            &self.vnp_IpAddr,
            &self.vnp_OrderInfo,
        ]
    }
    /// Sets the checksum.
    pub fn sign(mut self, secret: &[u8]) -> Self {
        self.vnp_SecureHash = line_checksum(secret, &self.fields());
        self
    }
    pub fn verify(&self, secret: &[u8]) -> Result<(), VnpayError> {
        line_verify(secret, &self.fields(), &self.vnp_SecureHash)
    }
}

/// The gateway's answer to `querydr`. `vnp_ResponseCode` says whether the query was answered
/// (`00`; `91`: no such transaction; `97`: bad checksum); `vnp_TransactionStatus` is the
/// payment's state (`00` paid, `01` not finished, `02` failed).
#[allow(non_snake_case)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct QueryResponse {
    pub vnp_ResponseId: String,
    pub vnp_Command: String,
    pub vnp_ResponseCode: String,
    pub vnp_Message: String,
    pub vnp_TmnCode: String,
    pub vnp_TxnRef: String,
    pub vnp_Amount: String,
    pub vnp_BankCode: String,
    pub vnp_PayDate: String,
    pub vnp_TransactionNo: String,
    pub vnp_TransactionType: String,
    pub vnp_TransactionStatus: String,
    pub vnp_OrderInfo: String,
    pub vnp_PromotionCode: String,
    pub vnp_PromotionAmount: String,
    pub vnp_SecureHash: String,
}

impl QueryResponse {
    fn fields(&self) -> [&str; 15] {
        [
            &self.vnp_ResponseId,
            &self.vnp_Command,
            &self.vnp_ResponseCode,
            &self.vnp_Message,
            &self.vnp_TmnCode,
            &self.vnp_TxnRef,
            &self.vnp_Amount,
            &self.vnp_BankCode,
            &self.vnp_PayDate,
            &self.vnp_TransactionNo,
            &self.vnp_TransactionType,
            &self.vnp_TransactionStatus,
            &self.vnp_OrderInfo,
            &self.vnp_PromotionCode,
            &self.vnp_PromotionAmount,
        ]
    }
    pub fn sign(mut self, secret: &[u8]) -> Self {
        self.vnp_SecureHash = line_checksum(secret, &self.fields());
        self
    }
    pub fn verify(&self, secret: &[u8]) -> Result<(), VnpayError> {
        line_verify(secret, &self.fields(), &self.vnp_SecureHash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn hash_data_is_sorted_form_encoded_without_the_checksum_or_empty_values() {
        let p = params(&[
            ("vnp_TxnRef", "5"),
            ("vnp_Amount", "1806000"),
            ("vnp_OrderInfo", "Thanh toan don hang :5"),
            ("vnp_ReturnUrl", "https://merchant.vn/ReturnUrl"),
            ("vnp_BankCode", ""),
            ("vnp_SecureHash", "ab"),
            ("vnp_SecureHashType", "HmacSHA512"),
        ]);
        assert_eq!(
            hash_data(&p),
            "vnp_Amount=1806000&vnp_OrderInfo=Thanh+toan+don+hang+%3A5\
             &vnp_ReturnUrl=https%3A%2F%2Fmerchant.vn%2FReturnUrl&vnp_TxnRef=5"
        );
    }

    #[test]
    fn the_checksum_is_hmac_sha512_of_the_hash_data() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            line_checksum(b"Jefe", &["what do ya want for nothing?"]),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
        let p = params(&[("vnp_Amount", "100"), ("vnp_TxnRef", "a b")]);
        let query = signed_query(b"secret", &p);
        let received: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(received["vnp_TxnRef"], "a b");
        assert_eq!(verify(b"secret", &received), Ok(()));
        assert_eq!(verify(b"other", &received), Err(VnpayError::BadChecksum));
        let mut changed = received.clone();
        changed.insert("vnp_Amount".into(), "10000".into());
        assert_eq!(verify(b"secret", &changed), Err(VnpayError::BadChecksum));
        changed.remove(SECURE_HASH);
        assert_eq!(
            verify(b"secret", &changed),
            Err(VnpayError::MissingChecksum)
        );
    }

    #[test]
    fn times_are_vietnam_local_and_amounts_hundredths() {
        // 2025-11-26 08:34:56.250 UTC is 15:34:56 in Hồ Chí Minh City.
        let at = UtcTimestamp::from_unix_ms(1_764_146_096_250).unwrap();
        assert_eq!(format_time(at), "20251126153456");
        assert_eq!(
            parse_time("20251126153456").map(|t| t.unix_ms()),
            Some(1_764_146_096_000)
        );
        assert_eq!(parse_time("2025-11-26"), None);
        assert_eq!(amount(19_000_000), "1900000000");
    }

    #[test]
    fn query_messages_sign_their_named_fields() {
        let q = QueryResponse {
            vnp_TxnRef: "abc".into(),
            vnp_Amount: "100".into(),
            vnp_TransactionStatus: SUCCESS.into(),
            ..QueryResponse::default()
        }
        .sign(b"k");
        assert_eq!(q.verify(b"k"), Ok(()));
        let forged = QueryResponse {
            vnp_Amount: "1".into(),
            ..q.clone()
        };
        assert_eq!(forged.verify(b"k"), Err(VnpayError::BadChecksum));
    }
}
