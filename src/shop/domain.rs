//! The shop's rules as plain values: limit periods on the Asia/Shanghai calendar, an
//! item's availability, pickup codes, and which move a redemption may still make.
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use entity::redemptions::RedemptionStatus;
use entity::shop_items::{self, ItemStatus, LimitPeriod};

use crate::clock::shanghai;
use crate::error::{AppError, ErrorCode, FieldErrors};

pub const MAX_COST: i64 = 1_000_000;
pub const MAX_STOCK: i64 = 1_000_000;
pub const MAX_LIMIT: i32 = 1000;
/// Most of one item a single redemption takes.
pub const MAX_QUANTITY: i32 = 100;
pub const MAX_PHOTOS: usize = 9;

/// `POST /orgs/{org_id}/shop/items`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewItemRequest {
    /// 1–100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub name: String,
    /// Up to 2000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    /// Points one unit costs, 1–1000000.
    #[schema(minimum = 1, maximum = 1000000)]
    pub points_cost: i64,
    /// Units on the shelf at first, 0–1000000 (a restock with the donor in the stock ledger).
    #[schema(minimum = 0, maximum = 1000000)]
    pub stock: i64,
    /// Most units one member may redeem per `limit_period`, 1–1000; absent for no limit.
    #[schema(minimum = 1, maximum = 1000)]
    pub per_member_limit: Option<i32>,
    /// `week`, `month`, `year` or `all` (default), on the Asia/Shanghai calendar.
    #[schema(value_type = Option<LimitPeriod>)]
    pub limit_period: Option<String>,
    pub available_from: Option<DateTime<Utc>>,
    /// Exclusive; after `available_from`.
    pub available_until: Option<DateTime<Utc>>,
    /// Who gave it (帮扶单位, a shop…), up to 100 characters.
    #[schema(max_length = 100)]
    pub donor: Option<String>,
    /// Up to 9 photos the caller uploaded.
    #[serde(default)]
    pub media_ids: Vec<i64>,
}

/// `PATCH /shop/items/{id}`: any of these; `null` clears an optional one. Stock moves
/// only by restocks and redemptions.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ItemEdit {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    #[schema(minimum = 1, maximum = 1000000)]
    pub points_cost: Option<i64>,
    #[serde(default, deserialize_with = "crate::http::json::present")]
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 1000)]
    pub per_member_limit: Option<Option<i32>>,
    #[schema(value_type = Option<LimitPeriod>)]
    pub limit_period: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub available_from: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "crate::http::json::present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub available_until: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "crate::http::json::present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub donor: Option<Option<String>>,
    pub media_ids: Option<Vec<i64>>,
}

/// An item's fields as they will be stored, every one checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemFields {
    pub name: String,
    pub description: String,
    pub points_cost: i64,
    pub per_member_limit: Option<i32>,
    pub limit_period: LimitPeriod,
    pub available_from: Option<DateTime<Utc>>,
    pub available_until: Option<DateTime<Utc>>,
    pub donor: Option<String>,
    pub media_ids: Vec<i64>,
}

impl ItemFields {
    /// A new item's fields and its first stock.
    pub fn parse_new(req: NewItemRequest) -> Result<(ItemFields, i64), FieldErrors> {
        let mut fields = FieldErrors::new();
        if !(0..=MAX_STOCK).contains(&req.stock) {
            fields.insert("stock".into(), format!("须在 0 到 {MAX_STOCK} 之间"));
        }
        let period = req.limit_period.as_deref().unwrap_or("all");
        let item = ItemFields::check(
            ItemFields {
                name: req.name,
                description: req.description,
                points_cost: req.points_cost,
                per_member_limit: req.per_member_limit,
                limit_period: LimitPeriod::All,
                available_from: req.available_from,
                available_until: req.available_until,
                donor: req.donor,
                media_ids: req.media_ids,
            },
            period,
            &mut fields,
        );
        if fields.is_empty() {
            Ok((item, req.stock))
        } else {
            Err(fields)
        }
    }

