//! Finding and reading nanokit.yml, then running the core analysis on it.

use anyhow::{anyhow, Context, Result};
use nanokit_core::{analyze, Analysis, AnalyzeOptions};
use std::path::{Path, PathBuf};

/// An error that is the caller's usage (exit 2), not a problem in the file (exit 1).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

pub struct Loaded {
    pub path: PathBuf,
    pub analysis: Analysis,
    /// What `${VAR}` and `env:` secrets read: the process environment and the .env files.
    pub variables: nanokit_core::variables::Variables,
}

/// How nkdev analyses the file at `path`: its folder, the process environment and .env
/// files, the providers of this build, the outside-paths opt-in.
pub fn options(path: &Path, env: Option<&str>) -> AnalyzeOptions {
    let base_dir = path.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p }).map(Path::to_path_buf);
    let variables = nanokit_core::variables::Variables::load(base_dir.as_deref(), env);
    AnalyzeOptions {
        variables: Some(variables),
        base_dir,
        env: env.map(str::to_string),
        deployable: crate::providers::built_in(),
        allow_outside_paths: nanokit_core::check::allows_outside_paths(
            std::env::var_os(nanokit_core::check::ALLOW_OUTSIDE_PATHS_VAR).as_deref(),
        ),
    }
}

/// `-f FILE`, else `nanokit.yml` / `nanokit.yaml` in the current directory.
pub fn locate(file: Option<&Path>) -> Result<PathBuf> {
    if let Some(f) = file {
        if f.is_dir() {
            return locate_in(f);
        }
        if !f.exists() {
            return Err(UsageError(format!("{}: no such file", f.display())).into());
        }
        return Ok(f.to_path_buf());
    }
    locate_in(Path::new("."))
}

fn locate_in(dir: &Path) -> Result<PathBuf> {
    for name in nanokit_core::FILE_NAMES {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(if dir == Path::new(".") { PathBuf::from(name) } else { candidate });
        }
    }
    Err(UsageError(format!("no nanokit.yml or nanokit.yaml in {}; pass one with -f FILE", display_dir(dir))).into())
}

fn display_dir(dir: &Path) -> String {
    if dir == Path::new(".") {
        "the current directory".into()
    } else {
        dir.display().to_string()
    }
}

/// Read the file as UTF-8; invalid bytes are an error that names line and column.
///
/// Reads a little past the core's size limit and no further: the core reports an oversized
/// file at the point where the limit falls, and a runaway file (a log redirected into
/// nanokit.yml) costs 4 MiB of memory, not its size.
pub fn read_text(path: &Path) -> Result<String> {
    use std::io::Read;
    const READ_LIMIT: usize = nanokit_core::yaml::MAX_SOURCE_BYTES + 4;
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(READ_LIMIT as u64).read_to_end(&mut bytes).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() == READ_LIMIT {
        // The cut may split a character; what precedes it is all the core needs.
        if let Err(e) = std::str::from_utf8(&bytes) {
            if e.error_len().is_none() {
                bytes.truncate(e.valid_up_to());
            }
        }
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text)),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let valid = std::str::from_utf8(valid).unwrap_or_default();
            let line = valid.matches('\n').count() + 1;
            let col = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            Err(anyhow!(
                "{}:{line}:{col}: file is not valid UTF-8 (byte 0x{:02x}); save it as UTF-8",
                path.display(),
                e.as_bytes()[e.utf8_error().valid_up_to()]
            ))
        }
    }
}

pub fn load(path: &Path, env: Option<&str>) -> Result<Loaded> {
    let text = read_text(path)?;
    let options = options(path, env);
    let analysis = analyze(text, &options);
    Ok(Loaded { path: path.to_path_buf(), analysis, variables: options.variables.unwrap_or_default() })
}
