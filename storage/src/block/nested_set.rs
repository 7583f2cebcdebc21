//! Nested-set numbers of a trace's spans, for TraceQL's structural operators (`>`, `>>`, `<`,
//! `<<`, `~`): a depth-first walk numbers each span on entry (`left`) and exit (`right`), so `a`
//! is an ancestor of `b` exactly when `a.left < b.left && b.right < a.right`, and `parent` holds
//! the parent's `left`. Spans whose parent is not in the trace (not received yet, or part of a
//! cycle in hostile input) are roots; roots have `parent == -1`. Siblings are visited in input
//! order, so the numbering is a function of the input.

use std::collections::HashMap;

/// The numbers of one span (1-based; `right` > `left`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NestedSet {
    pub left: u32,
    pub right: u32,
    /// The parent's `left`, or -1 for a root.
    pub parent: i64,
}

/// Numbers `spans`, given as (span id, parent span id; empty for a root), in that order.
pub fn number_spans(spans: &[(&[u8], &[u8])]) -> Vec<NestedSet> {
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
            parent: -1,
        };
        spans.len()
    ];
    let mut visited = vec![false; spans.len()];
    let mut counter = 0u32;
    let mut walk = |root: usize, numbers: &mut Vec<NestedSet>, visited: &mut Vec<bool>| {
        // (span, next child to visit)
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
    // Whatever is left hangs off a cycle: each cycle is broken at its first span in input order.
    for index in 0..spans.len() {
        if !visited[index] {
            walk(index, &mut numbers, &mut visited);
        }
    }
    numbers
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

    proptest! {
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
