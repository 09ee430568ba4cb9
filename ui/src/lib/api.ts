// The contract between the window and the Tauri shell (src-tauri/src/commands.rs): every
// command, event and payload the UI uses, typed once. Field names are camelCase on both sides
// (the Rust types derive `serde(rename_all = "camelCase")`). The Rust side is the app layer's
// `views` module, whose tests parse the interfaces and `listen<T>("name")` calls of this file and
// fail when the two disagree.
import { invoke, convertFileSrc } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

/**
 * The pass a job is in: its photos read for the model, then the words in them read; "textModels" while the models
 * that read words are downloaded before the first text pass (then `done` and `total` count bytes, `rate` bytes/s).
 */
export type ProgressPhase = "photos" | "text" | "textModels";

/** Files done, rate and ETA of the indexing job in flight. */
export interface Progress {
  phase: ProgressPhase;
  /** In the text pass: pictures whose text was read (of `total`). */
  done: number;
  total: number;
  failed: number;
  encoded: number;
  /** Files per second since the job started. */
  rate: number;
  etaSecs: number | null;
  current: string | null;
  /** Pictures found to show text so far (the text pass only). */
  withText: number;
}

/** What the background indexer is doing. */
export interface IndexState {
  running: boolean;
  paused: boolean;
  progress: Progress | null;
  /** The last job's error, if it failed. */
  error: string | null;
}

/** Whether a usable model is in place (false shows the first-run screen). */
export interface ModelState {
  name: string;
  ready: boolean;
  /** Where the model is (or would be) stored, for the offline explanation. */
  dir: string;
  /** Why it is not ready, when it is not. */
  problem: string | null;
  /** What it is and how big (models Glimpse can download). */
  description?: string | null;
}

/** One model Settings offers to switch to. */
export interface ModelChoice {
  /** What `setModel` takes: a model name or a model folder. */
  name: string;
  /** What it is and how big (models Glimpse can download). */
  description: string | null;
  /** Bytes to download first, when known; null: unknown or nothing to download. */
  downloadBytes: number | null;
  /** On this computer: choosing it downloads nothing. */
  present: boolean;
  /** The model in use now. */
  inUse: boolean;
  /** Photos already read with it (kept from an earlier switch): not read again. */
  photosRead: number;
}

/** The models Settings offers. */
export interface ModelChoices {
  choices: ModelChoice[];
  /** The model Glimpse was started with (GLIMPSE_MODEL): the next start uses it again. */
  fixedAtStart: string | null;
}

/** The status bar / settings view. */
export interface AppStatus {
  version: string;
  model: ModelState;
  /** "CPU", "CUDA (fp16)", "CoreML", "DirectML"; null until the model is loaded. */
  provider: string | null;
  library: string;
  /** Why the library cannot be opened (a damaged catalog). */
  libraryProblem: string | null;
  /** Another Glimpse indexing this library ("glimpse, pid 4242"): this window only searches. */
  heldBy: string | null;
  photos: number;
  indexed: number;
  failed: number;
  pending: number;
  indexing: IndexState;
  /** The cores indexing uses; null while another Glimpse indexes the library. */
  threads: IndexThreads | null;
  /** Whether indexing reads the words in this library's pictures (Settings' switch). */
  readText: boolean;
}

/** How many cores indexing uses (Settings). */
export interface IndexThreads {
  /** Decoder threads the next job runs. */
  using: number;
  /** What the user chose; null: one per core. */
  chosen: number | null;
  cores: number;
}

/** One failed photo and why. */
export interface Failure {
  path: string;
  reason: string;
}

/** A photo folder in the folder panel. */
export interface RootInfo {
  path: string;
  online: boolean;
  photos: number;
  indexed: number;
  pending: number;
  failed: number;
  /** Up to 50 failures, for the "failed" details. */
  failures: Failure[];
  /** The folders in it (itself included) that tag the photos arriving in them. */
  autoTags: AutoTagInfo[];
}

