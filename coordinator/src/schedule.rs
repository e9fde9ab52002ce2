//! Schedules: cron expressions in a time zone that submit a job spec at each fire, fired by the
//! leader only.
//!
//! Each fire has a cycle time (the cron time it is for) and submits its job under an id derived
//! from the schedule and that cycle time, then moves the schedule's `next_fire_ms` past it with
//! a compare-and-swap. A leader that dies between the two leaves the fire due; the next leader
//! fires it again, finds the job already there (the engine creates a job id only once) and just
//! moves on: a failover neither skips nor doubles a fire. Fires missed while no leader ran are
//! made up in order when one is elected.

pub mod cron_times;
pub mod scheduler;

pub use cron_times::CronTimes;
