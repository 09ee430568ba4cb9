//! Pins the wire format against the page's side of it, `ui/src/lib/api.ts`: every view is
//! serialised (once with every field populated, once with every optional field empty) and
//! checked, key by key and kind by kind, against the TypeScript interface the page reads it as;
//! the two values the page sends are checked field by field against what deserialises; and the
//! event names are the ones the page listens to, with payloads of the type it expects. A field
//! renamed, added or removed on either side, or an interface in `api.ts` that no view pins,
//! fails here.

use super::*;
use serde::de::{self, Visitor};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

// ---- The TypeScript side: a parser of the `export interface` / `export type` declarations ----

/// A TypeScript type as `api.ts` writes them.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    String,
    Number,
    Boolean,
    Null,
    /// A string literal type (`"score"`).
    Lit(String),
    /// A named interface or alias.
    Ref(String),
    Array(Box<Ty>),
    Union(Vec<Ty>),
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    optional: bool,
    ty: Ty,
}

#[derive(Debug, Clone)]
enum Decl {
    Interface {
        extends: Vec<String>,
        fields: Vec<Field>,
    },
    Alias(Ty),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
}

/// Splits TypeScript into identifiers, string literals and punctuation, dropping comments.
fn tokens(src: &str) -> Vec<Tok> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '"' || c == '\'' || c == '`' {
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                if let Some(&ch) = chars.get(i) {
                    s.push(ch);
                }
                i += 1;
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Tok {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t.unwrap_or_else(|| panic!("api.ts ends inside a declaration"))
    }

    fn punct(&mut self, c: char) {
        let t = self.next();
        assert_eq!(
            t,
            Tok::Punct(c),
            "api.ts: expected `{c}` at token {}",
            self.at
        );
    }

    fn ident(&mut self) -> String {
        match self.next() {
            Tok::Ident(s) => s,
            t => panic!("api.ts: expected a name, found {t:?} at token {}", self.at),
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// `A | B | C[]`, a leading `|` allowed.
    fn ty(&mut self) -> Ty {
        self.eat('|');
        let mut alts = vec![self.postfix()];
        while self.eat('|') {
            alts.push(self.postfix());
        }
        if alts.len() == 1 {
            alts.remove(0)
        } else {
            Ty::Union(alts)
        }
    }

    fn postfix(&mut self) -> Ty {
        let mut t = match self.next() {
            Tok::Punct('(') => {
                let t = self.ty();
                self.punct(')');
                t
            }
            Tok::Str(s) => Ty::Lit(s),
            Tok::Ident(name) => match name.as_str() {
                "string" => Ty::String,
                "number" => Ty::Number,
                "boolean" => Ty::Boolean,
                "null" => Ty::Null,
                _ => Ty::Ref(name),
            },
            t => panic!("api.ts: unexpected {t:?} in a type at token {}", self.at),
        };
        while self.peek() == Some(&Tok::Punct('[')) {
            self.punct('[');
            self.punct(']');
            t = Ty::Array(Box::new(t));
        }
        t
    }

    /// `{ a: T; b?: U }` (after the name and any `extends`).
    fn fields(&mut self) -> Vec<Field> {
        self.punct('{');
        let mut fields = Vec::new();
        while !self.eat('}') {
            let name = self.ident();
            let optional = self.eat('?');
            self.punct(':');
            let ty = self.ty();
            if !self.eat(';') {
                self.eat(',');
            }
            fields.push(Field { name, optional, ty });
        }
        fields
    }
}

/// What `api.ts` declares and which event each `listen<T>("name", ...)` expects.
struct Api {
    decls: BTreeMap<String, Decl>,
    events: BTreeMap<String, Ty>,
}

fn parse_api(src: &str) -> Api {
    let mut p = Parser {
        toks: tokens(src),
        at: 0,
    };
    let mut decls = BTreeMap::new();
    let mut events = BTreeMap::new();
    while let Some(t) = p.peek().cloned() {
        p.at += 1;
        match t {
            Tok::Ident(kw) if kw == "export" => match p.peek() {
                Some(Tok::Ident(k)) if k == "interface" => {
                    p.at += 1;
                    let name = p.ident();
                    let mut extends = Vec::new();
                    if p.peek() == Some(&Tok::Ident("extends".into())) {
                        p.at += 1;
                        loop {
                            extends.push(p.ident());
                            if !p.eat(',') {
                                break;
                            }
                        }
                    }
                    let fields = p.fields();
                    assert!(
                        decls
                            .insert(name.clone(), Decl::Interface { extends, fields })
                            .is_none(),
                        "api.ts declares {name} twice"
                    );
                }
                Some(Tok::Ident(k)) if k == "type" => {
                    p.at += 1;
                    let name = p.ident();
                    p.punct('=');
                    let ty = p.ty();
                    p.eat(';');
                    assert!(
                        decls.insert(name.clone(), Decl::Alias(ty)).is_none(),
                        "api.ts declares {name} twice"
                    );
                }
                _ => {}
            },
            // `listen<T>("event-name", ...)`: the events the page subscribes to.
            Tok::Ident(f) if f == "listen" && p.eat('<') => {
                let ty = p.ty();
                p.punct('>');
                p.punct('(');
                let Tok::Str(name) = p.next() else {
                    panic!("api.ts: listen<..>( without an event name");
                };
                assert!(
                    events.insert(name.clone(), ty).is_none(),
                    "api.ts listens to {name} twice"
                );
            }
            _ => {}
        }
    }
    Api { decls, events }
}

fn api_ts() -> Api {
    // Found from this crate upwards, so the test follows the crate wherever the workspace puts it.
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let file = here
        .ancestors()
        .map(|d| d.join("ui/src/lib/api.ts"))
        .find(|f| f.is_file())
        .unwrap_or_else(|| panic!("no ui/src/lib/api.ts above {}", here.display()));
    let src = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    parse_api(&src)
}

// ---- Checking a value against a type ----

struct Checker<'a> {
    api: &'a Api,
    /// Interfaces and aliases some check went through: each one `api.ts` declares must be here.
    seen: BTreeSet<String>,
    errors: Vec<String>,
}

impl Checker<'_> {
    fn new(api: &Api) -> Checker<'_> {
        Checker {
            api,
            seen: BTreeSet::new(),
            errors: Vec::new(),
        }
    }

    fn decl(&mut self, name: &str) -> Decl {
        self.seen.insert(name.to_string());
        match self.api.decls.get(name) {
            Some(d) => d.clone(),
            None => panic!("api.ts refers to {name} but does not declare it"),
        }
    }

    /// An interface's fields, those it extends included.
    fn fields_of(&mut self, name: &str) -> Vec<Field> {
        match self.decl(name) {
            Decl::Interface { extends, fields } => {
                let mut all: Vec<Field> = extends.iter().flat_map(|e| self.fields_of(e)).collect();
                all.extend(fields);
                all
            }
            Decl::Alias(_) => panic!("{name} is a type alias, not an interface"),
        }
    }

    /// Whether `v` fits `ty`, with every mismatch recorded (under `path`). `full`: every key the
    /// interface declares must be there, optional ones too (a value with every field populated).
    fn fits(&mut self, v: &Value, ty: &Ty, path: &str, full: bool) -> bool {
        let mut errors = Vec::new();
        self.check(v, ty, path, full, &mut errors);
        let ok = errors.is_empty();
        for e in errors {
            if !self.errors.contains(&e) {
                self.errors.push(e);
            }
        }
        ok
    }

    fn check(&mut self, v: &Value, ty: &Ty, path: &str, full: bool, errors: &mut Vec<String>) {
        let kind_ok = match ty {
            Ty::String => v.is_string(),
            Ty::Number => v.is_number(),
            Ty::Boolean => v.is_boolean(),
            Ty::Null => v.is_null(),
            Ty::Lit(s) => v.as_str() == Some(s),
            Ty::Array(t) => match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item, t, &format!("{path}[{i}]"), full, errors);
                    }
                    true
                }
                None => false,
            },
            Ty::Union(alts) => {
                let fit = alts.iter().any(|t| {
                    let mut e = Vec::new();
                    self.check(v, t, path, full, &mut e);
                    e.is_empty()
                });
                if !fit {
                    errors.push(format!("{path}: {v} is none of {ty:?}"));
                }
                true
            }
            Ty::Ref(name) => match self.decl(name) {
                Decl::Alias(t) => {
                    self.check(v, &t, path, full, errors);
                    true
                }
                Decl::Interface { .. } => match v.as_object() {
                    Some(obj) => {
                        let fields = self.fields_of(name);
                        for f in &fields {
                            let at = format!("{path}.{}", f.name);
                            match obj.get(&f.name) {
                                Some(x) => self.check(x, &f.ty, &at, full, errors),
                                None if f.optional && !full => {}
                                None => errors.push(format!("{at}: in api.ts ({name}), not sent")),
                            }
                        }
                        for key in obj.keys() {
                            if !fields.iter().any(|f| &f.name == key) {
                                errors.push(format!("{path}.{key}: sent, not in api.ts ({name})"));
                            }
                        }
                        true
                    }
                    None => false,
                },
            },
        };
        if !kind_ok {
            errors.push(format!("{path}: {v} is not a {ty:?}"));
        }
    }

    /// A value of `ty` for the page to send: every field there, the first alternative of a union.
    fn sample(&mut self, ty: &Ty) -> Value {
        match ty {
            Ty::String => json!("2024-01-01"),
            Ty::Number => json!(7),
            Ty::Boolean => json!(true),
            Ty::Null => Value::Null,
            Ty::Lit(s) => json!(s),
            Ty::Array(t) => json!([self.sample(t)]),
            Ty::Union(alts) => self.sample(&alts[0]),
            Ty::Ref(name) => match self.decl(name) {
                Decl::Alias(t) => self.sample(&t),
                Decl::Interface { .. } => {
                    let fields = self.fields_of(name);
                    Value::Object(
                        fields
                            .iter()
                            .map(|f| (f.name.clone(), self.sample(&f.ty)))
                            .collect(),
                    )
                }
            },
        }
    }

    /// Checks a view the page reads: `full` with every field populated, `empty` with every
    /// optional field empty.
    fn view<T: Serialize>(&mut self, ts: &str, full: &T, empty: &T) {
        let full = serde_json::to_value(full).expect("a view serialises");
        assert_populated(&full, ts);
        self.fits(&full, &Ty::Ref(ts.into()), ts, true);
        let empty = serde_json::to_value(empty).expect("a view serialises");
        self.fits(&empty, &Ty::Ref(ts.into()), ts, false);
    }

    /// Checks a value the page sends: the fields serde reads are the interface's, and every
    /// alternative of every field (null included) deserialises.
    fn input<T: for<'de> Deserialize<'de> + std::fmt::Debug>(&mut self, ts: &str) {
        let rust: BTreeSet<String> = struct_fields::<T>().iter().map(|f| f.to_string()).collect();
        let fields = self.fields_of(ts);
        let page: BTreeSet<String> = fields.iter().map(|f| f.name.clone()).collect();
        for f in rust.difference(&page) {
            self.errors
                .push(format!("{ts}.{f}: read by the engine, not in api.ts"));
        }
        for f in page.difference(&rust) {
            self.errors
                .push(format!("{ts}.{f}: in api.ts, ignored by the engine"));
        }
        for f in &fields {
            let alts = match &f.ty {
                Ty::Union(alts) => alts.clone(),
                t => vec![t.clone()],
            };
            for alt in alts {
                let value = json!({ f.name.clone(): self.sample(&alt) });
                if let Err(e) = serde_json::from_value::<T>(value.clone()) {
                    self.errors.push(format!(
                        "{ts}.{}: {value} does not deserialise: {e}",
                        f.name
                    ));
                }
            }
        }
        // Everything at once, as the page sends it.
        let all = self.sample(&Ty::Ref(ts.into()));
        if let Err(e) = serde_json::from_value::<T>(all.clone()) {
            self.errors
                .push(format!("{ts}: {all} does not deserialise: {e}"));
        }
    }
}

