//! A shop's stock ledger (台账): every restock with its donor, redemption, refund and
//! fulfilment, with who and when. As JSON pages, or as a file for the township's books
//! (CSV with BOM and formulas neutralised, or XLSX) through `http::export`.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use entity::shop_stock_moves::{self, StockMoveKind};

use super::service::kept_shop;
use super::store::{self, MoveFilter};
use crate::access::Caller;
use crate::error::{AppError, Result};
use crate::http::export::{column, csv_chunk, Cell, Column, XlsxBook};
use crate::infra::names::Names;
use crate::media::service as media;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct LedgerQuery {
    /// `json` (default, paginated), `csv` or `xlsx` (the whole ledger as a file).
    #[param(pattern = "^(json|csv|xlsx)$")]
    pub format: Option<String>,
    pub item_id: Option<i64>,
    /// `restock`, `redeem`, `refund` or `fulfil`.
    #[param(value_type = Option<StockMoveKind>)]
    pub kind: Option<String>,
    /// From this moment (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Until this moment (exclusive).
    pub to: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// What the ledger is asked for.
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

impl LedgerQuery {
    pub fn format(&self) -> Result<Format> {
        match self.format.as_deref().unwrap_or("json") {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            _ => Err(AppError::field("format", "须为 json、csv 或 xlsx")),
        }
    }

    fn filter(&self) -> Result<MoveFilter> {
        let kind = match self.kind.as_deref() {
            None => None,
            Some("restock") => Some(StockMoveKind::Restock),
            Some("redeem") => Some(StockMoveKind::Redeem),
            Some("refund") => Some(StockMoveKind::Refund),
            Some("fulfil") => Some(StockMoveKind::Fulfil),
            Some(_) => return Err(AppError::field("kind", "须为 restock、redeem、refund 或 fulfil")),
        };
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if to <= from {
                return Err(AppError::field("to", "须晚于 from"));
            }
        }
        Ok(MoveFilter { item_id: self.item_id, kind, from: self.from, to: self.to })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StockLineView {
    pub id: i64,
    pub item_id: i64,
    pub item_name: String,
    pub kind: StockMoveKind,
    /// The change to the stock (0 for a fulfilment: the redemption took it already).
    pub quantity: i64,
    /// The stock right after.
    pub stock_after: i64,
    pub redemption_id: Option<i64>,
    /// The member a redemption, refund or fulfilment was for.
    pub user_id: Option<i64>,
    pub user_name: Option<String>,
    /// Who did it; null for an expiry.
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub donor: Option<String>,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

/// Rows of the ledger with the names they show, each read once.
async fn lines(state: &AppState, rows: Vec<shop_stock_moves::Model>) -> Result<Vec<StockLineView>> {
    let items = store::item_names(&state.db, rows.iter().map(|r| r.item_id)).await?;
    let names =
        state.caches.names.lookup(&state.db, rows.iter().flat_map(|r| r.user_id.into_iter().chain(r.actor_id))).await?;
    Ok(rows.into_iter().map(|r| line(r, &items, &names)).collect())
}

fn line(r: shop_stock_moves::Model, items: &HashMap<i64, String>, names: &Names) -> StockLineView {
    StockLineView {
        id: r.id,
        item_id: r.item_id,
        item_name: items.get(&r.item_id).cloned().unwrap_or_default(),
        kind: r.kind,
        quantity: r.quantity,
        stock_after: r.stock_after,
        redemption_id: r.redemption_id,
        user_id: r.user_id,
        user_name: names.of_opt(r.user_id),
        actor_id: r.actor_id,
        actor_name: names.of_opt(r.actor_id),
        donor: r.donor,
        note: r.note,
        at: r.created_at,
    }
}

/// One page of the ledger, newest first (those who keep the shop).
pub async fn page(state: &AppState, caller: &Caller, org_id: i64, q: &LedgerQuery) -> Result<Page<StockLineView>> {
    let shop = kept_shop(state, caller, org_id).await?;
    let filter = q.filter()?;
    let page = PageQuery { cursor: q.cursor.clone(), limit: q.limit }.parse()?;
    let rows = store::moves_of(&state.db, shop.id, &filter, page.after, page.limit + 1).await?;
    let rows = Page::from_rows(rows, page, |r| r.id, |r| r);
    Ok(Page { items: lines(state, rows.items).await?, next_cursor: rows.next_cursor })
}

pub const COLUMNS: [Column; 12] = [
    column("时间", 17.0),
    column("物品", 20.0),
    column("类型", 8.0),
    column("数量变化", 9.0),
    column("变动后库存", 10.0),
    column("兑换单号", 10.0),
    column("会员", 10.0),
    column("经办人", 10.0),
    column("捐赠方", 18.0),
    column("备注", 24.0),
    column("流水号", 9.0),
    column("物品照片（链接 30 天内有效）", 30.0),
];

fn kind_label(kind: StockMoveKind) -> &'static str {
    match kind {
        StockMoveKind::Restock => "入库",
        StockMoveKind::Redeem => "兑换出库",
        StockMoveKind::Refund => "退回入库",
        StockMoveKind::Fulfil => "核销领取",
    }
}

fn cells(l: StockLineView, photos: Vec<String>) -> Vec<Cell> {
    vec![
        Cell::Time(Some(l.at)),
        l.item_name.into(),
        kind_label(l.kind).into(),
        Cell::Integer(l.quantity),
        Cell::Integer(l.stock_after),
        l.redemption_id.map_or_else(String::new, |id| id.to_string()).into(),
        l.user_name.unwrap_or_default().into(),
        l.actor_name.unwrap_or_else(|| if l.actor_id.is_none() { "系统（逾期）".into() } else { String::new() }).into(),
        l.donor.unwrap_or_default().into(),
        l.note.unwrap_or_default().into(),
        Cell::Integer(l.id),
        Cell::Links(photos),
    ]
}

/// Rows per query while writing a file.
const FILE_PAGE: u64 = 1000;

/// The next rows of a file after the line `before` (None: from the newest), and the line
/// to continue after (None: these were the last).
async fn file_page(
    state: &AppState,
    shop_id: i64,
    filter: &MoveFilter,
    before: Option<i64>,
    origin: &str,
) -> Result<(Vec<Vec<Cell>>, Option<i64>)> {
    let rows = store::moves_of(&state.db, shop_id, filter, before, FILE_PAGE).await?;
    let next = if rows.len() as u64 == FILE_PAGE { rows.last().map(|r| r.id) } else { None };
    let items = store::items_by_id(&state.db, rows.iter().map(|r| r.item_id)).await?;
    let photos: HashMap<i64, Vec<i64>> =
        items.values().map(|i| (i.id, serde_json::from_value(i.media_ids.clone()).unwrap_or_default())).collect();
    let links = media::export_links(state, photos.values().flatten().copied(), origin).await?;
    let item_links = |item: i64| -> Vec<String> {
        photos.get(&item).into_iter().flatten().filter_map(|m| links.get(m).cloned()).collect()
    };
    let rows = lines(state, rows).await?.into_iter().map(|l| {
        let links = item_links(l.item_id);
        cells(l, links)
    });
    Ok((rows.collect(), next))
}

/// The whole ledger (as filtered) as a CSV or XLSX file, newest first, read a page at a time.
/// `origin` is the scheme and host the caller reached us at, for the photos' links.
pub async fn file(
    state: &AppState,
    caller: &Caller,
    org_id: i64,
    q: &LedgerQuery,
    format: Format,
    origin: &str,
) -> Result<Vec<u8>> {
    let shop = kept_shop(state, caller, org_id).await?;
    let filter = q.filter()?;
    let mut before = None;
    if let Format::Xlsx = format {
        let mut book = XlsxBook::new()?;
        let mut sheet = book.sheet("积分超市台账", &COLUMNS)?;
        loop {
            let (rows, next) = file_page(state, shop.id, &filter, before, origin).await?;
            for row in &rows {
                sheet.append(row)?;
            }
            match next {
                Some(id) => before = Some(id),
                None => break,
            }
        }
        sheet.finish()?;
        return book.finish();
    }
    let mut csv = Vec::new();
    loop {
        let (rows, next) = file_page(state, shop.id, &filter, before, origin).await?;
        csv.extend_from_slice(&csv_chunk(&COLUMNS, &rows, before.is_none())?);
        match next {
            Some(id) => before = Some(id),
            None => return Ok(csv),
        }
    }
}
