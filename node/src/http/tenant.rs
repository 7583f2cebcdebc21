//! Tenant resolution from `X-Scope-OrgID`, as Tempo: required when multitenancy is enabled,
//! otherwise every request belongs to `single-tenant`.

use axum::http::HeaderMap;

/// The tenant used when multitenancy is disabled.
pub const SINGLE_TENANT: &str = "single-tenant";

/// The tenant header (HTTP) and metadata key (gRPC).
pub const ORG_ID_HEADER: &str = "x-scope-orgid";

/// Longest tenant id Tempo accepts.
const MAX_TENANT_LENGTH: usize = 150;

/// Why a tenant could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    #[error("no org id")]
    Missing,
    #[error("tenant ID is too long: max 150 characters")]
    TooLong,
    #[error("tenant ID '{0}' is not allowed")]
    Unsafe(String),
    #[error("tenant ID contains unsupported character '{0}'")]
    BadCharacter(char),
}

/// Checks a tenant id with Tempo's rules (it also names a storage folder, so it must be safe).
pub fn validate_tenant(tenant: &str) -> Result<(), TenantError> {
    if tenant.is_empty() {
        return Err(TenantError::Missing);
    }
    if tenant.len() > MAX_TENANT_LENGTH {
        return Err(TenantError::TooLong);
    }
    if tenant == "." || tenant == ".." || tenant == "__mimir_cluster" {
        return Err(TenantError::Unsafe(tenant.to_owned()));
    }
    let allowed =
        |character: char| character.is_ascii_alphanumeric() || "!-_.*'()".contains(character);
    if let Some(bad) = tenant.chars().find(|character| !allowed(*character)) {
        return Err(TenantError::BadCharacter(bad));
    }
    Ok(())
}

/// Resolves the tenant of a request from its (already lower-cased by `http`) headers.
pub fn tenant_from_value(
    value: Option<&str>,
    multitenancy_enabled: bool,
) -> Result<String, TenantError> {
    if !multitenancy_enabled {
        return Ok(SINGLE_TENANT.to_owned());
    }
    let Some(tenant) = value.map(str::trim).filter(|text| !text.is_empty()) else {
        return Err(TenantError::Missing);
    };
    validate_tenant(tenant)?;
    Ok(tenant.to_owned())
}

/// Resolves the tenant from HTTP headers.
pub fn tenant_from_headers(
    headers: &HeaderMap,
    multitenancy_enabled: bool,
) -> Result<String, TenantError> {
    let value = headers
        .get(ORG_ID_HEADER)
        .and_then(|value| value.to_str().ok());
    tenant_from_value(value, multitenancy_enabled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_tenant_when_disabled() {
        assert_eq!(
            tenant_from_value(Some("x"), false).as_deref(),
            Ok(SINGLE_TENANT)
        );
    }

    #[test]
    fn required_and_validated_when_enabled() {
        assert_eq!(tenant_from_value(None, true), Err(TenantError::Missing));
        assert_eq!(TenantError::Missing.to_string(), "no org id");
        assert_eq!(
            tenant_from_value(Some("team-a"), true).as_deref(),
            Ok("team-a")
        );
        assert!(tenant_from_value(Some("../etc"), true).is_err());
        assert!(tenant_from_value(Some(".."), true).is_err());
        assert!(tenant_from_value(Some(&"a".repeat(151)), true).is_err());
    }
}
