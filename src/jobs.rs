//! Every background loop of a server, started in one place and stopped by one signal
//! (SIGTERM stops the HTTP server, then these). Each pass is safe with several servers
//! running it at once: the passes themselves take Redis locks or make conditional moves
//! in SQL (see each `*_once`). A pass that fails is logged and tried again next tick.
use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::access::role_feed;
use crate::infra::shutdown::{Shutdown, Stop};
use crate::state::AppState;
use crate::{idempotency, incidents, maintenance, notify, points, shop, stars, tasks};

/// The running loops; `stop` ends them and waits for each.
pub struct Jobs {
    shutdown: Shutdown,
    handles: Vec<JoinHandle<()>>,
}

impl Jobs {
    pub fn start(state: &AppState) -> Jobs {
        let (shutdown, stop) = Shutdown::new();
        let settings = &state.settings;
        let redis_timeout = Duration::from_millis(settings.redis_timeout_ms.max(100));
        let handles = vec![
            tokio::spawn(role_feed::listen(
                state.redis.clone(),
                state.caches.callers.clone(),
                redis_timeout,
                stop.clone(),
            )),
            every("epoch watch", maintenance::EPOCH_CHECK, state, &stop, |state| async move {
                match maintenance::ensure_epoch(&state).await {
                    Ok(true) => tracing::info!("redis rebuilt from SQL after its epoch marker went missing"),
                    Ok(false) => {}
                    Err(err) => tracing::debug!(error = %format!("{err:#}"), "epoch check skipped"),
                }
            }),
            every("reconcile", secs(settings.reconcile_interval_secs), state, &stop, |state| async move {
                match points::reconcile::reconcile_once(&state).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(repaired = n, "leaderboards repaired from the ledger"),
                    Err(err) => tracing::debug!(error = %format!("{err:#}"), "reconcile pass skipped"),
                }
            }),
            every("card sweep", secs(settings.sweep_interval_secs), state, &stop, |state| async move {
                match tasks::sweeper::sweep_once(&state).await {
                    Ok(r) if r == tasks::sweeper::SweepReport::default() => {}
                    Ok(r) => tracing::info!(?r, "card sweep"),
                    Err(err) => tracing::debug!(error = %format!("{err:#}"), "card sweep skipped"),
                }
            }),
            every("shop expiry", secs(settings.sweep_interval_secs), state, &stop, |state| async move {
                match shop::redemptions::expire_due(&state, state.clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(expired = n, "reservations past pickup given back"),
                    Err(err) => tracing::debug!(error = %format!("{err:#}"), "shop expiry pass skipped"),
                }
            }),
            every("redemption reminders", secs(settings.sweep_interval_secs), state, &stop, |state| async move {
                match shop::redemptions::remind_expiring(&state, state.clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(told = n, "members told their reservation expires within a day"),
                    Err(err) => tracing::debug!(error = %format!("{err:#}"), "redemption reminder pass skipped"),
                }
            }),
            every("star awards", secs(settings.sweep_interval_secs), state, &stop, |state| async move {
                match stars::applications::award_due(&state, state.clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(awarded = n, "star applications awarded after publicity"),
                    Err(err) => tracing::debug!(error = %format!("{err:#}"), "star award pass skipped"),
                }
            }),
            every("incident deadlines", secs(settings.sweep_interval_secs), state, &stop, |state| async move {
                match incidents::sla::watch_due(&state, state.clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(incidents = n, "overdue incidents told and escalated"),
                    Err(err) => tracing::debug!(error = %format!("{err:#}"), "deadline pass skipped"),
                }
            }),
            every("wechat outbox", secs(settings.outbox_interval_secs), state, &stop, |state| async move {
                match notify::outbox::send_due(&state, state.clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(attempted = n, "wechat outbox pass"),
                    Err(err) => tracing::debug!(error = %format!("{err:#}"), "wechat outbox pass skipped"),
                }
            }),
            every("idempotency purge", Duration::from_secs(3600), state, &stop, |state| async move {
                match idempotency::purge(&state.db, state.clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "old idempotency keys forgotten"),
                    Err(err) => tracing::warn!(error = %err, "could not purge idempotency keys"),
                }
            }),
        ];
        Jobs { shutdown, handles }
    }

    /// Signal every loop and wait for each to finish its current pass.
    pub async fn stop(self) {
        self.shutdown.fire();
        for handle in self.handles {
            let _ = handle.await;
        }
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n.max(1))
}

/// Run `pass` every `period` (the first at once) until `stop` fires; a pass under way
/// finishes first.
fn every<F, Fut>(name: &'static str, period: Duration, state: &AppState, stop: &Stop, pass: F) -> JoinHandle<()>
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (state, mut stop) = (state.clone(), stop.clone());
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => pass(state.clone()).await,
                _ = stop.stopped() => break,
            }
        }
        tracing::debug!(job = name, "background job stopped");
    })
}
