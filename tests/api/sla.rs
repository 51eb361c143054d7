//! Incident deadlines (SLA) on the black-box API: a county's rules and calendar, `due_at`
//! and `sla` on incidents and in lists, stats and exports, the escalation the background
//! jobs make by themselves (exactly once with two servers), `extend` and the reporter's
//! feedback.
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use entity::incident_events;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, wait_for, Session, TestApp, Tree};

struct Field {
    tree: Tree,
    county_admin: Session,
    township: Session,
    secretary: Session,
    worker: Session,
}

async fn setup(app: &TestApp) -> Field {
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let county_admin = app.user_with_role(&admin, "sla-county", tree.county, "county_admin").await;
    let township = app.user_with_role(&admin, "sla-town", tree.township, "township_admin").await;
    let secretary = app.user_with_role(&admin, "sla-sec", tree.branch_a, "secretary").await;
    let worker = app.user_with_role(&admin, "sla-worker", tree.grid_a, "grid_worker").await;
    Field { tree, county_admin, township, secretary, worker }
}

fn report(grid: i64, category: &str, severity: &str) -> Value {
    json!({
        "grid_id": grid, "category": category, "title": "河道漂浮垃圾", "description": "北桥下游一段漂浮物较多",
        "severity": severity, "lat": 30.25, "lng": 120.15, "occurred_at": (Utc::now() - Duration::hours(1)).to_rfc3339(),
        "media_ids": []
    })
}

async fn file(app: &TestApp, who: &Session, body: &Value) -> Value {
    let key = uuid::Uuid::new_v4().to_string();
    let (status, filed, _) = app.file_incident(&who.token, Some(&key), body).await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    filed
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}"))).unwrap().with_timezone(&Utc)
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

async fn set_rules(app: &TestApp, f: &Field, rules: Value) {
    let (status, body) =
        app.put(&format!("/orgs/{}/incident-sla", f.tree.county), &f.county_admin.token, json!({"rules": rules})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn shanghai_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).date_naive()
}

