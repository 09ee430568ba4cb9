//! What "Reveal in file manager" shows for a selection: one photo is shown itself; several are
//! shown folder by folder (one of them selected in each), a few folders at most, so a
//! selection across a whole library does not open dozens of windows.

use std::path::{Path, PathBuf};

/// How many file manager windows one "Reveal" opens at most.
pub const MAX_REVEALED: usize = 3;

/// The files to show in the file manager for a selection, and what to tell the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevealPlan {
    /// The files to show (each in its folder), in selection order.
    pub files: Vec<PathBuf>,
    /// Photos in the selection that are in the library.
    pub photos: usize,
    /// Distinct folders they are in.
    pub folders: usize,
}

impl RevealPlan {
    /// Plans revealing the photos at `paths` (in selection order).
    pub fn new(paths: &[PathBuf]) -> Self {
        let mut folders: Vec<&Path> = Vec::new();
        let mut files = Vec::new();
        for p in paths {
            let folder = p.parent().unwrap_or(p);
            if !folders.contains(&folder) {
                folders.push(folder);
                if files.len() < MAX_REVEALED {
                    files.push(p.clone());
                }
            }
        }
        RevealPlan {
            files,
            photos: paths.len(),
            folders: folders.len(),
        }
    }

    /// What the window says once the files are shown (nothing for one photo: it is in view).
    pub fn summary(&self) -> Option<String> {
        match (self.photos, self.folders) {
            (0 | 1, _) => None,
            (n, 1) => Some(format!("The {n} photos are in one folder; it is shown.")),
            (n, f) if f <= MAX_REVEALED => {
                Some(format!("Showed the {f} folders of the {n} photos."))
            }
            (n, f) => Some(format!(
                "Showed {} of the {f} folders of the {n} photos; select fewer to see the others.",
                self.files.len()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_is_revealed_folder_by_folder_a_few_at_most() {
        let p = |s: &str| PathBuf::from(s);
        let one = RevealPlan::new(&[p("/a/1.jpg")]);
        assert_eq!(one.files, [p("/a/1.jpg")]);
        assert_eq!(one.summary(), None);
        let same = RevealPlan::new(&[p("/a/1.jpg"), p("/a/2.jpg")]);
        assert_eq!(same.files, [p("/a/1.jpg")]);
        assert_eq!(
            same.summary().unwrap(),
            "The 2 photos are in one folder; it is shown."
        );
        let two = RevealPlan::new(&[p("/a/1.jpg"), p("/b/2.jpg"), p("/a/3.jpg")]);
        assert_eq!(two.files, [p("/a/1.jpg"), p("/b/2.jpg")]);
        assert_eq!(
            two.summary().unwrap(),
            "Showed the 2 folders of the 3 photos."
        );
        let many: Vec<PathBuf> = (0..5).map(|i| p(&format!("/f{i}/x.jpg"))).collect();
        let plan = RevealPlan::new(&many);
        assert_eq!(plan.files, many[..MAX_REVEALED]);
        assert_eq!(plan.folders, 5);
        assert_eq!(
            plan.summary().unwrap(),
            "Showed 3 of the 5 folders of the 5 photos; select fewer to see the others."
        );
        assert_eq!(RevealPlan::new(&[]).files, Vec::<PathBuf>::new());
    }
}
