// What Settings says about the models it offers and what switching to one costs, in words:
// the download, the photos read again with it, and what the window does meanwhile.
import type { ModelChoice } from "./api";
import { formatBytes, formatCount, modelTitle } from "./format";

/** A model as the list shows it: its title, and where it stands ("in use", "on this computer", "download, 580 MB"). */
export function choiceLabel(c: ModelChoice): { title: string; detail: string } {
  // A folder of its own is named by its last part.
  const name = c.description ? c.name : (c.name.split(/[\\/]/).filter(Boolean).pop() ?? c.name);
  const title = modelTitle(name, c.description).title;
  let detail: string;
  if (c.inUse) detail = "in use";
  else if (c.present) detail = "on this computer";
  else if (c.downloadBytes) detail = `download, ${formatBytes(c.downloadBytes)}`;
  else detail = "download";
  return { title, detail };
}

/** Photos the new model must read: those that can be read, less those it read before. */
export function photosToRead(c: ModelChoice, readable: number): number {
  return Math.max(0, readable - c.photosRead);
}

/**
 * The confirmation's sentences for switching to `c` in a library with `readable` photos (those
 * not failed): the download first if any, then the photos read again, then what the window does
 * meanwhile.
 */
export function switchCost(c: ModelChoice, readable: number): string[] {
  const out: string[] = [];
  if (!c.present) {
    out.push(
      c.downloadBytes
        ? `Glimpse first downloads the model (${formatBytes(c.downloadBytes)}); the window shows the download until it is done.`
        : "Glimpse first downloads the model; the window shows the download until it is done.",
    );
  }
  const toRead = photosToRead(c, readable);
  const kept = c.photosRead > 0 ? ` ${c.photosRead === 1 ? "1 photo was" : `${formatCount(c.photosRead)} photos were`} read with it before and ${c.photosRead === 1 ? "is" : "are"} kept.` : "";
  if (toRead === 0) {
    out.push(`Every photo was read with this model before, so nothing is read again.${kept}`);
  } else {
    out.push(
      `${toRead === 1 ? "1 photo is" : `${formatCount(toRead)} photos are`} read again with this model: about as long as the first indexing took on this computer.${kept}`,
    );
    out.push("Meanwhile, search finds the photos read so far and more as indexing goes on.");
  }
  out.push("The current model's work is kept, so switching back later reads nothing again.");
  return out;
}
