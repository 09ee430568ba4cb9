// Files dropped on the window: which one to search with, and what to say when none is a picture.
// Tauri's native drop events hand us plain paths (no File objects), so this is pure path logic.

/** Extensions Glimpse can take as an example picture (lower case, no dot). */
export const IMAGE_EXTENSIONS: readonly string[] = [
  "jpg",
  "jpeg",
  "png",
  "webp",
  "gif",
  "bmp",
  "tif",
  "tiff",
  "heic",
  "heif",
  "avif",
  "jxl",
];

/** The last part of a path, for `/` and `\` separators alike. */
export function baseName(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, "");
  const i = Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\"));
  return i >= 0 ? trimmed.slice(i + 1) : trimmed;
}

/** "Photo.JPG" → "jpg"; "" for no extension (and for dot-files such as ".jpg"). */
export function extensionOf(path: string): string {
  const name = baseName(path);
  const dot = name.lastIndexOf(".");
  if (dot <= 0 || dot === name.length - 1) return "";
  return name.slice(dot + 1).toLowerCase();
}

export function isImagePath(path: string): boolean {
  return IMAGE_EXTENSIONS.includes(extensionOf(path));
}

/** The first dropped path that looks like a picture, or null. */
export function pickImagePath(paths: readonly string[] | null | undefined): string | null {
  for (const p of paths ?? []) {
    if (isImagePath(p)) return p;
  }
  return null;
}

/** What to tell the user when a drop held no picture. */
export function notAnImageMessage(paths: readonly string[] | null | undefined): string {
  const list = paths ?? [];
  const kinds = "JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC or AVIF";
  if (list.length === 0) return `Nothing to search with was dropped. Drop a picture (${kinds}).`;
  const first = baseName(list[0]) || list[0];
  const what = list.length === 1 ? `“${first}” is not` : `None of the ${list.length} dropped items is`;
  return `${what} a picture Glimpse can search with. Drop a ${kinds} file to find similar photos; to add a folder, use “Add folder…”.`;
}
