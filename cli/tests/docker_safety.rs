//! Deploy safety on a real Docker engine: what a careless or hostile second repository (or a
//! second environment, checkout or tool) can do to a cluster, and what nkdev does instead.
//! Each test is a case that harmed another's objects before the ownership guard.

mod support;

use std::path::Path;
use support::{docker, Project, BUSYBOX};

/// A static site served by busybox httpd on `port`.
fn web(name: &str, port: u16, host: Option<&str>) -> String {
    let host = host.map(|h| format!("    host: \"{h}\"\n")).unwrap_or_default();
    format!(
        "  {name}:\n    image: {BUSYBOX}\n    path: ./apps/{name}\n    expose: {port}\n{host}    provisioning:\n      install: mkdir -p /tmp/www && cp -r /app/. /tmp/www/\n      start: exec httpd -f -p {port} -h /tmp/www\n"
    )
}

fn id(container: &str) -> String {
    let (ok, out) = docker(&["inspect", "-f", "{{.Id}}", container]);
    assert!(ok, "container {container} is gone: {out}");
    out.trim().to_string()
}

fn running(container: &str) -> bool {
    docker(&["inspect", "-f", "{{.State.Running}}", container]).1.trim() == "true"
}

fn validate(p: &Project, repo: &Path) -> (bool, String) {
    let out = p.nkdev(repo).arg("validate").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn another_environments_container_with_the_same_joined_name_is_never_removed() {
    let p = Project::new("envs");
    // env `local` + service `a-b` and env `local-a` + service `b` are both `nk-<p>-local-a-b`.
    let first = p.repo("one", &format!("name: {{project}}\nservices:\n{}", web("a-b", 8080, None)), &["a-b"]);
    let (ok, out) = p.up(&first, &[]);
    assert!(ok, "{out}");
    let before = id(&p.container("a-b"));
    let second = p.repo(
        "two",
        &format!("name: {{project}}\nservices:\n{}environments:\n  local-a:\n    infra:\n      provider: docker\n", web("b", 8080, None)),
        &["b"],
    );
    let (ok, out) = p.up(&second, &["--env", "local-a"]);
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("container `nk-{}-local-a-b` already exists", p.name)) && out.contains("environment `local`"), "{out}");
    assert!(out.contains("nothing was changed"), "{out}");
    assert_eq!(id(&p.container("a-b")), before, "the other environment's container is untouched");
    assert!(running(&p.container("a-b")));
    assert!(!docker(&["network", "inspect", &format!("nk-{}-local-a", p.name)]).0, "nothing was created for local-a");
    // The same collision inside one file is caught statically.
    let both = p.repo(
        "both",
        &format!(
            "name: {{project}}\nservices:\n{}{}environments:\n  local:\n    infra: {{provider: docker}}\n  local-a:\n    infra: {{provider: docker}}\n",
            web("a-b", 8080, None),
            web("b", 8080, None)
        ),
        &["a-b", "b"],
    );
    let (ok, out) = validate(&p, &both);
    assert!(!ok && out.contains("NK059") && out.contains("nanokit.yml:"), "{out}");
}

#[test]
fn an_unlabelled_container_with_the_deploys_name_is_refused_and_kept() {
    let p = Project::new("foreign");
    let repo = p.repo("r", &format!("name: {{project}}\nservices:\n{}", web("web", 8080, None)), &["web"]);
    let name = p.container("web");
    // Made by hand or another tool, no nanokit labels.
    let (ok, out) = docker(&["create", "--name", &name, BUSYBOX, "sleep", "600"]);
    assert!(ok, "{out}");
    let before = id(&name);
    let (ok, out) = p.up(&repo, &[]);
    docker(&["rm", "-f", &name]);
    assert!(!ok, "{out}");
    assert!(out.contains("no nanokit labels") && out.contains(&name), "{out}");
    assert_eq!(before.len(), 64);
    assert!(!docker(&["network", "inspect", &format!("nk-{}-local", p.name)]).0, "refused before anything was created");
}

