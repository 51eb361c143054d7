//! Filing a report: idempotent (the key, the request's hash and the response are stored
//! in the filing's transaction), with possible duplicates nearby.

use chrono::{DateTime, Utc};

use entity::orgs;
use sea_orm::DatabaseTransaction;

use super::domain::{
    bounding_box, distance_m, number, IncidentSpec, NewIncidentRequest, Status, DUPLICATE_RADIUS_M, DUPLICATE_WINDOW,
};
use super::sla;
use super::store::{self, NewEvent};
use super::views::{view, Duplicate, FiledView, IncidentView};
use crate::access;
use crate::access::{Caller, OrgKind, Role};
use crate::error::{AppError, ErrorCode, Result};
use crate::idempotency::{self, IdempotencyKey};
use crate::infra::group_commit::Finish;
use crate::media::service::{self as media, MediaView};
use crate::state::AppState;

pub async fn file(
    state: &AppState,
    caller: &Caller,
    key: Option<IdempotencyKey>,
    req: NewIncidentRequest,
) -> Result<idempotency::Response> {
    let key = key.ok_or(AppError::bad_request(ErrorCode::IdempotencyKeyRequired, "请提供 Idempotency-Key 请求头"))?;
    let hash = idempotency::request_hash(&req);
    if let Some(first) = idempotency::replay_of(&state.db, caller.user_id, &key, &hash).await? {
        return Ok(first);
    }
    let now = state.clock.now();
    let spec = IncidentSpec::parse(&req, now).map_err(AppError::Validation)?;
    let grid = match access::org(state, spec.grid_id).await {
        Err(AppError::NotFound) => return Err(AppError::field("grid_id", "网格不存在")),
        other => other?,
    };
    if grid.kind != OrgKind::Grid.as_str() {
        return Err(AppError::field("grid_id", "须为网格"));
    }
    access::require(caller, &grid, Role::GridWorker)?;
    let branch = access::org(state, grid.parent_id.ok_or(AppError::NotFound)?).await?;
    let county = sla::county_of(&grid.path).ok_or(AppError::NotFound)?;
    let deadline = sla::book(state, county).await?.deadline(spec.category, spec.severity, now);
    media::check_owned(&state.db, caller.user_id, &spec.media_ids).await?;
    // The answer's names and photos, read before the writer's turn: they are the caller's.
    let reporter_name = state.caches.names.lookup(&state.db, [caller.user_id]).await?.of(caller.user_id);
    let photos = media::photos(state, spec.media_ids.iter().copied()).await?.of(&spec.media_ids);

    // Possible duplicates are advisory: read from what is committed, before the writer's turn.
    let bbox = bounding_box(spec.lat, spec.lng, DUPLICATE_RADIUS_M);
    let nearby = store::nearby(&state.db, spec.category, bbox, now - DUPLICATE_WINDOW).await?;

    let job = Filing {
        spec,
        grid,
        branch,
        reporter_id: caller.user_id,
        reporter_name,
        photos,
        key,
        hash,
        nearby,
        deadline,
        now,
    };
    state.group_commit.run(move |txn| Box::pin(file_in(txn, job))).await
}

/// What a filing writes, given by value to the writer.
struct Filing {
    spec: IncidentSpec,
    grid: orgs::Model,
    branch: orgs::Model,
    reporter_id: i64,
    reporter_name: String,
    photos: Vec<MediaView>,
    key: IdempotencyKey,
    hash: String,
    /// Open incidents nearby, read before the writer's turn.
    nearby: Vec<(i64, DateTime<Utc>, f64, f64)>,
    /// (due_at, warn_at) by the county's rules.
    deadline: (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
}

/// The SQL half of a filing: the incident, its first timeline row and, last, the key with
/// the response. If another filing with this key got there first (committed by now, or
/// earlier in this group commit), this one rolls back and answers as that one did.
async fn file_in(txn: &DatabaseTransaction, job: Filing) -> Result<Finish<idempotency::Response>> {
    let Filing { spec, grid, branch, reporter_id, reporter_name, photos, key, hash, nearby, deadline, now } = job;
    let incident = store::insert_incident(txn, &spec, &grid, &branch, reporter_id, deadline, now).await?;
    store::insert_event(
        txn,
        NewEvent {
            incident_id: incident.id,
            action: "report",
            from: None,
            to: Status::Reported,
            actor_id: Some(reporter_id),
            note: None,
            media_ids: &spec.media_ids,
            at: now,
        },
    )
    .await?;
    let mut duplicates: Vec<Duplicate> = nearby
        .into_iter()
        .filter(|(id, ..)| *id != incident.id)
        .map(|(id, created_at, lat, lng)| (id, created_at, distance_m(spec.lat, spec.lng, lat, lng)))
        .filter(|(.., d)| *d <= DUPLICATE_RADIUS_M)
        .map(|(id, created_at, d)| Duplicate {
            id,
            number: number(id, created_at),
            distance_m: (d * 10.0).round() / 10.0,
        })
        .collect();
    duplicates.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m).then(a.id.cmp(&b.id)));
    let incident = IncidentView { reporter_name, media: photos, ..view(incident, now) };
    let filed = FiledView { incident, possible_duplicates: duplicates };
    let answer = idempotency::Response::fresh(201, serde_json::to_string(&filed).map_err(anyhow::Error::from)?);
    match idempotency::record(txn, reporter_id, &key, &hash, &answer, now).await? {
        None => Ok(Finish::Commit(answer)),
        Some(first) => Ok(Finish::Discard(first)),
    }
}
