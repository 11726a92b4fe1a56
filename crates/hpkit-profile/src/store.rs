//! Aggregated samples: one row per distinct (thread, state, stack), so memory grows with
//! the program's shape, not with run time.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

/// Most distinct stacks kept; later new stacks are counted as dropped.
pub const MAX_ROWS: usize = 200_000;

/// One aggregated row: the key and what accumulated under it.
#[derive(Debug, Clone)]
pub struct Row<V> {
    pub thread: u32,
    pub state: u8,
    pub stack: Box<[(u32, i32)]>,
    pub value: V,
}

/// Rows by key, looked up without allocating: buckets by a 64-bit hash of the key.
pub struct Store<V> {
    buckets: HashMap<u64, Vec<usize>>,
    rows: Vec<Row<V>>,
    pub dropped: u64,
}

impl<V: Default> Store<V> {
    pub fn new() -> Self {
        Store {
            buckets: HashMap::new(),
            rows: Vec::new(),
            dropped: 0,
        }
    }

    /// The index of the key's row, created on first sight; `None` once the store is full.
    pub fn index(&mut self, thread: u32, state: u8, stack: &[(u32, i32)]) -> Option<usize> {
        let mut h = DefaultHasher::new();
        (thread, state, stack).hash(&mut h);
        let bucket = self.buckets.entry(h.finish()).or_default();
        let found = bucket.iter().copied().find(|&i| {
            let r = &self.rows[i];
            r.thread == thread && r.state == state && *r.stack == *stack
        });
        match found {
            Some(i) => Some(i),
            None if self.rows.len() >= MAX_ROWS => {
                self.dropped += 1;
                None
            }
            None => {
                bucket.push(self.rows.len());
                self.rows.push(Row {
                    thread,
                    state,
                    stack: stack.into(),
                    value: V::default(),
                });
                Some(self.rows.len() - 1)
            }
        }
    }

    pub fn value_mut(&mut self, index: usize) -> &mut V {
        &mut self.rows[index].value
    }

    pub fn rows(&self) -> &[Row<V>] {
        &self.rows
    }

    pub fn rows_mut(&mut self) -> &mut [Row<V>] {
        &mut self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_aggregate_by_thread_state_and_stack() {
        let mut store: Store<u64> = Store::new();
        let a = [(1, 10), (2, 20)];
        let b = [(1, 10), (2, 21)];
        for (stack, thread, state) in [
            (&a[..], 0, 0),
            (&a[..], 0, 0),
            (&b[..], 0, 0),
            (&a[..], 1, 0),
            (&a[..], 0, 2),
        ] {
            let i = store.index(thread, state, stack).unwrap();
            *store.value_mut(i) += 1;
        }
        let counts: Vec<u64> = store.rows().iter().map(|r| r.value).collect();
        assert_eq!(counts, vec![2, 1, 1, 1]);
        assert_eq!(&*store.rows()[1].stack, &b[..]);
        assert_eq!(store.dropped, 0);
    }

    #[test]
    fn a_full_store_counts_new_stacks_as_dropped() {
        let mut store: Store<u64> = Store::new();
        for i in 0..MAX_ROWS as i32 {
            assert!(store.index(0, 0, &[(0, i)]).is_some());
        }
        assert!(store.index(0, 0, &[(0, -1)]).is_none());
        assert!(
            store.index(0, 0, &[(0, 5)]).is_some(),
            "known rows still count"
        );
        assert_eq!(store.dropped, 1);
        assert_eq!(store.rows().len(), MAX_ROWS);
    }
}
