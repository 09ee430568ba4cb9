//! Day arithmetic on the clock a photo was taken on: `YYYY-MM-DD` to and from seconds written
//! as if in UTC. One place for it, so the catalog's date filters, EXIF dates and what the CLI
//! prints all cut days the same way.

/// Seconds in a day.
const DAY: i64 = 86_400;

/// Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar, which the civil
/// algorithms below count from.
const EPOCH_SHIFT: i64 = 719_468;

/// Days in a 400-year era.
const ERA_DAYS: i64 = 146_097;

/// `YYYY-MM-DD` as the seconds of its 00:00 written in UTC: the unit of a photo's local date,
/// so the filters cut days where the photos were taken.
pub fn parse_day(s: &str) -> Option<i64> {
    let mut it = s.trim().split('-');
    let mut num = || -> Option<i64> { it.next()?.parse::<i64>().ok() };
    let (y, m, d) = (num()?, num()?, num()?);
    if it.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d) * DAY)
}

/// Seconds since 1970 of a date and time of day on the same clock (no range checks beyond
/// [`parse_day`]'s), for EXIF's `YYYY:MM:DD HH:MM:SS`.
pub(crate) fn seconds_of(y: i64, m: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    let midnight = parse_day(&format!("{y:04}-{m:02}-{d:02}"))?;
    Some(midnight + h * 3600 + mi * 60 + s)
}

/// `YYYY-MM-DD` of a clock reading written as Unix seconds in UTC (a photo's local date).
pub fn format_day(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 of a date (Howard Hinnant's algorithm, proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * ERA_DAYS + doe - EPOCH_SHIFT
}

/// The date of a day counted from 1970-01-01 (the inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + EPOCH_SHIFT;
    let era = z.div_euclid(ERA_DAYS);
    let doe = z - era * ERA_DAYS;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_bad_dates_are_refused() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2024-02-29"), Some(1_709_164_800));
        assert_eq!(format_day(1_709_164_800 + 86_399), "2024-02-29");
        assert_eq!(format_day(-1), "1969-12-31");
        assert_eq!(parse_day("2024-13-01"), None);
        assert_eq!(parse_day("yesterday"), None);
        assert_eq!(parse_day("2024-01-01-01"), None);
    }

    #[test]
    fn every_day_of_four_centuries_formats_back_to_itself() {
        // 1800-01-01 .. 2200-01-01, across the century leap-year rules.
        for day in -62_091..84_006 {
            let s = format_day(day * DAY);
            assert_eq!(parse_day(&s), Some(day * DAY), "{s}");
        }
    }

    #[test]
    fn a_time_of_day_adds_to_its_midnight() {
        assert_eq!(seconds_of(2024, 7, 14, 16, 5, 9), Some(1_720_973_109));
        assert_eq!(seconds_of(2024, 0, 14, 0, 0, 0), None);
    }
}