    /// The item after an edit.
    pub fn edited(self, edit: ItemEdit) -> Result<ItemFields, FieldErrors> {
        let mut fields = FieldErrors::new();
        let period = edit.limit_period.unwrap_or_else(|| period_name(self.limit_period).to_owned());
        let item = ItemFields::check(
            ItemFields {
                name: edit.name.unwrap_or(self.name),
                description: edit.description.unwrap_or(self.description),
                points_cost: edit.points_cost.unwrap_or(self.points_cost),
                per_member_limit: edit.per_member_limit.unwrap_or(self.per_member_limit),
                limit_period: self.limit_period,
                available_from: edit.available_from.unwrap_or(self.available_from),
                available_until: edit.available_until.unwrap_or(self.available_until),
                donor: edit.donor.unwrap_or(self.donor),
                media_ids: edit.media_ids.unwrap_or(self.media_ids),
            },
            &period,
            &mut fields,
        );
        if fields.is_empty() {
            Ok(item)
        } else {
            Err(fields)
        }
    }

    fn check(mut item: ItemFields, period: &str, fields: &mut FieldErrors) -> ItemFields {
        item.name = item.name.trim().to_owned();
        if item.name.is_empty() || item.name.chars().count() > 100 {
            fields.insert("name".into(), "须为 1 到 100 个字符".into());
        }
        item.description = item.description.trim().to_owned();
        if item.description.chars().count() > 2000 {
            fields.insert("description".into(), "不超过 2000 个字符".into());
        }
        if !(1..=MAX_COST).contains(&item.points_cost) {
            fields.insert("points_cost".into(), format!("须在 1 到 {MAX_COST} 之间"));
        }
        if item.per_member_limit.is_some_and(|l| !(1..=MAX_LIMIT).contains(&l)) {
            fields.insert("per_member_limit".into(), format!("须在 1 到 {MAX_LIMIT} 之间，不限则不填"));
        }
        match parse_period(period) {
            Some(p) => item.limit_period = p,
            None => {
                fields.insert("limit_period".into(), "须为 week、month、year 或 all".into());
            }
        }
        if let (Some(from), Some(until)) = (item.available_from, item.available_until) {
            if until <= from {
                fields.insert("available_until".into(), "须晚于 available_from".into());
            }
        }
        item.donor = item.donor.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
        if item.donor.as_ref().is_some_and(|d| d.chars().count() > 100) {
            fields.insert("donor".into(), "不超过 100 个字符".into());
        }
        if item.media_ids.len() > MAX_PHOTOS {
            fields.insert("media_ids".into(), format!("最多 {MAX_PHOTOS} 张照片"));
        }
        item
    }

    pub fn of(item: &shop_items::Model) -> ItemFields {
        ItemFields {
            name: item.name.clone(),
            description: item.description.clone(),
            points_cost: item.points_cost,
            per_member_limit: item.per_member_limit,
            limit_period: item.limit_period,
            available_from: item.available_from,
            available_until: item.available_until,
            donor: item.donor.clone(),
            media_ids: serde_json::from_value(item.media_ids.clone()).unwrap_or_default(),
        }
    }
}

pub fn period_name(period: LimitPeriod) -> &'static str {
    match period {
        LimitPeriod::Week => "week",
        LimitPeriod::Month => "month",
        LimitPeriod::Year => "year",
        LimitPeriod::All => "all",
    }
}

/// `POST /shop/items/{id}/restock`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct RestockRequest {
    /// 1–1000000 units.
    #[schema(minimum = 1, maximum = 1000000)]
    pub quantity: i64,
    #[schema(max_length = 100)]
    pub donor: Option<String>,
    /// What came in and from where, 1–200 characters (kept in the stock ledger).
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub note: String,
}

/// `POST /shop/items/{id}/redeem`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct RedeemRequest {
    /// 1–100 units, default 1.
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 100, default = 1)]
    pub quantity: i32,
}

fn one() -> i32 {
    1
}

/// `POST /orgs/{org_id}/redemptions/fulfil`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct FulfilRequest {
    /// The 8-character pickup code, typed (any case, spaces around ignored) or scanned.
    #[schema(pattern = r"^\s*[2-9A-HJ-NP-Za-hj-np-z]{8}\s*$")]
    pub code: String,
}

