//! The five-star rating's rules as plain values: indicators and the metrics `auto` ones are
//! measured by, and the application's state machine (申报 → 初审 → 审核 → 公示 → 授星), move by
//! move, with who may make each move.
use crate::access::Role;
use crate::stars::Star;

/// How an indicator is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndicatorKind {
    /// Measured from the system's own data for the branch and year.
    Auto,
    /// Judged by reviewers from the evidence the branch attaches.
    Evidence,
}

impl IndicatorKind {
    pub fn parse(s: &str) -> Option<IndicatorKind> {
        match s {
            "auto" => Some(IndicatorKind::Auto),
            "evidence" => Some(IndicatorKind::Evidence),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::Auto => "auto",
            IndicatorKind::Evidence => "evidence",
        }
    }
}

/// What an `auto` indicator measures, for one branch over one year (Asia/Shanghai).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    VolunteerMinutesPerMember,
    /// Members with a ledger credit in the year, over members.
    ActiveMemberShare,
    CardsApprovedPerMember,
    IncidentsClosedShare,
    DisputesClosedShare,
    /// A count: met when at most the threshold.
    IncidentsOverdue,
    PointsPerMember,
}

impl Metric {
    pub const ALL: [Metric; 7] = [
        Metric::VolunteerMinutesPerMember,
        Metric::ActiveMemberShare,
        Metric::CardsApprovedPerMember,
        Metric::IncidentsClosedShare,
        Metric::DisputesClosedShare,
        Metric::IncidentsOverdue,
        Metric::PointsPerMember,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::VolunteerMinutesPerMember => "volunteer_minutes_per_member",
            Metric::ActiveMemberShare => "active_member_share",
            Metric::CardsApprovedPerMember => "cards_approved_per_member",
            Metric::IncidentsClosedShare => "incidents_closed_share",
            Metric::DisputesClosedShare => "disputes_closed_share",
            Metric::IncidentsOverdue => "incidents_overdue",
            Metric::PointsPerMember => "points_per_member",
        }
    }

    pub fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether `value` meets `threshold`: at least it, or for a count of overdue incidents,
    /// at most it.
    pub fn met(self, value: f64, threshold: f64) -> bool {
        match self {
            Metric::IncidentsOverdue => value <= threshold,
            _ => value >= threshold,
        }
    }
}

/// Where an application is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 申报: waiting for the township's first check.
    Submitted,
    /// Sent back for revision; the branch edits and submits again.
    Returned,
    /// 初审 passed: waiting for the county's review.
    TownshipPassed,
    /// 公示: open to objections until `publicity_ends_at`.
    Publicized,
    /// 授星: the branch's rating for the year is the application's stars.
    Awarded,
    Rejected,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Submitted,
        Status::Returned,
        Status::TownshipPassed,
        Status::Publicized,
        Status::Awarded,
        Status::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::Returned => "returned",
            Status::TownshipPassed => "township_passed",
            Status::Publicized => "publicized",
            Status::Awarded => "awarded",
            Status::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// A live application holds the branch's place for the year: only a rejected one
    /// makes room for another.
    pub fn is_live(self) -> bool {
        self != Status::Rejected
    }

    /// Who reviews an application in this status: the township first, then the county.
    pub fn reviewer(self) -> Option<Role> {
        match self {
            Status::Submitted => Some(Role::TownshipAdmin),
            Status::TownshipPassed => Some(Role::CountyAdmin),
            _ => None,
        }
    }
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Pass,
    /// Back to the branch for revision.
    Return,
    Reject,
}

impl Decision {
    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "pass" => Some(Decision::Pass),
            "return" => Some(Decision::Return),
            "reject" => Some(Decision::Reject),
            _ => None,
        }
    }
}

/// A move of an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Review(Decision),
    /// The branch submits a returned application again.
    Resubmit,
    /// An objection was upheld during publicity: back to the county's review.
    ObjectionUpheld,
    /// The publicity window ended with no open objection (the background jobs).
    Award,
}

impl Move {
    /// The name the history records.
    pub fn action(self) -> &'static str {
        match self {
            Move::Review(Decision::Pass) => "pass",
            Move::Review(Decision::Return) => "return",
            Move::Review(Decision::Reject) => "reject",
            Move::Resubmit => "submit",
            Move::ObjectionUpheld => "objection_upheld",
            Move::Award => "award",
        }
    }
}

/// Where a move takes an application in `from`; None when it is out of turn.
pub fn next(from: Status, step: Move) -> Option<Status> {
    use Decision::*;
    use Status::*;
    Some(match (from, step) {
        (Submitted, Move::Review(Pass)) => TownshipPassed,
        (TownshipPassed, Move::Review(Pass)) => Publicized,
        (Submitted | TownshipPassed, Move::Review(Return)) => Returned,
        (Submitted | TownshipPassed, Move::Review(Reject)) => Rejected,
        (Returned, Move::Resubmit) => Submitted,
        (Publicized, Move::ObjectionUpheld) => TownshipPassed,
        (Publicized, Move::Award) => Awarded,
        _ => return None,
    })
}

/// One built-in indicator: (star, code, title, metric and threshold for an `auto` one).
pub type DefaultIndicator = (Star, &'static str, &'static str, Option<(Metric, f64)>);

