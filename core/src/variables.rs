//! The variables `${VAR}` interpolation and `env:` secrets read: the process environment, then
//! `.env.<env>`, then `.env`, all beside nanokit.yml (Compose's order: what the shell sets wins
//! over the files, and the environment's own file over the shared one).
//!
//! Values keep their provenance ("from $VAR", "from .env line 3") so `config --explain` and
//! hover can say where a value came from. `.env` files are parsed by `dotenvy` (quotes,
//! `export`, comments, multi-line values); it does not report lines, so the line of a
//! definition is found afterwards as the last line that assigns the name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What is printed instead of a value that must not be shown (secrets, secret-looking
/// variables).
pub const REDACTED: &str = "••••";

/// Where a variable's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarSource {
    /// The environment of the nkdev (or language server) process.
    Process,
    /// A line of a `.env` file.
    File { path: PathBuf, line: usize },
}

impl std::fmt::Display for VarSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VarSource::Process => f.write_str("the environment"),
            VarSource::File { path, line } => {
                let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
                write!(f, "{name} line {line}")
            }
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Variable {
    pub value: String,
    pub source: VarSource,
}

/// Variables hold the whole process environment (cloud keys included) and .env's secrets:
/// a debug print shows where a value came from, never the value.
impl std::fmt::Debug for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Variable({} from {})", REDACTED, self.source)
    }
}

/// A `.env` file that could not be read: named by path and, when known, line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for DotenvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// The variables one analysis or deploy sees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variables {
    vars: HashMap<String, Variable>,
    /// The `.env` files that exist and were read, in the order they are consulted.
    pub files: Vec<PathBuf>,
    /// Files that exist but could not be parsed; their variables are missing.
    pub errors: Vec<DotenvError>,
}

/// The name of the environment's own file: `.env.<env>`.
pub fn env_file_name(env: &str) -> String {
    format!(".env.{env}")
}

impl Variables {
    /// Only the given pairs, as if set in the process environment (tests, fixed inputs).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let vars = pairs.into_iter().map(|(k, v)| (k.into(), Variable { value: v.into(), source: VarSource::Process })).collect();
        Variables { vars, files: Vec::new(), errors: Vec::new() }
    }

    /// The process environment (names and values that are not UTF-8 are skipped: they cannot
    /// appear in a YAML file), then `.env.<env>` when an environment is chosen, then `.env`.
    pub fn load(base_dir: Option<&Path>, env: Option<&str>) -> Self {
        let process = std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Self::load_with(base_dir, env, process)
    }

    pub fn load_with(base_dir: Option<&Path>, env: Option<&str>, process: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut out = Self::from_pairs(process);
        let Some(dir) = base_dir else { return out };
        let mut files = Vec::new();
        if let Some(env) = env {
            files.push(dir.join(env_file_name(env)));
        }
        files.push(dir.join(".env"));
        for path in files {
            if !path.is_file() {
                continue;
            }
            match read_dotenv(&path) {
                Ok(pairs) => {
                    for (name, var) in pairs {
                        out.vars.entry(name).or_insert(var);
                    }
                    out.files.push(path);
                }
                Err(e) => out.errors.push(e),
            }
        }
        out
    }

    pub fn get(&self, name: &str) -> Option<&Variable> {
        self.vars.get(name)
    }

    /// The variables the `.env` files define (not the process's), by name: what an editor
    /// offers after `${` or `env:`.
    pub fn from_files(&self) -> Vec<(&str, &Variable)> {
        let mut out: Vec<(&str, &Variable)> =
            self.vars.iter().filter(|(_, v)| matches!(v.source, VarSource::File { .. })).map(|(k, v)| (k.as_str(), v)).collect();
        out.sort_by_key(|(k, _)| *k);
        out
    }

    /// Where a missing variable was looked for, for messages.
    pub fn searched(&self) -> String {
        let mut places = vec!["the environment".to_string()];
        places.extend(self.files.iter().map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()));
        places.join(", ")
    }
}

