//! The planner's ownership invariant, as a property: random clusters of several components,
//! environments and checkouts, random desired files; whatever the mix, a plan never touches a
//! service that is not the deploy's own, and a host never routes to another component's
//! service than the one that claims it exactly.

use nanokit_core::observed::{Observed, ObservedResource, ObservedService};
use nanokit_core::plan::{self, Action, DeployOptions, PlanError, Source};
use nanokit_core::{analyze, AnalyzeOptions};
use proptest::prelude::*;
use std::path::Path;

const COMPONENTS: &[&str] = &["auth", "billing", "web"];
const NAMES: &[&str] = &["api", "db", "web", "worker", "a-b", "b"];
const HOSTS: &[&str] = &["api.shop.localhost", "API.shop.localhost", "*.shop.localhost", "web.shop.localhost", "*.localhost"];

#[derive(Debug, Clone)]
struct Existing {
    name: usize,
    component: usize,
    host: Option<usize>,
    same_checkout: bool,
}

fn existing() -> impl Strategy<Value = Existing> {
    (0..NAMES.len(), 0..COMPONENTS.len(), proptest::option::of(0..HOSTS.len()), any::<bool>())
        .prop_map(|(name, component, host, same_checkout)| Existing { name, component, host, same_checkout })
}

/// A file of component `auth` with some of NAMES, some of them with a host.
fn file(services: &[(usize, Option<usize>)]) -> String {
    let mut text = String::from("name: shop\ncomponent: auth\nservices:\n");
    for (name, host) in services {
        text.push_str(&format!("  {}:\n    image: busybox\n    expose: 80\n", NAMES[*name]));
        if let Some(h) = host {
            text.push_str(&format!("    host: \"{}\"\n", HOSTS[*h]));
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_plan_only_ever_touches_the_deploys_own_services(
        wanted in proptest::collection::btree_map(0..NAMES.len(), proptest::option::of(0..HOSTS.len()), 1..4),
        cluster in proptest::collection::vec(existing(), 0..8),
        remove_orphans in any::<bool>(),
        selection_only_first in any::<bool>(),
    ) {
        let wanted: Vec<(usize, Option<usize>)> = wanted.into_iter().collect();
        let text = file(&wanted);
        let analysis = analyze(&text, &AnalyzeOptions { env: Some("local".into()), ..AnalyzeOptions::default() });
        // Files the checks refuse (two services on one host) never reach the planner.
        prop_assume!(!analysis.has_errors());
        let env = analysis.environment("local").unwrap();
        let ours = Source::of("laptop", Path::new("/src/shop"));
        let options = DeployOptions { source: ours.clone(), remove_orphans, allow_outside_paths: false };
        let selection: Vec<String> = if selection_only_first { vec![NAMES[wanted[0].0].to_string()] } else { vec![] };
        let desired = plan::desired(&env.resolved, &env.graph, &selection, Path::new("/src/shop"), &options).unwrap();

        let mut services: Vec<ObservedService> = Vec::new();
        for e in &cluster {
            let instance = format!("nk-shop-local-{}", NAMES[e.name]);
            let host = e.host.map(|h| HOSTS[h]);
            let host_claimed = |s: &ObservedService| host.is_some_and(|h| s.host.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(h)));
            // One container per name, one claimant per host: what earlier plans leave behind.
            if services.iter().any(|s| s.name == instance || host_claimed(s)) {
                continue;
            }
            services.push(ObservedService {
                service: NAMES[e.name].into(),
                name: instance,
                component: COMPONENTS[e.component].into(),
                config_hash: "old".into(),
                running: true,
                host: e.host.map(|h| HOSTS[h].to_string()),
                port: e.host.map(|_| 80),
                source: Some(if e.same_checkout { ours.id.clone() } else { "another".into() }),
                source_path: None,
            });
        }
        let observed = Observed {
            network: Some(ObservedResource::present("nk-shop-local", Some("auth".into()))),
            gateway: Some(ObservedResource::present("nk-shop-local-gateway", Some("auth".into()))),
            services: services.clone(),
            routes: None,
            volumes: vec![],
            unready: vec![],
        };
        let foreign = |instance: &str| services.iter().any(|s| s.name == instance && s.component != "auth");
        match plan::plan(&desired, &observed) {
            Err(PlanError::OwnedByOtherComponent { .. } | PlanError::HostTaken { .. }) => {
                // Refused: check that it had a reason to be.
                let name_taken = desired.services.iter().any(|d| foreign(&d.instance));
                let host_taken = desired.services.iter().filter_map(|d| d.host.as_ref()).any(|h| {
                    services.iter().any(|s| s.component != "auth" && s.host.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(h)))
                });
                prop_assert!(name_taken || host_taken, "refused without a conflict");
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
            Ok(p) => {
                for step in &p.steps {
                    match &step.action {
                        Action::Remove { instance, .. } => {
                            let o = services.iter().find(|s| &s.name == instance).expect("removes only what exists");
                            prop_assert_eq!(&o.component, "auth", "removes another component's service");
                            prop_assert!(desired.complete, "a partial deploy removes nothing");
                            prop_assert!(remove_orphans || o.source.as_deref() == Some(ours.id.as_str()), "removes another checkout's orphan");
                        }
                        Action::Create { service } | Action::Recreate { service } | Action::Start { service } | Action::Keep { service } => {
                            let d = desired.service(service).unwrap();
                            prop_assert!(!foreign(&d.instance), "touches another component's {}", d.instance);
                        }
                        Action::UpdateRoutes { routes } => {
                            for r in routes {
                                prop_assert_eq!(&r.host, &r.host.to_ascii_lowercase());
                                // A host this deploy claims routes to this deploy's service.
                                if let Some(d) = desired.services.iter().find(|d| d.host.as_deref() == Some(r.host.as_str())) {
                                    prop_assert_eq!(&r.upstream, &d.instance);
                                }
                                // A host another component claims keeps routing there.
                                if let Some(o) = services.iter().find(|s| s.component != "auth" && s.host.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(&r.host))) {
                                    prop_assert_eq!(&r.upstream, &o.name);
                                }
                            }
                            // Exact hosts before every wildcard.
                            let first_wildcard = routes.iter().position(|r| r.host.starts_with("*.")).unwrap_or(routes.len());
                            prop_assert!(routes[first_wildcard..].iter().all(|r| r.host.starts_with("*.")));
                        }
                        other => prop_assert!(false, "unexpected step {other:?}"),
                    }
                }
            }
        }
    }
}
