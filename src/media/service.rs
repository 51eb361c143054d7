//! Media rules.
use std::collections::BTreeSet;

use sea_orm::ConnectionTrait;

use super::store;
use crate::error::{AppError, Result};

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
