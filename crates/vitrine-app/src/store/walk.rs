//! [`RangeWalk`]: one index partition read a round at a time, between two sort keys, for searches
//! that check filters on what they read. The position is the sort key of the last item the caller
//! took, not the engine's cursor, so a page can stop in the middle of a round and the next request
//! picks up exactly after it; and every request reads at most a budget of items, however narrow
//! the filters.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{AppError, AppResult};
use crate::ports::table::{GSI1_SK, GSI2_SK};
use crate::ports::{Index, Item, Query, SortKey, Table};

/// The most items one round asks for.
const ROUND: usize = 100;

/// A walk over `pk` of `index`, from `hi` down to `lo` (or up, when forward), both inclusive.
pub struct RangeWalk<'a> {
    table: &'a dyn Table,
    index: Index,
    pk: String,
    lo: Option<String>,
    hi: Option<String>,
    forward: bool,
    /// Items must start with this (a prefix walked forward).
    prefix: Option<String>,
    /// The sort key of the last item taken.
    last: Option<String>,
    read: usize,
    budget: usize,
    /// The partition has no item past what was read.
    ended: bool,
    /// Items of the current round not taken yet.
    pending: usize,
}

impl<'a> RangeWalk<'a> {
    pub fn new(table: &'a dyn Table, index: Index, pk: String, budget: usize) -> Self {
        Self {
            table,
            index,
            pk,
            lo: None,
            hi: None,
            forward: false,
            prefix: None,
            last: None,
            read: 0,
            budget,
            ended: false,
            pending: 0,
        }
    }

    /// Between `lo` and `hi`, inclusive (either open when `None`).
    pub fn between(mut self, lo: Option<String>, hi: Option<String>) -> Self {
        self.lo = lo;
        self.hi = hi;
        self
    }

    /// In ascending order (oldest first, for time-sorted keys).
    pub fn forward(mut self) -> Self {
        self.forward = true;
        self
    }

    /// Items whose sort key starts with `prefix`, in ascending order.
    pub fn prefixed(mut self, prefix: String) -> Self {
        self.lo = Some(prefix.clone());
        self.hi = Some(format!("{prefix}{}", char::MAX));
        self.prefix = Some(prefix);
        self.forward = true;
        self
    }

    /// Resume after the item whose sort key is `last` (from [`RangeWalk::position`]).
    pub fn resume(mut self, last: Option<String>) -> Self {
        self.last = last;
        self
    }

