//! Where image files live: the `MediaStore` trait (local disk now, S3-compatible storage
//! later). Files are named by the SHA-256 of their bytes, so the same image is stored once
//! however often it is uploaded.
use std::io::Write;
use std::path::PathBuf;

/// Where image files live. Synchronous: call it from a blocking thread.
pub trait MediaStore: Send + Sync {
    /// Store `bytes` under `name` unless a file of that name exists (names are hashes).
    fn put(&self, name: &str, bytes: &[u8]) -> std::io::Result<()>;
    fn get(&self, name: &str) -> std::io::Result<Option<Vec<u8>>>;
}

/// Files under a directory, sharded by the first two characters of the name.
pub struct LocalDisk {
    root: PathBuf,
}

impl LocalDisk {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalDisk { root: root.into() }
    }

    fn path(&self, name: &str) -> Option<PathBuf> {
        let valid = name.len() > 2 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        valid.then(|| self.root.join(&name[..2]).join(name))
    }
}

impl MediaStore for LocalDisk {
    fn put(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path(name).ok_or_else(|| std::io::Error::other("invalid media name"))?;
        if path.exists() {
            return Ok(());
        }
        let dir = path.parent().expect("a sharded path has a parent");
        std::fs::create_dir_all(dir)?;
        // Write aside and rename, so a reader never sees half a file.
        let temp = dir.join(format!(".{name}.{}", crate::infra::random::token_hex(6)));
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(temp, path)
    }

    fn get(&self, name: &str) -> std::io::Result<Option<Vec<u8>>> {
        let Some(path) = self.path(name) else { return Ok(None) };
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }
}
