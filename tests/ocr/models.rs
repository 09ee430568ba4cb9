//! The graphs the tests read with are the pinned ones, and the first look the text pass takes
//! finds the text pictures of the rendered set.

use crate::common;
use crate::parity::{load, reader};
use glimpse_clip::wheel;
use glimpse_ocr::models::{CLASSIFY, DETECT, RECOGNIZE};

#[test]
fn the_models_in_use_are_the_members_the_engine_pins() {
    let dir = common::ocr_models();
    for m in [DETECT, CLASSIFY, RECOGNIZE] {
        let path = dir.join(m.file_name());
        assert!(
            wheel::holds(&path, &m),
            "{} is not the pinned {} (sha256 {})",
            path.display(),
            m.path,
            m.sha256
        );
    }
}

#[test]
fn the_first_look_finds_text_in_the_text_pictures_and_none_in_the_blank_ones() {
    let truth = common::json("ocr/truth.json");
    let reader = reader();
    let (mut with, mut found, mut blank, mut false_alarms) = (0, 0, 0, Vec::new());
    let mut missed = Vec::new();
    for (name, lines) in truth["pictures"].as_object().expect("pictures") {
        let shows_text = lines.as_array().is_some_and(|l| !l.is_empty());
        let probe = reader
            .probe(&load(name), glimpse_library::ocr::PROBE_SIDE)
            .expect("probe");
        let saw = !probe.boxes.is_empty();
        match (shows_text, saw) {
            (true, true) => (with, found) = (with + 1, found + 1),
            (true, false) => {
                with += 1;
                missed.push(name.clone());
            }
            (false, false) => blank += 1,
            (false, true) => false_alarms.push(name.clone()),
        }
    }
    eprintln!(
        "first look: text found in {found} of {with} text pictures (missed {missed:?}); \
         {} of {} blank pictures let through",
        false_alarms.len(),
        blank + false_alarms.len()
    );
    assert!(
        with >= 40 && blank + false_alarms.len() >= 5,
        "the set shrank"
    );
    assert!(
        found * 100 >= with * 95,
        "recall under 95 %: missed {missed:?}"
    );
    assert!(
        false_alarms.len() <= 1,
        "blank pictures let through: {false_alarms:?}"
    );
}
