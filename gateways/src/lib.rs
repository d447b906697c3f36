//! The protocols of the outside systems the citizen portal speaks to, both sides of each: the
//! portal (relying party, merchant) in citizen-notify and the stand-ins in `sandbox` that play
//! those systems in tests and the demo.
//!
//! - [`oidc`]: OpenID Connect, as VNeID's single sign-on offers it — discovery, keys, ID tokens
//!   (EdDSA, and RS256 with feature `rs256`), PKCE;
//! - [`vnpay`]: VNPay's payment gateway protocol 2.1.0 — the signed payment URL, the return and
//!   IPN calls, the query API.
//!
//! No I/O: the services own the HTTP; this crate owns the messages and their signatures. It is
//! not the wire contract between the project's own services, which is `protocol`.

pub mod oidc;
pub mod vnpay;
