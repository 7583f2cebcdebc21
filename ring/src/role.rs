//! The components a node can run, and how `target` selects them.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One component (Tempo's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Distributor,
    Ingester,
    Querier,
    QueryFrontend,
    Compactor,
    MetricsGenerator,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 6] = [
        Role::Distributor,
        Role::Ingester,
        Role::Querier,
        Role::QueryFrontend,
        Role::Compactor,
        Role::MetricsGenerator,
    ];

    /// The name used in `target` and in gossip.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Distributor => "distributor",
            Role::Ingester => "ingester",
            Role::Querier => "querier",
            Role::QueryFrontend => "query-frontend",
            Role::Compactor => "compactor",
            Role::MetricsGenerator => "metrics-generator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A name that is not a component.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown target {0:?}: use all, scalable-single-binary, or a comma list of distributor, ingester, querier, query-frontend, compactor, metrics-generator"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let normalized = text.trim().replace('_', "-");
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == normalized)
            .ok_or_else(|| UnknownRole(text.trim().to_owned()))
    }
}

/// What `target` asks for: the roles, and whether the node joins a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub roles: BTreeSet<Role>,
    /// `all` is a single process; every other target is a cluster member.
    pub clustered: bool,
}

impl Target {
    /// Parses `all`, `scalable-single-binary` or a comma list of roles.
    pub fn parse(text: &str) -> Result<Target, UnknownRole> {
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed == "all" {
            return Ok(Target {
                roles: Role::ALL.into_iter().collect(),
                clustered: false,
            });
        }
        if trimmed == "scalable-single-binary" {
            return Ok(Target {
                roles: Role::ALL.into_iter().collect(),
                clustered: true,
            });
        }
        let roles = trimmed
            .split(',')
            .filter(|name| !name.trim().is_empty())
            .map(Role::from_str)
            .collect::<Result<BTreeSet<Role>, UnknownRole>>()?;
        if roles.is_empty() {
            return Err(UnknownRole(trimmed.to_owned()));
        }
        Ok(Target {
            roles,
            clustered: true,
        })
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// Roles as gossiped: a comma list.
pub fn roles_to_string(roles: &BTreeSet<Role>) -> String {
    roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses a gossiped role list, skipping names this version does not know.
pub fn roles_from_string(text: &str) -> BTreeSet<Role> {
    text.split(',')
        .filter_map(|name| Role::from_str(name).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let all = Target::parse("all").expect("all");
        assert_eq!(all.roles.len(), 6);
        assert!(!all.clustered);
        let ssb = Target::parse("scalable-single-binary").expect("ssb");
        assert!(ssb.clustered && ssb.roles.len() == 6);
        let some = Target::parse("distributor, query_frontend").expect("list");
        assert!(some.has(Role::Distributor) && some.has(Role::QueryFrontend));
        assert!(!some.has(Role::Ingester));
        assert!(some.clustered);
        assert!(Target::parse("ingestor").is_err());
        assert!(Target::parse(",").is_err());
    }

    #[test]
    fn roles_round_trip() {
        let roles: BTreeSet<Role> = Role::ALL.into_iter().collect();
        assert_eq!(roles_from_string(&roles_to_string(&roles)), roles);
        assert_eq!(roles_from_string("ingester,future-role").len(), 1);
    }
}
