//! Caption → the fixed-length token ids the text tower expects, identical to `open_clip.tokenize`.
//!
//! The byte-level BPE itself is the model's `tokenizer.json` run by the `tokenizers` crate; what
//! open_clip adds around it is reproduced here: its text cleaning (ftfy, HTML entities, whitespace,
//! lower case, in `clean`), its treatment of literal special-token text, and its truncation that
//! always keeps the end token.

mod clean;
mod html_entities;

pub use clean::clean_caption;

use std::path::Path;

/// Why a tokenizer could not be loaded or a caption not tokenised.
#[derive(Debug, thiserror::Error)]
pub enum TokenizeError {
    /// The tokenizer file is missing or invalid.
    #[error("cannot load tokenizer {path}: {message}")]
    Load {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Tokenisation failed for one text.
    #[error("cannot tokenize {text:?}: {message}")]
    Encode {
        /// The text (shortened).
        text: String,
        /// What went wrong.
        message: String,
    },
}

/// CLIP's start and end token strings as they appear in `tokenizer.json`.
const SOT: &str = "<|startoftext|>";
const EOT: &str = "<|endoftext|>";

/// Token ids for one caption, ready for the text tower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// `context_length` ids: start, text, end, padding.
    pub ids: Vec<u32>,
    /// How many ids are real tokens (the rest is padding), for `attention_mask`.
    pub len: usize,
    /// The caption was longer than the model reads: its end was dropped (the window says so).
    pub cut: bool,
}

/// A loaded tokenizer with the model's sequence length and padding.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    context_length: usize,
    pad_id: u32,
    /// CLIP's BPE vocabulary: apply open_clip's cleaning and special-token rules.
    clip: bool,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("context_length", &self.context_length)
            .field("pad_id", &self.pad_id)
            .field("clip", &self.clip)
            .finish()
    }
}

impl Tokenizer {
    /// Loads `tokenizer.json`; `pad_token` names the padding token if the model has one
    /// (otherwise id 0, as `open_clip.tokenize` pads).
    pub fn from_file(
        path: &Path,
        context_length: usize,
        pad_token: Option<&str>,
    ) -> Result<Self, TokenizeError> {
        let load_err = |message: String| TokenizeError::Load {
            path: path.display().to_string(),
            message,
        };
        let mut inner =
            tokenizers::Tokenizer::from_file(path).map_err(|e| load_err(e.to_string()))?;
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| load_err(e.to_string()))?;
        if context_length < 2 {
            return Err(load_err(format!(
                "context length {context_length} is too short"
            )));
        }
        let clip = inner.token_to_id(SOT).is_some() && inner.token_to_id(EOT).is_some();
        let pad_id = match pad_token {
            Some(t) => inner
                .token_to_id(t)
                .ok_or_else(|| load_err(format!("pad token {t:?} is not in the vocabulary")))?,
            None => 0,
        };
        Ok(Tokenizer {
            inner,
            context_length,
            pad_id,
            clip,
        })
    }

    /// Sequence length of the text tower.
    pub fn context_length(&self) -> usize {
        self.context_length
    }

    /// Tokenises one caption to exactly `context_length` ids.
    pub fn encode(&self, text: &str) -> Result<Tokens, TokenizeError> {
        let prepared = if self.clip {
            clip_specials(&clean_caption(text))
        } else {
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        let enc =
            self.inner
                .encode(prepared.as_str(), true)
                .map_err(|e| TokenizeError::Encode {
                    text: text.chars().take(80).collect(),
                    message: e.to_string(),
                })?;
        let mut ids = enc.get_ids().to_vec();
        let cut = ids.len() > self.context_length;
        if cut {
            // Keep the start and the end token, as open_clip does (`tokens[-1] = eot`).
            let last = ids[ids.len() - 1];
            ids.truncate(self.context_length);
            ids[self.context_length - 1] = last;
        }
        let len = ids.len();
        ids.resize(self.context_length, self.pad_id);
        Ok(Tokens { ids, len, cut })
    }
}

/// open_clip's tokenizer knows its special tokens as `<start_of_text>` / `<end_of_text>` and
/// reads `<|startoftext|>` typed in a caption as ordinary text; the Hugging Face vocabulary
/// spells them the other way round. Swap the spellings so the ids come out as open_clip's. The
/// space inserted into the `<|...|>` spelling does not change the BPE pieces: the pre-tokenizer
/// splits `<|` from the following letters and drops whitespace anyway.
fn clip_specials(text: &str) -> String {
    if !text.contains('<') {
        return text.to_owned();
    }
    text.replace(SOT, "<| startoftext|>")
        .replace(EOT, "<| endoftext|>")
        .replace("<start_of_text>", SOT)
        .replace("<end_of_text>", EOT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_spellings_are_swapped() {
        assert_eq!(clip_specials("a <|endoftext|> b"), "a <| endoftext|> b");
        assert_eq!(clip_specials("x<end_of_text>"), "x<|endoftext|>");
        assert_eq!(clip_specials("plain"), "plain");
    }
}
