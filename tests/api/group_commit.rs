//! Group commit (`infra::group_commit`): jobs that share one transaction keep or lose their
//! writes one by one, each is answered, and a panicking job takes nobody else down.
use std::time::Duration;

use chrono::Utc;
use fivestar::audit::{self, AuditEntry};
use fivestar::clock::Clock;
use fivestar::error::{AppError, ErrorCode};
use fivestar::infra::db::begin_write;
use fivestar::infra::group_commit::Finish;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

async fn write_row(txn: &DatabaseTransaction, tag: &str) -> Result<(), AppError> {
    let entry = AuditEntry {
        actor_id: None,
        action: "test.group_commit",
        target_type: "group_commit",
        target_id: tag.to_owned(),
        org_id: None,
        before: None,
        after: None,
        reason: None,
        at: Utc::now(),
    };
    Ok(audit::record(txn, entry).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_sharing_a_commit_keep_or_lose_their_writes_one_by_one() {
    let (settings, _, _wechat) = crate::helpers::test_settings().await;
    let state = fivestar::startup::build_state(settings, Clock::default()).await.unwrap();
    // Hold the writer's turn (on SQLite) so that the jobs queue up and go as one batch.
    let gate = begin_write(&state.writer).await.unwrap();
    let (batches_before, jobs_before) = (state.group_commit.metrics().batches(), state.group_commit.metrics().jobs());
    let kinds = ["commit", "refused", "discard", "commit", "server-error", "panic", "commit"];
    let mut jobs = Vec::new();
    for (i, kind) in kinds.into_iter().enumerate() {
        let group_commit = state.group_commit.clone();
        let tag = format!("{i}:{kind}");
        jobs.push(tokio::spawn(async move {
            group_commit
                .run(move |txn| {
                    Box::pin(async move {
                        write_row(txn, &tag).await?;
                        match kind {
                            "refused" => Err(AppError::Conflict { code: ErrorCode::Conflict, message: "拒绝" }),
                            "discard" => Ok(Finish::Discard(tag)),
                            "server-error" => Err(AppError::Internal(anyhow::anyhow!("failed on purpose"))),
                            "panic" => panic!("a job panicking on purpose"),
                            _ => Ok(Finish::Commit(tag)),
                        }
                    })
                })
                .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(gate);
    let mut answers = Vec::new();
    for job in jobs {
        answers.push(job.await.expect("the request's task ends normally").map_err(|e| e.code().as_str()));
    }
    assert_eq!(
        answers,
        vec![
            Ok("0:commit".to_owned()),
            Err("conflict"),
            Ok("2:discard".to_owned()),
            Ok("3:commit".to_owned()),
            Err("internal_error"),
            Err("internal_error"),
            Ok("6:commit".to_owned()),
        ]
    );
    let mut kept: Vec<String> = entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::TargetType.eq("group_commit"))
        .all(&state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.target_id)
        .collect();
    kept.sort();
    assert_eq!(kept, ["0:commit", "3:commit", "6:commit"]);
    let batches = state.group_commit.metrics().batches() - batches_before;
    let jobs = state.group_commit.metrics().jobs() - jobs_before;
    if state.writer.get_database_backend() == sea_orm::DbBackend::Sqlite {
        // The seven queued behind the gate and went together: a job that fails the server
        // way (error, panic) ends its batch, so three batches at most, never one each.
        assert_eq!(jobs, 7);
        assert!((1..=3).contains(&batches), "{batches} batches for {jobs} jobs: they did not share a commit");
    }

    // The writer lives on after the panic.
    let after = state
        .group_commit
        .run(|txn| {
            Box::pin(async move {
                write_row(txn, "after").await?;
                Ok(Finish::Commit(1))
            })
        })
        .await;
    assert_eq!(after.map_err(|e| e.code().as_str()), Ok(1));
}
