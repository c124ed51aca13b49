//! The long explanation of each rule: why it matters, a failing example and its fix, and
//! whether the automatic fix is safe. The text lives in `core/rules/NKxxx.md`, one file per
//! code (the format is in `core/rules/FORMAT.md`), embedded at compile time by
//! [`Code::doc_text`], so a code without its document does not build. `nkdev explain` prints
//! it, docs/rules.md is generated from it ([`markdown`]), and the language server links each
//! diagnostic to its anchor ([`href`]). `core/tests/rules.rs` runs every example through the
//! analyzer, so the documents cannot drift from the rules.

use crate::diagnostic::{Code, Diagnostic};

/// Where docs/rules.md is published; diagnostics link to `RULES_URL#nk040`. The project has no
/// public home yet, so this is a placeholder that a build sets with the `NANOKIT_RULES_URL`
/// environment variable at compile time; the one place to change when it has one.
pub const RULES_URL: &str = match option_env!("NANOKIT_RULES_URL") {
    Some(url) => url,
    None => "https://example.invalid/nanokit/docs/rules.md",
};

/// A rule's documentation, parsed from its Markdown file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDoc {
    pub code: Code,
    /// The "Why it matters" section, Markdown.
    pub why: String,
    /// A file set that reports the code.
    pub example: Example,
    /// The same, corrected: no errors and not the code.
    pub fixed: Example,
    /// For codes whose diagnostics carry an automatic fix.
    pub fix_safety: Option<FixSafety>,
}

/// Whether applying a rule's automatic fix can change what is deployed in a way the user did
/// not mean (ruff's "safe" and "unsafe" fixes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixSafety {
    pub safe: bool,
    /// Why, as the document says (Markdown, starting after `Safe.`/`Unsafe.`).
    pub why: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Example {
    /// Text around the code blocks, Markdown.
    pub prose: String,
    /// nanokit.yml first (path `nanokit.yml`), then the other files it needs, by path
    /// relative to its folder.
    pub files: Vec<ExampleFile>,
    /// Analysed for this environment (`nkdev validate --env ENV`).
    pub env: Option<String>,
    /// nanokit.yml padded with a trailing comment to this many bytes (the size rule).
    pub pad_to_bytes: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleFile {
    pub path: String,
    /// The code block's language (`yaml`, `text`, `json`).
    pub lang: String,
    pub text: String,
}

impl Example {
    /// nanokit.yml's text as analysed (padded when the example asks for it).
    pub fn main_text(&self) -> String {
        let mut text = self.files.first().map(|f| f.text.clone()).unwrap_or_default();
        if let Some(size) = self.pad_to_bytes {
            text.push('#');
            while text.len() < size {
                text.push_str("                                                              padding\n#");
            }
        }
        text
    }
}

impl Code {
    /// The parsed long explanation. Parsed once for all codes, on first use: the language
    /// server asks for a fix's safety on every code-action request.
    pub fn doc(self) -> &'static RuleDoc {
        static DOCS: std::sync::OnceLock<Vec<RuleDoc>> = std::sync::OnceLock::new();
        let docs = DOCS.get_or_init(|| Code::ALL.iter().map(|c| parse(*c, c.doc_text())).collect());
        let i = Code::ALL.iter().position(|c| *c == self).expect("every code is in Code::ALL");
        &docs[i]
    }
    /// Whether this rule's automatic fixes are safe to apply without review (`None`: the rule
    /// has no automatic fix).
    pub fn fix_is_safe(self) -> Option<bool> {
        self.doc().fix_safety.as_ref().map(|f| f.safe)
    }
}

/// The stable link to a rule's section of docs/rules.md.
pub fn href(code: Code) -> String {
    format!("{RULES_URL}#{}", anchor(code))
}

fn anchor(code: Code) -> String {
    code.as_str().to_ascii_lowercase()
}