/// The built-in set a county copies and edits: three or four per star, worded as a county
/// would, mixing measured (`auto`) and evidence-based ones.
pub const DEFAULT_INDICATORS: [DefaultIndicator; 17] = [
    (
        Star::StrongBranch,
        "SB1",
        "党员群众参与率（年内有积分记录的成员占比）不低于 60%",
        Some((Metric::ActiveMemberShare, 0.6)),
    ),
    (Star::StrongBranch, "SB2", "人均志愿服务时长不少于 10 小时", Some((Metric::VolunteerMinutesPerMember, 600.0))),
    (Star::StrongBranch, "SB3", "按期召开“三会一课”，记录完整规范", None),
    (Star::StrongBranch, "SB4", "支部班子分工明确、运转有序，党员教育管理到位", None),
    (Star::ThrivingIndustry, "TI1", "人均获得积分不少于 100 分", Some((Metric::PointsPerMember, 100.0))),
    (Star::ThrivingIndustry, "TI2", "村级集体经济收入稳定增长（附年度收支台账）", None),
    (Star::ThrivingIndustry, "TI3", "有特色产业项目或合作社带动群众增收", None),
    (Star::EcoLivable, "EL1", "人均完成任务卡不少于 5 张", Some((Metric::CardsApprovedPerMember, 5.0))),
    (Star::EcoLivable, "EL2", "网格事件办结率不低于 90%", Some((Metric::IncidentsClosedShare, 0.9))),
    (Star::EcoLivable, "EL3", "人居环境整治常态化，垃圾分类覆盖全村（社区）", None),
    (Star::SafeLawful, "SL1", "矛盾纠纷化解率不低于 95%", Some((Metric::DisputesClosedShare, 0.95))),
    (Star::SafeLawful, "SL2", "超期未办结事件不超过 3 件", Some((Metric::IncidentsOverdue, 3.0))),
    (Star::SafeLawful, "SL3", "全年无重大安全事故、无群体性事件", None),
    (Star::CivilHappy, "CH1", "志愿服务参与率不低于 50%", Some((Metric::ActiveMemberShare, 0.5))),
    (Star::CivilHappy, "CH2", "人均志愿服务时长不少于 6 小时", Some((Metric::VolunteerMinutesPerMember, 360.0))),
    (Star::CivilHappy, "CH3", "开展移风易俗、文明家庭评选等创建活动", None),
    (Star::CivilHappy, "CH4", "“一老一小”关爱服务覆盖辖区", None),
];

/// The county an org belongs to: the first id of its path.
pub fn county_of(path: &str) -> Option<i64> {
    path.split('/').find(|s| !s.is_empty())?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_application_moves_through_its_steps_in_turn() {
        use Decision::*;
        use Status::*;
        assert_eq!(next(Submitted, Move::Review(Pass)), Some(TownshipPassed));
        assert_eq!(next(TownshipPassed, Move::Review(Pass)), Some(Publicized));
        assert_eq!(next(Publicized, Move::Award), Some(Awarded));
        assert_eq!(next(Submitted, Move::Review(Return)), Some(Returned));
        assert_eq!(next(TownshipPassed, Move::Review(Return)), Some(Returned));
        assert_eq!(next(Returned, Move::Resubmit), Some(Submitted));
        assert_eq!(next(Submitted, Move::Review(Reject)), Some(Rejected));
        assert_eq!(next(TownshipPassed, Move::Review(Reject)), Some(Rejected));
        assert_eq!(next(Publicized, Move::ObjectionUpheld), Some(TownshipPassed));
    }

    #[test]
    fn every_other_move_is_out_of_turn() {
        let moves = [
            Move::Review(Decision::Pass),
            Move::Review(Decision::Return),
            Move::Review(Decision::Reject),
            Move::Resubmit,
            Move::ObjectionUpheld,
            Move::Award,
        ];
        let mut allowed = 0;
        for from in Status::ALL {
            for step in moves {
                if next(from, step).is_some() {
                    allowed += 1;
                }
            }
        }
        assert_eq!(allowed, 9, "exactly the nine moves above");
        for step in moves {
            assert_eq!(next(Status::Awarded, step), None, "awarded is final: {step:?}");
            assert_eq!(next(Status::Rejected, step), None, "rejected is final: {step:?}");
        }
        assert_eq!(next(Status::Publicized, Move::Review(Decision::Pass)), None, "no review during publicity");
        assert_eq!(next(Status::Submitted, Move::Award), None);
    }

    #[test]
    fn an_org_belongs_to_the_county_its_path_starts_with() {
        assert_eq!(county_of("/1/7/42/"), Some(1));
        assert_eq!(county_of("/9/"), Some(9));
        assert_eq!(county_of("/"), None);
    }

    #[test]
    fn the_township_reviews_first_then_the_county() {
        assert_eq!(Status::Submitted.reviewer(), Some(Role::TownshipAdmin));
        assert_eq!(Status::TownshipPassed.reviewer(), Some(Role::CountyAdmin));
        assert_eq!(Status::Publicized.reviewer(), None);
        assert!(Status::Awarded.is_live() && !Status::Rejected.is_live());
    }

    #[test]
    fn overdue_incidents_are_met_at_most_the_rest_at_least() {
        assert!(Metric::IncidentsOverdue.met(3.0, 3.0));
        assert!(!Metric::IncidentsOverdue.met(4.0, 3.0));
        assert!(Metric::PointsPerMember.met(100.0, 100.0));
        assert!(!Metric::ActiveMemberShare.met(0.59, 0.6));
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.as_str()), Some(m));
        }
    }

    #[test]
    fn the_built_in_set_covers_every_star_with_both_kinds() {
        for star in Star::ALL {
            let of: Vec<_> = DEFAULT_INDICATORS.iter().filter(|i| i.0 == star).collect();
            assert!(of.len() >= 3, "{star:?} has {} indicators", of.len());
            assert!(of.iter().any(|i| i.3.is_some()) && of.iter().any(|i| i.3.is_none()), "{star:?} mixes kinds");
        }
        let mut codes: Vec<&str> = DEFAULT_INDICATORS.iter().map(|i| i.1).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), DEFAULT_INDICATORS.len(), "codes are unique");
    }
}