/** What copying photos to a folder did (nothing is overwritten). */
export interface ExportReport {
  folder: string;
  copied: number;
  failures: Failure[];
}

/** A folder below a root in the folder tree: searchable photos in it and below it. */
export interface FolderCount {
  path: string;
  photos: number;
}

/** What adding a folder did: nothing is added when the library already holds it. */
export interface FolderAdded {
  roots: RootInfo[];
  /** The folder asked for, links resolved. */
  folder: string;
  /** The library's folder that already holds it (itself or one above); null when added now. */
  alreadyIn: string | null;
}

/** A folder whose new photos are tagged with its labels as they arrive. */
export interface AutoTagInfo {
  folder: string;
  labels: string[];
}

/** What a search is restricted to. Dates are `YYYY-MM-DD` (after inclusive, before exclusive). */
export interface Filter {
  folder?: string | null;
  after?: string | null;
  before?: string | null;
  tag?: string | null;
  /**
   * Formats as `formats` names them ("jpeg", "png", "heic", "jxl", "cr3", ...; "raw" for every
   * camera RAW; "jpg", "tif", "heif" accepted). Empty = any.
   */
  types?: string[];
  /** Only photos with (true) or without (false) a GPS position; null = either. */
  hasLocation?: boolean | null;
  /** Only photos in which text was read (true), or none was (false); null = either. */
  hasText?: boolean | null;
}

export type Sort = "score" | "newest" | "oldest";

/** One page of a search. Exactly one of `text`, `exampleDrop`, `examplePhotoId` is set. */
export interface SearchQuery {
  text?: string | null;
  /** A picture dropped onto the window, by the token the shell gave it (the page never names a file). */
  exampleDrop?: number | null;
  /** A library photo ("more like this"); it is left out of its own results. */
  examplePhotoId?: number | null;
  limit: number;
  offset: number;
  includeWeak: boolean;
  sort: Sort;
  filter: Filter;
}

/** A result: the photo, as the lightbox describes it, and how well it matches. */
export interface Hit extends PhotoDetail {
  /** Similarity to the query; null in a listing (filters with nothing to look for). */
  score: number | null;
  /** The lines of the photo's text the query's words matched; empty when it matched by
   * meaning alone. */
  words: LineMatch[];
}

/** A line of a photo's text that the query's words matched. */
export interface LineMatch {
  /** The line's number in the photo's text. */
  line: number;
  text: string;
  /** Where the words are in `text`: [start, end) in UTF-16 code units (`text.slice(start, end)`). */
  spans: number[][];
  /** The line's box: four corners [x, y] in pixels of the upright picture (`width` × `height`),
   * clockwise from the top left of the text. */
  quad: number[][];
}

/** A copy in a group of duplicates: the photo and its similarity to the keeper (1 for it). */
export interface DupeMember extends PhotoDetail {
  score: number;
}

/** Copies of one picture, the suggested keeper first. */
export interface DupeGroup {
  /** Why the first photo is the one to keep, in words ("most pixels"). */
  keepReason: string;
  photos: DupeMember[];
}

/** What moving photos to the system Trash did. */
export interface TrashReport {
  moved: number;
  failures: Failure[];
}

export interface SearchPage {
  hits: Hit[];
  hasMore: boolean;
  /** Weaker matches exist and were left out (offer "show more"). */
  weakerHidden: boolean;
  /** For an example search: a small JPEG data URL of the query picture. */
  queryPreview: string | null;
  /** The words were longer than the model reads: only their start was searched for. */
  queryCut: boolean;
}

