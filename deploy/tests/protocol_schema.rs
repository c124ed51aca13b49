//! The provider protocol's JSON Schema is generated from the protocol's types; the
//! checked-in copy must match (`NANOKIT_UPDATE_DOCS=1 cargo test -p nanokit-deploy` rewrites it).

#[test]
fn the_checked_in_protocol_schema_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/provider-protocol.schema.json");
    let generated = format!("{}\n", serde_json::to_string_pretty(&nanokit_deploy::protocol::schema()).unwrap());
    if std::env::var_os("NANOKIT_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "schema/provider-protocol.schema.json is out of date: run `NANOKIT_UPDATE_DOCS=1 cargo test -p nanokit-deploy --test protocol_schema`"
    );
}

#[test]
fn every_method_has_params_and_a_result() {
    let schema = nanokit_deploy::protocol::schema();
    let methods = schema["x-methods"].as_object().unwrap();
    for m in ["initialize", "prepare", "observe", "preflight", "apply", "wait_ready", "status", "logs", "lock", "unlock", "remove_volumes"]
    {
        assert!(methods[m]["params"].is_object() && methods[m]["result"].is_object(), "{m}: {}", methods[m]);
    }
    let defs = schema["$defs"].as_object().unwrap();
    for d in ["Desired", "Step", "Observed", "Capabilities", "Environment"] {
        assert!(defs.contains_key(d), "$defs lacks {d}");
    }
}

#[test]
fn what_travels_reads_back_as_it_was_sent() {
    // Every optional field must read back when a peer leaves it out (a plan without notes,
    // a service without secrets), and what is sent must read back unchanged.
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: shop\nservices:\n  db:\n    image: pg\n    volumes: [\"data:/var/lib/pg\"]\n  api:\n    image: api\n    expose: 8080\n    host: api.localhost\n    depends_on: [db]\n    secrets:\n      TOKEN: env:TOKEN\n    healthcheck:\n      path: /health\n";
    let desired = nanokit_deploy::conformance::desired_from_yaml(yaml, "local", dir.path()).unwrap();
    let back: nanokit_core::plan::Desired = serde_json::from_value(serde_json::to_value(&desired).unwrap()).unwrap();
    assert_eq!(back, desired);
    let plan = nanokit_core::plan::plan(&desired, &Default::default()).unwrap();
    let back: nanokit_core::plan::Plan = serde_json::from_value(serde_json::to_value(&plan).unwrap()).unwrap();
    assert_eq!(back, plan);
    let observed: nanokit_core::observed::Observed = serde_json::from_str("{}").unwrap();
    assert_eq!(observed, Default::default(), "an empty platform is `{{}}`");
}