#[test]
fn reserved_and_infrastructure_names_are_file_errors() {
    let p = Project::new("reserved");
    let repo = p.repo("r", &format!("name: {{project}}\nservices:\n{}", web("gateway", 8080, None)), &["gateway"]);
    let (ok, out) = validate(&p, &repo);
    assert!(!ok && out.contains("NK058") && out.contains("nanokit.yml:3:3"), "{out}");
    let (ok, out) = p.up(&repo, &[]);
    assert!(!ok && out.contains("NK058"), "{out}");
    assert!(p.services().is_empty());
}

#[test]
fn hosts_are_case_insensitive_and_exact_hosts_beat_wildcards() {
    let p = Project::new("hosts");
    let auth_host = format!("auth.{}.localhost", p.name);
    let owner =
        p.repo("owner", &format!("name: {{project}}\ncomponent: auth\nservices:\n{}", web("auth", 8080, Some(&auth_host))), &["auth"]);
    let (ok, out) = p.up(&owner, &[]);
    assert!(ok, "{out}");
    let shared = |service: &str, host: &str| {
        format!(
            "name: {{project}}\ncomponent: intruder\nservices:\n{}environments:\n  local:\n    infra:\n      provider: docker\n      shared: true\n",
            web(service, 8080, Some(host))
        )
    };
    // Upper case is the same host: refused.
    let upper = p.repo("upper", &shared("grab", &auth_host.to_uppercase()), &["grab"]);
    let (ok, out) = p.up(&upper, &[]);
    assert!(!ok && out.contains("is already routed to `auth` of component `auth`"), "{out}");
    // A wildcard may catch what nobody claims, never the owner's exact host.
    let wildcard = p.repo("wild", &shared("catchall", &format!("*.{}.localhost", p.name)), &["catchall"]);
    let (ok, out) = p.up(&wildcard, &[]);
    assert!(ok, "{out}");
    let (status, body) = p.get(&auth_host, "/index.html").unwrap();
    assert_eq!((status, body.trim()), (200, "hello from auth"), "the exact host still routes to its owner");
    let (status, body) = p.get(&format!("other.{}.localhost", p.name), "/index.html").unwrap();
    assert_eq!((status, body.trim()), (200, "hello from catchall"));
    // …and the owner's next deploy keeps both, in that order.
    let (ok, out) = p.up(&owner, &[]);
    assert!(ok && out.contains("nothing to do"), "{out}");
    assert_eq!(p.get(&auth_host, "/index.html").unwrap().1.trim(), "hello from auth");
}

#[test]
fn volumes_belong_to_one_component_and_keep_their_mode() {
    let p = Project::new("vols");
    let with_volume = |component: &str, service: &str, volume: &str| {
        format!(
            "name: {{project}}\ncomponent: {component}\nservices:\n  {service}:\n    image: {BUSYBOX}\n    command: sleep 600\n    volumes: [\"{volume}\"]\nenvironments:\n  local:\n    infra:\n      provider: docker\n      shared: {}\n",
            component != "a"
        )
    };
    let a = p.repo("a", &with_volume("a", "db", "data:/data:ro"), &[]);
    let (ok, out) = p.up(&a, &[]);
    assert!(ok, "{out}");
    let (_, rw) = docker(&["inspect", "-f", "{{range .Mounts}}{{.Destination}}={{.RW}}{{end}}", &p.container("db")]);
    assert_eq!(rw.trim(), "/data=false", "`:ro` reaches the engine");
    let b = p.repo("b", &with_volume("b", "reader", "data:/data"), &[]);
    let (ok, out) = p.up(&b, &[]);
    assert!(!ok && out.contains(&format!("volume `nk-{}-local-data` already exists", p.name)) && out.contains("component `a`"), "{out}");
    assert!(!docker(&["inspect", &p.container("reader")]).0, "nothing of b was created");
}

