//! A branch's draw code (抽卡码): the unlimited mini-program code with scene `b=<branch_id>`,
//! fetched from WeChat on the first request, stored in the media store, and served from
//! there after. Two first requests at once may both fetch; the second row write is a
//! no-op, and both answer the same picture.
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};
use sha2::{Digest, Sha256};

use entity::draw_codes;

use crate::access::{self, Caller, OrgKind, Role};
use crate::error::{AppError, Result};
use crate::state::AppState;

/// The PNG (or JPEG, as WeChat sent it) bytes of the branch's code.
pub async fn get(state: &AppState, caller: &Caller, branch_id: i64) -> Result<Vec<u8>> {
    // Staff at the branch or above it: a grid worker holds a role at a grid, below it.
    let branch = access::org_for(state, caller, branch_id, Role::GridWorker).await?;
    if branch.kind != OrgKind::Branch.as_str() {
        return Err(AppError::field("branch_id", "须为支部"));
    }
    if let Some(row) = draw_codes::Entity::find_by_id(branch.id).one(&state.db).await? {
        let store = state.media_store.clone();
        let path = row.path.clone();
        let bytes = tokio::task::spawn_blocking(move || store.get(&path))
            .await
            .map_err(anyhow::Error::from)?
            .map_err(anyhow::Error::from)?;
        if let Some(bytes) = bytes {
            return Ok(bytes);
        }
        tracing::warn!(branch_id, "a stored draw code is missing from the media store; fetching it again");
    }
    let scene = format!("b={}", branch.id);
    let bytes = state.wechat.mini_program_code(&state.redis, &scene, &state.settings.wechat_draw_page).await?;
    let name = format!("wxacode{}", hex::encode(Sha256::digest(&bytes)));
    let store = state.media_store.clone();
    let (put_name, put_bytes) = (name.clone(), bytes.clone());
    tokio::task::spawn_blocking(move || store.put(&put_name, &put_bytes))
        .await
        .map_err(anyhow::Error::from)?
        .map_err(anyhow::Error::from)?;
    let row = draw_codes::ActiveModel {
        branch_id: Set(branch.id),
        path: Set(name),
        bytes: Set(bytes.len() as i64),
        created_at: Set(state.clock.now()),
    };
    draw_codes::Entity::insert(row)
        .on_conflict(OnConflict::column(draw_codes::Column::BranchId).do_nothing().to_owned())
        .exec_without_returning(&state.writer)
        .await?;
    Ok(bytes)
}
