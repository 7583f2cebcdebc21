//! Spanset operators on sorted row lists: `&&`, `||` and the structural relations, which compare
//! nested-set numbers (a span's interval holds its descendants'; its parent number is its parent's
//! left number, -1 for a root).

use std::collections::{HashMap, HashSet};

use arrow_array::Int32Array;
use vivace_traceql::SpansetOp;

/// Nested-set columns of a batch.
pub(crate) struct NestedSets<'a> {
    pub left: &'a Int32Array,
    pub right: &'a Int32Array,
    pub parent: &'a Int32Array,
}

/// The structural relations, read as "a span of the right side is ... of a span of the left".
#[derive(Clone, Copy)]
enum Relation {
    Child,
    Parent,
    Descendant,
    Ancestor,
    Sibling,
}

impl NestedSets<'_> {
    fn left(&self, row: u32) -> i32 {
        self.left.value(row as usize)
    }

    fn right(&self, row: u32) -> i32 {
        self.right.value(row as usize)
    }

    fn parent(&self, row: u32) -> i32 {
        self.parent.value(row as usize)
    }

    /// The spans of `to` that stand in `relation` to some span of `from`.
    fn related(&self, relation: Relation, from: &[u32], to: &[u32]) -> Vec<u32> {
        match relation {
            Relation::Child => {
                let lefts: HashSet<i32> = from.iter().map(|row| self.left(*row)).collect();
                to.iter()
                    .copied()
                    .filter(|row| self.parent(*row) >= 0 && lefts.contains(&self.parent(*row)))
                    .collect()
            }
            Relation::Parent => {
                let parents: HashSet<i32> = from.iter().map(|row| self.parent(*row)).collect();
                to.iter()
                    .copied()
                    .filter(|row| parents.contains(&self.left(*row)))
                    .collect()
            }
            Relation::Descendant => {
                let mut intervals: Vec<(i32, i32)> = from
                    .iter()
                    .map(|row| (self.left(*row), self.right(*row)))
                    .collect();
                intervals.sort_unstable();
                let mut widest = Vec::with_capacity(intervals.len());
                let mut best = i32::MIN;
                for (_, right) in &intervals {
                    best = best.max(*right);
                    widest.push(best);
                }
                to.iter()
                    .copied()
                    .filter(|row| {
                        let before = intervals.partition_point(|(left, _)| *left < self.left(*row));
                        before > 0 && widest[before - 1] > self.right(*row)
                    })
                    .collect()
            }
            Relation::Ancestor => {
                let mut intervals: Vec<(i32, i32)> = from
                    .iter()
                    .map(|row| (self.left(*row), self.right(*row)))
                    .collect();
                intervals.sort_unstable();
                to.iter()
                    .copied()
                    .filter(|row| {
                        let (left, right) = (self.left(*row), self.right(*row));
                        let first_inside = intervals.partition_point(|(start, _)| *start <= left);
                        intervals[first_inside..]
                            .iter()
                            .take_while(|(start, _)| *start < right)
                            .any(|(_, end)| *end < right)
                    })
                    .collect()
            }
            Relation::Sibling => {
                let mut by_parent: HashMap<i32, Vec<u32>> = HashMap::new();
                for row in from {
                    let parent = self.parent(*row);
                    if parent >= 0 {
                        by_parent.entry(parent).or_default().push(*row);
                    }
                }
                to.iter()
                    .copied()
                    .filter(|row| {
                        by_parent
                            .get(&self.parent(*row))
                            .is_some_and(|siblings| siblings.iter().any(|other| other != row))
                    })
                    .collect()
            }
        }
    }
}

/// Sorted union of two sorted row lists.
pub(crate) fn union(left: &[u32], right: &[u32]) -> Vec<u32> {
    let mut merged = Vec::with_capacity(left.len() + right.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        match left[i].cmp(&right[j]) {
            std::cmp::Ordering::Less => {
                merged.push(left[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                merged.push(right[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                merged.push(left[i]);
                i += 1;
                j += 1;
            }
        }
    }
    merged.extend_from_slice(&left[i..]);
    merged.extend_from_slice(&right[j..]);
    merged
}

/// Sorted `all` minus sorted `some`.
fn difference(all: &[u32], some: &[u32]) -> Vec<u32> {
    all.iter()
        .copied()
        .filter(|row| some.binary_search(row).is_err())
        .collect()
}

fn non_empty(rows: Vec<u32>) -> Option<Vec<u32>> {
    (!rows.is_empty()).then_some(rows)
}

/// `left op right`; `nested` is needed for every operator but `&&` and `||`.
pub(crate) fn combine(
    op: SpansetOp,
    nested: Option<&NestedSets<'_>>,
    left: Option<Vec<u32>>,
    right: Option<Vec<u32>>,
) -> Option<Vec<u32>> {
    match op {
        SpansetOp::And => Some(union(&left?, &right?)),
        SpansetOp::Or => match (left, right) {
            (Some(left), Some(right)) => Some(union(&left, &right)),
            (left, right) => left.or(right),
        },
        _ => {
            let nested = nested?;
            let right = right?;
            let left = left.unwrap_or_default();
            let (relation, reverse) = match op {
                SpansetOp::Child | SpansetOp::NotChild | SpansetOp::UnionChild => {
                    (Relation::Child, Relation::Parent)
                }
                SpansetOp::Parent | SpansetOp::NotParent | SpansetOp::UnionParent => {
                    (Relation::Parent, Relation::Child)
                }
                SpansetOp::Descendant | SpansetOp::NotDescendant | SpansetOp::UnionDescendant => {
                    (Relation::Descendant, Relation::Ancestor)
                }
                SpansetOp::Ancestor | SpansetOp::NotAncestor | SpansetOp::UnionAncestor => {
                    (Relation::Ancestor, Relation::Descendant)
                }
                _ => (Relation::Sibling, Relation::Sibling),
            };
            let related = nested.related(relation, &left, &right);
            match op {
                SpansetOp::NotChild
                | SpansetOp::NotParent
                | SpansetOp::NotDescendant
                | SpansetOp::NotAncestor
                | SpansetOp::NotSibling => non_empty(difference(&right, &related)),
                SpansetOp::UnionChild
                | SpansetOp::UnionParent
                | SpansetOp::UnionDescendant
                | SpansetOp::UnionAncestor
                | SpansetOp::UnionSibling => {
                    if related.is_empty() {
                        return None;
                    }
                    let back = nested.related(reverse, &right, &left);
                    non_empty(union(&back, &related))
                }
                _ => non_empty(related),
            }
        }
    }
}
