//! Weekly and monthly reports (CONTRACT.md, "Reports") against a known data set over two
//! weeks: branch B leads in the first week, branch A in the second (比学赶超), branch C has no
//! members and is listed with zeros.
use std::io::{Cursor, Read};

use calamine::{Reader, Xlsx};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

fn row(report: &Value, branch: i64) -> &Value {
    report["branches"].as_array().unwrap().iter().find(|r| r["branch_id"].as_i64() == Some(branch)).unwrap()
}

#[tokio::test]
async fn a_weekly_report_ranks_branches_by_points_per_member_and_names_who_moved() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let (_, c) = app.create_org(&admin.token, Some(tree.township), "丙村党支部", "branch").await;
    let branch_c = c["id"].as_i64().unwrap();
    let town = app.user_with_role(&admin, "rep-town", tree.township, "township_admin").await;
    let sec_a = app.user_with_role(&admin, "rep-a", tree.branch_a, "secretary").await;
    let sec_b = app.user_with_role(&admin, "rep-b", tree.branch_b, "secretary").await;
    let r1 = app.user_with_role(&sec_a, "rep-r1", tree.branch_a, "resident").await;
    app.user_with_role(&sec_a, "rep-r2", tree.branch_a, "resident").await;
    app.user_with_role(&sec_a, "rep-r3", tree.branch_a, "resident").await;
    let rb = app.user_with_role(&sec_b, "rep-rb", tree.branch_b, "resident").await;

    // Week one: B 50 points for 1 member, A 30 for 3. Week two: A 300 for 3, B nothing.
    app.credit(&sec_b, tree.branch_b, rb.user_id, 50).await;
    app.credit(&sec_a, tree.branch_a, r1.user_id, 30).await;
    app.clock.advance(chrono::Duration::days(7));
    app.credit(&sec_a, tree.branch_a, r1.user_id, 300).await;
    app.clock.advance(chrono::Duration::days(7));

    let (status, report) = app.get(&format!("/orgs/{}/reports/weekly", tree.township), &town.token).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let second_week = crate::helpers::iso_week(app.clock.now() - chrono::Duration::days(7));
    assert_eq!(report["period"].as_str(), Some(second_week.as_str()), "the last full week by default");
    let (a, b, c) = (row(&report, tree.branch_a), row(&report, tree.branch_b), row(&report, branch_c));
    assert_eq!(
        (a["rank"].as_u64(), a["points"].as_i64(), a["points_per_member"].as_f64()),
        (Some(1), Some(300), Some(100.0))
    );
    assert_eq!((a["previous_rank"].as_u64(), a["rank_change"].as_i64()), (Some(2), Some(1)), "A moved up");
    assert_eq!(
        (b["rank"].as_u64(), b["previous_rank"].as_u64(), b["rank_change"].as_i64()),
        (Some(2), Some(1), Some(-1))
    );
    assert_eq!(
        (c["members"].as_i64(), c["points_per_member"].as_f64(), c["rank"].as_u64()),
        (Some(0), Some(0.0), Some(3))
    );
    assert_eq!(a["active_members"].as_i64(), Some(1));
    assert_eq!(report["totals"]["points"].as_i64(), Some(300));
    assert_eq!(report["totals"]["members"].as_i64(), Some(4));
    assert_eq!(report["totals"]["branches"].as_u64(), Some(3));

    // The first week, asked for by name.
    let first_week = crate::helpers::iso_week(app.clock.now() - chrono::Duration::days(14));
    let (_, first) = app.get(&format!("/orgs/{}/reports/weekly?week={first_week}", tree.township), &town.token).await;
    assert_eq!(row(&first, tree.branch_b)["rank"].as_u64(), Some(1), "{first}");
    assert_eq!(row(&first, tree.branch_b)["points_per_member"].as_f64(), Some(50.0));

    // The month holds both weeks (when they fall in one month) or part of them: its totals
    // are what the ledger holds for it.
    let (status, month) = app.get(&format!("/orgs/{}/reports/monthly", tree.township), &town.token).await;
    assert_eq!(status, StatusCode::OK, "{month}");
    assert_eq!(month["branches"].as_array().map(Vec::len), Some(3));

    let url = app.url(&format!("/api/v1/orgs/{}/reports/weekly?format=xlsx", tree.township));
    let resp = app.client.get(&url).bearer_auth(&town.token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.bytes().await.unwrap().to_vec();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes.clone())).expect("a valid xlsx");
    let names = book.sheet_names().to_vec();
    assert_eq!(names.len(), 2, "{names:?}");
    let table = book.worksheet_range(&names[0]).unwrap();
    let cells: Vec<Vec<calamine::Data>> = table.rows().map(|r| r.to_vec()).collect();
    assert_eq!(cells.len(), 4, "a header and three branches");
    assert_eq!(cells[1][1].to_string(), "甲村党支部");
    assert_eq!(cells[1][4], calamine::Data::Float(100.0));
    let changes = book.worksheet_range("名次变化").unwrap();
    assert_eq!(changes.rows().nth(1).unwrap()[3], calamine::Data::Float(1.0), "the biggest riser first");
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut chart = String::new();
    zip.by_name("xl/charts/chart1.xml").expect("a native chart").read_to_string(&mut chart).unwrap();
    assert!(chart.contains("<c:barChart>"), "a bar chart");
    assert!(
        chart.contains("$B$2:$B$4") && chart.contains("$E$2:$E$4"),
        "names against points per member: {chart:.800}"
    );

    let (status, _) = app.get(&format!("/orgs/{}/reports/weekly", tree.township), &sec_a.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for bad in ["week=2026-48", "week=2026-W60", "format=pdf"] {
        let (status, err) = app.get(&format!("/orgs/{}/reports/weekly?{bad}", tree.township), &town.token).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {err}");
    }
    let (status, _) = app.get(&format!("/orgs/{}/reports/monthly?month=2026-13", tree.township), &town.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.get(&format!("/orgs/{}/reports/weekly", tree.branch_a), &town.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a report is of a township or a county");
}
