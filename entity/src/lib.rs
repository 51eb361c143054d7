//! sea-orm entities, one file per table, with the status enums of their columns (stored as
//! the same strings as before). Plain data: no logic lives here.
/// A status column's enum: stored as the same snake_case strings it always was (no data
/// migration), serialised and documented as those strings too.
macro_rules! status_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:tt,)+ }) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
        #[serde(rename_all = "snake_case")]
        $(#[$meta])*
        pub enum $name {
            $($(#[$vmeta])* #[sea_orm(string_value = $text)] $variant,)+
        }
    };
}

pub mod audit_log;
pub mod card_claims;
pub mod cards;
pub mod draw_codes;
pub mod idempotency_keys;
pub mod incident_events;
pub mod incident_sla_rules;
pub mod incidents;
pub mod invites;
pub mod media;
pub mod notifications;
pub mod orgs;
pub mod points_ledger;
pub mod points_summary;
pub mod redemptions;
pub mod redis_pending;
pub mod refresh_tokens;
pub mod shop_items;
pub mod shop_stock_moves;
pub mod star_applications;
pub mod star_events;
pub mod star_evidence;
pub mod star_indicators;
pub mod star_objections;
pub mod star_ratings;
pub mod tasks;
pub mod user_roles;
pub mod users;
pub mod volunteer_logs;
pub mod wechat_consents;
pub mod work_calendar;
