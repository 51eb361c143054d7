//! The five stars (五星): their API keys, shared by tasks, volunteer logs, the ledger and
//! incidents; and the rating itself (五星评定): indicators per county and year, measured or
//! judged from evidence, and the branches' applications.
pub mod applications;
pub mod domain;
pub mod indicators;
pub mod metrics;
pub mod reports;
pub mod routes;
pub mod store;
pub mod summary;
pub mod view;

pub use routes::config;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Star {
    /// 支部过硬星
    StrongBranch,
    /// 产业兴旺星
    ThrivingIndustry,
    /// 生态宜居星
    EcoLivable,
    /// 平安法治星
    SafeLawful,
    /// 文明幸福星
    CivilHappy,
}

impl Star {
    pub const ALL: [Star; 5] =
        [Star::StrongBranch, Star::ThrivingIndustry, Star::EcoLivable, Star::SafeLawful, Star::CivilHappy];

    pub fn parse(s: &str) -> Option<Star> {
        Star::ALL.into_iter().find(|star| star.as_str() == s)
    }

    /// The star's name as the campaign says it.
    pub fn label(self) -> &'static str {
        match self {
            Star::StrongBranch => "支部过硬星",
            Star::ThrivingIndustry => "产业兴旺星",
            Star::EcoLivable => "生态宜居星",
            Star::SafeLawful => "平安法治星",
            Star::CivilHappy => "文明幸福星",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Star::StrongBranch => "strong_branch",
            Star::ThrivingIndustry => "thriving_industry",
            Star::EcoLivable => "eco_livable",
            Star::SafeLawful => "safe_lawful",
            Star::CivilHappy => "civil_happy",
        }
    }
}

/// The 422 reason for a star key that is not one of the five.
pub const STAR_INVALID: &str = "须为 strong_branch、thriving_industry、eco_livable、safe_lawful 或 civil_happy";

#[cfg(test)]
mod tests {
    use super::Star;

    #[test]
    fn stars_round_trip() {
        for star in Star::ALL {
            assert_eq!(Star::parse(star.as_str()), Some(star));
        }
        assert_eq!(Star::parse("six_star"), None);
    }
}
