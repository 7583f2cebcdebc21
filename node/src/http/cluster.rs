//! Operator pages of a cluster: `/ingester/ring` (HTML, or JSON with `Accept: application/json`),
//! `/memberlist`, and `POST /shutdown`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;
use vivace_ring::cluster::{ClusterMember, ring_members};
use vivace_ring::{IngesterState, TOKENS_PER_NODE, tokens_for_node};

use super::ApiState;

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"))
}

fn rfc3339(unix_nanos: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_nanos(unix_nanos)).to_string()
}

/// One row of the ring page.
struct RingRow {
    id: String,
    state: IngesterState,
    address: String,
    zone: String,
    last_heartbeat_nanos: u64,
    registered_nanos: u64,
}

async fn ring_rows(state: &ApiState) -> Vec<RingRow> {
    let now = state.clock.now_unix_nanos();
    let Some(cluster) = &state.cluster else {
        return vec![RingRow {
            id: state.instance_id.clone(),
            state: IngesterState::Active,
            address: state.grpc_advertise.clone(),
            zone: String::new(),
            last_heartbeat_nanos: now,
            registered_nanos: state.started_unix_nanos,
        }];
    };
    let members: Vec<ClusterMember> = cluster.all_members().await;
    let heartbeats = cluster.note_heartbeats(&members, now);
    ring_members(&members)
        .into_iter()
        .map(|view| RingRow {
            last_heartbeat_nanos: heartbeats
                .get(&(view.id.clone(), view.generation))
                .copied()
                .unwrap_or(now),
            registered_nanos: view.generation,
            id: view.id,
            state: view.state,
            address: view.address,
            zone: view.zone,
        })
        .collect()
}

/// `GET /ingester/ring`.
pub async fn ring(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    let rows = ring_rows(&state).await;
    let now = state.clock.now_unix_nanos();
    if wants_json(&headers) {
        let shards: Vec<_> = rows
            .iter()
            .map(|row| {
                json!({
                    "id": row.id,
                    "state": row.state.as_str(),
                    "address": row.address,
                    "timestamp": rfc3339(row.last_heartbeat_nanos),
                    "registered_timestamp": rfc3339(row.registered_nanos),
                    "zone": row.zone,
                    "tokens": tokens_for_node(&row.id).collect::<Vec<u64>>(),
                    "num_tokens": TOKENS_PER_NODE,
                    "ownership": 100.0 / rows.len().max(1) as f64,
                })
            })
            .collect();
        return axum::Json(json!({ "shards": shards, "now": rfc3339(now) })).into_response();
    }
    let mut page = String::from(
        "<!DOCTYPE html><html><head><title>Ingester ring status</title></head><body><h1>Ingester ring status</h1>",
    );
    let _ = write!(
        page,
        "<p>Current time: {}</p><table border=\"1\"><thead><tr><th>Instance ID</th><th>Availability Zone</th><th>State</th><th>Address</th><th>Registered At</th><th>Last Heartbeat</th><th>Tokens</th><th>Ownership</th></tr></thead><tbody>",
        rfc3339(now)
    );
    for row in &rows {
        let age = Duration::from_nanos(now.saturating_sub(row.last_heartbeat_nanos));
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ago</td><td>{}</td><td>{:.1}%</td></tr>",
            escape(&row.id),
            escape(&row.zone),
            row.state.as_str(),
            escape(&row.address),
            rfc3339(row.registered_nanos),
            humantime::format_duration(Duration::from_secs(age.as_secs())),
            TOKENS_PER_NODE,
            100.0 / rows.len().max(1) as f64
        );
    }
    page.push_str("</tbody></table></body></html>");
    Html(page).into_response()
}

/// `GET /memberlist`: every gossip member, alive or dead.
pub async fn memberlist(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    let Some(cluster) = &state.cluster else {
        return (
            StatusCode::OK,
            "memberlist is not enabled: this node runs as a single process (target all)\n",
        )
            .into_response();
    };
    let members = cluster.all_members().await;
    if wants_json(&headers) {
        let rows: Vec<_> = members
            .iter()
            .map(|member| {
                json!({
                    "id": member.node_id,
                    "generation": member.generation,
                    "gossip_address": member.gossip_address.to_string(),
                    "grpc_address": member.grpc_address,
                    "http_address": member.http_address,
                    "roles": member.roles.iter().map(|role| role.as_str()).collect::<Vec<_>>(),
                    "ready": member.ready,
                    "state": if member.alive { "alive" } else { "dead" },
                    "heartbeat": member.heartbeat,
                    "self": member.is_self,
                })
            })
            .collect();
        return axum::Json(json!({ "members": rows })).into_response();
    }
    let mut page = String::from(
        "<!DOCTYPE html><html><head><title>Memberlist status</title></head><body><h1>Memberlist cluster members</h1><table border=\"1\"><thead><tr><th>Name</th><th>Generation</th><th>Gossip address</th><th>gRPC address</th><th>Roles</th><th>Ready</th><th>State</th><th>Heartbeat</th></tr></thead><tbody>",
    );
    for member in &members {
        let roles: Vec<&str> = member.roles.iter().map(|role| role.as_str()).collect();
        let _ = write!(
            page,
            "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&member.node_id),
            if member.is_self { " (this node)" } else { "" },
            member.generation,
            member.gossip_address,
            escape(&member.grpc_address),
            roles.join(", "),
            member.ready,
            if member.alive { "alive" } else { "dead" },
            member.heartbeat
        );
    }
    page.push_str("</tbody></table></body></html>");
    Html(page).into_response()
}

/// `POST /shutdown`: the ingester turns LEAVING, flushes everything and the process exits.
pub async fn shutdown(State(state): State<Arc<ApiState>>) -> Response {
    if state.ingester.is_none() {
        return (StatusCode::NOT_FOUND, "no ingester in this process\n").into_response();
    }
    let _ = state.shutdown.send(true);
    StatusCode::NO_CONTENT.into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
