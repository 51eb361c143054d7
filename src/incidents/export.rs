//! The ledger (台账) as a file: CSV streamed page by page, or XLSX written in constant
//! memory, both through `http::export` (names, date cells, frozen header, autofilter,
//! widths, photo links, formulas neutralised). Neither holds every row at once.
use std::collections::HashMap;

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;

use entity::incidents;

use super::domain::{number, Category, Severity, Sla, StatusText};
use super::store::{self, action_label, ListFilter, Visibility};
use super::views::sla_of;
use crate::error::Result;
use crate::http::export::{column, csv_chunk, Cell, Column, XlsxBook};
use crate::infra::names::Names;
use crate::media::service as media;
use crate::state::AppState;

const PAGE: u64 = 1000;

pub const COLUMNS: [Column; 20] = [
    column("编号", 16.0),
    column("网格", 14.0),
    column("类别", 10.0),
    column("标题", 24.0),
    column("描述", 40.0),
    column("严重程度", 9.0),
    column("状态", 10.0),
    column("纬度（GCJ-02）", 12.0),
    column("经度（GCJ-02）", 12.0),
    column("地址", 24.0),
    column("发生时间", 17.0),
    column("上报时间", 17.0),
    column("上报人", 10.0),
    column("处置人", 10.0),
    column("销号时间", 17.0),
    column("办理期限", 17.0),
    column("时限状态", 9.0),
    column("最后操作", 10.0),
    column("最后操作时间", 17.0),
    column("照片（链接 30 天内有效）", 30.0),
];

/// One page of rows, newest first, with names, the grid's name, the timeline's last
/// action and the photos' links; and the cursor of the next page, if there may be one.
async fn page(
    state: &AppState,
    vis: &Visibility,
    filter: &ListFilter,
    before: Option<i64>,
    origin: &str,
) -> Result<(Vec<Vec<Cell>>, Option<i64>)> {
    let rows = store::list(&state.db, vis, filter, before, PAGE).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let next = if ids.len() as u64 == PAGE { ids.last().copied() } else { None };
    let last = store::last_actions(&state.db, &ids).await?;
    let people = rows.iter().flat_map(|r| std::iter::once(r.reporter_id).chain(r.assignee_id));
    let names = state.caches.names.lookup(&state.db, people).await?;
    let photo_ids: Vec<Vec<i64>> =
        rows.iter().map(|r| serde_json::from_value(r.media_ids.clone()).unwrap_or_default()).collect();
    let links = media::export_links(state, photo_ids.iter().flatten().copied(), origin).await?;
    let mut out = Vec::with_capacity(rows.len());
    let now = state.clock.now();
    for (r, photos) in rows.iter().zip(&photo_ids) {
        let grid = grid_name(state, r.grid_id).await;
        let last = last.get(&r.id).map(|(a, t)| (a.as_str(), *t));
        out.push(cells(r, grid, &names, last, photos, &links, now));
    }
    Ok((out, next))
}

async fn grid_name(state: &AppState, id: i64) -> String {
    crate::access::org(state, id).await.map_or_else(|_| id.to_string(), |org| org.name)
}

fn cells(
    r: &incidents::Model,
    grid: String,
    names: &Names,
    last: Option<(&str, DateTime<Utc>)>,
    photos: &[i64],
    links: &HashMap<i64, String>,
    now: DateTime<Utc>,
) -> Vec<Cell> {
    let sla = sla_of(r, now).map_or("", Sla::label);
    vec![
        number(r.id, r.created_at).into(),
        grid.into(),
        Category::parse(&r.category).map_or(r.category.clone(), |c| c.label().to_owned()).into(),
        r.title.clone().into(),
        r.description.clone().into(),
        Severity::parse(&r.severity).map_or(r.severity.clone(), |s| s.label().to_owned()).into(),
        r.status.label().into(),
        Cell::Number(r.lat),
        Cell::Number(r.lng),
        r.address.clone().unwrap_or_default().into(),
        Cell::Time(Some(r.occurred_at)),
        Cell::Time(Some(r.created_at)),
        names.of(r.reporter_id).into(),
        names.of_opt(r.assignee_id).unwrap_or_default().into(),
        Cell::Time(r.closed_at),
        Cell::Time(r.due_at),
        sla.into(),
        last.map(|(a, _)| action_label(a)).unwrap_or_default().into(),
        Cell::Time(last.map(|(_, t)| t)),
        Cell::Links(photos.iter().filter_map(|id| links.get(id).cloned()).collect()),
    ]
}

struct CsvState {
    state: AppState,
    vis: Visibility,
    filter: ListFilter,
    origin: String,
    /// None once the last page is out.
    next: Option<Option<i64>>,
    first: bool,
}

/// The CSV as a stream of pages: one query per 1,000 rows, one chunk each.
pub fn csv_stream(
    state: AppState,
    vis: Visibility,
    filter: ListFilter,
    origin: String,
) -> impl Stream<Item = Result<Bytes>> {
    let start = CsvState { state, vis, filter, origin, next: Some(None), first: true };
    futures_util::stream::unfold(start, |mut s| async move {
        let before = s.next?;
        let result = page(&s.state, &s.vis, &s.filter, before, &s.origin).await;
        let rows = match result {
            Ok((rows, next)) => {
                s.next = next.map(Some);
                rows
            }
            Err(err) => {
                s.next = None;
                return Some((Err(err), s));
            }
        };
        let chunk = csv_chunk(&COLUMNS, &rows, s.first);
        s.first = false;
        Some((chunk, s))
    })
}

/// The XLSX file: rows are written as pages arrive (constant-memory worksheet).
pub async fn xlsx(state: &AppState, vis: &Visibility, filter: &ListFilter, origin: &str) -> Result<Vec<u8>> {
    let mut book = XlsxBook::new()?;
    let mut sheet = book.sheet("事件台账", &COLUMNS)?;
    let mut before = None;
    loop {
        let (rows, next) = page(state, vis, filter, before, origin).await?;
        for row in &rows {
            sheet.append(row)?;
        }
        match next {
            Some(id) => before = Some(id),
            None => break,
        }
    }
    sheet.finish()?;
    book.finish()
}
