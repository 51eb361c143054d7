//! Media persistence: rows in SQL, files behind the `MediaStore` trait (local disk now,
//! S3-compatible storage later). Files are named by the SHA-256 of their bytes, so the
//! same image is stored once however often it is uploaded. No HTTP types here.
use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, Set};

use entity::media;

use crate::infra::db::by_key;

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

pub async fn find_by_source<C: ConnectionTrait>(
    db: &C,
    owner: i64,
    source: &str,
) -> Result<Option<media::Model>, DbErr> {
    by_key(
        media::Entity::find().filter(media::Column::OwnerId.eq(owner)).filter(media::Column::SourceSha256.eq(source)),
        db,
    )
    .await
}

/// Insert a row; when a concurrent retry of the same upload got there first, theirs.
pub async fn insert<C: ConnectionTrait>(db: &C, row: media::Model, now: DateTime<Utc>) -> Result<media::Model, DbErr> {
    let (owner, source) = (row.owner_id, row.source_sha256.clone());
    let active = media::ActiveModel {
        owner_id: Set(row.owner_id),
        source_sha256: Set(row.source_sha256),
        stored_sha256: Set(row.stored_sha256),
        content_type: Set(row.content_type),
        bytes: Set(row.bytes),
        width: Set(row.width),
        height: Set(row.height),
        thumb_width: Set(row.thumb_width),
        thumb_height: Set(row.thumb_height),
        created_at: Set(now),
        ..Default::default()
    };
    media::Entity::insert(active)
        .on_conflict(OnConflict::columns([media::Column::OwnerId, media::Column::SourceSha256]).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    find_by_source(db, owner, &source).await?.ok_or_else(|| DbErr::RecordNotFound("media row".into()))
}

/// How many of these ids exist and belong to `owner`.
pub async fn count_owned<C: ConnectionTrait>(db: &C, owner: i64, ids: &[i64]) -> Result<u64, DbErr> {
    media::Entity::find()
        .filter(media::Column::OwnerId.eq(owner))
        .filter(media::Column::Id.is_in(ids.iter().copied()))
        .count(db)
        .await
}
