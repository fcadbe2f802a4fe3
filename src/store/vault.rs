//! Secrets attrsync learns at run time (a refresh token a platform rotated), kept in the run
//! store encrypted with AES-256-GCM under the key from `secrets.key_file` /
//! `ATTRSYNC__SECRETS__KEY`: a random 96-bit nonce per write, the name bound as associated data.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use futures_util::future::BoxFuture;

use super::{AnyStore, RunStore};
use crate::config::secret::Secret;
use crate::http::oauth::TokenVault;

/// Encrypted secrets in a run store.
pub struct StoreVault {
    store: AnyStore,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for StoreVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreVault")
    }
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

impl StoreVault {
    pub fn new(store: AnyStore, key: [u8; 32]) -> Self {
        Self {
            store,
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)),
        }
    }

    /// (nonce, ciphertext), base64.
    pub fn seal(&self, name: &str, plain: &str) -> (String, String) {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: name.as_bytes(),
                },
            )
            .expect("AES-GCM encryption does not fail for short inputs");
        (B64.encode(nonce), B64.encode(sealed))
    }

    /// The plaintext of a stored secret; an error when the key is not the one it was sealed with.
    pub fn open(&self, name: &str, nonce: &str, sealed: &str) -> Result<String, String> {
        let nonce = B64
            .decode(nonce)
            .map_err(|_| "stored nonce is not base64")?;
        let sealed = B64
            .decode(sealed)
            .map_err(|_| "stored secret is not base64")?;
        if nonce.len() != 12 {
            return Err("stored nonce has the wrong length".into());
        }
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &sealed,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| {
                "the stored secret does not decrypt with this key (secrets.key changed?)"
                    .to_string()
            })?;
        String::from_utf8(plain).map_err(|_| "the stored secret is not text".into())
    }
}

impl TokenVault for StoreVault {
    fn load<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Secret>, String>> {
        Box::pin(async move {
            match self.store.secret(name).await.map_err(|e| e.to_string())? {
                None => Ok(None),
                Some((nonce, sealed)) => self
                    .open(name, &nonce, &sealed)
                    .map(|t| Some(Secret::new(t))),
            }
        })
    }

    fn save<'a>(&'a self, name: &'a str, token: &'a Secret) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let (nonce, sealed) = self.seal(name, token.expose());
            self.store
                .put_secret(name, &nonce, &sealed)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