fn shanghai_midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn rules_and_the_calendar_set_each_deadline() {
    let app = spawn_app().await;
    let f = setup(&app).await;

    // Defaults first: every pair listed, `high` 24 h.
    let (status, rules) = app.get(&format!("/orgs/{}/incident-sla", f.tree.county), &f.worker.token).await;
    assert_eq!(status, StatusCode::OK, "{rules}");
    assert_eq!(rules["rules"].as_array().unwrap().len(), 15);
    let filed = file(&app, &f.worker, &report(f.tree.grid_a, "hazard", "high")).await;
    assert_eq!(time(&filed["due_at"]) - time(&filed["created_at"]), Duration::hours(24), "{filed}");
    assert_eq!(filed["sla"], "ok");
    assert_eq!(filed["extended"], false);

    // The county's own: hazard/high 2.5 hours, event/medium 2 working days.
    set_rules(
        &app,
        &f,
        json!([{"category": "hazard", "severity": "high", "hours": 2.5},
               {"category": "event", "severity": "medium", "working_days": 2}]),
    )
    .await;
    let (_, rules) = app.get(&format!("/orgs/{}/incident-sla", f.tree.county), &f.worker.token).await;
    let rule = |c: &str, s: &str| {
        rules["rules"].as_array().unwrap().iter().find(|r| r["category"] == c && r["severity"] == s).unwrap().clone()
    };
    assert_eq!(
        (rule("hazard", "high")["hours"].as_f64(), rule("hazard", "high")["source"].as_str()),
        (Some(2.5), Some("county"))
    );
    assert_eq!(
        (rule("event", "medium")["working_days"].as_u64(), rule("event", "medium")["source"].as_str()),
        (Some(2), Some("county"))
    );
    assert_eq!(
        (rule("dispute", "low")["working_days"].as_u64(), rule("dispute", "low")["source"].as_str()),
        (Some(5), Some("default"))
    );
    let filed = file(&app, &f.worker, &report(f.tree.grid_a, "hazard", "high")).await;
    assert_eq!(time(&filed["due_at"]) - time(&filed["created_at"]), Duration::minutes(150), "{filed}");

    // A holiday on the next two weekdays, and the next Saturday worked (调休): a deadline of
    // two working days, counted here day by day.
    let today = shanghai_date(app.clock.now());
    let mut holidays = Vec::new();
    let mut day = today;
    while holidays.len() < 2 {
        day = day.succ_opt().unwrap();
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            holidays.push(day);
        }
    }
    let mut saturday = today.succ_opt().unwrap();
    while saturday.weekday() != Weekday::Sat {
        saturday = saturday.succ_opt().unwrap();
    }
    for year in [today.year(), today.year() + 1] {
        let (status, cal) = app
            .put(
                &format!("/orgs/{}/calendar/{year}", f.tree.county),
                &f.county_admin.token,
                json!({
                    "holidays": holidays.iter().filter(|d| d.year() == year).map(|d| d.to_string()).collect::<Vec<_>>(),
                    "workdays": std::iter::once(saturday).filter(|d| d.year() == year).map(|d| d.to_string()).collect::<Vec<_>>(),
                }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{cal}");
    }
    let (status, cal) =
        app.get(&format!("/orgs/{}/calendar/{}", f.tree.county, holidays[0].year()), &f.worker.token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(cal["holidays"].as_array().unwrap().contains(&json!(holidays[0].to_string())), "{cal}");
    let working =
        |d: NaiveDate| !holidays.contains(&d) && (d == saturday || !matches!(d.weekday(), Weekday::Sat | Weekday::Sun));
    let filed = file(&app, &f.worker, &report(f.tree.grid_a, "event", "medium")).await;
    let mut day = shanghai_date(time(&filed["created_at"]));
    let mut left = 2;
    while left > 0 {
        day = day.succ_opt().unwrap();
        if working(day) {
            left -= 1;
        }
    }
    assert_eq!(time(&filed["due_at"]), shanghai_midnight(day.succ_opt().unwrap()), "{filed}");

    // Refusals: each names what to fix and changes nothing.
    let county = f.tree.county;
    let cases = [
        (json!([{"category": "hazard", "severity": "high", "hours": 2, "working_days": 1}]), "rules[0]"),
        (json!([{"category": "hazard", "severity": "high", "hours": 0}]), "rules[0]"),
        (json!([{"category": "hazard", "severity": "high", "working_days": 61}]), "rules[0]"),
        (json!([{"category": "fire", "severity": "high", "hours": 1}]), "rules[0].category"),
        (
            json!([{"category": "hazard", "severity": "high", "hours": 1}, {"category": "hazard", "severity": "high", "hours": 2}]),
            "rules[1]",
        ),
    ];
    for (rules, field) in cases {
        let (status, err) =
            app.put(&format!("/orgs/{county}/incident-sla"), &f.county_admin.token, json!({"rules": rules})).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")),
            "{err}"
        );
        assert!(err["fields"][field].is_string(), "{field}: {err}");
    }
    let weekday = holidays[0];
    let (status, err) = app
        .put(
            &format!("/orgs/{county}/calendar/{}", weekday.year()),
            &f.county_admin.token,
            json!({"workdays": [weekday.to_string()]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err["fields"]["workdays[0]"].is_string(), "{err}");
    let (status, err) = app
        .put(&format!("/orgs/{county}/calendar/2030"), &f.county_admin.token, json!({"holidays": ["2031-01-02"]}))
        .await;
    assert!(status == StatusCode::UNPROCESSABLE_ENTITY && err["fields"]["holidays[0]"].is_string(), "{err}");
    let (status, err) =
        app.put(&format!("/orgs/{county}/incident-sla"), &f.secretary.token, json!({"rules": []})).await;
    assert_eq!((status, err["required_role"].as_str()), (StatusCode::FORBIDDEN, Some("county_admin")), "{err}");
    let (status, err) =
        app.put(&format!("/orgs/{}/incident-sla", f.tree.township), &f.county_admin.token, json!({"rules": []})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (_, after) = app.get(&format!("/orgs/{county}/incident-sla"), &f.worker.token).await;
    assert_eq!(after["rules"], rules["rules"], "refusals changed nothing");
    // Changes are audited.
    let (status, audit) = app.get(&format!("/orgs/{county}/audit?limit=100"), &f.county_admin.token).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"incidents.sla.set") && actions.contains(&"incidents.calendar.set"), "{actions:?}");
}

#[tokio::test]
async fn an_overdue_incident_turns_yellow_then_red_and_is_escalated_once_with_two_servers() {
    let app = spawn_app().await;
    let sibling = app.spawn_sibling().await;
    let f = setup(&app).await;
    let assignee = app.user_with_role(&f.secretary, "sla-handler", f.tree.branch_a, "party_member").await;
    set_rules(&app, &f, json!([{"category": "hazard", "severity": "high", "hours": 1}])).await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(id(&file(&app, &f.worker, &report(f.tree.grid_a, "hazard", "high")).await));
    }
    // One is handled: accepted and assigned; one is closed before its deadline.
    let (status, body) = app.incident_action(&f.secretary.token, ids[0], "accept", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        app.incident_action(&f.secretary.token, ids[0], "assign", json!({"assignee_id": assignee.user_id})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for action in ["accept", "assign", "start", "resolve", "close"] {
        let extra = if action == "assign" { json!({"assignee_id": f.secretary.user_id}) } else { json!({}) };
        let (status, body) = app.incident_action(&f.secretary.token, ids[3], action, extra).await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
    }
    let list = |sla: &'static str| {
        let (app, token, branch) = (&app, f.secretary.token.clone(), f.tree.branch_a);
        async move {
            let (status, page) = app.get(&format!("/orgs/{branch}/incidents?sla={sla}"), &token).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let mut found: Vec<i64> = page["items"].as_array().unwrap().iter().map(id).collect();
            found.sort();
            found
        }
    };
    assert_eq!(list("ok").await, ids[..3].to_vec());
    assert_eq!(list("warning").await, Vec::<i64>::new());

    // 50 minutes on: the last quarter of the hour.
    app.clock.advance(Duration::minutes(50));
    assert_eq!(list("warning").await, ids[..3].to_vec());
    let (_, one) = app.get(&format!("/incidents/{}", ids[1]), &f.worker.token).await;
    assert_eq!(one["sla"], "warning", "{one}");
    let (_, closed) = app.get(&format!("/incidents/{}", ids[3]), &f.worker.token).await;
    assert_eq!(closed["sla"], Value::Null, "a closed incident has no SLA state: {closed}");
    let (status, stats) = app.get(&format!("/orgs/{}/incidents/stats", f.tree.branch_a), &f.secretary.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["by_sla"], json!({"ok": 0, "warning": 3, "overdue": 0}), "{stats}");

    // Past the hour: both servers' jobs see it; each incident goes to the township once.
    app.clock.advance(Duration::minutes(11));
    wait_for("the overdue incidents escalated", || async {
        let (_, page) =
            app.get(&format!("/orgs/{}/incidents?status=escalated", f.tree.township), &f.township.token).await;
        page["items"].as_array().map_or(0, Vec::len) == 3
    })
    .await;
    // Give the second server's passes time to try again.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    for &incident in &ids[..3] {
        let autos = incident_events::Entity::find()
            .filter(incident_events::Column::IncidentId.eq(incident))
            .filter(incident_events::Column::Action.eq("auto_escalate"))
            .count(&app.state.db)
            .await
            .unwrap();
        assert_eq!(autos, 1, "incident {incident} escalated exactly once");
        let (status, detail) = app.get(&format!("/incidents/{incident}"), &f.township.token).await;
        assert_eq!(status, StatusCode::OK, "{detail}");
        assert_eq!(
            (detail["status"].as_str(), detail["owner_org_id"].as_i64()),
            (Some("escalated"), Some(f.tree.township))
        );
        assert_eq!(detail["sla"], "overdue");
        let auto =
            detail["timeline"].as_array().unwrap().iter().find(|e| e["action"] == "auto_escalate").unwrap().clone();
        assert_eq!((auto["actor_id"].clone(), auto["actor_name"].clone()), (Value::Null, Value::Null), "{auto}");
        assert_eq!(auto["to_status"], "escalated");
    }
    let (_, closed) = app.get(&format!("/incidents/{}", ids[3]), &f.secretary.token).await;
    assert_eq!(closed["status"], "closed", "a closed incident is left alone");
    // ?sla=overdue on the township's ledger lists them; the branch's no longer holds them.
    let (_, overdue) = app.get(&format!("/orgs/{}/incidents?sla=overdue", f.tree.township), &f.township.token).await;
    assert_eq!(overdue["items"].as_array().unwrap().len(), 3, "{overdue}");

    // Who was told: the assignee of the handled one, the secretary of the others, and the
    // township's admin of all three.
    let events = |who: &Session| {
        let (app, token) = (&app, who.token.clone());
        async move {
            let (status, inbox) = app.get("/me/notifications?limit=100", &token).await;
            assert_eq!(status, StatusCode::OK, "{inbox}");
            inbox["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| (n["event"].as_str().unwrap().to_owned(), n["ref"].as_str().unwrap().to_owned()))
                .collect::<Vec<_>>()
        }
    };
    let town = events(&f.township).await;
    for &i in &ids[..3] {
        assert_eq!(
            town.iter().filter(|(e, r)| e == "incident_escalated" && *r == format!("incident:{i}")).count(),
            1,
            "{town:?}"
        );
    }
    let handler = events(&assignee).await;
    assert!(handler.contains(&("incident_overdue".into(), format!("incident:{}", ids[0]))), "{handler:?}");
    assert!(handler.contains(&("incident_assigned".into(), format!("incident:{}", ids[0]))), "{handler:?}");
    let sec = events(&f.secretary).await;
    assert_eq!(sec.iter().filter(|(e, _)| e == "incident_overdue").count(), 3, "{sec:?}");
    drop(sibling);
}

#[tokio::test]
async fn a_deadline_is_extended_once_before_it_passes() {
    let app = spawn_app().await;
    let f = setup(&app).await;
    let filed = file(&app, &f.worker, &report(f.tree.grid_a, "hazard", "high")).await;
    let i = id(&filed);
    let due = time(&filed["due_at"]);
    let later = (due + Duration::hours(48)).to_rfc3339();

    let (status, err) = app.incident_action(&f.worker.token, i, "extend", json!({"due_at": later})).await;
    assert_eq!((status, err["required_role"].as_str()), (StatusCode::FORBIDDEN, Some("secretary")), "{err}");
    let (status, err) = app
        .post(&format!("/incidents/{i}/actions"), &f.secretary.token, json!({"action": "extend", "due_at": later}))
        .await;
    assert!(
        status == StatusCode::UNPROCESSABLE_ENTITY && err["fields"]["note"].is_string(),
        "a reason is required: {err}"
    );
    let earlier = (due - Duration::hours(1)).to_rfc3339();
    let (status, err) = app.incident_action(&f.secretary.token, i, "extend", json!({"due_at": earlier})).await;
    assert!(status == StatusCode::UNPROCESSABLE_ENTITY && err["fields"]["due_at"].is_string(), "{err}");
    let (_, before) = app.get(&format!("/incidents/{i}"), &f.secretary.token).await;
    assert!(before["allowed_actions"].as_array().unwrap().contains(&json!("extend")), "{before}");

    let (status, moved) = app.incident_action(&f.secretary.token, i, "extend", json!({"due_at": later})).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!((time(&moved["due_at"]), moved["extended"].as_bool()), (due + Duration::hours(48), Some(true)));
    assert_eq!(moved["status"], "reported", "extending moves no status");
    let last = moved["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["action"].as_str(), last["actor_id"].as_i64()),
        (Some("extend"), Some(f.secretary.user_id)),
        "{last}"
    );
    assert!(!moved["allowed_actions"].as_array().unwrap().contains(&json!("extend")), "{moved}");

    let even_later = (due + Duration::hours(72)).to_rfc3339();
    let (status, err) = app.incident_action(&f.secretary.token, i, "extend", json!({"due_at": even_later})).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("extension_refused")), "{err}");
    let (_, after) = app.get(&format!("/incidents/{i}"), &f.secretary.token).await;
    assert_eq!(time(&after["due_at"]), due + Duration::hours(48), "the second extension changed nothing");

    // After the deadline: refused, whoever asks (here the township's admin, who stays
    // ledger staff once the incident is escalated).
    let other = id(&file(&app, &f.worker, &report(f.tree.grid_a, "hazard", "high")).await);
    app.clock.advance(Duration::hours(25));
    let (status, err) = app
        .incident_action(
            &f.township.token,
            other,
            "extend",
            json!({"due_at": (app.clock.now() + Duration::hours(5)).to_rfc3339()}),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("extension_refused")), "{err}");
}

