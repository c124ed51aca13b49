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
/// Where a plain-HTTP gateway listens in its container (published on the chosen host port).
pub const LISTEN_PORT: u16 = 80;
/// Where Caddy keeps its certificates and keys (`XDG_DATA_HOME`), on a named volume.
pub const DATA_DIR: &str = "/data";

/// How the gateway serves its hosts (`--tls`): defined with the arguments, which every build has.
pub use nanokit_deploy::options::Tls;

/// A host no public CA can certify over HTTP-01 (a name no public DNS answers, an address, a
/// wildcard): served with the gateway's own CA under `auto`.
pub fn needs_internal_ca(host: &str) -> bool {
    const PRIVATE_SUFFIXES: &[&str] = &[".localhost", ".local", ".internal", ".test", ".example", ".invalid", ".home.arpa", ".lan"];
    host == "localhost"
        || host.starts_with("*.")
        || !host.contains('.')
        || host.parse::<std::net::IpAddr>().is_ok()
        || PRIVATE_SUFFIXES.iter().any(|s| host.ends_with(s))
}

/// How a gateway serves. With HTTPS, Caddy listens in its container on the very ports it is
/// published on: its HTTP→HTTPS redirects and ACME's challenges then name the public ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Serving {
    pub tls: Tls,
    pub http_port: u16,
    pub https_port: u16,
}

impl Serving {
    /// Container port → host port, for the engine to publish.
    pub fn published(&self) -> Vec<(u16, u16)> {
        match self.tls {
            Tls::Off => vec![(LISTEN_PORT, self.http_port)],
            _ => vec![(self.http_port, self.http_port), (self.https_port, self.https_port)],
        }
    }
}

pub fn config(routes: &[Route], serving: &Serving) -> Value {
    let tls = serving.tls;
    let routes: Vec<Value> = routes
        .iter()
        .map(|r| {
            json!({
                "match": [{"host": [r.host]}],
                // A service restarting in place (`nkdev up --watch`, `nkdev restart`) is away for
                // a moment: a request meanwhile waits for it (a short dial, retried for 3 s)
                // instead of failing with 502.
                "handle": [{
                    "handler": "reverse_proxy",
                    "upstreams": [{"dial": format!("{}:{}", r.upstream, r.port)}],
                    "load_balancing": {"try_duration": "3s", "try_interval": "50ms"},
                    "transport": {"protocol": "http", "dial_timeout": "250ms"}
                }],
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
    if tls == Tls::Off {
        return json!({
            "admin": {"listen": "localhost:2019"},
            "apps": {"http": {"servers": {"nanokit": {
                "listen": [format!(":{LISTEN_PORT}")],
                "automatic_https": {"disable": true},
                "routes": routes
            }}}}
        });
    }
    // Caddy's automatic HTTPS: a certificate for every host matched, and HTTP redirected to
    // HTTPS. Which issuer signs which host is said here, not left to Caddy's defaults.
    let hosts: Vec<&Value> = routes.iter().filter_map(|r| r["match"][0]["host"].get(0)).collect();
    let internal: Vec<&Value> = match tls {
        Tls::Internal => hosts,
        _ => hosts.into_iter().filter(|h| h.as_str().is_some_and(needs_internal_ca)).collect(),
    };
    let policies = if internal.is_empty() { json!([]) } else { json!([{"subjects": internal, "issuers": [{"module": "internal"}]}]) };
    json!({
        "admin": {"listen": "localhost:2019"},
        "apps": {
            "http": {
                "http_port": serving.http_port,
                "https_port": serving.https_port,
                "servers": {"nanokit": {
                    "listen": [format!(":{}", serving.https_port)],
                    "routes": routes
                }}
            },
            "tls": {"automation": {"policies": policies}},
            // The gateway's own CA stays in the container (and its volume): never installed
            // into a trust store, which a container has no business changing.
            "pki": {"certificate_authorities": {"local": {"install_trust": false}}}
        }
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
        let plain = Serving { tls: Tls::Off, http_port: 8080, https_port: 443 };
        let tar = archive(&config(&routes, &plain), CONFIG_FILE_NAME).unwrap();
        let back = from_archive(&tar).unwrap();
        assert_eq!(routes_of(&back), routes);
        let tls = config(&routes, &Serving { tls: Tls::Auto, ..plain });
        assert_eq!(routes_of(&tls), routes);
        assert_eq!(plain.published(), [(80, 8080)]);
    }

    #[test]
    fn https_certifies_private_names_with_the_gateway_ca_and_public_names_with_acme() {
        let route = |host: &str| Route { host: host.into(), upstream: "nk-p-e-s".into(), port: 80 };
        let routes = vec![route("shop.example.com"), route("api.localhost"), route("*.apps.example.com"), route("10.0.0.7")];
        let serving = |tls| Serving { tls, http_port: 8080, https_port: 8443 };
        let auto = config(&routes, &serving(Tls::Auto));
        // listening on the public ports, so that redirects and ACME name them
        assert_eq!(auto["apps"]["http"]["servers"]["nanokit"]["listen"], json!([":8443"]));
        assert_eq!((auto["apps"]["http"]["http_port"].clone(), auto["apps"]["http"]["https_port"].clone()), (json!(8080), json!(8443)));
        assert_eq!(serving(Tls::Auto).published(), [(8080, 8080), (8443, 8443)]);
        assert_eq!(
            auto["apps"]["tls"]["automation"]["policies"],
            json!([{"subjects": ["api.localhost", "*.apps.example.com", "10.0.0.7"], "issuers": [{"module": "internal"}]}])
        );
        let internal = config(&routes, &serving(Tls::Internal));
        assert_eq!(internal["apps"]["tls"]["automation"]["policies"][0]["subjects"].as_array().unwrap().len(), 4);
        assert_eq!(config(&[route("shop.example.com")], &serving(Tls::Auto))["apps"]["tls"]["automation"]["policies"], json!([]));
        let plain = config(&routes, &serving(Tls::Off));
        assert_eq!(plain["apps"]["http"]["servers"]["nanokit"]["automatic_https"]["disable"], json!(true));
        assert_eq!(plain["apps"]["http"]["servers"]["nanokit"]["listen"], json!([":80"]));
        assert!(!needs_internal_ca("shop.example.com") && needs_internal_ca("db") && needs_internal_ca("x.internal"));
    }
}
