//! Whatever the bytes, analysis returns diagnostics; it never panics.

use nanokit_core::interpolate::interpolate;
use nanokit_core::variables::Variables;
use nanokit_core::{analyze, AnalyzeOptions};
use proptest::prelude::*;

const FRAGMENTS: &[&str] = &[
    "name: x\n",
    "services:\n",
    "  a:\n",
    "    image: i\n",
    "    depends_on: [a, b]\n",
    "  b:\n",
    "    runtime: node\n",
    "environments:\n",
    "  local:\n",
    "    infra:\n",
    "      provider: aws\n",
    "    services:\n",
    "      a:\n",
    "        expose: 99999\n",
    "- x\n",
    ": :\n",
    "&a [*a]\n",
    "\t",
    "'",
    "\"",
    "{",
    "}",
    "[",
    "]",
    "é",
    "😀",
    "\r\n",
    "<<: *x\n",
    "~\n",
    "---\n",
    "? ",
    "| \n",
    "    env:\n      A: ${X:-${Y}}\n",
    "${",
    "$$",
    "}",
    ":-",
    "${NANOKIT_URL_A}",
    "    secrets:\n      S: env:S\n",
    "        from: aws-sm:x\n",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = analyze(text, &AnalyzeOptions::default());
    }

    #[test]
    fn interpolation_of_any_text_never_panics(text in "[$${}:?+\\-a-zA-Z_0-9é ]{0,40}") {
        let out = interpolate(&text, &Variables::from_pairs([("a", "1"), ("X", "é")]));
        for p in &out.problems {
            prop_assert!(p.range.end <= text.len() && text.is_char_boundary(p.range.start) && text.is_char_boundary(p.range.end));
        }
    }

    #[test]
    fn yaml_like_fragments_never_panic(parts in proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..40)) {
        let text: String = parts.concat();
        let variables = Some(Variables::from_pairs([("X", "é😀"), ("Y", "")]));
        let analysis = analyze(text.clone(), &AnalyzeOptions { variables, ..AnalyzeOptions::default() });
        for d in &analysis.diagnostics {
            prop_assert!(d.span.end <= text.len(), "span past the end: {:?}", d);
            prop_assert!(text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end));
        }
    }
}
