//! The Caddy gateway: its JSON config for a set of routes, and how that config travels into
//! the container (a tar upload through the engine API, then `caddy reload` by exec), so the
//! admin API never leaves the container and a remote engine works as well as a local one.

use nanokit_core::plan::Route;
use serde_json::{json, Value};

pub const CONFIG_DIR: &str = "/etc/nanokit";
pub const CONFIG_FILE: &str = "/etc/nanokit/caddy.json";
pub const CONFIG_FILE_NAME: &str = "caddy.json";
/// New routes are loaded from here; they become [`CONFIG_FILE`] once Caddy accepted them.
pub const STAGING_FILE: &str = "/etc/nanokit/next.json";
pub const STAGING_FILE_NAME: &str = "next.json";
pub const LISTEN_PORT: u16 = 80;

pub fn config(routes: &[Route]) -> Value {
    let routes: Vec<Value> = routes
        .iter()
        .map(|r| {
            json!({
                "match": [{"host": [r.host]}],
                "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": format!("{}:{}", r.upstream, r.port)}]}],
                "terminal": true
            })
        })
        .collect::<Vec<Value>>()
        .into_iter()
        // Caddy answers an unmatched host with an empty 200; say plainly that nothing is there.
        .chain(std::iter::once(json!({
            "handle": [{"handler": "static_response", "status_code": 404, "body": "nanokit: no service is routed for this host\n"}]
        })))
        .collect();
    json!({
        "admin": {"listen": "localhost:2019"},
        "apps": {"http": {"servers": {"nanokit": {
            "listen": [format!(":{LISTEN_PORT}")],
            "automatic_https": {"disable": true},
            "routes": routes
        }}}}
    })
}

/// Read the routes back from a config this module wrote, in the order Caddy tries them.
pub fn routes_of(config: &Value) -> Vec<Route> {
    config["apps"]["http"]["servers"]["nanokit"]["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            // the final catch-all has no `match`
            let host = r["match"][0]["host"][0].as_str()?.to_string();
            let dial = r["handle"][0]["upstreams"][0]["dial"].as_str()?;
            let (upstream, port) = dial.rsplit_once(':')?;
            Some(Route { host, upstream: upstream.to_string(), port: port.parse().ok()? })
        })
        .collect()
}

/// A tar archive holding `nanokit/<file_name>`, to be extracted in `/etc`.
pub fn archive(config: &Value, file_name: &str) -> std::io::Result<Vec<u8>> {
    let body = serde_json::to_vec_pretty(config)?;
    let mut builder = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    dir.set_cksum();
    builder.append_data(&mut dir, "nanokit/", std::io::empty())?;
    let mut header = tar::Header::new_gnu();
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, format!("nanokit/{file_name}"), body.as_slice())?;
    builder.into_inner()
}

/// The config file out of a tar archive downloaded from the container.
pub fn from_archive(bytes: &[u8]) -> Option<Value> {
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().ok()? {
        let mut entry = entry.ok()?;
        if entry.path().ok()?.to_string_lossy().ends_with(CONFIG_FILE_NAME) {
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut body).ok()?;
            return serde_json::from_slice(&body).ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_routes_through_a_tar() {
        let routes = vec![
            Route { host: "a.localhost".into(), upstream: "nk-p-local-a".into(), port: 3001 },
            Route { host: "b.localhost".into(), upstream: "nk-p-local-b".into(), port: 80 },
        ];
        let tar = archive(&config(&routes), CONFIG_FILE_NAME).unwrap();
        let back = from_archive(&tar).unwrap();
        assert_eq!(routes_of(&back), routes);
    }
}