/// Parse one document. The format is strict and checked by a test for every code, so a
/// malformed section only ever shows up as an empty one here, never as a panic.
pub fn parse(code: Code, text: &str) -> RuleDoc {
    let mut sections: Vec<(&str, String)> = Vec::new();
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            sections.push((title.trim(), String::new()));
        } else if let Some((_, body)) = sections.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    let section = |title: &str| sections.iter().find(|(t, _)| *t == title).map(|(_, b)| b.trim().to_string()).unwrap_or_default();
    let fix_safety = sections.iter().any(|(t, _)| *t == "Fix safety").then(|| {
        let body = section("Fix safety");
        match body.strip_prefix("Safe.") {
            Some(rest) => FixSafety { safe: true, why: rest.trim().to_string() },
            None => FixSafety { safe: false, why: body.strip_prefix("Unsafe.").unwrap_or(&body).trim().to_string() },
        }
    });
    RuleDoc { code, why: section("Why it matters"), example: example(&section("Example")), fixed: example(&section("Fixed")), fix_safety }
}

/// Code blocks become files (the first one is nanokit.yml, the others say `path=`); the
/// rest is prose.
fn example(body: &str) -> Example {
    let mut out = Example::default();
    let mut block: Option<(ExampleFile, bool)> = None;
    for line in body.lines() {
        match (&mut block, line.strip_prefix("```")) {
            (None, Some(info)) => {
                let mut words = info.split_whitespace();
                let lang = words.next().unwrap_or_default().to_string();
                let mut path = None;
                let mut is_main = false;
                for attr in words {
                    match attr.split_once('=') {
                        Some(("path", p)) => path = Some(p.to_string()),
                        Some(("env", e)) => out.env = Some(e.to_string()),
                        Some(("pad-to-bytes", n)) => out.pad_to_bytes = n.parse().ok(),
                        _ => {}
                    }
                }
                let path = path.unwrap_or_else(|| {
                    is_main = true;
                    "nanokit.yml".to_string()
                });
                block = Some((ExampleFile { path, lang, text: String::new() }, is_main));
            }
            (Some(_), Some(_)) => {
                let (file, is_main) = block.take().expect("matched Some");
                if is_main {
                    out.files.insert(0, file);
                } else {
                    out.files.push(file);
                }
            }
            (Some((file, _)), None) => {
                file.text.push_str(line);
                file.text.push('\n');
            }
            (None, None) => {
                out.prose.push_str(line);
                out.prose.push('\n');
            }
        }
    }
    out.prose = out.prose.trim().to_string();
    out
}

/// `nkdev validate --fix`: the text with the fixes whose rule calls them safe applied, and
/// how many. One at a time, analysing again after each, so that every fix is computed on the
/// text the previous one left (two removals that empty a mapping leave `{}`, not a key with
/// no value). A fix is kept only when the finding it fixes is gone and nothing new is wrong:
/// no error the file did not have, and no YAML problem. Unsafe fixes are never applied here:
/// the editor offers them.
pub fn fix_safely(text: &str, analyze: impl Fn(&str) -> Vec<Diagnostic>) -> (String, usize) {
    let key = |d: &Diagnostic| (d.code, d.message.clone());
    let mut text = text.to_string();
    let mut diagnostics = analyze(&text);
    let mut applied = 0;
    // Analyses are bounded: a file with many findings is fixed in part, never for ever.
    let mut budget = 2000;
    'rounds: loop {
        let candidates: Vec<&Diagnostic> = diagnostics
            .iter()
            .filter(|d| d.code.fix_is_safe() == Some(true) && !d.fixes.is_empty())
            .filter(|d| d.fixes[0].edits.iter().all(|e| e.span.start <= e.span.end && e.span.end <= text.len()))
            .collect();
        // Try each in turn on this text; the first that holds is kept and the rest are
        // computed again on the new text.
        for d in candidates {
            if budget == 0 {
                break 'rounds;
            }
            budget -= 1;
            let mut edits = d.fixes[0].edits.clone();
            edits.sort_by_key(|e| std::cmp::Reverse(e.span.start));
            let mut fixed = text.clone();
            for e in &edits {
                fixed.replace_range(e.span.start..e.span.end, &e.new_text);
            }
            let after = analyze(&fixed);
            let count = |set: &[Diagnostic], k: &(Code, String)| set.iter().filter(|x| key(x) == *k).count();
            let gone = count(&after, &key(d)) < count(&diagnostics, &key(d));
            let new_error = after.iter().any(|x| x.is_error() && count(&after, &key(x)) > count(&diagnostics, &key(x)));
            let yaml = |set: &[Diagnostic]| {
                set.iter().filter(|x| matches!(x.code, Code::Syntax | Code::DuplicateKey | Code::InputTooComplex)).count()
            };
            let yaml_problem = yaml(&after) > yaml(&diagnostics);
            if gone && !new_error && !yaml_problem {
                text = fixed;
                diagnostics = after;
                applied += 1;
                continue 'rounds;
            }
        }
        break;
    }
    (text, applied)
}