/// Pickup codes are drawn from these 32 characters: no 0/O or 1/I to misread at a counter.
pub const CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
pub const CODE_LEN: usize = 8;

/// A fresh pickup code: 8 characters, 40 bits of randomness.
pub fn new_code(rng: &mut impl Rng) -> String {
    (0..CODE_LEN).map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char).collect()
}

/// The code as a QR image the counter can scan: a PNG data URL, black on white, 6 pixels
/// a module with the standard 4-module quiet zone (about 200 px square for a code).
pub fn code_qr(code: &str) -> String {
    use base64::Engine;
    use image::ImageEncoder;
    // 8 characters of the alphanumeric set fit version 1 at any error-correction level.
    let Ok(qr) = qrcode::QrCode::with_error_correction_level(code.as_bytes(), qrcode::EcLevel::M) else {
        return String::new();
    };
    let img = qr.render::<image::Luma<u8>>().module_dimensions(6, 6).quiet_zone(true).build();
    let mut png = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new(&mut png);
    if encoder.write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::L8).is_err() {
        return String::new();
    }
    format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png))
}

/// A code as typed or scanned at the counter: trimmed and upper-cased; None unless it is
/// 8 characters of the alphabet.
pub fn parse_code(input: &str) -> Option<String> {
    let code = input.trim().to_ascii_uppercase();
    (code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

pub fn parse_period(s: &str) -> Option<LimitPeriod> {
    Some(match s {
        "week" => LimitPeriod::Week,
        "month" => LimitPeriod::Month,
        "year" => LimitPeriod::Year,
        "all" => LimitPeriod::All,
        _ => return None,
    })
}

/// When the period containing `now` began (Asia/Shanghai midnight of its Monday, first of
/// the month, or New Year's Day); None for `all`, which never starts over.
pub fn period_start(period: LimitPeriod, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let today = now.with_timezone(&shanghai()).date_naive();
    let first = match period {
        LimitPeriod::Week => today - Duration::days(i64::from(today.weekday().num_days_from_monday())),
        LimitPeriod::Month => NaiveDate::from_ymd_opt(today.year(), today.month(), 1)?,
        LimitPeriod::Year => NaiveDate::from_ymd_opt(today.year(), 1, 1)?,
        LimitPeriod::All => return None,
    };
    let midnight = shanghai().from_local_datetime(&first.and_hms_opt(0, 0, 0)?).single()?;
    Some(midnight.with_timezone(&Utc))
}

/// Why an item cannot be redeemed now, apart from its stock.
pub fn unavailable(item: &shop_items::Model, now: DateTime<Utc>) -> Option<&'static str> {
    if item.status == ItemStatus::Retired {
        return Some("该物品已下架");
    }
    if item.available_from.is_some_and(|from| now < from) {
        return Some("该物品尚未开始兑换");
    }
    if item.available_until.is_some_and(|until| now >= until) {
        return Some("该物品已过兑换期");
    }
    None
}

pub fn item_unavailable(why: &'static str) -> AppError {
    AppError::Conflict { code: ErrorCode::ItemUnavailable, message: why }
}

pub const OUT_OF_STOCK: AppError = AppError::Conflict { code: ErrorCode::OutOfStock, message: "库存不足" };
pub const LIMIT_REACHED: AppError =
    AppError::Conflict { code: ErrorCode::LimitReached, message: "已达到本期每人可兑换的数量" };
pub const ALREADY_FULFILLED: AppError =
    AppError::Conflict { code: ErrorCode::AlreadyFulfilled, message: "该兑换码已核销" };
pub const REDEMPTION_CLOSED: AppError = AppError::Conflict {
    code: ErrorCode::RedemptionClosed,
    message: "该兑换已取消或已过期，积分已退回",
};

/// What a reservation's move (fulfil, cancel, expire) meets when it is no longer reserved.
pub fn closed(status: RedemptionStatus) -> AppError {
    match status {
        RedemptionStatus::Fulfilled => ALREADY_FULFILLED,
        _ => REDEMPTION_CLOSED,
    }
}

/// How much more of an item a member may take in this period: None for no limit.
pub fn remaining(limit: Option<i32>, used: i64) -> Option<i64> {
    limit.map(|l| (i64::from(l) - used).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn periods_start_at_shanghai_midnight() {
        // Sunday 2026-11-29 20:00 UTC is Monday 04:00 in Shanghai: a new week began at
        // Monday 00:00 there, Sunday 16:00 UTC.
        let now = utc("2026-11-29T20:00:00Z");
        assert_eq!(period_start(LimitPeriod::Week, now), Some(utc("2026-11-29T16:00:00Z")));
        assert_eq!(period_start(LimitPeriod::Week, utc("2026-11-29T15:59:59Z")), Some(utc("2026-11-22T16:00:00Z")));
        assert_eq!(period_start(LimitPeriod::Month, now), Some(utc("2026-10-31T16:00:00Z")));
        // New Year's Eve 17:00 UTC is already January 1st in Shanghai.
        assert_eq!(period_start(LimitPeriod::Year, utc("2026-12-31T17:00:00Z")), Some(utc("2026-12-31T16:00:00Z")));
        assert_eq!(period_start(LimitPeriod::All, now), None);
    }

    #[test]
    fn codes_use_the_unambiguous_alphabet() {
        let mut rng = rand::rng();
        for _ in 0..200 {
            let code = new_code(&mut rng);
            assert_eq!(code.len(), 8);
            assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{code}");
            assert!(!code.contains(['0', 'O', '1', 'I']));
        }
        assert_eq!(parse_code(" ab23cd45 "), Some("AB23CD45".to_owned()));
        assert_eq!(parse_code("AB23CD4"), None, "too short");
        assert_eq!(parse_code("AB23CD40"), None, "0 is not in the alphabet");
        assert_eq!(parse_code("AB23CD4五"), None);
    }

    #[test]
    fn the_qr_image_reads_back_as_the_code() {
        use base64::Engine;
        let url = code_qr("AB23CD45");
        let b64 = url.strip_prefix("data:image/png;base64,").expect("a PNG data URL");
        let png = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
        let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap().to_luma8();
        // Version 1 is 21 modules, plus 4 of quiet zone on each side, 6 px each.
        assert_eq!(img.dimensions(), ((21 + 8) * 6, (21 + 8) * 6));
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(content, "AB23CD45");
    }

    #[test]
    fn a_closed_reservation_names_why() {
        assert_eq!(closed(RedemptionStatus::Fulfilled).code(), ErrorCode::AlreadyFulfilled);
        assert_eq!(closed(RedemptionStatus::Cancelled).code(), ErrorCode::RedemptionClosed);
        assert_eq!(closed(RedemptionStatus::Expired).code(), ErrorCode::RedemptionClosed);
    }

    #[test]
    fn availability_follows_status_and_window() {
        let now = utc("2026-11-29T08:00:00Z");
        let item = shop_items::Model {
            id: 1,
            org_id: 1,
            name: "肥皂".into(),
            description: String::new(),
            points_cost: 10,
            stock_left: 5,
            per_member_limit: None,
            limit_period: LimitPeriod::All,
            available_from: None,
            available_until: None,
            donor: None,
            media_ids: serde_json::json!([]),
            status: ItemStatus::Active,
            created_by: 1,
            created_at: now,
            updated_at: now,
        };
        assert_eq!(unavailable(&item, now), None);
        let later = shop_items::Model { available_from: Some(now + Duration::hours(1)), ..item.clone() };
        assert!(unavailable(&later, now).is_some());
        let ended = shop_items::Model { available_until: Some(now), ..item.clone() };
        assert!(unavailable(&ended, now).is_some(), "the end of the window is exclusive");
        let retired = shop_items::Model { status: ItemStatus::Retired, ..item };
        assert!(unavailable(&retired, now).is_some());
        assert_eq!(remaining(Some(2), 1), Some(1));
        assert_eq!(remaining(Some(2), 5), Some(0));
        assert_eq!(remaining(None, 5), None);
    }
}
