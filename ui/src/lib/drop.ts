// Files dropped on the window: which one to search with, and what to say when none is a picture.
// Tauri's native drop events hand us plain paths (no File objects), so this is pure path logic.

/**
 * Extensions Glimpse can take as an example picture (lower case, no dot) until the engine says
 * which ones this build and machine decode (`api.pictureTypes`): every format the scan indexes.
 */
export const IMAGE_EXTENSIONS: readonly string[] = [
  "jpg",
  "jpeg",
  "jpe",
  "jfif",
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
  // Camera RAW (the engine develops or reads the embedded preview).
  "cr2",
  "cr3",
  "nef",
  "arw",
  "dng",
  "raf",
  "orf",
  "rw2",
];

/** The last part of a path, for `/` and `\` separators alike. */
export function baseName(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, "");
  const i = Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\"));
  return i >= 0 ? trimmed.slice(i + 1) : trimmed;
}

/** The folder a file is in: "/p/2024/a.jpg" → "/p/2024" (either separator; "" for a bare name). */
export function dirName(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (i < 0) return "";
  return i === 0 ? path.slice(0, 1) : path.slice(0, i);
}

/**
 * How the folder filter names a folder: a root by its name, a folder inside one as
 * "Root / sub / dir"; any other path as it is.
 */
export function folderLabel(folder: string, roots: readonly string[]): string {
  const norm = (p: string) => p.replace(/[\\/]+$/, "");
  const f = norm(folder);
  let best: string | null = null;
  for (const r of roots.map(norm)) {
    const inside = f === r || (f.startsWith(r) && (f[r.length] === "/" || f[r.length] === "\\"));
    if (inside && (best === null || r.length > best.length)) best = r;
  }
  if (best === null) return folder;
  const rest = f.slice(best.length).split(/[\\/]+/).filter(Boolean);
  return [baseName(best) || best, ...rest].join(" / ");
}

/** "Photo.JPG" → "jpg"; "" for no extension (and for dot-files such as ".jpg"). */
export function extensionOf(path: string): string {
  const name = baseName(path);
  const dot = name.lastIndexOf(".");
  if (dot <= 0 || dot === name.length - 1) return "";
  return name.slice(dot + 1).toLowerCase();
}

export function isImagePath(path: string, types: readonly string[] = IMAGE_EXTENSIONS): boolean {
  return types.includes(extensionOf(path));
}

/** The first dropped path that looks like a picture, or null. */
export function pickImagePath(
  paths: readonly string[] | null | undefined,
  types: readonly string[] = IMAGE_EXTENSIONS,
): string | null {
  for (const p of paths ?? []) {
    if (isImagePath(p, types)) return p;
  }
  return null;
}

/** A few of the kinds in `types`, for messages: "JPEG, PNG, HEIC, camera RAW, …". */
function kindsOf(types: readonly string[]): string {
  const named: Array<[string, string]> = [
    ["jpg", "JPEG"],
    ["png", "PNG"],
    ["heic", "HEIC"],
    ["cr2", "camera RAW"],
    ["webp", "WebP"],
  ];
  return [...named.filter(([e]) => types.includes(e)).map(([, n]) => n), "…"].join(", ");
}

/** What to tell the user when a drop held no picture. */
export function notAnImageMessage(
  paths: readonly string[] | null | undefined,
  types: readonly string[] = IMAGE_EXTENSIONS,
): string {
  const list = paths ?? [];
  const kinds = kindsOf(types);
  if (list.length === 0) return `Nothing to search with was dropped. Drop a photo (${kinds}).`;
  const first = baseName(list[0]) || list[0];
  const ext = extensionOf(list[0]);
  if (list.length === 1 && IMAGE_EXTENSIONS.includes(ext) && !types.includes(ext)) {
    return `“${first}” is a ${ext.toUpperCase()} picture, which Glimpse cannot read on this computer. Drop a photo (${kinds}).`;
  }
  const what = list.length === 1 ? `“${first}” is not` : `None of the ${list.length} dropped items is`;
  return `${what} a picture Glimpse can search with. Drop a photo (${kinds}) to find similar ones; to add a folder, use “Add folder…”.`;
}