    /// The sort key of `item` on the walked index.
    pub fn sort_key<'i>(&self, item: &'i Item) -> &'i str {
        match self.index {
            Index::Primary => &item.key.sk,
            Index::Gsi1 => item.str(GSI1_SK).unwrap_or_default(),
            Index::Gsi2 => item.str(GSI2_SK).unwrap_or_default(),
        }
    }

    /// The next items after the last one taken: at most `want` (and what the budget leaves), or
    /// none once the range or the budget is spent. Take each one examined with
    /// [`RangeWalk::take`], in order.
    async fn round(&mut self, want: usize) -> AppResult<Vec<Item>> {
        let room = self.budget.saturating_sub(self.read);
        if self.ended || room == 0 || want == 0 {
            return Ok(Vec::new());
        }
        let ask = want.min(ROUND).min(room);
        let (lo, hi) = match (&self.last, self.forward) {
            (Some(last), true) => (Some(last.clone()), self.hi.clone()),
            (Some(last), false) => (self.lo.clone(), Some(last.clone())),
            (None, _) => (self.lo.clone(), self.hi.clone()),
        };
        let range = match (lo, hi) {
            (Some(lo), Some(hi)) if lo > hi => {
                self.ended = true;
                return Ok(Vec::new());
            }
            (Some(lo), Some(hi)) => Some(SortKey::Between(lo, hi)),
            (Some(lo), None) => Some(SortKey::Ge(lo)),
            (None, Some(hi)) => Some(SortKey::Le(hi)),
            (None, None) => None,
        };
        // One more than asked: the first may be the last one taken, which the range includes.
        let mut query = Query::new(self.index, self.pk.clone()).limit(ask + 1);
        query.sk = range;
        if !self.forward {
            query = query.backward();
        }
        let page = self.table.query(query).await?;
        self.read += page.items.len();
        let mut items = page.items;
        if let (Some(last), Some(first)) = (&self.last, items.first())
            && self.sort_key(first) == last
        {
            items.remove(0);
        }
        let cut_short = items.len() > ask;
        items.truncate(ask);
        if page.next.is_none() && !cut_short {
            self.ended = true;
        }
        if let Some(prefix) = &self.prefix
            && let Some(cut) = items
                .iter()
                .position(|i| !self.sort_key(i).starts_with(prefix.as_str()))
        {
            items.truncate(cut);
            self.ended = true;
        }
        self.pending = items.len();
        Ok(items)
    }

    /// Mark `item` (of the last round) as examined: the walk goes on after it.
    fn take(&mut self, item: &Item) {
        self.last = Some(self.sort_key(item).to_owned());
        self.pending = self.pending.saturating_sub(1);
    }

    /// Where the next request starts, or `None` when nothing is left past what was taken.
    pub fn position(&self) -> Option<&str> {
        if self.ended && self.pending == 0 {
            None
        } else {
            self.last.as_deref()
        }
    }

    /// Whether the budget is spent.
    fn spent(&self) -> bool {
        self.read >= self.budget
    }

    /// Up to `limit` results: `pick` answers, for each item of a round in order, what it finds
    /// (`None` when the item is not one; a result already gathered is not repeated). `exact`:
    /// every item is a result, so a round asks only for what is missing; otherwise rounds start
    /// at twice that and double (what a page stops short of is read again by the next).
    pub async fn gather<T: PartialEq + Send>(
        &mut self,
        limit: usize,
        exact: bool,
        pick: &(dyn Pick<T> + '_),
    ) -> AppResult<Vec<T>> {
        let mut out = Vec::with_capacity(limit);
        let mut round = 2 * limit;
        while out.len() < limit {
            let want = if exact {
                limit - out.len()
            } else {
                round = (round * 2).min(ROUND);
                round / 2
            };
            let items = self.round(want).await?;
            if items.is_empty() {
                break;
            }
            let found = pick.pick(&items).await?;
            for (item, found) in items.iter().zip(found) {
                self.take(item);
                if let Some(t) = found
                    && !out.contains(&t)
                {
                    out.push(t);
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
            }
            if self.spent() {
                break;
            }
        }
        Ok(out)
    }
}

/// What a search makes of the items a walk reads: for each, in order, the result it is (`None`
/// when it is not one).
#[async_trait::async_trait]
pub trait Pick<T>: Sync {
    async fn pick(&self, items: &[Item]) -> AppResult<Vec<Option<T>>>;
}

/// An opaque cursor for a walk of kind `tag` resumed after sort key `last`.
pub fn encode_cursor(tag: &str, last: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{tag}\n{last}"))
}

/// The sort key a cursor resumes after, when it was made for a walk of kind `tag`: anything else
/// is a field error on `after`.
pub fn decode_cursor(tag: &str, cursor: Option<&str>) -> AppResult<Option<String>> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let bad = || {
        AppError::field(
            "after",
            "this cursor is not valid for this search; start from the first page",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    match text.split_once('\n') {
        // DynamoDB refuses a sort key past 1,024 bytes: no walk made one.
        Some((t, last)) if t == tag && !last.is_empty() && last.len() <= 1_024 => {
            Ok(Some(last.to_owned()))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_resumes_only_the_kind_of_walk_it_was_made_for() {
        let c = encode_cursor("tax", "000001#01ABC");
        assert_eq!(
            decode_cursor("tax", Some(&c)).unwrap().as_deref(),
            Some("000001#01ABC")
        );
        assert!(decode_cursor("date", Some(&c)).is_err());
        assert!(decode_cursor("tax", Some("not base64!")).is_err());
        assert!(decode_cursor("tax", None).unwrap().is_none());
        let long = encode_cursor("tax", &"9".repeat(1_025));
        assert!(decode_cursor("tax", Some(&long)).is_err());
    }
}