/// docs/rules.md: every rule, generated from the same documents (`nkdev explain --markdown`).
pub fn markdown() -> String {
    let mut out = String::from(
        "# nanokit.yml rules\n\n\
         <!-- Generated from core/rules/*.md by `nkdev explain --markdown > docs/rules.md`; do not edit. -->\n\n\
         Every diagnostic of `nkdev validate` and of the language server has a stable code. \
         `nkdev explain CODE` prints the same text in the terminal. Each example is checked by the \
         test suite: the first reports the code, the fixed one reports no error.\n\n\
         | Code | Severity | Summary | Fix |\n|---|---|---|---|\n",
    );
    for code in Code::ALL {
        let fix = match code.fix_is_safe() {
            Some(true) => "safe",
            Some(false) => "unsafe",
            None => "",
        };
        let summary = code.summary().replace('|', "\\|");
        out.push_str(&format!("| [{code}](#{}) | {} | {summary} | {fix} |\n", anchor(*code), code.default_severity().as_str()));
    }
    for code in Code::ALL {
        let doc = code.doc();
        out.push_str(&format!("\n<a id=\"{}\"></a>\n\n## {code}: {}\n\n", anchor(*code), code.summary()));
        let fix = match &doc.fix_safety {
            Some(f) if f.safe => "a safe automatic fix",
            Some(_) => "an unsafe automatic fix (review it)",
            None => "no automatic fix",
        };
        out.push_str(&format!("Severity: {}; {fix}.\n\n### Why it matters\n\n{}\n\n", code.default_severity().as_str(), doc.why));
        for (title, example) in [("Example", &doc.example), ("Fixed", &doc.fixed)] {
            out.push_str(&format!("### {title}\n\n"));
            if !example.prose.is_empty() {
                out.push_str(&example.prose);
                out.push_str("\n\n");
            }
            out.push_str(&example_notes(example));
            for file in &example.files {
                if example.files.len() > 1 || file.path != "nanokit.yml" {
                    out.push_str(&format!("`{}`:\n\n", file.path));
                }
                out.push_str(&format!("```{}\n{}```\n\n", file.lang, file.text));
            }
        }
        if let Some(f) = &doc.fix_safety {
            out.push_str(&format!("### Fix safety\n\n{}. {}\n\n", if f.safe { "Safe" } else { "Unsafe" }, f.why));
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// How an example is checked, when it is not plain `nkdev validate`.
pub fn example_notes(example: &Example) -> String {
    let mut out = String::new();
    if let Some(env) = &example.env {
        out.push_str(&format!("Checked with `nkdev validate --env {env}`.\n\n"));
    }
    if let Some(size) = example.pad_to_bytes {
        out.push_str(&format!("The file is padded with comments to {size} bytes.\n\n"));
    }
    out
}
