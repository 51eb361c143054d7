//! The cards' and tasks' wire shapes: what the API answers and what it reads. No rules
//! here beyond turning rows into views and a status filter into a status.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::ActiveEnum;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use entity::{card_claims, tasks};

use super::domain::{retired_status, CardStatus, ClaimStatus};
use super::store;
use crate::error::{AppError, Result};
use crate::media::service::{self as media, MediaView};
use crate::pagination::{Page, PageRequest};
use crate::stars::Star;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub id: i64,
    pub branch_id: i64,
    pub title: String,
    pub description: String,
    pub star: Star,
    pub points: i32,
    pub volunteer_minutes: i32,
    pub copies: i32,
    pub claim_ttl_minutes: i32,
    pub requires_photo: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Last edit of its title, description or deadline.
    pub updated_at: Option<DateTime<Utc>>,
    /// `active`, `ended` (past its deadline) or `cancelled`.
    pub state: TaskState,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    /// Cards in the pool now.
    pub open_copies: i64,
    /// Cards drawn and not yet submitted.
    pub claimed_copies: i64,
    /// Cards submitted and waiting for review.
    pub submitted_copies: i64,
    /// Cards approved.
    pub done_copies: i64,
    /// Cards that left the pool unfinished because the task was cancelled.
    pub cancelled_copies: i64,
    /// Cards that left the pool unfinished because the task ended.
    pub expired_copies: i64,
}

/// Where a task is: drawable, past its deadline, or cancelled by its branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Active,
    Ended,
    Cancelled,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MoreCopies {
    /// 1–1000 more open cards.
    #[schema(minimum = 1, maximum = 1000)]
    pub count: i32,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TaskCancel {
    /// Why: 1–200 characters, kept in the task and the audit log.
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub reason: String,
}

pub(super) fn task_view(t: tasks::Model, counts: Option<&HashMap<String, i64>>, now: DateTime<Utc>) -> TaskView {
    let n = |s: CardStatus| counts.and_then(|c| c.get(&s.to_value()).copied()).unwrap_or(0);
    let state = match retired_status(t.cancelled_at, t.expires_at, now) {
        None => TaskState::Active,
        Some(CardStatus::Cancelled) => TaskState::Cancelled,
        Some(_) => TaskState::Ended,
    };
    TaskView {
        id: t.id,
        branch_id: t.branch_id,
        star: Star::parse(&t.star).unwrap_or(Star::CivilHappy),
        title: t.title,
        description: t.description,
        points: t.points,
        volunteer_minutes: t.volunteer_minutes,
        copies: t.copies,
        claim_ttl_minutes: t.claim_ttl_minutes,
        requires_photo: t.requires_photo,
        expires_at: t.expires_at,
        created_at: t.created_at,
        updated_at: t.updated_at,
        state,
        cancelled_at: t.cancelled_at,
        cancel_reason: t.cancel_reason,
        open_copies: n(CardStatus::Open),
        claimed_copies: n(CardStatus::Claimed),
        submitted_copies: n(CardStatus::Submitted),
        done_copies: n(CardStatus::Approved),
        cancelled_copies: n(CardStatus::Cancelled),
        expired_copies: n(CardStatus::Expired),
    }
}

/// What a holder sees of a card's task.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardTask {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub star: Star,
    pub points: i32,
    pub volunteer_minutes: i32,
    pub requires_photo: bool,
}

/// A card as one claim of it: the card's id, and where this claim is.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardView {
    /// The card's id (use it in `/cards/{id}/…`).
    pub id: i64,
    pub claim_id: i64,
    pub branch_id: i64,
    pub holder_id: i64,
    /// The holder's display name.
    pub holder_name: String,
    pub status: ClaimStatus,
    pub task: Option<CardTask>,
    pub claimed_at: DateTime<Utc>,
    pub claim_expires_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    pub media_ids: Vec<i64>,
    /// The photos of `media_ids`, in the same order, with freshly signed links.
    pub media: Vec<MediaView>,
    pub reviewer_id: Option<i64>,
    /// The reviewer's display name, once reviewed.
    pub reviewer_name: Option<String>,
    pub review_comment: Option<String>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// Put people's names beside their ids and the photos beside their ids: one batched
/// lookup through the names cache and one query for the photos, whatever the count.
pub(super) async fn fill_cards(state: &AppState, cards: &mut [CardView]) -> Result<()> {
    let people = cards.iter().flat_map(|c| std::iter::once(c.holder_id).chain(c.reviewer_id));
    let names = state.caches.names.lookup(&state.db, people).await?;
    let photos = media::photos(state, cards.iter().flat_map(|c| c.media_ids.iter().copied())).await?;
    for card in cards {
        card.holder_name = names.of(card.holder_id);
        card.reviewer_name = names.of_opt(card.reviewer_id);
        card.media = photos.of(&card.media_ids);
    }
    Ok(())
}

/// One card view with its names and photos (`fill_cards`).
pub(super) async fn filled_card(state: &AppState, card: CardView) -> Result<CardView> {
    let mut cards = [card];
    fill_cards(state, &mut cards).await?;
    let [card] = cards;
    Ok(card)
}

pub(super) fn card_view(c: card_claims::Model, task: Option<&tasks::Model>) -> CardView {
    CardView {
        id: c.card_id,
        claim_id: c.id,
        branch_id: c.branch_id,
        holder_id: c.user_id,
        holder_name: String::new(),
        status: c.status,
        task: task.map(|t| CardTask {
            id: t.id,
            title: t.title.clone(),
            description: t.description.clone(),
            star: Star::parse(&t.star).unwrap_or(Star::CivilHappy),
            points: t.points,
            volunteer_minutes: t.volunteer_minutes,
            requires_photo: t.requires_photo,
        }),
        claimed_at: c.claimed_at,
        claim_expires_at: c.expires_at,
        submitted_at: c.submitted_at,
        note: c.note,
        media_ids: serde_json::from_value(c.media_ids).unwrap_or_default(),
        media: Vec::new(),
        reviewer_id: c.reviewer_id,
        reviewer_name: None,
        review_comment: c.review_comment,
        ended_at: c.ended_at,
    }
}

pub(super) async fn claims_page(
    state: &AppState,
    rows: Vec<card_claims::Model>,
    page: PageRequest,
) -> Result<Page<CardView>> {
    let task_ids: Vec<i64> = rows.iter().map(|c| c.task_id).collect();
    let tasks = store::tasks_by_ids(&state.db, &task_ids).await?;
    let mut page = Page::from_rows(
        rows,
        page,
        |c| c.id,
        |c| {
            let task = tasks.get(&c.task_id);
            card_view(c, task)
        },
    );
    fill_cards(state, &mut page.items).await?;
    Ok(page)
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct SubmitRequest {
    /// Up to 500 characters.
    #[schema(max_length = 500, pattern = r"^[^\x00]*$")]
    pub note: Option<String>,
    #[serde(default)]
    pub media_ids: Vec<i64>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct CardReview {
    pub approve: bool,
    /// Up to 500 characters.
    #[schema(max_length = 500, pattern = r"^[^\x00]*$")]
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CardListQuery {
    #[param(value_type = Option<ClaimStatus>)]
    pub status: Option<String>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

pub(super) fn parse_status(status: Option<&str>) -> Result<Option<ClaimStatus>> {
    status
        .map(|s| {
            ClaimStatus::try_from_value(&s.to_owned()).map_err(|_| {
                AppError::field("status", "须为 claimed、submitted、approved、rejected、released 或 expired")
            })
        })
        .transpose()
}