#[test]
fn orphans_of_another_checkout_are_kept_unless_asked() {
    let p = Project::new("orphans");
    // Two checkouts, same project name, no `component`: both are component = name.
    let one = p.repo("one", &format!("name: {{project}}\nservices:\n{}", web("a", 8080, None)), &["a"]);
    let two = p.repo("two", &format!("name: {{project}}\nservices:\n{}", web("b", 8081, None)), &["b"]);
    let (ok, out) = p.up(&one, &[]);
    assert!(ok, "{out}");
    let a = id(&p.container("a"));
    let (ok, out) = p.up(&two, &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains("keeping `a`") && out.contains("deployed from another checkout") && out.contains(&one.display().to_string()),
        "{out}"
    );
    assert_eq!(id(&p.container("a")), a, "the other checkout's service is untouched");
    // Same-checkout removals stay automatic.
    std::fs::write(two.join("nanokit.yml"), format!("name: {}\nservices:\n{}", p.name, web("c", 8082, None))).unwrap();
    std::fs::create_dir_all(two.join("apps/c")).unwrap();
    let (ok, out) = p.up(&two, &[]);
    assert!(ok && out.contains("remove b (no longer in nanokit.yml)"), "{out}");
    assert!(!docker(&["inspect", &p.container("b")]).0);
    // --remove-orphans takes the other checkout's too.
    let (ok, out) = p.up(&two, &["--remove-orphans"]);
    assert!(ok && out.contains("remove a (no longer in nanokit.yml; deployed from"), "{out}");
    assert!(!docker(&["inspect", &p.container("a")]).0);
}

#[test]
fn a_replacement_that_cannot_run_leaves_the_running_service_as_it_was() {
    let p = Project::new("replace");
    let yaml = format!("name: {{project}}\nservices:\n{}", web("web", 8080, Some("web.localhost")));
    let repo = p.repo("r", &yaml, &["web"]);
    let (ok, out) = p.up(&repo, &[]);
    assert!(ok, "{out}");
    let before = id(&p.container("web"));
    // An image that is nowhere: refused in the preflight, before anything is touched.
    std::fs::write(repo.join("nanokit.yml"), yaml.replace(BUSYBOX, "nk-test/absent:1").replace("{project}", &p.name)).unwrap();
    let (ok, out) = p.up(&repo, &[]);
    assert!(!ok && out.contains("nk-test/absent:1") && out.contains("keeps running"), "{out}");
    assert_eq!(id(&p.container("web")), before);
    assert!(running(&p.container("web")));
    // A replacement that exits at once: the old one keeps serving.
    std::fs::write(repo.join("nanokit.yml"), yaml.replace("exec httpd", "exit 3; httpd").replace("{project}", &p.name)).unwrap();
    let (ok, out) = p.up(&repo, &["--timeout", "10"]);
    assert!(!ok && out.contains("left as it was"), "{out}");
    assert_eq!(id(&p.container("web")), before);
    assert!(running(&p.container("web")));
    assert!(!docker(&["inspect", &format!("{}_next", p.container("web"))]).0, "the failed replacement is gone");
    // A good change replaces it, under its own name.
    std::fs::write(repo.join("nanokit.yml"), yaml.replace("8080", "8090").replace("{project}", &p.name)).unwrap();
    let (ok, out) = p.up(&repo, &[]);
    assert!(ok, "{out}");
    assert_ne!(id(&p.container("web")), before);
    assert!(running(&p.container("web")));
}

