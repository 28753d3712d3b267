//! Content models: particles (`element`, `sequence`, `choice` with their occurrence ranges) and
//! the matcher that says whether a list of child element names is a word of the model.
//!
//! The matcher works on sets of positions: the set of places in the child list where a particle
//! can end, given the set where it starts. Nothing is assumed about which branch "should" be
//! taken, so optional nested groups (`sequence minOccurs="0"` inside a `choice`, the construct
//! that tripped the rejected crate) are handled like any other, and each repetition is bounded by
//! its `maxOccurs`. The sets hold at most `children + 1` positions, so the work is polynomial.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

use super::QName;

/// Index of an element declaration in the compiled schema.
pub(crate) type ElemId = usize;

/// `minOccurs`/`maxOccurs` around a term; `max: None` is `unbounded`.
#[derive(Debug, Clone)]
pub(crate) struct Particle {
    pub(crate) min: u32,
    pub(crate) max: Option<u32>,
    pub(crate) term: Term,
}

#[derive(Debug, Clone)]
pub(crate) enum Term {
    /// An element declaration (local, or global through `ref`), with its name.
    Element(QName, ElemId),
    Sequence(Vec<Particle>),
    Choice(Vec<Particle>),
    /// `xs:any processContents="skip"`: any one element, not validated.
    Any,
}

/// The outcome of matching a child list against a particle, with the element names the model
/// could have taken at that point.
pub(crate) enum Mismatch {
    /// The child at this index cannot appear where it is.
    Unexpected(usize, Vec<QName>),
    /// All children fit, but the model needs more.
    Incomplete(Vec<QName>),
}

/// How far matching got: the furthest child consumed, and the names tried at the furthest
/// position any branch reached.
struct Progress<'p> {
    furthest: Cell<usize>,
    tried_at: Cell<usize>,
    tried: RefCell<BTreeSet<&'p QName>>,
}

impl Particle {
    /// Every element declaration the particle may use, with its name.
    pub(crate) fn declarations(&self, out: &mut Vec<(QName, ElemId)>) {
        match &self.term {
            Term::Element(name, id) => out.push((name.clone(), *id)),
            Term::Sequence(items) | Term::Choice(items) => {
                for p in items {
                    p.declarations(out);
                }
            }
            Term::Any => {}
        }
    }

    /// Whether `children` (names in document order) matches this particle exactly.
    pub(crate) fn matches(&self, children: &[&QName]) -> Result<(), Mismatch> {
        let progress = Progress {
            furthest: Cell::new(0),
            tried_at: Cell::new(0),
            tried: RefCell::new(BTreeSet::new()),
        };
        let ends = self.ends(children, &[0], &progress);
        if ends.contains(&children.len()) {
            return Ok(());
        }
        let at = progress.furthest.get();
        let expected = if progress.tried_at.get() == at {
            progress.tried.into_inner().into_iter().cloned().collect()
        } else {
            Vec::new()
        };
        if at < children.len() {
            Err(Mismatch::Unexpected(at, expected))
        } else {
            Err(Mismatch::Incomplete(expected))
        }
    }

    /// The positions where this particle can end, starting at any of `starts` (sorted, no
    /// repeats); the result is sorted with no repeats too.
    fn ends<'p>(
        &'p self,
        children: &[&QName],
        starts: &[usize],
        progress: &Progress<'p>,
    ) -> Positions {
        if starts.is_empty() {
            return Positions::new();
        }
        let mut current: Positions = starts.to_vec();
        for _ in 0..self.min {
            current = self.term.ends_once(children, &current, progress);
            if current.is_empty() {
                return current;
            }
        }
        if self.max == Some(self.min) {
            return current;
        }
        let mut all = current.clone();
        let mut frontier = current;
        let mut count = self.min;
        while self.max.is_none_or(|max| count < max) {
            let next: Positions = self
                .term
                .ends_once(children, &frontier, progress)
                .into_iter()
                .filter(|at| all.binary_search(at).is_err())
                .collect();
            if next.is_empty() {
                break;
            }
            all.extend_from_slice(&next);
            all.sort_unstable();
            frontier = next;
            count += 1;
        }
        all
    }
}

/// A sorted set of positions in the child list (usually one or two).
type Positions = Vec<usize>;

