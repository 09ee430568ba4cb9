//! Tidy: the architecture's direction rules, checked against the sources themselves (its own
//! test binary: std only, it links no engine code and runs in a second).
//!
//! The rules live as data at the top of this file, so changing the architecture means changing
//! a line here, in review. Three checks, each failing with the edge that breaks it:
//!
//! 1. **Crate direction** (`crate_dependencies_follow_the_data_flow`): every workspace package
//!    sits in [`LAYERS`] and depends only on packages of an earlier layer. Regular and build
//!    dependencies count. Dev-dependencies count too (only the package itself is also allowed,
//!    for a feature-enabled test build): an upward dev-dependency links a second copy of the
//!    crate under test into its own tests, and end-to-end tests belong to a higher package
//!    anyway. The library crates ([`NO_FRONT_END`]) must not ship front-end dependencies
//!    ([`FRONT_END_DEPS`]) in their regular or build dependencies; their tests may use them.
//!    `serde` and `serde_json` are allowed everywhere: the engine reads model configs, the model
//!    manifest and its lock file, and stores tag-rule labels, as JSON.
//! 2. **No module cycles** (`no_module_cycles_inside_a_crate`): inside each crate (library and
//!    binaries), the top-level modules' references (`crate::x`, `super::x`, `self::x`, and
//!    `x::` for a child module declared in the same file) form a graph without cycles; so do the
//!    children of each top-level module that is a folder (`model::proto` → `model::onnx`).
//!    A file belongs to the module it is declared in (`src/model/fp16.rs` is `model`). Comments
//!    (doc links included), string literals and `#[cfg(test)]` items are not dependencies.
//! 3. **Layers inside a crate** (`module_layers_inside_crates_hold`): [`MODULE_LAYERS`] names
//!    modules that must not reach (directly or through other modules) some others. A rule whose
//!    crate or module does not exist yet is reported on stderr, not failed: the layout moves.
//!
//! The parsers are small and hand-written (std only); their unit tests at the bottom show that
//! each check can fail.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

/// The workspace packages in data-flow order: a package may depend only on packages of an
/// earlier entry. Packages in one entry may not depend on each other.
const LAYERS: &[&[&str]] = &[
    &["glimpse-onnx"],
    &["glimpse-clip"],
    &["glimpse-ocr"],
    &["glimpse-library"],
    &["glimpse-query"],
    &["glimpse-session"],
    &["glimpse", "glimpse-app"],
];

/// Package edges [`LAYERS`] forbids but that are allowed while the layout moves: (from, to,
/// why). Each is printed as a note; one that no longer exists fails, so the list only shrinks.
const TRANSITIONAL_EDGES: &[Transitional] = &[];

/// An edge allowed for now: (from, to, why). Stale entries fail, so the list only shrinks.
type Transitional = (&'static str, &'static str, &'static str);

/// The library crates: what the CLI and the desktop app share, free of either front end.
const NO_FRONT_END: &[&str] = &[
    "glimpse-onnx",
    "glimpse-clip",
    "glimpse-ocr",
    "glimpse-library",
    "glimpse-query",
    "glimpse-session",
];

/// Dependencies that belong to a front end (argument parsing, `anyhow` error plumbing,
/// terminal progress bars, log output setup, the Tauri shell). A trailing `*` is a prefix.
const FRONT_END_DEPS: &[&str] = &[
    "clap",
    "anyhow",
    "indicatif",
    "tracing-subscriber",
    "tauri*",
];

/// One layer rule inside a crate: none of `modules` may reach any of `must_not_reach`.
struct ModuleLayer {
    /// The package the rule is about.
    krate: &'static str,
    /// The lower layer's top-level modules.
    modules: &'static [&'static str],
    /// The higher layer's top-level modules, out of the lower layer's reach.
    must_not_reach: &'static [&'static str],
    /// Why the rule exists, printed with a violation.
    why: &'static str,
}

/// The layers inside crates.
const MODULE_LAYERS: &[ModuleLayer] = &[ModuleLayer {
    krate: "glimpse-library",
    modules: &["catalog", "vectors", "sketch", "thumbs", "lock", "words"],
    must_not_reach: &[
        "scan", "prepare", "pipeline", "inflight", "library", "autotag", "watch", "ocr",
    ],
    why: "storage never imports the indexing stages: the pipeline hands the store the store's \
          own row types",
}];

// ---------------------------------------------------------------------------------------------
// The checks.

#[test]
fn crate_dependencies_follow_the_data_flow() {
    let ws = Workspace::load(&workspace_root());
    assert!(
        ws.packages.iter().any(|p| p.name == "glimpse"),
        "the workspace reader found no root package"
    );
    let failures = crate_direction(&ws.packages, TRANSITIONAL_EDGES);
    assert!(
        failures.is_empty(),
        "crate direction:\n  {}\n",
        failures.join("\n  ")
    );
}

/// What breaks the crate rules among `packages` (notes go to stderr).
fn crate_direction(packages: &[Package], transitional: &[Transitional]) -> Vec<String> {
    let mut failures = Vec::new();
    let mut used_transitional = BTreeSet::new();
    let names: BTreeSet<&str> = packages.iter().map(|p| p.name.as_str()).collect();

    for layer in LAYERS.iter().flat_map(|l| l.iter()) {
        if !names.contains(layer) {
            eprintln!("note: {layer} (named in LAYERS) is not a workspace package yet");
        }
    }
    for p in packages {
        let Some(from_rank) = layer_of(&p.name) else {
            failures.push(format!(
                "{} ({}) is a workspace package missing from LAYERS: give it its place in the \
                 data flow",
                p.name,
                p.manifest.display()
            ));
            continue;
        };
        for d in &p.deps {
            if !names.contains(d.package.as_str()) {
                continue;
            }
            let at = format!("{}:{} [{}]", p.manifest.display(), d.line, d.kind.table());
            if d.package == p.name {
                if d.kind != DepKind::Dev {
                    failures.push(format!("{} depends on itself ({at})", p.name));
                }
                continue;
            }
            let to_rank = layer_of(&d.package);
            if to_rank.is_some_and(|r| r < from_rank) {
                continue;
            }
            if let Some((_, _, why)) = transitional
                .iter()
                .find(|(f, t, _)| *f == p.name && *t == d.package)
            {
                eprintln!(
                    "note: transitional edge {} → {} ({at}): {why}",
                    p.name, d.package
                );
                used_transitional.insert((p.name.clone(), d.package.clone()));
                continue;
            }
            failures.push(format!(
                "{} → {} ({at}): {} comes later in LAYERS (or in the same layer); a package may \
                 depend only on earlier ones",
                p.name, d.package, d.package
            ));
        }
        if NO_FRONT_END.contains(&p.name.as_str()) {
            for d in p.deps.iter().filter(|d| d.kind != DepKind::Dev) {
                if FRONT_END_DEPS
                    .iter()
                    .any(|pat| name_matches(pat, &d.package))
                {
                    failures.push(format!(
                        "{} → {} ({}:{} [{}]): a front-end dependency in a library crate; it \
                         belongs to the CLI or the app",
                        p.name,
                        d.package,
                        p.manifest.display(),
                        d.line,
                        d.kind.table()
                    ));
                }
            }
        }
    }
    for (from, to, _) in transitional {
        if !used_transitional.contains(&(from.to_string(), to.to_string())) {
            failures.push(format!(
                "TRANSITIONAL_EDGES lists {from} → {to}, which no longer exists: delete that line"
            ));
        }
    }
    failures
}

