//! What runs now, and changing it in place: status rows read from the engine (state, exit
//! code, image, start and end times), the engine's event stream as the tick of `nkdev status
//! --watch`, and restarting a service's process without recreating its container (`nkdev
//! restart`, `nkdev up --watch`).

use crate::guard::{Object, Target};
use crate::{copy, engine_err, label, served_url, DockerProvider};
use bollard::container::RestartContainerOptions;
use bollard::system::EventsOptions;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use nanokit_core::ownership::{Intent, ObjectKind};
use nanokit_core::plan::{Desired, DesiredService, APP_DIR};
use nanokit_deploy::provider::{labels, ProviderError, Reporter, StatusRow};
use std::collections::HashMap;

/// Where a service's container records which install request it has installed for. The
/// container's command runs `install` while this does not match the request (none at first),
/// so a restart (same container, same writable layer) runs `start` alone. Named after the
/// container's own hostname file (its ID; not `$HOSTNAME`, which a service's env may set), so
/// a volume mounted at /tmp cannot carry it into a new container.
pub const INSTALLED_MARKER: &str = "/tmp/.nanokit-installed-$(cat /etc/hostname 2>/dev/null)";
/// The install request (`restart --reinstall`): a new value asks the next start to install
/// again. Copied in through the engine's archive API, which works on a stopped or crashing
/// container too; never deleted (the container's user may not own it): a failed install is
/// tried again at the next start, since the marker still holds the previous value.
pub const REINSTALL_REQUEST: &str = "/tmp/.nanokit-reinstall";

/// The shell script a service's container runs: `install` once per request, then `start`.
/// `install` is grouped on its own lines so that its lists stay its own; the script's own
/// variables are unset before `start`, whose environment is the service's.
pub fn container_command(s: &DesiredService) -> Option<String> {
    match &s.provisioning {
        Some(p) => Some(format!(
            "_nk_marker=\"{m}\"\n_nk_want=\"$(cat {r} 2>/dev/null)\"\nif [ ! -e \"$_nk_marker\" ] || [ \"$_nk_want\" != \"$(cat \"$_nk_marker\")\" ]; then\n{{ {install}\n}} || exit $?\nprintf %s \"$_nk_want\" > \"$_nk_marker\"\nfi\nunset _nk_marker _nk_want\n{start}",
            m = INSTALLED_MARKER,
            r = REINSTALL_REQUEST,
            install = p.install,
            start = p.start
        )),
        None => s.command.clone(),
    }
}

/// A tar archive holding a new install request, to be extracted at `/`.
fn reinstall_request() -> std::io::Result<Vec<u8>> {
    let nonce = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0).to_string();
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(nonce.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, REINSTALL_REQUEST.trim_start_matches('/'), nonce.as_bytes())?;
    builder.into_inner()
}

/// Seconds since the Unix epoch of an engine timestamp; the engine's "never" is `None`.
fn epoch_seconds(timestamp: Option<&str>) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(timestamp?).ok()?.timestamp();
    (t > 0).then_some(t)
}