impl Term {
    fn ends_once<'p>(
        &'p self,
        children: &[&QName],
        starts: &[usize],
        progress: &Progress<'p>,
    ) -> Positions {
        match self {
            Term::Element(name, _) => {
                if let Some(&last) = starts.last() {
                    if last > progress.tried_at.get() {
                        progress.tried_at.set(last);
                        progress.tried.borrow_mut().clear();
                    }
                    if last == progress.tried_at.get() {
                        progress.tried.borrow_mut().insert(name);
                    }
                }
                starts
                    .iter()
                    .filter(|&&at| children.get(at).is_some_and(|child| *child == name))
                    .map(|&at| {
                        progress.furthest.set(progress.furthest.get().max(at + 1));
                        at + 1
                    })
                    .collect()
            }
            Term::Any => starts
                .iter()
                .filter(|&&at| at < children.len())
                .map(|&at| {
                    progress.furthest.set(progress.furthest.get().max(at + 1));
                    at + 1
                })
                .collect(),
            Term::Sequence(items) => {
                let mut current: Positions = starts.to_vec();
                for p in items {
                    current = p.ends(children, &current, progress);
                    if current.is_empty() {
                        break;
                    }
                }
                current
            }
            Term::Choice(items) => {
                let mut all: Positions = items
                    .iter()
                    .flat_map(|p| p.ends(children, starts, progress))
                    .collect();
                all.sort_unstable();
                all.dedup();
                all
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(name: &str, min: u32, max: Option<u32>) -> Particle {
        Particle {
            min,
            max,
            term: Term::Element(QName::new("", name), 0),
        }
    }

    fn group(seq: bool, min: u32, max: Option<u32>, items: Vec<Particle>) -> Particle {
        Particle {
            min,
            max,
            term: if seq {
                Term::Sequence(items)
            } else {
                Term::Choice(items)
            },
        }
    }

    fn ok(p: &Particle, names: &[&str]) -> bool {
        let owned: Vec<QName> = names.iter().map(|n| QName::new("", n)).collect();
        let refs: Vec<&QName> = owned.iter().collect();
        p.matches(&refs).is_ok()
    }

    #[test]
    fn optional_nested_sequence_in_a_sequence() {
        // ide: … (dhCont, xJust)? …
        let p = group(
            true,
            1,
            Some(1),
            vec![
                el("a", 1, Some(1)),
                group(
                    true,
                    0,
                    Some(1),
                    vec![el("x", 1, Some(1)), el("y", 1, Some(1))],
                ),
                el("b", 1, Some(1)),
            ],
        );
        assert!(ok(&p, &["a", "b"]));
        assert!(ok(&p, &["a", "x", "y", "b"]));
        assert!(!ok(&p, &["a", "x", "b"]));
        assert!(!ok(&p, &["a", "y", "x", "b"]));
        assert!(!ok(&p, &["a"]));
    }

    #[test]
    fn choice_with_sequence_branches_and_counts() {
        let p = group(
            false,
            1,
            Some(1),
            vec![
                el("CNPJ", 1, Some(1)),
                group(
                    true,
                    1,
                    Some(1),
                    vec![el("CPF", 1, Some(1)), el("x", 0, Some(2))],
                ),
            ],
        );
        assert!(ok(&p, &["CNPJ"]));
        assert!(ok(&p, &["CPF", "x", "x"]));
        assert!(!ok(&p, &["CPF", "x", "x", "x"]));
        assert!(!ok(&p, &["CNPJ", "CPF"]));
        assert!(!ok(&p, &[]));
    }

    #[test]
    fn repeated_groups_respect_min_and_max() {
        let p = group(
            true,
            2,
            Some(3),
            vec![el("a", 1, Some(1)), el("b", 0, Some(1))],
        );
        assert!(!ok(&p, &["a"]));
        assert!(ok(&p, &["a", "a"]));
        assert!(ok(&p, &["a", "b", "a", "a"]));
        assert!(!ok(&p, &["a", "a", "a", "a"]));
        let unbounded = group(true, 0, None, vec![el("a", 0, Some(1))]);
        assert!(ok(&unbounded, &[]));
        assert!(ok(&unbounded, &["a"; 50]));
    }
}