#[test]
fn no_module_cycles_inside_a_crate() {
    let root = workspace_root();
    let ws = Workspace::load(&root);
    let mut report = String::new();
    let mut references = 0;
    for p in &ws.packages {
        for target in &p.targets {
            let g = ModuleGraphs::of_crate(target);
            references += g
                .graphs
                .values()
                .flat_map(|g| g.edges.values())
                .map(|e| e.len())
                .sum::<usize>();
            for (parent, graph) in &g.graphs {
                let label = if parent.is_empty() {
                    format!("{} ({})", p.name, target.label)
                } else {
                    format!(
                        "{} ({}), inside module {}",
                        p.name,
                        target.label,
                        parent.join("::")
                    )
                };
                report.push_str(&describe_cycles(&label, graph, &root));
            }
        }
    }
    assert!(
        references > 0,
        "the module reader found no reference between modules at all"
    );
    assert!(
        report.is_empty(),
        "module cycles (cut one edge of each):\n{report}"
    );
}

#[test]
fn module_layers_inside_crates_hold() {
    let root = workspace_root();
    let ws = Workspace::load(&root);
    let mut failures = Vec::new();
    for rule in MODULE_LAYERS {
        let lib_graph = |p: &Package| {
            p.targets
                .iter()
                .find(|t| t.is_lib)
                .map(ModuleGraphs::of_crate)
        };
        match ws.packages.iter().find(|p| p.name == rule.krate) {
            None => {
                eprintln!(
                    "note: MODULE_LAYERS names {}, not a workspace package yet",
                    rule.krate
                );
                // Preview: the same rule on packages that hold these modules today.
                for p in &ws.packages {
                    let Some(g) = lib_graph(p) else { continue };
                    for v in layer_violations(rule, &g.top(), &root) {
                        eprintln!("note: (preview, in {} today) {v}", p.name);
                    }
                }
            }
            Some(p) => {
                let Some(g) = lib_graph(p) else {
                    eprintln!("note: {} has no library target to check", rule.krate);
                    continue;
                };
                let top = g.top();
                for m in rule.modules.iter().chain(rule.must_not_reach) {
                    if !top.nodes.contains(*m) {
                        eprintln!(
                            "note: MODULE_LAYERS names {}::{m}, not a module yet",
                            rule.krate
                        );
                    }
                }
                for v in layer_violations(rule, &top, &root) {
                    failures.push(format!("{}: {v}\n    why: {}", rule.krate, rule.why));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "module layers:\n  {}\n",
        failures.join("\n  ")
    );
}

/// The rule's violations in one graph, as "a → b → c" chains with an example line per hop.
fn layer_violations(rule: &ModuleLayer, graph: &Graph, root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for m in rule.modules.iter().filter(|m| graph.nodes.contains(**m)) {
        for t in rule
            .must_not_reach
            .iter()
            .filter(|t| graph.nodes.contains(**t))
        {
            if let Some(path) = graph.shortest_path(m, t) {
                out.push(format!(
                    "{m} must not reach {t}, but {}",
                    describe_path(graph, &path, root)
                ));
            }
        }
    }
    out
}

fn layer_of(name: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&name))
}

fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// The workspace: members, package names, dependencies, crate roots.

struct Workspace {
    packages: Vec<Package>,
}

struct Package {
    name: String,
    manifest: PathBuf,
    deps: Vec<Dep>,
    targets: Vec<Target>,
}

/// One crate of a package: its library or one binary.
struct Target {
    label: String,
    is_lib: bool,
    root_file: PathBuf,
}

impl Workspace {
    fn load(root: &Path) -> Workspace {
        let manifest = root.join("Cargo.toml");
        let entries = toml_entries(&read(&manifest))
            .unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        let strings = |key: &str| -> Vec<String> {
            entries
                .iter()
                .filter(|e| e.table == ["workspace"] && e.key == [key])
                .flat_map(|e| toml_string_array(&e.value))
                .collect()
        };
        let excluded: BTreeSet<PathBuf> = strings("exclude").iter().map(|x| root.join(x)).collect();
        let mut dirs: Vec<PathBuf> = strings("members")
            .iter()
            .flat_map(|m| expand_member(root, m))
            .filter(|d| !excluded.contains(d))
            .collect();
        if !dirs.iter().any(|d| same_dir(d, root)) {
            dirs.insert(0, root.to_path_buf());
        }
        let ws_renames = dependencies(
            entries
                .iter()
                .filter(|e| e.table.first().is_some_and(|t| t == "workspace"))
                .map(|e| (e.table[1..].iter().chain(&e.key).cloned().collect(), e)),
            &BTreeMap::new(),
        )
        .into_iter()
        .map(|d| (d.key, d.package))
        .collect();
        let mut packages: Vec<Package> = dirs
            .iter()
            .filter_map(|d| Package::load(d, &ws_renames))
            .collect();
        // Messages name manifests from the workspace root.
        for p in &mut packages {
            if let Ok(rel) = p.manifest.strip_prefix(root) {
                p.manifest = rel.components().collect();
            }
        }
        Workspace { packages }
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A `members` entry, with a `*` in its last component expanded to the folders that match and
/// hold a Cargo.toml.
fn expand_member(root: &Path, member: &str) -> Vec<PathBuf> {
    let member = member.trim_end_matches('/');
    let (parent, last) = match member.rsplit_once('/') {
        Some((p, l)) => (root.join(p), l),
        None => (root.to_path_buf(), member),
    };
    if !last.contains('*') {
        return vec![root.join(member)];
    }
    let (prefix, suffix) = last.split_once('*').unwrap_or((last, ""));
    let mut found: Vec<PathBuf> = fs::read_dir(&parent)
        .unwrap_or_else(|e| panic!("reading {}: {e}", parent.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with(prefix)
                && name.ends_with(suffix)
                && name.len() >= prefix.len() + suffix.len()
                && p.join("Cargo.toml").is_file()
        })
        .collect();
    found.sort();
    found
}

impl Package {
    fn load(dir: &Path, ws_renames: &BTreeMap<String, String>) -> Option<Package> {
        let manifest = dir.join("Cargo.toml");
        let entries = toml_entries(&read(&manifest))
            .unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        let name = entries
            .iter()
            .find(|e| e.table == ["package"] && e.key == ["name"])
            .and_then(|e| toml_string(&e.value))?;
        let deps = dependencies(
            entries
                .iter()
                .map(|e| (e.table.iter().chain(&e.key).cloned().collect(), e)),
            ws_renames,
        );
        let mut targets = Vec::new();
        let path_in = |table: &str| -> Vec<PathBuf> {
            entries
                .iter()
                .filter(|e| e.table == [table] && e.key == ["path"])
                .filter_map(|e| toml_string(&e.value))
                .map(|p| dir.join(p))
                .collect()
        };
        let lib = path_in("lib")
            .pop()
            .unwrap_or_else(|| dir.join("src/lib.rs"));
        if lib.is_file() {
            targets.push(Target {
                label: "lib".into(),
                is_lib: true,
                root_file: lib,
            });
        }
        let mut bins: BTreeSet<PathBuf> = path_in("bin").into_iter().collect();
        bins.insert(dir.join("src/main.rs"));
        if let Ok(rd) = fs::read_dir(dir.join("src/bin")) {
            for e in rd.filter_map(|e| e.ok()) {
                let p = e.path();
                bins.insert(if p.is_dir() { p.join("main.rs") } else { p });
            }
        }
        for b in bins
            .into_iter()
            .filter(|b| b.is_file() && b.extension().is_some_and(|x| x == "rs"))
        {
            let label = format!("bin {}", b.strip_prefix(dir).unwrap_or(&b).display());
            targets.push(Target {
                label,
                is_lib: false,
                root_file: b,
            });
        }
        Some(Package {
            name,
            manifest,
            deps,
            targets,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum DepKind {
    Normal,
    Build,
    Dev,
}

impl DepKind {
    fn table(self) -> &'static str {
        match self {
            DepKind::Normal => "dependencies",
            DepKind::Build => "build-dependencies",
            DepKind::Dev => "dev-dependencies",
        }
    }
}

/// One dependency of a manifest: the key it is written under and the package it names.
#[derive(Debug, PartialEq)]
struct Dep {
    key: String,
    package: String,
    kind: DepKind,
    line: usize,
}

/// The dependencies among manifest entries given as (table path + key path, entry), for every
/// spelling Cargo accepts: `[dependencies] x = ...`, `[dependencies.x]`, `x.workspace = true`,
/// `[target.'cfg(..)'.dependencies]`, and renames through `package = "..."`.
fn dependencies<'a>(
    entries: impl Iterator<Item = (Vec<String>, &'a TomlEntry)>,
    ws_renames: &BTreeMap<String, String>,
) -> Vec<Dep> {
    let mut found: BTreeMap<(DepKind, String), Dep> = BTreeMap::new();
    for (path, e) in entries {
        let path = match path.first().map(String::as_str) {
            Some("target") if path.len() > 2 => &path[2..],
            _ => &path[..],
        };
        let kind = match path.first().map(String::as_str) {
            Some("dependencies") => DepKind::Normal,
            Some("build-dependencies" | "build_dependencies") => DepKind::Build,
            Some("dev-dependencies" | "dev_dependencies") => DepKind::Dev,
            _ => continue,
        };
        let Some(key) = path.get(1) else { continue };
        let mut package = None;
        let mut workspace = false;
        match &path[2..] {
            [] => {
                for (k, v) in toml_inline_table(&e.value) {
                    match k.as_slice() {
                        [k] if k == "package" => package = toml_string(&v),
                        [k] if k == "workspace" => workspace = v.trim() == "true",
                        _ => {}
                    }
                }
            }
            [k] if k == "package" => package = toml_string(&e.value),
            [k] if k == "workspace" => workspace = e.value.trim() == "true",
            _ => {}
        }
        let dep = found.entry((kind, key.clone())).or_insert_with(|| Dep {
            key: key.clone(),
            package: key.clone(),
            kind,
            line: e.line,
        });
        if let Some(p) = package {
            dep.package = p;
        } else if workspace {
            if let Some(p) = ws_renames.get(key) {
                dep.package = p.clone();
            }
        }
    }
    found.into_values().collect()
}

// ---------------------------------------------------------------------------------------------
// A small TOML reader: enough of the format for Cargo manifests.

/// One `key = value` line of a TOML file, the table it sits in, and its raw value text.
#[derive(Debug)]
struct TomlEntry {
    table: Vec<String>,
    key: Vec<String>,
    value: String,
    line: usize,
}

fn toml_entries(text: &str) -> Result<Vec<TomlEntry>, String> {
    let c: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut line = 1;
    let mut table = Vec::new();
    let mut out = Vec::new();
    let skip_line = |i: &mut usize| {
        while *i < c.len() && c[*i] != '\n' {
            *i += 1;
        }
    };
    while i < c.len() {
        match c[i] {
            '\n' => {
                line += 1;
                i += 1;
            }
            ' ' | '\t' | '\r' => i += 1,
            '#' => skip_line(&mut i),
            '[' => {
                let double = c.get(i + 1) == Some(&'[');
                let start = i + if double { 2 } else { 1 };
                let end = scan_until(&c, start, ']').ok_or(format!("line {line}: unclosed ["))?;
                table = toml_key(&c[start..end].iter().collect::<String>());
                i = end + if double { 2 } else { 1 };
                skip_line(&mut i);
            }
            _ => {
                let eq = scan_until(&c, i, '=').ok_or(format!("line {line}: no = after key"))?;
                let key = toml_key(&c[i..eq].iter().collect::<String>());
                let start = eq + 1;
                let end = toml_value_end(&c, start);
                let value: String = c[start..end].iter().collect();
                out.push(TomlEntry {
                    table: table.clone(),
                    key,
                    value: value.trim().into(),
                    line,
                });
                line += value.matches('\n').count();
                i = end;
                skip_line(&mut i);
            }
        }
    }
    Ok(out)
}

/// The index of the first `stop` at or after `from` outside quotes, on the same line.
fn scan_until(c: &[char], from: usize, stop: char) -> Option<usize> {
    let mut quote = None;
    for (i, &ch) in c.iter().enumerate().skip(from) {
        match (quote, ch) {
            (_, '\n') => return None,
            (None, '"' | '\'') => quote = Some(ch),
            (Some('"'), '\\') => {}
            (Some(q), _) if ch == q && !(q == '"' && i > 0 && c[i - 1] == '\\') => quote = None,
            (None, _) if ch == stop => return Some(i),
            _ => {}
        }
    }
    None
}

/// Where a value starting at `from` ends: the end of its line, or of the array, inline table or
/// multi-line string that spans lines. Comments inside arrays are skipped.
fn toml_value_end(c: &[char], from: usize) -> usize {
    let mut i = from;
    let mut depth = 0usize;
    while i < c.len() {
        let rest = &c[i..];
        if rest.starts_with(&['"', '"', '"']) || rest.starts_with(&['\'', '\'', '\'']) {
            let q = c[i];
            i += 3;
            while i < c.len() && !c[i..].starts_with(&[q, q, q]) {
                i += if c[i] == '\\' && q == '"' { 2 } else { 1 };
            }
            i += 3;
            continue;
        }
        match c[i] {
            '"' | '\'' => {
                let q = c[i];
                i += 1;
                while i < c.len() && c[i] != q && c[i] != '\n' {
                    i += if c[i] == '\\' && q == '"' { 2 } else { 1 };
                }
                i += 1;
                continue;
            }
            '[' | '{' => depth += 1,
            ']' | '}' => depth = depth.saturating_sub(1),
            '#' if depth == 0 => return i,
            '#' => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '\n' if depth == 0 => return i,
            _ => {}
        }
        i += 1;
    }
    c.len().min(i)
}

/// A dotted key (`a."b.c".d`) as its parts, unquoted.
fn toml_key(text: &str) -> Vec<String> {
    split_top_level(text, '.')
        .into_iter()
        .map(|p| toml_string(&p).unwrap_or_else(|| p.trim().to_string()))
        .collect()
}

/// A quoted TOML string's text (basic or literal), or `None` for any other value.
fn toml_string(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.len() >= 2 && raw.starts_with('\'') && raw.ends_with('\'') {
        return Some(raw[1..raw.len() - 1].to_string());
    }
    if raw.len() >= 2 && raw.starts_with('"') && raw.ends_with('"') {
        let mut out = String::new();
        let mut chars = raw[1..raw.len() - 1].chars();
        while let Some(ch) = chars.next() {
            out.push(if ch == '\\' {
                chars.next().unwrap_or('\\')
            } else {
                ch
            });
        }
        return Some(out);
    }
    None
}

fn toml_string_array(raw: &str) -> Vec<String> {
    let raw = raw.trim();
    let inner = raw
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or("");
    split_top_level(&strip_toml_comments(inner), ',')
        .iter()
        .filter_map(|s| toml_string(s))
        .collect()
}

/// An inline table's `key = value` pairs (an empty list for any other value).
fn toml_inline_table(raw: &str) -> Vec<(Vec<String>, String)> {
    let raw = raw.trim();
    let Some(inner) = raw.strip_prefix('{').and_then(|r| r.strip_suffix('}')) else {
        return Vec::new();
    };
    split_top_level(&strip_toml_comments(inner), ',')
        .iter()
        .filter_map(|kv| {
            let parts = split_top_level(kv, '=');
            let (k, v) = (parts.first()?, parts.get(1..)?.join("="));
            Some((toml_key(k), v.trim().to_string()))
        })
        .filter(|(k, _)| !k.iter().all(|p| p.is_empty()))
        .collect()
}

fn strip_toml_comments(text: &str) -> String {
    text.lines()
        .map(|l| {
            let c: Vec<char> = l.chars().collect();
            match scan_until(&c, 0, '#') {
                Some(at) => c[..at].iter().collect(),
                None => l.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` split at `sep` where it is outside quotes and brackets.
fn split_top_level(text: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for ch in text.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if ch == '\\' && q == '"' {
                    escaped = true;
                } else if ch == q {
                    quote = None;
                }
            }
            None => match ch {
                '"' | '\'' => quote = Some(ch),
                '[' | '{' => depth += 1,
                ']' | '}' => depth = depth.saturating_sub(1),
                _ if ch == sep && depth == 0 => {
                    parts.push(String::new());
                    continue;
                }
                _ => {}
            },
        }
        parts.last_mut().expect("never empty").push(ch);
    }
    parts.retain(|p| !p.trim().is_empty());
    parts
}

// ---------------------------------------------------------------------------------------------
// Rust sources: comments and literals out, then the tokens that make module references.

/// `src` with comments (doc comments included) and string, char and byte literals replaced by
/// spaces; line breaks stay, so line numbers still hold.
fn strip_rust(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, chunk: &[char]| {
        out.extend(chunk.iter().map(|&ch| if ch == '\n' { '\n' } else { ' ' }));
    };
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let rest = &c[i..];
        let prev_ident = i > 0 && is_ident(c[i - 1]);
        if rest.starts_with(&['/', '/']) {
            let end = (i..c.len()).find(|&j| c[j] == '\n').unwrap_or(c.len());
            blank(&mut out, &c[i..end]);
            i = end;
        } else if rest.starts_with(&['/', '*']) {
            let (mut j, mut depth) = (i + 2, 1);
            while j < c.len() && depth > 0 {
                if c[j..].starts_with(&['/', '*']) {
                    depth += 1;
                    j += 2;
                } else if c[j..].starts_with(&['*', '/']) {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            let j = j.min(c.len());
            blank(&mut out, &c[i..j]);
            i = j;
        } else if let Some(end) = (!prev_ident).then(|| raw_string_end(&c, i)).flatten() {
            blank(&mut out, &c[i..end]);
            i = end;
        } else if c[i] == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            let j = (j + 1).min(c.len());
            blank(&mut out, &c[i..j]);
            i = j;
        } else if c[i] == '\'' {
            // A char literal ('x', '\n', '\u{1F600}'), else a lifetime or label ('a).
            let end = if c.get(i + 1) == Some(&'\\') {
                (i + 3..c.len()).find(|&j| c[j] == '\'').map(|j| j + 1)
            } else if c.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            match end {
                Some(j) => {
                    blank(&mut out, &c[i..j]);
                    i = j;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// The end of a raw string (`r"…"`, `r#"…"#`, `br"…"`, `cr"…"`) starting at `i`, if one does.
fn raw_string_end(c: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if matches!(c.get(j), Some('b' | 'c')) {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = c[j..].iter().take_while(|&&ch| ch == '#').count();
    j += hashes;
    if c.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < c.len() {
        if c[j] == '"'
            && c[j + 1..]
                .iter()
                .take(hashes)
                .filter(|&&ch| ch == '#')
                .count()
                == hashes
        {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(c.len())
}

#[derive(Clone, Debug, PartialEq)]
struct Tok {
    text: String,
    line: usize,
}

/// The tokens of stripped Rust: identifiers, `::`, lifetimes as one token, other characters
/// one each. Numbers come out as identifiers, which no rule below mistakes for a module.
fn tokens(stripped: &str) -> Vec<Tok> {
    let c: Vec<char> = stripped.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if is_ident(ch) || (ch == '\'' && c.get(i + 1).is_some_and(|&n| is_ident(n))) {
            let start = i;
            i += 1;
            while i < c.len() && is_ident(c[i]) {
                i += 1;
            }
            let mut text: String = c[start..i].iter().collect();
            if text == "r" && c.get(i) == Some(&'#') && c.get(i + 1).is_some_and(|&n| is_ident(n)) {
                let s = i + 1;
                i = s;
                while i < c.len() && is_ident(c[i]) {
                    i += 1;
                }
                text = c[s..i].iter().collect();
            }
            out.push(Tok { text, line });
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push(Tok {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            out.push(Tok {
                text: ch.to_string(),
                line,
            });
            i += 1;
        }
    }
    out
}

/// What one file says about modules: the child modules it declares, and where it refers to
/// paths (as absolute module paths from the crate root).
#[derive(Debug, Default, PartialEq)]
struct FileFacts {
    children: Vec<String>,
    test_children: Vec<String>,
    refs: Vec<(Vec<String>, Vec<String>, usize)>,
    uses: Vec<Vec<String>>,
}

/// The facts of a file whose module path is `module` (empty for a crate root).
fn file_facts(src: &str, module: &[String]) -> FileFacts {
    let toks = tokens(&strip_rust(src));
    let t = |i: usize| toks.get(i).map(|t| t.text.as_str()).unwrap_or("");
    let is_ident = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|ch| ch.is_alphabetic() || ch == '_')
    };
    let mut facts = FileFacts::default();
    // A file that is all test code.
    if (0..toks.len()).any(|i| {
        (
            t(i),
            t(i + 1),
            t(i + 2),
            t(i + 3),
            t(i + 4),
            t(i + 5),
            t(i + 6),
        ) == ("#", "!", "[", "cfg", "(", "test", ")")
    }) {
        return facts;
    }
    // Pass 1: child modules declared at file level; the spans of #[cfg(test)] items.
    let mut test_spans = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        if depth == 0
            && (
                t(i),
                t(i + 1),
                t(i + 2),
                t(i + 3),
                t(i + 4),
                t(i + 5),
                t(i + 6),
            ) == ("#", "[", "cfg", "(", "test", ")", "]")
        {
            let end = item_end(&toks, i);
            if let Some(m) = (i..end).find(|&j| t(j) == "mod" && t(j + 2) == ";") {
                facts.test_children.push(t(m + 1).to_string());
            }
            test_spans.push((i, end));
            i = end;
            continue;
        }
        match t(i) {
            "{" => depth += 1,
            "}" => depth = depth.saturating_sub(1),
            "mod" if depth == 0 && is_ident(t(i + 1)) && t(i + 2) == ";" => {
                facts.children.push(t(i + 1).to_string())
            }
            _ => {}
        }
        i += 1;
    }
    // A #[cfg(test)] inside an inline module or impl: also skipped.
    for i in 0..toks.len() {
        if (
            t(i),
            t(i + 1),
            t(i + 2),
            t(i + 3),
            t(i + 4),
            t(i + 5),
            t(i + 6),
        ) == ("#", "[", "cfg", "(", "test", ")", "]")
            && !test_spans.iter().any(|&(s, e)| s <= i && i < e)
        {
            test_spans.push((i, item_end(&toks, i)));
        }
    }
    // Pass 2: references, with the inline modules they sit in.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        if let Some(&(_, e)) = test_spans.iter().find(|&&(s, _)| s == i) {
            i = e;
            continue;
        }
        let here: Vec<String> = module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(n, _)| n.clone()))
            .collect();
        match t(i) {
            "{" => {
                if i >= 2 && t(i - 2) == "mod" && is_ident(t(i - 1)) {
                    inline.push((t(i - 1).to_string(), depth));
                }
                depth += 1;
            }
            "}" => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|&(_, d)| d == depth) {
                    inline.pop();
                }
            }
            "use" if module.is_empty() && inline.is_empty() && depth == 0 => {
                let (paths, _) = parse_path(&toks, i + 1);
                facts.uses.extend(paths);
            }
            "crate" | "super" | "self"
                if t(i + 1) == "::" && !matches!(t(i.wrapping_sub(1)), "::" | "$") =>
            {
                let (paths, next) = parse_path(&toks, i);
                for p in paths {
                    if let Some(abs) = resolve(&p, &here) {
                        facts.refs.push((here.clone(), abs, toks[i].line));
                    }
                }
                i = next.max(i + 1);
                continue;
            }
            name if inline.is_empty()
                && t(i + 1) == "::"
                && !matches!(t(i.wrapping_sub(1)), "::" | "$" | ".")
                && facts.children.iter().any(|c| c == name) =>
            {
                let (paths, next) = parse_path(&toks, i);
                for p in paths {
                    let abs: Vec<String> = here.iter().cloned().chain(p).collect();
                    facts.refs.push((here.clone(), abs, toks[i].line));
                }
                i = next.max(i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    facts
}

/// The `#[path = "…"]` written on the attribute lines just above `mod child;`, if any.
fn path_attribute(src: &str, child: &str) -> Option<String> {
    let mut attr = None;
    for line in src.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#[path") {
            attr = rest.split('"').nth(1).map(str::to_string);
        } else if line.starts_with("#[") {
            continue;
        } else if line.ends_with(&format!("mod {child};")) && attr.is_some() {
            return attr;
        } else {
            attr = None;
        }
    }
    None
}

/// The token index just past the item that starts (with its attributes) at `i`: past its `;`
/// or its closing `}`, whichever comes first outside brackets.
fn item_end(toks: &[Tok], i: usize) -> usize {
    let mut j = i;
    // The attributes.
    while toks.get(j).is_some_and(|t| t.text == "#") {
        let mut depth = 0usize;
        j += 1;
        while j < toks.len() {
            match toks[j].text.as_str() {
                "[" => depth += 1,
                "]" => {
                    depth -= 1;
                    if depth == 0 {
                        j += 1;
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
    }
    let mut depth = 0usize;
    while j < toks.len() {
        match toks[j].text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" => depth = depth.saturating_sub(1),
            "}" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return j + 1;
                }
            }
            ";" if depth == 0 => return j + 1,
            _ => {}
        }
        j += 1;
    }
    toks.len()
}

/// The paths a path or use tree starting at `i` names (`a::{b, c::d}` is `a::b` and
/// `a::c::d`), and the index after it.
fn parse_path(toks: &[Tok], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let t = |i: usize| toks.get(i).map(|t| t.text.as_str()).unwrap_or("");
    let is_ident = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|ch| ch.is_alphabetic() || ch == '_')
    };
    let mut segs = Vec::new();
    loop {
        if t(i) == "{" {
            i += 1;
            let mut all = Vec::new();
            while i < toks.len() && t(i) != "}" {
                let (sub, next) = parse_path(toks, i);
                all.extend(
                    sub.into_iter()
                        .map(|s| segs.iter().cloned().chain(s).collect()),
                );
                i = next.max(i + 1);
                if t(i) == "," {
                    i += 1;
                }
            }
            return (all, i + 1);
        }
        if t(i) == "*" {
            return (vec![segs], i + 1);
        }
        if !is_ident(t(i)) {
            return (vec![segs], i);
        }
        segs.push(t(i).to_string());
        i += 1;
        if t(i) == "::" {
            i += 1;
            continue;
        }
        if t(i) == "as" {
            i += 2;
        }
        return (vec![segs], i);
    }
}

/// A `crate::`/`self::`/`super::` path from module `here` as a path from the crate root; `None`
/// when it climbs above the root.
fn resolve(path: &[String], here: &[String]) -> Option<Vec<String>> {
    let mut segs = path.iter().peekable();
    let mut abs: Vec<String> = match segs.next()?.as_str() {
        "crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => {
            let mut h = here.to_vec();
            h.pop()?;
            h
        }
        _ => return None,
    };
    while segs.peek().is_some_and(|s| *s == "super") {
        segs.next();
        abs.pop()?;
    }
    abs.extend(segs.filter(|s| *s != "self").cloned());
    Some(abs)
}

// ---------------------------------------------------------------------------------------------
// Module graphs and cycles.

/// A directed graph of module names, with up to one example (file, line) per edge and a count.
#[derive(Clone, Debug, Default)]
struct Graph {
    nodes: BTreeSet<String>,
    edges: BTreeMap<String, BTreeMap<String, (PathBuf, usize, usize)>>,
}

impl Graph {
    fn add_edge(&mut self, from: &str, to: &str, file: &Path, line: usize) {
        let e = self.edges.entry(from.into()).or_default();
        e.entry(to.into())
            .or_insert_with(|| (file.to_path_buf(), line, 0))
            .2 += 1;
    }

    fn successors(&self, n: &str) -> impl Iterator<Item = &String> {
        self.edges.get(n).into_iter().flat_map(|m| m.keys())
    }

    /// The strongly connected components with more than one module (Tarjan).
    fn cycles(&self) -> Vec<Vec<String>> {
        struct St<'a> {
            g: &'a Graph,
            index: BTreeMap<&'a str, usize>,
            low: BTreeMap<&'a str, usize>,
            stack: Vec<&'a str>,
            on: BTreeSet<&'a str>,
            out: Vec<Vec<String>>,
        }
        fn visit<'a>(s: &mut St<'a>, v: &'a str) {
            let n = s.index.len();
            s.index.insert(v, n);
            s.low.insert(v, n);
            s.stack.push(v);
            s.on.insert(v);
            for w in s.g.successors(v) {
                let w = w.as_str();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if s.on.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if s.low[v] == s.index[v] {
                let mut comp = Vec::new();
                while let Some(w) = s.stack.pop() {
                    s.on.remove(w);
                    comp.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    s.out.push(comp);
                }
            }
        }
        let mut s = St {
            g: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on: BTreeSet::new(),
            out: Vec::new(),
        };
        for v in &self.nodes {
            if !s.index.contains_key(v.as_str()) {
                visit(&mut s, v);
            }
        }
        s.out.sort();
        s.out
    }

    /// The shortest path of edges from `from` to `to` (at least one edge), by breadth first.
    fn shortest_path(&self, from: &str, to: &str) -> Option<Vec<String>> {
        self.shortest_path_within(from, to, &|_| true)
    }

    fn shortest_path_within(
        &self,
        from: &str,
        to: &str,
        allowed: &dyn Fn(&str) -> bool,
    ) -> Option<Vec<String>> {
        let mut prev: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = VecDeque::from([from.to_string()]);
        while let Some(v) = queue.pop_front() {
            for w in self.successors(&v) {
                if !allowed(w) || prev.contains_key(w) {
                    continue;
                }
                prev.insert(w.clone(), v.clone());
                if w == to {
                    let mut path = vec![to.to_string()];
                    let mut at = to.to_string();
                    loop {
                        at = prev[&at].clone();
                        path.push(at.clone());
                        if at == from {
                            break;
                        }
                    }
                    path.reverse();
                    return Some(path);
                }
                queue.push_back(w.clone());
            }
        }
        None
    }
}

/// "a → b (file:line) → c (file:line)" for a path of edges.
fn describe_path(g: &Graph, path: &[String], root: &Path) -> String {
    let mut s = path[0].clone();
    for w in path.windows(2) {
        let (file, line, _) = &g.edges[&w[0]][&w[1]];
        let file = file.strip_prefix(root).unwrap_or(file);
        s.push_str(&format!(" → {} ({}:{line})", w[1], file.display()));
    }
    s
}

/// The cycles of one graph: each strongly connected component, the shortest cycle through each
/// of its modules, and every edge inside it with an example, so the reader sees what to cut.
fn describe_cycles(label: &str, g: &Graph, root: &Path) -> String {
    let mut out = String::new();
    for comp in g.cycles() {
        let inside = |n: &str| comp.iter().any(|c| c == n);
        out.push_str(&format!(
            "{label}: {} modules in one cycle: {}\n",
            comp.len(),
            comp.join(", ")
        ));
        let mut seen = BTreeSet::new();
        for m in &comp {
            let Some(mut cycle) = g.shortest_path_within(m, m, &inside) else {
                continue;
            };
            cycle.pop();
            let min = (0..cycle.len()).min_by_key(|&i| &cycle[i]).unwrap_or(0);
            cycle.rotate_left(min);
            if seen.insert(cycle.clone()) {
                cycle.push(cycle[0].clone());
                out.push_str(&format!("  cycle: {}\n", cycle.join(" → ")));
            }
        }
        out.push_str("  edges inside it (first reference; count):\n");
        for from in &comp {
            for (to, (file, line, n)) in g.edges.get(from).into_iter().flatten() {
                if inside(to) {
                    let file = file.strip_prefix(root).unwrap_or(file);
                    out.push_str(&format!(
                        "    {from} → {to}  {}:{line}  ({n})\n",
                        file.display()
                    ));
                }
            }
        }
    }
    out
}

/// The module graphs of one crate: its top-level modules (key: empty path), and the children
/// of each top-level module that has any (key: that module's path).
struct ModuleGraphs {
    graphs: BTreeMap<Vec<String>, Graph>,
}

impl ModuleGraphs {
    fn top(&self) -> Graph {
        self.graphs[&Vec::new()].clone()
    }

    fn of_crate(target: &Target) -> ModuleGraphs {
        // Walk the module tree from the crate root along `mod x;` declarations.
        let mut files: Vec<(Vec<String>, PathBuf, FileFacts)> = Vec::new();
        let mut children: BTreeMap<Vec<String>, BTreeSet<String>> = BTreeMap::new();
        let mut queue = VecDeque::from([(Vec::<String>::new(), target.root_file.clone())]);
        while let Some((module, file)) = queue.pop_front() {
            let src = read(&file);
            let facts = file_facts(&src, &module);
            // A crate root's or a mod.rs's children sit beside it; a.rs's sit in a/.
            let dir = if module.is_empty() || file.file_name().is_some_and(|n| n == "mod.rs") {
                file.parent().map(Path::to_path_buf).unwrap_or_default()
            } else {
                file.with_extension("")
            };
            for child in &facts.children {
                let flat = dir.join(format!("{child}.rs"));
                let nested = dir.join(child).join("mod.rs");
                let path = match path_attribute(&src, child) {
                    Some(p) => file.parent().unwrap_or(Path::new("")).join(p),
                    None if flat.is_file() => flat,
                    None => nested,
                };
                if !path.is_file() {
                    eprintln!(
                        "note: {} declares `mod {child};` with no file",
                        file.display()
                    );
                    continue;
                }
                children
                    .entry(module.clone())
                    .or_default()
                    .insert(child.clone());
                let mut m = module.clone();
                m.push(child.clone());
                queue.push_back((m, path));
            }
            files.push((module, file, facts));
        }
        // Names the crate root imports (`use x::Name;`), so `crate::Name` counts as module x.
        let top: BTreeSet<String> = children.get(&Vec::new()).cloned().unwrap_or_default();
        let mut reexports: BTreeMap<String, String> = BTreeMap::new();
        for (module, _, facts) in &files {
            if module.is_empty() {
                for u in &facts.uses {
                    let (Some(first), Some(last)) = (u.first(), u.last()) else {
                        continue;
                    };
                    let first = if first == "crate" || first == "self" {
                        match u.get(1) {
                            Some(s) => s,
                            None => continue,
                        }
                    } else {
                        first
                    };
                    if top.contains(first) && u.len() > 1 {
                        reexports.insert(last.clone(), first.clone());
                    }
                }
            }
        }
        let mut graphs: BTreeMap<Vec<String>, Graph> = BTreeMap::new();
        let levels: Vec<Vec<String>> = std::iter::once(Vec::new())
            .chain(
                top.iter()
                    .filter(|t| children.contains_key(&vec![(*t).clone()]))
                    .map(|t| vec![t.clone()]),
            )
            .collect();
        for parent in &levels {
            let kids = children.get(parent).cloned().unwrap_or_default();
            let g = graphs.entry(parent.clone()).or_default();
            g.nodes.extend(kids.iter().cloned());
            let k = parent.len();
            for (_, file, facts) in &files {
                for (from, to, line) in &facts.refs {
                    let mut to = to.clone();
                    if k == 0 {
                        if let Some(m) = to.first().and_then(|f| reexports.get(f)) {
                            if !top.contains(&to[0]) {
                                to.insert(0, m.clone());
                            }
                        }
                    }
                    if from.len() <= k
                        || to.len() <= k
                        || from[..k] != to[..k]
                        || to[..k] != parent[..]
                    {
                        continue;
                    }
                    if from[k] != to[k] && kids.contains(&from[k]) && kids.contains(&to[k]) {
                        g.add_edge(&from[k], &to[k], file, *line);
                    }
                }
            }
        }
        ModuleGraphs { graphs }
    }
}

// ---------------------------------------------------------------------------------------------
// The helpers' own tests: each shows that a check can fail.

#[cfg(test)]
mod helper_tests {
    use super::*;

    /// A transitional edge for the samples: allowed while used, a failure once stale.
    const SAMPLE_EDGES: &[Transitional] = &[("glimpse-app", "glimpse", "sample")];

    fn graph(edges: &[(&str, &str)]) -> Graph {
        let mut g = Graph::default();
        for (i, (a, b)) in edges.iter().enumerate() {
            g.nodes.insert(a.to_string());
            g.nodes.insert(b.to_string());
            g.add_edge(a, b, Path::new("x.rs"), i + 1);
        }
        g
    }

    #[test]
    fn a_cycle_is_found_and_a_chain_is_not() {
        let g = graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "e")]);
        assert_eq!(g.cycles(), vec![vec!["a", "b", "c"]]);
        let text = describe_cycles("k", &g, Path::new(""));
        assert!(text.contains("cycle: a → b → c → a"), "{text}");
        assert!(text.contains("c → a  x.rs:3  (1)"), "{text}");
        assert!(!text.contains("→ d"), "{text}");
        assert!(graph(&[("a", "b"), ("b", "c"), ("a", "c")])
            .cycles()
            .is_empty());
        let two = graph(&[("a", "b"), ("b", "a"), ("c", "d"), ("d", "c")]);
        assert_eq!(two.cycles(), vec![vec!["a", "b"], vec!["c", "d"]]);
    }

    #[test]
    fn shortest_path_reports_each_hop() {
        let g = graph(&[("catalog", "util"), ("util", "scan"), ("catalog", "scan2")]);
        let p = g.shortest_path("catalog", "scan").expect("reachable");
        assert_eq!(p, ["catalog", "util", "scan"]);
        assert_eq!(
            describe_path(&g, &p, Path::new("")),
            "catalog → util (x.rs:1) → scan (x.rs:2)"
        );
        assert!(g.shortest_path("scan", "catalog").is_none());
    }

    #[test]
    fn comments_and_literals_are_not_code() {
        let src = "let a = \"crate::x\"; // crate::y\n/* crate::z /* nested */ crate::w */ \
                   crate::v::f();\n/// [`crate::u`]\nlet c = '\"'; let r = r#\"crate::t\"#; \
                   fn f<'a>(x: &'a str) { crate::s::g() }\nlet url = \"https://a\"; crate::q::h();";
        let s = strip_rust(src);
        assert_eq!(s.lines().count(), src.lines().count());
        for gone in [
            "crate::x", "crate::y", "crate::z", "crate::w", "crate::u", "crate::t",
        ] {
            assert!(!s.contains(gone), "{gone} left in {s}");
        }
        for kept in ["crate::v::f", "crate::s::g", "crate::q::h", "'a"] {
            assert!(s.contains(kept), "{kept} missing from {s}");
        }
    }

    #[test]
    fn references_resolve_and_tests_do_not_count() {
        let src = "use crate::{scan::{self, format_of}, prepare::ContentHash};\n\
                   use super::vectors::Saved;\n\
                   mod helper;\n\
                   fn f() { crate::pipeline::run(); helper::g(); }\n\
                   pub(crate) fn g() {}\n\
                   mod inner { use super::super::lock::Lock; use super::f; }\n\
                   #[cfg(test)]\nmod tests { use crate::search::x; }\n\
                   #[cfg(test)]\nmod more_tests;\n\
                   macro_rules! m { () => { $crate::tags::t() } }\n";
        let facts = file_facts(src, &["catalog".to_string()]);
        let got: Vec<(String, usize)> = facts
            .refs
            .iter()
            .map(|(_, to, line)| (to.join("::"), *line))
            .collect();
        let want = [
            ("scan", 1),
            ("scan::format_of", 1),
            ("prepare::ContentHash", 1),
            ("vectors::Saved", 2),
            ("pipeline::run", 4),
            ("catalog::helper::g", 4),
            ("lock::Lock", 6),
            ("catalog::f", 6),
        ];
        let want: Vec<(String, usize)> = want.iter().map(|(p, l)| (p.to_string(), *l)).collect();
        assert_eq!(got, want);
        assert_eq!(facts.children, ["helper"]);
        assert_eq!(facts.test_children, ["more_tests"]);
        assert!(file_facts("#![cfg(test)]\nuse crate::a::b;", &["x".into()])
            .refs
            .is_empty());
    }

    #[test]
    fn manifest_dependencies_in_every_spelling() {
        let toml = r#"
[package]
name = "glimpse-query" # the name
[dependencies]
glimpse-library = { path = "../library" }
lib2 = { package = "glimpse-clip", version = "0.1", features = ["a, b"] }
serde = "1"
glimpse-onnx.workspace = true
[dependencies.clap]
version = "4"
[target.'cfg(unix)'.dependencies]
anyhow = "1"
[build-dependencies]
tauri-build = { version = "2", features = [
  "x", # a comment
] }
[dev-dependencies]
glimpse-session = { path = "../session" }
"#;
        let entries = toml_entries(toml).expect("parses");
        let renames = BTreeMap::from([("glimpse-onnx".to_string(), "glimpse-onnx".to_string())]);
        let deps = dependencies(
            entries
                .iter()
                .map(|e| (e.table.iter().chain(&e.key).cloned().collect(), e)),
            &renames,
        );
        let got: Vec<(DepKind, &str, &str, usize)> = deps
            .iter()
            .map(|d| (d.kind, d.key.as_str(), d.package.as_str(), d.line))
            .collect();
        assert_eq!(
            got,
            [
                (DepKind::Normal, "anyhow", "anyhow", 12),
                (DepKind::Normal, "clap", "clap", 10),
                (DepKind::Normal, "glimpse-library", "glimpse-library", 5),
                (DepKind::Normal, "glimpse-onnx", "glimpse-onnx", 8),
                (DepKind::Normal, "lib2", "glimpse-clip", 6),
                (DepKind::Normal, "serde", "serde", 7),
                (DepKind::Build, "tauri-build", "tauri-build", 14),
                (DepKind::Dev, "glimpse-session", "glimpse-session", 18),
            ]
        );
        let name = entries
            .iter()
            .find(|e| e.table == ["package"] && e.key == ["name"]);
        assert_eq!(
            name.and_then(|e| toml_string(&e.value)).as_deref(),
            Some("glimpse-query")
        );
        let ws = toml_entries("[workspace]\nmembers = [\n  \".\", # root\n  'crates/*',\n]\n")
            .expect("parses");
        assert_eq!(toml_string_array(&ws[0].value), [".", "crates/*"]);
    }

    fn package(name: &str, deps: &[(&str, DepKind)]) -> Package {
        Package {
            name: name.into(),
            manifest: PathBuf::from(format!("{name}/Cargo.toml")),
            deps: deps
                .iter()
                .enumerate()
                .map(|(i, (d, kind))| Dep {
                    key: d.to_string(),
                    package: d.to_string(),
                    kind: *kind,
                    line: i + 1,
                })
                .collect(),
            targets: Vec::new(),
        }
    }

    #[test]
    fn crate_rules_fail_on_an_upward_edge_and_a_front_end_dependency() {
        use DepKind::*;
        let ok = [
            package("glimpse-onnx", &[("thiserror", Normal)]),
            package(
                "glimpse-clip",
                &[
                    ("glimpse-onnx", Normal),
                    ("serde_json", Normal),
                    ("anyhow", Dev),
                ],
            ),
            package(
                "glimpse-session",
                &[("glimpse-clip", Normal), ("glimpse-session", Dev)],
            ),
            package(
                "glimpse",
                &[
                    ("glimpse-session", Normal),
                    ("clap", Normal),
                    ("glimpse", Dev),
                ],
            ),
            package("glimpse-app", &[("glimpse", Normal), ("tauri", Normal)]),
        ];
        assert_eq!(crate_direction(&ok, SAMPLE_EDGES), Vec::<String>::new());
        let bad = [
            package("glimpse-onnx", &[]),
            package(
                "glimpse-clip",
                &[("glimpse-onnx", Normal), ("glimpse-library", Dev)],
            ),
            package(
                "glimpse-library",
                &[("glimpse-clip", Build), ("indicatif", Normal)],
            ),
            package("glimpse-query", &[("tauri-plugin-dialog", Build)]),
            package("glimpse", &[("glimpse-app", Normal)]),
            package("glimpse-app", &[]),
            package("xtask", &[]),
        ];
        let failures = crate_direction(&bad, SAMPLE_EDGES);
        let starts: Vec<&str> = failures
            .iter()
            .map(|f| f.split(" (").next().unwrap_or(""))
            .collect();
        assert_eq!(
            starts,
            [
                "glimpse-clip → glimpse-library",
                "glimpse-library → indicatif",
                "glimpse-query → tauri-plugin-dialog",
                "glimpse → glimpse-app",
                "xtask",
                "TRANSITIONAL_EDGES lists glimpse-app → glimpse, which no longer exists: delete that line",
            ],
            "{failures:#?}"
        );
        assert!(
            failures[0].contains("glimpse-clip/Cargo.toml:2 [dev-dependencies]"),
            "{}",
            failures[0]
        );
    }

    #[test]
    fn a_layer_rule_fails_on_an_indirect_reach() {
        let rule = &MODULE_LAYERS[0];
        let g = graph(&[
            ("catalog", "vectors"),
            ("vectors", "util"),
            ("util", "pipeline"),
            ("scan", "catalog"),
        ]);
        let v = layer_violations(rule, &g, Path::new(""));
        assert_eq!(
            v,
            ["catalog must not reach pipeline, but catalog → vectors (x.rs:1) → util (x.rs:2) → pipeline (x.rs:3)",
             "vectors must not reach pipeline, but vectors → util (x.rs:2) → pipeline (x.rs:3)"]
        );
        assert!(
            layer_violations(rule, &graph(&[("pipeline", "catalog")]), Path::new("")).is_empty()
        );
    }

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().expect("a file in a folder")).expect("mkdir");
        fs::write(path, text).expect("write");
    }

    /// The whole reader on the layout the workspace is heading for: crates/* members, workspace
    /// dependencies, private modules with a cycle between them.
    #[test]
    fn a_crates_workspace_is_read_end_to_end() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        write(
            &root.join("Cargo.toml"),
            "[workspace]\nmembers = [\".\", \"crates/*\"]\n\
             [workspace.dependencies]\nglimpse-onnx = { path = \"crates/onnx\" }\n\
             [package]\nname = \"glimpse\"\n[dependencies]\nglimpse-clip = { path = \"crates/clip\" }\n",
        );
        write(
            &root.join("src/main.rs"),
            "mod cli;\nfn main() { cli::run() }\n",
        );
        write(&root.join("src/cli.rs"), "pub fn run() {}\n");
        write(
            &root.join("crates/onnx/Cargo.toml"),
            "[package]\nname = \"glimpse-onnx\"\n",
        );
        write(
            &root.join("crates/onnx/src/lib.rs"),
            "mod a;\nmod b;\npub use b::B;\n",
        );
        write(
            &root.join("crates/onnx/src/a.rs"),
            "pub struct A;\nfn f() -> crate::B { todo!() }\n",
        );
        write(
            &root.join("crates/onnx/src/b.rs"),
            "pub struct B;\nuse super::a::A;\n",
        );
        write(
            &root.join("crates/clip/Cargo.toml"),
            "[package]\nname = \"glimpse-clip\"\n[dependencies]\nglimpse-onnx.workspace = true\n\
             anyhow = \"1\"\n",
        );
        write(&root.join("crates/clip/src/lib.rs"), "//! Clip.\n");
        write(&root.join("crates/notes/README.md"), "not a package\n");

        let ws = Workspace::load(root);
        let names: Vec<&str> = ws.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["glimpse", "glimpse-clip", "glimpse-onnx"]);
        let failures = crate_direction(&ws.packages, SAMPLE_EDGES);
        assert_eq!(failures.len(), 2, "{failures:#?}");
        assert!(
            failures[0].starts_with("glimpse-clip → anyhow (crates/clip/Cargo.toml:5"),
            "{failures:#?}"
        );
        assert!(
            failures[1].starts_with("TRANSITIONAL_EDGES"),
            "{failures:#?}"
        );

        let onnx = &ws.packages[2].targets[0];
        let g = ModuleGraphs::of_crate(onnx).top();
        assert_eq!(g.cycles(), vec![vec!["a", "b"]]);
        let text = describe_cycles("glimpse-onnx (lib)", &g, root);
        assert!(
            text.contains("a → b  crates/onnx/src/a.rs:2  (1)"),
            "{text}"
        );
        assert!(
            text.contains("b → a  crates/onnx/src/b.rs:2  (1)"),
            "{text}"
        );
        let cli = &ws.packages[0].targets[0];
        assert_eq!(cli.label, "bin src/main.rs");
        assert!(ModuleGraphs::of_crate(cli).top().cycles().is_empty());
    }

    #[test]
    fn a_path_attribute_names_the_module_file() {
        let src = "#[rustfmt::skip]\n#[path = \"tables.rs\"]\nmod gen;\nmod other;\n";
        assert_eq!(path_attribute(src, "gen").as_deref(), Some("tables.rs"));
        assert_eq!(path_attribute(src, "other"), None);
    }

    #[test]
    fn rules_read_the_layers() {
        assert!(layer_of("glimpse-onnx") < layer_of("glimpse-clip"));
        assert_eq!(layer_of("glimpse"), layer_of("glimpse-app"));
        assert_eq!(layer_of("something-else"), None);
        assert!(name_matches("tauri*", "tauri-plugin-dialog"));
        assert!(!name_matches("clap", "clap_complete"));
    }
}