/** The lightbox (each result carries it too). */
export interface PhotoDetail {
  id: number;
  path: string;
  /** Date taken, else file time (Unix seconds). */
  date: number;
  /** That date on the clock where it was taken (the camera's, else this computer's), as the
   * Unix seconds of that reading in UTC: what the window shows. */
  localDate: number;
  /** The camera's offset from UTC in minutes, when the photo records it. */
  offsetMinutes: number | null;
  size: number;
  width: number | null;
  height: number | null;
  format: string | null;
  /** Thumbnail file in the library's cache (serve through `fileUrl`). */
  thumbnail: string | null;
  tags: string[];
  /** Whether `date` is when it was taken (EXIF) rather than the file time. */
  dateTaken: boolean;
  /** The camera, e.g. "Canon EOS R5". */
  camera: string | null;
  /** GPS position in degrees, when the photo has one. */
  latitude: number | null;
  longitude: number | null;
}

export interface TagCount {
  name: string;
  count: number;
}

/** A format the library's searchable photos are in, as the type filter spells it. */
export interface FormatInfo {
  format: string;
  count: number;
}

/** What "Auto-tag this folder" starts from. */
export interface LabelSuggestion {
  /** The folder's own labels while it is auto-tagged, else the vocabulary plus the user's labels. */
  labels: string[];
  /** Photos that arrive in the folder are tagged with `labels`. */
  keepsTagging: boolean;
}

export interface TagReport {
  folder: string;
  photos: number;
  tagged: number;
  labels: TagCount[];
}

/** Model download progress (first run). */
export interface ModelProgress {
  file: string;
  done: number;
  total: number | null;
}

/** The step of a rebuild of the search index while the library opens; "done" when the open has ended. */
export type RebuildStep = "reading" | "linking" | "saving" | "done";

/** How a rebuild of the search index while the library opens is going (minutes at a million photos). */
export interface IndexRebuild {
  why: string;
  step: RebuildStep;
  done: number;
  total: number;
}

/** The end of an indexing job. */
export interface IndexFinished {
  error: string | null;
  encoded: number;
  failed: number;
  removed: number;
}

