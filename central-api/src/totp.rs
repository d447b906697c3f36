//! The second factor of an officer's sign-in: time-based one-time passwords (RFC 6238 over
//! RFC 4226: HMAC-SHA-1, 30-second steps, 6 digits), as authenticator apps make them. A code is
//! good for its step and the one either side (a phone's clock a little off), and once: a step
//! used is recorded, and a code of that step or an earlier one is refused after it.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Seconds a code stands for.
pub const STEP_S: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Bytes of a secret (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;

/// A new secret, as base32 (what the officer's app is given).
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(base32(&bytes))
}

/// RFC 4648 base32 without padding.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The bytes of a base32 secret (spaces and case ignored); `None` when it is not base32.
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let value = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u32 - 'A' as u32,
            c @ '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The code of `secret` for step `step` (RFC 4226's HOTP with the step as counter).
pub fn code(secret: &[u8], step: i64, digits: u32) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return u32::MAX;
    };
    mac.update(&step.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let truncated = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    truncated % 10u32.pow(digits)
}

/// The step of Unix time `unix_s`.
pub fn step_of(unix_s: i64) -> i64 {
    unix_s.div_euclid(STEP_S)
}

/// The step `given` (six digits, spaces allowed) is the code of, at `unix_s`: its own step or
/// the one either side; `None` when it is none of them.
pub fn matching_step(secret: &[u8], given: &str, unix_s: i64) -> Option<i64> {
    let digits: String = given.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != DIGITS as usize || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let given: u32 = digits.parse().ok()?;
    let now = step_of(unix_s);
    [now - 1, now, now + 1]
        .into_iter()
        .find(|step| code(secret, *step, DIGITS) == given)
}

/// The `otpauth://` address an authenticator app takes (usually from its QR code).
pub fn provisioning_uri(issuer: &str, username: &str, secret_base32: &str) -> String {
    // Percent-encoded, a space as %20 (the form encoding's `+` is a literal plus there).
    let encode = |text: &str| {
        form_urlencoded::byte_serialize(text.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    let label = encode(&format!("{issuer}:{username}"));
    let issuer = encode(issuer);
    format!(
        "otpauth://totp/{label}?secret={secret_base32}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_S}"
    )
}

/// `code` drawn for a terminal: two modules a character (upper and lower halves), dark on
/// light, with the quiet zone around it.
pub fn terminal_qr(code: &qrcode::QrCode) -> String {
    let width = code.width();
    let colors = code.to_colors();
    let dark = |x: isize, y: isize| -> bool {
        x >= 0
            && y >= 0
            && (x as usize) < width
            && (y as usize) < width
            && colors[y as usize * width + x as usize] == qrcode::Color::Dark
    };
    let quiet = 2isize;
    let side = width as isize;
    let mut out = String::new();
    let mut y = -quiet;
    while y < side + quiet {
        for x in -quiet..side + quiet {
            out.push(match (dark(x, y), dark(x, y + 1)) {
                (false, false) => '█',
                (false, true) => '▀',
                (true, false) => '▄',
                (true, true) => ' ',
            });
        }
        out.push('\n');
        y += 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_are_those_of_rfc_6238_appendix_b() {
        for (t, expected) in [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(code(RFC_SECRET, step_of(t), 8), expected, "T = {t}");
        }
        assert_eq!(code(RFC_SECRET, step_of(59), 6), 287_082);
    }

    #[test]
    fn a_code_is_good_for_its_step_and_the_next_and_previous_only() {
        let at = 1_234_567_890;
        let now = format!("{:06}", code(RFC_SECRET, step_of(at), 6));
        assert_eq!(matching_step(RFC_SECRET, &now, at), Some(step_of(at)));
        assert_eq!(matching_step(RFC_SECRET, &now, at + 30), Some(step_of(at)));
        assert_eq!(matching_step(RFC_SECRET, &now, at - 30), Some(step_of(at)));
        assert_eq!(matching_step(RFC_SECRET, &now, at + 90), None);
        assert_eq!(matching_step(RFC_SECRET, "12345", at), None);
        assert_eq!(matching_step(RFC_SECRET, "12345a", at), None);
    }

    #[test]
    fn the_provisioning_address_encodes_spaces_as_apps_read_them() {
        assert_eq!(
            provisioning_uri("CSGT TVE", "chi huy", "MZXW6YTBOI"),
            "otpauth://totp/CSGT%20TVE%3Achi%20huy?secret=MZXW6YTBOI&issuer=CSGT%20TVE&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(from_base32("mzxw 6ytb oi").unwrap(), b"foobar");
        assert_eq!(from_base32("MZXW6YTBO1"), None);
        let secret = new_secret().unwrap();
        assert_eq!(from_base32(&secret).unwrap().len(), SECRET_BYTES);
    }
}
