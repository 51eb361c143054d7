//! The five stars, by their API keys. Shared by tasks, volunteer logs, the ledger and
//! incidents.
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
