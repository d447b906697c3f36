//! Files that hold a secret (a device's signing key, the key that seals secrets in a database):
//! made readable by their owner only, and refused when anyone else may read them, as `ssh`
//! refuses a private key others can read. A secret another local account could copy is no
//! secret.

use std::{io::Write, path::Path};

use anyhow::Context;

/// The text of the secret file at `path` (trimmed), `None` when there is no file there. An
/// error names the file when it cannot be read or when its group or others may read or write
/// it (on Unix).
pub fn read(path: &Path) -> anyhow::Result<Option<String>> {
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    check_private(path, &metadata)?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(text.trim().to_owned()))
}

/// Makes the folder `dir` and any missing above it, each new one open to its owner only
/// (0700 on Unix): what a service keeps on disk (databases, evidence, outboxes, keys) is not
/// for other local accounts. Folders already there keep their mode: the operator's choice.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Refuses the secret file at `path` (its `metadata`) when its group or others may read or
/// write it (on Unix), saying what to do about it.
pub fn check_private(path: &Path, metadata: &std::fs::Metadata) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "{} holds a secret but its mode is {mode:o}: others may read it; make it readable \
                 by its owner only (chmod 600)",
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, metadata);
    Ok(())
}

/// Writes `text` to a new file at `path` readable and writable by its owner only (0600),
/// making its folder when missing. The file appears whole or not at all (written beside it,
/// then linked into place), and a file already there is never overwritten: that is an error of
/// kind `AlreadyExists`.
pub fn create(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    // A temporary file is made readable and writable by its owner only (0600 on Unix).
    let mut file = tempfile::Builder::new()
        .prefix(".secret-")
        .tempfile_in(dir)?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_all()?;
    // A hard link fails when the name is taken: two processes making the same secret at once
    // both see one of them win.
    std::fs::hard_link(file.path(), path)
}

/// The secret at `path`, or `make`'s written there when there is none (`true`: just made). When
/// another process makes it at the same moment, theirs is read back.
pub fn read_or_create(
    path: &Path,
    make: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<(String, bool)> {
    if let Some(text) = read(path)? {
        return Ok((text, false));
    }
    let text = make()?;
    match create(path, &text) {
        Ok(()) => Ok((text.trim().to_owned(), true)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = read(path)?.with_context(|| format!("{} vanished", path.display()))?;
            Ok((text, false))
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// The Ed25519 signing key in the secret file at `path` (its seed, base64), made there on first
/// use when `create` (`true` beside it: just made); `None` when there is none and `create` is
/// false. `field` is the setting that names the file, for errors.
pub fn signing_key(
    path: &Path,
    field: &str,
    create: bool,
) -> anyhow::Result<Option<(protocol::DeviceKey, bool)>> {
    let context = || format!("{field} {}", path.display());
    let (text, made) = if create {
        read_or_create(path, || {
            Ok(protocol::DeviceKey::generate()?.to_base64_secret())
        })
        .with_context(context)?
    } else {
        match read(path).with_context(context)? {
            Some(text) => (text, false),
            None => return Ok(None),
        }
    };
    let key = protocol::DeviceKey::from_base64(&text)
        .with_context(|| format!("{} holds no valid key", context()))?;
    Ok(Some((key, made)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_secret_is_made_for_its_owner_alone_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/secret.key");
        assert_eq!(read(&path).unwrap(), None);
        let (text, made) = read_or_create(&path, || Ok("s3cret\n".into())).unwrap();
        assert_eq!((text.as_str(), made), ("s3cret", true));
        assert_eq!(read(&path).unwrap().as_deref(), Some("s3cret"));
        let error = create(&path, "another").unwrap_err();
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::AlreadyExists,
            "never overwritten"
        );
        let (text, made) = read_or_create(&path, || Ok("another".into())).unwrap();
        assert_eq!((text.as_str(), made), ("s3cret", false));
        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left beside it");
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        create(&path, "s3cret").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = read(&path).unwrap_err().to_string();
        assert!(error.contains("chmod 600"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn folders_a_service_makes_are_its_own() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o750)).unwrap();
        let deep = shared.join("central").join("evidence");
        create_private_dir(&deep).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&shared.join("central")), 0o700);
        assert_eq!(mode(&deep), 0o700);
        assert_eq!(mode(&shared), 0o750, "the operator's folder keeps its mode");
        create_private_dir(&deep).unwrap();
    }
}
