//! The lower modules form layers: each names (`crate::x`, `use crate::{x, ..}`,
//! `super::…` up to the crate root) only the modules of the layers beneath
//! it, so none of them imports another in a circle. Test code counts too.
//!
//! The order is the one `ARCHITECTURE.md` and the layout map of `src/lib.rs`
//! give. A scan of the source text, comments and string literals left out.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, lowest first, each with what it may name besides the layers
/// beneath it. `base` is the leaf: it names nothing of the crate. Every module
/// not listed (federation, app, api, web, cli, node…) is above them all.
const LAYERS: &[(&str, &[&str])] = &[
    ("base", &[]),
    ("storage", &[]),
    ("error", &[]),
    ("domain", &[]),
    ("tls", &[]),
    ("trust", &[]),
    ("docs", &[]),
    ("config", &[]),
    // The indicators: above the documents, below the use cases and the API
    // that feed them (`report::IndexHost`); the wire types for renderings.
    ("report", &["pb"]),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The crate's top-level modules, from `src/lib.rs`.
fn crate_modules() -> BTreeSet<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let code = code_only(&lib);
    let mut out = BTreeSet::new();
    let mut words = code.split_whitespace().peekable();
    while let Some(w) = words.next() {
        if w == "mod" {
            if let Some(name) = words.peek() {
                let name: String = name
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.insert(name);
            }
        }
    }
    out
}

/// The text of `source` with comments blanked and string and character
/// literals emptied, so that only code is left to scan.
fn code_only(source: &str) -> String {
    let c: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < c.len() {
        let at = |k: usize| c.get(i + k).copied();
        if at(0) == Some('/') && at(1) == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if at(0) == Some('/') && at(1) == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if at(0) == Some('r')
            && matches!(at(1), Some('#') | Some('"'))
            && !c[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (1..=hashes).all(|h| c.get(j + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if at(0) == Some('"') {
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if at(0) == Some('\'') {
            // A character literal ('x', '\n', '\u{..}'), or a lifetime.
            if at(1) == Some('\\') {
                let mut j = i + 2;
                while j < c.len() && c[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push_str("' '");
            } else if at(2) == Some('\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push('\'');
                i += 1;
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// The top-level modules that `code` names, in a file `depth` modules below
/// the crate root (`src/domain/site.rs`: 2).
fn named_modules(code: &str, depth: usize, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let bytes = code.as_bytes();
    let boundary = |k: usize| {
        k == 0
            || !(bytes[k - 1].is_ascii_alphanumeric()
                || bytes[k - 1] == b'_'
                || bytes[k - 1] == b'$')
    };
    let mut k = 0;
    while k < code.len() {
        let rest = &code[k..];
        let root = if rest.starts_with("crate::") && boundary(k) {
            Some("crate::".len())
        } else if rest.starts_with("super::") && boundary(k) {
            let mut n = 0;
            let mut len = 0;
            while code[k + len..].starts_with("super::") {
                n += 1;
                len += "super::".len();
            }
            (n >= depth).then_some(len)
        } else {
            None
        };
        let Some(len) = root else {
            k += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let after = &code[k + len..];
        if let Some(group) = after.trim_start().strip_prefix('{') {
            // use crate::{a, b::c, d::{e, f}}: the first name of each item.
            let mut depth_b = 0;
            let mut item_start = true;
            for (n, ch) in group.char_indices() {
                match ch {
                    '{' => depth_b += 1,
                    '}' if depth_b == 0 => break,
                    '}' => depth_b -= 1,
                    ',' if depth_b == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        item_start = false;
                        out.insert(ident(&group[n..]));
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(after));
        }
        k += len;
    }
    out.retain(|m| modules.contains(m));
    out
}

/// The Rust files of a top-level module, each with its depth below the root.
fn files_of(module: &str) -> Vec<(PathBuf, usize)> {
    let mut out = Vec::new();
    let file = src().join(format!("{module}.rs"));
    if file.exists() {
        out.push((file, 1));
    }
    let dir = src().join(module);
    if dir.is_dir() {
        walk(&dir, 1, &mut out);
    }
    assert!(!out.is_empty(), "no source for module {module}");
    out
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<(PathBuf, usize)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, depth + 1, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let d = if p.file_name().is_some_and(|n| n == "mod.rs") {
                depth
            } else {
                depth + 1
            };
            out.push((p, d));
        }
    }
}

/// What module `layer` (an index in `LAYERS`) names that it may not.
fn violations(layer: usize, code: &str, depth: usize, modules: &BTreeSet<String>) -> Vec<String> {
    let (me, extra) = LAYERS[layer];
    let allowed: BTreeSet<&str> = LAYERS[..layer]
        .iter()
        .map(|(m, _)| *m)
        .chain(extra.iter().copied())
        .chain([me])
        .collect();
    named_modules(code, depth, modules)
        .into_iter()
        .filter(|m| !allowed.contains(m.as_str()))
        .collect()
}

#[test]
fn lower_modules_name_only_the_layers_beneath_them() {
    let modules = crate_modules();
    for (m, _) in LAYERS {
        assert!(modules.contains(*m), "{m} is no module of src/lib.rs");
    }
    let mut found = Vec::new();
    for (layer, (module, _)) in LAYERS.iter().enumerate() {
        for (path, depth) in files_of(module) {
            let code = code_only(&std::fs::read_to_string(&path).unwrap());
            for named in violations(layer, &code, depth, &modules) {
                found.push(format!(
                    "{} names crate::{named}, which is not beneath {module}",
                    path.strip_prefix(src()).unwrap().display()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "layers broken (order, lowest first: {}):\n{}",
        LAYERS
            .iter()
            .map(|(m, _)| *m)
            .collect::<Vec<_>>()
            .join(" < "),
        found.join("\n")
    );
}

/// The scan finds each way of naming a module, and only real ones.
#[test]
fn the_scan_catches_what_it_must() {
    let modules = crate_modules();
    let domain = LAYERS.iter().position(|(m, _)| *m == "domain").unwrap();
    let base = 0;
    let v = |layer, depth, code: &str| violations(layer, &code_only(code), depth, &modules);
    // Each form of naming a higher module is caught.
    assert_eq!(v(domain, 2, "use crate::config::Config;"), ["config"]);
    assert_eq!(v(domain, 2, "let x = crate::docs::site_doc(s);"), ["docs"]);
    assert_eq!(
        v(
            domain,
            2,
            "use crate::{\n    error::{Error, Result},\n    trust::Sig,\n};"
        ),
        ["trust"]
    );
    assert_eq!(v(domain, 3, "use super::super::super::api::X;"), ["api"]);
    assert_eq!(
        v(
            domain,
            2,
            "    #[cfg(test)]\n    use crate::federation::Core;"
        ),
        ["federation"]
    );
    assert_eq!(v(base, 2, "use crate::error::Error;"), ["error"]);
    // Lower layers, comments, strings and sibling modules are not.
    assert!(v(
        domain,
        2,
        "use crate::error::Result; use crate::base::is_slug;"
    )
    .is_empty());
    assert!(v(
        domain,
        2,
        "/// See [`crate::docs`].\n// crate::trust\n/* crate::tls */"
    )
    .is_empty());
    assert!(v(
        domain,
        2,
        r#"let s = "crate::docs"; let r = r"crate::tls"; let c = '"';"#
    )
    .is_empty());
    assert!(v(
        domain,
        2,
        "use super::site::Role; use super::super::root_map;"
    )
    .is_empty());
    assert!(v(domain, 3, "use super::super::equipment::MAP;").is_empty());
}