#[tokio::test]
async fn the_reporters_feedback_reopens_a_closed_incident() {
    let app = spawn_app().await;
    let f = setup(&app).await;
    let i = id(&file(&app, &f.worker, &report(f.tree.grid_a, "environment", "medium")).await);
    let (status, err) =
        app.post(&format!("/incidents/{i}/feedback"), &f.worker.token, json!({"satisfied": true})).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::CONFLICT, Some("feedback_refused")),
        "not closed yet: {err}"
    );
    for (action, extra) in [("accept", json!({})), ("assign", json!({"assignee_id": f.secretary.user_id}))] {
        let (status, body) = app.incident_action(&f.secretary.token, i, action, extra).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for action in ["start", "resolve", "close"] {
        let (status, body) = app.incident_action(&f.secretary.token, i, action, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
    }

    let (status, err) =
        app.post(&format!("/incidents/{i}/feedback"), &f.secretary.token, json!({"satisfied": false})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the reporter: {err}");
    app.clock.advance(Duration::hours(2));
    let (status, reopened) = app
        .post(
            &format!("/incidents/{i}/feedback"),
            &f.worker.token,
            json!({"satisfied": false, "note": "垃圾又堆起来了"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reopened}");
    assert_eq!(
        (reopened["status"].as_str(), reopened["assignee_id"].as_i64()),
        (Some("in_progress"), Some(f.secretary.user_id))
    );
    assert_eq!(reopened["closed_at"], Value::Null);
    assert_eq!(reopened["sla"], "ok", "a new deadline from the reopening: {reopened}");
    assert!(time(&reopened["due_at"]) > app.clock.now());
    let actions: Vec<&str> =
        reopened["timeline"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(&actions[actions.len() - 2..], ["feedback", "reopen"], "{actions:?}");
    let feedback = &reopened["timeline"].as_array().unwrap()[actions.len() - 2];
    assert!(feedback["note"].as_str().unwrap().contains("垃圾又堆起来了"), "{feedback}");

    // Closed again: a satisfied word leaves it closed, and a second one is refused.
    for action in ["resolve", "close"] {
        let (status, body) = app.incident_action(&f.secretary.token, i, action, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
    }
    let (status, done) =
        app.post(&format!("/incidents/{i}/feedback"), &f.worker.token, json!({"satisfied": true})).await;
    assert_eq!((status, done["status"].as_str()), (StatusCode::OK, Some("closed")), "{done}");
    let (status, err) =
        app.post(&format!("/incidents/{i}/feedback"), &f.worker.token, json!({"satisfied": false})).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::CONFLICT, Some("feedback_refused")),
        "once per closing: {err}"
    );
    let (_, still) = app.get(&format!("/incidents/{i}"), &f.worker.token).await;
    assert_eq!(still["status"], "closed");

    // More than 7 days after a closing: refused.
    let j = id(&file(&app, &f.worker, &report(f.tree.grid_a, "environment", "medium")).await);
    for (action, extra) in [("accept", json!({})), ("assign", json!({"assignee_id": f.secretary.user_id}))] {
        let (status, body) = app.incident_action(&f.secretary.token, j, action, extra).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for action in ["start", "resolve", "close"] {
        let (status, body) = app.incident_action(&f.secretary.token, j, action, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
    }
    app.clock.advance(Duration::days(8));
    let (status, err) =
        app.post(&format!("/incidents/{j}/feedback"), &f.worker.token, json!({"satisfied": false})).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("feedback_refused")), "{err}");
}