impl DockerProvider {
    /// A row per service container of this project and environment (every component's: the
    /// cluster is shared), with what the engine says of it now.
    pub(crate) async fn status_rows(&self, desired: &Desired) -> Result<Vec<StatusRow>, ProviderError> {
        let containers = self.containers(desired).await?;
        // Where the gateway really serves (a shared gateway runs its owner's settings).
        let fingerprint = containers
            .iter()
            .find(|c| label(c, labels::ROLE).map(String::as_str) == Some("gateway"))
            .and_then(|c| label(c, labels::GATEWAY_SETTINGS).cloned())
            .unwrap_or_else(|| self.settings.gateway_fingerprint());
        let mut rows = Vec::new();
        for c in &containers {
            if label(c, labels::ROLE).map(String::as_str) != Some("service") {
                continue;
            }
            let name = c.names.as_ref().and_then(|n| n.first()).map(|n| n.trim_start_matches('/').to_string()).unwrap_or_default();
            // A replacement not yet ready (`…_next`) is not what serves.
            if crate::guard::is_replacement_name(&name) {
                continue;
            }
            let service = label(c, labels::SERVICE).cloned().unwrap_or_default();
            let component = label(c, labels::COMPONENT).cloned().unwrap_or_default();
            let up_to_date = component == desired.cluster.component
                && desired.service(&service).is_some_and(|d| Some(&d.config_hash) == label(c, labels::CONFIG_HASH));
            let mut row = StatusRow::new(&service, &component, c.state.as_deref().unwrap_or_default(), &name, up_to_date);
            row.host = label(c, labels::HOST).cloned();
            row.url = row.host.as_ref().filter(|h| !h.contains('*')).map(|h| served_url(&fingerprint, h));
            row.image = c.image.clone();
            // A container removed between the list and here is simply shown as listed.
            let id = c.id.clone().unwrap_or_else(|| name.clone());
            if let Ok(inspect) = self.docker.inspect_container(&id, None).await {
                if let Some(state) = &inspect.state {
                    row.health =
                        state.health.as_ref().and_then(|h| h.status).map(|s| s.to_string()).filter(|s| !s.is_empty() && s != "none");
                    row.started_at = epoch_seconds(state.started_at.as_deref());
                    row.finished_at = epoch_seconds(state.finished_at.as_deref());
                    row.exit_code = state.exit_code.filter(|_| row.state == "exited");
                }
                row.restarts = inspect.restart_count.and_then(|n| u64::try_from(n).ok());
            }
            rows.push(row);
        }
        Ok(rows)
    }

