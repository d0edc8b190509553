//! `--shard I/N`: which part of a batch one worker scores.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One of `count` disjoint parts of a batch: the inputs whose position in the
/// sorted, de-duplicated input list is `index` modulo `count`.
///
/// Round-robin by position (rather than a hash of the path) gives shards whose
/// sizes differ by at most one photo, and spreads neighbouring photos (usually
/// one patient's session) over all shards. Its one requirement: every shard must
/// be given the same inputs. Each shard records a digest of the whole input list
/// in `batch.json`, and [`merge`](super::merge) refuses shards whose digests
/// differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// The whole batch as one shard (`0/1`).
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`.
    ///
    /// # Errors
    /// [`Error::InvalidShard`] unless `index < count`.
    pub fn new(index: u32, count: u32) -> Result<Shard> {
        if index < count {
            Ok(Shard { index, count })
        } else {
            Err(Error::InvalidShard {
                spec: format!("{index}/{count}"),
            })
        }
    }

    /// Position of this shard, from 0.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Number of shards the batch is split into.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Whether the input at `position` of the sorted input list belongs to this shard.
    pub fn contains(&self, position: usize) -> bool {
        position % self.count as usize == self.index as usize
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = Error;

    /// Parses `I/N`, e.g. `3/16`.
    fn from_str(s: &str) -> Result<Shard> {
        let invalid = || Error::InvalidShard {
            spec: s.to_string(),
        };
        let (i, n) = s.split_once('/').ok_or_else(invalid)?;
        let i: u32 = i.trim().parse().map_err(|_| invalid())?;
        let n: u32 = n.trim().parse().map_err(|_| invalid())?;
        if i < n {
            Ok(Shard { index: i, count: n })
        } else {
            Err(invalid())
        }
    }
}

impl TryFrom<String> for Shard {
    type Error = Error;
    fn try_from(s: String) -> Result<Shard> {
        s.parse()
    }
}

impl From<Shard> for String {
    fn from(s: Shard) -> String {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_specs_and_rejects_the_rest() {
        assert_eq!("0/1".parse::<Shard>().unwrap(), Shard::WHOLE);
        let s: Shard = "15/16".parse().unwrap();
        assert_eq!((s.index(), s.count()), (15, 16));
        assert_eq!(s.to_string(), "15/16");
        for bad in [
            "", "3", "16/16", "1/0", "0/0", "-1/4", "a/4", "1/b", "1/2/3", "1.5/4",
        ] {
            assert!(
                matches!(bad.parse::<Shard>(), Err(Error::InvalidShard { .. })),
                "{bad:?} accepted"
            );
        }
        assert!(Shard::new(2, 2).is_err());
    }

    #[test]
    fn shards_partition_positions() {
        let n = 5;
        for position in 0..23 {
            let owners = (0..n)
                .filter(|&i| Shard::new(i, n).unwrap().contains(position))
                .count();
            assert_eq!(owners, 1, "position {position}");
        }
    }

    #[test]
    fn serialises_as_text() {
        let s = Shard::new(3, 16).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"3/16\"");
        assert_eq!(serde_json::from_str::<Shard>(&json).unwrap(), s);
        assert!(serde_json::from_str::<Shard>("\"4/4\"").is_err());
    }
}
