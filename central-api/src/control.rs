//! Central's control key: the Ed25519 key central signs what it tells devices with — the
//! acknowledgement that lets a device delete stored events from its outbox, the camera
//! configuration it applies — and the anchors of its audit chain ([`crate::audit_anchor`]). A device pins the public half (`central.control_keys` in its
//! configuration, printed by `central-api control-key`) and acts on nothing that key did not
//! sign, so whoever can publish on a device's topics can neither make it drop events central
//! never stored nor change its geometry, limits or red grace.
//!
//! The key is kept in `mqtt.control_key_file` (its seed, base64, readable by its owner only),
//! made on first start. Rotation: make a new key file, add its public key to every device's
//! `central.control_keys` beside the old one, switch central to the new file (it signs the
//! retained configurations again when it connects), then take the old key off the devices.

use std::path::Path;

use protocol::{DeviceKey, DevicePublicKey, wire};

/// The key central signs its control messages with.
#[derive(Debug, Clone)]
pub struct ControlKey(DeviceKey);

impl ControlKey {
    /// The key in `path`, made there on first use when `create`; `None` when there is none and
    /// `create` is false.
    pub fn load(path: &Path, create: bool) -> anyhow::Result<Option<Self>> {
        let Some((key, made)) =
            service_kit::secret_file::signing_key(path, "mqtt.control_key_file", create)?
        else {
            return Ok(None);
        };
        if made {
            tracing::warn!(
                path = %path.display(),
                public_key = %key.public_key(),
                "a new control key: pin it on every device (central.control_keys) and keep a copy of the file apart"
            );
        }
        Ok(Some(Self(key)))
    }

    /// A key of its own, for tests.
    pub fn from_key(key: DeviceKey) -> Self {
        Self(key)
    }

    /// What devices pin.
    pub fn public_key(&self) -> DevicePublicKey {
        self.0.public_key()
    }

    /// The signature of `bytes` (the audit chain's anchors).
    pub fn sign_bytes(&self, bytes: &[u8]) -> protocol::Signature {
        self.0.sign(bytes)
    }

    /// `message` encoded and signed.
    pub fn sign<M: wire::SignedMessage>(&self, message: &M) -> Result<Vec<u8>, wire::WireError> {
        wire::encode_signed(message, &self.0)
    }
}
