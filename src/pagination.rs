//! Cursor pagination: `?cursor=&limit=` in, `{items, next_cursor}` out. Cursors are
//! opaque strings to clients; inside they are the last id of the previous page.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, Result};

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 100;

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// A parsed page request: fetch rows with id after `after`, at most `limit`.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub after: Option<i64>,
    pub limit: u64,
}

impl PageQuery {
    pub fn parse(&self) -> Result<PageRequest> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(AppError::field("limit", format!("须在 1 到 {MAX_LIMIT} 之间")));
        }
        let after = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| AppError::field("cursor", "无效的分页游标"))?),
        };
        Ok(PageRequest { after, limit })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Build a page from up to `limit + 1` rows fetched in id order: the extra row, if
    /// any, only says that another page exists.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        req: PageRequest,
        id: impl Fn(&R) -> i64,
        map: impl FnMut(R) -> T,
    ) -> Page<T> {
        let more = rows.len() as u64 > req.limit;
        rows.truncate(req.limit as usize);
        let next_cursor = if more { rows.last().map(|r| encode_cursor(id(r))) } else { None };
        Page { items: rows.into_iter().map(map).collect(), next_cursor }
    }
}

pub fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("i:{id}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    text.strip_prefix("i:")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor(77)), Some(77));
        assert_eq!(decode_cursor("nope"), None);
        let q = PageQuery { cursor: Some("???".into()), limit: None };
        assert!(q.parse().is_err());
        let q = PageQuery { cursor: None, limit: Some(101) };
        assert!(q.parse().is_err());
    }

    #[test]
    fn a_page_knows_whether_another_follows() {
        let req = PageRequest { after: None, limit: 2 };
        let page = Page::from_rows(vec![1i64, 2, 3], req, |r| *r, |r| r);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next_cursor, Some(encode_cursor(2)));
        let page = Page::from_rows(vec![1i64, 2], req, |r| *r, |r| r);
        assert_eq!(page.next_cursor, None);
    }
}
