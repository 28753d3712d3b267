//! Password hashes (argon2id, PHC strings) computed in working memory that is kept and reused.
//!
//! An argon2 hash needs its memory cost in working memory (19 MiB at the shipped cost). Left to
//! the allocator, each hash allocates and frees that much on whichever blocking thread runs it;
//! glibc then keeps freed buffers in per-thread arenas (up to eight a core), so a flood of
//! sign-ups left the process hundreds of MiB larger however few hashes ran at once. Here each
//! hash borrows a buffer from [`HashMemory`], which keeps as many as ever ran at once (the
//! identity's gate bounds that), so what a flood can make the process hold is exactly
//! `hashes at once × memory cost`.

use std::sync::Mutex;

use anyhow::{Context as _, anyhow};
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rngs::OsRng;

/// Working memory for argon2, reused from one hash to the next.
#[derive(Debug)]
pub(super) struct HashMemory {
    /// The size, in 1 KiB blocks, of the buffers kept: the configured cost's. A stored hash of
    /// another cost (made before the cost changed) is checked in a buffer of its own.
    blocks: usize,
    free: Mutex<Vec<Vec<Block>>>,
}

impl HashMemory {
    pub(super) fn new(params: &Params) -> Self {
        Self {
            blocks: params.block_count(),
            free: Mutex::new(Vec::new()),
        }
    }

    /// How many buffers are kept.
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn with<T>(&self, blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let keep = blocks == self.blocks;
        let reused = if keep {
            self.free.lock().unwrap_or_else(|e| e.into_inner()).pop()
        } else {
            None
        };
        let mut memory = reused.unwrap_or_else(|| vec![Block::default(); blocks]);
        let out = f(&mut memory);
        if keep {
            self.free
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(memory);
        }
        out
    }
}

/// The PHC string of `password` hashed with `argon2` (argon2id, version 0x13) and a new salt.
pub(super) fn hash(
    argon2: &Argon2<'_>,
    memory: &HashMemory,
    password: &str,
) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow!("argon2 salt: {e}"))?;
    let params = argon2.params();
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let mut out = vec![0u8; len];
    memory
        .with(params.block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, blocks)
        })
        .map_err(|e| anyhow!("argon2: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| anyhow!("argon2 params: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| anyhow!("argon2 output: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `stored`, with the stored hash's own algorithm,
/// version and cost; the outputs are compared in constant time.
pub(super) fn verify(memory: &HashMemory, stored: &str, password: &str) -> anyhow::Result<bool> {
    let parsed =
        PasswordHash::new(stored).map_err(|e| anyhow!("stored password hash unreadable: {e}"))?;
    let algorithm =
        Algorithm::try_from(parsed.algorithm).map_err(|e| anyhow!("stored hash: {e}"))?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| anyhow!("stored hash version: {e}"))?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(|e| anyhow!("stored hash params: {e}"))?;
    let expected = parsed.hash.context("the stored hash has no output")?;
    let salt = parsed.salt.context("the stored hash has no salt")?;
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow!("stored hash salt: {e}"))?;
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    memory
        .with(blocks, |memory| {
            argon2.hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, memory)
        })
        .map_err(|e| anyhow!("argon2: {e}"))?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).map_err(|e| anyhow!("argon2 output: {e}"))? == expected)
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    fn cheap() -> Argon2<'static> {
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        )
    }

    #[test]
    fn a_hash_is_a_standard_phc_string_both_ways() {
        let argon2 = cheap();
        let memory = HashMemory::new(argon2.params());
        let ours = hash(&argon2, &memory, "Senha-forte-1").unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{ours}");
        // The crate's own verifier accepts ours, and ours accepts the crate's.
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"Senha-forte-1", &parsed)
                .is_ok()
        );
        let theirs = argon2
            .hash_password(b"Senha-forte-1", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(verify(&memory, &theirs, "Senha-forte-1").unwrap());
        assert!(verify(&memory, &ours, "Senha-forte-1").unwrap());
        assert!(!verify(&memory, &ours, "Senha-forte-2").unwrap());
        assert!(!verify(&memory, &ours, "").unwrap());
        assert!(verify(&memory, "not a hash", "x").is_err());
    }

    #[test]
    fn buffers_are_reused_and_a_hash_of_another_cost_keeps_none() {
        let argon2 = cheap();
        let memory = HashMemory::new(argon2.params());
        let stored = hash(&argon2, &memory, "a1b2c3d4").unwrap();
        for _ in 0..5 {
            hash(&argon2, &memory, "a1b2c3d4").unwrap();
            assert!(verify(&memory, &stored, "a1b2c3d4").unwrap());
        }
        assert_eq!(memory.kept(), 1, "one at a time: one buffer");
        // Made at an older, larger cost: checked in a buffer of its own, not kept.
        let older = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(128, 2, 1, None).unwrap(),
        );
        let old = hash(&older, &HashMemory::new(older.params()), "a1b2c3d4").unwrap();
        assert!(verify(&memory, &old, "a1b2c3d4").unwrap());
        assert_eq!(memory.kept(), 1);
    }
}
