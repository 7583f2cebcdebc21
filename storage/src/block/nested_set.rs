//! Nested-set numbers of a trace's spans, for TraceQL's structural operators (`>`, `>>`, `<`,
//! `<<`, `~`): a depth-first walk numbers each span on entry (`left`) and exit (`right`), so `a`
//! is an ancestor of `b` exactly when `a.left < b.left && b.right < a.right`, and `parent` holds
//! the parent's `left`. Spans whose parent is not in the trace (not received yet, or part of a
//! cycle in hostile input) are roots; roots have `parent == -1`. Siblings are visited in input
//! order, so the numbering is a function of the input.

/// The numbers of one span (1-based; `right` > `left`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NestedSet {
    pub left: u32,
    pub right: u32,
    /// The parent's `left`, or -1 for a root.
    pub parent: i64,
}

const NONE: u32 = u32::MAX;

/// Numbers the spans of trace after trace, reusing its buffers (no allocation once they are
/// large enough).
#[derive(Debug, Default)]
pub struct Numbering {
    by_id: Vec<u32>,
    first_child: Vec<u32>,
    next_sibling: Vec<u32>,
    is_root: Vec<bool>,
    visited: Vec<bool>,
    /// (span, next child to visit)
    stack: Vec<(u32, u32)>,
    numbers: Vec<NestedSet>,
}

impl Numbering {
    /// Numbers `count` spans whose ids and parent ids (empty for a root) are given by position,
    /// exactly as [`number_spans`] does.
    pub fn number<'s>(
        &mut self,
        count: usize,
        id: impl Fn(usize) -> &'s [u8],
        parent: impl Fn(usize) -> &'s [u8],
    ) -> &[NestedSet] {
        let count = count.min(NONE as usize - 1);
        // Positions sorted by (id, position): a parent id names the first span with that id.
        self.by_id.clear();
        self.by_id.extend(0..count as u32);
        self.by_id
            .sort_unstable_by(|a, b| id(*a as usize).cmp(id(*b as usize)).then(a.cmp(b)));
        self.first_child.clear();
        self.first_child.resize(count, NONE);
        self.next_sibling.clear();
        self.next_sibling.resize(count, NONE);
        self.is_root.clear();
        self.is_root.resize(count, true);
        // Backwards, so that each list of children ends up in input order.
        for index in (0..count).rev() {
            let parent_id = parent(index);
            if parent_id.is_empty() {
                continue;
            }
            let first = self
                .by_id
                .partition_point(|&candidate| id(candidate as usize) < parent_id);
            let Some(&found) = self.by_id.get(first) else {
                continue;
            };
            let found = found as usize;
            if found == index || id(found) != parent_id {
                continue;
            }
            self.next_sibling[index] = self.first_child[found];
            self.first_child[found] = index as u32;
            self.is_root[index] = false;
        }
        self.numbers.clear();
        self.numbers.resize(
            count,
            NestedSet {
                left: 0,
                right: 0,
                parent: -1,
            },
        );
        self.visited.clear();
        self.visited.resize(count, false);
        let mut counter = 0u32;
        for index in 0..count {
            if self.is_root[index] && !self.visited[index] {
                self.walk(index, &mut counter);
            }
        }
        // Whatever is left hangs off a cycle: each cycle is broken at its first span in input order.
        for index in 0..count {
            if !self.visited[index] {
                self.walk(index, &mut counter);
            }
        }
        &self.numbers
    }

    /// Depth-first numbering from `root`.
    fn walk(&mut self, root: usize, counter: &mut u32) {
        *counter += 1;
        self.numbers[root].left = *counter;
        self.visited[root] = true;
        self.stack.clear();
        self.stack.push((root as u32, self.first_child[root]));
        while let Some((span, next_child)) = self.stack.last_mut() {
            let current = *span as usize;
            if *next_child != NONE {
                let child = *next_child as usize;
                *next_child = self.next_sibling[child];
                if self.visited[child] {
                    continue;
                }
                self.visited[child] = true;
                *counter += 1;
                self.numbers[child].left = *counter;
                self.numbers[child].parent = i64::from(self.numbers[current].left);
                self.stack.push((child as u32, self.first_child[child]));
                continue;
            }
            *counter += 1;
            self.numbers[current].right = *counter;
            self.stack.pop();
        }
    }
}

