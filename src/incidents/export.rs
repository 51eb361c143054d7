//! The ledger (台账) as a file: CSV (UTF-8 with a BOM, so Excel reads Chinese right)
//! streamed page by page, or XLSX written in rust_xlsxwriter's constant-memory mode
//! (rows go to a temporary file as they are written). Neither holds every row at once.
use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use rust_xlsxwriter::{Format, Workbook};

use entity::incidents;

use super::domain::{number, Category, Severity, StatusText};
use super::store::{self, action_label, ListFilter, Visibility};
use crate::error::{AppError, Result};
use crate::points::domain::shanghai;
use crate::state::AppState;

const PAGE: u64 = 1000;
/// Latitude and longitude columns, written as numbers in XLSX.
const NUMERIC: [usize; 2] = [7, 8];

pub const HEADER: [&str; 17] = [
    "编号",
    "网格",
    "类别",
    "标题",
    "描述",
    "严重程度",
    "状态",
    "纬度",
    "经度",
    "地址",
    "发生时间",
    "上报时间",
    "上报人ID",
    "处置人ID",
    "销号时间",
    "最后操作",
    "最后操作时间",
];

fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&shanghai()).format("%Y-%m-%d %H:%M").to_string()
}

/// One page of rows, newest first, with the grid's name and the timeline's last action;
/// and the cursor of the next page, if there may be one.
async fn page(
    state: &AppState,
    vis: &Visibility,
    filter: &ListFilter,
    before: Option<i64>,
) -> Result<(Vec<[String; 17]>, Option<i64>)> {
    let rows = store::list(&state.db, vis, filter, before, PAGE).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let next = if ids.len() as u64 == PAGE { ids.last().copied() } else { None };
    let last = store::last_actions(&state.db, &ids).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let grid = grid_name(state, r.grid_id).await;
        let last = last.get(&r.id);
        out.push(cells(&r, grid, last.map(|(a, t)| (a.as_str(), *t))));
    }
    Ok((out, next))
}

async fn grid_name(state: &AppState, id: i64) -> String {
    crate::access::org(state, id).await.map_or_else(|_| id.to_string(), |org| org.name)
}

fn cells(r: &incidents::Model, grid: String, last: Option<(&str, DateTime<Utc>)>) -> [String; 17] {
    [
        number(r.id, r.created_at),
        grid,
        Category::parse(&r.category).map_or(r.category.clone(), |c| c.label().to_owned()),
        r.title.clone(),
        r.description.clone(),
        Severity::parse(&r.severity).map_or(r.severity.clone(), |s| s.label().to_owned()),
        r.status.label().to_owned(),
        format!("{:.6}", r.lat),
        format!("{:.6}", r.lng),
        r.address.clone().unwrap_or_default(),
        local(r.occurred_at),
        local(r.created_at),
        r.reporter_id.to_string(),
        r.assignee_id.map(|a| a.to_string()).unwrap_or_default(),
        r.closed_at.map(local).unwrap_or_default(),
        last.map(|(a, _)| action_label(a).to_owned()).unwrap_or_default(),
        last.map(|(_, t)| local(t)).unwrap_or_default(),
    ]
}

fn csv_bytes(rows: &[[String; 17]], with_header: bool) -> Result<Bytes> {
    let mut buf = Vec::new();
    if with_header {
        buf.extend_from_slice("\u{feff}".as_bytes());
    }
    {
        let mut w = csv::Writer::from_writer(&mut buf);
        if with_header {
            w.write_record(HEADER).map_err(anyhow::Error::from)?;
        }
        for row in rows {
            w.write_record(row).map_err(anyhow::Error::from)?;
        }
        w.flush().map_err(anyhow::Error::from)?;
    }
    Ok(Bytes::from(buf))
}

struct CsvState {
    state: AppState,
    vis: Visibility,
    filter: ListFilter,
    /// None once the last page is out.
    next: Option<Option<i64>>,
    first: bool,
}

/// The CSV as a stream of pages: one query per 1,000 rows, one chunk each.
pub fn csv_stream(state: AppState, vis: Visibility, filter: ListFilter) -> impl Stream<Item = Result<Bytes>> {
    let start = CsvState { state, vis, filter, next: Some(None), first: true };
    futures_util::stream::unfold(start, |mut s| async move {
        let before = s.next?;
        let result = page(&s.state, &s.vis, &s.filter, before).await;
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
        let chunk = csv_bytes(&rows, s.first);
        s.first = false;
        Some((chunk, s))
    })
}

/// The XLSX file: rows are written as pages arrive (constant-memory worksheet).
pub async fn xlsx(state: &AppState, vis: &Visibility, filter: &ListFilter) -> Result<Vec<u8>> {
    let mut workbook = Workbook::new();
    workbook.set_tempdir(std::env::temp_dir()).map_err(xlsx_error)?;
    let bold = Format::new().set_bold();
    let sheet = workbook.add_worksheet_with_constant_memory().map_err(xlsx_error)?;
    sheet.set_name("事件台账").map_err(xlsx_error)?;
    for (col, title) in HEADER.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *title, &bold).map_err(xlsx_error)?;
    }
    let mut row_no: u32 = 1;
    let mut before = None;
    loop {
        let (rows, next) = page(state, vis, filter, before).await?;
        for row in &rows {
            for (col, value) in row.iter().enumerate() {
                match (NUMERIC.contains(&col), value.parse::<f64>()) {
                    (true, Ok(n)) => sheet.write_number(row_no, col as u16, n).map_err(xlsx_error)?,
                    _ => sheet.write_string(row_no, col as u16, value).map_err(xlsx_error)?,
                };
            }
            row_no += 1;
        }
        match next {
            Some(id) => before = Some(id),
            None => break,
        }
    }
    workbook.save_to_buffer().map_err(xlsx_error)
}

fn xlsx_error(err: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::Internal(anyhow::anyhow!("writing the xlsx export: {err}"))
}
