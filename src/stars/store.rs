//! SQL for the five-star rating.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use entity::star_indicators;

use crate::pagination::PageRequest;

/// An indicator as stored, every field checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIndicator {
    pub county_id: i64,
    pub year: i32,
    pub star: &'static str,
    pub code: String,
    pub title: String,
    pub kind: &'static str,
    pub metric: Option<&'static str>,
    pub threshold: Option<f64>,
    pub created_by: Option<i64>,
}

fn row(new: NewIndicator, now: DateTime<Utc>) -> star_indicators::ActiveModel {
    star_indicators::ActiveModel {
        county_id: Set(new.county_id),
        year: Set(new.year),
        star: Set(new.star.to_owned()),
        code: Set(new.code),
        title: Set(new.title),
        kind: Set(new.kind.to_owned()),
        metric: Set(new.metric.map(str::to_owned)),
        threshold: Set(new.threshold),
        created_by: Set(new.created_by),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// Insert an indicator unless the county has one with its code that year; None then.
pub async fn insert_indicator<C: ConnectionTrait>(
    db: &C,
    new: NewIndicator,
    now: DateTime<Utc>,
) -> Result<Option<star_indicators::Model>, DbErr> {
    use star_indicators::Column as I;
    let inserted = star_indicators::Entity::insert(row(new, now))
        .on_conflict(OnConflict::columns([I::CountyId, I::Year, I::Code]).do_nothing().to_owned())
        .exec_with_returning(db)
        .await;
    match inserted {
        Ok(row) => Ok(Some(row)),
        Err(DbErr::RecordNotFound(_) | DbErr::RecordNotInserted) => Ok(None),
        Err(err) => Err(err),
    }
}

/// A county's indicators for a year, by star then code.
pub async fn indicators<C: ConnectionTrait>(
    db: &C,
    county_id: i64,
    year: i32,
    page: PageRequest,
) -> Result<Vec<star_indicators::Model>, DbErr> {
    use star_indicators::Column as I;
    let mut q = star_indicators::Entity::find().filter(I::CountyId.eq(county_id)).filter(I::Year.eq(year));
    if let Some(after) = page.after {
        q = q.filter(I::Id.gt(after));
    }
    q.order_by_asc(I::Id).limit(page.limit + 1).all(db).await
}

/// Every indicator a county has for a year (a few dozen), by id.
pub async fn all_indicators<C: ConnectionTrait>(
    db: &C,
    county_id: i64,
    year: i32,
) -> Result<Vec<star_indicators::Model>, DbErr> {
    use star_indicators::Column as I;
    star_indicators::Entity::find()
        .filter(I::CountyId.eq(county_id))
        .filter(I::Year.eq(year))
        .order_by_asc(I::Id)
        .all(db)
        .await
}
