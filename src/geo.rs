//! Coordinates in China. WeChat's map and `wx.getLocation({type: "gcj02"})` give GCJ-02
//! (the datum Chinese maps are drawn in); a phone's GPS gives WGS-84. fivestar stores and
//! answers GCJ-02, converting WGS-84 filings on the way in, so that every distance is
//! measured on one datum. The conversion is the standard published transform (the one in
//! every Chinese map SDK); outside China GCJ-02 is WGS-84 and points are left as they are.
//! Pure functions only.
use std::f64::consts::PI;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The datum of a latitude/longitude pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CoordSystem {
    /// China's map datum: WeChat's map, `wx.getLocation({type: "gcj02"})`, Tencent/AMap.
    #[default]
    Gcj02,
    /// GPS.
    Wgs84,
}

impl CoordSystem {
    pub fn parse(s: &str) -> Option<CoordSystem> {
        match s {
            "gcj02" => Some(CoordSystem::Gcj02),
            "wgs84" => Some(CoordSystem::Wgs84),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CoordSystem::Gcj02 => "gcj02",
            CoordSystem::Wgs84 => "wgs84",
        }
    }
}

/// Krasovsky 1940, the ellipsoid the transform is defined on.
const A: f64 = 6_378_245.0;
const EE: f64 = 0.006_693_421_622_965_943;

/// The transform's bounding box of China: outside it the two datums coincide.
pub fn outside_china(lat: f64, lng: f64) -> bool {
    !(72.004..=137.8347).contains(&lng) || !(0.8293..=55.8271).contains(&lat)
}

fn offset_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn offset_lng(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// The GCJ-02 offset at a WGS-84 point, in degrees: (dlat, dlng).
fn delta(lat: f64, lng: f64) -> (f64, f64) {
    let dlat = offset_lat(lng - 105.0, lat - 35.0);
    let dlng = offset_lng(lng - 105.0, lat - 35.0);
    let rad = lat / 180.0 * PI;
    let magic = 1.0 - EE * rad.sin() * rad.sin();
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let dlng = (dlng * 180.0) / (A / sqrt_magic * rad.cos() * PI);
    (dlat, dlng)
}

/// WGS-84 → GCJ-02: (lat, lng).
pub fn wgs84_to_gcj02(lat: f64, lng: f64) -> (f64, f64) {
    if outside_china(lat, lng) {
        return (lat, lng);
    }
    let (dlat, dlng) = delta(lat, lng);
    (lat + dlat, lng + dlng)
}

/// GCJ-02 → WGS-84: (lat, lng). The transform has no closed inverse; this iterates the
/// forward one until it lands within 1e-9° (about 0.1 mm), a handful of steps.
pub fn gcj02_to_wgs84(lat: f64, lng: f64) -> (f64, f64) {
    if outside_china(lat, lng) {
        return (lat, lng);
    }
    let (mut wlat, mut wlng) = (lat, lng);
    for _ in 0..30 {
        let (glat, glng) = wgs84_to_gcj02(wlat, wlng);
        let (elat, elng) = (glat - lat, glng - lng);
        wlat -= elat;
        wlng -= elng;
        if elat.abs() < 1e-9 && elng.abs() < 1e-9 {
            break;
        }
    }
    (wlat, wlng)
}

/// A point in `system` given in GCJ-02, the datum fivestar keeps.
pub fn to_gcj02(system: CoordSystem, lat: f64, lng: f64) -> (f64, f64) {
    match system {
        CoordSystem::Gcj02 => (lat, lng),
        CoordSystem::Wgs84 => wgs84_to_gcj02(lat, lng),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: (f64, f64), b: (f64, f64), eps: f64) -> bool {
        (a.0 - b.0).abs() < eps && (a.1 - b.1).abs() < eps
    }

    /// Published reference points (WGS-84 → GCJ-02), as every implementation of the
    /// transform reproduces them.
    const REFERENCE: [((f64, f64), (f64, f64)); 3] = [
        ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)), // Shanghai
        ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)), // Shenzhen
        ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)), // Beijing
    ];

    #[test]
    fn the_forward_transform_matches_the_reference_points() {
        for (wgs, gcj) in REFERENCE {
            let got = wgs84_to_gcj02(wgs.0, wgs.1);
            assert!(close(got, gcj, 1e-9), "{wgs:?} → {got:?}, expected {gcj:?}");
        }
    }

    #[test]
    fn the_inverse_lands_back_within_a_millimetre() {
        for (wgs, gcj) in REFERENCE {
            let back = gcj02_to_wgs84(gcj.0, gcj.1);
            assert!(close(back, wgs, 1e-8), "{gcj:?} → {back:?}, expected {wgs:?}");
        }
        // The inverse of a GCJ-02 point is about 600 m away in this region (AMap's figure).
        let (lat, lng) = gcj02_to_wgs84(45.0, 123.0);
        assert!(close((lat, lng), (44.99804071, 122.99395597), 1e-6), "{lat} {lng}");
    }

    #[test]
    fn points_outside_china_are_left_as_they_are() {
        for p in [(48.8584, 2.2945), (-33.8568, 151.2153), (45.0, 183.0), (35.6812, 139.7671)] {
            assert_eq!(wgs84_to_gcj02(p.0, p.1), p);
            assert_eq!(gcj02_to_wgs84(p.0, p.1), p);
        }
        assert!(!outside_china(30.25, 120.15));
    }

    #[test]
    fn datums_parse_and_default_to_gcj02() {
        assert_eq!(CoordSystem::default(), CoordSystem::Gcj02);
        for s in [CoordSystem::Gcj02, CoordSystem::Wgs84] {
            assert_eq!(CoordSystem::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(CoordSystem::parse("bd09"), None);
        assert_eq!(to_gcj02(CoordSystem::Gcj02, 30.0, 120.0), (30.0, 120.0));
    }
}
