//! Alerts: rule evaluation on the event stream, roll-up, the durable outbox and delivery
//! to sinks.
//!
//! STUB written by the lead so that the writer can call [`persist`]; the alerts helper
//! fills it in.

/// One alert creation or count update, written in the same transaction as its events.
#[derive(Debug, Clone)]
pub struct AlertWrite;

/// Writes alerts inside the writer's transaction.
pub async fn persist(_conn: &mut sqlx::SqliteConnection, _alerts: &[AlertWrite]) -> sqlx::Result<()> {
    Ok(())
}
