//! Media rules: uploads (deduplicated per person, processed off the async threads behind
//! a semaphore sized to the cores), signed expiring URLs, and the ownership check every
//! other domain uses before it accepts `media_ids`.
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use sea_orm::ConnectionTrait;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use entity::media;

use super::process::{self, ProcessError};
use super::store;
use crate::access::Caller;
use crate::error::{AppError, ErrorCode, Result};
use crate::state::AppState;

const BUSY: AppError = AppError::Unavailable { code: ErrorCode::Busy, message: "图片处理繁忙，请稍后重试" };

/// A turn to send an upload's body: taken before its bytes are read. Past
/// `FIVESTAR_IMAGE_WAIT_SECS`, 503 `busy`.
pub async fn upload_turn(state: &AppState) -> Result<OwnedSemaphorePermit> {
    turn(state, &state.upload_permits).await
}

/// A permit of `permits` within `FIVESTAR_IMAGE_WAIT_SECS`, else 503 `busy`.
async fn turn(state: &AppState, permits: &Arc<Semaphore>) -> Result<OwnedSemaphorePermit> {
    let wait = std::time::Duration::from_secs(state.settings.image_wait_secs);
    match tokio::time::timeout(wait, permits.clone().acquire_owned()).await {
        Ok(permit) => Ok(permit.map_err(|e| anyhow::anyhow!("media permits closed: {e}"))?),
        Err(_) => Err(BUSY),
    }
}

/// Upload bodies larger than this are refused while streaming.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MediaView {
    pub id: i64,
    /// Signed, expires in 24 h; relative to the API's origin.
    pub url: String,
    pub thumbnail_url: String,
    pub width: i32,
    pub height: i32,
    /// Size of the stored image.
    pub bytes: i64,
}

fn view(state: &AppState, m: &media::Model) -> MediaView {
    let now = state.clock.now();
    MediaView {
        id: m.id,
        url: state.media_urls.url(&m.stored_sha256, "full", now),
        thumbnail_url: state.media_urls.url(&m.stored_sha256, "thumb", now),
        width: m.width,
        height: m.height,
        bytes: m.bytes,
    }
}

/// Signed links for the photos a response shows (see `photos`).
#[derive(Debug, Default)]
pub struct Photos(HashMap<i64, MediaView>);

impl Photos {
    /// The views of `ids`, in their order (an id with no row is left out).
    pub fn of(&self, ids: &[i64]) -> Vec<MediaView> {
        ids.iter().filter_map(|id| self.0.get(id).cloned()).collect()
    }
}

/// Freshly signed links for every photo a response shows, in one query. Call it only for
/// objects the caller may see: whoever sees the object sees its photos.
pub async fn photos(state: &AppState, ids: impl IntoIterator<Item = i64>) -> Result<Photos> {
    let rows = store::find_many(&state.db, ids).await?;
    Ok(Photos(rows.iter().map(|m| (m.id, view(state, m))).collect()))
}

/// How long the photo links in an exported file work: the file is kept, its links with it.
pub const EXPORT_LINK_DAYS: i64 = 30;

/// Absolute links to the full photos, valid `EXPORT_LINK_DAYS`, for an export: id → URL.
/// `origin` is the scheme and host the caller reached us at.
pub async fn export_links(
    state: &AppState,
    ids: impl IntoIterator<Item = i64>,
    origin: &str,
) -> Result<HashMap<i64, String>> {
    let now = state.clock.now();
    let ttl = EXPORT_LINK_DAYS * 24 * 3600;
    let rows = store::find_many(&state.db, ids).await?;
    Ok(rows
        .iter()
        .map(|m| (m.id, format!("{origin}{}", state.media_urls.url_valid_for(&m.stored_sha256, "full", now, ttl))))
        .collect())
}

fn file_name(sha: &str, variant: &str) -> Option<String> {
    match variant {
        "full" => Some(format!("{sha}.jpg")),
        "thumb" => Some(format!("{sha}_t.jpg")),
        _ => None,
    }
}

