// What the folder panel says about folders: where a failed file is inside its folder (a bare
// file name is ambiguous across subfolders), and what adding a folder did when the library
// already held it (which is not an error: its photos are searchable).
import type { FolderAdded, FolderCount } from "./api";
import { baseName } from "./drop";

/** `path` relative to the folder `root` ("2023 Holiday/IMG_1.jpg"), or the whole path outside it. */
export function pathInside(root: string, path: string): string {
  const r = root.replace(/[\\/]+$/, "");
  if (path.length > r.length + 1 && path.startsWith(r) && (path[r.length] === "/" || path[r.length] === "\\")) {
    return path.slice(r.length + 1);
  }
  return path;
}

/** A note for a folder that was already in the library: what to say, and the folder to show. */
export interface FolderNotice {
  text: string;
  /** The folder whose photos "Show its photos" lists (null when there is nothing to show). */
  folder: string | null;
}

/** The note for adding a folder, or null when it was added now (the folder list shows it). */
export function folderAddedNotice(added: FolderAdded): FolderNotice | null {
  if (added.alreadyIn === null) return null;
  const name = baseName(added.folder) || added.folder;
  if (added.alreadyIn === added.folder) {
    return { text: `“${name}” is already in your library.`, folder: null };
  }
  const holder = baseName(added.alreadyIn) || added.alreadyIn;
  return {
    text: `“${name}” is already in your library, inside “${holder}”: its photos are searchable.`,
    folder: added.folder,
  };
}

/** One row of a root's folder tree in the folder panel. */
export interface TreeRow {
  path: string;
  /** The folder's own name. */
  name: string;
  /** 0 for a folder directly in the root. */
  depth: number;
  photos: number;
}

/** The rows of a root's folder tree, parents before their children, by name. */
export function treeRows(root: string, folders: readonly FolderCount[]): TreeRow[] {
  return folders
    .map((f) => {
      const inside = pathInside(root, f.path);
      const parts = inside.split(/[\\/]/).filter(Boolean);
      return { path: f.path, name: parts[parts.length - 1] ?? f.path, depth: Math.max(0, parts.length - 1), photos: f.photos, parts };
    })
    // Inside the root only: pathInside gives back a path outside it whole.
    .filter((r) => r.parts.length > 0 && pathInside(root, r.path) !== r.path)
    .sort((a, b) => {
      const n = Math.min(a.parts.length, b.parts.length);
      for (let i = 0; i < n; i++) {
        const c = a.parts[i].localeCompare(b.parts[i], undefined, { numeric: true, sensitivity: "base" });
        if (c !== 0) return c;
      }
      return a.parts.length - b.parts.length;
    })
    .map(({ path, name, depth, photos }) => ({ path, name, depth, photos }));
}

/** One choice of the Folder filter: a root or a folder inside one, indented under it. */
export interface FolderOption {
  value: string;
  /** What the list shows: the name, indented by depth (non-breaking spaces, which a
   * `<select>` keeps), with the photo count once the tree is known. */
  label: string;
  /** The whole path, shown on hover. */
  title: string;
}

/** The Folder filter's choices: each root, then its subfolders from its tree (where loaded),
 * parents before children; a `chosen` folder that is in no loaded tree (picked from a photo's
 * details before the tree came) is offered after its root so the filter can show it. */
export function folderOptions(
  roots: readonly { path: string }[],
  trees: Readonly<Record<string, readonly TreeRow[] | undefined>>,
  chosen: string | null,
): FolderOption[] {
  const out: FolderOption[] = [];
  const indent = (depth: number) => "\u00a0\u00a0\u00a0".repeat(depth);
  for (const r of roots) {
    const rows = trees[r.path] ?? [];
    out.push({ value: r.path, label: baseName(r.path) || r.path, title: r.path });
    for (const row of rows) {
      out.push({ value: row.path, label: `${indent(row.depth + 1)}${row.name} (${row.photos})`, title: row.path });
    }
    if (chosen && !out.some((o) => o.value === chosen) && pathInside(r.path, chosen) !== chosen) {
      const parts = pathInside(r.path, chosen).split(/[\\/]/).filter(Boolean);
      out.push({ value: chosen, label: `${indent(1)}${parts.join(" / ")}`, title: chosen });
    }
  }
  if (chosen && !out.some((o) => o.value === chosen)) {
    out.push({ value: chosen, label: chosen, title: chosen });
  }
  return out;
}