#[test]
fn up_repairs_a_stopped_gateway_and_follows_its_settings() {
    let p = Project::new("repair");
    let host = format!("web.{}.localhost", p.name);
    let repo = p.repo("r", &format!("name: {{project}}\nservices:\n{}", web("web", 8080, Some(&host))), &["web"]);
    let (ok, out) = p.up(&repo, &[]);
    assert!(ok, "{out}");
    let gateway = format!("nk-{}-local-gateway", p.name);
    assert!(docker(&["stop", &gateway]).0);
    let (ok, out) = p.up(&repo, &[]);
    assert!(ok && out.contains("start gateway (it is not running)"), "{out}");
    assert_eq!(p.get(&host, "/index.html").unwrap().1.trim(), "hello from web");
    // A new host port reaches the existing gateway: recreated, and the URL says so.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = p.nkdev(&repo).args(["up", "--gateway-port", &port.to_string()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("recreate gateway") && text.contains(&format!("http://{host}:{port}")), "{text}");
    let (_, ports) = docker(&["port", &gateway]);
    assert!(ports.contains(&format!(":{port}")), "{ports}");
}

#[test]
fn a_path_outside_the_project_is_refused_unless_opted_in() {
    let p = Project::new("path");
    let repo = p.repo("r", &format!("name: {{project}}\nservices:\n{}", web("web", 8080, None).replace("./apps/web", "/")), &[]);
    let (ok, out) = validate(&p, &repo);
    assert!(!ok && out.contains("NK048") && out.contains("outside the project folder"), "{out}");
    let (ok, out) = p.up(&repo, &[]);
    assert!(!ok && out.contains("NK048"), "{out}");
    assert!(p.services().is_empty());
    let out = p.nkdev(&repo).args(["validate"]).env("NANOKIT_ALLOW_OUTSIDE_PATHS", "1").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn another_project_whose_names_join_the_same_is_refused() {
    let p = Project::new("join");
    // project `<p>-a` env `local` and project `<p>` env `a-local` are both `nk-<p>-a-local`.
    let first = p.repo("first", &format!("name: {}-a\nservices:\n{}", p.name, web("web", 8080, None)), &["web"]);
    let (ok, out) = p.up(&first, &[]);
    assert!(ok, "{out}");
    let second = p.repo(
        "second",
        &format!("name: {{project}}\nservices:\n{}environments:\n  a-local:\n    infra:\n      provider: docker\n", web("web", 8080, None)),
        &["web"],
    );
    let (ok, out) = p.up(&second, &["--env", "a-local"]);
    let destroyed = p.nkdev(&first).arg("destroy").output().unwrap();
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("project `{}-a`", p.name)), "{out}");
    assert!(destroyed.status.success(), "the first project's objects were all still there to destroy");
}

#[test]
fn docker_host_is_honoured_and_never_falls_back() {
    let p = Project::new("host");
    let repo = p.repo("r", &format!("name: {{project}}\nservices:\n{}", web("web", 8080, None)), &["web"]);
    // A TCP endpoint in front of the local engine, counting the connections it carries.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let carried = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = carried.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let engine = std::os::unix::net::UnixStream::connect("/var/run/docker.sock").unwrap();
            let (mut c1, mut e1) = (client.try_clone().unwrap(), engine.try_clone().unwrap());
            let (mut c2, mut e2) = (client, engine);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c1, &mut e1);
                let _ = e1.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut e2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    let out = p.nkdev(&repo).arg("up").env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("on docker engine tcp://127.0.0.1:{port}")), "the plan names the engine: {text}");
    assert!(carried.load(std::sync::atomic::Ordering::SeqCst) > 0, "the deploy went through DOCKER_HOST");
    assert!(running(&p.container("web")));
    // An engine that is not there is an error, never the local socket instead.
    let out = p.nkdev(&repo).arg("plan").env("DOCKER_HOST", "unix:///nonexistent/docker.sock").output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("unix:///nonexistent/docker.sock"), "{text}");
    let out = p.nkdev(&repo).arg("plan").env("DOCKER_HOST", "ssh://deploy@vps.example").output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("ssh://deploy@vps.example") && text.contains("cannot resolve"), "{text}");
}