pub async fn upload(state: &AppState, caller: &Caller, bytes: Vec<u8>) -> Result<MediaView> {
    let source = hex::encode(Sha256::digest(&bytes));
    // A retrying phone sends the same photo again: one row, one file.
    if let Some(existing) = store::find_by_source(&state.db, caller.user_id, &source).await? {
        return Ok(view(state, &existing));
    }
    if process::detect(&bytes).is_none() {
        return Err(AppError::Unsupported {
            code: ErrorCode::UnsupportedMedia,
            message: "只支持 JPEG、PNG 或 WebP 图片",
        });
    }
    // Decodes in flight are bounded (one per core): the others wait their turn, and past
    // FIVESTAR_IMAGE_WAIT_SECS answer 503 `busy` rather than pile up in memory.
    let permit = turn(state, &state.image_permits).await?;
    // The body is freed here, on the worker thread that read it, not on the decode thread:
    // an allocator keeps a block another thread frees for its owner to collect later, so
    // each body freed away from home stayed resident beside the next one read.
    let body = Arc::new(bytes);
    let shared = body.clone();
    let processed = state
        .image_threads
        .run(move || process::process(&shared))
        .await
        .ok_or_else(|| anyhow::anyhow!("image processing panicked"))?;
    drop(permit);
    drop(body);
    let processed = processed.map_err(|err| match err {
        ProcessError::Unsupported => {
            AppError::Unsupported { code: ErrorCode::UnsupportedMedia, message: "只支持 JPEG、PNG 或 WebP 图片" }
        }
        ProcessError::TooLarge => AppError::PayloadTooLarge {
            code: ErrorCode::ImageTooLarge,
            message: "图片像素过大（上限 4000 万像素）",
        },
        ProcessError::Corrupt => {
            AppError::Unprocessable { code: ErrorCode::InvalidImage, message: "图片已损坏或不完整" }
        }
    })?;
    let stored = hex::encode(Sha256::digest(&processed.full));
    let media_store = state.media_store.clone();
    let (full, thumb, name) = (processed.full, processed.thumb, stored.clone());
    let full_len = full.len();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        media_store.put(&format!("{name}.jpg"), &full)?;
        media_store.put(&format!("{name}_t.jpg"), &thumb)
    })
    .await
    .map_err(|e| anyhow::anyhow!("media store panicked: {e}"))?
    .map_err(|e| anyhow::anyhow!("media store: {e}"))?;
    let row = media::Model {
        id: 0,
        owner_id: caller.user_id,
        source_sha256: source,
        stored_sha256: stored,
        content_type: "image/jpeg".to_owned(),
        bytes: full_len as i64,
        width: processed.width as i32,
        height: processed.height as i32,
        thumb_width: processed.thumb_width as i32,
        thumb_height: processed.thumb_height as i32,
        created_at: state.clock.now(),
    };
    let saved = store::insert(&state.db, row, state.clock.now()).await?;
    Ok(view(state, &saved))
}

/// The bytes behind a signed URL; 403 for a bad or expired signature.
pub async fn open(state: &AppState, sha: &str, variant: &str, exp: i64, sig: &str) -> Result<Vec<u8>> {
    if !state.media_urls.verify(sha, variant, exp, sig, state.clock.now()) {
        return Err(AppError::forbidden("链接无效或已过期"));
    }
    let name = file_name(sha, variant).ok_or(AppError::NotFound)?;
    let media_store = state.media_store.clone();
    tokio::task::spawn_blocking(move || media_store.get(&name))
        .await
        .map_err(|e| anyhow::anyhow!("media store panicked: {e}"))?
        .map_err(|e| anyhow::anyhow!("media store: {e}"))?
        .ok_or(AppError::NotFound)
}

/// Cards, volunteer logs and incidents accept `media_ids` only for photos the caller
/// uploaded: anything else is 422 naming `media_ids`.
pub async fn check_owned<C: ConnectionTrait>(db: &C, owner: i64, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let distinct: BTreeSet<i64> = ids.iter().copied().collect();
    if distinct.len() != ids.len() {
        return Err(AppError::field("media_ids", "照片不能重复"));
    }
    let ids: Vec<i64> = distinct.into_iter().collect();
    if store::count_owned(db, owner, &ids).await? != ids.len() as u64 {
        return Err(AppError::field("media_ids", "照片不存在或不是你上传的"));
    }
    Ok(())
}