/// Numbers `spans`, given as (span id, parent span id; empty for a root), in that order.
pub fn number_spans(spans: &[(&[u8], &[u8])]) -> Vec<NestedSet> {
    Numbering::default()
        .number(spans.len(), |index| spans[index].0, |index| spans[index].1)
        .to_vec()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ids(count: usize) -> Vec<[u8; 8]> {
        (0..count)
            .map(|index| (index as u64 + 1).to_be_bytes())
            .collect()
    }

    #[test]
    fn a_small_tree() {
        let id = ids(4);
        // root ← a ← b, root ← c
        let spans: Vec<(&[u8], &[u8])> = vec![
            (&id[0], &[]),
            (&id[1], &id[0]),
            (&id[2], &id[1]),
            (&id[3], &id[0]),
        ];
        let numbers = number_spans(&spans);
        let pairs: Vec<(u32, u32, i64)> = numbers
            .iter()
            .map(|set| (set.left, set.right, set.parent))
            .collect();
        assert_eq!(pairs, vec![(1, 8, -1), (2, 5, 1), (3, 4, 2), (6, 7, 1)]);
    }

    #[test]
    fn orphans_and_cycles_become_roots() {
        let id = ids(3);
        let missing = 99u64.to_be_bytes();
        // 0 is an orphan; 1 and 2 are each other's parent.
        let spans: Vec<(&[u8], &[u8])> =
            vec![(&id[0], &missing), (&id[1], &id[2]), (&id[2], &id[1])];
        let numbers = number_spans(&spans);
        assert_eq!(numbers[0].parent, -1);
        assert_eq!(
            numbers[1].parent, -1,
            "the cycle is broken at its first span"
        );
        assert_eq!(numbers[2].parent, i64::from(numbers[1].left));
    }

    /// A random forest: each span's parent is an earlier span or none; then the order is shuffled.
    fn forest() -> impl Strategy<Value = Vec<Option<usize>>> {
        (1usize..40).prop_flat_map(|count| {
            (0..count)
                .map(|index| {
                    if index == 0 {
                        Just(None).boxed()
                    } else {
                        prop_oneof![Just(None), (0..index).prop_map(Some)].boxed()
                    }
                })
                .collect::<Vec<_>>()
        })
    }

    /// The first implementation (hash map and child lists), kept as the reference.
    fn reference_number_spans(spans: &[(&[u8], &[u8])]) -> Vec<NestedSet> {
        use std::collections::HashMap;
        let index_by_id: HashMap<&[u8], usize> = spans
            .iter()
            .enumerate()
            .rev()
            .map(|(index, (id, _))| (*id, index))
            .collect();
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
        let mut is_root = vec![true; spans.len()];
        for (index, (_, parent_id)) in spans.iter().enumerate() {
            if parent_id.is_empty() {
                continue;
            }
            let Some(&parent) = index_by_id.get(parent_id) else {
                continue;
            };
            if parent != index {
                children[parent].push(index);
                is_root[index] = false;
            }
        }
        let mut numbers = vec![
            NestedSet {
                left: 0,
                right: 0,
                parent: -1
            };
            spans.len()
        ];
        let mut visited = vec![false; spans.len()];
        let mut counter = 0u32;
        let mut walk = |root: usize, numbers: &mut Vec<NestedSet>, visited: &mut Vec<bool>| {
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            counter += 1;
            numbers[root].left = counter;
            visited[root] = true;
            while let Some((span, next_child)) = stack.last_mut() {
                let current = *span;
                if let Some(&child) = children[current].get(*next_child) {
                    *next_child += 1;
                    if visited[child] {
                        continue;
                    }
                    visited[child] = true;
                    counter += 1;
                    numbers[child].left = counter;
                    numbers[child].parent = i64::from(numbers[current].left);
                    stack.push((child, 0));
                    continue;
                }
                counter += 1;
                numbers[current].right = counter;
                stack.pop();
            }
        };
        for index in 0..spans.len() {
            if is_root[index] && !visited[index] {
                walk(index, &mut numbers, &mut visited);
            }
        }
        for index in 0..spans.len() {
            if !visited[index] {
                walk(index, &mut numbers, &mut visited);
            }
        }
        numbers
    }

    proptest! {
        #[test]
        fn same_numbers_as_the_reference(
            links in proptest::collection::vec((0u8..12, proptest::option::of(0u8..14)), 0..30),
        ) {
            // Small id ranges: duplicate ids, self-parents, missing parents and cycles.
            let ids: Vec<[u8; 1]> = links.iter().map(|(id, _)| [*id]).collect();
            let parents: Vec<Vec<u8>> = links
                .iter()
                .map(|(_, parent)| parent.map(|parent| vec![parent]).unwrap_or_default())
                .collect();
            let spans: Vec<(&[u8], &[u8])> = ids
                .iter()
                .zip(&parents)
                .map(|(id, parent)| (&id[..], parent.as_slice()))
                .collect();
            let mut numbering = Numbering::default();
            let expected = reference_number_spans(&spans);
            // Twice with the same buffers: reuse must not leak state between traces.
            for _ in 0..2 {
                let numbers = numbering.number(spans.len(), |index| spans[index].0, |index| spans[index].1);
                prop_assert_eq!(numbers, expected.as_slice());
            }
        }

        #[test]
        fn intervals_match_ancestry(parents in forest(), rotate in 0usize..40) {
            let count = parents.len();
            let id = ids(count);
            let order: Vec<usize> = (0..count).map(|index| (index + rotate) % count).collect();
            let spans: Vec<(&[u8], &[u8])> = order
                .iter()
                .map(|&span| {
                    let parent: &[u8] = match parents[span] {
                        Some(parent) => &id[parent],
                        None => &[],
                    };
                    (&id[span][..], parent)
                })
                .collect();
            let numbers = number_spans(&spans);
            let mut seen: Vec<u32> = numbers.iter().flat_map(|set| [set.left, set.right]).collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, (1..=2 * count as u32).collect::<Vec<_>>());
            let position = |span: usize| order.iter().position(|&candidate| candidate == span).unwrap_or(usize::MAX);
            let is_ancestor = |ancestor: usize, span: usize| {
                let mut current = parents[span];
                while let Some(parent) = current {
                    if parent == ancestor {
                        return true;
                    }
                    current = parents[parent];
                }
                false
            };
            for a in 0..count {
                let set_a = numbers[position(a)];
                prop_assert!(set_a.left < set_a.right);
                let expected_parent = parents[a].map_or(-1, |parent| i64::from(numbers[position(parent)].left));
                prop_assert_eq!(set_a.parent, expected_parent);
                for b in 0..count {
                    let set_b = numbers[position(b)];
                    let contains = set_a.left < set_b.left && set_b.right < set_a.right;
                    prop_assert_eq!(contains, is_ancestor(a, b));
                }
            }
        }

        #[test]
        fn hostile_parent_links_terminate(links in proptest::collection::vec(0usize..20, 1..20)) {
            let id = ids(links.len());
            let spans: Vec<(&[u8], &[u8])> = links
                .iter()
                .enumerate()
                .map(|(index, &parent)| (&id[index][..], &id[parent % links.len()][..]))
                .collect();
            let numbers = number_spans(&spans);
            prop_assert!(numbers.iter().all(|set| set.left >= 1 && set.left < set.right));
        }
    }
}