/// A value with every field populated has no null and no empty list anywhere.
fn assert_populated(v: &Value, path: &str) {
    match v {
        Value::Null => panic!("{path}: the populated sample leaves this field null"),
        Value::Array(items) => {
            assert!(
                !items.is_empty(),
                "{path}: the populated sample leaves this list empty"
            );
            for (i, x) in items.iter().enumerate() {
                assert_populated(x, &format!("{path}[{i}]"));
            }
        }
        Value::Object(obj) => {
            for (k, x) in obj {
                assert_populated(x, &format!("{path}.{k}"));
            }
        }
        _ => {}
    }
}

/// The field names serde reads for a struct (renamed, skipped ones left out), as its derived
/// `Deserialize` hands them to the deserializer.
fn struct_fields<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    struct Introspect<'a>(&'a mut Option<&'static [&'static str]>);

    impl<'de> de::Deserializer<'de> for Introspect<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = Some(fields);
            Err(de::Error::custom("fields read"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    let mut fields = None;
    let _ = T::deserialize(Introspect(&mut fields));
    fields.expect("a struct")
}

// ---- Representative values of every view ----

fn progress(full: bool) -> ProgressView {
    ProgressView {
        phase: if full {
            ProgressPhase::Text
        } else {
            ProgressPhase::Photos
        },
        done: 3,
        total: 10,
        failed: 1,
        encoded: 2,
        rate: 1.5,
        eta_secs: full.then_some(4.5),
        current: full.then(|| "/photos/a.jpg".into()),
        with_text: 1,
    }
}

fn index_state(full: bool) -> IndexState {
    IndexState {
        running: true,
        paused: false,
        progress: full.then(|| progress(true)),
        error: full.then(|| "disk full".into()),
    }
}

fn index_finished(full: bool) -> IndexFinished {
    IndexFinished {
        error: full.then(|| "disk full".into()),
        encoded: 5,
        failed: 1,
        removed: 2,
    }
}

fn model_progress(full: bool) -> ModelProgress {
    ModelProgress {
        file: "visual.onnx".into(),
        done: 100,
        total: full.then_some(1000),
    }
}

fn index_rebuild(full: bool) -> IndexRebuild {
    IndexRebuild {
        why: "in an older format (f16 rows)".into(),
        step: if full {
            RebuildStep::Linking
        } else {
            RebuildStep::Reading
        },
        done: if full { 412_000 } else { 0 },
        total: 1_000_000,
    }
}

fn model_state(full: bool) -> ModelState {
    ModelState {
        name: "clip-vit-b-32".into(),
        ready: full,
        dir: "/models/clip".into(),
        problem: full.then(|| "visual.onnx is missing".into()),
        description: full.then(|| "CLIP ViT-B/32, 350 MB".into()),
    }
}

fn model_choices(full: bool) -> ModelChoices {
    ModelChoices {
        choices: vec![ModelChoice {
            name: "ViT-B-16__openai".into(),
            description: full.then(|| "OpenAI CLIP ViT-B/16 (English).".into()),
            download_bytes: full.then_some(600_000_000),
            present: full,
            in_use: !full,
            photos_read: 12,
        }],
        fixed_at_start: full.then(|| "ViT-B-32__openai".into()),
    }
}

fn app_status(full: bool) -> AppStatus {
    AppStatus {
        version: "0.1.0".into(),
        model: model_state(full),
        provider: full.then(|| "CPU".into()),
        library: "/library".into(),
        library_problem: full.then(|| "damaged catalog".into()),
        held_by: full.then(|| "glimpse, pid 4242".into()),
        photos: 10,
        indexed: 8,
        failed: 1,
        pending: 1,
        indexing: index_state(full),
        threads: full.then_some(IndexThreads {
            using: 2,
            chosen: Some(2),
            cores: 4,
        }),
        read_text: full,
    }
}

fn failure() -> Failure {
    Failure {
        path: "/photos/bad.jpg".into(),
        reason: "truncated".into(),
    }
}

fn auto_tag(full: bool) -> AutoTagInfo {
    AutoTagInfo {
        folder: "/photos/pets".into(),
        labels: if full { vec!["dog".into()] } else { vec![] },
    }
}

fn root_info(full: bool) -> RootInfo {
    RootInfo {
        path: "/photos".into(),
        online: true,
        photos: 10,
        indexed: 8,
        pending: 1,
        failed: 1,
        failures: if full { vec![failure()] } else { vec![] },
        auto_tags: if full { vec![auto_tag(true)] } else { vec![] },
    }
}

fn export_report(full: bool) -> ExportReport {
    ExportReport {
        folder: "/home/me/Export".into(),
        copied: 3,
        failures: if full { vec![failure()] } else { vec![] },
    }
}

fn folder_count() -> FolderCount {
    FolderCount {
        path: "/photos/2023 Holiday".into(),
        photos: 12,
    }
}

fn folder_added(full: bool) -> FolderAdded {
    FolderAdded {
        roots: if full { vec![root_info(true)] } else { vec![] },
        folder: "/photos/2023 Holiday".into(),
        already_in: full.then(|| "/photos".into()),
    }
}

fn photo(full: bool) -> PhotoDetail {
    PhotoDetail {
        id: 1,
        path: "/photos/a.jpg".into(),
        date: 1_700_000_000,
        size: 1234,
        width: full.then_some(640),
        height: full.then_some(480),
        format: full.then(|| "jpeg".into()),
        thumbnail: full.then(|| "/library/thumbs/ab.jpg".into()),
        tags: if full { vec!["dog".into()] } else { vec![] },
        date_taken: full,
        local_date: 1_700_032_400,
        offset_minutes: full.then_some(540),
        camera: full.then(|| "Canon EOS R5".into()),
        latitude: full.then_some(35.68),
        longitude: full.then_some(139.77),
    }
}

fn line_match(full: bool) -> LineMatchView {
    LineMatchView {
        line: 2,
        text: "TESCO Express".into(),
        spans: if full { vec![[0, 5]] } else { vec![] },
        quad: [[1.0, 2.0], [30.0, 2.0], [30.0, 12.0], [1.0, 12.0]],
    }
}

fn hit(full: bool) -> HitView {
    HitView {
        photo: photo(full),
        score: full.then_some(0.31),
        words: if full { vec![line_match(true)] } else { vec![] },
    }
}

fn dupe_member(full: bool) -> DupeMember {
    DupeMember {
        photo: photo(full),
        score: 0.98,
    }
}

fn dupe_group(full: bool) -> DupeGroup {
    DupeGroup {
        keep_reason: "most pixels".into(),
        photos: if full {
            vec![dupe_member(true)]
        } else {
            vec![]
        },
    }
}

fn trash_report(full: bool) -> TrashReport {
    TrashReport {
        moved: 2,
        failures: if full { vec![failure()] } else { vec![] },
    }
}

fn search_page(full: bool) -> SearchPage {
    SearchPage {
        hits: if full { vec![hit(true)] } else { vec![] },
        has_more: true,
        weaker_hidden: true,
        query_preview: full.then(|| "data:image/jpeg;base64,AAAA".into()),
        query_cut: true,
    }
}

fn dropped() -> DroppedFile {
    DroppedFile {
        token: 1,
        path: "/Desktop/cat.heic".into(),
    }
}

fn tag_count() -> TagCount {
    TagCount {
        name: "dog".into(),
        count: 3,
    }
}

fn format_view() -> FormatView {
    FormatView {
        format: "heic".into(),
        count: 3,
    }
}

fn tag_report(full: bool) -> TagReportView {
    TagReportView {
        folder: "/photos/pets".into(),
        photos: 4,
        tagged: 3,
        labels: if full { vec![tag_count()] } else { vec![] },
    }
}

fn label_suggestion(full: bool) -> LabelSuggestion {
    LabelSuggestion {
        labels: if full { vec!["dog".into()] } else { vec![] },
        keeps_tagging: full,
    }
}

/// One event of each kind; the match makes a new kind of event fail to compile until it is
/// added here (and so checked against `api.ts`).
fn every_event(full: bool) -> Vec<Event> {
    let all = vec![
        Event::IndexProgress(progress(full)),
        Event::IndexState(index_state(full)),
        Event::IndexFinished(index_finished(full)),
        Event::ModelProgress(model_progress(full)),
        Event::IndexRebuild(index_rebuild(full)),
    ];
    for e in &all {
        match e {
            Event::IndexProgress(_)
            | Event::IndexState(_)
            | Event::IndexFinished(_)
            | Event::ModelProgress(_)
            | Event::IndexRebuild(_) => {}
        }
    }
    all
}

// ---- The tests ----

#[test]
fn every_view_the_page_reads_is_the_shape_api_ts_declares() {
    let api = api_ts();
    let mut c = Checker::new(&api);
    // Rust view, as the TypeScript interface the page reads it as.
    c.view("Progress", &progress(true), &progress(false));
    // Every phase is one the page's union names (the match fails to compile on a new phase).
    for phase in [
        ProgressPhase::Photos,
        ProgressPhase::Text,
        ProgressPhase::TextModels,
    ] {
        match phase {
            ProgressPhase::Photos | ProgressPhase::Text | ProgressPhase::TextModels => {}
        }
        let at = ProgressView {
            phase,
            ..progress(true)
        };
        c.view("Progress", &at, &progress(false));
    }
    c.view("IndexState", &index_state(true), &index_state(false));
    c.view(
        "IndexFinished",
        &index_finished(true),
        &index_finished(false),
    );
    c.view(
        "ModelProgress",
        &model_progress(true),
        &model_progress(false),
    );
    c.view("IndexRebuild", &index_rebuild(true), &index_rebuild(false));
    // Every step is one the page's union names (the match fails to compile on a new step).
    for step in [
        RebuildStep::Reading,
        RebuildStep::Linking,
        RebuildStep::Saving,
        RebuildStep::Done,
    ] {
        match step {
            RebuildStep::Reading
            | RebuildStep::Linking
            | RebuildStep::Saving
            | RebuildStep::Done => {}
        }
        let at = IndexRebuild {
            step,
            ..index_rebuild(true)
        };
        c.view("IndexRebuild", &at, &index_rebuild(false));
    }
    c.view("ModelState", &model_state(true), &model_state(false));
    c.view("AppStatus", &app_status(true), &app_status(false));
    c.view("ModelChoices", &model_choices(true), &model_choices(false));
    let choice = |full| model_choices(full).choices.remove(0);
    c.view("ModelChoice", &choice(true), &choice(false));
    let threads = |chosen| IndexThreads {
        using: 2,
        chosen,
        cores: 4,
    };
    c.view("IndexThreads", &threads(Some(2)), &threads(None));
    c.view("Failure", &failure(), &failure());
    c.view("AutoTagInfo", &auto_tag(true), &auto_tag(false));
    c.view("RootInfo", &root_info(true), &root_info(false));
    c.view("FolderAdded", &folder_added(true), &folder_added(false));
    c.view("FolderCount", &folder_count(), &folder_count());
    c.view("ExportReport", &export_report(true), &export_report(false));
    c.view("PhotoDetail", &photo(true), &photo(false));
    c.view("Hit", &hit(true), &hit(false));
    c.view("LineMatch", &line_match(true), &line_match(false));
    c.view("SearchPage", &search_page(true), &search_page(false));
    c.view("DupeMember", &dupe_member(true), &dupe_member(false));
    c.view("DupeGroup", &dupe_group(true), &dupe_group(false));
    c.view("TrashReport", &trash_report(true), &trash_report(false));
    c.view("DroppedFile", &dropped(), &dropped());
    c.view("TagCount", &tag_count(), &tag_count());
    c.view("FormatInfo", &format_view(), &format_view());
    c.view("TagReport", &tag_report(true), &tag_report(false));
    c.view(
        "LabelSuggestion",
        &label_suggestion(true),
        &label_suggestion(false),
    );
    // What the page sends.
    c.input::<FilterSpec>("Filter");
    c.input::<SearchQuery>("SearchQuery");

    let unpinned: Vec<&String> = api.decls.keys().filter(|n| !c.seen.contains(*n)).collect();
    assert!(
        unpinned.is_empty(),
        "api.ts declares {unpinned:?}, which no Rust view pins: add it to this test"
    );
    assert!(
        c.errors.is_empty(),
        "views and api.ts disagree:\n{}",
        c.errors.join("\n")
    );
}

#[test]
fn events_are_the_ones_the_page_listens_to_with_the_payloads_it_expects() {
    let api = api_ts();
    let mut c = Checker::new(&api);
    let mut sent = BTreeSet::new();
    for full in [true, false] {
        let mut payloads: Vec<(&str, Value)> = every_event(full)
            .iter()
            .map(|e| (e.name(), e.payload()))
            .collect();
        // The one event the shell emits itself.
        let drops = if full { vec![dropped()] } else { vec![] };
        payloads.push((events::PICTURE_DROPPED, json!(drops)));
        for (name, payload) in payloads {
            sent.insert(name.to_string());
            match api.events.get(name) {
                Some(ty) => {
                    c.fits(&payload, ty, name, full);
                }
                None => c
                    .errors
                    .push(format!("{name}: emitted, but api.ts does not listen")),
            }
        }
    }
    let heard: BTreeSet<String> = api.events.keys().cloned().collect();
    assert_eq!(
        sent, heard,
        "the events emitted and the events api.ts listens to"
    );
    assert!(
        c.errors.is_empty(),
        "events and api.ts disagree:\n{}",
        c.errors.join("\n")
    );
    // The enum's names are the constants the shell uses.
    let names: Vec<&str> = every_event(true).iter().map(Event::name).collect();
    assert_eq!(
        names,
        [
            events::INDEX_PROGRESS,
            events::INDEX_STATE,
            events::INDEX_FINISHED,
            events::MODEL_PROGRESS,
            events::INDEX_REBUILD,
        ]
    );
}

#[test]
fn the_checker_catches_what_it_is_for() {
    // A stand-in api.ts, so this test does not depend on the real one being right.
    let api = parse_api(
        r#"
        /** A doc. */
        export interface Inner { n: number; tags: string[] }
        export interface Base { id: number }
        export interface Outer extends Base {
          name: string | null; // a comment
          kind?: "a" | "b";
          inner: Inner;
        }
        export type Kind = "a" | "b";
        export const events = {
          x: (f: (p: Outer) => void) => listen<Outer[]>("x-happened", (e) => f(e.payload)),
        };
        "#,
    );
    assert_eq!(api.events.keys().collect::<Vec<_>>(), ["x-happened"]);
    let ok = json!({"id": 1, "name": null, "kind": "b", "inner": {"n": 2, "tags": ["t"]}});
    let outer = Ty::Ref("Outer".into());
    let mut c = Checker::new(&api);
    assert!(c.fits(&ok, &outer, "ok", true), "{:?}", c.errors);
    let mut without_optional = ok.clone();
    without_optional.as_object_mut().map(|o| o.remove("kind"));
    assert!(c.fits(&without_optional, &outer, "opt", false));
    assert!(
        !c.fits(&without_optional, &outer, "opt", true),
        "full needs every key"
    );
    let bad = [
        json!({"id": 1, "name": null, "kind": "b", "inner": {"n": 2, "tags": ["t"]}, "extra": 1}),
        json!({"name": null, "kind": "b", "inner": {"n": 2, "tags": ["t"]}}),
        json!({"id": "1", "name": null, "kind": "b", "inner": {"n": 2, "tags": ["t"]}}),
        json!({"id": 1, "name": null, "kind": "c", "inner": {"n": 2, "tags": ["t"]}}),
        json!({"id": 1, "name": 3, "kind": "b", "inner": {"n": 2, "tags": ["t"]}}),
        json!({"id": 1, "name": null, "kind": "b", "inner": {"n": 2, "tags": [1]}}),
        json!({"id": 1, "name": null, "kind": "b", "inner": {"n": 2, "tag": ["t"]}}),
    ];
    for b in bad {
        assert!(!c.fits(&b, &outer, "bad", false), "{b} passed");
    }
    assert!(c.seen.contains("Base") && c.seen.contains("Inner") && !c.seen.contains("Kind"));
}

#[test]
fn the_engine_reads_the_fields_serde_declares() {
    let fields = struct_fields::<SearchQuery>();
    assert!(fields.contains(&"includeWeak") && fields.contains(&"examplePhotoId"));
    assert!(
        !fields.contains(&"examplePath"),
        "skipped: the page never names a file"
    );
}

#[test]
fn queries_deserialise_from_the_window() {
    let q: SearchQuery = serde_json::from_str(
        r#"{"text":"dog","limit":50,"offset":100,"includeWeak":true,"sort":"newest",
            "filter":{"after":"2024-01-01","types":["jpg"],"hasText":true}}"#,
    )
    .expect("query");
    assert_eq!(q.filter.has_text, Some(true));
    assert_eq!(q.text.as_deref(), Some("dog"));
    assert_eq!((q.limit, q.offset, q.include_weak), (50, 100, true));
    assert_eq!(q.filter.types, vec!["jpg".to_string()]);
    assert_eq!(q.example_photo_id, None);
}

#[test]
fn matched_words_are_spans_of_the_page_s_strings() {
    let text = "Café 東京 😀 tesco";
    let spans = [
        glimpse_library::words::find(text, "東京"),
        glimpse_library::words::find(text, "TESCO"),
    ]
    .concat();
    assert_eq!(spans, [(6, 12), (18, 23)]);
    let view = LineMatchView::from(glimpse_query::search::LineMatch {
        line: 1,
        text: text.into(),
        spans,
        quad: [[0.0, 0.0], [9.0, 0.0], [9.0, 3.0], [0.0, 3.0]],
    });
    // In UTF-16 units, as `text.slice(start, end)` takes them: the emoji is two.
    assert_eq!(view.spans, [[5, 7], [11, 16]]);
    let units: Vec<u16> = text.encode_utf16().collect();
    assert_eq!(String::from_utf16_lossy(&units[11..16]), "tesco");
}
