//! The layering rule of docs/architecture.md, checked on the source: a layer imports
//! only layers below it, and no two source files import each other, directly or in a
//! circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Which layers each layer may import (docs/architecture.md's table, "may import").
const ALLOWED: &[(&str, &[&str])] = &[
    ("sync", &[]),
    ("os", &[]),
    ("text", &[]),
    ("tracking", &["sync", "os", "text"]),
    ("threads", &["sync", "os", "tracking"]),
    ("wait", &["sync", "os"]),
    ("process", &["sync", "os", "threads", "wait"]),
    ("tasks", &["sync", "os", "tracking", "threads", "wait"]),
    (
        "leaks",
        &[
            "sync", "os", "text", "tracking", "threads", "wait", "process", "tasks",
        ],
    ),
];

/// Whether layer `from` may import layer `to`.
fn allowed(from: &str, to: &str) -> bool {
    let (_, may) = ALLOWED
        .iter()
        .find(|(layer, _)| *layer == from)
        .unwrap_or_else(|| panic!("{from}/ is not a known layer"));
    may.contains(&to)
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/threads/container.rs` -> ["threads", "container"]; `mod.rs` is its folder.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The modules a file refers to: `crate::a::b` and `super::b` paths outside comments.
fn references(module: &[String], text: &str) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for (prefix, base) in [
            ("crate::", Vec::new()),
            ("super::", module[..module.len().saturating_sub(1)].to_vec()),
        ] {
            let mut rest = code;
            while let Some(at) = rest.find(prefix) {
                // `$crate::` in macros names the public API, not a module.
                let preceded_by_dollar = at > 0 && rest.as_bytes()[at - 1] == b'$';
                let after = &rest[at + prefix.len()..];
                let path: Vec<String> = after
                    .split("::")
                    .map(|seg| {
                        seg.chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect::<String>()
                    })
                    .take_while(|seg| {
                        !seg.is_empty() && seg.chars().next().is_some_and(|c| c.is_lowercase())
                    })
                    .collect();
                if !preceded_by_dollar && !path.is_empty() {
                    let mut full = base.clone();
                    full.extend(path);
                    found.insert(full);
                }
                rest = after;
            }
        }
    }
    found
}

/// Which source files each source file imports (module paths).
type Edges = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

/// The import edges between source files, and the imports the table does not allow.
fn imports(src: &Path) -> (Edges, Vec<String>) {
    let mut files = Vec::new();
    source_files(src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges: Edges = BTreeMap::new();
    let mut violations = Vec::new();
    for file in &files {
        let module = module_of(src, file);
        if module == ["lib"] {
            continue; // the crate root declares the layers and re-exports them
        }
        let layer = module[0].clone();
        let text = std::fs::read_to_string(file).unwrap();
        for reference in references(&module, &text) {
            // The longest prefix of the path that is a source file.
            let target = (1..=reference.len())
                .rev()
                .map(|n| reference[..n].to_vec())
                .find(|m| modules.contains(m));
            let Some(target) = target else { continue };
            let target_layer = &target[0];
            if target_layer != &layer && !allowed(&layer, target_layer) {
                violations.push(format!(
                    "{} imports {}",
                    module.join("::"),
                    target.join("::")
                ));
            }
            if target != module && target.len() > 1 {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    (edges, violations)
}

#[test]
fn layers_import_only_what_the_table_allows_and_files_form_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (edges, violations) = imports(&src);
    assert!(
        violations.is_empty(),
        "imports docs/architecture.md's table does not allow:\n{}",
        violations.join("\n")
    );

    // No circle: a depth-first search finds no back edge.
    fn visit(
        node: &Vec<String>,
        edges: &Edges,
        state: &mut BTreeMap<Vec<String>, bool>,
        path: &mut Vec<Vec<String>>,
    ) {
        match state.get(node) {
            Some(true) => return,
            Some(false) => {
                let names: Vec<String> = path.iter().map(|m| m.join("::")).collect();
                panic!(
                    "import circle: {} -> {}",
                    names.join(" -> "),
                    node.join("::")
                );
            }
            None => {}
        }
        state.insert(node.clone(), false);
        path.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, state, path);
        }
        path.pop();
        state.insert(node.clone(), true);
    }
    let mut state = BTreeMap::new();
    for module in edges.keys() {
        visit(module, &edges, &mut state, &mut Vec::new());
    }
}

/// The check fails on an import the table does not allow: a copy of the sources
/// with one planted (threads/ importing leaks/, a higher layer; and wait/ importing
/// tracking/, a lower layer it is not allowed) is refused, naming both.
#[test]
fn a_planted_import_the_table_does_not_allow_is_refused() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let copy = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    source_files(&src, &mut files);
    for file in &files {
        let target = copy.path().join(file.strip_prefix(&src).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(file, &target).unwrap();
    }
    let plant = |file: &str, line: &str| {
        let path = copy.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}\n{line}\n")).unwrap();
    };
    plant(
        "threads/registry.rs",
        "use crate::leaks::harness::scope::TestScope;",
    );
    plant("wait/condition.rs", "use crate::tracking::frames::Frame;");
    let (_, mut violations) = imports(copy.path());
    violations.sort();
    assert_eq!(
        violations,
        [
            "threads::registry imports leaks::harness::scope",
            "wait::condition imports tracking::frames"
        ],
    );
}

/// docs/architecture.md names every source file (as `name.rs` in its layer's row
/// or drawing), so that a file added without a word there fails here.
#[test]
fn the_architecture_doc_names_every_source_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/architecture.md")).unwrap();
    let mut files = Vec::new();
    source_files(&root.join("src"), &mut files);
    let mut missing = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(root.join("src")).unwrap();
        let name = relative.file_stem().unwrap().to_string_lossy().into_owned();
        let named = match name.as_str() {
            "lib" => true,
            // A folder's `mod.rs` is the folder.
            "mod" => {
                // Named by its last part, as a nested folder is in its layer's row.
                let folder = relative.parent().unwrap();
                let last = folder.file_name().unwrap().to_string_lossy();
                doc.contains(&format!("{last}/"))
            }
            _ => doc.contains(&format!("`{name}.rs`")) || doc.contains(&format!("{name}.rs")),
        };
        if !named {
            missing.push(relative.display().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "docs/architecture.md does not name: {}",
        missing.join(", ")
    );
}

/// Iris is linked into every test binary of a user's crate, so a dependency's trait
/// impls join type inference there. serde_json's `impl PartialEq<Value> for i32` and
/// friends make `assert_eq!(v.as_slice(), &[])` ambiguous: rayon's own test suite
/// stopped compiling when Iris (then using serde_json) was added to it.
#[test]
fn no_dependency_of_the_library_breaks_inference_in_users_tests() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let mut section = "";
    for line in manifest.lines() {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let normal = section == "[dependencies]" || section.ends_with(".dependencies]");
        if normal && !section.contains("dev-dependencies") {
            for offender in ["serde_json", "bigdecimal", "num-bigint"] {
                assert!(
                    !line.starts_with(&format!("{offender} ")) && !line.starts_with(&format!("{offender}=")),
                    "{offender} is a dependency of the library ({section}): its impls break type inference in users' tests"
                );
            }
        }
    }
}

/// The production core (`default-features = false`) is managed threads and
/// registries alone: every other library dependency is optional, and the README's
/// production tree names exactly the required ones.
#[test]
fn the_core_without_default_features_needs_only_parking_lot_and_tracing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let mut section = "";
    let mut required = BTreeSet::new();
    for line in manifest.lines() {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let normal = section == "[dependencies]"
            || (section.ends_with(".dependencies]") && !section.contains("dev-dependencies"));
        let Some((name, spec)) = line.split_once('=') else {
            continue;
        };
        if normal
            && !line.starts_with('#')
            && !line.trim().is_empty()
            && !spec.contains("optional = true")
        {
            required.insert(name.trim().to_string());
        }
    }
    // loom is only for `--cfg loom` model builds.
    required.remove("loom");
    let expected: BTreeSet<String> = ["parking_lot", "tracing"].map(String::from).into();
    assert_eq!(required, expected, "non-optional library dependencies");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let tree = readme
        .split("`cargo tree -e normal --no-default-features`")
        .nth(1)
        .and_then(|rest| rest.split("```text").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the README shows the production tree");
    let top: BTreeSet<String> = tree
        .lines()
        .filter_map(|l| l.strip_prefix("├── ").or_else(|| l.strip_prefix("└── ")))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(top, expected, "the README's production tree: {tree}");
}
