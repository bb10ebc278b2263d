//! UTC calendar dates for flow-log records and blob paths, from the `time`
//! crate: the UTC fields of a Unix time, and ISO 8601 with Azure's seven
//! fractional digits.

use time::OffsetDateTime;

/// A UTC calendar date and time, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl UtcTime {
    /// The UTC fields of a Unix time. Times beyond the year 9999 (never a
    /// wall clock's) read as the epoch.
    pub fn from_unix_seconds(secs: u64) -> UtcTime {
        let t = i64::try_from(secs)
            .ok()
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        UtcTime {
            year: i64::from(t.year()),
            month: u32::from(u8::from(t.month())),
            day: u32::from(t.day()),
            hour: u32::from(t.hour()),
            minute: u32::from(t.minute()),
            second: u32::from(t.second()),
        }
    }
}

/// ISO 8601 in UTC with Azure's seven fractional digits.
pub fn iso8601(unix_ms: u64) -> String {
    let t = UtcTime::from_unix_seconds(unix_ms / 1000);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        (unix_ms % 1000) * 10_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The date of a day counted from 1970-01-01.
    fn civil_from_days(days: u64) -> (i64, u32, u32) {
        let t = UtcTime::from_unix_seconds(days * 86_400);
        (t.year, t.month, t.day)
    }

    #[test]
    fn civil_dates_of_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
        assert_eq!(civil_from_days(20_088), (2024, 12, 31));
        // 2018-11-13T12:00:35Z, the time of Azure's sample record.
        assert_eq!(
            UtcTime::from_unix_seconds(1_542_110_435),
            UtcTime {
                year: 2018,
                month: 11,
                day: 13,
                hour: 12,
                minute: 0,
                second: 35
            }
        );
        assert_eq!(iso8601(1_542_110_435_389), "2018-11-13T12:00:35.3890000Z");
    }
}