fn read_dotenv(path: &Path) -> Result<Vec<(String, Variable)>, DotenvError> {
    let text = std::fs::read_to_string(path).map_err(|e| DotenvError {
        path: path.to_path_buf(),
        line: None,
        message: format!("cannot read: {e}"),
    })?;
    let mut out = Vec::new();
    for item in dotenvy::Iter::new(text.as_bytes()) {
        match item {
            Ok((name, value)) => {
                let line = definition_line(&text, &name);
                out.push((name, Variable { value, source: VarSource::File { path: path.to_path_buf(), line } }));
            }
            // The message names the line and the variable, never the text: it holds a value,
            // and the values of .env are secrets (dotenvy's own message quotes the whole line).
            Err(dotenvy::Error::LineParse(line_text, index)) => {
                let first = line_text.lines().next().unwrap_or_default();
                let line = text.lines().position(|l| l == first).map(|i| i + 1);
                // A line without `=` may be a pasted token: named only when it assigns something.
                let name = first.split_once('=').map(|(n, _)| n.trim().trim_start_matches("export ").trim());
                let what = match name {
                    Some(n) if crate::names::is_env_name(n) => format!("the value of `{n}`"),
                    _ => "this line".to_string(),
                };
                return Err(DotenvError {
                    path: path.to_path_buf(),
                    line,
                    message: format!("cannot parse {what} (at character {}; an unclosed quote?)", index + 1),
                });
            }
            Err(_) => return Err(DotenvError { path: path.to_path_buf(), line: None, message: "cannot parse this file".into() }),
        }
    }
    // dotenvy yields a name once per assignment; the last one wins, as when sourcing the file.
    let mut seen = std::collections::HashSet::new();
    out.reverse();
    out.retain(|(name, _)| seen.insert(name.clone()));
    out.reverse();
    Ok(out)
}

/// The last line (1-based) that assigns `name`: `NAME=`, `export NAME=`, spaces allowed.
fn definition_line(text: &str, name: &str) -> usize {
    let mut found = 0;
    for (i, line) in text.lines().enumerate() {
        let rest = line.trim_start();
        let rest = rest.strip_prefix("export ").map_or(rest, str::trim_start);
        if let Some(after) = rest.strip_prefix(name) {
            if after.trim_start().starts_with('=') {
                found = i + 1;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_wins_over_env_file_which_wins_over_dotenv() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "# shared\nA=from-dotenv\nB=from-dotenv\nexport C = \"quoted value\"\nB=last\n").unwrap();
        std::fs::write(dir.path().join(".env.prod"), "A=from-prod\n").unwrap();
        let vars = Variables::load_with(Some(dir.path()), Some("prod"), [("C".to_string(), "from-shell".to_string())]);
        assert_eq!(vars.get("A").unwrap().value, "from-prod");
        assert_eq!(vars.get("A").unwrap().source.to_string(), ".env.prod line 1");
        assert_eq!(vars.get("B").unwrap().value, "last");
        assert_eq!(vars.get("B").unwrap().source.to_string(), ".env line 5");
        assert_eq!(vars.get("C").unwrap().value, "from-shell");
        assert_eq!(vars.get("C").unwrap().source, VarSource::Process);
        assert_eq!(vars.searched(), "the environment, .env.prod, .env");
        // Without an environment, only .env is read.
        let vars = Variables::load_with(Some(dir.path()), None, []);
        assert_eq!(vars.get("A").unwrap().value, "from-dotenv");
        assert_eq!(vars.get("C").unwrap().value, "quoted value");
        assert_eq!(vars.get("C").unwrap().source.to_string(), ".env line 4");
    }

    #[test]
    fn a_broken_dotenv_is_an_error_naming_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "A=1\nB='unterminated hunter2\nC=3\n").unwrap();
        let vars = Variables::load_with(Some(dir.path()), None, []);
        assert_eq!(vars.errors.len(), 1, "{:?}", vars.errors);
        let message = vars.errors[0].to_string();
        assert!(message.contains(".env:2: cannot parse the value of `B`"), "{message}");
        assert!(!message.contains("hunter2"), "a parse error never quotes the value: {message}");
        // A token pasted alone on a line is not taken for a name.
        std::fs::write(dir.path().join(".env"), "A=1\nghp_pastedTokenValue\n").unwrap();
        let vars = Variables::load_with(Some(dir.path()), None, []);
        let message = vars.errors.first().map(ToString::to_string).unwrap_or_default();
        assert!(!message.contains("ghp_"), "{message}");
        assert!(!format!("{:?}", Variables::from_pairs([("K", "hunter2")])).contains("hunter2"), "nor does a debug print");
        assert!(vars.get("A").is_none(), "a file that cannot be parsed gives nothing, not half");
    }
}
