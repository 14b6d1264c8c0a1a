//! The `config` table: small key/value settings.

use rusqlite::{params, OptionalExtension};

use super::{Journal, Result};

/// The `config` key that remembers "pause all".
const PAUSED_ALL_KEY: &str = "paused-all";

impl Journal {
    /// A stored setting.
    pub fn get_config(&self, key: &str) -> Result<Option<String>> {
        self.read(&format!("reading setting {key}"), |c| {
            Ok(
                c.query_row("SELECT value FROM config WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
    }

    /// Store a setting.
    pub fn set_config(&self, key: &str, value: &str) -> Result<()> {
        self.write(&format!("writing setting {key}"), |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO config (key, value) VALUES (?1, ?2)",
                params![key, value],
            )?;
            Ok(())
        })
    }

    /// Pause or resume every folder (remembered across restarts).
    pub fn set_paused_all(&self, paused: bool) -> Result<()> {
        self.set_config(PAUSED_ALL_KEY, if paused { "1" } else { "0" })
    }

    /// Whether every folder is paused.
    pub fn paused_all(&self) -> Result<bool> {
        Ok(self.get_config(PAUSED_ALL_KEY)?.as_deref() == Some("1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trip() {
        let j = Journal::open_in_memory().expect("open");
        assert_eq!(j.get_config("paused").expect("get"), None);
        j.set_config("paused", "1").expect("set");
        j.set_config("paused", "0").expect("overwrite");
        assert_eq!(j.get_config("paused").expect("get").as_deref(), Some("0"));
    }
}