    /// A tick per engine event about this cluster's containers (create, start, die, health…).
    /// The stream ends with an error when the engine goes away.
    pub(crate) fn container_events<'a>(&'a self, desired: &'a Desired) -> BoxStream<'a, Result<(), ProviderError>> {
        let c = &desired.cluster;
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("label".to_string(), vec![format!("{}={}", labels::PROJECT, c.project), format!("{}={}", labels::ENV, c.env)]),
        ]);
        let events = self.docker.events(Some(EventsOptions::<String> { since: None, until: None, filters }));
        let ended = futures_util::stream::once(async { Err(ProviderError::new("the Docker engine closed its event stream")) });
        events
            .map(|e| e.map(|_| ()).map_err(|e| engine_err("lost the Docker engine's event stream", &e)))
            .chain(ended)
            .scan(false, |failed, item| {
                // Only the first error is reported: the stream ends there.
                let out = if *failed { None } else { Some(item) };
                *failed = out.as_ref().is_some_and(Result::is_err);
                futures_util::future::ready(out)
            })
            .boxed()
    }

    /// Restart services in place; see [`nanokit_deploy::provider::Provider::restart`]. Every
    /// container is checked (exists, is this deploy's own) before any is touched.
    pub(crate) async fn restart_services(
        &self,
        desired: &Desired,
        services: &[String],
        reinstall: bool,
        reporter: &dyn Reporter,
    ) -> Result<(), ProviderError> {
        let mut checked = Vec::new();
        for name in services {
            let s = desired.service(name).ok_or_else(|| ProviderError::new(format!("no service `{name}` in this file")))?;
            let target = Target { object: Object::Container, kind: ObjectKind::Service, intent: Intent::Change, name: s.instance.clone() };
            let Some(id) = self.guard_id(desired, &target).await? else {
                return Err(ProviderError::new(format!(
                    "service `{name}` is not deployed (no container {}): `nkdev up {name}` deploys it",
                    s.instance
                )));
            };
            checked.push((s, id));
        }
        for (s, id) in checked {
            self.restart_one(s, &id, reinstall).await?;
            reporter.note(&format!(
                "restarted {}{}",
                s.name,
                if reinstall && s.provisioning.is_some() { " (install ran again)" } else { "" }
            ));
        }
        Ok(())
    }

    /// Restart the container `id` (the one the guard let through) of service `s`.
    async fn restart_one(&self, s: &DesiredService, id: &str, reinstall: bool) -> Result<(), ProviderError> {
        let name = &s.instance;
        // On a remote engine the files were copied in: copy them again (locally they are mounted).
        if let (true, Some(folder)) = (self.engine.is_remote(), &s.mount) {
            let tar = copy::archive(folder, APP_DIR)
                .map_err(|e| ProviderError::new(format!("service `{}`: cannot read {}: {e}", s.name, folder.display())))?;
            self.extract_at_root(id, tar).await.map_err(|e| engine_err(format!("cannot copy {} into `{name}`", folder.display()), &e))?;
        }
        if reinstall && s.provisioning.is_some() {
            let tar = reinstall_request().map_err(|e| ProviderError::new(format!("cannot ask `{name}` to install again: {e}")))?;
            self.extract_at_root(id, tar).await.map_err(|e| engine_err(format!("cannot ask `{name}` to install again"), &e))?;
        }
        let t = self.settings.stop_grace.as_secs() as isize;
        self.docker
            .restart_container(id, Some(RestartContainerOptions { t }))
            .await
            .map_err(|e| engine_err(format!("cannot restart `{name}`"), &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_runs_once_per_request_and_start_every_time() {
        let analysis = nanokit_core::analyze(
            "name: shop\nservices:\n  web:\n    image: x\n    path: .\n    provisioning:\n      install: \"make deps # comment\"\n      start: exec run\nenvironments:\n  local:\n    infra:\n      provider: docker\n",
            &Default::default(),
        );
        let env = analysis.environment("local").unwrap();
        let d = nanokit_core::plan::desired(&env.resolved, &env.graph, &[], std::path::Path::new("."), &Default::default()).unwrap();
        let script = container_command(&d.services[0]).unwrap();
        assert!(script.contains("\n{ make deps # comment\n} || exit $?\n"), "{script}");
        assert!(script.ends_with("unset _nk_marker _nk_want\nexec run"), "{script}");
        // a shell accepts it: install once, again per new request, retried after a failure
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("marker with space");
        let request = dir.path().join("request");
        let run = |install: &str| {
            let s = script
                .replace(INSTALLED_MARKER, marker.to_str().unwrap())
                .replace(REINSTALL_REQUEST, request.to_str().unwrap())
                .replace("make deps # comment", install)
                .replace("exec run", "echo started $_nk_want");
            let out = std::process::Command::new("sh").arg("-c").arg(s).output().unwrap();
            (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string())
        };
        assert_eq!(run("echo installing"), (Some(0), "installing\nstarted\n".into()));
        assert_eq!(run("echo installing"), (Some(0), "started\n".into()));
        std::fs::write(&request, "1").unwrap();
        assert_eq!(run("echo installing"), (Some(0), "installing\nstarted\n".into()));
        assert_eq!(run("echo installing"), (Some(0), "started\n".into()));
        // a failed install keeps the previous mark: the next start tries again
        std::fs::write(&request, "2").unwrap();
        assert_eq!(run("exit 7").0, Some(7));
        assert_eq!(run("echo installing"), (Some(0), "installing\nstarted\n".into()));
        assert_eq!(run("echo installing"), (Some(0), "started\n".into()));
    }

    #[test]
    fn the_reinstall_request_archive_holds_the_file_the_script_reads() {
        let tar = reinstall_request().unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let names: Vec<String> = archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert_eq!(names, [REINSTALL_REQUEST.trim_start_matches('/')]);
    }

    #[test]
    fn engine_timestamps_read_as_epoch_seconds() {
        assert_eq!(epoch_seconds(Some("2026-11-26T12:00:00.123456789Z")), Some(1_795_694_400));
        assert_eq!(epoch_seconds(Some("0001-01-01T00:00:00Z")), None);
        assert_eq!(epoch_seconds(None), None);
    }
}