export const api = {
  status: () => invoke<AppStatus>("status"),
  roots: () => invoke<RootInfo[]>("roots"),
  /** Opens the native folder dialog and adds the folder chosen; null when cancelled. */
  addPickedFolder: () => invoke<FolderAdded | null>("add_picked_folder"),
  /** Adds a pasted folder path once the user says yes in the shell's own dialog; null when they decline. */
  addRoot: (path: string) => invoke<FolderAdded | null>("add_typed_folder", { path }),
  /** Renames a tag on its photos and in the auto-tags (merging into one of that name); the tags after. */
  renameTag: (old: string, name: string) => invoke<TagCount[]>("rename_tag", { old, new: name }),
  /** Sets the cores indexing uses from the next job on (null: one per core). */
  setIndexThreads: (threads: number | null) => invoke<IndexThreads>("set_index_threads", { threads }),
  /** Turns reading the words in pictures on or off for this library; the setting after. */
  setReadText: (on: boolean) => invoke<boolean>("set_read_text", { on }),
  /** Takes a tag off every photo and out of the auto-tags; the tags after. */
  deleteTag: (name: string) => invoke<TagCount[]>("delete_tag", { name }),
  /** The folders below a root holding searchable photos, by path (the folder tree). */
  folders: (root: string) => invoke<FolderCount[]>("folders", { root }),
  /** Removes a folder's photos from the library (never from the disk). */
  removeRoot: (path: string) => invoke<RootInfo[]>("remove_root", { path }),
  pauseIndexing: () => invoke<IndexState>("pause_indexing"),
  resumeIndexing: () => invoke<IndexState>("resume_indexing"),
  search: (query: SearchQuery) => invoke<SearchPage>("search", { query }),
  photo: (id: number) => invoke<PhotoDetail>("photo", { id }),
  tags: () => invoke<TagCount[]>("tags"),
  /** The formats the library's searchable photos are in, most photos first. */
  formats: () => invoke<FormatInfo[]>("formats"),
  /** The labels to start from: the folder's own while it is auto-tagged. */
  defaultLabels: (folder: string) => invoke<LabelSuggestion>("default_labels", { folder }),
  /** Stops tagging the photos that arrive in the folder later; false if it was not auto-tagged. */
  stopAutoTag: (folder: string) => invoke<boolean>("stop_auto_tag", { folder }),
  tagFolder: (folder: string, labels: string[]) =>
    invoke<TagReport>("tag_folder", { folder, labels }),
  reveal: (id: number) => invoke<void>("reveal", { id }),
  open: (id: number) => invoke<void>("open_photo", { id }),
  /** Copies photos to a folder the user picks in the native dialog; null when cancelled. */
  exportPhotos: (ids: number[]) => invoke<ExportReport | null>("export_photos", { ids }),
  /** Shows where a photo was taken on OpenStreetMap in the browser (only when asked). */
  openMap: (id: number) => invoke<void>("open_map", { id }),
  /** Puts a tag on photos by hand (auto-tagging never takes it off); the tags in use after. */
  tagPhotos: (ids: number[], name: string) => invoke<TagCount[]>("tag_photos", { ids, name }),
  /** Takes a tag off photos by hand (auto-tagging does not put it back); the tags in use after. */
  untagPhotos: (ids: number[], name: string) => invoke<TagCount[]>("untag_photos", { ids, name }),
  /** Shows photos in the file manager (several: folder by folder, a few at most); what to say, if anything. */
  revealPhotos: (ids: number[]) => invoke<string | null>("reveal_photos", { ids }),
  /** Puts the photo's picture on the clipboard; answers whether it was made smaller. */
  copyImage: (id: number) => invoke<boolean>("copy_image", { id }),
  /** Puts the photos' paths on the clipboard, one per line; answers how many. */
  copyPaths: (ids: number[]) => invoke<number>("copy_paths", { ids }),
  /** Fetches the default model (progress on `model-progress`). */
  fetchModel: () => invoke<ModelState>("fetch_model"),
  /** The models Settings offers, the one in use marked. */
  models: () => invoke<ModelChoices>("models"),
  /** Switches to another model; not ready afterwards means it must be downloaded first. */
  setModel: (name: string) => invoke<ModelState>("set_model", { name }),
  /** Extensions a dropped picture may have: what this build and machine decode. */
  pictureTypes: () => invoke<string[]>("picture_types"),
  /** Groups of copies among the photos the filter passes, the suggested keeper first. */
  duplicates: (filter: Filter) => invoke<DupeGroup[]>("duplicates", { filter }),
  /** Moves copies found by `duplicates` to the system Trash; never every copy of a picture. */
  trashPhotos: (ids: number[]) => invoke<TrashReport>("trash_photos", { ids }),
};

/** Events the shell emits. */
export const events = {
  indexProgress: (f: (p: Progress) => void): Promise<UnlistenFn> =>
    listen<Progress>("index-progress", (e) => f(e.payload)),
  indexState: (f: (s: IndexState) => void): Promise<UnlistenFn> =>
    listen<IndexState>("index-state", (e) => f(e.payload)),
  indexFinished: (f: (r: IndexFinished) => void): Promise<UnlistenFn> =>
    listen<IndexFinished>("index-finished", (e) => f(e.payload)),
  modelProgress: (f: (p: ModelProgress) => void): Promise<UnlistenFn> =>
    listen<ModelProgress>("model-progress", (e) => f(e.payload)),
  /** The search index being rebuilt while the engine starts (before `status` answers). */
  indexRebuild: (f: (r: IndexRebuild) => void): Promise<UnlistenFn> =>
    listen<IndexRebuild>("index-rebuild", (e) => f(e.payload)),
  /** Files dropped onto the window, as the shell received them from the OS. */
  pictureDropped: (f: (files: DroppedFile[]) => void): Promise<UnlistenFn> =>
    listen<DroppedFile[]>("picture-dropped", (e) => f(e.payload)),
};

/** A dropped file: its path to show, and the token a search names it by. */
export interface DroppedFile {
  token: number;
  path: string;
}

/** The URL the web view loads a library file from (the scoped `glimpse:` protocol). */
export function fileUrl(path: string): string {
  return convertFileSrc(path, "glimpse");
}
