//! How a profile's [`Schedule`] is written to and read back from a Flow Service dataflow's
//! `scheduleParams` ([`ScheduleParams`], the API's own type): the API layer knows nothing of the
//! profile, so the conversions live on this side.

use chrono::{DateTime, Utc};

use super::types::{Frequency, Schedule};
use crate::api::flows::ScheduleParams;

impl From<&Schedule> for ScheduleParams {
    /// For periodic schedules, an unset `backfill` is written as the flow spec's default
    /// (`true`), so that what the service returns compares equal to what was asked for.
    fn from(schedule: &Schedule) -> Self {
        let once = schedule.frequency == Frequency::Once;
        Self {
            start_time: schedule.start.timestamp(),
            frequency: schedule.frequency.as_str().to_owned(),
            interval: if once { None } else { schedule.interval },
            backfill: if once {
                None
            } else {
                Some(schedule.backfill.unwrap_or(true))
            },
        }
    }
}

/// A flow's schedule that the profile cannot express.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the flow's schedule has {0}; provision supports once, minute, hour, day and week from a valid start time")]
pub struct UnsupportedSchedule(String);

impl TryFrom<&ScheduleParams> for Schedule {
    type Error = UnsupportedSchedule;

    fn try_from(params: &ScheduleParams) -> Result<Self, Self::Error> {
        let frequency = match params.frequency.as_str() {
            "once" => Frequency::Once,
            "minute" => Frequency::Minute,
            "hour" => Frequency::Hour,
            "day" => Frequency::Day,
            "week" => Frequency::Week,
            other => return Err(UnsupportedSchedule(format!("frequency {other:?}"))),
        };
        let start: DateTime<Utc> = DateTime::from_timestamp(params.start_time, 0)
            .ok_or_else(|| UnsupportedSchedule(format!("startTime {}", params.start_time)))?;
        Ok(Schedule {
            frequency,
            interval: params.interval,
            start,
            backfill: params.backfill,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(frequency: Frequency, interval: Option<u32>, backfill: Option<bool>) -> Schedule {
        Schedule {
            frequency,
            interval,
            start: DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            backfill,
        }
    }

    #[test]
    fn profile_schedules_convert_both_ways() {
        let s = schedule(Frequency::Hour, Some(1), Some(false));
        let params = ScheduleParams::from(&s);
        assert_eq!(params.start_time, 1_796_083_200);
        assert_eq!(Schedule::try_from(&params).unwrap(), s);
        let once = ScheduleParams::from(&schedule(Frequency::Once, Some(3), Some(true)));
        assert_eq!((once.interval, once.backfill), (None, None));
    }

    #[test]
    fn periodic_schedules_without_backfill_get_the_flow_spec_default() {
        let params = ScheduleParams::from(&schedule(Frequency::Day, Some(1), None));
        assert_eq!(params.backfill, Some(true));
    }

    #[test]
    fn an_unknown_frequency_does_not_convert_to_a_profile_schedule() {
        let params = ScheduleParams {
            start_time: 0,
            frequency: "month".into(),
            interval: Some(1),
            backfill: None,
        };
        let err = Schedule::try_from(&params).unwrap_err();
        assert!(err.to_string().contains("\"month\""));
    }
}
